import Fluent
import Foundation
import TongbanCore

/// An account: a person (citizen, possibly acting for enterprises) or a staff member.
/// `@unchecked Sendable`: Fluent's property wrappers defeat the checker; instances are not shared across tasks.
public final class User: Model, @unchecked Sendable {
    public static let schema = "identity_users"

    @ID(key: .id) public var id: UUID?
    @Field(key: "username") public var username: String
    @Field(key: "password_hash") public var passwordHash: String
    @Field(key: "kind") public var kind: AccountKind
    @Field(key: "name") public var name: String
    @OptionalField(key: "id_number") public var idNumber: String?
    @OptionalField(key: "phone") public var phone: String?
    /// Optional; where e-mail copies of notifications go.
    @OptionalField(key: "email") public var email: String?
    @Field(key: "disabled") public var disabled: Bool
    @Timestamp(key: "created_at", on: .create) public var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) public var updatedAt: Date?

    public init() {}

    public init(
        id: UUID? = nil, username: String, passwordHash: String, kind: AccountKind, name: String,
        idNumber: String? = nil, phone: String? = nil
    ) {
        self.id = id
        self.username = username
        self.passwordHash = passwordHash
        self.kind = kind
        self.name = name
        self.idNumber = idNumber
        self.phone = phone
        self.disabled = false
    }
}
