import ArgumentParser
import DataSharing
import Fluent
import Foundation
import SQLKit
import TongbanApp
import TongbanCore
import Vapor

extension Bench {
    /// `tongban bench reflow`: slices a synthetic provincial table into city enclaves (issue 6's target:
    /// 10 million rows into 11 cities at ≥ 200,000 rows/s on SQLite), then an incremental refresh.
    struct Reflow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reflow", abstract: "Data reflow slicing rate (rows/s) into city enclaves, full and incremental.")

        @ArgumentParser.Option(name: .long, help: "Rows in the provincial table.") var rows = 10_000_000
        @ArgumentParser.Option(name: .long, help: "Cities (1–11, Zhejiang's 330100…331100).") var cities = 11
        @ArgumentParser.Option(name: .long, help: "Share of rows changed before the incremental refresh (0–1).") var changed = 0.01
        @ArgumentParser.Option(name: .long, help: "Database URL (default: a new SQLite file in a temporary directory).")
        var database: String?

        func validate() throws {
            guard (1...100_000_000).contains(rows) else { throw ValidationError("--rows must be 1–100000000") }
            guard (1...11).contains(cities) else { throw ValidationError("--cities must be 1–11") }
            guard (0...1).contains(changed) else { throw ValidationError("--changed must be 0–1") }
        }

        func run() async throws {
            try await Runner.withBenchApp(database: database) { app in try await measure(app) }
        }

        func measure(_ app: Application) async throws {
            try await Runner.migrate(app)
            try await TongbanApp.prepareDatabase(app)
            let sql = app.db as! any SQLDatabase
            let sqlite = sql.dialect.name == "sqlite"
            let code = "bench-reflow-\(UUID().uuidString.prefix(6).lowercased())"
            let resource = DataResource()
            resource.code = code
            resource.nameZh = "回流基准表"
            resource.nameEn = "Reflow benchmark table"
            resource.providerDepartmentID = UUID()
            resource.subject = .enterprise
            let fields = ["name", "uscc", "legal_rep", "industry", "registered_capital"]
            resource.fieldsJSON = try JSONText.encode(fields.map {
                ResourceField(name: $0, nameZh: $0, nameEn: $0, type: .string, sensitivity: 1, mask: .none)
            })
            resource.updateFrequency = "daily"
            resource.sharingType = .conditional
            resource.openType = .notOpen
            resource.reflow = true
            resource.createdAt = Date()
            try await resource.create(on: app.db)
            try await DataTables(db: app.db).create(resource)
            let table = DataTables.tableName(code)

            // 1. A provincial table of `rows` rows spread over the cities (generated inside the database).
            BenchLicences.progress("generating \(rows) rows over \(cities) cities")
            let generateStart = Date()
            let chunk = 1_000_000
            var made = 0
            while made < rows {
                let n = min(chunk, rows - made)
                let from = made
                let query: SQLQueryString = sqlite
                    ? """
                    INSERT INTO \(unsafeRaw: table) (record_key, region_code, city_code, updated_at, row_hash, name, uscc, legal_rep, industry, registered_capital)
                    WITH RECURSIVE s(i) AS (SELECT \(unsafeRaw: String(from)) UNION ALL SELECT i + 1 FROM s WHERE i < \(unsafeRaw: String(from + n - 1)))
                    SELECT printf('K%010d', i), printf('%04d%02d', 3301 + i % \(unsafeRaw: String(cities)), 2 + (i / 11) % 8),
                           printf('%04d00', 3301 + i % \(unsafeRaw: String(cities))), 1000000 + i, (i * 2654435761) % 4294967296,
                           '企业' || i, '91330100MA' || printf('%08d', i), '法人' || (i % 977), 'C' || (1300 + i % 97), CAST(i % 100000 AS TEXT) || '.00'
                    FROM s
                    """
                    : """
                    INSERT INTO \(unsafeRaw: table) (record_key, region_code, city_code, updated_at, row_hash, name, uscc, legal_rep, industry, registered_capital)
                    SELECT 'K' || lpad(i::text, 10, '0'), (3301 + i % \(unsafeRaw: String(cities)))::text || lpad((2 + (i / 11) % 8)::text, 2, '0'),
                           (3301 + i % \(unsafeRaw: String(cities)))::text || '00', 1000000 + i, (i * 2654435761) % 4294967296,
                           '企业' || i, '91330100MA' || lpad(i::text, 8, '0'), '法人' || (i % 977), 'C' || (1300 + i % 97), (i % 100000)::text || '.00'
                    FROM generate_series(\(unsafeRaw: String(from))::bigint, \(unsafeRaw: String(from + n - 1))::bigint) AS i
                    """
                try await sql.raw(query).run()
                made += n
                BenchLicences.progress("generated \(made)/\(rows)")
            }
            let generated = Date().timeIntervalSince(generateStart)

            // 2. Full slicing into every city's enclave.
            let slicer = ReflowSlicer(db: app.db, dataDirectory: app.tongbanConfig.dataDirectory)
            let cityCodes = (0..<cities).map { String(format: "%04d00", 3301 + $0) }
            var watermarks: [String: Int64] = [:]
            var copied = 0
            var verified = true
            let sliceStart = Date()
            for city in cityCodes {
                let outcome = try await slicer.slice(resource, fields: fields, city: city, watermark: Int64.min)
                copied += outcome.copied
                verified = verified && outcome.verified
                watermarks[city] = outcome.watermark
                BenchLicences.progress("city \(city): \(outcome.copied) rows, checksum \(outcome.checksum) \(outcome.verified ? "verified" : "MISMATCH")")
            }
            let sliced = Date().timeIntervalSince(sliceStart)

            // 3. Incremental refresh after changing a share of the rows.
            let step = changed > 0 ? max(1, Int((1 / changed).rounded())) : 0
            if step > 0 {
                try await sql.raw(SQLQueryString(
                    "UPDATE \(unsafeRaw: table) SET updated_at = updated_at + 100000000, legal_rep = legal_rep || '（变更）' WHERE updated_at % \(unsafeRaw: String(step)) = 0")).run()
            }
            var refreshed = 0
            let incrementalStart = Date()
            for city in cityCodes {
                let outcome = try await slicer.slice(resource, fields: fields, city: city, watermark: watermarks[city] ?? Int64.min)
                refreshed += outcome.copied
                verified = verified && outcome.verified
            }
            let incremental = Date().timeIntervalSince(incrementalStart)
            let rate = Double(copied) / max(sliced, 0.000_001)
            print(String(
                format: "bench reflow (%@): generated %d rows in %.1f s; sliced %d rows into %d city enclaves in %.2f s = %.0f rows/s; incremental refresh of %d changed rows in %.2f s; checksums %@",
                sqlite ? "sqlite" : "postgresql", rows, generated, copied, cities, sliced, rate, refreshed, incremental,
                verified ? "all verified" : "MISMATCH"))
            if !verified { throw CommandFailure(description: "bench reflow: a checksum did not match") }
        }
    }
}
