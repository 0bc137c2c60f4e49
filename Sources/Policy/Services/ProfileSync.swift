import CEL
import DataSharing
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Fills enterprise profiles from the departments' shared data (数据共享): registration (name, capital, date),
/// annual reports (employees, revenue), tax credit ratings, tax paid and high-tech qualifications. The values
/// go through the same import path as a CSV (checked against the schema, merged, tags recomputed, matched).
public struct ProfileSync: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock) {
        self.db = db
        self.clock = clock
    }

    public struct SourceCount: Content {
        public var resource: String
        public var resourceName: String
        public var rows: Int
    }

    public struct Summary: Content {
        public var enterprises: Int
        public var sources: [SourceCount]
        public var imported: ProfileImporter.Summary?
    }

    /// One shared resource and how its row fills profile fields.
    struct Mapping: Sendable {
        var resource: String
        var fields: [String]
        var apply: @Sendable ([String: String], inout [String: CELValue], String) -> Void
    }

    static let mappings: [Mapping] = [
        Mapping(resource: "enterprise-registration", fields: ["name", "registered_capital", "established_on"]) { v, row, _ in
            if let name = v["name"], !name.isEmpty { row["name"] = .string(name) }
            if let capital = v["registered_capital"].flatMap(Double.init), capital.isFinite, capital >= 0 { row["registeredCapital"] = .double(capital) }
            if let date = v["established_on"], LocalDate(date) != nil { row["registeredAt"] = .string(date + "T00:00:00Z") }
        },
        Mapping(resource: "enterprise-annual-report", fields: ["employees", "revenue"]) { v, row, _ in
            if let n = v["employees"].flatMap(Int64.init), n >= 0 { row["employees"] = .int(n) }
            if let revenue = v["revenue"].flatMap(Double.init), revenue.isFinite, revenue >= 0 { row["revenue"] = .double(revenue) }
        },
        Mapping(resource: "enterprise-tax-credit", fields: ["rating"]) { v, row, _ in
            if let rating = v["rating"]?.uppercased(), ["A", "B", "M", "C", "D"].contains(rating) { row["creditRating"] = .string(rating) }
        },
        Mapping(resource: "enterprise-tax-paid", fields: ["tax_paid"]) { v, row, _ in
            if let paid = v["tax_paid"].flatMap(Double.init), paid.isFinite, paid >= 0 { row["taxPaid"] = .double(paid) }
        },
        Mapping(resource: "high-tech-qualification", fields: ["valid_until"]) { v, row, today in
            if let until = v["valid_until"], LocalDate(until) != nil, until >= today { row["_highTech"] = .bool(true) }
        },
    ]

    /// Syncs the profiles of `creditCodes` (default: every stored profile and every registered enterprise).
    public func sync(creditCodes requested: [String]?, principal: Principal) async throws -> Summary {
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        var codes: [String]
        if let requested {
            var errors = FieldErrors()
            codes = requested.map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
            for (i, code) in codes.enumerated() where !CreditCode.isValid(code) {
                errors.add("creditCodes[\(i)]", "is not a valid unified social credit code")
            }
            errors.check(codes.count <= ProfileImporter.maxRows, "creditCodes", "at most \(ProfileImporter.maxRows)")
            try errors.throwIfAny()
        } else {
            codes = try await EnterpriseProfile.query(on: db).all(\.$creditCode)
            codes += try await Enterprise.query(on: db).all(\.$creditCode)
        }
        codes = Array(Set(codes)).sorted()
        let today = LocalDate(clock.now()).description
        let tables = DataTables(db: db)
        var rows: [String: [String: CELValue]] = [:]
        var sources: [SourceCount] = []
        for mapping in Self.mappings {
            guard let resource = try await DataResource.query(on: db).filter(\.$code == mapping.resource).first() else { continue }
            var count = 0
            for start in stride(from: 0, to: codes.count, by: 500) {
                let chunk = Array(codes[start..<min(start + 500, codes.count)])
                for found in try await tables.rows(resource, keys: chunk, fields: mapping.fields + ["name"], limit: 1000) {
                    var row = rows[found.key] ?? [:]
                    if row["name"] == nil, let name = found.values["name"], !name.isEmpty { row["name"] = .string(name) }
                    mapping.apply(found.values, &row, today)
                    rows[found.key] = row
                    count += 1
                }
            }
            sources.append(SourceCount(resource: resource.code, resourceName: resource.nameZh, rows: count))
        }
        // The high-tech qualification joins the stored qualifications.
        let highTech = rows.filter { $0.value["_highTech"] != nil }.map(\.key)
        var stored: [String: EnterpriseProfile] = [:]
        for start in stride(from: 0, to: highTech.count, by: 500) {
            for p in try await EnterpriseProfile.query(on: db).filter(\.$creditCode ~~ Array(highTech[start..<min(start + 500, highTech.count)])).all() {
                stored[p.creditCode] = p
            }
        }
        for code in highTech {
            var qualifications: [CELValue] = []
            if let p = stored[code], case .map(let map)? = try? CELValue.fromJSON(p.attributesJSON), case .list(let list)? = map["qualifications"] {
                qualifications = list
            }
            if !qualifications.contains(where: { if case .string("high_tech") = $0 { return true } else { return false } }) {
                qualifications.append(.string("high_tech"))
            }
            rows[code]?["qualifications"] = .list(qualifications)
            rows[code]?.removeValue(forKey: "_highTech")
        }
        var importRows: [ProfileImporter.Row] = []
        for (code, var row) in rows.sorted(by: { $0.key < $1.key }) where !row.isEmpty {
            row["creditCode"] = .string(code)
            importRows.append(row)
        }
        guard !importRows.isEmpty else { return Summary(enterprises: 0, sources: sources, imported: nil) }
        let imported = try await ProfileImporter(db: db, clock: clock).importRows(importRows, parseErrors: FieldErrors(), principal: principal)
        return Summary(enterprises: importRows.count, sources: sources, imported: imported)
    }
}
