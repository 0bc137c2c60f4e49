import Foundation

let nanosPerSecond: Int64 = 1_000_000_000

/// A point in time (google.protobuf.Timestamp semantics): seconds since the Unix epoch plus
/// nanoseconds in `0..<1e9`. Valid range: 0001-01-01T00:00:00Z ... 9999-12-31T23:59:59.999999999Z.
public struct CELTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let seconds: Int64
    public let nanos: Int32

    static let minSeconds: Int64 = -62_135_596_800  // 0001-01-01T00:00:00Z
    static let maxSeconds: Int64 = 253_402_300_799  // 9999-12-31T23:59:59Z

    /// Returns nil when out of the valid range.
    public init?(seconds: Int64, nanos: Int32 = 0) {
        var s = seconds
        var n = Int64(nanos)
        if n >= nanosPerSecond || n <= -nanosPerSecond {
            let (q, ov) = s.addingReportingOverflow(n / nanosPerSecond)
            if ov { return nil }
            s = q; n %= nanosPerSecond
        }
        if n < 0 { s -= 1; n += nanosPerSecond }
        guard s >= CELTimestamp.minSeconds, s <= CELTimestamp.maxSeconds else { return nil }
        self.seconds = s
        self.nanos = Int32(n)
    }

    public static func < (a: CELTimestamp, b: CELTimestamp) -> Bool {
        a.seconds != b.seconds ? a.seconds < b.seconds : a.nanos < b.nanos
    }

    /// Parses an RFC 3339 timestamp such as `2026-01-01T00:00:00Z` or `2026-01-01T08:00:00+08:00`.
    public init?(rfc3339 text: String) {
        guard case .success(let t) = CELTimestamp.parse(text) else { return nil }
        self = t
    }

    static func parse(_ text: String) -> Result<CELTimestamp, CELEvalError> {
        let s = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= s.count else { return nil }
            var v: Int64 = 0
            for k in 0..<n {
                let c = s[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            if i < s.count && s[i] == c { i += 1; return true }
            return false
        }
        let bad = CELEvalError(.invalidArgument, "invalid timestamp '\(text)': expected RFC 3339 format like 2006-01-02T15:04:05Z")
        // Year: exactly four digits; more digits means out of range.
        var yearDigits = 0
        while yearDigits + i < s.count, s[i + yearDigits] >= 48, s[i + yearDigits] <= 57 { yearDigits += 1 }
        if yearDigits > 4 { return .failure(CELEvalError(.outOfRange, "timestamp '\(text)' out of range")) }
        guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2) else { return .failure(bad) }
        guard expect(84) || expect(116) else { return .failure(bad) }  // T / t
        guard let hour = digits(2), expect(58), let minute = digits(2), expect(58), let second = digits(2) else { return .failure(bad) }
        var nanos: Int64 = 0
        if expect(46) {  // '.'
            var count = 0
            while i < s.count, s[i] >= 48, s[i] <= 57 {
                if count < 9 { nanos = nanos * 10 + Int64(s[i] - 48) }
                count += 1; i += 1
            }
            guard count > 0 else { return .failure(bad) }
            if count < 9 { for _ in count..<9 { nanos *= 10 } }
        }
        var offset: Int64 = 0
        if expect(90) || expect(122) {  // Z / z
        } else if i < s.count, s[i] == 43 || s[i] == 45 {
            let neg = s[i] == 45
            i += 1
            guard let oh = digits(2), expect(58), let om = digits(2), oh < 24, om < 60 else { return .failure(bad) }
            offset = (oh * 3600 + om * 60) * (neg ? -1 : 1)
        } else {
            return .failure(bad)
        }
        guard i == s.count else { return .failure(bad) }
        guard month >= 1, month <= 12, day >= 1, day <= daysInMonth(year, month), hour < 24, minute < 60, second < 60 else {
            return .failure(bad)
        }
        if year == 0 { return .failure(CELEvalError(.outOfRange, "timestamp '\(text)' out of range")) }
        let days = daysFromCivil(year, month, day)
        let secs = days * 86400 + hour * 3600 + minute * 60 + second - offset
        guard let t = CELTimestamp(seconds: secs, nanos: Int32(nanos)) else {
            return .failure(CELEvalError(.outOfRange, "timestamp '\(text)' out of range"))
        }
        return .success(t)
    }

    /// RFC 3339 in UTC with trailing zeros of the fraction trimmed (like Go's RFC3339Nano).
    public var description: String {
        let days = floorDiv(seconds, 86400)
        let rem = seconds - days * 86400
        let (y, m, d) = civilFromDays(days)
        var out = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
        out += pad(rem / 3600, 2) + ":" + pad(rem / 60 % 60, 2) + ":" + pad(rem % 60, 2)
        if nanos != 0 {
            var f = pad(Int64(nanos), 9)
            while f.hasSuffix("0") { f.removeLast() }
            out += "." + f
        }
        return out + "Z"
    }

    func adding(_ d: CELDuration) -> CELTimestamp? {
        let (s, ov) = seconds.addingReportingOverflow(d.seconds)
        if ov { return nil }
        return CELTimestamp(seconds: s, nanos: nanos + d.nanos)
    }

    func subtracting(_ d: CELDuration) -> CELTimestamp? {
        let (s, ov) = seconds.subtractingReportingOverflow(d.seconds)
        if ov { return nil }
        return CELTimestamp(seconds: s, nanos: nanos - d.nanos)
    }

    func difference(_ other: CELTimestamp) -> CELDuration? {
        CELDuration(seconds: seconds - other.seconds, nanos: nanos - other.nanos)
    }

    /// Calendar fields in the given UTC offset (seconds east of UTC).
    func fields(offset: Int64) -> (year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, dayOfWeek: Int64, dayOfYear: Int64) {
        let local = seconds + offset
        let days = floorDiv(local, 86400)
        let rem = local - days * 86400
        let (y, m, d) = civilFromDays(days)
        let dow = floorMod(days + 4, 7)  // 1970-01-01 was a Thursday; 0 = Sunday
        let doy = days - daysFromCivil(y, 1, 1)
        return (y, m, d, rem / 3600, rem / 60 % 60, rem % 60, dow, doy)
    }
}

/// A signed span of time with nanosecond precision, stored as 64-bit nanoseconds (the range
/// cel-go uses: about ±292 years; larger results are range errors).
public struct CELDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// Returns nil when out of range.
    public init?(seconds: Int64, nanos: Int32 = 0) {
        let (a, o1) = seconds.multipliedReportingOverflow(by: nanosPerSecond)
        let (b, o2) = a.addingReportingOverflow(Int64(nanos))
        if o1 || o2 { return nil }
        nanoseconds = b
    }

    /// Whole seconds (truncated toward zero).
    public var seconds: Int64 { nanoseconds / nanosPerSecond }
    /// Sub-second nanoseconds, same sign as the duration.
    public var nanos: Int32 { Int32(nanoseconds % nanosPerSecond) }

    public static func < (a: CELDuration, b: CELDuration) -> Bool { a.nanoseconds < b.nanoseconds }

    /// Parses Go-style durations: `1h30m`, `1.5s`, `-300ms`, `2h45m10.5s`, units h m s ms us µs ns.
    public init?(parsing text: String) {
        guard case .success(let d) = CELDuration.parse(text) else { return nil }
        self = d
    }

    static func parse(_ text: String) -> Result<CELDuration, CELEvalError> {
        let s = Array(text.unicodeScalars)
        let bad = CELEvalError(.invalidArgument, "invalid duration '\(text)': expected e.g. '1h30m', '90s', '1.5s', '250ms'")
        let range = CELEvalError(.outOfRange, "duration '\(text)' out of range")
        var i = 0
        var neg = false
        if i < s.count, s[i] == "-" || s[i] == "+" { neg = s[i] == "-"; i += 1 }
        if i == s.count { return .failure(bad) }
        if s.count - i == 1, s[i] == "0" { return .success(CELDuration(seconds: 0)!) }
        var totalSeconds: Int64 = 0
        var totalNanos: Int64 = 0
        while i < s.count {
            var intPart: Int64 = 0
            var sawDigit = false
            while i < s.count, ("0"..."9").contains(s[i]) {
                let dv = Int64(s[i].value - 48)
                let (m, o1) = intPart.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(dv)
                if o1 || o2 { return .failure(range) }
                intPart = a; sawDigit = true; i += 1
            }
            var frac: Double = 0
            if i < s.count, s[i] == "." {
                i += 1
                var scale = 0.1
                while i < s.count, ("0"..."9").contains(s[i]) {
                    frac += Double(s[i].value - 48) * scale
                    scale /= 10; sawDigit = true; i += 1
                }
            }
            guard sawDigit else { return .failure(bad) }
            var unit = ""
            while i < s.count, !("0"..."9").contains(s[i]), s[i] != "." { unit.unicodeScalars.append(s[i]); i += 1 }
            let unitNanos: Int64
            switch unit {
            case "h": unitNanos = 3600 * nanosPerSecond
            case "m": unitNanos = 60 * nanosPerSecond
            case "s": unitNanos = nanosPerSecond
            case "ms": unitNanos = 1_000_000
            case "us", "µs", "μs": unitNanos = 1_000
            case "ns": unitNanos = 1
            default: return .failure(bad)
            }
            // whole part: split unit into seconds + nanos to avoid overflow
            let unitSec = unitNanos / nanosPerSecond
            let unitSub = unitNanos % nanosPerSecond
            let (ws, o1) = intPart.multipliedReportingOverflow(by: unitSec)
            let (wn, o2) = intPart.multipliedReportingOverflow(by: unitSub)
            if o1 || o2 { return .failure(range) }
            let fracNanos = Int64((frac * Double(unitNanos)).rounded())
            let (ts, o3) = totalSeconds.addingReportingOverflow(ws)
            if o3 { return .failure(range) }
            totalSeconds = ts
            let (tn, o4) = totalNanos.addingReportingOverflow(wn)
            let (tn2, o6) = tn.addingReportingOverflow(fracNanos)
            if o4 || o6 { return .failure(range) }
            totalNanos = tn2
            let carry = totalNanos / nanosPerSecond
            totalNanos %= nanosPerSecond
            let (ts2, o5) = totalSeconds.addingReportingOverflow(carry)
            if o5 || ts2 > Int64.max / nanosPerSecond { return .failure(range) }
            totalSeconds = ts2
        }
        guard let d = CELDuration(seconds: neg ? -totalSeconds : totalSeconds, nanos: Int32(neg ? -totalNanos : totalNanos)) else {
            return .failure(range)
        }
        return .success(d)
    }

    /// Seconds with an optional trimmed fraction, e.g. `90s`, `1.5s`, `-0.25s`.
    public var description: String {
        let neg = seconds < 0 || nanos < 0
        var out = neg ? "-" : ""
        out += String(seconds.magnitude)
        if nanos != 0 {
            var f = pad(Int64(nanos.magnitude), 9)
            while f.hasSuffix("0") { f.removeLast() }
            out += "." + f
        }
        return out + "s"
    }

    func adding(_ o: CELDuration) -> CELDuration? {
        let (r, ov) = nanoseconds.addingReportingOverflow(o.nanoseconds)
        return ov ? nil : CELDuration(nanoseconds: r)
    }

    func subtracting(_ o: CELDuration) -> CELDuration? {
        let (r, ov) = nanoseconds.subtractingReportingOverflow(o.nanoseconds)
        return ov ? nil : CELDuration(nanoseconds: r)
    }
}

// MARK: - Calendar helpers (proleptic Gregorian, H. Hinnant's algorithms)

func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }

func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
    switch m {
    case 2: return isLeap(y) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

func daysFromCivil(_ year: Int64, _ m: Int64, _ d: Int64) -> Int64 {
    let y = m <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146097 + doe - 719468
}

func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
    let z = days + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let doe = z - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    let y = yoe + era * 400
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (m <= 2 ? y + 1 : y, m, d)
}

func pad(_ v: Int64, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// Resolves a timezone argument ("UTC", "+08:00", "-02:30", "02:00", or an IANA name like
/// "Asia/Shanghai") to an offset in seconds at the given instant.
func timezoneOffset(_ tz: String, at t: CELTimestamp) -> Int64? {
    if tz == "UTC" || tz == "Z" || tz.isEmpty { return 0 }
    let u = Array(tz.utf8)
    var i = 0
    var sign: Int64 = 1
    if let f = u.first, f == 43 || f == 45 { sign = f == 45 ? -1 : 1; i = 1 }
    let rest = u[i...]
    if rest.count == 5, rest[rest.startIndex + 2] == 58,
        let h = Int64(String(decoding: rest.prefix(2), as: UTF8.self)),
        let m = Int64(String(decoding: rest.suffix(2), as: UTF8.self)), h < 24, m < 60
    {
        return sign * (h * 3600 + m * 60)
    }
    guard let zone = TimeZone(identifier: tz) else { return nil }
    return Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t.seconds))))
}
