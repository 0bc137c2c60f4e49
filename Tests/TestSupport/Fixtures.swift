import Foundation
import TongbanCore
import Vapor
import VaporTesting

/// Test data and HTTP helpers shared by every module's tests.
public enum Fixtures {
    public static let demoPassword = "Tongban-demo-2026"
    public static let password = "Correct-Horse-42"

    /// A valid resident ID number with the given 17-digit body.
    public static func idNumber(_ body: String = "11010519491231002") -> String {
        body + String(ResidentIDNumber.checkCharacter(for: body))
    }

    /// A fresh valid ID number (random sequence digits under Beijing Chaoyang, born 1990-01-01).
    public static func randomIDNumber() -> String {
        idNumber("11010519900101" + String(format: "%03d", Int.random(in: 0...999)))
    }

    public static func uniqueUsername(_ prefix: String = "user") -> String {
        prefix + "-" + UUID().uuidString.prefix(8).lowercased()
    }

    /// A valid credit code with the given 17-character body.
    public static func creditCode(_ body: String) -> String {
        body + String(CreditCode.checkCharacter(for: body) ?? "0")
    }
}

/// The problem document as tests read it.
public struct ProblemBody: Codable, Sendable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public var instance: String?
    public var errors: [FieldError]?

    public func fields() -> [String] { (errors ?? []).map(\.field) }
}

extension TestingHTTPResponse {
    public var problem: ProblemBody? { try? JSONDecoder().decode(ProblemBody.self, from: Data(buffer: body)) }
    public var isProblemJSON: Bool {
        headers.first(name: .contentType)?.hasPrefix("application/problem+json") ?? false
    }
}

struct LoginBody: Content {
    var username: String
    var password: String
}

struct TokenBody: Content {
    var accessToken: String
    var refreshToken: String
    var expiresIn: Int
    var tokenType: String
}

extension Application {
    /// Signs in through the API and returns the access token (fails the test otherwise).
    public func login(_ username: String, _ password: String = Fixtures.demoPassword) async throws -> String {
        try await loginTokens(username, password).access
    }

    /// Signs in and returns both tokens.
    public func loginTokens(_ username: String, _ password: String = Fixtures.demoPassword) async throws
        -> (access: String, refresh: String)
    {
        var tokens: (String, String)?
        try await testing().test(
            .POST, "/api/v1/auth/login",
            beforeRequest: { req in try req.content.encode(LoginBody(username: username, password: password)) },
            afterResponse: { res in
                if res.status == .ok, let body = try? res.content.decode(TokenBody.self) {
                    tokens = (body.accessToken, body.refreshToken)
                }
            })
        guard let tokens else { throw Abort(.unauthorized, reason: "test login failed for \(username)") }
        return tokens
    }

    /// Registers a person through the API; returns the username.
    @discardableResult
    public func registerPerson(username: String? = nil, idNumber: String? = nil, phone: String = "13812345678") async throws
        -> String
    {
        let name = username ?? Fixtures.uniqueUsername()
        var ok = false
        try await testing().test(
            .POST, "/api/v1/auth/register",
            beforeRequest: { req in
                try req.content.encode([
                    "username": name, "password": Fixtures.password, "name": "测试用户",
                    "idNumber": idNumber ?? Fixtures.randomIDNumber(), "phone": phone,
                ])
            },
            afterResponse: { res in ok = res.status == .created })
        guard ok else { throw Abort(.badRequest, reason: "test registration failed for \(name)") }
        return name
    }
}

extension HTTPHeaders {
    public static func bearer(_ token: String) -> HTTPHeaders {
        ["Authorization": "Bearer \(token)"]
    }

    public static let json: HTTPHeaders = ["Content-Type": "application/json"]
}
