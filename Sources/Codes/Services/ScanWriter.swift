import Fluent
import SQLKit
import Foundation
import NIOConcurrencyHelpers
import TongbanCore
import Vapor

/// Group commit (``GroupCommit``) for online scan records: concurrent verifications queue their scan rows (and
/// medical encounters); one writer inserts everything queued (up to `maxBatch`) in ONE write transaction, and
/// only after the commit answers each caller.
///
/// Replay protection stays exact: the unique `accept_key` index is the authority. If a batch meets it (a code
/// accepted by another server node, by an offline batch upload, or before a restart), the batch is rolled back
/// and its rows are written one by one, so exactly the rows that collide are reported as replayed.
///
/// The audit entries of disclosing scans are not awaited by the verifier: the same transaction that stores a batch's
/// scan rows enqueues one persistent job (``ScanAudit/jobKind``) carrying the batch's audit events, and the job
/// runner appends them to the audit log moments later (at least once: a job retried after a crash may append an
/// event twice). A verification used to wait for two commits in a row (its scan row, then its audit entry); with
/// 32 verifiers in flight that wait, not the processor, bounded the rate.
public final class ScanWriter: Sendable {
    struct Write: Sendable {
        var scan: ScanRow
        var encounter: EncounterRow?
        var audit: ScanAudit?
    }

    private let queue: GroupCommit<Write, Bool>

    public init(database: @escaping @Sendable () -> any Database, clock: @escaping @Sendable () -> TongbanClock, maxBatch: Int = 512) {
        queue = GroupCommit(maxBatch: maxBatch, retryEach: true) { writes in
            do {
                try await database().writeTransaction { tx in
                    try await ScanRow.insert(writes.map(\.scan), on: tx)
                    try await EncounterRow.insert(writes.compactMap(\.encounter), on: tx)
                    let audits = writes.compactMap(\.audit)
                    if !audits.isEmpty {
                        let clock = clock()
                        try await JobQueue(db: tx, clock: clock).enqueueNew([
                            try JobQueue.NewJob(kind: ScanAudit.jobKind, payload: ScanAudit.Batch(events: audits), runAt: clock.now(), maxAttempts: 10)
                        ])
                    }
                }
                return Array(repeating: true, count: writes.count)
            } catch let error as any DatabaseError where error.isConstraintFailure && writes.count == 1 {
                // Retried alone after its batch failed: this organisation already accepted this code.
                return [false]
            }
        }
    }

    /// Batches committed so far (tests and the benchmark).
    public var batches: Int { get async { await queue.batches } }
    /// Rows written so far.
    public var rows: Int { get async { await queue.committed } }

    /// Stores `scan` (and `encounter`, which belongs to it); false when its accept key was already taken
    /// (nothing stored), true once committed.
    func write(_ scan: ScanRow, encounter: EncounterRow? = nil, audit: ScanAudit? = nil) async throws -> Bool {
        try await queue.submit(Write(scan: scan, encounter: encounter, audit: audit))
    }
}

/// The audit event of a scan that disclosed attributes (`codes.scan.disclosed`), carried by a job from the scan's
/// write transaction to the audit log.
struct ScanAudit: Codable, Sendable {
    static let kind = "codes.scan.disclosed"
    static let jobKind = "codes.scan-audit"

    var holder: UUID
    var scan: UUID
    var device: UUID
    var scenario: String
    var attributes: String
    var scannedAt: Date

    struct Batch: Codable, Sendable {
        var events: [ScanAudit]
    }

    var subject: String { "code-holder:" + holder.uuidString.lowercased() }

    var details: [String: String] {
        [
            "scan": scan.uuidString.lowercased(), "device": device.uuidString.lowercased(), "scenario": scenario,
            "attributes": attributes, "scannedAt": ISO8601DateFormatter().string(from: scannedAt),
        ]
    }

    /// Appends each event of the batch (concurrently: the audit appender commits them together).
    static func run(_ job: Job, app: Application) async throws {
        let batch = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: Batch.self)
        guard let audit = app.audit else { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for event in batch.events {
                group.addTask { _ = try await audit.record(kind: kind, actor: nil, subject: event.subject, details: event.details) }
            }
            try await group.waitForAll()
        }
    }
}

/// One scan record as a value (the online path builds and inserts thousands a second; a Fluent model per row
/// and Fluent's reflection-driven INSERT were a visible share of a verification).
struct ScanRow: Sendable {
    var id: UUID
    var organisationID: UUID
    var deviceID: UUID
    var holderID: UUID?
    var codeType: String?
    var scenario: String
    var nonce: String?
    var valid: Bool
    var reason: String
    var disclosed: String
    var location: String
    var source: ScanSource
    var scannedAt: Date
    var recordedAt: Date
    var acceptKey: String?

    var model: CodeScan {
        let scan = CodeScan()
        scan.id = id
        scan.organisationID = organisationID
        scan.deviceID = deviceID
        scan.holderID = holderID
        scan.codeType = codeType
        scan.scenario = scenario
        scan.nonce = nonce
        scan.valid = valid
        scan.reason = reason
        scan.disclosed = disclosed
        scan.location = location
        scan.source = source
        scan.scannedAt = scannedAt
        scan.recordedAt = recordedAt
        scan.acceptKey = acceptKey
        return scan
    }

    /// Multi-row INSERTs in plain SQL (``BulkInsert``); Fluent models only on a database without SQL.
    static func insert(_ rows: [ScanRow], on db: any Database) async throws {
        guard !rows.isEmpty else { return }
        guard let sql = db as? any SQLDatabase else {
            try await rows.map(\.model).create(on: db)
            return
        }
        try await BulkInsert.run(
            into: CodeScan.schema,
            columns: [
                "id", "organisation_id", "device_id", "holder_id", "code_type", "scenario", "nonce", "valid", "reason", "disclosed", "location",
                "source", "scanned_at", "recorded_at", "accept_key",
            ], rows: rows, on: sql
        ) { row in
            [
                row.id, row.organisationID, row.deviceID, row.holderID, row.codeType, row.scenario, row.nonce, row.valid, row.reason,
                row.disclosed, row.location, row.source.rawValue, row.scannedAt, row.recordedAt, row.acceptKey,
            ]
        }
    }
}

/// A medical encounter opened by a scan, as a value.
struct EncounterRow: Sendable {
    var id: UUID
    var scanID: UUID
    var organisationID: UUID
    var holderID: UUID
    var insuranceNumber: String
    var createdAt: Date

    var model: MedicalEncounter {
        let encounter = MedicalEncounter()
        encounter.id = id
        encounter.scanID = scanID
        encounter.organisationID = organisationID
        encounter.holderID = holderID
        encounter.insuranceNumber = insuranceNumber
        encounter.createdAt = createdAt
        return encounter
    }

    static func insert(_ rows: [EncounterRow], on db: any Database) async throws {
        guard !rows.isEmpty else { return }
        guard let sql = db as? any SQLDatabase else {
            try await rows.map(\.model).create(on: db)
            return
        }
        try await BulkInsert.run(
            into: MedicalEncounter.schema, columns: ["id", "scan_id", "organisation_id", "holder_id", "insurance_number", "created_at"],
            rows: rows, on: sql
        ) { row in [row.id, row.scanID, row.organisationID, row.holderID, row.insuranceNumber, row.createdAt] }
    }
}

/// The accept keys (`organisation:nonce`) of codes accepted online by this process, kept until the code has
/// expired (after that a replay fails as expired anyway). A replay within this process is answered without
/// touching the database; the unique index still decides across processes and restarts.
public final class AcceptedCodes: Sendable {
    private let state = NIOLockedValueBox<(keys: [String: Date], nextPrune: Date)>(([:], .distantPast))

    public init() {}

    /// Takes `key` until `until`; false when it is already taken.
    func take(_ key: String, until: Date, now: Date) -> Bool {
        state.withLockedValue { state in
            if now >= state.nextPrune {
                state.keys = state.keys.filter { $0.value >= now }
                state.nextPrune = now.addingTimeInterval(30)
            }
            if let held = state.keys[key], held >= now { return false }
            state.keys[key] = until
            return true
        }
    }

    /// Gives `key` back (its scan could not be stored).
    func release(_ key: String) {
        state.withLockedValue { _ = $0.keys.removeValue(forKey: key) }
    }

    public var count: Int { state.withLockedValue { $0.keys.count } }
}

extension Application {
    private struct ScanWriterKey: StorageKey { typealias Value = ScanWriter }
    private struct AcceptedKey: StorageKey { typealias Value = AcceptedCodes }

    /// The group-commit writer of online scan records.
    public var codeScanWriter: ScanWriter {
        get {
            if let writer = storage[ScanWriterKey.self] { return writer }
            let writer = ScanWriter(database: { [unowned self] in self.db }, clock: { [unowned self] in self.clock })
            storage[ScanWriterKey.self] = writer
            return writer
        }
        set { storage[ScanWriterKey.self] = newValue }
    }

    /// Codes accepted online by this process (replay fast path).
    public var acceptedCodes: AcceptedCodes {
        get {
            if let accepted = storage[AcceptedKey.self] { return accepted }
            let accepted = AcceptedCodes()
            storage[AcceptedKey.self] = accepted
            return accepted
        }
        set { storage[AcceptedKey.self] = newValue }
    }
}
