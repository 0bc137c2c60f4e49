import Foundation

/// Read access to a log's stored hashes: leaf hashes (level 0) and, optionally, the hashes of
/// complete subtrees (`NodeID`s of level ≥ 1) as `CompactRange` emitted them.
///
/// A store may keep every level (proofs then read O(log n) hashes), only some levels (say every
/// 8th, like tlog tiles of height 8: proofs read O(2^8 · log n)), or only leaves (proofs read O(n)).
/// Nodes it does not keep are answered with nil and recomputed from their children.
/// Requests are batched: one call per round, so a database answers a whole proof with one query
/// when every level is kept.
public protocol MerkleHashStore {
    /// For each requested node, in order, its stored hash, or nil if the store does not keep it.
    /// Callers only ask for complete subtrees inside the tree size they work with; a missing leaf
    /// hash (level 0) is an error.
    func storedHashes(_ nodes: [NodeID]) throws -> [MerkleHash?]
}

/// `MerkleHashStore` for storage reached asynchronously (a database driver).
public protocol AsyncMerkleHashStore: Sendable {
    func storedHashes(_ nodes: [NodeID]) async throws -> [MerkleHash?]
}

/// Stored data missing or inconsistent.
public enum MerkleStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    case missingLeaf(index: Int)
    case missingNode(NodeID)
    case wrongAnswerCount(requested: Int, answered: Int)
    case invalidFrontier(size: Int, hashCount: Int)

    public var description: String {
        switch self {
        case let .missingLeaf(index): return "leaf hash \(index) is not stored"
        case let .missingNode(node): return "\(node) could not be resolved"
        case let .wrongAnswerCount(requested, answered): return "store answered \(answered) hashes for \(requested) requested"
        case let .invalidFrontier(size, count): return "a frontier of size \(size) needs \(size.nonzeroBitCount) hashes, got \(count)"
        }
    }
}

/// Resolves complete-subtree hashes against a store that may lack some levels: asks for the
/// wanted nodes, then for the children of those it lacks, round by round, and hashes upwards.
/// Storage-independent: drive it with `pending` / `supply(_:)`, then read `hashes`.
/// When the store keeps every wanted node this is one round and no hashing.
public struct NodeResolution: Sendable {
    public let wanted: [NodeID]
    /// The nodes to fetch next; empty once everything is resolved.
    public private(set) var pending: [NodeID]
    private var answers: [MerkleHash?] = []
    private var firstRound = true
    // Fallback bookkeeping, only used for nodes the store does not keep.
    private var resolved: [NodeID: MerkleHash] = [:]
    private var deferred: [NodeID] = []

    public init(wanted: [NodeID]) {
        self.wanted = wanted
        self.pending = wanted
    }

    public var isComplete: Bool { pending.isEmpty }

    /// The hashes of `wanted`, in order, once `isComplete`.
    public var hashes: [MerkleHash] {
        precondition(isComplete, "resolution not complete")
        return answers.map { $0! }
    }

    /// Feeds the store's answers for `pending`.
    public mutating func supply(_ stored: [MerkleHash?]) throws {
        guard stored.count == pending.count else {
            throw MerkleStoreError.wrongAnswerCount(requested: pending.count, answered: stored.count)
        }
        if firstRound {
            firstRound = false
            answers = stored
            if !stored.contains(where: { $0 == nil }) {
                pending = []
                return
            }
        }
        var next: [NodeID] = []
        var queued = Set<NodeID>()
        for (node, answer) in zip(pending, stored) {
            if let answer {
                resolved[node] = answer
            } else if node.level == 0 {
                throw MerkleStoreError.missingLeaf(index: node.index)
            } else {
                deferred.append(node)
                for child in [node.left, node.right] where resolved[child] == nil && queued.insert(child).inserted {
                    next.append(child)
                }
            }
        }
        pending = next
        if pending.isEmpty {
            // Nodes deferred later are deeper: hash them first.
            for node in deferred.reversed() where resolved[node] == nil {
                guard let left = resolved[node.left], let right = resolved[node.right] else {
                    throw MerkleStoreError.missingNode(node)
                }
                resolved[node] = MerkleTree.nodeHash(left, right)
            }
            deferred = []
            for i in answers.indices where answers[i] == nil {
                guard let hash = resolved[wanted[i]] else { throw MerkleStoreError.missingNode(wanted[i]) }
                answers[i] = hash
            }
        }
    }
}

extension MerkleHashStore {
    /// The hashes of the given complete subtrees, in order, recomputing those the store does not keep.
    public func resolve(_ nodes: [NodeID]) throws -> [MerkleHash] {
        var resolution = NodeResolution(wanted: nodes)
        while !resolution.isComplete {
            try resolution.supply(try storedHashes(resolution.pending))
        }
        return resolution.hashes
    }

    /// Stored leaf hashes for `range`.
    public func leafHashes(_ range: Range<Int>) throws -> [MerkleHash] {
        let answers = try storedHashes(range.map(NodeID.leaf))
        return try zip(range, answers).map { index, hash in
            guard let hash else { throw MerkleStoreError.missingLeaf(index: index) }
            return hash
        }
    }
}

extension AsyncMerkleHashStore {
    public func resolve(_ nodes: [NodeID]) async throws -> [MerkleHash] {
        var resolution = NodeResolution(wanted: nodes)
        while !resolution.isComplete {
            try resolution.supply(try await storedHashes(resolution.pending))
        }
        return resolution.hashes
    }

    public func leafHashes(_ range: Range<Int>) async throws -> [MerkleHash] {
        let answers = try await storedHashes(range.map(NodeID.leaf))
        return try zip(range, answers).map { index, hash in
            guard let hash else { throw MerkleStoreError.missingLeaf(index: index) }
            return hash
        }
    }
}

/// Which node levels a store keeps. Leaves (level 0) are always kept.
public struct StoredLevels: Hashable, Sendable {
    /// Interior levels kept are the multiples of `stride`; 0 keeps none.
    public let stride: Int

    public static let all = StoredLevels(stride: 1)
    public static let leavesOnly = StoredLevels(stride: 0)
    /// Every `k`-th level (k = 8 matches the granularity of tlog tiles of height 8).
    public static func every(_ k: Int) -> StoredLevels { StoredLevels(stride: k) }

    public init(stride: Int) {
        precondition(stride >= 0)
        self.stride = stride
    }

    public func contains(level: Int) -> Bool {
        level == 0 || (stride > 0 && level % stride == 0)
    }
}

/// An in-memory log: leaf hashes and the kept interior levels, appended through a `CompactRange`.
/// Counts the hashes it is asked for, so tests can check that proofs read O(log n) of them.
public final class InMemoryMerkleStore: MerkleHashStore, @unchecked Sendable {
    private let lock = NSLock()
    private var levels: [[MerkleHash]] = [[]]
    private var range = CompactRange()
    private var reads = 0
    private var requests = 0
    public let storedLevels: StoredLevels

    public init(storedLevels: StoredLevels = .all) {
        self.storedLevels = storedLevels
    }

    public var size: Int { lock.withLock { range.size } }
    public var root: MerkleHash { lock.withLock { range.root } }
    public var frontier: CompactRange { lock.withLock { range } }

    /// Node hashes asked for since the last reset.
    public var readCount: Int { lock.withLock { reads } }
    /// `storedHashes` calls (round trips) since the last reset.
    public var requestCount: Int { lock.withLock { requests } }

    public func resetCounters() {
        lock.withLock { reads = 0; requests = 0 }
    }

    /// Appends leaf hashes; returns the new root.
    @discardableResult
    public func append(leafHashes: some Sequence<MerkleHash>) -> MerkleHash {
        lock.withLock {
            for hash in leafHashes {
                range.append(leafHash: hash) { node in
                    guard storedLevels.contains(level: node.id.level) else { return }
                    while levels.count <= node.id.level { levels.append([]) }
                    assert(levels[node.id.level].count == node.id.index)
                    levels[node.id.level].append(node.hash)
                }
            }
            return range.root
        }
    }

    @discardableResult
    public func append<Entries: Sequence>(entries: Entries) -> MerkleHash where Entries.Element: DataProtocol {
        append(leafHashes: entries.lazy.map { MerkleTree.leafHash($0) })
    }

    public func storedHashes(_ nodes: [NodeID]) -> [MerkleHash?] {
        lock.withLock {
            requests += 1
            reads += nodes.count
            return nodes.map { node in
                guard node.level < levels.count, node.index < levels[node.level].count else { return nil }
                return levels[node.level][node.index]
            }
        }
    }

    /// Replaces a stored hash (to simulate tampering in tests). Returns false if it is not stored.
    @discardableResult
    public func overwrite(_ node: NodeID, with hash: MerkleHash) -> Bool {
        lock.withLock {
            guard node.level < levels.count, node.index < levels[node.level].count else { return false }
            levels[node.level][node.index] = hash
            return true
        }
    }
}
