import Foundation
import Vapor

/// N simulated 一证通查 providers speaking the provider HTTP JSON contract (served by `tongban sim providers`, and
/// in-process by the tests): `POST /providers/{n}` with `{"idNumber"}` → `200 {"numbers":[…]}`.
///
/// Provider n (0-based) answers after `latencyMs`; the last `slowShare` of them after `slowMs` instead; the
/// `failShare` before those fail with HTTP 503. An endpoint may force a behaviour with `?mode=`: `error`
/// (HTTP 500 problem), `garbage` (200 with a body that is not JSON), `shape` (200 JSON of the wrong shape),
/// `slow` (answers after `slowMs`). With a `token`, calls without `Authorization: Bearer <token>` get 401.
public struct ProviderSimulator: Sendable {
    public var count: Int
    public var latencyMs: Int
    public var slowMs: Int
    public var slowShare: Double
    public var failShare: Double
    public var token: String?

    public init(
        count: Int = 132, latencyMs: Int = 20, slowMs: Int = 5000, slowShare: Double = 0.03, failShare: Double = 0.02, token: String? = nil
    ) {
        self.count = count
        self.latencyMs = latencyMs
        self.slowMs = slowMs
        self.slowShare = slowShare
        self.failShare = failShare
        self.token = token
    }

    struct Body: Content { var idNumber: String }
    struct Answer: Content { var numbers: [String] }

    var slowCount: Int { Int((Double(count) * slowShare).rounded()) }
    var failingCount: Int { Int((Double(count) * failShare).rounded()) }

    /// The simulated providers as registry entries (`name`, `kind`, `endpoint`): the first 93 are carriers, the
    /// rest resellers (as in the real registry).
    public func providers(baseURL: String) -> [(name: String, kind: ProviderKind, endpoint: String)] {
        (0..<count).map { n in
            ("sim-provider-\(n)", n < min(93, count) ? .carrier : .reseller, "\(baseURL)/providers/\(n)")
        }
    }

    /// Adds `POST /providers/:n` to `routes`.
    public func register(on routes: any RoutesBuilder) {
        let simulator = self
        routes.on(.POST, "providers", ":n", body: .collect(maxSize: "16kb")) { req async throws -> Response in
            try await simulator.answer(req)
        }
    }

    func answer(_ req: Request) async throws -> Response {
        guard let n = req.parameters.get("n", as: Int.self), (0..<count).contains(n) else { throw Abort(.notFound) }
        if let token, req.headers.bearerAuthorization?.token != token { throw Abort(.unauthorized) }
        let body = try req.content.decode(Body.self)
        let mode = req.query[String.self, at: "mode"] ?? ""
        let isSlow = mode == "slow" || n >= count - slowCount
        let isFailing = !isSlow && n >= count - slowCount - failingCount
        try await Task.sleep(for: .milliseconds(isSlow ? slowMs : latencyMs))
        switch mode {
        case "error":
            throw Abort(.internalServerError, reason: "simulated provider error")
        case "garbage":
            var headers = HTTPHeaders()
            headers.contentType = .json
            return Response(status: .ok, headers: headers, body: .init(string: "{\"numbers\": [138001"))
        case "shape":
            var headers = HTTPHeaders()
            headers.contentType = .json
            return Response(status: .ok, headers: headers, body: .init(string: #"{"numbers":"13800138000","count":1}"#))
        default:
            break
        }
        if isFailing { throw Abort(.serviceUnavailable) }
        let simulated = SimulatedProvider(name: "provider-\(n)", latency: .zero, failureRate: 0)
        let response = Response(status: .ok)
        try response.content.encode(Answer(numbers: try await simulated.numbers(idNumber: body.idNumber)))
        return response
    }
}
