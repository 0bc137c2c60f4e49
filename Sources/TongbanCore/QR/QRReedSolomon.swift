// Reed–Solomon error correction over GF(2^8) with the QR primitive polynomial
// x^8 + x^4 + x^3 + x^2 + 1 (0x11D) and generator roots α^0 … α^(n-1)
// (ISO/IEC 18004 §7.5.2 and Annex A).

enum QRReedSolomon {
    /// α^i for i in 0..<510 (doubled so that `exp[log a + log b]` never needs `% 255`).
    static let exp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 512)
        var x = 1
        for i in 0..<255 {
            table[i] = UInt8(x)
            table[i + 255] = UInt8(x)
            x <<= 1
            if x & 0x100 != 0 { x ^= 0x11D }
        }
        return table
    }()

    /// log_α(i) for i in 1...255; `log[0]` is unused (0).
    static let log: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for i in 0..<255 { table[Int(exp[i])] = UInt8(i) }
        return table
    }()

    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        if a == 0 || b == 0 { return 0 }
        return exp[Int(log[Int(a)]) + Int(log[Int(b)])]
    }

    /// Generator polynomial g(x) = ∏_{i<degree} (x − α^i), coefficients from the
    /// highest power down, with the monic leading 1 omitted (so `degree` entries).
    static func generator(degree: Int) -> [UInt8] {
        precondition(degree >= 1 && degree <= 255)
        var result = [UInt8](repeating: 0, count: degree)
        result[degree - 1] = 1  // start with the monomial x^0
        var root: UInt8 = 1
        for _ in 0..<degree {
            // Multiply the current product by (x − root).
            for j in 0..<degree {
                result[j] = multiply(result[j], root)
                if j + 1 < degree { result[j] ^= result[j + 1] }
            }
            root = multiply(root, 0x02)
        }
        return result
    }

    /// The EC lengths that occur in ISO/IEC 18004 Table 9.
    static let degreesInUse: Set<Int> = Set(QRTables.ecCodewordsPerBlock.joined().filter { $0 > 0 })

    /// For each degree in use: 256 rows of four little-endian UInt64 words,
    /// row f holding the coefficients of f · g(x) (without the leading 1,
    /// zero-padded to 32 bytes), so one division step is four word XORs.
    static let multipleTables: [[UInt64]] = (0...30).map { degree in
        guard degreesInUse.contains(degree) else { return [] }
        let generator = generator(degree: degree)
        var table = [UInt64](repeating: 0, count: 256 * 4)
        for factor in 1..<256 {
            for i in 0..<degree {
                let product = UInt64(multiply(generator[i], UInt8(factor)))
                table[factor * 4 + i / 8] |= product << UInt64(8 * (i % 8))
            }
        }
        return table
    }

    /// Computes the `degree` EC codewords for `count` data bytes at `data`
    /// and writes them to `out`: the remainder of data(x) · x^degree ÷ g(x).
    static func remainder(
        data: UnsafePointer<UInt8>, count: Int, degree: Int, out: UnsafeMutablePointer<UInt8>
    ) {
        precondition(degree >= 1 && degree <= 30 && !multipleTables[degree].isEmpty,
                     "no QR block uses \(degree) EC codewords")
        multipleTables[degree].withUnsafeBufferPointer { table in
            let rows = table.baseAddress!
            // The remainder, coefficient i in byte i % 8 of word i / 8, highest power first.
            var r0: UInt64 = 0, r1: UInt64 = 0, r2: UInt64 = 0, r3: UInt64 = 0
            for index in 0..<count {
                let factor = Int(UInt64(data[index]) ^ (r0 & 0xFF))
                let row = rows + factor &* 4
                r0 = ((r0 &>> 8) | (r1 &<< 56)) ^ row[0]
                r1 = ((r1 &>> 8) | (r2 &<< 56)) ^ row[1]
                r2 = ((r2 &>> 8) | (r3 &<< 56)) ^ row[2]
                r3 = (r3 &>> 8) ^ row[3]
            }
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 4) { words in
                words[0] = r0.littleEndian
                words[1] = r1.littleEndian
                words[2] = r2.littleEndian
                words[3] = r3.littleEndian
                out.update(from: UnsafeRawPointer(words.baseAddress!).assumingMemoryBound(to: UInt8.self), count: degree)
            }
        }
    }

    /// Straightforward polynomial division (reference for tests).
    static func remainderReference(_ data: [UInt8], degree: Int) -> [UInt8] {
        let generator = generator(degree: degree)
        var rem = [UInt8](repeating: 0, count: degree)
        for byte in data {
            let factor = byte ^ rem.removeFirst()
            rem.append(0)
            for i in 0..<degree { rem[i] ^= multiply(generator[i], factor) }
        }
        return rem
    }

    /// Convenience wrapper for tests: EC codewords of `data` for `degree`.
    static func errorCorrection(for data: [UInt8], degree: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: degree)
        if data.isEmpty { return out }
        data.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                remainder(data: input.baseAddress!, count: input.count, degree: degree, out: output.baseAddress!)
            }
        }
        return out
    }
}
