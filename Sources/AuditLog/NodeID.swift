/// A complete (perfect, power-of-two aligned) subtree of the log's tree: the node at `level`
/// (0 = a leaf) and `index` (its position among the nodes of that level), covering the leaves
/// `index · 2^level ..< (index + 1) · 2^level`.
///
/// Such nodes never change once the log has grown past them, so storage can keep them for good:
/// `CompactRange` emits each one as it completes, and proofs are made from O(log n) of them.
public struct NodeID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public let level: Int
    public let index: Int

    public init(level: Int, index: Int) {
        precondition(level >= 0 && level < Int.bitWidth - 1 && index >= 0, "invalid node \(level)/\(index)")
        self.level = level
        self.index = index
    }

    public static func leaf(_ index: Int) -> NodeID { NodeID(level: 0, index: index) }

    /// The leaves this node covers.
    public var leaves: Range<Int> { (index << level)..<((index + 1) << level) }

    public var left: NodeID { NodeID(level: level - 1, index: index << 1) }
    public var right: NodeID { NodeID(level: level - 1, index: index << 1 | 1) }
    public var parent: NodeID { NodeID(level: level + 1, index: index >> 1) }

    /// Ordered by level, then index.
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        (lhs.level, lhs.index) < (rhs.level, rhs.index)
    }

    public var description: String { "node \(level)/\(index)" }
}

/// A complete subtree's hash, as `CompactRange` emits it for storage.
public struct MerkleNode: Hashable, Sendable, Codable {
    public let id: NodeID
    public let hash: MerkleHash

    public init(id: NodeID, hash: MerkleHash) {
        self.id = id
        self.hash = hash
    }
}
