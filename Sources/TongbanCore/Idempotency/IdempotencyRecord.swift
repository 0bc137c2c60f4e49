import Fluent
import Foundation

/// The stored outcome of a request sent with an `Idempotency-Key` header.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
final class IdempotencyRecord: Model, @unchecked Sendable {
    static let schema = "core_idempotency_keys"

    @ID(key: .id) var id: UUID?
    /// Who sent it: the user id, or `anonymous:<ip>`.
    @Field(key: "scope") var scope: String
    @Field(key: "key") var key: String
    /// SHA-256 of method, path and body: the same key with another request is refused.
    @Field(key: "request_hash") var requestHash: String
    /// nil while the first request is still running.
    @OptionalField(key: "status") var status: Int?
    @OptionalField(key: "content_type") var contentType: String?
    @OptionalField(key: "location") var location: String?
    @OptionalField(key: "body") var body: Data?
    @Field(key: "created_at") var createdAt: Date

    init() {}

    init(scope: String, key: String, requestHash: String, createdAt: Date) {
        self.scope = scope
        self.key = key
        self.requestHash = requestHash
        self.createdAt = createdAt
    }
}

/// Creates the idempotency-key table.
struct CreateIdempotencyKeys: AsyncMigration {
    var name: String { "Core.CreateIdempotencyKeys" }

    func prepare(on database: any Database) async throws {
        try await database.schema(IdempotencyRecord.schema)
            .id()
            .field("scope", .string, .required)
            .field("key", .string, .required)
            .field("request_hash", .string, .required)
            .field("status", .int)
            .field("content_type", .string)
            .field("location", .string)
            .field("body", .data)
            .field("created_at", .datetime, .required)
            .unique(on: "scope", "key")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(IdempotencyRecord.schema).delete()
    }
}
