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

    /// Adds counts (one statement; keys must be distinct, which a dictionary guarantees).
    static func add(_ delta: [Key: Int], on db: any Database) async throws {
        guard !delta.isEmpty, let sql = db as? any SQLDatabase else { return }
        let entries = Array(delta)
        for start in stride(from: 0, to: entries.count, by: 2000) {
            var query = SQLQueryString("INSERT INTO cases_stat_counts (id, day, type, dim, key, n) VALUES ")
            for (index, entry) in entries[start..<min(entries.count, start + 2000)].enumerated() {
                if index > 0 { query.appendLiteral(", ") }
                query.appendLiteral("(")
                query.appendInterpolation(bind: UUID())
                query.appendLiteral(", ")
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
            query.appendLiteral(" ON CONFLICT (day, type, dim, key) DO UPDATE SET n = cases_stat_counts.n + excluded.n")
            try await sql.raw(query).run()
        }
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
