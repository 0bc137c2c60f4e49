import Fluent
import Foundation

/// A legal entity identified by its unified social credit code.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
public final class Enterprise: Model, @unchecked Sendable {
    public static let schema = "identity_enterprises"

    @ID(key: .id) public var id: UUID?
    @Field(key: "name") public var name: String
    @Field(key: "credit_code") public var creditCode: String
    @Field(key: "legal_representative_id") public var legalRepresentativeID: UUID
    @Timestamp(key: "created_at", on: .create) public var createdAt: Date?

    public init() {}

    public init(id: UUID? = nil, name: String, creditCode: String, legalRepresentativeID: UUID) {
        self.id = id
        self.name = name
        self.creditCode = creditCode
        self.legalRepresentativeID = legalRepresentativeID
    }
}

/// A member's role in an enterprise.
public enum EnterpriseRole: String, Codable, Sendable, CaseIterable {
    case legalRepresentative = "legal_representative"
    case agent
}

/// A person's membership of an enterprise.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
public final class EnterpriseMember: Model, @unchecked Sendable {
    public static let schema = "identity_enterprise_members"

    @ID(key: .id) public var id: UUID?
    @Field(key: "enterprise_id") public var enterpriseID: UUID
    @Field(key: "user_id") public var userID: UUID
    @Field(key: "role") public var role: EnterpriseRole
    @Timestamp(key: "created_at", on: .create) public var createdAt: Date?

    public init() {}

    public init(enterpriseID: UUID, userID: UUID, role: EnterpriseRole) {
        self.enterpriseID = enterpriseID
        self.userID = userID
        self.role = role
    }
}
