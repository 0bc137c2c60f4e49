import Fluent
import Foundation
import TongbanCore
import Vapor

/// The workflow engine: process definitions as data, instances, tasks, actions, SLA timers.
/// Applications and Cases drive it through ``WorkflowEngine``.
public struct WorkflowModule: TongbanModule {
    public let name = "workflow"
    static let slaJob = "workflow.sla"

    public init() {}

    public var migrations: [any Migration] { [CreateWorkflowSchema()] }

    public func boot(_ app: Application) throws {
        // Created at boot, before requests run concurrently (application storage is not for racing writers).
        _ = app.workflowObservers
        _ = app.workflowCache
        try app.register(collection: TasksController())
        let docs = app.apiDocumentation
        let task = Schema.object([
            "id": Schema.uuid, "applicationId": Schema.uuid, "instanceId": Schema.uuid, "nodeId": Schema.string,
            "name": Schema.string, "status": Schema.string, "departmentId": Schema.uuid, "role": Schema.string,
            "dueAt": Schema.dateTime, "createdAt": Schema.dateTime,
        ])
        docs.addSchema("Task", task)
        docs.add(
            APIOperation(
                .GET, "/api/v1/tasks", summary: "The caller's task inbox", tag: "workflow", requiresAuth: true,
                response: Schema.page(of: Schema.ref("Task")), problems: [401, 422], query: ["limit", "cursor"]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/tasks/{id}/actions",
                summary: "Act on a task: accept, claim, approve, reject, return, transfer, comment, urge, escalate",
                tag: "workflow", requiresAuth: true,
                request: Schema.object(
                    [
                        "action": Schema.string, "comment": Schema.string,
                        "transferTo": Schema.object(["department": Schema.string, "role": Schema.string, "user": Schema.string]),
                    ], required: ["action"]),
                response: Schema.object([
                    "task": Schema.ref("Task"), "instanceStatus": Schema.string, "opened": Schema.array(Schema.ref("Task")),
                ]), problems: [401, 404, 409, 422]))
        app.jobs.register(Self.slaJob) { job, app in
            let payload = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: SLAPayload.self)
            try await Self.fireSLA(payload, app: app)
        }
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {}

    /// Records a yellow (80 % of the limit) or red (overdue) warning on a task that is still open.
    /// The subject's owner is told (e.g. to notify the staff) in the same transaction.
    static func fireSLA(_ payload: SLAPayload, app: Application) async throws {
        let observers = app.workflowObservers
        try await app.db.writeTransaction { tx in
            guard let task = try await WorkflowTask.find(payload.taskID, on: tx), task.status.isOpen,
                let instance = try await WorkflowInstance.find(task.instanceID, on: tx), instance.status == .running
            else { return }
            try await app.workflowEngine(on: tx).recordTaskEvent(
                task, action: payload.level == "red" ? "sla_overdue" : "sla_warning", actor: nil, comment: nil)
            try await observers.timeLimitObserver(for: instance.subjectType)?(task, instance, payload.level, tx)
        }
    }
}
