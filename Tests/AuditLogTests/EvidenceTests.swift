import Foundation
import Testing
@testable import AuditLog

@Suite("Evidence bundles")
struct EvidenceTests {
    static let origin = "tongban.example/audit"
    static let signer = try! NoteSigner(generatingFor: origin)
    static let entries = (0..<1000).map { Array("{\"event\":\($0)}".utf8) }
    static let store: InMemoryMerkleStore = {
        let store = InMemoryMerkleStore()
        store.append(entries: entries)
        return store
    }()
    static let note = try! Checkpoint(origin: origin, size: 1000, rootHash: store.root).sign(with: signer)

    static func bundle(_ index: Int = 417) throws -> EvidenceBundle {
        try EvidenceBundle(entry: entries[index], index: index, signedCheckpoint: note, store: store)
    }

    func expectFailure(_ bundle: EvidenceBundle, _ expected: EvidenceFailure, key: NoteVerifier = signer.verifier,
                       origin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: expected, sourceLocation: sourceLocation) { try bundle.verify(key: key, origin: origin) }
    }

    @Test func validBundleVerifiesAndRoundTripsThroughJSON() throws {
        for index in [0, 1, 417, 511, 512, 998, 999] {
            let bundle = try Self.bundle(index)
            let checkpoint = try bundle.verify(key: Self.signer.verifier)
            #expect(checkpoint.size == 1000)
            let json = try bundle.json()
            let decoded = try EvidenceBundle(json: json)
            #expect(decoded == bundle)
            try decoded.verify(key: Self.signer.verifier, origin: Self.origin)
        }
        let text = String(decoding: try Self.bundle().json(), as: UTF8.self)
        #expect(text.contains("\"format\" : \"tongban-audit-evidence/v1\""))
        #expect(text.contains("\"entry\" : \"\(Base64.encode(Self.entries[417]))\""))
    }

    @Test func alteredEntry() throws {
        var bundle = try Self.bundle()
        bundle.entry = Array("{\"event\":418}".utf8)
        expectFailure(bundle, .entryAltered(index: 417))
        // Entry and recorded leaf hash both changed: only the proof can be blamed.
        bundle.leafHash = MerkleTree.leafHash(bundle.entry)
        #expect(try throwing(bundle)?.code == "proof-mismatch")
    }

    @Test func alteredProof() throws {
        let good = try Self.bundle()
        for i in good.inclusionProof.indices {
            var bundle = good
            bundle.inclusionProof[i] = flipBit(bundle.inclusionProof[i])
            #expect(try throwing(bundle)?.code == "proof-mismatch", "proof[\(i)]")
        }
        var short = good
        short.inclusionProof.removeLast()
        #expect(try throwing(short)?.code == "proof-mismatch")
        var long = good
        long.inclusionProof.append(Self.store.root)
        #expect(try throwing(long)?.code == "proof-mismatch")
        // A proof for another index, or a valid proof moved to another index.
        var moved = good
        moved.index = 416
        #expect(try throwing(moved)?.code == "proof-mismatch")
    }

    @Test func indexAndSize() throws {
        var bundle = try Self.bundle()
        bundle.index = 1000
        expectFailure(bundle, .indexOutOfRange(index: 1000, treeSize: 1000))
        bundle = try Self.bundle()
        bundle.treeSize = 999
        expectFailure(bundle, .treeSizeMismatch(bundle: 999, checkpoint: 1000))
    }

    @Test func checkpointProblems() throws {
        let good = try Self.bundle()
        // Root in the checkpoint altered: signature no longer holds.
        var bundle = good
        bundle.checkpoint = Self.note.replacingOccurrences(of: "\n1000\n", with: "\n1001\n")
        #expect(try throwing(bundle)?.code == "bad-signature")
        // Signed by some other key.
        let stranger = try NoteSigner(generatingFor: Self.origin)
        bundle.checkpoint = try Checkpoint(origin: Self.origin, size: 1000, rootHash: Self.store.root).sign(with: stranger)
        #expect(try throwing(bundle)?.code == "unknown-key")
        // Right key, other origin.
        bundle.checkpoint = try Checkpoint(origin: "elsewhere.example/log", size: 1000, rootHash: Self.store.root).sign(with: Self.signer)
        expectFailure(bundle, .wrongOrigin(expected: Self.origin, found: "elsewhere.example/log"))
        expectFailure(bundle, .wrongOrigin(expected: "x", found: "elsewhere.example/log"), origin: "x")
        try bundle.verify(key: Self.signer.verifier, origin: "elsewhere.example/log")
        // Not a note at all.
        bundle.checkpoint = "garbage"
        #expect(try throwing(bundle)?.code == "malformed-checkpoint")
        // A signed note that is not a checkpoint.
        bundle.checkpoint = try SignedNote.sign(text: "hello\n", signers: [Self.signer])
        #expect(try throwing(bundle)?.code == "malformed-checkpoint")
    }

    @Test func malformedDocuments() throws {
        let json = try JSONSerialization.jsonObject(with: try Self.bundle().json()) as! [String: Any]
        func decode(_ change: (inout [String: Any]) -> Void) -> EvidenceFailure? {
            var object = json
            change(&object)
            let data = try! JSONSerialization.data(withJSONObject: object)
            do { _ = try EvidenceBundle(json: data); return nil } catch { return error as? EvidenceFailure }
        }
        #expect(decode { $0["format"] = "tongban-audit-evidence/v2" } == .unsupportedFormat("tongban-audit-evidence/v2"))
        #expect(decode { $0["format"] = nil }?.code == "malformed")
        #expect(decode { $0["entry"] = "not base64!" }?.code == "malformed")
        #expect(decode { $0["index"] = "417" }?.code == "malformed")
        #expect(decode { $0["index"] = -1 }?.code == "malformed")
        #expect(decode { $0["leafHash"] = "AAAA" }?.code == "malformed")
        #expect(decode { $0["inclusionProof"] = ["AAAA"] }?.code == "malformed")
        #expect(decode { $0["inclusionProof"] = nil }?.code == "malformed")
        #expect(decode { $0["checkpoint"] = nil }?.code == "malformed")
        #expect(decode { _ in } == nil)
        #expect(throws: EvidenceFailure.malformed("not a JSON evidence document")) { try EvidenceBundle(json: Data("[1,2".utf8)) }
    }

    @Test func failureDescriptionsAreReadable() {
        let failures: [EvidenceFailure] = [
            .malformed("x"), .unsupportedFormat("v9"), .malformedCheckpoint("x"), .unknownKey("x"), .badSignature("x"),
            .wrongOrigin(expected: "a", found: "b"), .treeSizeMismatch(bundle: 1, checkpoint: 2),
            .indexOutOfRange(index: 5, treeSize: 5), .entryAltered(index: 3), .proofMismatch("x"),
        ]
        #expect(Set(failures.map(\.code)).count == failures.count)
        for failure in failures {
            #expect(failure.description.hasPrefix(failure.code.replacingOccurrences(of: "-", with: " ")) || failure.code == "unsupported-format" || failure.code == "malformed",
                    "\(failure.description)")
            #expect(!failure.description.contains("\n"))
        }
    }

    private func throwing(_ bundle: EvidenceBundle) throws -> EvidenceFailure? {
        do {
            try bundle.verify(key: Self.signer.verifier)
            return nil
        } catch let failure as EvidenceFailure {
            return failure
        }
    }
}

@Suite("Proof documents")
struct ProofDocumentTests {
    @Test func inclusionAndConsistencyProofsRoundTripThroughJSON() throws {
        let store = InMemoryMerkleStore()
        store.append(entries: (0..<100).map(entry))
        let old = try Checkpoint(origin: "o", size: 60, rootHash: try MerkleTree.root(treeSize: 60, store: store))
        let new = try Checkpoint(origin: "o", size: 100, rootHash: store.root)

        let inclusion = try InclusionProof(leafIndex: 42, treeSize: 100, store: store)
        let decoded = try JSONDecoder().decode(InclusionProof.self, from: try JSONEncoder().encode(inclusion))
        #expect(decoded == inclusion)
        try decoded.verify(entry: entry(42), checkpoint: new)
        #expect(throws: MerkleProofError.self) { try decoded.verify(entry: entry(43), checkpoint: new) }
        #expect(throws: MerkleProofError.self) { try decoded.verify(entry: entry(42), checkpoint: old) }

        let consistency = try ConsistencyProof(firstSize: 60, secondSize: 100, store: store)
        let json = try JSONEncoder().encode(consistency)
        #expect(String(decoding: json, as: UTF8.self).contains("\"firstSize\":60"))
        let back = try JSONDecoder().decode(ConsistencyProof.self, from: json)
        try back.verify(from: old, to: new)
        #expect(throws: MerkleProofError.self) { try back.verify(from: new, to: old) }
        let forked = try Checkpoint(origin: "o", size: 100, rootHash: MerkleTree.root(entries: (0..<100).map { entry($0 == 7 ? 1000 : $0) }))
        #expect(throws: MerkleProofError.self) { try back.verify(from: old, to: forked) }
    }
}
