import Catalogue
import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// Hall staff: the day's bookings of a hall (holders masked as in the API) and attendance.
extension AppointmentPages {
    struct StaffRow: Encodable, Sendable {
        var id: String
        var code: String
        var time: String
        var window: String
        var holder: String
        var phone: String
        var service: String
        var status: String
        var statusKey: String
        var booked: Bool
    }

    struct StaffPage: Encodable, Sendable {
        var hallId: String
        var hall: String
        var dateLabel: String
        var caption: String
        var picker: DatePicker
        var previous: String
        var next: String
        var today: String
        var rows: [StaffRow]
        var truncated: String?
        var flash: ApplicationPages.Flash?
    }

    /// GET /staff/halls/{id}/bookings?date= — staff of the hall (its department or a department its windows
    /// serve) and system administrators; others 403, anonymous visitors the login page.
    @Sendable func staffBookings(req: Request) async throws -> Response {
        guard let principal = try pages.requireStaff(req) else { return req.loginRedirect() }
        let service = service(req)
        let hall = try await service.hall(try hallID(req))
        let id = try hall.requireID()
        let today = LocalDate(req.application.clock.now())
        let (date, dateError) = requestedDate(req, fallback: today)
        let bookings = try await service.hallBookings(
            hall: id, date: date, status: nil, principal: principal, paging: Paging(limit: Self.rowLimit))
        let shown = Array(bookings.prefix(Self.rowLimit))
        let views = try await AppointmentViews.bookings(shown, withHolder: true, db: req.db)
        let windows = try await AppointmentViews.windowsByID(Set(shown.compactMap(\.windowID)), db: req.db)
        let serviceIDs = Array(Set(shown.compactMap(\.serviceID)))
        let services =
            serviceIDs.isEmpty ? [] : try await ServiceItem.query(on: req.db).filter(\.$id ~~ serviceIDs).all()
        let names = Dictionary(
            services.compactMap { item in item.id.map { ($0, english(req) ? item.nameEn : item.name) } }
        ) { a, _ in a }
        let number = { (view: BookingView) in view.windowId.flatMap { windows[$0]?.number } ?? "" }
        let ordered = views.sorted { a, b in a.startsAt != b.startsAt ? a.startsAt < b.startsAt : number(a) < number(b)
        }
        let rows = ordered.map { view in
            StaffRow(
                id: view.id.uuidString, code: view.code, time: "\(view.startTime)–\(view.endTime)",
                window: windowLabel(req, view.windowId.flatMap { windows[$0] }), holder: view.holder?.name ?? "—",
                phone: view.holder?.phone ?? "—", service: view.serviceId.flatMap { names[$0] } ?? "—",
                status: bookingStatus(req, view.status), statusKey: view.status.rawValue, booked: view.status == .booked
            )
        }
        let path = "/staff/halls/\(id)/bookings"
        let name = english(req) ? hall.nameEn : hall.name
        let page = StaffPage(
            hallId: id.uuidString, hall: name, dateLabel: dayLabel(req, date),
            caption: String(format: s(req, "staff_bookings_caption_format"), dayLabel(req, date)),
            picker: picker(req, action: path, date: date, days: [], service: nil, error: dateError, bounded: false),
            previous: Self.link(path, date: date.adding(days: -1)), next: Self.link(path, date: date.adding(days: 1)),
            today: Self.link(path, date: today), rows: rows,
            truncated: bookings.count > Self.rowLimit ? String(format: s(req, "slots_truncated"), Self.rowLimit) : nil,
            flash: pages.takeFlash(req))
        return try await req.renderPage(
            "applications/hall-bookings", title: String(format: s(req, "staff_bookings_title_format"), name),
            strings: Self.strings, page: page, status: dateError == nil ? .ok : .unprocessableEntity)
    }

    struct AttendanceForm: Content {
        var status: String?
    }

    /// POST /staff/appointments/{id}/attendance `status=attended|no_show` — staff of the booking's hall
    /// (404 for other staff, 403 for persons). Too early or not booked any more: back with a message.
    @Sendable func attendance(req: Request) async throws -> Response {
        guard let principal = try pages.requireStaff(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        let id = try bookingID(req)
        let service = service(req)
        let booking = try await service.visible(id, principal)
        let status = (try? req.content.decode(AttendanceForm.self))?.status
        do {
            let marked = try await service.markAttendance(id, status: status, principal: principal)
            let key = marked.status == .noShow ? "flash_no_show_format" : "flash_attended_format"
            pages.flash(req, "success", String(format: s(req, key), marked.code))
        } catch let problem as Problem where [.conflict, .unprocessableEntity].contains(problem.status) {
            pages.flash(req, "error", "\(booking.code)：\(message(req, problem))")
        }
        return req.redirect(
            to: Self.link("/staff/halls/\(booking.hallID)/bookings", date: LocalDate(booking.startsAt)),
            redirectType: .normal)
    }
}
