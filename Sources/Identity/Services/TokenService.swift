import Crypto
import Fluent
import Foundation
import JWTKit
import NIOConcurrencyHelpers
import TongbanCore
import Vapor

/// Claims of an access token: subject, username, account kind, role grants, issue and expiry times.
struct AccessClaims: JWTPayload {
    var sub: SubjectClaim
    var usr: String
    var knd: AccountKind
    var grt: [Grant]
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var jti: IDClaim
    var iss: IssuerClaim

    struct Grant: Codable, Sendable {
        var d: UUID?
        var r: StaffRole
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard iss.value == AccessClaims.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "issuer") }
    }

    static let issuer = "tongban"
}

/// Signs and verifies access tokens (HS256). The secret comes from `TONGBAN_JWT_SECRET` or, when
/// absent, from a random secret created once in the database so that every node shares it.
public actor TokenService {
    private var keys: JWTKeyCollection?
    private let verified = VerifiedTokens()
    private let configuredSecret: String?
    let accessTTL: Int

    public init(secret: String?, accessTTL: Int) {
        self.configuredSecret = secret
        self.accessTTL = accessTTL
    }

    func keyCollection(on db: any Database) async throws -> JWTKeyCollection {
        if let keys { return keys }
        let secret: String
        if let configuredSecret {
            secret = configuredSecret
        } else if let stored = try await SigningSecret.query(on: db).filter(\.$kid == "access-1").first() {
            secret = stored.secret
        } else {
            let fresh = Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
            do {
                try await SigningSecret(kid: "access-1", secret: fresh).create(on: db)
                secret = fresh
            } catch {
                // Another node created it first: use theirs.
                guard let stored = try await SigningSecret.query(on: db).filter(\.$kid == "access-1").first() else {
                    throw error
                }
                secret = stored.secret
            }
        }
        let collection = JWTKeyCollection()
        await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: "access-1")
        keys = collection
        return collection
    }

    func issue(for principal: Principal, now: Date, on db: any Database) async throws -> String {
        let claims = AccessClaims(
            sub: .init(value: principal.userID.uuidString), usr: principal.username, knd: principal.kind,
            grt: principal.grants.map { .init(d: $0.departmentID, r: $0.role) }, iat: .init(value: now),
            exp: .init(value: now.addingTimeInterval(TimeInterval(accessTTL))), jti: .init(value: UUID().uuidString),
            iss: .init(value: AccessClaims.issuer))
        return try await keyCollection(on: db).sign(claims, kid: "access-1")
    }

    /// The principal of a valid token, or nil (bad signature, expired, malformed).
    ///
    /// A token whose signature was checked once is remembered with its expiry (`VerifiedTokens`), so that a
    /// client's next requests with the same token neither queue on this actor and on the key collection (both
    /// actors: every authenticated request used to pass through them one at a time) nor verify the HMAC and
    /// decode the claims again. Only the exact token string hits; expiry is checked on every hit, as the
    /// signature check does; access tokens are stateless, so there is nothing else to revoke.
    nonisolated func verify(_ token: String, on db: any Database) async -> Principal? {
        let now = Date()
        if let known = verified.lookup(token) {
            return known.expires > now ? known.principal : nil
        }
        guard let keys = try? await keyCollection(on: db),
            let claims = try? await keys.verify(token, as: AccessClaims.self),
            let id = UUID(uuidString: claims.sub.value)
        else { return nil }
        let principal = Principal(
            userID: id, username: claims.usr, kind: claims.knd,
            grants: claims.grt.map { RoleGrant(departmentID: $0.d, role: $0.r) })
        verified.remember(token, principal: principal, expires: claims.exp.value)
        return principal
    }

    /// SHA-256 hex of a refresh token (only the hash is stored).
    static func hash(_ token: String) -> String {
        Hex.sha256(token)
    }

    /// A new random refresh token (256 bits, base64url).
    static func randomToken() -> String {
        let key = SymmetricKey(size: .bits256)
        return key.withUnsafeBytes { Data($0) }.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

/// Access tokens whose signature was verified, with their principal and expiry; at most `capacity` (then it
/// starts again empty: a busy node re-verifies each client's token once).
final class VerifiedTokens: Sendable {
    struct Entry: Sendable {
        var principal: Principal
        var expires: Date
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 20_000) { self.capacity = capacity }

    func lookup(_ token: String) -> Entry? {
        entries.withLockedValue { $0[token] }
    }

    func remember(_ token: String, principal: Principal, expires: Date) {
        entries.withLockedValue { map in
            if map.count >= capacity { map.removeAll(keepingCapacity: true) }
            map[token] = Entry(principal: principal, expires: expires)
        }
    }
}
