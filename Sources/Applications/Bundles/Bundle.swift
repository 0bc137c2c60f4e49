import Fluent
import Foundation
import SQLKit
import TongbanCore

/// A 一件事 bundle: several services applied for with one combined form (a field shared by several
/// services is asked once) and handled by their departments in parallel.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class ServiceBundle: Model, @unchecked Sendable {
    public static let schema = "applications_bundles"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "name") public var name: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "description") public var description: String
    @Field(key: "description_en") public var descriptionEn: String
    /// Member service codes, in order, as a JSON array.
    @Field(key: "service_codes") public var serviceCodes: String
    @Field(key: "published") public var published: Bool
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public var codes: [String] { (try? JSONText.decode([String].self, serviceCodes)) ?? [] }
}

/// Statuses of a bundle application as a whole, derived from its sub-applications.
public enum BundleStatus: String, Codable, Sendable, CaseIterable {
    case draft, submitted
    case inProgress = "in_progress"
    case correctionRequired = "correction_required"
    /// Every sub-application approved.
    case completed
    /// Some approved, some not.
    case partiallyApproved = "partially_approved"
    /// None approved.
    case rejected, withdrawn
}

/// One application for a bundle: the combined form and, once submitted, one sub-application per service.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class BundleApplication: Model, @unchecked Sendable {
    public static let schema = "applications_bundle_applications"

    @ID(key: .id) public var id: UUID?
    /// 14 digits, like an application number (the progress query finds both).
    @Field(key: "number") public var number: String
    @Field(key: "bundle_id") public var bundleID: UUID
    @Field(key: "applicant_id") public var applicantID: UUID
    @OptionalField(key: "enterprise_id") public var enterpriseID: UUID?
    @Field(key: "id_tail") public var idTail: String
    @Field(key: "form") public var form: String
    @OptionalField(key: "submitted_at") public var submittedAt: Date?
    @OptionalField(key: "withdrawn_at") public var withdrawnAt: Date?
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}
}

struct CreateBundles: AsyncMigration {
    var name: String { "Applications.CreateBundles" }

    func prepare(on database: any Database) async throws {
        try await database.schema(ServiceBundle.schema)
            .id()
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("name_en", .string, .required)
            .field("description", .string, .required)
            .field("description_en", .string, .required)
            .field("service_codes", .string, .required)
            .field("published", .bool, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "code")
            .create()
        try await database.schema(BundleApplication.schema)
            .id()
            .field("number", .string, .required)
            .field("bundle_id", .uuid, .required)
            .field("applicant_id", .uuid, .required)
            .field("enterprise_id", .uuid)
            .field("id_tail", .string, .required)
            .field("form", .string, .required)
            .field("submitted_at", .datetime)
            .field("withdrawn_at", .datetime)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "number")
            .create()
        try await database.schema(ApplicationRecord.schema).field("bundle_application_id", .uuid).update()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "applications_bundle_apps_applicant_idx").on(BundleApplication.schema)
                .column("applicant_id").column("created_at").run()
            try await sql.create(index: "applications_bundle_member_idx").on(ApplicationRecord.schema)
                .column("bundle_application_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        if let sql = database as? any SQLDatabase {
            try await sql.drop(index: "applications_bundle_member_idx").ifExists().run()
        }
        try await database.schema(ApplicationRecord.schema).deleteField("bundle_application_id").update()
        try await database.schema(BundleApplication.schema).delete()
        try await database.schema(ServiceBundle.schema).delete()
    }
}
