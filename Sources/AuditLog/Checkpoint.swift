import Foundation

/// A C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the signed head of the log.
///
///     <origin>\n
///     <tree size, decimal, no leading zeros>\n
///     <base64 root hash>\n
///     [<extension line>\n ...]
///
/// signed as a C2SP signed note.
public struct Checkpoint: Hashable, Sendable, CustomStringConvertible {
    /// The log's identity; by convention also its key name.
    public let origin: String
    public let size: Int
    public let rootHash: MerkleHash
    /// Opaque, non-empty lines after the root hash (not recommended by the spec).
    public let extensions: [String]

    public init(origin: String, size: Int, rootHash: MerkleHash, extensions: [String] = []) throws {
        guard !origin.isEmpty, Self.isSingleLine(origin) else { throw CheckpointError.malformed("invalid origin line") }
        guard size >= 0 else { throw CheckpointError.malformed("negative tree size") }
        guard extensions.allSatisfy({ !$0.isEmpty && Self.isSingleLine($0) }) else {
            throw CheckpointError.malformed("extension lines must be non-empty single lines")
        }
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
        self.extensions = extensions
    }

    private static func isSingleLine(_ line: String) -> Bool {
        !line.unicodeScalars.contains { $0.value < 0x20 }
    }

    /// The note text that is signed.
    public var body: String {
        ([origin, String(size), rootHash.base64] + extensions).map { $0 + "\n" }.joined()
    }

    public var description: String { body }

    /// Parses a checkpoint body (the note text) strictly.
    public init(body: String) throws {
        guard body.hasSuffix("\n") else { throw CheckpointError.malformed("text does not end in a newline") }
        let lines = body.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3 else { throw CheckpointError.malformed("fewer than three lines") }
        guard !lines[0].isEmpty else { throw CheckpointError.malformed("empty origin") }
        let sizeLine = lines[1]
        guard !sizeLine.isEmpty, sizeLine.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              sizeLine == "0" || sizeLine.first != "0" else {
            throw CheckpointError.malformed("tree size \(String(sizeLine).debugDescription) is not a decimal number without leading zeros")
        }
        guard let size = Int(sizeLine) else { throw CheckpointError.malformed("tree size \(sizeLine) is too large") }
        guard let root = MerkleHash(base64: String(lines[2])) else {
            throw CheckpointError.malformed("root hash is not the base64 of 32 bytes")
        }
        let extensions = lines.dropFirst(3).map(String.init)
        guard extensions.allSatisfy({ !$0.isEmpty }) else { throw CheckpointError.malformed("empty extension line") }
        try self.init(origin: String(lines[0]), size: size, rootHash: root, extensions: extensions)
    }

    /// The signed note text.
    public func sign(with signers: [NoteSigner]) throws -> String {
        try SignedNote.sign(text: body, signers: signers)
    }

    public func sign(with signer: NoteSigner) throws -> String {
        try sign(with: [signer])
    }

    /// Parses a signed checkpoint, verifies it against the known keys (at least one must have
    /// signed it, and no known key's signature may fail) and checks the origin.
    ///
    /// - Parameter origin: the expected origin; nil accepts any origin (the caller then checks it).
    public static func open(_ note: String, origin: String?, verifiers: [NoteVerifier],
                            maxSize: Int = SignedNote.defaultMaxSize) throws -> Checkpoint {
        let signed: SignedNote
        do {
            signed = try SignedNote.parse(note, maxSize: maxSize)
            try signed.verify(with: verifiers)
        } catch let error as SignedNoteError {
            throw CheckpointError.note(error)
        }
        let checkpoint = try Checkpoint(body: signed.text)
        if let origin, checkpoint.origin != origin {
            throw CheckpointError.wrongOrigin(expected: origin, found: checkpoint.origin)
        }
        return checkpoint
    }
}

public enum CheckpointError: Error, Hashable, Sendable, CustomStringConvertible {
    case note(SignedNoteError)
    case malformed(String)
    case wrongOrigin(expected: String, found: String)

    public var description: String {
        switch self {
        case let .note(error): return error.description
        case let .malformed(reason): return "malformed checkpoint: \(reason)"
        case let .wrongOrigin(expected, found): return "checkpoint origin is \(found.debugDescription), expected \(expected.debugDescription)"
        }
    }
}
