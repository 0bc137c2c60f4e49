import Fluent
import Foundation
import Testing
import TestSupport
import Vapor
import VaporTesting

@Suite("Identity pages: login, register, me")
struct IdentityPageTests {
    /// GETs a page and returns the CSRF cookie value and the form's hidden token.
    func csrf(_ app: Application, _ path: String) async throws -> (cookie: String, token: String) {
        let res = try await app.testing().sendRequest(.GET, path)
        let cookie = try #require(res.headers.setCookie?["tb_csrf"]?.string)
        let html = res.body.string
        let marker = #"name="_csrf" value=""#
        let start = try #require(html.range(of: marker))
        let token = String(html[start.upperBound...].prefix(while: { $0 != "\"" }))
        return (cookie, token)
    }

    func form(_ fields: [String: String]) -> ByteBuffer {
        var components = URLComponents()
        components.queryItems = fields.map { URLQueryItem(name: $0.key, value: $0.value) }
        return ByteBuffer(string: components.percentEncodedQuery ?? "")
    }

    @Test func loginForm_signsIn_andShowsMaskedProfile() async throws {
        try await withTestApp(demo: true) { app in
            let (cookie, token) = try await csrf(app, "/login")
            #expect(cookie == token)
            var headers: HTTPHeaders = ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "tb_csrf=\(cookie)"]
            let res = try await app.testing().sendRequest(
                .POST, "/login", headers: headers,
                body: form(["_csrf": token, "username": "demo-citizen", "password": Fixtures.demoPassword, "next": "/me"]))
            #expect(res.status == .seeOther || res.status == .found)
            #expect(res.headers.first(name: .location) == "/me")
            let session = try #require(res.headers.setCookie?["tb_session"])
            #expect(session.isHTTPOnly)
            headers = ["Cookie": "tb_session=\(session.string)"]
            let me = try await app.testing().sendRequest(.GET, "/me", headers: headers)
            #expect(me.status == .ok)
            #expect(me.body.string.contains("demo-citizen"))
            #expect(me.body.string.contains("370102********"))
            #expect(!me.body.string.contains("13800138000"))
            #expect(me.body.string.contains(#"href="/me/applications""#))
            #expect(me.body.string.contains(#"href="/me/appointments""#))
        }
    }

    @Test func loginForm_withoutCSRF_isRefused() async throws {
        try await withTestApp(demo: true) { app in
            let res = try await app.testing().sendRequest(
                .POST, "/login", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: form(["username": "demo-citizen", "password": Fixtures.demoPassword]))
            #expect(res.status == .forbidden)
            #expect(res.headers.setCookie?["tb_session"] == nil)
        }
    }

    @Test func loginForm_wrongPassword_showsErrorWithoutRevealingAnything() async throws {
        try await withTestApp(demo: true) { app in
            let (cookie, token) = try await csrf(app, "/login")
            let res = try await app.testing().sendRequest(
                .POST, "/login",
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "tb_csrf=\(cookie)"],
                body: form(["_csrf": token, "username": "demo-citizen", "password": "nope-nope-nope"]))
            #expect(res.status == .unauthorized)
            #expect(res.body.string.contains("role=\"alert\""))
            #expect(res.body.string.contains("用户名或密码错误"))
        }
    }

    @Test func loginNext_refusesOffSiteRedirects() async throws {
        try await withTestApp(demo: true) { app in
            let (cookie, token) = try await csrf(app, "/login")
            let res = try await app.testing().sendRequest(
                .POST, "/login",
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "tb_csrf=\(cookie)"],
                body: form(["_csrf": token, "username": "demo-citizen", "password": Fixtures.demoPassword, "next": "//evil.example/"]))
            #expect(res.headers.first(name: .location) == "/me")
        }
    }

    @Test func me_withoutSession_redirectsToLogin() async throws {
        try await withTestApp { app in
            let res = try await app.testing().sendRequest(.GET, "/me")
            #expect(res.status == .seeOther || res.status == .found)
            #expect(res.headers.first(name: .location) == "/login?next=/me")
        }
    }

    @Test func registerForm_showsEveryErrorAndKeepsValues() async throws {
        try await withTestApp { app in
            let (cookie, token) = try await csrf(app, "/register")
            let res = try await app.testing().sendRequest(
                .POST, "/register",
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "tb_csrf=\(cookie)"],
                body: form(["_csrf": token, "username": "wang-wu", "password": "short", "name": "<b>王五</b>", "idNumber": "123", "phone": "1"]))
            #expect(res.status == .unprocessableEntity)
            let html = res.body.string
            #expect(html.contains("id=\"error-summary\""))
            #expect(html.contains("password-error"))
            #expect(html.contains("idNumber-error"))
            #expect(html.contains("value=\"wang-wu\""))
            #expect(html.contains("&lt;b&gt;王五&lt;/b&gt;"))
            #expect(!html.contains("<b>王五</b>"))
        }
    }

    @Test func registerForm_success_signsInAndRedirects() async throws {
        try await withTestApp { app in
            let (cookie, token) = try await csrf(app, "/register")
            let res = try await app.testing().sendRequest(
                .POST, "/register",
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "tb_csrf=\(cookie)"],
                body: form([
                    "_csrf": token, "username": "zhao-liu", "password": Fixtures.password, "name": "赵六",
                    "idNumber": Fixtures.randomIDNumber(), "phone": "13912345678",
                ]))
            #expect(res.headers.first(name: .location) == "/me?welcome=1")
            #expect(res.headers.setCookie?["tb_session"] != nil)
        }
    }
}

@Suite("Session fixation")
struct SessionFixationTests {
    @Test func login_issuesANewSessionID() async throws {
        try await withTestApp(demo: true) { app in
            let page = try await app.testing().sendRequest(.GET, "/login")
            let cookie = try #require(page.headers.setCookie?["tb_csrf"]?.string)
            let planted = "planted-session-id"
            var components = URLComponents()
            components.queryItems = [
                URLQueryItem(name: "_csrf", value: cookie), URLQueryItem(name: "username", value: "demo-citizen"),
                URLQueryItem(name: "password", value: Fixtures.demoPassword),
            ]
            let res = try await app.testing().sendRequest(
                .POST, "/login",
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Cookie": "tb_csrf=\(cookie); tb_session=\(planted)"],
                body: ByteBuffer(string: components.percentEncodedQuery ?? ""))
            let session = try #require(res.headers.setCookie?["tb_session"]?.string)
            #expect(session != planted)
        }
    }
}
