/// Overload signature used by the checker.
struct Signature {
    let receiver: Bool
    let params: [CELType]
    let result: CELType
}

private let A = CELType.typeParam("A")
private let B = CELType.typeParam("B")

private func g(_ params: [CELType], _ result: CELType) -> Signature { Signature(receiver: false, params: params, result: result) }
private func r(_ params: [CELType], _ result: CELType) -> Signature { Signature(receiver: true, params: params, result: result) }

let builtinSignatures: [CELFunction: [Signature]] = {
    var t: [CELFunction: [Signature]] = [:]
    t[.add] = [
        g([.int, .int], .int), g([.uint, .uint], .uint), g([.double, .double], .double),
        g([.string, .string], .string), g([.bytes, .bytes], .bytes), g([.list(A), .list(A)], .list(A)),
        g([.timestamp, .duration], .timestamp), g([.duration, .timestamp], .timestamp), g([.duration, .duration], .duration),
    ]
    t[.subtract] = [
        g([.int, .int], .int), g([.uint, .uint], .uint), g([.double, .double], .double),
        g([.timestamp, .timestamp], .duration), g([.timestamp, .duration], .timestamp), g([.duration, .duration], .duration),
    ]
    t[.multiply] = [g([.int, .int], .int), g([.uint, .uint], .uint), g([.double, .double], .double)]
    t[.divide] = t[.multiply]
    t[.modulo] = [g([.int, .int], .int), g([.uint, .uint], .uint)]
    t[.negate] = [g([.int], .int), g([.double], .double)]
    t[.not] = [g([.bool], .bool)]
    var ordering: [Signature] = [
        g([.int, .int], .bool), g([.uint, .uint], .bool), g([.double, .double], .bool),
        g([.string, .string], .bool), g([.bytes, .bytes], .bool), g([.bool, .bool], .bool),
        g([.timestamp, .timestamp], .bool), g([.duration, .duration], .bool),
    ]
    // Cross-type numeric ordering (cel-spec comparisons.textproto, "lt_dyn_int_double" etc.).
    for a in [CELType.int, .uint, .double] {
        for b in [CELType.int, .uint, .double] where a != b { ordering.append(g([a, b], .bool)) }
    }
    t[.less] = ordering
    t[.lessOrEqual] = ordering
    t[.greater] = ordering
    t[.greaterOrEqual] = ordering
    t[.size] = [
        g([.string], .int), g([.bytes], .int), g([.list(A)], .int), g([.map(A, B)], .int),
        r([.string], .int), r([.bytes], .int), r([.list(A)], .int), r([.map(A, B)], .int),
    ]
    t[.contains] = [r([.string, .string], .bool)]
    t[.startsWith] = [r([.string, .string], .bool)]
    t[.endsWith] = [r([.string, .string], .bool)]
    t[.matches] = [r([.string, .string], .bool), g([.string, .string], .bool)]
    t[.toInt] = [g([.int], .int), g([.uint], .int), g([.double], .int), g([.string], .int), g([.timestamp], .int)]
    t[.toUint] = [g([.int], .uint), g([.uint], .uint), g([.double], .uint), g([.string], .uint)]
    t[.toDouble] = [g([.int], .double), g([.uint], .double), g([.double], .double), g([.string], .double)]
    t[.toString] = [
        g([.int], .string), g([.uint], .string), g([.double], .string), g([.string], .string), g([.bytes], .string),
        g([.bool], .string), g([.timestamp], .string), g([.duration], .string),
    ]
    t[.toBytes] = [g([.string], .bytes), g([.bytes], .bytes)]
    t[.toBool] = [g([.bool], .bool), g([.string], .bool)]
    t[.timestamp] = [g([.string], .timestamp), g([.int], .timestamp), g([.timestamp], .timestamp)]
    t[.duration] = [g([.string], .duration), g([.duration], .duration)]
    let tsGetter = [r([.timestamp], .int), r([.timestamp, .string], .int)]
    for f in [CELFunction.getFullYear, .getMonth, .getDate, .getDayOfMonth, .getDayOfWeek, .getDayOfYear] { t[f] = tsGetter }
    for f in [CELFunction.getHours, .getMinutes, .getSeconds, .getMilliseconds] { t[f] = tsGetter + [r([.duration], .int)] }
    return t
}()

let functionsByName: [String: CELFunction] = {
    var m: [String: CELFunction] = [:]
    for f in CELFunction.allCases { m[f.rawValue] = f }
    m["existsOne"] = nil
    return m
}()

/// Type checker: resolves identifiers/functions and computes static types.
struct Checker {
    let variables: [String: CELType]
    let strict: Bool
    var scopes: [(name: String, type: CELType)] = []

    init(variables: [String: CELType], strict: Bool) {
        self.variables = variables
        self.strict = strict
    }

    func fail(_ msg: String, _ loc: CELSourceLocation) throws(CELCompileError) {
        if strict { throw CELCompileError(.type, msg, at: loc) }
    }

    func node(_ k: CELCheckedExpr.Kind, _ t: CELType, _ loc: CELSourceLocation) -> CELCheckedExpr {
        CELCheckedExpr(k, type: t, location: loc)
    }

    static let typeDenotations: [String: CELType] = [
        "int": .int, "uint": .uint, "double": .double, "bool": .bool, "string": .string, "bytes": .bytes,
        "list": .list(.dyn), "map": .map(.dyn, .dyn), "null_type": .null, "type": .type(.dyn),
    ]

    mutating func check(_ e: Expr) throws(CELCompileError) -> CELCheckedExpr {
        switch e.kind {
        case .literal(let v):
            return node(.constant(v), v.celType, e.loc)

        case .ident(let name):
            if let i = scopes.lastIndex(where: { $0.name == name }) {
                return node(.iterationVariable(name, slot: i), scopes[i].type, e.loc)
            }
            if let t = variables[name] { return node(.variable(name), t, e.loc) }
            if let t = Checker.typeDenotations[name] { return node(.constant(.type(t)), .type(t), e.loc) }
            throw CELCompileError(.type, "undeclared reference to '\(name)'", at: e.loc)

        case .select(let operandExpr, let field, let testOnly):
            let operand = try check(operandExpr)
            let (t, declared) = try selectType(operand.type, field, e.loc)
            if testOnly { return node(.presenceTest(operand, field: field), .bool, e.loc) }
            return node(.select(operand, field: field, declaredType: declared), t, e.loc)

        case .list(let elems):
            let checked = try elems.map { (x) throws(CELCompileError) in try check(x) }
            var elemType: CELType? = nil
            for c in checked {
                elemType = elemType.map { Checker.join($0, c.type) ?? .dyn } ?? c.type
            }
            return node(.list(checked), .list(elemType ?? .dyn), e.loc)

        case .map(let entries):
            var out: [CELCheckedExpr.MapEntry] = []
            var kt: CELType? = nil, vt: CELType? = nil
            for (k, v) in entries {
                let ck = try check(k), cv = try check(v)
                switch ck.type {
                case .int, .uint, .bool, .string, .dyn: break
                default: try fail("unsupported map key type '\(ck.type)': keys must be int, uint, bool or string", k.loc)
                }
                kt = kt.map { Checker.join($0, ck.type) ?? .dyn } ?? ck.type
                vt = vt.map { Checker.join($0, cv.type) ?? .dyn } ?? cv.type
                out.append(.init(key: ck, value: cv))
            }
            return node(.map(out), .map(kt ?? .dyn, vt ?? .dyn), e.loc)

        case .comprehension(let macro, let rangeExpr, let v, let predExpr, let transExpr):
            let range = try check(rangeExpr)
            let elemType: CELType
            switch range.type {
            case .list(let t): elemType = t
            case .map(let k, _): elemType = k
            case .object: elemType = .string
            case .dyn: elemType = .dyn
            default:
                try fail("\(macro.rawValue)() cannot iterate over a value of type '\(range.type)'; expected a list or map", rangeExpr.loc)
                elemType = .dyn
            }
            scopes.append((v, elemType))
            let slot = scopes.count - 1
            defer { scopes.removeLast() }
            let pred = try predExpr.map { (x) throws(CELCompileError) in try check(x) }
            let trans = try transExpr.map { (x) throws(CELCompileError) in try check(x) }
            if let p = pred, !Checker.isBoolish(p.type) {
                try fail("the predicate of \(macro.rawValue)() must be bool, found '\(p.type)'", p.location)
            }
            let resultType: CELType
            switch macro {
            case .all, .exists, .existsOne: resultType = .bool
            case .map: resultType = .list(trans!.type)
            case .filter: resultType = .list(elemType)
            }
            return node(.comprehension(macro, range: range, variable: v, slot: slot, predicate: pred, transform: trans), resultType, e.loc)

        case .call(let name, let target, let argExprs):
            return try checkCall(name, target, argExprs, e.loc)
        }
    }

    static func isBoolish(_ t: CELType) -> Bool {
        switch t {
        case .bool, .dyn: return true
        default: return false
        }
    }

    func selectType(_ t: CELType, _ field: String, _ loc: CELSourceLocation) throws(CELCompileError) -> (CELType, CELType?) {
        switch t {
        case .object(let o):
            if let ft = o.fields[field] { return (ft, ft) }
            var msg = "undefined field '\(field)'"
            if let s = Checker.suggest(field, Array(o.fields.keys)) { msg += "; did you mean '\(s)'?" }
            try fail(msg, loc)
            return (.dyn, nil)
        case .map(let k, let v):
            switch k {
            case .string, .dyn: return (v, nil)
            default:
                try fail("field selection '.\(field)' requires a map with string keys, found '\(t)'", loc)
                return (.dyn, nil)
            }
        case .dyn:
            return (.dyn, nil)
        default:
            try fail("type '\(t)' does not support field selection", loc)
            return (.dyn, nil)
        }
    }

    static func suggest(_ name: String, _ candidates: [String]) -> String? {
        func dist(_ a: [Character], _ b: [Character]) -> Int {
            if a.isEmpty { return b.count }
            if b.isEmpty { return a.count }
            var prev = Array(0...b.count)
            for i in 1...a.count {
                var cur = [i] + Array(repeating: 0, count: b.count)
                for j in 1...b.count {
                    cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                prev = cur
            }
            return prev[b.count]
        }
        let n = Array(name.lowercased())
        var best: (String, Int)? = nil
        for c in candidates.sorted() {
            let d = dist(n, Array(c.lowercased()))
            if d <= Swift.max(1, n.count / 3), best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    // MARK: calls

    mutating func checkCall(_ name: String, _ targetExpr: Expr?, _ argExprs: [Expr], _ loc: CELSourceLocation) throws(CELCompileError) -> CELCheckedExpr {
        switch name {
        case "_&&_", "_||_":
            let a = try check(argExprs[0]), b = try check(argExprs[1])
            if !Checker.isBoolish(a.type) || !Checker.isBoolish(b.type) {
                try fail("no matching overload for '\(name == "_&&_" ? "&&" : "||")' applied to (\(a.type), \(b.type))", loc)
            }
            return node(name == "_&&_" ? .and(a, b) : .or(a, b), .bool, loc)
        case "_?_:_":
            let c = try check(argExprs[0]), t = try check(argExprs[1]), f = try check(argExprs[2])
            if !Checker.isBoolish(c.type) {
                try fail("the condition of '? :' must be bool, found '\(c.type)'", c.location)
            }
            var rt = CELType.dyn
            if let j = Checker.join(t.type, f.type) {
                rt = j
            } else {
                try fail("branches of '? :' have incompatible types '\(t.type)' and '\(f.type)'", loc)
            }
            return node(.conditional(c, t, f), rt, loc)
        default:
            break
        }
        guard let fn = functionsByName[name] else {
            if let t = targetExpr {
                _ = try check(t)
                throw CELCompileError(.type, "undeclared reference to method '\(name)'", at: loc)
            }
            throw CELCompileError(.type, "undeclared reference to function '\(name)'", at: loc)
        }
        var args: [CELCheckedExpr] = []
        if let t = targetExpr { args.append(try check(t)) }
        for a in argExprs { args.append(try check(a)) }
        let types = args.map(\.type)
        let receiver = targetExpr != nil

        switch fn {
        case .equals, .notEquals:
            if !Checker.equalityCompatible(types[0], types[1]) {
                try fail(overloadMessage(fn, types, receiver: false), loc)
            }
            return node(.call(fn, args), .bool, loc)
        case .in:
            var ok = true
            switch types[1] {
            case .list(let el): ok = Checker.equalityCompatible(types[0], el)
            case .map(let k, _): ok = Checker.equalityCompatible(types[0], k)
            case .object: ok = Checker.equalityCompatible(types[0], .string)
            case .dyn: ok = true
            default: ok = false
            }
            if !ok { try fail(overloadMessage(fn, types, receiver: false), loc) }
            return node(.call(fn, args), .bool, loc)
        case .index:
            return node(.call(fn, args), try indexType(args, loc), loc)
        case .dyn:
            guard args.count == 1, !receiver else { throw arity(fn, loc) }
            return node(.call(fn, args), .dyn, loc)
        case .type:
            guard args.count == 1, !receiver else { throw arity(fn, loc) }
            return node(.call(fn, args), .type(types[0]), loc)
        case .min, .max:
            guard !receiver, !args.isEmpty else { throw arity(fn, loc) }
            return node(.call(fn, args), try minMaxType(fn, types, loc), loc)
        default:
            break
        }

        let sigs = (builtinSignatures[fn] ?? []).filter { $0.receiver == receiver && $0.params.count == args.count }
        if sigs.isEmpty {
            let any = builtinSignatures[fn] ?? []
            if any.allSatisfy({ $0.receiver != receiver }) {
                let style = receiver ? "as a method (x.\(fn.rawValue)(...))" : "as a global function (\(fn.rawValue)(...))"
                throw CELCompileError(.type, "'\(fn.displayName)' cannot be called \(style)", at: loc)
            }
            throw arity(fn, loc)
        }
        var results: [CELType] = []
        for s in sigs {
            var subs: [String: CELType] = [:]
            var ok = true
            for (p, a) in zip(s.params, types) where !Checker.unify(p, a, &subs) { ok = false; break }
            if ok { results.append(Checker.substitute(s.result, subs)) }
        }
        if results.isEmpty {
            try fail(overloadMessage(fn, types, receiver: receiver), loc)
            return node(.call(fn, args), .dyn, loc)
        }
        let first = results[0]
        let resultType = results.allSatisfy { $0 == first } ? first : .dyn
        return node(.call(fn, args), resultType, loc)
    }

    func arity(_ fn: CELFunction, _ loc: CELSourceLocation) -> CELCompileError {
        CELCompileError(.type, "wrong number of arguments for '\(fn.displayName)'", at: loc)
    }

    func overloadMessage(_ fn: CELFunction, _ types: [CELType], receiver: Bool) -> String {
        var msg: String
        if fn.isOperator {
            msg = "no matching overload for '\(fn.displayName)' applied to (\(types.map(\.description).joined(separator: ", ")))"
        } else if receiver {
            msg = "no matching overload for '\(types[0]).\(fn.rawValue)(\(types.dropFirst().map(\.description).joined(separator: ", ")))'"
        } else {
            msg = "no matching overload for '\(fn.rawValue)(\(types.map(\.description).joined(separator: ", ")))'"
        }
        if (fn == .equals || fn == .notEquals), types.contains(.null) {
            msg += "; to test whether a field is present use has(...)"
        }
        let numeric = Set(types.filter(\.isNumeric))
        if numeric.count > 1 {
            msg += "; CEL does not convert between int, uint and double implicitly: use int(), uint() or double(), or write 1.0 instead of 1"
        }
        return msg
    }

    func indexType(_ args: [CELCheckedExpr], _ loc: CELSourceLocation) throws(CELCompileError) -> CELType {
        let ct = args[0].type, it = args[1].type
        switch ct {
        case .list(let el):
            switch it {
            case .int, .uint, .dyn: return el
            default:
                try fail("list index must be int, found '\(it)'", args[1].location)
                return .dyn
            }
        case .map(let k, let v):
            if !Checker.equalityCompatible(it, k) {
                try fail("map key must be '\(k)', found '\(it)'", args[1].location)
            }
            return v
        case .object(let o):
            if case .constant(.string(let f)) = args[1].kind {
                if let ft = o.fields[f] { return ft }
                try fail("undefined field '\(f)'", args[1].location)
                return .dyn
            }
            if !Checker.equalityCompatible(it, .string) { try fail("map key must be 'string', found '\(it)'", args[1].location) }
            return .dyn
        case .dyn:
            return .dyn
        default:
            try fail("type '\(ct)' does not support indexing", loc)
            return .dyn
        }
    }

    func minMaxType(_ fn: CELFunction, _ types: [CELType], _ loc: CELSourceLocation) throws(CELCompileError) -> CELType {
        var elems = types
        if types.count == 1 {
            switch types[0] {
            case .list(let e): elems = [e]
            case .dyn: return .dyn
            default:
                try fail("\(fn.rawValue)() needs a list or at least two numbers, found '\(types[0])'", loc)
                return .dyn
            }
        }
        let concrete = elems.filter { !$0.isDyn }
        for t in concrete where !t.isNumeric {
            try fail(overloadMessage(fn, types, receiver: false), loc)
            return .dyn
        }
        guard let first = concrete.first else { return .dyn }
        if concrete.contains(where: { $0 != first }) {
            try fail(overloadMessage(fn, types, receiver: false), loc)
            return .dyn
        }
        return first
    }

    // MARK: type relations

    static func unify(_ p: CELType, _ a: CELType, _ subs: inout [String: CELType]) -> Bool {
        switch (p, a) {
        case (.typeParam(let n), _):
            if let b = subs[n] { return unify(b, a, &subs) }
            subs[n] = a
            return true
        case (_, .dyn), (.dyn, _): return true
        case (.list(let x), .list(let y)): return unify(x, y, &subs)
        case (.map(let k1, let v1), .map(let k2, let v2)): return unify(k1, k2, &subs) && unify(v1, v2, &subs)
        case (.map(let k, let v), .object): return unify(k, .string, &subs) && unify(v, .dyn, &subs)
        case (.type, .type): return true
        default: return p == a
        }
    }

    static func substitute(_ t: CELType, _ subs: [String: CELType]) -> CELType {
        switch t {
        case .typeParam(let n): return subs[n] ?? .dyn
        case .list(let e): return .list(substitute(e, subs))
        case .map(let k, let v): return .map(substitute(k, subs), substitute(v, subs))
        default: return t
        }
    }

    static func isNullable(_ t: CELType) -> Bool {
        switch t {
        case .null, .dyn, .object, .timestamp, .duration: return true
        default: return false
        }
    }

    /// Whether `==` between the two static types can be true. Numbers of different
    /// kinds compare by value (heterogeneous numeric equality).
    static func equalityCompatible(_ a: CELType, _ b: CELType) -> Bool {
        if a.isDyn || b.isDyn { return true }
        if a.isNumeric && b.isNumeric { return true }
        if case .null = a { return isNullable(b) }
        if case .null = b { return isNullable(a) }
        switch (a, b) {
        case (.list(let x), .list(let y)): return equalityCompatible(x, y)
        case (.map(let k1, let v1), .map(let k2, let v2)): return equalityCompatible(k1, k2) && equalityCompatible(v1, v2)
        case (.object, .map(let k, _)), (.map(let k, _), .object): return equalityCompatible(k, .string)
        case (.type, .type): return true
        default: return a == b
        }
    }

    /// Least common type for ternary branches and literal elements, or nil if incompatible.
    static func join(_ a: CELType, _ b: CELType) -> CELType? {
        if a == b { return a }
        if a.isDyn || b.isDyn { return .dyn }
        if case .null = a, isNullable(b) { return b }
        if case .null = b, isNullable(a) { return a }
        switch (a, b) {
        case (.list(let x), .list(let y)): return join(x, y).map { .list($0) }
        case (.map(let k1, let v1), .map(let k2, let v2)):
            guard let k = join(k1, k2), let v = join(v1, v2) else { return nil }
            return .map(k, v)
        case (.type, .type): return .type(.dyn)
        default: return nil
        }
    }
}
