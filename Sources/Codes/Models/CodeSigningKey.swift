import Fluent
import Foundation
import TongbanCore

/// Status of a platform code-signing key. Retired keys still verify what they signed; compromised keys do not.
public enum CodeKeyStatus: String, Codable, Sendable, CaseIterable {
    case active, retired, compromised
}

/// The platform's code-signing key (Ed25519); the private half is sealed with the master key.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class CodeSigningKey: Model, @unchecked Sendable {
    public static let schema = "codes_signing_keys"

    @ID(key: .id) public var id: UUID?
    @Field(key: "kid") public var kid: String
    /// Base64 of the raw Ed25519 public key.
    @Field(key: "public_key") public var publicKey: String
    @Field(key: "sealed_private_key") public var sealedPrivateKey: String
    @Field(key: "status") public var status: CodeKeyStatus
    @Field(key: "created_at") public var createdAt: Date
    @OptionalField(key: "retired_at") public var retiredAt: Date?

    public init() {}

    public var verificationKey: VerificationKey? {
        guard let raw = Data(base64Encoded: publicKey) else { return nil }
        return VerificationKey(kid: kid, algorithm: .edDSA, publicKey: raw)
    }
}
