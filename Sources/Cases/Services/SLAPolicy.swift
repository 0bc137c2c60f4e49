import Foundation
import TongbanCore

/// A time allowance: calendar minutes (7×24, e.g. the hotline's 30-minute first response), working hours
/// (office hours on working days) or working days (to the end of the last working day).
enum SLADuration: Sendable, Equatable, CustomStringConvertible {
    case minutes(Int)
    case workingHours(Int)
    case workingDays(Int)

    var description: String {
        switch self {
        case .minutes(let n): "\(n) minutes"
        case .workingHours(let n): "\(n) working hours"
        case .workingDays(let n): "\(n) working days"
        }
    }

    /// The instant the allowance runs out when it starts at `start`.
    func deadline(from start: Date, calendar: WorkingCalendar) -> Date {
        switch self {
        case .minutes(let n): start.addingTimeInterval(Double(n) * 60)
        case .workingHours(let n): OfficeHours.standard.adding(minutes: n * 60, to: start, calendar: calendar)
        case .workingDays(let n): calendar.deadline(from: start, workingDays: n)
        }
    }
}

/// Office hours on working days (China Standard Time, no daylight saving): 08:30–12:00 and 14:00–17:30.
struct OfficeHours: Sendable {
    /// Minutes after local midnight.
    var windows: [(start: Int, end: Int)]

    static let standard = OfficeHours(windows: [(8 * 60 + 30, 12 * 60), (14 * 60, 17 * 60 + 30)])
    static let offset: TimeInterval = 8 * 3600

    /// Adds `minutes` of office time to `start`.
    func adding(minutes: Int, to start: Date, calendar: WorkingCalendar) -> Date {
        var remaining = max(0, minutes)
        let local = start.timeIntervalSince1970 + Self.offset
        var day = Int((local / 86400).rounded(.down))
        var minuteOfDay = Int(((local - Double(day) * 86400) / 60).rounded(.down))
        var guardDays = 0
        while guardDays < 3660 {
            let date = LocalDate(Date(timeIntervalSince1970: Double(day) * 86400), timeZone: TimeZone(identifier: "UTC") ?? .current)
            if calendar.isWorkingDay(date) {
                for window in windows where minuteOfDay < window.end {
                    let from = max(minuteOfDay, window.start)
                    let available = window.end - from
                    if remaining <= available {
                        let local = Double(day) * 86400 + Double(from + remaining) * 60
                        return Date(timeIntervalSince1970: local - Self.offset)
                    }
                    remaining -= available
                    minuteOfDay = window.end
                }
            }
            day += 1
            minuteOfDay = 0
            guardDays += 1
        }
        return start
    }
}

/// Response and resolution allowances per case type and priority (hotline appeals: 30-minute first response).
struct SLAPolicy: Sendable, Equatable {
    var response: SLADuration
    var resolution: SLADuration

    /// The code defaults (used until an administrator changes the table, see ``SLATable``).
    static func defaultPolicy(type: CaseType, priority: CasePriority) -> SLAPolicy {
        switch (type, priority) {
        case (.gridEvent, .normal): SLAPolicy(response: .workingHours(2), resolution: .workingDays(5))
        case (.gridEvent, .urgent): SLAPolicy(response: .minutes(30), resolution: .workingDays(1))
        case (.appeal, .normal): SLAPolicy(response: .workingDays(1), resolution: .workingDays(15))
        case (.appeal, .urgent): SLAPolicy(response: .workingHours(2), resolution: .workingDays(5))
        case (.supervision, .normal): SLAPolicy(response: .workingDays(1), resolution: .workingDays(10))
        case (.supervision, .urgent): SLAPolicy(response: .workingHours(4), resolution: .workingDays(3))
        }
    }

    /// The allowances for a case from `table` (the administrators' table in force; the defaults without one).
    static func policy(
        type: CaseType, priority: CasePriority, channel: CaseChannel, timeLimitDays: Int? = nil, table: SLATable = .defaults
    ) -> SLAPolicy {
        var policy = table.policy(type, priority)
        if type == .appeal && channel == .hotline { policy.response = table.hotlineResponse }
        if let timeLimitDays { policy.resolution = .workingDays(timeLimitDays) }
        return policy
    }

    /// The yellow warning instant: 80 % of the way from `start` to `due`.
    static func yellow(start: Date, due: Date) -> Date {
        start.addingTimeInterval(due.timeIntervalSince(start) * 0.8)
    }
}
