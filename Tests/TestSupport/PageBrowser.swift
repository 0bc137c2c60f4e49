import Foundation
import Vapor
import VaporTesting

/// A minimal browser: keeps cookies, reads the CSRF token from the last page, posts forms.
public final class PageBrowser: @unchecked Sendable {
    public let app: Application
    public var cookies: [String: String] = [:]
    public var lastBody = ""

    public init(_ app: Application) { self.app = app }

    public var cookieHeader: String { cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }

    public func absorb(_ res: TestingHTTPResponse) {
        for (name, value) in res.headers.setCookie?.all ?? [:] { cookies[name] = value.string }
    }

    @discardableResult
    public func get(_ path: String) async throws -> TestingHTTPResponse {
        let res = try await app.testing().sendRequest(.GET, path, headers: ["Cookie": cookieHeader, "Accept": "text/html"])
        absorb(res)
        lastBody = res.body.string
        return res
    }

    public var csrf: String {
        let marker = #"name="_csrf" value=""#
        // No form on the last response (a redirect): the token of an earlier page, as in a second tab.
        guard let start = lastBody.range(of: marker) else { return cookies["tb_csrf"] ?? "" }
        return String(lastBody[start.upperBound...].prefix(while: { $0 != "\"" }))
    }

    @discardableResult
    public func post(_ path: String, _ fields: [(String, String)]) async throws -> TestingHTTPResponse {
        var components = URLComponents()
        components.queryItems = ([("_csrf", csrf)] + fields).map { URLQueryItem(name: $0.0, value: $0.1) }
        let body = (components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        let res = try await app.testing().sendRequest(
            .POST, path,
            headers: ["Cookie": cookieHeader, "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"],
            body: ByteBuffer(string: body))
        absorb(res)
        lastBody = res.body.string
        return res
    }

    public func login(_ username: String) async throws {
        try await get("/login")
        let res = try await post("/login", [("username", username), ("password", Fixtures.demoPassword), ("next", "/me")])
        guard res.status == .seeOther else { throw Abort(.unauthorized, reason: "page login failed for \(username)") }
    }
}
