import Foundation
@testable import AuditLog

func hexBytes(_ hex: String) -> [UInt8] {
    precondition(hex.count % 2 == 0)
    var out: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        out.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return out
}

func h(_ hex: String) -> MerkleHash { MerkleHash(hex: hex)! }

/// SplitMix64: repeatable random inputs.
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func entry(_ i: Int) -> [UInt8] { Array("entry \(i)".utf8) }

func flipBit(_ hash: MerkleHash, byte: Int = 0, mask: UInt8 = 8) -> MerkleHash {
    var bytes = hash.bytes
    bytes[byte] ^= mask
    return MerkleHash(bytes: bytes)!
}

/// The RFC 9162 §2.1 definitions, transcribed literally and independently of the library's
/// iterative code (only leafHash/nodeHash are shared).
enum Reference {
    static func k(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH(D[n]) over leaf hashes.
    static func mth(_ d: ArraySlice<MerkleHash>) -> MerkleHash {
        if d.isEmpty { return MerkleTree.emptyRoot }
        if d.count == 1 { return d.first! }
        let k = k(d.count)
        let lo = d.startIndex
        return MerkleTree.nodeHash(mth(d[lo..<lo + k]), mth(d[(lo + k)...]))
    }

    /// PATH(m, D[n]).
    static func path(_ m: Int, _ d: ArraySlice<MerkleHash>) -> [MerkleHash] {
        if d.count <= 1 { return [] }
        let k = k(d.count)
        let lo = d.startIndex
        if m < k {
            return path(m, d[lo..<lo + k]) + [mth(d[(lo + k)...])]
        } else {
            return path(m - k, d[(lo + k)...]) + [mth(d[lo..<lo + k])]
        }
    }

    /// PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
    static func proof(_ m: Int, _ d: ArraySlice<MerkleHash>) -> [MerkleHash] {
        if m == 0 || m == d.count { return [] }
        return subproof(m, d, true)
    }

    static func subproof(_ m: Int, _ d: ArraySlice<MerkleHash>, _ b: Bool) -> [MerkleHash] {
        let n = d.count
        if m == n { return b ? [] : [mth(d)] }
        let k = k(n)
        let lo = d.startIndex
        if m <= k {
            return subproof(m, d[lo..<lo + k], b) + [mth(d[(lo + k)...])]
        } else {
            return subproof(m - k, d[(lo + k)...], false) + [mth(d[lo..<lo + k])]
        }
    }
}

/// A store reached asynchronously, as a database would be.
actor AsyncStore: AsyncMerkleHashStore {
    let base: InMemoryMerkleStore
    init(_ base: InMemoryMerkleStore) { self.base = base }
    func storedHashes(_ nodes: [NodeID]) async throws -> [MerkleHash?] {
        await Task.yield()
        return base.storedHashes(nodes)
    }
}
