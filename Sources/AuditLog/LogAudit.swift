import Foundation

/// What a full-log check found first (in leaf order).
public enum LogFinding: Hashable, Sendable, CustomStringConvertible {
    /// The entry's bytes no longer hash to its stored leaf hash.
    case entryAltered(index: Int, storedLeafHash: MerkleHash, computedLeafHash: MerkleHash)
    /// No stored leaf hash for this entry.
    case leafHashMissing(index: Int)
    /// A stored interior node differs from the one recomputed from the entries.
    case nodeAltered(NodeID, stored: MerkleHash, computed: MerkleHash)
    /// The entries (with consistently rewritten hashes) no longer give a signed checkpoint's root:
    /// the change lies among entries `lastMatchingSize ..< size`.
    case checkpointMismatch(size: Int, signedRoot: MerkleHash, computedRoot: MerkleHash, lastMatchingSize: Int)
    /// The log holds fewer entries than a checkpoint covers.
    case checkpointBeyondLog(checkpointSize: Int, logSize: Int)
    /// The entries stopped before the tree size (entries deleted).
    case entriesMissing(treeSize: Int, entries: Int)
    /// More entries than the tree size.
    case unexpectedEntries(treeSize: Int)

    /// The first leaf index the finding concerns.
    public var index: Int {
        switch self {
        case let .entryAltered(index, _, _), let .leafHashMissing(index): return index
        case let .nodeAltered(node, _, _): return node.leaves.lowerBound
        case let .checkpointMismatch(_, _, _, lastMatchingSize): return lastMatchingSize
        case let .checkpointBeyondLog(_, logSize): return logSize
        case let .entriesMissing(_, entries): return entries
        case let .unexpectedEntries(treeSize): return treeSize
        }
    }

    public var description: String {
        switch self {
        case let .entryAltered(index, stored, computed):
            return "entry \(index) altered: its bytes hash to \(computed.hex), stored leaf hash is \(stored.hex)"
        case let .leafHashMissing(index):
            return "entry \(index) has no stored leaf hash"
        case let .nodeAltered(node, stored, computed):
            return "stored \(node) (entries \(node.leaves.lowerBound)..<\(node.leaves.upperBound)) is \(stored.hex), recomputed \(computed.hex)"
        case let .checkpointMismatch(size, signed, computed, lastMatching):
            return "entries \(lastMatching)..<\(size) were changed: root at size \(size) is \(computed.hex), the signed checkpoint says \(signed.hex)"
        case let .checkpointBeyondLog(checkpointSize, logSize):
            return "a checkpoint covers \(checkpointSize) entries but the log holds \(logSize)"
        case let .entriesMissing(treeSize, entries):
            return "tree size is \(treeSize) but only \(entries) entries are stored"
        case let .unexpectedEntries(treeSize):
            return "more entries are stored than the tree size \(treeSize)"
        }
    }
}

public struct LogAuditReport: Hashable, Sendable {
    /// Entries checked.
    public let entriesChecked: Int
    /// MTH of the entries checked (when the check ran to the end).
    public let root: MerkleHash
    /// Checkpoint sizes whose roots matched.
    public let matchingCheckpoints: [Int]
    /// The first problem, or nil when the log is intact.
    public let finding: LogFinding?

    public var isIntact: Bool { finding == nil }
}

/// Recomputes a log from its stored entries and compares with the stored leaf and node hashes and
/// signed checkpoints, reporting the first difference in leaf order.
///
/// Storage-independent: feed it batches of entries with their stored leaf hashes
/// (`feed(entries:storedLeafHashes:)`), fetch the stored hashes of the nodes that batch completed
/// and hand them to `checkStoredNodes(_:stored:)`, then call `finish()`. `LogAuditor.audit`
/// does all that against a `MerkleHashStore`. Memory is O(batch + log n).
public struct LogAuditor: Sendable {
    public let treeSize: Int
    private var checkpoints: [Checkpoint]
    private var nextCheckpoint = 0
    private var range = CompactRange()
    private var matching: [Int] = []
    private var lastMatchingSize = 0
    private var extraEntries = false
    public private(set) var finding: LogFinding?

    /// - Parameters:
    ///   - treeSize: the number of entries the log claims to hold.
    ///   - checkpoints: signed checkpoints (already verified), any order.
    public init(treeSize: Int, checkpoints: [Checkpoint] = []) {
        self.treeSize = treeSize
        self.checkpoints = checkpoints.sorted { $0.size < $1.size }
        checkCheckpoints()
    }

    public var entriesChecked: Int { range.size }
    public var isFinished: Bool { finding != nil }

    private mutating func checkCheckpoints() {
        while finding == nil, nextCheckpoint < checkpoints.count, checkpoints[nextCheckpoint].size <= range.size {
            let checkpoint = checkpoints[nextCheckpoint]
            let root = range.root
            if root == checkpoint.rootHash {
                if matching.last != checkpoint.size { matching.append(checkpoint.size) }
                lastMatchingSize = checkpoint.size
            } else {
                finding = .checkpointMismatch(size: checkpoint.size, signedRoot: checkpoint.rootHash,
                                              computedRoot: root, lastMatchingSize: lastMatchingSize)
            }
            nextCheckpoint += 1
        }
    }

    /// Checks the next batch of entries (continuing at `entriesChecked`) against their stored leaf
    /// hashes (nil where none is stored). Stops at the first finding.
    ///
    /// - Returns: the interior nodes the batch completed: fetch their stored hashes (nil where the
    ///   store does not keep them) and pass both to `checkStoredNodes(_:stored:)`.
    public mutating func feed<Entries: Collection>(entries: Entries, storedLeafHashes: [MerkleHash?]) -> [MerkleNode]
    where Entries.Element: DataProtocol {
        precondition(entries.count == storedLeafHashes.count, "one stored leaf hash per entry")
        var completed: [MerkleNode] = []
        for (entry, stored) in zip(entries, storedLeafHashes) {
            guard finding == nil else { break }
            let index = range.size
            guard index < treeSize else {
                extraEntries = true
                break
            }
            let computed = MerkleTree.leafHash(entry)
            guard let stored else {
                finding = .leafHashMissing(index: index)
                break
            }
            guard stored == computed else {
                finding = .entryAltered(index: index, storedLeafHash: stored, computedLeafHash: computed)
                break
            }
            range.append(leafHash: computed) { node in
                if node.id.level > 0 { completed.append(node) }
            }
            checkCheckpoints()
        }
        return completed
    }

    /// Compares nodes from `feed` with their stored hashes. A stored node that differs is reported
    /// in place of any later finding of the same batch.
    public mutating func checkStoredNodes(_ nodes: [MerkleNode], stored: [MerkleHash?]) {
        precondition(nodes.count == stored.count, "one stored hash per node")
        for (node, stored) in zip(nodes, stored) {
            // `feed` stops at its first finding, so every node it returned was completed no later
            // than that finding: a differing stored node comes first.
            if let stored, stored != node.hash {
                finding = .nodeAltered(node.id, stored: stored, computed: node.hash)
                return
            }
        }
    }

    /// Ends the check: reports missing or extra entries and checkpoints beyond the log.
    public mutating func finish() -> LogAuditReport {
        if finding == nil {
            if extraEntries {
                finding = .unexpectedEntries(treeSize: treeSize)
            } else if range.size < treeSize {
                finding = .entriesMissing(treeSize: treeSize, entries: range.size)
            } else if nextCheckpoint < checkpoints.count {
                finding = .checkpointBeyondLog(checkpointSize: checkpoints[nextCheckpoint].size, logSize: range.size)
            }
        }
        return LogAuditReport(entriesChecked: range.size, root: range.root, matchingCheckpoints: matching, finding: finding)
    }

    /// Checks a whole log: `entries` in index order from 0, against `store`'s leaf and node hashes
    /// and the given checkpoints.
    public static func audit<Entries: Sequence>(entries: Entries, treeSize: Int, store: some MerkleHashStore,
                                                checkpoints: [Checkpoint] = [], batchSize: Int = 4096) throws -> LogAuditReport
    where Entries.Element: DataProtocol {
        var auditor = LogAuditor(treeSize: treeSize, checkpoints: checkpoints)
        var batch: [Entries.Element] = []
        batch.reserveCapacity(batchSize)
        func flush() throws {
            guard !batch.isEmpty, !auditor.isFinished else { batch.removeAll(keepingCapacity: true); return }
            let start = auditor.entriesChecked
            let end = min(start + batch.count, treeSize)
            var stored = end > start ? try store.storedHashes((start..<end).map(NodeID.leaf)) : []
            stored += Array(repeating: nil, count: batch.count - stored.count)
            let nodes = auditor.feed(entries: batch, storedLeafHashes: stored)
            if !nodes.isEmpty {
                auditor.checkStoredNodes(nodes, stored: try store.storedHashes(nodes.map(\.id)))
            }
            batch.removeAll(keepingCapacity: true)
        }
        for entry in entries {
            batch.append(entry)
            if batch.count == batchSize {
                try flush()
                if auditor.isFinished { break }
            }
        }
        try flush()
        return auditor.finish()
    }
}
