import Fluent
import Foundation
import SQLKit

/// The kind of a number provider in 一证通查.
public enum ProviderKind: String, Codable, Sendable, CaseIterable {
    /// A basic telecom carrier (基础电信企业).
    case carrier
    /// A mobile virtual network operator (转售企业).
    case reseller
}

/// Status of a provider in the registry.
public enum ProviderStatus: String, Codable, Sendable, CaseIterable {
    case active, disabled
}

/// A carrier or reseller asked for the numbers registered under an ID number.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class LookupProvider: Model, @unchecked Sendable {
    public static let schema = "codes_lookup_providers"

    @ID(key: .id) public var id: UUID?
    @Field(key: "name") public var name: String
    @Field(key: "kind") public var kind: ProviderKind
    /// `https://…` (the HTTP JSON contract) or `sim://…` (the in-process simulator).
    @Field(key: "endpoint") public var endpoint: String
    /// Credentials sent to the provider, sealed with the master key.
    @Field(key: "sealed_credentials") public var sealedCredentials: String
    @Field(key: "status") public var status: ProviderStatus
    @Field(key: "timeout_ms") public var timeoutMilliseconds: Int
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}

/// One 一证通查 query by a person.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class LookupQuery: Model, @unchecked Sendable {
    public static let schema = "codes_lookup_queries"

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    /// `YYYY-MM-DD` (China time), for the daily limit.
    @Field(key: "day") public var day: String
    /// `partial` while providers have not answered, then `complete`.
    @Field(key: "status") public var status: String
    @Field(key: "providers") public var providers: Int
    @Field(key: "created_at") public var createdAt: Date
    @OptionalField(key: "completed_at") public var completedAt: Date?
    /// When the person was told that late answers arrived.
    @OptionalField(key: "notified_at") public var notifiedAt: Date?

    public init() {}
}

/// How a provider answered one query.
public enum AnswerStatus: String, Codable, Sendable, CaseIterable {
    /// Answered within its timeout.
    case answered
    /// Did not answer in time; still expected (within 48 hours).
    case pending
    /// Answered after its timeout.
    case late
    /// Failed after retries (or the late answer never came).
    case failed
    /// Not asked: its circuit breaker is open after repeated failures.
    case circuitOpen = "circuit_open"
}

/// One provider's answer to one query; numbers stored masked only.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class LookupAnswer: Model, @unchecked Sendable {
    public static let schema = "codes_lookup_answers"

    @ID(key: .id) public var id: UUID?
    @Field(key: "query_id") public var queryID: UUID
    @Field(key: "provider_id") public var providerID: UUID
    @Field(key: "status") public var status: AnswerStatus
    /// JSON array of masked numbers (`138****5678`).
    @Field(key: "numbers") public var numbers: String
    @Field(key: "attempts") public var attempts: Int
    @OptionalField(key: "answered_at") public var answeredAt: Date?

    public init() {}
}

/// Status of a "not mine" dispute.
public enum DisputeStatus: String, Codable, Sendable, CaseIterable {
    /// Opened by the person.
    case open
    /// Sent to the provider.
    case forwarded
    /// The provider closed the number or showed it is the person's.
    case resolved
}

/// A person's "this number is not mine" ticket to one provider.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class LookupDispute: Model, @unchecked Sendable {
    public static let schema = "codes_lookup_disputes"

    @ID(key: .id) public var id: UUID?
    @Field(key: "query_id") public var queryID: UUID
    @Field(key: "provider_id") public var providerID: UUID
    @Field(key: "user_id") public var userID: UUID
    /// The number as the person saw it (masked).
    @Field(key: "number") public var number: String
    @Field(key: "status") public var status: DisputeStatus
    @OptionalField(key: "note") public var note: String?
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}
}

/// The 一证通查 tables.
struct CreateCodesLookup: AsyncMigration {
    var name: String { "Codes.CreateCodesLookup" }

    func prepare(on database: any Database) async throws {
        try await database.schema(LookupProvider.schema)
            .id()
            .field("name", .string, .required)
            .field("kind", .string, .required)
            .field("endpoint", .string, .required)
            .field("sealed_credentials", .string, .required)
            .field("status", .string, .required)
            .field("timeout_ms", .int, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "name")
            .create()
        try await database.schema(LookupQuery.schema)
            .id()
            .field("user_id", .uuid, .required)
            .field("day", .string, .required)
            .field("status", .string, .required)
            .field("providers", .int, .required)
            .field("created_at", .datetime, .required)
            .field("completed_at", .datetime)
            .field("notified_at", .datetime)
            .create()
        try await database.schema(LookupAnswer.schema)
            .id()
            .field("query_id", .uuid, .required, .references(LookupQuery.schema, "id"))
            .field("provider_id", .uuid, .required, .references(LookupProvider.schema, "id"))
            .field("status", .string, .required)
            .field("numbers", .string, .required)
            .field("attempts", .int, .required)
            .field("answered_at", .datetime)
            .unique(on: "query_id", "provider_id")
            .create()
        try await database.schema(LookupDispute.schema)
            .id()
            .field("query_id", .uuid, .required, .references(LookupQuery.schema, "id"))
            .field("provider_id", .uuid, .required, .references(LookupProvider.schema, "id"))
            .field("user_id", .uuid, .required)
            .field("number", .string, .required)
            .field("status", .string, .required)
            .field("note", .string)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "query_id", "provider_id", "number")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "codes_lookup_disputes_user_idx").on(LookupDispute.schema).column("user_id").run()
            try await sql.create(index: "codes_lookup_queries_user_day_idx").on(LookupQuery.schema).column("user_id").column("day").run()
        }
    }

    func revert(on database: any Database) async throws {
        for schema in [LookupDispute.schema, LookupAnswer.schema, LookupQuery.schema, LookupProvider.schema] {
            try await database.schema(schema).delete()
        }
    }
}
