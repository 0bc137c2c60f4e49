import Fluent
import Foundation
import TongbanCore

/// A role a staff member holds in a department (`departmentID` nil only for system administrators).
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
public final class StaffAssignment: Model, @unchecked Sendable {
    public static let schema = "identity_staff_roles"

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    @OptionalField(key: "department_id") public var departmentID: UUID?
    @Field(key: "role") public var role: StaffRole
    @Timestamp(key: "created_at", on: .create) public var createdAt: Date?

    public init() {}

    public init(userID: UUID, departmentID: UUID?, role: StaffRole) {
        self.userID = userID
        self.departmentID = departmentID
        self.role = role
    }
}
