import Fluent
import NIOConcurrencyHelpers
import Foundation
import Identity
import SQLKit
import TongbanCore

/// Actions on a task.
public enum TaskAction: String, Codable, Sendable, CaseIterable {
    case claim, approve, reject, `return`, transfer, comment, urge, escalate

    /// Decisions end the task; the others leave it open.
    public var isDecision: Bool { [.approve, .reject, .return, .transfer].contains(self) }
}

/// What an action changed.
public struct ActionResult: Sendable {
    public var task: WorkflowTask
    public var instance: WorkflowInstance
    /// Tasks the action opened (next nodes, a transfer target).
    public var opened: [WorkflowTask]
}

/// Runs process definitions: deploys versions, starts instances, applies task actions and moves tokens
/// through task, parallel, join and exclusive nodes. Every action runs in one transaction; a task is
/// decided exactly once (the decision is a conditional update, and a second one answers 409).
public struct WorkflowEngine: Sendable {
    let db: any Database
    let clock: TongbanClock
    let calendar: WorkingCalendar
    let observers: WorkflowObservers
    let cache: WorkflowCache

    public init(
        db: any Database, clock: TongbanClock, calendar: WorkingCalendar = .china,
        observers: WorkflowObservers = WorkflowObservers(), cache: WorkflowCache = WorkflowCache()
    ) {
        self.db = db
        self.clock = clock
        self.calendar = calendar
        self.observers = observers
        self.cache = cache
    }

    /// Tells the subject's owner (e.g. Applications) what happened, inside the same transaction.
    /// `known` gives the open nodes when the caller knows them without asking (a new instance's open tasks
    /// are the ones its start opened).
    func notify(_ instance: WorkflowInstance, action: String, node: String?, tx: any Database, known: [String]? = nil) async throws {
        let observer = observers.observer(for: instance.subjectType)
        let listeners = observers.listeners(for: instance.subjectType)
        guard observer != nil || !listeners.isEmpty else { return }
        // A finished, rejected, withdrawn or returned instance has no open task (each of those ends or
        // cancels them all), so only a running one needs the query.
        var openNodes: [String] = []
        if instance.status == .running {
            if let known {
                openNodes = known
            } else {
                openNodes = try await WorkflowStore(tx).openNodes(instance: try instance.requireID())
            }
        }
        let change = WorkflowChange(instance: instance, action: action, node: node, openNodes: openNodes)
        try await observer?(change, tx)
        for listener in listeners { try await listener(change, tx) }
    }

    struct EngineState: Codable {
        var arrivals: [String: Int] = [:]
        /// Nodes whose tasks a return for correction cancelled; `resume` reopens them.
        var suspended: [String] = []
    }

    // MARK: Definitions

    /// Validates and stores a new version of the definition's key (versions start at 1).
    public func deploy(_ definition: ProcessDefinition) async throws -> DefinitionRecord {
        let problems = definition.problems()
        if !problems.isEmpty { throw Problem.validation(problems) }
        let body = try Self.encode(definition)
        let latest = try await DefinitionRecord.query(on: db).filter(\.$key == definition.key).sort(\.$version, .descending)
            .first()
        if let latest, latest.body == body { return latest }
        let record = DefinitionRecord()
        record.key = definition.key
        record.version = (latest?.version ?? 0) + 1
        record.body = body
        record.createdAt = clock.now()
        try await record.create(on: db)
        return record
    }

    /// The definition of a stored version, decoded once per application.
    func definition(_ recordID: UUID, tx: any Database) async throws -> ProcessDefinition {
        if let cached = cache.definitions.withLockedValue({ $0[recordID] }) { return cached }
        guard let record = try await DefinitionRecord.find(recordID, on: tx) else {
            throw Problem(.internalServerError, detail: "process definition \(recordID) missing")
        }
        let definition = try record.definition()
        cache.definitions.withLockedValue { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[recordID] = definition
        }
        return definition
    }

    /// The newest version of `key`.
    public func latest(_ key: String) async throws -> DefinitionRecord? {
        try await DefinitionRecord.query(on: db).filter(\.$key == key).sort(\.$version, .descending).first()
    }

    // MARK: Instances

    /// Starts the newest version of `key` for a subject; the instance keeps that version to the end.
    public func start(
        key: String, subjectType: String, subjectID: UUID, variables: [String: JSONValue], actor: UUID?,
        instanceID: UUID? = nil
    ) async throws -> (WorkflowInstance, [WorkflowTask]) {
        guard let record = try await WorkflowStore(db).latestDefinition(key) else {
            throw Problem.notFound("Process definition", type: "/problems/process-not-found")
        }
        let definition = try await self.definition(record.id, tx: db)
        return try await db.writeTransaction { tx in
            let store = try WorkflowStore(tx)
            let now = clock.now()
            let instance = WorkflowInstance()
            instance.id = instanceID
            instance.definitionID = record.id
            instance.definitionKey = record.key
            instance.definitionVersion = record.version
            instance.subjectType = subjectType
            instance.subjectID = subjectID
            instance.status = .running
            instance.variables = try Self.encode(variables)
            instance.state = try Self.encode(EngineState())
            instance.createdAt = now
            instance.updatedAt = now
            try await store.insert(instance)
            var state = EngineState()
            var opened: [WorkflowTask] = []
            let events = EventBatch()
            try await event(tx, instance, task: nil, node: definition.start?.id, actor: actor, action: "start", comment: nil, into: events)
            if let start = definition.start, let next = start.next {
                try await advance(to: next, definition, instance, &state, variables, tx, &opened, actor: actor, events: events)
            }
            try await insertOpened(opened, tx: tx)
            try await events.flush(tx)
            let finalState = try Self.encode(state)
            if finalState != instance.state || instance.status != .running {
                instance.state = finalState
                try await store.update(instance)
            }
            try await notify(instance, action: "start", node: nil, tx: tx, known: opened.map(\.nodeID))
            return (instance, opened)
        }
    }

    /// Applies `action` to a task for `actor`. 404 for an unknown task, 403 when the actor may not act on
    /// it, 409 when it is already decided, claimed by someone else, or its instance is not running.
    public func act(
        taskID: UUID, action: TaskAction, actor: Principal, comment: String?,
        transferTo: ProcessDefinition.Assignee? = nil
    ) async throws -> ActionResult {
        guard let task = try await WorkflowStore(db).task(taskID) else {
            throw Problem.notFound("Task", type: "/problems/task-not-found")
        }
        guard task.isEligible(actor) || actor.isSystemAdmin else {
            throw Problem.notFound("Task", type: "/problems/task-not-found")
        }
        // Decided already: answer without queueing for the write lock (the check repeats inside).
        if !task.status.isOpen { throw Self.alreadyDecided }
        if action == .return || action == .reject {
            guard let comment, !comment.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Problem.validation([FieldError(field: "comment", message: "is required for \(action.rawValue)")])
            }
        }
        if action == .transfer && transferTo == nil {
            throw Problem.validation([FieldError(field: "transferTo", message: "is required for transfer")])
        }
        return try await db.writeTransaction { tx in
            let store = try WorkflowStore(tx)
            guard let instance = try await store.instance(task.instanceID, locked: true) else {
                throw Problem.notFound("Task", type: "/problems/task-not-found")
            }
            guard instance.status == .running else {
                throw Problem.conflict("The process is \(instance.status.rawValue).", type: "/problems/process-not-running")
            }
            let now = clock.now()
            switch action {
            case .comment, .urge, .escalate:
                guard let fresh = try await store.task(taskID), fresh.status.isOpen else {
                    throw Self.alreadyDecided
                }
                try await event(tx, instance, task: fresh, node: fresh.nodeID, actor: actor.userID, action: action.rawValue, comment: comment)
                return ActionResult(task: fresh, instance: instance, opened: [])
            case .claim:
                guard let fresh = try await store.decide(
                    taskID, to: .claimed, actor: actor.userID, now: now, comment: nil, claimOnly: true)
                else { throw Self.alreadyDecided }
                try await event(tx, instance, task: fresh, node: fresh.nodeID, actor: actor.userID, action: "claim", comment: comment)
                return ActionResult(task: fresh, instance: instance, opened: [])
            case .approve, .reject, .return, .transfer:
                let status: TaskStatus = switch action {
                case .approve: .approved
                case .reject: .rejected
                case .return: .returned
                default: .transferred
                }
                guard let decided = try await store.decide(
                    taskID, to: status, actor: actor.userID, now: now, comment: comment, claimOnly: false)
                else { throw Self.alreadyDecided }
                // The decision's event and those its moves add (a branch taken, the process completed) are
                // written together, before anything reads them (the observers).
                let events = EventBatch()
                try await event(
                    tx, instance, task: decided, node: decided.nodeID, actor: actor.userID, action: action.rawValue, comment: comment,
                    into: events)
                let definition = try await self.definition(instance.definitionID, tx: tx)
                var state = try Self.decode(EngineState.self, instance.state)
                let variables = try Self.decode([String: JSONValue].self, instance.variables)
                var opened: [WorkflowTask] = []
                switch action {
                case .approve:
                    let instanceID = try instance.requireID()
                    let groupDone: Bool
                    if decided.mode == .any {
                        // A node with one assignee has no other open task in its group (a transfer decides
                        // the task it replaces), so only countersign groups need the cancelling UPDATE.
                        if (definition.node(decided.nodeID)?.assignees?.count ?? 0) > 1 {
                            try await store.cancelOpen(instance: instanceID, group: decided.groupID, now: now)
                        }
                        groupDone = true
                    } else {
                        groupDone = try await store.openCount(instance: instanceID, group: decided.groupID) == 0
                    }
                    if groupDone {
                        if let next = definition.node(decided.nodeID)?.next {
                            try await advance(to: next, definition, instance, &state, variables, tx, &opened, actor: actor.userID, events: events)
                        }
                    }
                case .reject:
                    try await cancelOpenTasks(instance, tx, now)
                    instance.status = .rejected
                    instance.finishedAt = now
                case .return:
                    let open = try await store.openNodes(instance: instance.requireID())
                    state.suspended = Array(Set(open + [decided.nodeID])).sorted()
                    try await cancelOpenTasks(instance, tx, now)
                    instance.status = .returned
                default:
                    guard let transferTo else { break }
                    let target = try await makeTask(
                        node: definition.node(decided.nodeID), nodeID: decided.nodeID, assignee: transferTo,
                        group: decided.groupID, mode: decided.mode, instance: instance, tx: tx, now: now)
                    opened.append(target)
                }
                try await insertOpened(opened, tx: tx)
                try await events.flush(tx)
                instance.state = try Self.encode(state)
                instance.updatedAt = now
                try await store.update(instance)
                try await notify(instance, action: action.rawValue, node: decided.nodeID, tx: tx)
                return ActionResult(task: decided, instance: instance, opened: opened)
            }
        }
    }

    /// Resumes a returned instance after correction: merges `variables` and reopens the suspended nodes.
    public func resume(instanceID: UUID, variables: [String: JSONValue], actor: UUID?) async throws -> [WorkflowTask] {
        try await db.writeTransaction { tx in
            let store = try WorkflowStore(tx)
            guard let instance = try await store.instance(instanceID, locked: true) else {
                throw Problem.notFound("Process", type: "/problems/process-not-found")
            }
            guard instance.status == .returned else {
                throw Problem.conflict("Only a process returned for correction can be resumed.", type: "/problems/process-not-returned")
            }
            let definition = try await self.definition(instance.definitionID, tx: tx)
            var state = try Self.decode(EngineState.self, instance.state)
            var merged = try Self.decode([String: JSONValue].self, instance.variables)
            merged.merge(variables) { $1 }
            instance.variables = try Self.encode(merged)
            instance.status = .running
            var opened: [WorkflowTask] = []
            let nodes = state.suspended
            state.suspended = []
            let events = EventBatch()
            try await event(tx, instance, task: nil, node: nil, actor: actor, action: "resume", comment: nil, into: events)
            for node in nodes {
                try await advance(to: node, definition, instance, &state, merged, tx, &opened, actor: actor, events: events)
            }
            try await insertOpened(opened, tx: tx)
            try await events.flush(tx)
            instance.state = try Self.encode(state)
            instance.updatedAt = clock.now()
            try await store.update(instance)
            try await notify(instance, action: "resume", node: nil, tx: tx)
            return opened
        }
    }

    /// Withdraws a running or returned instance (the applicant's choice before a decision).
    public func withdraw(instanceID: UUID, actor: UUID?, reason: String?) async throws {
        try await db.writeTransaction { tx in
            let store = try WorkflowStore(tx)
            guard let instance = try await store.instance(instanceID, locked: true) else {
                throw Problem.notFound("Process", type: "/problems/process-not-found")
            }
            guard instance.status == .running || instance.status == .returned else {
                throw Problem.conflict("The process is already \(instance.status.rawValue).", type: "/problems/process-finished")
            }
            let now = clock.now()
            try await cancelOpenTasks(instance, tx, now)
            instance.status = .withdrawn
            instance.finishedAt = now
            instance.updatedAt = now
            try await store.update(instance)
            try await event(tx, instance, task: nil, node: nil, actor: actor, action: "withdraw", comment: reason)
            try await notify(instance, action: "withdraw", node: nil, tx: tx)
        }
    }

    /// Open tasks `principal` may act on: assigned to them, or to a role they hold in that department, and
    /// not claimed by someone else. Oldest first.
    public func inbox(for principal: Principal, paging: Paging) async throws -> [WorkflowTask] {
        let pairs = principal.grants.compactMap { grant in grant.departmentID.map { ($0, grant.role) } }
        let query = WorkflowTask.query(on: db).filter(\.$status ~~ [.open, .claimed]).group(.or) { or in
            or.filter(\.$assigneeID == principal.userID)
            for (department, role) in pairs {
                or.group(.and) { and in
                    and.filter(\.$departmentID == department).filter(\.$role == role).filter(\.$assigneeID == nil)
                }
            }
        }
        let tasks = try await query.sort(\.$createdAt).sort(\.$id).range(paging.offset..<(paging.offset + paging.limit + 1)).all()
        return tasks.filter { $0.claimedBy == nil || $0.claimedBy == principal.userID }
    }

    /// One row of the inbox: the task and its instance's subject, read in one query without building models.
    public struct InboxRow: Decodable, Sendable {
        public var id: UUID
        public var instanceId: UUID
        public var nodeId: String
        public var name: String
        public var status: TaskStatus
        public var departmentId: UUID?
        public var role: StaffRole?
        public var claimedBy: UUID?
        public var dueAt: Date?
        public var createdAt: Date
        public var decidedAt: Date?
        public var comment: String?
        public var subjectType: String
        public var subjectId: UUID
    }

    /// The same inbox as ``inbox(for:paging:)`` (one row more than the page, for the cursor), as plain rows
    /// joined with their instances: the API answers it on every refresh of every staff member.
    public func inboxRows(for principal: Principal, paging: Paging) async throws -> [InboxRow] {
        guard let sql = db as? any SQLDatabase else { return [] }
        let tasks = WorkflowTask.schema
        let pairs = principal.grants.compactMap { grant in grant.departmentID.map { ($0, grant.role) } }
        let columns = ["id", "instance_id", "node_id", "name", "status", "department_id", "role", "claimed_by", "due_at",
                       "created_at", "decided_at", "comment"].map { SQLColumn($0, table: tasks) as any SQLExpression }
        let rows = try await sql.select()
            .columns(columns + [SQLColumn("subject_type", table: WorkflowInstance.schema), SQLColumn("subject_id", table: WorkflowInstance.schema)])
            .from(tasks)
            .join(WorkflowInstance.schema, on: SQLColumn("instance_id", table: tasks), .equal, SQLColumn("id", table: WorkflowInstance.schema))
            .where(SQLColumn("status", table: tasks), .in, SQLBind.group([TaskStatus.open.rawValue, TaskStatus.claimed.rawValue]))
            .where { group in
                var group = group.where(SQLColumn("assignee_id", table: tasks), .equal, SQLBind(principal.userID))
                for (department, role) in pairs {
                    group = group.orWhere { pair in
                        pair.where(SQLColumn("department_id", table: tasks), .equal, SQLBind(department))
                            .where(SQLColumn("role", table: tasks), .equal, SQLBind(role.rawValue))
                            .where(SQLColumn("assignee_id", table: tasks), .is, SQLLiteral.null)
                    }
                }
                return group
            }
            .where { group in
                group.where(SQLColumn("claimed_by", table: tasks), .is, SQLLiteral.null)
                    .orWhere(SQLColumn("claimed_by", table: tasks), .equal, SQLBind(principal.userID))
            }
            .orderBy(SQLColumn("created_at", table: tasks)).orderBy(SQLColumn("id", table: tasks))
            .limit(paging.limit + 1).offset(paging.offset)
            .all()
        // Column by column: the keyed row decoder converted every key from snake case on every row.
        return try rows.map { row in
            InboxRow(
                id: try row.decode(column: "id", as: UUID.self), instanceId: try row.decode(column: "instance_id", as: UUID.self),
                nodeId: try row.decode(column: "node_id", as: String.self), name: try row.decode(column: "name", as: String.self),
                status: try WorkflowStore.enumValue(row, "status"),
                departmentId: try row.decode(column: "department_id", as: UUID?.self),
                role: try row.decode(column: "role", as: String?.self).flatMap(StaffRole.init(rawValue:)),
                claimedBy: try row.decode(column: "claimed_by", as: UUID?.self), dueAt: try row.decode(column: "due_at", as: Date?.self),
                createdAt: try row.decode(column: "created_at", as: Date.self),
                decidedAt: try row.decode(column: "decided_at", as: Date?.self),
                comment: try row.decode(column: "comment", as: String?.self),
                subjectType: try row.decode(column: "subject_type", as: String.self),
                subjectId: try row.decode(column: "subject_id", as: UUID.self))
        }
    }

    /// The events of an instance, oldest first.
    public func timeline(_ instanceID: UUID) async throws -> [WorkflowEvent] {
        try await WorkflowStore(db).events(instance: instanceID)
    }

    // MARK: Moving tokens

    func advance(
        to nodeID: String, _ definition: ProcessDefinition, _ instance: WorkflowInstance, _ state: inout EngineState,
        _ variables: [String: JSONValue], _ tx: any Database, _ opened: inout [WorkflowTask], actor: UUID?,
        events: EventBatch
    ) async throws {
        guard let node = definition.node(nodeID) else { throw Problem(.internalServerError, detail: "unknown node \(nodeID)") }
        let now = clock.now()
        switch node.type {
        case .start:
            if let next = node.next { try await advance(to: next, definition, instance, &state, variables, tx, &opened, actor: actor, events: events) }
        case .task:
            let group = UUID()
            for assignee in node.assignees ?? [] {
                opened.append(
                    try await makeTask(
                        node: node, nodeID: node.id, assignee: assignee, group: group, mode: node.mode ?? .all,
                        instance: instance, tx: tx, now: now))
            }
        case .parallel:
            for branch in node.branches ?? [] {
                try await advance(to: branch, definition, instance, &state, variables, tx, &opened, actor: actor, events: events)
            }
        case .join:
            let arrived = (state.arrivals[node.id] ?? 0) + 1
            if arrived >= definition.inDegree(node.id) {
                state.arrivals[node.id] = nil
                if let next = node.next { try await advance(to: next, definition, instance, &state, variables, tx, &opened, actor: actor, events: events) }
            } else {
                state.arrivals[node.id] = arrived
            }
        case .exclusive:
            let chosen = node.conditions?.first { $0.when.matches(variables) }?.next ?? node.default
            try await event(tx, instance, task: nil, node: node.id, actor: actor, action: "branch", comment: chosen, into: events)
            if let chosen { try await advance(to: chosen, definition, instance, &state, variables, tx, &opened, actor: actor, events: events) }
        case .end:
            // Tasks opened by this action are not written yet (see `insertOpened`); any of them keeps it running.
            if opened.isEmpty, try await WorkflowStore(tx).openNodes(instance: instance.requireID()).isEmpty {
                instance.status = .completed
                instance.finishedAt = now
                try await event(tx, instance, task: nil, node: node.id, actor: actor, action: "complete", comment: nil, into: events)
            }
        }
    }

    func makeTask(
        node: ProcessDefinition.Node?, nodeID: String, assignee: ProcessDefinition.Assignee, group: UUID,
        mode: ProcessDefinition.Mode, instance: WorkflowInstance, tx: any Database, now: Date
    ) async throws -> WorkflowTask {
        let task = WorkflowTask()
        task.instanceID = try instance.requireID()
        task.nodeID = nodeID
        task.name = node?.name ?? nodeID
        task.groupID = group
        task.mode = mode
        task.status = .open
        task.createdAt = now
        if let username = assignee.user {
            guard let user = try await User.query(on: tx).filter(\.$username == username).first() else {
                throw Problem.validation([FieldError(field: "assignee", message: "names no user '\(username)'")])
            }
            task.assigneeID = user.id
        } else if let code = assignee.department, let role = assignee.role {
            if let cached = cache.departmentIDs.withLockedValue({ $0[code] }) {
                task.departmentID = cached
            } else {
                let directory = DirectoryService(db: tx)
                let department: DepartmentInfo?
                if let id = UUID(uuidString: code) {
                    department = try await directory.department(id: id)
                } else {
                    department = try await directory.department(code: code)
                }
                guard let department else {
                    throw Problem.validation([FieldError(field: "assignee", message: "names no department '\(code)'")])
                }
                cache.departmentIDs.withLockedValue { $0[code] = department.id }
                task.departmentID = department.id
            }
            task.role = role
        }
        if let days = node?.days { task.dueAt = calendar.deadline(from: now, workingDays: days) }
        task.id = UUID()
        return task
    }

    /// Writes the tasks an action opened, in one INSERT, and their time-limit timers (yellow at 80 %, red
    /// when due) in one more: a new task's timers cannot exist yet. Runs before anything reads open tasks
    /// back (the instance update, the observers); `makeTask` only builds them.
    func insertOpened(_ tasks: [WorkflowTask], tx: any Database) async throws {
        guard !tasks.isEmpty else { return }
        try await WorkflowStore(tx).insert(tasks)
        var timers: [JobQueue.NewJob] = []
        for task in tasks {
            guard let due = task.dueAt, let id = task.id else { continue }
            let created = task.createdAt
            let yellow = created.addingTimeInterval(due.timeIntervalSince(created) * 0.8)
            timers.append(try .init(kind: WorkflowModule.slaJob, payload: SLAPayload(taskID: id, level: "yellow"), runAt: yellow, dedupeKey: "wf-sla:\(id):yellow"))
            timers.append(try .init(kind: WorkflowModule.slaJob, payload: SLAPayload(taskID: id, level: "red"), runAt: due, dedupeKey: "wf-sla:\(id):red"))
        }
        try await JobQueue(db: tx, clock: clock).enqueueNew(timers)
    }

    func cancelOpenTasks(_ instance: WorkflowInstance, _ tx: any Database, _ now: Date) async throws {
        try await WorkflowStore(tx).cancelOpen(instance: instance.requireID(), now: now)
    }

    /// Records an event on an open task without changing it (SLA warnings, an applicant's urge).
    public func recordTaskEvent(_ task: WorkflowTask, action: String, actor: UUID?, comment: String?) async throws {
        try await record(db, instanceID: task.instanceID, task: task, node: task.nodeID, actor: actor, action: action, comment: comment)
    }

    func event(
        _ tx: any Database, _ instance: WorkflowInstance, task: WorkflowTask?, node: String?, actor: UUID?, action: String,
        comment: String?, into batch: EventBatch? = nil
    ) async throws {
        guard let batch else {
            return try await record(tx, instanceID: try instance.requireID(), task: task, node: node, actor: actor, action: action, comment: comment)
        }
        batch.rows.append(WorkflowStore.EventRow(
            instance: try instance.requireID(), task: task?.id, node: node, actor: actor, action: action,
            comment: comment.map { String($0.prefix(2000)) }, at: clock.now()))
    }

    func record(
        _ tx: any Database, instanceID: UUID, task: WorkflowTask?, node: String?, actor: UUID?, action: String,
        comment: String?
    ) async throws {
        let comment = comment.map { String($0.prefix(2000)) }
        try await WorkflowStore(tx).insertEvent(
            instance: instanceID, task: task?.id, node: node, actor: actor, action: action, comment: comment, at: clock.now())
    }

    static let alreadyDecided = Problem(
        .conflict, type: "/problems/task-already-decided", title: "Task already decided",
        detail: "This task was already decided, or another person has claimed it.")

    static func encode(_ value: some Encodable) throws -> String { try JSONText.encode(value) }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try JSONText.decode(type, text) }
}

/// Events of one action, written in one INSERT (`flush`) instead of one each. Used by one task at a time.
final class EventBatch: @unchecked Sendable {
    var rows: [WorkflowStore.EventRow] = []

    func flush(_ tx: any Database) async throws {
        guard !rows.isEmpty else { return }
        try await WorkflowStore(tx).insertEvents(rows)
        rows = []
    }
}

/// Payload of an SLA timer job.
struct SLAPayload: Codable, Sendable {
    var taskID: UUID
    var level: String
}
