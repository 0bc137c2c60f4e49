import AuditLog
import Fluent
import Foundation
import TongbanCore
import Vapor

/// The tamper-evident audit log: an append-only log of events hashed into an RFC 9162 Merkle tree,
/// signed C2SP checkpoints, inclusion and consistency proofs over HTTP, offline evidence bundles.
/// Other modules record events through ``AuditSink`` (`app.audit`), never through this module.
public struct AuditModule: TongbanModule {
    public let name = "audit"
    static let checkpointJob = "audit.checkpoint"

    public init() {}

    public var migrations: [any Migration] { [CreateAuditSchema()] }

    public func boot(_ app: Application) throws {
        let config = app.tongbanConfig
        let service = AuditLogService(
            database: app.db, origin: config.auditOrigin, configuredKey: config.auditSigningKey, vault: app.keyVault,
            clock: { [weak app] in app?.clock.now() ?? Date() })
        app.auditLog = service
        app.audit = service
        try app.register(collection: AuditController())
        Self.document(app.apiDocumentation)
        app.jobs.register(Self.checkpointJob) { _, app in
            _ = try await app.auditLog.checkpoint(on: app.db)
            try await Self.scheduleCheckpoint(app, after: app.tongbanConfig.auditCheckpointSeconds)
        }
        app.lifecycle.use(CheckpointLifecycle())
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {}

    /// Enqueues the next periodic checkpoint (one per time slot across every node).
    static func scheduleCheckpoint(_ app: Application, after seconds: Int) async throws {
        let runAt = app.clock.now().addingTimeInterval(TimeInterval(seconds))
        let slot = Int(runAt.timeIntervalSince1970) / max(1, seconds)
        try await JobQueue(db: app.db, clock: app.clock).enqueue(
            kind: checkpointJob, payload: [String: String](), runAt: runAt, dedupeKey: "audit.checkpoint:\(slot)")
    }

    /// Starts the checkpoint chain on a server unless one is already pending.
    struct CheckpointLifecycle: LifecycleHandler {
        func didBootAsync(_ app: Application) async throws {
            guard app.environment != .testing else { return }
            let pending = try await Job.query(on: app.db).filter(\.$kind == AuditModule.checkpointJob)
                .filter(\.$status ~~ [.pending, .running]).count()
            if pending == 0 {
                try await AuditModule.scheduleCheckpoint(app, after: app.tongbanConfig.auditCheckpointSeconds)
            }
        }
    }

    static func document(_ docs: APIDocumentation) {
        let base64 = Schema.string
        docs.add(
            APIOperation(
                .GET, "/api/v1/audit/checkpoint",
                summary: "The latest signed checkpoint (C2SP tlog-checkpoint note); signs a new one if the log grew",
                tag: "audit",
                response: Schema.object(
                    [
                        "treeSize": Schema.integer, "rootHash": base64, "checkpoint": Schema.string, "origin": Schema.string,
                        "createdAt": Schema.string,
                    ], required: ["treeSize", "rootHash", "checkpoint"])))
        docs.add(
            APIOperation(
                .GET, "/api/v1/audit/key", summary: "The log's public verifier key (signed-note vkey)", tag: "audit",
                response: Schema.object(["origin": Schema.string, "key": Schema.string])))
        docs.add(
            APIOperation(
                .GET, "/api/v1/audit/proofs/inclusion", summary: "RFC 9162 inclusion proof of entry `index` in the tree of `treeSize`",
                tag: "audit",
                response: Schema.object([
                    "index": Schema.integer, "treeSize": Schema.integer, "leafHash": base64, "hashes": Schema.array(base64),
                ]), problems: [422], query: ["index", "treeSize"]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/audit/proofs/consistency", summary: "RFC 9162 consistency proof between tree sizes `first` and `second`",
                tag: "audit",
                response: Schema.object(["first": Schema.integer, "second": Schema.integer, "hashes": Schema.array(base64)]),
                problems: [422], query: ["first", "second"]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/audit/entries/{index}", summary: "One log entry (auditors; the read is itself recorded)",
                tag: "audit", requiresAuth: true,
                response: Schema.object([
                    "index": Schema.integer, "kind": Schema.string, "at": Schema.string, "leafHash": base64,
                    "entry": Schema.string, "event": Schema.object([:]),
                ]), problems: [401, 403, 404]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/audit/entries/{index}/evidence",
                summary: "Evidence bundle (entry, inclusion proof, signed checkpoint) for offline verification (auditors)",
                tag: "audit", requiresAuth: true,
                response: Schema.object([
                    "format": Schema.string, "entry": base64, "index": Schema.integer, "treeSize": Schema.integer,
                    "leafHash": base64, "inclusionProof": Schema.array(base64), "checkpoint": Schema.string,
                ]), problems: [401, 403, 404]))
    }
}
