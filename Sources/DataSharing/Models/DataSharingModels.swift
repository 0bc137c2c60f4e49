import Fluent
import Foundation
import TongbanCore

/// How a field's value is masked when the caller is not granted the full value.
public enum FieldMask: String, Codable, Sendable, CaseIterable {
    case none
    /// `张*三`: first and last characters stay (two characters: `张*`).
    case name
    /// `110105********002X`: 6 + 4 characters stay.
    case idNumber
    /// `138****5678`: 3 + 4 digits stay.
    case phone
    /// `济南市历下区***`: kept down to the district (区/县/旗, else the city).
    case address
    /// A credit code: 6 + 4 characters stay.
    case creditCode
}

/// One field of a data resource.
public struct ResourceField: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case string, integer, decimal, date }
    public var name: String
    public var nameZh: String
    public var nameEn: String
    public var type: Kind
    /// 1 (public) … 4 (most sensitive).
    public var sensitivity: Int
    public var mask: FieldMask

    public init(name: String, nameZh: String, nameEn: String, type: Kind, sensitivity: Int, mask: FieldMask) {
        self.name = name
        self.nameZh = nameZh
        self.nameEn = nameEn
        self.type = type
        self.sensitivity = sensitivity
        self.mask = mask
    }
}

/// Whose data a resource holds: the row key is an ID number (person), a credit code (enterprise), or a free key.
public enum ResourceSubject: String, Codable, Sendable { case person, enterprise, none }

/// 共享类型 (GB/T 38664 style): unconditional, conditional, not shareable.
public enum SharingType: String, Codable, Sendable, CaseIterable {
    case unconditional
    case conditional
    case notShareable = "not_shareable"
}

/// 开放类型: open, conditionally open, not open.
public enum OpenType: String, Codable, Sendable, CaseIterable {
    case open
    case conditionalOpen = "conditional_open"
    case notOpen = "not_open"
}

/// A data resource in the catalogue; its rows live in the table `dsx_<code>` (``DataTables``).
public final class DataResource: Model, @unchecked Sendable {
    public static let schema = "ds_resources"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "name_zh") public var nameZh: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "provider_department_id") public var providerDepartmentID: UUID
    @Field(key: "subject") public var subject: ResourceSubject
    /// JSON array of ``ResourceField``.
    @Field(key: "fields") public var fieldsJSON: String
    @Field(key: "update_frequency") public var updateFrequency: String
    @Field(key: "sharing_type") public var sharingType: SharingType
    @Field(key: "open_type") public var openType: OpenType
    /// A provincial table whose rows carry a region and can flow back to cities (数据回流).
    @Field(key: "reflow") public var reflow: Bool
    /// The provincial data authority that approves reflow of this table.
    @OptionalField(key: "authority_department_id") public var authorityDepartmentID: UUID?
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public var fields: [ResourceField] { (try? JSONText.decode([ResourceField].self, fieldsJSON)) ?? [] }
}

/// Status of an inter-department sharing request.
public enum SharingStatus: String, Codable, Sendable { case pending, approved, refused }

/// A department's application to use a resource (fields, purpose, legal basis, duration).
public final class SharingRequest: Model, @unchecked Sendable {
    public static let schema = "ds_sharing_requests"

    @ID(key: .id) public var id: UUID?
    @Field(key: "resource_id") public var resourceID: UUID
    @Field(key: "consumer_department_id") public var consumerDepartmentID: UUID
    @Field(key: "requested_by") public var requestedBy: UUID
    /// JSON array of field names.
    @Field(key: "fields") public var fieldsJSON: String
    /// JSON array of field names granted unmasked (subset of `fields`).
    @Field(key: "full_fields") public var fullFieldsJSON: String
    @Field(key: "purpose") public var purpose: String
    @Field(key: "legal_basis") public var legalBasis: String
    @Field(key: "duration_days") public var durationDays: Int
    @Field(key: "status") public var status: SharingStatus
    @OptionalField(key: "decided_by") public var decidedBy: UUID?
    @OptionalField(key: "decided_at") public var decidedAt: Date?
    @OptionalField(key: "reason") public var reason: String?
    @OptionalField(key: "valid_until") public var validUntil: Date?
    /// SHA-256 (hex) of the current API key; the key itself is shown once.
    @OptionalField(key: "key_hash") public var keyHash: String?
    @OptionalField(key: "key_prefix") public var keyPrefix: String?
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public var fields: [String] { (try? JSONText.decode([String].self, fieldsJSON)) ?? [] }
    public var fullFields: [String] { (try? JSONText.decode([String].self, fullFieldsJSON)) ?? [] }
}

/// One API call made with a sharing credential (for rankings and the audit trail).
public final class DataCall: Model, @unchecked Sendable {
    public static let schema = "ds_calls"

    @ID(key: .id) public var id: UUID?
    @Field(key: "resource_id") public var resourceID: UUID
    @Field(key: "consumer_department_id") public var consumerDepartmentID: UUID
    @Field(key: "sharing_request_id") public var sharingRequestID: UUID
    @Field(key: "rows") public var rows: Int
    @Field(key: "called_at") public var calledAt: Date

    public init() {}
}

/// Who asks for personal data under a consent.
public enum RequesterKind: String, Codable, Sendable { case department, enterprise }

/// Status of a consent request.
public enum ConsentRequestStatus: String, Codable, Sendable { case pending, approved, declined, expired }

/// One requested item: a resource and some of its fields (`full`: fields asked unmasked).
public struct ConsentItem: Codable, Sendable, Equatable {
    public var resource: String
    public var fields: [String]
    public var full: [String]?
}

/// A request for a person's data, shown to the person with the four clarities (who, scenario, which data, how long).
public final class ConsentRequest: Model, @unchecked Sendable {
    public static let schema = "ds_consent_requests"

    @ID(key: .id) public var id: UUID?
    @Field(key: "requester_kind") public var requesterKind: RequesterKind
    /// The department's or enterprise's id.
    @Field(key: "requester_id") public var requesterID: UUID
    @Field(key: "requester_name") public var requesterName: String
    @Field(key: "requested_by") public var requestedBy: UUID
    @Field(key: "scenario") public var scenario: String
    @Field(key: "purpose") public var purpose: String
    /// JSON array of ``ConsentItem``.
    @Field(key: "items") public var itemsJSON: String
    @Field(key: "duration_days") public var durationDays: Int
    /// SHA-256 (hex) of the ID number of the only person who may approve; nil for scan-to-authorise by anyone.
    @OptionalField(key: "subject_hash") public var subjectHash: String?
    /// Random code in the QR, so that only someone who saw the QR can open the request.
    @Field(key: "code") public var code: String
    @Field(key: "status") public var status: ConsentRequestStatus
    @Field(key: "expires_at") public var expiresAt: Date
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public var items: [ConsentItem] { (try? JSONText.decode([ConsentItem].self, itemsJSON)) ?? [] }
}

/// Status of a consent.
public enum ConsentStatus: String, Codable, Sendable { case active, revoked, expired }

/// A consent a person gave: the signed receipt and its scope.
public final class Consent: Model, @unchecked Sendable {
    public static let schema = "ds_consents"

    @ID(key: .id) public var id: UUID?
    @Field(key: "request_id") public var requestID: UUID
    @Field(key: "person_id") public var personID: UUID
    @Field(key: "requester_kind") public var requesterKind: RequesterKind
    @Field(key: "requester_id") public var requesterID: UUID
    @Field(key: "requester_name") public var requesterName: String
    @Field(key: "scenario") public var scenario: String
    @Field(key: "items") public var itemsJSON: String
    @Field(key: "valid_from") public var validFrom: Date
    @Field(key: "valid_until") public var validUntil: Date
    @Field(key: "status") public var status: ConsentStatus
    @OptionalField(key: "revoked_at") public var revokedAt: Date?
    /// The signed receipt (JSON text).
    @Field(key: "receipt") public var receipt: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public var items: [ConsentItem] { (try? JSONText.decode([ConsentItem].self, itemsJSON)) ?? [] }
}

/// One use of a consent: a fetch by the requester.
public final class ConsentUse: Model, @unchecked Sendable {
    public static let schema = "ds_consent_uses"

    @ID(key: .id) public var id: UUID?
    @Field(key: "consent_id") public var consentID: UUID
    @Field(key: "fetched_by") public var fetchedBy: UUID
    /// JSON array of "resource.field" strings released.
    @Field(key: "items") public var itemsJSON: String
    @Field(key: "audit_index") public var auditIndex: Int
    @Field(key: "fetched_at") public var fetchedAt: Date

    public init() {}
}

/// Ed25519 keys that sign consent receipts (private keys sealed with the key vault).
public final class ReceiptKey: Model, @unchecked Sendable {
    public static let schema = "ds_receipt_keys"

    @ID(key: .id) public var id: UUID?
    @Field(key: "kid") public var kid: String
    @Field(key: "public_key") public var publicKey: String
    @Field(key: "sealed_private_key") public var sealedPrivateKey: String
    @Field(key: "active") public var active: Bool
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}

/// Reflow work order status: city applies → source confirms → authority approves → runs.
public enum ReflowStatus: String, Codable, Sendable {
    case submitted
    case confirmed
    case approved
    case refused
    case cancelled
}

/// One table of a reflow order.
public struct ReflowTable: Codable, Sendable, Equatable {
    public var resource: String
    public var fields: [String]
}

/// A city's application for provincial data to flow back into its own enclave.
public final class ReflowOrder: Model, @unchecked Sendable {
    public static let schema = "ds_reflow_orders"

    @ID(key: .id) public var id: UUID?
    @Field(key: "number") public var number: String
    /// The city's region code (e.g. 330100); its rows are those whose region code starts with the city prefix.
    @Field(key: "city") public var city: String
    @Field(key: "applicant_department_id") public var applicantDepartmentID: UUID
    @Field(key: "requested_by") public var requestedBy: UUID
    /// JSON array of ``ReflowTable``.
    @Field(key: "tables") public var tablesJSON: String
    @Field(key: "purpose") public var purpose: String
    /// Refresh interval in hours (0: manual only).
    @Field(key: "refresh_hours") public var refreshHours: Int
    @Field(key: "status") public var status: ReflowStatus
    @OptionalField(key: "reason") public var reason: String?
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}

    public var tables: [ReflowTable] { (try? JSONText.decode([ReflowTable].self, tablesJSON)) ?? [] }
}

/// One step in a reflow order's history (applied, confirmed, approved, refused, run).
public final class ReflowEvent: Model, @unchecked Sendable {
    public static let schema = "ds_reflow_events"

    @ID(key: .id) public var id: UUID?
    @Field(key: "order_id") public var orderID: UUID
    @Field(key: "action") public var action: String
    @OptionalField(key: "actor") public var actor: UUID?
    @OptionalField(key: "department_id") public var departmentID: UUID?
    @OptionalField(key: "comment") public var comment: String?
    @Field(key: "at") public var at: Date

    public init() {}
}

/// One slicing run of one table of an order: rows copied, watermark reached, checksum.
public final class ReflowRun: Model, @unchecked Sendable {
    public static let schema = "ds_reflow_runs"

    @ID(key: .id) public var id: UUID?
    @Field(key: "order_id") public var orderID: UUID
    @Field(key: "resource") public var resource: String
    @Field(key: "started_at") public var startedAt: Date
    @Field(key: "finished_at") public var finishedAt: Date
    @Field(key: "rows_copied") public var rowsCopied: Int
    @Field(key: "rows_total") public var rowsTotal: Int
    /// Highest `updated_at` (epoch milliseconds) copied so far: the next run copies only newer rows.
    @Field(key: "watermark") public var watermark: Int64
    /// `<rows>:<sum of row hashes>` over the whole enclave table, equal to the same over the source slice.
    @Field(key: "checksum") public var checksum: String
    @Field(key: "verified") public var verified: Bool

    public init() {}
}
