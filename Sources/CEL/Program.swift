import Foundation

/// Resource limits applied when compiling and evaluating.
public struct CELLimits: Sendable, Hashable {
    /// Maximum source length in UTF-8 bytes.
    public var maxSourceLength: Int = 16_384
    /// Maximum nesting depth of the expression (parser recursion and AST depth).
    public var maxNestingDepth: Int = 100
    /// Maximum evaluation cost per evaluation. One unit per expression node, plus one unit per
    /// macro body evaluation node per element, plus size-proportional charges for string
    /// search, regex matching, concatenation and list membership.
    public var maxCost: Int = 100_000
    /// Maximum compiled regex program size (NFA instructions).
    public var maxRegexProgramSize: Int = 10_000
    /// Maximum counted repetition in regexes (`a{n}`), as in RE2.
    public var maxRegexRepeat: Int = 1_000

    public init(maxSourceLength: Int = 16_384, maxNestingDepth: Int = 100, maxCost: Int = 100_000,
                maxRegexProgramSize: Int = 10_000, maxRegexRepeat: Int = 1_000) {
        self.maxSourceLength = maxSourceLength
        self.maxNestingDepth = maxNestingDepth
        self.maxCost = maxCost
        self.maxRegexProgramSize = maxRegexProgramSize
        self.maxRegexRepeat = maxRegexRepeat
    }
}

/// The variables an expression may reference, with their static types.
public struct CELDeclarations: Sendable {
    public var variables: [String: CELType]
    /// When false, static type errors are not reported (types degrade to `dyn`) and
    /// mismatches surface at evaluation time as `no matching overload` errors.
    /// Undeclared identifiers and unknown functions are always compile errors.
    public var typeCheck: Bool

    public init(variables: [String: CELType] = [:], typeCheck: Bool = true) {
        self.variables = variables
        self.typeCheck = typeCheck
    }

    /// `profile` bound to a declared record type with the given fields.
    public static func profile(_ fields: [String: CELType], typeName: String = "Profile") -> CELDeclarations {
        CELDeclarations(variables: ["profile": .object(CELObjectType(name: typeName, fields: fields))])
    }

    /// `profile` declared as `dyn` (no schema): field access is checked at evaluation time.
    public static var dynamicProfile: CELDeclarations { CELDeclarations(variables: ["profile": .dyn]) }

    public func declaring(_ name: String, as type: CELType) -> CELDeclarations {
        var d = self
        d.variables[name] = type
        return d
    }
}

/// A compiled CEL program: parse + check + compile once, evaluate many times (thread-safe).
public struct CELProgram: Sendable {
    public let source: String
    public let declarations: CELDeclarations
    public let limits: CELLimits
    /// The type-checked AST (with resolved types and field paths).
    public let checked: CELCheckedExpr

    let root: Eval
    let variableNames: [String]
    let iterSlots: Int
    let staticCost: Int

    /// Static type of the result (e.g. `bool` for an eligibility rule, `double` for an amount).
    public var resultType: CELType { checked.type }

    /// Parses, type-checks and compiles `source`.
    /// - Throws: `CELCompileError` with kind `.syntax`, `.type` or `.limit`, message, line and column.
    public static func compile(
        _ source: String, declarations: CELDeclarations = CELDeclarations(), limits: CELLimits = CELLimits()
    ) throws(CELCompileError) -> CELProgram {
        // Parsing/checking recurse once per nesting level (a few KiB per level in release builds,
        // much more in debug builds). Potentially deep expressions are compiled on a helper thread
        // with a large stack so that callers on small-stack threads (512 KiB) cannot overflow.
        if potentialDepth(source) > 16 {
            let box = ResultBox()
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                box.result = Result { () throws(CELCompileError) -> CELProgram in
                    try compileOnCurrentThread(source, declarations: declarations, limits: limits)
                }
                done.signal()
            }
            thread.stackSize = 32 << 20
            thread.start()
            done.wait()
            return try box.result!.get()
        }
        return try compileOnCurrentThread(source, declarations: declarations, limits: limits)
    }

    /// Cheap upper bound of the nesting a source can produce: bracket depth plus operator count.
    static func potentialDepth(_ source: String) -> Int {
        var depth = 0, maxDepth = 0, ops = 0
        for b in source.utf8 {
            switch b {
            case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                maxDepth = max(maxDepth, depth)
            case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "*"), UInt8(ascii: "/"), UInt8(ascii: "%"),
                UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "&"),
                UInt8(ascii: "|"), UInt8(ascii: "?"), UInt8(ascii: "."), UInt8(ascii: ","):
                ops += 1
            default:
                break
            }
        }
        return maxDepth + ops
    }

    static func compileOnCurrentThread(
        _ source: String, declarations: CELDeclarations, limits: CELLimits
    ) throws(CELCompileError) -> CELProgram {
        let ast = try Parser.parse(source, limits: limits)
        var checker = Checker(variables: declarations.variables, strict: declarations.typeCheck)
        let checked = try checker.check(ast)
        let names = declarations.variables.keys.sorted()
        var index: [String: Int] = [:]
        for (i, n) in names.enumerated() { index[n] = i }
        var interp = Interpreter(varIndex: index, limits: limits)
        let compiled = try interp.compile(checked)
        return CELProgram(
            source: source, declarations: declarations, limits: limits, checked: checked, root: compiled.eval,
            variableNames: names, iterSlots: interp.maxIterDepth, staticCost: checked.nodeCount)
    }

    /// Compiles with `expectedType` enforced (e.g. `.bool` for eligibility rules, `.double` for amounts).
    public static func compile(
        _ source: String, declarations: CELDeclarations, expecting expectedType: CELType, limits: CELLimits = CELLimits()
    ) throws(CELCompileError) -> CELProgram {
        let p = try compile(source, declarations: declarations, limits: limits)
        var subs: [String: CELType] = [:]
        if declarations.typeCheck, !p.resultType.isDyn, !Checker.unify(expectedType, p.resultType, &subs) {
            throw CELCompileError(.type, "expression has type '\(p.resultType)' but '\(expectedType)' is required", at: p.checked.location)
        }
        return p
    }

    /// Evaluates with the given variable bindings. Never throws: evaluation errors are returned
    /// as `.error(CELEvalError)` (division by zero, no such key, overflow, cost limit, ...).
    public func evaluate(_ activation: [String: CELValue] = [:]) -> CELValue {
        evaluateWithCost(activation, costLimit: limits.maxCost).value
    }

    /// Evaluates with `profile` bound to the given value (other declared variables unbound).
    public func evaluate(profile: CELValue) -> CELValue {
        if variableNames.count == 1 && variableNames[0] == "profile" {
            if staticCost > limits.maxCost { return run([profile], costLimit: limits.maxCost).value }
            let ctx = EvalContext(single: profile, iterSlots: iterSlots, costLimit: limits.maxCost, initialCost: staticCost)
            let v = root(ctx)
            if ctx.costExceeded {
                return .error(CELEvalError(.costLimitExceeded, "cost limit exceeded (limit \(limits.maxCost))"))
            }
            return v
        }
        return evaluateWithCost(["profile": profile], costLimit: limits.maxCost).value
    }

    /// Evaluates and also reports the cost consumed.
    public func evaluateWithCost(_ activation: [String: CELValue], costLimit: Int? = nil) -> (value: CELValue, cost: Int) {
        let limit = costLimit ?? limits.maxCost
        var vars: [CELValue] = []
        vars.reserveCapacity(variableNames.count)
        for n in variableNames {
            vars.append(activation[n] ?? .error(CELEvalError(.unboundVariable, "no value bound for variable '\(n)'")))
        }
        return run(vars, costLimit: limit)
    }

    func run(_ vars: [CELValue], costLimit limit: Int) -> (value: CELValue, cost: Int) {
        if staticCost > limit {
            return (.error(CELEvalError(.costLimitExceeded, "cost limit exceeded (\(staticCost) > \(limit))")), staticCost)
        }
        let ctx = EvalContext(vars: vars, iterSlots: iterSlots, costLimit: limit, initialCost: staticCost)
        let v = root(ctx)
        if ctx.costExceeded {
            return (.error(CELEvalError(.costLimitExceeded, "cost limit exceeded (limit \(limit))")), ctx.cost)
        }
        return (v, ctx.cost)
    }
}

private final class ResultBox: @unchecked Sendable {
    // Written by the helper thread before `done.signal()`, read after `done.wait()`.
    var result: Result<CELProgram, CELCompileError>?
}
