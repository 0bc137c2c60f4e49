import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Cases: staff actions on the case page, reporter notifications")
struct CaseActionPagesTests {
    /// The reporter's in-app notifications (templates, newest first).
    func notifications(_ app: Application, _ token: String) async throws -> [JSONValue] {
        let (status, body, _) = try await app.send(.GET, "/api/v1/notifications", token: token)
        #expect(status == .ok)
        return body["items"]?.items ?? []
    }

    func status(_ app: Application, _ id: String, _ token: String) async throws -> JSONValue {
        let (_, body, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: token)
        return body
    }

    @Test func staffActFromThePage_acceptFeedbackClose_reporterEvaluatesAndReopens_withNotifications() async throws {
        try await withTestApp(demo: true) { app in
            let citizenToken = try await app.login("demo-citizen")
            let created = try await app.fileCase(token: citizenToken, category: "sanitation", lat: 23.005, lon: 113.105)
            let id = try #require(created["id"]?.string).lowercased()
            let number = try #require(created["number"]?.string)
            let path = "/cases/\(id)"

            // The grid clerk (lead department) sees the forms for what the clerk may do now, and no more.
            let grid = PageBrowser(app)
            try await grid.login("demo-grid")
            var res = try await grid.get(path)
            #expect(res.status == .ok)
            #expect(grid.lastBody.contains(#"name="action" value="accept""#))
            #expect(grid.lastBody.contains(#"name="action" value="dispatch""#))
            #expect(grid.lastBody.contains(#"name="action" value="escalate""#))
            #expect(!grid.lastBody.contains(#"name="action" value="feedback""#))
            #expect(!grid.lastBody.contains(#"name="action" value="close""#))
            #expect(grid.lastBody.contains(#"<label for="f-escalate-comment">"#))
            #expect(grid.lastBody.contains(#"action="/cases/\#(id)/actions""#))
            // The reporter sees the case but no staff forms.
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            res = try await citizen.get(path)
            #expect(res.status == .ok)
            #expect(!citizen.lastBody.contains(#"name="action""#))
            // A resident posting a staff action is refused.
            res = try await citizen.post("\(path)/actions", [("action", "accept")])
            #expect(res.status == .forbidden)

            // Accept from the page: back to the case with a one-time message; the reporter is told.
            res = try await grid.post("\(path)/actions", [("action", "accept"), ("comment", "")])
            #expect(res.status == .seeOther)
            #expect(res.headers.first(name: .location) == path)
            res = try await grid.get(path)
            #expect(grid.lastBody.contains(#"class="flash success""#) && grid.lastBody.contains("已办理：签收"))
            #expect(grid.lastBody.contains(#"name="action" value="feedback""#))
            #expect(!grid.lastBody.contains(#"name="action" value="accept""#))
            res = try await grid.get(path)
            #expect(!grid.lastBody.contains(#"class="flash"#), "the message is shown once")
            #expect(try await status(app, id, citizenToken)["status"]?.string == "processing")
            var inbox = try await notifications(app, citizenToken)
            #expect(inbox.first?["template"]?.string == "case.accepted")
            #expect(inbox.first?["title"]?.string?.contains(number) == true)

            // Escalating without a reason comes back on the form (422), linked to the field; nothing changes.
            res = try await grid.post("\(path)/actions", [("action", "escalate"), ("comment", "  ")])
            #expect(res.status == .unprocessableEntity)
            #expect(grid.lastBody.contains("error-summary") && grid.lastBody.contains("#f-escalate-comment"))
            #expect(try await status(app, id, citizenToken)["status"]?.string == "processing")
            #expect(try await status(app, id, citizenToken)["level"]?.string == "community")

            // Feedback: resolved; the reporter hears the result.
            res = try await grid.post("\(path)/actions", [("action", "feedback"), ("comment", "已清运垃圾")])
            #expect(res.status == .seeOther)
            #expect(try await status(app, id, citizenToken)["status"]?.string == "resolved")
            inbox = try await notifications(app, citizenToken)
            #expect(inbox.first?["template"]?.string == "case.feedback")
            #expect(inbox.first?["body"]?.string?.contains("已清运垃圾") == true)
            // The clerk may not close: no form, and a told "nothing to do".
            res = try await grid.get(path)
            #expect(!grid.lastBody.contains(#"name="action" value="close""#))
            #expect(grid.lastBody.contains("您现在没有可办理的操作"))

            // The community's approver closes (valid report); an action out of order answers with a message.
            let community = PageBrowser(app)
            try await community.login("demo-community")
            res = try await community.get(path)
            #expect(community.lastBody.contains(#"name="action" value="close""#))
            #expect(community.lastBody.contains(#"id="f-close-valid""#))
            res = try await community.post("\(path)/actions", [("action", "close"), ("valid", "true"), ("comment", "核查属实")])
            #expect(res.status == .seeOther)
            #expect(try await status(app, id, citizenToken)["status"]?.string == "closed")
            #expect(try await notifications(app, citizenToken).first?["template"]?.string == "case.closed")
            let (_, points, _) = try await app.send(.GET, "/api/v1/cases/points", token: citizenToken)
            #expect(points["balance"]?.number == 10)
            res = try await grid.post("\(path)/actions", [("action", "accept")])
            #expect(res.status == .seeOther)
            res = try await grid.get(path)
            #expect(grid.lastBody.contains(#"class="flash error""#) && grid.lastBody.contains("案件状态已变化"))

            // The reporter evaluates: unsatisfied needs a note (422 on the form), then the case reopens once.
            res = try await citizen.get(path)
            #expect(citizen.lastBody.contains(#"name="satisfied" value="false""#))
            res = try await citizen.post("\(path)/actions", [("action", "evaluate"), ("satisfied", "false"), ("note", "")])
            #expect(res.status == .unprocessableEntity)
            #expect(citizen.lastBody.contains("#f-evaluate-note"))
            res = try await citizen.post("\(path)/actions", [("action", "evaluate"), ("note", "x")])
            #expect(res.status == .unprocessableEntity)
            #expect(citizen.lastBody.contains("#f-evaluate-satisfied"))
            res = try await citizen.post("\(path)/actions", [("action", "evaluate"), ("satisfied", "false"), ("note", "垃圾又堆起来了")])
            #expect(res.status == .seeOther)
            let reopened = try await status(app, id, citizenToken)
            #expect(reopened["status"]?.string == "processing")
            #expect(reopened["reopened"]?.number == 1)
            #expect(try await notifications(app, citizenToken).first?["template"]?.string == "case.reopened")
            let templates = try await notifications(app, citizenToken).compactMap { $0["template"]?.string }
            #expect(templates.filter { $0.hasPrefix("case.") }.count == 4)

            // English page and texts.
            res = try await grid.get(path + "?lang=en")
            #expect(grid.lastBody.contains("Feed back the result") && grid.lastBody.contains("Timeline"))
            let (_, english, _) = try await app.send(.GET, "/api/v1/notifications?lang=en", token: citizenToken)
            #expect(english["items"]?.items.first?["title"]?.string == "Your report \(number) was reopened")

            // A forged CSRF token is refused and changes nothing.
            grid.cookies["tb_csrf"] = "forged"
            res = try await grid.post("\(path)/actions", [("action", "feedback"), ("comment", "x")])
            #expect(res.status == .forbidden)
            #expect(try await status(app, id, citizenToken)["status"]?.string == "processing")
        }
    }

    @Test func dispatchWithCoHandlersAndEscalateFromThePage_upwardDispatchRefused() async throws {
        try await withTestApp(demo: true) { app in
            let citizenToken = try await app.login("demo-citizen")
            // Outside every grid: the district social governance centre (demo-district).
            let outside = try await app.fileCase(token: citizenToken, category: "road", lat: 23.5, lon: 113.5)
            let id = try #require(outside["id"]?.string)
            let district = PageBrowser(app)
            try await district.login("demo-district")
            var res = try await district.get("/cases/\(id)")
            #expect(district.lastBody.contains(#"<select id="f-dispatch-department" name="department""#))
            #expect(district.lastBody.contains(#"name="coHandlers[]" value="440604-CGJ""#))
            // An unknown department is a field error on the form.
            res = try await district.post("/cases/\(id)/actions", [("action", "dispatch"), ("department", "NOPE")])
            #expect(res.status == .unprocessableEntity)
            #expect(district.lastBody.contains("#f-dispatch-department"))
            res = try await district.post("/cases/\(id)/actions", [
                ("action", "dispatch"), ("department", "440604-JTJ"), ("coHandlers[]", "440604-CGJ"), ("coHandlers[]", "440604-SWJ"),
                ("comment", "交通局主办，城管、水务协办"),
            ])
            #expect(res.status == .seeOther)
            let (_, shown, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: citizenToken)
            #expect(shown["department"]?["code"]?.string == "440604-JTJ")
            #expect(Set(shown["coHandlers"]?.items.compactMap { $0["code"]?.string } ?? []) == ["440604-CGJ", "440604-SWJ"])
            #expect(shown["timeline"]?.items.last?["action"]?.string == "dispatch")

            // A community case: the clerk may not dispatch upward (a message), but escalates with a reason.
            let community = try await app.fileCase(token: citizenToken, category: "neighbourhood", lat: 23.005, lon: 113.105)
            let communityID = try #require(community["id"]?.string)
            let grid = PageBrowser(app)
            try await grid.login("demo-grid")
            res = try await grid.get("/cases/\(communityID)")
            #expect(!grid.lastBody.contains(#"<option value="440604-JTJ""#), "only the same or lower levels are offered")
            res = try await grid.post("/cases/\(communityID)/actions", [("action", "dispatch"), ("department", "440604-JTJ")])
            #expect(res.status == .seeOther)
            res = try await grid.get("/cases/\(communityID)")
            #expect(grid.lastBody.contains(#"class="flash error""#))
            res = try await grid.post("/cases/\(communityID)/actions", [("action", "escalate"), ("comment", "需街道协调多个部门")])
            #expect(res.status == .seeOther)
            let (_, escalated, _) = try await app.send(.GET, "/api/v1/cases/\(communityID)", token: citizenToken)
            #expect(escalated["level"]?.string == "street")
            #expect(escalated["timeline"]?.items.last?["comment"]?.string == "需街道协调多个部门")
            // Escalated away, the clerk no longer has actions on it (it may still read it as the dispatcher).
            res = try await grid.get("/cases/\(communityID)")
            #expect(res.status == .ok)
            #expect(!grid.lastBody.contains(#"name="action" value="accept""#))
        }
    }
}
