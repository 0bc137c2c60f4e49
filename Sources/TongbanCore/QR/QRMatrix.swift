import Foundation  // NSLock

// Symbol construction: function patterns, codeword placement, masking and
// mask evaluation (ISO/IEC 18004 §6.3, §7.7, §7.8, §7.9).
//
// Matrices are kept as bit sets, three UInt64 words per line (`QRLine`), once
// row-major ("rows": bit x of line y) and, while masks are being evaluated,
// once column-major ("cols": bit y of line x), so that the penalty rules run
// word-parallel in both directions.

/// Everything about a version that does not depend on the payload, built once
/// per version and cached.
final class QRTemplate: Sendable {
    let version: Int
    let size: Int
    /// Dark function modules (finders, separators, timing, alignment, version
    /// information, dark module); the format-information areas are left light.
    let functionRows: [UInt64]
    let functionCols: [UInt64]
    /// Modules of the encoding region (the ones data masking applies to).
    let dataRows: [UInt64]
    let dataCols: [UInt64]
    /// Row length of the byte matrices used during placement (size rounded
    /// up to a multiple of 8).
    let byteStride: Int
    /// Codeword bit positions in placement order, as indices into a byte
    /// matrix: low 16 bits row-major (y · byteStride + x), high 16 bits
    /// column-major (x · byteStride + y).
    let placement: [UInt32]
    /// Per codeword: 0 when its eight modules are irregular (use `placement`
    /// bit by bit), else a 2 × 4 block read two modules per row — bits 0–15
    /// row-major index of its first module pair's left module, bits 16–31
    /// column-major index of the right column's topmost module (the left
    /// column's is `byteStride` lower), bit 32 set when it runs upwards,
    /// bit 33 set (marks it regular).
    let codewordBlocks: [UInt64]
    /// Module positions (`y << 8 | x`) of format bit i: entries 0..<15 are the
    /// copy around the top-left finder, 15..<30 the split copy.
    let formatPositions: [UInt16]

    init(version: Int) {
        precondition((1...40).contains(version))
        self.version = version
        let size = version * 4 + 17
        self.size = size
        var isFunction = [Bool](repeating: false, count: size * size)
        var isDark = [Bool](repeating: false, count: size * size)

        func set(_ x: Int, _ y: Int, _ dark: Bool) {
            isFunction[y * size + x] = true
            isDark[y * size + x] = dark
        }

        // Timing patterns (row 6 and column 6); finders overwrite their ends.
        for i in 0..<size {
            set(6, i, i % 2 == 0)
            set(i, 6, i % 2 == 0)
        }
        // Finder patterns with their separators.
        for (cx, cy) in [(3, 3), (size - 4, 3), (3, size - 4)] {
            for dy in -4...4 {
                for dx in -4...4 {
                    let x = cx + dx, y = cy + dy
                    guard x >= 0, x < size, y >= 0, y < size else { continue }
                    let distance = max(abs(dx), abs(dy))
                    set(x, y, distance != 2 && distance != 4)
                }
            }
        }
        // Alignment patterns, except the three that would overlap the finders.
        let centres = QRTables.alignmentPatternPositions[version]
        let last = centres.count - 1
        for (i, cy) in centres.enumerated() {
            for (j, cx) in centres.enumerated() {
                if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) { continue }
                for dy in -2...2 {
                    for dx in -2...2 {
                        set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)
                    }
                }
            }
        }
        // Format information areas (reserved, light here) and the dark module.
        var format = [UInt16]()
        for i in 0..<15 {
            let (x, y): (Int, Int)
            switch i {
            case 0...5: (x, y) = (8, i)
            case 6: (x, y) = (8, 7)
            case 7: (x, y) = (8, 8)
            case 8: (x, y) = (7, 8)
            default: (x, y) = (14 - i, 8)
            }
            format.append(UInt16(y << 8 | x))
        }
        for i in 0..<15 {
            let (x, y) = i < 8 ? (size - 1 - i, 8) : (8, size - 15 + i)
            format.append(UInt16(y << 8 | x))
        }
        for position in format {
            set(Int(position & 0xFF), Int(position >> 8), false)
        }
        set(8, size - 8, true)
        self.formatPositions = format
        // Version information (two 6×3 blocks) for version 7 and up.
        if version >= 7 {
            let bits = QRCode.versionInformation(version: version)
            for i in 0..<18 {
                let dark = (bits >> i) & 1 != 0
                let a = size - 11 + i % 3, b = i / 3
                set(a, b, dark)
                set(b, a, dark)
            }
        }

        // Codeword placement order: two-module-wide columns from the right,
        // alternately upwards and downwards, skipping the vertical timing pattern.
        let byteStride = (size + 7) & ~7
        self.byteStride = byteStride
        var placement = [UInt32]()
        placement.reserveCapacity(QRTables.rawDataModules(version: version))
        var right = size - 1
        while right >= 1 {
            if right == 6 { right = 5 }
            let upward = ((right + 1) & 2) == 0
            for vertical in 0..<size {
                let y = upward ? size - 1 - vertical : vertical
                for j in 0..<2 {
                    let x = right - j
                    if !isFunction[y * size + x] {
                        placement.append(UInt32(y * byteStride + x | (x * byteStride + y) << 16))
                    }
                }
            }
            right -= 2
        }
        precondition(placement.count == QRTables.rawDataModules(version: version))
        self.placement = placement
        var blocks = [UInt64]()
        for k in 0..<placement.count / 8 {
            let positions = (0..<8).map { i -> (x: Int, y: Int) in
                let index = Int(placement[8 * k + i] & 0xFFFF)
                return (index % byteStride, index / byteStride)
            }
            let right = positions[0].x, y0 = positions[0].y
            let step = positions[2].y - y0
            let regular = (step == 1 || step == -1) && right >= 1 && (0..<8).allSatisfy { i in
                positions[i] == (right - i % 2, y0 + step * (i / 2))
            }
            if regular {
                let top = min(y0, y0 + 3 * step)
                blocks.append(UInt64(y0 * byteStride + right - 1) | UInt64(right * byteStride + top) << 16
                    | (step < 0 ? 1 << 32 : 0) | 1 << 33)
            } else {
                blocks.append(0)
            }
        }
        self.codewordBlocks = blocks

        var functionRows = [UInt64](repeating: 0, count: size * 3)
        var functionCols = [UInt64](repeating: 0, count: size * 3)
        var dataRows = [UInt64](repeating: 0, count: size * 3)
        var dataCols = [UInt64](repeating: 0, count: size * 3)
        functionRows.withUnsafeMutableBufferPointer { fr in
            functionCols.withUnsafeMutableBufferPointer { fc in
                dataRows.withUnsafeMutableBufferPointer { dr in
                    dataCols.withUnsafeMutableBufferPointer { dc in
                        for y in 0..<size {
                            for x in 0..<size {
                                if !isFunction[y * size + x] {
                                    dr.baseAddress!.setLineBit(line: y, bit: x)
                                    dc.baseAddress!.setLineBit(line: x, bit: y)
                                } else if isDark[y * size + x] {
                                    fr.baseAddress!.setLineBit(line: y, bit: x)
                                    fc.baseAddress!.setLineBit(line: x, bit: y)
                                }
                            }
                        }
                    }
                }
            }
        }
        self.functionRows = functionRows
        self.functionCols = functionCols
        self.dataRows = dataRows
        self.dataCols = dataCols
    }

    private final class Cache: @unchecked Sendable {
        let lock = NSLock()
        var templates = [QRTemplate?](repeating: nil, count: 41)
    }

    private static let cache = Cache()

    /// The (lazily built, then shared) template of `version`.
    static func forVersion(_ version: Int) -> QRTemplate {
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let template = cache.templates[version] { return template }
        let template = QRTemplate(version: version)
        cache.templates[version] = template
        return template
    }
}

/// Lookup tables that spread a codeword over a regular 2 × 4 module block
/// as 0/1 bytes. Bit 7 of a codeword goes to the right module of its first
/// row, bit 6 to the left one, bit 5 to the right module of the next row, …
enum QRPlacementTables {
    /// `rowPairs[c]`: four little-endian 16-bit pairs (left module in the
    /// low byte, right in the high byte), one per row in placement order.
    static let rowPairs: [UInt64] = (0..<256).map { c in
        var value: UInt64 = 0
        for j in 0..<4 {
            let right = UInt64(c >> (7 - 2 * j) & 1), left = UInt64(c >> (6 - 2 * j) & 1)
            value |= (left | right << 8) << UInt64(16 * j)
        }
        return value
    }

    /// `columns[2c + upward]`: the right column's four bytes from the top row
    /// down in the low 32 bits, the left column's in the high 32 bits.
    static let columns: [UInt64] = (0..<512).map { entry in
        let c = entry >> 1, upward = entry & 1 == 1
        var value: UInt64 = 0
        for k in 0..<4 {  // k: position from the top
            let j = upward ? 3 - k : k  // row number in placement order
            let right = UInt64(c >> (7 - 2 * j) & 1), left = UInt64(c >> (6 - 2 * j) & 1)
            value |= right << UInt64(8 * k) | left << UInt64(32 + 8 * k)
        }
        return value
    }
}

/// The eight data mask patterns (ISO/IEC 18004 Table 10) as bit sets, for
/// rows and columns 0..<177, computed once.
enum QRMasks {
    static let maxSize = 177

    /// Whether mask `mask` inverts the module in row `i`, column `j`.
    @inline(__always)
    static func inverts(mask: Int, i: Int, j: Int) -> Bool {
        switch mask {
        case 0: return (i + j) % 2 == 0
        case 1: return i % 2 == 0
        case 2: return j % 3 == 0
        case 3: return (i + j) % 3 == 0
        case 4: return (i / 2 + j / 3) % 2 == 0
        case 5: return (i * j) % 2 + (i * j) % 3 == 0
        case 6: return ((i * j) % 2 + (i * j) % 3) % 2 == 0
        default: return ((i + j) % 2 + (i * j) % 3) % 2 == 0
        }
    }

    /// `rows[((mask * 177) + i) * 3 ...]`: bit j set when the mask inverts (i, j).
    static let rows: [UInt64] = build(transposed: false)
    /// `cols[((mask * 177) + j) * 3 ...]`: bit i set when the mask inverts (i, j).
    static let cols: [UInt64] = build(transposed: true)

    private static func build(transposed: Bool) -> [UInt64] {
        var table = [UInt64](repeating: 0, count: 8 * maxSize * 3)
        table.withUnsafeMutableBufferPointer { buffer in
            for mask in 0..<8 {
                for line in 0..<maxSize {
                    for bit in 0..<maxSize {
                        let (i, j) = transposed ? (bit, line) : (line, bit)
                        if inverts(mask: mask, i: i, j: j) {
                            buffer.baseAddress!.setLineBit(line: mask * maxSize + line, bit: bit)
                        }
                    }
                }
            }
        }
        return table
    }
}

enum QRPenalty {
    static let n1 = 3, n2 = 3, n3 = 40, n4 = 10

    /// Lines of padding (all light) stored before and after the lines of a
    /// symbol in the buffers that `score` reads.
    static let padding = 4

    /// Penalty score (ISO/IEC 18004 §7.8.3.1, Table 11) of a complete symbol.
    ///
    /// - N1: each run of ≥ 5 same-colour modules in a row/column scores 3 + (run − 5).
    /// - N2: each 2×2 block of one colour scores 3 (overlapping blocks all count).
    /// - N3: each dark-light-dark-dark-dark-light-dark (1:1:3:1:1) pattern with
    ///   4 light modules before or after it scores 40 (once per pattern;
    ///   modules outside the symbol count as light, as the quiet zone is).
    /// - N4: 10 for every full 5 % by which the dark proportion deviates from 50 %.
    ///
    /// `rows` and `cols` hold the symbol row-major and column-major, three words
    /// per line, with `padding` zero lines before and after (so line i is at
    /// `(i + padding) * 3`). Evaluation may stop once the score reaches `bound`,
    /// returning some value ≥ `bound`; the mask search uses that to skip
    /// hopeless candidates.
    static func score(
        rows: UnsafePointer<UInt64>, cols: UnsafePointer<UInt64>, size: Int, bound: Int = .max
    ) -> Int {
        if size <= 64 { return score(QRLine1.self, rows: rows, cols: cols, size: size, bound: bound) }
        if size <= 128 { return score(QRLine2.self, rows: rows, cols: cols, size: size, bound: bound) }
        return score(QRLine.self, rows: rows, cols: cols, size: size, bound: bound)
    }

    @inline(__always)
    private static func widen(_ bytes: UInt64) -> UInt64 {
        (bytes & 0x00FF_00FF_00FF_00FF) &+ ((bytes &>> 8) & 0x00FF_00FF_00FF_00FF)
    }

    @inline(__always)
    private static func sumLanes(_ lanes: UInt64) -> Int {
        Int(lanes & 0xFFFF) + Int((lanes >> 16) & 0xFFFF) + Int((lanes >> 32) & 0xFFFF) + Int(lanes >> 48)
    }

    private static func score<L: QRWordLine>(
        _: L.Type, rows: UnsafePointer<UInt64>, cols: UnsafePointer<UInt64>, size: Int, bound: Int
    ) -> Int {
        let lines = rows + padding * 3
        let all = L.ones(size)
        let allButLast = L.ones(size - 1)
        // Dark modules (N4) and 2×2 blocks (N2), from the rows. Per-byte counts
        // are summed in 16-bit lanes: at most 48 per lane per row, no overflow.
        var darkLanes: UInt64 = 0
        var blockLanes: UInt64 = 0
        var current = L(lines)
        for y in 0..<size - 1 {
            let next = L(lines + (y + 1) * 3)
            darkLanes &+= widen(current.byteCounts)
            let vertical = ~(current ^ next)
            let blocks = vertical & vertical.down(1) & ~(current ^ current.down(1)) & allButLast
            blockLanes &+= widen(blocks.byteCounts)
            current = next
        }
        darkLanes &+= widen(current.byteCounts)
        let dark = sumLanes(darkLanes)
        let total = size * size
        let deviation = abs(dark * 20 - total * 10) / total  // whole 5 % steps
        var score = sumLanes(blockLanes) * n2 + deviation * n4
        if score >= bound { return score }
        // Runs and finder-like patterns down the columns (scanning the rows),
        // then along the rows (scanning the columns).
        score += scan(L.self, lines: rows, size: size, all: all)
        if score >= bound { return score }
        return score + scan(L.self, lines: cols, size: size, all: all)
    }

    /// N1 and N3 points of the lines perpendicular to the ones stored at `lines`
    /// (padded storage): bit x of the stored lines y…y+k is one run of the
    /// perpendicular line x, so every rule is a few word operations per step,
    /// without shifts.
    @inline(__always)
    private static func scan<L: QRWordLine>(
        _: L.Type, lines padded: UnsafePointer<UInt64>, size: Int, all: L
    ) -> Int {
        @inline(__always) func line(_ i: Int) -> L { L(padded + (i &+ padding) &* 3) }
        // e_i: line i equals line i + 1 (bitwise); a run of ≥ 5 has 4 equal steps.
        var e0 = ~(line(0) ^ line(1)), e1 = ~(line(1) ^ line(2)), e2 = ~(line(2) ^ line(3))
        var previousWindows = L.zero
        var runLanes: UInt64 = 0  // ≤ 3 × 24 per byte per step, ≤ 144 per lane, ≤ 173 steps
        var finders = 0
        for y in 0...(size - 5) {
            let e3 = ~(line(y + 3) ^ line(y + 4))
            // windows: lines y…y+4 equal; a run of length n gives n − 4 windows
            // and one start, and scores n − 2 = windows + 2 × starts.
            let windows = e0 & e1 & e2 & e3 & all
            let starts = windows & ~previousWindows
            runLanes &+= widen(windows.byteCounts &+ (starts.byteCounts &<< 1))
            previousWindows = windows
            e0 = e1
            e1 = e2
            e2 = e3
            if y <= size - 7 {
                let core = line(y) & ~line(y + 1) & line(y + 2) & line(y + 3) & line(y + 4)
                    & ~line(y + 5) & line(y + 6)
                if !core.isZero {
                    let lightBefore = ~(line(y - 4) | line(y - 3) | line(y - 2) | line(y - 1))
                    let lightAfter = ~(line(y + 7) | line(y + 8) | line(y + 9) | line(y + 10))
                    finders &+= (core & (lightBefore | lightAfter)).popcount
                }
            }
        }
        return sumLanes(runLanes) + finders * n3
    }
}

enum QRSymbolBuilder {
    /// Lays out `codewords` (data and EC, interleaved) in the symbol of
    /// `template`, picks the mask (or uses `forcedMask`) and returns the final
    /// rows (3 words per row) and the mask.
    static func build(
        codewords: [UInt8], template: QRTemplate, level: QRErrorCorrection, forcedMask: Int?
    ) -> (rows: [UInt64], mask: Int) {
        let size = template.size
        var rows = template.functionRows
        var cols = template.functionCols
        var bestMask = forcedMask ?? 0

        rows.withUnsafeMutableBufferPointer { rowsBuffer in
            cols.withUnsafeMutableBufferPointer { colsBuffer in
                let rowsBase = rowsBuffer.baseAddress!, colsBase = colsBuffer.baseAddress!
                let needColumns = forcedMask == nil
                // Place the codeword bits (remainder bits stay light): scatter
                // them as bytes (independent stores, no read-modify-write
                // chains), then pack eight bytes at a time into the bit sets.
                let byteStride = template.byteStride
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * byteStride * size) { matrix in
                    matrix.initialize(repeating: 0)
                    let rowMajor = matrix.baseAddress!, colMajor = rowMajor + byteStride * size
                    template.placement.withUnsafeBufferPointer { placement in
                        template.codewordBlocks.withUnsafeBufferPointer { blocks in
                            QRPlacementTables.rowPairs.withUnsafeBufferPointer { rowPairs in
                                QRPlacementTables.columns.withUnsafeBufferPointer { columnTable in
                                    let rowMajorRaw = UnsafeMutableRawPointer(rowMajor)
                                    let colMajorRaw = UnsafeMutableRawPointer(colMajor)
                                    for (k, codeword) in codewords.enumerated() {
                                        let block = blocks[k]
                                        if block != 0 {
                                            // Regular 2 × 4 block: four 2-byte row stores, two 4-byte column stores.
                                            let upward = block & (1 << 32) != 0
                                            let pairs = rowPairs[Int(codeword)]
                                            var rowIndex = Int(block & 0xFFFF)
                                            let rowStep = upward ? -byteStride : byteStride
                                            for j in 0..<4 {
                                                rowMajorRaw.storeBytes(
                                                    of: UInt16(truncatingIfNeeded: pairs &>> UInt64(16 * j)).littleEndian,
                                                    toByteOffset: rowIndex, as: UInt16.self)
                                                rowIndex &+= rowStep
                                            }
                                            if needColumns {
                                                let columns = columnTable[Int(codeword) &* 2 &+ (upward ? 1 : 0)]
                                                let colIndex = Int((block &>> 16) & 0xFFFF)
                                                colMajorRaw.storeBytes(
                                                    of: UInt32(truncatingIfNeeded: columns).littleEndian,
                                                    toByteOffset: colIndex, as: UInt32.self)
                                                colMajorRaw.storeBytes(
                                                    of: UInt32(truncatingIfNeeded: columns &>> 32).littleEndian,
                                                    toByteOffset: colIndex &- byteStride, as: UInt32.self)
                                            }
                                        } else {
                                            var index = k &* 8
                                            for shift in stride(from: 7 as UInt8, through: 0, by: -1) {
                                                let bit = (codeword &>> shift) & 1
                                                let position = placement[index]
                                                rowMajor[Int(position & 0xFFFF)] = bit
                                                if needColumns { colMajor[Int(position >> 16)] = bit }
                                                index &+= 1
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    pack(rowMajor, stride: byteStride, size: size, into: rowsBase)
                    if needColumns { pack(colMajor, stride: byteStride, size: size, into: colsBase) }
                }
                guard needColumns else { return }
                let paddedCount = (size + 2 * QRPenalty.padding) * 3
                let offset = QRPenalty.padding * 3
                withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 2 * paddedCount) { scratch in
                    scratch.initialize(repeating: 0)
                    let paddedRows = scratch.baseAddress!, paddedCols = paddedRows + paddedCount
                    var bestScore = Int.max
                    for mask in 0..<8 {
                        apply(mask: mask, level: level, template: template,
                              rows: rowsBase, cols: colsBase,
                              outRows: paddedRows + offset, outCols: paddedCols + offset)
                        let score = QRPenalty.score(rows: paddedRows, cols: paddedCols, size: size, bound: bestScore)
                        if score < bestScore {
                            bestScore = score
                            bestMask = mask
                        }
                    }
                }
            }
        }
        // Final symbol: rows only (the columns were just for scoring).
        var result = [UInt64](repeating: 0, count: size * 3)
        rows.withUnsafeBufferPointer { unmasked in
            result.withUnsafeMutableBufferPointer { out in
                apply(mask: bestMask, level: level, template: template,
                      rows: unmasked.baseAddress!, cols: nil, outRows: out.baseAddress!, outCols: nil)
            }
        }
        return (result, bestMask)
    }

    /// ORs a byte matrix (one 0/1 byte per module, `stride` bytes per line)
    /// into 3-word-per-line bit sets.
    @inline(__always)
    static func pack(_ bytes: UnsafePointer<UInt8>, stride: Int, size: Int, into lines: UnsafeMutablePointer<UInt64>) {
        let raw = UnsafeRawPointer(bytes)
        for line in 0..<size {
            let start = raw + line &* stride
            for chunk in 0..<(stride &>> 3) {
                // Byte i (0 or 1) of the little-endian word lands in bit 56 + i.
                let word = UInt64(littleEndian: (start + chunk &* 8).loadUnaligned(as: UInt64.self))
                let packed = (word &* 0x0102_0408_1020_4080) &>> 56
                lines[line &* 3 &+ chunk &>> 3] |= packed &<< UInt64((chunk & 7) &* 8)
            }
        }
    }

    /// out = unmasked ^ (maskPattern & encodingRegion), plus the format bits of
    /// (level, mask). `cols`/`outCols` may be nil when columns are not needed.
    static func apply(
        mask: Int, level: QRErrorCorrection, template: QRTemplate,
        rows: UnsafePointer<UInt64>, cols: UnsafePointer<UInt64>?,
        outRows: UnsafeMutablePointer<UInt64>, outCols: UnsafeMutablePointer<UInt64>?
    ) {
        let size = template.size
        let count = size * 3
        let maskOffset = mask * QRMasks.maxSize * 3
        QRMasks.rows.withUnsafeBufferPointer { maskRows in
            template.dataRows.withUnsafeBufferPointer { dataRows in
                let pattern = maskRows.baseAddress! + maskOffset
                for i in 0..<count {
                    outRows[i] = rows[i] ^ (pattern[i] & dataRows[i])
                }
            }
        }
        if let cols, let outCols {
            QRMasks.cols.withUnsafeBufferPointer { maskCols in
                template.dataCols.withUnsafeBufferPointer { dataCols in
                    let pattern = maskCols.baseAddress! + maskOffset
                    for i in 0..<count {
                        outCols[i] = cols[i] ^ (pattern[i] & dataCols[i])
                    }
                }
            }
        }
        let format = QRCode.formatInformation(correction: level, mask: mask)
        template.formatPositions.withUnsafeBufferPointer { positions in
            for index in 0..<30 where (format >> (index % 15)) & 1 != 0 {
                let position = Int(positions[index])
                let x = position & 0xFF, y = position >> 8
                outRows.setLineBit(line: y, bit: x)
                outCols?.setLineBit(line: x, bit: y)
            }
        }
    }
}
