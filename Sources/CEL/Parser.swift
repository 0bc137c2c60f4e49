/// The CEL macros that iterate over a list (elements) or a map (keys).
public enum CELMacro: String, Sendable, Hashable {
    case all
    case exists
    case existsOne = "exists_one"
    case map
    case filter
}

/// Parsed (unchecked) expression tree. Macros are expanded at parse time.
final class Expr {
    enum Kind {
        case literal(CELValue)
        case ident(String)
        case select(Expr, field: String, testOnly: Bool)
        case call(String, target: Expr?, args: [Expr])
        case list([Expr])
        case map([(Expr, Expr)])
        case comprehension(CELMacro, range: Expr, variable: String, predicate: Expr?, transform: Expr?)
    }

    let kind: Kind
    let loc: CELSourceLocation
    let depth: Int
    /// Leftmost source position covered by this expression.
    let start: CELSourceLocation

    init(_ kind: Kind, _ loc: CELSourceLocation) {
        self.kind = kind
        self.loc = loc
        var children: [Expr] = []
        switch kind {
        case .literal, .ident: break
        case .select(let e, _, _): children = [e]
        case .call(_, let t, let args): children = (t.map { [$0] } ?? []) + args
        case .list(let es): children = es
        case .map(let es): children = es.flatMap { [$0.0, $0.1] }
        case .comprehension(_, let r, _, let p, let t): children = [r] + [p, t].compactMap { $0 }
        }
        depth = (children.map(\.depth).max() ?? 0) + 1
        var st = loc
        for c in children where c.start.offset < st.offset { st = c.start }
        start = st
    }
}

struct Parser {
    let tokens: [Token]
    var p = 0
    var nesting = 0
    let maxDepth: Int

    init(tokens: [Token], maxDepth: Int) {
        self.tokens = tokens
        self.maxDepth = maxDepth
    }

    static func parse(_ source: String, limits: CELLimits) throws(CELCompileError) -> Expr {
        let utf8Count = source.utf8.count
        if utf8Count > limits.maxSourceLength {
            throw CELCompileError(
                .limit, "expression too long: \(utf8Count) bytes exceeds the limit of \(limits.maxSourceLength)",
                at: CELSourceLocation(offset: 0, line: 1, column: 1))
        }
        var lexer = Lexer(source)
        let toks = try lexer.tokenize()
        var parser = Parser(tokens: toks, maxDepth: limits.maxNestingDepth)
        let e = try parser.parseExpr()
        let t = parser.cur
        if case .eof = t.kind {} else {
            throw CELCompileError(.syntax, "unexpected \(describe(t)) after end of expression", at: t.loc)
        }
        return e
    }

    var cur: Token { tokens[p] }
    func peekTok(_ k: Int) -> Token { tokens[min(p + k, tokens.count - 1)] }

    mutating func advance() { if p < tokens.count - 1 { p += 1 } }

    func isPunct(_ s: String) -> Bool { cur.isPunct(s) }

    mutating func accept(_ s: String) -> Bool {
        if isPunct(s) { advance(); return true }
        return false
    }

    mutating func expect(_ s: String, context: String) throws(CELCompileError) {
        if accept(s) { return }
        throw CELCompileError(.syntax, "expected '\(s)' \(context) but found \(Parser.describe(cur))", at: cur.loc)
    }

    static func describe(_ t: Token) -> String {
        if case .eof = t.kind { return "end of input" }
        return "'\(t.text)'"
    }

    func mk(_ kind: Expr.Kind, _ loc: CELSourceLocation) throws(CELCompileError) -> Expr {
        let e = Expr(kind, loc)
        if e.depth > maxDepth {
            throw CELCompileError(.limit, "expression nested too deeply (maximum depth is \(maxDepth))", at: loc)
        }
        return e
    }

    mutating func parseExpr() throws(CELCompileError) -> Expr {
        nesting += 1
        defer { nesting -= 1 }
        if nesting > maxDepth {
            throw CELCompileError(.limit, "expression nested too deeply (maximum depth is \(maxDepth))", at: cur.loc)
        }
        let c = try parseLogical(or: true)
        if isPunct("?") {
            let qloc = cur.loc
            advance()
            let t = try parseLogical(or: true)
            try expect(":", context: "in conditional expression")
            let f = try parseExpr()
            return try mk(.call("_?_:_", target: nil, args: [c, t, f]), qloc)
        }
        return c
    }

    /// `||` and `&&` chains are collected and built as balanced trees (their semantics are
    /// commutative), so long chains do not produce deep trees.
    mutating func parseLogical(or: Bool) throws(CELCompileError) -> Expr {
        let op = or ? "||" : "&&"
        var terms = [or ? try parseLogical(or: false) : try parseBinary(3)]
        var locs: [CELSourceLocation] = []
        while isPunct(op) {
            locs.append(cur.loc)
            advance()
            terms.append(or ? try parseLogical(or: false) : try parseBinary(3))
        }
        if terms.count == 1 { return terms[0] }
        return try balance(or ? "_||_" : "_&&_", terms, locs, 0, terms.count - 1)
    }

    func balance(_ fn: String, _ terms: [Expr], _ locs: [CELSourceLocation], _ lo: Int, _ hi: Int) throws(CELCompileError) -> Expr {
        if lo == hi { return terms[lo] }
        let mid = (lo + hi + 1) / 2
        let l = try balance(fn, terms, locs, lo, mid - 1)
        let r = try balance(fn, terms, locs, mid, hi)
        return try mk(.call(fn, target: nil, args: [l, r]), locs[mid - 1])
    }

    static func binaryOp(_ t: Token, level: Int) -> String? {
        guard case .punct(let s) = t.kind else { return nil }
        switch level {
        case 3:
            switch s {
            case "<": return "_<_"
            case "<=": return "_<=_"
            case ">": return "_>_"
            case ">=": return "_>=_"
            case "==": return "_==_"
            case "!=": return "_!=_"
            case "in": return "@in"
            default: return nil
            }
        case 4:
            return s == "+" ? "_+_" : s == "-" ? "_-_" : nil
        case 5:
            return s == "*" ? "_*_" : s == "/" ? "_/_" : s == "%" ? "_%_" : nil
        default: return nil
        }
    }

    mutating func parseBinary(_ level: Int) throws(CELCompileError) -> Expr {
        var lhs = level == 5 ? try parseUnary() : try parseBinary(level + 1)
        while let op = Parser.binaryOp(cur, level: level) {
            let loc = cur.loc
            advance()
            let rhs = level == 5 ? try parseUnary() : try parseBinary(level + 1)
            lhs = try mk(.call(op, target: nil, args: [lhs, rhs]), loc)
        }
        return lhs
    }

    mutating func parseUnary() throws(CELCompileError) -> Expr {
        if isPunct("!") {
            var locs: [CELSourceLocation] = []
            while isPunct("!") { locs.append(cur.loc); advance() }
            var e = try parseMember()
            for l in locs.reversed() { e = try mk(.call("!_", target: nil, args: [e]), l) }
            return e
        }
        if isPunct("-") {
            var locs: [CELSourceLocation] = []
            while isPunct("-") { locs.append(cur.loc); advance() }
            var e: Expr
            let next = peekTok(1)
            let followedByMember = next.isPunct(".") || next.isPunct("[") || next.isPunct("(")
            if !followedByMember, case .intLit(let m) = cur.kind {
                // Fold the innermost negation into the literal so that -9223372036854775808 is valid.
                let loc = locs.removeLast()
                guard m <= UInt64(Int64.max) + 1 else {
                    throw CELCompileError(.syntax, "integer literal out of range", at: cur.loc)
                }
                advance()
                e = try mk(.literal(.int(m == UInt64(Int64.max) + 1 ? Int64.min : -Int64(m))), loc)
            } else if !followedByMember, case .doubleLit(let d) = cur.kind {
                let loc = locs.removeLast()
                advance()
                e = try mk(.literal(.double(-d)), loc)
            } else {
                e = try parseMember()
            }
            for l in locs.reversed() { e = try mk(.call("-_", target: nil, args: [e]), l) }
            return e
        }
        return try parseMember()
    }

    mutating func parseIdentName(after what: String) throws(CELCompileError) -> (String, CELSourceLocation) {
        let t = cur
        guard case .ident(let name) = t.kind else {
            throw CELCompileError(.syntax, "expected identifier \(what) but found \(Parser.describe(t))", at: t.loc)
        }
        if celReservedWords.contains(name) {
            throw CELCompileError(.syntax, "'\(name)' is a reserved word and cannot be used as an identifier", at: t.loc)
        }
        advance()
        return (name, t.loc)
    }

    mutating func parseMember() throws(CELCompileError) -> Expr {
        var e = try parsePrimary()
        while true {
            if isPunct(".") {
                advance()
                let (name, nloc) = try parseIdentName(after: "after '.'")
                if isPunct("(") {
                    let args = try parseArgs(close: ")")
                    e = try makeReceiverCall(target: e, name: name, args: args, loc: nloc)
                } else {
                    e = try mk(.select(e, field: name, testOnly: false), nloc)
                }
            } else if isPunct("[") {
                let loc = cur.loc
                advance()
                let idx = try parseExpr()
                try expect("]", context: "to close index expression")
                e = try mk(.call("_[_]", target: nil, args: [e, idx]), loc)
            } else if isPunct("{") {
                throw CELCompileError(.syntax, "message construction (Type{...}) is not supported", at: cur.loc)
            } else {
                return e
            }
        }
    }

    mutating func parseArgs(close: String) throws(CELCompileError) -> [Expr] {
        // current token is the opening bracket
        advance()
        var args: [Expr] = []
        if accept(close) { return args }
        while true {
            args.append(try parseExpr())
            if accept(close) { return args }
            try expect(",", context: "or '\(close)' in argument list")
            if accept(close) { return args }  // trailing comma
        }
    }

    mutating func makeReceiverCall(target: Expr, name: String, args: [Expr], loc: CELSourceLocation) throws(CELCompileError) -> Expr {
        let macro: CELMacro?
        switch name {
        case "all": macro = args.count == 2 ? .all : nil
        case "exists": macro = args.count == 2 ? .exists : nil
        case "exists_one", "existsOne": macro = args.count == 2 ? .existsOne : nil
        case "map": macro = args.count == 2 || args.count == 3 ? .map : nil
        case "filter": macro = args.count == 2 ? .filter : nil
        default: macro = nil
        }
        guard let m = macro else {
            if ["all", "exists", "exists_one", "existsOne", "filter"].contains(name) {
                throw CELCompileError(.syntax, "\(name)() takes two arguments: a variable name and a predicate, e.g. list.\(name)(x, x > 0)", at: loc)
            }
            if name == "map" {
                throw CELCompileError(.syntax, "map() takes two or three arguments, e.g. list.map(x, x * 2) or list.map(x, x > 0, x * 2)", at: loc)
            }
            return try mk(.call(name, target: target, args: args), loc)
        }
        guard case .ident(let v) = args[0].kind else {
            throw CELCompileError(.syntax, "the first argument of \(name)() must be a simple identifier", at: args[0].start)
        }
        switch m {
        case .map:
            if args.count == 3 {
                return try mk(.comprehension(.map, range: target, variable: v, predicate: args[1], transform: args[2]), loc)
            }
            return try mk(.comprehension(.map, range: target, variable: v, predicate: nil, transform: args[1]), loc)
        default:
            return try mk(.comprehension(m, range: target, variable: v, predicate: args[1], transform: nil), loc)
        }
    }

    mutating func parsePrimary() throws(CELCompileError) -> Expr {
        let t = cur
        switch t.kind {
        case .intLit(let v):
            guard v <= UInt64(Int64.max) else { throw CELCompileError(.syntax, "integer literal out of range", at: t.loc) }
            advance()
            return try mk(.literal(.int(Int64(v))), t.loc)
        case .uintLit(let v): advance(); return try mk(.literal(.uint(v)), t.loc)
        case .doubleLit(let d): advance(); return try mk(.literal(.double(d)), t.loc)
        case .stringLit(let s): advance(); return try mk(.literal(.string(s)), t.loc)
        case .bytesLit(let b): advance(); return try mk(.literal(.bytes(b)), t.loc)
        case .trueLit: advance(); return try mk(.literal(.bool(true)), t.loc)
        case .falseLit: advance(); return try mk(.literal(.bool(false)), t.loc)
        case .nullLit: advance(); return try mk(.literal(.null), t.loc)
        case .ident:
            let (name, loc) = try parseIdentName(after: "")
            if isPunct("(") {
                let args = try parseArgs(close: ")")
                if name == "has" {
                    guard args.count == 1, case .select(let operand, let field, false) = args[0].kind else {
                        throw CELCompileError(.syntax, "invalid argument to has() macro: expected a field selection like has(profile.field)", at: loc)
                    }
                    // keep the field's position so errors point at the selected field
                    return try mk(.select(operand, field: field, testOnly: true), args[0].loc)
                }
                return try mk(.call(name, target: nil, args: args), loc)
            }
            return try mk(.ident(name), loc)
        case .punct(let s):
            switch s {
            case ".":
                // leading-dot (root-scoped) identifier
                advance()
                let (name, loc) = try parseIdentName(after: "after leading '.'")
                if isPunct("(") {
                    let args = try parseArgs(close: ")")
                    return try mk(.call(name, target: nil, args: args), loc)
                }
                return try mk(.ident(name), loc)
            case "(":
                advance()
                let e = try parseExpr()
                try expect(")", context: "to close parenthesized expression")
                return e
            case "[":
                let elems = try parseArgs(close: "]")
                return try mk(.list(elems), t.loc)
            case "{":
                advance()
                var entries: [(Expr, Expr)] = []
                if !accept("}") {
                    while true {
                        let k = try parseExpr()
                        try expect(":", context: "after map key")
                        let v = try parseExpr()
                        entries.append((k, v))
                        if accept("}") { break }
                        try expect(",", context: "or '}' in map literal")
                        if accept("}") { break }
                    }
                }
                return try mk(.map(entries), t.loc)
            default:
                break
            }
        default:
            break
        }
        if case .eof = t.kind {
            throw CELCompileError(.syntax, "unexpected end of input: expected an expression", at: t.loc)
        }
        throw CELCompileError(.syntax, "unexpected \(Parser.describe(t)): expected an expression", at: t.loc)
    }
}
