import AuditLog
import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import TongbanCore
import Vapor

/// The audit log: records events (``AuditSink``), signs checkpoints, serves proofs and evidence.
public final class AuditLogService: AuditSink, Sendable {
    /// The log's origin line in checkpoints and its key name (`TONGBAN_AUDIT_ORIGIN`).
    public let origin: String
    public let appender: AuditAppender
    private let configuredKey: String?
    /// Seals the generated signing key at rest (the master key); nil keeps it as text.
    private let vault: KeyVault?
    private let signerCache = NIOLockedValueBox<NoteSigner?>(nil)
    private let clock: @Sendable () -> Date

    public init(
        database: any Database, origin: String, configuredKey: String?, vault: KeyVault? = nil,
        clock: @escaping @Sendable () -> Date
    ) {
        self.origin = origin
        self.configuredKey = configuredKey
        self.vault = vault
        self.clock = clock
        self.appender = AuditAppender(database: database)
    }

    // MARK: - Recording

    @discardableResult
    public func record(kind: String, actor: UUID?, subject: String?, details: [String: String]) async throws -> Int {
        try AuditEvent.validate(kind: kind, subject: subject, details: details)
        let event = AuditEvent(kind: kind, at: clock(), actor: actor, subject: subject, details: details)
        return try await appender.append(kind: kind, at: event.at, bytes: try event.canonicalBytes())
    }

    // MARK: - Key

    public func signer(on db: any Database) async throws -> NoteSigner {
        if let cached = signerCache.withLockedValue({ $0 }) { return cached }
        let signer = try await AuditKeys.load(
            origin: origin, configured: configuredKey, sql: try AuditStorage(db).sql, now: AuditEvent.timestamp(clock()),
            vault: vault)
        signerCache.withLockedValue { $0 = signer }
        return signer
    }

    /// The verifier key text (`<origin>+<key id>+<base64 public key>`).
    public func verifierKey(on db: any Database) async throws -> String {
        try await signer(on: db).verifier.encoded
    }

    // MARK: - Checkpoints

    /// The latest signed checkpoint, signing (and storing) a new one first if the log grew since.
    public func checkpoint(on db: any Database) async throws -> AuditStorage.StoredCheckpoint {
        let storage = try AuditStorage(db)
        let size = try await storage.size()
        if let latest = try await storage.latestCheckpoint(), latest.size >= size { return latest }
        let root = try await MerkleTree.root(treeSize: size, store: SQLMerkleStore(storage))
        let note = try Checkpoint(origin: origin, size: size, rootHash: root).sign(with: try await signer(on: db))
        try await storage.insertCheckpoint(size: size, root: root, note: note, at: AuditEvent.timestamp(clock()))
        // Another node may have signed the same size first (same root, another signature): serve the stored one.
        return try await storage.latestCheckpoint()
            ?? AuditStorage.StoredCheckpoint(size: size, root: root, note: note, createdAt: AuditEvent.timestamp(clock()))
    }

    // MARK: - Proofs

    /// Why a proof request cannot be answered (a 4xx problem).
    static func outOfRange(_ detail: String) -> Problem {
        Problem(.unprocessableEntity, type: "/problems/audit-out-of-range", title: "Outside the log", detail: detail)
    }

    /// The stored leaf hash of entry `index` and its inclusion proof in the tree of `treeSize` entries.
    public func inclusionProof(index: Int, treeSize: Int, on db: any Database) async throws -> (leafHash: MerkleHash, hashes: [MerkleHash]) {
        let storage = try AuditStorage(db)
        let size = try await storage.size()
        guard treeSize >= 1, treeSize <= size else {
            throw Self.outOfRange("treeSize must be between 1 and the log's size \(size)")
        }
        guard index >= 0, index < treeSize else { throw Self.outOfRange("index must be between 0 and treeSize - 1") }
        let plan = try MerkleTree.inclusionPlan(index: index, treeSize: treeSize)
        // One query for the leaf hash and every node of the proof.
        let hashes = try await SQLMerkleStore(storage).resolve([NodeID.leaf(index)] + plan.nodes)
        return (hashes[0], try plan.assemble(Array(hashes.dropFirst())))
    }

    public func consistencyProof(first: Int, second: Int, on db: any Database) async throws -> [MerkleHash] {
        let storage = try AuditStorage(db)
        let size = try await storage.size()
        guard second <= size else { throw Self.outOfRange("second must not exceed the log's size \(size)") }
        guard first >= 0, first <= second else { throw Self.outOfRange("first must be between 0 and second") }
        return try await MerkleTree.consistencyProof(from: first, to: second, store: SQLMerkleStore(storage))
    }

    // MARK: - Evidence

    /// The evidence bundle for entry `index`: its bytes, the smallest stored checkpoint covering it (one is
    /// signed if none does) and the inclusion proof to that checkpoint.
    public func evidence(index: Int, on db: any Database) async throws -> EvidenceBundle {
        let storage = try AuditStorage(db)
        let size = try await storage.size()
        guard index >= 0, index < size else { throw Self.outOfRange("index must be between 0 and \(max(0, size - 1))") }
        var covering = try await storage.checkpoint(covering: index)
        if covering == nil { covering = try await checkpoint(on: db) }
        guard let checkpoint = covering, let entry = try await storage.entry(index) else {
            throw Problem.notFound("Audit entry")
        }
        let proof = try await MerkleTree.inclusionProof(index: index, treeSize: checkpoint.size, store: SQLMerkleStore(storage))
        return EvidenceBundle(
            entry: entry, index: index, treeSize: checkpoint.size, leafHash: MerkleTree.leafHash(entry),
            inclusionProof: proof, checkpoint: checkpoint.note)
    }
}

extension Application {
    private struct AuditLogKey: StorageKey { typealias Value = AuditLogService }

    /// The audit log service (set when the Audit module boots).
    public var auditLog: AuditLogService {
        get {
            guard let service = storage[AuditLogKey.self] else { fatalError("Audit module not booted") }
            return service
        }
        set { storage[AuditLogKey.self] = newValue }
    }
}
