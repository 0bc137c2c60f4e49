import Foundation
import TongbanCore

/// A local wall-clock time of day (`HH:MM`, 00:00–24:00) as minutes after midnight.
public struct TimeOfDay: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let minutes: Int

    /// 0 (00:00) to 1440 (24:00, the end of a day).
    public init?(minutes: Int) {
        guard (0...1440).contains(minutes) else { return nil }
        self.minutes = minutes
    }

    /// Parses `HH:MM`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard text.count == 5, parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) }),
            let hours = Int(parts[0]), let minutes = Int(parts[1]), (0...24).contains(hours), (0...59).contains(minutes)
        else { return nil }
        self.init(minutes: hours * 60 + minutes)
    }

    public var description: String { String(format: "%02d:%02d", minutes / 60, minutes % 60) }

    /// The instant this time falls on `date` in `timeZone` (default Asia/Shanghai).
    public func instant(on date: LocalDate, timeZone: TimeZone = .shanghai) -> Date {
        date.start(in: timeZone).addingTimeInterval(TimeInterval(minutes * 60))
    }

    public static func < (lhs: TimeOfDay, rhs: TimeOfDay) -> Bool { lhs.minutes < rhs.minutes }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = TimeOfDay(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an HH:MM time"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// One opening period of a hall on a working day (e.g. 09:00–12:00, then 13:30–17:00 after the lunch break).
public struct OpeningPeriod: Codable, Sendable, Equatable {
    public var start: TimeOfDay
    public var end: TimeOfDay

    public init(start: TimeOfDay, end: TimeOfDay) {
        self.start = start
        self.end = end
    }
}
