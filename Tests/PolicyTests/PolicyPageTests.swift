import Foundation
import Policy
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Policy pages: rule editor and check-up")
struct PolicyPageTests {
    @Test func staffWriteCheckDryRunSaveAndPublish_errorsShowWithLineAndColumn() async throws {
        try await withTestApp(demo: true) { app in
            let browser = PageBrowser(app)
            #expect(try await browser.get("/policy/editor").status == .seeOther)
            try await browser.login("demo-admin")
            let list = try await browser.get("/policy/editor")
            #expect(list.status == .ok)
            #expect(browser.lastBody.contains("/policy/editor/new"))
            try await browser.get("/policy/editor/new")
            #expect(browser.lastBody.contains("profile.employees"))
            var form: [(String, String)] = [
                ("code", "PAGE-TEST"), ("audience", "enterprise"), ("title", "页面测试补贴"), ("titleEn", "Page test grant"),
                ("issuer", "测试局"), ("mode", "apply"), ("tags", "manufacturing"), ("validFrom", ""), ("validUntil", ""),
                ("conditions", "员工不少于 50 人 | profile.employees >= 50\n制造业 | profile.industry == 'C'"),
                ("amountExpression", "10000.0"),
            ]
            // Check: a dry run over the stored profiles; nothing is stored.
            let checked = try await browser.post("/policy/editor/new", form + [("action", "check")])
            #expect(checked.status == .ok)
            #expect(browser.lastBody.contains("dry-eligible"))
            #expect(browser.lastBody.contains("员工不少于 50 人"))
            let (_, drafts, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items?status=draft", token: try await app.login("demo-admin"))
            #expect(!(drafts["items"]?.items.contains { $0["code"]?.stringValue == "PAGE-TEST" } ?? true))

            // A syntax error: 422 with the condition, line and column; the text typed is kept.
            var broken = form
            broken[9] = ("conditions", "员工不少于 50 人 | profile.employees >=\nno bar here")
            let bad = try await browser.post("/policy/editor/new", broken + [("action", "save")])
            #expect(bad.status == .unprocessableEntity)
            #expect(browser.lastBody.contains("error-summary"))
            #expect(browser.lastBody.contains("no bar here"))
            broken[9] = ("conditions", "员工不少于 50 人 | profile.employees >=")
            let syntax = try await browser.post("/policy/editor/new", broken + [("action", "save")])
            #expect(syntax.status == .unprocessableEntity)
            #expect(browser.lastBody.contains("conditions 1"))
            #expect(browser.lastBody.contains("1:"))

            // Save, then publish: version 1, listed with its history.
            let saved = try await browser.post("/policy/editor/new", form + [("action", "save")])
            #expect(saved.status == .seeOther)
            let location = saved.headers.first(name: .location) ?? ""
            #expect(location.hasPrefix("/policy/editor/"))
            let path = String(location.prefix(while: { $0 != "?" }))
            try await browser.get(location)
            #expect(browser.lastBody.contains("PAGE-TEST"))
            form[9] = ("conditions", "员工不少于 60 人 | profile.employees >= 60")
            let published = try await browser.post(path, form.filter { $0.0 != "code" && $0.0 != "audience" } + [("action", "publish")])
            #expect(published.status == .seeOther)
            #expect(published.headers.first(name: .location)?.hasSuffix("published=1") == true)
            try await browser.get(path)
            #expect(browser.lastBody.contains("profile.employees &gt;= 60") || browser.lastBody.contains("profile.employees >= 60"))
            // An edit of the published item waits as a pending revision; publishing makes version 2.
            form[9] = ("conditions", "员工不少于 70 人 | profile.employees >= 70")
            let pending = try await browser.post(path, form + [("action", "save")])
            #expect(pending.status == .seeOther)
            let id = String(path.dropFirst("/policy/editor/".count))
            let (_, item, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items/\(id)")
            #expect(item["version"]?.doubleValue == 1)
            #expect(item["pendingRevision"]?["conditions"]?.items.first?["expression"]?.stringValue == "profile.employees >= 70")
            let second = try await browser.post(path, form + [("action", "publish")])
            #expect(second.headers.first(name: .location)?.hasSuffix("published=2") == true)

            // A form without its CSRF token is refused; citizens may not open the editor.
            let forged = try await app.testing().sendRequest(
                .POST, path, headers: ["Cookie": browser.cookieHeader, "Content-Type": "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "action=save&title=x"))
            #expect(forged.status == .forbidden)
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            #expect(try await citizen.get("/policy/editor").status == .forbidden)
        }
    }

    @Test func enterpriseCheckup_listsEveryItemWithConditionResults() async throws {
        try await withTestApp(demo: true) { app in
            let browser = PageBrowser(app)
            try await browser.login("demo-enterprise")
            let res = try await browser.get("/policy/checkup")
            #expect(res.status == .ok)
            #expect(browser.lastBody.contains("济南泉城食品有限公司"))
            #expect(browser.lastBody.contains("result-passed"))
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            try await citizen.get("/policy/checkup")
            #expect(citizen.lastBody.contains("请先以企业身份办理"))
        }
    }
}
