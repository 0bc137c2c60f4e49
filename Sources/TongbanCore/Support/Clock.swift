import Foundation
import Vapor

/// The time source; tests inject a fixed clock.
public struct TongbanClock: Sendable {
    public var now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date) { self.now = now }

    public static let system = TongbanClock { Date() }

    public static func fixed(_ date: Date) -> TongbanClock { TongbanClock { date } }
}

extension Application {
    private struct ClockKey: StorageKey { typealias Value = TongbanClock }

    /// The application clock (system time unless a test set another).
    public var clock: TongbanClock {
        get { storage[ClockKey.self] ?? .system }
        set { storage[ClockKey.self] = newValue }
    }
}

extension Request {
    public var now: Date { application.clock.now() }
}
