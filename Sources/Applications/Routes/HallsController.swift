import Fluent
import Foundation
import TongbanCore
import Vapor

/// `/api/v1/halls`: service halls, their slots (public), and for hall staff their bookings and slot
/// management.
struct HallsController: RouteCollection {
    struct OpenRequest: Content {
        var from: String?
        var days: Int?
    }

    struct OpenView: Content {
        var from: String
        var days: Int
        var opened: Int
    }

    func boot(routes: any RoutesBuilder) throws {
        let halls = routes.grouped("api", "v1", "halls")
        halls.get(use: list)
        halls.get(":id", use: show)
        halls.get(":id", "slots", use: slots)
        halls.post(":id", "slots", use: createSlot)
        halls.post(":id", "slots", "open", use: openSlots)
        halls.get(":id", "bookings", use: bookings)
    }

    func service(_ req: Request) -> AppointmentService { AppointmentService(app: req.application, db: req.db) }

    func hallID(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw AppointmentService.hallNotFound }
        return id
    }

    /// `?date=YYYY-MM-DD`, required.
    static func date(_ req: Request) throws -> LocalDate {
        guard let date = req.query[String.self, at: "date"].flatMap(LocalDate.init) else {
            throw Problem.validation([FieldError(field: "date", message: "must be a date YYYY-MM-DD")])
        }
        return date
    }

    /// GET /api/v1/halls?region= — anyone. Halls with opening hours and windows, by code.
    @Sendable func list(req: Request) async throws -> CursorPage<HallView> {
        let paging = try Paging(from: req)
        var region: UUID?
        if let raw = req.query[String.self, at: "region"] {
            guard let id = UUID(uuidString: raw) else {
                throw Problem.validation([FieldError(field: "region", message: "must be a region id")])
            }
            region = id
        }
        let halls = try await service(req).halls(region: region, paging: paging)
        return paging.page(try await AppointmentViews.halls(halls, service: service(req)))
    }

    /// GET /api/v1/halls/{id} — anyone. 404 `/problems/hall-not-found`.
    @Sendable func show(req: Request) async throws -> HallView {
        let hall = try await service(req).hall(try hallID(req))
        guard let view = try await AppointmentViews.halls([hall], service: service(req)).first else {
            throw AppointmentService.hallNotFound
        }
        return view
    }

    /// GET /api/v1/halls/{id}/slots?date=&service= — anyone. The day's slots with remaining places;
    /// 422 for a missing or bad date or service.
    @Sendable func slots(req: Request) async throws -> CursorPage<SlotView> {
        let paging = try Paging(from: req)
        let id = try hallID(req)
        let date = try Self.date(req)
        var serviceID: UUID?
        if let raw = req.query[String.self, at: "service"], !raw.isEmpty {
            guard let value = UUID(uuidString: raw) else {
                throw Problem.validation([FieldError(field: "service", message: "must be a service id")])
            }
            serviceID = value
        }
        let slots = try await service(req).slots(hall: id, date: date, serviceID: serviceID, paging: paging)
        return paging.page(try await AppointmentViews.slots(slots, now: req.now, db: req.db))
    }

    /// POST /api/v1/halls/{id}/slots {"windowId"?,"date","startTime","endTime","capacity"} — the hall's
    /// department administrators and system administrators. 201; 403; 404; 409 `/problems/slot-overlaps`; 422.
    @Sendable func createSlot(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let id = try hallID(req)
        let input = try req.content.decode(SlotInput.self)
        let slot = try await service(req).createSlot(hall: id, input, principal: principal)
        guard let view = try await AppointmentViews.slots([slot], now: req.now, db: req.db).first else {
            throw Problem(.internalServerError)
        }
        return try await view.encodeResponse(status: .created, for: req)
    }

    /// POST /api/v1/halls/{id}/slots/open {"from"?,"days"?} — the hall's administrators. Opens 30-minute
    /// slots from the opening hours on the next `days` (default 10) working days from `from` (default today).
    @Sendable func openSlots(req: Request) async throws -> OpenView {
        let principal = try req.requirePrincipal()
        let id = try hallID(req)
        let body = try req.content.decode(OpenRequest.self)
        let service = service(req)
        let hall = try await service.hall(id)
        guard service.canManage(hall, principal) else { throw Problem.forbidden }
        let today = LocalDate(req.now)
        var errors = FieldErrors()
        let from = body.from.map { LocalDate($0) } ?? today
        if body.from != nil && from == nil { errors.add("from", "must be a date YYYY-MM-DD") }
        if let from, from < today { errors.add("from", "must not be in the past") }
        let days = body.days ?? AppointmentsDemo.workingDays
        errors.check(
            (1...AppointmentService.maxOpenDays).contains(days), "days",
            "must be from 1 to \(AppointmentService.maxOpenDays)")
        try errors.throwIfAny()
        guard let from else { throw Problem.validation([]) }
        let opened = try await service.openSlots(hall: id, from: from, days: days)
        return OpenView(from: from.description, days: days, opened: opened)
    }

    /// GET /api/v1/halls/{id}/bookings?date=&status= — staff of the hall (its department or a department
    /// its windows serve) and system administrators; holders' names and phones masked. 403 for others.
    @Sendable func bookings(req: Request) async throws -> CursorPage<BookingView> {
        let principal = try req.requirePrincipal()
        let paging = try Paging(from: req)
        let id = try hallID(req)
        let date = try Self.date(req)
        var status: BookingStatus?
        if let raw = req.query[String.self, at: "status"] {
            guard let value = BookingStatus(rawValue: raw) else {
                throw Problem.validation([
                    FieldError(field: "status", message: "must be booked, cancelled, attended or no_show")
                ])
            }
            status = value
        }
        let rows = try await service(req).hallBookings(
            hall: id, date: date, status: status, principal: principal, paging: paging)
        return paging.page(try await AppointmentViews.bookings(rows, withHolder: true, db: req.db))
    }
}
