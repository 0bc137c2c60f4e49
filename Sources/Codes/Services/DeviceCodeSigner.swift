import Crypto
import Foundation
import TongbanCore

/// The device side of offline codes, as a Swift reference implementation (the holder page's script does the
/// same in the browser): the device keeps an Ed25519 private key, registers its public key once to receive a
/// device certificate, and then signs each code itself, with no network.
public struct DeviceCodeSigner: Sendable {
    /// The device's raw Ed25519 private key (32 bytes).
    public let privateKey: Data
    /// The platform-signed device certificate (JWS compact).
    public var certificate: String

    public init(privateKey: Data, certificate: String) throws {
        _ = try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)
        self.privateKey = privateKey
        self.certificate = certificate
    }

    /// A fresh device key pair: (private key, public key as base64url for `POST /api/v1/codes/devices`).
    public static func generateKey() -> (privateKey: Data, publicKey: String) {
        let key = Curve25519.Signing.PrivateKey()
        return (key.rawRepresentation, Base64URL.encode(key.publicKey.rawRepresentation))
    }

    /// The certificate's claims, read without verifying (the device trusts what it was given).
    public var certificateClaims: DeviceCertificateClaims? {
        let parts = certificate.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Base64URL.decode(parts[1]) else { return nil }
        return try? JSONDecoder().decode(DeviceCertificateClaims.self, from: data)
    }

    /// An offline code: `certificate ~ JWS(device key, kid = certificate id, CodeClaims)`.
    public func code(type: CodeType, now: Date, lifetime: Int = CodeFormat.maximumLifetime, nonce: String = CodeClaims.nonce())
        throws -> String
    {
        guard let cert = certificateClaims else { throw CodeFailure.malformed }
        let iat = Int64(now.timeIntervalSince1970)
        let claims = CodeClaims(sub: cert.sub, typ: type, iat: iat, exp: iat + Int64(min(lifetime, CodeFormat.maximumLifetime)), jti: nonce)
        let key = try SigningKeyMaterial(kid: cert.cid, algorithm: .edDSA, privateKey: privateKey)
        let token = try CompactJWS.sign(payload: try CodeEncoding.json(claims), key: key, type: CodeFormat.deviceCodeType)
        return certificate + String(CodeFormat.chainSeparator) + token
    }
}

/// Canonical JSON for claims: sorted keys, no escaped slashes, so one set of claims has one encoding.
enum CodeEncoding {
    static func json(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
