import Fluent
import Foundation
import TongbanCore

/// A deployed version of a process definition. Versions are immutable.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class DefinitionRecord: Model, @unchecked Sendable {
    public static let schema = "workflow_definitions"

    @ID(key: .id) public var id: UUID?
    @Field(key: "key") public var key: String
    @Field(key: "version") public var version: Int
    @Field(key: "body") public var body: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    public func definition() throws -> ProcessDefinition {
        try JSONDecoder().decode(ProcessDefinition.self, from: Data(body.utf8))
    }
}

/// States of a process instance.
public enum InstanceStatus: String, Codable, Sendable, CaseIterable {
    case running
    /// Returned to the applicant for correction; resumes where it stopped.
    case returned
    case completed
    case rejected
    case withdrawn
}

/// A running (or finished) process for one subject, e.g. an application.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class WorkflowInstance: Model, @unchecked Sendable {
    public static let schema = "workflow_instances"

    @ID(key: .id) public var id: UUID?
    @Field(key: "definition_id") public var definitionID: UUID
    @Field(key: "definition_key") public var definitionKey: String
    @Field(key: "definition_version") public var definitionVersion: Int
    @Field(key: "subject_type") public var subjectType: String
    @Field(key: "subject_id") public var subjectID: UUID
    @Field(key: "status") public var status: InstanceStatus
    /// Form data and other values that branch conditions read (JSON object).
    @Field(key: "variables") public var variables: String
    /// Engine bookkeeping: join arrivals, nodes suspended by a return (JSON).
    @Field(key: "state") public var state: String
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date
    @OptionalField(key: "finished_at") public var finishedAt: Date?

    public init() {}
}

/// States of a task.
public enum TaskStatus: String, Codable, Sendable, CaseIterable {
    case open
    case claimed
    case approved
    case rejected
    case returned
    case transferred
    case cancelled

    public var isOpen: Bool { self == .open || self == .claimed }
}

/// One piece of work for a department role or a named user.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class WorkflowTask: Model, @unchecked Sendable {
    public static let schema = "workflow_tasks"

    @ID(key: .id) public var id: UUID?
    @Field(key: "instance_id") public var instanceID: UUID
    @Field(key: "node_id") public var nodeID: String
    @Field(key: "name") public var name: String
    /// Tasks of one node activation (countersign group).
    @Field(key: "group_id") public var groupID: UUID
    @Field(key: "mode") public var mode: ProcessDefinition.Mode
    @OptionalField(key: "department_id") public var departmentID: UUID?
    @OptionalField(key: "role") public var role: StaffRole?
    @OptionalField(key: "assignee_id") public var assigneeID: UUID?
    @OptionalField(key: "claimed_by") public var claimedBy: UUID?
    @Field(key: "status") public var status: TaskStatus
    @OptionalField(key: "decided_by") public var decidedBy: UUID?
    @OptionalField(key: "decided_at") public var decidedAt: Date?
    @OptionalField(key: "comment") public var comment: String?
    @OptionalField(key: "due_at") public var dueAt: Date?
    @Field(key: "created_at") public var createdAt: Date

    public init() {}

    /// Whether `principal` may act on this task: the named user, or a holder of the role in the department.
    public func isEligible(_ principal: Principal) -> Bool {
        if let assigneeID { return assigneeID == principal.userID }
        guard let role, let departmentID else { return false }
        return principal.grants.contains { $0.role == role && $0.departmentID == departmentID }
    }
}

/// Every transition: who, when, which action, with what comment.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class WorkflowEvent: Model, @unchecked Sendable {
    public static let schema = "workflow_events"

    @ID(key: .id) public var id: UUID?
    @Field(key: "instance_id") public var instanceID: UUID
    @OptionalField(key: "task_id") public var taskID: UUID?
    @OptionalField(key: "node_id") public var nodeID: String?
    @OptionalField(key: "actor_id") public var actorID: UUID?
    @Field(key: "action") public var action: String
    @OptionalField(key: "comment") public var comment: String?
    @Field(key: "at") public var at: Date

    public init() {}
}
