import Fluent
import FluentSQLiteDriver
import Foundation
import NIOConcurrencyHelpers
import SQLKit

/// Tracks whether the current task is already inside a write transaction, so nested calls join it.
enum WriteTransactionContext {
    @TaskLocal static var active = false
}

/// A FIFO async mutex. SQLite has one writer at a time anyway; queueing write transactions here makes
/// waiting cheap (a suspended task) instead of a connection spinning in SQLite's busy handler.
actor AsyncGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func leave() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }

    /// One gate per process for SQLite write transactions.
    static let sqliteWriters = AsyncGate()
}

/// The `PRAGMA synchronous` level write transactions use on SQLite (`NORMAL` or `FULL`), set once at start-up.
public enum SQLiteDurability {
    private static let level = NIOLockedValueBox("NORMAL")

    public static var synchronous: String {
        get { level.withLockedValue { $0 } }
        set { level.withLockedValue { $0 = newValue.uppercased() == "FULL" ? "FULL" : "NORMAL" } }
    }

    private static let checkpointPages = NIOLockedValueBox(1000)

    /// `PRAGMA wal_autocheckpoint` (pages) for connections that write, applied with `synchronous`.
    public static var walAutocheckpoint: Int {
        get { checkpointPages.withLockedValue { $0 } }
        set { checkpointPages.withLockedValue { $0 = min(100_000, max(100, newValue)) } }
    }

    private static let cacheKiB = NIOLockedValueBox(65_536)

    /// SQLite's page cache per connection in KiB (`PRAGMA cache_size = -N`), applied with `synchronous`. SQLite's
    /// own default is 2 MiB, less than the indexes a busy write path touches.
    public static var cacheSizeKiB: Int {
        get { cacheKiB.withLockedValue { $0 } }
        set { cacheKiB.withLockedValue { $0 = min(4_194_304, max(2_048, newValue)) } }
    }

    /// The level each pooled connection was last set to, so that the pragma runs once per connection (and
    /// again only if the level changes) instead of before every write transaction. Held weakly: a closed
    /// connection's entry lapses, and a new connection at the same address is not mistaken for it.
    private static let applied = NIOLockedValueBox<[ObjectIdentifier: AppliedLevel]>([:])

    private struct AppliedLevel: @unchecked Sendable {
        weak var connection: SQLiteConnection?
        var level: String
    }

    /// Sets `synchronous` on `connection` unless it already runs at that level.
    static func apply(to connection: SQLiteConnection) async throws {
        let wanted = synchronous + "/" + String(walAutocheckpoint) + "/" + String(cacheSizeKiB)
        let key = ObjectIdentifier(connection)
        let current = applied.withLockedValue { map -> String? in
            guard let entry = map[key], entry.connection === connection else { return nil }
            return entry.level
        }
        guard current != wanted else { return }
        _ = try await connection.query("PRAGMA synchronous = " + synchronous)
        _ = try await connection.query("PRAGMA wal_autocheckpoint = " + String(walAutocheckpoint))
        _ = try await connection.query("PRAGMA cache_size = -" + String(cacheSizeKiB))
        applied.withLockedValue { map in
            map = map.filter { $0.value.connection != nil }
            map[key] = AppliedLevel(connection: connection, level: wanted)
        }
    }
}

extension Database {
    /// Runs `body` in a transaction that is going to write.
    ///
    /// On SQLite the transaction starts with `BEGIN IMMEDIATE`, taking the write lock before the first read:
    /// a deferred transaction that reads and then writes can otherwise meet another writer and fail at
    /// once with "database is locked" (SQLite cannot wait there without risking a deadlock). On PostgreSQL it
    /// is an ordinary transaction. Nested calls run inside the outer transaction.
    public func writeTransaction<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        if WriteTransactionContext.active || inTransaction { return try await body(self) }
        guard let sql = self as? any SQLDatabase, sql.dialect.name == "sqlite" else {
            return try await WriteTransactionContext.$active.withValue(true) {
                try await self.transaction { try await body($0) }
            }
        }
        await AsyncGate.sqliteWriters.enter()
        do {
            let result = try await immediateTransaction(body)
            await AsyncGate.sqliteWriters.leave()
            return result
        } catch {
            await AsyncGate.sqliteWriters.leave()
            throw error
        }
    }

    private func immediateTransaction<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        try await withConnection { connection in
            guard let conn = connection as? any SQLDatabase else { return try await body(connection) }
            // How hard this commit is synced (TONGBAN_SQLITE_SYNC), set once per pooled connection. A
            // connection that cannot be reached as SQLite gets it before every transaction, as before.
            if let sqlite = connection as? any SQLiteDatabase {
                try await sqlite.withConnection { try await SQLiteDurability.apply(to: $0) }
            } else {
                try await conn.raw(SQLQueryString("PRAGMA synchronous = " + SQLiteDurability.synchronous)).run()
            }
            try await conn.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await WriteTransactionContext.$active.withValue(true) { try await body(connection) }
                try await conn.raw("COMMIT").run()
                return result
            } catch {
                try? await conn.raw("ROLLBACK").run()
                throw error
            }
        }
    }
}
