import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Cases: push copies of reporter notifications")
struct CasePushTests {
    @Test func reporterNotifications_reachTheReportersAppDevices_tokenMaskedInTheOutbox() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let grid = try await app.login("demo-grid")
            let token = "android-token-0123456789-casepush"
            var (status, _, _) = try await app.send(
                .POST, "/api/v1/me/push-devices", token: citizen, json: ["platform": "android", "token": .string(token)])
            #expect(status == .created)
            let created = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.005, lon: 113.105)
            let id = try #require(created["id"]?.string)
            let number = try #require(created["number"]?.string)
            (status, _) = try await app.act(id, "accept", token: grid)
            #expect(status == .ok)
            #expect(try await app.jobs.runOnce(app: app) >= 2)  // the SMS and the push copy
            let outbox = URL(fileURLWithPath: app.tongbanConfig.dataDirectory).appendingPathComponent("outbox.log").path
            let written = (try? String(contentsOfFile: outbox, encoding: .utf8)) ?? ""
            let lines = written.split(separator: "\n").filter { $0.contains(number) }
            #expect(lines.contains { $0.contains(" push android andr…push ") }, "\(written)")
            #expect(lines.contains { $0.contains(" sms 138****8000 ") })
            #expect(!written.contains(token))
            // The device list shows when it last received one.
            let (_, devices, _) = try await app.send(.GET, "/api/v1/me/push-devices", token: citizen)
            #expect(devices["items"]?.items.first?["lastSentAt"] != nil)
        }
    }
}
