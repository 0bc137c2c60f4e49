import Fluent
import Foundation
import TongbanCore
import Vapor

/// The reminder the day before an appointment: a persistent job (`appointments.remind`) per booking and
/// slot, due at 09:00 (Asia/Shanghai) on the previous day, or at once when that has passed. It sends
/// `appointment.reminder` in-app and by SMS, unless the booking was cancelled, moved to another slot or
/// already reminded — so it fires at most once per booking and slot, whichever node runs it.
enum AppointmentReminder {
    static let job = "appointments.remind"
    static let hour = 9

    struct Payload: Codable, Sendable {
        var bookingId: UUID
        var slotId: UUID
    }

    /// When to remind about a slot: 09:00 the day before, or `now` if that is past; nil for a slot today
    /// (the message says "tomorrow", and the booking confirmation has just gone out).
    static func time(for slot: AppointmentSlot, now: Date) -> Date? {
        guard let date = LocalDate(slot.date), date > LocalDate(now) else { return nil }
        let due = date.adding(days: -1).start(in: .shanghai).addingTimeInterval(TimeInterval(hour * 3600))
        return max(due, now)
    }

    static func dedupeKey(_ payload: Payload) -> String { "appointments.remind:\(payload.bookingId):\(payload.slotId)" }

    /// Enqueues the reminder (inside the booking's transaction). A pending reminder for the same booking and
    /// slot (after moving away and back) is kept rather than duplicated.
    static func schedule(_ booking: Booking, slot: AppointmentSlot, tx: any Database, clock: TongbanClock) async throws
    {
        guard let runAt = time(for: slot, now: clock.now()) else { return }
        let payload = Payload(bookingId: try booking.requireID(), slotId: try slot.requireID())
        let key = dedupeKey(payload)
        if try await Job.query(on: tx).filter(\.$dedupeKey == key).first() != nil { return }
        try await JobQueue(db: tx, clock: clock).enqueue(kind: job, payload: payload, runAt: runAt, dedupeKey: key)
    }

    /// Job handler: sends the reminder if the booking still stands in that slot and was not reminded yet.
    static func run(_ job: Job, app: Application) async throws {
        let payload = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: Payload.self)
        let clock = app.clock
        try await app.db.writeTransaction { tx in
            let now = clock.now()
            guard let booking = try await Booking.find(payload.bookingId, on: tx), booking.status == .booked,
                booking.slotID == payload.slotId, booking.remindedAt == nil, booking.startsAt > now,
                let slot = try await AppointmentSlot.find(payload.slotId, on: tx)
            else { return }
            try await AppointmentService.notify(
                booking, slot: slot, template: "appointment.reminder", note: nil, channels: [.inbox, .sms], tx: tx,
                clock: clock)
            booking.remindedAt = now
            try await booking.save(on: tx)
        }
    }
}

extension AppointmentService {
    static func scheduleReminder(_ booking: Booking, slot: AppointmentSlot, tx: any Database, clock: TongbanClock)
        async throws
    {
        try await AppointmentReminder.schedule(booking, slot: slot, tx: tx, clock: clock)
    }
}
