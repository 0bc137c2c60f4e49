import Applications
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Refusal at acceptance and e-mail copies")
struct RefusalTests {
    @Test func clerkRefuses_applicationIsNotAccepted_andTheApplicantIsToldByEveryChannel() async throws {
        try await withTestApp(demo: true) { app in
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("outbox-\(UUID().uuidString).log").path
            app.notificationSender = DevelopmentSender(path: log)
            let citizen = try await app.login("demo-citizen")
            let serviceID = try await app.demoServiceID()
            let (_, created) = try await app.json(
                .POST, "/api/v1/applications", token: citizen,
                body: ["serviceId": .string(serviceID), "form": ["projectName": "不属于本部门的事项"], "submit": true])
            let id = try #require(created["id"]?.stringValue)
            let task = try #require(try await app.task(for: "demo-clerk", application: id))
            let clerk = try await app.login("demo-clerk")
            // A refusal needs its reason.
            let (missing, problem) = try await app.json(.POST, "/api/v1/tasks/\(task)/actions", token: clerk, body: ["action": "reject"])
            #expect(missing == .unprocessableEntity)
            #expect(problem["errors"].map { "\($0)" }?.contains("comment") == true)
            let (refused, _) = try await app.json(
                .POST, "/api/v1/tasks/\(task)/actions", token: clerk, body: ["action": "reject", "comment": "不属于本部门受理范围"])
            #expect(refused == .ok)
            let (_, application) = try await app.json(.GET, "/api/v1/applications/\(id)", token: citizen)
            #expect(application["status"]?.stringValue == "not_accepted")
            #expect(application["decidedAt"] != nil && application["decidedAt"] != .null)
            // No approver ever sees it.
            #expect(try await app.task(for: "demo-approver-1", application: id) == nil)
            // In-app message carries the reason; SMS and e-mail copies go through the outbox.
            let (_, inbox) = try await app.json(.GET, "/api/v1/notifications?limit=1", token: citizen)
            guard case .array(let items)? = inbox["items"], let first = items.first else { Issue.record("no message"); return }
            #expect(first["template"]?.stringValue == "application.status.not_accepted")
            #expect(first["body"]?.stringValue?.contains("不属于本部门受理范围") == true)
            #expect(try await app.jobs.runOnce(app: app) >= 2)
            let written = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(written.contains("email l***@example.cn"))
            #expect(written.contains("sms 138****8000"))
            #expect(!written.contains("liming@example.cn"))
            // A refused application cannot be withdrawn, but it can be rated.
            let (withdraw, _) = try await app.json(.POST, "/api/v1/applications/\(id)/withdraw", token: citizen)
            #expect(withdraw == .conflict)
            let (rated, _) = try await app.json(.POST, "/api/v1/applications/\(id)/rating", token: citizen, body: ["score": 4])
            #expect(rated == .created)
        }
    }

    @Test func templates_fillParameters_andDropAbsentNotes() {
        let text = NotificationTemplates.render(
            "application.status.rejected", ["number": "20261130000001", "service": "测试事项"])
        #expect(text.titleZh == "办件 20261130000001 未获批准")
        #expect(!text.bodyZh.contains("说明"))
        #expect(!text.bodyZh.contains("{"))
        let noted = NotificationTemplates.render(
            "application.status.rejected", ["number": "1", "service": "s", "note": "缺少材料"])
        #expect(noted.bodyZh.hasSuffix("说明：缺少材料"))
        #expect(noted.bodyEn.hasSuffix("Note: 缺少材料"))
    }
}
