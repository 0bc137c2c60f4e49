import Vapor

/// Echoes the request id in `X-Request-Id` (accepting a well-formed one from a proxy) and puts it in the
/// request logger's metadata as `request.id`.
public struct RequestIDMiddleware: AsyncMiddleware {
    public init() {}

    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if let incoming = request.headers.first(name: "X-Request-Id"), incoming.count <= 64,
            incoming.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        {
            request.logger[metadataKey: "request-id"] = .string(incoming)
        }
        let id = request.logger[metadataKey: "request-id"].map { "\($0)" } ?? request.id
        let response = try await next.respond(to: request)
        response.headers.replaceOrAdd(name: "X-Request-Id", value: id)
        return response
    }
}
