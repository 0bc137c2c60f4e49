import Foundation
import Vapor

/// Settings of the cases module, read once at boot from the environment.
struct CasesConfig: Sendable {
    /// Reports of the same category within this distance (metres) …
    var duplicateMeters: Double = 50
    /// … and this many hours of an open case are linked to it as duplicates.
    var duplicateHours: Double = 24
    /// Points a resident earns for a report that was handled (closed as valid).
    var pointsPerValidReport: Int = 10
    /// Extra Open311 API keys (comma-separated `TONGBAN_OPEN311_API_KEYS`), besides those stored in the database.
    var open311Keys: Set<String> = []
    /// Open311 `media_url` fetching: private, loopback and other special addresses are refused unless
    /// `TONGBAN_CASES_MEDIA_ALLOW_PRIVATE=1` (tests and closed networks).
    var mediaAllowPrivate = false
    /// The largest image fetched (`TONGBAN_CASES_MEDIA_MAX_BYTES`, default 5 MiB).
    var mediaMaxBytes = 5 * 1024 * 1024
    /// The whole fetch's deadline in seconds (`TONGBAN_CASES_MEDIA_TIMEOUT_SECONDS`, default 10).
    var mediaTimeoutSeconds: Double = 10
    /// Whether `media_url` links are fetched at all (`TONGBAN_CASES_MEDIA_FETCH=0` keeps them as links only).
    var mediaFetch = true

    static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> CasesConfig {
        var config = CasesConfig()
        if let value = env["TONGBAN_CASES_DUPLICATE_METERS"].flatMap(Double.init), value >= 0 { config.duplicateMeters = value }
        if let value = env["TONGBAN_CASES_DUPLICATE_HOURS"].flatMap(Double.init), value >= 0 { config.duplicateHours = value }
        if let value = env["TONGBAN_CASES_POINTS"].flatMap(Int.init), value >= 0 { config.pointsPerValidReport = value }
        if let value = env["TONGBAN_CASES_MEDIA_ALLOW_PRIVATE"] { config.mediaAllowPrivate = ["1", "true", "yes"].contains(value.lowercased()) }
        if let value = env["TONGBAN_CASES_MEDIA_MAX_BYTES"].flatMap(Int.init), value > 0 { config.mediaMaxBytes = value }
        if let value = env["TONGBAN_CASES_MEDIA_TIMEOUT_SECONDS"].flatMap(Double.init), value > 0 { config.mediaTimeoutSeconds = value }
        if let value = env["TONGBAN_CASES_MEDIA_FETCH"] { config.mediaFetch = !["0", "false", "no"].contains(value.lowercased()) }
        if let keys = env["TONGBAN_OPEN311_API_KEYS"] {
            config.open311Keys = Set(keys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        return config
    }
}

extension Application {
    private struct CasesConfigKey: StorageKey { typealias Value = CasesConfig }

    var casesConfig: CasesConfig {
        get { storage[CasesConfigKey.self] ?? CasesConfig() }
        set { storage[CasesConfigKey.self] = newValue }
    }
}
