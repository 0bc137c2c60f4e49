import Foundation
import Testing
@testable import AuditLog

@Suite("Full-log verification")
struct LogAuditTests {
    static let n = 300

    static func log(levels: StoredLevels = .all, entries: [[UInt8]] = (0..<n).map(entry)) -> InMemoryMerkleStore {
        let store = InMemoryMerkleStore(storedLevels: levels)
        store.append(entries: entries)
        return store
    }

    static func checkpoints(_ store: InMemoryMerkleStore, sizes: [Int]) throws -> [Checkpoint] {
        try sizes.map { try Checkpoint(origin: "o", size: $0, rootHash: try MerkleTree.root(treeSize: $0, store: store)) }
    }

    @Test(arguments: [1, 7, 64, 4096])
    func intactLog(batchSize: Int) throws {
        let store = Self.log()
        let entries = (0..<Self.n).map(entry)
        let report = try LogAuditor.audit(entries: entries, treeSize: Self.n, store: store,
                                          checkpoints: try Self.checkpoints(store, sizes: [0, 100, 256, 300]), batchSize: batchSize)
        #expect(report.isIntact)
        #expect(report.root == store.root)
        #expect(report.entriesChecked == Self.n)
        #expect(report.matchingCheckpoints == [0, 100, 256, 300])
    }

    @Test(arguments: [1, 7, 64, 4096])
    func changedEntryBytesAreFound(batchSize: Int) throws {
        let store = Self.log()
        var entries = (0..<Self.n).map(entry)
        entries[137] = Array("entry 137, edited".utf8)
        entries[200] = Array("also edited".utf8)
        let report = try LogAuditor.audit(entries: entries, treeSize: Self.n, store: store, batchSize: batchSize)
        guard case let .entryAltered(index, stored, computed) = report.finding else {
            Issue.record("expected entryAltered, got \(String(describing: report.finding))"); return
        }
        #expect(index == 137)
        #expect(stored == MerkleTree.leafHash(entry(137)))
        #expect(computed == MerkleTree.leafHash(entries[137]))
        #expect(report.finding?.description.hasPrefix("entry 137 altered") == true)
    }

    @Test func rewrittenLeafHashIsCaughtByStoredNodes() throws {
        let store = Self.log()
        var entries = (0..<Self.n).map(entry)
        entries[137] = Array("forged".utf8)
        store.overwrite(.leaf(137), with: MerkleTree.leafHash(entries[137]))
        let report = try LogAuditor.audit(entries: entries, treeSize: Self.n, store: store, batchSize: 50)
        // The first stored node above it: level 1, covering 136..<138.
        guard case let .nodeAltered(node, _, _) = report.finding else {
            Issue.record("expected nodeAltered, got \(String(describing: report.finding))"); return
        }
        #expect(node == NodeID(level: 1, index: 68))
        #expect(report.finding?.index == 136)
    }

    @Test func alteredInteriorNodeIsFound() throws {
        let store = Self.log()
        store.overwrite(NodeID(level: 3, index: 20), with: MerkleTree.emptyRoot)
        let report = try LogAuditor.audit(entries: (0..<Self.n).map(entry), treeSize: Self.n, store: store)
        #expect(report.finding == .nodeAltered(NodeID(level: 3, index: 20), stored: MerkleTree.emptyRoot,
                                               computed: Reference.mth((0..<Self.n).map { MerkleTree.leafHash(entry($0)) }[160..<168])))
    }

    /// Everything rewritten consistently (entries, leaves, nodes): only signed checkpoints tell,
    /// and they bound where the change is.
    @Test(arguments: [StoredLevels.all, .leavesOnly])
    func consistentRewriteIsCaughtByCheckpoints(levels: StoredLevels) throws {
        let original = Self.log()
        let signedCheckpoints = try Self.checkpoints(original, sizes: [64, 128, 192, 256])
        var forgedEntries = (0..<Self.n).map(entry)
        forgedEntries[150] = Array("rewritten history".utf8)
        let forged = Self.log(levels: levels, entries: forgedEntries)
        let report = try LogAuditor.audit(entries: forgedEntries, treeSize: Self.n, store: forged,
                                          checkpoints: signedCheckpoints, batchSize: 33)
        guard case let .checkpointMismatch(size, signedRoot, _, lastMatching) = report.finding else {
            Issue.record("expected checkpointMismatch, got \(String(describing: report.finding))"); return
        }
        #expect(size == 192)
        #expect(lastMatching == 128)
        #expect(signedRoot == (try MerkleTree.root(treeSize: 192, store: original)))
        #expect(report.matchingCheckpoints == [64, 128])
        #expect(report.finding?.description.hasPrefix("entries 128..<192 were changed") == true)
    }

    @Test func missingAndExtraEntries() throws {
        let store = Self.log()
        let entries = (0..<Self.n).map(entry)
        let short = try LogAuditor.audit(entries: entries.prefix(250), treeSize: Self.n, store: store)
        #expect(short.finding == .entriesMissing(treeSize: Self.n, entries: 250))
        let long = try LogAuditor.audit(entries: entries + [entry(300)], treeSize: Self.n, store: store)
        #expect(long.finding == .unexpectedEntries(treeSize: Self.n))
        let beyond = try LogAuditor.audit(entries: entries.prefix(250), treeSize: 250, store: store,
                                          checkpoints: try Self.checkpoints(store, sizes: [100, 300]))
        #expect(beyond.finding == .checkpointBeyondLog(checkpointSize: 300, logSize: 250))
        // A stored leaf hash missing (storage says 300, holds fewer).
        let partial = InMemoryMerkleStore()
        partial.append(entries: entries.prefix(280))
        let missing = try LogAuditor.audit(entries: entries, treeSize: Self.n, store: partial)
        #expect(missing.finding == .leafHashMissing(index: 280))
    }

    /// The storage-independent driver, as an async database-backed caller would use it.
    @Test func drivingTheAuditorByHand() async throws {
        let store = Self.log()
        let remote = AsyncStore(store)
        var entries = (0..<Self.n).map(entry)
        entries[299] = Array("late edit".utf8)
        var auditor = LogAuditor(treeSize: Self.n)
        var start = 0
        while start < Self.n, !auditor.isFinished {
            let batch = Array(entries[start..<min(start + 100, Self.n)])
            let leaves = try await remote.storedHashes((start..<start + batch.count).map(NodeID.leaf))
            let nodes = auditor.feed(entries: batch, storedLeafHashes: leaves)
            auditor.checkStoredNodes(nodes, stored: try await remote.storedHashes(nodes.map(\.id)))
            start += batch.count
        }
        let report = auditor.finish()
        #expect(report.finding?.index == 299)
        #expect(report.entriesChecked == 299)
    }
}
