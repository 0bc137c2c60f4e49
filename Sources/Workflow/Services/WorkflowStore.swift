import Fluent
import Foundation
import SQLKit
import TongbanCore

/// The engine's reads and writes as plain SQL.
///
/// Every application passes through these statements several times (start, acceptance, each joint
/// approval), so they skip Fluent's model layer: building a query from a model reflects over its
/// properties on every call, which was a fifth of the server's time in the applications benchmark.
/// The statements are written once, with quoted identifiers, and run unchanged on SQLite and PostgreSQL;
/// values are bound with the same encoders Fluent uses, so Fluent reads what these write and vice versa.
struct WorkflowStore {
    let sql: any SQLDatabase

    init(_ db: any Database) throws {
        guard let sql = db as? any SQLDatabase else {
            throw Problem(.internalServerError, detail: "the workflow engine needs an SQL database")
        }
        self.sql = sql
    }

    static let taskColumns =
        #""id", "instance_id", "node_id", "name", "group_id", "mode", "department_id", "role", "assignee_id", "claimed_by", "status", "decided_by", "decided_at", "comment", "due_at", "created_at""#
    static let instanceColumns =
        #""id", "definition_id", "definition_key", "definition_version", "subject_type", "subject_id", "status", "variables", "state", "created_at", "updated_at", "finished_at""#
    /// `status IN (open, claimed)`, as literals (constants, never user input).
    static let openStatuses = "('\(TaskStatus.open.rawValue)', '\(TaskStatus.claimed.rawValue)')"

    // MARK: Tasks

    func task(_ id: UUID) async throws -> WorkflowTask? {
        try await sql.raw("SELECT \(unsafeRaw: Self.taskColumns) FROM \"workflow_tasks\" WHERE \"id\" = \(bind: id)").first()
            .map(Self.task(from:))
    }

    /// Sets a task's status if it is still open (or, for a claim, unclaimed) and returns the changed row;
    /// nil when another decision came first.
    func decide(
        _ taskID: UUID, to status: TaskStatus, actor: UUID, now: Date, comment: String?, claimOnly: Bool
    ) async throws -> WorkflowTask? {
        let query: SQLQueryString
        if claimOnly {
            query = """
                UPDATE "workflow_tasks" SET "status" = \(bind: status.rawValue), "claimed_by" = \(bind: actor) \
                WHERE "id" = \(bind: taskID) AND "status" = '\(unsafeRaw: TaskStatus.open.rawValue)' \
                RETURNING \(unsafeRaw: Self.taskColumns)
                """
        } else {
            query = """
                UPDATE "workflow_tasks" SET "status" = \(bind: status.rawValue), "decided_by" = \(bind: actor), \
                "decided_at" = \(bind: now), "comment" = \(bind: comment) \
                WHERE "id" = \(bind: taskID) AND "status" IN \(unsafeRaw: Self.openStatuses) \
                AND ("claimed_by" IS NULL OR "claimed_by" = \(bind: actor)) \
                RETURNING \(unsafeRaw: Self.taskColumns)
                """
        }
        return try await sql.raw(query).first().map(Self.task(from:))
    }

    func insert(_ task: WorkflowTask) async throws {
        let id = task.id ?? UUID()
        task.id = id
        try await sql.raw("""
            INSERT INTO "workflow_tasks" (\(unsafeRaw: Self.taskColumns)) VALUES (\(bind: id), \(bind: task.instanceID), \
            \(bind: task.nodeID), \(bind: task.name), \(bind: task.groupID), \(bind: task.mode.rawValue), \
            \(bind: task.departmentID), \(bind: task.role?.rawValue), \(bind: task.assigneeID), \(bind: task.claimedBy), \
            \(bind: task.status.rawValue), \(bind: task.decidedBy), \(bind: task.decidedAt), \(bind: task.comment), \
            \(bind: task.dueAt), \(bind: task.createdAt))
            """).run()
        task.$id.exists = true
    }

    /// Inserts several tasks in one statement (the tasks an action opens, e.g. three parallel approvals).
    func insert(_ tasks: [WorkflowTask]) async throws {
        guard tasks.count > 1 else {
            if let task = tasks.first { try await insert(task) }
            return
        }
        var query = SQLQueryString("INSERT INTO \"workflow_tasks\" (" + Self.taskColumns + ") VALUES ")
        for (index, task) in tasks.enumerated() {
            let id = task.id ?? UUID()
            task.id = id
            let row: SQLQueryString = """
                (\(bind: id), \(bind: task.instanceID), \(bind: task.nodeID), \(bind: task.name), \(bind: task.groupID), \
                \(bind: task.mode.rawValue), \(bind: task.departmentID), \(bind: task.role?.rawValue), \(bind: task.assigneeID), \
                \(bind: task.claimedBy), \(bind: task.status.rawValue), \(bind: task.decidedBy), \(bind: task.decidedAt), \
                \(bind: task.comment), \(bind: task.dueAt), \(bind: task.createdAt))
                """
            if index > 0 { query.appendLiteral(", ") }
            query.appendInterpolation(row)
        }
        try await sql.raw(query).run()
        for task in tasks { task.$id.exists = true }
    }

    /// Open tasks of one countersign group, other than those just decided.
    func openCount(instance: UUID, group: UUID) async throws -> Int {
        let row = try await sql.raw("""
            SELECT COUNT(*) AS "n" FROM "workflow_tasks" WHERE "instance_id" = \(bind: instance) \
            AND "group_id" = \(bind: group) AND "status" IN \(unsafeRaw: Self.openStatuses)
            """).first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Cancels the open tasks of a group (an "any" countersign was decided) or of the whole instance.
    func cancelOpen(instance: UUID, group: UUID? = nil, now: Date) async throws {
        if let group {
            try await sql.raw("""
                UPDATE "workflow_tasks" SET "status" = '\(unsafeRaw: TaskStatus.cancelled.rawValue)', "decided_at" = \(bind: now) \
                WHERE "instance_id" = \(bind: instance) AND "group_id" = \(bind: group) AND "status" IN \(unsafeRaw: Self.openStatuses)
                """).run()
        } else {
            try await sql.raw("""
                UPDATE "workflow_tasks" SET "status" = '\(unsafeRaw: TaskStatus.cancelled.rawValue)', "decided_at" = \(bind: now) \
                WHERE "instance_id" = \(bind: instance) AND "status" IN \(unsafeRaw: Self.openStatuses)
                """).run()
        }
    }

    /// Node ids with open tasks, in no particular order (a node appears once per open task).
    func openNodes(instance: UUID) async throws -> [String] {
        try await sql.raw("""
            SELECT "node_id" FROM "workflow_tasks" WHERE "instance_id" = \(bind: instance) AND "status" IN \(unsafeRaw: Self.openStatuses)
            """).all().map { try $0.decode(column: "node_id", as: String.self) }
    }

    static func task(from row: any SQLRow) throws -> WorkflowTask {
        let task = WorkflowTask()
        task.id = try row.decode(column: "id", as: UUID.self)
        task.instanceID = try row.decode(column: "instance_id", as: UUID.self)
        task.nodeID = try row.decode(column: "node_id", as: String.self)
        task.name = try row.decode(column: "name", as: String.self)
        task.groupID = try row.decode(column: "group_id", as: UUID.self)
        task.mode = try Self.enumValue(row, "mode")
        task.departmentID = try row.decode(column: "department_id", as: UUID?.self)
        task.role = try row.decode(column: "role", as: String?.self).flatMap(StaffRole.init(rawValue:))
        task.assigneeID = try row.decode(column: "assignee_id", as: UUID?.self)
        task.claimedBy = try row.decode(column: "claimed_by", as: UUID?.self)
        task.status = try Self.enumValue(row, "status")
        task.decidedBy = try row.decode(column: "decided_by", as: UUID?.self)
        task.decidedAt = try row.decode(column: "decided_at", as: Date?.self)
        task.comment = try row.decode(column: "comment", as: String?.self)
        task.dueAt = try row.decode(column: "due_at", as: Date?.self)
        task.createdAt = try row.decode(column: "created_at", as: Date.self)
        task.$id.exists = true
        return task
    }

    // MARK: Instances

    /// The instance; `locked` also serialises actions on it (a row lock on PostgreSQL, taken by the same
    /// statement; SQLite serialises writers already).
    func instance(_ id: UUID, locked: Bool = false) async throws -> WorkflowInstance? {
        let lock = locked && sql.dialect.name == "postgresql" ? " FOR UPDATE" : ""
        return try await sql.raw("""
            SELECT \(unsafeRaw: Self.instanceColumns) FROM "workflow_instances" WHERE "id" = \(bind: id)\(unsafeRaw: lock)
            """).first().map(Self.instance(from:))
    }

    func insert(_ instance: WorkflowInstance) async throws {
        let id = instance.id ?? UUID()
        instance.id = id
        try await sql.raw("""
            INSERT INTO "workflow_instances" (\(unsafeRaw: Self.instanceColumns)) VALUES (\(bind: id), \(bind: instance.definitionID), \
            \(bind: instance.definitionKey), \(bind: instance.definitionVersion), \(bind: instance.subjectType), \
            \(bind: instance.subjectID), \(bind: instance.status.rawValue), \(bind: instance.variables), \(bind: instance.state), \
            \(bind: instance.createdAt), \(bind: instance.updatedAt), \(bind: instance.finishedAt))
            """).run()
        instance.$id.exists = true
    }

    /// Writes what the engine changes on an instance: status, state, variables and times.
    func update(_ instance: WorkflowInstance) async throws {
        try await sql.raw("""
            UPDATE "workflow_instances" SET "status" = \(bind: instance.status.rawValue), "state" = \(bind: instance.state), \
            "variables" = \(bind: instance.variables), "updated_at" = \(bind: instance.updatedAt), \
            "finished_at" = \(bind: instance.finishedAt) WHERE "id" = \(bind: try instance.requireID())
            """).run()
    }

    static func instance(from row: any SQLRow) throws -> WorkflowInstance {
        let instance = WorkflowInstance()
        instance.id = try row.decode(column: "id", as: UUID.self)
        instance.definitionID = try row.decode(column: "definition_id", as: UUID.self)
        instance.definitionKey = try row.decode(column: "definition_key", as: String.self)
        instance.definitionVersion = try row.decode(column: "definition_version", as: Int.self)
        instance.subjectType = try row.decode(column: "subject_type", as: String.self)
        instance.subjectID = try row.decode(column: "subject_id", as: UUID.self)
        instance.status = try Self.enumValue(row, "status")
        instance.variables = try row.decode(column: "variables", as: String.self)
        instance.state = try row.decode(column: "state", as: String.self)
        instance.createdAt = try row.decode(column: "created_at", as: Date.self)
        instance.updatedAt = try row.decode(column: "updated_at", as: Date.self)
        instance.finishedAt = try row.decode(column: "finished_at", as: Date?.self)
        instance.$id.exists = true
        return instance
    }

    // MARK: Definitions and events

    /// The newest version of a key: id, key and version (the body is decoded once and cached).
    func latestDefinition(_ key: String) async throws -> (id: UUID, key: String, version: Int)? {
        guard let row = try await sql.raw("""
            SELECT "id", "version" FROM "workflow_definitions" WHERE "key" = \(bind: key) ORDER BY "version" DESC LIMIT 1
            """).first()
        else { return nil }
        return (try row.decode(column: "id", as: UUID.self), key, try row.decode(column: "version", as: Int.self))
    }

    func insertEvent(
        instance: UUID, task: UUID?, node: String?, actor: UUID?, action: String, comment: String?, at: Date
    ) async throws {
        try await sql.raw("""
            INSERT INTO "workflow_events" ("id", "instance_id", "task_id", "node_id", "actor_id", "action", "comment", "at") \
            VALUES (\(bind: UUID()), \(bind: instance), \(bind: task), \(bind: node), \(bind: actor), \(bind: action), \
            \(bind: comment), \(bind: at))
            """).run()
    }

    struct EventRow {
        var instance: UUID
        var task: UUID?
        var node: String?
        var actor: UUID?
        var action: String
        var comment: String?
        var at: Date
    }

    /// Inserts events in one statement (a decision and what it moved, e.g. the last approval and "complete").
    func insertEvents(_ rows: [EventRow]) async throws {
        guard rows.count > 1 else {
            if let row = rows.first {
                try await insertEvent(
                    instance: row.instance, task: row.task, node: row.node, actor: row.actor, action: row.action, comment: row.comment,
                    at: row.at)
            }
            return
        }
        var query = SQLQueryString(
            #"INSERT INTO "workflow_events" ("id", "instance_id", "task_id", "node_id", "actor_id", "action", "comment", "at") VALUES "#)
        for (index, row) in rows.enumerated() {
            if index > 0 { query.appendLiteral(", ") }
            query.appendInterpolation("""
                (\(bind: UUID()), \(bind: row.instance), \(bind: row.task), \(bind: row.node), \(bind: row.actor), \(bind: row.action), \
                \(bind: row.comment), \(bind: row.at))
                """ as SQLQueryString)
        }
        try await sql.raw(query).run()
    }

    /// The events of an instance, oldest first.
    func events(instance: UUID) async throws -> [WorkflowEvent] {
        try await sql.raw("""
            SELECT "id", "instance_id", "task_id", "node_id", "actor_id", "action", "comment", "at" FROM "workflow_events" \
            WHERE "instance_id" = \(bind: instance) ORDER BY "at", "id"
            """).all().map { row in
            let event = WorkflowEvent()
            event.id = try row.decode(column: "id", as: UUID.self)
            event.instanceID = try row.decode(column: "instance_id", as: UUID.self)
            event.taskID = try row.decode(column: "task_id", as: UUID?.self)
            event.nodeID = try row.decode(column: "node_id", as: String?.self)
            event.actorID = try row.decode(column: "actor_id", as: UUID?.self)
            event.action = try row.decode(column: "action", as: String.self)
            event.comment = try row.decode(column: "comment", as: String?.self)
            event.at = try row.decode(column: "at", as: Date.self)
            event.$id.exists = true
            return event
        }
    }

    static func enumValue<T: RawRepresentable>(_ row: any SQLRow, _ column: String) throws -> T where T.RawValue == String {
        let raw = try row.decode(column: column, as: String.self)
        guard let value = T(rawValue: raw) else {
            throw Problem(.internalServerError, detail: "unexpected \(column) '\(raw)'")
        }
        return value
    }
}
