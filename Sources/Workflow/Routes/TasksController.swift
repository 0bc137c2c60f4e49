import Fluent
import Foundation
import TongbanCore
import Vapor

/// The staff inbox and task actions.
struct TasksController: RouteCollection {
    struct TaskView: Content {
        var id: UUID
        var applicationId: UUID?
        var subjectType: String
        var subjectId: UUID
        var instanceId: UUID
        var nodeId: String
        var name: String
        var status: TaskStatus
        var departmentId: UUID?
        var role: StaffRole?
        var claimedBy: UUID?
        var dueAt: Date?
        var createdAt: Date
        var decidedAt: Date?
        var comment: String?
    }

    struct ActionRequest: Content {
        var action: String?
        var comment: String?
        var transferTo: ProcessDefinition.Assignee?
    }

    struct ActionResponse: Content {
        var task: TaskView
        var instanceStatus: InstanceStatus
        var opened: [TaskView]
    }

    func boot(routes: any RoutesBuilder) throws {
        let tasks = routes.grouped("api", "v1", "tasks")
        tasks.get(use: inbox)
        tasks.post(":id", "actions", use: act)
    }

    static func view(_ task: WorkflowTask, _ instances: [UUID: WorkflowInstance]) -> TaskView {
        let instance = instances[task.instanceID]
        return TaskView(
            id: task.id ?? UUID(), applicationId: instance?.subjectType == "application" ? instance?.subjectID : nil,
            subjectType: instance?.subjectType ?? "", subjectId: instance?.subjectID ?? UUID(), instanceId: task.instanceID,
            nodeId: task.nodeID, name: task.name, status: task.status, departmentId: task.departmentID, role: task.role,
            claimedBy: task.claimedBy, dueAt: task.dueAt, createdAt: task.createdAt, decidedAt: task.decidedAt,
            comment: task.comment)
    }

    static func instances(for tasks: [WorkflowTask], db: any Database) async throws -> [UUID: WorkflowInstance] {
        let ids = Array(Set(tasks.map(\.instanceID)))
        guard !ids.isEmpty else { return [:] }
        let rows = try await WorkflowInstance.query(on: db).filter(\.$id ~~ ids).all()
        return Dictionary(uniqueKeysWithValues: rows.compactMap { row in row.id.map { ($0, row) } })
    }

    /// GET /api/v1/tasks — signed in. Open tasks the caller may act on, oldest first.
    @Sendable func inbox(req: Request) async throws -> CursorPage<TaskView> {
        let principal = try req.requirePrincipal()
        let paging = try Paging(from: req)
        let rows = try await req.application.workflowEngine(on: req.db).inboxRows(for: principal, paging: paging)
        return paging.page(rows.map { row in
            TaskView(
                id: row.id, applicationId: row.subjectType == "application" ? row.subjectId : nil, subjectType: row.subjectType,
                subjectId: row.subjectId, instanceId: row.instanceId, nodeId: row.nodeId, name: row.name, status: row.status,
                departmentId: row.departmentId, role: row.role, claimedBy: row.claimedBy, dueAt: row.dueAt, createdAt: row.createdAt,
                decidedAt: row.decidedAt, comment: row.comment)
        })
    }

    /// POST /api/v1/tasks/{id}/actions — staff eligible for the task. `accept` is `approve` at acceptance.
    /// 404 unknown or not visible; 409 already decided, claimed by another, or process not running; 422 bad action.
    @Sendable func act(req: Request) async throws -> ActionResponse {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Task", type: "/problems/task-not-found") }
        let body = try req.content.decode(ActionRequest.self)
        let raw = (body.action ?? "").lowercased()
        guard let action = raw == "accept" ? .approve : TaskAction(rawValue: raw) else {
            throw Problem.validation([
                FieldError(
                    field: "action",
                    message: "must be one of accept, \(TaskAction.allCases.map(\.rawValue).joined(separator: ", "))")
            ])
        }
        if let comment = body.comment, comment.count > 2000 {
            throw Problem.validation([FieldError(field: "comment", message: "must have at most 2000 characters")])
        }
        let result = try await req.application.workflowEngine(on: req.db).act(
            taskID: id, action: action, actor: principal, comment: body.comment, transferTo: body.transferTo)
        var instances: [UUID: WorkflowInstance] = [:]
        if let instanceID = result.instance.id { instances[instanceID] = result.instance }
        return ActionResponse(
            task: Self.view(result.task, instances), instanceStatus: result.instance.status,
            opened: result.opened.map { Self.view($0, instances) })
    }
}
