import Applications
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting


@Suite("Application pages: apply, my applications, staff inbox and decision")
struct ApplicationPageTests {
    @Test func applyOnline_thenClerkAndApproversDecideOnTheirPages() async throws {
        try await withTestApp(demo: true) { app in
            let serviceID = try await app.demoServiceID()
            let citizen = PageBrowser(app)
            // Signed out: the apply page sends you to log in and back.
            let anonymous = try await citizen.get("/services/\(serviceID)/apply")
            #expect(anonymous.status == .seeOther)
            #expect(anonymous.headers.first(name: .location) == "/login?next=/services/\(serviceID)/apply")
            // The guide links to the form.
            try await citizen.get("/services/\(serviceID)")
            #expect(citizen.lastBody.contains("/services/\(serviceID)/apply"))
            try await citizen.login("demo-citizen")
            let form = try await citizen.get("/services/\(serviceID)/apply")
            #expect(form.status == .ok)
            #expect(citizen.lastBody.contains(#"<label for="f-projectName">"#))
            // Submitting empty: the error summary links to the field; nothing is stored.
            let empty = try await citizen.post("/services/\(serviceID)/apply", [("intent", "submit"), ("projectName", "")])
            #expect(empty.status == .unprocessableEntity)
            #expect(citizen.lastBody.contains(#"id="error-summary""#))
            #expect(citizen.lastBody.contains(##"href="#f-projectName""##))
            #expect(citizen.lastBody.contains(#"aria-invalid="true""#))
            let citizenToken = try await app.login("demo-citizen")
            let (_, before) = try await app.json(.GET, "/api/v1/applications", token: citizenToken)
            if case .array(let items)? = before["items"] { #expect(items.isEmpty) }
            // Submit for real: redirected to the application's page with its number.
            try await citizen.get("/services/\(serviceID)/apply")
            let submitted = try await citizen.post("/services/\(serviceID)/apply", [("intent", "submit"), ("projectName", "网页申请项目")])
            #expect(submitted.status == .seeOther)
            let detailPath = try #require(submitted.headers.first(name: .location))
            #expect(detailPath.hasPrefix("/me/applications/"))
            let applicationID = String(detailPath.dropFirst("/me/applications/".count))
            try await citizen.get(detailPath)
            #expect(citizen.lastBody.contains("网页申请项目"))
            #expect(citizen.lastBody.contains("已提交，待受理"))
            try await citizen.get("/me/applications")
            #expect(citizen.lastBody.contains(detailPath))

            // The clerk sees it in the inbox and accepts it on the task page.
            let clerk = PageBrowser(app)
            try await clerk.login("demo-clerk")
            try await clerk.get("/staff/tasks")
            let clerkTask = try #require(try await app.task(for: "demo-clerk", application: applicationID))
            #expect(clerk.lastBody.contains("/staff/tasks/\(clerkTask)"))
            try await clerk.get("/staff/tasks/\(clerkTask)")
            #expect(clerk.lastBody.contains("网页申请项目"))
            // A refusal without a reason is sent back with the error; the task stays open.
            let noReason = try await clerk.post("/staff/tasks/\(clerkTask)", [("action", "reject"), ("comment", "")])
            #expect(noReason.status == .unprocessableEntity)
            #expect(clerk.lastBody.contains(##"href="#decision-comment""##))
            let accepted = try await clerk.post("/staff/tasks/\(clerkTask)", [("action", "accept"), ("comment", "材料齐全")])
            #expect(accepted.status == .seeOther)
            // A citizen cannot open the staff pages; another department's approver cannot open the task.
            let forbidden = try await citizen.get("/staff/tasks")
            #expect(forbidden.status == .forbidden)
            for index in 1...3 {
                let approver = PageBrowser(app)
                try await approver.login("demo-approver-\(index)")
                let task = try #require(try await app.task(for: "demo-approver-\(index)", application: applicationID))
                if index == 1 {
                    let stranger = PageBrowser(app)
                    try await stranger.login("demo-approver-2")
                    #expect(try await stranger.get("/staff/tasks/\(task)").status == .notFound)
                }
                try await approver.get("/staff/tasks/\(task)")
                let done = try await approver.post("/staff/tasks/\(task)", [("action", "approve"), ("comment", "同意")])
                #expect(done.status == .seeOther)
                // Deciding twice (e.g. a second tab) is a clear message, not an error page.
                if index == 3 {
                    let again = try await approver.post("/staff/tasks/\(task)", [("action", "approve")])
                    #expect(again.status == .seeOther)
                    try await approver.get("/staff/tasks")
                    #expect(approver.lastBody.contains("该任务已被办理"))
                }
            }
            try await citizen.get(detailPath)
            #expect(citizen.lastBody.contains("已办结（准予）"))
            #expect(citizen.lastBody.contains("材料齐全"))
            // Rate it on the page: a 2-star rating without a comment is refused with a message.
            let bad = try await citizen.post("\(detailPath)/rating", [("score", "2")])
            #expect(bad.status == .seeOther)
            try await citizen.get(detailPath)
            #expect(citizen.lastBody.contains("flash error"))
            try await citizen.post("\(detailPath)/rating", [("score", "5"), ("comment", "很快")])
            try await citizen.get(detailPath)
            #expect(citizen.lastBody.contains("★★★★★"))
        }
    }

    @Test func draft_upload_submit_andCSRFIsRequired() async throws {
        try await withTestApp(demo: true) { app in
            let serviceID = try await app.demoServiceID()
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            try await citizen.get("/services/\(serviceID)/apply")
            let saved = try await citizen.post("/services/\(serviceID)/apply", [("intent", "draft"), ("projectName", "")])
            #expect(saved.status == .seeOther)
            let detailPath = try #require(saved.headers.first(name: .location))
            try await citizen.get(detailPath)
            #expect(citizen.lastBody.contains(#"enctype="multipart/form-data""#))
            // Without the CSRF token nothing happens.
            let forged = try await app.testing().sendRequest(
                .POST, "\(detailPath)/save",
                headers: ["Cookie": citizen.cookieHeader, "Content-Type": "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "intent=submit&projectName=x"))
            #expect(forged.status == .forbidden)
            // Upload through the page form (multipart, CSRF in the body).
            let token = citizen.csrf
            let body = Multipart.body(file: AttachmentTests.pdf, filename: "方案.pdf", fields: ["_csrf": token])
            let upload = try await app.testing().sendRequest(
                .POST, "\(detailPath)/attachments",
                headers: ["Cookie": citizen.cookieHeader, "Content-Type": "multipart/form-data; boundary=\(Multipart.boundary)"],
                body: body)
            #expect(upload.status == .seeOther)
            try await citizen.get(detailPath)
            #expect(citizen.lastBody.contains("已上传：方案.pdf"))
            #expect(citizen.lastBody.contains(BlobStore.digest(AttachmentTests.pdf)))
            // Submit the draft from its page.
            let submit = try await citizen.post("\(detailPath)/save", [("intent", "submit"), ("projectName", "草稿后提交")])
            #expect(submit.status == .seeOther)
            try await citizen.get(detailPath)
            #expect(citizen.lastBody.contains("已提交，待受理"))
            #expect(!citizen.lastBody.contains(#"enctype="multipart/form-data""#))
        }
    }

    @Test func bundlePages_oneFormSplitsIntoParts() async throws {
        try await withTestApp(demo: true) { app in
            let browser = PageBrowser(app)
            try await browser.get("/bundles")
            #expect(browser.lastBody.contains("/bundles/home-transfer"))
            try await browser.get("/bundles/home-transfer")
            #expect(browser.lastBody.contains("/login?next=/bundles/home-transfer"))
            try await browser.login("demo-citizen")
            try await browser.get("/bundles/home-transfer")
            #expect(browser.lastBody.contains("以下信息只需填写一次"))
            #expect(browser.lastBody.components(separatedBy: #"name="buyerName""#).count == 2)
            let missing = try await browser.post("/bundles/home-transfer", [("buyerName", "李明")])
            #expect(missing.status == .unprocessableEntity)
            #expect(browser.lastBody.contains(##"href="#f-gasAccount""##))
            let fields = BundleTests.form().compactMap { key, value -> (String, String)? in
                switch value {
                case .string(let text): (key, text)
                case .number(let number): (key, String(Int(number)))
                default: nil
                }
            }
            let done = try await browser.post("/bundles/home-transfer", fields)
            #expect(done.status == .seeOther)
            let path = try #require(done.headers.first(name: .location))
            #expect(path.hasPrefix("/me/bundles/"))
            try await browser.get(path)
            #expect(browser.lastBody.contains("供水过户（二手房）"))
            #expect(browser.lastBody.components(separatedBy: "/me/applications/").count == 5)
            try await browser.get("/me/applications")
            #expect(browser.lastBody.contains(path))
        }
    }
}
