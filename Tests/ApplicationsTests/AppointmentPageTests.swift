import Applications
import Fluent
import Foundation
import Identity
import TestSupport
import Testing
import TongbanCore
import Vapor
import VaporTesting

extension PageBrowser {
    /// Follows a 303 from the last post and returns the page it leads to.
    @discardableResult
    func follow(_ res: TestingHTTPResponse) async throws -> TestingHTTPResponse {
        #expect(res.status == .seeOther, "expected a redirect, got \(res.status)")
        let location = try #require(res.headers.first(name: .location))
        return try await get(location)
    }

    /// The text of the one-time message on the last page (`<div class="flash …">…</div>`), if any.
    var flash: String? {
        guard let start = lastBody.range(of: #"<div class="flash "#) else { return nil }
        let rest = lastBody[start.lowerBound...]
        guard let end = rest.range(of: "</div>") else { return nil }
        return String(rest[..<end.upperBound])
    }
}

extension Application {
    /// The bookings of a demo account, newest first.
    func bookings(of username: String) async throws -> [Booking] {
        let user = try #require(try await Identity.User.query(on: db).filter(\.$username == username).first())
        return try await Booking.query(on: db).filter(\.$userID == user.requireID()).sort(\.$createdAt, .descending)
            .all()
    }
}

@Suite("Appointment pages: halls, booking, my appointments, hall staff")
struct AppointmentPageTests {
    static func encoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    @Test func hallsAndHallPage_showSlots_andOfferLoginOrBooking() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let date = dayAfter(3)
            let slot = try await app.makeSlot(
                hall: hall.id, window: hall.windows["01"], date: date, start: "18:00", end: "18:30", capacity: 2,
                admin: admin)
            let visitor = PageBrowser(app)
            let list = try await visitor.get("/halls")
            #expect(list.status == .ok)
            #expect(visitor.lastBody.contains("济南市政务服务中心"))
            #expect(visitor.lastBody.contains("济南市历下区龙鼎大道 1 号"))
            #expect(visitor.lastBody.contains("09:00–12:00、13:30–17:00"))
            #expect(visitor.lastBody.contains("01 号窗口 企业开办"))
            #expect(visitor.lastBody.contains(#"href="/halls/\#(hall.id)""#))
            #expect(visitor.lastBody.contains(#"href="/halls">办事预约</a>"#))
            #expect(!visitor.lastBody.contains("/staff/halls/"))

            // Signed out: the day's slots with places left, and a way to sign in that comes back here.
            let page = try await visitor.get("/halls/\(hall.id)?date=\(date)")
            #expect(page.status == .ok)
            #expect(visitor.lastBody.contains("18:00–18:30"))
            #expect(visitor.lastBody.contains("剩余 2 个"))
            #expect(visitor.lastBody.contains(#"<label for="date-input">"#))
            #expect(visitor.lastBody.contains(#"value="\#(date)""#))
            #expect(visitor.lastBody.contains("/login?next=" + Self.encoded("/halls/\(hall.id)?date=\(date)")))
            #expect(!visitor.lastBody.contains(#"action="/halls/\#(hall.id)/book""#))
            try await visitor.get("/halls/\(hall.id)?date=\(date)&lang=en")
            #expect(visitor.lastBody.contains("Sign in to book"))
            #expect(visitor.lastBody.contains("Window 01, Starting a business"))
            #expect(visitor.lastBody.contains("2 left"))
            // A malformed date is a message on the page, not an error page; an unknown hall is 404.
            let bad = try await visitor.get("/halls/\(hall.id)?date=2026-13-45&lang=zh-CN")
            #expect(bad.status == .unprocessableEntity)
            #expect(visitor.lastBody.contains("日期格式不正确"))
            #expect(try await visitor.get("/halls/\(UUID().uuidString)").status == .notFound)

            // Signed in as a person: a book button per available slot.
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            try await citizen.get("/halls/\(hall.id)?date=\(date)")
            #expect(citizen.lastBody.contains(#"action="/halls/\#(hall.id)/book""#))
            #expect(citizen.lastBody.contains(#"name="slotId" value="\#(slot)""#))
            #expect(!citizen.lastBody.contains("/login?next="))
        }
    }

    @Test func serviceFilter_keepsTheWindowsThatHandleIt_andTheBookingTakesTheService() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let serviceID = try await app.demoServiceID()  // 济南市市场监督管理局: window 01
            let date = dayAfter(4)
            let market = try await app.makeSlot(
                hall: hall.id, window: hall.windows["01"], date: date, start: "18:00", end: "18:30", capacity: 1,
                admin: admin)
            let health = try await app.makeSlot(
                hall: hall.id, window: hall.windows["02"], date: date, start: "18:00", end: "18:30", capacity: 1,
                admin: admin)
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            try await citizen.get("/halls/\(hall.id)?date=\(date)&service=\(serviceID)")
            #expect(citizen.lastBody.contains(market))
            #expect(!citizen.lastBody.contains(health))
            #expect(citizen.lastBody.contains("只显示办理"))
            #expect(citizen.lastBody.contains(#"name="serviceId" value="\#(serviceID)""#))
            let booked = try await citizen.post(
                "/halls/\(hall.id)/book", [("slotId", market), ("serviceId", serviceID), ("date", date.description)])
            #expect(booked.headers.first(name: .location) == "/me/appointments")
            let booking = try #require(try await app.bookings(of: "demo-citizen").first)
            #expect(booking.serviceID?.uuidString == serviceID)
            // An unknown service is a message, and every window is shown.
            try await citizen.get("/halls/\(hall.id)?date=\(date)&service=\(UUID().uuidString)")
            #expect(citizen.lastBody.contains("所选事项不存在或未发布"))
            #expect(citizen.lastBody.contains(health))
        }
    }

    @Test func book_list_reschedule_cancel() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let date = dayAfter(3)
            let first = try await app.makeSlot(
                hall: hall.id, window: hall.windows["01"], date: date, start: "18:00", end: "18:30", capacity: 2,
                admin: admin)
            let second = try await app.makeSlot(
                hall: hall.id, window: hall.windows["01"], date: date, start: "18:30", end: "19:00", capacity: 2,
                admin: admin)
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            try await citizen.get("/halls/\(hall.id)?date=\(date)")
            let booked = try await citizen.post(
                "/halls/\(hall.id)/book", [("slotId", first), ("date", date.description)])
            #expect(booked.headers.first(name: .location) == "/me/appointments")
            let booking = try #require(try await app.bookings(of: "demo-citizen").first)
            let id = try booking.requireID().uuidString
            #expect(try await app.slotRow(first).booked == 1)
            let list = try await citizen.follow(booked)
            #expect(list.status == .ok)
            let flash = try #require(citizen.flash)
            #expect(flash.contains("flash success") && flash.contains("预约成功") && flash.contains(booking.code))
            #expect(citizen.lastBody.contains(#"<span class="status">已预约</span>"#))
            #expect(citizen.lastBody.contains("18:00–18:30"))
            #expect(citizen.lastBody.contains("/me/appointments/\(id)/reschedule"))
            #expect(citizen.lastBody.contains(#"action="/me/appointments/\#(id)/cancel""#))
            // The flash is shown once.
            try await citizen.get("/me/appointments")
            #expect(citizen.flash == nil)

            // Reschedule: the current slot is marked, the others have a button.
            let reschedulePage = try await citizen.get("/me/appointments/\(id)/reschedule")
            #expect(reschedulePage.status == .ok)
            #expect(citizen.lastBody.contains(#"<span class="status">当前预约</span>"#))
            #expect(citizen.lastBody.contains(#"name="slotId" value="\#(second)""#))
            #expect(!citizen.lastBody.contains(#"name="slotId" value="\#(first)""#))
            let moved = try await citizen.post(
                "/me/appointments/\(id)/reschedule", [("slotId", second), ("date", date.description)])
            #expect(moved.headers.first(name: .location) == "/me/appointments")
            try await citizen.follow(moved)
            #expect(citizen.flash?.contains("已改约到 \(date) 18:30–19:00") == true)
            #expect(citizen.flash?.contains(booking.code) == true)
            #expect(try await app.slotRow(first).booked == 0)
            #expect(try await app.slotRow(second).booked == 1)
            #expect(try await Booking.find(booking.requireID(), on: app.db)?.slotID.uuidString == second)
            // Moving to the slot it already has is refused with a message, and the booking stays.
            let same = try await citizen.post(
                "/me/appointments/\(id)/reschedule", [("slotId", second), ("date", date.description)])
            #expect(same.headers.first(name: .location) == "/me/appointments/\(id)/reschedule?date=\(date)")
            try await citizen.follow(same)
            #expect(citizen.flash?.contains("flash error") == true)

            // Someone else cannot touch it.
            let stranger = PageBrowser(app)
            try await stranger.login("demo-enterprise")
            try await stranger.get("/me/appointments")
            #expect(!stranger.lastBody.contains(booking.code))
            #expect(try await stranger.get("/me/appointments/\(id)/reschedule").status == .notFound)
            #expect(try await stranger.post("/me/appointments/\(id)/cancel", []).status == .notFound)

            // Cancel with a reason: the place is free again; the booking can no longer be changed.
            let cancelled = try await citizen.post("/me/appointments/\(id)/cancel", [("reason", "临时有事")])
            try await citizen.follow(cancelled)
            #expect(citizen.flash?.contains("预约已取消") == true)
            #expect(citizen.lastBody.contains(#"<span class="status">已取消</span>"#))
            #expect(!citizen.lastBody.contains("/me/appointments/\(id)/reschedule"))
            #expect(try await Booking.find(booking.requireID(), on: app.db)?.status == .cancelled)
            #expect(try await app.slotRow(second).booked == 0)
            let again = try await citizen.post("/me/appointments/\(id)/cancel", [])
            try await citizen.follow(again)
            #expect(citizen.flash?.contains("该预约已取消或已办理") == true)
            let late = try await citizen.get("/me/appointments/\(id)/reschedule")
            #expect(late.headers.first(name: .location) == "/me/appointments")
            // English.
            try await citizen.get("/me/appointments?lang=en")
            #expect(citizen.lastBody.contains("My appointments"))
            #expect(citizen.lastBody.contains(#"<span class="status">Cancelled</span>"#))
        }
    }

    @Test func fullSlot_overlap_andStaffBooking_comeBackWithAMessage() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let date = dayAfter(5)
            let full = try await app.makeSlot(
                hall: hall.id, window: hall.windows["01"], date: date, start: "18:00", end: "18:30", capacity: 1,
                admin: admin)
            let other = try await app.makeSlot(
                hall: hall.id, window: hall.windows["02"], date: date, start: "18:00", end: "18:30", capacity: 1,
                admin: admin)
            let overlapping = try await app.makeSlot(
                hall: hall.id, window: hall.windows["03"], date: date, start: "18:15", end: "18:45", capacity: 1,
                admin: admin)
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            try await citizen.get("/halls/\(hall.id)?date=\(date)")
            #expect(citizen.lastBody.contains(#"name="slotId" value="\#(full)""#))
            // Someone else takes the last place meanwhile.
            let (status, _) = try await app.json(
                .POST, "/api/v1/appointments", token: try await app.newPerson(), body: ["slotId": .string(full)])
            #expect(status == .created)
            let refused = try await citizen.post(
                "/halls/\(hall.id)/book", [("slotId", full), ("date", date.description)])
            #expect(refused.headers.first(name: .location) == "/halls/\(hall.id)?date=\(date)")
            let back = try await citizen.follow(refused)
            #expect(back.status == .ok)
            #expect(citizen.flash?.contains("flash error") == true)
            #expect(citizen.flash?.contains("该时段已约满") == true)
            #expect(citizen.lastBody.contains(#"<span class="status">已约满</span>"#))
            #expect(!citizen.lastBody.contains(#"name="slotId" value="\#(full)""#))
            #expect(try await app.bookings(of: "demo-citizen").isEmpty)
            #expect(try await app.slotRow(full).booked == 1)

            // Two appointments at the same time: the second is refused.
            try await citizen.post("/halls/\(hall.id)/book", [("slotId", other), ("date", date.description)])
            let overlap = try await citizen.post(
                "/halls/\(hall.id)/book", [("slotId", overlapping), ("date", date.description)])
            try await citizen.follow(overlap)
            #expect(citizen.flash?.contains("您在这个时间已有其他预约") == true)
            #expect(try await app.bookings(of: "demo-citizen").count == 1)
            // A slot that does not exist, or of another hall.
            let unknown = try await citizen.post("/halls/\(hall.id)/book", [("slotId", UUID().uuidString)])
            try await citizen.follow(unknown)
            #expect(citizen.flash?.contains("所选时段无效或已过时") == true)
            let lixia = try await app.demoHall("370102-ZWFW")
            let elsewhere = try await app.makeSlot(
                hall: lixia.id, date: date, start: "19:00", end: "19:30", capacity: 1, admin: admin)
            let wrongHall = try await citizen.post("/halls/\(hall.id)/book", [("slotId", elsewhere)])
            try await citizen.follow(wrongHall)
            #expect(citizen.flash?.contains("该时段不属于这个大厅") == true)
            #expect(try await app.slotRow(elsewhere).booked == 0)

            // Staff see no book button and cannot book by posting.
            let clerk = PageBrowser(app)
            try await clerk.login("demo-clerk")
            try await clerk.get("/halls/\(hall.id)?date=\(date)")
            #expect(clerk.lastBody.contains("工作人员账号不能预约"))
            #expect(!clerk.lastBody.contains(#"name="slotId""#))
            #expect(clerk.lastBody.contains("/staff/halls/\(hall.id)/bookings?date=\(date)"))
            let staffPost = try await clerk.post("/halls/\(hall.id)/book", [("slotId", overlapping)])
            try await clerk.follow(staffPost)
            #expect(clerk.flash?.contains("工作人员账号不能预约") == true)
            #expect(try await app.slotRow(overlapping).booked == 0)
            // Signed out, posting leads to the login page.
            let anonymous = PageBrowser(app)
            let login = try await anonymous.post("/halls/\(hall.id)/book", [("slotId", overlapping)])
            #expect(login.status == .seeOther)
            #expect(login.headers.first(name: .location) == "/login?next=" + Self.encoded("/halls/\(hall.id)"))
        }
    }

    @Test func formsWithoutTheCSRFToken_are403_andChangeNothing() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let date = dayAfter(3)
            let slot = try await app.makeSlot(
                hall: hall.id, date: date, start: "18:00", end: "18:30", capacity: 2, admin: admin)
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            try await citizen.get("/halls/\(hall.id)?date=\(date)")
            func forged(_ path: String, _ body: String) async throws -> HTTPStatus {
                try await app.testing().sendRequest(
                    .POST, path,
                    headers: ["Cookie": citizen.cookieHeader, "Content-Type": "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: body)
                ).status
            }
            #expect(try await forged("/halls/\(hall.id)/book", "slotId=\(slot)") == .forbidden)
            #expect(try await forged("/halls/\(hall.id)/book", "slotId=\(slot)&_csrf=wrong") == .forbidden)
            #expect(try await app.bookings(of: "demo-citizen").isEmpty)
            try await citizen.post("/halls/\(hall.id)/book", [("slotId", slot)])
            let booking = try #require(try await app.bookings(of: "demo-citizen").first)
            let id = try booking.requireID().uuidString
            #expect(try await forged("/me/appointments/\(id)/cancel", "reason=x") == .forbidden)
            #expect(try await forged("/me/appointments/\(id)/reschedule", "slotId=\(slot)") == .forbidden)
            #expect(try await Booking.find(booking.requireID(), on: app.db)?.status == .booked)
            let clerk = PageBrowser(app)
            try await clerk.login("demo-clerk")
            let staffForged = try await app.testing().sendRequest(
                .POST, "/staff/appointments/\(id)/attendance",
                headers: ["Cookie": clerk.cookieHeader, "Content-Type": "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "status=attended"))
            #expect(staffForged.status == .forbidden)
            #expect(try await Booking.find(booking.requireID(), on: app.db)?.status == .booked)
        }
    }

    @Test func staffPage_listsMaskedBookings_andMarksAttendance_personsCannotOpenIt() async throws {
        try await withTestApp(demo: true) { app in
            let clock = MovableClock()
            app.clock = clock.clock
            let admin = try await app.login("demo-admin")
            let hall = try await app.demoHall()
            let date = dayAfter(2)
            let slot = try await app.makeSlot(
                hall: hall.id, date: date, start: "09:00", end: "09:30", capacity: 2, admin: admin)
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            try await citizen.get("/halls/\(hall.id)?date=\(date)")
            try await citizen.post("/halls/\(hall.id)/book", [("slotId", slot), ("date", date.description)])
            let booking = try #require(try await app.bookings(of: "demo-citizen").first)
            let id = try booking.requireID().uuidString

            let clerk = PageBrowser(app)
            try await clerk.login("demo-clerk")
            try await clerk.get("/halls")
            #expect(clerk.lastBody.contains("/staff/halls/\(hall.id)/bookings"))
            let page = try await clerk.get("/staff/halls/\(hall.id)/bookings?date=\(date)")
            #expect(page.status == .ok)
            #expect(clerk.lastBody.contains(booking.code))
            #expect(clerk.lastBody.contains("李*"))
            #expect(!clerk.lastBody.contains("李明"))
            #expect(clerk.lastBody.contains("****"))
            #expect(clerk.lastBody.contains(#"<span class="status">已预约</span>"#))
            #expect(clerk.lastBody.contains(#"action="/staff/appointments/\#(id)/attendance""#))
            // Another day has none.
            try await clerk.get("/staff/halls/\(hall.id)/bookings?date=\(date.adding(days: 1))")
            #expect(clerk.lastBody.contains("当天没有预约"))

            // Too early: a message, nothing recorded.
            try await clerk.get("/staff/halls/\(hall.id)/bookings?date=\(date)")
            let early = try await clerk.post("/staff/appointments/\(id)/attendance", [("status", "attended")])
            #expect(early.headers.first(name: .location) == "/staff/halls/\(hall.id)/bookings?date=\(date)")
            try await clerk.follow(early)
            #expect(clerk.flash?.contains("还未到可以登记的时间") == true)
            #expect(try await Booking.find(booking.requireID(), on: app.db)?.status == .booked)
            // On the day: attended, once.
            clock.set(date.start(in: .shanghai).addingTimeInterval(9 * 3600 + 5 * 60))
            let marked = try await clerk.post("/staff/appointments/\(id)/attendance", [("status", "attended")])
            try await clerk.follow(marked)
            #expect(clerk.flash?.contains("已标记到场") == true)
            #expect(clerk.lastBody.contains(#"<span class="status">已到场</span>"#))
            #expect(!clerk.lastBody.contains(#"action="/staff/appointments/\#(id)/attendance""#))
            #expect(try await Booking.find(booking.requireID(), on: app.db)?.status == .attended)
            let twice = try await clerk.post("/staff/appointments/\(id)/attendance", [("status", "no_show")])
            try await clerk.follow(twice)
            #expect(clerk.flash?.contains("flash error") == true)
            #expect(try await Booking.find(booking.requireID(), on: app.db)?.status == .attended)

            // A person cannot open the staff page nor mark attendance; staff of other departments neither.
            #expect(try await citizen.get("/staff/halls/\(hall.id)/bookings?date=\(date)").status == .forbidden)
            #expect(
                try await citizen.post("/staff/appointments/\(id)/attendance", [("status", "no_show")]).status
                    == .forbidden)
            let outsider = PageBrowser(app)
            try await outsider.login("demo-approver-1")
            #expect(try await outsider.get("/staff/halls/\(hall.id)/bookings?date=\(date)").status == .forbidden)
            try await outsider.get("/halls")
            #expect(
                try await outsider.post("/staff/appointments/\(id)/attendance", [("status", "no_show")]).status
                    == .notFound)
            let anonymous = try await PageBrowser(app).get("/staff/halls/\(hall.id)/bookings")
            #expect(anonymous.status == .seeOther)
            #expect(anonymous.headers.first(name: .location)?.hasPrefix("/login?next=") == true)
        }
    }
}
