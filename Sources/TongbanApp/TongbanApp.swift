import Applications
import Audit
import Cases
import Catalogue
import Codes
import DataSharing
import Fluent
import Foundation
import Identity
import Licences
import Policy
import SQLKit
import TongbanCore
import Vapor
import Web
import Workflow

/// The composition root: configuration → database → core middleware → modules in dependency order.
public enum TongbanApp {
    /// Every module, in dependency order. A new capability is a new module plus one line here.
    public static let modules: [any TongbanModule] = [
        CoreModule(), WebModule(), IdentityModule(), CatalogueModule(), WorkflowModule(), ApplicationsModule(),
        AuditModule(), DataSharingModule(),
        LicencesModule(), PolicyModule(),
        CodesModule(),
        CasesModule(),
    ]

    public static let version = "0.1.0"

    /// Configures `app` completely (does not migrate).
    public static func configure(_ app: Application, config: TongbanConfig, database: DatabaseLocation) throws {
        app.tongbanConfig = config
        app.directory = DirectoryConfiguration(workingDirectory: workingDirectory())
        app.directory.viewsDirectory = WebModule.resourcesDirectory() + "Views/"
        app.routes.defaultMaxBodySize = config.maxBodySize
        app.http.server.configuration.serverName = "tongban"
        if let threads = config.blockingThreads {
            app.threadPool = NIOThreadPool(numberOfThreads: threads)
        }
        SQLiteDurability.synchronous = config.sqliteSynchronous
        SQLiteDurability.walAutocheckpoint = config.sqliteWalAutocheckpoint
        SQLiteDurability.cacheSizeKiB = config.sqliteCacheMiB * 1024
        app.keyVault = try KeyVault.load(environment: ProcessInfo.processInfo.environment, dataDirectory: config.dataDirectory)
        try database.configure(app)

        app.middleware = Middlewares()
        app.middleware.use(RequestIDMiddleware())
        app.middleware.use(HTTPMetricsMiddleware(metrics: app.metricsRegistry))
        app.middleware.use(RouteLoggingMiddleware(logLevel: .info))
        app.middleware.use(ProblemMiddleware(pageRenderer: WebModule.errorPageRenderer))
        app.middleware.use(PreferencesMiddleware())

        for module in modules {
            app.migrations.add(module.migrations)
        }
        for module in modules {
            try module.boot(app)
        }
        // After the identity module's authenticators, so that keys are scoped per caller.
        app.middleware.use(IdempotencyMiddleware())
        OperationsRoutes.register(app)
    }

    /// Prepares a SQLite file for concurrent use: write-ahead logging (persistent in the file), so that
    /// readers never wait for the writer and a commit costs one sync instead of several.
    public static func prepareDatabase(_ app: Application) async throws {
        guard let sql = app.db as? any SQLDatabase, sql.dialect.name == "sqlite" else { return }
        _ = try await sql.raw("PRAGMA journal_mode=WAL").all()
    }

    /// Loads every module's demo data (idempotent), reporting progress.
    public static func loadDemo(_ app: Application, options: DemoOptions) async throws {
        for module in modules {
            try await module.seedDemo(on: app, options: options)
        }
    }

    /// Names of the migrations this build knows, in order.
    public static func migrationNames() -> [String] {
        modules.flatMap { $0.migrations.map(\.name) }
    }

    static func workingDirectory() -> String {
        let resources = WebModule.resourcesDirectory()
        return URL(fileURLWithPath: resources).deletingLastPathComponent().path + "/"
    }
}
