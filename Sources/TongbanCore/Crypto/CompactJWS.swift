import Crypto
import Foundation
import NIOConcurrencyHelpers

/// Strict base64url without padding (RFC 7515 §2): only the URL-safe alphabet, no `=`, and canonical
/// (the unused low bits of the last character are zero), so one byte string has exactly one encoding
/// and a payload that differs in any character never decodes to the same bytes.
public enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, c) in alphabet.enumerated() { table[Int(c)] = UInt8(index) }
        return table
    }()

    public static func encode(_ data: some Sequence<UInt8>) -> String {
        let bytes = Array(data)
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        switch bytes.count - i {
        case 1:
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)]]
        case 2:
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes strictly: nil for any character outside the alphabet, padding, an impossible length, or
    /// non-zero unused bits in the last character (a non-canonical encoding).
    public static func decode(_ text: some StringProtocol) -> Data? {
        if let result = text.utf8.withContiguousStorageIfAvailable({ decode(bytes: $0) }) { return result }
        return Array(text.utf8).withUnsafeBufferPointer { decode(bytes: $0) }
    }

    static func decode(bytes: UnsafeBufferPointer<UInt8>) -> Data? {
        let count = bytes.count
        guard count % 4 != 1 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(count * 3 / 4)
        var i = 0
        while i + 4 <= count {
            let a = values[Int(bytes[i])], b = values[Int(bytes[i + 1])], c = values[Int(bytes[i + 2])], d = values[Int(bytes[i + 3])]
            guard a | b | c | d < 64 else { return nil }
            let n = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
            out.append(UInt8(n >> 16))
            out.append(UInt8(n >> 8 & 0xFF))
            out.append(UInt8(n & 0xFF))
            i += 4
        }
        switch count - i {
        case 2:
            let a = values[Int(bytes[i])], b = values[Int(bytes[i + 1])]
            guard a | b < 64, b & 0x0F == 0 else { return nil }
            out.append(a << 2 | b >> 4)
        case 3:
            let a = values[Int(bytes[i])], b = values[Int(bytes[i + 1])], c = values[Int(bytes[i + 2])]
            guard a | b | c < 64, c & 0x03 == 0 else { return nil }
            out += [a << 2 | b >> 4, (b & 0x0F) << 4 | c >> 2]
        default:
            break
        }
        return Data(out)
    }
}

/// Signature algorithms a Tongban issuer key may use.
public enum JWSAlgorithm: String, Codable, Sendable, CaseIterable {
    case edDSA = "EdDSA"
    case es256 = "ES256"
}

/// A public verification key with its key id.
public struct VerificationKey: Sendable, Equatable {
    public var kid: String
    public var algorithm: JWSAlgorithm
    /// Ed25519: the 32-byte public key; ES256: the 65-byte uncompressed point (0x04 ‖ x ‖ y).
    public var publicKey: Data

    public init(kid: String, algorithm: JWSAlgorithm, publicKey: Data) {
        self.kid = kid
        self.algorithm = algorithm
        self.publicKey = publicKey
    }

    /// RFC 7517 JWK (OKP/Ed25519 per RFC 8037, or EC/P-256).
    public var jwk: [String: String] {
        switch algorithm {
        case .edDSA:
            return ["kty": "OKP", "crv": "Ed25519", "x": Base64URL.encode(publicKey), "kid": kid, "alg": "EdDSA", "use": "sig"]
        case .es256:
            let bytes = [UInt8](publicKey)
            let x = bytes.count == 65 ? Array(bytes[1..<33]) : []
            let y = bytes.count == 65 ? Array(bytes[33..<65]) : []
            return ["kty": "EC", "crv": "P-256", "x": Base64URL.encode(x), "y": Base64URL.encode(y), "kid": kid, "alg": "ES256", "use": "sig"]
        }
    }

    /// Reads a JWK written by ``jwk``; nil for any other key type or malformed key.
    public init?(jwk: [String: String]) {
        guard let kid = jwk["kid"], !kid.isEmpty else { return nil }
        switch (jwk["kty"], jwk["crv"]) {
        case ("OKP", "Ed25519"):
            guard let x = jwk["x"].flatMap(Base64URL.decode), x.count == 32 else { return nil }
            self.init(kid: kid, algorithm: .edDSA, publicKey: x)
        case ("EC", "P-256"):
            guard let x = jwk["x"].flatMap(Base64URL.decode), let y = jwk["y"].flatMap(Base64URL.decode), x.count == 32, y.count == 32
            else { return nil }
            self.init(kid: kid, algorithm: .es256, publicKey: Data([0x04]) + x + y)
        default:
            return nil
        }
    }

    /// One signature check with swift-crypto (Ed25519 or ECDSA P-256, raw r‖s).
    public func verify(signature: Data, over message: Data) -> Bool {
        switch algorithm {
        case .edDSA:
            guard signature.count == 64, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
            return key.isValidSignature(signature, for: message)
        case .es256:
            guard signature.count == 64, let key = try? P256.Signing.PublicKey(x963Representation: publicKey),
                let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.isValidSignature(sig, for: message)
        }
    }
}

/// A private signing key (Ed25519 or P-256) with its key id.
public struct SigningKeyMaterial: Sendable {
    public var kid: String
    public var algorithm: JWSAlgorithm
    /// Ed25519: the 32-byte seed; ES256: the 32-byte scalar.
    let privateKey: Data

    public init(kid: String, algorithm: JWSAlgorithm, privateKey: Data) throws {
        switch algorithm {
        case .edDSA: _ = try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)
        case .es256: _ = try P256.Signing.PrivateKey(rawRepresentation: privateKey)
        }
        self.kid = kid
        self.algorithm = algorithm
        self.privateKey = privateKey
    }

    public static func generate(kid: String, algorithm: JWSAlgorithm) -> SigningKeyMaterial {
        let raw = switch algorithm {
        case .edDSA: Curve25519.Signing.PrivateKey().rawRepresentation
        case .es256: P256.Signing.PrivateKey().rawRepresentation
        }
        // Freshly generated raw keys always load.
        return try! SigningKeyMaterial(kid: kid, algorithm: algorithm, privateKey: raw)
    }

    /// The raw private key, for sealing in a ``KeyVault``.
    public var rawPrivateKey: Data { privateKey }

    public var verificationKey: VerificationKey {
        let publicKey = switch algorithm {
        case .edDSA: (try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKey))?.publicKey.rawRepresentation ?? Data()
        case .es256: (try? P256.Signing.PrivateKey(rawRepresentation: privateKey))?.publicKey.x963Representation ?? Data()
        }
        return VerificationKey(kid: kid, algorithm: algorithm, publicKey: publicKey)
    }

    func sign(_ message: Data) throws -> Data {
        switch algorithm {
        case .edDSA: try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey).signature(for: message)
        case .es256: try P256.Signing.PrivateKey(rawRepresentation: privateKey).signature(for: message).rawRepresentation
        }
    }
}

/// JWS Compact Serialization (RFC 7515) for Tongban's signed tokens, with a closed set of algorithms.
///
/// Decoding is strict: three canonical base64url parts, a JSON object header whose `alg` is one this
/// platform issues and matches the key found by `kid` (so `none`, HS256-with-a-public-key and algorithm
/// swaps fail), a size limit, and a signature check before the payload is trusted.
public enum CompactJWS {
    public static let maximumLength = 4096
    /// Shared: decoding is stateless, and a decoder per token was a tenth of an offline verification.
    public static let decoder = JSONDecoder()

    public enum Failure: String, Error, Sendable, CustomStringConvertible {
        case malformed
        case oversized
        case unsupportedAlgorithm = "unsupported_algorithm"
        case unknownKey = "unknown_issuer"
        case badSignature = "bad_signature"

        public var description: String {
            switch self {
            case .malformed: "the payload is not a well-formed signed token"
            case .oversized: "the payload is longer than \(CompactJWS.maximumLength) characters"
            case .unsupportedAlgorithm: "the token names a signature algorithm this platform does not accept"
            case .unknownKey: "the token was signed by a key that is not on the trust list"
            case .badSignature: "the signature does not match the content"
            }
        }
    }

    /// Signs `payload` (JSON bytes) with `key`; `type` goes in the `typ` header.
    public static func sign(payload: Data, key: SigningKeyMaterial, type: String, contentType: String? = nil) throws -> String {
        let cty = contentType.map { #","cty":"\#($0)""# } ?? ""
        let header = #"{"alg":"\#(key.algorithm.rawValue)","kid":"\#(key.kid)","typ":"\#(type)"\#(cty)}"#
        let signingInput = Base64URL.encode(Data(header.utf8)) + "." + Base64URL.encode(payload)
        let signature = try key.sign(Data(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// Decoded headers by their base64url text: every token of one key and type carries the same header, so
    /// verifiers decode it once. Bounded (cleared when full), so odd headers cannot grow it.
    static let headerCache = NIOLockedValueBox<[Substring: Header]>([:])
    static let headerCacheLimit = 256

    static func header(_ encoded: Substring) -> Header? {
        if let hit = headerCache.withLockedValue({ $0[encoded] }) { return hit }
        guard let data = Base64URL.decode(encoded), let header = try? decoder.decode(Header.self, from: data) else { return nil }
        headerCache.withLockedValue { cache in
            if cache.count >= headerCacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[Substring(String(encoded))] = header
        }
        return header
    }

    /// The header members read; any other value type for them makes the token malformed.
    struct Header: Decodable, Sendable {
        var alg: String?
        var kid: String?
        var typ: String?
        var crit: [String]?
    }

    public struct Verified: Sendable {
        public var kid: String
        public var type: String?
        public var payload: Data
    }

    /// The header's key id, read without verifying (to find the key).
    public static func keyID(of token: String) -> String? {
        // Byte-wise: splitting a String by Character walks grapheme clusters, many times slower.
        guard let first = token.utf8.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false).first
        else { return nil }
        return header(Substring(first))?.kid
    }

    /// Verifies `token` against the keys `lookup` finds by kid; the payload bytes when valid.
    public static func verify(_ token: String, lookup: (String) -> VerificationKey?) throws(Failure) -> Verified {
        guard token.utf8.count <= maximumLength else { throw .oversized }
        let parts = token.utf8.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.header(Substring(parts[0])), let payload = Base64URL.decode(Substring(parts[1])),
            let signature = Base64URL.decode(Substring(parts[2]))
        else { throw .malformed }
        guard let algName = header.alg, let alg = JWSAlgorithm(rawValue: algName) else {
            throw .unsupportedAlgorithm
        }
        // Extensions the verifier would have to understand are refused (RFC 7515 §4.1.11).
        if header.crit != nil { throw .unsupportedAlgorithm }
        guard let kid = header.kid, let key = lookup(kid) else { throw .unknownKey }
        guard key.algorithm == alg else { throw .unsupportedAlgorithm }
        let signingInput = Data(token.utf8.prefix(parts[0].count + 1 + parts[1].count))
        guard key.verify(signature: signature, over: signingInput) else { throw .badSignature }
        return Verified(kid: kid, type: header.typ, payload: payload)
    }
}
