import Foundation
import TongbanCore

/// Why a code did not verify (the `reason` of a verification answer).
public enum CodeFailure: String, Error, Sendable, Codable, CaseIterable {
    case malformed
    case badSignature = "bad_signature"
    case unknownKey = "unknown_key"
    case expired
    case notYetValid = "not_yet_valid"
    case certificateExpired = "certificate_expired"
    case revoked
    case replayed
    case wrongScenario = "wrong_scenario"
    case unknownDevice = "unknown_device"
    case unauthorised

    /// One readable English sentence.
    public var message: String {
        switch self {
        case .malformed: "the payload is not a well-formed Tongban code"
        case .badSignature: "the signature does not match the content (the code was altered or forged)"
        case .unknownKey: "the code was signed by a key that is not on the trust list"
        case .expired: "the code has expired"
        case .notYetValid: "the code was issued in the future (check the clocks)"
        case .certificateExpired: "the device certificate that signed the code has expired"
        case .revoked: "the device certificate or the holder's codes were revoked"
        case .replayed: "this code was already accepted by this verifier"
        case .wrongScenario: "this code or this verifier is not for this scenario"
        case .unknownDevice: "the verifier device is not registered (X-Api-Key)"
        case .unauthorised: "the verifier device is disabled"
        }
    }
}

/// A code that passed the cryptographic and time checks.
public struct VerifiedCode: Sendable, Equatable {
    public var claims: CodeClaims
    /// The platform key that signed the code (online) or the device certificate (offline).
    public var platformKid: String
    /// Set for offline codes: the device certificate id.
    public var certificateID: String?
    public var certificateExpiresAt: Date?
}

/// Verifies code payloads without network or database: everything it needs is the platform's code keys
/// (from the trust list), the time, the tolerated clock skew and, optionally, revoked certificate ids.
///
/// Two payload forms, both canonical and strictly decoded (strict base64url, exact JWS signing input):
/// - online: `JWS(platform key, typ "tongban-code", CodeClaims)`;
/// - offline: `JWS(platform key, typ "tongban-device-cert", DeviceCertificateClaims)` `~`
///   `JWS(device key, kid = certificate id, typ "tongban-device-code", CodeClaims)`.
public enum CodeVerifier {
    static let allowed: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8 { table[Int(c)] = true }
        return table
    }()

    public static func verify(
        _ payload: String, now: Date, skew: TimeInterval, keys: (String) -> VerificationKey?,
        isRevoked: (String) -> Bool = { _ in false }
    ) throws(CodeFailure) -> VerifiedCode {
        let bytes = payload.utf8
        guard !bytes.isEmpty, bytes.count <= CodeFormat.maximumLength, bytes.allSatisfy({ allowed[Int($0)] }) else {
            throw .malformed
        }
        // Byte-wise split (the payload is ASCII, checked above): `~` joins a device certificate and its code.
        let links = bytes.split(separator: UInt8(ascii: "~"), maxSplits: 2, omittingEmptySubsequences: false).map { Substring($0) }
        switch links.count {
        case 1:
            let verified = try jws(payload, type: CodeFormat.codeType, lookup: keys)
            let claims = try decode(CodeClaims.self, verified.payload)
            guard claims.isWellFormed else { throw .malformed }
            try checkTime(claims, now: now, skew: skew)
            return VerifiedCode(claims: claims, platformKid: verified.kid)
        case 2:
            let certificate = try jws(String(links[0]), type: CodeFormat.certificateType, lookup: keys)
            let cert = try decode(DeviceCertificateClaims.self, certificate.payload)
            guard cert.isWellFormed, let raw = Base64URL.decode(cert.dpk) else { throw .malformed }
            let deviceKey = VerificationKey(kid: cert.cid, algorithm: .edDSA, publicKey: raw)
            let code = try jws(String(links[1]), type: CodeFormat.deviceCodeType, lookup: { $0 == cert.cid ? deviceKey : nil })
            let claims = try decode(CodeClaims.self, code.payload)
            guard claims.isWellFormed, claims.sub == cert.sub else { throw .malformed }
            // The device may only sign codes inside its certificate's validity.
            let skewSeconds = Int64(skew.rounded(.up))
            guard claims.iat >= cert.iat - skewSeconds, claims.iat <= cert.exp else { throw .certificateExpired }
            if now.timeIntervalSince1970 > TimeInterval(cert.exp) + skew { throw .certificateExpired }
            if isRevoked(cert.cid) { throw .revoked }
            try checkTime(claims, now: now, skew: skew)
            return VerifiedCode(
                claims: claims, platformKid: certificate.kid, certificateID: cert.cid, certificateExpiresAt: cert.expiresAt)
        default:
            throw .malformed
        }
    }

    static func jws(_ token: String, type: String, lookup: (String) -> VerificationKey?) throws(CodeFailure) -> CompactJWS.Verified {
        let verified: CompactJWS.Verified
        do {
            verified = try CompactJWS.verify(token, lookup: lookup)
        } catch let failure as CompactJWS.Failure {
            switch failure {
            case .badSignature: throw .badSignature
            case .unknownKey: throw .unknownKey
            case .malformed, .oversized, .unsupportedAlgorithm: throw .malformed
            }
        } catch {
            throw .malformed
        }
        guard verified.type == type else { throw .malformed }
        return verified
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws(CodeFailure) -> T {
        do { return try CompactJWS.decoder.decode(T.self, from: data) } catch { throw .malformed }
    }

    static func checkTime(_ claims: CodeClaims, now: Date, skew: TimeInterval) throws(CodeFailure) {
        let t = now.timeIntervalSince1970
        if t > TimeInterval(claims.exp) + skew { throw .expired }
        if TimeInterval(claims.iat) > t + skew { throw .notYetValid }
    }
}
