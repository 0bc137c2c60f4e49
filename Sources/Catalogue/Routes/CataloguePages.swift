import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// Pages: `/` (home), `/services`, `/services/{id}`, `/zones`.
struct CataloguePages: RouteCollection {
    struct ServiceCard: Codable, Sendable {
        var id: String
        var name: String
        var department: String
        var promised: String
        var online: String
        var audience: String
    }

    struct ZoneCard: Encodable, Sendable {
        var code: String
        var name: String
        var description: String
        var count: Int
        var kind: String
    }

    struct HomePage: Encodable, Sendable {
        var themes: [ZoneCard]
        var lifeEvents: [ZoneCard]
        var popular: [ServiceCard]
    }

    struct ListPage: Encodable, Sendable {
        var q: String
        var zone: String?
        var zoneName: String?
        var audience: String
        var services: [ServiceCard]
        var nextLink: String?
        var firstLink: String?
        var resultText: String
    }

    struct Row: Encodable, Sendable {
        var label: String
        var value: String
    }

    struct MaterialRow: Encodable, Sendable {
        var name: String
        var required: String
        var form: String
        var copies: Int
        var licence: String?
    }

    struct StepRow: Encodable, Sendable {
        var name: String
        var description: String
    }

    struct FieldRow: Encodable, Sendable {
        var label: String
        var type: String
        var required: String
    }

    struct GuidePage: Encodable, Sendable {
        var applyLink: String?
        var name: String
        var otherName: String
        var facts: [Row]
        var conditions: String
        var legalBasis: String
        var materials: [MaterialRow]
        var steps: [StepRow]
        var fields: [FieldRow]
        var zones: [ZoneCard]
    }

    struct ZonesPage: Encodable, Sendable {
        var themes: [ZoneCard]
        var lifeEvents: [ZoneCard]
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.get(use: home)
        routes.get("services", use: list)
        routes.get("services", ":id", use: guide)
        routes.get("zones", use: zones)
    }

    func s(_ req: Request, _ key: String) -> String { Strings.localised(CatalogueModule.strings, key, req) }

    func cards(_ items: [ServiceRow], req: Request) async throws -> [ServiceCard] {
        let english = req.preferences.language == .en
        let departments = try await ServiceMapper.departments(for: items.map(\.departmentID), db: req.db)
        return items.map { item in
            let department = departments[item.departmentID]
            return ServiceCard(
                id: item.id.uuidString, name: english ? item.nameEn : item.name,
                department: (english ? department?.nameEn : department?.name) ?? "",
                promised: item.caseKind == .immediate
                    ? s(req, "immediate") : String(format: s(req, "promised_days_format"), item.promisedDays),
                online: s(req, "online_depth_\(item.onlineDepth)"),
                audience: item.audience.map { s(req, "audience_\($0.rawValue)") }.joined(separator: " / "))
        }
    }

    func zoneCards(_ zones: [Zone], counts: [String: Int], req: Request) -> [ZoneCard] {
        let english = req.preferences.language == .en
        return zones.map {
            ZoneCard(
                code: $0.code, name: english ? $0.nameEn : $0.name,
                description: english ? $0.descriptionEn : $0.description, count: counts[$0.code] ?? 0,
                kind: $0.kind.rawValue)
        }
    }

    @Sendable func home(req: Request) async throws -> Response {
        let catalogue = CatalogueService(db: req.db, clock: req.application.clock)
        let zones = try await catalogue.zones()
        let counts = try await catalogue.zoneCounts()
        let cards = zoneCards(zones, counts: counts, req: req)
        let popular = try await self.cards(try await catalogue.popular(limit: 8), req: req)
        return try await req.renderPage(
            "catalogue/home", titleKey: "home_title", strings: CatalogueModule.strings,
            page: HomePage(
                themes: cards.filter { $0.kind == "theme" }, lifeEvents: cards.filter { $0.kind == "lifeEvent" },
                popular: popular))
    }

    @Sendable func list(req: Request) async throws -> Response {
        let search = try req.serviceSearch()
        let page = try Paging(from: req)
        let catalogue = CatalogueService(db: req.db, clock: req.application.clock)
        let items = try await catalogue.search(search, page: page)
        let result = page.page(try await cards(items, req: req))
        var zoneName: String?
        if let code = search.zone, let zone = try await Zone.query(on: req.db).filter(\.$code == code).first() {
            zoneName = req.preferences.language == .en ? zone.nameEn : zone.name
        }
        func link(cursor: String?) -> String {
            var components = URLComponents()
            components.path = "/services"
            var items: [URLQueryItem] = []
            if let q = search.text { items.append(URLQueryItem(name: "q", value: q)) }
            if let zone = search.zone { items.append(URLQueryItem(name: "zone", value: zone)) }
            if let audience = search.audience { items.append(URLQueryItem(name: "audience", value: audience.rawValue)) }
            if let cursor { items.append(URLQueryItem(name: "cursor", value: cursor)) }
            components.queryItems = items.isEmpty ? nil : items
            return components.string ?? "/services"
        }
        let text: String
        if result.items.isEmpty {
            text = s(req, "no_results")
        } else {
            text = String(format: s(req, "results_format"), page.offset + 1, page.offset + result.items.count)
        }
        return try await req.renderPage(
            "catalogue/list", titleKey: "services_title", strings: CatalogueModule.strings,
            page: ListPage(
                q: search.text ?? "", zone: search.zone, zoneName: zoneName, audience: search.audience?.rawValue ?? "",
                services: result.items, nextLink: result.nextCursor.map { link(cursor: $0) },
                firstLink: page.offset > 0 ? link(cursor: nil) : nil, resultText: text))
    }

    @Sendable func guide(req: Request) async throws -> Response {
        guard let id = req.parameters.get("id", as: UUID.self) else {
            throw Problem.notFound("Service", type: "/problems/service-not-found")
        }
        let catalogue = CatalogueService(db: req.db, clock: req.application.clock)
        let item = try await catalogue.service(id, viewer: req.auth.get(Principal.self))
        let english = req.preferences.language == .en
        let departments = try await ServiceMapper.departments(for: [item], db: req.db)
        let department = departments[item.departmentID]
        var facts: [Row] = [
            Row(label: s(req, "field_code"), value: item.code),
            Row(label: s(req, "field_department"), value: (english ? department?.nameEn : department?.name) ?? ""),
            Row(label: s(req, "field_category"), value: s(req, "category_\(item.category.rawValue)")),
            Row(label: s(req, "field_audience"), value: item.audience.map { s(req, "audience_\($0.rawValue)") }.joined(separator: " / ")),
            Row(label: s(req, "field_case_kind"), value: s(req, "case_\(item.caseKind.rawValue)")),
            Row(label: s(req, "field_statutory"), value: String(format: s(req, "days_format"), item.statutoryDays)),
            Row(label: s(req, "field_promised"), value: String(format: s(req, "days_format"), item.promisedDays)),
            Row(label: s(req, "field_fee"), value: item.feeYuan == 0 ? s(req, "free") : String(format: "%.2f", item.feeYuan) + " " + s(req, "yuan")),
            Row(label: s(req, "field_online_depth"), value: s(req, "online_depth_\(item.onlineDepth)")),
            Row(label: s(req, "field_visits"), value: String(format: s(req, "visits_format"), item.visits)),
        ]
        let feeNote = english ? item.feeNoteEn : item.feeNote
        if !feeNote.isEmpty { facts.append(Row(label: s(req, "field_fee_note"), value: feeNote)) }
        if let cross = item.crossRegion { facts.append(Row(label: s(req, "field_cross_region"), value: s(req, "cross_\(cross.rawValue)"))) }
        facts.append(Row(label: s(req, "field_version"), value: String(item.version)))
        let zones = try await Zone.query(on: req.db).filter(\.$code ~~ item.zones).all()
        let page = GuidePage(
            applyLink: item.published ? "/services/\(try item.requireID().uuidString)/apply" : nil,
            name: english ? item.nameEn : item.name, otherName: english ? item.name : item.nameEn, facts: facts,
            conditions: english ? item.conditionsEn : item.conditions, legalBasis: item.legalBasis,
            materials: item.materials.map {
                MaterialRow(
                    name: english ? $0.nameEn : $0.name, required: s(req, $0.required ? "yes" : "no"),
                    form: s(req, "material_\($0.form.rawValue)"), copies: $0.copies,
                    licence: $0.licenceType.map { _ in s(req, "licence_replaces") })
            },
            steps: item.steps.map {
                StepRow(name: english ? $0.nameEn : $0.name, description: english ? $0.descriptionEn : $0.description)
            },
            fields: item.form.fields.map {
                FieldRow(label: english ? $0.labelEn : $0.label, type: s(req, "type_\($0.type.rawValue)"),
                         required: s(req, $0.required ? "yes" : "no"))
            },
            zones: zoneCards(zones, counts: [:], req: req))
        return try await req.renderPage(
            "catalogue/guide", title: page.name, strings: CatalogueModule.strings, page: page)
    }

    @Sendable func zones(req: Request) async throws -> Response {
        let catalogue = CatalogueService(db: req.db, clock: req.application.clock)
        let cards = zoneCards(try await catalogue.zones(), counts: try await catalogue.zoneCounts(), req: req)
        return try await req.renderPage(
            "catalogue/zones", titleKey: "zones_title", strings: CatalogueModule.strings,
            page: ZonesPage(themes: cards.filter { $0.kind == "theme" }, lifeEvents: cards.filter { $0.kind == "lifeEvent" }))
    }
}
