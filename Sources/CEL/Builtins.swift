import Foundation

/// Runtime implementations of the standard functions. Arguments are never errors here
/// (the interpreter propagates argument errors before dispatch).
enum Builtins {
    static func noOverload(_ fn: CELFunction, _ args: [CELValue]) -> CELValue {
        let types = args.map(\.typeName).joined(separator: ", ")
        if fn.isOperator {
            return .error(CELEvalError(.noMatchingOverload, "no matching overload for '\(fn.displayName)' applied to (\(types))"))
        }
        return .error(CELEvalError(.noMatchingOverload, "no matching overload for '\(fn.rawValue)' applied to (\(types))"))
    }

    static func err(_ code: CELEvalError.Code, _ msg: String) -> CELValue { .error(CELEvalError(code, msg)) }

    static let intOverflow = err(.overflow, "integer overflow")
    static let uintOverflow = err(.overflow, "unsigned integer overflow")
    static let timestampRange = err(.outOfRange, "timestamp out of range")
    static let durationRange = err(.outOfRange, "duration out of range")

    // MARK: arithmetic

    static func add(_ a: CELValue, _ b: CELValue) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = x.addingReportingOverflow(y)
            return o ? intOverflow : .int(r)
        case (.double(let x), .double(let y)): return .double(x + y)
        case (.uint(let x), .uint(let y)):
            let (r, o) = x.addingReportingOverflow(y)
            return o ? uintOverflow : .uint(r)
        case (.string(let x), .string(let y)): return .string(x + y)
        case (.bytes(let x), .bytes(let y)): return .bytes(x + y)
        case (.list(let x), .list(let y)): return .list(x + y)
        case (.timestamp(let t), .duration(let d)), (.duration(let d), .timestamp(let t)):
            return t.adding(d).map { .timestamp($0) } ?? timestampRange
        case (.duration(let x), .duration(let y)):
            return x.adding(y).map { .duration($0) } ?? durationRange
        default: return noOverload(.add, [a, b])
        }
    }

    static func subtract(_ a: CELValue, _ b: CELValue) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = x.subtractingReportingOverflow(y)
            return o ? intOverflow : .int(r)
        case (.double(let x), .double(let y)): return .double(x - y)
        case (.uint(let x), .uint(let y)):
            let (r, o) = x.subtractingReportingOverflow(y)
            return o ? uintOverflow : .uint(r)
        case (.timestamp(let x), .timestamp(let y)):
            return x.difference(y).map { .duration($0) } ?? durationRange
        case (.timestamp(let t), .duration(let d)):
            return t.subtracting(d).map { .timestamp($0) } ?? timestampRange
        case (.duration(let x), .duration(let y)):
            return x.subtracting(y).map { .duration($0) } ?? durationRange
        default: return noOverload(.subtract, [a, b])
        }
    }

    static func multiply(_ a: CELValue, _ b: CELValue) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = x.multipliedReportingOverflow(by: y)
            return o ? intOverflow : .int(r)
        case (.double(let x), .double(let y)): return .double(x * y)
        case (.uint(let x), .uint(let y)):
            let (r, o) = x.multipliedReportingOverflow(by: y)
            return o ? uintOverflow : .uint(r)
        default: return noOverload(.multiply, [a, b])
        }
    }

    static let divisionByZero = err(.divisionByZero, "division by zero")
    static let moduloByZero = err(.moduloByZero, "modulus by zero")

    static func divide(_ a: CELValue, _ b: CELValue) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            if y == 0 { return divisionByZero }
            let (r, o) = x.dividedReportingOverflow(by: y)
            return o ? intOverflow : .int(r)
        case (.double(let x), .double(let y)): return .double(x / y)
        case (.uint(let x), .uint(let y)):
            if y == 0 { return divisionByZero }
            return .uint(x / y)
        default: return noOverload(.divide, [a, b])
        }
    }

    static func modulo(_ a: CELValue, _ b: CELValue) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            if y == 0 { return moduloByZero }
            let (r, o) = x.remainderReportingOverflow(dividingBy: y)
            return o ? intOverflow : .int(r)
        case (.uint(let x), .uint(let y)):
            if y == 0 { return moduloByZero }
            return .uint(x % y)
        default: return noOverload(.modulo, [a, b])
        }
    }

    static func negate(_ a: CELValue) -> CELValue {
        switch a {
        case .int(let x): return x == Int64.min ? intOverflow : .int(-x)
        case .double(let x): return .double(-x)
        default: return noOverload(.negate, [a])
        }
    }

    static func not(_ a: CELValue) -> CELValue {
        if case .bool(let b) = a { return .bool(!b) }
        return noOverload(.not, [a])
    }

    // MARK: equality & ordering

    /// CEL heterogeneous equality: numbers compare by value across int/uint/double,
    /// values of different types are unequal, NaN is unequal to everything.
    static func equals(_ a: CELValue, _ b: CELValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x == y
        case (.string(let x), .string(let y)): return celStringEquals(x, y)
        case (.double(let x), .double(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.null, .null): return true
        case (.int(let x), .uint(let y)): return x >= 0 && UInt64(x) == y
        case (.uint(let x), .int(let y)): return y >= 0 && UInt64(y) == x
        case (.int(let x), .double(let y)): return Double(x) == y
        case (.double(let x), .int(let y)): return x == Double(y)
        case (.uint(let x), .double(let y)): return Double(x) == y
        case (.double(let x), .uint(let y)): return x == Double(y)
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.list(let x), .list(let y)):
            guard x.count == y.count else { return false }
            for i in 0..<x.count where !equals(x[i], y[i]) { return false }
            return true
        case (.map(let x), .map(let y)):
            guard x.count == y.count else { return false }
            for (k, v) in x.entries {
                guard let w = y[k], equals(v, w) else { return false }
            }
            return true
        case (.timestamp(let x), .timestamp(let y)): return x == y
        case (.duration(let x), .duration(let y)): return x == y
        case (.type(let x), .type(let y)): return x.runtimeName == y.runtimeName
        default: return false
        }
    }

    enum Order { case less, equal, greater, unordered, invalid }

    @inline(__always)
    static func cmp<T: Comparable>(_ x: T, _ y: T) -> Order { x < y ? .less : (x == y ? .equal : .greater) }

    static func cmpDouble(_ x: Double, _ y: Double) -> Order {
        if x < y { return .less }
        if x > y { return .greater }
        if x == y { return .equal }
        return .unordered
    }

    static func compare(_ a: CELValue, _ b: CELValue) -> Order {
        switch (a, b) {
        case (.int(let x), .int(let y)): return cmp(x, y)
        case (.double(let x), .double(let y)): return cmpDouble(x, y)
        case (.string(let x), .string(let y)):
            let c = celStringCompare(x, y)
            return c < 0 ? .less : c == 0 ? .equal : .greater
        case (.uint(let x), .uint(let y)): return cmp(x, y)
        case (.int(let x), .uint(let y)): return x < 0 ? .less : cmp(UInt64(x), y)
        case (.uint(let x), .int(let y)): return y < 0 ? .greater : cmp(x, UInt64(y))
        case (.int(let x), .double(let y)): return cmpDouble(Double(x), y)
        case (.double(let x), .int(let y)): return cmpDouble(x, Double(y))
        case (.uint(let x), .double(let y)): return cmpDouble(Double(x), y)
        case (.double(let x), .uint(let y)): return cmpDouble(x, Double(y))
        case (.bool(let x), .bool(let y)): return x == y ? .equal : (!x ? .less : .greater)
        case (.bytes(let x), .bytes(let y)):
            return x.lexicographicallyPrecedes(y) ? .less : (x == y ? .equal : .greater)
        case (.timestamp(let x), .timestamp(let y)): return cmp(x, y)
        case (.duration(let x), .duration(let y)): return cmp(x, y)
        default: return .invalid
        }
    }

    static func relation(_ fn: CELFunction, _ a: CELValue, _ b: CELValue) -> CELValue {
        let o = compare(a, b)
        switch o {
        case .invalid: return noOverload(fn, [a, b])
        case .unordered: return .bool(false)
        case .less: return .bool(fn == .less || fn == .lessOrEqual)
        case .equal: return .bool(fn == .lessOrEqual || fn == .greaterOrEqual)
        case .greater: return .bool(fn == .greater || fn == .greaterOrEqual)
        }
    }

    // MARK: containers

    static func isIn(_ a: CELValue, _ c: CELValue) -> CELValue {
        switch c {
        case .list(let l):
            for x in l where equals(a, x) { return .bool(true) }
            return .bool(false)
        case .map(let m):
            guard let k = CELMapKey.lookupKey(a) else { return .bool(false) }
            return .bool(m.contains(k))
        default: return noOverload(.in, [a, c])
        }
    }

    static func index(_ c: CELValue, _ i: CELValue) -> CELValue {
        switch c {
        case .list(let l):
            let idx: Int64
            switch i {
            case .int(let x): idx = x
            case .uint(let x): idx = x > UInt64(Int64.max) ? Int64.max : Int64(x)
            case .double(let d) where d.rounded(.towardZero) == d && abs(d) < 9e18: idx = Int64(d)
            default: return noOverload(.index, [c, i])
            }
            guard idx >= 0, idx < Int64(l.count) else {
                return err(.indexOutOfRange, "index out of range: \(i) (list size \(l.count))")
            }
            return l[Int(idx)]
        case .map(let m):
            if let k = CELMapKey.lookupKey(i), let v = m[k] { return v }
            switch i {
            case .int, .uint, .bool, .string, .double: return err(.noSuchKey, "no such key: \(i)")
            default: return noOverload(.index, [c, i])
            }
        default: return noOverload(.index, [c, i])
        }
    }

    static func size(_ a: CELValue) -> CELValue {
        switch a {
        case .string(let s): return .int(Int64(s.unicodeScalars.count))
        case .bytes(let b): return .int(Int64(b.count))
        case .list(let l): return .int(Int64(l.count))
        case .map(let m): return .int(Int64(m.count))
        default: return noOverload(.size, [a])
        }
    }

    // MARK: strings

    static func stringOp(_ fn: CELFunction, _ a: CELValue, _ b: CELValue) -> CELValue {
        guard case .string(let s) = a, case .string(let t) = b else { return noOverload(fn, [a, b]) }
        switch fn {
        case .startsWith: return .bool(utf8HasPrefix(s, t))
        case .endsWith: return .bool(utf8HasSuffix(s, t))
        default: return .bool(utf8Contains(s, t))
        }
    }

    /// Code-point exact prefix test on UTF-8 bytes.
    @inline(__always)
    static func utf8HasPrefix(_ s: String, _ t: String) -> Bool {
        let su = s.utf8, tu = t.utf8
        let n = tu.count
        if n > su.count { return false }
        if n == 0 { return true }
        let r = su.withContiguousStorageIfAvailable { ps in
            tu.withContiguousStorageIfAvailable { pt in memcmp(ps.baseAddress!, pt.baseAddress!, n) == 0 }
        }
        if let r, let b = r { return b }
        return su.starts(with: tu)
    }

    /// Code-point exact suffix test on UTF-8 bytes.
    @inline(__always)
    static func utf8HasSuffix(_ s: String, _ t: String) -> Bool {
        let su = s.utf8, tu = t.utf8
        let n = tu.count, m = su.count
        if n > m { return false }
        if n == 0 { return true }
        let r = su.withContiguousStorageIfAvailable { ps in
            tu.withContiguousStorageIfAvailable { pt in memcmp(ps.baseAddress! + (m - n), pt.baseAddress!, n) == 0 }
        }
        if let r, let b = r { return b }
        return su.suffix(n).elementsEqual(tu)
    }

    /// Substring search on UTF-8 (code-point exact), linear time (KMP).
    static func utf8Contains(_ s: String, _ t: String) -> Bool {
        let n = Array(t.utf8)
        if n.isEmpty { return true }
        let h = Array(s.utf8)
        if n.count > h.count { return false }
        if n.count == 1 { return h.contains(n[0]) }
        var fail = [Int](repeating: 0, count: n.count)
        var k = 0
        for i in 1..<n.count {
            while k > 0 && n[i] != n[k] { k = fail[k - 1] }
            if n[i] == n[k] { k += 1 }
            fail[i] = k
        }
        k = 0
        for c in h {
            while k > 0 && c != n[k] { k = fail[k - 1] }
            if c == n[k] { k += 1 }
            if k == n.count { return true }
        }
        return false
    }

    // MARK: conversions

    static func toInt(_ a: CELValue) -> CELValue {
        switch a {
        case .int: return a
        case .uint(let u): return u > UInt64(Int64.max) ? err(.outOfRange, "range error: \(u)u does not fit in int") : .int(Int64(u))
        case .double(let d):
            guard d.isFinite, d > -9.223372036854775808e18, d < 9.223372036854775808e18 else {
                return err(.outOfRange, "range error: \(CELValue.double(d)) does not fit in int")
            }
            return .int(Int64(d.rounded(.towardZero)))
        case .string(let s):
            guard let v = Int64(s) else { return err(.invalidArgument, "cannot convert string \(celQuote(s)) to int") }
            return .int(v)
        case .timestamp(let t): return .int(t.seconds)
        default: return noOverload(.toInt, [a])
        }
    }

    static func toUint(_ a: CELValue) -> CELValue {
        switch a {
        case .uint: return a
        case .int(let i): return i < 0 ? err(.outOfRange, "range error: \(i) does not fit in uint") : .uint(UInt64(i))
        case .double(let d):
            guard d.isFinite, d > -1, d < 1.8446744073709551616e19 else {
                return err(.outOfRange, "range error: \(CELValue.double(d)) does not fit in uint")
            }
            return .uint(UInt64(d.rounded(.towardZero)))
        case .string(let s):
            guard let v = UInt64(s) else { return err(.invalidArgument, "cannot convert string \(celQuote(s)) to uint") }
            return .uint(v)
        default: return noOverload(.toUint, [a])
        }
    }

    static func toDouble(_ a: CELValue) -> CELValue {
        switch a {
        case .double: return a
        case .int(let i): return .double(Double(i))
        case .uint(let u): return .double(Double(u))
        case .string(let s):
            guard !s.isEmpty, !s.contains(where: { $0.isWhitespace }), let v = Double(s) else {
                return err(.invalidArgument, "cannot convert string \(celQuote(s)) to double")
            }
            return .double(v)
        default: return noOverload(.toDouble, [a])
        }
    }

    static func toStringValue(_ a: CELValue) -> CELValue {
        switch a {
        case .string: return a
        case .int(let i): return .string(String(i))
        case .uint(let u): return .string(String(u))
        case .double(let d): return .string(formatDoubleG(d))
        case .bool(let b): return .string(b ? "true" : "false")
        case .bytes(let b):
            let s = String(decoding: b, as: UTF8.self)
            guard s.utf8.elementsEqual(b) else { return err(.invalidArgument, "invalid UTF-8 in bytes, cannot convert to string") }
            return .string(s)
        case .timestamp(let t): return .string(t.description)
        case .duration(let d): return .string(d.description)
        default: return noOverload(.toString, [a])
        }
    }

    static func toBytes(_ a: CELValue) -> CELValue {
        switch a {
        case .bytes: return a
        case .string(let s): return .bytes(Array(s.utf8))
        default: return noOverload(.toBytes, [a])
        }
    }

    static func toBool(_ a: CELValue) -> CELValue {
        switch a {
        case .bool: return a
        case .string(let s):
            switch s {
            case "1", "t", "true", "TRUE", "True": return .bool(true)
            case "0", "f", "false", "FALSE", "False": return .bool(false)
            default: return err(.invalidArgument, "cannot convert string \(celQuote(s)) to bool")
            }
        default: return noOverload(.toBool, [a])
        }
    }

    static func toTimestamp(_ a: CELValue) -> CELValue {
        switch a {
        case .timestamp: return a
        case .string(let s):
            switch CELTimestamp.parse(s) {
            case .success(let t): return .timestamp(t)
            case .failure(let e): return .error(e)
            }
        case .int(let i): return CELTimestamp(seconds: i).map { .timestamp($0) } ?? timestampRange
        default: return noOverload(.timestamp, [a])
        }
    }

    static func toDuration(_ a: CELValue) -> CELValue {
        switch a {
        case .duration: return a
        case .string(let s):
            switch CELDuration.parse(s) {
            case .success(let d): return .duration(d)
            case .failure(let e): return .error(e)
            }
        default: return noOverload(.duration, [a])
        }
    }

    // MARK: min / max

    static func minMax(_ fn: CELFunction, _ args: [CELValue]) -> CELValue {
        var items = args
        if args.count == 1 {
            guard case .list(let l) = args[0] else { return noOverload(fn, args) }
            items = l
            if l.isEmpty { return err(.invalidArgument, "\(fn.rawValue)() of an empty list") }
        }
        var best = items[0]
        for x in items {
            switch x {
            case .int, .uint, .double: break
            case .error: return x
            default: return noOverload(fn, args)
            }
            if case .double(let d) = x, d.isNaN { return x }
            let o = compare(x, best)
            if (fn == .min && o == .less) || (fn == .max && o == .greater) { best = x }
        }
        return best
    }

    // MARK: time getters

    static func timeGetter(_ fn: CELFunction, _ args: [CELValue]) -> CELValue {
        switch args[0] {
        case .timestamp(let t):
            var offset: Int64 = 0
            if args.count == 2 {
                guard case .string(let tz) = args[1] else { return noOverload(fn, args) }
                guard let o = timezoneOffset(tz, at: t) else { return err(.invalidArgument, "unknown timezone \(celQuote(tz))") }
                offset = o
            }
            let f = t.fields(offset: offset)
            switch fn {
            case .getFullYear: return .int(f.year)
            case .getMonth: return .int(f.month - 1)
            case .getDate: return .int(f.day)
            case .getDayOfMonth: return .int(f.day - 1)
            case .getDayOfWeek: return .int(f.dayOfWeek)
            case .getDayOfYear: return .int(f.dayOfYear)
            case .getHours: return .int(f.hour)
            case .getMinutes: return .int(f.minute)
            case .getSeconds: return .int(f.second)
            case .getMilliseconds: return .int(Int64(t.nanos) / 1_000_000)
            default: return noOverload(fn, args)
            }
        case .duration(let d) where args.count == 1:
            switch fn {
            case .getHours: return .int(d.seconds / 3600)
            case .getMinutes: return .int(d.seconds / 60)
            case .getSeconds: return .int(d.seconds)
            case .getMilliseconds: return .int(Int64(d.nanos) / 1_000_000)
            default: return noOverload(fn, args)
            }
        default: return noOverload(fn, args)
        }
    }
}

/// Formats a double like Go's `strconv.FormatFloat(d, 'g', -1, 64)` (what cel-go's
/// `string(double)` produces): shortest round-trip digits, exponent form when exp < -4 || exp >= 21.
func formatDoubleG(_ d: Double) -> String {
    if d.isNaN { return "NaN" }
    if d.isInfinite { return d > 0 ? "+Inf" : "-Inf" }
    if d == 0 { return d.sign == .minus ? "-0" : "0" }
    // Swift's description yields the shortest round-trip digits.
    var text = "\(d.magnitude)"
    var exp10 = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exp10 = Int(text[text.index(after: e)...])!
        text = String(text[..<e])
    }
    var digits = ""
    var pointPos = 0
    if let dot = text.firstIndex(of: ".") {
        let intPart = text[..<dot]
        let frac = text[text.index(after: dot)...]
        digits = String(intPart) + String(frac)
        pointPos = intPart.count
    } else {
        digits = text
        pointPos = text.count
    }
    // strip leading zeros
    while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); pointPos -= 1 }
    while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
    let dp = pointPos + exp10  // decimal point position relative to digits
    let exp = dp - 1
    let sign = d.sign == .minus ? "-" : ""
    if exp < -4 || exp >= 21 {
        var m = String(digits.first!)
        if digits.count > 1 { m += "." + digits.dropFirst() }
        let es = exp < 0 ? "-" : "+"
        let ev = abs(exp)
        return sign + m + "e" + es + (ev < 10 ? "0" : "") + String(ev)
    }
    if dp <= 0 { return sign + "0." + String(repeating: "0", count: -dp) + digits }
    if dp >= digits.count { return sign + digits + String(repeating: "0", count: dp - digits.count) }
    let idx = digits.index(digits.startIndex, offsetBy: dp)
    return sign + digits[..<idx] + "." + digits[idx...]
}
