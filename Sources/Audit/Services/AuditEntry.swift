import Foundation
import TongbanCore

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

    /// The canonical bytes.
    public func canonicalBytes() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self))
    }

    public static func decode(_ bytes: some DataProtocol) throws -> AuditEvent {
        try JSONDecoder().decode(AuditEvent.self, from: Data(bytes))
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// Checks a caller's event before it is queued (a 422 problem listing every field).
    static func validate(kind: String, subject: String?, details: [String: String]) throws {
        var errors = FieldErrors()
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-")
        errors.check(
            !kind.isEmpty && kind.count <= 64 && kind.allSatisfy { allowed.contains($0) }, "kind",
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
