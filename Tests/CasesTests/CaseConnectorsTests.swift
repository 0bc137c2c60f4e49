import Crypto
import Fluent
import Foundation
import NIOConcurrencyHelpers
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@testable import Cases

/// A real HTTP server on 127.0.0.1 that receives connector events: `/hook` answers 200, `/fail` 500.
final class ConnectorEndpoint: Sendable {
    struct Received: Sendable {
        var path: String
        var body: Data
        var timestamp: String?
        var signature: String?
        var event: String?
    }

    let app: Application
    let port: Int
    let received: NIOLockedValueBox<[Received]>

    private init(app: Application, port: Int, received: NIOLockedValueBox<[Received]>) {
        self.app = app
        self.port = port
        self.received = received
    }

    static func start() async throws -> ConnectorEndpoint {
        let app = try await Application.make(.testing)
        app.logger.logLevel = .error
        let received = NIOLockedValueBox<[Received]>([])
        @Sendable func record(_ req: Request) {
            let body = Data(req.body.data.map { Array($0.readableBytesView) } ?? [])
            received.withLockedValue {
                $0.append(Received(
                    path: req.url.path, body: body, timestamp: req.headers.first(name: "X-Tongban-Timestamp"),
                    signature: req.headers.first(name: "X-Tongban-Signature"), event: req.headers.first(name: "X-Tongban-Event")))
            }
        }
        app.on(.POST, "hook", body: .collect(maxSize: "1mb")) { req -> HTTPStatus in record(req); return .ok }
        app.on(.POST, "fail", body: .collect(maxSize: "1mb")) { req -> HTTPStatus in record(req); return .internalServerError }
        try await app.server.start(address: .hostname("127.0.0.1", port: 0))
        guard let port = app.http.server.shared.localAddress?.port else { throw Abort(.internalServerError, reason: "no port") }
        return ConnectorEndpoint(app: app, port: port, received: received)
    }

    func hits(_ path: String) -> [Received] { received.withLockedValue { $0.filter { $0.path == path } } }

    func stop() async throws {
        await app.server.shutdown()
        try await app.asyncShutdown()
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>"), computed here independently of the module.
func connectorSignature(_ secret: String, _ timestamp: String, _ body: Data) -> String {
    var message = Data(timestamp.utf8)
    message.append(contentsOf: Array(".".utf8))
    message.append(body)
    let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
    return "sha256=" + Data(mac).map { String(format: "%02x", $0) }.joined()
}

extension Application {
    /// A request signed as an external system would sign it; `signature` overrides the computed one.
    func signed(
        _ method: HTTPMethod, _ path: String, secret: String, json: [String: JSONValue]? = nil, at: Date = Date(),
        signature: String? = nil
    ) async throws -> (HTTPStatus, JSONValue, HTTPHeaders) {
        let body = try json.map { try JSONEncoder().encode($0) } ?? Data()
        let timestamp = String(Int(at.timeIntervalSince1970))
        var headers = HTTPHeaders.json
        headers.add(name: "X-Tongban-Timestamp", value: timestamp)
        headers.add(name: "X-Tongban-Signature", value: signature ?? connectorSignature(secret, timestamp, body))
        let res = try await testing().sendRequest(method, path, headers: headers, body: body.isEmpty ? nil : ByteBuffer(data: body))
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .string(String(buffer: res.body))
        return (res.status, value, res.headers)
    }
}

@Suite("Cases: external system connectors")
struct CaseConnectorsTests {
    static let env = "440604-STHJ"

    @Test func registry_adminOnly_validated_secretShownOnceAndSealed_auditedCRUD() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let staff = try await app.login("demo-env")
            let good: [String: JSONValue] = [
                "code": "env-bureau", "name": "省生态环境厅督办系统", "direction": "outbound", "taskSource": "inspection",
                "endpoint": "https://supervision.example.gov.cn/events", "departments": [.string(Self.env)],
            ]
            // Wrong role, no login.
            var (status, body, _) = try await app.send(.POST, "/api/v1/cases/connectors", token: staff, json: good)
            #expect(status == .forbidden)
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/connectors", token: staff)
            #expect(status == .forbidden)
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/connectors")
            #expect(status == .unauthorized)

            // Bad input: every field named.
            (status, body, _) = try await app.send(.POST, "/api/v1/cases/connectors", token: admin, json: [
                "code": "Bad Code!", "name": "", "direction": "sideways", "taskSource": "rumour", "endpoint": "ftp://x.example/",
                "departments": ["no-such-department"],
            ])
            #expect(status == .unprocessableEntity)
            let fields = Set(body["errors"]?.items.compactMap { $0["field"]?.string } ?? [])
            #expect(fields.isSuperset(of: ["code", "name", "direction", "taskSource", "endpoint", "departments[0]"]), "\(fields)")
            // Outbound needs an endpoint and departments.
            (status, body, _) = try await app.send(.POST, "/api/v1/cases/connectors", token: admin, json: [
                "code": "half", "name": "Half", "direction": "both", "taskSource": "inspection",
            ])
            #expect(status == .unprocessableEntity)
            #expect(Set(body["errors"]?.items.compactMap { $0["field"]?.string } ?? []) == ["endpoint", "departments"])

            // Created: the secret once, sealed at rest.
            (status, body, _) = try await app.send(.POST, "/api/v1/cases/connectors", token: admin, json: good)
            #expect(status == .created)
            let secret = try #require(body["secret"]?.string)
            #expect(secret.hasPrefix("tbc_") && secret.count == 68)
            #expect(body["departments"]?.items.first?.string == Self.env)
            #expect(body["status"]?.string == "active")
            let row = try #require(try await CaseConnector.query(on: app.db).filter(\.$code == "env-bureau").first())
            #expect(!row.secretSealed.contains(secret))
            #expect(try CaseConnectors.secret(of: row, app: app) == Data(secret.utf8))
            (status, _, _) = try await app.send(.POST, "/api/v1/cases/connectors", token: admin, json: good)
            #expect(status == .conflict)

            (status, body, _) = try await app.send(.GET, "/api/v1/cases/connectors/env-bureau", token: admin)
            #expect(status == .ok)
            #expect(body["secret"] == nil || body["secret"] == .null)
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/connectors", token: admin)
            #expect(Set(body["items"]?.items.compactMap { $0["code"]?.string } ?? []) == ["env-bureau", "national-supervision"])

            // Update: status, a new secret; the code cannot change; bad values answer 422.
            (status, body, _) = try await app.send(.PUT, "/api/v1/cases/connectors/env-bureau", token: admin, json: [
                "status": "disabled", "rotateSecret": true,
            ])
            #expect(status == .ok)
            #expect(body["status"]?.string == "disabled")
            let rotated = try #require(body["secret"]?.string)
            #expect(rotated != secret)
            (status, body, _) = try await app.send(.PUT, "/api/v1/cases/connectors/env-bureau", token: admin, json: [
                "code": "other", "status": "sleeping", "endpoint": "http://user:pw@example.com/",
            ])
            #expect(status == .unprocessableEntity)
            #expect(Set(body["errors"]?.items.compactMap { $0["field"]?.string } ?? []) == ["code", "status", "endpoint"])
            (status, _, _) = try await app.send(.PUT, "/api/v1/cases/connectors/env-bureau", token: staff, json: ["status": "active"])
            #expect(status == .forbidden)

            // Delete.
            (status, _, _) = try await app.send(.DELETE, "/api/v1/cases/connectors/env-bureau", token: staff)
            #expect(status == .forbidden)
            (status, _, _) = try await app.send(.DELETE, "/api/v1/cases/connectors/env-bureau", token: admin)
            #expect(status == .noContent)
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/connectors/env-bureau", token: admin)
            #expect(status == .notFound)
            (status, _, _) = try await app.send(.DELETE, "/api/v1/cases/connectors/env-bureau", token: admin)
            #expect(status == .notFound)
        }
    }

    @Test func inbound_signedTasks_idempotent_badSignatureStaleDisabledRefused_statusQuery() async throws {
        try await withTestApp(demo: true) { app in
            let path = "/api/v1/cases/connectors/national-supervision/tasks"
            let secret = CaseConnectors.demoSecret
            let task: [String: JSONValue] = [
                "externalId": "GWY-2026-000123", "category": "environment", "title": "群众反映化工园区夜间偷排",
                "description": "国务院“互联网+督查”平台转来的问题线索，请核查处理。", "department": .string(Self.env), "timeLimitDays": 10,
            ]
            var (status, body, _) = try await app.signed(.POST, path, secret: secret, json: task)
            #expect(status == .created, "\(body)")
            let id = try #require(body["id"]?.string)
            let number = try #require(body["number"]?.string)
            #expect(body["status"]?.string == "dispatched")
            #expect(body["department"]?.string == Self.env)
            #expect(body["externalId"]?.string == "GWY-2026-000123")
            let record = try #require(try await CaseRecord.find(UUID(uuidString: id), on: app.db))
            #expect(record.type == .supervision)
            #expect(record.subtype == "national_system")
            #expect(record.channel == .staff)

            // The same external id again: 200 with the same case, nothing new.
            (status, body, _) = try await app.signed(.POST, path, secret: secret, json: task)
            #expect(status == .ok)
            #expect(body["id"]?.string == id)
            #expect(try await CaseRecord.query(on: app.db).filter(\.$type == .supervision).count() == 1)

            // Refusals: bad signature, wrong secret, stale or future timestamp, missing headers, unknown connector.
            var other = task
            other["externalId"] = "GWY-2026-000124"
            (status, body, _) = try await app.signed(.POST, path, secret: secret, json: other, signature: "sha256=" + String(repeating: "0", count: 64))
            #expect(status == .unauthorized)
            #expect(body["type"]?.string == "/problems/connector-signature")
            (status, _, _) = try await app.signed(.POST, path, secret: "not-the-secret", json: other)
            #expect(status == .unauthorized)
            (status, body, _) = try await app.signed(.POST, path, secret: secret, json: other, at: Date().addingTimeInterval(-400))
            #expect(status == .unauthorized)
            #expect(body["detail"]?.string?.contains("5 minutes") == true)
            (status, _, _) = try await app.signed(.POST, path, secret: secret, json: other, at: Date().addingTimeInterval(400))
            #expect(status == .unauthorized)
            (status, _, _) = try await app.send(.POST, path, json: other)
            #expect(status == .unauthorized)
            (status, _, _) = try await app.signed(.POST, "/api/v1/cases/connectors/nobody/tasks", secret: secret, json: other)
            #expect(status == .notFound)
            // A signature over one body does not pass for another.
            let timestamp = String(Int(Date().timeIntervalSince1970))
            let signatureOfTask = connectorSignature(secret, timestamp, try JSONEncoder().encode(task))
            var headers = HTTPHeaders.json
            headers.add(name: "X-Tongban-Timestamp", value: timestamp)
            headers.add(name: "X-Tongban-Signature", value: signatureOfTask)
            let res = try await app.testing().sendRequest(.POST, path, headers: headers, body: ByteBuffer(data: try JSONEncoder().encode(other)))
            #expect(res.status == .unauthorized)
            #expect(try await CaseRecord.query(on: app.db).filter(\.$type == .supervision).count() == 1)

            // Field errors.
            (status, body, _) = try await app.signed(.POST, path, secret: secret, json: ["category": "no-such", "description": ""])
            #expect(status == .unprocessableEntity)
            #expect(body["errors"]?.items.compactMap { $0["field"]?.string } == ["externalId"])
            (status, body, _) = try await app.signed(.POST, path, secret: secret, json: [
                "externalId": "X-1", "category": "no-such", "description": "", "timeLimitDays": 0,
            ])
            #expect(status == .unprocessableEntity)
            #expect(Set(body["errors"]?.items.compactMap { $0["field"]?.string } ?? []) == ["category", "description", "timeLimitDays"])
            #expect(try await CaseConnectorTask.query(on: app.db).count() == 1)

            // Status query: signed over an empty body.
            (status, body, _) = try await app.signed(.GET, path + "/GWY-2026-000123", secret: secret)
            #expect(status == .ok)
            #expect(body["number"]?.string == number)
            #expect(body["status"]?.string == "dispatched")
            #expect(body["timeline"]?.items.compactMap { $0["action"]?.string } == ["create", "connector_filed"])
            (status, _, _) = try await app.signed(.GET, path + "/GWY-2026-000123", secret: "wrong")
            #expect(status == .unauthorized)
            (status, _, _) = try await app.signed(.GET, path + "/GWY-unknown", secret: secret)
            #expect(status == .notFound)

            // The department sees the task in its inbox, filed under the national platform.
            let envToken = try await app.login("demo-env")
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: envToken)
            #expect(status == .ok)
            #expect(body["subtype"]?.string == "national_system")

            // A disabled connector: 403 even with a good signature.
            let admin = try await app.login("demo-admin")
            (status, _, _) = try await app.send(.PUT, "/api/v1/cases/connectors/national-supervision", token: admin, json: ["status": "disabled"])
            #expect(status == .ok)
            (status, body, _) = try await app.signed(.POST, path, secret: secret, json: other)
            #expect(status == .forbidden)
            #expect(body["type"]?.string == "/problems/connector-disabled")
            (status, _, _) = try await app.signed(.GET, path + "/GWY-2026-000123", secret: secret)
            #expect(status == .forbidden)
        }
    }

    @Test func outbound_eventsDeliveredSigned_failingEndpointRetriedAndRecorded_feedbackMovesTheCase() async throws {
        let server = try await ConnectorEndpoint.start()
        do {
            try await withTestApp(demo: true) { app in
                app.connectorConfig.allowPrivate = true  // the test endpoint is on loopback
                app.connectorConfig.maxAttempts = 2
                app.connectorConfig.timeoutSeconds = 5
                let admin = try await app.login("demo-admin")
                let base = "http://127.0.0.1:\(server.port)"
                func register(_ code: String, _ endpoint: String) async throws -> String {
                    let (status, body, _) = try await app.send(.POST, "/api/v1/cases/connectors", token: admin, json: [
                        "code": .string(code), "name": .string(code), "direction": "both", "taskSource": "inspection",
                        "endpoint": .string(endpoint), "departments": [.string(Self.env)],
                    ])
                    #expect(status == .created, "\(body)")
                    return try #require(body["secret"]?.string)
                }
                let secret = try await register("env-system", base + "/hook")
                _ = try await register("broken-system", base + "/fail")

                // A report for the environmental department: one event per connector, sent by the job, not the request.
                let grid = try await app.login("demo-grid")
                let created = try await app.fileCase(token: grid, category: "environment", lat: 23.012, lon: 113.151)
                #expect(created["department"]?["code"]?.string == Self.env)
                let id = try #require(created["id"]?.string)
                let number = try #require(created["number"]?.string)
                #expect(server.received.withLockedValue { $0.count } == 0)
                _ = try await app.jobs.runOnce(app: app, limit: 50)

                let hook = server.hits("/hook")
                #expect(hook.count == 1)
                let first = try #require(hook.first)
                #expect(first.event == "case.created")
                // The signature verifies with the shared secret over "<timestamp>.<body>".
                let timestamp = try #require(first.timestamp)
                #expect(first.signature == connectorSignature(secret, timestamp, first.body))
                #expect(abs((Double(timestamp) ?? 0) - Date().timeIntervalSince1970) < 120)
                let event = try JSONDecoder().decode(JSONValue.self, from: first.body)
                #expect(event["event"]?.string == "case.created")
                #expect(event["case"]?["id"]?.string == id.lowercased())  // lower-case, as RFC 9562 writes UUIDs
                #expect(event["case"]?["number"]?.string == number)
                #expect(event["case"]?["type"]?.string == "grid_event")
                #expect(event["case"]?["category"]?.string == "environment")
                #expect(event["case"]?["status"]?.string == "dispatched")
                #expect(event["case"]?["department"]?.string == Self.env)
                #expect(event["case"]?["dueAt"]?.string != nil)
                #expect(event["at"]?.string != nil)

                func deliveries(_ code: String) async throws -> [JSONValue] {
                    let (status, body, _) = try await app.send(.GET, "/api/v1/cases/connectors/\(code)/deliveries", token: admin)
                    #expect(status == .ok)
                    return body["items"]?.items ?? []
                }
                var delivered = try await deliveries("env-system")
                #expect(delivered.count == 1)
                #expect(delivered.first?["status"]?.string == "delivered")
                #expect(delivered.first?["attempts"]?.number == 1)
                #expect(delivered.first?["lastStatusCode"]?.number == 200)
                #expect(delivered.first?["deliveredAt"]?.string != nil)

                // The failing endpoint: attempt 1 recorded, retried later (back-off), failed after the last attempt.
                var broken = try await deliveries("broken-system")
                #expect(broken.first?["status"]?.string == "pending")
                #expect(broken.first?["attempts"]?.number == 1)
                #expect(broken.first?["lastStatusCode"]?.number == 500)
                #expect(broken.first?["lastError"]?.string?.contains("HTTP 500") == true)
                let retry = try #require(try await Job.query(on: app.db).filter(\.$kind == CaseConnectors.kind).filter(\.$status == .pending).first())
                #expect(retry.runAt > Date())  // backed off
                #expect(try await app.jobs.runOnce(app: app, limit: 50) == 0)  // not due yet
                try await Job.query(on: app.db).filter(\.$kind == CaseConnectors.kind).filter(\.$status == .pending)
                    .set(\.$runAt, to: Date().addingTimeInterval(-1)).update()
                #expect(try await app.jobs.runOnce(app: app, limit: 50) == 1)
                #expect(server.hits("/fail").count == 2)
                broken = try await deliveries("broken-system")
                #expect(broken.first?["status"]?.string == "failed")
                #expect(broken.first?["attempts"]?.number == 2)
                #expect(broken.first?["deliveredAt"] == nil || broken.first?["deliveredAt"] == .null)
                let (status422, _, _) = try await app.send(.GET, "/api/v1/cases/connectors/broken-system/deliveries?status=odd", token: admin)
                #expect(status422 == .unprocessableEntity)
                let (forbidden, _, _) = try await app.send(.GET, "/api/v1/cases/connectors/broken-system/deliveries", token: grid)
                #expect(forbidden == .forbidden)
                let (_, _, _) = try await app.send(.PUT, "/api/v1/cases/connectors/broken-system", token: admin, json: ["status": "disabled"])

                // Feedback from the external system by case number: accepted first, then resolved.
                let feedbackPath = "/api/v1/cases/connectors/env-system/cases/\(number)/feedback"
                var (status, body, _) = try await app.signed(.POST, feedbackPath, secret: secret, json: ["evidence": ["https://x.example/1.jpg"]])
                #expect(status == .unprocessableEntity)
                (status, body, _) = try await app.signed(.POST, feedbackPath, secret: "wrong", json: ["comment": "已处理"])
                #expect(status == .unauthorized)
                (status, body, _) = try await app.signed(
                    .POST, feedbackPath, secret: secret, json: ["comment": "已现场核查并责令整改", "evidence": ["https://x.example/1.jpg"]])
                #expect(status == .ok, "\(body)")
                #expect(body["status"]?.string == "resolved")
                let actions = body["timeline"]?.items.compactMap { $0["action"]?.string } ?? []
                #expect(actions.suffix(2) == ["accept", "feedback"])
                let envToken = try await app.login("demo-env")
                (status, body, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: envToken)
                #expect(body["status"]?.string == "resolved")
                #expect(body["timeline"]?.items.last?["actor"]?.string == "connector:env-system")
                // Out of order now: 409; a case of another department: 404.
                (status, body, _) = try await app.signed(.POST, feedbackPath, secret: secret, json: ["comment": "再次反馈"])
                #expect(status == .conflict)
                let other = try await app.fileCase(token: grid, category: "sanitation", lat: 23.013, lon: 113.152)
                if other["department"]?["code"]?.string != Self.env, let otherNumber = other["number"]?.string {
                    (status, _, _) = try await app.signed(
                        .POST, "/api/v1/cases/connectors/env-system/cases/\(otherNumber)/feedback", secret: secret, json: ["comment": "x"])
                    #expect(status == .notFound)
                }
                (status, _, _) = try await app.signed(
                    .POST, "/api/v1/cases/connectors/env-system/cases/WG-00000000-000000/feedback", secret: secret, json: ["comment": "x"])
                #expect(status == .notFound)

                // The status changes went out too (accept → processing, feedback → resolved); the disabled connector got nothing new.
                _ = try await app.jobs.runOnce(app: app, limit: 50)
                delivered = try await deliveries("env-system")
                #expect(delivered.count == 3)
                #expect(delivered.allSatisfy { $0["status"]?.string == "delivered" })
                let statuses = server.hits("/hook").compactMap { try? JSONDecoder().decode(JSONValue.self, from: $0.body)["case"]?["status"]?.string }
                #expect(statuses == ["dispatched", "processing", "resolved"])
                #expect(server.hits("/hook").dropFirst().allSatisfy { $0.event == "case.status_changed" })
                #expect(try await deliveries("broken-system").count == 1)

                // Without the private-address setting, a loopback endpoint is refused before any connection.
                app.connectorConfig.allowPrivate = false
                app.casesConfig.mediaAllowPrivate = false
                let before = server.hits("/hook").count
                (status, _) = try await app.act(id, "close", token: envToken)
                #expect(status == .ok)
                _ = try await app.jobs.runOnce(app: app, limit: 50)
                #expect(server.hits("/hook").count == before)
                delivered = try await deliveries("env-system")
                #expect(delivered.first?["lastError"]?.string?.contains("private or special address") == true)
                #expect(delivered.first?["status"]?.string == "pending")
            }
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }
}
