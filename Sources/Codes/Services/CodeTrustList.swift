import Foundation
import TongbanCore

/// What an offline verifier downloads (`GET /.well-known/tongban-codes-trust-list.json`): the platform's
/// code-signing keys as JWK, the tolerated clock skew, and the ids of revoked device certificates that
/// have not expired yet. With it a verifier checks online and offline codes with no network.
public struct CodeTrustList: Codable, Sendable {
    public var version: Int
    public var issuedAt: Date
    /// JWKs (OKP/Ed25519) with `kid`, `status` (active, retired), `validFrom` and `retiredAt`.
    public var keys: [[String: String]]
    public var clockSkewSeconds: Double
    public var maxCodeLifetimeSeconds: Int
    public var maxCertificateLifetimeSeconds: Int
    /// Certificate ids of revoked holder devices whose certificates have not expired yet.
    public var revokedCertificates: [String]

    public init(issuedAt: Date, keys: [[String: String]], clockSkewSeconds: Double, revokedCertificates: [String]) {
        self.version = 1
        self.issuedAt = issuedAt
        self.keys = keys
        self.clockSkewSeconds = clockSkewSeconds
        self.maxCodeLifetimeSeconds = CodeFormat.maximumLifetime
        self.maxCertificateLifetimeSeconds = CodeFormat.maximumCertificateLifetime
        self.revokedCertificates = revokedCertificates
    }

    /// Verification keys by kid (compromised or malformed entries are skipped).
    public func verificationKeys() -> [String: VerificationKey] {
        var result: [String: VerificationKey] = [:]
        for jwk in keys where jwk["status"] != "compromised" && jwk["alg"] == "EdDSA" {
            if let key = VerificationKey(jwk: jwk) { result[key.kid] = key }
        }
        return result
    }

    /// Verifies `payload` offline at `now`.
    public func verify(_ payload: String, now: Date) throws(CodeFailure) -> VerifiedCode {
        try prepared().verify(payload, now: now)
    }

    /// The list ready for many verifications (keys decoded and revocations indexed once), as a gate or a
    /// scanner app keeps it between downloads.
    public func prepared() -> Prepared {
        Prepared(keys: verificationKeys(), revoked: Set(revokedCertificates), skew: clockSkewSeconds)
    }

    public struct Prepared: Sendable {
        let keys: [String: VerificationKey]
        let revoked: Set<String>
        let skew: TimeInterval

        /// Verifies `payload` offline at `now`.
        public func verify(_ payload: String, now: Date) throws(CodeFailure) -> VerifiedCode {
            try CodeVerifier.verify(payload, now: now, skew: skew, keys: { keys[$0] }, isRevoked: { revoked.contains($0) })
        }
    }
}
