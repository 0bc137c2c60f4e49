// Constant tables from ISO/IEC 18004:2015.
//
// Every table is indexed by `QRErrorCorrection.ordinal` (L = 0, M = 1, Q = 2,
// H = 3) and by version (index 0 is unused so that `table[level][version]`
// reads naturally).

enum QRTables {
    /// Error-correction codewords per block (ISO/IEC 18004 Table 9, column "number of
    /// error correction codewords" divided by the number of blocks).
    static let ecCodewordsPerBlock: [[Int]] = [
        // 0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15  16  17  18  19  20  21  22  23  24  25  26  27  28  29  30  31  32  33  34  35  36  37  38  39  40
        [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],  // L
        [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],  // M
        [0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],  // Q
        [0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],  // H
    ]

    /// Total number of error-correction blocks (group 1 + group 2 of ISO/IEC 18004 Table 9).
    static let errorCorrectionBlocks: [[Int]] = [
        // 0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40
        [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],  // L
        [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],  // M
        [0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],  // Q
        [0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],  // H
    ]

    /// Row/column coordinates of the centres of the alignment patterns (ISO/IEC 18004 Annex E, Table E.1).
    static let alignmentPatternPositions: [[Int]] = [
        [],                                 // (unused)
        [],                                 // 1
        [6, 18],                            // 2
        [6, 22],                            // 3
        [6, 26],                            // 4
        [6, 30],                            // 5
        [6, 34],                            // 6
        [6, 22, 38],                        // 7
        [6, 24, 42],                        // 8
        [6, 26, 46],                        // 9
        [6, 28, 50],                        // 10
        [6, 30, 54],                        // 11
        [6, 32, 58],                        // 12
        [6, 34, 62],                        // 13
        [6, 26, 46, 66],                    // 14
        [6, 26, 48, 70],                    // 15
        [6, 26, 50, 74],                    // 16
        [6, 30, 54, 78],                    // 17
        [6, 30, 56, 82],                    // 18
        [6, 30, 58, 86],                    // 19
        [6, 34, 62, 90],                    // 20
        [6, 28, 50, 72, 94],                // 21
        [6, 26, 50, 74, 98],                // 22
        [6, 30, 54, 78, 102],               // 23
        [6, 28, 54, 80, 106],               // 24
        [6, 32, 58, 84, 110],               // 25
        [6, 30, 58, 86, 114],               // 26
        [6, 34, 62, 90, 118],               // 27
        [6, 26, 50, 74, 98, 122],           // 28
        [6, 30, 54, 78, 102, 126],          // 29
        [6, 26, 52, 78, 104, 130],          // 30
        [6, 30, 56, 82, 108, 134],          // 31
        [6, 34, 60, 86, 112, 138],          // 32
        [6, 30, 58, 86, 114, 142],          // 33
        [6, 34, 62, 90, 118, 146],          // 34
        [6, 30, 54, 78, 102, 126, 150],     // 35
        [6, 24, 50, 76, 102, 128, 154],     // 36
        [6, 28, 54, 80, 106, 132, 158],     // 37
        [6, 32, 58, 84, 110, 136, 162],     // 38
        [6, 26, 54, 82, 110, 138, 166],     // 39
        [6, 30, 58, 86, 114, 142, 170],     // 40
    ]

    /// Number of modules available for codewords (data + EC + remainder bits):
    /// everything except function patterns, format and version information.
    static func rawDataModules(version: Int) -> Int {
        var result = (16 * version + 128) * version + 64
        if version >= 2 {
            let alignmentCount = version / 7 + 2
            result -= (25 * alignmentCount - 10) * alignmentCount - 55
            if version >= 7 { result -= 36 }  // two 6×3 version-information blocks
        }
        return result
    }

    /// Total codewords of a symbol (ISO/IEC 18004 Table 1).
    static func totalCodewords(version: Int) -> Int {
        rawDataModules(version: version) / 8
    }

    /// Data codewords of a symbol at a level (ISO/IEC 18004 Table 7).
    static func dataCodewords(version: Int, level: Int) -> Int {
        totalCodewords(version: version)
            - ecCodewordsPerBlock[level][version] * errorCorrectionBlocks[level][version]
    }

    /// Bits of the byte-mode character count indicator (ISO/IEC 18004 Table 3).
    static func characterCountBits(version: Int) -> Int {
        version <= 9 ? 8 : 16
    }

    /// Byte-mode payload capacity: mode indicator (4 bits) + count + 8 bits per byte.
    static func byteCapacity(version: Int, level: Int) -> Int {
        (dataCodewords(version: version, level: level) * 8 - 4 - characterCountBits(version: version)) / 8
    }

    /// `byteCapacities[level][version]`, precomputed for fast version selection.
    static let byteCapacities: [[Int]] = (0..<4).map { level in
        [0] + (1...40).map { byteCapacity(version: $0, level: level) }
    }
}
