import Fluent
import Foundation
import Identity
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Idempotency-Key")
struct IdempotencyTests {
    func register(_ app: Application, key: String, username: String, idNumber: String) async throws -> TestingHTTPResponse {
        var headers = HTTPHeaders.json
        headers.add(name: "Idempotency-Key", value: key)
        let body = #"{"username":"\#(username)","password":"\#(Fixtures.password)","name":"幂等","idNumber":"\#(idNumber)","phone":"13812345678"}"#
        return try await app.testing().sendRequest(.POST, "/api/v1/auth/register", headers: headers, body: ByteBuffer(string: body))
    }

    @Test func sameKeyAndBody_replaysWithoutASecondEffect() async throws {
        try await withTestApp { app in
            let id = Fixtures.randomIDNumber()
            let first = try await register(app, key: "key-1", username: "idem-user", idNumber: id)
            #expect(first.status == .created)
            let second = try await register(app, key: "key-1", username: "idem-user", idNumber: id)
            #expect(second.status == .created)
            #expect(second.headers.first(name: "Idempotent-Replayed") == "true")
            #expect(second.body.string == first.body.string)
            #expect(try await User.query(on: app.db).filter(\.$username == "idem-user").count() == 1)
            // Without the key the same request is a new one (and fails as a duplicate).
            var headers = HTTPHeaders.json
            headers.add(name: "X-Other", value: "1")
            let third = try await register(app, key: "key-2", username: "idem-user", idNumber: id)
            #expect(third.status == .unprocessableEntity)
        }
    }

    @Test func sameKeyDifferentBody_is422() async throws {
        try await withTestApp { app in
            _ = try await register(app, key: "key-x", username: "idem-a", idNumber: Fixtures.randomIDNumber())
            let other = try await register(app, key: "key-x", username: "idem-b", idNumber: Fixtures.randomIDNumber())
            #expect(other.status == .unprocessableEntity)
            #expect(other.problem?.type == "/problems/idempotency-key-reused")
            #expect(try await User.query(on: app.db).filter(\.$username == "idem-b").count() == 0)
        }
    }

    @Test func failedRequest_releasesTheKey() async throws {
        try await withTestApp { app in
            let bad = try await register(app, key: "key-f", username: "x", idNumber: "nope")
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.headers.first(name: "Idempotent-Replayed") == nil)
            let again = try await register(app, key: "key-f", username: "x", idNumber: "nope")
            #expect(again.headers.first(name: "Idempotent-Replayed") == nil)
        }
    }

    @Test func malformedKey_is400() async throws {
        try await withTestApp { app in
            let res = try await register(app, key: String(repeating: "k", count: 300), username: "idem-c", idNumber: Fixtures.randomIDNumber())
            #expect(res.status == .badRequest)
            #expect(res.problem?.type == "/problems/bad-idempotency-key")
        }
    }
}
