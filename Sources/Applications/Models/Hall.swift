import Fluent
import Foundation

/// A government service hall (办事大厅 / 政务服务中心) where people come in person by appointment. Staff of
/// its managing department and of the departments its windows serve see its bookings; administrators of
/// the managing department open its slots.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class Hall: Model, @unchecked Sendable {
    public static let schema = "applications_halls"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "name") public var name: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "region_id") public var regionID: UUID
    /// The department that runs the hall (its administrators manage slots).
    @Field(key: "department_id") public var departmentID: UUID
    @Field(key: "address") public var address: String
    @Field(key: "address_en") public var addressEn: String
    /// Opening periods on working days, in local time, ordered and not overlapping.
    @Field(key: "opening_hours") public var openingHours: [OpeningPeriod]
    /// Length of a generated slot (30 minutes).
    @Field(key: "slot_minutes") public var slotMinutes: Int
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}
