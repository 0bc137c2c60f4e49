import Fluent
import SQLKit

/// Creates applications and process bindings.
struct CreateApplicationsSchema: AsyncMigration {
    var name: String { "Applications.CreateApplicationsSchema" }

    func prepare(on database: any Database) async throws {
        try await database.schema(ApplicationRecord.schema)
            .id()
            .field("number", .string, .required)
            .field("service_id", .uuid, .required)
            .field("service_code", .string, .required)
            .field("applicant_id", .uuid, .required)
            .field("enterprise_id", .uuid)
            .field("id_tail", .string, .required)
            .field("status", .string, .required)
            .field("form", .string, .required)
            .field("instance_id", .uuid)
            .field("submitted_at", .datetime)
            .field("decided_at", .datetime)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "number")
            .create()
        try await database.schema(ProcessBinding.schema)
            .id()
            .field("service_id", .uuid, .required)
            .field("process_key", .string, .required)
            .unique(on: "service_id")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "applications_applicant_idx").on(ApplicationRecord.schema)
                .column("applicant_id").column("created_at").run()
            try await sql.create(index: "applications_instance_idx").on(ApplicationRecord.schema).column("instance_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema(ProcessBinding.schema).delete()
        try await database.schema(ApplicationRecord.schema).delete()
    }
}
