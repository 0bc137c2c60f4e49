import Foundation
import Testing
@testable import AuditLog

@Suite("C2SP tlog checkpoints")
struct CheckpointTests {
    /// Real tree heads of the Go checksum database (sum.golang.org), whose checkpoints are C2SP
    /// checkpoints with origin "go.sum database tree". Key as published by the Go project.
    static let goSumDBKey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
    static let goSumDBHeads = [
        // From transparency-dev/trillian-tessera internal/parse/parse_test.go (BenchmarkCheckpointUnsafe).
        "go.sum database tree\n31700353\nqINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\n\n— sum.golang.org Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8oW9/C8DJ87F61QqspBYwM=\n",
        // A lookup response's signed tree head quoted in a public test suite.
        "go.sum database tree\n65209736\n5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=\n\n— sum.golang.org Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3cVtYspg3dxXABkGZZKdsQ8=\n",
    ]

    @Test func realGoChecksumDatabaseHeadsVerify() throws {
        let key = try NoteVerifier(Self.goSumDBKey)
        let first = try Checkpoint.open(Self.goSumDBHeads[0], origin: "go.sum database tree", verifiers: [key])
        #expect(first.size == 31_700_353)
        #expect(first.rootHash.base64 == "qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=")
        let second = try Checkpoint.open(Self.goSumDBHeads[1], origin: "go.sum database tree", verifiers: [key])
        #expect(second.size == 65_209_736)
        // One changed digit breaks the signature.
        let altered = Self.goSumDBHeads[0].replacingOccurrences(of: "31700353", with: "31700354")
        #expect(throws: CheckpointError.note(.invalidSignature(name: "sum.golang.org", keyID: 0x033de0ae))) {
            try Checkpoint.open(altered, origin: "go.sum database tree", verifiers: [key])
        }
    }

    static let signer = try! NoteSigner(generatingFor: "tongban.example/audit")

    @Test func roundTrip() throws {
        let root = MerkleTree.root(entries: (0..<10).map(entry))
        let checkpoint = try Checkpoint(origin: "tongban.example/audit", size: 10, rootHash: root)
        #expect(checkpoint.body == "tongban.example/audit\n10\n\(root.base64)\n")
        let note = try checkpoint.sign(with: Self.signer)
        #expect(note.hasPrefix(checkpoint.body + "\n— tongban.example/audit "))
        #expect(try Checkpoint.open(note, origin: "tongban.example/audit", verifiers: [Self.signer.verifier]) == checkpoint)
        #expect(try Checkpoint.open(note, origin: nil, verifiers: [Self.signer.verifier]) == checkpoint)

        let empty = try Checkpoint(origin: "o", size: 0, rootHash: MerkleTree.emptyRoot)
        #expect(empty.body == "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
        #expect(try Checkpoint(body: empty.body) == empty)

        let withExtensions = try Checkpoint(origin: "o", size: 5, rootHash: root, extensions: ["ext one", "ext two"])
        let signed = try withExtensions.sign(with: Self.signer)
        #expect(try Checkpoint.open(signed, origin: "o", verifiers: [Self.signer.verifier]) == withExtensions)
    }

    @Test func openRefusals() throws {
        let root = MerkleTree.root(entries: (0..<3).map(entry))
        let checkpoint = try Checkpoint(origin: "tongban.example/audit", size: 3, rootHash: root)
        let note = try checkpoint.sign(with: Self.signer)
        let verifier = Self.signer.verifier
        let other = try NoteSigner(generatingFor: "tongban.example/audit")

        #expect(throws: CheckpointError.wrongOrigin(expected: "tongban.example/other", found: "tongban.example/audit")) {
            try Checkpoint.open(note, origin: "tongban.example/other", verifiers: [verifier])
        }
        // Same name, other key: unknown key.
        #expect(throws: CheckpointError.note(.unknownKey(signers: ["tongban.example/audit+\(hex8(Self.signer.keyID))"]))) {
            try Checkpoint.open(note, origin: nil, verifiers: [other.verifier])
        }
        // Tampered size or hash: bad signature.
        let bigger = note.replacingOccurrences(of: "\n3\n", with: "\n4\n")
        #expect(throws: CheckpointError.note(.invalidSignature(name: verifier.name, keyID: verifier.keyID))) {
            try Checkpoint.open(bigger, origin: nil, verifiers: [verifier])
        }
        #expect(throws: CheckpointError.note(.tooLarge(size: note.utf8.count, limit: 100))) {
            try Checkpoint.open(note, origin: nil, verifiers: [verifier], maxSize: 100)
        }
    }

    /// Bodies that are properly signed but are not checkpoints.
    @Test(arguments: [
        "tongban.example/audit\n3\n",                                   // two lines
        "\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",           // empty origin
        "o\n03\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",          // leading zero
        "o\n-3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",          // negative
        "o\n+3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",          // sign
        "o\n 3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",          // space
        "o\n0x3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",         // hex
        "o\n\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",            // empty size
        "o\n99999999999999999999\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", // over 2^64
        "o\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",          // 31 bytes
        "o\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",      // 33 bytes
        "o\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",           // unpadded
        "o\n3\n0000000000000000000000000000000000000000000000000000000000000000\n", // hex hash
        "o\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\next\n",    // empty extension line
    ])
    func malformedBodiesAreRefused(body: String) throws {
        #expect(throws: CheckpointError.self) { try Checkpoint(body: body) }
        let note = try SignedNote.sign(text: body, signers: [Self.signer])
        #expect(throws: CheckpointError.self) { try Checkpoint.open(note, origin: nil, verifiers: [Self.signer.verifier]) }
    }

    @Test func constructorRefusals() {
        #expect(throws: CheckpointError.self) { try Checkpoint(origin: "", size: 1, rootHash: MerkleTree.emptyRoot) }
        #expect(throws: CheckpointError.self) { try Checkpoint(origin: "a\nb", size: 1, rootHash: MerkleTree.emptyRoot) }
        #expect(throws: CheckpointError.self) { try Checkpoint(origin: "a", size: -1, rootHash: MerkleTree.emptyRoot) }
        #expect(throws: CheckpointError.self) { try Checkpoint(origin: "a", size: 1, rootHash: MerkleTree.emptyRoot, extensions: [""]) }
    }
}
