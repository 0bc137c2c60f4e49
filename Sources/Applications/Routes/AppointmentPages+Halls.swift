import Catalogue
import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// The public hall pages and booking from them.
extension AppointmentPages {
    struct HallCard: Encodable, Sendable {
        var id: String
        var name: String
        var address: String
        var hours: String
        var windows: [String]
        var staffLink: Bool
    }

    struct HallsPage: Encodable, Sendable {
        var halls: [HallCard]
        var person: Bool
    }

    /// GET /halls — anyone: every hall with its address, opening hours and windows.
    @Sendable func halls(req: Request) async throws -> Response {
        let service = service(req)
        let principal = pages.principal(req)
        let halls = Array(
            try await service.halls(region: nil, paging: Paging(limit: Self.rowLimit)).prefix(Self.rowLimit))
        let windows = Dictionary(grouping: try await service.windows(halls: halls.compactMap(\.id)), by: \.hallID)
        var cards: [HallCard] = []
        for hall in halls {
            let id = try hall.requireID()
            cards.append(
                HallCard(
                    id: id.uuidString, name: english(req) ? hall.nameEn : hall.name,
                    address: english(req) ? hall.addressEn : hall.address, hours: hours(req, hall),
                    windows: (windows[id] ?? []).map { windowLabel(req, $0) },
                    staffLink: try await canSee(req, hall, principal)))
        }
        return try await req.renderPage(
            "applications/halls", titleKey: "halls_title", strings: Self.strings,
            page: HallsPage(halls: cards, person: principal?.kind == .person))
    }

    struct ServiceFilter: Encodable, Sendable {
        var message: String
        var allHref: String
    }

    struct HallPage: Encodable, Sendable {
        var id: String
        var name: String
        var address: String
        var hours: String
        var windows: [String]
        var picker: DatePicker
        var slots: SlotTable
        var filter: ServiceFilter?
        var serviceError: String?
        var hint: String?
        var staffLink: String?
        var flash: ApplicationPages.Flash?
    }

    /// GET /halls/{id}?date=YYYY-MM-DD&service= — anyone: the day's slots with their remaining places; a
    /// signed-in person books from here, anyone else is offered the login page. 404 for an unknown hall.
    @Sendable func hall(req: Request) async throws -> Response {
        let service = service(req)
        let hall = try await service.hall(try hallID(req))
        let id = try hall.requireID()
        let principal = pages.principal(req)
        let days = upcomingDays(req, hall: hall)
        let (date, dateError) = requestedDate(req, fallback: days.first ?? LocalDate(req.application.clock.now()))
        var serviceID: UUID?
        var filter: ServiceFilter?
        var serviceError: String?
        if let raw = req.query[String.self, at: "service"], !raw.isEmpty {
            if let candidate = UUID(uuidString: raw),
                let item = try? await CatalogueService(db: req.db, clock: req.application.clock).service(
                    candidate, viewer: nil)
            {
                serviceID = candidate
                filter = ServiceFilter(
                    message: String(format: s(req, "service_filter_format"), english(req) ? item.nameEn : item.name),
                    allHref: Self.link("/halls/\(id)", date: date))
            } else {
                serviceError = s(req, "service_invalid")
            }
        }
        let slots = try await service.slots(
            hall: id, date: date, serviceID: serviceID, paging: Paging(limit: Self.rowLimit))
        let here = Self.link("/halls/\(id)", date: date, service: serviceID)
        let mode: String
        var hint: String?
        switch principal {
        case .none:
            mode = "login"
            hint = s(req, "book_login_hint")
        case .some(let someone) where someone.kind == .person:
            mode = "book"
        default:
            mode = "none"
            hint = s(req, "book_staff_hint")
        }
        let isHallStaff = try await canSee(req, hall, principal)
        let table = SlotTable(
            caption: String(format: s(req, "slots_caption_format"), dayLabel(req, date)),
            heading: String(format: s(req, "slots_title_format"), dayLabel(req, date)),
            rows: try await slotRows(req, slots), mode: mode, action: "/halls/\(id)/book", button: s(req, "book"),
            loginHref: Self.loginLink(here), serviceId: serviceID?.uuidString, date: date.description,
            truncated: slots.count > Self.rowLimit ? String(format: s(req, "slots_truncated"), Self.rowLimit) : nil)
        let windows = try await service.windows(halls: [id])
        let page = HallPage(
            id: id.uuidString, name: english(req) ? hall.nameEn : hall.name,
            address: english(req) ? hall.addressEn : hall.address, hours: hours(req, hall),
            windows: windows.map { windowLabel(req, $0) },
            picker: picker(req, action: "/halls/\(id)", date: date, days: days, service: serviceID, error: dateError),
            slots: table, filter: filter, serviceError: serviceError, hint: hint,
            staffLink: isHallStaff ? Self.link("/staff/halls/\(id)/bookings", date: date) : nil,
            flash: pages.takeFlash(req))
        return try await req.renderPage(
            "applications/hall", title: page.name, strings: Self.strings, page: page,
            status: dateError == nil ? .ok : .unprocessableEntity)
    }

    struct BookForm: Content {
        var slotId: String?
        var serviceId: String?
        var date: String?
    }

    /// POST /halls/{id}/book `slotId`, `serviceId`? — a signed-in person. Books through
    /// ``AppointmentService/book(slotID:serviceID:applicationID:principal:)`` and goes to `/me/appointments`
    /// with the booking code; a full slot, an overlap or a bad slot come back to the hall page with a message.
    @Sendable func book(req: Request) async throws -> Response {
        let id = try hallID(req)
        guard let principal = pages.principal(req) else { return req.redirect(to: Self.loginLink("/halls/\(id)")) }
        try req.verifyCSRF()
        let service = service(req)
        let hall = try await service.hall(id)
        let form = (try? req.content.decode(BookForm.self)) ?? BookForm()
        let back = req.redirect(
            to: Self.link(
                "/halls/\(id)", date: form.date.flatMap { LocalDate($0) },
                service: form.serviceId.flatMap { UUID(uuidString: $0) }),
            redirectType: .normal)
        if let raw = form.slotId, let slotID = UUID(uuidString: raw),
            let slot = try await AppointmentSlot.find(slotID, on: req.db),
            slot.hallID != id
        {
            pages.flash(req, "error", s(req, "flash_slot_elsewhere"))
            return back
        }
        do {
            let booking = try await service.book(
                slotID: form.slotId, serviceID: form.serviceId, applicationID: nil, principal: principal)
            guard let view = try await AppointmentViews.bookings([booking], db: req.db).first else {
                throw AppointmentService.bookingNotFound
            }
            pages.flash(
                req, "success",
                String(
                    format: s(req, "flash_booked_format"), view.date, "\(view.startTime)–\(view.endTime)",
                    english(req) ? hall.nameEn : hall.name, view.code))
            return req.redirect(to: "/me/appointments", redirectType: .normal)
        } catch let problem as Problem where [.conflict, .unprocessableEntity, .forbidden].contains(problem.status) {
            pages.flash(req, "error", message(req, problem))
            return back
        }
    }
}
