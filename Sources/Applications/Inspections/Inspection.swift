import Fluent
import Foundation
import SQLKit
import TongbanCore

/// One item of a service's site-inspection checklist.
public struct ChecklistItem: Codable, Sendable, Equatable {
    public var code: String
    public var label: String
    public var labelEn: String
    /// Whether the applicant must upload a photo of this item before the inspection.
    public var photo: Bool
}

/// The checklist of a service that needs a (remote video) site inspection (云现勘).
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class InspectionChecklist: Model, @unchecked Sendable {
    public static let schema = "applications_inspection_checklists"

    @ID(key: .id) public var id: UUID?
    @Field(key: "service_id") public var serviceID: UUID
    /// JSON array of `ChecklistItem`.
    @Field(key: "items") public var itemsJSON: String
    /// The statement the applicant signs before the inspection.
    @Field(key: "commitment") public var commitment: String

    public init() {}

    public var items: [ChecklistItem] { (try? JSONText.decode([ChecklistItem].self, itemsJSON)) ?? [] }
}

public enum InspectionStatus: String, Codable, Sendable, CaseIterable {
    case scheduled, passed, failed, cancelled
}

public enum ItemResult: String, Codable, Sendable, CaseIterable {
    case pass, fail
}

/// The inspector's finding on one checklist item.
public struct ItemFinding: Codable, Sendable, Equatable {
    public var code: String
    public var result: ItemResult
    public var note: String?
}

/// A booked remote site inspection of an application: the video slot, the applicant's signed commitment,
/// the inspector's findings per item and the conclusion.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class Inspection: Model, @unchecked Sendable {
    public static let schema = "applications_inspections"

    @ID(key: .id) public var id: UUID?
    @Field(key: "application_id") public var applicationID: UUID
    @Field(key: "department_id") public var departmentID: UUID
    @Field(key: "scheduled_at") public var scheduledAt: Date
    /// `<department>|<slot start>` while the booking holds the slot (unique); nil once cancelled.
    @OptionalField(key: "slot_key") public var slotKey: String?
    @Field(key: "status") public var status: InspectionStatus
    /// The video room the applicant and inspector join.
    @Field(key: "room") public var room: String
    @OptionalField(key: "commitment_signed_at") public var commitmentSignedAt: Date?
    /// SHA-256 over the statement, application, applicant and time: the receipt of the signature.
    @OptionalField(key: "commitment_digest") public var commitmentDigest: String?
    @OptionalField(key: "findings") public var findingsJSON: String?
    @OptionalField(key: "inspector_id") public var inspectorID: UUID?
    @OptionalField(key: "note") public var note: String?
    @OptionalField(key: "concluded_at") public var concludedAt: Date?
    /// Working days from submission of the application to the conclusion of the inspection.
    @OptionalField(key: "working_days") public var workingDays: Int?
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public var findings: [ItemFinding] { findingsJSON.flatMap { try? JSONText.decode([ItemFinding].self, $0) } ?? [] }
}

struct CreateInspections: AsyncMigration {
    var name: String { "Applications.CreateInspections" }

    func prepare(on database: any Database) async throws {
        try await database.schema(InspectionChecklist.schema)
            .id()
            .field("service_id", .uuid, .required)
            .field("items", .string, .required)
            .field("commitment", .string, .required)
            .unique(on: "service_id")
            .create()
        try await database.schema(Inspection.schema)
            .id()
            .field("application_id", .uuid, .required)
            .field("department_id", .uuid, .required)
            .field("scheduled_at", .datetime, .required)
            .field("slot_key", .string)
            .field("status", .string, .required)
            .field("room", .string, .required)
            .field("commitment_signed_at", .datetime)
            .field("commitment_digest", .string)
            .field("findings", .string)
            .field("inspector_id", .uuid)
            .field("note", .string)
            .field("concluded_at", .datetime)
            .field("working_days", .int)
            .field("created_at", .datetime, .required)
            .unique(on: "slot_key")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "applications_inspections_application_idx").on(Inspection.schema).column("application_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema(Inspection.schema).delete()
        try await database.schema(InspectionChecklist.schema).delete()
    }
}
