import Foundation
import NIOConcurrencyHelpers
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

extension Application {
    /// One JSON request; the status, the decoded body (null when not JSON) and the headers.
    func call(
        _ method: HTTPMethod, _ path: String, token: String? = nil, apiKey: String? = nil, body: [String: JSONValue]? = nil
    ) async throws -> (HTTPStatus, JSONValue, HTTPHeaders) {
        var headers = HTTPHeaders.json
        if let token { headers.add(name: .authorization, value: "Bearer \(token)") }
        if let apiKey { headers.add(name: "X-Api-Key", value: apiKey) }
        let buffer = try body.map { ByteBuffer(data: try JSONEncoder().encode($0)) }
        let res = try await testing().sendRequest(method, path, headers: headers, body: buffer)
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null
        return (res.status, value, res.headers)
    }

    /// Issues a code of `type` to demo-citizen; returns the payload.
    func issueCode(_ type: String = "identity", token: String? = nil) async throws -> String {
        let citizen: String
        if let token { citizen = token } else { citizen = try await login("demo-citizen") }
        let (status, body, _) = try await call(.POST, "/api/v1/codes", token: citizen, body: ["type": .string(type)])
        #expect(status == .created)
        return try #require(body["payload"]?.stringValue)
    }

    /// Verifies `payload` with a verifier key; the answer (the status must be 200).
    func verifyCode(_ payload: String, scenario: String = "venue", apiKey: String? = "demo-verifier-key") async throws -> JSONValue {
        let (status, body, _) = try await call(
            .POST, "/api/v1/codes/verify", apiKey: apiKey, body: ["payload": .string(payload), "scenario": .string(scenario)])
        #expect(status == .ok)
        return body
    }

    /// A clock the test moves by hand.
    func manualClock(_ start: Date = Date()) -> ManualClock {
        let clock = ManualClock(start)
        self.clock = TongbanClock { clock.now }
        return clock
    }
}

final class ManualClock: Sendable {
    let box: NIOLockedValueBox<Date>
    init(_ start: Date) { box = NIOLockedValueBox(start) }
    var now: Date { box.withLockedValue { $0 } }
    func advance(_ seconds: TimeInterval) { box.withLockedValue { $0 = $0.addingTimeInterval(seconds) } }
}

enum Demo {
    static let citizenID = "37010219900307123" + String(ResidentIDNumber.checkCharacter(for: "37010219900307123"))
    static let citizenName = "李明"
}

extension JSONValue {
    var objectKeys: Set<String> {
        if case .object(let members) = self { return Set(members.keys) }
        return []
    }

    var items: [JSONValue] {
        if case .array(let values) = self { return values }
        return []
    }
}
