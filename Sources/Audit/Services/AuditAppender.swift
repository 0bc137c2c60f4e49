import AuditLog
import Fluent
import Foundation
import TongbanCore

/// Group commit for the log: concurrent appenders queue their entries; one writer takes everything
/// queued (up to `maxBatch`), inserts the entries and the Merkle nodes they complete in ONE write
/// transaction, and only after the commit resumes each caller with its index. While a batch commits,
/// the next one queues up, so the cost of a commit is shared by every entry in it.
///
/// The frontier (``CompactRange``) is kept in memory between batches and re-read from the stored nodes
/// (O(log n) rows) whenever the stored size differs, e.g. when another process or server node appended.
/// On SQLite the commit goes through the write-ahead log (`synchronous=NORMAL`): a commit survives kill -9.
public actor AuditAppender {
    struct Pending {
        var entry: AuditStorage.NewEntry
        var leafHash: MerkleHash
        var continuation: CheckedContinuation<Int, any Error>
    }

    private let database: any Database
    private let maxBatch: Int
    private var frontier: CompactRange?
    private var queue: [Pending] = []
    private var writing = false
    /// Batches committed so far (for the benchmark and tests).
    public private(set) var batches = 0

    public init(database: any Database, maxBatch: Int = 4096) {
        self.database = database
        self.maxBatch = max(1, maxBatch)
    }

    /// Appends one entry (its exact bytes); returns its index once it is committed.
    public func append(kind: String, at: String, bytes: [UInt8]) async throws -> Int {
        let leafHash = MerkleTree.leafHash(bytes)
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(
                Pending(entry: .init(kind: kind, at: at, bytes: bytes), leafHash: leafHash, continuation: continuation))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !queue.isEmpty {
            let count = min(queue.count, maxBatch)
            let batch = Array(queue.prefix(count))
            queue.removeFirst(count)
            do {
                let first = try await write(batch)
                for (offset, pending) in batch.enumerated() {
                    pending.continuation.resume(returning: first + offset)
                }
            } catch {
                frontier = nil
                for pending in batch {
                    pending.continuation.resume(throwing: error)
                }
            }
        }
        writing = false
    }

    /// Inserts one batch; returns the index of its first entry.
    private func write(_ batch: [Pending]) async throws -> Int {
        let entries = batch.map(\.entry)
        let leafHashes = batch.map(\.leafHash)
        let known = frontier
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
        frontier = updated
        batches += 1
        return first
    }
}
