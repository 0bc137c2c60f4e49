import Codes
import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Codes: 一证通查 over the provider HTTP JSON contract")
struct ProviderHTTPTests {
    /// Serves `simulator` over real HTTP on a free local port for the duration of `body` (its base URL).
    static func withSimulator(_ simulator: ProviderSimulator, _ body: (String) async throws -> Void) async throws {
        let server = try await Application.make(.testing)
        server.logger.logLevel = .critical
        simulator.register(on: server)
        var failure: (any Error)?
        do {
            try await server.http.server.shared.start(address: .hostname("127.0.0.1", port: 0))
            let port = try #require(server.http.server.shared.localAddress?.port)
            try await body("http://127.0.0.1:\(port)")
        } catch {
            failure = error
        }
        await server.http.server.shared.shutdown()
        try await server.asyncShutdown()
        if let failure { throw failure }
    }

    @Test func httpProviders_answer_orFailCleanly_on500_garbage_wrongShape_andBadCredentials() async throws {
        let simulator = ProviderSimulator(count: 5, latencyMs: 5, slowMs: 5, slowShare: 0, failShare: 0, token: "secret-token")
        try await Self.withSimulator(simulator) { base in
            try await withTestApp(demo: true) { app in
                let admin = try await app.login("demo-admin")
                try await LookupTests.addProvider(app, admin, "HTTP 正常", endpoint: "\(base)/providers/0", timeoutMs: 4000)
                try await LookupTests.addProvider(app, admin, "HTTP 500", endpoint: "\(base)/providers/1?mode=error", timeoutMs: 4000)
                try await LookupTests.addProvider(app, admin, "HTTP 乱码", endpoint: "\(base)/providers/2?mode=garbage", timeoutMs: 4000)
                try await LookupTests.addProvider(app, admin, "HTTP 结构错", endpoint: "\(base)/providers/3?mode=shape", timeoutMs: 4000)
                let (status, _, _) = try await app.call(
                    .POST, "/api/v1/codes/providers", token: admin,
                    body: ["name": "HTTP 错误凭据", "kind": "reseller", "endpoint": .string("\(base)/providers/4"), "credentials": "wrong",
                           "timeoutMs": 4000])
                #expect(status == .created)
                let citizen = try await app.login("demo-citizen")
                let (created, result, _) = try await app.call(.POST, "/api/v1/codes/lookups", token: citizen, body: ["livenessToken": "ok"])
                #expect(created == .created)
                #expect(result["total"] == 8)
                #expect(result["status"]?.stringValue == "complete")
                #expect(Set(result["failed"]?.items.compactMap(\.stringValue) ?? []) == ["HTTP 500", "HTTP 乱码", "HTTP 结构错", "HTTP 错误凭据"])
                for name in ["HTTP 500", "HTTP 乱码", "HTTP 结构错", "HTTP 错误凭据"] {
                    let row = result["providers"]?.items.first { $0["provider"]?.stringValue == name }
                    #expect(row?["status"]?.stringValue == "failed")
                    #expect(row?["attempts"] == 3, "\(name) is retried")
                }
                // The good provider's answer is exactly the simulator's, masked; other providers' answers are kept.
                let expected = try await SimulatedProvider(name: "provider-0", latency: .zero, failureRate: 0, forcedCount: nil)
                    .numbers(idNumber: Demo.citizenID).map(Masking.phone).sorted()
                let got = (result["numbers"]?.items ?? []).filter { $0["provider"]?.stringValue == "HTTP 正常" }
                    .compactMap { $0["number"]?.stringValue }.sorted()
                #expect(got == expected)
                #expect(result["providers"]?.items.first { $0["provider"]?.stringValue == "HTTP 正常" }?["status"]?.stringValue == "answered")
                #expect((result["numbers"]?.items ?? []).contains { $0["provider"]?.stringValue == "演示移动 (simulated)" })
            }
        }
    }

    @Test func theSimulatorAnswersTheContract_andWantsTheBearerToken() async throws {
        let simulator = ProviderSimulator(count: 2, latencyMs: 1, slowMs: 1, slowShare: 0, failShare: 0.5, token: "t0k")
        try await Self.withSimulator(simulator) { base in
            try await withTestApp { app in
                let good = HTTPNumberProvider(client: app.client, endpoint: "\(base)/providers/0", credentials: "t0k")
                let numbers = try await good.numbers(idNumber: Demo.citizenID)
                #expect(numbers == (try await SimulatedProvider(name: "provider-0", latency: .zero, failureRate: 0).numbers(idNumber: Demo.citizenID)))
                await #expect(throws: ProviderFailure.self) {
                    try await HTTPNumberProvider(client: app.client, endpoint: "\(base)/providers/0", credentials: "nope").numbers(idNumber: "1")
                }
                // Provider 1 is in the failing share: 503.
                await #expect(throws: ProviderFailure.self) {
                    try await HTTPNumberProvider(client: app.client, endpoint: "\(base)/providers/1", credentials: "t0k").numbers(idNumber: "1")
                }
                let missing = try await app.client.post(URI(string: "\(base)/providers/9")) { req in
                    req.headers.bearerAuthorization = BearerAuthorization(token: "t0k")
                    try req.content.encode(["idNumber": "1"])
                }
                #expect(missing.status == .notFound)
            }
        }
    }

    @Test func theProviderContract_isInTheOpenAPIDocument() async throws {
        try await withTestApp { app in
            let (status, document, _) = try await app.call(.GET, "/openapi.json")
            #expect(status == .ok)
            let schemas = document["components"]?["schemas"]
            #expect(schemas?["CodesProviderRequest"]?["properties"]?["idNumber"] != nil)
            #expect(schemas?["CodesProviderAnswer"]?["properties"]?["numbers"] != nil)
            #expect(schemas?["CodesProviderRequest"]?["description"]?.stringValue?.contains("Authorization: Bearer") == true)
        }
    }
}
