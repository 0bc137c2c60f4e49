import Fluent
import Foundation

/// A refresh token, stored as its SHA-256 hash. Rotated on use: the used token points at its successor;
/// presenting a used token again revokes the whole family (theft detection).
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class RefreshToken: Model, @unchecked Sendable {
    static let schema = "identity_refresh_tokens"

    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "family_id") var familyID: UUID
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "used_at") var usedAt: Date?
    @OptionalField(key: "revoked_at") var revokedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(userID: UUID, tokenHash: String, familyID: UUID, expiresAt: Date) {
        self.userID = userID
        self.tokenHash = tokenHash
        self.familyID = familyID
        self.expiresAt = expiresAt
    }
}

/// Failed-login state per username, kept whether or not the account exists, so that lockout answers
/// never reveal which usernames are registered.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class LoginThrottle: Model, @unchecked Sendable {
    static let schema = "identity_login_throttles"

    @ID(key: .id) var id: UUID?
    @Field(key: "username") var username: String
    @Field(key: "failures") var failures: Int
    @OptionalField(key: "locked_until") var lockedUntil: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(username: String) {
        self.username = username
        self.failures = 0
    }
}

/// Outcomes recorded for every login attempt.
public enum LoginOutcome: String, Codable, Sendable, CaseIterable {
    case success
    case badCredentials = "bad_credentials"
    case locked
    case rateLimited = "rate_limited"
    case logout
    case refresh
}

/// One login-related event (success, failure, lockout, logout). The attempted username is kept;
/// no password or token ever is.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
public final class LoginEvent: Model, @unchecked Sendable {
    public static let schema = "identity_login_events"

    @ID(key: .id) public var id: UUID?
    @OptionalField(key: "user_id") public var userID: UUID?
    @Field(key: "username") public var username: String
    @Field(key: "ip") public var ip: String
    @Field(key: "outcome") public var outcome: LoginOutcome
    @Field(key: "channel") public var channel: String
    @Field(key: "at") public var at: Date

    public init() {}

    init(userID: UUID?, username: String, ip: String, outcome: LoginOutcome, channel: String, at: Date) {
        self.userID = userID
        self.username = username
        self.ip = ip
        self.outcome = outcome
        self.channel = channel
        self.at = at
    }
}

/// The HMAC secret that signs access tokens when none is configured; shared by every server node.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class SigningSecret: Model, @unchecked Sendable {
    static let schema = "identity_signing_secrets"

    @ID(key: .id) var id: UUID?
    @Field(key: "kid") var kid: String
    @Field(key: "secret") var secret: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(kid: String, secret: String) {
        self.kid = kid
        self.secret = secret
    }
}
