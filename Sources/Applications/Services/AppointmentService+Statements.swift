import Catalogue
import Fluent
import Foundation
import SQLKit
import TongbanCore
import Vapor

/// The statements behind booking changes; each runs inside the caller's write transaction.
extension AppointmentService {
    /// Takes one place: true when the conditional UPDATE changed the row (free place, not started).
    static func take(slot id: UUID, now: Date, tx: any Database) async throws -> Bool {
        guard let sql = tx as? any SQLDatabase else { throw Problem(.internalServerError) }
        let rows = try await sql.raw(
            """
            UPDATE applications_slots SET booked = booked + 1
            WHERE id = \(bind: id) AND booked < capacity AND starts_at > \(bind: now) RETURNING id
            """
        ).all()
        return rows.count == 1
    }

    /// Gives one place back.
    static func release(slot id: UUID, tx: any Database) async throws {
        guard let sql = tx as? any SQLDatabase else { throw Problem(.internalServerError) }
        try await sql.raw("UPDATE applications_slots SET booked = booked - 1 WHERE id = \(bind: id) AND booked > 0")
            .run()
    }

    /// Serialises one person's booking changes until the transaction ends. SQLite write transactions are
    /// already serial (one writer); PostgreSQL takes a transaction-scoped advisory lock on the person.
    static func serialise(user: UUID, tx: any Database) async throws {
        guard let sql = tx as? any SQLDatabase, sql.dialect.name == "postgresql" else { return }
        try await sql.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "appointments:" + user.uuidString)))").run()
    }

    /// 409 when the person holds another booked appointment overlapping the slot's time.
    static func checkNoOverlap(user: UUID, slot: AppointmentSlot, excluding: UUID?, tx: any Database) async throws {
        var query = Booking.query(on: tx).filter(\.$userID == user).filter(\.$status == .booked)
            .filter(\.$startsAt < slot.endsAt).filter(\.$endsAt > slot.startsAt)
        if let excluding { query = query.filter(\.$id != excluding) }
        if try await query.first() != nil { throw overlapping }
    }

    static let codeAlphabet = Array("23456789ABCDEFGHJKMNPQRSTUVWXYZ")

    /// Inserts with a fresh random code, retrying on the rare collision inside a savepoint (a unique
    /// violation must not abort the surrounding PostgreSQL transaction).
    static func insertWithCode(_ booking: Booking, tx: any Database) async throws {
        let sql = tx as? any SQLDatabase
        for attempt in 0..<8 {
            booking.code = String((0..<6).compactMap { _ in codeAlphabet.randomElement() })
            if try await Booking.query(on: tx).filter(\.$code == booking.code).first() != nil { continue }
            try await sql?.raw("SAVEPOINT booking_code").run()
            do {
                try await booking.create(on: tx)
                try await sql?.raw("RELEASE SAVEPOINT booking_code").run()
                return
            } catch let error as any DatabaseError where error.isConstraintFailure && attempt < 7 {
                try await sql?.raw("ROLLBACK TO SAVEPOINT booking_code").run()
                booking.id = nil
                booking.$id.exists = false
            }
        }
        throw Problem(.serviceUnavailable, title: "No booking code available", detail: "Try again.")
    }

    /// The in-app message about a booking (hall, date, time, service, code and an optional note).
    static func notify(
        _ booking: Booking, slot: AppointmentSlot, template: String, note: String?,
        channels: [NotificationChannel] = [.inbox],
        tx: any Database, clock: TongbanClock
    ) async throws {
        var parameters = try await messageParameters(booking, slot: slot, tx: tx)
        if let note, !note.isEmpty { parameters["note"] = note }
        try await Notifier.notify(
            userID: booking.userID, template: template, parameters: parameters, channels: channels,
            applicationID: booking.applicationID, tx: tx, clock: clock)
    }

    static func messageParameters(_ booking: Booking, slot: AppointmentSlot, tx: any Database) async throws -> [String:
        String]
    {
        let hall = try await Hall.find(slot.hallID, on: tx)
        var window: HallWindow?
        if let windowID = slot.windowID { window = try await HallWindow.find(windowID, on: tx) }
        var service: ServiceItem?
        if let serviceID = booking.serviceID { service = try await ServiceItem.find(serviceID, on: tx) }
        return [
            "hall": hall?.name ?? "",
            "date": slot.date,
            "time": "\(slot.startTime)–\(slot.endTime)",
            "service": service?.name ?? window?.name ?? "综合业务",
            "code": booking.code,
        ]
    }
}
