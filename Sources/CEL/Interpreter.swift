/// Shared placeholder for programs without macros (never written).
nonisolated(unsafe) private let noIterationSlots = UnsafeMutablePointer<CELValue>.allocate(capacity: 1)

/// Mutable per-evaluation state.
final class EvalContext {
    // `let` storage avoids dynamic exclusivity checks on the hot path.
    /// Variable 0 (the first declared variable, usually `profile`), kept out of the array.
    let var0: CELValue
    let vars: [CELValue]
    /// Macro iteration variables, one slot per comprehension nesting level.
    let iter: UnsafeMutablePointer<CELValue>
    let iterSlots: Int
    var cost: Int
    let costLimit: Int
    var costExceeded = false

    init(vars: [CELValue], iterSlots: Int, costLimit: Int, initialCost: Int) {
        self.var0 = vars.first ?? .null
        self.vars = vars
        self.iterSlots = iterSlots
        if iterSlots > 0 {
            self.iter = UnsafeMutablePointer<CELValue>.allocate(capacity: iterSlots)
            self.iter.initialize(repeating: .null, count: iterSlots)
        } else {
            self.iter = noIterationSlots
        }
        self.costLimit = costLimit
        self.cost = initialCost
    }

    /// Single-variable fast path (no array allocation).
    init(single: CELValue, iterSlots: Int, costLimit: Int, initialCost: Int) {
        self.var0 = single
        self.vars = []
        self.iterSlots = iterSlots
        if iterSlots > 0 {
            self.iter = UnsafeMutablePointer<CELValue>.allocate(capacity: iterSlots)
            self.iter.initialize(repeating: .null, count: iterSlots)
        } else {
            self.iter = noIterationSlots
        }
        self.costLimit = costLimit
        self.cost = initialCost
    }

    deinit {
        if iterSlots > 0 {
            iter.deinitialize(count: iterSlots)
            iter.deallocate()
        }
    }

    /// Adds `n` cost units; returns false (and flags the context) once the limit is exceeded.
    @inline(__always)
    func charge(_ n: Int) -> Bool {
        cost &+= n
        if cost > costLimit {
            costExceeded = true
            return false
        }
        return true
    }
}

typealias Eval = @Sendable (EvalContext) -> CELValue

struct Compiled {
    let eval: Eval
    let constant: CELValue?

    init(_ eval: @escaping Eval) {
        self.eval = eval
        constant = nil
    }

    init(constant v: CELValue) {
        eval = { _ in v }
        constant = v
    }
}

@inline(__always)
func attach(_ v: CELValue, _ loc: CELSourceLocation) -> CELValue {
    if case .error(var e) = v, e.location == nil {
        e.location = loc
        return .error(e)
    }
    return v
}

let costExceededError = CELEvalError(.costLimitExceeded, "cost limit exceeded")

/// Compiles a checked expression into a tree of closures (compile once, evaluate many).
struct Interpreter {
    let varIndex: [String: Int]
    let limits: CELLimits
    var maxIterDepth = 0

    init(varIndex: [String: Int], limits: CELLimits) {
        self.varIndex = varIndex
        self.limits = limits
    }

    func errorValue(_ code: CELEvalError.Code, _ msg: String, _ loc: CELSourceLocation) -> CELValue {
        .error(CELEvalError(code, msg, location: loc))
    }

    mutating func compile(_ e: CELCheckedExpr) throws(CELCompileError) -> Compiled {
        let loc = e.location
        switch e.kind {
        case .constant(let v):
            return Compiled(constant: v)

        case .variable(let name):
            guard let idx = varIndex[name] else { return Compiled(constant: errorValue(.unboundVariable, "no such variable '\(name)'", loc)) }
            if idx == 0 { return Compiled { ctx in ctx.var0 } }
            return Compiled { ctx in ctx.vars[idx] }

        case .iterationVariable(_, let slot):
            return Compiled { ctx in ctx.iter[slot] }

        case .select(let operandExpr, let field, let declared):
            let operand = try compile(operandExpr)
            let key = CELMapKey.string(field)
            let o = operand.eval
            let path = e.fieldPath?.description ?? field
            let coerce = declared.flatMap { Interpreter.coercion(for: $0, path: path) }
            let h = CELMap.hash(field)
            if let coerce {
                return Compiled { ctx in
                    let v = o(ctx)
                    if case .map(let m) = v, let x = m.lookup(field, hash: h) {
                        let c = coerce(x)
                        if case .error = c { return attach(c, loc) }
                        return c
                    }
                    return attach(Interpreter.selectStep(v, key, field, path, nil), loc)
                }
            }
            return Compiled { ctx in
                let v = o(ctx)
                if case .map(let m) = v, let x = m.lookup(field, hash: h) { return x }
                return attach(Interpreter.selectStep(v, key, field, path, nil), loc)
            }

        case .presenceTest(let operandExpr, let field):
            let o = try compile(operandExpr).eval
            let key = CELMapKey.string(field)
            let nullAbsent = Interpreter.nullIsAbsent(operandExpr.type, field)
            return Compiled { ctx in attach(Interpreter.presenceStep(o(ctx), key, nullAbsent), loc) }

        case .and(let a, let b):
            let l = try compile(a), r = try compile(b)
            let le = l.eval, re = r.eval
            let folded = Compiled { ctx in
                let x = le(ctx)
                if case .bool(false) = x { return x }
                let y = re(ctx)
                if case .bool(false) = y { return y }
                if case .bool(true) = x, case .bool(true) = y { return y }
                if case .error = x { return x }
                if case .error = y { return y }
                return .error(CELEvalError(.noMatchingOverload, "no matching overload for '&&' applied to (\(x.typeName), \(y.typeName))", location: loc))
            }
            return Interpreter.foldIfConstant(folded, [l, r])

        case .or(let a, let b):
            let l = try compile(a), r = try compile(b)
            let le = l.eval, re = r.eval
            let folded = Compiled { ctx in
                let x = le(ctx)
                if case .bool(true) = x { return x }
                let y = re(ctx)
                if case .bool(true) = y { return y }
                if case .bool(false) = x, case .bool(false) = y { return y }
                if case .error = x { return x }
                if case .error = y { return y }
                return .error(CELEvalError(.noMatchingOverload, "no matching overload for '||' applied to (\(x.typeName), \(y.typeName))", location: loc))
            }
            return Interpreter.foldIfConstant(folded, [l, r])

        case .conditional(let c, let t, let f):
            let ce = try compile(c), te = try compile(t), fe = try compile(f)
            if let cv = ce.constant, case .bool(let b) = cv { return b ? te : fe }
            let cc = ce.eval, tt = te.eval, ff = fe.eval
            return Compiled { ctx in
                let v = cc(ctx)
                switch v {
                case .bool(true): return tt(ctx)
                case .bool(false): return ff(ctx)
                case .error: return v
                default:
                    return .error(CELEvalError(.noMatchingOverload, "no matching overload for '? :': condition is \(v.typeName), not bool", location: loc))
                }
            }

        case .list(let elems):
            let cs = try elems.map { (x) throws(CELCompileError) in try compile(x) }
            if cs.allSatisfy({ $0.constant != nil }) {
                let vals = cs.map { $0.constant! }
                if let err = vals.first(where: \.isError) { return Compiled(constant: err) }
                return Compiled(constant: .list(vals))
            }
            let evals = cs.map(\.eval)
            return Compiled { ctx in
                var out: [CELValue] = []
                out.reserveCapacity(evals.count)
                for ev in evals {
                    let v = ev(ctx)
                    if case .error = v { return v }
                    out.append(v)
                }
                return .list(out)
            }

        case .map(let entries):
            let ks = try entries.map { (x) throws(CELCompileError) in try compile(x.key) }
            let vs = try entries.map { (x) throws(CELCompileError) in try compile(x.value) }
            let build: @Sendable ([CELValue], [CELValue]) -> CELValue = { keys, values in
                var pairs: [(CELMapKey, CELValue)] = []
                pairs.reserveCapacity(keys.count)
                for (k, v) in zip(keys, values) {
                    let mk: CELMapKey
                    switch k {
                    case .bool(let b): mk = .bool(b)
                    case .int(let i): mk = .int(i)
                    case .uint(let u): mk = .uint(u)
                    case .string(let s): mk = .string(s)
                    default:
                        return .error(CELEvalError(.invalidArgument, "unsupported map key type: \(k.typeName)", location: loc))
                    }
                    pairs.append((mk, v))
                }
                guard let m = CELMap.make(pairs) else {
                    return .error(CELEvalError(.invalidArgument, "duplicate key in map literal", location: loc))
                }
                return .map(m)
            }
            if (ks + vs).allSatisfy({ $0.constant != nil }) {
                let kv = ks.map { $0.constant! }, vv = vs.map { $0.constant! }
                for (k, v) in zip(kv, vv) {
                    if k.isError { return Compiled(constant: k) }
                    if v.isError { return Compiled(constant: v) }
                }
                return Compiled(constant: build(kv, vv))
            }
            let ke = ks.map(\.eval), ve = vs.map(\.eval)
            return Compiled { ctx in
                var keys: [CELValue] = [], values: [CELValue] = []
                keys.reserveCapacity(ke.count)
                values.reserveCapacity(ke.count)
                for i in 0..<ke.count {
                    let k = ke[i](ctx)
                    if case .error = k { return k }
                    let v = ve[i](ctx)
                    if case .error = v { return v }
                    keys.append(k)
                    values.append(v)
                }
                return build(keys, values)
            }

        case .comprehension(let macro, let rangeExpr, _, let slot, let predExpr, let transExpr):
            return try compileComprehension(macro, rangeExpr, slot, predExpr, transExpr, loc)

        case .call(let fn, let argExprs):
            return try compileCall(fn, argExprs, loc)
        }
    }

    /// One field-selection step with the interpreter's exact semantics (no location attached).
    static func selectStep(
        _ v: CELValue, _ key: CELMapKey, _ field: String, _ path: String, _ coerce: (@Sendable (CELValue) -> CELValue)?
    ) -> CELValue {
        switch v {
        case .map(let m):
            guard let x = m[key] else {
                return .error(CELEvalError(.noSuchKey, "no such key: '\(field)'" + (path != field ? " (\(path))" : "")))
            }
            return coerce?(x) ?? x
        case .error:
            return v
        default:
            return .error(CELEvalError(.noSuchField, "cannot select field '\(field)' from a value of type \(v.typeName)"))
        }
    }

    /// For declared (typed) fields a JSON null counts as absent in has().
    static func nullIsAbsent(_ operandType: CELType, _ field: String) -> Bool {
        if case .object(let ot) = operandType, let ft = ot.fields[field] {
            switch ft {
            case .dyn, .null: return false
            default: return true
            }
        }
        return false
    }

    /// `has(v.field)` with the interpreter's exact semantics (no location attached).
    static func presenceStep(_ v: CELValue, _ key: CELMapKey, _ nullAbsent: Bool) -> CELValue {
        switch v {
        case .map(let m):
            guard let x = m[key] else { return .bool(false) }
            if nullAbsent, case .null = x { return .bool(false) }
            return .bool(true)
        case .error: return v
        default:
            return .error(CELEvalError(.noMatchingOverload, "has() requires a map or message, found \(v.typeName)"))
        }
    }

    static func foldIfConstant(_ c: Compiled, _ parts: [Compiled]) -> Compiled {
        guard parts.allSatisfy({ $0.constant != nil }) else { return c }
        let ctx = EvalContext(vars: [], iterSlots: 0, costLimit: Int.max, initialCost: 0)
        return Compiled(constant: c.eval(ctx))
    }

    /// Schema-directed conversion of a field value to its declared type
    /// (JSON numbers: int <-> double; RFC 3339 strings -> timestamp; duration strings -> duration).
    static func coercion(for t: CELType, path: String) -> (@Sendable (CELValue) -> CELValue)? {
        @Sendable func mismatch(_ v: CELValue) -> CELValue {
            if case .error = v { return v }
            if case .null = v {
                return .error(CELEvalError(.typeMismatch, "field '\(path)' is null (declared as \(t))"))
            }
            return .error(CELEvalError(.typeMismatch, "field '\(path)' has a value of type \(v.typeName) but is declared as \(t)"))
        }
        switch t {
        case .double:
            return { v in
                switch v {
                case .double: return v
                case .int(let i): return .double(Double(i))
                case .uint(let u): return .double(Double(u))
                default: return mismatch(v)
                }
            }
        case .int:
            return { v in
                switch v {
                case .int: return v
                case .uint(let u) where u <= UInt64(Int64.max): return .int(Int64(u))
                case .double(let d) where d.rounded(.towardZero) == d && d >= -9.223372036854775808e18 && d < 9.223372036854775808e18:
                    return .int(Int64(d))
                default: return mismatch(v)
                }
            }
        case .uint:
            return { v in
                switch v {
                case .uint: return v
                case .int(let i) where i >= 0: return .uint(UInt64(i))
                case .double(let d) where d.rounded(.towardZero) == d && d >= 0 && d < 1.8446744073709551616e19:
                    return .uint(UInt64(d))
                default: return mismatch(v)
                }
            }
        case .bool:
            return { v in if case .bool = v { return v } else { return mismatch(v) } }
        case .string:
            return { v in if case .string = v { return v } else { return mismatch(v) } }
        case .bytes:
            return { v in if case .bytes = v { return v } else { return mismatch(v) } }
        case .timestamp:
            return { v in
                switch v {
                case .timestamp: return v
                case .string(let s):
                    if case .success(let ts) = CELTimestamp.parse(s) { return .timestamp(ts) }
                    return .error(CELEvalError(.typeMismatch, "field '\(path)' is not a valid RFC 3339 timestamp: \(celQuote(s))"))
                default: return mismatch(v)
                }
            }
        case .duration:
            return { v in
                switch v {
                case .duration: return v
                case .string(let s):
                    if case .success(let d) = CELDuration.parse(s) { return .duration(d) }
                    return .error(CELEvalError(.typeMismatch, "field '\(path)' is not a valid duration: \(celQuote(s))"))
                default: return mismatch(v)
                }
            }
        case .list(let el):
            let inner = coercion(for: el, path: path + "[]")
            return { v in
                guard case .list(let l) = v else { return mismatch(v) }
                guard let inner else { return v }
                var out = l
                for i in 0..<l.count {
                    let c = inner(l[i])
                    if case .error = c { return c }
                    out[i] = c
                }
                return .list(out)
            }
        case .map, .object:
            return { v in if case .map = v { return v } else { return mismatch(v) } }
        case .null:
            return { v in if case .null = v { return v } else { return mismatch(v) } }
        case .dyn, .type, .typeParam:
            return nil
        }
    }

    // MARK: comprehensions

    mutating func compileComprehension(
        _ macro: CELMacro, _ rangeExpr: CELCheckedExpr, _ slot: Int, _ predExpr: CELCheckedExpr?, _ transExpr: CELCheckedExpr?,
        _ loc: CELSourceLocation
    ) throws(CELCompileError) -> Compiled {
        maxIterDepth = Swift.max(maxIterDepth, slot + 1)
        let range = try compile(rangeExpr).eval
        let pred = try predExpr.map { (x) throws(CELCompileError) in try compile(x).eval }
        let trans = try transExpr.map { (x) throws(CELCompileError) in try compile(x).eval }
        let bodyCost = 1 + (predExpr?.nodeCount ?? 0) + (transExpr?.nodeCount ?? 0)
        let name = macro.rawValue

        @Sendable func items(_ v: CELValue) -> [CELValue]? {
            switch v {
            case .list(let l): return l
            case .map(let m): return m.keys.map(\.value)
            default: return nil
            }
        }
        @Sendable func notBool(_ v: CELValue) -> CELValue {
            .error(CELEvalError(.noMatchingOverload, "predicate of \(name)() returned \(v.typeName), not bool", location: loc))
        }
        @Sendable func badRange(_ v: CELValue) -> CELValue {
            if case .error = v { return v }
            return .error(CELEvalError(.noMatchingOverload, "\(name)() cannot iterate over a value of type \(v.typeName)", location: loc))
        }
        let costError = CELValue.error(CELEvalError(.costLimitExceeded, "cost limit exceeded", location: loc))

        switch macro {
        case .all, .exists:
            let p = pred!
            let stopOn = macro == .exists  // exists stops on true, all stops on false
            return Compiled { ctx in
                let r = range(ctx)
                guard let xs = items(r) else { return badRange(r) }
                var firstError: CELValue? = nil
                for x in xs {
                    if !ctx.charge(bodyCost) { return costError }
                    ctx.iter[slot] = x
                    let v = p(ctx)
                    switch v {
                    case .bool(let b): if b == stopOn { return v }
                    case .error: if firstError == nil { firstError = v }
                    default: if firstError == nil { firstError = notBool(v) }
                    }
                }
                return firstError ?? .bool(!stopOn)
            }
        case .existsOne:
            let p = pred!
            return Compiled { ctx in
                let r = range(ctx)
                guard let xs = items(r) else { return badRange(r) }
                var count = 0
                for x in xs {
                    if !ctx.charge(bodyCost) { return costError }
                    ctx.iter[slot] = x
                    let v = p(ctx)
                    switch v {
                    case .bool(let b): if b { count += 1 }
                    case .error: return v
                    default: return notBool(v)
                    }
                }
                return .bool(count == 1)
            }
        case .map:
            let t = trans!
            let p = pred
            return Compiled { ctx in
                let r = range(ctx)
                guard let xs = items(r) else { return badRange(r) }
                var out: [CELValue] = []
                out.reserveCapacity(xs.count)
                for x in xs {
                    if !ctx.charge(bodyCost) { return costError }
                    ctx.iter[slot] = x
                    if let p {
                        let keep = p(ctx)
                        switch keep {
                        case .bool(let b): if !b { continue }
                        case .error: return keep
                        default: return notBool(keep)
                        }
                    }
                    let v = t(ctx)
                    if case .error = v { return v }
                    out.append(v)
                }
                return .list(out)
            }
        case .filter:
            let p = pred!
            return Compiled { ctx in
                let r = range(ctx)
                guard let xs = items(r) else { return badRange(r) }
                var out: [CELValue] = []
                for x in xs {
                    if !ctx.charge(bodyCost) { return costError }
                    ctx.iter[slot] = x
                    let keep = p(ctx)
                    switch keep {
                    case .bool(let b): if b { out.append(x) }
                    case .error: return keep
                    default: return notBool(keep)
                    }
                }
                return .list(out)
            }
        }
    }

    // MARK: calls

    mutating func compileCall(_ fn: CELFunction, _ argExprs: [CELCheckedExpr], _ loc: CELSourceLocation) throws(CELCompileError) -> Compiled {
        let args = try argExprs.map { (x) throws(CELCompileError) in try compile(x) }

        // Precompile literal regular expressions once; a bad literal pattern is a compile error.
        if fn == .matches, args.count == 2, let pv = args[1].constant, case .string(let pattern) = pv {
            let regex: CELRegex
            do throws(CELRegex.Error) {
                regex = try CELRegex(pattern, maxProgramSize: limits.maxRegexProgramSize, maxRepeat: limits.maxRegexRepeat)
            } catch {
                throw CELCompileError(.type, "invalid regular expression \(celQuote(pattern)): \(error.message)", at: argExprs[1].location)
            }
            let target = args[0].eval
            let progSize = regex.programSize
            let c = Compiled { ctx in
                let s = target(ctx)
                guard case .string(let str) = s else {
                    if case .error = s { return s }
                    return attach(Builtins.noOverload(.matches, [s, pv]), loc)
                }
                if !ctx.charge(str.utf8.count * progSize / 256) {
                    return .error(CELEvalError(.costLimitExceeded, "cost limit exceeded", location: loc))
                }
                return .bool(regex.matches(str))
            }
            return Interpreter.foldIfConstant(c, args)
        }

        let impl = Interpreter.implementation(fn, limits: limits)
        let c: Compiled
        switch args.count {
        case 1:
            let a = args[0].eval
            c = Compiled { ctx in
                let x = a(ctx)
                if case .error = x { return x }
                return attach(impl(ctx, [x]), loc)
            }
        case 2:
            let a = args[0].eval, b = args[1].eval
            if let spec = Interpreter.specializedBinary(fn, args, loc) {
                c = spec
            } else {
                c = Compiled { ctx in
                    let x = a(ctx)
                    if case .error = x { return x }
                    let y = b(ctx)
                    if case .error = y { return y }
                    return attach(impl(ctx, [x, y]), loc)
                }
            }
        default:
            let evals = args.map(\.eval)
            c = Compiled { ctx in
                var vals: [CELValue] = []
                vals.reserveCapacity(evals.count)
                for ev in evals {
                    let v = ev(ctx)
                    if case .error = v { return v }
                    vals.append(v)
                }
                return attach(impl(ctx, vals), loc)
            }
        }
        return Interpreter.foldIfConstant(c, args)
    }

    /// Fast paths for the hottest binary operators: no argument array, direct switch.
    static func specializedBinary(_ fn: CELFunction, _ args: [Compiled], _ loc: CELSourceLocation) -> Compiled? {
        let a = args[0].eval, b = args[1].eval
        switch fn {
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            if let k = args[1].constant, case .double(let kd) = k {
                return Compiled { ctx in
                    let x = a(ctx)
                    if case .double(let d) = x {
                        switch fn {
                        case .less: return .bool(d < kd)
                        case .lessOrEqual: return .bool(d <= kd)
                        case .greater: return .bool(d > kd)
                        default: return .bool(d >= kd)
                        }
                    }
                    if case .error = x { return x }
                    return attach(Builtins.relation(fn, x, k), loc)
                }
            }
            if let k = args[1].constant, case .int(let ki) = k {
                return Compiled { ctx in
                    let x = a(ctx)
                    if case .int(let d) = x {
                        switch fn {
                        case .less: return .bool(d < ki)
                        case .lessOrEqual: return .bool(d <= ki)
                        case .greater: return .bool(d > ki)
                        default: return .bool(d >= ki)
                        }
                    }
                    if case .error = x { return x }
                    return attach(Builtins.relation(fn, x, k), loc)
                }
            }
            return Compiled { ctx in
                let x = a(ctx)
                if case .error = x { return x }
                let y = b(ctx)
                if case .error = y { return y }
                return attach(Builtins.relation(fn, x, y), loc)
            }
        case .equals, .notEquals:
            let neg = fn == .notEquals
            return Compiled { ctx in
                let x = a(ctx)
                if case .error = x { return x }
                let y = b(ctx)
                if case .error = y { return y }
                return .bool(Builtins.equals(x, y) != neg)
            }
        case .in:
            if let k = args[1].constant, case .list(let l) = k, !l.isEmpty,
                l.allSatisfy({ if case .string = $0 { return true } else { return false } })
            {
                // constant list of strings: FNV-hashed lookup table (no String hashing per evaluation)
                let table = CELMap(l.compactMap { v -> (CELMapKey, CELValue)? in
                    if case .string(let s) = v { return (.string(s), .bool(true)) } else { return nil }
                })
                return Compiled { ctx in
                    let x = a(ctx)
                    switch x {
                    case .string(let s): return .bool(table.lookup(s, hash: CELMap.hash(s)) != nil)
                    case .error: return x
                    default: return attach(Builtins.isIn(x, k), loc)
                    }
                }
            }
            return Compiled { ctx in
                let x = a(ctx)
                if case .error = x { return x }
                let y = b(ctx)
                if case .error = y { return y }
                if case .list(let l) = y, !ctx.charge(l.count / 16) {
                    return .error(CELEvalError(.costLimitExceeded, "cost limit exceeded", location: loc))
                }
                return attach(Builtins.isIn(x, y), loc)
            }
        case .add, .subtract, .multiply, .divide, .modulo:
            let f: @Sendable (CELValue, CELValue) -> CELValue
            switch fn {
            case .add: f = Builtins.add
            case .subtract: f = Builtins.subtract
            case .multiply: f = Builtins.multiply
            case .divide: f = Builtins.divide
            default: f = Builtins.modulo
            }
            let isAdd = fn == .add
            return Compiled { ctx in
                let x = a(ctx)
                if case .error = x { return x }
                let y = b(ctx)
                if case .error = y { return y }
                let r = f(x, y)
                if isAdd {
                    // concatenation cost is proportional to the result size
                    switch r {
                    case .string(let s): if !ctx.charge(s.utf8.count / 64) { return .error(CELEvalError(.costLimitExceeded, "cost limit exceeded", location: loc)) }
                    case .list(let l): if !ctx.charge(l.count / 16) { return .error(CELEvalError(.costLimitExceeded, "cost limit exceeded", location: loc)) }
                    case .bytes(let l): if !ctx.charge(l.count / 64) { return .error(CELEvalError(.costLimitExceeded, "cost limit exceeded", location: loc)) }
                    default: break
                    }
                }
                return attach(r, loc)
            }
        case .index:
            return Compiled { ctx in
                let x = a(ctx)
                if case .error = x { return x }
                let y = b(ctx)
                if case .error = y { return y }
                return attach(Builtins.index(x, y), loc)
            }
        default:
            return nil
        }
    }

    /// Generic implementation of a function over already-evaluated, non-error arguments.
    static func implementation(_ fn: CELFunction, limits: CELLimits) -> @Sendable (EvalContext, [CELValue]) -> CELValue {
        switch fn {
        case .add: return { _, a in Builtins.add(a[0], a[1]) }
        case .subtract: return { _, a in Builtins.subtract(a[0], a[1]) }
        case .multiply: return { _, a in Builtins.multiply(a[0], a[1]) }
        case .divide: return { _, a in Builtins.divide(a[0], a[1]) }
        case .modulo: return { _, a in Builtins.modulo(a[0], a[1]) }
        case .negate: return { _, a in Builtins.negate(a[0]) }
        case .not: return { _, a in Builtins.not(a[0]) }
        case .equals: return { _, a in .bool(Builtins.equals(a[0], a[1])) }
        case .notEquals: return { _, a in .bool(!Builtins.equals(a[0], a[1])) }
        case .less, .lessOrEqual, .greater, .greaterOrEqual: return { _, a in Builtins.relation(fn, a[0], a[1]) }
        case .in: return { _, a in Builtins.isIn(a[0], a[1]) }
        case .index: return { _, a in Builtins.index(a[0], a[1]) }
        case .size: return { _, a in Builtins.size(a[0]) }
        case .contains, .startsWith, .endsWith:
            return { ctx, a in
                if case .string(let s) = a[0], !ctx.charge(s.utf8.count / 64) { return .error(costExceededError) }
                return Builtins.stringOp(fn, a[0], a[1])
            }
        case .matches:
            let maxProg = limits.maxRegexProgramSize, maxRep = limits.maxRegexRepeat
            return { ctx, a in
                guard case .string(let s) = a[0], case .string(let p) = a[1] else { return Builtins.noOverload(.matches, a) }
                let re: CELRegex
                do throws(CELRegex.Error) {
                    re = try CELRegex(p, maxProgramSize: maxProg, maxRepeat: maxRep)
                } catch {
                    return .error(CELEvalError(.invalidArgument, "invalid regular expression \(celQuote(p)): \(error.message)"))
                }
                if !ctx.charge(p.utf8.count + s.utf8.count * re.programSize / 256) { return .error(costExceededError) }
                return .bool(re.matches(s))
            }
        case .toInt: return { _, a in Builtins.toInt(a[0]) }
        case .toUint: return { _, a in Builtins.toUint(a[0]) }
        case .toDouble: return { _, a in Builtins.toDouble(a[0]) }
        case .toString: return { _, a in Builtins.toStringValue(a[0]) }
        case .toBytes: return { _, a in Builtins.toBytes(a[0]) }
        case .toBool: return { _, a in Builtins.toBool(a[0]) }
        case .dyn: return { _, a in a[0] }
        case .type: return { _, a in .type(a[0].celType) }
        case .timestamp: return { _, a in Builtins.toTimestamp(a[0]) }
        case .duration: return { _, a in Builtins.toDuration(a[0]) }
        case .min, .max: return { _, a in Builtins.minMax(fn, a) }
        case .getFullYear, .getMonth, .getDate, .getDayOfMonth, .getDayOfWeek, .getDayOfYear, .getHours, .getMinutes,
            .getSeconds, .getMilliseconds:
            return { _, a in Builtins.timeGetter(fn, a) }
        }
    }
}
