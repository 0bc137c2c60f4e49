import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@testable import Cases

@Suite("Cases: SLA deadlines in working time, warnings, automatic escalation")
struct CaseSLATests {
    @Test func resolutionDeadline_skipsNationalDayHolidays_andCountsAdjustedSaturday() async throws {
        try await withTestApp(demo: true) { app in
            // Wednesday 2026-09-30, 10:00 in China. 1–7 October are holidays; Saturday 10 October is a working day.
            let citizen = try await app.login("demo-citizen")  // before fixing the clock: tokens use the real time
            app.clock = .fixed(instant("2026-09-30T02:00:00Z"))
            let created = try await app.fileCase(token: citizen, category: "sanitation")
            // 5 working days: 8, 9, 10 (调休), 12, 13 October → end of 13 October, China time.
            #expect(jsonDate(created["sla"]?["resolutionDueAt"]) == instant("2026-10-13T16:00:00Z"))
            // 2 office hours from 10:00: 12:00 the same day.
            #expect(jsonDate(created["sla"]?["responseDueAt"]) == instant("2026-09-30T04:00:00Z"))
            #expect(created["sla"]?["warning"]?.string == "normal")
        }
    }

    @Test func officeHours_spanLunchNightWeekendAndHoliday() {
        let calendar = WorkingCalendar.china
        // Wednesday 2026-09-30 16:30 + 2 h → 1 h left today (to 17:30), then the next working day 8 Oct 09:30.
        let start = instant("2026-09-30T08:30:00Z")  // 16:30 China
        #expect(SLADuration.workingHours(2).deadline(from: start, calendar: calendar) == instant("2026-10-08T01:30:00Z"))
        // 11:30 + 1 h → 30 min before lunch, 30 min after: 14:30.
        #expect(SLADuration.workingHours(1).deadline(from: instant("2026-11-30T03:30:00Z"), calendar: calendar) == instant("2026-11-30T06:30:00Z"))
        // Hotline response: 30 calendar minutes, also at night.
        #expect(SLADuration.minutes(30).deadline(from: instant("2026-10-01T15:00:00Z"), calendar: calendar) == instant("2026-10-01T15:30:00Z"))
    }

    @Test func hotlineAppeal_firstResponseWithin30Minutes_evenOnAHoliday() async throws {
        try await withTestApp(demo: true) { app in
            let city = try await app.login("demo-city")
            let citizen = try await app.login("demo-citizen")
            app.clock = .fixed(instant("2026-10-02T13:00:00Z"))  // 21:00 on a holiday
            let created = try await app.fileCase(
                token: city, type: "appeal", category: "labour", lat: nil, lon: nil,
                extra: ["channel": "hotline", "subtype": "complaint"])
            #expect(created["number"]?.string?.hasPrefix("SQ-20261002-") == true)
            #expect(created["department"]?["code"]?.string == "440604-RSJ")
            #expect(jsonDate(created["sla"]?["responseDueAt"]) == instant("2026-10-02T13:30:00Z"))
            // Residents cannot claim the hotline channel.
            let (status, body, _) = try await app.send(
                .POST, "/api/v1/cases", token: citizen,
                json: ["type": "appeal", "category": "labour", "description": "欠薪", "channel": "hotline"])
            #expect(status == .unprocessableEntity)
            #expect(body["errors"]?.items.first?["field"]?.string == "channel")
        }
    }

    @Test func overdue_timersWarnThenEscalateAutomatically() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let grid = try await app.login("demo-grid")
            app.clock = .fixed(instant("2026-11-30T01:00:00Z"))  // Monday 09:00 China
            let created = try await app.fileCase(token: citizen, category: "sanitation")
            let id = try #require(created["id"]?.string)
            let due = try #require(jsonDate(created["sla"]?["resolutionDueAt"]))
            #expect(due == instant("2026-12-07T16:00:00Z"))  // 1, 2, 3, 4, 7 December → end of Monday 7 December
            // Nothing is due yet.
            #expect(try await app.jobs.runOnce(app: app) == 0)
            // After the response deadline: red warning, still at the community.
            app.clock = .fixed(instant("2026-11-30T05:00:00Z"))
            _ = try await app.jobs.runOnce(app: app)
            var (_, shown, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: citizen)
            #expect(shown["overdue"] == .bool(true))
            #expect(shown["sla"]?["warning"]?.string == "red")
            #expect(shown["level"]?.string == "community")
            // After the resolution deadline: escalated to the street automatically.
            app.clock = .fixed(due.addingTimeInterval(60))
            _ = try await app.jobs.runOnce(app: app)
            (_, shown, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: citizen)
            #expect(shown["level"]?.string == "street")
            let actions = shown["timeline"]?.items.compactMap { $0["action"]?.string } ?? []
            #expect(actions.contains("sla_warning"))
            #expect(actions.filter { $0 == "sla_overdue" }.count == 2)
            let escalation = shown["timeline"]?.items.last { $0["action"]?.string == "escalate" }
            #expect(escalation?["details"]?["automatic"]?.string == "true")
            #expect(escalation?["actor"]?.string == "system")
            // A case handled in time gets no timers' effects.
            app.clock = .fixed(instant("2026-11-30T01:00:00Z"))
            let second = try await app.fileCase(token: citizen, category: "neighbourhood", lat: 23.03, lon: 113.105)
            let secondID = try #require(second["id"]?.string)
            let (accepted, _) = try await app.act(secondID, "accept", token: grid)
            #expect(accepted == .ok)
            app.clock = .fixed(instant("2026-11-30T05:00:00Z"))
            _ = try await app.jobs.runOnce(app: app)
            (_, shown, _) = try await app.send(.GET, "/api/v1/cases/\(secondID)", token: citizen)
            #expect(shown["overdue"] == .bool(false))
        }
    }
}
