import Applications
import Codes
import Fluent
import Foundation
import Identity
import NIOConcurrencyHelpers
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

/// Records what the SMS/e-mail sender was asked to send.
final class RecordingSender: NotificationSender {
    let sent = NIOLockedValueBox<[(channel: NotificationChannel, to: String, body: String)]>([])

    func send(channel: NotificationChannel, to address: String, title: String, body: String) async throws {
        sent.withLockedValue { $0.append((channel, address, body)) }
    }
}

@Suite("Codes: late 一证通查 answers (persistent re-ask jobs, notifications)")
struct LateAnswerTests {
    /// A lookup where the only non-demo provider (`慢运营商`, 8 s, timeout 150 ms) misses its timeout, in a process
    /// that does not keep awaiting the call — as after a restart, only the database remembers it.
    static func pendingLookup(_ app: Application, clock: ManualClock) async throws -> (citizen: String, id: String) {
        app.lookupSettings.awaitInFlight = false
        app.lookupSettings.lateRetry = .seconds(60)
        app.lookupSettings.lateAttemptTimeout = .milliseconds(300)
        let admin = try await app.login("demo-admin")
        try await LookupTests.addProvider(app, admin, "慢运营商", endpoint: "sim://slow?slowMs=8000&numbers=1", timeoutMs: 150)
        let citizen = try await app.login("demo-citizen")
        let (status, result, _) = try await app.call(.POST, "/api/v1/codes/lookups", token: citizen, body: ["livenessToken": "ok"])
        #expect(status == .created)
        #expect(result["status"]?.stringValue == "partial")
        #expect(result["pending"] == ["慢运营商"])
        return (citizen, try #require(result["id"]?.stringValue))
    }

    static func lateJobs(_ app: Application) async throws -> [Job] {
        try await Job.query(on: app.db).filter(\.$kind == LookupService.lateJob).sort(\.$createdAt).all()
    }

    static func citizenNotifications(_ app: Application) async throws -> [Applications.Notification] {
        let user = try #require(try await User.query(on: app.db).filter(\.$username == "demo-citizen").first())
        return try await Applications.Notification.query(on: app.db).filter(\.$userID == user.requireID())
            .filter(\.$template == LookupService.completedTemplate).all()
    }

    @Test func aPendingAnswer_isAskedAgainByAPersistentJob_andTheQueryCompletes_withInAppAndSMSNotice() async throws {
        try await withTestApp(demo: true) { app in
            let clock = app.manualClock()
            let sender = RecordingSender()
            app.notificationSender = sender
            let (citizen, id) = try await Self.pendingLookup(app, clock: clock)
            // The re-ask job was written with the pending row, due after the first back-off (60 s).
            let jobs = try await Self.lateJobs(app)
            #expect(jobs.count == 1)
            let job = try #require(jobs.first)
            #expect(job.status == .pending)
            #expect(abs(job.runAt.timeIntervalSince(clock.now) - 60) < 1)
            #expect(!job.payload.contains(Demo.citizenID), "the job must not carry the ID number")
            try await app.jobs.runOnce(app: app)
            #expect(try await Self.lateJobs(app).first?.status == .pending, "not due yet")
            // The provider recovers; a minute later the job asks again and records the late answer.
            let provider = try #require(try await LookupProvider.query(on: app.db).filter(\.$name == "慢运营商").first())
            provider.endpoint = "sim://slow?latencyMs=5&numbers=1"
            try await provider.save(on: app.db)
            clock.advance(61)
            try await app.jobs.runOnce(app: app)
            let (_, later, _) = try await app.call(.GET, "/api/v1/codes/lookups/\(id)", token: citizen)
            #expect(later["status"]?.stringValue == "complete")
            #expect(later["pending"] == [])
            #expect(later["notifiedAt"]?.stringValue != nil)
            #expect(later["providers"]?.items.first { $0["provider"]?.stringValue == "慢运营商" }?["status"]?.stringValue == "late")
            #expect((later["numbers"]?.items ?? []).contains { $0["provider"]?.stringValue == "慢运营商" })
            // In-app (sent at once) and an SMS copy in the outbox, delivered by the notifications job.
            let notices = try await Self.citizenNotifications(app)
            #expect(Set(notices.map(\.channel)) == [.inbox, .sms])
            #expect(notices.first { $0.channel == .inbox }?.status == .sent)
            #expect(notices.first { $0.channel == .sms }?.status == .pending)
            let inbox = try #require(notices.first { $0.channel == .inbox })
            #expect(inbox.bodyZh.contains("4/4"), "\(inbox.bodyZh)")
            try await app.jobs.runOnce(app: app)
            let sms = sender.sent.withLockedValue { $0 }
            #expect(sms.count == 1)
            #expect(sms.first?.channel == .sms)
            #expect(sms.first?.to == "13800138000")
            #expect(sms.first?.body.contains("一证通查") == true)
            #expect(try await Self.citizenNotifications(app).first { $0.channel == .sms }?.status == .sent)
            // Nothing is left to run; a second run of the (done) job would change nothing.
            #expect(try await Self.lateJobs(app).allSatisfy { $0.status == .done })
        }
    }

    @Test func aProviderThatNeverAnswers_isAskedWithBackOff_thenFailedWhenTheWindowEnds() async throws {
        try await withTestApp(demo: true) { app in
            let clock = app.manualClock()
            app.notificationSender = RecordingSender()
            app.lookupSettings.lateWindow = .seconds(150)
            let (citizen, id) = try await Self.pendingLookup(app, clock: clock)
            // First re-ask (t+61 s): the provider is still too slow; the next one is due after 120 s, capped at the
            // end of the window (t+150 s).
            clock.advance(61)
            try await app.jobs.runOnce(app: app)
            var jobs = try await Self.lateJobs(app)
            #expect(jobs.count == 2)
            let next = try #require(jobs.first { $0.status == .pending })
            #expect(abs(next.runAt.timeIntervalSince(clock.now) - 89) < 1.5)
            let (_, still, _) = try await app.call(.GET, "/api/v1/codes/lookups/\(id)", token: citizen)
            #expect(still["status"]?.stringValue == "partial")
            #expect(still["providers"]?.items.first { $0["provider"]?.stringValue == "慢运营商" }?["attempts"] == 2)
            #expect(try await Self.citizenNotifications(app).isEmpty)
            // After the window: failed, the query is complete and the person is told.
            clock.advance(90)
            try await app.jobs.runOnce(app: app)
            let (_, done, _) = try await app.call(.GET, "/api/v1/codes/lookups/\(id)", token: citizen)
            #expect(done["status"]?.stringValue == "complete")
            #expect(done["failed"] == ["慢运营商"])
            #expect(done["pending"] == [])
            #expect(Set(try await Self.citizenNotifications(app).map(\.channel)) == [.inbox, .sms])
            jobs = try await Self.lateJobs(app)
            #expect(jobs.count == 2)
            #expect(jobs.allSatisfy { $0.status == .done })
        }
    }

    @Test func theDevelopmentSMSSender_masksThePhoneNumber() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("outbox-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await DevelopmentSender(path: path).send(channel: .sms, to: "13800138000", title: "一证通查", body: "完成")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("138****8000"))
        #expect(!text.contains("13800138000"))
    }
}
