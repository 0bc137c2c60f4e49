import AuditLog
import Fluent
import Foundation
import TongbanCore

/// `tongban audit verify`: recomputes the whole tree from the stored entries and compares it with the
/// stored leaf and node hashes and every stored signed checkpoint, in index order, stopping at the first
/// difference. Memory stays O(batch + log n).
public enum AuditVerification {
    public struct Result: Sendable {
        public var size: Int
        public var root: MerkleHash
        public var checkpointsMatched: Int
        /// The first problem (nil when the log is intact).
        public var finding: LogFinding?
        /// A checkpoint whose signature does not verify with the log's key.
        public var badCheckpoint: Int?

        public var isIntact: Bool { finding == nil && badCheckpoint == nil }

        /// The first entry index concerned.
        public var firstBadIndex: Int? { finding?.index ?? badCheckpoint }
    }

    public static func verify(
        service: AuditLogService, on db: any Database, batchSize: Int = 8192, progress: (Int, Int) -> Void = { _, _ in }
    ) async throws -> Result {
        let storage = try AuditStorage(db)
        let size = try await storage.size()
        let verifier = try await service.signer(on: db).verifier
        var checkpoints: [Checkpoint] = []
        for stored in try await storage.allCheckpoints() {
            guard let checkpoint = try? Checkpoint.open(stored.note, origin: service.origin, verifiers: [verifier]),
                checkpoint.size == stored.size, checkpoint.rootHash == stored.root
            else {
                return Result(size: size, root: MerkleTree.emptyRoot, checkpointsMatched: 0, finding: nil, badCheckpoint: stored.size)
            }
            checkpoints.append(checkpoint)
        }
        var auditor = LogAuditor(treeSize: size, checkpoints: checkpoints)
        var start = 0
        while start < size, !auditor.isFinished {
            let end = min(size, start + batchSize)
            let rows = try await storage.entries(start..<end)
            // A missing index (a deleted row) stops the batch there: the auditor reports it.
            var contiguous: [[UInt8]] = []
            for (offset, row) in rows.enumerated() {
                guard row.index == start + offset else { break }
                contiguous.append(row.bytes)
            }
            let stored = try await storage.storedHashes((start..<(start + contiguous.count)).map(NodeID.leaf))
            let nodes = auditor.feed(entries: contiguous, storedLeafHashes: stored)
            if !nodes.isEmpty {
                auditor.checkStoredNodes(nodes, stored: try await storage.storedHashes(nodes.map(\.id)))
            }
            if contiguous.count < end - start { break }
            start = end
            progress(start, size)
        }
        let report = auditor.finish()
        return Result(
            size: size, root: report.root, checkpointsMatched: report.matchingCheckpoints.count, finding: report.finding,
            badCheckpoint: nil)
    }
}
