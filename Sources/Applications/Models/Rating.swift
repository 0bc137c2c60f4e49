import Fluent
import Foundation

/// A rating (好差评, GB/T 39735): one per application (一事一评), 1–5 stars. A bad review (1–2) opens a
/// rectification task for the handling department that must be answered within 5 working days.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class Rating: Model, @unchecked Sendable {
    public static let schema = "applications_ratings"

    @ID(key: .id) public var id: UUID?
    @Field(key: "application_id") public var applicationID: UUID
    @Field(key: "service_id") public var serviceID: UUID
    @Field(key: "department_id") public var departmentID: UUID
    @Field(key: "rater_id") public var raterID: UUID
    @Field(key: "score") public var score: Int
    @Field(key: "comment") public var comment: String
    @OptionalField(key: "rectification_instance_id") public var rectificationInstanceID: UUID?
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public var isBad: Bool { score <= 2 }
}

/// Creates the ratings table.
struct CreateRatings: AsyncMigration {
    var name: String { "Applications.CreateRatings" }

    func prepare(on database: any Database) async throws {
        try await database.schema(Rating.schema)
            .id()
            .field("application_id", .uuid, .required)
            .field("service_id", .uuid, .required)
            .field("department_id", .uuid, .required)
            .field("rater_id", .uuid, .required)
            .field("score", .int, .required)
            .field("comment", .string, .required)
            .field("rectification_instance_id", .uuid)
            .field("created_at", .datetime, .required)
            .unique(on: "application_id")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(Rating.schema).delete()
    }
}
