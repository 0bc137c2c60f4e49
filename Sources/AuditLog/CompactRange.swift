import Foundation

/// The right edge ("frontier") of a log's tree: the hashes of the complete subtrees that the
/// first `size` leaves decompose into, one per set bit of `size`, largest first.
///
/// This is all the state an appender needs: appending a leaf costs one leaf hash plus amortized
/// one node hash (at most log n), never rereads old leaves, yields the new root in O(log n), and
/// emits every complete subtree that the append finished so storage can persist it.
/// Persist `size` and `hashes` (or rebuild them from stored nodes with `CompactRange.frontier(size:)`).
public struct CompactRange: Hashable, Sendable, Codable {
    public private(set) var size: Int
    /// Hashes of the nodes `CompactRange.frontier(size: size)`, in that order.
    public private(set) var hashes: [MerkleHash]

    public init() {
        size = 0
        hashes = []
    }

    /// Restores a frontier; `hashes` must be the hashes of `CompactRange.frontier(size:)`.
    public init(size: Int, hashes: [MerkleHash]) throws {
        guard size >= 0, hashes.count == size.nonzeroBitCount else {
            throw MerkleStoreError.invalidFrontier(size: size, hashCount: hashes.count)
        }
        self.size = size
        self.hashes = hashes
    }

    /// Restores the frontier of `size` from a store that keeps the frontier nodes (O(log n) reads).
    public init(size: Int, store: some MerkleHashStore) throws {
        let nodes = Self.frontier(size: size)
        try self.init(size: size, hashes: try store.resolve(nodes))
    }

    public init(size: Int, store: some AsyncMerkleHashStore) async throws {
        let nodes = Self.frontier(size: size)
        try self.init(size: size, hashes: try await store.resolve(nodes))
    }

    /// The complete subtrees covering leaves 0..<size, largest (leftmost) first.
    public static func frontier(size: Int) -> [NodeID] {
        precondition(size >= 0)
        var nodes: [NodeID] = []
        var start = 0
        var level = Int.bitWidth - 1
        while level >= 0 {
            if size & (1 << level) != 0 {
                nodes.append(NodeID(level: level, index: start >> level))
                start += 1 << level
            }
            level -= 1
        }
        return nodes
    }

    public var nodes: [NodeID] { Self.frontier(size: size) }

    /// MTH of the leaves appended so far.
    public var root: MerkleHash {
        guard var hash = hashes.last else { return MerkleTree.emptyRoot }
        for left in hashes.dropLast().reversed() {
            hash = MerkleTree.nodeHash(left, hash)
        }
        return hash
    }

    /// Appends one leaf hash. `emit` receives the leaf (level 0) and then each node it completed,
    /// bottom-up.
    public mutating func append(leafHash: MerkleHash, emit: (MerkleNode) throws -> Void) rethrows {
        let index = size
        var hash = leafHash
        var level = 0
        try emit(MerkleNode(id: NodeID(level: 0, index: index), hash: hash))
        while index & (1 << level) != 0 {
            hash = MerkleTree.nodeHash(hashes.removeLast(), hash)
            level += 1
            try emit(MerkleNode(id: NodeID(level: level, index: index >> level), hash: hash))
        }
        hashes.append(hash)
        size += 1
    }

    /// Appends one leaf hash, ignoring the completed nodes.
    public mutating func append(leafHash: MerkleHash) {
        append(leafHash: leafHash) { _ in }
    }

    /// Appends a batch and returns every node it completed (the leaves included), ready to persist
    /// in one transaction.
    @discardableResult
    public mutating func append(leafHashes: some Sequence<MerkleHash>) -> [MerkleNode] {
        var completed: [MerkleNode] = []
        completed.reserveCapacity(leafHashes.underestimatedCount * 2)
        for hash in leafHashes {
            append(leafHash: hash) { completed.append($0) }
        }
        return completed
    }

    /// Hashes and appends a batch of entries; returns the completed nodes.
    @discardableResult
    public mutating func append<Entries: Sequence>(entries: Entries) -> [MerkleNode] where Entries.Element: DataProtocol {
        append(leafHashes: entries.lazy.map { MerkleTree.leafHash($0) })
    }
}
