import Fluent
import Foundation
import SQLKit
import TongbanCore
import Vapor

/// Statistics over cases created in a period: counts by status, department, grid, category and day,
/// overdue rate, average response and resolution times, satisfaction rate. Plain GROUP BY queries on
/// indexed columns; nothing is loaded row by row.
struct CaseStats: Sendable {
    let db: any Database

    struct Count: Content {
        var key: String
        var label: String?
        var count: Int
    }

    struct Result: Content {
        var from: String?
        var to: String?
        var total: Int
        var byStatus: [Count]
        var byType: [Count]
        var byDepartment: [Count]
        var byGrid: [Count]
        var byCategory: [Count]
        var byDay: [Count]
        var overdue: Int
        var overdueRate: Double
        var averageResponseMinutes: Double?
        var averageResolutionHours: Double?
        var evaluated: Int
        var satisfied: Int
        var satisfactionRate: Double?
    }

    /// Statistics from the running counters (``CaseStatCounters``): whole 16-day blocks plus the single days at
    /// the period's edges, then the per-day totals — a few thousand rows whatever the number of cases.
    func compute(from: LocalDate?, to: LocalDate?, type: CaseType?, directory: CasesDirectory) async throws -> Result {
        guard let sql = db as? any SQLDatabase else { throw Problem(.internalServerError) }
        let size = CaseStatCounters.blockDays
        let lo = from.map { CaseStatCounters.day($0.start()) } ?? 0
        let hi = to.map { CaseStatCounters.day($0.start()) } ?? 100_000_000
        // Blocks lying wholly inside [lo, hi], and the days left over at either end.
        let firstBlock = (lo + size - 1) / size
        let lastBlock = (hi + 1) / size - 1
        var parts: [SQLQueryString] = []
        func part(_ table: String, _ column: String, _ low: Int, _ high: Int) -> SQLQueryString {
            var query = SQLQueryString("SELECT dim, key, n FROM ")
            query.appendInterpolation(unsafeRaw: table)
            query.appendInterpolation(unsafeRaw: " WHERE " + column + " >= ")
            query.appendInterpolation(bind: low)
            query.appendInterpolation(unsafeRaw: " AND " + column + " <= ")
            query.appendInterpolation(bind: high)
            if let type {
                query.appendLiteral(" AND type = ")
                query.appendInterpolation(bind: type.rawValue)
            }
            return query
        }
        if firstBlock <= lastBlock {
            parts.append(part(CaseStatCounters.blockSchema, "block", firstBlock, lastBlock))
            if lo <= firstBlock * size - 1 { parts.append(part(CaseStatCounters.schema, "day", lo, firstBlock * size - 1)) }
            if (lastBlock + 1) * size <= hi { parts.append(part(CaseStatCounters.schema, "day", (lastBlock + 1) * size, hi)) }
        } else if lo <= hi {
            parts.append(part(CaseStatCounters.schema, "day", lo, hi))
        }
        var dims: [String: [(String, Int)]] = [:]
        if !parts.isEmpty {
            var query = SQLQueryString("SELECT dim, key, CAST(SUM(n) AS BIGINT) AS n FROM (")
            for (index, sub) in parts.enumerated() {
                if index > 0 { query.appendLiteral(" UNION ALL ") }
                query.appendInterpolation(sub)
            }
            query.appendLiteral(") AS counted GROUP BY dim, key")
            for row in try await sql.raw(query).all() {
                let n = try row.decode(column: "n", as: Int.self)
                guard n != 0 else { continue }
                dims[try row.decode(column: "dim", as: String.self), default: []].append((try row.decode(column: "key", as: String.self), n))
            }
        }
        var dayQuery = SQLQueryString("SELECT day, CAST(SUM(n) AS BIGINT) AS n FROM cases_stat_counts WHERE dim = 'metric' AND key = 'total' AND day >= ")
        dayQuery.appendInterpolation(bind: lo)
        dayQuery.appendLiteral(" AND day <= ")
        dayQuery.appendInterpolation(bind: hi)
        if let type {
            dayQuery.appendLiteral(" AND type = ")
            dayQuery.appendInterpolation(bind: type.rawValue)
        }
        dayQuery.appendLiteral(" GROUP BY day")
        let byDay = try await sql.raw(dayQuery).all().compactMap { row -> (String, Int)? in
            let n = try row.decode(column: "n", as: Int.self)
            return n == 0 ? nil : (String(try row.decode(column: "day", as: Int.self)), n)
        }
        let metrics = Dictionary((dims["metric"] ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: +)
        return Self.result(
            from: from, to: to, byStatus: dims["status"] ?? [], byType: dims["type"] ?? [],
            byDepartment: dims["department"] ?? [], byGrid: (dims["grid"] ?? []).filter { !$0.0.isEmpty },
            byCategory: dims["category"] ?? [], byDay: byDay, overdue: metrics["overdue"] ?? 0,
            response: metrics["response_n"].flatMap { n in n == 0 ? nil : Double(metrics["response_sum"] ?? 0) / Double(n) },
            resolution: metrics["resolution_n"].flatMap { n in n == 0 ? nil : Double(metrics["resolution_sum"] ?? 0) / Double(n) },
            evaluated: metrics["evaluated"] ?? 0, satisfied: metrics["satisfied"] ?? 0, directory: directory)
    }

    /// Statistics by scanning the cases table (the reference the running counters are checked against).
    func computeByScanning(from: LocalDate?, to: LocalDate?, type: CaseType?, directory: CasesDirectory) async throws -> Result {
        guard let sql = db as? any SQLDatabase else { throw Problem(.internalServerError) }
        let postgres = sql.dialect.name == "postgresql"
        var conditions: [SQLQueryString] = []
        if let from { conditions.append("created_at >= \(bind: from.start())") }
        if let to { conditions.append("created_at < \(bind: to.adding(days: 1).start())") }
        if let type { conditions.append("type = \(bind: type.rawValue)") }
        var whereClause = SQLQueryString("")
        for (index, condition) in conditions.enumerated() {
            whereClause.appendLiteral(index == 0 ? " WHERE " : " AND ")
            whereClause.appendInterpolation(condition)
        }
        func grouped(_ column: String) async throws -> [(String, Int)] {
            var query = SQLQueryString("SELECT ")
            query.appendInterpolation(unsafeRaw: column)
            query.appendLiteral(" AS k, COUNT(*) AS n FROM cases_cases")
            query.appendInterpolation(whereClause)
            query.appendLiteral(" GROUP BY ")
            query.appendInterpolation(unsafeRaw: column)
            return try await sql.raw(query).all().map { row in
                let key: String
                if let number = try? row.decode(column: "k", as: Int?.self) {
                    key = String(number)
                } else if let id = try? row.decode(column: "k", as: UUID?.self) {
                    key = id.uuidString.lowercased()
                } else if let text = try? row.decode(column: "k", as: String?.self) {
                    key = text
                } else {
                    key = ""
                }
                return (key, try row.decode(column: "n", as: Int.self))
            }
        }
        let dayExpression = postgres
            ? "CAST(FLOOR((EXTRACT(EPOCH FROM created_at) + 28800) / 86400) AS BIGINT)"
            : "CAST((created_at + 28800) / 86400 AS INTEGER)"
        let byStatus = try await grouped("status")
        let byType = try await grouped("type")
        let byDepartment = try await grouped("department_id")
        let byGrid = try await grouped("grid_id")
        let byCategory = try await grouped("category")
        let byDay = try await grouped(dayExpression)
        let seconds: (String, String) -> String = { a, b in
            postgres ? "EXTRACT(EPOCH FROM (\(a) - \(b)))" : "(\(a) - \(b))"
        }
        var aggregate = SQLQueryString(
            """
            SELECT SUM(CASE WHEN overdue THEN 1 ELSE 0 END) AS overdue,
              CAST(AVG(CASE WHEN accepted_at IS NOT NULL THEN \(unsafeRaw: seconds("accepted_at", "created_at")) END) AS DOUBLE PRECISION) AS response,
              CAST(AVG(CASE WHEN resolved_at IS NOT NULL THEN \(unsafeRaw: seconds("resolved_at", "created_at")) END) AS DOUBLE PRECISION) AS resolution,
              SUM(CASE WHEN evaluation IS NOT NULL THEN 1 ELSE 0 END) AS evaluated,
              SUM(CASE WHEN evaluation = 'satisfied' THEN 1 ELSE 0 END) AS satisfied
            FROM cases_cases
            """)
        aggregate.appendInterpolation(whereClause)
        let row = try await sql.raw(aggregate).first()
        let overdue = (try? row?.decode(column: "overdue", as: Int?.self)) ?? nil
        let response = (try? row?.decode(column: "response", as: Double?.self)) ?? nil
        let resolution = (try? row?.decode(column: "resolution", as: Double?.self)) ?? nil
        let evaluated = ((try? row?.decode(column: "evaluated", as: Int?.self)) ?? nil) ?? 0
        let satisfied = ((try? row?.decode(column: "satisfied", as: Int?.self)) ?? nil) ?? 0
        return Self.result(
            from: from, to: to, byStatus: byStatus, byType: byType, byDepartment: byDepartment,
            byGrid: byGrid.filter { !$0.0.isEmpty }, byCategory: byCategory, byDay: byDay, overdue: overdue ?? 0,
            response: response, resolution: resolution, evaluated: evaluated, satisfied: satisfied, directory: directory)
    }

    static func result(
        from: LocalDate?, to: LocalDate?, byStatus: [(String, Int)], byType: [(String, Int)], byDepartment: [(String, Int)],
        byGrid: [(String, Int)], byCategory: [(String, Int)], byDay: [(String, Int)], overdue: Int, response: Double?,
        resolution: Double?, evaluated: Int, satisfied: Int, directory: CasesDirectory
    ) -> Result {
        func sorted(_ list: [(String, Int)], label: (String) -> String?) -> [Count] {
            list.map { Count(key: $0.0, label: label($0.0), count: $0.1) }.sorted { ($1.count, $0.key) < ($0.count, $1.key) }
        }
        let total = byStatus.reduce(0) { $0 + $1.1 }
        let dayCounts = byDay.compactMap { key, count -> Count? in
            guard let day = Int(key) else { return nil }
            let date = LocalDate(Date(timeIntervalSince1970: Double(day) * 86400), timeZone: TimeZone(identifier: "UTC") ?? .current)
            return Count(key: date.description, label: nil, count: count)
        }.sorted { $0.key < $1.key }
        return Result(
            from: from?.description, to: to?.description, total: total,
            byStatus: sorted(byStatus) { _ in nil }, byType: sorted(byType) { _ in nil },
            byDepartment: sorted(byDepartment) { key in UUID(uuidString: key).flatMap { directory.departments[$0]?.name } },
            byGrid: sorted(byGrid) { key in UUID(uuidString: key).flatMap { directory.grids[$0]?.code } },
            byCategory: sorted(byCategory) { directory.categories[$0]?.name },
            byDay: dayCounts, overdue: overdue,
            overdueRate: total == 0 ? 0 : Double(overdue) / Double(total),
            averageResponseMinutes: response.map { $0 / 60 }, averageResolutionHours: resolution.map { $0 / 3600 },
            evaluated: evaluated, satisfied: satisfied,
            satisfactionRate: evaluated == 0 ? nil : Double(satisfied) / Double(evaluated))
    }

    /// The statistics as CSV: `dimension,key,label,count` rows, then the rates.
    static func csv(_ result: Result) -> String {
        func field(_ value: String) -> String {
            value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
        }
        var lines = ["dimension,key,label,count"]
        for (dimension, list) in [
            ("status", result.byStatus), ("type", result.byType), ("department", result.byDepartment), ("grid", result.byGrid),
            ("category", result.byCategory), ("day", result.byDay),
        ] {
            for item in list { lines.append([dimension, item.key, item.label ?? "", String(item.count)].map(field).joined(separator: ",")) }
        }
        lines.append("total,,,\(result.total)")
        lines.append("overdue,,,\(result.overdue)")
        lines.append("overdueRate,,,\(result.overdueRate)")
        lines.append("averageResponseMinutes,,,\(result.averageResponseMinutes.map { String($0) } ?? "")")
        lines.append("averageResolutionHours,,,\(result.averageResolutionHours.map { String($0) } ?? "")")
        lines.append("satisfactionRate,,,\(result.satisfactionRate.map { String($0) } ?? "")")
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
