import Fluent
import Foundation
import TongbanCore

/// A field of a licence type.
public struct LicenceField: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case text, date, number }
    public var name: String
    public var labelZh: String
    public var labelEn: String
    public var type: Kind
    /// Shown to anyone who verifies the licence (in the QR payload); otherwise only to the holder and issuer.
    public var `public`: Bool
    public var required: Bool
}

/// Who may hold a licence.
public enum HolderKind: String, Codable, Sendable, CaseIterable {
    case person
    case enterprise
}

/// A kind of electronic licence, issued by one department.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class LicenceType: Model, @unchecked Sendable {
    public static let schema = "licences_types"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "name_zh") public var nameZh: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "department_id") public var departmentID: UUID
    /// JSON array of ``LicenceField``.
    @Field(key: "fields") public var fieldsJSON: String
    /// JSON array of ``HolderKind``.
    @Field(key: "holder_kinds") public var holderKindsJSON: String
    /// 0 means long-term (长期).
    @Field(key: "validity_years") public var validityYears: Int
    /// A composite licence (一业一证) lists licences of other departments as its components.
    @Field(key: "composite") public var composite: Bool
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public var fields: [LicenceField] { (try? JSONText.decode([LicenceField].self, fieldsJSON)) ?? [] }
    public var holderKinds: [HolderKind] { (try? JSONText.decode([HolderKind].self, holderKindsJSON)) ?? HolderKind.allCases }
}

/// Status of a licence.
public enum LicenceStatus: String, Codable, Sendable, CaseIterable {
    case valid, suspended, revoked
}

/// An issued, signed licence.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class Licence: Model, @unchecked Sendable {
    public static let schema = "licences_licences"

    @ID(key: .id) public var id: UUID?
    @Field(key: "number") public var number: String
    @Field(key: "type_id") public var typeID: UUID
    @Field(key: "type_code") public var typeCode: String
    @Field(key: "department_id") public var departmentID: UUID
    @Field(key: "holder_kind") public var holderKind: HolderKind
    /// The holder's resident ID number or unified social credit code (never listed unmasked).
    @Field(key: "holder_key") public var holderKey: String
    @Field(key: "holder_masked") public var holderMasked: String
    @OptionalField(key: "holder_user_id") public var holderUserID: UUID?
    @OptionalField(key: "holder_enterprise_id") public var holderEnterpriseID: UUID?
    /// JSON object of field values.
    @Field(key: "fields") public var fieldsJSON: String
    @Field(key: "valid_from") public var validFrom: Date
    @OptionalField(key: "valid_until") public var validUntil: Date?
    @Field(key: "status") public var status: LicenceStatus
    @OptionalField(key: "status_reason") public var statusReason: String?
    @Field(key: "kid") public var kid: String
    /// The signed token (JWS compact) carried by the QR code.
    @Field(key: "payload") public var payload: String
    @OptionalField(key: "application_id") public var applicationID: UUID?
    /// Position in the issuing department's status lists (nil for licences issued before status lists).
    @OptionalField(key: "status_index") public var statusIndex: Int?
    @Field(key: "issued_by") public var issuedBy: UUID
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}

    public var fields: [String: String] { (try? JSONText.decode([String: String].self, fieldsJSON)) ?? [:] }
}

/// One component of a composite licence (一业一证), in order.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class LicenceComponent: Model, @unchecked Sendable {
    public static let schema = "licences_components"

    @ID(key: .id) public var id: UUID?
    @Field(key: "composite_id") public var compositeID: UUID
    @Field(key: "component_id") public var componentID: UUID
    @Field(key: "position") public var position: Int

    public init() {}
}

/// Status of a department signing key. Retired keys still verify what they signed; compromised keys do not.
public enum SigningKeyStatus: String, Codable, Sendable, CaseIterable {
    case active, retired, compromised
}

/// A department's signing key; the private half is sealed with the master key.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class DepartmentKey: Model, @unchecked Sendable {
    public static let schema = "licences_signing_keys"

    @ID(key: .id) public var id: UUID?
    @Field(key: "department_id") public var departmentID: UUID
    @Field(key: "kid") public var kid: String
    @Field(key: "algorithm") public var algorithm: JWSAlgorithm
    /// Base64 of the public key (Ed25519 raw, or P-256 uncompressed point).
    @Field(key: "public_key") public var publicKey: String
    @Field(key: "sealed_private_key") public var sealedPrivateKey: String
    @Field(key: "status") public var status: SigningKeyStatus
    @Field(key: "created_at") public var createdAt: Date
    @OptionalField(key: "retired_at") public var retiredAt: Date?

    public init() {}

    public var verificationKey: VerificationKey? {
        guard let raw = Data(base64Encoded: publicKey) else { return nil }
        return VerificationKey(kid: kid, algorithm: algorithm, publicKey: raw)
    }
}
