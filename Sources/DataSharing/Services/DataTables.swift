import Crypto
import Fluent
import Foundation
import SQLKit
import TongbanCore

/// Masks a field value unless the caller is granted the full value (issue 6: name 张*三, ID 6+4, phone 3+4,
/// address to the district).
public enum FieldMasking {
    public static func apply(_ mask: FieldMask, to value: String) -> String {
        switch mask {
        case .none: return value
        case .name: return name(value)
        case .idNumber: return Masking.idNumber(value)
        case .phone: return Masking.phone(value)
        case .creditCode: return Masking.creditCode(value)
        case .address: return address(value)
        }
    }

    /// `张*三`, `欧**阳`, `张*`: first and last characters stay.
    public static func name(_ value: String) -> String {
        let chars = Array(value)
        switch chars.count {
        case 0, 1: return value
        case 2: return String(chars[0]) + "*"
        default: return String(chars[0]) + String(repeating: "*", count: chars.count - 2) + String(chars[chars.count - 1])
        }
    }

    /// Keeps the address down to its district (区, 县, 旗), else its city (市), and masks the rest with `***`.
    public static func address(_ value: String) -> String {
        let chars = Array(value)
        if let cut = chars.firstIndex(where: { "区县旗".contains($0) }) {
            return String(chars[...cut]) + (cut + 1 < chars.count ? "***" : "")
        }
        if let cut = chars.lastIndex(where: { $0 == "市" }) {
            return String(chars[...cut]) + (cut + 1 < chars.count ? "***" : "")
        }
        return chars.isEmpty ? value : "***"
    }
}

/// One row of a resource's table.
public struct DataRow: Sendable, Equatable {
    public var key: String
    public var region: String
    public var updatedAt: Int64
    public var values: [String: String]

    public init(key: String, region: String, updatedAt: Int64, values: [String: String]) {
        self.key = key
        self.region = region
        self.updatedAt = updatedAt
        self.values = values
    }
}

/// The physical table of a data resource: `dsx_<code>` with `record_key` (an ID number, a credit code or a
/// free key), `region_code` and `city_code` (first four digits + "00"), `updated_at` (epoch ms),
/// `row_hash` (32 bits of SHA-256 over the row, for reflow checksums) and one text column per field.
public struct DataTables: Sendable {
    let db: any Database

    public init(db: any Database) { self.db = db }

    static let identifier = try! NSRegularExpression(pattern: "^[a-z][a-z0-9_]{0,62}$")

    static func isIdentifier(_ s: String) -> Bool {
        identifier.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    public static func tableName(_ code: String) -> String {
        "dsx_" + code.replacingOccurrences(of: "-", with: "_")
    }

    /// The city a region code belongs to: `330106` → `330100`; municipalities and provinces stay as given.
    public static func city(of region: String) -> String {
        let digits = region.prefix(6)
        guard digits.count == 6 else { return String(digits) }
        return String(digits.prefix(4)) + "00"
    }

    /// 32 bits of SHA-256 over the key, region and values in field order.
    public static func rowHash(_ row: DataRow, fields: [ResourceField]) -> Int64 {
        var text = row.key + "\u{1f}" + row.region
        for field in fields { text += "\u{1f}" + (row.values[field.name] ?? "") }
        let digest = Array(SHA256.hash(data: Data(text.utf8)))
        return Int64(UInt32(digest[0]) << 24 | UInt32(digest[1]) << 16 | UInt32(digest[2]) << 8 | UInt32(digest[3]))
    }

    var sql: any SQLDatabase { db as! any SQLDatabase }

    public func create(_ resource: DataResource) async throws {
        let fields = resource.fields
        guard fields.allSatisfy({ Self.isIdentifier($0.name) }) else {
            throw Problem(.unprocessableEntity, detail: "Field names must be lower-case identifiers")
        }
        let table = Self.tableName(resource.code)
        var columns = [
            "record_key TEXT PRIMARY KEY", "region_code TEXT NOT NULL", "city_code TEXT NOT NULL",
            "updated_at BIGINT NOT NULL", "row_hash BIGINT NOT NULL",
        ]
        columns += fields.filter { !["record_key", "region_code", "city_code", "updated_at", "row_hash"].contains($0.name) }
            .map { "\"\($0.name)\" TEXT" }
        try await sql.raw(SQLQueryString("CREATE TABLE IF NOT EXISTS \(unsafeRaw: table) (\(unsafeRaw: columns.joined(separator: ", ")))")).run()
        try await sql.raw(SQLQueryString(
            "CREATE INDEX IF NOT EXISTS \(unsafeRaw: table)_city ON \(unsafeRaw: table) (city_code, updated_at, row_hash)")).run()
    }

    /// Inserts or replaces rows (the provider's side), in one statement per 200 rows.
    public func upsert(_ resource: DataResource, rows: [DataRow]) async throws {
        let fields = resource.fields
        let table = Self.tableName(resource.code)
        let names = ["record_key", "region_code", "city_code", "updated_at", "row_hash"] + fields.map { "\"\($0.name)\"" }
        let updates = names.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        for chunk in stride(from: 0, to: rows.count, by: 200) {
            let slice = rows[chunk..<min(rows.count, chunk + 200)]
            var query = SQLQueryString("INSERT INTO \(unsafeRaw: table) (\(unsafeRaw: names.joined(separator: ", "))) VALUES ")
            for (i, row) in slice.enumerated() {
                if i > 0 { query.appendLiteral(", ") }
                query.appendLiteral("(")
                query.appendInterpolation(bind: row.key)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: row.region)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: Self.city(of: row.region))
                query.appendLiteral(", ")
                query.appendInterpolation(bind: row.updatedAt)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: Self.rowHash(row, fields: fields))
                for field in fields {
                    query.appendLiteral(", ")
                    query.appendInterpolation(bind: row.values[field.name])
                }
                query.appendLiteral(")")
            }
            query.appendLiteral(" ON CONFLICT (record_key) DO UPDATE SET ")
            query.appendLiteral(updates)
            try await sql.raw(query).run()
        }
    }

    /// Rows of `resource` with the given keys (at most `limit` when no key is given), with the named fields only.
    public func rows(_ resource: DataResource, keys: [String]?, fields: [String], limit: Int) async throws -> [DataRow] {
        let table = Self.tableName(resource.code)
        let known = Set(resource.fields.map(\.name))
        let selected = fields.filter { known.contains($0) }
        var query = SQLQueryString("SELECT record_key, region_code, updated_at")
        for field in selected { query.appendLiteral(", \"\(field)\"") }
        query.appendLiteral(" FROM \(table)")
        if let keys {
            if keys.isEmpty { return [] }
            query.appendLiteral(" WHERE record_key IN (")
            for (i, key) in keys.enumerated() {
                if i > 0 { query.appendLiteral(", ") }
                query.appendInterpolation(bind: key)
            }
            query.appendLiteral(")")
        }
        query.appendLiteral(" ORDER BY record_key LIMIT \(max(1, min(limit, 1000)))")
        return try await sql.raw(query).all().map { row in
            var values: [String: String] = [:]
            for field in selected { values[field] = try? row.decode(column: field, as: String?.self) ?? nil }
            return DataRow(
                key: (try? row.decode(column: "record_key", as: String.self)) ?? "",
                region: (try? row.decode(column: "region_code", as: String.self)) ?? "",
                updatedAt: (try? row.decode(column: "updated_at", as: Int64.self)) ?? 0, values: values)
        }
    }

    /// Values of `row` for `fields`, masked unless the field is in `full`.
    public static func present(_ row: DataRow, resource: DataResource, fields: [String], full: Set<String>) -> [String: String] {
        var out: [String: String] = [:]
        let byName = Dictionary(resource.fields.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in fields {
            guard let field = byName[name], let value = row.values[name] else { continue }
            out[name] = full.contains(name) ? value : FieldMasking.apply(field.mask, to: value)
        }
        return out
    }
}
