/// Static (checker) types of CEL, following cel-spec `langdef.md` "Gradual Type Checking".
///
/// `object` is a declared record ("message") type: at runtime it is a map with string keys
/// (typically a JSON object), but the checker knows its fields and reports unknown fields.
public indirect enum CELType: Sendable, Hashable, CustomStringConvertible {
    case dyn
    case null
    case bool
    case int
    case uint
    case double
    case string
    case bytes
    case timestamp
    case duration
    case list(CELType)
    case map(CELType, CELType)
    case object(CELObjectType)
    /// The type of a type value; `type(int)` has type `type(int)`, printed as `type`.
    case type(CELType)
    /// Checker-internal type parameter used in overload signatures (e.g. `list(A)`).
    case typeParam(String)

    public var description: String {
        switch self {
        case .dyn: return "dyn"
        case .null: return "null_type"
        case .bool: return "bool"
        case .int: return "int"
        case .uint: return "uint"
        case .double: return "double"
        case .string: return "string"
        case .bytes: return "bytes"
        case .timestamp: return "google.protobuf.Timestamp"
        case .duration: return "google.protobuf.Duration"
        case .list(let e): return "list(\(e))"
        case .map(let k, let v): return "map(\(k), \(v))"
        case .object(let o): return o.name
        case .type(let t):
            if case .dyn = t { return "type" }
            return "type(\(t))"
        case .typeParam(let n): return n
        }
    }

    /// The coarse runtime type name (what `type(x)` returns, e.g. `list`, `map`).
    public var runtimeName: String {
        switch self {
        case .list: return "list"
        case .map, .object: return "map"
        case .type: return "type"
        default: return description
        }
    }

    public var isNumeric: Bool {
        switch self {
        case .int, .uint, .double: return true
        default: return false
        }
    }

    public var isDyn: Bool { if case .dyn = self { return true } else { return false } }

    /// Convenience: a declared record type.
    public static func object(_ name: String, _ fields: [String: CELType]) -> CELType {
        .object(CELObjectType(name: name, fields: fields))
    }

    /// Parses a type expression such as `int`, `list(string)`, `map(string, double)`,
    /// `timestamp`, `duration`, `dyn`. Returns nil when malformed.
    public init?(parsing text: String) {
        var p = TypeTextParser(Array(text.unicodeScalars))
        guard let t = p.parseType(), p.atEnd else { return nil }
        self = t
    }
}

/// A declared record type with named, typed fields (e.g. the applicant profile schema).
public struct CELObjectType: Sendable, Hashable {
    public let name: String
    public let fields: [String: CELType]

    public init(name: String, fields: [String: CELType]) {
        self.name = name
        self.fields = fields
    }
}

private struct TypeTextParser {
    let s: [Unicode.Scalar]
    var i = 0
    init(_ s: [Unicode.Scalar]) { self.s = s }

    var atEnd: Bool {
        mutating get { skipWS(); return i == s.count }
    }

    mutating func skipWS() { while i < s.count, s[i] == " " || s[i] == "\t" { i += 1 } }

    mutating func ident() -> String? {
        skipWS()
        var out = String.UnicodeScalarView()
        while i < s.count, s[i].properties.isAlphabetic || s[i] == "_" || s[i] == "." || ("0"..."9").contains(s[i]) {
            out.append(s[i]); i += 1
        }
        return out.isEmpty ? nil : String(out)
    }

    mutating func expect(_ c: Unicode.Scalar) -> Bool {
        skipWS()
        if i < s.count, s[i] == c { i += 1; return true }
        return false
    }

    mutating func parseType() -> CELType? {
        guard let name = ident() else { return nil }
        switch name {
        case "dyn", "any": return .dyn
        case "null", "null_type": return .null
        case "bool": return .bool
        case "int": return .int
        case "uint": return .uint
        case "double": return .double
        case "string": return .string
        case "bytes": return .bytes
        case "timestamp", "google.protobuf.Timestamp": return .timestamp
        case "duration", "google.protobuf.Duration": return .duration
        case "list":
            guard expect("("), let e = parseType(), expect(")") else { return nil }
            return .list(e)
        case "map":
            guard expect("("), let k = parseType(), expect(","), let v = parseType(), expect(")") else { return nil }
            return .map(k, v)
        default: return nil
        }
    }
}
