import Fluent
import Foundation
import SQLKit
import TongbanCore
import Vapor

/// Tokens handed out at login and refresh.
public struct IssuedTokens: Sendable {
    public var accessToken: String
    public var refreshToken: String
    public var expiresIn: Int
    public var principal: Principal
}

/// Sign-in: lockout after consecutive failures, a per-IP failure limit, token issue, rotation and
/// revocation. Every attempt is recorded as a ``LoginEvent``.
public struct LoginService: Sendable {
    let db: any Database
    let hashing: PasswordHashing
    let tokens: TokenService
    let config: TongbanConfig
    let clock: TongbanClock
    let accounts: AccountService
    /// The audit log: staff sign-ins are recorded there (`staff.login`).
    let audit: (any AuditSink)?

    public init(
        db: any Database, hashing: PasswordHashing, tokens: TokenService, config: TongbanConfig, clock: TongbanClock,
        audit: (any AuditSink)? = nil
    ) {
        self.audit = audit
        self.db = db
        self.hashing = hashing
        self.tokens = tokens
        self.config = config
        self.clock = clock
        self.accounts = AccountService(db: db, hashing: hashing, clock: clock)
    }

    static let invalidCredentials = Problem(
        .unauthorized, type: "/problems/invalid-credentials", title: "Invalid username or password",
        detail: "The username or password is wrong.")

    /// Checks credentials; returns the user or throws 401 / 423 / 429 problems.
    public func authenticate(username rawUsername: String, password: String, ip: String, channel: String) async throws
        -> User
    {
        // Real usernames have at most 32 characters; longer input is kept short for the throttle key and
        // the event log (and can never match an account).
        let username = String(AccountService.normalise(rawUsername).prefix(64))
        let now = clock.now()
        let recentFailures = try await LoginEvent.query(on: db)
            .filter(\.$ip == ip)
            .filter(\.$at > now.addingTimeInterval(-60))
            .filter(\.$outcome ~~ [.badCredentials, .locked])
            .count()
        if recentFailures >= config.loginFailuresPerIPPerMinute {
            try await record(nil, username, ip, .rateLimited, channel)
            throw Problem(
                .tooManyRequests, type: "/problems/rate-limited", title: "Too many failed sign-ins",
                detail: "Too many failed sign-ins from your address. Wait a minute and try again.",
                headers: ["Retry-After": "60"])
        }
        let throttle = try await LoginThrottle.query(on: db).filter(\.$username == username).first()
        if let lockedUntil = throttle?.lockedUntil, lockedUntil > now {
            try await record(nil, username, ip, .locked, channel)
            throw Self.locked(until: lockedUntil, now: now)
        }
        let user = try await User.query(on: db).filter(\.$username == username).first()
        let valid: Bool
        if let user, !user.disabled {
            valid = try await hashing.verify(password, against: user.passwordHash)
        } else {
            _ = try await hashing.verify(password, against: hashing.decoy)
            valid = false
        }
        guard valid, let user else {
            let lockedUntil = try await registerFailure(username: username, existing: throttle, now: now)
            try await record(user?.id, username, ip, .badCredentials, channel)
            if let lockedUntil { throw Self.locked(until: lockedUntil, now: now) }
            throw Self.invalidCredentials
        }
        if let throttle, throttle.failures != 0 || throttle.lockedUntil != nil {
            throttle.failures = 0
            throttle.lockedUntil = nil
            try await throttle.save(on: db)
        }
        try await record(user.id, username, ip, .success, channel)
        if user.kind == .staff, let audit {
            // Durable before the tokens are handed out: an acknowledged staff sign-in is always in the log.
            try await audit.record(
                kind: AuditKind.staffLogin, actor: user.id, subject: "user:" + (user.id?.uuidString.lowercased() ?? ""),
                details: ["username": username, "channel": channel, "ip": ip])
        }
        return user
    }

    static func locked(until: Date, now: Date) -> Problem {
        let seconds = max(1, Int(until.timeIntervalSince(now).rounded(.up)))
        return Problem(
            .locked, type: "/problems/account-locked", title: "Account temporarily locked",
            detail: "Too many failed sign-ins. Try again in \(seconds / 60 + (seconds % 60 == 0 ? 0 : 1)) minute(s).",
            headers: ["Retry-After": String(seconds)])
    }

    /// Counts a failure; returns the lock end when this failure locks the username.
    func registerFailure(username: String, existing: LoginThrottle?, now: Date) async throws -> Date? {
        let throttle = existing ?? LoginThrottle(username: username)
        throttle.failures += 1
        var lockedUntil: Date?
        if throttle.failures >= config.lockoutThreshold {
            lockedUntil = now.addingTimeInterval(TimeInterval(config.lockoutSeconds))
            throttle.lockedUntil = lockedUntil
            throttle.failures = 0
        }
        do {
            try await throttle.save(on: db)
        } catch let error as any DatabaseError where error.isConstraintFailure {
            // A concurrent first failure created the row: count on it.
            if let row = try await LoginThrottle.query(on: db).filter(\.$username == username).first() {
                return try await registerFailure(username: username, existing: row, now: now)
            }
        }
        return lockedUntil
    }

    func record(_ userID: UUID?, _ username: String, _ ip: String, _ outcome: LoginOutcome, _ channel: String)
        async throws
    {
        try await LoginEvent(
            userID: userID, username: String(username.prefix(64)), ip: ip, outcome: outcome, channel: channel,
            at: clock.now()
        ).create(on: db)
    }

    /// Issues an access token and a new refresh-token family.
    public func issueTokens(for user: User) async throws -> IssuedTokens {
        let principal = try await accounts.principal(for: user)
        return try await issue(principal, family: UUID())
    }

    func issue(_ principal: Principal, family: UUID) async throws -> IssuedTokens {
        let now = clock.now()
        let access = try await tokens.issue(for: principal, now: now, on: db)
        let refresh = TokenService.randomToken()
        try await RefreshToken(
            userID: principal.userID, tokenHash: TokenService.hash(refresh), familyID: family,
            expiresAt: now.addingTimeInterval(TimeInterval(config.refreshTokenTTL))
        ).create(on: db)
        return IssuedTokens(
            accessToken: access, refreshToken: refresh, expiresIn: tokens.accessTTL, principal: principal)
    }

    static let invalidRefresh = Problem(
        .unauthorized, type: "/problems/invalid-refresh-token", title: "Invalid refresh token",
        detail: "The refresh token is unknown, expired, revoked or already used. Sign in again.")

    /// Rotates a refresh token. Re-using a spent token revokes its whole family.
    public func refresh(_ token: String, ip: String) async throws -> IssuedTokens {
        let now = clock.now()
        guard let stored = try await RefreshToken.query(on: db).filter(\.$tokenHash == TokenService.hash(token)).first()
        else { throw Self.invalidRefresh }
        if stored.revokedAt != nil || stored.expiresAt <= now {
            throw Self.invalidRefresh
        }
        let id = try stored.requireID()
        // Claim the token atomically: only one concurrent refresh wins.
        guard let sql = db as? any SQLDatabase else { throw Self.invalidRefresh }
        let claimed = try await sql.update(RefreshToken.schema)
            .set("used_at", to: now)
            .where("id", .equal, id)
            .where("used_at", .is, SQLLiteral.null)
            .returning("id")
            .all()
        if claimed.isEmpty {
            try await revokeFamily(stored.familyID)
            throw Self.invalidRefresh
        }
        guard let user = try await User.find(stored.userID, on: db), !user.disabled else { throw Self.invalidRefresh }
        let principal = try await accounts.principal(for: user)
        try await record(user.id, user.username, ip, .refresh, "api")
        return try await issue(principal, family: stored.familyID)
    }

    /// Revokes the family of `refreshToken` (when it belongs to `userID`), or every token of the user.
    public func logout(userID: UUID, refreshToken: String?, ip: String, channel: String) async throws {
        if let refreshToken,
            let stored = try await RefreshToken.query(on: db).filter(\.$tokenHash == TokenService.hash(refreshToken))
                .first(), stored.userID == userID
        {
            try await revokeFamily(stored.familyID)
        } else {
            try await RefreshToken.query(on: db).filter(\.$userID == userID).filter(\.$revokedAt == nil)
                .set(\.$revokedAt, to: clock.now()).update()
        }
        let user = try await User.find(userID, on: db)
        try await record(userID, user?.username ?? "", ip, .logout, channel)
    }

    func revokeFamily(_ family: UUID) async throws {
        try await RefreshToken.query(on: db).filter(\.$familyID == family).filter(\.$revokedAt == nil)
            .set(\.$revokedAt, to: clock.now()).update()
    }
}
