import Testing
@testable import TongbanCore

@Suite("QR mask penalty")
struct QRPenaltyTests {
    @Test("an all-light 21 × 21 matrix scores 42 × 19 + 400 × 3 + 100")
    func allLight() {
        let matrix = Array(repeating: Array(repeating: false, count: 21), count: 21)
        // N1: 42 lines with one run of 21 (3 + 16 each); N2: 20 × 20 blocks; N4: 50 % off = 10 steps.
        #expect(qrNaivePenalty(matrix) == 42 * 19 + 400 * 3 + 100)
        #expect(qrFastPenalty(matrix) == 42 * 19 + 400 * 3 + 100)
    }

    @Test("finder-like patterns, with light modules inside or outside the symbol")
    func finderPatterns() {
        // A single 1011101 in an otherwise light row and its column neighbours.
        var matrix = Array(repeating: Array(repeating: false, count: 21), count: 21)
        for (i, dark) in [true, false, true, true, true, false, true].enumerated() { matrix[10][7 + i] = dark }
        #expect(qrFastPenalty(matrix) == qrNaivePenalty(matrix))
        // At the edge: the light area is the quiet zone.
        var edge = Array(repeating: Array(repeating: false, count: 21), count: 21)
        for (i, dark) in [true, false, true, true, true, false, true].enumerated() { edge[3][i] = dark }
        #expect(qrFastPenalty(edge) == qrNaivePenalty(edge))
    }

    @Test("word-parallel score equals the module-by-module score on random matrices",
          arguments: [21, 25, 45, 57, 61, 63, 64, 65, 69, 101, 125, 127, 128, 129, 145, 177])
    func randomMatrices(size: Int) {
        var generator = QRTestRandom(seed: UInt64(size) * 7919)
        for density in [0.5, 0.15, 0.85] {
            for _ in 0..<3 {
                let matrix = (0..<size).map { _ in
                    (0..<size).map { _ in Double.random(in: 0..<1, using: &generator) < density }
                }
                #expect(qrFastPenalty(matrix) == qrNaivePenalty(matrix), "size \(size) density \(density)")
            }
        }
    }

    @Test("the bound only ever cuts evaluation short above it")
    func bound() {
        let code = try! QRCode.encode(qrTestBytes(100, seed: 3), mask: 0)
        let full = code.penaltyScore
        let matrix = code.moduleMatrix
        #expect(qrNaivePenalty(matrix) == full)
        let padding = QRPenalty.padding
        let n = code.size
        var rows = [UInt64](repeating: 0, count: (n + 2 * padding) * 3)
        var cols = rows
        rows.withUnsafeMutableBufferPointer { r in
            cols.withUnsafeMutableBufferPointer { c in
                for y in 0..<n {
                    for x in 0..<n where matrix[y][x] {
                        r.baseAddress!.setLineBit(line: y + padding, bit: x)
                        c.baseAddress!.setLineBit(line: x + padding, bit: y)
                    }
                }
            }
        }
        for bound in [0, full / 2, full, full + 1, Int.max] {
            let score = rows.withUnsafeBufferPointer { r in
                cols.withUnsafeBufferPointer { c in
                    QRPenalty.score(rows: r.baseAddress!, cols: c.baseAddress!, size: n, bound: bound)
                }
            }
            if bound > full { #expect(score == full) } else { #expect(score >= bound) }
        }
    }

    @Test("automatic masking picks the lowest-scoring mask (lowest number on ties)",
          arguments: [(1, QRErrorCorrection.medium), (20, .high), (150, .low), (300, .medium), (700, .quartile), (2000, .low)])
    func maskSelection(size: Int, level: QRErrorCorrection) throws {
        let payload = qrTestBytes(size, seed: UInt64(size))
        let chosen = try QRCode.encode(payload, correction: level)
        let scores = try (0..<8).map { try QRCode.encode(payload, correction: level, mask: $0).penaltyScore }
        let best = scores.indices.min { scores[$0] < scores[$1] }!
        #expect(chosen.mask == best, "scores \(scores)")
        #expect(chosen == (try QRCode.encode(payload, correction: level, mask: best)))
        // The symbols' scores match the plain implementation too.
        #expect(qrNaivePenalty(chosen.moduleMatrix) == scores[best])
    }
}
