import Crypto
import Fluent
import Foundation
import Vapor

/// API.md: creating requests accept an `Idempotency-Key` header; the same key and body return the same
/// result without a second effect. Applies to POST, PUT and PATCH under `/api/`.
///
/// The first request claims the key (a unique row per caller and key); a repeat while it runs answers 409,
/// a repeat afterwards replays the stored status and body with `Idempotent-Replayed: true`, and the same
/// key with a different request answers 422. Failed requests (thrown errors, 5xx) release the key so
/// that the client may retry. Keys are kept for 24 hours.
public struct IdempotencyMiddleware: AsyncMiddleware {
    public static let header = "Idempotency-Key"
    static let retention: TimeInterval = 24 * 3600
    static let maxStoredBody = 1 << 20

    public init() {}

    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let key = request.headers.first(name: Self.header), [.POST, .PUT, .PATCH].contains(request.method),
            request.url.path.hasPrefix("/api/")
        else { return try await next.respond(to: request) }
        guard (1...255).contains(key.count), key.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0.asciiValue.map { $0 >= 33 && $0 < 127 } == true })
        else {
            throw Problem(
                .badRequest, type: "/problems/bad-idempotency-key", title: "Bad Idempotency-Key",
                detail: "The Idempotency-Key header must be 1–255 visible ASCII characters.")
        }
        let body: ByteBuffer? = try await request.body.collect(upTo: request.application.routes.defaultMaxBodySize.value)
        var hasher = SHA256()
        hasher.update(data: Data("\(request.method.rawValue) \(request.url.path)\n".utf8))
        if let body { hasher.update(data: Data(buffer: body)) }
        let hash = Hex.encode(hasher.finalize())
        let scope = request.auth.get(Principal.self).map { $0.userID.uuidString } ?? "anonymous:\(request.remoteAddress?.ipAddress ?? "?")"
        let now = request.application.clock.now()
        let db = request.db

        let record = IdempotencyRecord(scope: scope, key: key, requestHash: hash, createdAt: now)
        do {
            try await record.create(on: db)
        } catch let error as any DatabaseError where error.isConstraintFailure {
            guard let existing = try await IdempotencyRecord.query(on: db).filter(\.$scope == scope).filter(\.$key == key).first()
            else { throw Problem.conflict("The request with this Idempotency-Key is still being processed.") }
            if existing.createdAt < now.addingTimeInterval(-Self.retention) {
                try await existing.delete(on: db)
                return try await respond(to: request, chainingTo: next)
            }
            return try replay(existing, hash: hash)
        }
        if Int.random(in: 0..<100) == 0 {
            try? await IdempotencyRecord.query(on: db).filter(\.$createdAt < now.addingTimeInterval(-Self.retention)).delete()
        }
        let response: Response
        do {
            response = try await next.respond(to: request)
        } catch {
            try? await record.delete(on: db)
            throw error
        }
        if response.status.code >= 500 {
            try? await record.delete(on: db)
            return response
        }
        let data = response.body.data ?? response.body.buffer.map { Data(buffer: $0) }
        record.status = Int(response.status.code)
        record.contentType = response.headers.first(name: .contentType)
        record.location = response.headers.first(name: .location)
        record.body = (data?.count ?? 0) <= Self.maxStoredBody ? data : nil
        try await record.save(on: db)
        return response
    }

    func replay(_ existing: IdempotencyRecord, hash: String) throws -> Response {
        guard existing.requestHash == hash else {
            throw Problem(
                .unprocessableEntity, type: "/problems/idempotency-key-reused", title: "Idempotency-Key reused",
                detail: "This Idempotency-Key was already used with a different request.")
        }
        guard let status = existing.status else {
            throw Problem(
                .conflict, type: "/problems/idempotency-in-progress", title: "Request in progress",
                detail: "The request with this Idempotency-Key is still being processed.")
        }
        var headers = HTTPHeaders()
        if let type = existing.contentType { headers.add(name: .contentType, value: type) }
        if let location = existing.location { headers.add(name: .location, value: location) }
        headers.add(name: "Idempotent-Replayed", value: "true")
        return Response(status: HTTPResponseStatus(statusCode: status), headers: headers, body: .init(data: existing.body ?? Data()))
    }
}

/// The kernel's own tables (idempotency keys, jobs) and the job runner, as a module.
public struct CoreModule: TongbanModule {
    public let name = "core"

    public init() {}

    public var migrations: [any Migration] { [CreateIdempotencyKeys(), CreateJobs()] }

    public func boot(_ app: Application) throws {
        app.lifecycle.use(JobRunnerLifecycle(runner: app.jobs))
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {}
}
