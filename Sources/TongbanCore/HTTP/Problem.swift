import Foundation
import Vapor

/// One field-level validation failure inside a problem document.
public struct FieldError: Codable, Sendable, Equatable {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// An RFC 9457 problem: thrown by handlers and services, rendered by ``ProblemMiddleware``.
///
/// `type` is a relative URI under `/problems/`, `title` a short human summary that does not change
/// between occurrences, `detail` the explanation of this occurrence. Nothing here is logged as-is
/// unless it is safe for a client to read.
public struct Problem: Error, AbortError, Sendable {
    public var status: HTTPResponseStatus
    public var type: String
    public var title: String
    public var detail: String?
    public var errors: [FieldError]
    public var headers: HTTPHeaders

    public init(
        _ status: HTTPResponseStatus,
        type: String? = nil,
        title: String? = nil,
        detail: String? = nil,
        errors: [FieldError] = [],
        headers: HTTPHeaders = [:]
    ) {
        self.status = status
        self.type = type ?? Problem.defaultType(for: status)
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.errors = errors
        self.headers = headers
    }

    public var reason: String { detail ?? title }

    /// 422 with every field error at once.
    public static func validation(_ errors: [FieldError], detail: String? = nil) -> Problem {
        Problem(
            .unprocessableEntity, type: "/problems/validation", title: "Validation failed",
            detail: detail ?? "\(errors.count) field(s) are invalid.", errors: errors)
    }

    public static func notFound(_ what: String, type: String? = nil) -> Problem {
        Problem(.notFound, type: type ?? "/problems/not-found", title: "\(what) not found")
    }

    public static func badRequest(_ detail: String) -> Problem {
        Problem(.badRequest, type: "/problems/bad-request", title: "Bad request", detail: detail)
    }

    public static func conflict(_ detail: String, type: String = "/problems/conflict") -> Problem {
        Problem(.conflict, type: type, title: "Conflict", detail: detail)
    }

    public static let unauthenticated = Problem(
        .unauthorized, type: "/problems/unauthenticated", title: "Authentication required",
        detail: "Sign in and send the access token as 'Authorization: Bearer <token>'.",
        headers: ["WWW-Authenticate": "Bearer"])

    public static let forbidden = Problem(
        .forbidden, type: "/problems/forbidden", title: "Not allowed",
        detail: "Your roles do not permit this action.")

    static func defaultType(for status: HTTPResponseStatus) -> String {
        switch status.code {
        case 400: "/problems/bad-request"
        case 401: "/problems/unauthenticated"
        case 403: "/problems/forbidden"
        case 404: "/problems/not-found"
        case 405: "/problems/method-not-allowed"
        case 409: "/problems/conflict"
        case 413: "/problems/payload-too-large"
        case 415: "/problems/unsupported-media-type"
        case 422: "/problems/validation"
        case 423: "/problems/locked"
        case 429: "/problems/rate-limited"
        default: status.code >= 500 ? "/problems/internal" : "about:blank"
        }
    }
}

/// The wire form of a problem (`application/problem+json`).
public struct ProblemDocument: Codable, Sendable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public var instance: String?
    public var requestId: String?
    public var errors: [FieldError]?
}

/// Collects every field error of one input before failing, so the client sees all of them at once.
public struct FieldErrors: Sendable {
    public private(set) var errors: [FieldError] = []

    public init() {}

    public var isEmpty: Bool { errors.isEmpty }

    public mutating func add(_ field: String, _ message: String) {
        errors.append(FieldError(field: field, message: message))
    }

    /// Adds an error unless `condition` holds.
    public mutating func check(_ condition: Bool, _ field: String, _ message: String) {
        if !condition { add(field, message) }
    }

    public func throwIfAny() throws {
        if !errors.isEmpty { throw Problem.validation(errors) }
    }
}
