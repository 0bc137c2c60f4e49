import Applications
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import Workflow
import VaporTesting

@Suite("Notifications")
struct NotificationTests {
    @Test func statusChanges_reachTheInbox_andSMSGoesThroughTheOutbox() async throws {
        try await withTestApp(demo: true) { app in
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("outbox-\(UUID().uuidString).log").path
            app.notificationSender = DevelopmentSender(path: log)
            let citizen = try await app.login("demo-citizen")
            let id = try await RatingTests().approvedApplication(app, citizen: citizen)
            let (status, inbox) = try await app.json(.GET, "/api/v1/notifications", token: citizen)
            #expect(status == .ok)
            guard case .array(let items)? = inbox["items"] else { Issue.record("no inbox"); return }
            let templates = items.compactMap { $0["template"]?.stringValue }
            #expect(templates.first == "application.status.approved")
            #expect(templates.contains("application.status.submitted"))
            #expect(templates.contains("application.status.in_review"))
            #expect(items.allSatisfy { $0["applicationId"]?.stringValue == id })
            #expect(items.first?["title"]?.stringValue?.contains("已办结") == true)
            let (_, english) = try await app.json(.GET, "/api/v1/notifications?lang=en&limit=1", token: citizen)
            if case .array(let rows)? = english["items"] { #expect(rows.first?["title"]?.stringValue?.contains("approved") == true) }
            // The SMS copy is delivered by the job runner, with the phone masked in the development log.
            #expect(try await app.jobs.runOnce(app: app) >= 1)
            let written = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(written.contains("sms 138****8000"))
            #expect(!written.contains("13800138000"))
            // Mark read; someone else cannot.
            let first = try #require(items.first?["id"]?.stringValue)
            let other = try await app.login("demo-enterprise")
            let (foreign, _) = try await app.json(.POST, "/api/v1/notifications/\(first)/read", token: other)
            #expect(foreign == .notFound)
            let (read, _) = try await app.json(.POST, "/api/v1/notifications/\(first)/read", token: citizen)
            #expect(read == .noContent)
            let (_, unread) = try await app.json(.GET, "/api/v1/notifications?unread=true", token: citizen)
            if case .array(let rows)? = unread["items"] { #expect(rows.count == items.count - 1) }
        }
    }

    @Test func timeLimits_warnTheHandlingStaffAt80Percent_andWhenOverdue() async throws {
        try await withTestApp(demo: true) { app in
            let clock = MovableClock()
            let start = try #require(LocalDate("2026-12-01")).start(in: .shanghai).addingTimeInterval(9 * 3600)
            clock.set(start)
            app.clock = clock.clock
            let citizen = try await app.login("demo-citizen")
            let (_, created) = try await app.json(
                .POST, "/api/v1/applications", token: citizen,
                body: ["serviceId": .string(try await app.demoServiceID()), "form": ["projectName": "时限提醒"], "submit": true])
            let id = try #require(created["id"]?.stringValue)
            let clerk = try await app.login("demo-clerk")
            func templates() async throws -> [String] {
                let (_, inbox) = try await app.json(.GET, "/api/v1/notifications?limit=100", token: clerk)
                guard case .array(let items)? = inbox["items"] else { return [] }
                return items.filter { $0["applicationId"]?.stringValue == id }.compactMap { $0["template"]?.stringValue }
            }
            // Acceptance has 1 working day: nothing fires on the first morning.
            _ = try await app.jobs.runOnce(app: app)
            #expect(try await templates().isEmpty)
            // Past 80 % of the limit: a warning in the clerk's inbox, once, however often the runner runs.
            let task = try #require(try await Workflow.WorkflowTask.query(on: app.db).all().first { $0.nodeID == "accept" })
            let due = try #require(task.dueAt)
            clock.set(start.addingTimeInterval(due.timeIntervalSince(start) * 0.85))
            _ = try await app.jobs.runOnce(app: app)
            _ = try await app.jobs.runOnce(app: app)
            #expect(try await templates() == ["task.warning"])
            clock.set(due.addingTimeInterval(60))
            _ = try await app.jobs.runOnce(app: app)
            #expect(try await templates().sorted() == ["task.overdue", "task.warning"])
            // Another department's staff hear nothing; the timeline shows both warnings.
            let other = try await app.login("demo-approver-1")
            let (_, foreign) = try await app.json(.GET, "/api/v1/notifications", token: other)
            if case .array(let items)? = foreign["items"] { #expect(items.isEmpty) }
            let (_, detail) = try await app.json(.GET, "/api/v1/applications/\(id)", token: citizen)
            if case .array(let timeline)? = detail["timeline"] {
                let actions = timeline.compactMap { $0["action"]?.stringValue }
                #expect(actions.contains("sla_warning") && actions.contains("sla_overdue"))
            }
        }
    }
}
