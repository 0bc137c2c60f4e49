import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Cases: pages")
struct CasePagesTests {
    @Test func reportForm_filesACase_detailShowsTimeline_staffInboxAndStatsCharts() async throws {
        try await withTestApp(demo: true) { app in
            let anonymous = PageBrowser(app)
            let redirect = try await anonymous.get("/cases/report")
            #expect(redirect.status == .seeOther)
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            var res = try await citizen.get("/cases/report")
            #expect(res.status == .ok)
            #expect(citizen.lastBody.contains(#"<label for="f-location.lat">"#))
            #expect(citizen.lastBody.contains(#"<option value="environment""#))
            // Bad coordinates come back on the form with an error summary linking to the field.
            res = try await citizen.post("/cases/report", [
                ("type", "grid_event"), ("category", "environment"), ("description", "河涌发臭"), ("lat", "north"), ("lon", "113.15"),
            ])
            #expect(res.status == .unprocessableEntity)
            #expect(citizen.lastBody.contains("error-summary") && citizen.lastBody.contains("#f-location.lat"))
            #expect(citizen.lastBody.contains("河涌发臭"))
            res = try await citizen.post("/cases/report", [
                ("type", "grid_event"), ("category", "environment"), ("description", "河涌发臭"), ("lat", "23.05"), ("lon", "113.15"),
                ("address", "祖庙路 1 号"),
            ])
            #expect(res.status == .seeOther)
            let location = try #require(res.headers.first(name: .location))
            #expect(location.hasPrefix("/cases/"))
            res = try await citizen.get(location)
            #expect(res.status == .ok)
            #expect(citizen.lastBody.contains("WG-") && citizen.lastBody.contains("佛山市生态环境局禅城分局"))
            #expect(citizen.lastBody.contains(#"class="timeline""#))
            // English.
            res = try await citizen.get(location.components(separatedBy: "?")[0] + "?lang=en")
            #expect(citizen.lastBody.contains("Chancheng Branch, Foshan Ecology and Environment Bureau"))
            // A form post without the CSRF token is refused.
            let (status, _, _) = try await app.send(.POST, "/cases/report", json: ["type": "grid_event"])
            #expect(status == .forbidden || status == .seeOther)
            // Staff: the inbox lists it with its warning colour; statistics draw accessible SVG charts.
            let staff = PageBrowser(app)
            try await staff.login("demo-env")
            res = try await staff.get("/staff/cases")
            #expect(res.status == .ok)
            #expect(staff.lastBody.contains("urgency-green"))
            res = try await staff.get("/staff/cases/stats")
            #expect(res.status == .ok)
            #expect(staff.lastBody.contains(#"<svg xmlns="http://www.w3.org/2000/svg" role="img""#))
            #expect(staff.lastBody.contains("环境污染"))
            // Residents have no staff pages.
            res = try await citizen.get("/staff/cases")
            #expect(res.status == .forbidden)
        }
    }
}
