import Applications
import Fluent
import Foundation
import NIOConcurrencyHelpers
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

/// A clock that tests move forward (starts at the real time, so that access tokens issued now stay
/// valid: tokens are checked against the real time).
final class MovableClock: Sendable {
    private let box = NIOLockedValueBox(Date())

    var clock: TongbanClock { TongbanClock { [box] in box.withLockedValue { $0 } } }

    func set(_ date: Date) { box.withLockedValue { $0 = date } }
}

extension JSONValue {
    var items: [JSONValue] {
        if case .array(let rows)? = self["items"] { return rows }
        return []
    }

    /// The fields of a problem document's `errors`.
    var fields: [String] {
        guard case .array(let errors)? = self["errors"] else { return [] }
        return errors.compactMap { $0["field"]?.stringValue }
    }

    var int: Int? {
        if case .number(let value) = self { return Int(value) }
        return nil
    }
}

/// A demo hall: 济南市政务服务中心 (`370100-ZWFW`, run by 济南市市场监督管理局 where demo-clerk works;
/// windows 01 市场监管, 02 人社医保, 03 公积金不动产) or 济南市历下区政务服务中心 (`370102-ZWFW`).
struct DemoHall {
    var id: String
    var windows: [String: String]
}

extension Application {
    func demoHall(_ code: String = "370100-ZWFW") async throws -> DemoHall {
        let (status, list) = try await json(.GET, "/api/v1/halls?limit=100")
        #expect(status == .ok)
        let hall = try #require(list.items.first { $0["code"]?.stringValue == code })
        var windows: [String: String] = [:]
        if case .array(let rows)? = hall["windows"] {
            for row in rows {
                if let number = row["number"]?.stringValue, let id = row["id"]?.stringValue { windows[number] = id }
            }
        }
        return DemoHall(id: try #require(hall["id"]?.stringValue), windows: windows)
    }

    /// Creates a slot through the staff API as demo-admin; returns its id.
    func makeSlot(
        hall: String, window: String? = nil, date: LocalDate, start: String, end: String, capacity: Int, admin: String
    ) async throws -> String {
        var body: [String: JSONValue] = [
            "date": .string(date.description), "startTime": .string(start), "endTime": .string(end),
            "capacity": .number(Double(capacity)),
        ]
        if let window { body["windowId"] = .string(window) }
        let (status, slot) = try await json(.POST, "/api/v1/halls/\(hall)/slots", token: admin, body: body)
        #expect(status == .created, "\(slot)")
        return try #require(slot["id"]?.stringValue)
    }

    /// Registers and signs in a new person.
    func newPerson() async throws -> String {
        let username = try await registerPerson()
        return try await login(username, Fixtures.password)
    }

    func slotRow(_ id: String) async throws -> AppointmentSlot {
        try #require(try await AppointmentSlot.find(UUID(uuidString: id), on: db))
    }

    func inbox(_ token: String) async throws -> [String] {
        let (_, page) = try await json(.GET, "/api/v1/notifications?limit=100", token: token)
        return page.items.compactMap { $0["template"]?.stringValue }
    }
}

/// A date `days` after today (Asia/Shanghai).
func dayAfter(_ days: Int) -> LocalDate { LocalDate(Date()).adding(days: days) }

@Suite("Appointments")
struct AppointmentTests {
    @Test func booking_givesACode_notifies_andSchedulesTheReminder() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let citizen = try await app.login("demo-citizen")
            let hall = try await app.demoHall()
            #expect(hall.windows.keys.sorted() == ["01", "02", "03"])
            let date = dayAfter(3)
            let slot = try await app.makeSlot(hall: hall.id, date: date, start: "10:00", end: "10:30", capacity: 2, admin: admin)

            let (status, booking) = try await app.json(.POST, "/api/v1/appointments", token: citizen, body: ["slotId": .string(slot)])
            #expect(status == .created)
            let code = try #require(booking["code"]?.stringValue)
            #expect(code.count == 6 && code.allSatisfy { "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains($0) })
            #expect(booking["status"]?.stringValue == "booked")
            #expect(booking["date"]?.stringValue == date.description)
            #expect(booking["startTime"]?.stringValue == "10:00")
            #expect(booking["hallName"]?.stringValue == "济南市政务服务中心")
            let id = try #require(booking["id"]?.stringValue)

            // The place is taken, the booking is listed, the inbox says so, the reminder waits.
            let (_, slots) = try await app.json(.GET, "/api/v1/halls/\(hall.id)/slots?date=\(date)&limit=100")
            let listed = try #require(slots.items.first { $0["id"]?.stringValue == slot })
            #expect(listed["remaining"]?.int == 1)
            #expect(listed["available"] == .bool(true))
            let (_, mine) = try await app.json(.GET, "/api/v1/appointments", token: citizen)
            #expect(mine.items.map { $0["id"]?.stringValue } == [id])
            #expect(mine["nextCursor"] == .null)
            #expect(try await app.inbox(citizen).contains("appointment.booked"))
            let jobs = try await Job.query(on: app.db).filter(\.$kind == "appointments.remind").all()
            #expect(jobs.count == 1)
            let expected = LocalDate(Date()).adding(days: 2).start(in: .shanghai).addingTimeInterval(9 * 3600)
            #expect(jobs.first.map { abs($0.runAt.timeIntervalSince(expected)) < 1 } == true)

            // The same person cannot hold two appointments at the same time.
            let (again, overlap) = try await app.json(.POST, "/api/v1/appointments", token: citizen, body: ["slotId": .string(slot)])
            #expect(again == .conflict)
            #expect(overlap["type"]?.stringValue == "/problems/appointment-overlap")
            // Staff do not book; anonymous callers are asked to sign in.
            let (staff, _) = try await app.json(.POST, "/api/v1/appointments", token: admin, body: ["slotId": .string(slot)])
            #expect(staff == .forbidden)
            let (anonymous, _) = try await app.json(.POST, "/api/v1/appointments", body: ["slotId": .string(slot)])
            #expect(anonymous == .unauthorized)
            #expect(try await app.slotRow(slot).booked == 1)
        }
    }

    @Test func bookingForAService_onlyAtAWindowThatHandlesIt() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let citizen = try await app.login("demo-citizen")
            let hall = try await app.demoHall()
            let serviceID = try await app.demoServiceID()  // 济南市市场监督管理局: window 01
            let date = dayAfter(4)
            let market = try await app.makeSlot(
                hall: hall.id, window: hall.windows["01"], date: date, start: "18:00", end: "18:30", capacity: 1, admin: admin)
            let health = try await app.makeSlot(
                hall: hall.id, window: hall.windows["02"], date: date, start: "18:00", end: "18:30", capacity: 1, admin: admin)
            let (wrong, problem) = try await app.json(
                .POST, "/api/v1/appointments", token: citizen, body: ["slotId": .string(health), "serviceId": .string(serviceID)])
            #expect(wrong == .unprocessableEntity)
            #expect(problem.fields == ["serviceId"])
            // The service filter lists only the windows that handle it.
            let (_, filtered) = try await app.json(.GET, "/api/v1/halls/\(hall.id)/slots?date=\(date)&service=\(serviceID)&limit=100")
            let ids = Set(filtered.items.compactMap { $0["id"]?.stringValue })
            #expect(ids.contains(market) && !ids.contains(health))
            #expect(filtered.items.allSatisfy { $0["windowNumber"]?.stringValue == "01" })
            // Booking for one of my applications takes its service.
            let (_, draft) = try await app.json(.POST, "/api/v1/applications", token: citizen, body: ["serviceId": .string(serviceID), "form": [:]])
            let application = try #require(draft["id"]?.stringValue)
            let (created, booking) = try await app.json(
                .POST, "/api/v1/appointments", token: citizen, body: ["slotId": .string(market), "applicationId": .string(application)])
            #expect(created == .created)
            #expect(booking["serviceId"]?.stringValue == serviceID)
            #expect(booking["applicationId"]?.stringValue == application)
            #expect(booking["windowNumber"]?.stringValue == "01")
        }
    }

    @Test func capacityRace_thirtyConcurrentBookings_exactlyFiveSucceed() async throws {
        try await withTestApp(demo: true, sqliteFile: !TestDatabase.isPostgres) { app in
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let slot = try await app.makeSlot(hall: hall.id, date: dayAfter(5), start: "11:00", end: "11:30", capacity: 5, admin: admin)
            var tokens: [String] = []
            for _ in 0..<30 { tokens.append(try await app.newPerson()) }
            let results = try await withThrowingTaskGroup(of: (HTTPStatus, String?).self) { group in
                for token in tokens {
                    group.addTask {
                        let (status, body) = try await app.json(.POST, "/api/v1/appointments", token: token, body: ["slotId": .string(slot)])
                        return (status, body["type"]?.stringValue)
                    }
                }
                var all: [(HTTPStatus, String?)] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.filter { $0.0 == .created }.count == 5, "\(results.map(\.0.code))")
            #expect(results.filter { $0.0 == .conflict && $0.1 == "/problems/slot-full" }.count == 25)
            #expect(try await app.slotRow(slot).booked == 5)
            let stored = try await Booking.query(on: app.db).filter(\.$slotID == UUID(uuidString: slot)!).count()
            #expect(stored == 5)
        }
    }

    @Test func cancel_freesThePlace_once() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let slot = try await app.makeSlot(hall: hall.id, date: dayAfter(3), start: "15:00", end: "15:30", capacity: 1, admin: admin)
            let first = try await app.newPerson()
            let second = try await app.newPerson()
            let (_, booking) = try await app.json(.POST, "/api/v1/appointments", token: first, body: ["slotId": .string(slot)])
            let id = try #require(booking["id"]?.stringValue)
            let (full, problem) = try await app.json(.POST, "/api/v1/appointments", token: second, body: ["slotId": .string(slot)])
            #expect(full == .conflict)
            #expect(problem["type"]?.stringValue == "/problems/slot-full")

            let (cancelled, body) = try await app.json(.POST, "/api/v1/appointments/\(id)/cancel", token: first, body: ["reason": "行程有变"])
            #expect(cancelled == .ok)
            #expect(body["status"]?.stringValue == "cancelled")
            #expect(body["cancelledAt"] != nil)
            #expect(try await app.slotRow(slot).booked == 0)
            #expect(try await app.inbox(first).contains("appointment.cancelled"))
            let (twice, again) = try await app.json(.POST, "/api/v1/appointments/\(id)/cancel", token: first)
            #expect(twice == .conflict)
            #expect(again["type"]?.stringValue == "/problems/appointment-not-active")
            #expect(try await app.slotRow(slot).booked == 0)

            let (booked, _) = try await app.json(.POST, "/api/v1/appointments", token: second, body: ["slotId": .string(slot)])
            #expect(booked == .created)
            #expect(try await app.slotRow(slot).booked == 1)
            let (_, cancelledOnly) = try await app.json(.GET, "/api/v1/appointments?status=cancelled", token: first)
            #expect(cancelledOnly.items.count == 1)
        }
    }

    @Test func reschedule_isAtomic_andKeepsTheCode() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let date = dayAfter(6)
            let old = try await app.makeSlot(hall: hall.id, date: date, start: "09:00", end: "09:30", capacity: 1, admin: admin)
            let full = try await app.makeSlot(hall: hall.id, date: date, start: "10:00", end: "10:30", capacity: 1, admin: admin)
            let free = try await app.makeSlot(hall: hall.id, date: date, start: "14:00", end: "14:30", capacity: 1, admin: admin)
            let mover = try await app.newPerson()
            let other = try await app.newPerson()
            let (_, booking) = try await app.json(.POST, "/api/v1/appointments", token: mover, body: ["slotId": .string(old)])
            let id = try #require(booking["id"]?.stringValue)
            let code = booking["code"]?.stringValue
            _ = try await app.json(.POST, "/api/v1/appointments", token: other, body: ["slotId": .string(full)])

            // The new slot is full: nothing changes.
            let (conflict, problem) = try await app.json(.POST, "/api/v1/appointments/\(id)/reschedule", token: mover, body: ["slotId": .string(full)])
            #expect(conflict == .conflict)
            #expect(problem["type"]?.stringValue == "/problems/slot-full")
            let (_, unchanged) = try await app.json(.GET, "/api/v1/appointments/\(id)", token: mover)
            #expect(unchanged["slotId"]?.stringValue == old)
            #expect(unchanged["status"]?.stringValue == "booked")
            #expect(try await app.slotRow(old).booked == 1)
            #expect(try await app.slotRow(full).booked == 1)

            // Bad targets are 422.
            for target in [old, UUID().uuidString, "nope"] {
                let (bad, _) = try await app.json(.POST, "/api/v1/appointments/\(id)/reschedule", token: mover, body: ["slotId": .string(target)])
                #expect(bad == .unprocessableEntity, "\(target)")
            }
            let (missing, _) = try await app.json(.POST, "/api/v1/appointments/\(id)/reschedule", token: mover, body: [:])
            #expect(missing == .unprocessableEntity)

            let (moved, body) = try await app.json(.POST, "/api/v1/appointments/\(id)/reschedule", token: mover, body: ["slotId": .string(free)])
            #expect(moved == .ok)
            #expect(body["slotId"]?.stringValue == free)
            #expect(body["startTime"]?.stringValue == "14:00")
            #expect(body["code"]?.stringValue == code)
            #expect(try await app.slotRow(old).booked == 0)
            #expect(try await app.slotRow(free).booked == 1)
            // The freed place can be taken.
            let third = try await app.newPerson()
            let (taken, _) = try await app.json(.POST, "/api/v1/appointments", token: third, body: ["slotId": .string(old)])
            #expect(taken == .created)
        }
    }

    @Test func reminder_firesOnceTheDayBefore_notAfterCancel_andFollowsAReschedule() async throws {
        try await withTestApp(demo: true) { app in
            let clock = MovableClock()
            app.clock = clock.clock
            let outbox = FileManager.default.temporaryDirectory.appendingPathComponent("outbox-\(UUID().uuidString).log").path
            app.notificationSender = DevelopmentSender(path: outbox)
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let day = dayAfter(3)
            let slot = try await app.makeSlot(hall: hall.id, date: day, start: "10:00", end: "10:30", capacity: 3, admin: admin)
            let later = try await app.makeSlot(hall: hall.id, date: day.adding(days: 1), start: "10:00", end: "10:30", capacity: 3, admin: admin)
            let keeper = try await app.newPerson()
            let canceller = try await app.newPerson()
            let mover = try await app.newPerson()
            for token in [keeper, canceller, mover] {
                let (status, _) = try await app.json(.POST, "/api/v1/appointments", token: token, body: ["slotId": .string(slot)])
                #expect(status == .created)
            }
            let (_, cancelPage) = try await app.json(.GET, "/api/v1/appointments", token: canceller)
            let cancelID = try #require(cancelPage.items.first?["id"]?.stringValue)
            _ = try await app.json(.POST, "/api/v1/appointments/\(cancelID)/cancel", token: canceller)
            let (_, movePage) = try await app.json(.GET, "/api/v1/appointments", token: mover)
            let moveID = try #require(movePage.items.first?["id"]?.stringValue)
            let (moved, _) = try await app.json(.POST, "/api/v1/appointments/\(moveID)/reschedule", token: mover, body: ["slotId": .string(later)])
            #expect(moved == .ok)

            func reminders(_ token: String) async throws -> Int {
                try await app.inbox(token).filter { $0 == "appointment.reminder" }.count
            }
            // Not yet due.
            _ = try await app.jobs.runOnce(app: app)
            #expect(try await reminders(keeper) == 0)
            // The day before at 09:00 (Asia/Shanghai).
            let dayBefore = day.adding(days: -1).start(in: .shanghai)
            clock.set(dayBefore.addingTimeInterval(9 * 3600 - 60))
            _ = try await app.jobs.runOnce(app: app)
            #expect(try await reminders(keeper) == 0)
            clock.set(dayBefore.addingTimeInterval(9 * 3600 + 60))
            _ = try await app.jobs.runOnce(app: app)
            _ = try await app.jobs.runOnce(app: app)
            clock.set(dayBefore.addingTimeInterval(20 * 3600))
            _ = try await app.jobs.runOnce(app: app)
            #expect(try await reminders(keeper) == 1)
            #expect(try await reminders(canceller) == 0)
            #expect(try await reminders(mover) == 0)
            // The SMS copy went through the outbox.
            let sms = try await Applications.Notification.query(on: app.db).filter(\.$template == "appointment.reminder")
                .filter(\.$channel == .sms).all()
            #expect(sms.count == 1)
            #expect(sms.first?.status == .sent)
            #expect(((try? String(contentsOfFile: outbox, encoding: .utf8)) ?? "").contains("明日预约提醒"))
            // The moved booking is reminded the day before its new slot, once.
            clock.set(day.start(in: .shanghai).addingTimeInterval(9 * 3600 + 60))
            _ = try await app.jobs.runOnce(app: app)
            _ = try await app.jobs.runOnce(app: app)
            #expect(try await reminders(mover) == 1)
            #expect(try await reminders(keeper) == 1)
        }
    }

    @Test func holidays_haveNoSlots_adjustedWorkingDaysDo() async throws {
        try await withTestApp(demo: true) { app in
            // Monday 2026-09-21, 10:00 in Jinan. Mid-Autumn (09-25…27) and National Day (10-01…07) are
            // holidays; Saturday 10-10 is an adjusted working day.
            app.clock = .fixed(try #require(LocalDate("2026-09-21")).start(in: .shanghai).addingTimeInterval(10 * 3600))
            let hall = try await app.demoHall("370102-ZWFW")
            let hallID = try #require(UUID(uuidString: hall.id))
            let service = AppointmentService(app: app, db: app.db)
            let opened = try await service.openSlots(hall: hallID, from: try #require(LocalDate("2026-09-24")), days: 8)
            // 8 working days × 3 windows × (6 morning + 7 afternoon half-hours).
            #expect(opened == 8 * 3 * 13)
            #expect(try await service.openSlots(hall: hallID, from: try #require(LocalDate("2026-09-24")), days: 8) == 0)
            let expected: [String: Int] = [
                "2026-09-24": 39, "2026-09-25": 0, "2026-09-26": 0, "2026-09-27": 0, "2026-09-28": 39, "2026-09-30": 39,
                "2026-10-01": 0, "2026-10-05": 0, "2026-10-07": 0, "2026-10-08": 39, "2026-10-10": 39, "2026-10-11": 0,
                "2026-10-12": 39, "2026-10-13": 0,
            ]
            for (date, count) in expected {
                let (status, page) = try await app.json(.GET, "/api/v1/halls/\(hall.id)/slots?date=\(date)&limit=100")
                #expect(status == .ok)
                #expect(page.items.count == count, "\(date)")
            }
            let (_, first) = try await app.json(.GET, "/api/v1/halls/\(hall.id)/slots?date=2026-10-10&limit=1")
            #expect(first.items.first?["startTime"]?.stringValue == "09:00")
            #expect(first.items.first?["startsAt"]?.stringValue == "2026-10-10T01:00:00Z")
            #expect(first["nextCursor"]?.stringValue != nil)
            let periods = try await AppointmentSlot.query(on: app.db).filter(\.$date == "2026-10-10").all().map(\.startTime)
            #expect(!periods.contains("12:00") && !periods.contains("13:00") && periods.contains("13:30") && periods.contains("16:30"))
        }
    }

    @Test func badInput_isA4xxProblem_andStoresNothing() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let clerk = try await app.login("demo-clerk")
            let citizen = try await app.login("demo-citizen")
            let other = try await app.login("demo-enterprise")
            let hall = try await app.demoHall()
            let slot = try await app.makeSlot(hall: hall.id, date: dayAfter(2), start: "16:00", end: "16:30", capacity: 1, admin: admin)
            // A slot that has already begun.
            let past = AppointmentSlot()
            past.hallID = try #require(UUID(uuidString: hall.id))
            past.date = LocalDate(Date()).adding(days: -1).description
            past.startMinute = 600
            past.endMinute = 630
            past.startsAt = Date().addingTimeInterval(-86_400)
            past.endsAt = Date().addingTimeInterval(-84_600)
            past.capacity = 5
            past.booked = 0
            past.createdAt = Date()
            try await past.create(on: app.db)
            let pastID = try past.requireID().uuidString
            // Someone else's application.
            let serviceID = try await app.demoServiceID()
            let (_, foreignDraft) = try await app.json(.POST, "/api/v1/applications", token: other, body: ["serviceId": .string(serviceID), "form": [:]])
            let foreignApplication = try #require(foreignDraft["id"]?.stringValue)

            let cases: [([String: JSONValue], String)] = [
                ([:], "slotId"),
                (["slotId": "nope"], "slotId"),
                (["slotId": .string(UUID().uuidString)], "slotId"),
                (["slotId": .string(pastID)], "slotId"),
                (["slotId": .string(slot), "serviceId": .string(UUID().uuidString)], "serviceId"),
                (["slotId": .string(slot), "serviceId": "x"], "serviceId"),
                (["slotId": .string(slot), "applicationId": .string(foreignApplication)], "applicationId"),
                (["slotId": .string(slot), "applicationId": .string(UUID().uuidString)], "applicationId"),
            ]
            for (body, field) in cases {
                let (status, problem) = try await app.json(.POST, "/api/v1/appointments", token: citizen, body: body)
                #expect(status == .unprocessableEntity, "\(body)")
                #expect(problem.fields == [field], "\(body)")
            }
            let malformed = try await app.testing().sendRequest(
                .POST, "/api/v1/appointments", headers: ["Authorization": "Bearer \(citizen)", "Content-Type": "application/json"],
                body: ByteBuffer(string: "{\"slotId\":"))
            #expect(malformed.status == .badRequest)
            #expect(malformed.isProblemJSON)

            // Listing and staff input.
            for path in ["slots", "slots?date=2026-02-30", "slots?date=tomorrow", "slots?date=\(dayAfter(2))&service=nope",
                         "slots?date=\(dayAfter(2))&service=\(UUID().uuidString)", "slots?date=\(dayAfter(2))&limit=0"] {
                let (status, _) = try await app.json(.GET, "/api/v1/halls/\(hall.id)/\(path)")
                #expect(status == .unprocessableEntity, "\(path)")
            }
            let (unknownHall, hallProblem) = try await app.json(.GET, "/api/v1/halls/\(UUID().uuidString)/slots?date=\(dayAfter(2))")
            #expect(unknownHall == .notFound)
            #expect(hallProblem["type"]?.stringValue == "/problems/hall-not-found")
            let (notUUID, _) = try await app.json(.GET, "/api/v1/halls/nope")
            #expect(notUUID == .notFound)
            let (badRegion, _) = try await app.json(.GET, "/api/v1/halls?region=x")
            #expect(badRegion == .unprocessableEntity)
            let (notAdmin, _) = try await app.json(
                .POST, "/api/v1/halls/\(hall.id)/slots", token: clerk,
                body: ["date": .string(dayAfter(2).description), "startTime": "08:00", "endTime": "08:30", "capacity": 1])
            #expect(notAdmin == .forbidden)
            let (badSlot, slotProblem) = try await app.json(
                .POST, "/api/v1/halls/\(hall.id)/slots", token: admin,
                body: ["date": "2026-13-01", "startTime": "25:00", "endTime": "8:30", "capacity": 0, "windowId": .string(UUID().uuidString)])
            #expect(badSlot == .unprocessableEntity)
            #expect(Set(slotProblem.fields) == ["date", "startTime", "endTime", "capacity", "windowId"])
            let (backwards, _) = try await app.json(
                .POST, "/api/v1/halls/\(hall.id)/slots", token: admin,
                body: ["date": .string(dayAfter(2).description), "startTime": "09:00", "endTime": "08:30", "capacity": 1])
            #expect(backwards == .unprocessableEntity)
            let (overlapping, overlapProblem) = try await app.json(
                .POST, "/api/v1/halls/\(hall.id)/slots", token: admin,
                body: ["date": .string(dayAfter(2).description), "startTime": "16:15", "endTime": "16:45", "capacity": 1])
            #expect(overlapping == .conflict)
            #expect(overlapProblem["type"]?.stringValue == "/problems/slot-overlaps")
            let (badOpen, _) = try await app.json(.POST, "/api/v1/halls/\(hall.id)/slots/open", token: admin, body: ["days": 0])
            #expect(badOpen == .unprocessableEntity)
            let (pastOpen, _) = try await app.json(.POST, "/api/v1/halls/\(hall.id)/slots/open", token: admin, body: ["from": "2020-01-01"])
            #expect(pastOpen == .unprocessableEntity)
            let (clerkOpen, _) = try await app.json(.POST, "/api/v1/halls/\(hall.id)/slots/open", token: clerk, body: [:])
            #expect(clerkOpen == .forbidden)

            // Nothing was stored.
            #expect(try await Booking.query(on: app.db).count() == 0)
            #expect(try await AppointmentSlot.query(on: app.db).filter(\.$booked != 0).count() == 0)
            #expect(try await Applications.Notification.query(on: app.db).filter(\.$template ~~ ["appointment.booked"]).count() == 0)
        }
    }

    @Test func someoneElsesBooking_is404_andHallStaffSeeIt() async throws {
        try await withTestApp(demo: true) { app in
            let clock = MovableClock()
            app.clock = clock.clock
            let admin = try await app.login("demo-admin")
            let citizen = try await app.login("demo-citizen")
            let stranger = try await app.login("demo-enterprise")
            let clerk = try await app.login("demo-clerk")
            let outsider = try await app.login("demo-approver-1")
            let hall = try await app.demoHall()
            let date = dayAfter(2)
            let slot = try await app.makeSlot(hall: hall.id, date: date, start: "09:00", end: "09:30", capacity: 2, admin: admin)
            let (_, booking) = try await app.json(.POST, "/api/v1/appointments", token: citizen, body: ["slotId": .string(slot)])
            let id = try #require(booking["id"]?.stringValue)

            for (method, path, body) in [
                (HTTPMethod.GET, "/api/v1/appointments/\(id)", nil as [String: JSONValue]?),
                (.POST, "/api/v1/appointments/\(id)/cancel", [:]),
                (.POST, "/api/v1/appointments/\(id)/reschedule", ["slotId": .string(slot)]),
                (.GET, "/api/v1/appointments/\(UUID().uuidString)", nil),
                (.POST, "/api/v1/appointments/nope/cancel", [:]),
            ] {
                let (status, problem) = try await app.json(method, path, token: stranger, body: body)
                #expect(status == .notFound, "\(method) \(path)")
                #expect(problem["type"]?.stringValue == "/problems/appointment-not-found")
            }
            let (_, strangers) = try await app.json(.GET, "/api/v1/appointments", token: stranger)
            #expect(strangers.items.isEmpty)
            let (outsiderView, _) = try await app.json(.GET, "/api/v1/appointments/\(id)", token: outsider)
            #expect(outsiderView == .notFound)
            let (personMarks, _) = try await app.json(.POST, "/api/v1/appointments/\(id)/attendance", token: stranger, body: ["status": "attended"])
            #expect(personMarks == .forbidden)
            let (outsiderMarks, _) = try await app.json(.POST, "/api/v1/appointments/\(id)/attendance", token: outsider, body: ["status": "attended"])
            #expect(outsiderMarks == .notFound)

            // The hall's staff see the day's bookings, with the holder masked.
            let (listed, page) = try await app.json(.GET, "/api/v1/halls/\(hall.id)/bookings?date=\(date)", token: clerk)
            #expect(listed == .ok)
            #expect(page.items.count == 1)
            #expect(page.items.first?["holder"]?["name"]?.stringValue == "李*")
            #expect(page.items.first?["holder"]?["phone"]?.stringValue?.contains("****") == true)
            let (forbidden, _) = try await app.json(.GET, "/api/v1/halls/\(hall.id)/bookings?date=\(date)", token: outsider)
            #expect(forbidden == .forbidden)
            let (person, _) = try await app.json(.GET, "/api/v1/halls/\(hall.id)/bookings?date=\(date)", token: citizen)
            #expect(person == .forbidden)
            let (staffView, _) = try await app.json(.GET, "/api/v1/appointments/\(id)", token: clerk)
            #expect(staffView == .ok)

            // Attendance: not before the day; then once.
            let (early, earlyProblem) = try await app.json(.POST, "/api/v1/appointments/\(id)/attendance", token: clerk, body: ["status": "attended"])
            #expect(early == .conflict)
            #expect(earlyProblem["type"]?.stringValue == "/problems/appointment-not-due")
            let (badStatus, _) = try await app.json(.POST, "/api/v1/appointments/\(id)/attendance", token: clerk, body: ["status": "cancelled"])
            #expect(badStatus == .unprocessableEntity)
            clock.set(date.start(in: .shanghai).addingTimeInterval(8 * 3600))
            let (attended, marked) = try await app.json(.POST, "/api/v1/appointments/\(id)/attendance", token: clerk, body: ["status": "attended"])
            #expect(attended == .ok)
            #expect(marked["status"]?.stringValue == "attended")
            let (twice, _) = try await app.json(.POST, "/api/v1/appointments/\(id)/attendance", token: clerk, body: ["status": "no_show"])
            #expect(twice == .conflict)
            let (late, _) = try await app.json(.POST, "/api/v1/appointments/\(id)/cancel", token: citizen)
            #expect(late == .conflict)
        }
    }
}
