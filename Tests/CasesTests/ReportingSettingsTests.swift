import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@testable import Cases

@Suite("Cases: editable duplicate window and points")
struct ReportingSettingsTests {
    static let path = "/api/v1/cases/settings/duplicates-points"

    @Test func environmentValuesAreTheDefaults_adminsChangeThem_newReportsAndPointsFollow() async throws {
        try await withTestApp(demo: true) { app in
            app.casesConfig.duplicateMeters = 80  // as if TONGBAN_CASES_DUPLICATE_METERS=80
            let admin = try await app.login("demo-admin")
            let supervisor = try await app.login("demo-supervisor")
            let citizen = try await app.login("demo-citizen")
            let grid = try await app.login("demo-grid")
            let community = try await app.login("demo-community")
            let auditStart = try await app.auditKinds().size

            var (status, body, _) = try await app.send(.GET, Self.path, token: supervisor)
            #expect(status == .ok)
            #expect(body["version"]?.number == 0)
            #expect(body["duplicates"]?["meters"]?.number == 80)
            #expect(body["duplicates"]?["hours"]?.number == 24)
            #expect(body["points"]?["perValidReport"]?.number == 10)
            (status, _, _) = try await app.send(.GET, Self.path, token: citizen)
            #expect(status == .forbidden)
            (status, _, _) = try await app.send(.PUT, Self.path, token: supervisor, json: ["points": ["perValidReport": 20]])
            #expect(status == .forbidden)

            // Bad input: every bad value named, nothing written.
            (status, body, _) = try await app.send(
                .PUT, Self.path, token: admin, json: ["duplicates": ["meters": 5001, "hours": 0], "points": ["perValidReport": 1001]])
            #expect(status == .unprocessableEntity)
            #expect(Set(body["errors"]?.items.compactMap { $0["field"]?.string } ?? [])
                == ["duplicates.meters", "duplicates.hours", "points.perValidReport"])
            (status, body, _) = try await app.send(
                .PUT, Self.path, token: admin, json: ["duplicates": ["meters": -1, "hours": 721], "points": ["perValidReport": -5]])
            #expect(status == .unprocessableEntity)
            #expect(body["errors"]?.items.count == 3)
            (status, _, _) = try await app.send(.PUT, Self.path, token: admin, json: [:])
            #expect(status == .unprocessableEntity)
            (status, _, _) = try await app.send(.PUT, Self.path, token: admin, json: ["duplicates": ["meters": "far"]])
            #expect(status == .badRequest || status == .unprocessableEntity)
            (status, body, _) = try await app.send(.GET, Self.path, token: supervisor)
            #expect(body["version"]?.number == 0)

            // A wider window: a report about 330 m away is now a duplicate (it would not be at 80 m).
            (status, body, _) = try await app.send(.PUT, Self.path, token: admin, json: ["duplicates": ["meters": 500]])
            #expect(status == .ok)
            #expect(body["version"]?.number == 1)
            #expect(body["updatedBy"]?.string == "demo-admin")
            #expect(body["duplicates"]?["hours"]?.number == 24, "values not named keep theirs")
            #expect(body["points"]?["perValidReport"]?.number == 10)
            let first = try await app.fileCase(token: citizen, category: "public_facilities", lat: 23.0500, lon: 113.1500)
            let near = try await app.fileCase(token: citizen, category: "public_facilities", lat: 23.0530, lon: 113.1500)
            #expect(near["status"]?.string == "duplicate")
            #expect(near["duplicateOf"]?.string?.lowercased() == first["id"]?.string?.lowercased())

            // 0 turns duplicate detection off.
            (status, _, _) = try await app.send(.PUT, Self.path, token: admin, json: ["duplicates": ["meters": 0]])
            #expect(status == .ok)
            let same = try await app.fileCase(token: citizen, category: "public_facilities", lat: 23.0500, lon: 113.1500)
            #expect(same["status"]?.string == "dispatched")
            #expect(same["duplicateOf"] == nil || same["duplicateOf"] == .null)

            // A one-hour window: two hours later the same report is new; half an hour after that it is a duplicate.
            (status, _, _) = try await app.send(.PUT, Self.path, token: admin, json: ["duplicates": ["meters": 100, "hours": 1]])
            #expect(status == .ok)
            app.clock = .fixed(instant("2026-09-15T02:00:00Z"))
            let early = try await app.fileCase(token: citizen, category: "road", lat: 23.0700, lon: 113.1700)
            #expect(early["status"]?.string == "dispatched")
            app.clock = .fixed(instant("2026-09-15T04:00:00Z"))
            let later = try await app.fileCase(token: citizen, category: "road", lat: 23.0700, lon: 113.1700)
            #expect(later["status"]?.string == "dispatched")
            app.clock = .fixed(instant("2026-09-15T04:30:00Z"))
            let again = try await app.fileCase(token: citizen, category: "road", lat: 23.0701, lon: 113.1700)
            #expect(again["duplicateOf"]?.string?.lowercased() == later["id"]?.string?.lowercased())
            app.clock = .system

            // Points per valid report.
            (status, body, _) = try await app.send(.PUT, Self.path, token: admin, json: ["points": ["perValidReport": 25]])
            #expect(status == .ok)
            #expect(body["version"]?.number == 4)
            #expect(body["duplicates"]?["meters"]?.number == 100)
            let created = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.005, lon: 113.105)
            let id = try #require(created["id"]?.string)
            _ = try await app.act(id, "accept", token: grid)
            _ = try await app.act(id, "feedback", token: grid, ["comment": "已清运"])
            let (closed, _) = try await app.act(id, "close", token: community)
            #expect(closed == .ok)
            let (_, points, _) = try await app.send(.GET, "/api/v1/cases/points", token: citizen)
            #expect(points["balance"]?.number == 25)

            // Every version kept; every change audited.
            (status, body, _) = try await app.send(.GET, Self.path + "/versions", token: supervisor)
            #expect(status == .ok)
            #expect(body.items.compactMap { $0["version"]?.number } == [4, 3, 2, 1])
            #expect(body.items.first?["body"]?["points"]?["perValidReport"]?.number == 25)
            let kinds = try await app.auditKinds(from: auditStart).kinds.filter { $0 == "cases.settings.changed" }
            #expect(kinds.count == 4)
        }
    }
}

@Suite("Cases: duplicates and points on the settings page")
struct ReportingSettingsPageTests {
    @Test func adminsEditTheDuplicateWindowAndPointsOnThePage_staffReadThem_badInputNamed() async throws {
        try await withTestApp(demo: true) { app in
            let supervisor = PageBrowser(app)
            try await supervisor.login("demo-supervisor")
            var res = try await supervisor.get("/staff/cases/settings")
            #expect(res.status == .ok)
            #expect(!supervisor.lastBody.contains(#"action="/staff/cases/settings/duplicates-points""#))
            #expect(supervisor.lastBody.contains("<dd>50</dd>") && supervisor.lastBody.contains("<dd>24</dd>"))
            res = try await supervisor.post("/staff/cases/settings/duplicates-points", [("meters", "100"), ("hours", "24"), ("points", "10")])
            #expect(res.status == .forbidden)

            let admin = PageBrowser(app)
            try await admin.login("demo-admin")
            res = try await admin.get("/staff/cases/settings")
            #expect(admin.lastBody.contains(#"action="/staff/cases/settings/duplicates-points""#))
            #expect(admin.lastBody.contains(#"<label for="f-dup_meters">"#))
            #expect(admin.lastBody.contains(#"id="f-dup_meters" name="meters" type="number" min="0" max="5000" step="any" inputmode="decimal" value="50""#))

            // Out of range and not a number: each named and linked, typed text kept, nothing saved.
            res = try await admin.post("/staff/cases/settings/duplicates-points", [("meters", "9000"), ("hours", "0"), ("points", "1001")])
            #expect(res.status == .unprocessableEntity)
            for field in ["dup_meters", "dup_hours", "points_per_report"] {
                #expect(admin.lastBody.contains(##"href="#f-\##(field)""##))
            }
            #expect(admin.lastBody.contains(#"value="9000" aria-describedby="hint-dup-meters" aria-invalid="true""#))
            res = try await admin.post("/staff/cases/settings/duplicates-points", [("meters", "near"), ("hours", "24"), ("points", "10")])
            #expect(res.status == .unprocessableEntity)
            #expect(admin.lastBody.contains("请填写数字"))
            let token = try await app.login("demo-admin")
            var (_, body, _) = try await app.send(.GET, "/api/v1/cases/settings/duplicates-points", token: token)
            #expect(body["version"]?.number == 0)

            // Saved: a new version, shown on the page and in force.
            res = try await admin.post("/staff/cases/settings/duplicates-points", [("meters", "120"), ("hours", "48"), ("points", "15")])
            #expect(res.status == .seeOther)
            res = try await admin.get("/staff/cases/settings")
            #expect(admin.lastBody.contains("已保存，新版本 1"))
            (_, body, _) = try await app.send(.GET, "/api/v1/cases/settings/duplicates-points", token: token)
            #expect(body["duplicates"]?["meters"]?.number == 120)
            #expect(body["duplicates"]?["hours"]?.number == 48)
            #expect(body["points"]?["perValidReport"]?.number == 15)
            res = try await supervisor.get("/staff/cases/settings?lang=en")
            #expect(supervisor.lastBody.contains("<dd>120</dd>") && supervisor.lastBody.contains("Duplicates and points"))
        }
    }
}
