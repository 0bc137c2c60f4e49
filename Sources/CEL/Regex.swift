/// A small RE2-style regular expression engine: patterns are compiled to a Thompson NFA and
/// simulated Pike-VM style (a set of states per input position), so matching is
/// O(len(input) * len(program)) and can never backtrack catastrophically.
///
/// Supported syntax: literals, `.`, `[...]`/`[^...]` (ranges, escapes, `[:alpha:]` POSIX classes),
/// `\d \D \w \W \s \S`, `\b \B \A \z`, anchors `^ $`, groups `(...)`, `(?:...)`, `(?P<n>...)`,
/// `(?<n>...)`, alternation `|`, quantifiers `* + ? {n} {n,} {n,m}` (and lazy forms), flags
/// `(?i) (?s) (?m) (?U)` and `(?i:...)`. Backreferences and lookaround are rejected (as in RE2).
/// `matches` has RE2 `PartialMatch` semantics (the pattern may match anywhere unless anchored).
public final class CELRegex: Sendable {
    enum Assertion: Sendable { case beginText, endText, beginLine, endLine, wordBoundary, notWordBoundary }

    enum Inst: Sendable {
        case char(UInt32)
        case set([ClosedRange<UInt32>], negated: Bool)
        case any(matchesNewline: Bool)
        case split(Int, Int)
        case jmp(Int)
        case assert(Assertion)
        case match
    }

    public let pattern: String
    let prog: [Inst]
    let anchoredStart: Bool

    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Compiles `pattern`. `maxProgramSize` bounds the NFA size (e.g. `(a{1000}){1000}` is rejected);
    /// `maxRepeat` bounds counted repetition like RE2 (1000).
    public init(_ pattern: String, maxProgramSize: Int = 10_000, maxRepeat: Int = 1_000) throws(CELRegex.Error) {
        self.pattern = pattern
        var p = RegexParser(Array(pattern.unicodeScalars), maxRepeat: maxRepeat)
        let node = try p.parse()
        let estimate = node.estimatedSize
        if estimate > maxProgramSize {
            throw Error(message: "regular expression too large (program size \(estimate) exceeds \(maxProgramSize))")
        }
        var c = RegexCompiler()
        c.emit(node)
        c.prog.append(.match)
        prog = c.prog
        anchoredStart = node.isAnchoredAtStart
    }

    public var programSize: Int { prog.count }

    /// Unanchored search: true if the pattern matches any substring of `input`.
    public func matches(_ input: String) -> Bool {
        let chars = input.unicodeScalars.map(\.value)
        var clist = SparseSet(prog.count), nlist = SparseSet(prog.count)
        var stack: [Int] = []
        stack.reserveCapacity(16)
        let n = chars.count
        var pos = 0
        while true {
            if !anchoredStart || pos == 0 {
                if addThread(&clist, 0, pos, chars, &stack) { return true }
            }
            if clist.count == 0 && anchoredStart { return false }
            if pos == n { return false }
            let c = chars[pos]
            nlist.clear()
            for k in 0..<clist.count {
                let pc = clist.dense[k]
                var ok = false
                switch prog[pc] {
                case .char(let x): ok = x == c
                case .set(let ranges, let neg): ok = CELRegex.inSet(c, ranges) != neg
                case .any(let nl): ok = nl || c != 10
                default: ok = false
                }
                if ok, addThread(&nlist, pc + 1, pos + 1, chars, &stack) { return true }
            }
            swap(&clist, &nlist)
            pos += 1
        }
    }

    @inline(__always)
    static func inSet(_ c: UInt32, _ ranges: [ClosedRange<UInt32>]) -> Bool {
        var lo = 0, hi = ranges.count - 1
        while lo <= hi {
            let mid = (lo + hi) >> 1
            let r = ranges[mid]
            if c < r.lowerBound { hi = mid - 1 } else if c > r.upperBound { lo = mid + 1 } else { return true }
        }
        return false
    }

    static func isWord(_ c: UInt32) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95
    }

    private func addThread(_ list: inout SparseSet, _ pc0: Int, _ pos: Int, _ chars: [UInt32], _ stack: inout [Int]) -> Bool {
        stack.removeAll(keepingCapacity: true)
        stack.append(pc0)
        while let pc = stack.popLast() {
            if list.contains(pc) { continue }
            list.insert(pc)
            switch prog[pc] {
            case .jmp(let x): stack.append(x)
            case .split(let x, let y):
                stack.append(y)
                stack.append(x)
            case .assert(let a):
                let n = chars.count
                let ok: Bool
                switch a {
                case .beginText: ok = pos == 0
                case .endText: ok = pos == n
                case .beginLine: ok = pos == 0 || chars[pos - 1] == 10
                case .endLine: ok = pos == n || chars[pos] == 10
                case .wordBoundary, .notWordBoundary:
                    let before = pos > 0 && CELRegex.isWord(chars[pos - 1])
                    let after = pos < n && CELRegex.isWord(chars[pos])
                    ok = (before != after) == (a == .wordBoundary)
                }
                if ok { stack.append(pc + 1) }
            case .match:
                return true
            default:
                break
            }
        }
        return false
    }
}

struct SparseSet {
    var dense: [Int]
    var sparse: [Int]
    var count = 0

    init(_ n: Int) {
        dense = [Int](repeating: 0, count: n)
        sparse = [Int](repeating: 0, count: n)
    }

    @inline(__always) func contains(_ x: Int) -> Bool {
        let i = sparse[x]
        return i < count && dense[i] == x
    }

    @inline(__always) mutating func insert(_ x: Int) {
        sparse[x] = count
        dense[count] = x
        count += 1
    }

    mutating func clear() { count = 0 }
}

indirect enum RNode {
    case empty
    case lit(UInt32)
    case cls([ClosedRange<UInt32>], negated: Bool)
    case any(matchesNewline: Bool)
    case cat([RNode])
    case alt([RNode])
    case rep(RNode, min: Int, max: Int?)
    case assert(CELRegex.Assertion)

    /// Upper bound of the compiled program size (saturating at 2^40).
    var estimatedSize: Int {
        let cap = 1 << 40
        switch self {
        case .empty: return 0
        case .lit, .cls, .any, .assert: return 1
        case .cat(let xs): return xs.reduce(0) { Swift.min(cap, $0 + $1.estimatedSize) }
        case .alt(let xs): return xs.reduce(0) { Swift.min(cap, $0 + $1.estimatedSize + 2) }
        case .rep(let x, let mn, let mx):
            let s = x.estimatedSize + 2
            let copies = mx ?? (mn + 1)
            return Swift.min(cap, s * Swift.max(copies, 1))
        }
    }

    var isAnchoredAtStart: Bool {
        switch self {
        case .assert(.beginText): return true
        case .cat(let xs): return xs.first?.isAnchoredAtStart ?? false
        case .alt(let xs): return !xs.isEmpty && xs.allSatisfy(\.isAnchoredAtStart)
        default: return false
        }
    }
}

struct RegexCompiler {
    var prog: [CELRegex.Inst] = []

    mutating func emit(_ n: RNode) {
        switch n {
        case .empty: break
        case .lit(let c): prog.append(.char(c))
        case .cls(let r, let neg): prog.append(.set(r, negated: neg))
        case .any(let nl): prog.append(.any(matchesNewline: nl))
        case .assert(let a): prog.append(.assert(a))
        case .cat(let xs): xs.forEach { emit($0) }
        case .alt(let xs):
            var jumps: [Int] = []
            for (k, x) in xs.enumerated() {
                if k < xs.count - 1 {
                    let split = prog.count
                    prog.append(.split(0, 0))
                    emit(x)
                    jumps.append(prog.count)
                    prog.append(.jmp(0))
                    prog[split] = .split(split + 1, prog.count)
                } else {
                    emit(x)
                }
            }
            for j in jumps { prog[j] = .jmp(prog.count) }
        case .rep(let x, let mn, let mx):
            for _ in 0..<mn { emit(x) }
            if let mx {
                var splits: [Int] = []
                for _ in mn..<mx {
                    splits.append(prog.count)
                    prog.append(.split(0, 0))
                    emit(x)
                }
                for s in splits { prog[s] = .split(s + 1, prog.count) }
            } else {
                let loop = prog.count
                prog.append(.split(0, 0))
                emit(x)
                prog.append(.jmp(loop))
                prog[loop] = .split(loop + 1, prog.count)
            }
        }
    }
}

struct RegexParser {
    struct Flags {
        var caseInsensitive = false
        var dotNL = false
        var multiline = false
    }

    let s: [Unicode.Scalar]
    var i = 0
    var flags = Flags()
    var depth = 0
    let maxRepeat: Int

    init(_ s: [Unicode.Scalar], maxRepeat: Int) {
        self.s = s
        self.maxRepeat = maxRepeat
    }

    func error(_ msg: String) -> CELRegex.Error { CELRegex.Error(message: msg) }

    mutating func parse() throws(CELRegex.Error) -> RNode {
        let n = try parseAlt()
        if i < s.count {  // stray ')'
            throw error("unexpected ) at offset \(i)")
        }
        return n
    }

    func peek(_ k: Int = 0) -> Unicode.Scalar? { i + k < s.count ? s[i + k] : nil }

    mutating func parseAlt() throws(CELRegex.Error) -> RNode {
        var alts = [try parseConcat()]
        while peek() == "|" {
            i += 1
            alts.append(try parseConcat())
        }
        return alts.count == 1 ? alts[0] : .alt(alts)
    }

    mutating func parseConcat() throws(CELRegex.Error) -> RNode {
        var items: [RNode] = []
        while let c = peek(), c != "|", c != ")" {
            if let atom = try parseRepeat() { items.append(atom) }
        }
        return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .cat(items))
    }

    /// Parses `{n}`, `{n,}`, `{n,m}` at the current position; nil (position unchanged) if not a repetition.
    mutating func parseBraces() throws(CELRegex.Error) -> (Int, Int?)? {
        guard peek() == "{" else { return nil }
        var j = i + 1
        func num(_ j: inout Int) -> Int? {
            var v = 0, any = false
            while j < s.count, s[j] >= "0", s[j] <= "9" {
                v = Swift.min(v * 10 + Int(s[j].value - 48), 1_000_000)
                j += 1; any = true
            }
            return any ? v : nil
        }
        guard let mn = num(&j) else { return nil }
        var mx: Int? = mn
        if j < s.count, s[j] == "," {
            j += 1
            mx = num(&j)
        }
        guard j < s.count, s[j] == "}" else { return nil }
        if mn > maxRepeat || (mx ?? 0) > maxRepeat { throw error("bad repetition count: maximum is \(maxRepeat)") }
        if let mx, mx < mn { throw error("bad repetition range {\(mn),\(mx)}") }
        i = j + 1
        return (mn, mx)
    }

    mutating func parseRepeat() throws(CELRegex.Error) -> RNode? {
        guard let atom = try parseAtom() else { return nil }
        var node = atom
        var quantified = false
        while let c = peek() {
            var mn = 0, mx: Int? = nil
            if c == "*" { i += 1 } else if c == "+" { mn = 1; i += 1 } else if c == "?" { mx = 1; i += 1 } else if let (a, b) = try parseBraces() {
                mn = a; mx = b
            } else {
                break
            }
            if quantified { throw error("bad repetition operator: repeated quantifier") }
            if case .assert = atom { /* allowed, harmless */ }
            quantified = true
            if peek() == "?" { i += 1 }  // lazy: same language for matching
            node = .rep(node, min: mn, max: mx)
        }
        return node
    }

    func foldSet(_ c: UInt32) -> [UInt32] {
        guard let u = Unicode.Scalar(c) else { return [c] }
        var out: Set<UInt32> = [c]
        for m in [u.properties.lowercaseMapping, u.properties.uppercaseMapping, u.properties.titlecaseMapping] {
            let us = Array(m.unicodeScalars)
            if us.count == 1 { out.insert(us[0].value) }
        }
        return out.sorted()
    }

    func literal(_ c: UInt32) -> RNode {
        if flags.caseInsensitive {
            let f = foldSet(c)
            if f.count > 1 { return .cls(normalize(f.map { $0...$0 }), negated: false) }
        }
        return .lit(c)
    }

    func classNode(_ ranges: [ClosedRange<UInt32>], negated: Bool) -> RNode {
        var rs = ranges
        if flags.caseInsensitive {
            var extra: [ClosedRange<UInt32>] = []
            for r in ranges where r.count <= 2000 {
                for c in r { for f in foldSet(c) where f != c { extra.append(f...f) } }
            }
            rs += extra
        }
        return .cls(normalize(rs), negated: negated)
    }

    mutating func parseAtom() throws(CELRegex.Error) -> RNode? {
        guard let c = peek() else { return nil }
        switch c {
        case "(":
            return try parseGroup()
        case "[":
            return try parseClass()
        case ".":
            i += 1
            return .any(matchesNewline: flags.dotNL)
        case "^":
            i += 1
            return .assert(flags.multiline ? .beginLine : .beginText)
        case "$":
            i += 1
            return .assert(flags.multiline ? .endLine : .endText)
        case "*", "+", "?":
            throw error("missing argument to repetition operator: \(c)")
        case "{":
            let save = i
            if (try parseBraces()) != nil { i = save; throw error("missing argument to repetition operator: {") }
            i += 1
            return literal(c.value)
        case "\\":
            return try parseEscape(inClass: false).node(self)
        default:
            i += 1
            return literal(c.value)
        }
    }

    mutating func parseGroup() throws(CELRegex.Error) -> RNode? {
        i += 1  // '('
        depth += 1
        defer { depth -= 1 }
        if depth > 200 { throw error("regular expression nested too deeply") }
        let saved = flags
        if peek() == "?" {
            i += 1
            guard let c = peek() else { throw error("missing closing )") }
            if c == "P" || (c == "<" && peek(1) != "=" && peek(1) != "!") {
                // named capture (?P<name>re) or (?<name>re)
                if c == "P" { i += 1 }
                guard peek() == "<" else { throw error("invalid named capture") }
                while let d = peek(), d != ">" { i += 1 }
                guard peek() == ">" else { throw error("invalid named capture") }
                i += 1
            } else if c == "=" || c == "!" || c == "<" {
                throw error("lookaround assertions (?=, ?!, ?<=, ?<!) are not supported")
            } else {
                // flags: (?imsU-imsU) or (?flags:re)
                var negate = false
                var sawFlag = false
                while let d = peek(), d != ")", d != ":" {
                    switch d {
                    case "i": flags.caseInsensitive = !negate
                    case "s": flags.dotNL = !negate
                    case "m": flags.multiline = !negate
                    case "U": break
                    case "-":
                        if negate { throw error("invalid flag syntax") }
                        negate = true
                    default: throw error("invalid or unsupported flag '\(d)' in group")
                    }
                    if d != "-" { sawFlag = true }
                    i += 1
                }
                guard let end = peek() else { throw error("missing closing )") }
                i += 1
                if end == ")" {
                    // (?flags) applies to the rest of the enclosing group: keep modified flags.
                    if !sawFlag && !negate { throw error("empty flag group") }
                    return nil
                }
                // (?flags:re) or (?:re): parse body with flags, then restore
            }
        }
        let body = try parseAlt()
        guard peek() == ")" else { throw error("missing closing )") }
        i += 1
        flags = saved
        return body
    }

    enum Escape {
        case char(UInt32)
        case ranges([ClosedRange<UInt32>], negated: Bool)
        case assertion(CELRegex.Assertion)

        func node(_ p: RegexParser) -> RNode {
            switch self {
            case .char(let c): return p.literal(c)
            case .ranges(let r, let neg): return .cls(normalize(r), negated: neg)
            case .assertion(let a): return .assert(a)
            }
        }
    }

    static let digit: [ClosedRange<UInt32>] = [48...57]
    static let word: [ClosedRange<UInt32>] = [48...57, 65...90, 95...95, 97...122]
    static let space: [ClosedRange<UInt32>] = [9...10, 12...13, 32...32]

    mutating func parseEscape(inClass: Bool) throws(CELRegex.Error) -> Escape {
        i += 1  // backslash
        guard let c = peek() else { throw error("trailing backslash at end of expression") }
        i += 1
        switch c {
        case "d": return .ranges(RegexParser.digit, negated: false)
        case "D": return .ranges(RegexParser.digit, negated: true)
        case "w": return .ranges(RegexParser.word, negated: false)
        case "W": return .ranges(RegexParser.word, negated: true)
        case "s": return .ranges(RegexParser.space, negated: false)
        case "S": return .ranges(RegexParser.space, negated: true)
        case "n": return .char(10)
        case "t": return .char(9)
        case "r": return .char(13)
        case "f": return .char(12)
        case "v": return .char(11)
        case "a": return .char(7)
        case "b" where !inClass: return .assertion(.wordBoundary)
        case "B" where !inClass: return .assertion(.notWordBoundary)
        case "A" where !inClass: return .assertion(.beginText)
        case "z" where !inClass: return .assertion(.endText)
        case "x":
            var v: UInt32 = 0
            if peek() == "{" {
                i += 1
                var n = 0
                while let d = peek(), d != "}" {
                    guard let h = d.properties.isASCIIHexDigit ? UInt32(String(d), radix: 16) : nil else { throw error("invalid \\x escape") }
                    v = v * 16 + h; n += 1; i += 1
                    if v > 0x10FFFF { throw error("invalid \\x escape: code point out of range") }
                }
                guard peek() == "}", n > 0 else { throw error("invalid \\x escape") }
                i += 1
            } else {
                for _ in 0..<2 {
                    guard let d = peek(), d.properties.isASCIIHexDigit, let h = UInt32(String(d), radix: 16) else { throw error("invalid \\x escape") }
                    v = v * 16 + h; i += 1
                }
            }
            return .char(v)
        case "0":
            // octal \0, \0n, \0nn
            var v: UInt32 = 0
            var k = 0
            while k < 2, let d = peek(), d >= "0", d <= "7" { v = v * 8 + (d.value - 48); i += 1; k += 1 }
            return .char(v)
        case "1"..."9":
            throw error("backreferences (\\\(c)) are not supported")
        case "p", "P":
            throw error("Unicode character classes (\\p, \\P) are not supported")
        case "Q", "E", "C", "G", "K", "Z":
            throw error("unsupported escape \\\(c)")
        default:
            if c.properties.isAlphabetic || ("0"..."9").contains(c) {
                throw error("invalid escape sequence \\\(c)")
            }
            return .char(c.value)
        }
    }

    static let posix: [String: [ClosedRange<UInt32>]] = [
        "alnum": [48...57, 65...90, 97...122], "alpha": [65...90, 97...122], "ascii": [0...127],
        "blank": [9...9, 32...32], "cntrl": [0...31, 127...127], "digit": [48...57],
        "graph": [33...126], "lower": [97...122], "print": [32...126],
        "punct": [33...47, 58...64, 91...96, 123...126], "space": [9...13, 32...32],
        "upper": [65...90], "word": [48...57, 65...90, 95...95, 97...122], "xdigit": [48...57, 65...70, 97...102],
    ]

    mutating func parseClass() throws(CELRegex.Error) -> RNode {
        i += 1  // '['
        var negated = false
        if peek() == "^" { negated = true; i += 1 }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while true {
            guard let c = peek() else { throw error("missing closing ]") }
            if c == "]" && !first { i += 1; break }
            first = false
            // POSIX class
            if c == "[", peek(1) == ":" {
                var j = i + 2
                var name = ""
                var negPosix = false
                if j < s.count, s[j] == "^" { negPosix = true; j += 1 }
                while j < s.count, s[j] != ":" { name.unicodeScalars.append(s[j]); j += 1 }
                if j + 1 < s.count, s[j] == ":", s[j + 1] == "]", let r = RegexParser.posix[name] {
                    ranges += negPosix ? complement(normalize(r)) : r
                    i = j + 2
                    continue
                }
                throw error("invalid POSIX character class")
            }
            var lo: UInt32
            if c == "\\" {
                switch try parseEscape(inClass: true) {
                case .char(let v): lo = v
                case .ranges(let r, let neg):
                    ranges += neg ? complement(normalize(r)) : r
                    continue
                case .assertion: throw error("invalid escape in character class")
                }
            } else {
                lo = c.value
                i += 1
            }
            // range?
            if peek() == "-", let n = peek(1), n != "]" {
                i += 1
                var hi: UInt32
                if n == "\\" {
                    guard case .char(let v) = try parseEscape(inClass: true) else { throw error("invalid character class range") }
                    hi = v
                } else {
                    hi = n.value
                    i += 1
                }
                if hi < lo { throw error("invalid character class range") }
                ranges.append(lo...hi)
            } else {
                ranges.append(lo...lo)
            }
        }
        return classNode(ranges, negated: negated)
    }
}

func normalize(_ rs: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
    let sorted = rs.sorted { $0.lowerBound < $1.lowerBound }
    var out: [ClosedRange<UInt32>] = []
    for r in sorted {
        if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
            out[out.count - 1] = last.lowerBound...Swift.max(last.upperBound, r.upperBound)
        } else {
            out.append(r)
        }
    }
    return out
}

func complement(_ rs: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
    var out: [ClosedRange<UInt32>] = []
    var next: UInt32 = 0
    for r in rs {
        if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
        next = r.upperBound + 1
    }
    if next <= 0x10FFFF { out.append(next...0x10FFFF) }
    return out
}
