import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import Foundation
import SQLKit
import TongbanApp
import TongbanCore
import Vapor
import VaporTesting

/// Which database the suite runs on: in-memory SQLite by default, PostgreSQL when `TEST_DATABASE_URL`
/// is set (each test in its own schema, dropped afterwards).
public enum TestDatabase {
    public static var url: String? {
        let value = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"]
        return (value?.isEmpty ?? true) ? nil : value
    }

    public static var isPostgres: Bool { url?.hasPrefix("postgres") ?? false }
}

extension DatabaseID {
    static let bootstrap = DatabaseID(string: "bootstrap")
}

/// A counting gate: at most `width` holders at once, the rest wait in order.
actor TestGate {
    static let postgres = TestGate(width: Int(ProcessInfo.processInfo.environment["TEST_PG_APPS"] ?? "") ?? 40)

    private let width: Int
    private var holders = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(width: Int) { self.width = max(1, width) }

    func enter() async {
        if holders < width {
            holders += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func leave() {
        if waiters.isEmpty {
            holders -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}

/// Runs `body` with a fully configured, migrated application on a fresh database, then tears it down.
/// `demo: true` loads the demo data first.
public func withTestApp(
    demo: Bool = false, config: TongbanConfig? = nil, sqliteFile: Bool = false, _ body: (Application) async throws -> Void
) async throws {
    // Swift Testing starts every test at once; on PostgreSQL each test application holds a few connections,
    // so only so many run at a time (the server allows 300 in CI; the suite has grown past that).
    if TestDatabase.isPostgres { await TestGate.postgres.enter() }
    defer { if TestDatabase.isPostgres { Task { await TestGate.postgres.leave() } } }
    let app = try await Application.make(.testing)
    app.logger.logLevel = Logger.Level(rawValue: ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"] ?? "warning") ?? .warning
    // Files (attachments, the development outbox) go to a fresh temporary folder, never the checkout.
    let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("tongban-data-\(UUID().uuidString)").path
    var settings = config ?? TongbanConfig(
        databaseURL: "sqlite::memory:", bcryptCost: 4, cookieSecure: false, dataDirectory: dataDirectory)
    settings.bcryptCost = min(settings.bcryptCost, 4)
    // Many test applications run at once: keep each one's threads and connections few (PostgreSQL allows
    // 300 connections in CI).
    settings.blockingThreads = nil
    settings.connectionsPerEventLoop = min(settings.connectionsPerEventLoop ?? 2, 2)
    var schema: String?
    do {
        if let url = TestDatabase.url, TestDatabase.isPostgres {
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
            schema = name
            let base = try SQLPostgresConfiguration(url: url)
            app.databases.use(.postgres(configuration: base, maxConnectionsPerEventLoop: 1), as: .bootstrap, isDefault: false)
            guard let admin = app.db(.bootstrap) as? any SQLDatabase else { throw Abort(.internalServerError) }
            try await admin.raw(
                "DO $$ BEGIN PERFORM pg_advisory_xact_lock(4242); CREATE EXTENSION IF NOT EXISTS pg_trgm; END $$"
            ).run()
            try await admin.raw(SQLQueryString("CREATE SCHEMA " + name)).run()
            settings.databaseURL = url
            try TongbanApp.configure(app, config: settings, database: .postgres(url, searchPath: [name, "public"]))
        } else if sqliteFile {
            // A real file (WAL, several connections): concurrency behaves as in production.
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tongban-test-\(UUID().uuidString).sqlite").path
            try TongbanApp.configure(app, config: settings, database: .sqliteFile(path))
            try await TongbanApp.prepareDatabase(app)
        } else {
            try TongbanApp.configure(app, config: settings, database: .sqliteMemory)
        }
        try await app.autoMigrate()
        if demo {
            try await TongbanApp.loadDemo(app, options: DemoOptions())
        }
        try await body(app)
    } catch {
        await teardown(app, schema: schema)
        throw error
    }
    await teardown(app, schema: schema)
}

private func teardown(_ app: Application, schema: String?) async {
    if app.tongbanConfig.dataDirectory.hasPrefix(FileManager.default.temporaryDirectory.path) {
        try? FileManager.default.removeItem(atPath: app.tongbanConfig.dataDirectory)
    }
    if let schema, let admin = app.db(.bootstrap) as? any SQLDatabase {
        try? await admin.raw(SQLQueryString("DROP SCHEMA IF EXISTS " + schema + " CASCADE")).run()
    }
    try? await app.asyncShutdown()
}
