import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// Pages: `/login`, `/logout`, `/register`, `/me`.
struct IdentityPages: RouteCollection {
    let module: IdentityModule

    struct LoginPage: Encodable, Sendable {
        var username: String
        var next: String
        var error: String?
    }

    struct RegisterPage: Encodable, Sendable {
        var values: [String: String]
        var errors: [FieldError]
        var fieldErrors: [String: String]
    }

    struct MePage: Encodable, Sendable {
        var profile: ProfileResponse
        var kindLabel: String
        var roles: [String]
    }

    struct LoginForm: Content {
        var username: String?
        var password: String?
        var next: String?
    }

    struct RegisterForm: Content {
        var username: String?
        var password: String?
        var name: String?
        var idNumber: String?
        var phone: String?
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("login", use: loginPage)
        routes.post("login", use: login)
        routes.post("logout", use: logout)
        routes.get("register", use: registerPage)
        routes.post("register", use: register)
        routes.get("me", use: me)
    }

    /// Only local paths are followed after login (no open redirects).
    static func safeNext(_ raw: String?) -> String {
        guard let raw, raw.hasPrefix("/"), !raw.hasPrefix("//"), !raw.contains("\\"), raw.count < 300 else { return "/me" }
        return raw
    }

    /// Signs the user in on a fresh session id, discarding any session the browser brought along
    /// (prevents session fixation).
    static func startSession(_ req: Request, userID: UUID) async throws {
        if req.hasSession, let old = req.session.id {
            try await req.application.sessions.driver.deleteSession(old, for: req).get()
            req.session.id = nil
        }
        req.session.data[SessionPrincipalAuthenticator.userKey] = userID.uuidString
    }

    @Sendable func loginPage(req: Request) async throws -> Response {
        if req.auth.has(Principal.self) { return req.redirect(to: "/me") }
        return try await req.renderPage(
            "identity/login", titleKey: "login_title", strings: IdentityModule.strings,
            page: LoginPage(username: "", next: Self.safeNext(req.query[String.self, at: "next"]), error: nil))
    }

    @Sendable func login(req: Request) async throws -> Response {
        try req.verifyCSRF()
        let form = try req.content.decode(LoginForm.self)
        let next = Self.safeNext(form.next)
        do {
            let user = try await module.login(req).authenticate(
                username: form.username ?? "", password: form.password ?? "", ip: req.clientIP, channel: "web")
            try await Self.startSession(req, userID: try user.requireID())
            return req.redirect(to: next, redirectType: .normal)
        } catch let problem as Problem {
            let message: String
            switch problem.status {
            case .locked: message = Strings.localised(IdentityModule.strings, "login_locked", req)
            case .tooManyRequests: message = Strings.localised(IdentityModule.strings, "login_rate_limited", req)
            default: message = Strings.localised(IdentityModule.strings, "login_failed", req)
            }
            let response = try await req.renderPage(
                "identity/login", titleKey: "login_title", strings: IdentityModule.strings,
                page: LoginPage(username: form.username ?? "", next: next, error: message), status: problem.status)
            for (name, value) in problem.headers where name == "Retry-After" {
                response.headers.replaceOrAdd(name: name, value: value)
            }
            return response
        }
    }

    @Sendable func logout(req: Request) async throws -> Response {
        try req.verifyCSRF()
        if let principal = req.auth.get(Principal.self) {
            try await module.login(req).logout(userID: principal.userID, refreshToken: nil, ip: req.clientIP, channel: "web")
        }
        req.auth.logout(Principal.self)
        if req.hasSession { req.session.destroy() }
        return req.redirect(to: "/")
    }

    @Sendable func registerPage(req: Request) async throws -> Response {
        try await req.renderPage(
            "identity/register", titleKey: "register_title", strings: IdentityModule.strings,
            page: RegisterPage(values: [:], errors: [], fieldErrors: [:]))
    }

    @Sendable func register(req: Request) async throws -> Response {
        try req.verifyCSRF()
        let form = try req.content.decode(RegisterForm.self)
        do {
            let user = try await module.accounts(req).registerPerson(
                PersonRegistration(
                    username: form.username ?? "", password: form.password ?? "", name: form.name ?? "",
                    idNumber: form.idNumber ?? "", phone: form.phone ?? ""))
            try await Self.startSession(req, userID: try user.requireID())
            return req.redirect(to: "/me?welcome=1")
        } catch let problem as Problem where problem.status == .unprocessableEntity {
            let values = [
                "username": form.username ?? "", "name": form.name ?? "", "idNumber": form.idNumber ?? "",
                "phone": form.phone ?? "",
            ]
            var fieldErrors: [String: String] = [:]
            for error in problem.errors where fieldErrors[error.field] == nil { fieldErrors[error.field] = error.message }
            return try await req.renderPage(
                "identity/register", titleKey: "register_title", strings: IdentityModule.strings,
                page: RegisterPage(values: values, errors: problem.errors, fieldErrors: fieldErrors),
                status: .unprocessableEntity)
        }
    }

    @Sendable func me(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self),
            let user = try await User.find(principal.userID, on: req.db)
        else { return req.redirect(to: "/login?next=/me") }
        let profile = try await ProfileResponse.build(user: user, principal: principal, req: req)
        let kind = Strings.localised(IdentityModule.strings, "kind_\(user.kind.rawValue)", req)
        let roles = profile.roles.map { role in
            Strings.localised(IdentityModule.strings, "role_\(role.role.rawValue)", req)
                + (role.departmentName.map { "（\($0)）" } ?? "")
        }
        return try await req.renderPage(
            "identity/me", titleKey: "me_title", strings: IdentityModule.strings,
            page: MePage(profile: profile, kindLabel: kind, roles: roles))
    }
}
