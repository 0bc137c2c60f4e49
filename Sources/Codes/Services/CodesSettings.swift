import Foundation
import Vapor

/// Settings of the Codes module, read once at boot from the environment; tests replace them.
///
/// - `TONGBAN_CODES_CLOCK_SKEW`: seconds of clock difference tolerated between holder devices, verifiers
///   and the platform (default 5, 0–300).
/// - `TONGBAN_CODES_LIFETIME`: seconds a code issued by the platform stays valid (default 60, 5–60).
/// - `TONGBAN_CODES_CERT_DAYS`: days a device certificate stays valid (default 7, 1–7).
public struct CodesSettings: Sendable {
    public var clockSkew: TimeInterval
    public var codeLifetime: Int
    public var certificateDays: Int

    public init(clockSkew: TimeInterval = 5, codeLifetime: Int = 60, certificateDays: Int = 7) {
        self.clockSkew = clockSkew
        self.codeLifetime = codeLifetime
        self.certificateDays = certificateDays
    }

    public static func fromEnvironment(_ env: [String: String]) -> CodesSettings {
        var settings = CodesSettings()
        if let raw = env["TONGBAN_CODES_CLOCK_SKEW"], let value = Double(raw), (0...300).contains(value) { settings.clockSkew = value }
        if let raw = env["TONGBAN_CODES_LIFETIME"], let value = Int(raw), (5...60).contains(value) { settings.codeLifetime = value }
        if let raw = env["TONGBAN_CODES_CERT_DAYS"], let value = Int(raw), (1...7).contains(value) { settings.certificateDays = value }
        return settings
    }
}

extension Application {
    private struct CodesSettingsKey: StorageKey { typealias Value = CodesSettings }

    /// The Codes module's settings (from the environment at boot).
    public var codesSettings: CodesSettings {
        get { storage[CodesSettingsKey.self] ?? CodesSettings() }
        set { storage[CodesSettingsKey.self] = newValue }
    }
}
