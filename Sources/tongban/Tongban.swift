import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import TongbanApp
import Identity
import TongbanCore
import Vapor

/// The `tongban` command line: serve, migrate, demo, admin.
@main
struct Tongban: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tongban",
        abstract: "Tongban (通办): the one-stop digital-government service platform.",
        version: TongbanApp.version,
        subcommands: [
            Serve.self, Migrate.self, Demo.self, Admin.self, AuditCommand.self, Verify.self, VerifyCode.self, Sim.self, QR.self, PolicyCommand.self, Bench.self,
        ]
    )

    /// Parses and runs; a usage error prints one line on stderr and exits 64, a failure exits 1.
    static func main() async {
        // `serve` runs Swift Concurrency's tasks on the NIO event loops themselves (SwiftNIO's executor takeover):
        // an async route then resumes on the loop that owns its connection instead of hopping to the
        // cooperative pool and back for every await. TONGBAN_NIO_EXECUTOR=0 keeps Swift's own pool.
        if CommandLine.arguments.dropFirst().first == "serve", ProcessInfo.processInfo.environment["TONGBAN_NIO_EXECUTOR"] != "0" {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help / --version
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data(("tongban: " + message.replacingOccurrences(of: "Error: ", with: "") + "\n").utf8))
            Foundation.exit(code.rawValue == 64 ? 64 : (code == .validationFailure ? 64 : 1))
        }
    }
}

/// Options every database command shares.
struct DatabaseOptions: ParsableArguments {
    @ArgumentParser.Option(name: .long, help: "Database URL (default: $DATABASE_URL or sqlite://./tongban.sqlite).")
    var database: String?
}

/// A failure to show as one line and exit 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
}

enum Runner {
    /// Builds an application for a command: logging, configuration, database, modules.
    static func makeApp(database: String?, host: String? = nil) async throws -> (Application, TongbanConfig) {
        let config: TongbanConfig
        let location: DatabaseLocation
        do {
            config = try TongbanConfig.fromEnvironment(databaseURL: database, host: host)
            location = try DatabaseLocation(url: config.databaseURL)
        } catch {
            throw CommandFailure(description: "\(error)")
        }
        LoggingBootstrap.bootstrap(format: config.logFormat)
        let environment = Environment(name: ProcessInfo.processInfo.environment["TONGBAN_ENV"] ?? "production", arguments: ["tongban"])
        let app = try await Application.make(environment)
        do {
            try TongbanApp.configure(app, config: config, database: location)
        } catch {
            try? await app.asyncShutdown()
            throw CommandFailure(description: "configuration failed: \(error)")
        }
        return (app, config)
    }

    static func migrate(_ app: Application) async throws {
        do {
            if case .sqliteFile = try DatabaseLocation(url: app.tongbanConfig.databaseURL) {
                try await TongbanApp.prepareDatabase(app)
            }
            try await app.autoMigrate()
        } catch {
            throw CommandFailure(description: "migration failed: \(String(reflecting: error).prefix(600))")
        }
    }

    static func loadDemo(_ app: Application, extraServices: Int) async throws {
        let start = Date()
        let options = DemoOptions(extraServices: extraServices) { line in
            FileHandle.standardError.write(Data(("demo: " + line + "\n").utf8))
        }
        try await TongbanApp.loadDemo(app, options: options)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "Demo data loaded in %.1f s. Demo accounts (password Tongban-demo-2026):", seconds))
        print("  demo-citizen     person (李明)")
        print("  demo-enterprise  person acting for 济南泉城食品有限公司 (legal representative)")
        print("  demo-clerk       clerk, market regulation department")
        print("  demo-approver    approver, market regulation department")
        print("  demo-admin       system administrator, auditor")
    }
}

enum LoggingBootstrap {
    nonisolated(unsafe) static var done = false

    static func bootstrap(format: String) {
        guard !done else { return }
        done = true
        let level = Logger.Level(rawValue: ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "info") ?? .info
        if format == "json" {
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        } else {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the platform (migrates the database first).")

    @ArgumentParser.Option(name: .long, help: "Address to listen on.") var host = "127.0.0.1"
    @ArgumentParser.Option(name: .long, help: "Port to listen on.") var port = 8080
    @ArgumentParser.OptionGroup var db: DatabaseOptions
    @ArgumentParser.Flag(name: .long, help: "Load demo data (idempotent) and print the demo accounts.") var demo = false

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1–65535") }
    }

    func run() async throws {
        let (app, _) = try await Runner.makeApp(database: db.database, host: host)
        do {
            try await Runner.migrate(app)
            if demo { try await Runner.loadDemo(app, extraServices: 0) }
            app.http.server.configuration.hostname = host
            app.http.server.configuration.port = port
            print("Tongban listening on http://\(host):\(port)")
            try await app.execute()
            try await app.asyncShutdown()
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")
    @ArgumentParser.OptionGroup var db: DatabaseOptions

    func run() async throws {
        let (app, _) = try await Runner.makeApp(database: db.database)
        do {
            try await Runner.migrate(app)
            print("Migrations applied: \(TongbanApp.migrationNames().count) known.")
            try await app.asyncShutdown()
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Migrate and load demo data (idempotent).")
    @ArgumentParser.OptionGroup var db: DatabaseOptions
    @ArgumentParser.Option(name: .long, help: "Also create N synthetic published services (for benchmarks).") var extraServices = 0

    func validate() throws {
        guard (0...1_000_000).contains(extraServices) else { throw ValidationError("--extra-services must be 0–1000000") }
    }

    func run() async throws {
        let (app, _) = try await Runner.makeApp(database: db.database)
        do {
            try await Runner.migrate(app)
            try await Runner.loadDemo(app, extraServices: extraServices)
            try await app.asyncShutdown()
        } catch {
            try? await app.asyncShutdown()
            throw CommandFailure(description: "demo failed: \(String(reflecting: error).prefix(600))")
        }
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Administrative tasks.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a system administrator account.")
        @ArgumentParser.Option(name: .long, help: "Username (3–32 lower-case letters, digits, . _ -).") var username: String
        @ArgumentParser.Option(name: .long, help: "Password (at least 10 characters, not common).") var password: String
        @ArgumentParser.OptionGroup var db: DatabaseOptions

        func run() async throws {
            let (app, _) = try await Runner.makeApp(database: db.database)
            do {
                try await Runner.migrate(app)
                let id = try await IdentityAdministration.createSystemAdmin(
                    app: app, username: username, password: password)
                print("Created system administrator \(username.lowercased()) (\(id.uuidString)).")
                try await app.asyncShutdown()
            } catch let problem as Problem {
                try? await app.asyncShutdown()
                let reasons = problem.errors.map { "\($0.field) \($0.message)" }.joined(separator: "; ")
                throw CommandFailure(description: reasons.isEmpty ? problem.reason : reasons)
            } catch {
                try? await app.asyncShutdown()
                throw error
            }
        }
    }
}
