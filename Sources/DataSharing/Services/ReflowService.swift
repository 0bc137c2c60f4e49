import Fluent
import FluentSQLiteDriver
import Foundation
import Identity
import SQLKit
import TongbanCore
import Vapor

/// Copies one city's rows of a provincial table into the city's own data enclave: its own database file on
/// SQLite (`<data>/enclaves/city-<code>.sqlite`), its own schema on PostgreSQL (`enclave_<code>`).
/// Incremental by the `updated_at` watermark; the checksum (rows and sum of row hashes) of the enclave table is
/// compared with the same over the source slice inside one snapshot.
public struct ReflowSlicer: Sendable {
    public struct Outcome: Sendable, Equatable {
        public var copied: Int
        /// Rows removed from the enclave because they left the city's slice at the source (deleted or moved).
        public var deleted: Int = 0
        public var total: Int
        public var watermark: Int64
        public var checksum: String
        public var sourceChecksum: String
        public var verified: Bool { checksum == sourceChecksum }
    }

    let db: any Database
    let dataDirectory: String

    public init(db: any Database, dataDirectory: String) {
        self.db = db
        self.dataDirectory = dataDirectory
    }

    static func validCity(_ city: String) -> Bool {
        city.count == 6 && city.allSatisfy({ $0.isASCII && $0.isNumber }) && city.hasSuffix("00") && !city.hasSuffix("0000")
    }

    public static func enclaveTable(_ code: String) -> String { code.replacingOccurrences(of: "-", with: "_") }

    public func enclavePath(city: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("enclaves/city-\(city).sqlite").path
    }

    /// Copies rows of `resource` for `city` newer than `watermark`, only `fields`.
    public func slice(_ resource: DataResource, fields: [String], city: String, watermark: Int64) async throws -> Outcome {
        guard Self.validCity(city), fields.allSatisfy(DataTables.isIdentifier) else {
            throw Problem.badRequest("Invalid city or field names")
        }
        let source = DataTables.tableName(resource.code)
        let target = Self.enclaveTable(resource.code)
        let columns = ["record_key", "region_code", "updated_at", "row_hash"] + fields.map { "\"\($0)\"" }
        let list = columns.joined(separator: ", ")
        let updates = columns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        let definition = (["record_key TEXT PRIMARY KEY", "region_code TEXT NOT NULL", "updated_at BIGINT NOT NULL", "row_hash BIGINT NOT NULL"]
            + fields.map { "\"\($0)\" TEXT" }).joined(separator: ", ")
        guard let sql = db as? any SQLDatabase else { throw Problem.badRequest("SQL database required") }
        if sql.dialect.name == "sqlite" {
            guard let sqlite = PinnedSQLite(db) else { throw Problem.badRequest("SQLite connection required") }
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: enclavePath(city: city)).deletingLastPathComponent().path, withIntermediateDirectories: true)
            let path = enclavePath(city: city).replacingOccurrences(of: "'", with: "''")
            return try await sqlite.withPinnedConnection { conn in
                try await conn.raw(SQLQueryString("ATTACH DATABASE '\(unsafeRaw: path)' AS enclave")).run()
                do {
                    try await conn.raw("PRAGMA enclave.journal_mode=WAL").run()
                    try await conn.raw("PRAGMA enclave.synchronous=NORMAL").run()
                    try await conn.raw(SQLQueryString("CREATE TABLE IF NOT EXISTS enclave.\(unsafeRaw: target) (\(unsafeRaw: definition))")).run()
                    try await addMissingColumns(conn, table: "enclave.\(target)", pragma: "PRAGMA enclave.table_info(\(target))", fields: fields)
                    try await conn.raw("BEGIN").run()
                    do {
                        try await conn.raw(SQLQueryString("""
                            INSERT INTO enclave.\(unsafeRaw: target) (\(unsafeRaw: list)) SELECT \(unsafeRaw: list) FROM main.\(unsafeRaw: source) \
                            WHERE city_code = \(bind: city) AND updated_at > \(bind: watermark) \
                            ON CONFLICT (record_key) DO UPDATE SET \(unsafeRaw: updates)
                            """)).run()
                        let copied = try await conn.raw("SELECT changes() AS n").first()?.decode(column: "n", as: Int.self) ?? 0
                        // Rows that left the city's slice at the source (deleted, or moved to another city) leave the enclave.
                        try await conn.raw(SQLQueryString("""
                            DELETE FROM enclave.\(unsafeRaw: target) WHERE record_key NOT IN \
                            (SELECT record_key FROM main.\(unsafeRaw: source) WHERE city_code = \(bind: city))
                            """)).run()
                        let deleted = try await conn.raw("SELECT changes() AS n").first()?.decode(column: "n", as: Int.self) ?? 0
                        var outcome = try await measure(conn, enclave: "enclave.\(target)", source: "main.\(source)", city: city, copied: copied, watermark: watermark)
                        outcome.deleted = deleted
                        try await conn.raw("COMMIT").run()
                        try await conn.raw("DETACH DATABASE enclave").run()
                        return outcome
                    } catch {
                        try? await conn.raw("ROLLBACK").run()
                        throw error
                    }
                } catch {
                    try? await conn.raw("DETACH DATABASE enclave").run()
                    throw error
                }
            }
        }
        let schema = try await enclaveSchema(city: city, sql: sql)
        return try await db.transaction { tx in
            let conn = tx as! any SQLDatabase
            try await conn.raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").run()
            try await conn.raw(SQLQueryString("CREATE SCHEMA IF NOT EXISTS \(ident: schema)")).run()
            try await conn.raw(SQLQueryString("CREATE TABLE IF NOT EXISTS \(ident: schema).\(unsafeRaw: target) (\(unsafeRaw: definition))")).run()
            for field in fields {
                try await conn.raw(SQLQueryString("ALTER TABLE \(ident: schema).\(unsafeRaw: target) ADD COLUMN IF NOT EXISTS \"\(unsafeRaw: field)\" TEXT")).run()
            }
            let copied = try await conn.raw(SQLQueryString("""
                WITH ins AS (INSERT INTO \(ident: schema).\(unsafeRaw: target) (\(unsafeRaw: list)) SELECT \(unsafeRaw: list) FROM \(unsafeRaw: source) \
                WHERE city_code = \(bind: city) AND updated_at > \(bind: watermark) \
                ON CONFLICT (record_key) DO UPDATE SET \(unsafeRaw: updates) RETURNING 1) SELECT COUNT(*) AS n FROM ins
                """)).first()?.decode(column: "n", as: Int.self) ?? 0
            let deleted = try await conn.raw(SQLQueryString("""
                WITH del AS (DELETE FROM \(ident: schema).\(unsafeRaw: target) e WHERE NOT EXISTS \
                (SELECT 1 FROM \(unsafeRaw: source) s WHERE s.record_key = e.record_key AND s.city_code = \(bind: city)) RETURNING 1) \
                SELECT COUNT(*) AS n FROM del
                """)).first()?.decode(column: "n", as: Int.self) ?? 0
            var outcome = try await measure(conn, enclave: "\"\(schema)\".\(target)", source: source, city: city, copied: copied, watermark: watermark)
            outcome.deleted = deleted
            return outcome
        }
    }

    func addMissingColumns(_ conn: any SQLDatabase, table: String, pragma: String, fields: [String]) async throws {
        let existing = Set(try await conn.raw(SQLQueryString(stringLiteral: pragma)).all().compactMap { try? $0.decode(column: "name", as: String.self) })
        for field in fields where !existing.contains(field) {
            try await conn.raw(SQLQueryString("ALTER TABLE \(unsafeRaw: table) ADD COLUMN \"\(unsafeRaw: field)\" TEXT")).run()
        }
    }

    func measure(_ conn: any SQLDatabase, enclave: String, source: String, city: String, copied: Int, watermark: Int64) async throws -> Outcome {
        let target = try await conn.raw(SQLQueryString(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(row_hash), 0) AS BIGINT) AS h, COALESCE(MAX(updated_at), \(bind: watermark)) AS w FROM \(unsafeRaw: enclave)")).first()
        let n = try target?.decode(column: "n", as: Int.self) ?? 0
        let h = try target?.decode(column: "h", as: Int64.self) ?? 0
        let w = try target?.decode(column: "w", as: Int64.self) ?? watermark
        let origin = try await conn.raw(SQLQueryString(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(row_hash), 0) AS BIGINT) AS h FROM \(unsafeRaw: source) WHERE city_code = \(bind: city) AND updated_at <= \(bind: w)")).first()
        let sn = try origin?.decode(column: "n", as: Int.self) ?? 0
        let sh = try origin?.decode(column: "h", as: Int64.self) ?? 0
        return Outcome(copied: copied, total: n, watermark: w, checksum: "\(n):\(h)", sourceChecksum: "\(sn):\(sh)")
    }

    /// `enclave_<city>`, prefixed with the current schema when that is not `public` (tests run in their own schema).
    func enclaveSchema(city: String, sql: any SQLDatabase) async throws -> String {
        let current = try await sql.raw("SELECT current_schema() AS s").first()?.decode(column: "s", as: String.self) ?? "public"
        return current == "public" ? "enclave_\(city)" : "\(current)_enclave_\(city)"
    }

    /// Rows in the city's enclave table (for status pages and tests).
    public func enclaveCount(_ resourceCode: String, city: String) async throws -> Int {
        guard let sql = db as? any SQLDatabase else { return 0 }
        let target = Self.enclaveTable(resourceCode)
        if sql.dialect.name == "sqlite", let sqlite = PinnedSQLite(db) {
            let path = enclavePath(city: city)
            guard FileManager.default.fileExists(atPath: path) else { return 0 }
            return try await sqlite.withPinnedConnection { conn in
                try await conn.raw(SQLQueryString("ATTACH DATABASE '\(unsafeRaw: path.replacingOccurrences(of: "'", with: "''"))' AS enclave")).run()
                let n = try? await conn.raw(SQLQueryString("SELECT COUNT(*) AS n FROM enclave.\(unsafeRaw: target)")).first()?.decode(column: "n", as: Int.self)
                try await conn.raw("DETACH DATABASE enclave").run()
                return n ?? 0
            }
        }
        let schema = try await enclaveSchema(city: city, sql: sql)
        let n = try? await sql.raw(SQLQueryString("SELECT COUNT(*) AS n FROM \(ident: schema).\(unsafeRaw: target)")).first()?.decode(column: "n", as: Int.self)
        return n ?? 0
    }
}

/// One pinned SQLite connection (ATTACH is per connection).
struct PinnedSQLite {
    let database: any SQLiteDatabase

    init?(_ db: any Database) {
        guard let sqlite = db as? any SQLiteDatabase else { return nil }
        database = sqlite
    }

    func withPinnedConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await database.withConnection { conn in try await body(conn.sql()) }
    }
}
