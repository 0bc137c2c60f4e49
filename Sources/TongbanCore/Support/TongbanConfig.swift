import Foundation
import Vapor

/// Configuration read once at boot from flags and the environment. Every key is listed in README.md.
public struct TongbanConfig: Sendable {
    /// `sqlite://./tongban.sqlite` (default), `sqlite::memory:`, `sqlite:///abs/path`, or `postgres://…`.
    public var databaseURL: String
    /// bcrypt work factor (`TONGBAN_BCRYPT_COST`, default 12; tests use 4).
    public var bcryptCost: Int
    /// HMAC secret for access tokens (`TONGBAN_JWT_SECRET`); when absent a random one is kept in the database.
    public var jwtSecret: String?
    /// Access-token lifetime in seconds (`TONGBAN_ACCESS_TOKEN_TTL`, default 900).
    public var accessTokenTTL: Int
    /// Refresh-token lifetime in seconds (`TONGBAN_REFRESH_TOKEN_TTL`, default 30 days).
    public var refreshTokenTTL: Int
    /// Consecutive failures before an account is locked (`TONGBAN_LOCKOUT_THRESHOLD`, default 5).
    public var lockoutThreshold: Int
    /// Lock duration in seconds (`TONGBAN_LOCKOUT_SECONDS`, default 900).
    public var lockoutSeconds: Int
    /// Failed logins allowed per client IP per minute (`TONGBAN_LOGIN_IP_LIMIT`, default 50).
    public var loginFailuresPerIPPerMinute: Int
    /// Whether session cookies carry `Secure` (`TONGBAN_COOKIE_SECURE`; default: true unless serving on loopback).
    public var cookieSecure: Bool
    /// Largest accepted request body (`TONGBAN_MAX_BODY`, default `1mb`).
    public var maxBodySize: ByteCount
    /// `json` (default) or `text` log lines (`TONGBAN_LOG_FORMAT`).
    public var logFormat: String
    /// Where files live (`TONGBAN_DATA_DIR`, default `./data`).
    public var dataDirectory: String
    /// Seconds public catalogue responses are cached in memory (`TONGBAN_CATALOGUE_CACHE_SECONDS`, default 5;
    /// 0 disables).
    public var catalogueCacheSeconds: Int = 5
    /// Largest attachment, in bytes (`TONGBAN_ATTACHMENT_MAX`, e.g. `10mb`; default 10 MiB).
    public var attachmentMaxBytes: Int = 10 * 1024 * 1024
    /// Threads for blocking work: SQLite calls, file I/O, password hashing (`TONGBAN_BLOCKING_THREADS`;
    /// default nil: one per core, which measured fastest for SQLite on 2 cores).
    public var blockingThreads: Int?
    /// Database connections per event loop (`TONGBAN_DB_CONNECTIONS`; default nil: 1 for SQLite, whose one
    /// writer and per-connection page caches gain nothing from more, and 4 for PostgreSQL).
    public var connectionsPerEventLoop: Int?
    /// SQLite commit durability (`TONGBAN_SQLITE_SYNC`): `normal` (default; with write-ahead logging a commit
    /// survives a crash or kill of the process, and only an OS crash or power cut can lose the last
    /// commits) or `full` (every commit is synced to disk, at a few milliseconds each).
    public var sqliteSynchronous: String = "normal"
    /// Pages of write-ahead log after which a SQLite commit copies the log back into the database file
    /// (`TONGBAN_SQLITE_WAL_AUTOCHECKPOINT`, 100–100000, default 1000 as SQLite's own default).
    public var sqliteWalAutocheckpoint: Int = 1000
    /// SQLite page cache per connection in MiB (`TONGBAN_SQLITE_CACHE_MB`, 2–4096, default 64; SQLite's own default is 2).
    public var sqliteCacheMiB: Int = 64
    /// The audit log's origin: the first line of its checkpoints and its key name (`TONGBAN_AUDIT_ORIGIN`).
    public var auditOrigin: String = "tongban.local/audit"
    /// Seconds between periodic signed checkpoints of the audit log (`TONGBAN_AUDIT_CHECKPOINT_SECONDS`, default 60).
    public var auditCheckpointSeconds: Int = 60
    /// The audit log's signer key (`TONGBAN_AUDIT_KEY`, `PRIVATE+KEY+<origin>+…`); when absent one is generated
    /// on first start and kept in the database.
    public var auditSigningKey: String?

    public init(
        databaseURL: String = "sqlite://./tongban.sqlite", bcryptCost: Int = 12, jwtSecret: String? = nil,
        accessTokenTTL: Int = 900, refreshTokenTTL: Int = 30 * 24 * 3600, lockoutThreshold: Int = 5,
        lockoutSeconds: Int = 900, loginFailuresPerIPPerMinute: Int = 50, cookieSecure: Bool = true,
        maxBodySize: ByteCount = "1mb", logFormat: String = "json", dataDirectory: String = "./data"
    ) {
        self.databaseURL = databaseURL
        self.bcryptCost = bcryptCost
        self.jwtSecret = jwtSecret
        self.accessTokenTTL = accessTokenTTL
        self.refreshTokenTTL = refreshTokenTTL
        self.lockoutThreshold = lockoutThreshold
        self.lockoutSeconds = lockoutSeconds
        self.loginFailuresPerIPPerMinute = loginFailuresPerIPPerMinute
        self.cookieSecure = cookieSecure
        self.maxBodySize = maxBodySize
        self.logFormat = logFormat
        self.dataDirectory = dataDirectory
    }

    /// `512kb`, `10mb`, `1gb` or a plain byte count.
    static func byteCount(_ raw: String) -> Int? {
        let lower = raw.lowercased().trimmingCharacters(in: .whitespaces)
        for (suffix, factor) in [("kb", 1024), ("mb", 1024 * 1024), ("gb", 1024 * 1024 * 1024)] where lower.hasSuffix(suffix) {
            return Int(lower.dropLast(2)).map { $0 * factor }
        }
        return Int(lower)
    }

    public struct InvalidSetting: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads the environment; `databaseURL` (from a flag) wins over `DATABASE_URL`.
    public static func fromEnvironment(
        databaseURL flag: String? = nil, host: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> TongbanConfig {
        var config = TongbanConfig()
        config.databaseURL = flag ?? environment["DATABASE_URL"] ?? config.databaseURL
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let raw = environment[key] else { return nil }
            guard let value = Int(raw), range.contains(value) else {
                throw InvalidSetting(description: "\(key) must be an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        config.bcryptCost = try int("TONGBAN_BCRYPT_COST", 4...31) ?? config.bcryptCost
        config.accessTokenTTL = try int("TONGBAN_ACCESS_TOKEN_TTL", 30...86_400) ?? config.accessTokenTTL
        config.refreshTokenTTL = try int("TONGBAN_REFRESH_TOKEN_TTL", 60...31_536_000) ?? config.refreshTokenTTL
        config.lockoutThreshold = try int("TONGBAN_LOCKOUT_THRESHOLD", 1...100) ?? config.lockoutThreshold
        config.lockoutSeconds = try int("TONGBAN_LOCKOUT_SECONDS", 1...86_400) ?? config.lockoutSeconds
        config.loginFailuresPerIPPerMinute =
            try int("TONGBAN_LOGIN_IP_LIMIT", 1...1_000_000) ?? config.loginFailuresPerIPPerMinute
        if let secret = environment["TONGBAN_JWT_SECRET"] {
            guard secret.utf8.count >= 32 else {
                throw InvalidSetting(description: "TONGBAN_JWT_SECRET must be at least 32 bytes")
            }
            config.jwtSecret = secret
        }
        let loopback = ["127.0.0.1", "localhost", "::1"].contains(host ?? "127.0.0.1")
        switch environment["TONGBAN_COOKIE_SECURE"]?.lowercased() {
        case nil, "": config.cookieSecure = !loopback
        case "1", "true", "yes": config.cookieSecure = true
        case "0", "false", "no": config.cookieSecure = false
        default: throw InvalidSetting(description: "TONGBAN_COOKIE_SECURE must be true or false")
        }
        if let raw = environment["TONGBAN_MAX_BODY"] {
            let lower = raw.lowercased()
            guard lower.hasSuffix("kb") || lower.hasSuffix("mb") || lower.hasSuffix("gb") || Int(lower) != nil else {
                throw InvalidSetting(description: "TONGBAN_MAX_BODY must look like 512kb, 1mb or a byte count")
            }
            config.maxBodySize = ByteCount(stringLiteral: lower)
        }
        if let format = environment["TONGBAN_LOG_FORMAT"] {
            guard ["json", "text"].contains(format) else {
                throw InvalidSetting(description: "TONGBAN_LOG_FORMAT must be json or text")
            }
            config.logFormat = format
        }
        config.dataDirectory = environment["TONGBAN_DATA_DIR"] ?? config.dataDirectory
        if let raw = environment["TONGBAN_ATTACHMENT_MAX"] {
            guard let bytes = Self.byteCount(raw), (1024...(1 << 30)).contains(bytes) else {
                throw InvalidSetting(description: "TONGBAN_ATTACHMENT_MAX must look like 512kb, 10mb or a byte count (1kb to 1gb)")
            }
            config.attachmentMaxBytes = bytes
        }
        config.blockingThreads = try int("TONGBAN_BLOCKING_THREADS", 2...256) ?? config.blockingThreads
        config.connectionsPerEventLoop = try int("TONGBAN_DB_CONNECTIONS", 1...64) ?? config.connectionsPerEventLoop
        if let sync = environment["TONGBAN_SQLITE_SYNC"]?.lowercased() {
            guard ["normal", "full"].contains(sync) else {
                throw InvalidSetting(description: "TONGBAN_SQLITE_SYNC must be normal or full")
            }
            config.sqliteSynchronous = sync
        }
        config.sqliteWalAutocheckpoint = try int("TONGBAN_SQLITE_WAL_AUTOCHECKPOINT", 100...100_000) ?? config.sqliteWalAutocheckpoint
        config.sqliteCacheMiB = try int("TONGBAN_SQLITE_CACHE_MB", 2...4096) ?? config.sqliteCacheMiB
        config.catalogueCacheSeconds = try int("TONGBAN_CATALOGUE_CACHE_SECONDS", 0...3600) ?? config.catalogueCacheSeconds
        if let origin = environment["TONGBAN_AUDIT_ORIGIN"] {
            guard !origin.isEmpty, origin.count <= 200, !origin.contains(where: { $0.isWhitespace || $0 == "+" }) else {
                throw InvalidSetting(description: "TONGBAN_AUDIT_ORIGIN must be non-empty, without spaces or '+'")
            }
            config.auditOrigin = origin
        }
        config.auditCheckpointSeconds = try int("TONGBAN_AUDIT_CHECKPOINT_SECONDS", 1...86_400) ?? config.auditCheckpointSeconds
        if let key = environment["TONGBAN_AUDIT_KEY"], !key.isEmpty {
            guard key.hasPrefix("PRIVATE+KEY+") else {
                throw InvalidSetting(description: "TONGBAN_AUDIT_KEY must be a signer key PRIVATE+KEY+<origin>+<id>+<key>")
            }
            config.auditSigningKey = key
        }
        return config
    }
}

extension Application {
    private struct ConfigKey: StorageKey { typealias Value = TongbanConfig }

    public var tongbanConfig: TongbanConfig {
        get { storage[ConfigKey.self] ?? TongbanConfig() }
        set { storage[ConfigKey.self] = newValue }
    }
}
