import Fluent
import Foundation

/// Status of a holder's device certificate.
public enum HolderDeviceStatus: String, Codable, Sendable, CaseIterable {
    case active, revoked
}

/// A holder's phone that signs offline codes, with the certificate the platform issued for its key.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class HolderDevice: Model, @unchecked Sendable {
    public static let schema = "codes_holder_devices"

    @ID(key: .id) public var id: UUID?
    @Field(key: "holder_id") public var holderID: UUID
    @Field(key: "name") public var name: String
    /// The device's Ed25519 public key, base64url.
    @Field(key: "public_key") public var publicKey: String
    @Field(key: "certificate_id") public var certificateID: String
    @Field(key: "certificate") public var certificate: String
    @Field(key: "status") public var status: HolderDeviceStatus
    @Field(key: "issued_at") public var issuedAt: Date
    @Field(key: "expires_at") public var expiresAt: Date
    @OptionalField(key: "revoked_at") public var revokedAt: Date?

    public init() {}
}
