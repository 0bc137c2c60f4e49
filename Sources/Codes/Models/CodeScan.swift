import Fluent
import Foundation

/// How a scan reached the platform.
public enum ScanSource: String, Codable, Sendable, CaseIterable {
    /// `POST /api/v1/codes/verify` at the moment of scanning.
    case online
    /// Uploaded later by an offline gate (`POST /api/v1/codes/scans/batch`).
    case batch
}

/// One scan: who scanned whom, when, where, what was disclosed, and the outcome.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class CodeScan: Model, @unchecked Sendable {
    public static let schema = "codes_scans"

    @ID(key: .id) public var id: UUID?
    @Field(key: "organisation_id") public var organisationID: UUID
    @Field(key: "device_id") public var deviceID: UUID
    /// Nil when the code did not identify a holder (bad signature, garbage).
    @OptionalField(key: "holder_id") public var holderID: UUID?
    @OptionalField(key: "code_type") public var codeType: String?
    @Field(key: "scenario") public var scenario: String
    @OptionalField(key: "nonce") public var nonce: String?
    @Field(key: "valid") public var valid: Bool
    @Field(key: "reason") public var reason: String
    /// JSON array of the attribute names released to the verifier.
    @Field(key: "disclosed") public var disclosed: String
    @Field(key: "location") public var location: String
    @Field(key: "source") public var source: ScanSource
    @Field(key: "scanned_at") public var scannedAt: Date
    @Field(key: "recorded_at") public var recordedAt: Date
    /// `<organisation id>:<nonce>` on accepted scans only; unique, so a code is accepted once per verifier
    /// even under concurrent scans (NULL on every other row).
    @OptionalField(key: "accept_key") public var acceptKey: String?

    public init() {}
}

/// A hospital encounter opened by scanning a medical-insurance code.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class MedicalEncounter: Model, @unchecked Sendable {
    public static let schema = "codes_encounters"

    @ID(key: .id) public var id: UUID?
    @Field(key: "scan_id") public var scanID: UUID
    @Field(key: "organisation_id") public var organisationID: UUID
    @Field(key: "holder_id") public var holderID: UUID
    @Field(key: "insurance_number") public var insuranceNumber: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}
