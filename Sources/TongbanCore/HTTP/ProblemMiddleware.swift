import Foundation
import Vapor

/// Turns every error into an RFC 9457 problem document (for `/api`, JSON clients and the operations
/// endpoints) or into a plain, accessible HTML error page (for browsers).
///
/// Decoding failures become 400, ``Problem`` renders itself, other `AbortError`s keep their status,
/// and anything unexpected becomes a 500 whose detail stays in the log.
public struct ProblemMiddleware: AsyncMiddleware {
    /// Renders HTML error pages; set by the web layer. Receives status, title, detail.
    public typealias PageRenderer = @Sendable (Request, HTTPResponseStatus, String, String?) async -> Response?
    let pageRenderer: PageRenderer?

    public init(pageRenderer: PageRenderer? = nil) {
        self.pageRenderer = pageRenderer
    }

    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        do {
            return try await next.respond(to: request)
        } catch {
            return await render(error, for: request)
        }
    }

    func render(_ error: any Error, for request: Request) async -> Response {
        let problem = Self.problem(for: error, request: request)
        if !Self.wantsJSON(request), let renderer = pageRenderer,
            let page = await renderer(request, problem.status, problem.title, problem.detail)
        {
            page.status = problem.status
            for (name, value) in problem.headers where name.lowercased() != "content-type" {
                page.headers.replaceOrAdd(name: name, value: value)
            }
            return page
        }
        let document = ProblemDocument(
            type: problem.type, title: problem.title, status: Int(problem.status.code), detail: problem.detail ?? problem.title,
            instance: request.url.path, requestId: request.id, errors: problem.errors.isEmpty ? nil : problem.errors)
        var headers = problem.headers
        headers.replaceOrAdd(name: .contentType, value: "application/problem+json; charset=utf-8")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(document)) ?? Data("{\"status\":500}".utf8)
        return Response(status: problem.status, headers: headers, body: .init(data: body))
    }

    /// API paths, operations endpoints and clients that ask for JSON get problem+json.
    static func wantsJSON(_ request: Request) -> Bool {
        let path = request.url.path
        if path.hasPrefix("/api/") || path == "/api" || path.hasPrefix("/healthz") || path.hasPrefix("/readyz")
            || path.hasPrefix("/metrics") || path.hasPrefix("/openapi") || path.hasPrefix("/.well-known")
        {
            return true
        }
        let accept = request.headers.first(name: .accept) ?? ""
        return accept.contains("json") && !accept.contains("text/html")
    }

    /// Maps any error to a problem. Internal details of unexpected errors never reach the client.
    public static func problem(for error: any Error, request: Request) -> Problem {
        switch error {
        case let problem as Problem:
            if problem.status.code >= 500 {
                request.logger.error("request failed", metadata: ["problem.type": .string(problem.type)])
            }
            return problem
        case let error as DecodingError:
            return Problem(
                .badRequest, type: "/problems/malformed-body", title: "Malformed request body",
                detail: describe(error))
        case let error as ValidationsError:
            let errors = error.failures.map { FieldError(field: $0.key.description, message: $0.result.failureDescription ?? "is invalid") }
            return .validation(errors)
        case let abort as any AbortError:
            let status = abort.status
            var detail: String? = abort.reason
            if status == .payloadTooLarge { detail = "The request body is larger than this endpoint accepts." }
            if status == .notFound && (detail == nil || detail == "Not Found") {
                detail = "No resource at \(request.url.path)."
            }
            if status.code >= 500 {
                request.logger.error("request failed", metadata: ["error": .string(String(describing: abort))])
                detail = "An internal error occurred. Quote request id \(request.id) when reporting it."
            }
            var headers = abort.headers
            headers.remove(name: .contentType)
            return Problem(status, title: status.reasonPhrase, detail: detail, headers: headers)
        default:
            request.logger.error(
                "unexpected error",
                metadata: [
                    "error.type": .string(String(reflecting: type(of: error))),
                    "error.description": .string(String(String(describing: error).prefix(500))),
                ])
            return Problem(
                .internalServerError, type: "/problems/internal", title: "Internal Server Error",
                detail: "An internal error occurred. Quote request id \(request.id) when reporting it.")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "the body" : "'\(text)'"
        }
        switch error {
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "The body is not valid JSON." : "Value at \(path(context.codingPath)) is malformed."
        case .keyNotFound(let key, let context):
            return "Missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'."
        case .typeMismatch(let type, let context):
            return "Field \(path(context.codingPath)) has the wrong type (expected \(type))."
        case .valueNotFound(_, let context):
            return "Field \(path(context.codingPath)) must not be null."
        @unknown default:
            return "The body could not be decoded."
        }
    }
}
