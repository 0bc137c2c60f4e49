// Bit sets holding one row or one column of a symbol (bit i = module i,
// 1 = dark), stored as three UInt64 words per line (192 bits ≥ 177 modules).
//
// The penalty evaluation is generic over how many of those words it needs to
// look at: one for symbols up to 64 modules wide (versions 1–11), two up to
// 128 (versions 12–27), three above, so small symbols pay for small words.

protocol QRWordLine: Equatable {
    static var zero: Self { get }
    /// Loads the line from its (3-word) storage.
    init(_ words: UnsafePointer<UInt64>)
    /// Bits 0..<n set.
    static func ones(_ n: Int) -> Self
    static func & (a: Self, b: Self) -> Self
    static func | (a: Self, b: Self) -> Self
    static func ^ (a: Self, b: Self) -> Self
    static prefix func ~ (a: Self) -> Self
    /// Shift towards lower indices: result bit i = bit i + k (1 ≤ k ≤ 63).
    func down(_ k: UInt64) -> Self
    var isZero: Bool { get }
    var popcount: Int { get }
    /// Per-byte population counts summed over the words (each byte ≤ 8 × words).
    var byteCounts: UInt64 { get }
}

@inline(__always)
func qrByteCounts(_ word: UInt64) -> UInt64 {
    var x = word &- ((word &>> 1) & 0x5555_5555_5555_5555)
    x = (x & 0x3333_3333_3333_3333) &+ ((x &>> 2) & 0x3333_3333_3333_3333)
    return (x &+ (x &>> 4)) & 0x0F0F_0F0F_0F0F_0F0F
}

@inline(__always)
func qrWordMask(_ bits: Int) -> UInt64 {
    bits <= 0 ? 0 : bits >= 64 ? ~0 : (1 &<< UInt64(bits)) &- 1
}

struct QRLine1: QRWordLine {
    var w0: UInt64
    @inline(__always) init(_ w0: UInt64) { self.w0 = w0 }
    @inline(__always) init(_ words: UnsafePointer<UInt64>) { w0 = words[0] }
    static let zero = QRLine1(0)
    static func ones(_ n: Int) -> QRLine1 { QRLine1(qrWordMask(n)) }
    @inline(__always) static func & (a: Self, b: Self) -> Self { Self(a.w0 & b.w0) }
    @inline(__always) static func | (a: Self, b: Self) -> Self { Self(a.w0 | b.w0) }
    @inline(__always) static func ^ (a: Self, b: Self) -> Self { Self(a.w0 ^ b.w0) }
    @inline(__always) static prefix func ~ (a: Self) -> Self { Self(~a.w0) }
    @inline(__always) func down(_ k: UInt64) -> Self { Self(w0 &>> k) }
    @inline(__always) var isZero: Bool { w0 == 0 }
    @inline(__always) var popcount: Int { w0.nonzeroBitCount }
    @inline(__always) var byteCounts: UInt64 { qrByteCounts(w0) }
}

struct QRLine2: QRWordLine {
    var w0: UInt64
    var w1: UInt64
    @inline(__always) init(_ w0: UInt64, _ w1: UInt64) { self.w0 = w0; self.w1 = w1 }
    @inline(__always) init(_ words: UnsafePointer<UInt64>) { w0 = words[0]; w1 = words[1] }
    static let zero = QRLine2(0, 0)
    static func ones(_ n: Int) -> QRLine2 { QRLine2(qrWordMask(n), qrWordMask(n - 64)) }
    @inline(__always) static func & (a: Self, b: Self) -> Self { Self(a.w0 & b.w0, a.w1 & b.w1) }
    @inline(__always) static func | (a: Self, b: Self) -> Self { Self(a.w0 | b.w0, a.w1 | b.w1) }
    @inline(__always) static func ^ (a: Self, b: Self) -> Self { Self(a.w0 ^ b.w0, a.w1 ^ b.w1) }
    @inline(__always) static prefix func ~ (a: Self) -> Self { Self(~a.w0, ~a.w1) }
    @inline(__always) func down(_ k: UInt64) -> Self { Self((w0 &>> k) | (w1 &<< (64 &- k)), w1 &>> k) }
    @inline(__always) var isZero: Bool { w0 | w1 == 0 }
    @inline(__always) var popcount: Int { w0.nonzeroBitCount &+ w1.nonzeroBitCount }
    @inline(__always) var byteCounts: UInt64 { qrByteCounts(w0) &+ qrByteCounts(w1) }
}

struct QRLine: QRWordLine, Sendable {
    var w0: UInt64
    var w1: UInt64
    var w2: UInt64

    @inline(__always)
    init(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
    }

    @inline(__always)
    init(_ words: UnsafePointer<UInt64>) {
        self.init(words[0], words[1], words[2])
    }

    static let zero = QRLine(0, 0, 0)

    static func ones(_ n: Int) -> QRLine {
        QRLine(qrWordMask(n), qrWordMask(n - 64), qrWordMask(n - 128))
    }

    @inline(__always) static func & (a: QRLine, b: QRLine) -> QRLine { QRLine(a.w0 & b.w0, a.w1 & b.w1, a.w2 & b.w2) }
    @inline(__always) static func | (a: QRLine, b: QRLine) -> QRLine { QRLine(a.w0 | b.w0, a.w1 | b.w1, a.w2 | b.w2) }
    @inline(__always) static func ^ (a: QRLine, b: QRLine) -> QRLine { QRLine(a.w0 ^ b.w0, a.w1 ^ b.w1, a.w2 ^ b.w2) }
    @inline(__always) static prefix func ~ (a: QRLine) -> QRLine { QRLine(~a.w0, ~a.w1, ~a.w2) }

    /// Shift towards lower indices: result bit i = bit i + k (1 ≤ k ≤ 63).
    @inline(__always)
    func down(_ k: UInt64) -> QRLine {
        QRLine((w0 &>> k) | (w1 &<< (64 &- k)), (w1 &>> k) | (w2 &<< (64 &- k)), w2 &>> k)
    }

    @inline(__always)
    var popcount: Int { w0.nonzeroBitCount &+ w1.nonzeroBitCount &+ w2.nonzeroBitCount }

    @inline(__always)
    var isZero: Bool { w0 | w1 | w2 == 0 }

    @inline(__always)
    var byteCounts: UInt64 { qrByteCounts(w0) &+ qrByteCounts(w1) &+ qrByteCounts(w2) }

    /// Index of the first set bit at or after `from`, or 192 if none.
    @inline(__always)
    func firstSet(from: Int) -> Int {
        var index = from >> 6
        guard index < 3 else { return 192 }
        var word = (index == 0 ? w0 : index == 1 ? w1 : w2) & (~0 << UInt64(from & 63))
        while true {
            if word != 0 { return index << 6 | word.trailingZeroBitCount }
            index += 1
            if index == 3 { return 192 }
            word = index == 1 ? w1 : w2
        }
    }
}

extension UnsafeMutablePointer where Pointee == UInt64 {
    /// Sets bit `bit` of the 3-word line starting at `self + line * 3`.
    @inline(__always)
    func setLineBit(line: Int, bit: Int) {
        self[line &* 3 &+ (bit &>> 6)] |= 1 &<< UInt64(bit & 63)
    }
}
