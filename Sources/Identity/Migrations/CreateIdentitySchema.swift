import Fluent
import SQLKit

/// Creates users, enterprises, memberships, regions, departments and staff roles.
struct CreateIdentitySchema: AsyncMigration {
    var name: String { "Identity.CreateIdentitySchema" }

    func prepare(on database: any Database) async throws {
        try await database.schema(User.schema)
            .id()
            .field("username", .string, .required)
            .field("password_hash", .string, .required)
            .field("kind", .string, .required)
            .field("name", .string, .required)
            .field("id_number", .string)
            .field("phone", .string)
            .field("disabled", .bool, .required)
            .field("created_at", .datetime)
            .field("updated_at", .datetime)
            .unique(on: "username")
            .create()
        try await database.schema(Region.schema)
            .id()
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("name_en", .string, .required)
            .field("level", .string, .required)
            .field("parent_id", .uuid, .references(Region.schema, "id"))
            .unique(on: "code")
            .create()
        try await database.schema(Department.schema)
            .id()
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("name_en", .string, .required)
            .field("region_id", .uuid, .required, .references(Region.schema, "id"))
            .unique(on: "code")
            .create()
        try await database.schema(StaffAssignment.schema)
            .id()
            .field("user_id", .uuid, .required, .references(User.schema, "id", onDelete: .cascade))
            .field("department_id", .uuid, .references(Department.schema, "id"))
            .field("role", .string, .required)
            .field("created_at", .datetime)
            .unique(on: "user_id", "department_id", "role")
            .create()
        try await database.schema(Enterprise.schema)
            .id()
            .field("name", .string, .required)
            .field("credit_code", .string, .required)
            .field("legal_representative_id", .uuid, .required, .references(User.schema, "id"))
            .field("created_at", .datetime)
            .unique(on: "credit_code")
            .create()
        try await database.schema(EnterpriseMember.schema)
            .id()
            .field("enterprise_id", .uuid, .required, .references(Enterprise.schema, "id", onDelete: .cascade))
            .field("user_id", .uuid, .required, .references(User.schema, "id", onDelete: .cascade))
            .field("role", .string, .required)
            .field("created_at", .datetime)
            .unique(on: "enterprise_id", "user_id")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "identity_regions_parent_idx").on(Region.schema).column("parent_id").run()
            try await sql.create(index: "identity_staff_roles_user_idx").on(StaffAssignment.schema).column("user_id").run()
            try await sql.create(index: "identity_members_user_idx").on(EnterpriseMember.schema).column("user_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        for schema in [
            EnterpriseMember.schema, Enterprise.schema, StaffAssignment.schema, Department.schema, Region.schema,
            User.schema,
        ] {
            try await database.schema(schema).delete()
        }
    }
}

/// Adds the optional e-mail address (notification copies by e-mail).
struct AddUserEmail: AsyncMigration {
    var name: String { "Identity.AddUserEmail" }

    func prepare(on database: any Database) async throws {
        try await database.schema(User.schema).field("email", .string).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(User.schema).deleteField("email").update()
    }
}
