import Fluent
import SQLKit

/// Licence types, signing keys and licences.
struct CreateLicences: AsyncMigration {
    var name: String { "Licences.CreateLicences" }

    func prepare(on database: any Database) async throws {
        try await database.schema(LicenceType.schema)
            .id()
            .field("code", .string, .required)
            .field("name_zh", .string, .required)
            .field("name_en", .string, .required)
            .field("department_id", .uuid, .required)
            .field("fields", .string, .required)
            .field("holder_kinds", .string, .required)
            .field("validity_years", .int, .required)
            .field("composite", .bool, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "code")
            .create()
        try await database.schema(DepartmentKey.schema)
            .id()
            .field("department_id", .uuid, .required)
            .field("kid", .string, .required)
            .field("algorithm", .string, .required)
            .field("public_key", .string, .required)
            .field("sealed_private_key", .string, .required)
            .field("status", .string, .required)
            .field("created_at", .datetime, .required)
            .field("retired_at", .datetime)
            .unique(on: "kid")
            .create()
        try await database.schema(Licence.schema)
            .id()
            .field("number", .string, .required)
            .field("type_id", .uuid, .required, .references(LicenceType.schema, "id"))
            .field("type_code", .string, .required)
            .field("department_id", .uuid, .required)
            .field("holder_kind", .string, .required)
            .field("holder_key", .string, .required)
            .field("holder_masked", .string, .required)
            .field("holder_user_id", .uuid)
            .field("holder_enterprise_id", .uuid)
            .field("fields", .string, .required)
            .field("valid_from", .datetime, .required)
            .field("valid_until", .datetime)
            .field("status", .string, .required)
            .field("status_reason", .string)
            .field("kid", .string, .required)
            .field("payload", .string, .required)
            .field("application_id", .uuid)
            .field("issued_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "number")
            .create()
        try await database.schema(LicenceComponent.schema)
            .id()
            .field("composite_id", .uuid, .required, .references(Licence.schema, "id", onDelete: .cascade))
            .field("component_id", .uuid, .required, .references(Licence.schema, "id"))
            .field("position", .int, .required)
            .unique(on: "composite_id", "component_id")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "licences_components_composite_idx").on(LicenceComponent.schema).column("composite_id").run()
            try await sql.create(index: "licences_holder_user_idx").on(Licence.schema).column("holder_user_id").run()
            try await sql.create(index: "licences_holder_key_idx").on(Licence.schema).column("holder_key").run()
            try await sql.create(index: "licences_keys_department_idx").on(DepartmentKey.schema).column("department_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        for schema in [LicenceComponent.schema, Licence.schema, DepartmentKey.schema, LicenceType.schema] {
            try await database.schema(schema).delete()
        }
    }
}

/// Status list positions: one counter per department, one index per licence.
struct AddStatusIndex: AsyncMigration {
    var name: String { "Licences.AddStatusIndex" }

    func prepare(on database: any Database) async throws {
        try await database.schema(Licence.schema).field("status_index", .int).update()
        try await database.schema("licences_status_counters")
            .field("department_id", .uuid, .identifier(auto: false))
            .field("next_index", .int, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("licences_status_counters").delete()
        try await database.schema(Licence.schema).deleteField("status_index").update()
    }
}
