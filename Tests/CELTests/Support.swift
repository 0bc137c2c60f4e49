import CEL
import Testing

/// Expected outcome of evaluating an expression.
enum Expect: Sendable {
    case value(CELValue)
    /// Evaluation error whose message contains the substring.
    case error(String)
    /// Compile error whose message contains the substring (optionally at line:column).
    case compileError(String, line: Int? = nil, column: Int? = nil)
}

struct Case: Sendable, CustomTestStringConvertible {
    let expr: String
    let expect: Expect
    /// false = the conformance test has `disable_check: true` (runtime semantics only).
    let checked: Bool
    let bindings: [String: CELValue]

    init(_ expr: String, _ expect: Expect, checked: Bool = true, bindings: [String: CELValue] = [:]) {
        self.expr = expr
        self.expect = expect
        self.checked = checked
        self.bindings = bindings
    }

    var testDescription: String { expr.count > 80 ? String(expr.prefix(77)) + "..." : expr }
}

func v(_ x: CELValue) -> Expect { .value(x) }
func err(_ s: String) -> Expect { .error(s) }
func compileErr(_ s: String, _ line: Int? = nil, _ col: Int? = nil) -> Expect { .compileError(s, line: line, column: col) }

func list(_ xs: CELValue...) -> CELValue { .list(xs) }
func u(_ x: UInt64) -> CELValue { .uint(x) }
func d(_ x: Double) -> CELValue { .double(x) }
func bytes(_ x: [UInt8]) -> CELValue { .bytes(x) }

func run(_ c: Case, declarations: CELDeclarations? = nil, limits: CELLimits = CELLimits(), sourceLocation: SourceLocation = #_sourceLocation) {
    var decls = declarations ?? CELDeclarations()
    for (k, val) in c.bindings where decls.variables[k] == nil { decls.variables[k] = val.celType.isDyn ? .dyn : dynType(val) }
    decls.typeCheck = c.checked
    let program: CELProgram
    do {
        program = try CELProgram.compile(c.expr, declarations: decls, limits: limits)
    } catch {
        if case .compileError(let msg, let line, let col) = c.expect {
            #expect(error.message.contains(msg), "compile error message \"\(error.message)\" does not contain \"\(msg)\"", sourceLocation: sourceLocation)
            if let line { #expect(error.line == line, "line of \(error)", sourceLocation: sourceLocation) }
            if let col { #expect(error.column == col, "column of \(error)", sourceLocation: sourceLocation) }
        } else {
            Issue.record("unexpected compile error: \(error)", sourceLocation: sourceLocation)
        }
        return
    }
    let result = program.evaluate(c.bindings)
    switch c.expect {
    case .value(let want):
        #expect(result == want, "\(c.expr) => \(result), want \(want)", sourceLocation: sourceLocation)
    case .error(let msg):
        if case .error(let e) = result {
            #expect(e.message.contains(msg), "error \"\(e.message)\" does not contain \"\(msg)\"", sourceLocation: sourceLocation)
        } else {
            Issue.record("\(c.expr) => \(result), want error containing \"\(msg)\"", sourceLocation: sourceLocation)
        }
    case .compileError(let msg, _, _):
        Issue.record("\(c.expr) compiled (result \(result)), want compile error containing \"\(msg)\"", sourceLocation: sourceLocation)
    }
}

/// Static type for a binding value (lists/maps as dyn-element containers).
func dynType(_ v: CELValue) -> CELType {
    switch v {
    case .list: return .list(.dyn)
    case .map: return .map(.dyn, .dyn)
    default: return v.celType
    }
}
