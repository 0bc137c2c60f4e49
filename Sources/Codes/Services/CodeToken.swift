import Foundation
import TongbanCore

/// The kinds of code a holder can show.
public enum CodeType: String, Codable, Sendable, CaseIterable {
    /// 市民码: the citizen identity code.
    case identity
    /// 医保码: the medical-insurance code.
    case medicalInsurance = "medical_insurance"
    /// 乘车码: the transit code.
    case transit
}

/// What a code says, signed by the platform (online codes) or by a certified holder device (offline codes).
///
/// Wire form (JSON, short keys): `{"v":1,"sub":pseudonym,"typ":type,"iat":seconds,"exp":seconds,"jti":nonce}`.
/// `sub` is the holder's pseudonym (never the ID number); `jti` is a 128-bit random nonce in base64url.
public struct CodeClaims: Codable, Sendable, Equatable {
    public var v: Int
    public var sub: String
    public var typ: CodeType
    public var iat: Int64
    public var exp: Int64
    public var jti: String

    public init(sub: String, typ: CodeType, iat: Int64, exp: Int64, jti: String) {
        self.v = 1
        self.sub = sub
        self.typ = typ
        self.iat = iat
        self.exp = exp
        self.jti = jti
    }

    public var issuedAt: Date { Date(timeIntervalSince1970: TimeInterval(iat)) }
    public var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(exp)) }

    /// A fresh 128-bit nonce (22 base64url characters).
    public static func nonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Shape checks beyond the signature: version, pseudonym and nonce form, lifetime ≤ 60 s.
    var isWellFormed: Bool {
        v == 1 && CodeFormat.isPseudonym(sub) && CodeFormat.isNonce(jti) && exp > iat
            && exp - iat <= Int64(CodeFormat.maximumLifetime)
    }
}

/// A device certificate: the platform vouches that `dpk` (an Ed25519 public key held by the holder's device)
/// may sign codes for the holder `sub` until `exp` (at most 7 days after `iat`).
public struct DeviceCertificateClaims: Codable, Sendable, Equatable {
    public var v: Int
    /// The certificate id (128-bit, base64url): the device code's `kid`, and what revocation names.
    public var cid: String
    public var sub: String
    /// The device's Ed25519 public key, base64url (32 bytes).
    public var dpk: String
    public var iat: Int64
    public var exp: Int64

    public init(cid: String, sub: String, dpk: String, iat: Int64, exp: Int64) {
        self.v = 1
        self.cid = cid
        self.sub = sub
        self.dpk = dpk
        self.iat = iat
        self.exp = exp
    }

    public var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(exp)) }

    var isWellFormed: Bool {
        v == 1 && CodeFormat.isNonce(cid) && CodeFormat.isPseudonym(sub) && exp > iat
            && exp - iat <= Int64(CodeFormat.maximumCertificateLifetime)
            && Base64URL.decode(dpk)?.count == 32
    }
}

/// Constants and shape checks of the code format.
public enum CodeFormat {
    /// JWS `typ` of a platform-signed code.
    public static let codeType = "tongban-code"
    /// JWS `typ` of a code signed by a holder's device.
    public static let deviceCodeType = "tongban-device-code"
    /// JWS `typ` of a device certificate.
    public static let certificateType = "tongban-device-cert"
    /// Separates the device certificate from the device-signed code in an offline payload.
    public static let chainSeparator: Character = "~"
    /// A code lives at most this long (seconds).
    public static let maximumLifetime = 60
    /// A device certificate lives at most this long (seconds): 7 days.
    public static let maximumCertificateLifetime = 7 * 24 * 3600
    /// Longest payload accepted (a device chain is about 700 characters).
    public static let maximumLength = 2048

    /// A pseudonym: 22 base64url characters (128 bits).
    static func isPseudonym(_ text: String) -> Bool { isNonce(text) }

    /// 22 canonical base64url characters decoding to 16 bytes.
    static func isNonce(_ text: String) -> Bool {
        text.utf8.count == 22 && Base64URL.decode(text)?.count == 16
    }
}
