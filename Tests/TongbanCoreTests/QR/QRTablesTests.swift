import Testing
@testable import TongbanCore

/// Byte-mode capacities of ISO/IEC 18004 Table 7 (the "8-bit byte" column),
/// versions 1...40.
let qrStandardByteCapacities: [QRErrorCorrection: [Int]] = [
    .low: [17, 32, 53, 78, 106, 134, 154, 192, 230, 271, 321, 367, 425, 458, 520, 586, 644, 718, 792, 858, 929, 1003, 1091, 1171, 1273, 1367, 1465, 1528, 1628, 1732, 1840, 1952, 2068, 2188, 2303, 2431, 2563, 2699, 2809, 2953],
    .medium: [14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560, 624, 666, 711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331],
    .quartile: [11, 20, 32, 46, 60, 74, 86, 108, 130, 151, 177, 203, 241, 258, 292, 322, 364, 394, 442, 482, 509, 565, 611, 661, 715, 751, 805, 868, 908, 982, 1030, 1112, 1168, 1228, 1283, 1351, 1423, 1499, 1579, 1663],
    .high: [7, 14, 24, 34, 44, 58, 64, 84, 98, 119, 137, 155, 177, 194, 220, 250, 280, 310, 338, 382, 403, 439, 461, 511, 535, 593, 625, 658, 698, 742, 790, 842, 898, 958, 983, 1051, 1093, 1139, 1219, 1273],
]

@Suite("QR tables")
struct QRTablesTests {
    @Test("capacities of well-known versions", arguments: [
        (1, QRErrorCorrection.low, 17), (1, .medium, 14), (1, .quartile, 11), (1, .high, 7),
        (10, .medium, 213), (13, .medium, 331), (27, .high, 625),
        (40, .low, 2953), (40, .medium, 2331), (40, .quartile, 1663), (40, .high, 1273),
    ])
    func knownCapacities(version: Int, level: QRErrorCorrection, bytes: Int) {
        #expect(QRCode.capacity(version: version, correction: level) == bytes)
    }

    @Test("capacity table matches ISO/IEC 18004 Table 7 for all 160 combinations")
    func fullCapacityTable() {
        for level in QRErrorCorrection.allCases {
            let expected = qrStandardByteCapacities[level]!
            let actual = (1...40).map { QRCode.capacity(version: $0, correction: level) }
            #expect(actual == expected, "level \(level.rawValue)")
        }
    }

    @Test("capacity of an invalid version is 0")
    func invalidVersionCapacity() {
        #expect(QRCode.capacity(version: 0, correction: .low) == 0)
        #expect(QRCode.capacity(version: 41, correction: .high) == 0)
    }

    @Test("total codewords (Table 1) and block structure (Table 9) are consistent")
    func blockStructure() {
        // Total codewords per version from ISO/IEC 18004 Table 1, spot checks.
        let totals = [1: 26, 2: 44, 7: 196, 10: 346, 13: 532, 20: 1085, 27: 1828, 40: 3706]
        for (version, total) in totals {
            #expect(QRTables.totalCodewords(version: version) == total, "version \(version)")
        }
        for version in 1...40 {
            for level in 0..<4 {
                let blocks = QRTables.errorCorrectionBlocks[level][version]
                let ec = QRTables.ecCodewordsPerBlock[level][version]
                let total = QRTables.totalCodewords(version: version)
                let data = QRTables.dataCodewords(version: version, level: level)
                #expect(data > 0 && data + blocks * ec == total)
                // Blocks differ by at most one data codeword: at most two groups.
                #expect(total / blocks - ec > 0)
                // EC codewords per block are within the generator table.
                #expect(ec >= 7 && ec <= 30)
            }
            // Levels protect increasingly more.
            let data = (0..<4).map { QRTables.dataCodewords(version: version, level: $0) }
            #expect(data == data.sorted(by: >))
        }
        // Version 5-Q: 2 blocks of 15 and 2 of 16 data codewords, 18 EC each (Table 9).
        #expect(QRTables.errorCorrectionBlocks[2][5] == 4 && QRTables.ecCodewordsPerBlock[2][5] == 18)
        #expect(QRTables.dataCodewords(version: 5, level: 2) == 62)
    }

    @Test("alignment pattern table agrees with the spacing rule of Annex E")
    func alignmentPositions() {
        for version in 1...40 {
            var expected: [Int] = []
            if version > 1 {
                let count = version / 7 + 2
                let size = version * 4 + 17
                let step = version == 32 ? 26 : (version * 4 + count * 2 + 1) / (count * 2 - 2) * 2
                expected = [6]
                var position = size - 7
                while expected.count < count {
                    expected.insert(position, at: 1)
                    position -= step
                }
            }
            #expect(QRTables.alignmentPatternPositions[version] == expected, "version \(version)")
        }
    }

    /// ISO/IEC 18004 Table C.1 (after XOR with 101010000010010).
    static let formatTable: [(QRErrorCorrection, [Int])] = [
        (.low, [0b111011111000100, 0b111001011110011, 0b111110110101010, 0b111100010011101,
                0b110011000101111, 0b110001100011000, 0b110110001000001, 0b110100101110110]),
        (.medium, [0b101010000010010, 0b101000100100101, 0b101111001111100, 0b101101101001011,
                   0b100010111111001, 0b100000011001110, 0b100111110010111, 0b100101010100000]),
        (.quartile, [0b011010101011111, 0b011000001101000, 0b011111100110001, 0b011101000000110,
                     0b010010010110100, 0b010000110000011, 0b010111011011010, 0b010101111101101]),
        (.high, [0b001011010001001, 0b001001110111110, 0b001110011100111, 0b001100111010000,
                 0b000011101100010, 0b000001001010101, 0b000110100001100, 0b000100000111011]),
    ]

    @Test("format information for every (level, mask) matches Table C.1")
    func formatInformation() {
        for (level, values) in Self.formatTable {
            for mask in 0..<8 {
                #expect(QRCode.formatInformation(correction: level, mask: mask) == values[mask],
                        "level \(level.rawValue) mask \(mask)")
            }
        }
    }

    @Test("version information matches Table D.1")
    func versionInformation() {
        let table = [
            0x07C94, 0x085BC, 0x09A99, 0x0A4D3, 0x0BBF6, 0x0C762,
            0x0D847, 0x0E60D, 0x0F928, 0x10B78, 0x1145D, 0x12A17,
            0x13532, 0x149A6, 0x15683, 0x168C9, 0x177EC, 0x18EC4,
            0x191E1, 0x1AFAB, 0x1B08E, 0x1CC1A, 0x1D33F, 0x1ED75,
            0x1F250, 0x209D5, 0x216F0, 0x228BA, 0x2379F, 0x24B0B,
            0x2542E, 0x26A64, 0x27541, 0x28C69,
        ]
        #expect(QRCode.versionInformation(version: 7) == 0x07C94)
        #expect(QRCode.versionInformation(version: 40) == 0x28C69)
        #expect((7...40).map { QRCode.versionInformation(version: $0) } == table)
    }

    @Test("the templates leave exactly the raw data modules for codewords")
    func templateDataModules() {
        for version in 1...40 {
            let template = QRTemplate.forVersion(version)
            let dataModules = template.dataRows.reduce(0) { $0 + $1.nonzeroBitCount }
            #expect(dataModules == QRTables.rawDataModules(version: version), "version \(version)")
            #expect(template.placement.count == dataModules)
            // Remainder bits (ISO/IEC 18004 Table 1): 0, 7, 3, 4 or 0 per version range.
            let remainder = dataModules - 8 * QRTables.totalCodewords(version: version)
            let expected = switch version {
            case 1: 0
            case 2...6: 7
            case 7...13: 0
            case 14...20: 3
            case 21...27: 4
            case 28...34: 3
            default: 0
            }
            #expect(remainder == expected, "version \(version)")
        }
    }
}
