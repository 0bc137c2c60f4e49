import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@testable import Cases

@Suite("Cases: one-form patrol (一表通)")
struct PatrolTests {
    @Test func patrolForm_findingsBecomeCasesForTheirDepartments_allOrNothing() async throws {
        try await withTestApp(demo: true) { app in
            let grid = try await app.login("demo-grid")
            let (status, form, _) = try await app.send(.GET, "/api/v1/cases/patrol-form?lat=23.005&lon=113.105", token: grid)
            #expect(status == .ok)
            #expect(form["grid"]?["code"]?.string == "440604001001-G01")
            let items = form["items"]?.items ?? []
            #expect(items.count >= 11)
            #expect(items.first { $0["category"]?.string == "environment" }?["department"]?["code"]?.string == "440604-STHJ")
            #expect(Set(items.compactMap { $0["department"]?["code"]?.string }).count >= 8)

            let location: JSONValue = ["lat": 23.005, "lon": 113.105]
            // One bad finding: nothing is filed, and the problem names it.
            var (created, body, _) = try await app.send(
                .POST, "/api/v1/cases/patrols", token: grid,
                json: ["location": location, "findings": [
                    ["category": "sanitation", "description": "垃圾满溢"], ["category": "environment", "description": "异味"],
                    ["category": "unicorns", "description": "?"],
                ]])
            #expect(created == .unprocessableEntity)
            #expect(body["errors"]?.items.first?["field"]?.string == "findings[2].category")
            #expect(try await CaseRecord.query(on: app.db).count() == 0)
            (created, body, _) = try await app.send(
                .POST, "/api/v1/cases/patrols", token: grid,
                json: ["location": location, "address": "升平路 1 号", "findings": [
                    ["category": "sanitation", "description": "垃圾满溢"], ["category": "environment", "description": "异味"],
                    ["category": "food_safety", "description": "无证经营"], ["category": "fire_safety", "description": "消防通道堵塞"],
                ]])
            #expect(created == .created)
            let cases = body["cases"]?.items ?? []
            #expect(cases.compactMap { $0["department"]?["code"]?.string } == ["440604001001-GZZ", "440604-STHJ", "440604-SCJG", "440604-XFJ"])
            #expect(cases.allSatisfy { $0["grid"]?["code"]?.string == "440604001001-G01" })
            let stored = try await CaseRecord.query(on: app.db).all()
            #expect(stored.count == 4 && stored.allSatisfy { $0.channel == .patrol && $0.subtype == "patrol" })
            // Residents do not patrol.
            let citizen = try await app.login("demo-citizen")
            let (forbidden, _, _) = try await app.send(
                .POST, "/api/v1/cases/patrols", token: citizen,
                json: ["location": location, "findings": [["category": "sanitation", "description": "x"]]])
            #expect(forbidden == .forbidden)
            let (empty, _, _) = try await app.send(.POST, "/api/v1/cases/patrols", token: grid, json: ["location": location, "findings": []])
            #expect(empty == .unprocessableEntity)
        }
    }
}
