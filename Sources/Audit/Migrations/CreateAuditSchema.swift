import Fluent
import SQLKit

/// Creates the append-only log: entries (the exact bytes that were hashed), stored Merkle nodes (every
/// level: leaf hashes at level 0 and each complete subtree), signed checkpoints, and the log's signing key.
struct CreateAuditSchema: AsyncMigration {
    var name: String { "Audit.CreateAuditSchema" }

    func prepare(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase else { return }
        let postgres = sql.dialect.name == "postgresql"
        let int = postgres ? "BIGINT" : "INTEGER"
        let blob = postgres ? "BYTEA" : "BLOB"
        let withoutRowID = postgres ? "" : " WITHOUT ROWID"
        try await sql.raw(
            SQLQueryString(
                "CREATE TABLE audit_entries (idx \(int) PRIMARY KEY, kind TEXT NOT NULL, at TEXT NOT NULL, entry TEXT NOT NULL)"
            )
        ).run()
        try await sql.raw(
            SQLQueryString(
                "CREATE TABLE audit_nodes (level INTEGER NOT NULL, idx \(int) NOT NULL, hash \(blob) NOT NULL, "
                    + "PRIMARY KEY (level, idx))\(withoutRowID)")
        ).run()
        try await sql.raw(
            SQLQueryString(
                "CREATE TABLE audit_checkpoints (size \(int) PRIMARY KEY, root \(blob) NOT NULL, note TEXT NOT NULL, "
                    + "created_at TEXT NOT NULL)")
        ).run()
        try await sql.raw(
            SQLQueryString(
                "CREATE TABLE audit_keys (name TEXT PRIMARY KEY, private_key TEXT NOT NULL, public_key TEXT NOT NULL, "
                    + "created_at TEXT NOT NULL)")
        ).run()
    }

    func revert(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase else { return }
        for table in ["audit_keys", "audit_checkpoints", "audit_nodes", "audit_entries"] {
            try await sql.raw(SQLQueryString("DROP TABLE IF EXISTS " + table)).run()
        }
    }
}
