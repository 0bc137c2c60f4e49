import Catalogue
import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// A person's appointments: the list with cancel, and rescheduling to another slot of the same hall.
extension AppointmentPages {
    struct BookingRow: Encodable, Sendable {
        var id: String
        var code: String
        var hall: String
        var hallId: String
        var date: String
        var time: String
        var window: String
        var service: String?
        var status: String
        var statusKey: String
        /// Booked and not yet started: can be cancelled or moved.
        var changeable: Bool
    }

    struct MinePage: Encodable, Sendable {
        var items: [BookingRow]
        var flash: ApplicationPages.Flash?
    }

    /// Rows for bookings, with hall, window and service names in the visitor's language.
    func bookingRows(_ req: Request, _ bookings: [Booking]) async throws -> [BookingRow] {
        let views = try await AppointmentViews.bookings(bookings, db: req.db)
        let windows = try await AppointmentViews.windowsByID(Set(bookings.compactMap(\.windowID)), db: req.db)
        let serviceIDs = Array(Set(bookings.compactMap(\.serviceID)))
        let services =
            serviceIDs.isEmpty ? [] : try await ServiceItem.query(on: req.db).filter(\.$id ~~ serviceIDs).all()
        let names = Dictionary(
            services.compactMap { item in item.id.map { ($0, english(req) ? item.nameEn : item.name) } }
        ) { a, _ in a }
        let now = req.application.clock.now()
        return views.map { view in
            let date = LocalDate(view.date)
            return BookingRow(
                id: view.id.uuidString, code: view.code, hall: english(req) ? view.hallNameEn : view.hallName,
                hallId: view.hallId.uuidString, date: date.map { dayLabel(req, $0) } ?? view.date,
                time: "\(view.startTime)–\(view.endTime)",
                window: windowLabel(req, view.windowId.flatMap { windows[$0] }),
                service: view.serviceId.flatMap { names[$0] }, status: bookingStatus(req, view.status),
                statusKey: view.status.rawValue, changeable: view.status == .booked && view.startsAt > now)
        }
    }

    /// GET /me/appointments — signed in: my bookings, latest appointment first.
    @Sendable func mine(req: Request) async throws -> Response {
        guard let principal = pages.principal(req) else { return req.loginRedirect() }
        let rows = try await service(req).mine(principal, status: nil, paging: Paging(limit: Self.rowLimit))
        let page = MinePage(
            items: try await bookingRows(req, Array(rows.prefix(Self.rowLimit))), flash: pages.takeFlash(req))
        return try await req.renderPage(
            "applications/appointments", titleKey: "appointments_title", strings: Self.strings, page: page)
    }

    struct CancelForm: Content {
        var reason: String?
    }

    /// POST /me/appointments/{id}/cancel `reason`? — the holder, before the appointment starts.
    @Sendable func cancel(req: Request) async throws -> Response {
        guard let principal = pages.principal(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        let id = try bookingID(req)
        let reason = (try? req.content.decode(CancelForm.self))?.reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            _ = try await service(req).cancel(id, reason: reason?.isEmpty == false ? reason : nil, principal: principal)
            pages.flash(req, "success", s(req, "flash_cancelled"))
        } catch let problem as Problem where [.conflict, .unprocessableEntity].contains(problem.status) {
            pages.flash(req, "error", message(req, problem))
        }
        return req.redirect(to: "/me/appointments", redirectType: .normal)
    }

    struct ReschedulePage: Encodable, Sendable {
        var id: String
        var current: BookingRow
        var picker: DatePicker
        var slots: SlotTable
        var flash: ApplicationPages.Flash?
    }

    /// GET /me/appointments/{id}/reschedule?date= — the holder of a booking not yet started: the hall's
    /// slots on that day (only windows that handle the booking's service), each with a button to move there.
    @Sendable func reschedulePage(req: Request) async throws -> Response {
        guard let principal = pages.principal(req) else { return req.loginRedirect() }
        let service = service(req)
        let booking = try await service.own(try bookingID(req), principal)
        let id = try booking.requireID()
        guard booking.status == .booked, booking.startsAt > req.application.clock.now() else {
            pages.flash(req, "error", s(req, "flash_not_changeable"))
            return req.redirect(to: "/me/appointments", redirectType: .normal)
        }
        let hall = try await service.hall(booking.hallID)
        let days = upcomingDays(req, hall: hall)
        let (date, dateError) = requestedDate(req, fallback: LocalDate(booking.startsAt))
        let slots: [AppointmentSlot]
        do {
            slots = try await service.slots(
                hall: booking.hallID, date: date, serviceID: booking.serviceID, paging: Paging(limit: Self.rowLimit))
        } catch let problem as Problem where problem.status == .unprocessableEntity {
            // The booking's service is no longer published: every window of the hall.
            slots = try await service.slots(
                hall: booking.hallID, date: date, serviceID: nil, paging: Paging(limit: Self.rowLimit))
        }
        let path = "/me/appointments/\(id)/reschedule"
        guard let current = try await bookingRows(req, [booking]).first else {
            throw AppointmentService.bookingNotFound
        }
        let table = SlotTable(
            caption: String(format: s(req, "slots_caption_format"), dayLabel(req, date)),
            heading: String(format: s(req, "slots_title_format"), dayLabel(req, date)),
            rows: try await slotRows(req, slots, current: booking.slotID), mode: "move", action: path,
            button: s(req, "reschedule_to"), loginHref: "", serviceId: nil, date: date.description,
            truncated: slots.count > Self.rowLimit ? String(format: s(req, "slots_truncated"), Self.rowLimit) : nil)
        let page = ReschedulePage(
            id: id.uuidString, current: current,
            picker: picker(req, action: path, date: date, days: days, service: nil, error: dateError), slots: table,
            flash: pages.takeFlash(req))
        return try await req.renderPage(
            "applications/reschedule", title: String(format: s(req, "reschedule_title_format"), booking.code),
            strings: Self.strings, page: page, status: dateError == nil ? .ok : .unprocessableEntity)
    }

    struct RescheduleForm: Content {
        var slotId: String?
        var date: String?
    }

    /// POST /me/appointments/{id}/reschedule `slotId` — the holder. Atomic in the service: a full new slot
    /// leaves the old booking as it was and comes back to the slot list with a message.
    @Sendable func reschedule(req: Request) async throws -> Response {
        guard let principal = pages.principal(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        let id = try bookingID(req)
        let form = (try? req.content.decode(RescheduleForm.self)) ?? RescheduleForm()
        let service = service(req)
        let booking = try await service.own(id, principal)
        do {
            let moved = try await service.reschedule(id, slotID: form.slotId, principal: principal)
            guard let view = try await AppointmentViews.bookings([moved], db: req.db).first else {
                throw AppointmentService.bookingNotFound
            }
            pages.flash(
                req, "success",
                String(
                    format: s(req, "flash_rescheduled_format"), view.date, "\(view.startTime)–\(view.endTime)",
                    view.code))
            return req.redirect(to: "/me/appointments", redirectType: .normal)
        } catch let problem as Problem where [.conflict, .unprocessableEntity].contains(problem.status) {
            pages.flash(req, "error", message(req, problem))
            let over = ["/problems/appointment-not-active", "/problems/appointment-started"].contains(problem.type)
            let date = form.date.flatMap { LocalDate($0) } ?? LocalDate(booking.startsAt)
            return req.redirect(
                to: over ? "/me/appointments" : Self.link("/me/appointments/\(id)/reschedule", date: date),
                redirectType: .normal)
        }
    }
}
