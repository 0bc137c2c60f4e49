import Foundation

// MARK: - Public API

/// Why an expression cannot be evaluated column-wise (callers fall back to `CELProgram.evaluate`).
public struct CELBatchUnsupported: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public let location: CELSourceLocation
    public var description: String { "\(location): not supported by the batch evaluator: \(reason)" }
}

/// A scalar input column: the value of `path` (or, for `presence`, the result of `has(path)`)
/// for every row. `stepTypes` are the declared types along the path (last = column type).
public struct CELBatchField: Sendable, Hashable, CustomStringConvertible {
    public let path: CELFieldPath
    /// Declared type of the variable the path starts from.
    public let rootType: CELType
    public let stepTypes: [CELType]
    public let presence: Bool

    public var type: CELType { presence ? .bool : stepTypes.last ?? .dyn }
    public var description: String { presence ? "has(\(path))" : "\(path): \(type)" }
}

/// Typed values of one column for every row (see `CELColumnTable.init(count:columns:)`).
public enum CELColumnValues: Sendable {
    case ints([Int64])
    case doubles([Double])
    case bools([Bool])
    case strings([String])
}

/// Columnar storage of the fields a batch program needs, for N rows (profiles).
/// Strings are dictionary-encoded; per-row errors (missing key, null, wrong type) are kept
/// with the exact error the row-at-a-time evaluator would produce.
public struct CELColumnTable: Sendable {
    public let count: Int
    var columns: [CELBatchField: Column]
    let dictionary: [String]
    let dictionaryIndex: [CELMapKey: Int32]
    /// UTF-8 bytes of all dictionary entries back to back (entry i = bytes[offsets[i]..<offsets[i+1]]),
    /// so string predicates scan contiguous memory instead of touching one heap object per entry.
    let dictionaryBytes: [UInt8]
    let dictionaryOffsets: [Int]
    /// rank[id] = position of dictionary[id] in code-point order
    let rank: [Int32]

    struct Column: Sendable {
        var ints: [Int64] = []
        var doubles: [Double] = []
        var bools: [Bool] = []
        var strs: [Int32] = []
        /// Per row: 0 = value present, k > 0 = errors[k - 1]. Empty when no row has an error.
        var errorRows: [Int32] = []
        /// Distinct errors with the path depth (select step) that raised them.
        var errors: [(error: CELEvalError, depth: Int)] = []
    }

    /// Builds columns from row values of the batch variable (e.g. the `profile` JSON objects),
    /// applying the same schema-directed coercions and error rules as `CELProgram.evaluate`.
    public init(rows: [CELValue], fields: [CELBatchField]) {
        count = rows.count
        var dict: [String] = []
        var index: [CELMapKey: Int32] = [:]
        var cols: [CELBatchField: Column] = [:]
        for f in Set(fields) {
            var col = Column()
            var errorKeys: [String: Int32] = [:]
            let n = rows.count
            switch f.type {
            case .int: col.ints = [Int64](repeating: 0, count: n)
            case .double: col.doubles = [Double](repeating: 0, count: n)
            case .bool: col.bools = [Bool](repeating: false, count: n)
            case .string: col.strs = [Int32](repeating: -1, count: n)
            default: break
            }
            let steps = CELColumnTable.steps(for: f)
            for (r, row) in rows.enumerated() {
                let (v, depth) = CELColumnTable.walk(row, steps, presence: f.presence)
                switch v {
                case .int(let x) where f.type == .int: col.ints[r] = x
                case .double(let x) where f.type == .double: col.doubles[r] = x
                case .bool(let x) where f.type == .bool: col.bools[r] = x
                case .string(let s) where f.type == .string:
                    let k = CELMapKey.string(s)
                    if let id = index[k] {
                        col.strs[r] = id
                    } else {
                        let id = Int32(dict.count)
                        dict.append(s)
                        index[k] = id
                        col.strs[r] = id
                    }
                default:
                    let e = v.errorValue ?? CELEvalError(.typeMismatch, "field '\(f.path)' has a value of type \(v.typeName) but is declared as \(f.type)")
                    let key = "\(depth)|\(e.code.rawValue)|\(e.message)"
                    var id = errorKeys[key]
                    if id == nil {
                        col.errors.append((e, depth))
                        id = Int32(col.errors.count)
                        errorKeys[key] = id
                    }
                    if col.errorRows.isEmpty { col.errorRows = [Int32](repeating: 0, count: n) }
                    col.errorRows[r] = id!
                }
            }
            cols[f] = col
        }
        columns = cols
        dictionary = dict
        dictionaryIndex = index
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(dict.count + 1)
        for s in dict {
            bytes.append(contentsOf: s.utf8)
            offsets.append(bytes.count)
        }
        dictionaryBytes = bytes
        dictionaryOffsets = offsets
        let order = (0..<dict.count).sorted { celStringCompare(dict[$0], dict[$1]) < 0 }
        var rank = [Int32](repeating: 0, count: dict.count)
        for (pos, id) in order.enumerated() { rank[id] = Int32(pos) }
        self.rank = rank
    }

    /// Builds a table directly from typed column values, one per row (no missing values, no errors),
    /// e.g. for generated data: no per-row `CELValue` is created. Returns nil unless every field is a
    /// non-presence field given with values of its declared type and `count` rows.
    public init?(count: Int, columns values: [CELBatchField: CELColumnValues]) {
        self.count = count
        var dict: [String] = []
        var index: [CELMapKey: Int32] = [:]
        var cols: [CELBatchField: Column] = [:]
        for (f, v) in values {
            guard !f.presence else { return nil }
            var col = Column()
            switch (f.type, v) {
            case (.int, .ints(let a)) where a.count == count: col.ints = a
            case (.double, .doubles(let a)) where a.count == count: col.doubles = a
            case (.bool, .bools(let a)) where a.count == count: col.bools = a
            case (.string, .strings(let a)) where a.count == count:
                col.strs = a.map { s in
                    let k = CELMapKey.string(s)
                    if let id = index[k] { return id }
                    let id = Int32(dict.count)
                    dict.append(s)
                    index[k] = id
                    return id
                }
            default: return nil
            }
            cols[f] = col
        }
        columns = cols
        dictionary = dict
        dictionaryIndex = index
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(dict.count + 1)
        for s in dict {
            bytes.append(contentsOf: s.utf8)
            offsets.append(bytes.count)
        }
        dictionaryBytes = bytes
        dictionaryOffsets = offsets
        let order = (0..<dict.count).sorted { celStringCompare(dict[$0], dict[$1]) < 0 }
        var rank = [Int32](repeating: 0, count: dict.count)
        for (pos, id) in order.enumerated() { rank[id] = Int32(pos) }
        self.rank = rank
    }

    struct Step {
        let key: CELMapKey
        let field: String
        let path: String
        let coerce: (@Sendable (CELValue) -> CELValue)?
        let nullAbsent: Bool
    }

    static func steps(for f: CELBatchField) -> [Step] {
        var out: [Step] = []
        var parentType: CELType = f.rootType
        for (i, name) in f.path.fields.enumerated() {
            let path = ([f.path.variable] + f.path.fields.prefix(i + 1)).joined(separator: ".")
            let t = f.stepTypes[i]
            out.append(Step(
                key: .string(name), field: name, path: path,
                coerce: Interpreter.coercion(for: t, path: path),
                nullAbsent: Interpreter.nullIsAbsent(parentType, name)))
            parentType = t
        }
        return out
    }

    /// Walks the path like the interpreter: returns the value (or error) and the step index that produced it.
    static func walk(_ row: CELValue, _ steps: [Step], presence: Bool) -> (CELValue, Int) {
        var v = row
        for (i, s) in steps.enumerated() {
            if presence && i == steps.count - 1 {
                return (Interpreter.presenceStep(v, s.key, s.nullAbsent), i)
            }
            v = Interpreter.selectStep(v, s.key, s.field, s.path, s.coerce)
            if case .error = v { return (v, i) }
        }
        return (v, steps.count - 1)
    }
}

/// The result of a batch evaluation: one CEL value (or error) per row.
public struct CELBatchResult: Sendable {
    public let count: Int
    public let type: CELType
    let bools: [Bool]
    let ints: [Int64]
    let doubles: [Double]
    /// Per row: 0 = value, k > 0 = `errors[k - 1]`. Empty if no row failed.
    public let errorIndex: [Int32]
    public let errors: [CELEvalError]

    public func value(at i: Int) -> CELValue {
        if !errorIndex.isEmpty, errorIndex[i] != 0 { return .error(errors[Int(errorIndex[i]) - 1]) }
        switch type {
        case .bool: return .bool(bools[i])
        case .int: return .int(ints[i])
        default: return .double(doubles[i])
        }
    }

    /// Rows whose result is `true` (bool programs).
    public var trueCount: Int {
        guard type == .bool else { return 0 }
        if errorIndex.isEmpty { return bools.reduce(0) { $0 + ($1 ? 1 : 0) } }
        var c = 0
        for i in 0..<count where bools[i] && errorIndex[i] == 0 { c += 1 }
        return c
    }

    public var errorCount: Int { errorIndex.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }

    /// Rows whose result is `true` (bool programs), ascending, without building a value per row.
    public func trueRows() -> [Int] {
        guard type == .bool else { return [] }
        var out: [Int] = []
        if errorIndex.isEmpty {
            for i in 0..<count where bools[i] { out.append(i) }
        } else {
            for i in 0..<count where bools[i] && errorIndex[i] == 0 { out.append(i) }
        }
        return out
    }
}

/// Evaluates a checked boolean/numeric program over `profile.*` scalar columns for many rows
/// at once, with the same results (values and errors, incl. `&&`/`||` error absorption and
/// ternary branch selection) as the row-at-a-time interpreter.
///
/// Supported: int/double/bool/string fields (possibly nested: `profile.address.city`), has(),
/// constants, `! && || ?:`, `== != < <= > >=` (incl. int/double mixing), `+ - * / %` and unary `-`
/// on int/double, `in` with a constant list, startsWith/endsWith/contains/matches with a constant
/// argument, size(string), min/max, double()/int() of ints. Anything else throws
/// `CELBatchUnsupported` at construction.
public struct CELBatchEvaluator: Sendable {
    public let program: CELProgram
    public let requiredFields: [CELBatchField]
    let root: BNode
    let staticErrors: [CELEvalError]
    public static let chunkSize = 2048

    public init(_ program: CELProgram) throws(CELBatchUnsupported) {
        self.program = program
        if program.staticCost > program.limits.maxCost {
            throw CELBatchUnsupported(reason: "expression exceeds the cost limit", location: program.checked.location)
        }
        var b = BatchCompiler(variableNames: Set(program.declarations.variables.keys), limits: program.limits)
        let root = try b.compile(program.checked)
        switch root.type {
        case .bool, .int, .double: break
        case .string:
            throw CELBatchUnsupported(reason: "string-valued results", location: program.checked.location)
        }
        self.root = root
        self.requiredFields = b.fields
        self.staticErrors = b.staticErrors
    }

    /// Evaluates all rows of `table` (single thread).
    public func evaluate(_ table: CELColumnTable) -> CELBatchResult {
        evaluate(table, range: 0..<table.count)
    }

    /// Evaluates using `threads` worker threads over disjoint row ranges.
    public func evaluate(_ table: CELColumnTable, threads: Int) -> CELBatchResult {
        let t = max(1, min(threads, (table.count + CELBatchEvaluator.chunkSize - 1) / CELBatchEvaluator.chunkSize))
        if t == 1 { return evaluate(table) }
        let per = (table.count + t - 1) / t
        let parts = PartBox(count: t)
        DispatchQueue.concurrentPerform(iterations: t) { k in
            let lo = k * per, hi = min(table.count, lo + per)
            parts.set(k, evaluate(table, range: lo..<hi))
        }
        return merge(parts.take(), table.count)
    }

    func evaluate(_ table: CELColumnTable, range: Range<Int>) -> CELBatchResult {
        let run = BatchRun(table: table, staticErrors: staticErrors, fields: requiredFields)
        let n = range.count
        var bools: [Bool] = [], ints: [Int64] = [], doubles: [Double] = []
        switch root.type {
        case .bool: bools = [Bool](repeating: false, count: n)
        case .int: ints = [Int64](repeating: 0, count: n)
        default: doubles = [Double](repeating: 0, count: n)
        }
        var errs: [Int32] = []
        var lo = range.lowerBound
        while lo < range.upperBound {
            let m = min(CELBatchEvaluator.chunkSize, range.upperBound - lo)
            let v = run.eval(root, lo, m)
            let off = lo - range.lowerBound
            switch v.v {
            case .bool(let a): bools.withUnsafeMutableBufferPointer { p in for k in 0..<m { p[off + k] = a[k] } }
            case .int(let a): ints.withUnsafeMutableBufferPointer { p in for k in 0..<m { p[off + k] = a[k] } }
            case .double(let a): doubles.withUnsafeMutableBufferPointer { p in for k in 0..<m { p[off + k] = a[k] } }
            case .cbool(let c): for k in 0..<m { bools[off + k] = c }
            case .cint(let c): for k in 0..<m { ints[off + k] = c }
            case .cdouble(let c): for k in 0..<m { doubles[off + k] = c }
            case .str, .cstr: break
            }
            if let e = v.err {
                if errs.isEmpty { errs = [Int32](repeating: 0, count: n) }
                for k in 0..<m { errs[off + k] = e[k] }
            }
            lo += m
        }
        return CELBatchResult(
            count: n, type: root.type.celType, bools: bools, ints: ints, doubles: doubles, errorIndex: errs, errors: run.errors)
    }

    func merge(_ parts: [CELBatchResult], _ total: Int) -> CELBatchResult {
        var errors: [CELEvalError] = []
        var errIndex: [String: Int32] = [:]
        var errs: [Int32] = []
        var bools: [Bool] = [], ints: [Int64] = [], doubles: [Double] = []
        for p in parts {
            bools += p.bools; ints += p.ints; doubles += p.doubles
        }
        if parts.contains(where: { !$0.errorIndex.isEmpty }) {
            errs.reserveCapacity(total)
            for p in parts {
                var remap: [Int32] = [0]
                for e in p.errors {
                    let key = "\(e.code.rawValue)|\(e.message)|\(e.location?.offset ?? -1)"
                    if let id = errIndex[key] {
                        remap.append(id)
                    } else {
                        errors.append(e)
                        let id = Int32(errors.count)
                        errIndex[key] = id
                        remap.append(id)
                    }
                }
                if p.errorIndex.isEmpty {
                    errs += [Int32](repeating: 0, count: p.count)
                } else {
                    errs += p.errorIndex.map { remap[Int($0)] }
                }
            }
        }
        return CELBatchResult(count: total, type: root.type.celType, bools: bools, ints: ints, doubles: doubles, errorIndex: errs, errors: errors)
    }
}

final class PartBox: @unchecked Sendable {
    private var parts: [CELBatchResult?]
    private let lock = NSLock()
    init(count: Int) { parts = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: CELBatchResult) { lock.lock(); parts[i] = r; lock.unlock() }
    func take() -> [CELBatchResult] { parts.map { $0! } }
}

// MARK: - Batch program tree

enum BType: Sendable {
    case bool, int, double, string

    var celType: CELType {
        switch self {
        case .bool: return .bool
        case .int: return .int
        case .double: return .double
        case .string: return .string
        }
    }
}

enum BConst: Sendable {
    case bool(Bool), int(Int64), double(Double), string(String), error(Int32)
}

enum ArithOp: Sendable { case add, sub, mul, div, mod }
enum CmpOp: Sendable { case eq, ne, lt, le, gt, ge }

indirect enum BNode: Sendable {
    case const(BConst, BType)
    /// field index into requiredFields; locations of the select steps (for error attribution)
    case column(Int, BType, [CELSourceLocation])
    case not(BNode)
    case and(BNode, BNode)
    case or(BNode, BNode)
    case cond(BNode, BNode, BNode, BType)
    case neg(BNode, BType, overflow: Int32)
    case arith(ArithOp, BNode, BNode, BType, overflow: Int32, divZero: Int32, modZero: Int32)
    /// comparison; the Int is a memo slot for string-vs-constant tables
    case cmp(CmpOp, BNode, BNode, Int)
    /// unary predicate over a string, memoized per dictionary entry (Int = memo slot)
    case strPred(BNode, Int, @Sendable (UnsafeBufferPointer<UInt8>) -> Bool)
    case strSize(BNode, Int)
    case inInts(BNode, Set<Int64>, [Double])
    case inDoubles(BNode, [Double])
    case inStrings(BNode, Int, [String])
    case minMax(Bool, [BNode], BType)
    case toDouble(BNode)

    var type: BType {
        switch self {
        case .const(_, let t), .column(_, let t, _), .cond(_, _, _, let t), .neg(_, let t, _), .arith(_, _, _, let t, _, _, _),
            .minMax(_, _, let t):
            return t
        case .not, .and, .or, .cmp, .strPred, .inInts, .inDoubles, .inStrings: return .bool
        case .strSize: return .int
        case .toDouble: return .double
        }
    }
}

struct BatchCompiler {
    let variableNames: Set<String>
    let limits: CELLimits
    var fields: [CELBatchField] = []
    var staticErrors: [CELEvalError] = []
    var batchVariable: String? = nil
    var memoSlots = 0

    mutating func memoSlot() -> Int {
        memoSlots += 1
        return memoSlots - 1
    }

    init(variableNames: Set<String>, limits: CELLimits) {
        self.variableNames = variableNames
        self.limits = limits
    }

    func unsupported(_ why: String, _ e: CELCheckedExpr) -> CELBatchUnsupported {
        CELBatchUnsupported(reason: why, location: e.location)
    }

    mutating func staticError(_ code: CELEvalError.Code, _ msg: String, _ loc: CELSourceLocation) -> Int32 {
        staticErrors.append(CELEvalError(code, msg, location: loc))
        return Int32(staticErrors.count)
    }

    static func btype(_ t: CELType) -> BType? {
        switch t {
        case .bool: return .bool
        case .int: return .int
        case .double: return .double
        case .string: return .string
        default: return nil
        }
    }

    /// True if the subtree references no variables (so it can be folded by the row interpreter).
    static func isClosed(_ e: CELCheckedExpr) -> Bool {
        switch e.kind {
        case .variable, .iterationVariable: return false
        default: return e.children.allSatisfy(isClosed)
        }
    }

    mutating func fold(_ e: CELCheckedExpr) throws(CELBatchUnsupported) -> BNode {
        var interp = Interpreter(varIndex: [:], limits: limits)
        let c: Compiled
        do { c = try interp.compile(e) } catch { throw unsupported("constant subexpression failed to compile", e) }
        let ctx = EvalContext(vars: [], iterSlots: interp.maxIterDepth, costLimit: Int.max, initialCost: 0)
        let v = c.eval(ctx)
        switch v {
        case .bool(let b): return .const(.bool(b), .bool)
        case .int(let i): return .const(.int(i), .int)
        case .double(let d): return .const(.double(d), .double)
        case .string(let s): return .const(.string(s), .string)
        case .error(let err):
            staticErrors.append(err)
            guard let t = BatchCompiler.btype(e.type) else { throw unsupported("constant of type \(e.type)", e) }
            return .const(.error(Int32(staticErrors.count)), t)
        default: throw unsupported("constant of type \(v.typeName)", e)
        }
    }

    mutating func field(_ e: CELCheckedExpr, presence: Bool, leafField: String? = nil) throws(CELBatchUnsupported) -> BNode {
        // collect the select chain down to the variable
        var steps: [(String, CELType, CELSourceLocation)] = []
        var cur = e
        if presence, case .presenceTest(let operand, let f) = e.kind {
            steps.append((f, .bool, e.location))
            cur = operand
        }
        while case .select(let operand, let f, let declared) = cur.kind {
            guard let declared else { throw unsupported("field '\(f)' has no declared type (dyn)", cur) }
            steps.append((f, declared, cur.location))
            cur = operand
        }
        guard case .variable(let name) = cur.kind else { throw unsupported("field access on a computed value", cur) }
        if let bv = batchVariable, bv != name { throw unsupported("more than one variable ('\(bv)', '\(name)')", cur) }
        batchVariable = name
        steps.reverse()
        let finalType = presence ? CELType.bool : steps.last!.1
        guard let bt = BatchCompiler.btype(finalType) else { throw unsupported("field of type \(finalType)", e) }
        let f = CELBatchField(
            path: CELFieldPath(variable: name, fields: steps.map(\.0)), rootType: cur.type, stepTypes: steps.map(\.1),
            presence: presence)
        let idx: Int
        if let i = fields.firstIndex(of: f) {
            idx = i
        } else {
            fields.append(f)
            idx = fields.count - 1
        }
        return .column(idx, bt, steps.map(\.2))
    }

    mutating func compile(_ e: CELCheckedExpr) throws(CELBatchUnsupported) -> BNode {
        if BatchCompiler.isClosed(e) { return try fold(e) }
        switch e.kind {
        case .select:
            return try field(e, presence: false)
        case .presenceTest:
            return try field(e, presence: true)
        case .and(let a, let b):
            let l = try compileBool(a), r = try compileBool(b)
            return .and(l, r)
        case .or(let a, let b):
            let l = try compileBool(a), r = try compileBool(b)
            return .or(l, r)
        case .conditional(let c, let t, let f):
            let cc = try compileBool(c), tt = try compile(t), ff = try compile(f)
            guard tt.type == ff.type, tt.type != .string else { throw unsupported("conditional branches of different or string type", e) }
            return .cond(cc, tt, ff, tt.type)
        case .call(let fn, let args):
            return try compileCall(fn, args, e)
        default:
            throw unsupported("expression kind not supported in batch mode", e)
        }
    }

    mutating func compileBool(_ e: CELCheckedExpr) throws(CELBatchUnsupported) -> BNode {
        let n = try compile(e)
        guard n.type == .bool else { throw unsupported("expected bool operand", e) }
        return n
    }

    mutating func compileCall(_ fn: CELFunction, _ args: [CELCheckedExpr], _ e: CELCheckedExpr) throws(CELBatchUnsupported) -> BNode {
        let loc = e.location
        switch fn {
        case .not:
            return .not(try compileBool(args[0]))
        case .negate:
            let a = try compile(args[0])
            guard a.type == .int || a.type == .double else { throw unsupported("negation of \(a.type)", e) }
            return .neg(a, a.type, overflow: staticError(.overflow, "integer overflow", loc))
        case .add, .subtract, .multiply, .divide, .modulo:
            let a = try compile(args[0]), b = try compile(args[1])
            guard a.type == b.type, a.type == .int || a.type == .double else { throw unsupported("arithmetic on \(a.type), \(b.type)", e) }
            let op: ArithOp = fn == .add ? .add : fn == .subtract ? .sub : fn == .multiply ? .mul : fn == .divide ? .div : .mod
            if op == .mod && a.type == .double { throw unsupported("double modulo", e) }
            return .arith(op, a, b, a.type,
                overflow: staticError(.overflow, "integer overflow", loc),
                divZero: staticError(.divisionByZero, "division by zero", loc),
                modZero: staticError(.moduloByZero, "modulus by zero", loc))
        case .equals, .notEquals, .less, .lessOrEqual, .greater, .greaterOrEqual:
            let a = try compile(args[0]), b = try compile(args[1])
            let op: CmpOp
            switch fn {
            case .equals: op = .eq
            case .notEquals: op = .ne
            case .less: op = .lt
            case .lessOrEqual: op = .le
            case .greater: op = .gt
            default: op = .ge
            }
            let numeric: Set<BType> = [.int, .double]
            let ok = a.type == b.type || (numeric.contains(a.type) && numeric.contains(b.type))
            guard ok else { throw unsupported("comparison of \(a.type) and \(b.type)", e) }
            return .cmp(op, a, b, memoSlot())
        case .in:
            let a = try compile(args[0])
            guard BatchCompiler.isClosed(args[1]) else { throw unsupported("'in' needs a constant list", e) }
            let container = try constantValue(args[1])
            guard case .list(let items) = container else { throw unsupported("'in' needs a constant list", e) }
            switch a.type {
            case .string:
                return .inStrings(a, memoSlot(), items.compactMap { if case .string(let s) = $0 { return s } else { return nil } })
            case .int:
                var ints = Set<Int64>(), doubles: [Double] = []
                for it in items {
                    switch it {
                    case .int(let i): ints.insert(i)
                    case .double(let d): doubles.append(d)
                    case .uint(let u): if u <= UInt64(Int64.max) { ints.insert(Int64(u)) }
                    default: break
                    }
                }
                return .inInts(a, ints, doubles)
            case .double:
                var ds: [Double] = []
                for it in items {
                    switch it {
                    case .int(let i): ds.append(Double(i))
                    case .double(let d): ds.append(d)
                    case .uint(let u): ds.append(Double(u))
                    default: break
                    }
                }
                return .inDoubles(a, ds)
            case .bool:
                throw unsupported("'in' on bool", e)
            }
        case .startsWith, .endsWith, .contains, .matches:
            let a = try compile(args[0])
            guard a.type == .string, BatchCompiler.isClosed(args[1]), case .string(let arg) = try constantValue(args[1]) else {
                throw unsupported("\(fn.rawValue) needs a string operand and a constant argument", e)
            }
            switch fn {
            case .startsWith:
                let t = Array(arg.utf8)
                return .strPred(a, memoSlot(), { b in b.count >= t.count && (t.isEmpty || memcmp(b.baseAddress!, t, t.count) == 0) })
            case .endsWith:
                let t = Array(arg.utf8)
                return .strPred(a, memoSlot(), { b in
                    b.count >= t.count && (t.isEmpty || memcmp(b.baseAddress! + (b.count - t.count), t, t.count) == 0)
                })
            case .contains:
                return .strPred(a, memoSlot(), { b in Builtins.utf8Contains(String(decoding: b, as: UTF8.self), arg) })
            default:
                guard let re = try? CELRegex(arg, maxProgramSize: limits.maxRegexProgramSize, maxRepeat: limits.maxRegexRepeat) else {
                    throw unsupported("invalid regex", e)
                }
                return .strPred(a, memoSlot(), { re.matches(String(decoding: $0, as: UTF8.self)) })
            }
        case .size:
            let a = try compile(args[0])
            guard a.type == .string else { throw unsupported("size of \(a.type)", e) }
            return .strSize(a, memoSlot())
        case .min, .max:
            let xs = try args.map { (x) throws(CELBatchUnsupported) in try compile(x) }
            guard xs.count >= 2, let t = xs.first?.type, t == .int || t == .double, xs.allSatisfy({ $0.type == t }) else {
                throw unsupported("\(fn.rawValue) over non-numeric or mixed arguments", e)
            }
            return .minMax(fn == .min, xs, t)
        case .toDouble:
            let a = try compile(args[0])
            switch a.type {
            case .double: return a
            case .int: return .toDouble(a)
            default: throw unsupported("double() of \(a.type)", e)
            }
        case .toInt:
            let a = try compile(args[0])
            guard a.type == .int else { throw unsupported("int() of \(a.type)", e) }
            return a
        case .dyn:
            return try compile(args[0])
        default:
            throw unsupported("function '\(fn.displayName)'", e)
        }
    }

    func constantValue(_ e: CELCheckedExpr) throws(CELBatchUnsupported) -> CELValue {
        var interp = Interpreter(varIndex: [:], limits: limits)
        let c: Compiled
        do { c = try interp.compile(e) } catch { throw unsupported("constant failed to compile", e) }
        return c.eval(EvalContext(vars: [], iterSlots: interp.maxIterDepth, costLimit: Int.max, initialCost: 0))
    }
}

// MARK: - Execution

enum BVals {
    case bool([Bool]), int([Int64]), double([Double]), str([Int32])
    case cbool(Bool), cint(Int64), cdouble(Double), cstr(String)
}

struct BVec {
    var v: BVals
    /// nil = no error in this chunk; else per-row 0 / error id.
    var err: [Int32]?
}

/// Per-evaluation state: error table and per-dictionary caches.
final class BatchRun {
    let table: CELColumnTable
    let fields: [CELBatchField]
    var errors: [CELEvalError]
    var errorKeys: [String: Int32] = [:]
    /// column index -> mapping from column error index to run error id
    var columnErrorMap: [Int: [Int32]] = [:]
    /// memo slot -> per-dictionary-id cached result (-1 = not computed yet)
    var memo: [Int: [Int64]] = [:]

    /// Maps dictionary ids through `f` (applied to the entry's UTF-8 bytes), computing each
    /// distinct id at most once per evaluation.
    func memoized(_ slot: Int, _ ids: [Int32], _ n: Int, _ missing: Int64, _ f: (UnsafeBufferPointer<UInt8>) -> Int64) -> [Int64] {
        let offsets = table.dictionaryOffsets
        var tbl = memo.removeValue(forKey: slot) ?? [Int64](repeating: -1, count: offsets.count - 1)
        var out = [Int64](repeating: missing, count: n)
        table.dictionaryBytes.withUnsafeBufferPointer { bytes in
            offsets.withUnsafeBufferPointer { off in
                ids.withUnsafeBufferPointer { ip in
                    tbl.withUnsafeMutableBufferPointer { t in
                        out.withUnsafeMutableBufferPointer { o in
                            for k in 0..<n {
                                let id = Int(ip[k])
                                if id < 0 { continue }
                                var r = t[id]
                                if r < 0 {
                                    let lo = off[id], hi = off[id + 1]
                                    r = f(UnsafeBufferPointer(rebasing: bytes[lo..<hi]))
                                    t[id] = r
                                }
                                o[k] = r
                            }
                        }
                    }
                }
            }
        }
        memo[slot] = tbl
        return out
    }

    /// Columns resolved once per evaluation (hashing a field key per chunk would be costly).
    let cols: [CELColumnTable.Column?]

    init(table: CELColumnTable, staticErrors: [CELEvalError], fields: [CELBatchField]) {
        self.table = table
        self.errors = staticErrors
        self.fields = fields
        self.cols = fields.map { table.columns[$0] }
    }

    func register(_ e: CELEvalError) -> Int32 {
        let key = "\(e.code.rawValue)|\(e.message)|\(e.location?.offset ?? -1)"
        if let id = errorKeys[key] { return id }
        errors.append(e)
        let id = Int32(errors.count)
        errorKeys[key] = id
        return id
    }

    static func combine(_ a: [Int32]?, _ b: [Int32]?, _ n: Int) -> [Int32]? {
        guard let a else { return b }
        guard let b else { return a }
        var out = a
        for k in 0..<n where out[k] == 0 { out[k] = b[k] }
        return out
    }

    func doubles(_ v: BVals, _ n: Int) -> [Double] {
        switch v {
        case .double(let a): return a
        case .cdouble(let c): return [Double](repeating: c, count: n)
        case .int(let a): return a.map { Double($0) }
        case .cint(let c): return [Double](repeating: Double(c), count: n)
        default: return [Double](repeating: 0, count: n)
        }
    }

    func ints(_ v: BVals, _ n: Int) -> [Int64] {
        switch v {
        case .int(let a): return a
        case .cint(let c): return [Int64](repeating: c, count: n)
        default: return [Int64](repeating: 0, count: n)
        }
    }

    func bools(_ v: BVals, _ n: Int) -> [Bool] {
        switch v {
        case .bool(let a): return a
        case .cbool(let c): return [Bool](repeating: c, count: n)
        default: return [Bool](repeating: false, count: n)
        }
    }

    /// String operands as dictionary ids; constants not in the dictionary get id -2 (never equal).
    func strIds(_ v: BVals, _ n: Int) -> [Int32] {
        switch v {
        case .str(let a): return a
        case .cstr(let s): return [Int32](repeating: table.dictionaryIndex[.string(s)] ?? -2, count: n)
        default: return [Int32](repeating: -2, count: n)
        }
    }

    func eval(_ node: BNode, _ lo: Int, _ n: Int) -> BVec {
        switch node {
        case .const(let c, _):
            switch c {
            case .bool(let b): return BVec(v: .cbool(b), err: nil)
            case .int(let i): return BVec(v: .cint(i), err: nil)
            case .double(let d): return BVec(v: .cdouble(d), err: nil)
            case .string(let s): return BVec(v: .cstr(s), err: nil)
            case .error(let id):
                let t = node.type
                let v: BVals = t == .bool ? .cbool(false) : t == .int ? .cint(0) : t == .double ? .cdouble(0) : .cstr("")
                return BVec(v: v, err: [Int32](repeating: id, count: n))
            }

        case .column(let idx, let t, let locs):
            let f = fields[idx]
            guard let col = cols[idx] else {
                let id = register(CELEvalError(.invalidArgument, "column \(f) not provided by the table", location: locs.last))
                return BVec(v: t == .bool ? .cbool(false) : t == .int ? .cint(0) : t == .double ? .cdouble(0) : .cstr(""),
                            err: [Int32](repeating: id, count: n))
            }
            let hi = lo + n
            let vals: BVals
            switch t {
            case .bool: vals = .bool(Array(col.bools[lo..<hi]))
            case .int: vals = .int(Array(col.ints[lo..<hi]))
            case .double: vals = .double(Array(col.doubles[lo..<hi]))
            case .string: vals = .str(Array(col.strs[lo..<hi]))
            }
            if col.errorRows.isEmpty { return BVec(v: vals, err: nil) }
            var map = columnErrorMap[idx]
            if map == nil {
                var m: [Int32] = [0]
                for (e, depth) in col.errors {
                    var located = e
                    located.location = locs[min(depth, locs.count - 1)]
                    m.append(register(located))
                }
                columnErrorMap[idx] = m
                map = m
            }
            let mm = map!
            var any = false
            var err = [Int32](repeating: 0, count: n)
            for k in 0..<n {
                let r = col.errorRows[lo + k]
                if r != 0 { err[k] = mm[Int(r)]; any = true }
            }
            return BVec(v: vals, err: any ? err : nil)

        case .not(let a):
            let x = eval(a, lo, n)
            switch x.v {
            case .cbool(let c): return BVec(v: .cbool(!c), err: x.err)
            default: return BVec(v: .bool(bools(x.v, n).map { !$0 }), err: x.err)
            }

        case .and(let a, let b), .or(let a, let b):
            let isAnd: Bool
            if case .and = node { isAnd = true } else { isAnd = false }
            let x = eval(a, lo, n), y = eval(b, lo, n)
            let xb = bools(x.v, n), yb = bools(y.v, n)
            var out = [Bool](repeating: false, count: n)
            if x.err == nil && y.err == nil {
                if isAnd { for k in 0..<n { out[k] = xb[k] && yb[k] } } else { for k in 0..<n { out[k] = xb[k] || yb[k] } }
                return BVec(v: .bool(out), err: nil)
            }
            let xe = x.err ?? [Int32](repeating: 0, count: n), ye = y.err ?? [Int32](repeating: 0, count: n)
            var err = [Int32](repeating: 0, count: n)
            var any = false
            let absorbing = !isAnd  // false absorbs for &&, true absorbs for ||
            for k in 0..<n {
                let xa = xe[k] == 0 && xb[k] == absorbing
                let ya = ye[k] == 0 && yb[k] == absorbing
                if xa || ya {
                    out[k] = absorbing
                } else if xe[k] == 0 && ye[k] == 0 {
                    out[k] = !absorbing
                } else {
                    err[k] = xe[k] != 0 ? xe[k] : ye[k]
                    any = true
                }
            }
            return BVec(v: .bool(out), err: any ? err : nil)

        case .cond(let c, let t, let f, let ty):
            let cv = eval(c, lo, n)
            if case .cbool(let b) = cv.v, cv.err == nil { return eval(b ? t : f, lo, n) }
            let tv = eval(t, lo, n), fv = eval(f, lo, n)
            let cb = bools(cv.v, n)
            var err: [Int32]? = nil
            if cv.err != nil || tv.err != nil || fv.err != nil {
                var e = [Int32](repeating: 0, count: n)
                for k in 0..<n {
                    if let ce = cv.err, ce[k] != 0 { e[k] = ce[k]; continue }
                    e[k] = cb[k] ? (tv.err?[k] ?? 0) : (fv.err?[k] ?? 0)
                }
                err = e
            }
            switch ty {
            case .bool:
                let tb = bools(tv.v, n), fb = bools(fv.v, n)
                return BVec(v: .bool((0..<n).map { cb[$0] ? tb[$0] : fb[$0] }), err: err)
            case .int:
                let ti = ints(tv.v, n), fi = ints(fv.v, n)
                return BVec(v: .int((0..<n).map { cb[$0] ? ti[$0] : fi[$0] }), err: err)
            default:
                let td = doubles(tv.v, n), fd = doubles(fv.v, n)
                return BVec(v: .double((0..<n).map { cb[$0] ? td[$0] : fd[$0] }), err: err)
            }

        case .neg(let a, let t, let overflow):
            let x = eval(a, lo, n)
            if t == .double { return BVec(v: .double(doubles(x.v, n).map { -$0 }), err: x.err) }
            let xi = ints(x.v, n)
            var out = [Int64](repeating: 0, count: n)
            var err = x.err
            for k in 0..<n {
                if xi[k] == Int64.min {
                    if err == nil { err = [Int32](repeating: 0, count: n) }
                    if err![k] == 0 { err![k] = overflow }
                } else {
                    out[k] = -xi[k]
                }
            }
            return BVec(v: .int(out), err: err)

        case .arith(let op, let a, let b, let t, let overflow, let divZero, let modZero):
            let x = eval(a, lo, n), y = eval(b, lo, n)
            var err = BatchRun.combine(x.err, y.err, n)
            if t == .double {
                var out = [Double](repeating: 0, count: n)
                switch (x.v, y.v) {
                case (.double(let xa), .cdouble(let c)):
                    switch op {
                    case .add: for k in 0..<n { out[k] = xa[k] + c }
                    case .sub: for k in 0..<n { out[k] = xa[k] - c }
                    case .mul: for k in 0..<n { out[k] = xa[k] * c }
                    default: for k in 0..<n { out[k] = xa[k] / c }
                    }
                case (.cdouble(let c), .double(let ya)):
                    switch op {
                    case .add: for k in 0..<n { out[k] = c + ya[k] }
                    case .sub: for k in 0..<n { out[k] = c - ya[k] }
                    case .mul: for k in 0..<n { out[k] = c * ya[k] }
                    default: for k in 0..<n { out[k] = c / ya[k] }
                    }
                default:
                    let xa = doubles(x.v, n), ya = doubles(y.v, n)
                    switch op {
                    case .add: for k in 0..<n { out[k] = xa[k] + ya[k] }
                    case .sub: for k in 0..<n { out[k] = xa[k] - ya[k] }
                    case .mul: for k in 0..<n { out[k] = xa[k] * ya[k] }
                    default: for k in 0..<n { out[k] = xa[k] / ya[k] }
                    }
                }
                return BVec(v: .double(out), err: err)
            }
            let xa = ints(x.v, n), ya = ints(y.v, n)
            var out = [Int64](repeating: 0, count: n)
            @inline(__always) func fail(_ k: Int, _ id: Int32) {
                if err == nil { err = [Int32](repeating: 0, count: n) }
                if err![k] == 0 { err![k] = id }
            }
            for k in 0..<n {
                let p = xa[k], q = ya[k]
                switch op {
                case .add:
                    let (r, o) = p.addingReportingOverflow(q)
                    if o { fail(k, overflow) } else { out[k] = r }
                case .sub:
                    let (r, o) = p.subtractingReportingOverflow(q)
                    if o { fail(k, overflow) } else { out[k] = r }
                case .mul:
                    let (r, o) = p.multipliedReportingOverflow(by: q)
                    if o { fail(k, overflow) } else { out[k] = r }
                case .div:
                    if q == 0 { fail(k, divZero) } else {
                        let (r, o) = p.dividedReportingOverflow(by: q)
                        if o { fail(k, overflow) } else { out[k] = r }
                    }
                case .mod:
                    if q == 0 { fail(k, modZero) } else {
                        let (r, o) = p.remainderReportingOverflow(dividingBy: q)
                        if o { fail(k, overflow) } else { out[k] = r }
                    }
                }
            }
            return BVec(v: .int(out), err: err)

        case .cmp(let op, let a, let b, let slot):
            let x = eval(a, lo, n), y = eval(b, lo, n)
            let err = BatchRun.combine(x.err, y.err, n)
            return BVec(v: .bool(compare(op, a.type, b.type, x.v, y.v, n, slot)), err: err)

        case .strPred(let a, let slot, let pred):
            let x = eval(a, lo, n)
            switch x.v {
            case .cstr(let s):
                let bytes = Array(s.utf8)
                return BVec(v: .cbool(bytes.withUnsafeBufferPointer { pred($0) }), err: x.err)
            default:
                let r = memoized(slot, strIds(x.v, n), n, 0) { pred($0) ? 1 : 0 }
                return BVec(v: .bool(r.map { $0 == 1 }), err: x.err)
            }

        case .strSize(let a, let slot):
            let x = eval(a, lo, n)
            if case .cstr(let s) = x.v { return BVec(v: .cint(Int64(s.unicodeScalars.count)), err: x.err) }
            return BVec(v: .int(memoized(slot, strIds(x.v, n), n, 0) { b in
                var c: Int64 = 0
                for byte in b where byte & 0xC0 != 0x80 { c += 1 }
                return c
            }), err: x.err)

        case .inStrings(let a, let slot, let items):
            let x = eval(a, lo, n)
            if case .cstr(let s) = x.v { return BVec(v: .cbool(items.contains { celStringEquals($0, s) }), err: x.err) }
            var member = memo.removeValue(forKey: slot) ?? []
            if member.isEmpty {
                member = [Int64](repeating: 0, count: table.dictionary.count)
                for s in items { if let id = table.dictionaryIndex[.string(s)] { member[Int(id)] = 1 } }
            }
            let ids = strIds(x.v, n)
            var out = [Bool](repeating: false, count: n)
            member.withUnsafeBufferPointer { m in
                for k in 0..<n { let id = ids[k]; out[k] = id >= 0 && m[Int(id)] == 1 }
            }
            memo[slot] = member
            return BVec(v: .bool(out), err: x.err)

        case .inInts(let a, let set, let ds):
            let x = eval(a, lo, n)
            let xi = ints(x.v, n)
            return BVec(v: .bool(xi.map { set.contains($0) || ds.contains(Double($0)) }), err: x.err)

        case .inDoubles(let a, let ds):
            let x = eval(a, lo, n)
            let xd = doubles(x.v, n)
            return BVec(v: .bool(xd.map { v in ds.contains(v) }), err: x.err)

        case .minMax(let isMin, let args, let t):
            let vs = args.map { eval($0, lo, n) }
            var err: [Int32]? = nil
            for v in vs { err = BatchRun.combine(err, v.err, n) }
            if t == .int {
                var acc = ints(vs[0].v, n)
                for v in vs.dropFirst() {
                    let o = ints(v.v, n)
                    for k in 0..<n { acc[k] = isMin ? Swift.min(acc[k], o[k]) : Swift.max(acc[k], o[k]) }
                }
                return BVec(v: .int(acc), err: err)
            }
            var acc = doubles(vs[0].v, n)
            for v in vs.dropFirst() {
                let o = doubles(v.v, n)
                for k in 0..<n {
                    let a = acc[k], b = o[k]
                    if a.isNaN { continue }
                    if b.isNaN { acc[k] = b; continue }
                    acc[k] = isMin ? (b < a ? b : a) : (b > a ? b : a)
                }
            }
            return BVec(v: .double(acc), err: err)

        case .toDouble(let a):
            let x = eval(a, lo, n)
            return BVec(v: .double(doubles(x.v, n)), err: x.err)
        }
    }

    /// Lexicographic UTF-8 byte comparison (= code point order).
    static func byteCompare(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Int {
        let m = min(a.count, b.count)
        if m > 0 {
            let c = memcmp(a.baseAddress!, b, m)
            if c != 0 { return c < 0 ? -1 : 1 }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    func compare(_ op: CmpOp, _ ta: BType, _ tb: BType, _ x: BVals, _ y: BVals, _ n: Int, _ slot: Int) -> [Bool] {
        var out = [Bool](repeating: false, count: n)
        @inline(__always) func apply<T: Comparable>(_ a: T, _ b: T) -> Bool {
            switch op {
            case .eq: return a == b
            case .ne: return a != b
            case .lt: return a < b
            case .le: return a <= b
            case .gt: return a > b
            case .ge: return a >= b
            }
        }
        switch (ta, tb) {
        case (.double, .double), (.int, .double), (.double, .int):
            if case .double(let xa) = x, case .cdouble(let c) = y {
                switch op {
                case .eq: for k in 0..<n { out[k] = xa[k] == c }
                case .ne: for k in 0..<n { out[k] = xa[k] != c }
                case .lt: for k in 0..<n { out[k] = xa[k] < c }
                case .le: for k in 0..<n { out[k] = xa[k] <= c }
                case .gt: for k in 0..<n { out[k] = xa[k] > c }
                case .ge: for k in 0..<n { out[k] = xa[k] >= c }
                }
                return out
            }
            let xa = doubles(x, n), ya = doubles(y, n)
            for k in 0..<n { out[k] = apply(xa[k], ya[k]) }
        case (.int, .int):
            if case .int(let xa) = x, case .cint(let c) = y {
                switch op {
                case .eq: for k in 0..<n { out[k] = xa[k] == c }
                case .ne: for k in 0..<n { out[k] = xa[k] != c }
                case .lt: for k in 0..<n { out[k] = xa[k] < c }
                case .le: for k in 0..<n { out[k] = xa[k] <= c }
                case .gt: for k in 0..<n { out[k] = xa[k] > c }
                case .ge: for k in 0..<n { out[k] = xa[k] >= c }
                }
                return out
            }
            let xa = ints(x, n), ya = ints(y, n)
            for k in 0..<n { out[k] = apply(xa[k], ya[k]) }
        case (.bool, .bool):
            let xa = bools(x, n), ya = bools(y, n)
            for k in 0..<n { out[k] = apply(xa[k] ? 1 : 0, ya[k] ? 1 : 0) }
        case (.string, .string):
            if op == .eq || op == .ne {
                let xa = strIds(x, n), ya = strIds(y, n)
                // -2 (constant absent from dictionary) never equals a column id; two absent
                // constants would have been folded away.
                for k in 0..<n { out[k] = (xa[k] == ya[k] && xa[k] != -1) == (op == .eq) }
                return out
            }
            switch (x, y) {
            case (.str(let xa), .cstr(let c)):
                let cb = Array(c.utf8)
                let r = memoized(slot, xa, n, 0) { apply(BatchRun.byteCompare($0, cb), 0) ? 1 : 0 }
                for k in 0..<n { out[k] = r[k] == 1 }
            case (.cstr(let c), .str(let ya)):
                let cb = Array(c.utf8)
                let r = memoized(slot, ya, n, 0) { apply(0, BatchRun.byteCompare($0, cb)) ? 1 : 0 }
                for k in 0..<n { out[k] = r[k] == 1 }
            default:
                let xa = strIds(x, n), ya = strIds(y, n)
                for k in 0..<n where xa[k] >= 0 && ya[k] >= 0 {
                    out[k] = apply(table.rank[Int(xa[k])], table.rank[Int(ya[k])])
                }
            }
        default:
            break
        }
        return out
    }
}
