import Foundation
import Leaf
import TongbanCore
import Vapor

/// The toolbar and language links for the current page, each keeping the rest of the query.
public struct PageLinks: Encodable, Sendable {
    public var elderlyOn: String
    public var elderlyOff: String
    public var langEn: String
    public var langZh: String
    public var fontNormal: String
    public var fontLarge: String
    public var fontLarger: String
    public var contrastOn: String
    public var contrastOff: String
}

/// The frame every page is rendered in: language, preferences, strings, user, CSRF token, and the
/// page's own view model in `page`.
public struct PageContext<Body: Encodable & Sendable>: Encodable, Sendable {
    public var lang: String
    public var title: String
    public var t: [String: String]
    public var elderly: Bool
    public var fontSize: String
    public var highContrast: Bool
    public var links: PageLinks
    public var username: String?
    public var isStaff: Bool
    public var csrf: String
    public var path: String
    public var page: Body
}

/// Name of the double-submit CSRF cookie; forms carry the same value in `_csrf`.
public let csrfCookieName = "tb_csrf"

extension Request {
    /// Sends a visitor without a session to the login page, which comes back here afterwards. The path is
    /// kept readable (`/login?next=/me/applications`); with `keepingQuery` the query string comes back too, and
    /// the whole address is percent-encoded so that its `?` and `&` stay inside `next`.
    public func loginRedirect(keepingQuery: Bool = false) -> Response {
        let next: String
        if keepingQuery, let query = url.query {
            next = (url.path + "?" + query).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/me"
        } else {
            next = url.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "/me"
        }
        return redirect(to: "/login?next=\(next)")
    }

    /// The CSRF token for forms on this page (double-submit cookie, set by ``renderPage``).
    public var csrfToken: String {
        if let existing = storage[CSRFTokenKey.self] { return existing }
        let existing: String? = cookies[csrfCookieName]?.string
        let token = existing.flatMap { $0.count == 43 ? $0 : nil } ?? Self.randomToken()
        storage[CSRFTokenKey.self] = token
        return token
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Verifies that a form post carries the CSRF token of its cookie; 403 problem otherwise.
    public func verifyCSRF() throws {
        struct Form: Decodable { var _csrf: String? }
        let sent = (try? content.decode(Form.self))?._csrf
        guard let cookie = cookies[csrfCookieName]?.string, let sent, !sent.isEmpty, sent == cookie else {
            throw Problem(
                .forbidden, type: "/problems/csrf", title: "Form expired",
                detail: "The form could not be verified. Reload the page and try again.")
        }
    }

    /// Renders `template` inside the page frame, in the visitor's language and mode.
    public func renderPage<Body: Encodable & Sendable>(
        _ template: String, titleKey: String? = nil, title: String? = nil, strings: StringTable? = nil, page: Body,
        status: HTTPResponseStatus = .ok
    ) async throws -> Response {
        let prefs = preferences
        let table = strings.map { Strings.common.merging($0) } ?? Strings.common
        let t = table.table(for: prefs.language)
        let principal = auth.get(Principal.self)
        let context = PageContext(
            lang: prefs.language.rawValue,
            title: title ?? titleKey.map { t[$0] ?? $0 } ?? t["site_name"] ?? "Tongban",
            t: t, elderly: prefs.elderly, fontSize: prefs.fontSize.rawValue, highContrast: prefs.highContrast,
            links: links(), username: principal?.username, isStaff: principal?.isStaff ?? false,
            csrf: csrfToken, path: url.path, page: page)
        let view = try await self.view.render(template, context)
        let response = try await view.encodeResponse(status: status, for: self)
        response.headers.replaceOrAdd(name: .contentType, value: "text/html; charset=utf-8")
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        if cookies[csrfCookieName]?.string != csrfToken {
            response.cookies[csrfCookieName] = HTTPCookies.Value(
                string: csrfToken, maxAge: 12 * 3600, path: "/",
                isSecure: application.tongbanConfig.cookieSecure, isHTTPOnly: true, sameSite: .strict)
        }
        return response
    }

    func links() -> PageLinks {
        let path = url.path
        var items = URLComponents(string: url.string)?.queryItems ?? []
        items.removeAll { ["lang", "mode", "font", "contrast"].contains($0.name) }
        func link(_ name: String, _ value: String) -> String {
            var components = URLComponents()
            components.path = path
            components.queryItems = items + [URLQueryItem(name: name, value: value)]
            return components.string ?? path
        }
        return PageLinks(
            elderlyOn: link("mode", "elderly"), elderlyOff: link("mode", "standard"),
            langEn: link("lang", "en"), langZh: link("lang", "zh-CN"),
            fontNormal: link("font", "normal"), fontLarge: link("font", "large"), fontLarger: link("font", "larger"),
            contrastOn: link("contrast", "high"), contrastOff: link("contrast", "normal"))
    }
}

struct CSRFTokenKey: StorageKey { typealias Value = String }
