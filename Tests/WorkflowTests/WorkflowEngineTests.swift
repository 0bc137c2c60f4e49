import Fluent
import Foundation
import Identity
import Testing
import TestSupport
import TongbanCore
import Vapor
import Workflow

/// Staff and departments for engine tests.
struct World {
    let app: Application
    let engine: WorkflowEngine
    let departments: [String]

    static func make(_ app: Application) async throws -> World {
        let codes = try await Department.query(on: app.db).sort(\.$code).all().map(\.code)
        return World(app: app, engine: WorkflowEngine(db: app.db, clock: app.clock), departments: codes)
    }

    func staff(_ username: String, _ role: StaffRole, _ department: String) async throws -> Principal {
        let accounts = AccountService(db: app.db, hashing: app.passwordHashing, clock: app.clock)
        let id = try #require(try await Department.query(on: app.db).filter(\.$code == department).first()?.id)
        let user = try await accounts.createStaff(
            username: username, password: "Staff-password-2026", name: username, grants: [RoleGrant(departmentID: id, role: role)])
        return try await accounts.principal(for: user)
    }

    func task(_ node: String, _ assignee: [ProcessDefinition.Assignee], next: String, mode: ProcessDefinition.Mode? = nil, days: Int? = nil) -> ProcessDefinition.Node {
        .init(id: node, type: .task, name: node, next: next, assignees: assignee, mode: mode, days: days)
    }

    func role(_ department: Int, _ role: StaffRole = .approver) -> ProcessDefinition.Assignee {
        .init(department: departments[department], role: role)
    }

    func start(_ definition: ProcessDefinition, variables: [String: JSONValue] = [:]) async throws -> (WorkflowInstance, [WorkflowTask]) {
        _ = try await engine.deploy(definition)
        return try await engine.start(key: definition.key, subjectType: "test", subjectID: UUID(), variables: variables, actor: nil)
    }

    func status(_ instance: WorkflowInstance) async throws -> InstanceStatus? {
        try await WorkflowInstance.find(instance.id, on: app.db)?.status
    }
}

@Suite("Workflow engine")
struct WorkflowEngineTests {
    @Test func sequential_thenComplete() async throws {
        try await withTestApp(demo: true) { app in
            let w = try await World.make(app)
            let clerk = try await w.staff("wf-clerk", .clerk, w.departments[0])
            let approver = try await w.staff("wf-approver", .approver, w.departments[0])
            let definition = ProcessDefinition(key: "seq-flow", name: "顺序", nodes: [
                .init(id: "start", type: .start, next: "accept"),
                w.task("accept", [w.role(0, .clerk)], next: "approve"),
                w.task("approve", [w.role(0)], next: "end", days: 5),
                .init(id: "end", type: .end),
            ])
            let (instance, opened) = try await w.start(definition)
            #expect(opened.count == 1)
            // The approver cannot act on the clerk's task (it is not visible to them).
            await #expect(throws: Problem.self) { _ = try await w.engine.act(taskID: opened[0].id!, action: .approve, actor: approver, comment: nil) }
            #expect(try await w.engine.inbox(for: clerk, paging: Paging()).map(\.id) == [opened[0].id])
            #expect(try await w.engine.inbox(for: approver, paging: Paging()).isEmpty)
            let accepted = try await w.engine.act(taskID: opened[0].id!, action: .approve, actor: clerk, comment: "受理")
            #expect(accepted.opened.count == 1)
            #expect(accepted.opened[0].dueAt != nil)
            let done = try await w.engine.act(taskID: accepted.opened[0].id!, action: .approve, actor: approver, comment: nil)
            #expect(done.instance.status == .completed)
            let actions = try await w.engine.timeline(instance.id!).map(\.action)
            #expect(actions == ["start", "approve", "approve", "complete"])
            // SLA timers were scheduled for the 5-day task.
            #expect(try await Job.query(on: app.db).count() == 2)
        }
    }

    @Test func parallelAllOf_completesOnlyAfterEveryBranch() async throws {
        try await withTestApp(demo: true) { app in
            let w = try await World.make(app)
            let approvers = [
                try await w.staff("par-1", .approver, w.departments[1]), try await w.staff("par-2", .approver, w.departments[2]),
                try await w.staff("par-3", .approver, w.departments[3]),
            ]
            let definition = ProcessDefinition(key: "par-flow", name: "并联", nodes: [
                .init(id: "start", type: .start, next: "split"),
                .init(id: "split", type: .parallel, branches: ["a", "b", "c"]),
                w.task("a", [w.role(1)], next: "join"), w.task("b", [w.role(2)], next: "join"),
                w.task("c", [w.role(3)], next: "join"),
                .init(id: "join", type: .join, next: "end"),
                .init(id: "end", type: .end),
            ])
            let (instance, opened) = try await w.start(definition)
            #expect(opened.count == 3)
            for (index, task) in opened.enumerated() {
                let result = try await w.engine.act(taskID: task.id!, action: .approve, actor: approvers[index], comment: nil)
                #expect(result.instance.status == (index < 2 ? .running : .completed))
            }
            #expect(try await w.status(instance) == .completed)
        }
    }

    @Test func countersignAny_andAll() async throws {
        try await withTestApp(demo: true) { app in
            let w = try await World.make(app)
            let a = try await w.staff("cs-a", .approver, w.departments[1])
            let b = try await w.staff("cs-b", .approver, w.departments[2])
            for mode in [ProcessDefinition.Mode.any, .all] {
                let definition = ProcessDefinition(key: "cs-\(mode.rawValue)-flow", name: "会签", nodes: [
                    .init(id: "start", type: .start, next: "sign"),
                    w.task("sign", [w.role(1), w.role(2)], next: "end", mode: mode),
                    .init(id: "end", type: .end),
                ])
                let (instance, opened) = try await w.start(definition)
                let first = try await w.engine.act(taskID: opened[0].id!, action: .approve, actor: a, comment: nil)
                if mode == .any {
                    #expect(first.instance.status == .completed)
                    #expect(try await WorkflowTask.find(opened[1].id, on: app.db)?.status == .cancelled)
                } else {
                    #expect(first.instance.status == .running)
                    _ = try await w.engine.act(taskID: opened[1].id!, action: .approve, actor: b, comment: nil)
                    #expect(try await w.status(instance) == .completed)
                }
            }
        }
    }

    @Test func exclusiveBranch_followsTheFormData() async throws {
        try await withTestApp(demo: true) { app in
            let w = try await World.make(app)
            let definition = ProcessDefinition(key: "branch-flow", name: "分支", nodes: [
                .init(id: "start", type: .start, next: "route"),
                .init(id: "route", type: .exclusive, conditions: [.init(when: .init(field: "amount", op: .gt, value: 100_000), next: "big")], default: "small"),
                w.task("big", [w.role(1)], next: "end"), w.task("small", [w.role(2)], next: "end"),
                .init(id: "end", type: .end),
            ])
            let (_, big) = try await w.start(definition, variables: ["amount": 500_000])
            #expect(big.map(\.nodeID) == ["big"])
            let (_, small) = try await w.engine.start(key: "branch-flow", subjectType: "t", subjectID: UUID(), variables: ["amount": "20"], actor: nil)
            #expect(small.map(\.nodeID) == ["small"])
        }
    }

    @Test func returnAndResubmit_reopensEverySuspendedBranch() async throws {
        try await withTestApp(demo: true) { app in
            let w = try await World.make(app)
            let p1 = try await w.staff("rt-1", .approver, w.departments[1])
            let p2 = try await w.staff("rt-2", .approver, w.departments[2])
            let definition = ProcessDefinition(key: "ret-flow", name: "补正", nodes: [
                .init(id: "start", type: .start, next: "split"),
                .init(id: "split", type: .parallel, branches: ["a", "b"]),
                w.task("a", [w.role(1)], next: "join"), w.task("b", [w.role(2)], next: "join"),
                .init(id: "join", type: .join, next: "end"), .init(id: "end", type: .end),
            ])
            let (instance, opened) = try await w.start(definition)
            await #expect(throws: Problem.self) { _ = try await w.engine.act(taskID: opened[0].id!, action: .return, actor: p1, comment: nil) }
            let returned = try await w.engine.act(taskID: opened[0].id!, action: .return, actor: p1, comment: "缺少营业执照复印件；申请表未签字")
            #expect(returned.instance.status == .returned)
            #expect(try await WorkflowTask.find(opened[1].id, on: app.db)?.status == .cancelled)
            await #expect(throws: Problem.self) { _ = try await w.engine.act(taskID: opened[1].id!, action: .approve, actor: p2, comment: nil) }
            let reopened = try await w.engine.resume(instanceID: instance.id!, variables: ["fixed": true], actor: nil)
            #expect(Set(reopened.map(\.nodeID)) == ["a", "b"])
            for task in reopened {
                _ = try await w.engine.act(taskID: task.id!, action: .approve, actor: task.nodeID == "a" ? p1 : p2, comment: nil)
            }
            #expect(try await w.status(instance) == .completed)
            await #expect(throws: Problem.self) { _ = try await w.engine.resume(instanceID: instance.id!, variables: [:], actor: nil) }
        }
    }

    @Test func transfer_reject_withdraw_andClaim() async throws {
        try await withTestApp(demo: true) { app in
            let w = try await World.make(app)
            let a = try await w.staff("tr-a", .approver, w.departments[1])
            let a2 = try await w.staff("tr-a2", .approver, w.departments[1])
            let b = try await w.staff("tr-b", .approver, w.departments[2])
            let definition = ProcessDefinition(key: "tr-flow", name: "转办", nodes: [
                .init(id: "start", type: .start, next: "t"), w.task("t", [w.role(1)], next: "end"), .init(id: "end", type: .end),
            ])
            // Claim reserves the task: a colleague in the same role can no longer decide it.
            let (_, opened) = try await w.start(definition)
            _ = try await w.engine.act(taskID: opened[0].id!, action: .claim, actor: a, comment: nil)
            #expect(try await w.engine.inbox(for: a2, paging: Paging()).isEmpty)
            await #expect(throws: Problem.self) { _ = try await w.engine.act(taskID: opened[0].id!, action: .approve, actor: a2, comment: nil) }
            // Transfer to another department's role.
            let moved = try await w.engine.act(taskID: opened[0].id!, action: .transfer, actor: a, comment: "非本部门职责", transferTo: w.role(2))
            #expect(moved.opened.count == 1)
            #expect(try await w.engine.inbox(for: b, paging: Paging()).map(\.id) == [moved.opened[0].id])
            let rejected = try await w.engine.act(taskID: moved.opened[0].id!, action: .reject, actor: b, comment: "不符合条件")
            #expect(rejected.instance.status == .rejected)
            // Withdraw a second instance; then nothing more can happen to it.
            let (second, tasks) = try await w.start(definition)
            try await w.engine.withdraw(instanceID: second.id!, actor: nil, reason: "不办了")
            #expect(try await w.status(second) == .withdrawn)
            await #expect(throws: Problem.self) { _ = try await w.engine.act(taskID: tasks[0].id!, action: .approve, actor: a, comment: nil) }
            await #expect(throws: Problem.self) { try await w.engine.withdraw(instanceID: second.id!, actor: nil, reason: nil) }
        }
    }

    @Test func secondDecision_is409_andConcurrentDecisionsHaveOneEffect() async throws {
        try await withTestApp(demo: true) { app in
            let w = try await World.make(app)
            let a = try await w.staff("cc-a", .approver, w.departments[1])
            let definition = ProcessDefinition(key: "cc-flow", name: "并发", nodes: [
                .init(id: "start", type: .start, next: "t"), w.task("t", [w.role(1)], next: "t2"),
                w.task("t2", [w.role(1)], next: "end"), .init(id: "end", type: .end),
            ])
            let (instance, opened) = try await w.start(definition)
            let taskID = opened[0].id!
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<6 {
                    group.addTask { (try? await w.engine.act(taskID: taskID, action: .approve, actor: a, comment: nil)) != nil }
                }
                var results: [Bool] = []
                for await ok in group { results.append(ok) }
                return results
            }
            #expect(outcomes.filter { $0 }.count == 1)
            let next = try await WorkflowTask.query(on: app.db).filter(\.$instanceID == instance.id!).filter(\.$nodeID == "t2").count()
            #expect(next == 1)
            do {
                _ = try await w.engine.act(taskID: taskID, action: .approve, actor: a, comment: nil)
                Issue.record("a second decision must fail")
            } catch let problem as Problem {
                #expect(problem.status == .conflict)
            }
        }
    }

    @Test func definitions_areValidatedAndVersioned() async throws {
        try await withTestApp(demo: true) { app in
            let w = try await World.make(app)
            let bad = ProcessDefinition(key: "bad", name: "", nodes: [
                .init(id: "start", type: .start, next: "nowhere"), .init(id: "t", type: .task, next: "start"),
            ])
            do {
                _ = try await w.engine.deploy(bad)
                Issue.record("invalid definition accepted")
            } catch let problem as Problem {
                let fields = Set(problem.errors.map(\.field))
                #expect(fields.contains("definition.key"))
                #expect(fields.contains("definition.name"))
                #expect(fields.contains("definition.nodes[0].next"))
                #expect(fields.contains("definition.nodes[1].assignees"))
            }
            let cyclic = ProcessDefinition(key: "cyclic-flow", name: "环", nodes: [
                .init(id: "start", type: .start, next: "a"), w.task("a", [w.role(1)], next: "b"),
                w.task("b", [w.role(1)], next: "a"), .init(id: "end", type: .end),
            ])
            await #expect(throws: Problem.self) { _ = try await w.engine.deploy(cyclic) }
            var definition = ProcessDefinition(key: "ver-flow", name: "版本", nodes: [
                .init(id: "start", type: .start, next: "a"), w.task("a", [w.role(1)], next: "end"), .init(id: "end", type: .end),
            ])
            let v1 = try await w.engine.deploy(definition)
            #expect(try await w.engine.deploy(definition).version == 1)  // unchanged: same version
            let (running, _) = try await w.engine.start(key: "ver-flow", subjectType: "t", subjectID: UUID(), variables: [:], actor: nil)
            definition.nodes[1].name = "改名"
            let v2 = try await w.engine.deploy(definition)
            #expect(v1.version == 1 && v2.version == 2)
            #expect(try await WorkflowInstance.find(running.id, on: app.db)?.definitionVersion == 1)
        }
    }
}
