import Fluent
import Foundation
import Leaf
import TongbanCore
import Vapor

/// The page kit: Leaf, the stylesheet, preferences, the accessibility statement and HTML error pages.
/// It knows no domain; modules render their own pages with ``Request/renderPage(_:titleKey:title:strings:page:status:)``.
public struct WebModule: TongbanModule {
    public let name = "web"

    public init() {}

    public var migrations: [any Migration] { [] }

    public func boot(_ app: Application) throws {
        app.leaf.cache.isEnabled = app.environment.isRelease
        app.views.use(.leaf)
        app.get("assets", "tongban.css") { req -> Response in
            let response = Response(status: .ok, body: .init(string: Stylesheet.css))
            response.headers.replaceOrAdd(name: .contentType, value: "text/css; charset=utf-8")
            response.headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=3600")
            return response
        }
        app.get("about", "accessibility") { req async throws -> Response in
            try await req.renderPage("web/accessibility", titleKey: "a11y_title", page: Empty())
        }
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {}

    /// Renders an HTML error page for browsers (used by ``ProblemMiddleware``).
    public static let errorPageRenderer: ProblemMiddleware.PageRenderer = { req, status, title, detail in
        struct ErrorPage: Encodable, Sendable {
            var status: Int
            var title: String
            var detail: String?
        }
        let message = status == .notFound ? req.t("error_404") : (detail ?? title)
        return try? await req.renderPage(
            "web/error", titleKey: "error_title",
            page: ErrorPage(status: Int(status.code), title: title, detail: message), status: status)
    }

    /// Locates `Resources/` : `TONGBAN_RESOURCES_DIR`, the working directory, or the source checkout.
    public static func resourcesDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["TONGBAN_RESOURCES_DIR"] { return dir.hasSuffix("/") ? dir : dir + "/" }
        let cwd = FileManager.default.currentDirectoryPath
        if FileManager.default.fileExists(atPath: cwd + "/Resources/Views") { return cwd + "/Resources/" }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Resources").path
        return source + "/"
    }
}

/// An empty page model.
public struct Empty: Encodable, Sendable {
    public init() {}
}
