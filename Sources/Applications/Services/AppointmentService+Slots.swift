import Catalogue
import Fluent
import Foundation
import TongbanCore
import Vapor

/// A slot to create by hand (staff), as sent by the client.
public struct SlotInput: Content {
    public var windowId: String?
    public var date: String?
    public var startTime: String?
    public var endTime: String?
    public var capacity: Int?

    public init(
        windowId: String? = nil, date: String? = nil, startTime: String? = nil, endTime: String? = nil,
        capacity: Int? = nil
    ) {
        self.windowId = windowId
        self.date = date
        self.startTime = startTime
        self.endTime = endTime
        self.capacity = capacity
    }
}

/// Halls and their slots: listing, generating from opening hours, creating by hand.
extension AppointmentService {
    static let maxOpenDays = 60
    static let maxCapacity = 500

    /// Halls, by code (optionally in one region).
    public func halls(region: UUID?, paging: Paging) async throws -> [Hall] {
        var query = Hall.query(on: db)
        if let region { query = query.filter(\.$regionID == region) }
        return try await query.sort(\.$code).sort(\.$id).range(paging.offset..<(paging.offset + paging.limit + 1)).all()
    }

    public func hall(_ id: UUID) async throws -> Hall {
        guard let hall = try await Hall.find(id, on: db) else { throw Self.hallNotFound }
        return hall
    }

    /// Windows of the given halls, by number.
    public func windows(halls: [UUID]) async throws -> [HallWindow] {
        guard !halls.isEmpty else { return [] }
        return try await HallWindow.query(on: db).filter(\.$hallID ~~ halls).sort(\.$number).all()
    }

    /// A hall's slots on one day, by start time; with `service`, only slots of windows that handle it
    /// (and hall-wide slots). 422 for a service id that names no published service.
    public func slots(hall hallID: UUID, date: LocalDate, serviceID: UUID?, paging: Paging) async throws
        -> [AppointmentSlot]
    {
        _ = try await hall(hallID)
        var query = AppointmentSlot.query(on: db).filter(\.$hallID == hallID).filter(\.$date == date.description)
        if let serviceID {
            guard let service = try? await CatalogueService(db: db, clock: app.clock).service(serviceID, viewer: nil)
            else {
                throw Problem.validation([FieldError(field: "service", message: "does not name a published service")])
            }
            let serving = try await windows(halls: [hallID])
                .filter { $0.serves(serviceID: serviceID, departmentID: service.departmentID) }.compactMap(\.id)
            if serving.isEmpty {
                query = query.filter(\.$windowID == nil)
            } else {
                query = query.group(.or) { $0.filter(\.$windowID ~~ serving).filter(\.$windowID == nil) }
            }
        }
        return try await query.sort(\.$startsAt).sort(\.$id).range(paging.offset..<(paging.offset + paging.limit + 1))
            .all()
    }

    /// Opens slots on the next `days` working days from `from` (inclusive): for every window, each opening
    /// period cut into `slotMinutes` pieces, with the window's capacity. Holidays get none, adjusted
    /// working weekends (调休) get them, slots that have already begun are skipped, and existing slots are
    /// kept (so calling it again opens only what is missing). Returns how many slots were created.
    @discardableResult
    public func openSlots(hall hallID: UUID, from: LocalDate, days: Int) async throws -> Int {
        guard (1...Self.maxOpenDays).contains(days) else {
            throw Problem.validation([FieldError(field: "days", message: "must be from 1 to \(Self.maxOpenDays)")])
        }
        let hall = try await hall(hallID)
        let windows = try await windows(halls: [hallID])
        var dates: [LocalDate] = []
        var date = from
        while dates.count < days && date.dayNumber - from.dayNumber < 366 {
            if calendar.isWorkingDay(date) { dates.append(date) }
            date = date.adding(days: 1)
        }
        guard !dates.isEmpty, !windows.isEmpty else { return 0 }
        let now = self.now
        let length = max(5, hall.slotMinutes)
        let existing = try await AppointmentSlot.query(on: db).filter(\.$hallID == hallID)
            .filter(\.$date ~~ dates.map(\.description)).all()
        let taken = Set(existing.compactMap { slot in slot.windowID.map { "\($0)|\(slot.date)|\(slot.startMinute)" } })
        var slots: [AppointmentSlot] = []
        for date in dates {
            for window in windows {
                guard let windowID = window.id else { continue }
                for period in hall.openingHours {
                    var start = period.start.minutes
                    while start + length <= period.end.minutes {
                        defer { start += length }
                        guard !taken.contains("\(windowID)|\(date)|\(start)") else { continue }
                        let slot = Self.makeSlot(
                            hall: hallID, window: windowID, date: date, start: start, end: start + length,
                            capacity: window.capacity, now: now)
                        if slot.startsAt > now { slots.append(slot) }
                    }
                }
            }
        }
        guard !slots.isEmpty else { return 0 }
        let batch = slots
        try await db.writeTransaction { tx in
            for offset in stride(from: 0, to: batch.count, by: 200) {
                try await Array(batch[offset..<min(batch.count, offset + 200)]).create(on: tx)
            }
        }
        return slots.count
    }

    /// A slot created by a hall administrator, on any day (for example a Saturday service day), for one
    /// window or, without `windowId`, for the hall as a whole. 404 unknown hall; 403 not its administrator;
    /// 422 bad fields (every one at once); 409 `/problems/slot-overlaps` when it overlaps another slot of
    /// the same window.
    public func createSlot(hall hallID: UUID, _ input: SlotInput, principal: Principal) async throws -> AppointmentSlot
    {
        let hall = try await hall(hallID)
        guard canManage(hall, principal) else { throw Problem.forbidden }
        let now = self.now
        var errors = FieldErrors()
        var windowID: UUID?
        if let raw = input.windowId, !raw.isEmpty {
            if let id = UUID(uuidString: raw), let window = try await HallWindow.find(id, on: db),
                window.hallID == hallID
            {
                windowID = id
            } else {
                errors.add("windowId", "does not name a window of this hall")
            }
        }
        let date = input.date.flatMap(LocalDate.init)
        errors.check(date != nil, "date", "must be a date YYYY-MM-DD")
        let start = input.startTime.flatMap(TimeOfDay.init)
        let end = input.endTime.flatMap(TimeOfDay.init)
        errors.check(start != nil, "startTime", "must be a time HH:MM")
        errors.check(end != nil, "endTime", "must be a time HH:MM")
        if let start, let end {
            errors.check(start < end, "endTime", "must be after startTime")
            errors.check(end.minutes - start.minutes <= 8 * 60, "endTime", "must be at most 8 hours after startTime")
        }
        if let date, let start, start.instant(on: date) <= now { errors.add("date", "must not be in the past") }
        let capacity = input.capacity ?? 0
        errors.check((1...Self.maxCapacity).contains(capacity), "capacity", "must be from 1 to \(Self.maxCapacity)")
        try errors.throwIfAny()
        guard let date, let start, let end else { throw Problem.validation([]) }
        let window = windowID
        let slot = Self.makeSlot(
            hall: hallID, window: window, date: date, start: start.minutes, end: end.minutes, capacity: capacity,
            now: now)
        try await db.writeTransaction { tx in
            let overlapping = try await AppointmentSlot.query(on: tx).filter(\.$hallID == hallID).filter(
                \.$windowID == window
            )
            .filter(\.$startsAt < slot.endsAt).filter(\.$endsAt > slot.startsAt).first()
            if overlapping != nil {
                throw Problem(
                    .conflict, type: "/problems/slot-overlaps", title: "Overlapping slot",
                    detail: "This window already has a slot in that time.")
            }
            try await slot.create(on: tx)
        }
        return slot
    }

    /// The hall's bookings on one day (staff of the hall), by time; optionally one status.
    public func hallBookings(
        hall hallID: UUID, date: LocalDate, status: BookingStatus?, principal: Principal, paging: Paging
    )
        async throws -> [Booking]
    {
        let hall = try await hall(hallID)
        guard try await canSee(hall, principal) else { throw Problem.forbidden }
        var query = Booking.query(on: db).filter(\.$hallID == hallID)
            .filter(\.$startsAt >= date.start(in: .shanghai)).filter(
                \.$startsAt < date.adding(days: 1).start(in: .shanghai))
        if let status { query = query.filter(\.$status == status) }
        return try await query.sort(\.$startsAt).sort(\.$id).range(paging.offset..<(paging.offset + paging.limit + 1))
            .all()
    }

    static func makeSlot(hall: UUID, window: UUID?, date: LocalDate, start: Int, end: Int, capacity: Int, now: Date)
        -> AppointmentSlot
    {
        let slot = AppointmentSlot()
        slot.id = UUID()
        slot.hallID = hall
        slot.windowID = window
        slot.date = date.description
        slot.startMinute = start
        slot.endMinute = end
        slot.startsAt = date.start(in: .shanghai).addingTimeInterval(TimeInterval(start * 60))
        slot.endsAt = date.start(in: .shanghai).addingTimeInterval(TimeInterval(end * 60))
        slot.capacity = capacity
        slot.booked = 0
        slot.createdAt = now
        return slot
    }
}
