import Foundation

/// A runtime CEL value. Errors are values (`.error`), as in the CEL evaluation model.
public enum CELValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case list([CELValue])
    case map(CELMap)
    case timestamp(CELTimestamp)
    case duration(CELDuration)
    case type(CELType)
    case error(CELEvalError)

    /// The coarse runtime type of the value (what `type(x)` yields).
    public var celType: CELType {
        switch self {
        case .null: return .null
        case .bool: return .bool
        case .int: return .int
        case .uint: return .uint
        case .double: return .double
        case .string: return .string
        case .bytes: return .bytes
        case .list: return .list(.dyn)
        case .map: return .map(.dyn, .dyn)
        case .timestamp: return .timestamp
        case .duration: return .duration
        case .type(let t): return .type(t)
        case .error: return .dyn
        }
    }

    /// Name used in error messages ("no matching overload ... applied to (int, string)").
    var typeName: String {
        switch self {
        case .list: return "list"
        case .map: return "map"
        case .type: return "type"
        case .error: return "error"
        default: return celType.description
        }
    }

    public var isError: Bool { if case .error = self { return true } else { return false } }

    public var errorValue: CELEvalError? { if case .error(let e) = self { return e } else { return nil } }

    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// Convenience constructor for a map with string keys.
    public static func object(_ fields: [String: CELValue]) -> CELValue {
        .map(CELMap(fields.sorted { $0.key < $1.key }.map { (CELMapKey.string($0.key), $0.value) }))
    }
}

// MARK: - Errors

/// A CEL evaluation error (division by zero, no such key, overflow, ...).
public struct CELEvalError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case noMatchingOverload = "no_matching_overload"
        case divisionByZero = "division_by_zero"
        case moduloByZero = "modulus_by_zero"
        case overflow = "overflow"
        case indexOutOfRange = "index_out_of_range"
        case noSuchKey = "no_such_key"
        case noSuchField = "no_such_field"
        case unboundVariable = "unbound_variable"
        case invalidArgument = "invalid_argument"
        case outOfRange = "range_error"
        case costLimitExceeded = "cost_limit_exceeded"
        case typeMismatch = "type_mismatch"
    }

    public let code: Code
    public let message: String
    /// Source position of the sub-expression that raised the error, when known.
    public internal(set) var location: CELSourceLocation?

    public init(_ code: Code, _ message: String, location: CELSourceLocation? = nil) {
        self.code = code
        self.message = message
        self.location = location
    }

    public var description: String {
        if let l = location { return "\(message) (at \(l.line):\(l.column))" }
        return message
    }
}

// MARK: - Map

/// Key of a CEL map: int, uint, bool or string. Numeric keys compare by value across
/// int and uint (heterogeneous equality), so `{1: 'a'}[1u]` finds the entry.
public enum CELMapKey: Sendable, Hashable, CustomStringConvertible {
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case string(String)

    public static func == (a: CELMapKey, b: CELMapKey) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.int(let x), .uint(let y)): return x >= 0 && UInt64(x) == y
        case (.uint(let x), .int(let y)): return y >= 0 && UInt64(y) == x
        case (.string(let x), .string(let y)): return celStringEquals(x, y)
        default: return false
        }
    }

    public func hash(into h: inout Hasher) {
        switch self {
        case .bool(let b): h.combine(0 as UInt8); h.combine(b)
        case .int(let i):
            if i >= 0 { h.combine(1 as UInt8); h.combine(UInt64(i)) } else { h.combine(2 as UInt8); h.combine(i) }
        case .uint(let u): h.combine(1 as UInt8); h.combine(u)
        case .string(let s): h.combine(3 as UInt8); h.combine(s)
        }
    }

    public var value: CELValue {
        switch self {
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .uint(u)
        case .string(let s): return .string(s)
        }
    }

    public var description: String {
        switch self {
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .uint(let u): return "\(u)u"
        case .string(let s): return celQuote(s)
        }
    }

    /// Converts a value to a key for lookups. Integral doubles look up int/uint keys.
    /// Returns nil for values that can never be a key (lookup then finds nothing).
    static func lookupKey(_ v: CELValue) -> CELMapKey? {
        switch v {
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .uint(u)
        case .string(let s): return .string(s)
        case .double(let d):
            if d.rounded(.towardZero) == d {
                if d >= -9.223372036854775808e18 && d < 9.223372036854775808e18 { return .int(Int64(d)) }
                if d >= 0 && d < 1.8446744073709551616e19 { return .uint(UInt64(d)) }
            }
            return nil
        default: return nil
        }
    }
}

/// An immutable, insertion-ordered CEL map.
public final class CELMap: Sendable, CustomStringConvertible {
    public let keys: [CELMapKey]
    public let values: [CELValue]
    private let index: [CELMapKey: Int]
    // Open-addressing table over string keys with a cheap FNV-1a hash, so that field selection
    // (`profile.revenue`, with the hash precomputed at compile time) avoids String hashing.
    private let strTable: [StringSlot]
    private let strMask: Int

    struct StringSlot: Sendable {
        var hash: UInt64 = 0
        /// entry index + 1; 0 = empty slot
        var entry: Int32 = 0
    }

    /// Builds a map; a later duplicate key replaces the earlier value (use `make` to detect duplicates).
    public init(_ entries: [(CELMapKey, CELValue)]) {
        var keys: [CELMapKey] = []
        var values: [CELValue] = []
        var index: [CELMapKey: Int] = [:]
        keys.reserveCapacity(entries.count)
        values.reserveCapacity(entries.count)
        index.reserveCapacity(entries.count)
        for (k, v) in entries {
            if let i = index[k] {
                values[i] = v
            } else {
                index[k] = keys.count
                keys.append(k)
                values.append(v)
            }
        }
        var size = 4
        while size < keys.count * 2 { size <<= 1 }
        var table = [StringSlot](repeating: StringSlot(), count: size)
        for (i, k) in keys.enumerated() {
            guard case .string(let s) = k else { continue }
            let h = CELMap.hash(s)
            var slot = Int(truncatingIfNeeded: h) & (size - 1)
            while table[slot].entry != 0 { slot = (slot + 1) & (size - 1) }
            table[slot] = StringSlot(hash: h, entry: Int32(i + 1))
        }
        self.keys = keys
        self.values = values
        self.index = index
        self.strTable = table
        self.strMask = size - 1
    }

    /// FNV-1a over the UTF-8 bytes.
    @inline(__always)
    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Fast lookup of a string key whose `CELMap.hash` is already known.
    @inline(__always)
    func lookup(_ s: String, hash: UInt64) -> CELValue? {
        var slot = Int(truncatingIfNeeded: hash) & strMask
        while true {
            let e = strTable[slot]
            if e.entry == 0 { return nil }
            let i = Int(e.entry) - 1
            if e.hash == hash, case .string(let k) = keys[i], celStringEquals(k, s) { return values[i] }
            slot = (slot + 1) & strMask
        }
    }

    /// Builds a map, returning nil on a duplicate key.
    static func make(_ entries: [(CELMapKey, CELValue)]) -> CELMap? {
        var seen = Set<CELMapKey>()
        for (k, _) in entries where !seen.insert(k).inserted { return nil }
        return CELMap(entries)
    }

    public var count: Int { keys.count }

    public subscript(key: CELMapKey) -> CELValue? {
        if case .string(let s) = key { return lookup(s, hash: CELMap.hash(s)) }
        guard let i = index[key] else { return nil }
        return values[i]
    }

    public subscript(key: String) -> CELValue? { lookup(key, hash: CELMap.hash(key)) }

    public func contains(_ key: CELMapKey) -> Bool { self[key] != nil }

    public var entries: Zip2Sequence<[CELMapKey], [CELValue]> { zip(keys, values) }

    public var description: String {
        "{" + entries.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
    }
}

// MARK: - Swift-level equality (structural, type-sensitive; for tests and host code)

extension CELValue: Equatable {
    /// Structural equality: same kind and same payload (`1 != 1.0` here; NaN equals NaN).
    /// For CEL's `==` semantics use `celEquals`.
    public static func == (a: CELValue, b: CELValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.string(let x), .string(let y)): return celStringEquals(x, y)
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.list(let x), .list(let y)): return x == y
        case (.map(let x), .map(let y)):
            guard x.count == y.count else { return false }
            for (k, v) in x.entries {
                guard let w = y[k], v == w else { return false }
            }
            return true
        case (.timestamp(let x), .timestamp(let y)): return x == y
        case (.duration(let x), .duration(let y)): return x == y
        case (.type(let x), .type(let y)): return x.runtimeName == y.runtimeName
        case (.error(let x), .error(let y)): return x.code == y.code && x.message == y.message
        default: return false
        }
    }
}

// MARK: - Literal conveniences

extension CELValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: CELValue...) { self = .list(elements) }
    public init(nilLiteral: ()) { self = .null }
}

// MARK: - Description (CEL-like literal syntax)

extension CELValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .uint(let u): return "\(u)u"
        case .double(let d):
            if d.isNaN { return "double('NaN')" }
            if d.isInfinite { return d > 0 ? "double('Infinity')" : "double('-Infinity')" }
            return "\(d)"
        case .string(let s): return celQuote(s)
        case .bytes(let b): return "b\"" + b.map { byte -> String in
                if byte >= 0x20 && byte < 0x7f && byte != 0x22 && byte != 0x5c { return String(UnicodeScalar(byte)) }
                let o = String(byte, radix: 8)
                return "\\" + String(repeating: "0", count: 3 - o.count) + o
            }.joined() + "\""
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): return m.description
        case .timestamp(let t): return "timestamp(\(celQuote(t.description)))"
        case .duration(let d): return "duration(\(celQuote(d.description)))"
        case .type(let t): return t.runtimeName
        case .error(let e): return "error(\(e.description))"
        }
    }
}

func celQuote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += "\\x" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

/// Code-point equality (no Unicode normalization, unlike Swift's `String ==`).
@inline(__always)
func celStringEquals(_ a: String, _ b: String) -> Bool {
    let au = a.utf8, bu = b.utf8
    let n = au.count
    if n != bu.count { return false }
    if n == 0 { return true }
    let r = au.withContiguousStorageIfAvailable { pa in
        bu.withContiguousStorageIfAvailable { pb in memcmp(pa.baseAddress!, pb.baseAddress!, n) == 0 }
    }
    if let r, let eq = r { return eq }
    return au.elementsEqual(bu)
}

/// Code-point lexicographic comparison (UTF-8 byte order equals code point order).
@inline(__always)
func celStringCompare(_ a: String, _ b: String) -> Int {
    var ai = a.utf8.makeIterator(), bi = b.utf8.makeIterator()
    while true {
        switch (ai.next(), bi.next()) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case (let x?, let y?): if x != y { return x < y ? -1 : 1 }
        }
    }
}
