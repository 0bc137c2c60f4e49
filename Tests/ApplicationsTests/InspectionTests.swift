import Applications
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Remote site inspection (云现勘)")
struct InspectionTests {
    /// demo-enterprise acting for its enterprise: a submitted, accepted 户外招牌设置许可 application.
    func acceptedSignApplication(_ app: Application) async throws -> (token: String, enterprise: String, id: String) {
        let token = try await app.login("demo-enterprise")
        let (_, me) = try await app.json(.GET, "/api/v1/me", token: token)
        guard case .array(let enterprises)? = me["enterprises"], let enterprise = enterprises.first?["id"]?.stringValue else {
            throw Abort(.internalServerError, reason: "demo enterprise missing")
        }
        let (_, services) = try await app.json(.GET, "/api/v1/services?q=510106-01-0002")
        guard case .array(let items)? = services["items"], let serviceID = items.first?["id"]?.stringValue else {
            throw Abort(.internalServerError, reason: "service missing")
        }
        let code = Fixtures.creditCode("91370100MA3C5Q8K7")
        let (_, draft) = try await app.json(
            .POST, "/api/v1/applications", token: token,
            body: ["serviceId": .string(serviceID), "form": [
                "companyName": "济南泉城食品有限公司", "uscc": .string(code), "contactPhone": "13912345678", "signText": "泉城食品",
                "signWidth": 6, "signHeight": 1.2, "installAddress": "成都市武侯区科华北路 1 号",
            ]], actingFor: enterprise)
        let id = try #require(draft["id"]?.stringValue)
        let (uploaded, file) = try await app.upload(id, token: token, file: AttachmentTests.png, filename: "现场.png", actingFor: enterprise)
        #expect(uploaded == .created)
        let fileID = try #require(file["id"]?.stringValue)
        let (submitted, submitProblem) = try await app.json(
            .POST, "/api/v1/applications/\(id)/submit", token: token, body: ["form": [
                "companyName": "济南泉城食品有限公司", "uscc": .string(code), "contactPhone": "13912345678", "signText": "泉城食品",
                "signWidth": 6, "signHeight": 1.2, "installAddress": "成都市武侯区科华北路 1 号", "sitePhotos": .string(fileID),
            ]], actingFor: enterprise)
        #expect(submitted == .ok, "\(submitProblem)")
        let inspector = try await app.login("demo-inspector")
        let task = try #require(try await app.task(for: "demo-inspector", application: id))
        let (accepted, _) = try await app.json(.POST, "/api/v1/tasks/\(task)/actions", token: inspector, body: ["action": "accept"])
        #expect(accepted == .ok)
        return (token, enterprise, id)
    }

    @Test func bookSignUploadInspect_resultJoinsTheApplication() async throws {
        try await withTestApp(demo: true) { app in
            let (token, enterprise, id) = try await acceptedSignApplication(app)
            // No inspection yet; free slots are offered on working days only.
            let (none, _) = try await app.json(.GET, "/api/v1/applications/\(id)/inspection", token: token, actingFor: enterprise)
            #expect(none == .notFound)
            let (_, slots) = try await app.json(.GET, "/api/v1/applications/\(id)/inspection/slots", token: token, actingFor: enterprise)
            guard case .array(let free)? = slots["items"], free.count == 60, let first = free.first?.stringValue,
                let second = free[1].stringValue
            else { Issue.record("expected 60 slots over 10 working days: \(slots)"); return }
            // A time that is not a slot is refused; a slot is booked; moving it frees the first slot.
            let (notSlot, _) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection", token: token, body: ["at": "2026-12-25T03:17:00Z"], actingFor: enterprise)
            #expect(notSlot == .unprocessableEntity)
            let (booked, inspection) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection", token: token, body: ["at": .string(first)], actingFor: enterprise)
            #expect(booked == .created)
            #expect(inspection["status"]?.stringValue == "scheduled")
            let (moved, _) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection", token: token, body: ["at": .string(second)], actingFor: enterprise)
            #expect(moved == .created)
            let (_, after) = try await app.json(.GET, "/api/v1/applications/\(id)/inspection/slots", token: token, actingFor: enterprise)
            if case .array(let again)? = after["items"] {
                #expect(again.contains(.string(first)))
                #expect(!again.contains(.string(second)))
            }
            // The inspector cannot conclude before the commitment is signed.
            let inspector = try await app.login("demo-inspector")
            let findings: [JSONValue] = ["sign-size", "sign-position", "sign-structure", "neighbours"].map {
                ["code": .string($0), "result": "pass"]
            }
            let (early, earlyProblem) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection/result", token: inspector,
                body: ["items": .array(findings), "passed": true])
            #expect(early == .conflict)
            #expect(earlyProblem["type"]?.stringValue == "/problems/commitment-missing")
            let (signed, signedView) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection/commitment", token: token, actingFor: enterprise)
            #expect(signed == .ok)
            #expect(signedView["commitmentDigest"]?.stringValue?.count == 64)
            // Photos are missing for the three items that need one.
            let (noPhotos, photoProblem) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection/result", token: inspector,
                body: ["items": .array(findings), "passed": true])
            #expect(noPhotos == .unprocessableEntity)
            let missing = Set((photoProblem["errors"].flatMap { value -> [String]? in
                if case .array(let rows) = value { return rows.compactMap { $0["field"]?.stringValue } }
                return nil
            }) ?? [])
            #expect(missing == ["items.sign-size", "items.sign-position", "items.sign-structure"])
            // The applicant uploads evidence per item while the application is in progress.
            for code in ["sign-size", "sign-position", "sign-structure"] {
                var photo = AttachmentTests.png
                photo.append(Data(code.utf8))
                let (status, _) = try await app.upload(id, token: token, file: photo, filename: "\(code).png", fields: ["material": code],
                                                       actingFor: enterprise)
                #expect(status == .created)
            }
            // Without a checklist code it is still refused (the application is not editable).
            let (plain, _) = try await app.upload(id, token: token, file: AttachmentTests.pdf, filename: "x.pdf", actingFor: enterprise)
            #expect(plain == .conflict)
            // A pass with a failed item is contradictory; someone outside the department cannot conclude.
            var failing = findings
            failing[3] = ["code": "neighbours", "result": "fail", "note": "遮挡二楼窗户"]
            let (contradiction, _) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection/result", token: inspector, body: ["items": .array(failing), "passed": true])
            #expect(contradiction == .unprocessableEntity)
            let outsider = try await app.login("demo-approver-1")
            let (foreign, _) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection/result", token: outsider, body: ["items": .array(findings), "passed": true])
            #expect(foreign == .notFound)
            let (concluded, result) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection/result", token: inspector,
                body: ["items": .array(findings), "passed": true, "note": "现场与申报一致"])
            #expect(concluded == .ok)
            #expect(result["status"]?.stringValue == "passed")
            #expect(result["workingDaysFromSubmission"] == .number(0))
            let (twice, _) = try await app.json(
                .POST, "/api/v1/applications/\(id)/inspection/result", token: inspector, body: ["items": .array(findings), "passed": false])
            #expect(twice == .conflict)
            // The result joins the application's timeline; the applicant is notified; statistics count it.
            let (_, application) = try await app.json(.GET, "/api/v1/applications/\(id)", token: token, actingFor: enterprise)
            if case .array(let timeline)? = application["timeline"] {
                #expect(timeline.contains { $0["action"]?.stringValue == "inspection" && $0["comment"]?.stringValue?.contains("通过") == true })
            } else { Issue.record("no timeline") }
            let (_, inbox) = try await app.json(.GET, "/api/v1/notifications", token: token)
            if case .array(let messages)? = inbox["items"] {
                #expect(messages.contains { $0["template"]?.stringValue == "inspection.completed" })
                #expect(messages.contains { $0["template"]?.stringValue == "inspection.scheduled" })
            }
            let (_, stats) = try await app.json(.GET, "/api/v1/inspections/statistics")
            if case .array(let rows)? = stats["items"] {
                let row = rows.first { $0["serviceCode"]?.stringValue == "510106-01-0002" }
                #expect(row?["inspections"] == .number(1))
                #expect(row?["passed"] == .number(1))
            } else { Issue.record("no statistics") }
        }
    }

    @Test func oneSlotPerDepartment_andServicesWithoutChecklistRefuse() async throws {
        try await withTestApp(demo: true) { app in
            let (token, enterprise, id) = try await acceptedSignApplication(app)
            let (token2, _, id2) = try await acceptedSignApplication(app)
            let (_, slots) = try await app.json(.GET, "/api/v1/applications/\(id)/inspection/slots", token: token, actingFor: enterprise)
            guard case .array(let free)? = slots["items"], let first = free.first else { Issue.record("no slots"); return }
            // Two applications race for the same slot of the same department: exactly one gets it.
            async let a = app.json(.POST, "/api/v1/applications/\(id)/inspection", token: token, body: ["at": first], actingFor: enterprise)
            async let b = app.json(.POST, "/api/v1/applications/\(id2)/inspection", token: token2, body: ["at": first], actingFor: enterprise)
            let results = try await [a.0, b.0]
            #expect(results.filter { $0 == .created }.count == 1)
            #expect(results.filter { $0 == .conflict }.count == 1)
            // joint-approval-demo has no checklist.
            let citizen = try await app.login("demo-citizen")
            let (_, created) = try await app.json(
                .POST, "/api/v1/applications", token: citizen,
                body: ["serviceId": .string(try await app.demoServiceID()), "form": ["projectName": "无需现勘"], "submit": true])
            let plain = try #require(created["id"]?.stringValue)
            let (refused, problem) = try await app.json(.GET, "/api/v1/applications/\(plain)/inspection/slots", token: citizen)
            #expect(refused == .conflict)
            #expect(problem["type"]?.stringValue == "/problems/no-inspection-needed")
        }
    }

    @Test func pages_showTheInspectionToApplicantAndInspector() async throws {
        try await withTestApp(demo: true) { app in
            let (token, enterprise, id) = try await acceptedSignApplication(app)
            let applicant = PageBrowser(app)
            try await applicant.login("demo-enterprise")
            let before = try await applicant.get("/me/applications/\(id)")
            #expect(before.status == .ok)
            #expect(applicant.lastBody.contains(#"id="inspection-at""#))
            // Book through the page, then sign.
            let (_, slots) = try await app.json(.GET, "/api/v1/applications/\(id)/inspection/slots", token: token, actingFor: enterprise)
            guard case .array(let free)? = slots["items"], let first = free.first?.stringValue else { Issue.record("no slots"); return }
            let booked = try await applicant.post("/me/applications/\(id)/inspection", [("at", first)])
            #expect(booked.status == .seeOther)
            try await applicant.get("/me/applications/\(id)")
            #expect(applicant.lastBody.contains("已预约现场勘验"))
            #expect(applicant.lastBody.contains(#"name="material" value="sign-size""#))
            try await applicant.post("/me/applications/\(id)/inspection/commitment", [])
            // The inspector sees the findings form on the task page and records a failure.
            let inspector = PageBrowser(app)
            try await inspector.login("demo-inspector")
            let task = try #require(try await app.task(for: "demo-inspector", application: id))
            let page = try await inspector.get("/staff/tasks/\(task)")
            #expect(page.status == .ok)
            #expect(inspector.lastBody.contains(#"name="result-sign-size""#))
            // Photos are missing: the page reports it and nothing is concluded.
            let fields = ["sign-size", "sign-position", "sign-structure", "neighbours"].map { ("result-\($0)", "pass") }
            try await inspector.post("/staff/tasks/\(task)/inspection", fields + [("passed", "true")])
            try await inspector.get("/staff/tasks/\(task)")
            #expect(inspector.lastBody.contains("items.sign-size"))
            for code in ["sign-size", "sign-position", "sign-structure"] {
                var photo = AttachmentTests.png
                photo.append(Data(code.utf8))
                _ = try await app.upload(id, token: token, file: photo, filename: "\(code).png", fields: ["material": code], actingFor: enterprise)
            }
            try await inspector.get("/staff/tasks/\(task)")
            let done = try await inspector.post(
                "/staff/tasks/\(task)/inspection", fields + [("passed", "false"), ("note-neighbours", "遮挡窗户"), ("note", "需整改")])
            #expect(done.status == .seeOther)
            try await inspector.get("/staff/tasks/\(task)")
            #expect(inspector.lastBody.contains("勘验结果已记录"))
            try await applicant.get("/me/applications/\(id)")
            #expect(applicant.lastBody.contains("勘验不通过"))
            #expect(applicant.lastBody.contains("需整改"))
        }
    }
}
