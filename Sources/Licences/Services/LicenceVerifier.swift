import Foundation
import TongbanCore

/// What a licence QR code carries (the JWS payload). Only fields the type marks public are inside, and
/// the holder only masked: anyone who scans it can read it.
public struct LicenceClaims: Codable, Sendable, Equatable {
    public var v: Int
    /// Licence id.
    public var lid: String
    public var num: String
    /// Licence type code.
    public var typ: String
    /// Issuing department code.
    public var iss: String
    /// Holder, masked.
    public var hm: String
    /// Public fields.
    public var f: [String: String]
    public var nbf: Int64
    public var exp: Int64?
    public var iat: Int64
    /// Presentations (亮证) only: when the presentation stops being accepted (a minute after it was made).
    public var pexp: Int64?
    /// Presentations only: a random value, so that two presentations of one licence differ.
    public var nonce: String?
    /// Composite licences (一业一证): the component licences, by number, type and issuing department.
    public var sub: [Component]?
    /// The licence's position in its issuer's status lists (absent in licences issued before status lists).
    public var si: Int?

    public struct Component: Codable, Sendable, Equatable {
        public var num: String
        public var typ: String
        public var iss: String
    }

    /// The canonical bytes (sorted keys, no whitespace).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// The answer of a verification, online (POST /api/v1/licences/verify) or offline (`tongban verify`).
public struct VerificationResult: Codable, Sendable, Equatable {
    public var valid: Bool
    /// `ok`, or why not: `malformed`, `oversized`, `unsupported_algorithm`, `unknown_issuer`, `bad_signature`,
    /// `unknown_licence`, `not_yet_valid`, `expired`, `revoked`, `suspended`, `presentation_expired`.
    public var reason: String
    /// `valid`, `suspended`, `revoked`, `expired`, or `unknown` when the token itself did not verify.
    public var status: String
    public var type: String?
    public var typeName: String?
    public var issuer: String?
    public var issuerName: String?
    public var number: String?
    public var holderMasked: String?
    public var fields: [String: String]
    public var validFrom: Date?
    public var validUntil: Date?
    /// A sentence for people, zh-CN and English.
    public var message: String
    public var messageEn: String
    /// True for a presentation (亮证) code rather than the licence's own code.
    public var presentation: Bool = false
    /// A composite licence's components with their current status (`unknown` when checked offline).
    public var components: [ComponentStatus]?

    public struct ComponentStatus: Codable, Sendable, Equatable {
        public var number: String
        public var type: String
        public var issuer: String
        public var status: String
    }

    static func failure(_ reason: String) -> VerificationResult {
        let (zh, en) = Self.messages[reason] ?? ("无法验证。", "Cannot be verified.")
        return VerificationResult(
            valid: false, reason: reason, status: "unknown", type: nil, typeName: nil, issuer: nil, issuerName: nil,
            number: nil, holderMasked: nil, fields: [:], validFrom: nil, validUntil: nil, message: zh, messageEn: en)
    }

    static let messages: [String: (String, String)] = [
        "ok": ("证照真实有效。", "The licence is genuine and valid."),
        "malformed": ("扫描内容不是有效的电子证照码。", "The scanned content is not a licence code."),
        "oversized": ("扫描内容过长，不是电子证照码。", "The scanned content is too long to be a licence code."),
        "unsupported_algorithm": ("证照码使用了不被接受的签名算法。", "The code uses a signature algorithm that is not accepted."),
        "unknown_issuer": ("签发机构不在信任列表中。", "The issuer is not on the trust list."),
        "bad_signature": ("签名校验失败：内容可能被篡改。", "The signature does not match: the content may have been altered."),
        "unknown_licence": ("查无此证照。", "No such licence was issued."),
        "not_yet_valid": ("证照尚未生效。", "The licence is not valid yet."),
        "expired": ("证照已过有效期。", "The licence has expired."),
        "revoked": ("证照已被注销。", "The licence has been revoked."),
        "suspended": ("证照已被暂停使用。", "The licence is suspended."),
        "presentation_expired": (
            "亮证码已过期，请持证人刷新后重新出示。", "This presentation code has expired: ask the holder to show a fresh one."
        ),
    ]
}

/// Checks a licence token: signature against the keys `lookup` finds, then validity in time and the
/// status that `status` reports (online: the database; offline: a downloaded status list, or none).
public enum LicenceVerifier {
    public static let tokenType = "tongban-licence+jws"
    public static let presentationType = "tongban-presentation+jws"
    /// Seconds a presentation is accepted after its expiry, for verifier clocks that run behind.
    public static let presentationSkew: Int64 = 5

    public static func verify(
        _ token: String, now: Date, lookup: (String) -> VerificationKey?,
        status: (LicenceClaims) -> (LicenceStatus, String?)?,
        typeName: (String) -> String? = { _ in nil }, issuerName: (String) -> String? = { _ in nil },
        componentStatus: (String) -> String? = { _ in nil }, decodedClaims: LicenceClaims? = nil
    ) -> VerificationResult {
        let verified: CompactJWS.Verified
        do {
            verified = try CompactJWS.verify(token, lookup: lookup)
        } catch {
            return .failure(error.rawValue)
        }
        let isPresentation = verified.type == presentationType
        // `decodedClaims`: the caller already decoded this very token's payload (the online path reads the
        // licence id from it before the signature check); the bytes are the ones just verified.
        guard verified.type == tokenType || isPresentation,
            let claims = decodedClaims ?? (try? CompactJWS.decoder.decode(LicenceClaims.self, from: verified.payload)), claims.v == 1,
            isPresentation == (claims.pexp != nil)
        else { return .failure("malformed") }
        var result = VerificationResult(
            valid: true, reason: "ok", status: LicenceStatus.valid.rawValue, type: claims.typ, typeName: typeName(claims.typ),
            issuer: claims.iss, issuerName: issuerName(claims.iss), number: claims.num, holderMasked: claims.hm,
            fields: claims.f, validFrom: Date(timeIntervalSince1970: TimeInterval(claims.nbf)),
            validUntil: claims.exp.map { Date(timeIntervalSince1970: TimeInterval($0)) }, message: "", messageEn: "")
        var reason = "ok"
        switch status(claims) {
        case nil:
            reason = "unknown_licence"
            result.status = "unknown"
        case (.revoked, _)?:
            reason = "revoked"
            result.status = LicenceStatus.revoked.rawValue
        case (.suspended, _)?:
            reason = "suspended"
            result.status = LicenceStatus.suspended.rawValue
        case (.valid, _)?:
            let seconds = Int64(now.timeIntervalSince1970)
            if let pexp = claims.pexp, seconds >= pexp + presentationSkew {
                reason = "presentation_expired"
            } else if seconds < claims.nbf {
                reason = "not_yet_valid"
            } else if let exp = claims.exp, seconds >= exp {
                reason = "expired"
                result.status = "expired"
            }
        }
        result.valid = reason == "ok"
        result.reason = reason
        result.presentation = isPresentation
        result.components = claims.sub?.map { .init(number: $0.num, type: $0.typ, issuer: $0.iss, status: componentStatus($0.num) ?? "unknown") }
        let (zh, en) = VerificationResult.messages[reason] ?? ("", "")
        result.message = zh
        result.messageEn = en
        return result
    }
}

/// The public trust list (GET /.well-known/tongban-trust-list.json): issuers and their keys as JWK.
public struct TrustList: Codable, Sendable {
    public struct Issuer: Codable, Sendable {
        public var code: String
        public var name: String
        public var nameEn: String
        public var keys: [[String: String]]
        /// The issuer's signed status lists by purpose (`revocation`, `suspension`).
        public var statusLists: [String: String]?
    }

    public var version: Int
    public var issuedAt: Date
    public var issuers: [Issuer]
    /// Where the online status of each licence is checked.
    public var statusEndpoint: String

    /// Verification keys by kid: active and retired keys (compromised keys are left off the list).
    public func keys() -> [String: VerificationKey] {
        var keys: [String: VerificationKey] = [:]
        for issuer in issuers {
            for jwk in issuer.keys where jwk["status"] != SigningKeyStatus.compromised.rawValue {
                if let key = VerificationKey(jwk: jwk) { keys[key.kid] = key }
            }
        }
        return keys
    }

    public func issuerName(kid: String) -> String? {
        issuers.first { $0.keys.contains { $0["kid"] == kid } }?.name
    }
}

/// A licence as a W3C Verifiable Credential 2.0, secured as a VC-JWT ("Securing Verifiable Credentials using
/// JOSE and COSE": `typ` vc+jwt, `cty` vc, the credential as the JWS payload), signed with the issuing
/// department's key so that any JOSE library can check it against the trust list.
public struct LicenceCredential: Codable, Sendable {
    public struct Issuer: Codable, Sendable {
        public var id: String
        public var name: String
    }

    public struct Subject: Codable, Sendable {
        public var holder: String
        public var holderKind: String
        public var licenceNumber: String
        public var licenceType: String
        public var licenceTypeName: String
        public var fields: [String: String]
    }

    /// A BitstringStatusListEntry (W3C Bitstring Status List v1.0), or the online check for older licences.
    public struct Status: Codable, Sendable {
        public var id: String
        public var type: String
        public var statusPurpose: String?
        public var statusListIndex: String?
        public var statusListCredential: String?
    }

    public var context: [String]
    public var id: String
    public var type: [String]
    public var issuer: Issuer
    public var validFrom: String
    public var validUntil: String?
    public var credentialSubject: Subject
    public var credentialStatus: [Status]
    // JWT claims, for JOSE libraries that check them.
    public var iss: String
    public var jti: String
    public var iat: Int64
    public var nbf: Int64
    public var exp: Int64?

    enum CodingKeys: String, CodingKey {
        case context = "@context"
        case id, type, issuer, validFrom, validUntil, credentialSubject, credentialStatus, iss, jti, iat, nbf, exp
    }

    public static let mediaType = "application/vc+jwt"
}
