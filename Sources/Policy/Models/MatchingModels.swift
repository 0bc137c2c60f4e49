import Fluent
import Foundation
import SQLKit
import TongbanCore

/// One standing match: enterprise `creditCode` is eligible for `itemID` (at `itemVersion`, for `amount`).
/// Batch matching keeps this table equal to "every profile × every active item" and writes only the
/// differences, so a run after a few changes costs a few writes and produces notices only for what changed.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class PolicyStandingMatch: Model, @unchecked Sendable {
    public static let schema = "policy_matches"

    @ID(key: .id) public var id: UUID?
    @Field(key: "item_id") public var itemID: UUID
    @Field(key: "credit_code") public var creditCode: String
    @Field(key: "item_version") public var itemVersion: Int
    @OptionalField(key: "amount") public var amount: Double?
    @Field(key: "matched_at") public var matchedAt: Date

    public init() {}
}

/// What a push notice (政策推送) says.
public enum PolicyNoticeKind: String, Codable, Sendable, CaseIterable {
    /// The enterprise became eligible for an item (new item, new version, or changed profile).
    case newMatch = "new_match"
    /// A new version of an item the enterprise is eligible for changed its amount.
    case amountChanged = "amount_changed"
    /// An item tagged with a tag the user follows was published (or republished in a new version).
    case subscribedTag = "subscribed_tag"
}

/// A push notice to an enterprise (by credit code: every member acting for it sees it) or to one user
/// (subscriptions by tag).
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class PolicyNotice: Model, @unchecked Sendable {
    public static let schema = "policy_notices"

    @ID(key: .id) public var id: UUID?
    @Field(key: "kind") public var kind: PolicyNoticeKind
    @OptionalField(key: "credit_code") public var creditCode: String?
    @OptionalField(key: "user_id") public var userID: UUID?
    @Field(key: "item_id") public var itemID: UUID
    @Field(key: "item_code") public var itemCode: String
    @Field(key: "item_version") public var itemVersion: Int
    @Field(key: "title_zh") public var titleZh: String
    @Field(key: "title_en") public var titleEn: String
    @OptionalField(key: "amount") public var amount: Double?
    @OptionalField(key: "tag") public var tag: String?
    @Field(key: "created_at") public var createdAt: Date
    @OptionalField(key: "read_at") public var readAt: Date?

    public init() {}
}

/// A user's subscription to policy updates for one tag (a tag rule's code).
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class PolicySubscription: Model, @unchecked Sendable {
    public static let schema = "policy_subscriptions"

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    @Field(key: "tag") public var tag: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}

/// One batch-matching run: what it covered and what changed. The last finished run's `startedAt` is the
/// watermark of the next incremental run.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class PolicyMatchingRun: Model, @unchecked Sendable {
    public static let schema = "policy_matching_runs"

    @ID(key: .id) public var id: UUID?
    @Field(key: "mode") public var mode: String
    @Field(key: "started_at") public var startedAt: Date
    @Field(key: "finished_at") public var finishedAt: Date
    @Field(key: "profiles") public var profiles: Int
    @Field(key: "items") public var items: Int
    @Field(key: "evaluations") public var evaluations: Int
    @Field(key: "new_matches") public var newMatches: Int
    @Field(key: "changed") public var changed: Int
    @Field(key: "removed") public var removed: Int
    @Field(key: "notices") public var notices: Int
    @OptionalField(key: "actor") public var actor: UUID?

    public init() {}
}

/// Every published version of a policy item, kept so that decisions and notices made under an older
/// version can still be explained.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class PolicyItemVersion: Model, @unchecked Sendable {
    public static let schema = "policy_item_versions"

    @ID(key: .id) public var id: UUID?
    @Field(key: "item_id") public var itemID: UUID
    @Field(key: "version") public var version: Int
    /// JSON of ``PolicyItemRevision``.
    @Field(key: "snapshot") public var snapshotJSON: String
    @Field(key: "published_at") public var publishedAt: Date
    @OptionalField(key: "published_by") public var publishedBy: UUID?

    public init() {}
}

/// The editable content of an item: what a version fixes and what a pending revision proposes.
public struct PolicyItemRevision: Codable, Sendable, Equatable {
    public var title: String
    public var titleEn: String
    public var issuer: String
    public var issuerEn: String
    public var conditions: [PolicyCondition]
    public var amountExpression: String?
    public var validFrom: String?
    public var validUntil: String?
    public var mode: PolicyMode
    public var tags: [String]
}

struct CreatePolicyMatching: AsyncMigration {
    var name: String { "Policy.CreatePolicyMatching" }

    func prepare(on database: any Database) async throws {
        try await database.schema(PolicyStandingMatch.schema)
            .id()
            .field("item_id", .uuid, .required)
            .field("credit_code", .string, .required)
            .field("item_version", .int, .required)
            .field("amount", .double)
            .field("matched_at", .datetime, .required)
            .unique(on: "item_id", "credit_code")
            .create()
        try await database.schema(PolicyNotice.schema)
            .id()
            .field("kind", .string, .required)
            .field("credit_code", .string)
            .field("user_id", .uuid)
            .field("item_id", .uuid, .required)
            .field("item_code", .string, .required)
            .field("item_version", .int, .required)
            .field("title_zh", .string, .required)
            .field("title_en", .string, .required)
            .field("amount", .double)
            .field("tag", .string)
            .field("created_at", .datetime, .required)
            .field("read_at", .datetime)
            .create()
        try await database.schema(PolicySubscription.schema)
            .id()
            .field("user_id", .uuid, .required)
            .field("tag", .string, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "user_id", "tag")
            .create()
        try await database.schema(PolicyMatchingRun.schema)
            .id()
            .field("mode", .string, .required)
            .field("started_at", .datetime, .required)
            .field("finished_at", .datetime, .required)
            .field("profiles", .int, .required)
            .field("items", .int, .required)
            .field("evaluations", .int, .required)
            .field("new_matches", .int, .required)
            .field("changed", .int, .required)
            .field("removed", .int, .required)
            .field("notices", .int, .required)
            .field("actor", .uuid)
            .create()
        try await database.schema(PolicyItemVersion.schema)
            .id()
            .field("item_id", .uuid, .required)
            .field("version", .int, .required)
            .field("snapshot", .string, .required)
            .field("published_at", .datetime, .required)
            .field("published_by", .uuid)
            .unique(on: "item_id", "version")
            .create()
        try await database.schema(PolicyItem.schema).field("target_tags", .string).update()
        try await database.schema(PolicyItem.schema).field("pending_revision", .string).update()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "policy_matches_credit_code_idx").on(PolicyStandingMatch.schema).column("credit_code").run()
            try await sql.create(index: "policy_notices_credit_code_idx").on(PolicyNotice.schema).column("credit_code").run()
            try await sql.create(index: "policy_notices_user_idx").on(PolicyNotice.schema).column("user_id").run()
            try await sql.create(index: "policy_profiles_updated_idx").on(EnterpriseProfile.schema).column("updated_at").run()
            try await sql.create(index: "policy_subscriptions_tag_idx").on(PolicySubscription.schema).column("tag").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema(PolicyItem.schema).deleteField("pending_revision").update()
        try await database.schema(PolicyItem.schema).deleteField("target_tags").update()
        for schema in [PolicyItemVersion.schema, PolicyMatchingRun.schema, PolicySubscription.schema, PolicyNotice.schema, PolicyStandingMatch.schema] {
            try await database.schema(schema).delete()
        }
    }
}
