import Fluent
import Foundation
import Licences
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Licences issued from approved applications (办结即发证)")
struct ApplicationIssuanceTests {
    func openTask(_ app: Application, _ username: String, application: String) async throws -> String? {
        let token = try await app.login(username)
        let (_, inbox, _) = try await app.call(.GET, "/api/v1/tasks?limit=100", token: token)
        guard case .array(let items)? = inbox["items"] else { return nil }
        return items.first { $0["applicationId"]?.stringValue == application }?["id"]?.stringValue
    }

    @Test func approvedJointApplicationYieldsOneSignedPermitFilledFromTheForm() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let (_, services, _) = try await app.call(.GET, "/api/v1/services?q=joint-approval-demo")
            guard case .array(let items)? = services["items"], let serviceID = items.first?["id"]?.stringValue else {
                Issue.record("demo service missing"); return
            }
            let (created, application, _) = try await app.call(
                .POST, "/api/v1/applications", token: citizen,
                body: ["serviceId": .string(serviceID), "form": ["projectName": "泉城路改造工程"], "submit": true])
            #expect(created == .created)
            let id = try #require(application["id"]?.stringValue)
            let accept = try #require(try await openTask(app, "demo-clerk", application: id))
            _ = try await app.call(.POST, "/api/v1/tasks/\(accept)/actions", token: try await app.login("demo-clerk"), body: ["action": "accept"])
            for approver in ["demo-approver-1", "demo-approver-2", "demo-approver-3"] {
                // Not yet: no licence while approvals are open.
                _ = try await app.jobs.runOnce(app: app)
                #expect(try await Licence.query(on: app.db).filter(\.$applicationID == UUID(uuidString: id)).count() == 0)
                let task = try #require(try await openTask(app, approver, application: id))
                let (ok, _, _) = try await app.call(.POST, "/api/v1/tasks/\(task)/actions", token: try await app.login(approver), body: ["action": "approve"])
                #expect(ok == .ok)
            }
            // The listener queued the issuance in the approving transaction; the job issues it, once.
            _ = try await app.jobs.runOnce(app: app)
            _ = try await app.jobs.runOnce(app: app)
            let issued = try await Licence.query(on: app.db).filter(\.$applicationID == UUID(uuidString: id)).all()
            #expect(issued.count == 1)
            let licence = try #require(issued.first)
            #expect(licence.typeCode == "demo-permit")
            #expect(licence.fields["name"] == "泉城路改造工程")
            #expect(licence.fields["scope"] == "联合审批（演示）")
            #expect(licence.statusIndex != nil)
            // It is in the holder's wallet and verifies.
            let (_, wallet, _) = try await app.call(.GET, "/api/v1/licences", token: citizen)
            guard case .array(let mine) = wallet else { Issue.record("wallet is not a list"); return }
            let entry = try #require(mine.first { $0["id"]?.stringValue == licence.id?.uuidString.lowercased() || $0["id"]?.stringValue == licence.id?.uuidString })
            let payload = try #require(entry["qr"]?["payload"]?.stringValue)
            #expect(try await app.verifyPayload(payload)["valid"] == .bool(true))
        }
    }

    @Test func bindingsNeedTheTypesDepartmentAdminAndKnownFields() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let clerk = try await app.login("demo-clerk")
            let (forbidden, _, _) = try await app.call(
                .PUT, "/api/v1/licences/bindings/some-service", token: clerk, body: ["typeCode": "demo-permit", "fields": ["name": "$x"]])
            #expect(forbidden == .forbidden)
            let (bad, problem, _) = try await app.call(
                .PUT, "/api/v1/licences/bindings/some-service", token: admin, body: ["typeCode": "no-such-type", "fields": ["colour": "red"]])
            #expect(bad == .unprocessableEntity)
            #expect(problem["errors"] != nil)
            let (ok, binding, _) = try await app.call(
                .PUT, "/api/v1/licences/bindings/some-service", token: admin, body: ["typeCode": "demo-permit", "fields": ["name": "$companyName"]])
            #expect(ok == .ok)
            #expect(binding["fields"]?["name"]?.stringValue == "$companyName")
            let (_, list, _) = try await app.call(.GET, "/api/v1/licences/bindings", token: clerk)
            guard case .array(let rows) = list else { Issue.record("not a list"); return }
            #expect(Set(rows.compactMap { $0["serviceCode"]?.stringValue }) == ["joint-approval-demo", "some-service"])
        }
    }
}
