import Crypto
import Foundation
import NIOConcurrencyHelpers
import Vapor

/// A provider's answer channel: the mobile numbers registered under an ID number (full numbers; the platform
/// masks them before storing or showing anything).
public protocol NumberProvider: Sendable {
    func numbers(idNumber: String) async throws -> [String]
}

/// Why a provider call failed.
public struct ProviderFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// The in-process provider simulator, configured by its endpoint:
/// `sim://<any>?latencyMs=20&failureRate=0.05&slowMs=0&numbers=-1`.
/// `latencyMs` is the answer time, `slowMs` (if set) replaces it (a slow responder), `failureRate` the share of
/// calls that fail, `numbers` forces how many numbers it knows (otherwise 0–2, derived from the ID number and
/// the provider's name, so repeated queries agree).
public struct SimulatedProvider: NumberProvider {
    public var name: String
    public var latency: Duration
    public var failureRate: Double
    public var forcedCount: Int?

    public init(name: String, latency: Duration, failureRate: Double, forcedCount: Int? = nil) {
        self.name = name
        self.latency = latency
        self.failureRate = failureRate
        self.forcedCount = forcedCount
    }

    /// Reads a `sim://` endpoint; nil for anything else.
    public init?(name: String, endpoint: String) {
        guard let components = URLComponents(string: endpoint), components.scheme == "sim" else { return nil }
        let items = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
        let latency = Int(items["latencyMs"] ?? "") ?? 10
        let slow = Int(items["slowMs"] ?? "") ?? 0
        let rate = Double(items["failureRate"] ?? "") ?? 0
        let forced = Int(items["numbers"] ?? "").flatMap { $0 >= 0 ? $0 : nil }
        self.init(
            name: name, latency: .milliseconds(max(0, slow > 0 ? slow : latency)), failureRate: min(1, max(0, rate)), forcedCount: forced)
    }

    public func numbers(idNumber: String) async throws -> [String] {
        try await Task.sleep(for: latency)
        if failureRate > 0, Double.random(in: 0..<1) < failureRate { throw ProviderFailure(description: "simulated failure") }
        let digest = Array(SHA256.hash(data: Data((name + "|" + idNumber).utf8)))
        let count = forcedCount ?? Int(digest[0] % 8 == 0 ? 2 : digest[0] % 4 == 0 ? 1 : 0)
        let prefixes = ["138", "139", "150", "186", "177", "199"]
        return (0..<count).map { i in
            let prefix = prefixes[Int(digest[1 + i]) % prefixes.count]
            let tail = (0..<8).map { String(Int(digest[4 + i * 8 + $0]) % 10) }.joined()
            return prefix + tail
        }
    }
}

/// A real provider behind the documented HTTP JSON contract: `POST <endpoint>` with
/// `{"idNumber"}` and `Authorization: Bearer <credentials>` → `200 {"numbers":["13812345678",…]}`.
public struct HTTPNumberProvider: NumberProvider {
    let client: any Client
    let endpoint: String
    let credentials: String

    public init(client: any Client, endpoint: String, credentials: String) {
        self.client = client
        self.endpoint = endpoint
        self.credentials = credentials
    }

    struct Body: Content { var idNumber: String }
    struct Answer: Content { var numbers: [String] }

    public func numbers(idNumber: String) async throws -> [String] {
        let response = try await client.post(URI(string: endpoint)) { req in
            try req.content.encode(Body(idNumber: idNumber))
            if !credentials.isEmpty { req.headers.bearerAuthorization = BearerAuthorization(token: credentials) }
        }
        guard response.status == .ok else { throw ProviderFailure(description: "HTTP \(response.status.code)") }
        return try Self.decode(response.body)
    }

    /// Reads a 200 body strictly: JSON `{"numbers":[…]}` whatever the content type says, every number 5–20 ASCII
    /// digits; anything else is a failure (never a crash, never a partial answer).
    static func decode(_ body: ByteBuffer?) throws -> [String] {
        guard let body, body.readableBytes > 0 else { throw ProviderFailure(description: "empty answer") }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(buffer: body)) else {
            throw ProviderFailure(description: "answer is not {\"numbers\":[…]}")
        }
        guard answer.numbers.count <= 100,
            answer.numbers.allSatisfy({ (5...20).contains($0.utf8.count) && $0.utf8.allSatisfy { (48...57).contains($0) } })
        else { throw ProviderFailure(description: "answer has malformed numbers") }
        return answer.numbers
    }
}

/// Per-provider circuit breakers: after `threshold` consecutive failures a provider is not called for
/// `cooldown`; then one trial call decides (half-open).
public final class CircuitBreakers: Sendable {
    struct State {
        var failures = 0
        var openUntil: Date?
    }

    let states = NIOLockedValueBox([UUID: State]())
    public let threshold: Int
    public let cooldown: TimeInterval

    public init(threshold: Int = 5, cooldown: TimeInterval = 30) {
        self.threshold = threshold
        self.cooldown = cooldown
    }

    /// Whether a call may go out now (closed, or half-open after the cooldown).
    public func allows(_ provider: UUID, now: Date) -> Bool {
        states.withLockedValue { states in
            guard let until = states[provider]?.openUntil else { return true }
            if now >= until {
                // Half-open: let this one call through; a failure re-opens at once.
                states[provider]?.openUntil = nil
                states[provider]?.failures = max(0, threshold - 1)
                return true
            }
            return false
        }
    }

    public func success(_ provider: UUID) {
        states.withLockedValue { $0[provider] = State() }
    }

    public func failure(_ provider: UUID, now: Date) {
        states.withLockedValue { states in
            var state = states[provider] ?? State()
            state.failures += 1
            if state.failures >= threshold { state.openUntil = now.addingTimeInterval(cooldown) }
            states[provider] = state
        }
    }
}
