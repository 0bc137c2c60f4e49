import Foundation
import Vapor

/// The visitor's display preferences: language, elderly mode, font size and contrast. Read from the query
/// (`?lang=en`, `?mode=elderly`, `?font=large`, `?contrast=high`) or remembered cookies.
public struct Preferences: Sendable, Equatable {
    public enum Language: String, Sendable, CaseIterable { case zhCN = "zh-CN", en }
    public enum FontSize: String, Sendable, CaseIterable { case normal, large, larger }

    public var language: Language = .zhCN
    public var elderly = false
    public var fontSize: FontSize = .normal
    public var highContrast = false

    public init() {}

    static let langCookie = "tb_lang"
    static let modeCookie = "tb_mode"
    static let fontCookie = "tb_font"
    static let contrastCookie = "tb_contrast"

    /// Reads query first, then cookies. Returns the cookies to set for changed query values.
    static func read(from request: Request) -> (Preferences, [(String, String)]) {
        var prefs = Preferences()
        var toSet: [(String, String)] = []
        let cookies = request.cookies
        // Decoding the query string is the costly part: only when it may name one of ours (most requests,
        // API calls above all, have none).
        let rawQuery = request.url.query ?? ""
        func parameter(_ name: String) -> String? {
            rawQuery.contains(name) ? request.query[String.self, at: name] : nil
        }
        if let raw = parameter("lang") {
            let lang: Language = raw.lowercased().hasPrefix("en") ? .en : .zhCN
            prefs.language = lang
            toSet.append((langCookie, lang.rawValue))
        } else if let raw = cookies[langCookie]?.string, let lang = Language(rawValue: raw) {
            prefs.language = lang
        } else if let accept = request.headers.first(name: .acceptLanguage), accept.lowercased().hasPrefix("en") {
            prefs.language = .en
        }
        if let raw = parameter("mode") {
            prefs.elderly = raw == "elderly"
            toSet.append((modeCookie, prefs.elderly ? "elderly" : "standard"))
        } else {
            prefs.elderly = cookies[modeCookie]?.string == "elderly"
        }
        if let raw = parameter("font"), let size = FontSize(rawValue: raw) {
            prefs.fontSize = size
            toSet.append((fontCookie, size.rawValue))
        } else if let raw = cookies[fontCookie]?.string, let size = FontSize(rawValue: raw) {
            prefs.fontSize = size
        }
        if let raw = parameter("contrast") {
            prefs.highContrast = raw == "high"
            toSet.append((contrastCookie, prefs.highContrast ? "high" : "normal"))
        } else {
            prefs.highContrast = cookies[contrastCookie]?.string == "high"
        }
        return (prefs, toSet)
    }
}

/// Reads preferences for every page request and remembers changes in cookies for a year.
public struct PreferencesMiddleware: AsyncMiddleware {
    public init() {}

    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let (prefs, toSet) = Preferences.read(from: request)
        request.storage[PreferencesKey.self] = prefs
        let response = try await next.respond(to: request)
        for (name, value) in toSet {
            response.cookies[name] = HTTPCookies.Value(
                string: value, maxAge: 365 * 24 * 3600, path: "/", isHTTPOnly: true, sameSite: .lax)
        }
        return response
    }
}

struct PreferencesKey: StorageKey { typealias Value = Preferences }

extension Request {
    /// The visitor's preferences (defaults when the middleware did not run).
    public var preferences: Preferences {
        storage[PreferencesKey.self] ?? Preferences.read(from: self).0
    }

    /// The localised string for `key` in the visitor's language.
    public func t(_ key: String) -> String { Strings.lookup(key, preferences.language) }
}
