import Fluent
import Foundation
import SQLKit
import Vapor

/// Enqueues, claims and settles persistent jobs.
///
/// Claiming is one statement: on PostgreSQL the candidates are selected `FOR UPDATE SKIP LOCKED`, so
/// concurrent nodes take disjoint jobs; SQLite serialises writers, which gives the same guarantee. A
/// claimed job carries a lease: if its node dies, the job becomes claimable again when the lease ends.
public struct JobQueue: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock) {
        self.db = db
        self.clock = clock
    }

    /// Adds a job. With a `dedupeKey` that is already pending or running, nothing is added and the existing
    /// job is returned.
    @discardableResult
    public func enqueue(
        kind: String, payload: some Encodable, runAt: Date? = nil, dedupeKey: String? = nil, maxAttempts: Int = 5
    ) async throws -> Job {
        let job = Job()
        job.kind = kind
        job.payload = String(decoding: try JSONEncoder().encode(payload), as: UTF8.self)
        job.dedupeKey = dedupeKey
        job.status = .pending
        job.runAt = runAt ?? clock.now()
        job.attempts = 0
        job.maxAttempts = max(1, maxAttempts)
        job.createdAt = clock.now()
        do {
            try await job.create(on: db)
            return job
        } catch {
            guard let dbError = error as? any DatabaseError, dbError.isConstraintFailure, let dedupeKey,
                let existing = try await Job.query(on: db).filter(\.$dedupeKey == dedupeKey).first()
            else { throw error }
            return existing
        }
    }

    /// A job to add with ``enqueueNew(_:)``.
    public struct NewJob: Sendable {
        public var kind: String
        public var payload: String
        public var runAt: Date
        public var dedupeKey: String?
        public var maxAttempts: Int

        public init(kind: String, payload: some Encodable, runAt: Date, dedupeKey: String? = nil, maxAttempts: Int = 5) throws {
            self.kind = kind
            self.payload = String(decoding: try JSONEncoder().encode(payload), as: UTF8.self)
            self.runAt = runAt
            self.dedupeKey = dedupeKey
            self.maxAttempts = max(1, maxAttempts)
        }
    }

    /// Adds several jobs in one INSERT. For jobs whose dedupe keys cannot exist yet (e.g. timers of a task
    /// created in the same transaction); a duplicate key fails the statement.
    public func enqueueNew(_ jobs: [NewJob]) async throws {
        guard !jobs.isEmpty else { return }
        let now = clock.now()
        guard let sql = db as? any SQLDatabase else {
            let rows = jobs.map { item in
                let job = Job()
                job.kind = item.kind
                job.payload = item.payload
                job.dedupeKey = item.dedupeKey
                job.status = .pending
                job.runAt = item.runAt
                job.attempts = 0
                job.maxAttempts = item.maxAttempts
                job.createdAt = now
                return job
            }
            try await rows.create(on: db)
            return
        }
        // One multi-row INSERT in plain SQL: the workflow engine adds two timers for every task it opens.
        var query = SQLQueryString(
            #"INSERT INTO "core_jobs" ("id", "kind", "payload", "dedupe_key", "status", "run_at", "attempts", "max_attempts", "created_at") VALUES "#
        )
        for (index, item) in jobs.enumerated() {
            if index > 0 { query.appendLiteral(", ") }
            query.appendInterpolation(unsafeRaw: "(")
            query.appendInterpolation(bind: UUID())
            for value in [item.kind, item.payload] as [String] {
                query.appendLiteral(", ")
                query.appendInterpolation(bind: value)
            }
            query.appendLiteral(", ")
            query.appendInterpolation(bind: item.dedupeKey)
            query.appendLiteral(", ")
            query.appendInterpolation(bind: JobStatus.pending.rawValue)
            query.appendLiteral(", ")
            query.appendInterpolation(bind: item.runAt)
            query.appendLiteral(", 0, ")
            query.appendInterpolation(bind: max(1, item.maxAttempts))
            query.appendLiteral(", ")
            query.appendInterpolation(bind: now)
            query.appendLiteral(")")
        }
        try await sql.raw(query).run()
    }

    /// Claims up to `limit` due jobs for `node` with a lease of `lease` seconds.
    public func claim(limit: Int, node: String, lease: TimeInterval = 60) async throws -> [Job] {
        guard let sql = db as? any SQLDatabase else { return [] }
        let now = clock.now()
        let lockClause = sql.dialect.name == "postgresql" ? " FOR UPDATE SKIP LOCKED" : ""
        let query = SQLQueryString(
            """
            UPDATE core_jobs SET status = \(bind: JobStatus.running.rawValue), locked_by = \(bind: node),
            locked_until = \(bind: now.addingTimeInterval(lease)), attempts = attempts + 1
            WHERE id IN (SELECT id FROM core_jobs
              WHERE (status = \(bind: JobStatus.pending.rawValue) AND run_at <= \(bind: now))
                 OR (status = \(bind: JobStatus.running.rawValue) AND locked_until < \(bind: now))
              ORDER BY run_at LIMIT \(bind: max(1, limit))\(unsafeRaw: lockClause))
            RETURNING id
            """)
        return try await gated { db in
            let ids = try await (db as? any SQLDatabase ?? sql).raw(query).all().map { try $0.decode(column: "id", as: UUID.self) }
            guard !ids.isEmpty else { return [] }
            return try await Job.query(on: db).filter(\.$id ~~ ids).sort(\.$runAt).all()
        }
    }

    /// Runs the queue's own writes (claim, complete, fail). On SQLite they go through the process's write
    /// gate (``Database/writeTransaction(_:)``): outside it, a write that meets a request's transaction
    /// waits for the lock in SQLite's busy handler, spinning while it holds a pooled connection. On
    /// PostgreSQL the statements run as they are (row locks and `SKIP LOCKED` do the work).
    func gated<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        guard let sql = db as? any SQLDatabase, sql.dialect.name == "sqlite" else { return try await body(db) }
        return try await db.writeTransaction(body)
    }

    /// Marks a claimed job done (only if `node` still holds it).
    public func complete(_ job: Job, node: String) async throws {
        let id = try job.requireID()
        let now = clock.now()
        try await gated { db in
            try await Job.query(on: db).filter(\.$id == id).filter(\.$lockedBy == node)
                .filter(\.$status == .running)
                .set(\.$status, to: .done).set(\.$finishedAt, to: now).set(\.$dedupeKey, to: nil)
                .update()
        }
    }

    /// Marks several claimed jobs done in one statement (only those `node` still holds).
    public func complete(_ jobs: [Job], node: String) async throws {
        let ids = try jobs.map { try $0.requireID() }
        guard !ids.isEmpty else { return }
        let now = clock.now()
        try await gated { db in
            try await Job.query(on: db).filter(\.$id ~~ ids).filter(\.$lockedBy == node)
                .filter(\.$status == .running)
                .set(\.$status, to: .done).set(\.$finishedAt, to: now).set(\.$dedupeKey, to: nil)
                .update()
        }
    }

    /// Records a failure: retried later with exponential backoff, or failed for good after `maxAttempts`.
    public func fail(_ job: Job, node: String, error: String) async throws {
        let id = try job.requireID()
        let finalFailure = job.attempts >= job.maxAttempts
        let delay = min(3600, 5 * pow(2, Double(max(0, job.attempts - 1))))
        let now = clock.now()
        let message = String(error.prefix(1000))
        try await gated { db in
            let update = Job.query(on: db).filter(\.$id == id).filter(\.$lockedBy == node).filter(\.$status == .running)
                .set(\.$lastError, to: message)
                .set(\.$lockedBy, to: nil).set(\.$lockedUntil, to: nil)
            if finalFailure {
                try await update.set(\.$status, to: .failed).set(\.$finishedAt, to: now).set(\.$dedupeKey, to: nil)
                    .update()
            } else {
                try await update.set(\.$status, to: .pending).set(\.$runAt, to: now.addingTimeInterval(delay)).update()
            }
        }
    }

    /// Decodes a job's payload.
    public func payload<T: Decodable>(of job: Job, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(job.payload.utf8))
    }
}
