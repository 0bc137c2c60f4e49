import Fluent
import Foundation

/// States of a booking: `booked` → `cancelled` (by the person, before the slot starts) | `attended` |
/// `no_show` (marked by hall staff). Rescheduling keeps the booking (and its code) and moves it to
/// another slot.
public enum BookingStatus: String, Codable, Sendable, CaseIterable {
    case booked, cancelled, attended
    case noShow = "no_show"
}

/// A person's appointment in a slot, optionally for a service and one of their applications.
/// Slot times are copied here so that overlap checks and listings need no join.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class Booking: Model, @unchecked Sendable {
    public static let schema = "applications_bookings"

    @ID(key: .id) public var id: UUID?
    /// Six characters without look-alikes (no 0/O, 1/I/L), read out at the window.
    @Field(key: "code") public var code: String
    @Field(key: "slot_id") public var slotID: UUID
    @Field(key: "hall_id") public var hallID: UUID
    @OptionalField(key: "window_id") public var windowID: UUID?
    @Field(key: "user_id") public var userID: UUID
    @OptionalField(key: "service_id") public var serviceID: UUID?
    @OptionalField(key: "application_id") public var applicationID: UUID?
    @Field(key: "status") public var status: BookingStatus
    @Field(key: "starts_at") public var startsAt: Date
    @Field(key: "ends_at") public var endsAt: Date
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date
    @OptionalField(key: "cancelled_at") public var cancelledAt: Date?
    /// When staff marked it attended or no-show.
    @OptionalField(key: "checked_at") public var checkedAt: Date?
    /// When the day-before reminder went out (for the current slot; cleared by a reschedule).
    @OptionalField(key: "reminded_at") public var remindedAt: Date?

    public init() {}
}
