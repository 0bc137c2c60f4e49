import Foundation
import Testing
@testable import AuditLog

@Suite("Merkle tree properties")
struct MerklePropertyTests {
    /// Leaf hashes and a store holding every level, for sizes up to `n`.
    static func build(_ n: Int, levels: StoredLevels = .all) -> (hashes: [MerkleHash], store: InMemoryMerkleStore) {
        let hashes = (0..<n).map { MerkleTree.leafHash(entry($0)) }
        let store = InMemoryMerkleStore(storedLevels: levels)
        store.append(leafHashes: hashes)
        return (hashes, store)
    }

    static let maxSize = 2000
    static let shared = build(maxSize)

    /// Sizes: every size up to 70, and 40 random sizes up to 2000 (plus powers of two and neighbours).
    static let sizes: [Int] = {
        var rng = TestRNG(seed: 7)
        var sizes = Set(1...70)
        for p in [128, 256, 512, 1024] { sizes.formUnion([p - 1, p, p + 1]) }
        sizes.insert(maxSize)
        while sizes.count < 70 + 13 + 40 { sizes.insert(Int.random(in: 71...maxSize, using: &rng)) }
        return sizes.sorted()
    }()

    @Test func incrementalRootEqualsRecomputedForAllSizes() {
        let (hashes, _) = Self.shared
        var range = CompactRange()
        #expect(range.root == Reference.mth([]))
        for n in 1...Self.maxSize {
            range.append(leafHash: hashes[n - 1])
            #expect(range.size == n)
            #expect(range.hashes.count == n.nonzeroBitCount)
            // Recompute from scratch: the frontier hashes must be the MTH of their ranges.
            for (node, hash) in zip(range.nodes, range.hashes) where n % 97 == 0 || n <= 130 {
                #expect(hash == Reference.mth(hashes[node.leaves]), "frontier \(node) at size \(n)")
            }
            if n <= 300 || n % 61 == 0 || n == Self.maxSize {
                #expect(range.root == Reference.mth(hashes[0..<n]), "size \(n)")
            }
        }
    }

    @Test func appenderEmitsEveryCompleteSubtreeOnce() throws {
        let (hashes, _) = Self.shared
        var range = CompactRange()
        var emitted: [NodeID: MerkleHash] = [:]
        // Uneven batches.
        var start = 0, batch = 1
        while start < 777 {
            let end = min(start + batch, 777)
            for node in range.append(leafHashes: hashes[start..<end]) {
                #expect(emitted.updateValue(node.hash, forKey: node.id) == nil, "\(node.id) emitted twice")
            }
            start = end
            batch = batch * 3 % 17 + 1
        }
        // Exactly the complete subtrees inside 0..<777.
        var expected = 0
        for level in 0..<11 { expected += 777 >> level }
        #expect(emitted.count == expected)
        for (id, hash) in emitted {
            #expect(id.leaves.upperBound <= 777)
            #expect(hash == Reference.mth(hashes[id.leaves]), "\(id)")
        }
        #expect(try CompactRange(size: 777, hashes: range.hashes) == range)
        #expect(throws: MerkleStoreError.self) { try CompactRange(size: 777, hashes: Array(range.hashes.dropLast())) }
    }

    @Test func frontierRestoresFromStore() throws {
        let (hashes, store) = Self.shared
        for n in [0, 1, 2, 3, 100, 1023, 1024, 1999] {
            var restored = try CompactRange(size: n, store: store)
            #expect(restored.root == Reference.mth(hashes[0..<n]))
            restored.append(leafHash: hashes[n])
            #expect(restored.root == Reference.mth(hashes[0...n]))
        }
    }

    @Test func inclusionProofsMatchReferenceAndVerify() throws {
        let (hashes, store) = Self.shared
        var rng = TestRNG(seed: 11)
        for n in Self.sizes {
            let root = try MerkleTree.root(treeSize: n, store: store)
            #expect(root == Reference.mth(hashes[0..<n]))
            let indices = n <= 300 ? Array(0..<n) : (0..<40).map { _ in Int.random(in: 0..<n, using: &rng) } + [0, n - 1]
            for m in indices {
                let proof = try MerkleTree.inclusionProof(index: m, treeSize: n, store: store)
                if n <= 300 || m % 7 == 0 { #expect(proof == Reference.path(m, hashes[0..<n]), "PATH(\(m), \(n))") }
                try MerkleTree.verifyInclusion(leafHash: hashes[m], index: m, treeSize: n, proof: proof, root: root)
            }
        }
    }

    @Test func alteredInclusionProofsFail() throws {
        let (hashes, store) = Self.shared
        var rng = TestRNG(seed: 13)
        for n in Self.sizes where n >= 2 {
            let root = try MerkleTree.root(treeSize: n, store: store)
            for _ in 0..<(n <= 70 ? 3 : 8) {
                let m = Int.random(in: 0..<n, using: &rng)
                let proof = try MerkleTree.inclusionProof(index: m, treeSize: n, store: store)
                func fails(_ leaf: MerkleHash, _ index: Int, _ size: Int, _ p: [MerkleHash], _ r: MerkleHash) -> Bool {
                    (try? MerkleTree.verifyInclusion(leafHash: leaf, index: index, treeSize: size, proof: p, root: r)) == nil
                }
                // Altered leaf.
                #expect(fails(hashes[(m + 1) % n], m, n, proof, root))
                #expect(fails(flipBit(hashes[m], byte: 31, mask: 1), m, n, proof, root))
                // Altered proof: every bit position class, truncated, extended, reordered.
                for i in proof.indices {
                    var wrong = proof
                    wrong[i] = flipBit(wrong[i], byte: Int.random(in: 0..<32, using: &rng), mask: 1 << UInt8.random(in: 0..<8, using: &rng))
                    #expect(fails(hashes[m], m, n, wrong, root), "bit flip in proof[\(i)] of \(m)/\(n)")
                }
                #expect(fails(hashes[m], m, n, Array(proof.dropLast()), root))
                #expect(fails(hashes[m], m, n, proof + [root], root))
                #expect(fails(hashes[m], m, n, [hashes[m]] + proof, root))
                if proof.count > 1 { #expect(fails(hashes[m], m, n, proof.reversed(), root)) }
                // Altered index: a different leaf position never has the same path shape.
                for other in Set([m - 1, m + 1, m ^ 1, m ^ 2, m ^ 4, n - 1, 0]) where other >= 0 && other < n && other != m {
                    #expect(fails(hashes[m], other, n, proof, root), "index \(other) instead of \(m) in \(n)")
                }
                #expect(fails(hashes[m], n, n, proof, root))
                // Altered tree size, checked against that size's real root: only accepted when the
                // genuine proof for that size is the very same list of hashes.
                for otherSize in Set([n - 1, n + 1, n * 2, n / 2, n + 7]) where otherSize > m && otherSize <= Self.maxSize && otherSize != n {
                    let otherRoot = try MerkleTree.root(treeSize: otherSize, store: store)
                    let genuine = try MerkleTree.inclusionProof(index: m, treeSize: otherSize, store: store)
                    #expect(fails(hashes[m], m, otherSize, proof, otherRoot) == (genuine != proof), "size \(otherSize) for \(m)/\(n)")
                }
                // Wrong root.
                #expect(fails(hashes[m], m, n, proof, flipBit(root)))
            }
        }
    }

    @Test func consistencyProofsMatchReferenceAndVerify() throws {
        let (hashes, store) = Self.shared
        var rng = TestRNG(seed: 17)
        // Exhaustive for small trees.
        for n in 0...40 {
            let root2 = try MerkleTree.root(treeSize: n, store: store)
            for m in 0...n {
                let proof = try MerkleTree.consistencyProof(from: m, to: n, store: store)
                #expect(proof == Reference.proof(m, hashes[0..<n]), "PROOF(\(m), \(n))")
                let root1 = try MerkleTree.root(treeSize: m, store: store)
                try MerkleTree.verifyConsistency(first: m, second: n, firstRoot: root1, secondRoot: root2, proof: proof)
            }
        }
        // Random pairs up to 2000.
        for n in Self.sizes where n > 40 {
            let root2 = try MerkleTree.root(treeSize: n, store: store)
            for _ in 0..<10 {
                let m = Int.random(in: 1...n, using: &rng)
                let proof = try MerkleTree.consistencyProof(from: m, to: n, store: store)
                if m % 3 == 0 { #expect(proof == Reference.proof(m, hashes[0..<n]), "PROOF(\(m), \(n))") }
                let root1 = try MerkleTree.root(treeSize: m, store: store)
                try MerkleTree.verifyConsistency(first: m, second: n, firstRoot: root1, secondRoot: root2, proof: proof)
            }
        }
    }

    @Test func alteredConsistencyProofsFail() throws {
        let (_, store) = Self.shared
        var rng = TestRNG(seed: 19)
        for n in Self.sizes where n >= 2 {
            let root2 = try MerkleTree.root(treeSize: n, store: store)
            for _ in 0..<(n <= 70 ? 2 : 6) {
                let m = Int.random(in: 1..<n, using: &rng)
                let root1 = try MerkleTree.root(treeSize: m, store: store)
                let proof = try MerkleTree.consistencyProof(from: m, to: n, store: store)
                func fails(_ a: Int, _ b: Int, _ r1: MerkleHash, _ r2: MerkleHash, _ p: [MerkleHash]) -> Bool {
                    (try? MerkleTree.verifyConsistency(first: a, second: b, firstRoot: r1, secondRoot: r2, proof: p)) == nil
                }
                for i in proof.indices {
                    var wrong = proof
                    wrong[i] = flipBit(wrong[i], byte: Int.random(in: 0..<32, using: &rng), mask: 1 << UInt8.random(in: 0..<8, using: &rng))
                    #expect(fails(m, n, root1, root2, wrong), "bit flip in proof[\(i)] of \(m)→\(n)")
                }
                #expect(fails(m, n, root1, root2, []))
                #expect(fails(m, n, root1, root2, Array(proof.dropLast())))
                #expect(fails(m, n, root1, root2, proof + [root2]))
                #expect(fails(m, n, root1, root2, [root1] + proof))
                #expect(fails(m, n, flipBit(root1), root2, proof))
                #expect(fails(m, n, root1, flipBit(root2), proof))
                #expect(fails(m, n, root2, root1, proof))
                #expect(fails(n, m, root1, root2, proof))
                // Other sizes with their real roots: accepted only if the genuine proof is identical.
                let pairs: Set<[Int]> = [[m - 1, n], [m + 1, n], [m, n - 1], [m, n + 1], [m ^ 2, n]]
                for pair in pairs {
                    let a = pair[0], b = pair[1]
                    guard a >= 1, a <= b, b <= Self.maxSize, pair != [m, n] else { continue }
                    let ra = try MerkleTree.root(treeSize: a, store: store)
                    let rb = try MerkleTree.root(treeSize: b, store: store)
                    let genuine = try MerkleTree.consistencyProof(from: a, to: b, store: store)
                    #expect(fails(a, b, ra, rb, proof) == (genuine != proof), "\(a)→\(b) with proof for \(m)→\(n)")
                }
            }
        }
    }

    @Test func proofsReadLogarithmicallyManyStoredHashes() throws {
        // A log of 100,003 entries, every level stored.
        let n = 100_003
        let store = InMemoryMerkleStore()
        store.append(leafHashes: (0..<n).map { MerkleTree.leafHash(entry($0)) })
        let logN = Int.bitWidth - (n - 1).leadingZeroBitCount // ceil(log2 n) = 17
        var rng = TestRNG(seed: 23)
        for _ in 0..<200 {
            let m = Int.random(in: 0..<n, using: &rng)
            store.resetCounters()
            _ = try MerkleTree.inclusionProof(index: m, treeSize: n, store: store)
            #expect(store.readCount <= 2 * logN, "inclusion \(m): \(store.readCount) reads")
            #expect(store.requestCount == 1)

            let size = Int.random(in: 1...n, using: &rng)
            store.resetCounters()
            _ = try MerkleTree.consistencyProof(from: min(m + 1, size), to: size, store: store)
            #expect(store.readCount <= 2 * logN, "consistency \(m + 1)→\(size): \(store.readCount) reads")
            #expect(store.requestCount <= 1)
        }
        store.resetCounters()
        _ = try MerkleTree.root(treeSize: n, store: store)
        #expect(store.readCount == n.nonzeroBitCount)

        // Plans stay logarithmic for very large logs (no storage involved).
        for size in [10_000_000, 1 << 40 | 12345, Int.max >> 1] {
            let plan = try MerkleTree.inclusionPlan(index: size / 3, treeSize: size)
            #expect(plan.nodes.count <= 2 * 64)
            let consistency = try MerkleTree.consistencyPlan(from: size / 3, to: size)
            #expect(consistency.nodes.count <= 2 * 64)
        }
        let tenMillion = try MerkleTree.inclusionPlan(index: 9_999_999, treeSize: 10_000_000)
        #expect(tenMillion.nodes.count <= 2 * 24)
    }

    @Test(arguments: [StoredLevels.leavesOnly, .every(4), .every(8)])
    func storesKeepingFewerLevelsGiveTheSameProofs(levels: StoredLevels) throws {
        let (hashes, full) = Self.shared
        let store = InMemoryMerkleStore(storedLevels: levels)
        store.append(leafHashes: hashes)
        var rng = TestRNG(seed: UInt64(levels.stride) + 29)
        for _ in 0..<30 {
            let n = Int.random(in: 1...Self.maxSize, using: &rng)
            let m = Int.random(in: 0..<n, using: &rng)
            store.resetCounters()
            #expect(try MerkleTree.inclusionProof(index: m, treeSize: n, store: store)
                    == MerkleTree.inclusionProof(index: m, treeSize: n, store: full))
            if levels.stride > 0 {
                // Each missing node costs at most 2^(stride) reads below it, levels ≤ 11 here.
                #expect(store.readCount <= 2 * 11 * (2 << levels.stride), "\(store.readCount) reads")
            }
            #expect(try MerkleTree.consistencyProof(from: m + 1, to: n, store: store)
                    == MerkleTree.consistencyProof(from: m + 1, to: n, store: full))
            #expect(try MerkleTree.root(treeSize: n, store: store) == Reference.mth(hashes[0..<n]))
        }
    }

    @Test func asyncStoreGivesTheSameProofs() async throws {
        let (_, store) = Self.shared
        let remote = AsyncStore(store)
        for (m, n) in [(0, 1), (5, 8), (999, 1000), (1234, 1999)] {
            #expect(try await MerkleTree.inclusionProof(index: m, treeSize: n, store: remote)
                    == MerkleTree.inclusionProof(index: m, treeSize: n, store: store))
            #expect(try await MerkleTree.consistencyProof(from: m, to: n, store: remote)
                    == MerkleTree.consistencyProof(from: m, to: n, store: store))
            #expect(try await MerkleTree.root(treeSize: n, store: remote) == MerkleTree.root(treeSize: n, store: store))
            let range = try await CompactRange(size: n, store: remote)
            #expect(range.root == (try MerkleTree.root(treeSize: n, store: store)))
        }
    }

    @Test func missingStoredDataIsReported() throws {
        let store = InMemoryMerkleStore()
        store.append(entries: (0..<10).map(entry))
        #expect(throws: MerkleStoreError.missingLeaf(index: 10)) {
            try MerkleTree.inclusionProof(index: 3, treeSize: 11, store: store)
        }
        #expect(throws: MerkleStoreError.missingLeaf(index: 10)) { try store.leafHashes(8..<13) }
    }

    @Test func hashEncodings() throws {
        let hash = MerkleTree.leafHash(entry(1))
        #expect(MerkleHash(hex: hash.hex) == hash)
        #expect(MerkleHash(base64: hash.base64) == hash)
        #expect(MerkleHash(bytes: hash.bytes) == hash)
        #expect(MerkleHash(hex: String(hash.hex.dropLast())) == nil)
        #expect(MerkleHash(hex: hash.hex.uppercased()) == nil)
        #expect(MerkleHash(bytes: [UInt8](repeating: 0, count: 31)) == nil)
        let json = try JSONEncoder().encode([hash])
        #expect(try JSONDecoder().decode([MerkleHash].self, from: json) == [hash])
    }

    @Test func strictBase64() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Base64.encode(bytes)
            #expect(text == Data(bytes).base64EncodedString())
            #expect(Base64.decode(text) == bytes)
        }
        for bad in ["A", "AA", "AAA", "AA=", "A===", "AB==", "AAB=", "AA==AA==", "AA A", "AA\nA", "AA-_", "====", "AAA=A"] {
            #expect(Base64.decode(bad) == nil, "\(bad.debugDescription)")
        }
        #expect(Base64.decode("AA==") == [0])
        #expect(Base64.decode("") == [])
    }
}
