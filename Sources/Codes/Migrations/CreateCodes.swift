import Fluent
import SQLKit

/// Code-signing keys, holders, verifiers, holder devices, scans and encounters.
struct CreateCodes: AsyncMigration {
    var name: String { "Codes.CreateCodes" }

    func prepare(on database: any Database) async throws {
        try await database.schema(CodeSigningKey.schema)
            .id()
            .field("kid", .string, .required)
            .field("public_key", .string, .required)
            .field("sealed_private_key", .string, .required)
            .field("status", .string, .required)
            .field("created_at", .datetime, .required)
            .field("retired_at", .datetime)
            .unique(on: "kid")
            .create()
        try await database.schema(CodeHolder.schema)
            .id()
            .field("user_id", .uuid, .required)
            .field("pseudonym", .string, .required)
            .field("insurance_number", .string, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "user_id")
            .unique(on: "pseudonym")
            .create()
        try await database.schema(VerifierOrganisation.schema)
            .id()
            .field("name", .string, .required)
            .field("created_by", .uuid)
            .field("created_at", .datetime, .required)
            .create()
        try await database.schema(VerifierDevice.schema)
            .id()
            .field("organisation_id", .uuid, .required, .references(VerifierOrganisation.schema, "id"))
            .field("name", .string, .required)
            .field("scenario", .string, .required)
            .field("location", .string, .required)
            .field("key_hash", .string, .required)
            .field("key_hint", .string, .required)
            .field("status", .string, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "key_hash")
            .create()
        try await database.schema(HolderDevice.schema)
            .id()
            .field("holder_id", .uuid, .required, .references(CodeHolder.schema, "id"))
            .field("name", .string, .required)
            .field("public_key", .string, .required)
            .field("certificate_id", .string, .required)
            .field("certificate", .string, .required)
            .field("status", .string, .required)
            .field("issued_at", .datetime, .required)
            .field("expires_at", .datetime, .required)
            .field("revoked_at", .datetime)
            .unique(on: "certificate_id")
            .create()
        try await database.schema(CodeScan.schema)
            .id()
            .field("organisation_id", .uuid, .required)
            .field("device_id", .uuid, .required)
            .field("holder_id", .uuid)
            .field("code_type", .string)
            .field("scenario", .string, .required)
            .field("nonce", .string)
            .field("valid", .bool, .required)
            .field("reason", .string, .required)
            .field("disclosed", .string, .required)
            .field("location", .string, .required)
            .field("source", .string, .required)
            .field("scanned_at", .datetime, .required)
            .field("recorded_at", .datetime, .required)
            .field("accept_key", .string)
            .unique(on: "accept_key")
            .create()
        try await database.schema(MedicalEncounter.schema)
            .id()
            .field("scan_id", .uuid, .required, .references(CodeScan.schema, "id"))
            .field("organisation_id", .uuid, .required)
            .field("holder_id", .uuid, .required)
            .field("insurance_number", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "codes_scans_holder_idx").on(CodeScan.schema).column("holder_id").column("scanned_at").run()
            try await sql.create(index: "codes_holder_devices_holder_idx").on(HolderDevice.schema).column("holder_id").run()
            try await sql.create(index: "codes_verifier_devices_org_idx").on(VerifierDevice.schema).column("organisation_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        for schema in [
            MedicalEncounter.schema, CodeScan.schema, HolderDevice.schema, VerifierDevice.schema, VerifierOrganisation.schema,
            CodeHolder.schema, CodeSigningKey.schema,
        ] {
            try await database.schema(schema).delete()
        }
    }
}
