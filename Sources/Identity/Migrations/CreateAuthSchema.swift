import Fluent
import SQLKit

/// Creates refresh tokens, login throttles, login events and the token signing secret.
struct CreateAuthSchema: AsyncMigration {
    var name: String { "Identity.CreateAuthSchema" }

    func prepare(on database: any Database) async throws {
        try await database.schema(RefreshToken.schema)
            .id()
            .field("user_id", .uuid, .required, .references(User.schema, "id", onDelete: .cascade))
            .field("token_hash", .string, .required)
            .field("family_id", .uuid, .required)
            .field("expires_at", .datetime, .required)
            .field("used_at", .datetime)
            .field("revoked_at", .datetime)
            .field("created_at", .datetime)
            .unique(on: "token_hash")
            .create()
        try await database.schema(LoginThrottle.schema)
            .id()
            .field("username", .string, .required)
            .field("failures", .int, .required)
            .field("locked_until", .datetime)
            .field("updated_at", .datetime)
            .unique(on: "username")
            .create()
        try await database.schema(LoginEvent.schema)
            .id()
            .field("user_id", .uuid)
            .field("username", .string, .required)
            .field("ip", .string, .required)
            .field("outcome", .string, .required)
            .field("channel", .string, .required)
            .field("at", .datetime, .required)
            .create()
        try await database.schema(SigningSecret.schema)
            .id()
            .field("kid", .string, .required)
            .field("secret", .string, .required)
            .field("created_at", .datetime)
            .unique(on: "kid")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "identity_login_events_ip_at_idx").on(LoginEvent.schema)
                .column("ip").column("at").run()
            try await sql.create(index: "identity_refresh_family_idx").on(RefreshToken.schema).column("family_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        for schema in [SigningSecret.schema, LoginEvent.schema, LoginThrottle.schema, RefreshToken.schema] {
            try await database.schema(schema).delete()
        }
    }
}
