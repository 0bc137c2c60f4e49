import Testing
@testable import TongbanCore

@Suite("QR encoding")
struct QREncodingTests {
    @Test("matches symbols made independently by the Python `qrcode` package", arguments: qrReferenceSymbols)
    func referenceSymbol(_ reference: QRReferenceSymbol) throws {
        let code = try QRCode.encode(reference.payload, correction: reference.level, mask: reference.mask)
        #expect(code.version == reference.version)
        #expect(code.correction == reference.level)
        #expect(code.mask == reference.mask)
        #expect(code.size == reference.rows.count)
        let rows = code.moduleRows
        for y in rows.indices where rows[y] != reference.rows[y] {
            Issue.record("row \(y) differs:\n  got      \(rows[y])\n  expected \(reference.rows[y])")
        }
    }

    @Test("data codewords: mode, count, nibble-shifted bytes, terminator, pad codewords")
    func dataCodewords() {
        // 0100 00000011 'a' 'b' 'c' 0000, then 0xEC 0x11 … (version 1-M: 16 data codewords)
        let codewords = QRCode.dataCodewords(payload: Array("abc".utf8), version: 1, correction: .medium)
        #expect(codewords == [0x40, 0x36, 0x16, 0x26, 0x30, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC])
        // 16-bit count from version 10: 0100 0000000000000001 0xFF 0000.
        let long = QRCode.dataCodewords(payload: [0xFF], version: 10, correction: .high)
        #expect(Array(long.prefix(6)) == [0x40, 0x00, 0x1F, 0xF0, 0xEC, 0x11])
        // A full symbol: no pad codewords, terminator in the last nibble.
        let full = QRCode.dataCodewords(payload: Array(repeating: 0xAB, count: 14), version: 1, correction: .medium)
        #expect(full.count == 16 && full.last == 0xB0)
    }

    @Test("text is encoded as its UTF-8 bytes")
    func textOverload() throws {
        let text = "统一社会信用代码 — café ✓"
        #expect(try QRCode.encode(text) == QRCode.encode(Array(text.utf8)))
        #expect(try QRCode.encode(text, correction: .high, mask: 3) == QRCode.encode(Array(text.utf8), correction: .high, mask: 3))
        #expect(try QRCode.encode(text.utf8) == QRCode.encode(text))  // any Collection<UInt8>
    }

    @Test("an empty payload fits version 1")
    func emptyPayload() throws {
        let code = try QRCode.encode([UInt8]())
        #expect(code.version == 1 && code.size == 21)
    }

    @Test("the smallest version that fits is chosen, across every boundary", arguments: QRErrorCorrection.allCases)
    func versionBoundaries(level: QRErrorCorrection) throws {
        for version in [1, 2, 6, 7, 9, 10, 13, 26, 27, 39] {
            let capacity = QRCode.capacity(version: version, correction: level)
            #expect(try QRCode.encode(qrTestBytes(capacity, seed: 1), correction: level, mask: 0).version == version)
            #expect(try QRCode.encode(qrTestBytes(capacity + 1, seed: 1), correction: level, mask: 0).version == version + 1)
        }
        let largest = QRCode.capacity(version: 40, correction: level)
        #expect(try QRCode.encode(qrTestBytes(largest, seed: 2), correction: level, mask: 0).version == 40)
    }

    @Test("minVersion and maxVersion bound the version")
    func versionRange() throws {
        #expect(try QRCode.encode([1], minVersion: 7).version == 7)
        #expect(try QRCode.encode([1], minVersion: 40, maxVersion: 40).version == 40)
        #expect(try QRCode.encode(qrTestBytes(100, seed: 4), correction: .low, minVersion: 2, maxVersion: 5).version == 5)
    }

    @Test("a payload above the capacity throws payloadTooLarge with the maximum", arguments: QRErrorCorrection.allCases)
    func payloadTooLarge(level: QRErrorCorrection) {
        let maximum = QRCode.capacity(version: 40, correction: level)
        #expect(throws: QRError.payloadTooLarge(bytes: maximum + 1, maximum: maximum, level: level)) {
            try QRCode.encode(qrTestBytes(maximum + 1, seed: 5), correction: level)
        }
        let small = QRCode.capacity(version: 5, correction: level)
        #expect(throws: QRError.payloadTooLarge(bytes: small + 1, maximum: small, level: level)) {
            try QRCode.encode(qrTestBytes(small + 1, seed: 6), correction: level, maxVersion: 5)
        }
        do {
            _ = try QRCode.encode(String(repeating: "x", count: maximum + 10), correction: level)
            Issue.record("expected an error")
        } catch {
            #expect(error == .payloadTooLarge(bytes: maximum + 10, maximum: maximum, level: level))
            #expect(error.description.contains("\(maximum)"))
        }
    }

    @Test("invalid versions, ranges and masks are rejected")
    func invalidArguments() {
        #expect(throws: QRError.invalidVersion(0)) { try QRCode.encode([1], minVersion: 0) }
        #expect(throws: QRError.invalidVersion(41)) { try QRCode.encode([1], minVersion: 41) }
        #expect(throws: QRError.invalidVersion(41)) { try QRCode.encode([1], maxVersion: 41) }
        #expect(throws: QRError.invalidVersion(-3)) { try QRCode.encode([1], maxVersion: -3) }
        #expect(throws: QRError.invalidVersionRange(min: 5, max: 3)) { try QRCode.encode([1], minVersion: 5, maxVersion: 3) }
        #expect(throws: QRError.invalidMask(8)) { try QRCode.encode([1], mask: 8) }
        #expect(throws: QRError.invalidMask(-1)) { try QRCode.encode("x", mask: -1) }
        for error in [QRError.invalidVersion(0), .invalidVersionRange(min: 5, max: 3), .invalidMask(9)] {
            #expect(!error.description.isEmpty)
        }
    }

    @Test("function patterns, format and version information are in place", arguments: [1, 2, 6, 7, 14, 21, 32, 40])
    func functionPatterns(version: Int) throws {
        let level = QRErrorCorrection.allCases[version % 4]
        let code = try QRCode.encode(qrTestBytes(QRCode.capacity(version: version, correction: level), seed: 9),
                                     correction: level, minVersion: version)
        #expect(code.version == version)
        let n = code.size
        // Finder patterns with separators.
        for (cx, cy) in [(3, 3), (n - 4, 3), (3, n - 4)] {
            for dy in -4...4 {
                for dx in -4...4 {
                    let x = cx + dx, y = cy + dy
                    guard x >= 0, x < n, y >= 0, y < n else { continue }
                    let ring = max(abs(dx), abs(dy))
                    #expect(code[x, y] == (ring != 2 && ring != 4), "finder module (\(x), \(y))")
                }
            }
        }
        // Timing patterns.
        for i in 8..<(n - 8) {
            #expect(code[i, 6] == (i % 2 == 0))
            #expect(code[6, i] == (i % 2 == 0))
        }
        // Dark module.
        #expect(code[8, 4 * version + 9])
        // Alignment patterns.
        let centres = QRTables.alignmentPatternPositions[version]
        for cy in centres {
            for cx in centres {
                let nearFinder = (cx < 10 && cy < 10) || (cx < 10 && cy > n - 10) || (cx > n - 10 && cy < 10)
                if nearFinder { continue }
                for dy in -2...2 {
                    for dx in -2...2 {
                        #expect(code[cx + dx, cy + dy] == (max(abs(dx), abs(dy)) != 1))
                    }
                }
            }
        }
        // Both copies of the format information.
        let format = QRCode.formatInformation(correction: level, mask: code.mask)
        var first = 0, second = 0
        let firstCopy = [(8, 0), (8, 1), (8, 2), (8, 3), (8, 4), (8, 5), (8, 7), (8, 8), (7, 8), (5, 8), (4, 8), (3, 8), (2, 8), (1, 8), (0, 8)]
        for (i, (x, y)) in firstCopy.enumerated() where code[x, y] { first |= 1 << i }
        for i in 0..<8 where code[n - 1 - i, 8] { second |= 1 << i }
        for i in 8..<15 where code[8, n - 15 + i] { second |= 1 << i }
        #expect(first == format && second == format)
        // Both copies of the version information.
        if version >= 7 {
            var bottomLeft = 0, topRight = 0
            for i in 0..<18 {
                let a = n - 11 + i % 3, b = i / 3
                if code[b, a] { bottomLeft |= 1 << i }
                if code[a, b] { topRight |= 1 << i }
            }
            #expect(bottomLeft == QRCode.versionInformation(version: version))
            #expect(topRight == QRCode.versionInformation(version: version))
        }
    }

    @Test("modules outside the symbol read as light; encoding is deterministic")
    func subscriptAndDeterminism() throws {
        let code = try QRCode.encode("Tongban")
        #expect(!code[-1, 0] && !code[0, -1] && !code[code.size, 0] && !code[0, code.size])
        #expect(code[0, 0])
        #expect(try QRCode.encode("Tongban") == code)
        #expect(try QRCode.encode("Tongbam") != code)
    }

    @Test("concurrent encoding from many tasks gives the same symbols")
    func concurrentEncoding() async throws {
        let sizes = [1, 50, 100, 300, 600, 1000, 1500, 2331]
        let expected = try sizes.map { try QRCode.encode(qrTestBytes($0, seed: UInt64($0))) }
        let results = await withTaskGroup(of: (Int, QRCode?).self) { group in
            for round in 0..<4 {
                for (index, size) in sizes.enumerated() {
                    group.addTask {
                        (index + round * 0, try? QRCode.encode(qrTestBytes(size, seed: UInt64(size))))
                    }
                }
            }
            var collected: [(Int, QRCode?)] = []
            for await result in group { collected.append(result) }
            return collected
        }
        #expect(results.count == 4 * sizes.count)
        for (index, code) in results {
            #expect(code == expected[index])
        }
    }
}
