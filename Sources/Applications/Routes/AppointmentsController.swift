import Fluent
import Foundation
import TongbanCore
import Vapor

/// `/api/v1/appointments`: a person's bookings at service halls, and attendance for hall staff.
struct AppointmentsController: RouteCollection {
    struct BookRequest: Content {
        var slotId: String?
        var serviceId: String?
        var applicationId: String?
    }

    struct RescheduleRequest: Content {
        var slotId: String?
    }

    struct CancelRequest: Content {
        var reason: String?
    }

    struct AttendanceRequest: Content {
        var status: String?
    }

    func boot(routes: any RoutesBuilder) throws {
        let appointments = routes.grouped("api", "v1", "appointments")
        appointments.post(use: book)
        appointments.get(use: mine)
        appointments.get(":id", use: show)
        appointments.post(":id", "cancel", use: cancel)
        appointments.post(":id", "reschedule", use: reschedule)
        appointments.post(":id", "attendance", use: attendance)
    }

    func service(_ req: Request) -> AppointmentService { AppointmentService(app: req.application, db: req.db) }

    func id(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw AppointmentService.bookingNotFound }
        return id
    }

    func view(_ booking: Booking, _ req: Request, withHolder: Bool = false) async throws -> BookingView {
        guard let view = try await AppointmentViews.bookings([booking], withHolder: withHolder, db: req.db).first else {
            throw AppointmentService.bookingNotFound
        }
        return view
    }

    /// POST /api/v1/appointments {"slotId","serviceId"?,"applicationId"?} — a signed-in person. 201 with the
    /// booking and its code; 409 `/problems/slot-full`, `/problems/appointment-overlap`; 422 for a missing,
    /// unknown or past slot and bad ids; 403 for staff.
    @Sendable func book(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(BookRequest.self)
        let booking = try await service(req).book(
            slotID: body.slotId, serviceID: body.serviceId, applicationID: body.applicationId, principal: principal)
        let view = try await view(booking, req)
        let response = try await view.encodeResponse(status: .created, for: req)
        response.headers.replaceOrAdd(name: .location, value: "/api/v1/appointments/\(view.id)")
        return response
    }

    /// GET /api/v1/appointments?status= — signed in. The caller's bookings, latest appointment first.
    @Sendable func mine(req: Request) async throws -> CursorPage<BookingView> {
        let principal = try req.requirePrincipal()
        let paging = try Paging(from: req)
        var status: BookingStatus?
        if let raw = req.query[String.self, at: "status"] {
            guard let value = BookingStatus(rawValue: raw) else {
                throw Problem.validation([
                    FieldError(field: "status", message: "must be booked, cancelled, attended or no_show")
                ])
            }
            status = value
        }
        let rows = try await service(req).mine(principal, status: status, paging: paging)
        return paging.page(try await AppointmentViews.bookings(rows, db: req.db))
    }

    /// GET /api/v1/appointments/{id} — its holder, or staff of its hall (with the masked holder); 404 otherwise.
    @Sendable func show(req: Request) async throws -> BookingView {
        let principal = try req.requirePrincipal()
        let booking = try await service(req).visible(try id(req), principal)
        return try await view(booking, req, withHolder: booking.userID != principal.userID)
    }

    /// POST /api/v1/appointments/{id}/cancel {"reason"?} — the holder, before the appointment starts; frees
    /// the place. 404 for someone else's; 409 `/problems/appointment-not-active`, `/problems/appointment-started`.
    @Sendable func cancel(req: Request) async throws -> BookingView {
        let principal = try req.requirePrincipal()
        let body = req.body.data == nil ? CancelRequest() : try req.content.decode(CancelRequest.self)
        let booking = try await service(req).cancel(try id(req), reason: body.reason, principal: principal)
        return try await view(booking, req)
    }

    /// POST /api/v1/appointments/{id}/reschedule {"slotId"} — the holder. Atomic: when the new slot is full
    /// (409 `/problems/slot-full`) the old booking stays as it was. 404; 409; 422 for a bad or past slot.
    @Sendable func reschedule(req: Request) async throws -> BookingView {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(RescheduleRequest.self)
        let booking = try await service(req).reschedule(try id(req), slotID: body.slotId, principal: principal)
        return try await view(booking, req)
    }

    /// POST /api/v1/appointments/{id}/attendance {"status":"attended"|"no_show"} — staff of the booking's
    /// hall. 404 for others; 409 when not booked or too early; 422 for another status.
    @Sendable func attendance(req: Request) async throws -> BookingView {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(AttendanceRequest.self)
        let booking = try await service(req).markAttendance(try id(req), status: body.status, principal: principal)
        return try await view(booking, req, withHolder: true)
    }
}
