import Fluent
import Foundation
import TongbanCore

/// Item types (national exchange codes, GB/T 39554): the ones handled on application.
public enum ServiceCategory: String, Codable, Sendable, CaseIterable {
    case licence = "01"
    case benefit = "05"
    case confirmation = "07"
    case reward = "08"
    case adjudication = "09"
    case otherPower = "10"
    case publicService = "20"
}

/// Who a service is for.
public enum Audience: String, Codable, Sendable, CaseIterable {
    case person
    case enterprise
}

/// 即办件 (done on the spot) or 承诺件 (promised within N working days).
public enum CaseKind: String, Codable, Sendable, CaseIterable {
    case immediate
    case promised
}

/// Scope of cross-region handling (通办).
public enum CrossRegion: String, Codable, Sendable, CaseIterable {
    case national
    case crossProvince = "cross-province"
    case province
    case city
}

/// A required material of a service guide.
public struct Material: Codable, Sendable, Equatable {
    public enum Form: String, Codable, Sendable, CaseIterable { case original, copy, electronic }
    public var name: String
    public var nameEn: String
    public var required: Bool
    public var form: Form
    public var copies: Int
    /// The e-licence type that may replace this material (免提交).
    public var licenceType: String?
}

/// One step of the handling process.
public struct ProcessStep: Codable, Sendable, Equatable {
    public var name: String
    public var nameEn: String
    public var description: String
    public var descriptionEn: String

    public init(name: String, nameEn: String, description: String, descriptionEn: String) {
        self.name = name
        self.nameEn = nameEn
        self.description = description
        self.descriptionEn = descriptionEn
    }
}

/// A service item (政务服务事项) with its guide. Versioned; `published` controls visibility.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class ServiceItem: Model, @unchecked Sendable {
    public static let schema = "catalogue_services"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "name") public var name: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "department_id") public var departmentID: UUID
    @Field(key: "region_id") public var regionID: UUID
    @Field(key: "category") public var category: ServiceCategory
    @Field(key: "for_persons") public var forPersons: Bool
    @Field(key: "for_enterprises") public var forEnterprises: Bool
    @Field(key: "case_kind") public var caseKind: CaseKind
    @Field(key: "statutory_days") public var statutoryDays: Int
    @Field(key: "promised_days") public var promisedDays: Int
    @Field(key: "fee_yuan") public var feeYuan: Double
    @Field(key: "fee_note") public var feeNote: String
    @Field(key: "fee_note_en") public var feeNoteEn: String
    @Field(key: "conditions") public var conditions: String
    @Field(key: "conditions_en") public var conditionsEn: String
    @Field(key: "legal_basis") public var legalBasis: String
    @Field(key: "materials") public var materials: [Material]
    @Field(key: "steps") public var steps: [ProcessStep]
    @Field(key: "online_depth") public var onlineDepth: Int
    @Field(key: "visits") public var visits: Int
    @OptionalField(key: "cross_region") public var crossRegion: CrossRegion?
    @Field(key: "zones") public var zones: [String]
    @Field(key: "keywords") public var keywords: [String]
    @Field(key: "popularity") public var popularity: Int
    @Field(key: "form") public var form: FormSchema
    @Field(key: "version") public var version: Int
    @Field(key: "published") public var published: Bool
    @OptionalField(key: "published_at") public var publishedAt: Date?
    @Field(key: "search_text") public var searchText: String
    @Timestamp(key: "created_at", on: .create) public var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) public var updatedAt: Date?

    public init() {}

    public var audience: [Audience] {
        (forPersons ? [Audience.person] : []) + (forEnterprises ? [Audience.enterprise] : [])
    }
}
