// QR Code encoder (ISO/IEC 18004:2015), byte mode, levels L/M/Q/H, versions 1–40.

/// Error-correction level; the raw value is the letter used in the standard.
public enum QRErrorCorrection: String, Sendable, CaseIterable, Codable {
    /// Recovers about 7 % of the codewords.
    case low = "L"
    /// Recovers about 15 % of the codewords.
    case medium = "M"
    /// Recovers about 25 % of the codewords.
    case quartile = "Q"
    /// Recovers about 30 % of the codewords.
    case high = "H"

    /// Index into the tables (L, M, Q, H order).
    var ordinal: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .quartile: 2
        case .high: 3
        }
    }

    /// The two error-correction bits of the format information (ISO/IEC 18004 Table 12).
    var formatBits: Int {
        switch self {
        case .low: 0b01
        case .medium: 0b00
        case .quartile: 0b11
        case .high: 0b10
        }
    }
}

public enum QRError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The payload does not fit in the largest allowed version at this level;
    /// `maximum` is the byte capacity of that version.
    case payloadTooLarge(bytes: Int, maximum: Int, level: QRErrorCorrection)
    /// A version outside 1...40.
    case invalidVersion(Int)
    /// `minVersion` greater than `maxVersion`.
    case invalidVersionRange(min: Int, max: Int)
    /// A forced mask outside 0...7.
    case invalidMask(Int)

    public var description: String {
        switch self {
        case let .payloadTooLarge(bytes, maximum, level):
            "QR payload of \(bytes) bytes exceeds the \(maximum)-byte capacity at error-correction level \(level.rawValue)"
        case let .invalidVersion(version):
            "QR version \(version) is outside 1...40"
        case let .invalidVersionRange(min, max):
            "QR version range \(min)...\(max) is empty"
        case let .invalidMask(mask):
            "QR mask pattern \(mask) is outside 0...7"
        }
    }
}

/// An encoded QR Code symbol: a square matrix of dark and light modules.
public struct QRCode: Sendable, Hashable {
    /// Symbol version, 1...40 (size = 4 × version + 17 modules).
    public let version: Int
    public let correction: QRErrorCorrection
    /// Data mask pattern, 0...7.
    public let mask: Int
    /// Modules, three UInt64 words per row, bit x of row y set when dark.
    @usableFromInline
    let rows: [UInt64]

    /// Width and height in modules (without quiet zone).
    public var size: Int { version * 4 + 17 }

    /// Whether the module at column `x`, row `y` is dark. Positions outside the
    /// symbol (e.g. the quiet zone) read as light.
    @inlinable
    public subscript(x: Int, y: Int) -> Bool {
        let size = version * 4 + 17
        guard x >= 0, y >= 0, x < size, y < size else { return false }
        return (rows[y &* 3 &+ (x &>> 6)] &>> UInt64(x & 63)) & 1 != 0
    }

    /// Byte-mode data capacity of `version` (1...40) at `correction`; 0 for an
    /// invalid version.
    public static func capacity(version: Int, correction: QRErrorCorrection) -> Int {
        guard (1...40).contains(version) else { return 0 }
        return QRTables.byteCapacities[correction.ordinal][version]
    }

    /// Encodes `bytes` in byte mode in the smallest version in
    /// `minVersion...maxVersion` that holds them.
    ///
    /// - Parameter mask: forces a data mask (0...7); by default the mask with
    ///   the lowest penalty score is chosen.
    @inlinable
    public static func encode(
        _ bytes: some Collection<UInt8>,
        correction: QRErrorCorrection = .medium,
        minVersion: Int = 1,
        maxVersion: Int = 40,
        mask: Int? = nil
    ) throws(QRError) -> QRCode {
        try encodeBytes(Array(bytes), correction: correction, minVersion: minVersion, maxVersion: maxVersion, mask: mask)
    }

    /// Encodes the UTF-8 bytes of `text` in byte mode (no ECI header; readers
    /// generally detect UTF-8).
    @inlinable
    public static func encode(
        _ text: String,
        correction: QRErrorCorrection = .medium,
        minVersion: Int = 1,
        maxVersion: Int = 40,
        mask: Int? = nil
    ) throws(QRError) -> QRCode {
        try encodeBytes(Array(text.utf8), correction: correction, minVersion: minVersion, maxVersion: maxVersion, mask: mask)
    }

    @usableFromInline
    static func encodeBytes(
        _ payload: [UInt8], correction: QRErrorCorrection, minVersion: Int, maxVersion: Int, mask: Int?
    ) throws(QRError) -> QRCode {
        guard (1...40).contains(minVersion) else { throw .invalidVersion(minVersion) }
        guard (1...40).contains(maxVersion) else { throw .invalidVersion(maxVersion) }
        guard minVersion <= maxVersion else { throw .invalidVersionRange(min: minVersion, max: maxVersion) }
        if let mask, !(0...7).contains(mask) { throw .invalidMask(mask) }

        let capacities = QRTables.byteCapacities[correction.ordinal]
        var version = minVersion
        while capacities[version] < payload.count {
            guard version < maxVersion else {
                throw .payloadTooLarge(bytes: payload.count, maximum: capacities[maxVersion], level: correction)
            }
            version += 1
        }
        let codewords = Self.codewords(payload: payload, version: version, correction: correction)
        let template = QRTemplate.forVersion(version)
        let (rows, chosenMask) = QRSymbolBuilder.build(
            codewords: codewords, template: template, level: correction, forcedMask: mask)
        return QRCode(version: version, correction: correction, mask: chosenMask, rows: rows)
    }

    @usableFromInline
    init(version: Int, correction: QRErrorCorrection, mask: Int, rows: [UInt64]) {
        self.version = version
        self.correction = correction
        self.mask = mask
        self.rows = rows
    }

    // MARK: - Codewords

    /// The data codewords (ISO/IEC 18004 §7.4): mode indicator 0100, character
    /// count (8 bits up to version 9, 16 bits from version 10), the bytes, the
    /// 0000 terminator, then pad codewords 0xEC 0x11 alternately. Requires the
    /// payload to fit.
    static func dataCodewords(payload: [UInt8], version: Int, correction: QRErrorCorrection) -> [UInt8] {
        let count = QRTables.dataCodewords(version: version, level: correction.ordinal)
        var data = [UInt8](repeating: 0, count: count)
        data.withUnsafeMutableBufferPointer { out in
            let n = payload.count
            // The 4-bit mode indicator shifts every later byte by a nibble.
            var k: Int
            if QRTables.characterCountBits(version: version) == 8 {
                out[0] = 0x40 | UInt8(truncatingIfNeeded: n >> 4)
                k = 1
            } else {
                out[0] = 0x40 | UInt8(truncatingIfNeeded: n >> 12)
                out[1] = UInt8(truncatingIfNeeded: n >> 4)
                k = 2
            }
            var carry = UInt8(truncatingIfNeeded: n & 0xF)
            for byte in payload {
                out[k] = carry << 4 | byte >> 4
                carry = byte & 0xF
                k += 1
            }
            out[k] = carry << 4  // low nibble: terminator 0000 (always fits, see capacity)
            k += 1
            var pad: UInt8 = 0xEC
            while k < count {
                out[k] = pad
                pad ^= 0xEC ^ 0x11
                k += 1
            }
        }
        return data
    }

    /// Data plus EC codewords, split into blocks and interleaved (ISO/IEC 18004 §7.5–7.6).
    static func codewords(payload: [UInt8], version: Int, correction: QRErrorCorrection) -> [UInt8] {
        let data = dataCodewords(payload: payload, version: version, correction: correction)
        return interleave(data: data, version: version, correction: correction)
    }

    static func interleave(data: [UInt8], version: Int, correction: QRErrorCorrection) -> [UInt8] {
        let level = correction.ordinal
        let blockCount = QRTables.errorCorrectionBlocks[level][version]
        let ecLength = QRTables.ecCodewordsPerBlock[level][version]
        let total = QRTables.totalCodewords(version: version)
        let shortBlocks = blockCount - total % blockCount
        let shortDataLength = total / blockCount - ecLength
        precondition(data.count == total - blockCount * ecLength)

        var result = [UInt8](repeating: 0, count: total)
        var ec = [UInt8](repeating: 0, count: blockCount * ecLength)
        data.withUnsafeBufferPointer { dataBuffer in
            ec.withUnsafeMutableBufferPointer { ecBuffer in
                result.withUnsafeMutableBufferPointer { out in
                    let input = dataBuffer.baseAddress!
                    @inline(__always) func blockStart(_ block: Int) -> Int {
                        block * shortDataLength + max(0, block - shortBlocks)
                    }
                    for block in 0..<blockCount {
                        let length = shortDataLength + (block >= shortBlocks ? 1 : 0)
                        QRReedSolomon.remainder(
                            data: input + blockStart(block), count: length, degree: ecLength,
                            out: ecBuffer.baseAddress! + block * ecLength)
                    }
                    var index = 0
                    for i in 0...shortDataLength {
                        for block in 0..<blockCount where i < shortDataLength || block >= shortBlocks {
                            out[index] = input[blockStart(block) + i]
                            index += 1
                        }
                    }
                    for i in 0..<ecLength {
                        for block in 0..<blockCount {
                            out[index] = ecBuffer[block * ecLength + i]
                            index += 1
                        }
                    }
                }
            }
        }
        return result
    }

    // MARK: - Format and version information

    /// The 15-bit format information for (level, mask): 5 data bits, BCH(15,5)
    /// with generator 0x537, XORed with 0x5412 (ISO/IEC 18004 §7.9.1, Annex C).
    static func formatInformation(correction: QRErrorCorrection, mask: Int) -> Int {
        let data = correction.formatBits << 3 | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        return (data << 10 | remainder & 0x3FF) ^ 0x5412
    }

    /// The 18-bit version information: 6 data bits, BCH(18,6) with generator
    /// 0x1F25 (ISO/IEC 18004 §7.10, Annex D). Only used for version ≥ 7.
    static func versionInformation(version: Int) -> Int {
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        return version << 12 | remainder & 0xFFF
    }
}

extension QRCode {
    /// The mask-selection penalty score (ISO/IEC 18004 §7.8.3.1, N1 = 3, N2 = 3,
    /// N3 = 40, N4 = 10) of this symbol as it stands, format and version
    /// information included. Automatic mask selection picks the mask with the
    /// lowest score (the lowest mask number on ties).
    public var penaltyScore: Int {
        let size = self.size
        let padding = QRPenalty.padding
        var rows = [UInt64](repeating: 0, count: (size + 2 * padding) * 3)
        var cols = rows
        rows.withUnsafeMutableBufferPointer { r in
            cols.withUnsafeMutableBufferPointer { c in
                for y in 0..<size {
                    for x in 0..<size where self[x, y] {
                        r.baseAddress!.setLineBit(line: y + padding, bit: x)
                        c.baseAddress!.setLineBit(line: x + padding, bit: y)
                    }
                }
            }
        }
        return rows.withUnsafeBufferPointer { r in
            cols.withUnsafeBufferPointer { c in
                QRPenalty.score(rows: r.baseAddress!, cols: c.baseAddress!, size: size)
            }
        }
    }
}
