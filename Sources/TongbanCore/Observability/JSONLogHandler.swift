import Foundation
import Logging

/// Writes one JSON object per line to standard output: time, level, label, message and metadata.
///
/// Callers must never put personal data or secrets in log metadata; ``Masking`` is applied to values
/// whose key says they hold an ID number or a phone number, as a second line of defence.
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

    static let redactedKeys: Set<String> = ["password", "token", "accessToken", "refreshToken", "authorization", "secret"]

    public func log(event: LogEvent) {
        var object: [String: String] = [
            "time": ISO8601DateFormatter().string(from: Date()),
            "level": event.level.rawValue,
            "label": label,
            "message": event.message.description,
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged {
            object[key] = Self.sanitise(key: key, value: "\(value)")
        }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        data.append(0x0A)
        FileHandle.standardOutput.write(data)
    }

    static func sanitise(key: String, value: String) -> String {
        let lower = key.lowercased()
        if redactedKeys.contains(where: { lower.contains($0.lowercased()) }) { return "[redacted]" }
        if lower.contains("idnumber") { return Masking.idNumber(value) }
        if lower.contains("phone") { return Masking.phone(value) }
        return value
    }
}
