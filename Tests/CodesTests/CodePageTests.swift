import Codes
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Codes: the holder's page")
struct CodePageTests {
    @Test func holderPage_showsAFreshScannableCode_andRecentScans() async throws {
        try await withTestApp(demo: true) { app in
            let anonymous = try await app.testing().sendRequest(.GET, "/codes", headers: ["Accept": "text/html"])
            #expect(anonymous.status == .seeOther)
            #expect(anonymous.headers.first(name: .location)?.hasPrefix("/login") == true)
            let browser = PageBrowser(app)
            try await browser.login("demo-citizen")
            let first = try await browser.get("/codes?type=medical_insurance")
            #expect(first.status == .ok)
            #expect(browser.lastBody.contains("<svg") && browser.lastBody.contains("医保码"))
            #expect(browser.lastBody.contains("lang=\"zh-CN\""))
            #expect(!browser.lastBody.contains(Demo.citizenID))
            // A scan appears in the table with what was disclosed.
            let payload = try await app.issueCode("medical_insurance")
            #expect(try await app.verifyCode(payload, scenario: "medical_insurance", apiKey: "demo-hospital-key")["valid"] == .bool(true))
            try await browser.get("/codes?lang=en")
            #expect(browser.lastBody.contains("Identity code"))
            #expect(browser.lastBody.contains("insurance number"))
            #expect(browser.lastBody.contains("Demo hospital"))
        }
    }
}
