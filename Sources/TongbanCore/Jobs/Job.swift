import Fluent
import Foundation
import SQLKit

/// States of a persistent job.
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case pending
    case running
    case done
    case failed
}

/// A unit of background work stored in the database (timers, notifications, batch work), so that it
/// survives restarts and several server nodes share the queue without running a job twice.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class Job: Model, @unchecked Sendable {
    public static let schema = "core_jobs"

    @ID(key: .id) public var id: UUID?
    @Field(key: "kind") public var kind: String
    @Field(key: "payload") public var payload: String
    /// At most one pending or running job per key (e.g. `sla:<task id>:yellow`); nil for none.
    @OptionalField(key: "dedupe_key") public var dedupeKey: String?
    @Field(key: "status") public var status: JobStatus
    @Field(key: "run_at") public var runAt: Date
    @Field(key: "attempts") public var attempts: Int
    @Field(key: "max_attempts") public var maxAttempts: Int
    @OptionalField(key: "locked_by") public var lockedBy: String?
    @OptionalField(key: "locked_until") public var lockedUntil: Date?
    @OptionalField(key: "last_error") public var lastError: String?
    @Field(key: "created_at") public var createdAt: Date
    @OptionalField(key: "finished_at") public var finishedAt: Date?

    public init() {}
}

/// Creates the jobs table and its claim index.
struct CreateJobs: AsyncMigration {
    var name: String { "Core.CreateJobs" }

    func prepare(on database: any Database) async throws {
        try await database.schema(Job.schema)
            .id()
            .field("kind", .string, .required)
            .field("payload", .string, .required)
            .field("dedupe_key", .string)
            .field("status", .string, .required)
            .field("run_at", .datetime, .required)
            .field("attempts", .int, .required)
            .field("max_attempts", .int, .required)
            .field("locked_by", .string)
            .field("locked_until", .datetime)
            .field("last_error", .string)
            .field("created_at", .datetime, .required)
            .field("finished_at", .datetime)
            .unique(on: "dedupe_key")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "core_jobs_claim_idx").on(Job.schema).column("status").column("run_at").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema(Job.schema).delete()
    }
}
