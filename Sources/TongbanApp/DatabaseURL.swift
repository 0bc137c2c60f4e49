import FluentPostgresDriver
import FluentSQLiteDriver
import Foundation
import TongbanCore
import Vapor

/// Where the data lives, parsed from a database URL (API.md).
public enum DatabaseLocation: Sendable, Equatable {
    case sqliteMemory
    case sqliteFile(String)
    case postgres(String, searchPath: [String]?)

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// `sqlite::memory:`, `sqlite://./relative.sqlite`, `sqlite:///absolute.sqlite`, `postgres://user:pass@host:port/db`.
    public init(url: String) throws {
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            self = .sqliteMemory
        } else if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw Invalid(description: "database URL \(url) has no file path") }
            self = .sqliteFile(path)
        } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            guard URL(string: url)?.host != nil else { throw Invalid(description: "database URL is not a valid postgres:// URL") }
            self = .postgres(url, searchPath: nil)
        } else {
            throw Invalid(description: "database URL must start with sqlite:// or postgres:// (got '\(url.prefix(20))…')")
        }
    }

    /// Registers the database with Fluent as the default.
    public func configure(_ app: Application) throws {
        switch self {
        case .sqliteMemory:
            app.databases.use(.sqlite(.memory), as: .sqlite)
        case .sqliteFile(let path):
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // One connection per event loop unless configured: measured fastest (more connections each
            // re-read pages another one wrote).
            app.databases.use(
                .sqlite(.file(path), maxConnectionsPerEventLoop: app.tongbanConfig.connectionsPerEventLoop ?? 1), as: .sqlite)
        case .postgres(let url, let searchPath):
            var configuration = try SQLPostgresConfiguration(url: url)
            configuration.searchPath = searchPath
            app.databases.use(
                .postgres(
                    configuration: configuration, maxConnectionsPerEventLoop: app.tongbanConfig.connectionsPerEventLoop ?? 4,
                    connectionPoolTimeout: .seconds(10)),
                as: .psql)
        }
    }

    public var isSQLite: Bool {
        if case .postgres = self { return false }
        return true
    }
}
