import AuditLog
import Fluent
import Foundation
import NIOConcurrencyHelpers
import TongbanCore

/// Group commit for the log: concurrent appenders queue their entries; one writer takes everything
/// queued (up to `maxBatch`), inserts the entries and the Merkle nodes they complete in ONE write
/// transaction, and only after the commit resumes each caller with its index. While a batch commits,
/// the next one queues up, so the cost of a commit is shared by every entry in it.
///
/// The frontier (``CompactRange``) is kept in memory between batches and re-read from the stored nodes
/// (O(log n) rows) whenever the stored size differs, e.g. when another process or server node appended.
/// On SQLite the commit goes through the write-ahead log (`synchronous=NORMAL`): a commit survives kill -9.
public final class AuditAppender: Sendable {
    struct Pending: Sendable {
        var entry: AuditStorage.NewEntry
        var leafHash: MerkleHash
    }

    private let queue: GroupCommit<Pending, Int>

    public init(database: any Database, maxBatch: Int = 4096) {
        // Only the queue's single drainer touches it (one commit at a time).
        let frontier = NIOLockedValueBox<CompactRange?>(nil)
        queue = GroupCommit(maxBatch: maxBatch, retryEach: false) { batch in
            do {
                let first = try await Self.write(batch, database: database, frontier: frontier)
                return batch.indices.map { first + $0 }
            } catch {
                frontier.withLockedValue { $0 = nil }
                throw error
            }
        }
    }

    /// Batches committed so far (for the benchmark and tests).
    public var batches: Int { get async { await queue.batches } }

    /// Appends one entry (its exact bytes); returns its index once it is committed.
    public func append(kind: String, at: String, bytes: [UInt8]) async throws -> Int {
        try await queue.submit(Pending(entry: .init(kind: kind, at: at, bytes: bytes), leafHash: MerkleTree.leafHash(bytes)))
    }

    /// Inserts one batch; returns the index of its first entry.
    private static func write(_ batch: [Pending], database: any Database, frontier: NIOLockedValueBox<CompactRange?>) async throws -> Int {
        let entries = batch.map(\.entry)
        let leafHashes = batch.map(\.leafHash)
        let known = frontier.withLockedValue { $0 }
        let (updated, first) = try await database.writeTransaction { tx -> (CompactRange, Int) in
            let storage = try AuditStorage(tx)
            try await storage.lockForAppend()
            let size = try await storage.size()
            var range: CompactRange
            if let known, known.size == size {
                range = known
            } else {
                range = try await CompactRange(size: size, store: SQLMerkleStore(storage))
            }
            let nodes = range.append(leafHashes: leafHashes)
            try await storage.insert(entries: entries, first: size, nodes: nodes)
            return (range, size)
        }
        frontier.withLockedValue { $0 = updated }
        return first
    }
}
