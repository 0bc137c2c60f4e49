import Crypto
import Foundation

/// The Merkle tree hash math of RFC 9162 §2.1 (unchanged from RFC 6962 §2.1):
/// leaf hashes, node hashes, tree roots, inclusion proofs (PATH) and consistency proofs
/// (PROOF / SUBPROOF), and the verification algorithms of §2.1.3.2 and §2.1.4.2.
///
/// Proof *generation* is split into a pure plan (which ranges the proof covers and which complete
/// subtree hashes it needs, O(log n) of them) and an assembly step, so any storage — synchronous
/// (`MerkleHashStore`), asynchronous (`AsyncMerkleHashStore`) or hand-rolled — can supply the hashes.
public enum MerkleTree {
    /// MTH({}) = SHA-256() — the root of the empty tree.
    public static let emptyRoot = MerkleHash(SHA256.hash(data: [UInt8]()))

    /// MTH({d}) = SHA-256(0x00 ‖ d).
    public static func leafHash(_ entry: some DataProtocol) -> MerkleHash {
        var hasher = SHA256()
        withUnsafeBytes(of: UInt8(0x00)) { hasher.update(bufferPointer: $0) }
        hasher.update(data: entry)
        return MerkleHash(hasher.finalize())
    }

    /// SHA-256(0x01 ‖ left ‖ right).
    public static func nodeHash(_ left: MerkleHash, _ right: MerkleHash) -> MerkleHash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { buffer in
            buffer[0] = 0x01
            left.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1..<33]).copyMemory(from: $0) }
            right.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[33..<65]).copyMemory(from: $0) }
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buffer))
            return MerkleHash(hasher.finalize())
        }
    }

    /// MTH(D[n]) of the given leaf hashes, computed in one pass (O(n) hashing, O(log n) memory).
    public static func root(leafHashes: some Sequence<MerkleHash>) -> MerkleHash {
        var range = CompactRange()
        for hash in leafHashes { range.append(leafHash: hash) }
        return range.root
    }

    /// MTH of the leaf hashes of the given entries.
    public static func root<Entries: Sequence>(entries: Entries) -> MerkleHash where Entries.Element: DataProtocol {
        root(leafHashes: entries.lazy.map { leafHash($0) })
    }

    // MARK: - Tree shape

    /// The largest power of two strictly less than `n` (n ≥ 2): the split point k of RFC 9162.
    @inline(__always) static func split(_ n: Int) -> Int {
        precondition(n >= 2)
        return 1 << (Int.bitWidth - 1 - (n - 1).leadingZeroBitCount)
    }

    /// The complete subtrees whose right fold is MTH(D[lo:hi]), left to right (sizes strictly decreasing).
    ///
    /// Valid for the ranges the RFC recursions produce: `lo` is a multiple of the largest power of
    /// two not above `hi - lo`, so each piece is an aligned node of the tree.
    public static func completeSubtrees(covering range: Range<Int>) -> [NodeID] {
        precondition(range.lowerBound >= 0 && !range.isEmpty, "empty or negative range")
        var nodes: [NodeID] = []
        var lo = range.lowerBound
        var remaining = range.count
        while remaining > 0 {
            let level = Int.bitWidth - 1 - remaining.leadingZeroBitCount
            precondition(lo & ((1 << level) - 1) == 0, "range \(range) is not a subtree range")
            nodes.append(NodeID(level: level, index: lo >> level))
            lo += 1 << level
            remaining -= 1 << level
        }
        return nodes
    }

    /// The ranges whose MTH are the elements of PATH(m, D[n]) (RFC 9162 §2.1.3.1), in proof order
    /// (deepest sibling first).
    public static func inclusionRanges(index m: Int, treeSize n: Int) throws -> [Range<Int>] {
        guard n > 0, m >= 0, m < n else { throw MerkleProofError.indexOutOfRange(index: m, treeSize: n) }
        var ranges: [Range<Int>] = []
        var lo = 0, hi = n
        while hi - lo > 1 {
            let k = split(hi - lo)
            if m < lo + k {
                ranges.append((lo + k)..<hi)
                hi = lo + k
            } else {
                ranges.append(lo..<(lo + k))
                lo += k
            }
        }
        return ranges.reversed()
    }

    /// The ranges whose MTH are the elements of PROOF(m, D[n]) (RFC 9162 §2.1.4.1), in proof order.
    /// Empty when m == 0 or m == n.
    public static func consistencyRanges(from m: Int, to n: Int) throws -> [Range<Int>] {
        guard m >= 0, m <= n else { throw MerkleProofError.invalidTreeSizes(first: m, second: n) }
        if m == 0 || m == n { return [] }
        var ranges: [Range<Int>] = []
        var lo = 0, hi = n, mm = m, complete = true
        while true {
            let size = hi - lo
            if mm == size {
                if !complete { ranges.append(lo..<hi) }
                break
            }
            let k = split(size)
            if mm <= k {
                ranges.append((lo + k)..<hi)
                hi = lo + k
            } else {
                ranges.append(lo..<(lo + k))
                lo += k
                mm -= k
                complete = false
            }
        }
        return ranges.reversed()
    }

    // MARK: - Proof plans

    /// What to fetch for a proof (or a root): the complete-subtree nodes, and how to combine them.
    public struct Plan: Sendable, Hashable {
        /// Each output hash is MTH of one of these ranges, in order. The ranges are disjoint.
        public let ranges: [Range<Int>]
        /// The complete subtrees covering each range, range after range (so without duplicates).
        /// O(log n) of them.
        public let nodes: [NodeID]
        /// How many of `nodes` each range takes.
        let counts: [Int]

        init(ranges: [Range<Int>]) {
            self.ranges = ranges
            var nodes: [NodeID] = []
            var counts: [Int] = []
            counts.reserveCapacity(ranges.count)
            for range in ranges {
                let pieces = MerkleTree.completeSubtrees(covering: range)
                nodes += pieces
                counts.append(pieces.count)
            }
            self.nodes = nodes
            self.counts = counts
        }

        /// Combines the hashes of `nodes` (same order) into the output hashes.
        public func assemble(_ hashes: [MerkleHash]) throws -> [MerkleHash] {
            guard hashes.count == nodes.count else {
                throw MerkleStoreError.wrongAnswerCount(requested: nodes.count, answered: hashes.count)
            }
            var output: [MerkleHash] = []
            output.reserveCapacity(ranges.count)
            var end = 0
            for count in counts {
                end += count
                // MTH of the range: right fold of its pieces.
                var hash = hashes[end - 1]
                var i = end - 2
                while i >= end - count {
                    hash = MerkleTree.nodeHash(hashes[i], hash)
                    i -= 1
                }
                output.append(hash)
            }
            return output
        }

        /// Combines looked-up node hashes into the output hashes.
        public func assemble(_ lookup: (NodeID) -> MerkleHash?) throws -> [MerkleHash] {
            try assemble(nodes.map { node in
                guard let hash = lookup(node) else { throw MerkleStoreError.missingNode(node) }
                return hash
            })
        }
    }

    public static func inclusionPlan(index: Int, treeSize: Int) throws -> Plan {
        Plan(ranges: try inclusionRanges(index: index, treeSize: treeSize))
    }

    public static func consistencyPlan(from first: Int, to second: Int) throws -> Plan {
        Plan(ranges: try consistencyRanges(from: first, to: second))
    }

    /// The plan for MTH(D[n]); for n == 0 it has no ranges (the root is `emptyRoot`).
    public static func rootPlan(treeSize: Int) throws -> Plan {
        guard treeSize >= 0 else { throw MerkleProofError.invalidTreeSizes(first: 0, second: treeSize) }
        return Plan(ranges: treeSize == 0 ? [] : [0..<treeSize])
    }

    // MARK: - Proof generation over a store

    public static func inclusionProof(index: Int, treeSize: Int, store: some MerkleHashStore) throws -> [MerkleHash] {
        let plan = try inclusionPlan(index: index, treeSize: treeSize)
        return try plan.assemble(try store.resolve(plan.nodes))
    }

    public static func consistencyProof(from first: Int, to second: Int, store: some MerkleHashStore) throws -> [MerkleHash] {
        let plan = try consistencyPlan(from: first, to: second)
        return try plan.assemble(try store.resolve(plan.nodes))
    }

    public static func root(treeSize: Int, store: some MerkleHashStore) throws -> MerkleHash {
        let plan = try rootPlan(treeSize: treeSize)
        return try plan.assemble(try store.resolve(plan.nodes)).first ?? emptyRoot
    }

    public static func inclusionProof(index: Int, treeSize: Int, store: some AsyncMerkleHashStore) async throws -> [MerkleHash] {
        let plan = try inclusionPlan(index: index, treeSize: treeSize)
        return try plan.assemble(try await store.resolve(plan.nodes))
    }

    public static func consistencyProof(from first: Int, to second: Int, store: some AsyncMerkleHashStore) async throws -> [MerkleHash] {
        let plan = try consistencyPlan(from: first, to: second)
        return try plan.assemble(try await store.resolve(plan.nodes))
    }

    public static func root(treeSize: Int, store: some AsyncMerkleHashStore) async throws -> MerkleHash {
        let plan = try rootPlan(treeSize: treeSize)
        return try plan.assemble(try await store.resolve(plan.nodes)).first ?? emptyRoot
    }

    // MARK: - Verification

    /// RFC 9162 §2.1.3.2: the root that `proof` yields for `leafHash` at `index` in a tree of `treeSize`.
    public static func rootFromInclusionProof(leafHash: MerkleHash, index: Int, treeSize: Int, proof: [MerkleHash]) throws -> MerkleHash {
        let expected = try inclusionRanges(index: index, treeSize: treeSize).count
        guard proof.count == expected else {
            throw MerkleProofError.wrongProofLength(expected: expected, actual: proof.count)
        }
        var fn = index, sn = treeSize - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { throw MerkleProofError.wrongProofLength(expected: expected, actual: proof.count) }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1; sn >>= 1
        }
        guard sn == 0 else { throw MerkleProofError.wrongProofLength(expected: expected, actual: proof.count) }
        return r
    }

    /// Throws unless `proof` proves that `leafHash` is at `index` in the tree of `treeSize` with `root`.
    public static func verifyInclusion(leafHash: MerkleHash, index: Int, treeSize: Int, proof: [MerkleHash], root: MerkleHash) throws {
        let computed = try rootFromInclusionProof(leafHash: leafHash, index: index, treeSize: treeSize, proof: proof)
        guard computed == root else { throw MerkleProofError.rootMismatch(expected: root, computed: computed) }
    }

    /// RFC 9162 §2.1.4.2, plus the trivial cases: sizes must satisfy 0 ≤ first ≤ second; for
    /// first == second the proof must be empty and the roots equal; for first == 0 the proof must be empty.
    public static func verifyConsistency(first: Int, second: Int, firstRoot: MerkleHash, secondRoot: MerkleHash, proof: [MerkleHash]) throws {
        guard first >= 0, first <= second else { throw MerkleProofError.invalidTreeSizes(first: first, second: second) }
        let expected = try consistencyRanges(from: first, to: second).count
        guard proof.count == expected else {
            throw MerkleProofError.wrongProofLength(expected: expected, actual: proof.count)
        }
        if first == second {
            guard firstRoot == secondRoot else { throw MerkleProofError.rootMismatch(expected: secondRoot, computed: firstRoot) }
            return
        }
        if first == 0 { return }

        // 1. A non-trivial proof is never empty (checked above through `expected`).
        // 2. If first is an exact power of 2, prepend first_hash.
        var path = proof
        if first & (first - 1) == 0 { path.insert(firstRoot, at: 0) }
        // 3.–4.
        var fn = first - 1, sn = second - 1
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        // 5.
        var fr = path[0], sr = path[0]
        // 6.
        for c in path.dropFirst() {
            guard sn != 0 else { throw MerkleProofError.wrongProofLength(expected: expected, actual: proof.count) }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1; sn >>= 1
        }
        // 7.
        guard sn == 0 else { throw MerkleProofError.wrongProofLength(expected: expected, actual: proof.count) }
        guard fr == firstRoot else { throw MerkleProofError.firstRootMismatch(expected: firstRoot, computed: fr) }
        guard sr == secondRoot else { throw MerkleProofError.rootMismatch(expected: secondRoot, computed: sr) }
    }
}

/// A proof that cannot be made or does not verify.
public enum MerkleProofError: Error, Hashable, Sendable, CustomStringConvertible {
    case indexOutOfRange(index: Int, treeSize: Int)
    case invalidTreeSizes(first: Int, second: Int)
    case wrongProofLength(expected: Int, actual: Int)
    /// The proof yields `computed`, not the expected (second) root.
    case rootMismatch(expected: MerkleHash, computed: MerkleHash)
    /// The consistency proof does not yield the first tree's root.
    case firstRootMismatch(expected: MerkleHash, computed: MerkleHash)

    public var description: String {
        switch self {
        case let .indexOutOfRange(index, treeSize):
            return "leaf index \(index) is out of range for tree size \(treeSize)"
        case let .invalidTreeSizes(first, second):
            return "invalid tree sizes \(first) → \(second)"
        case let .wrongProofLength(expected, actual):
            return "proof has \(actual) hashes, expected \(expected)"
        case let .rootMismatch(expected, computed):
            return "proof yields root \(computed.hex), expected \(expected.hex)"
        case let .firstRootMismatch(expected, computed):
            return "consistency proof yields first root \(computed.hex), expected \(expected.hex)"
        }
    }
}
