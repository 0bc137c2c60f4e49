import Fluent
import Foundation

/// A bookable time slot at a window (or at the hall as a whole when `windowID` is nil) with a capacity.
/// `booked` only changes through one conditional UPDATE (`booked < capacity`), and the table has a CHECK
/// constraint `0 <= booked <= capacity`, so a slot is never over-booked.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class AppointmentSlot: Model, @unchecked Sendable {
    public static let schema = "applications_slots"

    @ID(key: .id) public var id: UUID?
    @Field(key: "hall_id") public var hallID: UUID
    @OptionalField(key: "window_id") public var windowID: UUID?
    /// Local date (`YYYY-MM-DD`, Asia/Shanghai).
    @Field(key: "date") public var date: String
    /// Local start and end, minutes after midnight.
    @Field(key: "start_minute") public var startMinute: Int
    @Field(key: "end_minute") public var endMinute: Int
    /// The same start and end as instants (for ordering, overlap and "in the past" checks).
    @Field(key: "starts_at") public var startsAt: Date
    @Field(key: "ends_at") public var endsAt: Date
    @Field(key: "capacity") public var capacity: Int
    @Field(key: "booked") public var booked: Int
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public var remaining: Int { max(0, capacity - booked) }
    public var startTime: String { TimeOfDay(minutes: startMinute)?.description ?? "" }
    public var endTime: String { TimeOfDay(minutes: endMinute)?.description ?? "" }
}
