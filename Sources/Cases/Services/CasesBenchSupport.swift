import Fluent
import Foundation
import Identity
import SQLKit
import TongbanCore
import Vapor

/// Helpers for `tongban bench cases`: more grids (the demo has 50; the benchmark wants 451, as in
/// Chancheng) and many synthetic cases for the statistics measurement.
public enum CasesBenchSupport {
    /// Adds grids of 0.005° × 0.005° north of the demo grids (from latitude 23.10, longitude 113.10, 20 per row)
    /// until there are `total`; returns the latitude/longitude box all grids cover.
    @discardableResult
    public static func addGrids(app: Application, total: Int) async throws -> Box {
        let db = app.db
        let existing = try await GridRecord.query(on: db).count()
        let extra = max(0, total - existing)
        guard extra > 0,
            let street = try await Region.query(on: db).filter(\.$code == "440604004").first(), let streetID = street.id
        else { return (23.0, 23.1, 113.1, 113.2) }
        let community = Region(code: "440604004009", name: "基准测试社区", nameEn: "Benchmark Community", level: .community, parentID: streetID)
        if let found = try await Region.query(on: db).filter(\.$code == community.code).first() {
            community.id = found.id
        } else {
            try await community.create(on: db)
        }
        let communityID = try community.requireID()
        try await db.writeTransaction { tx in
            for i in 0..<extra {
                let row = Double(i / 20)
                let column = Double(i % 20)
                let code = "440604004009-B\(String(format: "%04d", i + 1))"
                let region = Region(code: code, name: "基准网格\(i + 1)", nameEn: "Benchmark Grid \(i + 1)", level: .grid, parentID: communityID)
                try await region.create(on: tx)
                let grid = GridRecord()
                grid.regionID = try region.requireID()
                grid.code = code
                grid.name = region.name
                grid.minLat = ((23.10 + row * 0.005) * 1e6).rounded() / 1e6
                grid.minLon = ((113.10 + column * 0.005) * 1e6).rounded() / 1e6
                grid.maxLat = ((23.105 + row * 0.005) * 1e6).rounded() / 1e6
                grid.maxLon = ((113.105 + column * 0.005) * 1e6).rounded() / 1e6
                grid.geometry = GeoPolygon.rectangleGeoJSON(minLat: grid.minLat, minLon: grid.minLon, maxLat: grid.maxLat, maxLon: grid.maxLon)
                try await grid.create(on: tx)
            }
        }
        app.casesDirectory.invalidate()
        let rows = Double((extra + 19) / 20)
        return (23.0, 23.10 + rows * 0.005, 113.1, 113.2)
    }

    /// Batches and cases written so far by the group-commit writer of new cases.
    /// The box the grids cover.
    public typealias Box = (minLat: Double, maxLat: Double, minLon: Double, maxLon: Double)

    /// Cases stored so far.
    public static func caseCount(app: Application) async throws -> Int {
        try await CaseRecord.query(on: app.db).count()
    }

    public static func writerCounts(app: Application) async -> (batches: Int, cases: Int) {
        (await app.caseWriter.batches, await app.caseWriter.written)
    }

    /// Inserts `count` synthetic cases spread over the last 365 days, the demo grids, departments and
    /// categories (no timeline, no timers: only what statistics read): multi-row INSERTs of 500 rows,
    /// 20,000 rows per transaction; the running statistics are summed in memory and written at the end.
    public static func insertSyntheticCases(app: Application, count: Int, progress: @Sendable (Int) -> Void) async throws {
        guard let sql = app.db as? any SQLDatabase else { return }
        let directory = try await app.casesDirectory.get(db: app.db, now: app.clock.now())
        let grids = Array(directory.grids.keys)
        let departments = Array(directory.departments.keys.prefix(40))
        let categories = Array(directory.categories.keys)
        guard !grids.isEmpty, !departments.isEmpty, !categories.isEmpty else { return }
        let now = app.clock.now()
        let statuses: [CaseStatus] = [.dispatched, .processing, .resolved, .closed, .closed, .closed, .duplicate]
        var generator = SystemRandomNumberGenerator()
        let batch = 500
        let perTransaction = 20_000
        var done = 0
        var delta: [CaseStatCounters.Key: Int] = [:]
        var statements: [SQLQueryString] = []
        var pendingRows = 0
        func flush() async throws {
            let list = statements
            statements = []
            pendingRows = 0
            try await app.db.writeTransaction { tx in
                guard let sql = tx as? any SQLDatabase else { return }
                for statement in list { try await sql.raw(statement).run() }
            }
        }
        while done < count {
            let n = min(batch, count - done)
            var query = SQLQueryString(
                "INSERT INTO cases_cases (id, number, type, category, description, status, priority, channel, lat, lon, grid_id, outside_grid, level, department_id, co_handlers, escalations, urges, reopened, overdue, response_due_at, resolution_due_at, accepted_at, resolved_at, closed_at, evaluation, created_at, updated_at) VALUES "
            )
            for i in 0..<n {
                let serial = done + i + 1
                let created = now.addingTimeInterval(-Double.random(in: 0...(365 * 86400), using: &generator))
                let status = statuses[Int.random(in: 0..<statuses.count, using: &generator)]
                let accepted: Date? = status == .dispatched ? nil : created.addingTimeInterval(Double.random(in: 600...86400, using: &generator))
                let resolved: Date? = [.resolved, .closed].contains(status) ? created.addingTimeInterval(Double.random(in: 86400...(10 * 86400), using: &generator)) : nil
                let evaluation: String? = status == .closed ? (Bool.random(using: &generator) ? "satisfied" : (Int.random(in: 0..<5, using: &generator) == 0 ? "unsatisfied" : nil)) : nil
                let type = [CaseType.gridEvent, .appeal, .supervision][serial % 3]
                let category = categories[serial % categories.count]
                let grid = grids[Int.random(in: 0..<grids.count, using: &generator)]
                let department = departments[Int.random(in: 0..<departments.count, using: &generator)]
                let overdue = Int.random(in: 0..<10, using: &generator) == 0
                let record = CaseRecord()
                record.createdAt = created
                record.status = status
                record.type = type
                record.departmentID = department
                record.gridID = grid
                record.category = category
                record.overdue = overdue
                record.acceptedAt = accepted
                record.resolvedAt = resolved
                record.evaluation = evaluation
                for (key, value) in CaseStatCounters.Snapshot(record).contributions() { delta[key, default: 0] += value }
                if i > 0 { query.appendLiteral(", ") }
                query.appendLiteral("(")
                query.appendInterpolation(bind: UUID())
                query.appendLiteral(", ")
                query.appendInterpolation(bind: "BENCH-\(serial)")
                query.appendLiteral(", ")
                query.appendInterpolation(bind: type.rawValue)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: category)
                query.appendLiteral(", 'synthetic', ")
                query.appendInterpolation(bind: status.rawValue)
                query.appendLiteral(", 'normal', 'app', ")
                query.appendInterpolation(bind: 23.0 + Double.random(in: 0...0.1, using: &generator))
                query.appendLiteral(", ")
                query.appendInterpolation(bind: 113.1 + Double.random(in: 0...0.1, using: &generator))
                query.appendLiteral(", ")
                query.appendInterpolation(bind: grid)
                query.appendLiteral(", false, 'community', ")
                query.appendInterpolation(bind: department)
                query.appendLiteral(", '', 0, 0, 0, ")
                query.appendInterpolation(bind: overdue)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: created.addingTimeInterval(7200))
                query.appendLiteral(", ")
                query.appendInterpolation(bind: created.addingTimeInterval(5 * 86400))
                query.appendLiteral(", ")
                query.appendInterpolation(bind: accepted)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: resolved)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: status == .closed ? resolved : nil)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: evaluation)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: created)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: created)
                query.appendLiteral(")")
            }
            statements.append(query)
            pendingRows += n
            done += n
            if pendingRows >= perTransaction || done == count { try await flush() }
            if done % 100_000 < batch || done == count { progress(done) }
        }
        let counts = delta.filter { $0.value != 0 }
        try await app.db.writeTransaction { tx in try await CaseStatCounters.add(counts, on: tx) }
        _ = sql
    }
}
