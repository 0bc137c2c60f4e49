import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Loads demo zones and services (idempotent) and, for benchmarks, synthetic services.
struct CatalogueDemo {
    let app: Application
    let options: DemoOptions

    struct ZoneRow: Decodable {
        var code: String
        var name: String
        var nameEn: String
        var kind: Zone.Kind
        var order: Int
        var description: String
        var descriptionEn: String
    }

    func load() async throws {
        let catalogue = CatalogueService(db: app.db, clock: app.clock)
        let zones: [ZoneRow] = try DemoResources.load("zones.json")
        for zone in zones {
            try await catalogue.ensureZone(
                code: zone.code, name: zone.name, nameEn: zone.nameEn, kind: zone.kind, order: zone.order,
                description: zone.description, descriptionEn: zone.descriptionEn)
        }
        options.progress("zones: \(zones.count)")
        let services: [ServiceInput] = try DemoResources.load("services.json")
        let existing = Set(try await ServiceItem.query(on: app.db).all(\.$code))
        var created = 0
        for input in services where !existing.contains(input.code ?? "") {
            let item = try await catalogue.create(input, actor: nil)
            _ = try await catalogue.setPublished(try item.requireID(), true, actor: nil)
            created += 1
        }
        options.progress("services: \(services.count) (\(created) new)")
        if options.extraServices > 0 {
            try await loadSynthetic(count: options.extraServices, templates: services, catalogue: catalogue, existing: existing)
        }
    }

    /// Synthetic published services `BENCH-000001…` built from the demo templates (for benchmarks).
    func loadSynthetic(count: Int, templates: [ServiceInput], catalogue: CatalogueService, existing: Set<String>) async throws {
        guard !templates.isEmpty else { return }
        let start = Date()
        var created = 0
        for index in 1...count {
            let code = String(format: "BENCH-%06d", index)
            if existing.contains(code) { continue }
            var input = templates[index % templates.count]
            input.code = code
            input.name = (input.name ?? "") + "（第\(index)号）"
            input.nameEn = (input.nameEn ?? "") + " (no. \(index))"
            input.popularity = (index * 7919) % 5000
            let item = try await catalogue.create(input, actor: nil)
            _ = try await catalogue.setPublished(try item.requireID(), true, actor: nil)
            created += 1
            if index % 500 == 0 { options.progress("synthetic services: \(index)/\(count)") }
        }
        let seconds = Date().timeIntervalSince(start)
        options.progress(String(format: "synthetic services: %d created in %.1f s (%.0f/s)", created, seconds, Double(created) / max(seconds, 0.001)))
    }
}
