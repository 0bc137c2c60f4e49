import Fluent
import Foundation
import TongbanCore
import Vapor

/// 一证通查: the provider registry (system administrators) and queries (registered persons).
struct LookupController: RouteCollection {
    struct ProviderRequest: Content {
        var name: String?
        var kind: String?
        var endpoint: String?
        var credentials: String?
        var timeoutMs: Int?
    }

    struct ProviderView: Content {
        var id: UUID
        var name: String
        var kind: ProviderKind
        var endpoint: String
        var status: ProviderStatus
        var timeoutMs: Int
    }

    struct QueryRequest: Content {
        var livenessToken: String?
    }

    func boot(routes: any RoutesBuilder) throws {
        let codes = routes.grouped("api", "v1", "codes")
        codes.post("providers", use: register)
        codes.get("providers", use: list)
        codes.post("lookups", use: query)
        codes.get("lookups", ":id", use: show)
        codes.post("lookups", ":id", "disputes", use: dispute)
        codes.get("disputes", use: disputes)
        codes.post("disputes", ":id", "status", use: advance)
    }

    static func view(_ provider: LookupProvider) -> ProviderView {
        ProviderView(
            id: provider.id ?? UUID(), name: provider.name, kind: provider.kind, endpoint: provider.endpoint, status: provider.status,
            timeoutMs: provider.timeoutMilliseconds)
    }

    /// POST /api/v1/codes/providers — system administrators; credentials are sealed and never returned.
    @Sendable func register(req: Request) async throws -> Response {
        let principal = try req.requireStaff([.systemAdmin])
        let body = try req.content.decode(ProviderRequest.self)
        let provider = try await LookupService(app: req.application, db: req.db).register(
            name: body.name, kind: body.kind, endpoint: body.endpoint, credentials: body.credentials, timeoutMs: body.timeoutMs,
            principal: principal)
        let response = Response(status: .created)
        try response.content.encode(Self.view(provider))
        return response
    }

    /// GET /api/v1/codes/providers — system administrators.
    @Sendable func list(req: Request) async throws -> [ProviderView] {
        _ = try req.requireStaff([.systemAdmin])
        return try await LookupProvider.query(on: req.db).sort(\.$name).all().map(Self.view)
    }

    /// POST /api/v1/codes/lookups — a registered person who passed the liveness hook. 201; 401, 403, 429.
    @Sendable func query(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = req.body.data == nil ? QueryRequest() : ((try? req.content.decode(QueryRequest.self)) ?? QueryRequest())
        let result = try await LookupService(app: req.application, db: req.db).query(principal: principal, livenessToken: body.livenessToken)
        let response = Response(status: .created)
        try response.content.encode(result)
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    struct DisputeRequest: Content {
        var provider: String?
        var number: String?
    }

    struct StatusRequest: Content {
        var status: String?
        var note: String?
    }

    /// POST /api/v1/codes/lookups/{id}/disputes — the person who asked: "not mine". 201; 404, 409, 422.
    @Sendable func dispute(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw LookupService.notFound }
        let body = try req.content.decode(DisputeRequest.self)
        let view = try await DisputeService(app: req.application, db: req.db)
            .open(lookupID: id, provider: body.provider, number: body.number, principal: principal)
        let response = Response(status: .created)
        try response.content.encode(view)
        return response
    }

    /// GET /api/v1/codes/disputes — the person's disputes.
    @Sendable func disputes(req: Request) async throws -> [DisputeService.DisputeView] {
        try await DisputeService(app: req.application, db: req.db).mine(principal: try req.requirePrincipal())
    }

    /// POST /api/v1/codes/disputes/{id}/status — system administrators. 404, 409, 422.
    @Sendable func advance(req: Request) async throws -> DisputeService.DisputeView {
        let principal = try req.requireStaff([.systemAdmin])
        guard let id = req.parameters.get("id", as: UUID.self) else { throw DisputeService.notFound }
        let body = try req.content.decode(StatusRequest.self)
        return try await DisputeService(app: req.application, db: req.db).advance(id, to: body.status, note: body.note, principal: principal)
    }

    /// GET /api/v1/codes/lookups/{id} — the person who asked; 404 otherwise.
    @Sendable func show(req: Request) async throws -> LookupService.QueryView {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw LookupService.notFound }
        return try await LookupService(app: req.application, db: req.db).view(id, principal: principal)
    }
}
