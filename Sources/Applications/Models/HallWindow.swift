import Fluent
import Foundation

/// A service window (窗口) of a hall. It serves the listed services, or, when none are listed, every
/// service of the listed departments (no departments either: everything). Generated slots take the
/// window's capacity (people per slot).
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class HallWindow: Model, @unchecked Sendable {
    public static let schema = "applications_windows"

    @ID(key: .id) public var id: UUID?
    @Field(key: "hall_id") public var hallID: UUID
    /// What the hall's signs show (`A01`).
    @Field(key: "number") public var number: String
    @Field(key: "name") public var name: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "department_ids") public var departmentIDs: [UUID]
    @Field(key: "service_ids") public var serviceIDs: [UUID]
    /// People per generated slot.
    @Field(key: "capacity") public var capacity: Int

    public init() {}

    /// Whether this window handles `service` (of `departmentID`).
    public func serves(serviceID: UUID, departmentID: UUID) -> Bool {
        if !serviceIDs.isEmpty { return serviceIDs.contains(serviceID) }
        return departmentIDs.isEmpty || departmentIDs.contains(departmentID)
    }
}
