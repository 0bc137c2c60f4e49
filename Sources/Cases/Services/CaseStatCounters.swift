import Fluent
import Foundation
import SQLKit
import TongbanCore

/// Running statistics: per day of creation (China time) and dimension, how many cases there are, kept up to
/// date in the same transaction as every change of a case. Statistics over a period then sum a few hundred
/// rows per day instead of scanning every case.
///
/// Dimensions: `status`, `type`, `department`, `grid` (empty key: outside every grid), `category`, and
/// `metric` with keys `total`, `overdue`, `response_n`, `response_sum` (seconds), `resolution_n`,
/// `resolution_sum`, `evaluated`, `satisfied`.
enum CaseStatCounters {
    static let schema = "cases_stat_counts"

    struct Key: Hashable {
        var day: Int
        var type: String
        var dim: String
        var key: String
    }

    /// What one case contributes.
    struct Snapshot: Equatable {
        var day: Int
        var status: String
        var type: String
        var department: String
        var grid: String
        var category: String
        var overdue: Bool
        var responseSeconds: Int?
        var resolutionSeconds: Int?
        var evaluation: String?

        init(_ record: CaseRecord) {
            day = CaseStatCounters.day(record.createdAt)
            status = record.status.rawValue
            type = record.type.rawValue
            department = record.departmentID.uuidString.lowercased()
            grid = record.gridID?.uuidString.lowercased() ?? ""
            category = record.category
            overdue = record.overdue
            responseSeconds = record.acceptedAt.map { Int($0.timeIntervalSince(record.createdAt).rounded()) }
            resolutionSeconds = record.resolvedAt.map { Int($0.timeIntervalSince(record.createdAt).rounded()) }
            evaluation = record.evaluation
        }

        func contributions() -> [Key: Int] {
            var result: [Key: Int] = [:]
            func add(_ dim: String, _ key: String, _ n: Int = 1) { result[Key(day: day, type: type, dim: dim, key: key), default: 0] += n }
            add("status", status)
            add("type", type)
            add("department", department)
            add("grid", grid)
            add("category", category)
            add("metric", "total")
            if overdue { add("metric", "overdue") }
            if let responseSeconds {
                add("metric", "response_n")
                add("metric", "response_sum", responseSeconds)
            }
            if let resolutionSeconds {
                add("metric", "resolution_n")
                add("metric", "resolution_sum", resolutionSeconds)
            }
            if let evaluation {
                add("metric", "evaluated")
                if evaluation == "satisfied" { add("metric", "satisfied") }
            }
            return result
        }
    }

    /// Days since 1970-01-01 in China Standard Time.
    static func day(_ date: Date) -> Int { Int(((date.timeIntervalSince1970 + 28800) / 86400).rounded(.down)) }

    /// Applies the difference between a case's state before and after a change (`before` nil: a new case).
    static func apply(before: Snapshot?, after: Snapshot?, on db: any Database) async throws {
        guard before != after else { return }
        var delta = after?.contributions() ?? [:]
        for (key, n) in before?.contributions() ?? [:] { delta[key, default: 0] -= n }
        try await add(delta.filter { $0.value != 0 }, on: db)
    }

    /// Days per block of ``blockSchema``: a period of statistics sums whole blocks plus at most 2 × 15 single days.
    static let blockDays = 16
    static let blockSchema = "cases_stat_blocks"

    /// Adds counts to the per-day rows and to their 16-day blocks (one statement each per 2,000 rows; keys must be
    /// distinct, which a dictionary guarantees).
    static func add(_ delta: [Key: Int], on db: any Database) async throws {
        guard !delta.isEmpty, let sql = db as? any SQLDatabase else { return }
        try await upsert(Array(delta), into: schema, withID: true, on: sql)
        var blocks: [Key: Int] = [:]
        for (key, n) in delta {
            blocks[Key(day: key.day / blockDays, type: key.type, dim: key.dim, key: key.key), default: 0] += n
        }
        try await upsert(Array(blocks.filter { $0.value != 0 }), into: blockSchema, withID: false, on: sql)
    }

    private static func upsert(_ entries: [(key: Key, value: Int)], into table: String, withID: Bool, on sql: any SQLDatabase) async throws {
        let column = withID ? "day" : "block"
        for start in stride(from: 0, to: entries.count, by: 2000) {
            var query = SQLQueryString("INSERT INTO ")
            query.appendInterpolation(unsafeRaw: table)
            query.appendInterpolation(unsafeRaw: withID ? " (id, day, type, dim, key, n) VALUES " : " (block, type, dim, key, n) VALUES ")
            for (index, entry) in entries[start..<min(entries.count, start + 2000)].enumerated() {
                if index > 0 { query.appendLiteral(", ") }
                query.appendLiteral("(")
                if withID {
                    query.appendInterpolation(bind: UUID())
                    query.appendLiteral(", ")
                }
                query.appendInterpolation(bind: entry.key.day)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: entry.key.type)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: entry.key.dim)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: entry.key.key)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: entry.value)
                query.appendLiteral(")")
            }
            query.appendInterpolation(unsafeRaw: " ON CONFLICT (\(column), type, dim, key) DO UPDATE SET n = \(table).n + excluded.n")
            try await sql.raw(query).run()
        }
    }
}

/// 16-day blocks of the running statistics (`cases_stat_blocks`: block = day / 16), filled from the per-day rows,
/// and an index for the per-day totals: statistics over a year sum about 25 blocks instead of 365 days.
struct CreateCaseStatBlocks: AsyncMigration {
    var name: String { "Cases.CreateCaseStatBlocks" }

    func prepare(on database: any Database) async throws {
        try await database.schema(CaseStatCounters.blockSchema)
            .field("block", .int, .required)
            .field("type", .string, .required)
            .field("dim", .string, .required)
            .field("key", .string, .required)
            .field("n", .int, .required)
            .unique(on: "block", "type", "dim", "key")
            .create()
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.create(index: "cases_stat_counts_dim_idx").on(CaseStatCounters.schema).column("dim").column("key").column("day").run()
        try await sql.raw(
            """
            INSERT INTO cases_stat_blocks (block, type, dim, key, n)
            SELECT day / \(unsafeRaw: String(CaseStatCounters.blockDays)), type, dim, key, SUM(n) FROM cases_stat_counts
            GROUP BY day / \(unsafeRaw: String(CaseStatCounters.blockDays)), type, dim, key
            """
        ).run()
    }

    func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase { try await sql.drop(index: "cases_stat_counts_dim_idx").run() }
        try await database.schema(CaseStatCounters.blockSchema).delete()
    }
}

/// Creates the running statistics table.
struct CreateCaseStatCounts: AsyncMigration {
    var name: String { "Cases.CreateCaseStatCounts" }

    func prepare(on database: any Database) async throws {
        try await database.schema(CaseStatCounters.schema)
            .id()
            .field("day", .int, .required)
            .field("type", .string, .required)
            .field("dim", .string, .required)
            .field("key", .string, .required)
            .field("n", .int, .required)
            .unique(on: "day", "type", "dim", "key")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(CaseStatCounters.schema).delete()
    }
}

/// An index for duplicate detection: the nearby cases of one category (a two-sided latitude range), so the search
/// reads a handful of rows however many reports came in during the window.
struct CreateCaseLocationIndex: AsyncMigration {
    var name: String { "Cases.CreateCaseLocationIndex" }

    func prepare(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.create(index: "cases_cases_place_idx").on(CaseRecord.schema).column("category").column("lat").column("lon").run()
    }

    func revert(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase else { return }
        try await sql.drop(index: "cases_cases_place_idx").run()
    }
}
