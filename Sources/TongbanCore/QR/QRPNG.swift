import Foundation  // memcmp

// PNG rendering: 1-bit greyscale, one IDAT holding a zlib stream compressed
// with a single fixed-Huffman deflate block (RFC 1950, RFC 1951, PNG spec).

extension QRCode {
    /// Renders the symbol as a PNG file: 1-bit greyscale (0 = black, 1 = white),
    /// `scale` pixels per module and a quiet zone of `border` modules.
    public func png(scale: Int = 4, border: Int = 4) -> [UInt8] {
        precondition(scale >= 1, "scale must be at least 1")
        precondition(border >= 0, "border must not be negative")
        let size = self.size
        let extent = size + 2 * border
        let width = extent * scale
        let stride = (width + 7) / 8 + 1  // filter byte + packed pixels
        var stream = QRPNG.ZlibWriter(lineLength: stride, uniqueLines: extent)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * stride) { buffers in
            var scanline = buffers.baseAddress!, previous = scanline + stride
            rows.withUnsafeBufferPointer { words in
                for moduleRow in 0..<extent {
                    // The scanline of this module row: filter type None, white, dark runs cleared.
                    scanline.initialize(repeating: 0xFF, count: stride)
                    scanline[0] = 0
                    let y = moduleRow - border
                    if y >= 0 && y < size {
                        let line = QRLine(words.baseAddress! + y * 3)
                        let inverse = ~line
                        var x = line.firstSet(from: 0)
                        while x < size {
                            let end = min(inverse.firstSet(from: x), size)
                            QRPNG.clearBits(scanline + 1, from: (x + border) * scale, to: (end + border) * scale)
                            x = line.firstSet(from: end)
                        }
                    }
                    // Each module row is `scale` identical scanlines; a module row
                    // equal to the previous one becomes back-references only.
                    let line = UnsafeBufferPointer(start: scanline, count: stride)
                    if moduleRow > 0 && memcmp(scanline, previous, stride) == 0 {
                        stream.repeatPrevious(line, copies: scale)
                    } else {
                        stream.line(line, previous: moduleRow > 0 ? UnsafeBufferPointer(start: previous, count: stride) : nil)
                        stream.repeatPrevious(line, copies: scale - 1)
                    }
                    swap(&scanline, &previous)
                }
            }
        }
        return QRPNG.encode(width: width, height: width, bitDepth: 1, zlib: stream.finish())
    }
}

enum QRPNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Clears pixel bits [from, to) of a packed MSB-first scanline (dark pixels).
    @inline(__always)
    static func clearBits(_ bytes: UnsafeMutablePointer<UInt8>, from: Int, to: Int) {
        guard from < to else { return }
        let first = from >> 3, last = (to - 1) >> 3
        let headMask = UInt8(0xFF) >> UInt8(from & 7)          // bits from `from` to the byte's end
        let tailMask = UInt8(0xFF) << UInt8(7 - (to - 1) & 7)  // bits from the byte's start to `to - 1`
        if first == last {
            bytes[first] &= ~(headMask & tailMask)
            return
        }
        bytes[first] &= ~headMask
        if last > first + 1 { (bytes + first + 1).update(repeating: 0, count: last - first - 1) }
        bytes[last] &= ~tailMask
    }

    /// A greyscale PNG around a zlib stream of its filtered scanlines.
    static func encode(width: Int, height: Int, bitDepth: UInt8, zlib: [UInt8]) -> [UInt8] {
        var png = signature
        png.reserveCapacity(zlib.count + 64)
        var header = [UInt8]()
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [bitDepth, 0 /* greyscale */, 0 /* deflate */, 0 /* adaptive filtering */, 0 /* no interlace */]
        appendChunk(&png, type: "IHDR", data: header)
        appendChunk(&png, type: "IDAT", data: zlib)
        appendChunk(&png, type: "IEND", data: [])
        return png
    }

    static func appendChunk(_ png: inout [UInt8], type: StaticString, data: [UInt8]) {
        png.appendBigEndian(UInt32(data.count))
        let start = png.count
        type.withUTF8Buffer { png.append(contentsOf: $0) }
        png.append(contentsOf: data)
        let crc = png.withUnsafeBufferPointer { crc32(UnsafeBufferPointer(rebasing: $0[start...])) }
        png.appendBigEndian(crc)
    }

    // MARK: CRC-32 (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320)

    /// Slicing-by-4 tables: `crcTables[k * 256 + n]` is the CRC of byte n
    /// followed by k zero bytes.
    static let crcTables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 4 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            tables[n] = c
        }
        for k in 1..<4 {
            for n in 0..<256 {
                let previous = tables[(k - 1) * 256 + n]
                tables[k * 256 + n] = tables[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return tables
    }()

    static func crc32(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        crcTables.withUnsafeBufferPointer { tables in
            let t = tables.baseAddress!
            var c: UInt32 = 0xFFFF_FFFF
            var i = 0
            let n = bytes.count
            while i + 4 <= n {
                c ^= UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
                c = t[768 + Int(c & 0xFF)] ^ t[512 + Int((c >> 8) & 0xFF)]
                    ^ t[256 + Int((c >> 16) & 0xFF)] ^ t[Int(c >> 24)]
                i += 4
            }
            while i < n {
                c = t[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
            return c ^ 0xFFFF_FFFF
        }
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { crc32($0) }
    }

    // MARK: Adler-32 (RFC 1950)

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        bytes.withUnsafeBufferPointer { buffer in
            var index = 0
            while index < buffer.count {
                let end = min(index + 5552, buffer.count)  // largest run without UInt32 overflow
                while index < end {
                    a &+= UInt32(buffer[index])
                    b &+= a
                    index += 1
                }
                a %= 65521
                b %= 65521
            }
        }
        return b << 16 | a
    }

    // MARK: Deflate, fixed Huffman codes

    /// Fixed literal/length code of each symbol 0...287, bit-reversed for
    /// LSB-first output: (code, length).
    static let literalCodes: [(code: UInt32, length: Int)] = (0..<288).map { symbol in
        let (code, length): (Int, Int) = switch symbol {
        case 0...143: (0x30 + symbol, 8)
        case 144...255: (0x190 + symbol - 144, 9)
        case 256...279: (symbol - 256, 7)
        default: (0xC0 + symbol - 280, 8)
        }
        return (reversed(UInt32(code), length), length)
    }

    /// For match lengths 3...258: the length code followed by its extra bits,
    /// ready to write LSB-first.
    static let lengthCodes: [(bits: UInt32, length: Int)] = {
        let bases = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                     35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        let extras = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                      3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        var table = [(bits: UInt32, length: Int)](repeating: (0, 0), count: 259)
        for length in 3...258 {
            // 258 has its own code (285); 227...257 use code 284.
            let index = length == 258 ? 28 : bases.lastIndex { $0 <= length && $0 < 258 }!
            let symbol = literalCodes[257 + index]
            let extra = UInt32(length - bases[index])
            table[length] = (symbol.code | extra << UInt32(symbol.length), symbol.length + extras[index])
        }
        return table
    }()

    /// The distance code of `distance` (1...32768) followed by its extra bits.
    static func distanceCode(_ distance: Int) -> (bits: UInt32, length: Int) {
        let d = distance - 1
        if d < 4 { return (reversed(UInt32(d), 5), 5) }
        let bitLength = Int.bitWidth - d.leadingZeroBitCount
        let extraBits = bitLength - 2
        let code = 2 * (bitLength - 1) + ((d >> extraBits) & 1)
        let extra = UInt32(d & ((1 << extraBits) - 1))
        return (reversed(UInt32(code), 5) | extra << 5, 5 + extraBits)
    }

    static func reversed(_ value: UInt32, _ length: Int) -> UInt32 {
        var result: UInt32 = 0
        for i in 0..<length where value & (1 << UInt32(i)) != 0 { result |= 1 << UInt32(length - 1 - i) }
        return result
    }

    /// Builds a zlib stream of equal-length lines: one final fixed-Huffman
    /// deflate block whose only matches are runs of a byte (distance 1) and
    /// stretches equal to the previous line (distance = line length) — all the
    /// redundancy a QR bitmap has. The Adler-32 of repeated lines is combined
    /// arithmetically instead of being recomputed.
    struct ZlibWriter: ~Copyable {
        private var bits: BitWriter
        private var adlerA: UInt64 = 1
        private var adlerB: UInt64 = 0
        private let runCode = QRPNG.distanceCode(1)
        private let lineCode: (bits: UInt32, length: Int)
        private let lineLength: Int

        /// `uniqueLines`: how many lines will be written with `line` (sizes the buffer).
        init(lineLength: Int, uniqueLines: Int) {
            self.lineLength = lineLength
            lineCode = (1...32768).contains(lineLength) ? QRPNG.distanceCode(lineLength) : (0, 0)
            // Literals cost at most 9 bits per byte; each match at most 31 bits.
            bits = BitWriter(capacity: uniqueLines * (lineLength * 9 / 8 + 8) + 64)
            bits.writeByte(0x78)  // CM 8, 32 KiB window
            bits.writeByte(0x01)  // FCHECK; no dictionary, fastest
            bits.write(0b011, 3)  // BFINAL = 1, BTYPE = 01 (fixed Huffman)
        }

        /// Emits `line` as literals and matches (runs of ≥ 3 equal bytes, or
        /// ≥ 3 bytes equal to `previous`, the line just before it).
        mutating func line(_ line: UnsafeBufferPointer<UInt8>, previous: UnsafeBufferPointer<UInt8>?) {
            let n = line.count
            precondition(n == lineLength)
            let usePrevious = previous != nil && lineCode.length > 0
            let before = previous?.baseAddress ?? line.baseAddress!
            let runCode = self.runCode, lineCode = self.lineCode
            // The bit state lives in locals (registers) for the loop.
            var writer = bits.takeState(reserving: n * 9 / 8 + 16)
            literalCodes.withUnsafeBufferPointer { literals in
                lengthCodes.withUnsafeBufferPointer { lengths in
                    var i = 0
                    while i < n {
                        let limit = min(258, n &- i)
                        var best = 0
                        var code = runCode
                        if usePrevious {
                            while best < limit && line[i &+ best] == before[i &+ best] { best &+= 1 }
                            code = lineCode
                        }
                        if i > 0 && best < limit {
                            let byte = line[i &- 1]
                            var run = 0
                            while run < limit && line[i &+ run] == byte { run &+= 1 }
                            if run > best {
                                best = run
                                code = runCode
                            }
                        }
                        if best >= 3 {
                            let length = lengths[best]
                            writer.write(length.bits, length.length)
                            writer.write(code.bits, code.length)
                            i &+= best
                        } else {
                            let literal = literals[Int(line[i])]
                            writer.write(literal.code, literal.length)
                            i &+= 1
                        }
                    }
                }
            }
            bits.restoreState(writer)
            addToChecksum(line, copies: 1)
        }

        /// Emits `copies` repetitions of `line`, which was just emitted.
        mutating func repeatPrevious(_ line: UnsafeBufferPointer<UInt8>, copies: Int) {
            guard copies > 0 else { return }
            guard lineCode.length > 0 else {  // beyond the deflate window: no back-references
                for _ in 0..<copies { self.line(line, previous: nil) }
                return
            }
            var remaining = lineLength * copies  // ≥ 4: lines hold at least 21 pixels
            lengthCodes.withUnsafeBufferPointer { lengths in
                while remaining > 0 {
                    var chunk = min(258, remaining)
                    if remaining - chunk > 0 && remaining - chunk < 3 { chunk = remaining - 3 }
                    let length = lengths[chunk]
                    bits.write(length.bits, length.length)
                    bits.write(lineCode.bits, lineCode.length)
                    remaining -= chunk
                }
            }
            addToChecksum(line, copies: copies)
        }

        /// Adler-32 of `copies` × `line`: with S = Σ xᵢ and T = Σ (n − i) xᵢ
        /// over the line, each copy maps (a, b) to (a + S, b + n·a + T).
        private mutating func addToChecksum(_ line: UnsafeBufferPointer<UInt8>, copies: Int) {
            let modulus: UInt64 = 65521
            var sum: UInt64 = 0, weighted: UInt64 = 0
            var weight = UInt64(line.count)
            for byte in line {  // lines are far shorter than 2^32 bytes: no overflow
                sum &+= UInt64(byte)
                weighted &+= weight &* UInt64(byte)
                weight &-= 1
            }
            sum %= modulus
            weighted %= modulus
            let n = UInt64(line.count) % modulus
            for _ in 0..<copies {
                adlerB = (adlerB + n * adlerA + weighted) % modulus
                adlerA = (adlerA + sum) % modulus
            }
        }

        /// Ends the block, appends the Adler-32 and returns the stream.
        consuming func finish() -> [UInt8] {
            let end = literalCodes[256]
            bits.write(end.code, end.length)
            let adler = UInt32(adlerB << 16 | adlerA)
            bits.alignToByte()
            for shift in [24, 16, 8, 0] as [UInt32] { bits.writeByte(UInt8(truncatingIfNeeded: adler >> shift)) }
            return bits.finish()
        }
    }

    /// A zlib stream of arbitrary `data` (as one line: literals and runs); used by tests.
    static func zlib(_ data: [UInt8]) -> [UInt8] {
        var writer = ZlibWriter(lineLength: data.count, uniqueLines: 1)
        data.withUnsafeBufferPointer { writer.line($0, previous: nil) }
        return writer.finish()
    }

    /// LSB-first bit writer (deflate bit order) into a fixed-capacity buffer,
    /// flushing 32 bits at a time.
    struct BitWriter: ~Copyable {
        private let base: UnsafeMutablePointer<UInt8>
        private let capacity: Int
        private var count = 0
        private var buffer: UInt64 = 0
        private var bitCount: UInt64 = 0

        init(capacity: Int) {
            self.capacity = capacity + 8
            base = .allocate(capacity: self.capacity)
        }

        deinit {
            base.deallocate()
        }

        /// Register-friendly copy of the writer's state for a hot loop that
        /// writes at most `reserving` bytes; hand it back with `restoreState`.
        struct State {
            var out: UnsafeMutablePointer<UInt8>
            var buffer: UInt64
            var bitCount: UInt64

            @inline(__always)
            mutating func write(_ bits: UInt32, _ length: Int) {
                buffer |= UInt64(bits) &<< bitCount
                bitCount &+= UInt64(length)
                if bitCount >= 32 {
                    UnsafeMutableRawPointer(out).storeBytes(of: UInt32(truncatingIfNeeded: buffer).littleEndian, as: UInt32.self)
                    out += 4
                    buffer &>>= 32
                    bitCount &-= 32
                }
            }
        }

        mutating func takeState(reserving bytes: Int) -> State {
            precondition(count + bytes + 8 <= capacity, "deflate buffer overflow")
            return State(out: base + count, buffer: buffer, bitCount: bitCount)
        }

        mutating func restoreState(_ state: State) {
            count = state.out - base
            buffer = state.buffer
            bitCount = state.bitCount
        }

        /// Appends the low `length` (≤ 32) bits of `bits`.
        @inline(__always)
        mutating func write(_ bits: UInt32, _ length: Int) {
            buffer |= UInt64(bits) &<< bitCount
            bitCount &+= UInt64(length)
            if bitCount >= 32 {
                precondition(count + 8 <= capacity, "deflate buffer overflow")
                UnsafeMutableRawPointer(base + count).storeBytes(of: UInt32(truncatingIfNeeded: buffer).littleEndian, as: UInt32.self)
                count &+= 4
                buffer &>>= 32
                bitCount &-= 32
            }
        }

        mutating func writeByte(_ byte: UInt8) {
            write(UInt32(byte), 8)
        }

        /// Pads with zero bits to a byte boundary.
        mutating func alignToByte() {
            let pad = (8 - bitCount % 8) % 8
            if pad > 0 { write(0, Int(pad)) }
        }

        consuming func finish() -> [UInt8] {
            while bitCount > 0 {
                base[count] = UInt8(truncatingIfNeeded: buffer)
                count += 1
                buffer >>= 8
                bitCount = bitCount >= 8 ? bitCount - 8 : 0
            }
            return Array(UnsafeBufferPointer(start: base, count: count))
        }
    }
}

extension [UInt8] {  // file-private helpers
    @inline(__always)
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }
}
