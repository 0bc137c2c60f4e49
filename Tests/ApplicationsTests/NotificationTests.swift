import Applications
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
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
}
