import Testing
@testable import TongbanCore

@Suite("QR Reed–Solomon")
struct QRReedSolomonTests {
    @Test("GF(256) tables: α generates the field, log inverts exp")
    func fieldTables() {
        #expect(Set(QRReedSolomon.exp[0..<255]).count == 255)
        for value in 1...255 {
            #expect(Int(QRReedSolomon.exp[Int(QRReedSolomon.log[value])]) == value)
        }
        #expect(QRReedSolomon.exp[8] == 0x1D)  // α^8 = x^4 + x^3 + x^2 + 1 under 0x11D
        #expect(QRReedSolomon.multiply(0x80, 0x02) == 0x1D)
    }

    @Test("generator polynomial of degree 7 (ISO/IEC 18004 Annex A)")
    func generatorSeven() {
        // g(x) = x^7 + α^87 x^6 + α^229 x^5 + α^146 x^4 + α^149 x^3 + α^238 x^2 + α^102 x + α^21
        let logs = QRReedSolomon.generator(degree: 7).map { QRReedSolomon.log[Int($0)] }
        #expect(logs == [87, 229, 146, 149, 238, 102, 21])
    }

    @Test("ISO/IEC 18004 Annex I example: \"01234567\" as 1-M")
    func isoExample() {
        let data: [UInt8] = [16, 32, 12, 86, 97, 128, 236, 17, 236, 17, 236, 17, 236, 17, 236, 17]
        let expected: [UInt8] = [165, 36, 212, 193, 237, 54, 199, 135, 44, 85]
        #expect(QRReedSolomon.errorCorrection(for: data, degree: 10) == expected)
    }

    @Test("\"HELLO WORLD\" 1-M (alphanumeric) data codewords give the known EC codewords")
    func helloWorldExample() {
        let data: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
        let expected: [UInt8] = [196, 35, 39, 119, 235, 215, 231, 226, 93, 23]
        #expect(QRReedSolomon.errorCorrection(for: data, degree: 10) == expected)
    }

    /// c(α^i) for the codeword c (highest power first).
    static func evaluate(_ codeword: [UInt8], at point: UInt8) -> UInt8 {
        var result: UInt8 = 0
        for coefficient in codeword {
            result = QRReedSolomon.multiply(result, point) ^ coefficient
        }
        return result
    }

    @Test("data + EC is divisible by the generator: all syndromes vanish",
          arguments: QRReedSolomon.degreesInUse.sorted())
    func syndromesVanish(degree: Int) {
        var generator = QRTestRandom(seed: UInt64(degree))
        for length in [1, 2, 15, 54, 123] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let ec = QRReedSolomon.errorCorrection(for: data, degree: degree)
            #expect(ec == QRReedSolomon.remainderReference(data, degree: degree))
            let codeword = data + ec
            for i in 0..<degree {
                #expect(Self.evaluate(codeword, at: QRReedSolomon.exp[i]) == 0, "degree \(degree), root α^\(i)")
            }
            // A corrupted codeword has a non-zero syndrome.
            var corrupted = codeword
            corrupted[length / 2] ^= 0x5A
            #expect((0..<degree).contains { Self.evaluate(corrupted, at: QRReedSolomon.exp[$0]) != 0 })
        }
    }

    @Test("interleaving: version 5-Q splits into 2 × 15 + 2 × 16 data codewords")
    func interleaving() {
        let data = (0..<62).map { UInt8($0) }
        let result = QRCode.interleave(data: data, version: 5, correction: .quartile)
        #expect(result.count == 134)
        // Data columns: block starts 0, 15, 30, 46; the long blocks add a 16th codeword.
        #expect(Array(result[0..<8]) == [0, 15, 30, 46, 1, 16, 31, 47])
        #expect(Array(result[56..<62]) == [14, 29, 44, 60, 45, 61])
        // EC columns follow, block by block per position.
        let blocks = [Array(data[0..<15]), Array(data[15..<30]), Array(data[30..<46]), Array(data[46..<62])]
        let ec = blocks.map { QRReedSolomon.errorCorrection(for: $0, degree: 18) }
        for i in 0..<18 {
            #expect(Array(result[62 + 4 * i..<66 + 4 * i]) == ec.map { $0[i] })
        }
    }
}

/// A small deterministic generator (SplitMix64) for reproducible test data.
struct QRTestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
