import Foundation
import SQLKit

/// Multi-row `INSERT`s in plain SQL, chunked to stay under the database's bound-parameter limit.
///
/// Hot write paths (group-committed case reports, scan records, lookup answers) insert many rows of one table
/// at once. Fluent's `[Model].create(on:)` reflects over every property of every model (Mirror) to build the
/// same statement; this takes the values directly. Values are bound, never spliced into the SQL text, and go
/// through the driver's own encoder (a `Date` or `UUID` is stored exactly as Fluent stores it).
public enum BulkInsert {
    /// Bound parameters per statement. SQLite allows 32,766 and PostgreSQL 65,535; staying well under both keeps
    /// statements small enough to prepare quickly.
    public static let maxParameters = 8_000

    /// Inserts `rows` into `table`: one statement per chunk of rows, each row given by `values` in the order of
    /// `columns` (nil for NULL).
    public static func run<Row>(
        into table: String, columns: [String], rows: some Collection<Row>, on sql: any SQLDatabase,
        values: (Row) -> [any Encodable & Sendable]
    ) async throws {
        guard !rows.isEmpty, !columns.isEmpty else { return }
        let perStatement = max(1, maxParameters / columns.count)
        var chunk: [[any SQLExpression]] = []
        chunk.reserveCapacity(min(rows.count, perStatement))
        for row in rows {
            let rowValues = values(row)
            precondition(rowValues.count == columns.count, "BulkInsert: \(rowValues.count) values for \(columns.count) columns of \(table)")
            chunk.append(rowValues.map { SQLBind($0) })
            if chunk.count == perStatement {
                try await statement(table, columns, chunk, sql).run()
                chunk.removeAll(keepingCapacity: true)
            }
        }
        if !chunk.isEmpty {
            try await statement(table, columns, chunk, sql).run()
        }
    }

    private static func statement(
        _ table: String, _ columns: [String], _ rows: [[any SQLExpression]], _ sql: any SQLDatabase
    ) -> SQLInsertBuilder {
        let builder = sql.insert(into: table).columns(columns)
        for row in rows { builder.values(row) }
        return builder
    }
}
