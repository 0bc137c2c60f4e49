import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// A service window as clients see it.
struct WindowView: Content {
    var id: UUID
    var number: String
    var name: String
    var nameEn: String
    var departmentIds: [UUID]
    var serviceIds: [UUID]
    var capacity: Int
}

/// A hall with its opening hours and windows.
struct HallView: Content {
    var id: UUID
    var code: String
    var name: String
    var nameEn: String
    var regionId: UUID
    var departmentId: UUID
    var address: String
    var addressEn: String
    var openingHours: [OpeningPeriod]
    var slotMinutes: Int
    var windows: [WindowView]
}

/// A slot with its remaining places.
struct SlotView: Content {
    var id: UUID
    var hallId: UUID
    var windowId: UUID?
    var windowNumber: String?
    var windowName: String?
    var date: String
    var startTime: String
    var endTime: String
    var startsAt: Date
    var endsAt: Date
    var capacity: Int
    var booked: Int
    var remaining: Int
    /// A free place and not yet begun.
    var available: Bool
}

/// The person behind a booking, for hall staff (name and phone masked).
struct BookingHolder: Content {
    var name: String
    var phone: String?
}

/// A booking with where and when.
struct BookingView: Content {
    var id: UUID
    var code: String
    var status: BookingStatus
    var slotId: UUID
    var hallId: UUID
    var hallName: String
    var hallNameEn: String
    var address: String
    var windowId: UUID?
    var windowNumber: String?
    var windowName: String?
    var date: String
    var startTime: String
    var endTime: String
    var startsAt: Date
    var endsAt: Date
    var serviceId: UUID?
    var applicationId: UUID?
    var createdAt: Date
    var cancelledAt: Date?
    var checkedAt: Date?
    var holder: BookingHolder?
}

/// Maps models to views, loading halls, windows and slots in one query each.
enum AppointmentViews {
    static func window(_ window: HallWindow) throws -> WindowView {
        WindowView(
            id: try window.requireID(), number: window.number, name: window.name, nameEn: window.nameEn,
            departmentIds: window.departmentIDs, serviceIds: window.serviceIDs, capacity: window.capacity)
    }

    static func halls(_ halls: [Hall], service: AppointmentService) async throws -> [HallView] {
        let windows = Dictionary(grouping: try await service.windows(halls: halls.compactMap(\.id)), by: \.hallID)
        return try halls.map { hall in
            HallView(
                id: try hall.requireID(), code: hall.code, name: hall.name, nameEn: hall.nameEn,
                regionId: hall.regionID,
                departmentId: hall.departmentID, address: hall.address, addressEn: hall.addressEn,
                openingHours: hall.openingHours, slotMinutes: hall.slotMinutes,
                windows: try (windows[try hall.requireID()] ?? []).map(window))
        }
    }

    static func slots(_ slots: [AppointmentSlot], now: Date, db: any Database) async throws -> [SlotView] {
        let windows = try await windowsByID(Set(slots.compactMap(\.windowID)), db: db)
        return try slots.map { slot in
            let window = slot.windowID.flatMap { windows[$0] }
            return SlotView(
                id: try slot.requireID(), hallId: slot.hallID, windowId: slot.windowID, windowNumber: window?.number,
                windowName: window?.name, date: slot.date, startTime: slot.startTime, endTime: slot.endTime,
                startsAt: slot.startsAt, endsAt: slot.endsAt, capacity: slot.capacity, booked: slot.booked,
                remaining: slot.remaining, available: slot.remaining > 0 && slot.startsAt > now)
        }
    }

    static func bookings(_ bookings: [Booking], withHolder: Bool = false, db: any Database) async throws
        -> [BookingView]
    {
        let slotIDs = Array(Set(bookings.map(\.slotID)))
        let slots = Dictionary(
            uniqueKeysWithValues: try await
                (slotIDs.isEmpty ? [] : AppointmentSlot.query(on: db).filter(\.$id ~~ slotIDs).all())
                .compactMap { slot in slot.id.map { ($0, slot) } })
        let hallIDs = Array(Set(bookings.map(\.hallID)))
        let halls = Dictionary(
            uniqueKeysWithValues: try await (hallIDs.isEmpty ? [] : Hall.query(on: db).filter(\.$id ~~ hallIDs).all())
                .compactMap { hall in hall.id.map { ($0, hall) } })
        let windows = try await windowsByID(Set(bookings.compactMap(\.windowID)), db: db)
        var holders: [UUID: BookingHolder] = [:]
        if withHolder, !bookings.isEmpty {
            for user in try await User.query(on: db).filter(\.$id ~~ Array(Set(bookings.map(\.userID)))).all() {
                if let id = user.id {
                    holders[id] = BookingHolder(name: Masking.name(user.name), phone: user.phone.map(Masking.phone))
                }
            }
        }
        return try bookings.map { booking in
            let slot = slots[booking.slotID]
            let hall = halls[booking.hallID]
            let window = booking.windowID.flatMap { windows[$0] }
            return BookingView(
                id: try booking.requireID(), code: booking.code, status: booking.status, slotId: booking.slotID,
                hallId: booking.hallID, hallName: hall?.name ?? "", hallNameEn: hall?.nameEn ?? "",
                address: hall?.address ?? "",
                windowId: booking.windowID, windowNumber: window?.number, windowName: window?.name,
                date: slot?.date ?? LocalDate(booking.startsAt).description, startTime: slot?.startTime ?? "",
                endTime: slot?.endTime ?? "", startsAt: booking.startsAt, endsAt: booking.endsAt,
                serviceId: booking.serviceID,
                applicationId: booking.applicationID, createdAt: booking.createdAt, cancelledAt: booking.cancelledAt,
                checkedAt: booking.checkedAt, holder: withHolder ? holders[booking.userID] : nil)
        }
    }

    static func windowsByID(_ ids: Set<UUID>, db: any Database) async throws -> [UUID: HallWindow] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await HallWindow.query(on: db).filter(\.$id ~~ Array(ids)).all()
        return Dictionary(uniqueKeysWithValues: rows.compactMap { window in window.id.map { ($0, window) } })
    }
}
