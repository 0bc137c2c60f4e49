import Fluent
import Foundation
import TongbanCore
import Vapor

/// `POST /api/v1/auth/register|login|refresh|logout`.
struct AuthController: RouteCollection {
    let module: IdentityModule

    struct RegisterRequest: Content {
        var username: String?
        var password: String?
        var name: String?
        var idNumber: String?
        var phone: String?
        var email: String?
    }

    struct LoginRequest: Content {
        var username: String?
        var password: String?
    }

    struct RefreshRequest: Content {
        var refreshToken: String?
    }

    struct TokenResponse: Content {
        var accessToken: String
        var tokenType: String
        var expiresIn: Int
        var refreshToken: String
    }

    func boot(routes: any RoutesBuilder) throws {
        let auth = routes.grouped("api", "v1", "auth")
        auth.post("register", use: register)
        auth.post("login", use: login)
        auth.post("refresh", use: refresh)
        auth.post("logout", use: logout)
    }

    /// POST /api/v1/auth/register — anyone. 201 with the profile; 422 with every invalid field.
    @Sendable func register(req: Request) async throws -> Response {
        let body = try req.content.decode(RegisterRequest.self)
        let user = try await module.accounts(req).registerPerson(
            PersonRegistration(
                username: body.username ?? "", password: body.password ?? "", name: body.name ?? "",
                idNumber: body.idNumber ?? "", phone: body.phone ?? "", email: body.email))
        let profile = try await ProfileResponse.build(user: user, principal: nil, req: req)
        return try await profile.encodeResponse(status: .created, for: req)
    }

    /// POST /api/v1/auth/login — anyone. 200 tokens; 401 invalid credentials; 423 locked; 429 rate-limited.
    @Sendable func login(req: Request) async throws -> TokenResponse {
        let body = try req.content.decode(LoginRequest.self)
        var errors = FieldErrors()
        errors.check(!(body.username ?? "").isEmpty, "username", "is required")
        errors.check(!(body.password ?? "").isEmpty, "password", "is required")
        try errors.throwIfAny()
        let login = module.login(req)
        let user = try await login.authenticate(
            username: body.username ?? "", password: body.password ?? "", ip: req.clientIP, channel: "api")
        let issued = try await login.issueTokens(for: user)
        req.logger.info("login succeeded", metadata: ["user.id": .string(issued.principal.userID.uuidString)])
        return TokenResponse(
            accessToken: issued.accessToken, tokenType: "Bearer", expiresIn: issued.expiresIn,
            refreshToken: issued.refreshToken)
    }

    /// POST /api/v1/auth/refresh — holder of a refresh token. 200 new tokens; 401 when invalid or reused.
    @Sendable func refresh(req: Request) async throws -> TokenResponse {
        let body = try req.content.decode(RefreshRequest.self)
        guard let token = body.refreshToken, !token.isEmpty else {
            throw Problem.validation([FieldError(field: "refreshToken", message: "is required")])
        }
        let issued = try await module.login(req).refresh(token, ip: req.clientIP)
        return TokenResponse(
            accessToken: issued.accessToken, tokenType: "Bearer", expiresIn: issued.expiresIn,
            refreshToken: issued.refreshToken)
    }

    /// POST /api/v1/auth/logout — signed in. Revokes the given refresh token's family (or all). 204.
    @Sendable func logout(req: Request) async throws -> HTTPStatus {
        let principal = try req.requirePrincipal()
        let body = try? req.content.decode(RefreshRequest.self)
        try await module.login(req).logout(
            userID: principal.userID, refreshToken: body?.refreshToken, ip: req.clientIP, channel: "api")
        return .noContent
    }
}
