import Foundation

/// Everything needed to check one event offline: the entry bytes, its inclusion proof and the
/// signed checkpoint the proof leads to.
///
///     {
///       "format": "tongban-audit-evidence/v1",
///       "entry": "<base64 entry bytes>",
///       "index": 41,
///       "treeSize": 1000,
///       "leafHash": "<base64 SHA-256(0x00 ‖ entry)>",
///       "inclusionProof": ["<base64 hash>", ...],
///       "checkpoint": "<signed note text>"
///     }
///
/// `leafHash` is never trusted: verification recomputes it from `entry`. It only lets the
/// verifier tell "the entry was changed" from "the proof is wrong".
public struct EvidenceBundle: Hashable, Sendable {
    public static let currentFormat = "tongban-audit-evidence/v1"

    public var format: String
    public var entry: [UInt8]
    public var index: Int
    public var treeSize: Int
    public var leafHash: MerkleHash
    public var inclusionProof: [MerkleHash]
    /// The signed checkpoint note, as served.
    public var checkpoint: String

    public init(format: String = EvidenceBundle.currentFormat, entry: [UInt8], index: Int, treeSize: Int,
                leafHash: MerkleHash, inclusionProof: [MerkleHash], checkpoint: String) {
        self.format = format
        self.entry = entry
        self.index = index
        self.treeSize = treeSize
        self.leafHash = leafHash
        self.inclusionProof = inclusionProof
        self.checkpoint = checkpoint
    }

    /// Builds the bundle for entry `index` against a signed checkpoint, reading the proof from `store`.
    public init(entry: some DataProtocol, index: Int, signedCheckpoint: String, store: some MerkleHashStore) throws {
        let checkpoint = try Checkpoint(body: try SignedNote.parse(signedCheckpoint).text)
        let proof = try MerkleTree.inclusionProof(index: index, treeSize: checkpoint.size, store: store)
        self.init(entry: Array(entry), index: index, treeSize: checkpoint.size,
                  leafHash: MerkleTree.leafHash(entry), inclusionProof: proof, checkpoint: signedCheckpoint)
    }

    private struct Wire: Codable {
        var format: String?
        var entry: String?
        var index: Int?
        var treeSize: Int?
        var leafHash: String?
        var inclusionProof: [String]?
        var checkpoint: String?
    }

    /// Pretty-printed JSON with sorted keys.
    public func json() throws -> Data {
        let wire = Wire(format: format, entry: Base64.encode(entry), index: index, treeSize: treeSize,
                        leafHash: leafHash.base64, inclusionProof: inclusionProof.map(\.base64), checkpoint: checkpoint)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(wire)
    }

    /// Decodes the JSON document, strictly: every field present and well-formed.
    public init(json: Data) throws {
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: json)
        } catch {
            throw EvidenceFailure.malformed("not a JSON evidence document")
        }
        guard let format = wire.format else { throw EvidenceFailure.malformed("missing \"format\"") }
        guard format == Self.currentFormat else { throw EvidenceFailure.unsupportedFormat(format) }
        guard let entryText = wire.entry else { throw EvidenceFailure.malformed("missing \"entry\"") }
        guard let entry = Base64.decode(entryText) else { throw EvidenceFailure.malformed("\"entry\" is not base64") }
        guard let index = wire.index else { throw EvidenceFailure.malformed("missing \"index\"") }
        guard let treeSize = wire.treeSize else { throw EvidenceFailure.malformed("missing \"treeSize\"") }
        guard index >= 0, treeSize >= 0 else { throw EvidenceFailure.malformed("negative \"index\" or \"treeSize\"") }
        guard let leafText = wire.leafHash else { throw EvidenceFailure.malformed("missing \"leafHash\"") }
        guard let leafHash = MerkleHash(base64: leafText) else { throw EvidenceFailure.malformed("\"leafHash\" is not a base64 32-byte hash") }
        guard let proofTexts = wire.inclusionProof else { throw EvidenceFailure.malformed("missing \"inclusionProof\"") }
        var proof: [MerkleHash] = []
        for (i, text) in proofTexts.enumerated() {
            guard let hash = MerkleHash(base64: text) else {
                throw EvidenceFailure.malformed("\"inclusionProof\"[\(i)] is not a base64 32-byte hash")
            }
            proof.append(hash)
        }
        guard let checkpoint = wire.checkpoint else { throw EvidenceFailure.malformed("missing \"checkpoint\"") }
        self.init(format: format, entry: entry, index: index, treeSize: treeSize, leafHash: leafHash,
                  inclusionProof: proof, checkpoint: checkpoint)
    }

    /// Verifies the bundle offline.
    ///
    /// 1. The checkpoint is a well-formed signed note with a valid signature by one of `keys`
    ///    (signatures by other keys are ignored; a bad signature by a given key fails).
    /// 2. Its origin is `origin`, or, when `origin` is nil, the name of the key that signed it.
    /// 3. `treeSize` is the checkpoint's size and `index` lies inside it.
    /// 4. SHA-256(0x00 ‖ entry) with `inclusionProof` yields the checkpoint's root hash.
    ///
    /// - Returns: the verified checkpoint.
    @discardableResult
    public func verify(keys: [NoteVerifier], origin: String? = nil) throws -> Checkpoint {
        guard format == Self.currentFormat else { throw EvidenceFailure.unsupportedFormat(format) }
        let note: SignedNote
        let verified: [NoteSignature]
        do {
            note = try SignedNote.parse(checkpoint)
            verified = try note.verify(with: keys)
        } catch let error as SignedNoteError {
            switch error {
            case .invalidSignature: throw EvidenceFailure.badSignature(error.description)
            case .unknownKey: throw EvidenceFailure.unknownKey(error.description)
            default: throw EvidenceFailure.malformedCheckpoint(error.description)
            }
        }
        let head: Checkpoint
        do {
            head = try Checkpoint(body: note.text)
        } catch {
            throw EvidenceFailure.malformedCheckpoint("\(error)")
        }
        if let origin {
            guard head.origin == origin else { throw EvidenceFailure.wrongOrigin(expected: origin, found: head.origin) }
        } else {
            guard verified.contains(where: { $0.name == head.origin }) else {
                throw EvidenceFailure.wrongOrigin(expected: verified.map(\.name).joined(separator: " or "), found: head.origin)
            }
        }
        guard treeSize == head.size else { throw EvidenceFailure.treeSizeMismatch(bundle: treeSize, checkpoint: head.size) }
        guard index >= 0, index < head.size else { throw EvidenceFailure.indexOutOfRange(index: index, treeSize: head.size) }

        let computedLeaf = MerkleTree.leafHash(entry)
        do {
            try MerkleTree.verifyInclusion(leafHash: computedLeaf, index: index, treeSize: head.size,
                                           proof: inclusionProof, root: head.rootHash)
        } catch {
            if computedLeaf != leafHash,
               (try? MerkleTree.verifyInclusion(leafHash: leafHash, index: index, treeSize: head.size,
                                                proof: inclusionProof, root: head.rootHash)) != nil {
                throw EvidenceFailure.entryAltered(index: index)
            }
            throw EvidenceFailure.proofMismatch("\(error)")
        }
        return head
    }

    @discardableResult
    public func verify(key: NoteVerifier, origin: String? = nil) throws -> Checkpoint {
        try verify(keys: [key], origin: origin)
    }
}

/// Why an evidence bundle does not verify.
public enum EvidenceFailure: Error, Hashable, Sendable, CustomStringConvertible {
    case malformed(String)
    case unsupportedFormat(String)
    case malformedCheckpoint(String)
    /// The checkpoint is not signed by the given key.
    case unknownKey(String)
    /// The given key's signature on the checkpoint does not verify.
    case badSignature(String)
    case wrongOrigin(expected: String, found: String)
    case treeSizeMismatch(bundle: Int, checkpoint: Int)
    case indexOutOfRange(index: Int, treeSize: Int)
    /// The entry bytes changed: the proof holds for the recorded leaf hash, not for these bytes.
    case entryAltered(index: Int)
    /// The proof does not lead from the entry to the checkpoint's root.
    case proofMismatch(String)

    /// A short stable code for scripts.
    public var code: String {
        switch self {
        case .malformed: return "malformed"
        case .unsupportedFormat: return "unsupported-format"
        case .malformedCheckpoint: return "malformed-checkpoint"
        case .unknownKey: return "unknown-key"
        case .badSignature: return "bad-signature"
        case .wrongOrigin: return "wrong-origin"
        case .treeSizeMismatch: return "tree-size-mismatch"
        case .indexOutOfRange: return "index-out-of-range"
        case .entryAltered: return "entry-altered"
        case .proofMismatch: return "proof-mismatch"
        }
    }

    public var description: String {
        switch self {
        case let .malformed(reason): return "malformed evidence: \(reason)"
        case let .unsupportedFormat(format): return "unsupported evidence format \(format.debugDescription)"
        case let .malformedCheckpoint(reason): return "malformed checkpoint: \(reason)"
        case let .unknownKey(reason): return "unknown key: \(reason)"
        case let .badSignature(reason): return "bad signature: \(reason)"
        case let .wrongOrigin(expected, found): return "wrong origin: checkpoint is for \(found.debugDescription), expected \(expected.debugDescription)"
        case let .treeSizeMismatch(bundle, checkpoint): return "tree size mismatch: evidence says \(bundle), checkpoint says \(checkpoint)"
        case let .indexOutOfRange(index, treeSize): return "index out of range: \(index) is not below tree size \(treeSize)"
        case let .entryAltered(index): return "entry altered: entry \(index) does not match the leaf hash the proof was made for"
        case let .proofMismatch(reason): return "proof mismatch: \(reason)"
        }
    }
}
