import Fluent
import Foundation
import TongbanCore
import Vapor

/// Authenticates `Authorization: Bearer <access token>` and honours `X-Acting-For: <enterprise id>`
/// for members of that enterprise (403 for anyone else).
struct BearerPrincipalAuthenticator: AsyncBearerAuthenticator {
    let tokens: TokenService

    func authenticate(bearer: BearerAuthorization, for request: Request) async throws {
        guard var principal = await tokens.verify(bearer.token, on: request.db) else { return }
        if let raw = request.headers.first(name: "X-Acting-For") {
            guard let enterpriseID = UUID(uuidString: raw),
                try await EnterpriseMember.query(on: request.db).filter(\.$userID == principal.userID)
                    .filter(\.$enterpriseID == enterpriseID).first() != nil
            else {
                throw Problem(
                    .forbidden, type: "/problems/not-a-member", title: "Not a member",
                    detail: "You may act only for enterprises you belong to.")
            }
            principal.actingFor = enterpriseID
        }
        request.auth.login(principal)
    }
}

/// Authenticates page requests from the session cookie (never `/api`, which uses bearer tokens only, so
/// that a browser cookie cannot be used to forge API calls).
struct SessionPrincipalAuthenticator: AsyncMiddleware {
    static let userKey = "uid"

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if !request.url.path.hasPrefix("/api/"), request.hasSession,
            let raw = request.session.data[Self.userKey], let id = UUID(uuidString: raw)
        {
            if let user = try await User.find(id, on: request.db), !user.disabled {
                let accounts = AccountService(db: request.db, hashing: request.application.passwordHashing, clock: request.application.clock)
                request.auth.login(try await accounts.principal(for: user))
            } else {
                request.session.destroy()
            }
        }
        return try await next.respond(to: request)
    }
}

extension Request {
    /// Whether the request carries a session cookie (so that anonymous visitors never create sessions).
    var hasSession: Bool {
        cookies[IdentityModule.sessionCookieName] != nil
    }

    /// The client address for rate limiting (the direct peer; proxies are not trusted by default).
    var clientIP: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
