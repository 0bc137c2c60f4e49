import Fluent
import SQLKit

/// Creates zones, services and the service–zone links.
struct CreateCatalogueSchema: AsyncMigration {
    var name: String { "Catalogue.CreateCatalogueSchema" }

    func prepare(on database: any Database) async throws {
        try await database.schema(Zone.schema)
            .id()
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("name_en", .string, .required)
            .field("kind", .string, .required)
            .field("sort_order", .int, .required)
            .field("description", .string, .required)
            .field("description_en", .string, .required)
            .unique(on: "code")
            .create()
        try await database.schema(ServiceItem.schema)
            .id()
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("name_en", .string, .required)
            .field("department_id", .uuid, .required)
            .field("region_id", .uuid, .required)
            .field("category", .string, .required)
            .field("for_persons", .bool, .required)
            .field("for_enterprises", .bool, .required)
            .field("case_kind", .string, .required)
            .field("statutory_days", .int, .required)
            .field("promised_days", .int, .required)
            .field("fee_yuan", .double, .required)
            .field("fee_note", .string, .required)
            .field("fee_note_en", .string, .required)
            .field("conditions", .string, .required)
            .field("conditions_en", .string, .required)
            .field("legal_basis", .string, .required)
            .field("materials", .array(of: .json), .required)
            .field("steps", .array(of: .json), .required)
            .field("online_depth", .int, .required)
            .field("visits", .int, .required)
            .field("cross_region", .string)
            .field("zones", .array(of: .string), .required)
            .field("keywords", .array(of: .string), .required)
            .field("popularity", .int, .required)
            .field("form", .json, .required)
            .field("version", .int, .required)
            .field("published", .bool, .required)
            .field("published_at", .datetime)
            .field("search_text", .string, .required)
            .field("created_at", .datetime)
            .field("updated_at", .datetime)
            .unique(on: "code")
            .create()
        try await database.schema(ServiceZone.schema)
            .id()
            .field("service_id", .uuid, .required, .references(ServiceItem.schema, "id", onDelete: .cascade))
            .field("zone_code", .string, .required)
            .unique(on: "service_id", "zone_code")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "catalogue_services_listing_idx").on(ServiceItem.schema)
                .column("published").column("popularity").run()
            try await sql.create(index: "catalogue_services_department_idx").on(ServiceItem.schema)
                .column("department_id").run()
            try await sql.create(index: "catalogue_service_zones_zone_idx").on(ServiceZone.schema)
                .column("zone_code").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema(ServiceZone.schema).delete()
        try await database.schema(ServiceItem.schema).delete()
        try await database.schema(Zone.schema).delete()
    }
}

/// Full-text search for Chinese: an FTS5 trigram table on SQLite, a pg_trgm GIN index on PostgreSQL.
struct CreateServiceSearchIndex: AsyncMigration {
    var name: String { "Catalogue.CreateServiceSearchIndex" }

    func prepare(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase else { return }
        if sql.dialect.name == "sqlite" {
            try await sql.raw(
                "CREATE VIRTUAL TABLE catalogue_services_fts USING fts5(service_id UNINDEXED, body, tokenize = 'trigram')"
            ).run()
            // A covering index: lists and searches read only these narrow entries, never the wide rows with
            // the guide's JSON (which otherwise cost a page read per row; PostgreSQL keeps those out of line).
            try await sql.raw(
                """
                CREATE INDEX catalogue_services_summary_idx ON catalogue_services (published, popularity, code, id, name,
                name_en, department_id, category, for_persons, for_enterprises, case_kind, statutory_days, promised_days,
                online_depth, visits, zones)
                """
            ).run()
        } else {
            try await sql.raw("CREATE EXTENSION IF NOT EXISTS pg_trgm").run()
            try await sql.raw(
                "CREATE INDEX catalogue_services_search_trgm_idx ON catalogue_services USING gin (search_text gin_trgm_ops)"
            ).run()
        }
    }

    func revert(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase else { return }
        if sql.dialect.name == "sqlite" {
            try await sql.raw("DROP INDEX IF EXISTS catalogue_services_summary_idx").run()
            try await sql.raw("DROP TABLE IF EXISTS catalogue_services_fts").run()
        } else {
            try await sql.raw("DROP INDEX IF EXISTS catalogue_services_search_trgm_idx").run()
        }
    }
}
