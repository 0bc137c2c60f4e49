import CEL
import Fluent
import Foundation
import TongbanCore
import Vapor

/// Enterprise profiles from imports (JSON or CSV) and single edits. Every value is checked against
/// ``ProfileSchema`` (all errors at once, by row and field); nothing is stored unless every row is valid.
/// Imported fields overwrite the stored ones and the others are kept (several sources fill one profile); a
/// JSON `null` removes a field. Afterwards the imported profiles' tags are recomputed and they are matched
/// against every active item (new matches become notices).
public struct ProfileImporter: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock) {
        self.db = db
        self.clock = clock
    }

    public static let maxRows = 20_000

    public struct Summary: Content {
        public var rows: Int
        public var created: Int
        public var updated: Int
        public var unchanged: Int
        public var tagged: [String: Int]
        public var matching: MatchingService.RunSummary
    }

    /// One row: field → value, where `.null` means "remove the field".
    typealias Row = [String: CELValue]

    /// Parses a JSON array of profile objects (or `{"profiles":[…]}`).
    static func rows(json data: Data, errors: inout FieldErrors) -> [Row] {
        let value: CELValue
        do {
            value = try CELValue.fromJSON(data, maxDepth: 8)
        } catch {
            errors.add("body", "is not valid JSON: \(error)")
            return []
        }
        var list: [CELValue]
        switch value {
        case .list(let items): list = items
        case .map(let map):
            if case .list(let items)? = map["profiles"] { list = items } else { list = [value] }
        default:
            errors.add("body", "must be an array of profile objects")
            return []
        }
        if list.count > maxRows { errors.add("body", "at most \(maxRows) profiles per import"); list = [] }
        var out: [Row] = []
        for (i, element) in list.enumerated() {
            guard case .map(let map) = element else { errors.add("[\(i)]", "must be an object"); continue }
            var row: Row = [:]
            for (key, v) in map.entries {
                guard case .string(let k) = key else { continue }
                row[k] = v
            }
            out.append(row)
        }
        return out
    }

    /// Parses CSV with a header row of field names; list fields separate their values with ';'; an empty
    /// cell leaves the field as it is.
    static func rows(csv text: String, errors: inout FieldErrors) -> [Row] {
        let records: [[String]]
        do {
            records = try CSV.parse(text, maxRecords: maxRows + 1)
        } catch {
            errors.add("body", "is not valid CSV: \(error)")
            return []
        }
        guard let header = records.first?.map({ $0.trimmingCharacters(in: .whitespaces) }) else {
            errors.add("body", "is empty (send a header row of field names)")
            return []
        }
        var out: [Row] = []
        for (n, record) in records.dropFirst().enumerated() {
            guard record.count == header.count else {
                errors.add("[\(n)]", "has \(record.count) cells but the header has \(header.count)")
                continue
            }
            var row: Row = [:]
            for (name, cell) in zip(header, record) {
                let cell = cell.trimmingCharacters(in: .whitespaces)
                if cell.isEmpty { continue }
                switch ProfileSchema.fields[name] {
                case .int?:
                    if let v = Int64(cell) { row[name] = .int(v) } else { row[name] = .string(cell) }
                case .double?:
                    if let v = Double(cell), v.isFinite { row[name] = .double(v) } else { row[name] = .string(cell) }
                case .list?:
                    row[name] = .list(cell.split(separator: ";").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter {
                        if case .string(let s) = $0 { return !s.isEmpty } else { return true }
                    })
                default:
                    row[name] = .string(cell)
                }
            }
            out.append(row)
        }
        return out
    }

    /// Checks every value of `row` against the schema; returns the normalised row (numbers of double fields as
    /// double, dates as RFC 3339 timestamps) and the credit code.
    static func normalise(_ row: Row, index: Int, errors: inout FieldErrors) -> (String, Row)? {
        let prefix = "[\(index)]"
        var out: Row = [:]
        var ok = true
        func fail(_ field: String, _ message: String) {
            errors.add("\(prefix).\(field)", message)
            ok = false
        }
        for (name, value) in row.sorted(by: { $0.key < $1.key }) {
            guard let type = ProfileSchema.fields[name] else {
                fail(name, "is not a profile field (see GET /api/v1/policy/schema)")
                continue
            }
            if case .null = value {
                if name == "creditCode" || name == "name" { fail(name, "cannot be removed") } else { out[name] = .null }
                continue
            }
            switch (type, value) {
            case (.string, .string(let s)) where s.count <= 200:
                out[name] = .string(s)
            case (.string, .string):
                fail(name, "must be at most 200 characters")
            case (.int, .int(let v)):
                if v < 0 { fail(name, "must not be negative") } else { out[name] = .int(v) }
            case (.int, .double(let d)) where d == d.rounded() && abs(d) < 9e15:
                if d < 0 { fail(name, "must not be negative") } else { out[name] = .int(Int64(d)) }
            case (.double, .int(let v)):
                out[name] = .double(Double(v))
            case (.double, .double(let d)) where d.isFinite:
                out[name] = .double(d)
            case (.timestamp, .string(let s)):
                if let normal = Self.timestamp(s) { out[name] = .string(normal) } else {
                    fail(name, "must be a date (YYYY-MM-DD) or an RFC 3339 timestamp")
                }
            case (.list, .list(let items)):
                var strings: [CELValue] = []
                for item in items {
                    if case .string(let s) = item, !s.isEmpty, s.count <= 60 { strings.append(.string(s)) } else {
                        fail(name, "must be a list of short strings")
                        break
                    }
                }
                out[name] = .list(strings)
            default:
                fail(name, "must be \(Self.describe(type))")
            }
        }
        guard case .string(let raw)? = out["creditCode"] else {
            errors.add("\(prefix).creditCode", "is required")
            return nil
        }
        let code = raw.trimmingCharacters(in: .whitespaces).uppercased()
        if !CreditCode.isValid(code) { fail("creditCode", "is not a valid unified social credit code (GB 32100)") }
        out["creditCode"] = .string(code)
        return ok ? (code, out) : nil
    }

    static func describe(_ type: CELType) -> String {
        switch type {
        case .int: "a whole number"
        case .double: "a number"
        case .string: "text"
        case .timestamp: "a date"
        case .list: "a list of text values"
        default: "\(type)"
        }
    }

    static func timestamp(_ s: String) -> String? {
        if s.count == 10, LocalDate(s) != nil { return s + "T00:00:00Z" }
        let f = ISO8601DateFormatter()
        if f.date(from: s) != nil { return s }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s) != nil ? s : nil
    }

    /// Imports CSV text (header row of field names).
    public func importCSV(_ text: String, principal: Principal) async throws -> Summary {
        var errors = FieldErrors()
        let rows = Self.rows(csv: text, errors: &errors)
        return try await importRows(rows, parseErrors: errors, principal: principal)
    }

    /// Imports a JSON array of profile objects.
    public func importJSON(_ data: Data, principal: Principal) async throws -> Summary {
        var errors = FieldErrors()
        let rows = Self.rows(json: data, errors: &errors)
        return try await importRows(rows, parseErrors: errors, principal: principal)
    }

    /// Validates and stores `rows`, then recomputes tags and matches the profiles it touched.
    func importRows(_ parsed: [Row], parseErrors: FieldErrors, principal: Principal) async throws -> Summary {
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        var errors = parseErrors
        if parsed.isEmpty && errors.isEmpty { errors.add("body", "has no profiles") }
        var rows: [(String, Row)] = []
        var seen: [String: Int] = [:]
        for (i, row) in parsed.enumerated() {
            guard let (code, normal) = Self.normalise(row, index: i, errors: &errors) else { continue }
            if let first = seen[code] { errors.add("[\(i)].creditCode", "repeats row \(first)"); continue }
            seen[code] = i
            rows.append((code, normal))
        }
        try errors.throwIfAny()
        var existing: [String: EnterpriseProfile] = [:]
        let codes = rows.map(\.0)
        for start in stride(from: 0, to: codes.count, by: 500) {
            for p in try await EnterpriseProfile.query(on: db).filter(\.$creditCode ~~ Array(codes[start..<min(start + 500, codes.count)])).all() {
                existing[p.creditCode] = p
            }
        }
        // Every new profile needs a name.
        var missing = FieldErrors()
        for (i, (code, row)) in rows.enumerated() where existing[code] == nil && row["name"] == nil {
            missing.add("[\(i)].name", "is required for a new profile")
        }
        try missing.throwIfAny()
        let now = clock.now()
        var created: [EnterpriseProfile] = []
        var updated: [EnterpriseProfile] = []
        var unchanged = 0
        for (code, row) in rows {
            let profile = existing[code] ?? EnterpriseProfile()
            var fields: [String: CELValue] = [:]
            if profile.id != nil, case .map(let map)? = try? CELValue.fromJSON(profile.attributesJSON) {
                for (key, value) in map.entries { if case .string(let k) = key { fields[k] = value } }
            }
            let before = CELValue.object(fields).jsonString()
            for (name, value) in row {
                if case .null = value { fields.removeValue(forKey: name) } else { fields[name] = value }
            }
            let after = CELValue.object(fields).jsonString()
            if case .string(let name)? = fields["name"] { profile.name = name }
            profile.creditCode = code
            profile.attributesJSON = after
            profile.updatedAt = now
            if profile.id == nil {
                profile.id = UUID()
                created.append(profile)
            } else if before != after {
                updated.append(profile)
            } else {
                unchanged += 1
            }
        }
        let (toCreate, toUpdate) = (created, updated)
        try await db.writeTransaction { tx in
            try await MatchingService.insert(toCreate, on: tx)
            for p in toUpdate { try await p.update(on: tx) }
        }
        let touched = (created + updated).map(\.creditCode)
        var tagged: [String: Int] = [:]
        let tags = TagService(db: db, clock: clock)
        for start in stride(from: 0, to: touched.count, by: 1000) {
            let result = try await tags.recompute(creditCodes: Array(touched[start..<min(start + 1000, touched.count)]))
            for (tag, count) in result.tagged { tagged[tag, default: 0] += count }
        }
        let matching = touched.isEmpty
            ? MatchingService.RunSummary(mode: "profiles", profiles: 0, items: 0, evaluations: 0, newMatches: 0, changed: 0, removed: 0, notices: 0, seconds: 0)
            : try await MatchingService(db: db, clock: clock).run(mode: .incremental, actor: principal.userID, creditCodes: touched)
        return Summary(rows: rows.count, created: created.count, updated: updated.count, unchanged: unchanged, tagged: tagged, matching: matching)
    }
}
