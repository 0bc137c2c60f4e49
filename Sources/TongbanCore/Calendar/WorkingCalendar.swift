import Foundation

/// Working days for time limits (办结时限): Monday to Friday, minus public holidays, plus the adjusted
/// working weekend days (调休). Years without loaded data fall back to plain weekdays; ``knows(year:)``
/// tells callers when that happens.
public struct WorkingCalendar: Sendable {
    /// One year's official arrangement.
    public struct Year: Codable, Sendable, Equatable {
        public var year: Int
        /// Days off that would otherwise be working days (and holiday weekends, harmlessly).
        public var holidays: [LocalDate]
        /// Weekend days that are working days (调休上班).
        public var workdays: [LocalDate]
        /// Where the data comes from.
        public var source: String

        public init(year: Int, holidays: [LocalDate], workdays: [LocalDate], source: String) {
            self.year = year
            self.holidays = holidays
            self.workdays = workdays
            self.source = source
        }
    }

    public struct InvalidYear: Error, CustomStringConvertible {
        public var description: String
    }

    private var holidays: Set<LocalDate> = []
    private var workdays: Set<LocalDate> = []
    public private(set) var years: Set<Int> = []

    public init(years: [Year] = []) throws {
        for year in years { try add(year) }
    }

    /// Adds (or replaces) one year's arrangement; dates must lie in that year and not be both.
    public mutating func add(_ year: Year) throws {
        for date in year.holidays + year.workdays where date.year != year.year {
            throw InvalidYear(description: "\(date) is not in \(year.year)")
        }
        let both = Set(year.holidays).intersection(year.workdays)
        if let date = both.first { throw InvalidYear(description: "\(date) is listed as holiday and as working day") }
        for date in year.workdays where !date.isWeekend {
            throw InvalidYear(description: "\(date) is an adjusted working day but not a weekend day")
        }
        holidays = holidays.filter { $0.year != year.year }.union(year.holidays)
        workdays = workdays.filter { $0.year != year.year }.union(year.workdays)
        years.insert(year.year)
    }

    /// Loads years from JSON (`[{"year":2027,"holidays":["2027-01-01",…],"workdays":[…],"source":"…"}]`).
    public mutating func load(json: Data) throws {
        for year in try JSONDecoder().decode([Year].self, from: json) { try add(year) }
    }

    public func knows(year: Int) -> Bool { years.contains(year) }

    public func isWorkingDay(_ date: LocalDate) -> Bool {
        if workdays.contains(date) { return true }
        if holidays.contains(date) { return false }
        return !date.isWeekend
    }

    /// The date on which a limit of `count` working days ends when counting starts the day after `start`
    /// (the day of submission is not counted). `count` 0 gives `start`.
    public func addingWorkingDays(_ count: Int, to start: LocalDate) -> LocalDate {
        var date = start
        var remaining = max(0, count)
        while remaining > 0 {
            date = date.adding(days: 1)
            if isWorkingDay(date) { remaining -= 1 }
        }
        return date
    }

    /// Working days in the half-open range (`from`, `to`]; 0 when `to` is not after `from`.
    public func workingDays(from: LocalDate, to: LocalDate) -> Int {
        guard to > from else { return 0 }
        var count = 0
        var date = from.adding(days: 1)
        while date <= to {
            if isWorkingDay(date) { count += 1 }
            date = date.adding(days: 1)
        }
        return count
    }

    /// The instant a limit of `count` working days from `instant` runs out: the end of its last day
    /// (midnight after it) in `timeZone`.
    public func deadline(from instant: Date, workingDays count: Int, timeZone: TimeZone = .shanghai) -> Date {
        addingWorkingDays(count, to: LocalDate(instant, timeZone: timeZone)).adding(days: 1).start(in: timeZone)
    }

    /// Mainland China with the 2026 arrangement.
    public static let china: WorkingCalendar = {
        (try? WorkingCalendar(years: [ChinaHolidays.year2026])) ?? (try? WorkingCalendar()) ?? WorkingCalendar.empty
    }()

    static let empty = WorkingCalendar(unchecked: ())

    private init(unchecked: Void) {}
}

/// Official arrangements of public holidays (国务院办公厅关于部分节假日安排的通知).
public enum ChinaHolidays {
    /// 2026, per the State Council General Office notice of November 2025.
    public static let year2026 = WorkingCalendar.Year(
        year: 2026,
        holidays: dates(
            "2026-01-01", "2026-01-02", "2026-01-03",
            "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21",
            "2026-02-22", "2026-02-23",
            "2026-04-04", "2026-04-05", "2026-04-06",
            "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05",
            "2026-06-19", "2026-06-20", "2026-06-21",
            "2026-09-25", "2026-09-26", "2026-09-27",
            "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"),
        workdays: dates("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"),
        source: "国务院办公厅关于2026年部分节假日安排的通知 (2025-11)")

    static func dates(_ texts: String...) -> [LocalDate] { texts.compactMap(LocalDate.init) }
}
