import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Cases: grid member and settings pages")
struct CaseAdminPagesTests {
    static let grid = "440604001001-G01"

    @Test func gridAdminsListAddAndRemoveMembersOnThePage_badInputComesBackOnTheForm() async throws {
        try await withTestApp(demo: true) { app in
            let anonymous = PageBrowser(app)
            var res = try await anonymous.get("/staff/cases/grids")
            #expect(res.status == .seeOther)
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            res = try await citizen.get("/staff/cases/grids")
            #expect(res.status == .forbidden)
            // Staff who administer no grid see none and may not open one.
            let community = PageBrowser(app)
            try await community.login("demo-community")
            res = try await community.get("/staff/cases/grids")
            #expect(res.status == .ok)
            #expect(community.lastBody.contains("您没有可管理的网格"))
            res = try await community.get("/staff/cases/grids/\(Self.grid)")
            #expect(res.status == .forbidden)

            // A department administrator on the grid's region chain: the grid list with member counts, filterable.
            let supervisor = PageBrowser(app)
            try await supervisor.login("demo-supervisor")
            res = try await supervisor.get("/staff/cases/grids?q=G01")
            #expect(res.status == .ok)
            #expect(supervisor.lastBody.contains(#"<a href="/staff/cases/grids/\#(Self.grid)">"#))
            #expect(supervisor.lastBody.contains(#"<label for="f-q">"#))
            res = try await supervisor.get("/staff/cases/grids/NO-SUCH-GRID")
            #expect(res.status == .notFound)
            res = try await supervisor.get("/staff/cases/grids/\(Self.grid)")
            #expect(res.status == .ok)
            #expect(supervisor.lastBody.contains("<td>demo-grid</td>"))
            #expect(supervisor.lastBody.contains(#"<label for="f-username">"#))
            #expect(supervisor.lastBody.contains(#"aria-label="移除网格员"#))

            // Bad input: empty, unknown, a resident's account — 422 with an error summary that links to the field.
            let add = "/staff/cases/grids/\(Self.grid)/members"
            res = try await supervisor.post(add, [("username", "  ")])
            #expect(res.status == .unprocessableEntity)
            #expect(supervisor.lastBody.contains(#"role="alert""#) && supervisor.lastBody.contains(##"href="#f-username""##))
            #expect(supervisor.lastBody.contains("请填写工作人员账号"))
            #expect(supervisor.lastBody.contains(#"aria-invalid="true""#))
            res = try await supervisor.post(add, [("username", "nobody-here")])
            #expect(res.status == .unprocessableEntity)
            #expect(supervisor.lastBody.contains("没有这个账号") && supervisor.lastBody.contains(#"value="nobody-here""#))
            res = try await supervisor.post(add, [("username", "demo-citizen")])
            #expect(res.status == .unprocessableEntity)
            #expect(supervisor.lastBody.contains("网格员须为在用的工作人员账号"))
            // Not a grid administrator; no CSRF token.
            res = try await community.post(add, [("username", "demo-env")])
            #expect(res.status == .forbidden)
            let (noToken, _, _) = try await app.send(.POST, add, json: ["username": "demo-env"])
            #expect(noToken == .forbidden || noToken == .unauthorized || noToken == .seeOther)

            // Adding: a redirect, the one-time message, the member listed (and in the API); twice is a conflict.
            res = try await supervisor.post(add, [("username", "demo-env")])
            #expect(res.status == .seeOther)
            res = try await supervisor.get("/staff/cases/grids/\(Self.grid)")
            #expect(supervisor.lastBody.contains(#"role="status""#) && supervisor.lastBody.contains("已添加网格员：demo-env"))
            #expect(supervisor.lastBody.contains("<td>demo-env</td>"))
            let token = try await app.login("demo-supervisor")
            var (status, body, _) = try await app.send(.GET, "/api/v1/cases/grids/\(Self.grid)/members", token: token)
            #expect(status == .ok)
            #expect(Set(body.items.compactMap { $0["username"]?.string }) == ["demo-grid", "demo-env"])
            res = try await supervisor.post(add, [("username", "demo-env")])
            #expect(res.status == .conflict)
            #expect(supervisor.lastBody.contains("already a member"))

            // Removing: one member goes, the other stays; removing a non-member is 404.
            res = try await supervisor.post("/staff/cases/grids/\(Self.grid)/members/demo-env/remove", [])
            #expect(res.status == .seeOther)
            res = try await supervisor.get("/staff/cases/grids/\(Self.grid)")
            #expect(supervisor.lastBody.contains("已移除网格员：demo-env"))
            #expect(!supervisor.lastBody.contains("<td>demo-env</td>") && supervisor.lastBody.contains("<td>demo-grid</td>"))
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/grids/\(Self.grid)/members", token: token)
            #expect(body.items.compactMap { $0["username"]?.string } == ["demo-grid"])
            res = try await supervisor.post("/staff/cases/grids/\(Self.grid)/members/demo-env/remove", [])
            #expect(res.status == .notFound)

            // English.
            res = try await supervisor.get("/staff/cases/grids/\(Self.grid)?lang=en")
            #expect(supervisor.lastBody.contains("Add a grid member") && supervisor.lastBody.contains(#"<html lang="en""#))
        }
    }

    @Test func staffReadTheSettings_adminsEditSLAAndTaskSources_badInputNamedOnTheForm() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            var res = try await citizen.get("/staff/cases/settings")
            #expect(res.status == .forbidden)

            // Staff: read-only, with the routing rules and the duplicate window.
            let supervisor = PageBrowser(app)
            try await supervisor.login("demo-supervisor")
            res = try await supervisor.get("/staff/cases/settings")
            #expect(res.status == .ok)
            #expect(!supervisor.lastBody.contains(#"action="/staff/cases/settings/sla""#))
            #expect(supervisor.lastBody.contains("默认设置（未修改过）"))
            #expect(supervisor.lastBody.contains("分派规则") && supervisor.lastBody.contains("佛山市生态环境局禅城分局"))
            #expect(supervisor.lastBody.contains("TONGBAN_CASES_DUPLICATE_METERS"))
            res = try await supervisor.post("/staff/cases/settings/sla", [("sla_0_resolution_value", "2"), ("sla_0_resolution_unit", "working_days")])
            #expect(res.status == .forbidden)
            res = try await supervisor.post("/staff/cases/settings/task-sources", [("source_0_code", "abc"), ("source_0_name", "甲")])
            #expect(res.status == .forbidden)

            // System administrator: the forms, each field labelled.
            let admin = PageBrowser(app)
            try await admin.login("demo-admin")
            res = try await admin.get("/staff/cases/settings")
            #expect(res.status == .ok)
            #expect(admin.lastBody.contains(#"action="/staff/cases/settings/sla""#))
            #expect(admin.lastBody.contains(#"<label class="visually-hidden" for="f-sla_0_resolution_value">"#))
            #expect(admin.lastBody.contains(#"id="f-sla_0_resolution_value" name="sla_0_resolution_value" type="number" min="1" inputmode="numeric" size="5" value="5""#))
            #expect(admin.lastBody.contains(#"value="leader_instruction""#))

            // Bad SLA input: each bad field named and linked; what was typed stays; nothing saved.
            res = try await admin.post("/staff/cases/settings/sla", [
                ("sla_0_resolution_value", "0"), ("sla_0_resolution_unit", "working_days"),
                ("sla_3_resolution_value", "90"), ("sla_3_resolution_unit", "minutes"),
                ("hotline_value", "soon"), ("hotline_unit", "minutes"),
            ])
            #expect(res.status == .unprocessableEntity)
            #expect(admin.lastBody.contains(##"href="#f-sla_0_resolution_value""##))
            #expect(admin.lastBody.contains(##"href="#f-sla_3_resolution_value""##))
            #expect(admin.lastBody.contains(##"href="#f-hotline_value""##))
            #expect(admin.lastBody.contains("网格事件 一般 办结时限"))
            #expect(admin.lastBody.contains(#"name="sla_0_resolution_value" type="number" min="1" inputmode="numeric" size="5" value="0" aria-invalid="true""#))
            let token = try await app.login("demo-admin")
            var (status, body, _) = try await app.send(.GET, "/api/v1/cases/settings/sla", token: token)
            #expect(body["version"]?.number == 0)

            // A valid change: version 1, in the API and on the page.
            res = try await admin.post("/staff/cases/settings/sla", [
                ("sla_0_resolution_value", "3"), ("sla_0_resolution_unit", "working_days"),
                ("hotline_value", "20"), ("hotline_unit", "minutes"),
            ])
            #expect(res.status == .seeOther)
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/settings/sla", token: token)
            #expect(status == .ok)
            #expect(body["version"]?.number == 1)
            let gridNormal = body["items"]?.items.first { $0["type"]?.string == "grid_event" && $0["priority"]?.string == "normal" }
            #expect(gridNormal?["resolution"]?["value"]?.number == 3)
            #expect(body["hotlineResponse"]?["value"]?.number == 20)
            res = try await admin.get("/staff/cases/settings")
            #expect(admin.lastBody.contains("已保存，新版本 1") && admin.lastBody.contains("demo-admin"))

            // Task sources: a duplicate code and a missing name are named by row; then a valid list replaces the old one.
            res = try await admin.post("/staff/cases/settings/task-sources", [
                ("source_0_code", "hotline"), ("source_0_name", "热线"), ("source_1_code", ""), ("source_1_name", ""),
                ("source_2_code", "hotline"), ("source_2_name", ""), ("source_2_nameEn", "Again"),
            ])
            #expect(res.status == .unprocessableEntity)
            #expect(admin.lastBody.contains(##"href="#f-source_1_code""##) && admin.lastBody.contains(##"href="#f-source_1_name""##))
            #expect(admin.lastBody.contains("hotline is given twice"))
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/settings/task-sources", token: token)
            #expect(body["version"]?.number == 0)
            res = try await admin.post("/staff/cases/settings/task-sources", [
                ("source_0_code", "hotline"), ("source_0_name", "热线"), ("source_0_nameEn", "Hotline"),
                ("source_4_code", "people_congress"), ("source_4_name", "人大建议"),
            ])
            #expect(res.status == .seeOther)
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/settings/task-sources", token: token)
            #expect(body["version"]?.number == 1)
            #expect(body["items"]?.items.compactMap { $0["code"]?.string } == ["hotline", "people_congress"])
            #expect(body["items"]?.items.last?["nameEn"]?.string == "人大建议")

            // English.
            res = try await admin.get("/staff/cases/settings?lang=en")
            #expect(admin.lastBody.contains("Deadlines (SLA)") && admin.lastBody.contains("Routing rules"))
        }
    }
}
