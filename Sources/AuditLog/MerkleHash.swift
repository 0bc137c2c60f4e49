import Crypto

/// A 32-byte SHA-256 value: a leaf hash, an interior node hash or a tree root.
///
/// Stored inline as four words (no heap allocation), so hashing, comparing and keeping millions of
/// them in memory stays cheap. The bytes are kept in their natural order: `bytes` and
/// `withUnsafeBytes` give exactly the 32 bytes of the digest.
public struct MerkleHash: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let byteCount = 32

    // Raw digest bytes in memory order (not numeric values).
    @usableFromInline var w0: UInt64
    @usableFromInline var w1: UInt64
    @usableFromInline var w2: UInt64
    @usableFromInline var w3: UInt64

    @usableFromInline init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// Exactly 32 bytes, else nil.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        self.init(w0: 0, w1: 0, w2: 0, w3: 0)
        withUnsafeMutableBytes(of: &self) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
    }

    /// From a raw buffer of at least 32 bytes (the first 32 are used).
    @inlinable init(copying raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= Self.byteCount)
        self.init(w0: 0, w1: 0, w2: 0, w3: 0)
        withUnsafeMutableBytes(of: &self) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<Self.byteCount]))
        }
    }

    init(_ digest: SHA256.Digest) {
        self = digest.withUnsafeBytes { MerkleHash(copying: $0) }
    }

    /// Lower-case hex, 64 characters, else nil.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 2 * Self.byteCount else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(Self.byteCount)
        var i = 0
        while i < utf8.count {
            guard let hi = hexValue(utf8[i]), let lo = hexValue(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self.init(bytes: out)
    }

    /// Standard padded base64 (RFC 4648 §4) of exactly 32 bytes, else nil.
    public init?(base64: String) {
        guard let bytes = Base64.decode(base64) else { return nil }
        self.init(bytes: bytes)
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: self) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Self.byteCount])) }
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        withUnsafeBytes { raw in
            for b in raw {
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var base64: String { Base64.encode(bytes) }

    public var description: String { hex }

    /// Byte-wise (lexicographic) order.
    public static func < (lhs: MerkleHash, rhs: MerkleHash) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}

extension MerkleHash: Codable {
    /// Encoded as a base64 string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let hash = MerkleHash(base64: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a base64 32-byte hash")
        }
        self = hash
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(base64)
    }
}

@inline(__always) func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    default: return nil
    }
}
