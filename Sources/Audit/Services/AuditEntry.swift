import Foundation
import TongbanCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One event as stored: canonical JSON (sorted keys, no insignificant white space, UTF-8),
/// `{"actor","at","details","id","kind","subject","v":1}` (`actor` and `subject` omitted when absent).
/// `id` is a random UUID, so that two otherwise equal events (same kind, actor and second) differ.
/// The log stores these exact bytes and hashes them (leaf hash `SHA-256(0x00 ‖ bytes)`).
public struct AuditEvent: Codable, Sendable, Equatable {
    public var v: Int
    /// A random event id (lower-case UUID).
    public var id: String
    public var kind: String
    /// RFC 3339 UTC, whole seconds (`2026-11-29T08:00:00Z`).
    public var at: String
    /// The acting account (lower-case UUID), if any.
    public var actor: String?
    /// What the event is about (`user:<uuid>`, `licence:<uuid>`, …), if anything.
    public var subject: String?
    public var details: [String: String]

    public init(kind: String, at: Date, actor: UUID?, subject: String?, details: [String: String]) {
        self.v = 1
        self.id = UUID().uuidString.lowercased()
        self.kind = kind
        self.at = Self.timestamp(at)
        self.actor = actor?.uuidString.lowercased()
        self.subject = subject.map(AuditRedaction.redact)
        self.details = details.mapValues(AuditRedaction.redact)
    }

    /// The canonical bytes: keys sorted (by UTF-8 bytes), no white space, strings escaped minimally
    /// (`"`, `\\`, and control characters as `\n`, `\t`, … or `\u00XX`), everything else as UTF-8.
    /// Written by hand (the same bytes as JSONEncoder with `.sortedKeys` and `.withoutEscapingSlashes`)
    /// because it is on the append path of every event.
    public func canonicalBytes() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(UInt8(ascii: "{"))
        var first = true
        func key(_ name: StaticString) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        if let actor {
            key("actor")
            Self.appendString(actor, to: &out)
        }
        key("at")
        Self.appendString(at, to: &out)
        key("details")
        out.append(UInt8(ascii: "{"))
        for (offset, name) in details.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }).enumerated() {
            if offset > 0 { out.append(UInt8(ascii: ",")) }
            Self.appendString(name, to: &out)
            out.append(UInt8(ascii: ":"))
            Self.appendString(details[name] ?? "", to: &out)
        }
        out.append(UInt8(ascii: "}"))
        key("id")
        Self.appendString(id, to: &out)
        key("kind")
        Self.appendString(kind, to: &out)
        if let subject {
            key("subject")
            Self.appendString(subject, to: &out)
        }
        key("v")
        out.append(contentsOf: Array(String(v).utf8))
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func appendString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    public static func decode(_ bytes: some DataProtocol) throws -> AuditEvent {
        try JSONDecoder().decode(AuditEvent.self, from: Data(bytes))
    }

    /// RFC 3339 UTC with whole seconds, without a date formatter (on the append path of every event).
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "Z"
    }

    /// Checks a caller's event before it is queued (a 422 problem listing every field).
    static func validate(kind: String, subject: String?, details: [String: String]) throws {
        var errors = FieldErrors()
        let validKind = !kind.isEmpty && kind.utf8.count <= 64 && kind.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
        errors.check(
            validKind, "kind",
            "must be 1–64 characters of a–z, 0–9, '.', '_' or '-'")
        errors.check((subject?.count ?? 0) <= 200, "subject", "must have at most 200 characters")
        errors.check(details.count <= 50, "details", "must have at most 50 keys")
        for (key, value) in details where key.isEmpty || key.count > 64 || value.count > 2000 {
            errors.add("details.\(key.prefix(64))", "keys must have 1–64 characters and values at most 2000")
        }
        try errors.throwIfAny()
    }
}

/// Masks personal identifiers that a caller passed in clear: an 18-character resident ID number
/// (17 digits and a digit or X) becomes `110105********002X`, an 11-digit mobile number `138****5678`.
public enum AuditRedaction {
    public static func redact(_ value: String) -> String {
        // Fast path: no run of 11 or more digits (or X) means nothing to mask.
        var run = 0
        var longest = 0
        for byte in value.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || byte == 0x58 || byte == 0x78 {
                run += 1
                longest = max(longest, run)
            } else {
                run = 0
            }
        }
        guard longest >= 11 else { return value }
        return mask(value)
    }

    static func mask(_ value: String) -> String {
        var output = ""
        var run = ""
        func flush() {
            if run.count == 18, run.prefix(17).allSatisfy(\.isASCIIDigit), run.last.map({ $0.isASCIIDigit || $0 == "X" || $0 == "x" }) == true {
                output += Masking.idNumber(run)
            } else if run.count == 11, run.allSatisfy(\.isASCIIDigit), run.first == "1" {
                output += Masking.phone(run)
            } else {
                output += run
            }
            run = ""
        }
        for character in value {
            if character.isASCIIDigit || character == "X" || character == "x" {
                run.append(character)
            } else {
                flush()
                output.append(character)
            }
        }
        flush()
        return output
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
