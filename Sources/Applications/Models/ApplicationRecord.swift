import Fluent
import Foundation

/// Statuses of an application (see README for the state machine).
public enum ApplicationStatus: String, Codable, Sendable, CaseIterable {
    case draft, submitted, accepted
    case inReview = "in_review"
    case correctionRequired = "correction_required"
    case approved, rejected, withdrawn, completed
    /// Refused at acceptance (不予受理): the clerk found the application not acceptable.
    case notAccepted = "not_accepted"
}

/// An application for a service by a person (possibly acting for an enterprise).
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class ApplicationRecord: Model, @unchecked Sendable {
    public static let schema = "applications_applications"

    @ID(key: .id) public var id: UUID?
    /// 14 digits a person can read out on the phone: YYYYMMDD + 6 digits.
    @Field(key: "number") public var number: String
    @Field(key: "service_id") public var serviceID: UUID
    @Field(key: "service_code") public var serviceCode: String
    @Field(key: "applicant_id") public var applicantID: UUID
    @OptionalField(key: "enterprise_id") public var enterpriseID: UUID?
    /// Last 6 characters of the applicant's ID number, for the public progress query.
    @Field(key: "id_tail") public var idTail: String
    @Field(key: "status") public var status: ApplicationStatus
    @Field(key: "form") public var form: String
    @OptionalField(key: "instance_id") public var instanceID: UUID?
    @OptionalField(key: "submitted_at") public var submittedAt: Date?
    @OptionalField(key: "decided_at") public var decidedAt: Date?
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date
    /// The 一件事 bundle application this one was split from, if any.
    @OptionalField(key: "bundle_application_id") public var bundleApplicationID: UUID?

    public init() {}
}

/// Which process a service runs (`joint-approval-demo` → its definition key). Services without one run
/// the default acceptance-then-approval process of their department.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
final class ProcessBinding: Model, @unchecked Sendable {
    static let schema = "applications_process_bindings"

    @ID(key: .id) var id: UUID?
    @Field(key: "service_id") var serviceID: UUID
    @Field(key: "process_key") var processKey: String

    init() {}

    init(serviceID: UUID, processKey: String) {
        self.serviceID = serviceID
        self.processKey = processKey
    }
}
