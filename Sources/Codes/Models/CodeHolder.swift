import Fluent
import Foundation

/// A person who holds codes: the link between the account and the pseudonym that codes carry.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class CodeHolder: Model, @unchecked Sendable {
    public static let schema = "codes_holders"

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    /// 128 random bits in base64url: what codes carry instead of any personal identifier.
    @Field(key: "pseudonym") public var pseudonym: String
    /// The medical-insurance number (医保编号) a hospital scenario may read.
    @Field(key: "insurance_number") public var insuranceNumber: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}
