import Codes
import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Codes: 一证通查 federated lookup")
struct LookupTests {
    static func addProvider(_ app: Application, _ admin: String, _ name: String, kind: String = "carrier", endpoint: String, timeoutMs: Int = 1000)
        async throws
    {
        let (status, body, _) = try await app.call(
            .POST, "/api/v1/codes/providers", token: admin,
            body: ["name": .string(name), "kind": .string(kind), "endpoint": .string(endpoint), "credentials": "secret-token",
                   "timeoutMs": .number(Double(timeoutMs))])
        #expect(status == .created)
        #expect(body["credentials"] == nil)
    }

    /// Waits until no late answer is being awaited (at most `seconds`).
    static func drain(_ app: Application, seconds: Double = 5) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while app.lateAnswers.count > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test func fanOut_mergesMaskedAnswers_slowProvidersAnswerLate_failingOnesDoNotBlock() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            try await Self.addProvider(app, admin, "快运营商", endpoint: "sim://fast?latencyMs=5&numbers=2")
            try await Self.addProvider(app, admin, "坏运营商", kind: "reseller", endpoint: "sim://broken?latencyMs=1&failureRate=1", timeoutMs: 4000)
            // (the broken provider's three attempts with back-off take ~150 ms; a wide timeout keeps a loaded CI machine
            // from turning "failed" into "pending")
            try await Self.addProvider(app, admin, "慢运营商", endpoint: "sim://slow?slowMs=8000&numbers=1", timeoutMs: 150)
            let citizen = try await app.login("demo-citizen")
            let (status, result, _) = try await app.call(.POST, "/api/v1/codes/lookups", token: citizen, body: ["livenessToken": "face-ok"])
            #expect(status == .created)
            // The slow provider (8 s) did not hold the query: it is listed as pending below (its timeout is 150 ms).
            // (No wall-clock bound: on a CI machine running every suite at once it failed without a bug.)
            #expect(result["total"] == 6)
            #expect(result["status"]?.stringValue == "partial")
            #expect(result["pending"] == ["慢运营商"])
            #expect(result["failed"] == ["坏运营商"])
            let numbers = result["numbers"]?.items ?? []
            #expect(numbers.filter { $0["provider"]?.stringValue == "快运营商" }.count == 2)
            #expect(numbers.contains { $0["provider"]?.stringValue == "演示移动 (simulated)" })
            for number in numbers {
                let text = number["number"]?.stringValue ?? ""
                #expect(text.count == 11 && text.dropFirst(3).prefix(4) == "****" && text.suffix(4).allSatisfy(\.isNumber), "not masked: \(text)")
            }
            let broken = result["providers"]?.items.first { $0["provider"]?.stringValue == "坏运营商" }
            #expect(broken?["attempts"] == 3)
            // The late answer arrives, completes the query and notifies the person.
            try await Self.drain(app, seconds: 30)
            let id = try #require(result["id"]?.stringValue)
            let (_, later, _) = try await app.call(.GET, "/api/v1/codes/lookups/\(id)", token: citizen)
            #expect(later["status"]?.stringValue == "complete")
            #expect(later["pending"] == [])
            #expect(later["notifiedAt"]?.stringValue != nil)
            #expect(later["providers"]?.items.first { $0["provider"]?.stringValue == "慢运营商" }?["status"]?.stringValue == "late")
            #expect((later["numbers"]?.items ?? []).contains { $0["provider"]?.stringValue == "慢运营商" })
            // Nobody else sees it.
            let other = try await app.login(try await app.registerPerson(), Fixtures.password)
            #expect(try await app.call(.GET, "/api/v1/codes/lookups/\(id)", token: other).0 == .notFound)
        }
    }

    @Test func circuitBreaker_stopsCallingAFailingProvider() async throws {
        try await withTestApp(demo: true) { app in
            app.lookupBreakers = CircuitBreakers(threshold: 2, cooldown: 600)
            let admin = try await app.login("demo-admin")
            try await Self.addProvider(app, admin, "坏运营商", endpoint: "sim://broken?latencyMs=1&failureRate=1")
            let citizen = try await app.login("demo-citizen")
            let (_, first, _) = try await app.call(.POST, "/api/v1/codes/lookups", token: citizen, body: ["livenessToken": "ok"])
            let firstRow = first["providers"]?.items.first { $0["provider"]?.stringValue == "坏运营商" }
            #expect(firstRow?["status"]?.stringValue == "failed")
            #expect(firstRow?["attempts"] == 2)
            let (_, second, _) = try await app.call(.POST, "/api/v1/codes/lookups", token: citizen, body: ["livenessToken": "ok"])
            let secondRow = second["providers"]?.items.first { $0["provider"]?.stringValue == "坏运营商" }
            #expect(secondRow?["status"]?.stringValue == "circuit_open")
            #expect(secondRow?["attempts"] == 0)
            #expect(second["status"]?.stringValue == "complete")
            #expect((second["numbers"]?.items ?? []).contains { $0["provider"]?.stringValue == "演示移动 (simulated)" })
        }
    }

    @Test func limits_liveness_roles_andRegistryValidation() async throws {
        try await withTestApp(demo: true) { app in
            app.lookupSettings.perDay = 1
            let citizen = try await app.login("demo-citizen")
            let (noFace, problem, _) = try await app.call(.POST, "/api/v1/codes/lookups", token: citizen, body: [:])
            #expect(noFace == .forbidden)
            #expect(problem["type"]?.stringValue == "/problems/liveness-required")
            #expect(try await app.call(.POST, "/api/v1/codes/lookups", token: citizen, body: ["livenessToken": "ok"]).0 == .created)
            let (limited, _, headers) = try await app.call(.POST, "/api/v1/codes/lookups", token: citizen, body: ["livenessToken": "ok"])
            #expect(limited == .tooManyRequests)
            #expect(headers.first(name: "Retry-After") != nil)
            #expect(try await app.call(.POST, "/api/v1/codes/lookups", body: ["livenessToken": "ok"]).0 == .unauthorized)
            let clerk = try await app.login("demo-clerk")
            #expect(try await app.call(.POST, "/api/v1/codes/lookups", token: clerk, body: ["livenessToken": "ok"]).0 == .forbidden)
            // Registry: admins only, validated, unique names, credentials sealed.
            #expect(try await app.call(.GET, "/api/v1/codes/providers", token: citizen).0 == .forbidden)
            let admin = try await app.login("demo-admin")
            let (bad, badBody, _) = try await app.call(
                .POST, "/api/v1/codes/providers", token: admin, body: ["name": "x", "kind": "bank", "endpoint": "ftp://x", "timeoutMs": 1])
            #expect(bad == .unprocessableEntity)
            #expect(Set(badBody["errors"]?.items.map { $0["field"]?.stringValue ?? "" } ?? []) == ["kind", "endpoint", "timeoutMs"])
            #expect(try await app.call(
                .POST, "/api/v1/codes/providers", token: admin,
                body: ["name": "演示移动 (simulated)", "kind": "carrier", "endpoint": "sim://x"]).0 == .conflict)
            let (_, list, _) = try await app.call(.GET, "/api/v1/codes/providers", token: admin)
            #expect(list.items.count == 3)
            let stored = try #require(try await LookupProvider.query(on: app.db).first())
            #expect(!stored.sealedCredentials.isEmpty)
        }
    }

    @Test func notMine_opensADisputeToTheProvider_thatAdminsMoveForward() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let (_, result, _) = try await app.call(.POST, "/api/v1/codes/lookups", token: citizen, body: ["livenessToken": "ok"])
            let id = try #require(result["id"]?.stringValue)
            let listed = try #require(result["numbers"]?.items.first { $0["provider"]?.stringValue == "演示移动 (simulated)" })
            let number = try #require(listed["number"]?.stringValue)
            let body: [String: JSONValue] = ["provider": "演示移动 (simulated)", "number": .string(number)]
            let (status, dispute, _) = try await app.call(.POST, "/api/v1/codes/lookups/\(id)/disputes", token: citizen, body: body)
            #expect(status == .created)
            #expect(dispute["status"]?.stringValue == "open")
            #expect(dispute["number"]?.stringValue == number)
            #expect(try await app.call(.POST, "/api/v1/codes/lookups/\(id)/disputes", token: citizen, body: body).0 == .conflict)
            // A number the provider did not list, an unknown provider, someone else's lookup.
            let (bad, problem, _) = try await app.call(
                .POST, "/api/v1/codes/lookups/\(id)/disputes", token: citizen, body: ["provider": "演示移动 (simulated)", "number": "100****0000"])
            #expect(bad == .unprocessableEntity)
            #expect(problem["errors"]?.items.first?["field"]?.stringValue == "number")
            #expect(try await app.call(
                .POST, "/api/v1/codes/lookups/\(id)/disputes", token: citizen, body: ["provider": "nobody", "number": .string(number)]).0
                == .unprocessableEntity)
            let other = try await app.login(try await app.registerPerson(), Fixtures.password)
            #expect(try await app.call(.POST, "/api/v1/codes/lookups/\(id)/disputes", token: other, body: body).0 == .notFound)
            // The person lists it; an administrator forwards and resolves it; no step back.
            #expect(try await app.call(.GET, "/api/v1/codes/disputes", token: citizen).1.items.count == 1)
            #expect(try await app.call(.GET, "/api/v1/codes/disputes", token: other).1.items.count == 0)
            let disputeID = try #require(dispute["id"]?.stringValue)
            #expect(try await app.call(.POST, "/api/v1/codes/disputes/\(disputeID)/status", token: citizen, body: ["status": "resolved"]).0
                == .forbidden)
            let admin = try await app.login("demo-admin")
            #expect(try await app.call(.POST, "/api/v1/codes/disputes/\(disputeID)/status", token: admin, body: ["status": "resolved"]).0
                == .conflict)
            let (forwarded, view, _) = try await app.call(
                .POST, "/api/v1/codes/disputes/\(disputeID)/status", token: admin, body: ["status": "forwarded", "note": "已转运营商"])
            #expect(forwarded == .ok)
            #expect(view["status"]?.stringValue == "forwarded")
            #expect(try await app.call(.POST, "/api/v1/codes/disputes/\(disputeID)/status", token: admin, body: ["status": "resolved"]).1["status"]?
                .stringValue == "resolved")
            #expect(try await app.call(.POST, "/api/v1/codes/disputes/\(disputeID)/status", token: admin, body: ["status": "bogus"]).0
                == .unprocessableEntity)
        }
    }
}
