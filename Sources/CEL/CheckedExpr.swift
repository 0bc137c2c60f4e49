/// Built-in functions and operators. `rawValue` is the CEL overload name (`_+_`, `size`, ...).
public enum CELFunction: String, Sendable, Hashable, CaseIterable {
    case add = "_+_"
    case subtract = "_-_"
    case multiply = "_*_"
    case divide = "_/_"
    case modulo = "_%_"
    case negate = "-_"
    case not = "!_"
    case equals = "_==_"
    case notEquals = "_!=_"
    case less = "_<_"
    case lessOrEqual = "_<=_"
    case greater = "_>_"
    case greaterOrEqual = "_>=_"
    case `in` = "@in"
    case index = "_[_]"
    case size
    case contains
    case startsWith
    case endsWith
    case matches
    case toInt = "int"
    case toUint = "uint"
    case toDouble = "double"
    case toString = "string"
    case toBytes = "bytes"
    case toBool = "bool"
    case dyn
    case type
    case timestamp
    case duration
    case min
    case max
    case getFullYear
    case getMonth
    case getDate
    case getDayOfMonth
    case getDayOfWeek
    case getDayOfYear
    case getHours
    case getMinutes
    case getSeconds
    case getMilliseconds

    /// Name shown in diagnostics: operators as their symbol.
    public var displayName: String {
        switch self {
        case .add: return "+"
        case .subtract: return "-"
        case .multiply: return "*"
        case .divide: return "/"
        case .modulo: return "%"
        case .negate: return "-"
        case .not: return "!"
        case .equals: return "=="
        case .notEquals: return "!="
        case .less: return "<"
        case .lessOrEqual: return "<="
        case .greater: return ">"
        case .greaterOrEqual: return ">="
        case .in: return "in"
        case .index: return "[]"
        default: return rawValue
        }
    }

    var isOperator: Bool { rawValue.hasPrefix("_") || rawValue.hasSuffix("_") || rawValue == "@in" }
}

/// A type-checked expression node: resolved kind, static type and source position.
/// This tree is the input of the interpreter and of `CELBatchEvaluator`.
public final class CELCheckedExpr: Sendable {
    public struct MapEntry: Sendable {
        public let key: CELCheckedExpr
        public let value: CELCheckedExpr
    }

    public enum Kind: Sendable {
        /// A literal or folded constant.
        case constant(CELValue)
        /// A declared top-level variable (e.g. `profile`).
        case variable(String)
        /// A macro iteration variable; `slot` is the comprehension nesting level (0 = outermost).
        case iterationVariable(String, slot: Int)
        /// `operand.field`. `declaredType` is set when the operand is a declared object type;
        /// the runtime value is then validated/coerced to that type (e.g. JSON int -> double).
        case select(CELCheckedExpr, field: String, declaredType: CELType?)
        /// `has(operand.field)`.
        case presenceTest(CELCheckedExpr, field: String)
        /// `a && b` (commutative with respect to errors).
        case and(CELCheckedExpr, CELCheckedExpr)
        /// `a || b` (commutative with respect to errors).
        case or(CELCheckedExpr, CELCheckedExpr)
        /// `c ? t : f` (only one branch is evaluated).
        case conditional(CELCheckedExpr, CELCheckedExpr, CELCheckedExpr)
        /// A strict function call; for receiver-style calls the receiver is `args[0]`.
        case call(CELFunction, [CELCheckedExpr])
        case list([CELCheckedExpr])
        case map([MapEntry])
        /// A macro: `range.all(variable, predicate)`, `range.map(variable, [predicate,] transform)`, ...
        case comprehension(CELMacro, range: CELCheckedExpr, variable: String, slot: Int, predicate: CELCheckedExpr?, transform: CELCheckedExpr?)
    }

    public let kind: Kind
    public let type: CELType
    public let location: CELSourceLocation

    public init(_ kind: Kind, type: CELType, location: CELSourceLocation) {
        self.kind = kind
        self.type = type
        self.location = location
    }

    /// If this node is a chain of field selections on a declared variable
    /// (e.g. `profile.address.city`), the variable and the field names.
    public var fieldPath: CELFieldPath? {
        switch kind {
        case .variable(let v): return CELFieldPath(variable: v, fields: [])
        case .select(let operand, let field, _):
            guard let p = operand.fieldPath else { return nil }
            return CELFieldPath(variable: p.variable, fields: p.fields + [field])
        default: return nil
        }
    }

    /// Children in evaluation order.
    public var children: [CELCheckedExpr] {
        switch kind {
        case .constant, .variable, .iterationVariable: return []
        case .select(let e, _, _), .presenceTest(let e, _): return [e]
        case .and(let a, let b), .or(let a, let b): return [a, b]
        case .conditional(let a, let b, let c): return [a, b, c]
        case .call(_, let args), .list(let args): return args
        case .map(let es): return es.flatMap { [$0.key, $0.value] }
        case .comprehension(_, let r, _, _, let p, let t): return [r] + [p, t].compactMap { $0 }
        }
    }

    /// Number of nodes in this tree.
    public var nodeCount: Int { 1 + children.reduce(0) { $0 + $1.nodeCount } }

    /// All declared-variable field paths referenced by this expression.
    public var referencedFieldPaths: [CELFieldPath] {
        var out: [CELFieldPath] = []
        var seen = Set<CELFieldPath>()
        func walk(_ e: CELCheckedExpr) {
            if case .select = e.kind, let p = e.fieldPath {
                if seen.insert(p).inserted { out.append(p) }
                return
            }
            if case .presenceTest(let operand, let f) = e.kind, let p = operand.fieldPath {
                let fp = CELFieldPath(variable: p.variable, fields: p.fields + [f])
                if seen.insert(fp).inserted { out.append(fp) }
                return
            }
            e.children.forEach(walk)
        }
        walk(self)
        return out
    }
}

/// `profile.address.city` -> variable "profile", fields ["address", "city"].
public struct CELFieldPath: Sendable, Hashable, CustomStringConvertible {
    public let variable: String
    public let fields: [String]

    public init(variable: String, fields: [String]) {
        self.variable = variable
        self.fields = fields
    }

    public var description: String { ([variable] + fields).joined(separator: ".") }
}
