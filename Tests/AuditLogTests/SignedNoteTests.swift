import Foundation
import Testing
@testable import AuditLog

/// Vectors from golang.org/x/mod/sumdb/note (note_test.go) and real sum.golang.org tree heads.
@Suite("C2SP signed notes")
struct SignedNoteTests {
    static let peterVKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let peterSKey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let enochVKey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
    static let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let peterSig = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    static let enochSig = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

    @Test func goVerifierKeyParses() throws {
        let peter = try NoteVerifier(Self.peterVKey)
        #expect(peter.name == "PeterNeumann")
        #expect(peter.keyID == 0xc74f20a3)
        #expect(peter.encoded == Self.peterVKey)
        #expect(try NoteVerifier(Self.enochVKey).keyID == 0xaf0cfe78)
    }

    /// TestNewVerifier: every proper substring and every single-byte increment is refused.
    @Test func goVerifierKeyManglingsAreRefused() {
        let b = Array(Self.peterVKey.utf8)
        for i in 0...b.count {
            for j in (i + 1)..<(b.count + 1) where !(i == 0 && j == b.count) {
                let mangled = String(decoding: b[i..<j], as: UTF8.self)
                #expect(throws: SignedNoteError.self, "\(mangled)") { try NoteVerifier(mangled) }
            }
        }
        for i in b.indices {
            var c = b
            c[i] &+= 1
            let mangled = String(decoding: c, as: UTF8.self)
            #expect(throws: SignedNoteError.self, "\(mangled)") { try NoteVerifier(mangled) }
        }
        // Wrong-length key and unknown algorithm, each with an adjusted key ID.
        // (Go's lenient base64 decodes "…KEY==" despite its non-zero unused bits; ours already refuses the encoding.)
        #expect(throws: SignedNoteError.self) {
            try NoteVerifier("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
        }
        #expect(throws: SignedNoteError.unsupportedAlgorithm(0x65)) {
            try NoteVerifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        }
    }

    /// TestNewSigner.
    @Test func goSignerKeyParsesAndManglingsAreRefused() throws {
        let signer = try NoteSigner(Self.peterSKey)
        #expect(signer.name == "PeterNeumann")
        #expect(signer.keyID == 0xc74f20a3)
        #expect(signer.encoded == Self.peterSKey)
        #expect(signer.verifier.encoded == Self.peterVKey)
        let b = Array(Self.peterSKey.utf8)
        for i in 0...b.count {
            for j in (i + 1)..<(b.count + 1) where !(i == 0 && j == b.count) {
                let mangled = String(decoding: b[i..<j], as: UTF8.self)
                #expect(throws: SignedNoteError.self, "\(mangled)") { try NoteSigner(mangled) }
            }
        }
        for i in b.indices {
            var c = b
            c[i] &+= 1
            let mangled = String(decoding: c, as: UTF8.self)
            #expect(throws: SignedNoteError.self, "\(mangled)") { try NoteSigner(mangled) }
        }
    }

    /// TestSign: the Go package's exact output. Ed25519 (RFC 8032) is deterministic, as in
    /// swift-crypto's BoringSSL backend; Apple's CryptoKit randomizes signatures, so there only
    /// the signature's validity is checked.
    @Test func goSignVector() throws {
        let signer = try NoteSigner(Self.peterSKey)
        let signed = try SignedNote.sign(text: Self.text, signers: [signer])
        #if canImport(CryptoKit)
        try SignedNote.parse(signed).verify(with: [try NoteVerifier(Self.peterVKey)])
        #else
        #expect(signed == Self.text + "\n" + Self.peterSig)
        #endif
        #expect(throws: SignedNoteError.self) { try SignedNote.sign(text: "abc", signers: [signer]) }
        #expect(throws: SignedNoteError.self) { try SignedNote.sign(text: "a\tb\n", signers: [signer]) }
    }

    /// TestOpen.
    @Test func goOpenVectors() throws {
        let peter = try NoteVerifier(Self.peterVKey)
        let enoch = try NoteVerifier(Self.enochVKey)
        let message = Self.text + "\n" + Self.peterSig + Self.enochSig

        let note = try SignedNote.parse(message)
        #expect(note.text == Self.text)
        #expect(note.signatures.map(\.name) == ["PeterNeumann", "EnochRoot"])
        #expect(note.signatures.map(\.keyID) == [0xc74f20a3, 0xaf0cfe78])
        #expect(note.serialized == message)

        // One verifiable signature, one by an unknown key (ignored).
        #expect(try note.verify(with: [peter]).map(\.name) == ["PeterNeumann"])
        // Both.
        #expect(try note.verify(with: [peter, enoch]).map(\.name) == ["PeterNeumann", "EnochRoot"])
        #expect(try note.verify(with: [enoch, enoch]).map(\.name) == ["EnochRoot"])
        // None known.
        #expect(throws: SignedNoteError.unknownKey(signers: ["PeterNeumann+c74f20a3", "EnochRoot+af0cfe78"])) {
            try note.verify(with: [])
        }
        // Too many signatures.
        #expect(throws: SignedNoteError.tooManySignatures(limit: 100)) {
            try SignedNote.parse(Self.text + "\n" + String(repeating: Self.peterSig, count: 101))
        }
        #expect(try SignedNote.parse(Self.text + "\n" + String(repeating: Self.peterSig, count: 100)).verify(with: [peter]).count == 1)
        // Invalid signature by a known key refuses the note.
        let i60 = Self.peterSig.utf8.index(Self.peterSig.utf8.startIndex, offsetBy: 60)
        let bad = String(Self.peterSig[..<i60]) + "ABCD" + String(Self.peterSig[i60...])
        #expect(throws: SignedNoteError.invalidSignature(name: "PeterNeumann", keyID: 0xc74f20a3)) {
            try SignedNote.open(Self.text + "\n" + bad, verifiers: [peter])
        }
        // Duplicated signatures and a bad one by an unknown key: fine.
        let enochBad = String(Self.enochSig.prefix(60)) + "ABCD" + String(Self.enochSig.dropFirst(60))
        let dup = try SignedNote.parse(Self.text + "\n" + Self.peterSig + Self.peterSig + Self.enochSig + Self.enochSig + enochBad)
        #expect(try dup.verify(with: [peter]).map(\.name) == ["PeterNeumann"])

        // Invalid encodings.
        let badMessages = [
            Self.text,
            Self.text + "\n",
            Self.text + "\n" + String(Self.peterSig.dropLast()),
            "\u{01}" + Self.text + "\n" + Self.peterSig,
            Self.text + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
            Self.text + "\n" + Self.peterSig + "Unexpected line.\n",
        ]
        for message in badMessages {
            #expect(throws: SignedNoteError.self, "\(message.debugDescription)") { try SignedNote.open(message, verifiers: [peter]) }
        }
        // "\xff" + text: invalid UTF-8.
        #expect(throws: SignedNoteError.malformedNote("not valid UTF-8")) {
            try SignedNote.parse([0xFF] + Array((Self.text + "\n" + Self.peterSig).utf8))
        }
    }

    /// The note's key name or ID differ from the verifier's: the signature is someone else's.
    @Test func signaturesOfOtherKeysAreIgnored() throws {
        let peter = try NoteVerifier(Self.peterVKey)
        let misnamed = Self.peterSig.replacingOccurrences(of: "PeterNeumann", with: "CarmenSandiego")
        #expect(throws: SignedNoteError.unknownKey(signers: ["CarmenSandiego+c74f20a3"])) {
            try SignedNote.open(Self.text + "\n" + misnamed, verifiers: [peter])
        }
        let wrongID = Self.peterSig.replacingOccurrences(of: "x08g", with: "xxxx")
        #expect(throws: SignedNoteError.self) { try SignedNote.open(Self.text + "\n" + wrongID, verifiers: [peter]) }
    }

    @Test func ambiguousVerifiersAreRefused() throws {
        let peter = try NoteVerifier(Self.peterVKey)
        // Two different keys claiming the same name and key ID (a collision or a tampered list).
        let impostor = NoteVerifier(unchecked: "PeterNeumann", keyID: 0xc74f20a3, publicKey: [UInt8](repeating: 7, count: 32))
        #expect(throws: SignedNoteError.ambiguousKey(name: "PeterNeumann", keyID: 0xc74f20a3)) {
            try SignedNote.open(Self.text + "\n" + Self.peterSig, verifiers: [peter, impostor])
        }
    }

    @Test func strictParsing() throws {
        let signer = try NoteSigner(generatingFor: "example.org/log")
        let good = try SignedNote.sign(text: "hello\n", signers: [signer])
        let sigLine = String(good.split(separator: "\n", omittingEmptySubsequences: false)[2])
        let cases: [(String, String)] = [
            ("hello\n— example.org/log AAAA\n", "no blank line"),
            ("hello\n\n", "no signature lines"),
            ("hello\n\n" + sigLine, "no final newline"),
            ("hello\n\n-- " + sigLine.dropFirst(2) + "\n", "ASCII dashes"),
            ("hello\n\n– " + sigLine.dropFirst(2) + "\n", "en dash"),
            ("hello\n\n—" + sigLine.dropFirst(2) + "\n", "no space after the dash"),
            ("hello\n\n" + sigLine + " \n", "trailing space"),
            ("hello\n\n" + sigLine + "\n\n", "trailing blank line"),
            ("hello\n\n" + sigLine + "\nmore\n", "junk after the signatures"),
            ("hello\n\n— example.org/log\n", "name without signature"),
            ("hello\n\n— example.org/log AAAAAA==\n", "signature under 5 bytes"),
            ("hello\n\n— example.org/log AAAAAAB=\n", "non-canonical base64"),
            ("hello\n\n— example.org/log AAAAAAA\n", "unpadded base64"),
            ("hello\n\n— a+b AAAAAAAA\n", "plus in key name"),
            ("hello\n\n—  AAAAAAAA\n", "empty key name"),
            ("hel\rlo\n\n" + sigLine + "\n", "carriage return"),
            ("hel\tlo\n\n" + sigLine + "\n", "tab"),
        ]
        for (message, reason) in cases {
            #expect(throws: SignedNoteError.self, "\(reason)") { try SignedNote.parse(message) }
        }
        // Size limit, checked before anything else.
        #expect(throws: SignedNoteError.tooLarge(size: good.utf8.count, limit: 50)) { try SignedNote.parse(good, maxSize: 50) }
        #expect(throws: SignedNoteError.tooLarge(size: 70_000, limit: SignedNote.defaultMaxSize)) {
            try SignedNote.parse(String(repeating: "a", count: 70_000))
        }
        // The good one, and text with inner blank lines (the last blank line separates).
        #expect(try SignedNote.open(good, verifiers: [signer.verifier]).text == "hello\n")
        let multi = try SignedNote.sign(text: "a\n\nb\n", signers: [signer])
        #expect(try SignedNote.open(multi, verifiers: [signer.verifier]).text == "a\n\nb\n")
        // Tampered text.
        #expect(throws: SignedNoteError.invalidSignature(name: signer.name, keyID: signer.keyID)) {
            try SignedNote.open(good.replacingOccurrences(of: "hello", with: "hellO"), verifiers: [signer.verifier])
        }
    }

    @Test func keyNames() {
        for good in ["a", "example.org/log", "PeterNeumann", "日本"] { #expect(NoteKey.isValidName(good)) }
        for bad in ["", "a b", "a+b", "a\tb", "a\u{00A0}b", "a\u{3000}b", "a\u{2028}b", "a\nb"] {
            #expect(!NoteKey.isValidName(bad), "\(bad.debugDescription)")
        }
        #expect(throws: SignedNoteError.invalidKeyName("a b")) { try NoteSigner(generatingFor: "a b") }
    }

    @Test func generatedKeysRoundTrip() throws {
        let signer = try NoteSigner(generatingFor: "tongban.example/audit")
        let reparsed = try NoteSigner(signer.encoded)
        #expect(reparsed.encoded == signer.encoded)
        let verifier = try NoteVerifier(signer.verifier.encoded)
        #expect(verifier == signer.verifier)
        #expect(signer.encoded.hasPrefix("PRIVATE+KEY+tongban.example/audit+"))
        // Key ID definition: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[0..<4].
        #expect(verifier.keyID == NoteKey.keyID(name: "tongban.example/audit", publicKey: verifier.publicKey))
        let two = try NoteSigner(generatingFor: "witness.example")
        let signed = try SignedNote.sign(text: "x\n", signers: [signer, two])
        #expect(try SignedNote.open(signed, verifiers: [two.verifier]).signatures.count == 2)
    }
}

@Test func signerDoesNotPrintItsSecret() throws {
    let signer = try NoteSigner(SignedNoteTests.peterSKey)
    #expect("\(signer)" == "NoteSigner(PeterNeumann+c74f20a3)")
    var dumped = ""
    dump(signer, to: &dumped)
    #expect(!dumped.contains("AYEKFALV") && !dumped.contains("seed"))
}
