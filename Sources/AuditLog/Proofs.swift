import Foundation

/// An inclusion proof as served over HTTP (JSON: `{"leafIndex":…,"treeSize":…,"hashes":["<base64>",…]}`).
public struct InclusionProof: Hashable, Sendable, Codable {
    public let leafIndex: Int
    public let treeSize: Int
    /// PATH(leafIndex, D[treeSize]), deepest sibling first.
    public let hashes: [MerkleHash]

    public init(leafIndex: Int, treeSize: Int, hashes: [MerkleHash]) {
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.hashes = hashes
    }

    public init(leafIndex: Int, treeSize: Int, store: some MerkleHashStore) throws {
        self.init(leafIndex: leafIndex, treeSize: treeSize,
                  hashes: try MerkleTree.inclusionProof(index: leafIndex, treeSize: treeSize, store: store))
    }

    public init(leafIndex: Int, treeSize: Int, store: some AsyncMerkleHashStore) async throws {
        self.init(leafIndex: leafIndex, treeSize: treeSize,
                  hashes: try await MerkleTree.inclusionProof(index: leafIndex, treeSize: treeSize, store: store))
    }

    /// Throws `MerkleProofError` unless the proof leads from `leafHash` to `root`.
    public func verify(leafHash: MerkleHash, root: MerkleHash) throws {
        try MerkleTree.verifyInclusion(leafHash: leafHash, index: leafIndex, treeSize: treeSize, proof: hashes, root: root)
    }

    /// Checks against a verified checkpoint (whose size must be `treeSize`).
    public func verify(entry: some DataProtocol, checkpoint: Checkpoint) throws {
        guard checkpoint.size == treeSize else { throw MerkleProofError.invalidTreeSizes(first: treeSize, second: checkpoint.size) }
        try verify(leafHash: MerkleTree.leafHash(entry), root: checkpoint.rootHash)
    }
}

/// A consistency proof as served over HTTP (JSON: `{"firstSize":…,"secondSize":…,"hashes":[…]}`).
public struct ConsistencyProof: Hashable, Sendable, Codable {
    public let firstSize: Int
    public let secondSize: Int
    /// PROOF(firstSize, D[secondSize]).
    public let hashes: [MerkleHash]

    public init(firstSize: Int, secondSize: Int, hashes: [MerkleHash]) {
        self.firstSize = firstSize
        self.secondSize = secondSize
        self.hashes = hashes
    }

    public init(firstSize: Int, secondSize: Int, store: some MerkleHashStore) throws {
        self.init(firstSize: firstSize, secondSize: secondSize,
                  hashes: try MerkleTree.consistencyProof(from: firstSize, to: secondSize, store: store))
    }

    public init(firstSize: Int, secondSize: Int, store: some AsyncMerkleHashStore) async throws {
        self.init(firstSize: firstSize, secondSize: secondSize,
                  hashes: try await MerkleTree.consistencyProof(from: firstSize, to: secondSize, store: store))
    }

    public func verify(firstRoot: MerkleHash, secondRoot: MerkleHash) throws {
        try MerkleTree.verifyConsistency(first: firstSize, second: secondSize, firstRoot: firstRoot,
                                         secondRoot: secondRoot, proof: hashes)
    }

    /// Checks that `newer` extends `older` (both verified checkpoints of this log).
    public func verify(from older: Checkpoint, to newer: Checkpoint) throws {
        guard older.size == firstSize, newer.size == secondSize else {
            throw MerkleProofError.invalidTreeSizes(first: older.size, second: newer.size)
        }
        try verify(firstRoot: older.rootHash, secondRoot: newer.rootHash)
    }
}
