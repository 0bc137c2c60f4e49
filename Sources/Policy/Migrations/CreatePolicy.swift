import Fluent
import SQLKit

/// Policy documents, items and enterprise profiles.
struct CreatePolicy: AsyncMigration {
    var name: String { "Policy.CreatePolicy" }

    func prepare(on database: any Database) async throws {
        try await database.schema(PolicyDocument.schema)
            .id()
            .field("code", .string, .required)
            .field("title_zh", .string, .required)
            .field("title_en", .string, .required)
            .field("issuer_zh", .string, .required)
            .field("issuer_en", .string, .required)
            .field("region", .string)
            .field("issued_on", .string)
            .field("created_at", .datetime, .required)
            .unique(on: "code")
            .create()
        try await database.schema(PolicyItem.schema)
            .id()
            .field("code", .string, .required)
            .field("document_id", .uuid, .references(PolicyDocument.schema, "id"))
            .field("title_zh", .string, .required)
            .field("title_en", .string, .required)
            .field("issuer_zh", .string, .required)
            .field("issuer_en", .string, .required)
            .field("department_id", .uuid)
            .field("conditions", .string, .required)
            .field("amount_expression", .string)
            .field("valid_from", .string)
            .field("valid_until", .string)
            .field("mode", .string, .required)
            .field("audience", .string, .required)
            .field("status", .string, .required)
            .field("version", .int, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "code")
            .create()
        try await database.schema(EnterpriseProfile.schema)
            .id()
            .field("credit_code", .string, .required)
            .field("name", .string, .required)
            .field("attributes", .string, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "credit_code")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "policy_items_status_idx").on(PolicyItem.schema).column("status").run()
        }
    }

    func revert(on database: any Database) async throws {
        for schema in [EnterpriseProfile.schema, PolicyItem.schema, PolicyDocument.schema] {
            try await database.schema(schema).delete()
        }
    }
}
