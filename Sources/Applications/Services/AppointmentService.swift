import Catalogue
import Fluent
import Foundation
import SQLKit
import TongbanCore
import Vapor

/// Appointments at service halls: booking, cancelling, rescheduling and attendance.
///
/// Capacity is enforced by one conditional UPDATE (`booked = booked + 1 … WHERE booked < capacity`) whose
/// affected rows are read back, inside a write transaction together with everything else the action
/// stores (the booking, its notification, its reminder job), so a full slot answers 409 and leaves nothing
/// behind. One person's bookings are serialised (SQLite: one writer; PostgreSQL: a transaction-scoped
/// advisory lock per person), so two concurrent requests cannot both pass the overlap check.
public struct AppointmentService: Sendable {
    let app: Application
    let db: any Database
    let calendar: WorkingCalendar

    public init(app: Application, db: any Database, calendar: WorkingCalendar = .china) {
        self.app = app
        self.db = db
        self.calendar = calendar
    }

    static let bookingNotFound = Problem.notFound("Appointment", type: "/problems/appointment-not-found")
    static let hallNotFound = Problem.notFound("Hall", type: "/problems/hall-not-found")
    static let slotFull = Problem(
        .conflict, type: "/problems/slot-full", title: "Slot full",
        detail: "Every place in this slot is taken. Choose another slot.")
    static let overlapping = Problem(
        .conflict, type: "/problems/appointment-overlap", title: "Overlapping appointment",
        detail: "You already hold an appointment at that time. Cancel or reschedule it first.")
    static let notActive = Problem(
        .conflict, type: "/problems/appointment-not-active", title: "Appointment not active",
        detail: "Only a booked appointment can be changed.")
    static let started = Problem(
        .conflict, type: "/problems/appointment-started", title: "Appointment already started",
        detail: "The appointment's time has come; it can no longer be cancelled or moved.")

    var now: Date { app.clock.now() }

    // MARK: Booking

    /// Books a place in `slotID` for a person. 422 for a missing, unknown or past slot, an unknown service,
    /// a service the slot's window does not handle, or an application that is not theirs; 409
    /// `/problems/slot-full` or `/problems/appointment-overlap`; 403 for staff accounts.
    public func book(slotID: String?, serviceID: String?, applicationID: String?, principal: Principal) async throws
        -> Booking
    {
        guard principal.kind == .person else { throw Problem.forbidden }
        let now = self.now
        var errors = FieldErrors()
        let slot = try await slot(slotID, field: "slotId", now: now, errors: &errors)
        let purpose = try await purpose(
            serviceID: serviceID, applicationID: applicationID, principal: principal, errors: &errors)
        if let slot, let service = purpose.service, !(try await windowServes(slot, service)) {
            errors.add("serviceId", "is not handled at this slot's window")
        }
        try errors.throwIfAny()
        guard let slot else { throw Problem.validation([FieldError(field: "slotId", message: "does not name a slot")]) }
        let clock = app.clock
        let bookingID = try await db.writeTransaction { tx in
            try await Self.serialise(user: principal.userID, tx: tx)
            try await Self.checkNoOverlap(user: principal.userID, slot: slot, excluding: nil, tx: tx)
            guard try await Self.take(slot: try slot.requireID(), now: now, tx: tx) else { throw Self.slotFull }
            let booking = Booking()
            booking.slotID = try slot.requireID()
            booking.hallID = slot.hallID
            booking.windowID = slot.windowID
            booking.userID = principal.userID
            booking.serviceID = try purpose.service?.requireID()
            booking.applicationID = purpose.applicationID
            booking.status = .booked
            booking.startsAt = slot.startsAt
            booking.endsAt = slot.endsAt
            booking.createdAt = now
            booking.updatedAt = now
            try await Self.insertWithCode(booking, tx: tx)
            try await Self.notify(booking, slot: slot, template: "appointment.booked", note: nil, tx: tx, clock: clock)
            try await Self.scheduleReminder(booking, slot: slot, tx: tx, clock: clock)
            return try booking.requireID()
        }
        guard let booking = try await Booking.find(bookingID, on: db) else { throw Self.bookingNotFound }
        return booking
    }

    /// Cancels the caller's booked appointment before it starts and frees its place. 404 for someone
    /// else's; 409 when it is not booked any more or has started.
    public func cancel(_ id: UUID, reason: String?, principal: Principal) async throws -> Booking {
        let booking = try await own(id, principal)
        var errors = FieldErrors()
        errors.check((reason ?? "").count <= 500, "reason", "must have at most 500 characters")
        try errors.throwIfAny()
        let now = self.now
        guard booking.status == .booked else { throw Self.notActive }
        guard booking.startsAt > now else { throw Self.started }
        let clock = app.clock
        try await db.writeTransaction { tx in
            guard let sql = tx as? any SQLDatabase else { throw Problem(.internalServerError) }
            let changed = try await sql.raw(
                """
                UPDATE applications_bookings SET status = \(bind: BookingStatus.cancelled.rawValue),
                cancelled_at = \(bind: now), updated_at = \(bind: now)
                WHERE id = \(bind: id) AND status = \(bind: BookingStatus.booked.rawValue) RETURNING id
                """
            ).all()
            guard changed.count == 1 else { throw Self.notActive }
            try await Self.release(slot: booking.slotID, tx: tx)
            guard let slot = try await AppointmentSlot.find(booking.slotID, on: tx) else { return }
            try await Self.notify(
                booking, slot: slot, template: "appointment.cancelled", note: reason, tx: tx, clock: clock)
        }
        return try await Booking.find(id, on: db) ?? booking
    }

    /// Moves the caller's booked appointment to `slotID` in one transaction: the new place is taken first,
    /// and only then is the old one given up, so a full new slot (409) leaves the old booking as it was.
    public func reschedule(_ id: UUID, slotID: String?, principal: Principal) async throws -> Booking {
        let booking = try await own(id, principal)
        let now = self.now
        var errors = FieldErrors()
        let slot = try await slot(slotID, field: "slotId", now: now, errors: &errors)
        if let slot, slot.id == booking.slotID { errors.add("slotId", "is the slot this appointment already has") }
        if let slot, let serviceID = booking.serviceID,
            let service = try await ServiceItem.find(serviceID, on: db), !(try await windowServes(slot, service))
        {
            errors.add("slotId", "is at a window that does not handle this appointment's service")
        }
        try errors.throwIfAny()
        guard let slot, let newSlotID = slot.id else { throw Problem.validation([]) }
        guard booking.status == .booked else { throw Self.notActive }
        guard booking.startsAt > now else { throw Self.started }
        let oldSlotID = booking.slotID
        let clock = app.clock
        try await db.writeTransaction { tx in
            guard let sql = tx as? any SQLDatabase else { throw Problem(.internalServerError) }
            try await Self.serialise(user: principal.userID, tx: tx)
            try await Self.checkNoOverlap(user: principal.userID, slot: slot, excluding: id, tx: tx)
            guard try await Self.take(slot: newSlotID, now: now, tx: tx) else { throw Self.slotFull }
            let moved = try await sql.raw(
                """
                UPDATE applications_bookings SET slot_id = \(bind: newSlotID), hall_id = \(bind: slot.hallID),
                window_id = \(bind: slot.windowID), starts_at = \(bind: slot.startsAt), ends_at = \(bind: slot.endsAt),
                reminded_at = NULL, updated_at = \(bind: now)
                WHERE id = \(bind: id) AND slot_id = \(bind: oldSlotID) AND status = \(bind: BookingStatus.booked.rawValue)
                  AND starts_at > \(bind: now)
                RETURNING id
                """
            ).all()
            // Cancelled or moved meanwhile: roll back, the new place included.
            guard moved.count == 1 else { throw Self.notActive }
            try await Self.release(slot: oldSlotID, tx: tx)
            guard let updated = try await Booking.find(id, on: tx) else { throw Self.bookingNotFound }
            try await Self.notify(updated, slot: slot, template: "appointment.booked", note: nil, tx: tx, clock: clock)
            try await Self.scheduleReminder(updated, slot: slot, tx: tx, clock: clock)
        }
        return try await Booking.find(id, on: db) ?? booking
    }

    /// Hall staff mark a booked appointment `attended` (from its day on) or `no_show` (once it has ended).
    /// 404 unless the caller is staff of the hall; 422 for another status; 409 when not booked or too early.
    public func markAttendance(_ id: UUID, status raw: String?, principal: Principal) async throws -> Booking {
        guard principal.isStaff || principal.isSystemAdmin else { throw Problem.forbidden }
        guard let booking = try await Booking.find(id, on: db), let hall = try await Hall.find(booking.hallID, on: db),
            try await canSee(hall, principal)
        else { throw Self.bookingNotFound }
        guard let status = raw.flatMap(BookingStatus.init(rawValue:)), [.attended, .noShow].contains(status) else {
            throw Problem.validation([FieldError(field: "status", message: "must be \"attended\" or \"no_show\"")])
        }
        let now = self.now
        guard booking.status == .booked else { throw Self.notActive }
        let due = status == .attended ? LocalDate(booking.startsAt).start(in: .shanghai) : booking.endsAt
        guard now >= due else {
            throw Problem(
                .conflict, type: "/problems/appointment-not-due", title: "Too early",
                detail: status == .attended
                    ? "Attendance can be recorded from the appointment's day on."
                    : "A no-show can be recorded once the appointment's time has passed.")
        }
        try await db.writeTransaction { tx in
            guard let sql = tx as? any SQLDatabase else { throw Problem(.internalServerError) }
            let changed = try await sql.raw(
                """
                UPDATE applications_bookings SET status = \(bind: status.rawValue), checked_at = \(bind: now),
                updated_at = \(bind: now) WHERE id = \(bind: id) AND status = \(bind: BookingStatus.booked.rawValue)
                RETURNING id
                """
            ).all()
            guard changed.count == 1 else { throw Self.notActive }
        }
        return try await Booking.find(id, on: db) ?? booking
    }

    /// The caller's bookings, latest appointment first (optionally one status).
    public func mine(_ principal: Principal, status: BookingStatus?, paging: Paging) async throws -> [Booking] {
        var query = Booking.query(on: db).filter(\.$userID == principal.userID)
        if let status { query = query.filter(\.$status == status) }
        return try await query.sort(\.$startsAt, .descending).sort(\.$id)
            .range(paging.offset..<(paging.offset + paging.limit + 1)).all()
    }

    /// One booking: its holder or the hall's staff; 404 for anyone else.
    public func visible(_ id: UUID, _ principal: Principal) async throws -> Booking {
        guard let booking = try await Booking.find(id, on: db) else { throw Self.bookingNotFound }
        if booking.userID == principal.userID { return booking }
        if principal.isStaff, let hall = try await Hall.find(booking.hallID, on: db), try await canSee(hall, principal)
        {
            return booking
        }
        throw Self.bookingNotFound
    }

    func own(_ id: UUID, _ principal: Principal) async throws -> Booking {
        guard let booking = try await Booking.find(id, on: db), booking.userID == principal.userID else {
            throw Self.bookingNotFound
        }
        return booking
    }

    // MARK: Access

    /// Staff of the hall's managing department or of a department one of its windows serves, and system
    /// administrators.
    public func canSee(_ hall: Hall, _ principal: Principal) async throws -> Bool {
        if principal.isSystemAdmin { return true }
        guard principal.isStaff else { return false }
        let mine = principal.departments(with: Set(StaffRole.allCases))
        if mine.contains(hall.departmentID) { return true }
        let windows = try await HallWindow.query(on: db).filter(\.$hallID == hall.requireID()).all()
        return !mine.isDisjoint(with: windows.flatMap(\.departmentIDs))
    }

    /// Administrators of the hall's managing department, and system administrators.
    public func canManage(_ hall: Hall, _ principal: Principal) -> Bool {
        principal.isSystemAdmin || principal.departments(with: [.departmentAdmin]).contains(hall.departmentID)
    }

    // MARK: Input

    /// Resolves a slot id from input: adds a field error when missing, malformed, unknown or past.
    func slot(_ raw: String?, field: String, now: Date, errors: inout FieldErrors) async throws -> AppointmentSlot? {
        guard let raw, !raw.isEmpty else {
            errors.add(field, "is required")
            return nil
        }
        guard let id = UUID(uuidString: raw), let slot = try await AppointmentSlot.find(id, on: db) else {
            errors.add(field, "does not name a slot")
            return nil
        }
        guard slot.startsAt > now else {
            errors.add(field, "is in the past")
            return nil
        }
        return slot
    }

    /// What an appointment is for: a published service and/or one of the caller's applications (whose
    /// service it then takes).
    func purpose(serviceID: String?, applicationID: String?, principal: Principal, errors: inout FieldErrors)
        async throws
        -> (service: ServiceItem?, applicationID: UUID?)
    {
        var service: ServiceItem?
        if let serviceID, !serviceID.isEmpty {
            if let id = UUID(uuidString: serviceID),
                let found = try? await CatalogueService(db: db, clock: app.clock).service(id, viewer: nil)
            {
                service = found
            } else {
                errors.add("serviceId", "does not name a published service")
            }
        }
        var application: UUID?
        if let applicationID, !applicationID.isEmpty {
            if let id = UUID(uuidString: applicationID),
                let record = try? await ApplicationService(app: app, db: db).own(id, principal)
            {
                application = id
                if service == nil, serviceID == nil || serviceID == "" {
                    service = try await ServiceItem.find(record.serviceID, on: db)
                } else if let service, service.id != record.serviceID {
                    errors.add("serviceId", "is not the service of the application")
                }
            } else {
                errors.add("applicationId", "does not name one of your applications")
            }
        }
        return (service, application)
    }

    /// Whether the slot's window (or, for a hall-wide slot, the hall) handles `service`.
    func windowServes(_ slot: AppointmentSlot, _ service: ServiceItem) async throws -> Bool {
        guard let windowID = slot.windowID else { return true }
        guard let window = try await HallWindow.find(windowID, on: db) else { return false }
        return window.serves(serviceID: try service.requireID(), departmentID: service.departmentID)
    }
}
