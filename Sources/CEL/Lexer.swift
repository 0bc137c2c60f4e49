/// A position in the expression source. `line` and `column` are 1-based; columns count
/// Unicode scalars (code points); `offset` is the 0-based code-point offset.
public struct CELSourceLocation: Sendable, Hashable, CustomStringConvertible {
    public let offset: Int
    public let line: Int
    public let column: Int

    public init(offset: Int, line: Int, column: Int) {
        self.offset = offset
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// A compile-time error: syntax, type or limit violation, with the line and column.
public struct CELCompileError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case syntax
        case type
        case limit
    }

    public let kind: Kind
    public let message: String
    public let location: CELSourceLocation

    public var line: Int { location.line }
    public var column: Int { location.column }

    public init(_ kind: Kind, _ message: String, at location: CELSourceLocation) {
        self.kind = kind
        self.message = message
        self.location = location
    }

    public var description: String { "\(location.line):\(location.column): \(kind.rawValue) error: \(message)" }
}

enum TokenKind: Equatable {
    case eof
    case ident(String)
    case intLit(UInt64)
    case uintLit(UInt64)
    case doubleLit(Double)
    case stringLit(String)
    case bytesLit([UInt8])
    case trueLit, falseLit, nullLit
    case punct(String)
}

struct Token {
    let kind: TokenKind
    let loc: CELSourceLocation
    let text: String

    func isPunct(_ p: String) -> Bool {
        if case .punct(let q) = kind { return p == q }
        return false
    }
}

let celReservedWords: Set<String> = [
    "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
    "package", "namespace", "return", "var", "void", "while",
]

struct Lexer {
    let src: [Unicode.Scalar]
    var i = 0
    var line = 1
    var lineStart = 0

    init(_ source: String) { src = Array(source.unicodeScalars) }

    func loc(_ offset: Int) -> CELSourceLocation {
        CELSourceLocation(offset: offset, line: line, column: offset - lineStart + 1)
    }

    func peek(_ k: Int = 0) -> Unicode.Scalar? { i + k < src.count ? src[i + k] : nil }

    mutating func newline(at offset: Int) {
        line += 1
        lineStart = offset + 1
    }

    func err(_ msg: String, _ l: CELSourceLocation) -> CELCompileError { CELCompileError(.syntax, msg, at: l) }

    mutating func tokenize() throws(CELCompileError) -> [Token] {
        var out: [Token] = []
        while true {
            let t = try next()
            out.append(t)
            if case .eof = t.kind { break }
        }
        return out
    }

    mutating func skipTrivia() {
        while let c = peek() {
            if c == "\n" {
                newline(at: i); i += 1
            } else if c == "\r" {
                if peek(1) == "\n" { i += 1 }
                newline(at: i); i += 1
            } else if c == " " || c == "\t" || c == "\u{0C}" {
                i += 1
            } else if c == "/" && peek(1) == "/" {
                while let d = peek(), d != "\n", d != "\r" { i += 1 }
            } else {
                break
            }
        }
    }

    static func isIdentStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }

    static func isIdentChar(_ c: Unicode.Scalar) -> Bool { isIdentStart(c) || isDigit(c) }
    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
    static func isHex(_ c: Unicode.Scalar) -> Bool { isDigit(c) || (c >= "a" && c <= "f") || (c >= "A" && c <= "F") }

    func text(_ from: Int) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: src[from..<i])
        return String(s)
    }

    mutating func next() throws(CELCompileError) -> Token {
        skipTrivia()
        let start = i
        let l = loc(start)
        guard let c = peek() else { return Token(kind: .eof, loc: l, text: "end of input") }

        // string / bytes literals with optional prefixes
        if c == "\"" || c == "'" { return try lexString(start: start, raw: false, bytes: false) }
        if c == "r" || c == "R" || c == "b" || c == "B" {
            var j = 1
            var raw = false, bytes = false
            if c == "b" || c == "B" {
                bytes = true
                if let n = peek(1), n == "r" || n == "R" { raw = true; j = 2 }
            } else {
                raw = true
            }
            if let q = peek(j), q == "\"" || q == "'" {
                i += j
                return try lexString(start: start, raw: raw, bytes: bytes)
            }
        }
        if Lexer.isIdentStart(c) {
            while let d = peek(), Lexer.isIdentChar(d) { i += 1 }
            let word = text(start)
            switch word {
            case "true": return Token(kind: .trueLit, loc: l, text: word)
            case "false": return Token(kind: .falseLit, loc: l, text: word)
            case "null": return Token(kind: .nullLit, loc: l, text: word)
            case "in": return Token(kind: .punct("in"), loc: l, text: word)
            default: return Token(kind: .ident(word), loc: l, text: word)
            }
        }
        if Lexer.isDigit(c) || (c == "." && peek(1).map(Lexer.isDigit) == true) {
            return try lexNumber(start: start)
        }
        let two: String? = peek(1).map { String(c) + String($0) }
        if let t = two, ["==", "!=", "<=", ">=", "&&", "||"].contains(t) {
            i += 2
            return Token(kind: .punct(t), loc: l, text: t)
        }
        switch c {
        case "<", ">", "!", "+", "-", "*", "/", "%", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}":
            i += 1
            return Token(kind: .punct(String(c)), loc: l, text: String(c))
        case "=":
            throw err("unexpected '=': use '==' for equality", l)
        case "&":
            throw err("unexpected '&': use '&&' for logical and", l)
        case "|":
            throw err("unexpected '|': use '||' for logical or", l)
        default:
            throw err("unexpected character '\(c.escaped(asASCII: true))'", l)
        }
    }

    mutating func lexNumber(start: Int) throws(CELCompileError) -> Token {
        let l = loc(start)
        // hex
        if peek() == "0", let x = peek(1), x == "x" || x == "X" {
            i += 2
            let ds = i
            while let d = peek(), Lexer.isHex(d) { i += 1 }
            guard i > ds else { throw err("malformed hex literal", l) }
            var s = String.UnicodeScalarView()
            s.append(contentsOf: src[ds..<i])
            guard let v = UInt64(String(s), radix: 16) else { throw err("integer literal out of range", l) }
            if let u = peek(), u == "u" || u == "U" {
                i += 1
                return Token(kind: .uintLit(v), loc: l, text: text(start))
            }
            try checkNumberEnd(l)
            return Token(kind: .intLit(v), loc: l, text: text(start))
        }
        var isFloat = false
        while let d = peek(), Lexer.isDigit(d) { i += 1 }
        if peek() == ".", let d = peek(1), Lexer.isDigit(d) {
            isFloat = true
            i += 1
            while let d = peek(), Lexer.isDigit(d) { i += 1 }
        }
        if let e = peek(), e == "e" || e == "E" {
            var j = 1
            if let s = peek(1), s == "+" || s == "-" { j = 2 }
            if let d = peek(j), Lexer.isDigit(d) {
                isFloat = true
                i += j
                while let d = peek(), Lexer.isDigit(d) { i += 1 }
            } else {
                throw err("malformed exponent in number literal", l)
            }
        }
        let t = text(start)
        if isFloat {
            guard let d = Double(t) else { throw err("malformed floating-point literal", l) }
            try checkNumberEnd(l)
            return Token(kind: .doubleLit(d), loc: l, text: t)
        }
        guard let v = UInt64(t) else { throw err("integer literal out of range", l) }
        if let u = peek(), u == "u" || u == "U" {
            i += 1
            return Token(kind: .uintLit(v), loc: l, text: text(start))
        }
        try checkNumberEnd(l)
        return Token(kind: .intLit(v), loc: l, text: t)
    }

    func checkNumberEnd(_ l: CELSourceLocation) throws(CELCompileError) {
        if let c = peek(), Lexer.isIdentStart(c) {
            throw err("malformed number literal", l)
        }
    }

    mutating func lexString(start: Int, raw: Bool, bytes: Bool) throws(CELCompileError) -> Token {
        let l = loc(start)
        let q = src[i]
        let triple = peek(1) == q && peek(2) == q
        i += triple ? 3 : 1
        var scalars = String.UnicodeScalarView()
        var out: [UInt8] = []
        func appendScalar(_ s: Unicode.Scalar) {
            if bytes { out.append(contentsOf: Array(String(s).utf8)) } else { scalars.append(s) }
        }
        while true {
            guard let c = peek() else {
                throw err("unterminated string literal", l)
            }
            if c == q {
                if !triple { i += 1; break }
                if peek(1) == q && peek(2) == q { i += 3; break }
                appendScalar(c); i += 1
                continue
            }
            if c == "\n" || c == "\r" {
                if !triple { throw err("unterminated string literal (newline in single-quoted string)", l) }
                if c == "\r" && peek(1) == "\n" { i += 1 }
                newline(at: i)
                appendScalar("\n"); i += 1
                continue
            }
            if c == "\\" && !raw {
                let el = loc(i)
                i += 1
                guard let e = peek() else { throw err("unterminated string literal", l) }
                i += 1
                switch e {
                case "\\", "'", "\"", "`", "?": appendScalar(e)
                case "a": appendScalar("\u{07}")
                case "b": appendScalar("\u{08}")
                case "f": appendScalar("\u{0C}")
                case "n": appendScalar("\n")
                case "r": appendScalar("\r")
                case "t": appendScalar("\t")
                case "v": appendScalar("\u{0B}")
                case "x", "X":
                    let v = try hexDigits(2, el)
                    if bytes { out.append(UInt8(v)) } else { appendScalar(Unicode.Scalar(v)!) }
                case "u", "U":
                    let v = try hexDigits(e == "u" ? 4 : 8, el)
                    guard let s = Unicode.Scalar(v) else { throw err("invalid Unicode code point in escape sequence", el) }
                    appendScalar(s)
                case "0", "1", "2", "3":
                    guard let d1 = peek(), let d2 = peek(1), ("0"..."7").contains(d1), ("0"..."7").contains(d2) else {
                        throw err("invalid octal escape sequence", el)
                    }
                    i += 2
                    let v = (e.value - 48) * 64 + (d1.value - 48) * 8 + (d2.value - 48)
                    if bytes { out.append(UInt8(v)) } else { appendScalar(Unicode.Scalar(v)!) }
                default:
                    throw err("invalid escape sequence '\\\(e)'", el)
                }
                continue
            }
            appendScalar(c)
            i += 1
        }
        let t = text(start)
        if bytes { return Token(kind: .bytesLit(out), loc: l, text: t) }
        return Token(kind: .stringLit(String(scalars)), loc: l, text: t)
    }

    mutating func hexDigits(_ n: Int, _ el: CELSourceLocation) throws(CELCompileError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<n {
            guard let d = peek(), Lexer.isHex(d) else { throw err("invalid hex escape sequence", el) }
            v = v * 16 + UInt32(String(d), radix: 16)!
            i += 1
        }
        return v
    }
}
