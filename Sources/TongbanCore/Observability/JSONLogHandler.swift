#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import Logging

/// Writes one JSON object per line to standard output: time, level, label, message and metadata.
///
/// Callers must never put personal data or secrets in log metadata; values whose key names a password,
/// token or secret are redacted, and ID numbers and phone numbers masked, as a second line of defence.
/// Built by hand (no formatter or serializer allocations) because it runs for every request.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static let redactedKeys = ["password", "token", "authorization", "secret", "cookie"]

    public func log(event: LogEvent) {
        var line = "{\"time\":\"" + Self.timestamp() + "\",\"level\":\"" + event.level.rawValue + "\",\"label\":"
        Self.appendString(label, to: &line)
        line += ",\"message\":"
        Self.appendString(event.message.description, to: &line)
        let extra = event.metadata ?? [:]
        let merged = extra.isEmpty ? metadata : metadata.merging(extra) { $1 }
        for key in merged.keys.sorted() {
            guard let value = merged[key] else { continue }
            line += ","
            Self.appendString(key, to: &line)
            line += ":"
            Self.appendString(Self.sanitise(key: key, value: "\(value)"), to: &line)
        }
        line += "}\n"
        FileHandle.standardOutput.write(Data(line.utf8))
    }

    static func sanitise(key: String, value: String) -> String {
        let lower = key.lowercased()
        if redactedKeys.contains(where: { lower.contains($0) }) { return "[redacted]" }
        if lower.contains("idnumber") { return Masking.idNumber(value) }
        if lower.contains("phone") { return Masking.phone(value) }
        return value
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "."
            + pad(Int32(spec.tv_nsec / 1_000_000), 3) + "Z"
    }

    /// Appends `text` as a JSON string literal.
    static func appendString(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    line.unicodeScalars.append(scalar)
                }
            }
        }
        line += "\""
    }
}
