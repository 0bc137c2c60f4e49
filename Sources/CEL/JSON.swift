import Foundation

/// Malformed JSON input.
public struct CELJSONError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

extension CELValue {
    /// Decodes JSON text. Integers (no fraction/exponent) that fit in 64 bits become `int`,
    /// all other numbers `double`; objects become string-keyed maps (insertion order kept).
    public static func fromJSON(_ data: Data, maxDepth: Int = 128) throws(CELJSONError) -> CELValue {
        var p = JSONParser(bytes: Array(data), maxDepth: maxDepth)
        p.skipWS()
        let v = try p.value(depth: 0)
        p.skipWS()
        if p.i != p.bytes.count { throw CELJSONError(message: "unexpected trailing characters", offset: p.i) }
        return v
    }

    public static func fromJSON(_ text: String, maxDepth: Int = 128) throws(CELJSONError) -> CELValue {
        try fromJSON(Data(text.utf8), maxDepth: maxDepth)
    }

    /// Converts `JSONSerialization` output (or plain Swift values) to a CEL value.
    /// JSON integers become `int`, other numbers `double`. Unsupported values become an error value.
    public init(json: Any) {
        switch json {
        case let v as CELValue: self = v
        case is NSNull: self = .null
        case let s as String: self = .string(s)
        case let n as NSNumber where Swift.type(of: json) is NSNumber.Type:
            self = CELValue.fromNSNumber(n)
        case let b as Bool: self = .bool(b)
        case let i as Int: self = .int(Int64(i))
        case let i as Int64: self = .int(i)
        case let i as Int32: self = .int(Int64(i))
        case let u as UInt64: self = .uint(u)
        case let u as UInt: self = .uint(UInt64(u))
        case let d as Double: self = .double(d)
        case let f as Float: self = .double(Double(f))
        case let a as [Any]: self = .list(a.map { CELValue(json: $0) })
        case let d as [String: Any]:
            self = .map(CELMap(d.sorted { $0.key < $1.key }.map { (CELMapKey.string($0.key), CELValue(json: $0.value)) }))
        case let d as Data: self = .bytes(Array(d))
        case let d as Date:
            let secs = d.timeIntervalSince1970
            let whole = secs.rounded(.down)
            self = CELTimestamp(seconds: Int64(whole), nanos: Int32(((secs - whole) * 1e9).rounded())).map { .timestamp($0) }
                ?? .error(CELEvalError(.outOfRange, "timestamp out of range"))
        case Optional<Any>.none: self = .null
        default:
            self = .error(CELEvalError(.invalidArgument, "unsupported JSON value of type \(Swift.type(of: json))"))
        }
    }

    static func fromNSNumber(_ n: NSNumber) -> CELValue {
        #if canImport(Darwin)
        if CFGetTypeID(n) == CFBooleanGetTypeID() { return .bool(n.boolValue) }
        #else
        if n === NSNumber(value: true) || n === NSNumber(value: false) { return .bool(n.boolValue) }
        #endif
        let t = String(cString: n.objCType)
        switch t {
        case "B": return .bool(n.boolValue)
        case "d", "f": return .double(n.doubleValue)
        case "Q", "L", "I", "S":
            let u = n.uint64Value
            return u <= UInt64(Int64.max) ? .int(Int64(u)) : .uint(u)
        default: return .int(n.int64Value)
        }
    }

    /// Foundation-compatible object: NSNull, Bool, Int, UInt64, Double, String, [Any], [String: Any].
    /// bytes -> base64 string, timestamp -> RFC 3339 string, duration -> "1.5s", NaN/Infinity -> strings,
    /// errors -> ["error": message].
    public var jsonObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return Int(i)
        case .uint(let u): return u
        case .double(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
            return d
        case .string(let s): return s
        case .bytes(let b): return Data(b).base64EncodedString()
        case .list(let l): return l.map(\.jsonObject)
        case .map(let m):
            var out: [String: Any] = [:]
            for (k, v) in m.entries { out[k.jsonKey] = v.jsonObject }
            return out
        case .timestamp(let t): return t.description
        case .duration(let d): return d.description
        case .type(let t): return t.runtimeName
        case .error(let e): return ["error": e.description]
        }
    }

    /// Deterministic JSON text (map entries in insertion order; doubles keep a fraction or exponent
    /// so they read back as double).
    public func jsonString() -> String {
        var out = ""
        writeJSON(&out)
        return out
    }

    func writeJSON(_ out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .double(let d):
            if d.isNaN { out += "\"NaN\"" } else if d.isInfinite { out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"" } else { out += "\(d)" }
        case .string(let s): writeJSONString(s, &out)
        case .bytes(let b): writeJSONString(Data(b).base64EncodedString(), &out)
        case .list(let l):
            out += "["
            for (i, v) in l.enumerated() {
                if i > 0 { out += "," }
                v.writeJSON(&out)
            }
            out += "]"
        case .map(let m):
            out += "{"
            for (i, (k, v)) in m.entries.enumerated() {
                if i > 0 { out += "," }
                writeJSONString(k.jsonKey, &out)
                out += ":"
                v.writeJSON(&out)
            }
            out += "}"
        case .timestamp(let t): writeJSONString(t.description, &out)
        case .duration(let d): writeJSONString(d.description, &out)
        case .type(let t): writeJSONString(t.runtimeName, &out)
        case .error(let e):
            out += "{\"error\":"
            writeJSONString(e.description, &out)
            out += "}"
        }
    }
}

extension CELMapKey {
    var jsonKey: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .bool(let b): return b ? "true" : "false"
        }
    }
}

func writeJSONString(_ s: String, _ out: inout String) {
    out += "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    out += "\""
}

struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    let maxDepth: Int

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func fail(_ m: String) -> CELJSONError { CELJSONError(message: m, offset: i) }

    mutating func skipWS() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func literal(_ word: String, _ v: CELValue) throws(CELJSONError) -> CELValue {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("invalid literal") }
        i += w.count
        return v
    }

    mutating func value(depth: Int) throws(CELJSONError) -> CELValue {
        guard depth < maxDepth else { throw fail("nesting too deep") }
        guard i < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var entries: [(CELMapKey, CELValue)] = []
            skipWS()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .map(CELMap(entries)) }
            while true {
                skipWS()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected object key") }
                let k = try string()
                skipWS()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                skipWS()
                let v = try value(depth: depth + 1)
                entries.append((.string(k), v))
                skipWS()
                guard i < bytes.count else { throw fail("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .map(CELMap(entries)) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [CELValue] = []
            skipWS()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .list(items) }
            while true {
                skipWS()
                items.append(try value(depth: depth + 1))
                skipWS()
                guard i < bytes.count else { throw fail("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .list(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default: return try number()
        }
    }

    mutating func number() throws(CELJSONError) -> CELValue {
        let start = i
        var isInt = true
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        let digitsStart = i
        while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        guard i > digitsStart else { throw fail("invalid value") }
        if bytes[digitsStart] == 48 && i - digitsStart > 1 { throw fail("leading zeros are not allowed") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            isInt = false
            i += 1
            let f = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > f else { throw fail("invalid number") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            isInt = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let f = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > f else { throw fail("invalid number") }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if isInt, let v = Int64(text) { return .int(v) }
        guard let d = Double(text) else { throw fail("invalid number") }
        return .double(d)
    }

    mutating func hex4() throws(CELJSONError) -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
            throw fail("invalid \\u escape")
        }
        i += 4
        return v
    }

    mutating func string() throws(CELJSONError) -> String {
        i += 1  // opening quote
        var buf: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw fail("control character in string") }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { throw fail("unterminated string") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): buf.append(0x22)
                case UInt8(ascii: "\\"): buf.append(0x5C)
                case UInt8(ascii: "/"): buf.append(0x2F)
                case UInt8(ascii: "b"): buf.append(0x08)
                case UInt8(ascii: "f"): buf.append(0x0C)
                case UInt8(ascii: "n"): buf.append(0x0A)
                case UInt8(ascii: "r"): buf.append(0x0D)
                case UInt8(ascii: "t"): buf.append(0x09)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if cp >= 0xD800 && cp < 0xDC00 {
                        guard i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate")
                        }
                        i += 2
                        let lo = try hex4()
                        guard lo >= 0xDC00 && lo < 0xE000 else { throw fail("invalid surrogate pair") }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    } else if cp >= 0xDC00 && cp < 0xE000 {
                        throw fail("unpaired surrogate")
                    }
                    buf.append(contentsOf: Array(String(Unicode.Scalar(cp)!).utf8))
                default: throw fail("invalid escape")
                }
                continue
            }
            buf.append(c)
            i += 1
        }
        let s = String(decoding: buf, as: UTF8.self)
        return s
    }
}
