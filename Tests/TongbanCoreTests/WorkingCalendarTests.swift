import Foundation
import Testing
import TongbanCore

@Suite("Working-day calendar")
struct WorkingCalendarTests {
    let calendar = WorkingCalendar.china

    func d(_ text: String) -> LocalDate {
        guard let date = LocalDate(text) else { fatalError("bad test date \(text)") }
        return date
    }

    @Test func localDates_roundTripAndWeekdays() {
        #expect(d("1970-01-01").dayNumber == 0)
        #expect(d("2026-11-29").weekday == 7)  // a Sunday
        #expect(d("2026-02-28").adding(days: 1) == d("2026-03-01"))
        #expect(d("2028-02-28").adding(days: 1) == d("2028-02-29"))
        #expect(LocalDate("2026-02-29") == nil)
        #expect(LocalDate("2026-13-01") == nil)
        #expect(LocalDate("20260101") == nil)
        for n in stride(from: -800_000, to: 800_000, by: 997) {
            let date = LocalDate(year: 1970, month: 1, day: 1)!.adding(days: n)
            #expect(date.dayNumber == n)
        }
    }

    @Test func holidaysAndAdjustedDays_2026() {
        #expect(!calendar.isWorkingDay(d("2026-01-01")))  // New Year, a Thursday
        #expect(calendar.isWorkingDay(d("2026-01-04")))  // Sunday worked for New Year
        #expect(calendar.isWorkingDay(d("2026-02-14")))  // Saturday worked for Spring Festival
        #expect(!calendar.isWorkingDay(d("2026-02-23")))  // Spring Festival Monday
        #expect(!calendar.isWorkingDay(d("2026-10-07")))
        #expect(calendar.isWorkingDay(d("2026-10-10")))  // Saturday worked for National Day
        #expect(!calendar.isWorkingDay(d("2026-11-28")))  // ordinary Saturday
        #expect(calendar.isWorkingDay(d("2026-11-30")))  // ordinary Monday
        #expect(calendar.knows(year: 2026))
        #expect(!calendar.knows(year: 2030))
    }

    @Test func addingWorkingDays_skipsHolidaysAndCountsAdjustedDays() {
        // Submitted Wednesday 2026-09-30: Oct 1–7 off, Oct 8 (Thu) 1, Oct 9 (Fri) 2, Oct 10 (Sat, worked) 3.
        #expect(calendar.addingWorkingDays(3, to: d("2026-09-30")) == d("2026-10-10"))
        // Across the Spring Festival: Fri 02-13 → Sat 02-14 (worked) 1, then 02-24 (Tue) 2.
        #expect(calendar.addingWorkingDays(2, to: d("2026-02-13")) == d("2026-02-24"))
        #expect(calendar.addingWorkingDays(0, to: d("2026-05-01")) == d("2026-05-01"))
        // An ordinary week: Monday + 5 working days = next Monday.
        #expect(calendar.addingWorkingDays(5, to: d("2026-11-23")) == d("2026-11-30"))
        #expect(calendar.workingDays(from: d("2026-09-30"), to: d("2026-10-10")) == 3)
        #expect(calendar.workingDays(from: d("2026-10-10"), to: d("2026-09-30")) == 0)
    }

    @Test func deadline_endsAtMidnightAfterTheLastDay() {
        let submitted = d("2026-11-23").start().addingTimeInterval(10 * 3600)
        let deadline = calendar.deadline(from: submitted, workingDays: 5)
        #expect(deadline == d("2026-12-01").start())
    }

    @Test func loadingAnotherYear_andRejectingBadData() throws {
        var copy = calendar
        let json = Data(#"[{"year":2027,"holidays":["2027-01-01"],"workdays":["2027-01-02"],"source":"test"}]"#.utf8)
        try copy.load(json: json)
        #expect(copy.knows(year: 2027))
        #expect(!copy.isWorkingDay(d("2027-01-01")))
        #expect(copy.isWorkingDay(d("2027-01-02")))  // a Saturday made a working day
        #expect(throws: WorkingCalendar.InvalidYear.self) {
            try copy.load(json: Data(#"[{"year":2027,"holidays":["2028-01-01"],"workdays":[],"source":"x"}]"#.utf8))
        }
        #expect(throws: WorkingCalendar.InvalidYear.self) {
            try copy.load(json: Data(#"[{"year":2027,"holidays":[],"workdays":["2027-01-04"],"source":"x"}]"#.utf8))
        }
        #expect(throws: (any Error).self) {
            try copy.load(json: Data(#"[{"year":2027,"holidays":["2027-02-30"],"workdays":[],"source":"x"}]"#.utf8))
        }
    }
}
