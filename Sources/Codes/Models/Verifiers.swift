import Fluent
import Foundation

/// An organisation that scans codes (a venue, a hospital, a transit operator).
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class VerifierOrganisation: Model, @unchecked Sendable {
    public static let schema = "codes_verifier_organisations"

    @ID(key: .id) public var id: UUID?
    @Field(key: "name") public var name: String
    @OptionalField(key: "created_by") public var createdBy: UUID?
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}

/// Status of a verifier device.
public enum VerifierDeviceStatus: String, Codable, Sendable, CaseIterable {
    case active, disabled
}

/// A scanner device of a verifier organisation, registered for one scenario; it authenticates with an API
/// key of which only the SHA-256 hash is stored.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class VerifierDevice: Model, @unchecked Sendable {
    public static let schema = "codes_verifier_devices"

    @ID(key: .id) public var id: UUID?
    @Field(key: "organisation_id") public var organisationID: UUID
    @Field(key: "name") public var name: String
    @Field(key: "scenario") public var scenario: String
    @Field(key: "location") public var location: String
    /// Hex SHA-256 of the API key.
    @Field(key: "key_hash") public var keyHash: String
    /// The key's last four characters, to tell keys apart in listings.
    @Field(key: "key_hint") public var keyHint: String
    @Field(key: "status") public var status: VerifierDeviceStatus
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}
