import Applications
import Fluent
import Foundation
import NIOConcurrencyHelpers
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

/// A push service that refuses one token as unknown and records what it was given.
final class RecordingPushSender: PushSender {
    let gone: String
    let sent = NIOLockedValueBox<[String]>([])

    init(gone: String) { self.gone = gone }

    func push(platform: String, token: String, title: String, body: String) async throws {
        if token == gone { throw PushTokenInvalid() }
        sent.withLockedValue { $0.append("\(platform) \(token) \(title)") }
    }
}

@Suite("Notifications: app push devices and push copies")
struct PushDeviceTests {
    static let iosToken = "ios-token-0123456789abcdef"

    func items(_ value: JSONValue) -> [JSONValue] {
        if case .array(let rows)? = value["items"] { return rows }
        return []
    }

    func fields(_ value: JSONValue) -> Set<String> {
        guard case .array(let rows)? = value["errors"] else { return [] }
        return Set(rows.compactMap { $0["field"]?.stringValue })
    }

    @Test func peopleRegisterListAndRemoveTheirDevices_badInputAndOthersDevicesRefused() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let path = "/api/v1/me/push-devices"
            var (status, body) = try await app.json(.POST, path, body: ["platform": "ios", "token": .string(Self.iosToken)])
            #expect(status == .unauthorized)

            // Bad input: each field named.
            (status, body) = try await app.json(.POST, path, token: citizen, body: ["platform": "windows", "token": "  "])
            #expect(status == .unprocessableEntity)
            #expect(fields(body) == ["platform", "token"])
            (status, body) = try await app.json(.POST, path, token: citizen, body: [:])
            #expect(fields(body) == ["platform", "token"])
            (status, body) = try await app.json(
                .POST, path, token: citizen, body: ["platform": "android", "token": .string(String(repeating: "a", count: 513))])
            #expect(status == .unprocessableEntity)
            #expect(fields(body) == ["token"])
            (status, body) = try await app.json(.POST, path, token: citizen, body: ["platform": "android", "token": "has a space"])
            #expect(fields(body) == ["token"])

            // Register: 201, the token masked in the answer and the list; the same token again is 200, one device.
            (status, body) = try await app.json(.POST, path, token: citizen, body: ["platform": "IOS", "token": .string(Self.iosToken)])
            #expect(status == .created)
            let id = try #require(body["id"]?.stringValue)
            #expect(body["platform"]?.stringValue == "ios")
            #expect(body["token"]?.stringValue == "ios-…cdef")
            (status, body) = try await app.json(.POST, path, token: citizen, body: ["platform": "ios", "token": .string(Self.iosToken)])
            #expect(status == .ok)
            #expect(body["id"]?.stringValue == id)
            (status, body) = try await app.json(.GET, path, token: citizen)
            #expect(status == .ok)
            #expect(items(body).count == 1)
            #expect(items(body).first?["token"]?.stringValue == "ios-…cdef")
            #expect(!"\(body)".contains(Self.iosToken))

            // Another person sees none of them and may not delete them.
            let other = try await app.login(try await app.registerPerson(), Fixtures.password)
            (_, body) = try await app.json(.GET, path, token: other)
            #expect(items(body).isEmpty)
            (status, _) = try await app.json(.DELETE, "\(path)/\(id)", token: other)
            #expect(status == .notFound)

            // At most 10 devices each.
            for n in 1..<10 {
                (status, _) = try await app.json(.POST, path, token: citizen, body: ["platform": "harmony", "token": .string("harmony-device-\(n)")])
                #expect(status == .created)
            }
            (status, body) = try await app.json(.POST, path, token: citizen, body: ["platform": "android", "token": "android-eleventh"])
            #expect(status == .conflict)
            (_, body) = try await app.json(.GET, path, token: citizen)
            #expect(items(body).count == 10)

            // Removing: 204, then 404; bad ids are 404.
            (status, _) = try await app.json(.DELETE, "\(path)/\(id)", token: citizen)
            #expect(status == .noContent)
            (status, _) = try await app.json(.DELETE, "\(path)/\(id)", token: citizen)
            #expect(status == .notFound)
            (status, _) = try await app.json(.DELETE, "\(path)/not-an-id", token: citizen)
            #expect(status == .notFound)
            (_, body) = try await app.json(.GET, path, token: citizen)
            #expect(items(body).count == 9)

            // A token registered by someone else moves to the new owner (the device changed hands).
            (status, _) = try await app.json(.POST, path, token: other, body: ["platform": "harmony", "token": "harmony-device-1"])
            #expect(status == .created)
            (_, body) = try await app.json(.GET, path, token: citizen)
            #expect(items(body).count == 8)
        }
    }

    @Test func pushCopiesGoToEachActiveDevice_noDeviceIsAFailedCopyWithAReason_notAnError() async throws {
        try await withTestApp(demo: true) { app in
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("outbox-\(UUID().uuidString).log").path
            app.notificationSender = DevelopmentSender(path: log)
            let citizen = try await app.login("demo-citizen")
            let (status, _) = try await app.json(
                .POST, "/api/v1/me/push-devices", token: citizen, body: ["platform": "ios", "token": .string(Self.iosToken)])
            #expect(status == .created)
            let device = try #require(try await PushDevice.query(on: app.db).filter(\.$token == Self.iosToken).first())
            let citizenID = device.userID
            let other = try await app.login(try await app.registerPerson(), Fixtures.password)
            let (_, me) = try await app.json(.GET, "/api/v1/me", token: other)
            let otherID = try #require(me["id"]?.stringValue.flatMap(UUID.init(uuidString:)))

            try await Notifier.notify(
                userID: citizenID, template: "case.accepted", parameters: ["number": "WG-PUSH-1", "department": "测试部门"],
                channels: [.inbox, .push], tx: app.db, clock: app.clock)
            try await Notifier.notify(
                userID: otherID, template: "case.accepted", parameters: ["number": "WG-PUSH-2", "department": "测试部门"],
                channels: [.inbox, .push], tx: app.db, clock: app.clock)
            #expect(try await app.jobs.runOnce(app: app) >= 2)

            // Delivered to the device, the token masked in the development log; the in-app copy stands.
            let written = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(written.contains("push ios ios-…cdef"), "\(written)")
            #expect(!written.contains(Self.iosToken))
            let copies = try await Applications.Notification.query(on: app.db).filter(\.$channel == .push).all()
            let delivered = try #require(copies.first { $0.userID == citizenID })
            #expect(delivered.status == .sent)
            #expect(delivered.failureReason == nil)
            // No device: a failed copy with its reason, and the job itself done (not retried as an error).
            let skipped = try #require(copies.first { $0.userID == otherID })
            #expect(skipped.status == .failed)
            #expect(skipped.failureReason == "no push device registered")
            let jobs = try await Job.query(on: app.db).filter(\.$kind == "notifications.send").all()
            #expect(jobs.allSatisfy { $0.status == .done }, "\(jobs.map(\.status))")
            let inbox = try await Applications.Notification.query(on: app.db).filter(\.$channel == .inbox)
                .filter(\.$userID == otherID).count()
            #expect(inbox == 1)

            // A token the push service no longer knows: that device is deactivated, the other still gets it.
            let sender = RecordingPushSender(gone: Self.iosToken)
            app.pushSender = sender
            let (added, _) = try await app.json(
                .POST, "/api/v1/me/push-devices", token: citizen, body: ["platform": "android", "token": "android-token-abcdef123456"])
            #expect(added == .created)
            try await Notifier.notify(
                userID: citizenID, template: "case.closed", parameters: ["number": "WG-PUSH-3", "department": "测试部门"],
                channels: [.inbox, .push], tx: app.db, clock: app.clock)
            #expect(try await app.jobs.runOnce(app: app) >= 1)
            #expect(sender.sent.withLockedValue { $0 }.count == 1)
            #expect(sender.sent.withLockedValue { $0 }.first?.hasPrefix("android android-token-abcdef123456") == true)
            let (_, list) = try await app.json(.GET, "/api/v1/me/push-devices", token: citizen)
            let ios = items(list).first { $0["platform"]?.stringValue == "ios" }
            #expect(ios?["active"] == .bool(false))
            // With only the dead token left nothing is delivered: failed, with the reason.
            let android = try #require(items(list).first { $0["platform"]?.stringValue == "android" }?["id"]?.stringValue)
            _ = try await app.json(.DELETE, "/api/v1/me/push-devices/\(android)", token: citizen)
            try await Notifier.notify(
                userID: citizenID, template: "case.closed", parameters: ["number": "WG-PUSH-4", "department": "测试部门"],
                channels: [.inbox, .push], tx: app.db, clock: app.clock)
            #expect(try await app.jobs.runOnce(app: app) >= 1)
            let last = try await Applications.Notification.query(on: app.db).filter(\.$channel == .push)
                .filter(\.$userID == citizenID).sort(\.$createdAt, .descending).all()
            #expect(last.contains { $0.status == .failed && $0.failureReason == "no push device registered" })
        }
    }
}
