import Fluent
import Foundation
import NIOConcurrencyHelpers
import Vapor

/// What a scan needs of the verifier device that sent it (a value, so that it can be shared between requests).
public struct ScanningDevice: Sendable, Equatable {
    public var id: UUID
    public var organisationID: UUID
    public var scenario: String
    public var location: String
    public var status: VerifierDeviceStatus

    init(_ device: VerifierDevice) throws {
        self.id = try device.requireID()
        self.organisationID = device.organisationID
        self.scenario = device.scenario
        self.location = device.location
        self.status = device.status
    }
}

/// Verifier devices by API-key hash, kept for a short time (`ttl`, 2 s by default) so that a scanner sending
/// thousands of verifications a second does not read its own device row each time. A device registered, disabled
/// or re-enabled through this process clears the cache at once; a change made through another node takes effect
/// within `ttl`. Unknown keys are not cached (a typo'd key costs one indexed read).
public final class VerifierDeviceCache: Sendable {
    private let state = NIOLockedValueBox<[String: (device: ScanningDevice, loaded: TimeInterval)]>([:])
    let ttl: TimeInterval
    let limit: Int

    public init(ttl: TimeInterval = 2, limit: Int = 10_000) {
        self.ttl = ttl
        self.limit = limit
    }

    /// Monotonic seconds (a test clock that stands still must not freeze the cache).
    static func uptime() -> TimeInterval { ProcessInfo.processInfo.systemUptime }

    func device(keyHash: String) -> ScanningDevice? {
        let now = Self.uptime()
        return state.withLockedValue { entries in
            guard let entry = entries[keyHash], now - entry.loaded < ttl else { return nil }
            return entry.device
        }
    }

    func remember(_ device: ScanningDevice, keyHash: String) {
        let now = Self.uptime()
        state.withLockedValue { entries in
            if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[keyHash] = (device, now)
        }
    }

    public func clear() { state.withLockedValue { $0.removeAll() } }
}

extension Application {
    private struct VerifierDeviceCacheKey: StorageKey { typealias Value = VerifierDeviceCache }

    /// Verifier devices read recently (set at boot; without it nothing is cached).
    public var verifierDeviceCache: VerifierDeviceCache {
        get { storage[VerifierDeviceCacheKey.self] ?? VerifierDeviceCache(ttl: 0, limit: 0) }
        set { storage[VerifierDeviceCacheKey.self] = newValue }
    }
}
