import Fluent
import Foundation
import Identity
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Login, lockout, tokens")
struct LoginTests {
    func attempt(_ app: Application, _ username: String, _ password: String) async throws -> TestingHTTPResponse {
        try await app.testing().sendRequest(
            .POST, "/api/v1/auth/login", headers: .json,
            body: ByteBuffer(string: #"{"username":"\#(username)","password":"\#(password)"}"#))
    }

    @Test func login_thenMe_returnsMaskedProfile() async throws {
        try await withTestApp { app in
            let name = try await app.registerPerson(idNumber: "11010519491231002X")
            let res = try await attempt(app, name, Fixtures.password)
            #expect(res.status == .ok)
            let tokens = try res.content.decode([String: JSONValue].self)
            #expect(tokens["tokenType"]?.stringValue == "Bearer")
            #expect(tokens["expiresIn"] == .number(900))
            let access = try #require(tokens["accessToken"]?.stringValue)
            try await app.testing().test(.GET, "/api/v1/me", headers: .bearer(access)) { res in
                #expect(res.status == .ok)
                let me = try res.content.decode([String: JSONValue].self)
                #expect(me["username"]?.stringValue == name)
                #expect(me["idNumber"]?.stringValue == "110105********002X")
                #expect(me["phone"]?.stringValue == "138****5678")
            }
            let events = try await LoginEvent.query(on: app.db).all()
            #expect(events.map(\.outcome) == [.success])
        }
    }

    @Test func me_withoutOrWithBadToken_is401Problem() async throws {
        try await withTestApp { app in
            try await app.testing().test(.GET, "/api/v1/me") { res in
                #expect(res.status == .unauthorized)
                #expect(res.isProblemJSON)
                #expect(res.headers.first(name: "WWW-Authenticate") == "Bearer")
            }
            try await app.testing().test(.GET, "/api/v1/me", headers: .bearer("not.a.token")) { res in
                #expect(res.status == .unauthorized)
            }
        }
    }

    /// Verified tokens are remembered; only the exact token may profit from that.
    @Test func aVerifiedToken_isNotAKeyForNearlyTheSameToken() async throws {
        try await withTestApp { app in
            let name = try await app.registerPerson(idNumber: "11010519491231002X")
            let res = try await attempt(app, name, Fixtures.password)
            let access = try #require(try res.content.decode([String: JSONValue].self)["accessToken"]?.stringValue)
            for _ in 0..<2 {
                try await app.testing().test(.GET, "/api/v1/me", headers: .bearer(access)) { res in #expect(res.status == .ok) }
            }
            let parts = access.split(separator: ".").map(String.init)
            try #require(parts.count == 3)
            // The first character (the last may hold padding bits a lenient decoder ignores).
            let flip: (String) -> String = { text in
                (text.first == "A" ? "B" : "A") + String(text.dropFirst())
            }
            for forged in [parts[0] + "." + parts[1] + "." + flip(parts[2]), parts[0] + "." + flip(parts[1]) + "." + parts[2], access + "x"] {
                try await app.testing().test(.GET, "/api/v1/me", headers: .bearer(forged)) { res in
                    #expect(res.status == .unauthorized)
                }
            }
            try await app.testing().test(.GET, "/api/v1/me", headers: .bearer(access)) { res in #expect(res.status == .ok) }
        }
    }

    @Test func wrongPassword_andUnknownUser_lookTheSame() async throws {
        try await withTestApp { app in
            let name = try await app.registerPerson()
            let wrong = try await attempt(app, name, "Wrong-password-1")
            let unknown = try await attempt(app, "nobody-here", "Wrong-password-1")
            #expect(wrong.status == .unauthorized)
            #expect(unknown.status == .unauthorized)
            #expect(wrong.problem?.type == unknown.problem?.type)
            #expect(wrong.problem?.detail == unknown.problem?.detail)
            let failures = try await LoginEvent.query(on: app.db).filter(\.$outcome == .badCredentials).count()
            #expect(failures == 2)
        }
    }

    @Test func fiveFailures_lockTheAccount_evenForTheRightPassword() async throws {
        try await withTestApp { app in
            let name = try await app.registerPerson()
            for attemptNumber in 1...5 {
                let res = try await attempt(app, name, "Wrong-password-\(attemptNumber)")
                #expect(res.status == (attemptNumber < 5 ? .unauthorized : .locked))
            }
            let locked = try await attempt(app, name, Fixtures.password)
            #expect(locked.status == .locked)
            #expect(locked.isProblemJSON)
            let retry = Int(locked.headers.first(name: "Retry-After") ?? "") ?? 0
            #expect(retry > 800 && retry <= 900)
            // An unknown username locks the same way, so lockout reveals nothing.
            for _ in 1...5 { _ = try await attempt(app, "ghost-user", "Wrong-password-1") }
            #expect(try await attempt(app, "ghost-user", "Wrong-password-1").status == .locked)
        }
    }

    @Test func successResetsTheFailureCount() async throws {
        try await withTestApp { app in
            let name = try await app.registerPerson()
            for _ in 1...4 { _ = try await attempt(app, name, "Wrong-password-1") }
            #expect(try await attempt(app, name, Fixtures.password).status == .ok)
            for _ in 1...4 { _ = try await attempt(app, name, "Wrong-password-1") }
            #expect(try await attempt(app, name, Fixtures.password).status == .ok)
        }
    }

    @Test func perIPFailureLimit_answers429() async throws {
        let config = TongbanConfig(databaseURL: "sqlite::memory:", bcryptCost: 4, loginFailuresPerIPPerMinute: 3, cookieSecure: false)
        try await withTestApp(config: config) { app in
            for index in 1...3 { _ = try await attempt(app, "someone-\(index)", "Wrong-password-1") }
            let limited = try await attempt(app, "someone-else", "Wrong-password-1")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers.first(name: "Retry-After") == "60")
            #expect(limited.isProblemJSON)
        }
    }

    @Test func login_missingFields_is422() async throws {
        try await withTestApp { app in
            try await app.testing().test(
                .POST, "/api/v1/auth/login", headers: .json, body: ByteBuffer(string: "{}"),
                afterResponse: { res in
                    #expect(res.status == .unprocessableEntity)
                    #expect(Set(res.problem?.fields() ?? []) == ["username", "password"])
                })
        }
    }

    @Test func refresh_rotates_andReuseRevokesTheFamily() async throws {
        try await withTestApp { app in
            let name = try await app.registerPerson()
            let (_, refresh1) = try await app.loginTokens(name, Fixtures.password)
            var refresh2 = ""
            try await app.testing().test(
                .POST, "/api/v1/auth/refresh",
                beforeRequest: { req in try req.content.encode(["refreshToken": refresh1]) },
                afterResponse: { res in
                    #expect(res.status == .ok)
                    refresh2 = (try? res.content.decode([String: JSONValue].self))?["refreshToken"]?.stringValue ?? ""
                })
            #expect(!refresh2.isEmpty && refresh2 != refresh1)
            // Re-using the spent token fails and revokes its successor too.
            try await app.testing().test(
                .POST, "/api/v1/auth/refresh",
                beforeRequest: { req in try req.content.encode(["refreshToken": refresh1]) },
                afterResponse: { res in #expect(res.status == .unauthorized) })
            try await app.testing().test(
                .POST, "/api/v1/auth/refresh",
                beforeRequest: { req in try req.content.encode(["refreshToken": refresh2]) },
                afterResponse: { res in #expect(res.status == .unauthorized) })
        }
    }

    @Test func logout_revokesRefreshToken() async throws {
        try await withTestApp { app in
            let name = try await app.registerPerson()
            let (access, refresh) = try await app.loginTokens(name, Fixtures.password)
            try await app.testing().test(
                .POST, "/api/v1/auth/logout", headers: .bearer(access),
                beforeRequest: { req in try req.content.encode(["refreshToken": refresh]) },
                afterResponse: { res in #expect(res.status == .noContent) })
            try await app.testing().test(
                .POST, "/api/v1/auth/refresh",
                beforeRequest: { req in try req.content.encode(["refreshToken": refresh]) },
                afterResponse: { res in #expect(res.status == .unauthorized) })
            try await app.testing().test(.POST, "/api/v1/auth/logout") { res in #expect(res.status == .unauthorized) }
            let outcomes = try await LoginEvent.query(on: app.db).all().map(\.outcome)
            #expect(outcomes.contains(.logout))
        }
    }

    @Test func demoAccounts_canSignIn() async throws {
        try await withTestApp(demo: true) { app in
            for name in ["demo-citizen", "demo-enterprise", "demo-clerk", "demo-approver", "demo-admin"] {
                _ = try await app.login(name)
            }
            let token = try await app.login("demo-clerk")
            try await app.testing().test(.GET, "/api/v1/me", headers: .bearer(token)) { res in
                let me = try res.content.decode([String: JSONValue].self)
                #expect(me["kind"]?.stringValue == "staff")
                if case .array(let roles)? = me["roles"] {
                    #expect(roles.first?["role"]?.stringValue == "clerk")
                } else {
                    Issue.record("roles missing")
                }
            }
        }
    }
}

@Suite("Login with oversized input")
struct OversizedLoginTests {
    @Test func hugeUsernameAndPassword_are401NotServerErrors() async throws {
        try await withTestApp { app in
            let big = String(repeating: "x", count: 200_000)
            let res = try await app.testing().sendRequest(
                .POST, "/api/v1/auth/login", headers: .json,
                body: ByteBuffer(string: #"{"username":"\#(big)","password":"\#(big)"}"#))
            #expect(res.status == .unauthorized)
        }
    }
}
