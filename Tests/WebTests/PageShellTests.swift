import Foundation
import Testing
import TestSupport
import Vapor
import VaporTesting

@Suite("Web shell: language, elderly mode, accessibility basics")
struct PageShellTests {
    @Test func home_isChineseByDefault_withSkipLinkLandmarksAndSearch() async throws {
        try await withTestApp(demo: true) { app in
            let res = try await app.testing().sendRequest(.GET, "/")
            #expect(res.status == .ok)
            #expect(res.headers.first(name: .contentType)?.hasPrefix("text/html") == true)
            let html = res.body.string
            #expect(html.contains("<html lang=\"zh-CN\""))
            #expect(html.contains("class=\"skip-link\" href=\"#main\""))
            #expect(html.contains("<main id=\"main\""))
            #expect(html.contains("role=\"search\""))
            #expect(html.contains("<label for=\"q\""))
            #expect(html.contains("热门服务"))
        }
    }

    @Test func englishSwitch_isRemembered() async throws {
        try await withTestApp(demo: true) { app in
            let res = try await app.testing().sendRequest(.GET, "/services?lang=en")
            #expect(res.body.string.contains("<html lang=\"en\""))
            let cookie = try #require(res.headers.setCookie?["tb_lang"])
            #expect(cookie.string == "en")
            let next = try await app.testing().sendRequest(.GET, "/zones", headers: ["Cookie": "tb_lang=en"])
            #expect(next.body.string.contains("<html lang=\"en\""))
            #expect(next.body.string.contains("Zones and life events"))
        }
    }

    @Test func elderlyMode_isRememberedAndSwitchesOff() async throws {
        try await withTestApp(demo: true) { app in
            let res = try await app.testing().sendRequest(.GET, "/?mode=elderly")
            #expect(res.body.string.contains("<body class=\"elderly"))
            #expect(res.headers.setCookie?["tb_mode"]?.string == "elderly")
            let remembered = try await app.testing().sendRequest(.GET, "/services", headers: ["Cookie": "tb_mode=elderly"])
            #expect(remembered.body.string.contains("<body class=\"elderly"))
            #expect(remembered.body.string.contains("href=\"/services?mode=standard\""))
            let off = try await app.testing().sendRequest(.GET, "/?mode=standard", headers: ["Cookie": "tb_mode=elderly"])
            #expect(!off.body.string.contains("<body class=\"elderly"))
            #expect(off.headers.setCookie?["tb_mode"]?.string == "standard")
        }
    }

    @Test func toolbarLinks_keepTheSearchQuery() async throws {
        try await withTestApp(demo: true) { app in
            let res = try await app.testing().sendRequest(.GET, "/services?q=abc&font=large")
            let html = res.body.string
            #expect(html.contains("class=\"font-large\""))
            #expect(html.contains("href=\"/services?q=abc&amp;mode=elderly\"") || html.contains("href=\"/services?q=abc&mode=elderly\""))
        }
    }

    @Test func searchEcho_isEscaped() async throws {
        try await withTestApp(demo: true) { app in
            let q = "<script>alert(1)</script>".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let res = try await app.testing().sendRequest(.GET, "/services?q=\(q)")
            #expect(res.status == .ok)
            #expect(!res.body.string.contains("<script>alert(1)</script>"))
            #expect(res.body.string.contains("&lt;script&gt;"))
        }
    }

    @Test func guidePage_showsMaterialsAndForm_inBothLanguages() async throws {
        try await withTestApp(demo: true) { app in
            let list = try await app.testing().sendRequest(.GET, "/api/v1/services?limit=1")
            struct Items: Decodable { struct Item: Decodable { var id: String }; var items: [Item] }
            let id = try #require(try JSONDecoder().decode(Items.self, from: Data(buffer: list.body)).items.first?.id)
            let zh = try await app.testing().sendRequest(.GET, "/services/\(id)")
            #expect(zh.status == .ok)
            #expect(zh.body.string.contains("申请材料"))
            #expect(zh.body.string.contains("<th scope=\"col\">"))
            let en = try await app.testing().sendRequest(.GET, "/services/\(id)?lang=en")
            #expect(en.body.string.contains("Required materials"))
        }
    }

    @Test func unknownPage_isAnAccessibleHTML404() async throws {
        try await withTestApp { app in
            let res = try await app.testing().sendRequest(.GET, "/no/such/page")
            #expect(res.status == .notFound)
            #expect(res.headers.first(name: .contentType)?.hasPrefix("text/html") == true)
            #expect(res.body.string.contains("<main id=\"main\""))
            let service = try await app.testing().sendRequest(.GET, "/services/\(UUID().uuidString)")
            #expect(service.status == .notFound)
        }
    }

    @Test func stylesheetAndAccessibilityStatement() async throws {
        try await withTestApp { app in
            let css = try await app.testing().sendRequest(.GET, "/assets/tongban.css")
            #expect(css.headers.first(name: .contentType)?.hasPrefix("text/css") == true)
            #expect(css.body.string.contains(":focus-visible"))
            #expect(css.body.string.contains("body.elderly"))
            let statement = try await app.testing().sendRequest(.GET, "/about/accessibility?lang=en")
            #expect(statement.body.string.contains("WCAG 2.1 AA"))
        }
    }
}
