@testable import TongbanCore

extension QRCode {
    /// Rows of "0"/"1" characters, 1 = dark.
    var moduleRows: [String] {
        (0..<size).map { y in String((0..<size).map { self[$0, y] ? "1" : "0" }) }
    }

    /// Modules as [[Bool]] indexed [y][x].
    var moduleMatrix: [[Bool]] {
        (0..<size).map { y in (0..<size).map { self[$0, y] } }
    }
}

func qrTestBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = QRTestRandom(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// The penalty score computed the obvious way, module by module (the
/// reference for the word-parallel implementation). Same conventions:
/// finder-like patterns count once when light on either side, modules
/// outside the symbol are light, N4 counts whole 5 % steps.
func qrNaivePenalty(_ m: [[Bool]]) -> Int {
    let n = m.count
    func lineScore(_ line: [Bool]) -> Int {
        var score = 0
        var run = 1
        for i in 1...n {
            if i < n && line[i] == line[i - 1] {
                run += 1
            } else {
                if run >= 5 { score += 3 + (run - 5) }
                run = 1
            }
        }
        func light(_ from: Int, _ to: Int) -> Bool {
            (from..<to).allSatisfy { $0 < 0 || $0 >= n || !line[$0] }
        }
        let core = [true, false, true, true, true, false, true]
        for i in 0...(n - 7) where Array(line[i..<i + 7]) == core {
            if light(i - 4, i) || light(i + 7, i + 11) { score += 40 }
        }
        return score
    }
    var score = 0
    for y in 0..<n { score += lineScore(m[y]) }
    for x in 0..<n { score += lineScore((0..<n).map { m[$0][x] }) }
    for y in 0..<(n - 1) {
        for x in 0..<(n - 1) where m[y][x] == m[y][x + 1] && m[y][x] == m[y + 1][x] && m[y][x] == m[y + 1][x + 1] {
            score += 3
        }
    }
    let dark = m.reduce(0) { $0 + $1.filter { $0 }.count }
    let total = n * n
    score += 10 * (abs(dark * 20 - total * 10) / total)
    return score
}

/// QRPenalty.score on an arbitrary matrix (builds the padded bit sets).
func qrFastPenalty(_ m: [[Bool]]) -> Int {
    let n = m.count
    let padding = QRPenalty.padding
    var rows = [UInt64](repeating: 0, count: (n + 2 * padding) * 3)
    var cols = rows
    rows.withUnsafeMutableBufferPointer { r in
        cols.withUnsafeMutableBufferPointer { c in
            for y in 0..<n {
                for x in 0..<n where m[y][x] {
                    r.baseAddress!.setLineBit(line: y + padding, bit: x)
                    c.baseAddress!.setLineBit(line: x + padding, bit: y)
                }
            }
        }
    }
    return rows.withUnsafeBufferPointer { r in
        cols.withUnsafeBufferPointer { c in
            QRPenalty.score(rows: r.baseAddress!, cols: c.baseAddress!, size: n)
        }
    }
}
