import Crypto
import Foundation

// C2SP signed-note (https://c2sp.org/signed-note), Ed25519 keys only, byte-compatible with
// golang.org/x/mod/sumdb/note:
//
//     <text ending in "\n">
//     <blank line>
//     — <key name> <base64(4-byte big-endian key ID ‖ 64-byte Ed25519 signature)>\n   (one or more)
//
// key ID = first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key), big-endian.
// Verifier key: "<name>+<8 hex digits key ID>+<base64(0x01 ‖ public key)>".
// Signer key:   "PRIVATE+KEY+<name>+<8 hex digits key ID>+<base64(0x01 ‖ 32-byte seed)>".

/// Why a key, a note or a signature was refused.
public enum SignedNoteError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A verifier or signer key string that does not parse.
    case malformedKey(String)
    /// A key with an algorithm byte other than 0x01 (Ed25519).
    case unsupportedAlgorithm(UInt8)
    /// A key whose key ID does not match its name and public key.
    case keyIDMismatch(name: String, stated: UInt32, computed: UInt32)
    case invalidKeyName(String)
    /// Larger than the size limit, before any parsing.
    case tooLarge(size: Int, limit: Int)
    case tooManySignatures(limit: Int)
    case malformedNote(String)
    /// A signature by a known key that does not verify: the whole note is refused.
    case invalidSignature(name: String, keyID: UInt32)
    /// No signature by any of the given keys (the note's signers are listed).
    case unknownKey(signers: [String])
    /// The verifier list holds two different keys with the same name and key ID.
    case ambiguousKey(name: String, keyID: UInt32)

    public var description: String {
        switch self {
        case let .malformedKey(reason): return "malformed key: \(reason)"
        case let .unsupportedAlgorithm(alg): return "unsupported key algorithm 0x\(String(alg, radix: 16))"
        case let .keyIDMismatch(name, stated, computed):
            return "key ID \(hex8(stated)) does not match key \(name) (computed \(hex8(computed)))"
        case let .invalidKeyName(name): return "invalid key name \(name.debugDescription)"
        case let .tooLarge(size, limit): return "note is \(size) bytes, over the limit of \(limit)"
        case let .tooManySignatures(limit): return "note has more than \(limit) signatures"
        case let .malformedNote(reason): return "malformed note: \(reason)"
        case let .invalidSignature(name, keyID): return "bad signature by key \(name)+\(hex8(keyID))"
        case let .unknownKey(signers):
            return signers.isEmpty ? "note is not signed by a known key"
                : "note is not signed by a known key (signed by \(signers.joined(separator: ", ")))"
        case let .ambiguousKey(name, keyID): return "ambiguous key \(name)+\(hex8(keyID))"
        }
    }
}

func hex8(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 8 - digits.count) + digits
}

/// Note key helpers shared by signers and verifiers.
public enum NoteKey {
    /// Signature type byte for Ed25519.
    public static let ed25519: UInt8 = 0x01

    /// SHA-256(name ‖ 0x0A ‖ algorithm ‖ public key)[0..<4], big-endian.
    public static func keyID(name: String, algorithm: UInt8 = ed25519, publicKey: some Collection<UInt8>) -> UInt32 {
        var hasher = SHA256()
        hasher.update(data: Array(name.utf8) + [0x0A, algorithm] + Array(publicKey))
        let digest = Array(hasher.finalize())
        return UInt32(digest[0]) << 24 | UInt32(digest[1]) << 16 | UInt32(digest[2]) << 8 | UInt32(digest[3])
    }

    /// Non-empty, and no Unicode white space and no "+" (as golang.org/x/mod/sumdb/note's isValidName).
    public static func isValidName(_ name: some StringProtocol) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0.properties.isWhitespace || $0 == "+" }
    }

    static func parseKeyID(_ text: Substring) -> UInt32? {
        guard text.utf8.count == 8, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }) else {
            return nil
        }
        return UInt32(text, radix: 16)
    }
}

/// A public key that verifies note signatures: name, key ID and Ed25519 public key.
public struct NoteVerifier: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let keyID: UInt32
    /// The 32-byte Ed25519 public key.
    public let publicKey: [UInt8]

    /// From the vkey text "<name>+<hex key ID>+<base64(0x01 ‖ public key)>".
    public init(_ vkey: String) throws {
        let parts = vkey.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw SignedNoteError.malformedKey("expected <name>+<key ID>+<key>") }
        guard NoteKey.isValidName(parts[0]) else { throw SignedNoteError.invalidKeyName(String(parts[0])) }
        guard let id = NoteKey.parseKeyID(parts[1]) else { throw SignedNoteError.malformedKey("key ID is not 8 hex digits") }
        guard let key = Base64.decode(parts[2]), !key.isEmpty else { throw SignedNoteError.malformedKey("key is not base64") }
        let computed = NoteKey.keyID(name: String(parts[0]), algorithm: key[0], publicKey: key.dropFirst())
        guard computed == id else { throw SignedNoteError.keyIDMismatch(name: String(parts[0]), stated: id, computed: computed) }
        guard key[0] == NoteKey.ed25519 else { throw SignedNoteError.unsupportedAlgorithm(key[0]) }
        guard key.count == 33 else { throw SignedNoteError.malformedKey("Ed25519 public key must be 32 bytes") }
        self.name = String(parts[0])
        self.keyID = id
        self.publicKey = Array(key.dropFirst())
    }

    /// Without checks (tests).
    init(unchecked name: String, keyID: UInt32, publicKey: [UInt8]) {
        self.name = name
        self.keyID = keyID
        self.publicKey = publicKey
    }

    public init(name: String, publicKey: Curve25519.Signing.PublicKey) throws {
        guard NoteKey.isValidName(name) else { throw SignedNoteError.invalidKeyName(name) }
        self.name = name
        self.publicKey = Array(publicKey.rawRepresentation)
        self.keyID = NoteKey.keyID(name: name, publicKey: self.publicKey)
    }

    /// The vkey text.
    public var encoded: String {
        "\(name)+\(hex8(keyID))+\(Base64.encode([NoteKey.ed25519] + publicKey))"
    }

    public var description: String { encoded }

    /// Whether `signature` (64 bytes, without the key ID) is a valid Ed25519 signature of `message`.
    public func isValidSignature(_ signature: some DataProtocol, for message: some DataProtocol) -> Bool {
        guard signature.count == 64, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else {
            return false
        }
        return key.isValidSignature(signature, for: message)
    }
}

/// A private key that signs notes. Its `encoded` form is secret; `description` is not.
public struct NoteSigner: Sendable, CustomStringConvertible, CustomReflectable {
    public let name: String
    public let keyID: UInt32
    /// The 32-byte Ed25519 seed (kept as bytes so the type is Sendable with every Crypto backend).
    let seed: [UInt8]
    var privateKey: Curve25519.Signing.PrivateKey {
        // Cannot fail: the seed came from a valid key.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    /// A new random key.
    public init(generatingFor name: String) throws {
        try self.init(name: name, privateKey: Curve25519.Signing.PrivateKey())
    }

    public init(name: String, privateKey: Curve25519.Signing.PrivateKey) throws {
        guard NoteKey.isValidName(name) else { throw SignedNoteError.invalidKeyName(name) }
        self.name = name
        self.seed = Array(privateKey.rawRepresentation)
        self.keyID = NoteKey.keyID(name: name, publicKey: Array(privateKey.publicKey.rawRepresentation))
    }

    /// From "PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ 32-byte seed)>".
    public init(_ skey: String) throws {
        let parts = skey.split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY" else {
            throw SignedNoteError.malformedKey("expected PRIVATE+KEY+<name>+<key ID>+<key>")
        }
        guard NoteKey.isValidName(parts[2]) else { throw SignedNoteError.invalidKeyName(String(parts[2])) }
        guard let id = NoteKey.parseKeyID(parts[3]) else { throw SignedNoteError.malformedKey("key ID is not 8 hex digits") }
        guard let key = Base64.decode(parts[4]), !key.isEmpty else { throw SignedNoteError.malformedKey("key is not base64") }
        guard key[0] == NoteKey.ed25519 else { throw SignedNoteError.unsupportedAlgorithm(key[0]) }
        guard key.count == 33, let privateKey = try? Curve25519.Signing.PrivateKey(rawRepresentation: key.dropFirst()) else {
            throw SignedNoteError.malformedKey("Ed25519 seed must be 32 bytes")
        }
        try self.init(name: String(parts[2]), privateKey: privateKey)
        guard keyID == id else { throw SignedNoteError.keyIDMismatch(name: name, stated: id, computed: keyID) }
    }

    public var description: String { "NoteSigner(\(name)+\(hex8(keyID)))" }
    public var customMirror: Mirror { Mirror(self, children: ["name": name, "keyID": hex8(keyID)]) }

    /// The signer key text (secret).
    public var encoded: String {
        "PRIVATE+KEY+\(name)+\(hex8(keyID))+\(Base64.encode([NoteKey.ed25519] + seed))"
    }

    public var verifier: NoteVerifier {
        // Cannot fail: the name was validated on creation.
        try! NoteVerifier(name: name, publicKey: privateKey.publicKey)
    }

    /// The Ed25519 signature of `message` (64 bytes).
    public func signature(for message: some DataProtocol) throws -> [UInt8] {
        Array(try privateKey.signature(for: message))
    }
}

/// One signature line of a note.
public struct NoteSignature: Hashable, Sendable {
    public let name: String
    public let keyID: UInt32
    /// base64(key ID ‖ signature), as on the line.
    public let base64: String

    public init(name: String, keyID: UInt32, base64: String) {
        self.name = name
        self.keyID = keyID
        self.base64 = base64
    }

    /// The signature bytes without the key ID.
    public var signature: [UInt8] { Array((Base64.decode(base64) ?? []).dropFirst(4)) }

    public var line: String { "— \(name) \(base64)\n" }
}

/// A note text with its signature lines, parsed but not yet verified (see `verify(with:)` / `open`).
public struct SignedNote: Hashable, Sendable {
    /// Checkpoints are a few hundred bytes; this leaves room for many (even post-quantum) cosignatures.
    public static let defaultMaxSize = 64 * 1024
    /// As golang.org/x/mod/sumdb/note; C2SP asks verifiers to accept at least 16.
    public static let defaultMaxSignatures = 100

    /// The signed text, ending in "\n" (without the blank separator line).
    public let text: String
    public let signatures: [NoteSignature]

    /// Parses a signed note strictly (C2SP signed-note): size limit, valid UTF-8, no control
    /// characters but newline, text + blank line + one or more well-formed signature lines.
    public static func parse(_ message: some Collection<UInt8>, maxSize: Int = defaultMaxSize,
                             maxSignatures: Int = defaultMaxSignatures) throws -> SignedNote {
        guard message.count <= maxSize else { throw SignedNoteError.tooLarge(size: message.count, limit: maxSize) }
        let bytes = Array(message)
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        decoding: while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar):
                if scalar.value < 0x20 && scalar != "\n" {
                    throw SignedNoteError.malformedNote("control character U+\(String(scalar.value, radix: 16, uppercase: true))")
                }
            case .emptyInput: break decoding
            case .error: throw SignedNoteError.malformedNote("not valid UTF-8")
            }
        }
        // The text ends at the last blank line.
        var split: Int?
        var i = bytes.count - 2
        while i >= 0 {
            if bytes[i] == 0x0A && bytes[i + 1] == 0x0A { split = i; break }
            i -= 1
        }
        guard let split else { throw SignedNoteError.malformedNote("no blank line before the signatures") }
        let text = bytes[...split]
        let block = bytes[(split + 2)...]
        guard !block.isEmpty else { throw SignedNoteError.malformedNote("no signature lines") }
        guard block.last == 0x0A else { throw SignedNoteError.malformedNote("last signature line does not end in a newline") }

        let prefix = Array("— ".utf8)
        var signatures: [NoteSignature] = []
        for line in block.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false) {
            guard line.starts(with: prefix) else { throw SignedNoteError.malformedNote("line does not start with \"— \"") }
            let rest = String(decoding: line.dropFirst(prefix.count), as: UTF8.self)
            let parts = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw SignedNoteError.malformedNote("signature line without a signature") }
            guard NoteKey.isValidName(parts[0]) else { throw SignedNoteError.malformedNote("invalid key name \(String(parts[0]).debugDescription)") }
            guard let raw = Base64.decode(parts[1]) else { throw SignedNoteError.malformedNote("signature is not base64") }
            guard raw.count >= 5 else { throw SignedNoteError.malformedNote("signature too short") }
            guard signatures.count < maxSignatures else { throw SignedNoteError.tooManySignatures(limit: maxSignatures) }
            let id = UInt32(raw[0]) << 24 | UInt32(raw[1]) << 16 | UInt32(raw[2]) << 8 | UInt32(raw[3])
            signatures.append(NoteSignature(name: String(parts[0]), keyID: id, base64: String(parts[1])))
        }
        return SignedNote(text: String(decoding: text, as: UTF8.self), signatures: signatures)
    }

    public static func parse(_ message: String, maxSize: Int = defaultMaxSize,
                             maxSignatures: Int = defaultMaxSignatures) throws -> SignedNote {
        try parse(Array(message.utf8), maxSize: maxSize, maxSignatures: maxSignatures)
    }

    /// Checks the signatures by the given keys. Signatures by other keys are ignored (C2SP), a
    /// known key's bad signature refuses the whole note, and at least one must verify.
    /// Returns the verified signatures.
    @discardableResult
    public func verify(with verifiers: [NoteVerifier]) throws -> [NoteSignature] {
        let message = Array(text.utf8)
        var verified: [NoteSignature] = []
        var seen = Set<String>()
        for signature in signatures {
            let matching = Set(verifiers.filter { $0.name == signature.name && $0.keyID == signature.keyID })
            guard let verifier = matching.first else { continue }
            guard matching.count == 1 else { throw SignedNoteError.ambiguousKey(name: signature.name, keyID: signature.keyID) }
            guard seen.insert("\(signature.name)+\(signature.keyID)").inserted else { continue }
            guard verifier.isValidSignature(signature.signature, for: message) else {
                throw SignedNoteError.invalidSignature(name: signature.name, keyID: signature.keyID)
            }
            verified.append(signature)
        }
        guard !verified.isEmpty else {
            var signers: [String] = []
            for s in signatures where !signers.contains("\(s.name)+\(hex8(s.keyID))") { signers.append("\(s.name)+\(hex8(s.keyID))") }
            throw SignedNoteError.unknownKey(signers: signers)
        }
        return verified
    }

    /// Parses and verifies in one step.
    public static func open(_ message: String, verifiers: [NoteVerifier], maxSize: Int = defaultMaxSize) throws -> SignedNote {
        let note = try parse(message, maxSize: maxSize)
        try note.verify(with: verifiers)
        return note
    }

    /// Signs `text` with each signer. `text` must be non-empty valid note text ending in "\n".
    public static func sign(text: String, signers: [NoteSigner]) throws -> String {
        guard text.hasSuffix("\n") else { throw SignedNoteError.malformedNote("text does not end in a newline") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) else {
            throw SignedNoteError.malformedNote("control character in text")
        }
        guard !signers.isEmpty else { throw SignedNoteError.malformedNote("no signer") }
        var out = text + "\n"
        let message = Array(text.utf8)
        for signer in signers {
            let id = signer.keyID
            let raw = [UInt8(id >> 24), UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)]
                + (try signer.signature(for: message))
            out += NoteSignature(name: signer.name, keyID: id, base64: Base64.encode(raw)).line
        }
        return out
    }

    /// The note as text: text, blank line, signature lines.
    public var serialized: String {
        text + "\n" + signatures.map(\.line).joined()
    }
}
