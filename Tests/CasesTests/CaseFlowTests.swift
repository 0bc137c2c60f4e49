import Fluent
import Foundation
import Identity
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@testable import Cases

@Suite("Cases: filing, routing, actions, escalation, evaluation")
struct CaseFlowTests {
    @Test func gridEvent_citizenFiles_routedToGridCommunity_thenAcceptFeedbackCloseEvaluate_earnsPoints() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let created = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.005, lon: 113.105)
            let id = try #require(created["id"]?.string)
            #expect(created["number"]?.string?.hasPrefix("WG-") == true)
            #expect(created["status"]?.string == "dispatched")
            #expect(created["grid"]?["code"]?.string == "440604001001-G01")
            #expect(created["department"]?["code"]?.string == "440604001001-GZZ")
            #expect(created["outsideGrid"] == .bool(false))
            #expect(created["level"]?.string == "community")

            let grid = try await app.login("demo-grid")
            let community = try await app.login("demo-community")
            var (status, body) = try await app.act(id, "accept", token: grid)
            #expect(status == .ok)
            #expect(body["status"]?.string == "processing")
            (status, body) = try await app.act(id, "feedback", token: grid, ["comment": "已清运", "evidence": ["photo-1.jpg"]])
            #expect(status == .ok)
            #expect(body["status"]?.string == "resolved")
            // A clerk may not close; the community's approver may.
            (status, body) = try await app.act(id, "close", token: grid)
            #expect(status == .forbidden)
            (status, body) = try await app.act(id, "close", token: community, ["comment": "核查属实，已办结"])
            #expect(status == .ok)
            #expect(body["status"]?.string == "closed")
            (status, body) = try await app.act(id, "evaluate", token: citizen, ["satisfied": true])
            #expect(status == .ok)
            #expect(body["evaluation"]?.string == "satisfied")
            // The timeline records every step with who did it.
            let (_, shown, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: citizen)
            let actions = shown["timeline"]?.items.compactMap { $0["action"]?.string }
            #expect(actions == ["create", "accept", "feedback", "close", "evaluate"])
            #expect(shown["timeline"]?.items[1]["actor"]?.string == "demo-grid")
            #expect(shown["timeline"]?.items[2]["details"]?["evidence"]?.string == "photo-1.jpg")
            // Points for a valid report.
            let (_, points, _) = try await app.send(.GET, "/api/v1/cases/points", token: citizen)
            #expect(points["balance"]?.number == 10)
            // The reporter sees it in "my cases"; the grid clerk in the inbox.
            let (_, mine, _) = try await app.send(.GET, "/api/v1/cases", token: citizen)
            #expect(mine["items"]?.items.contains { $0["id"]?.string == id } == true)
        }
    }

    @Test func environmentCategory_goesToEnvironmentalDepartment() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let created = try await app.fileCase(token: citizen, category: "environment", lat: 23.09, lon: 113.19)
            #expect(created["department"]?["code"]?.string == "440604-STHJ")
            #expect(created["department"]?["name"]?.string?.contains("生态环境") == true)
            #expect(created["level"]?.string == "district")
            #expect(created["grid"]?["code"]?.string?.hasPrefix("440604004002-") == true)
        }
    }

    @Test func badInput_outsideGridUnknownCategoryInvalidCoordinates() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            // Outside every grid: the district default, flagged.
            let outside = try await app.fileCase(token: citizen, category: "road", lat: 23.5, lon: 113.5)
            #expect(outside["outsideGrid"] == .bool(true))
            #expect(outside["grid"] == .null || outside["grid"] == nil)
            #expect(outside["department"]?["code"]?.string == "440604-SHZL")
            // Invalid coordinates.
            var (status, body, headers) = try await app.send(
                .POST, "/api/v1/cases", token: citizen,
                json: ["type": "grid_event", "category": "road", "description": "x", "location": ["lat": 95, "lon": 200]])
            #expect(status == .unprocessableEntity)
            #expect(headers.first(name: .contentType)?.hasPrefix("application/problem+json") == true)
            let fields = body["errors"]?.items.compactMap { $0["field"]?.string } ?? []
            #expect(fields.contains("location.lat") && fields.contains("location.lon"))
            // Unknown category, unknown type, missing location.
            (status, body, _) = try await app.send(
                .POST, "/api/v1/cases", token: citizen,
                json: ["type": "grid_event", "category": "unicorns", "description": "x", "location": ["lat": 23.01, "lon": 113.11]])
            #expect(status == .unprocessableEntity)
            #expect(body["errors"]?.items.first?["field"]?.string == "category")
            (status, _, _) = try await app.send(
                .POST, "/api/v1/cases", token: citizen, json: ["type": "pothole", "category": "road", "description": "x"])
            #expect(status == .unprocessableEntity)
            (status, body, _) = try await app.send(
                .POST, "/api/v1/cases", token: citizen, json: ["type": "grid_event", "category": "road", "description": "x"])
            #expect(status == .unprocessableEntity)
            #expect(body["errors"]?.items.first?["field"]?.string == "location")
            // Malformed JSON coordinates → 400; no token → 401; residents cannot create supervision tasks.
            (status, _, _) = try await app.send(
                .POST, "/api/v1/cases", token: citizen,
                json: ["type": "grid_event", "category": "road", "description": "x", "location": ["lat": "north", "lon": 1]])
            #expect(status == .badRequest)
            (status, _, _) = try await app.send(.POST, "/api/v1/cases", json: ["type": "appeal", "category": "road", "description": "x"])
            #expect(status == .unauthorized)
            (status, _, _) = try await app.send(
                .POST, "/api/v1/cases", token: citizen, json: ["type": "supervision", "category": "road", "description": "x"])
            #expect(status == .forbidden)
            // Nothing half-written: only the one valid case exists.
            #expect(try await CaseRecord.query(on: app.db).count() == 1)
        }
    }

    @Test func fourLevelEscalation_communityStreetDistrictCity_thenNoLevelAbove() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let created = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.01, lon: 113.101)
            let id = try #require(created["id"]?.string)
            let grid = try await app.login("demo-grid")
            var (status, body) = try await app.act(id, "escalate", token: grid)
            #expect(status == .unprocessableEntity)  // a reason is required
            (status, body) = try await app.act(id, "escalate", token: grid, ["comment": "需要街道协调"])
            #expect(status == .ok)
            #expect(body["level"]?.string == "street")
            #expect(body["department"]?["code"]?.string == "440604001-JDB")
            // The community is no longer the lead.
            (status, _) = try await app.act(id, "escalate", token: grid, ["comment": "again"])
            #expect(status == .forbidden)
            (status, body) = try await app.act(id, "escalate", token: try await app.login("demo-street"), ["comment": "涉及多个部门"])
            #expect(body["level"]?.string == "district")
            #expect(body["department"]?["code"]?.string == "440604-SHZL")
            (status, body) = try await app.act(id, "escalate", token: try await app.login("demo-district"), ["comment": "需市级统筹"])
            #expect(body["level"]?.string == "city")
            #expect(body["department"]?["code"]?.string == "440600-12345")
            #expect(body["escalations"]?.number == 3)
            (status, body) = try await app.act(id, "escalate", token: try await app.login("demo-city"), ["comment": "no"])
            #expect(status == .conflict)
            #expect(body["type"]?.string == "/problems/case-top-level")
            let escalations = body["timeline"]?.items.filter { $0["action"]?.string == "escalate" } ?? []
            #expect(escalations.isEmpty)  // the problem document has no timeline
            let (_, shown, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: citizen)
            let events = shown["timeline"]?.items.filter { $0["action"]?.string == "escalate" } ?? []
            #expect(events.map { $0["details"]?["toLevel"]?.string } == ["street", "district", "city"])
            #expect(events.first?["comment"]?.string == "需要街道协调")
        }
    }

    @Test func actionsOutOfOrderOrByWrongRole_answer409And403() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let created = try await app.fileCase(token: citizen, category: "sanitation")
            let id = try #require(created["id"]?.string)
            let grid = try await app.login("demo-grid")
            var (status, body) = try await app.act(id, "accept", token: citizen)
            #expect(status == .forbidden)
            (status, body) = try await app.act(id, "feedback", token: grid, ["comment": "done"])
            #expect(status == .conflict)
            #expect(body["type"]?.string == "/problems/case-action-out-of-order")
            (status, _) = try await app.act(id, "accept", token: grid)
            #expect(status == .ok)
            (status, _) = try await app.act(id, "accept", token: grid)
            #expect(status == .conflict)
            (status, _) = try await app.act(id, "close", token: try await app.login("demo-community"))
            #expect(status == .conflict)  // not resolved yet
            (status, _) = try await app.act(id, "evaluate", token: citizen, ["satisfied": true])
            #expect(status == .conflict)
            (status, body) = try await app.act(id, "fly", token: grid)
            #expect(status == .unprocessableEntity)
            // Dispatching upward is not a dispatch.
            (status, body) = try await app.act(id, "dispatch", token: grid, ["department": "440604-SHZL"])
            #expect(status == .conflict)
            #expect(body["type"]?.string == "/problems/case-dispatch-upward")
            // A district approver supervises the case but does not handle it: 403. Staff of an unrelated
            // department (another city) do not see it at all: 404.
            (status, _) = try await app.act(id, "accept", token: try await app.login("demo-env"))
            #expect(status == .forbidden)
            (status, _) = try await app.act(id, "accept", token: try await app.login("demo-clerk"))
            #expect(status == .notFound)
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/\(UUID().uuidString)", token: citizen)
            #expect(status == .notFound)
            // Another resident cannot read it.
            let other = try await app.registerPerson()
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: try await app.login(other, Fixtures.password))
            #expect(status == .notFound)
        }
    }

    @Test func dispatchWithCoHandlers_leadResolves_coHandlerFeedbackRecorded() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let created = try await app.fileCase(token: citizen, category: "other", lat: 30, lon: 120)
            #expect(created["department"]?["code"]?.string == "440604-SHZL")
            let id = try #require(created["id"]?.string)
            let district = try await app.login("demo-district")
            var (status, body) = try await app.act(
                id, "dispatch", token: district, ["department": "440604-STHJ", "coHandlers": ["440604-SHZL"], "comment": "环保牵头"])
            #expect(status == .ok)
            #expect(body["department"]?["code"]?.string == "440604-STHJ")
            #expect(body["coHandlers"]?.items.compactMap { $0["code"]?.string } == ["440604-SHZL"])
            let env = try await app.login("demo-env")
            (status, _) = try await app.act(id, "accept", token: env)
            #expect(status == .ok)
            (status, body) = try await app.act(id, "feedback", token: district, ["comment": "协办意见：已配合现场检查"])
            #expect(status == .ok)
            #expect(body["status"]?.string == "processing")
            (status, body) = try await app.act(id, "feedback", token: env, ["comment": "已处理"])
            #expect(body["status"]?.string == "resolved")
            // The dispatcher reviews: returns once, then closes.
            (status, body) = try await app.act(id, "return", token: district)
            #expect(status == .unprocessableEntity)
            (status, body) = try await app.act(id, "return", token: district, ["comment": "缺少现场照片"])
            #expect(body["status"]?.string == "processing")
            (status, body) = try await app.act(id, "feedback", token: env, ["comment": "补充照片", "evidence": ["p.jpg"]])
            (status, body) = try await app.act(id, "close", token: district)
            #expect(status == .ok)
            #expect(body["status"]?.string == "closed")
        }
    }

    @Test func evaluation_unsatisfiedReopensOnceWithNote_secondTimeStaysClosed() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let created = try await app.fileCase(token: citizen, category: "street_order")
            let id = try #require(created["id"]?.string)
            let grid = try await app.login("demo-grid")
            let community = try await app.login("demo-community")
            func handle() async throws {
                _ = try await app.act(id, "accept", token: grid)
                let (status, _) = try await app.act(id, "feedback", token: grid, ["comment": "已劝离"])
                #expect(status == .ok)
                let (closed, _) = try await app.act(id, "close", token: community)
                #expect(closed == .ok)
            }
            try await handle()
            var (status, body) = try await app.act(id, "evaluate", token: citizen, ["satisfied": false])
            #expect(status == .unprocessableEntity)  // a note is required
            (status, body) = try await app.act(id, "evaluate", token: citizen, ["satisfied": false, "note": "摊贩又回来了"])
            #expect(status == .ok)
            #expect(body["status"]?.string == "processing")
            #expect(body["reopened"]?.number == 1)
            (status, body) = try await app.act(id, "feedback", token: grid, ["comment": "已取缔"])
            (status, body) = try await app.act(id, "close", token: community)
            #expect(body["status"]?.string == "closed")
            (status, body) = try await app.act(id, "evaluate", token: citizen, ["satisfied": false, "note": "还是不满意"])
            #expect(status == .ok)
            #expect(body["status"]?.string == "closed")
            #expect(body["evaluation"]?.string == "unsatisfied")
            (status, _) = try await app.act(id, "evaluate", token: citizen, ["satisfied": true])
            #expect(status == .conflict)
            // Points are awarded once even though the case closed twice.
            let (_, points, _) = try await app.send(.GET, "/api/v1/cases/points", token: citizen)
            #expect(points["entries"]?.items.count == 1)
        }
    }

    @Test func duplicates_sameCategoryNearbyAndRecent_areLinkedAndClosedWithPrimary() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let first = try await app.fileCase(token: citizen, category: "public_facilities", lat: 23.0500, lon: 113.1500)
            let other = try await app.login(try await app.registerPerson(), Fixtures.password)
            // About 22 m away.
            let second = try await app.fileCase(token: other, category: "public_facilities", lat: 23.0502, lon: 113.1500)
            #expect(second["status"]?.string == "duplicate")
            #expect(second["duplicateOf"]?.string?.lowercased() == first["id"]?.string?.lowercased())
            #expect(second["department"]?["code"]?.string == first["department"]?["code"]?.string)
            // Another category, or far away: not a duplicate.
            let third = try await app.fileCase(token: other, category: "road", lat: 23.0502, lon: 113.1500)
            #expect(third["status"]?.string == "dispatched")
            let far = try await app.fileCase(token: other, category: "public_facilities", lat: 23.0600, lon: 113.1500)
            #expect(far["status"]?.string == "dispatched")
            // Actions on the duplicate are refused; closing the primary closes it.
            let firstID = try #require(first["id"]?.string)
            let secondID = try #require(second["id"]?.string)
            let (status, _) = try await app.act(secondID, "evaluate", token: other, ["satisfied": true])
            #expect(status == .conflict)
            let cgj = try await app.createStaff(department: "440604-CGJ")
            _ = try await app.act(firstID, "accept", token: cgj)
            _ = try await app.act(firstID, "feedback", token: cgj, ["comment": "井盖已更换"])
            let (closed, _) = try await app.act(firstID, "close", token: cgj)
            #expect(closed == .ok)
            let (_, shown, _) = try await app.send(.GET, "/api/v1/cases/\(secondID)", token: other)
            #expect(shown["closedAt"] != nil && shown["closedAt"] != .null)
            let (_, primary, _) = try await app.send(.GET, "/api/v1/cases/\(firstID)", token: citizen)
            #expect(primary["timeline"]?.items.contains { $0["action"]?.string == "duplicate_linked" } == true)
        }
    }

    @Test func supervisionTask_createdByStaff_dispatched_returnedUrgedClosedEvaluated() async throws {
        try await withTestApp(demo: true) { app in
            let supervisor = try await app.login("demo-supervisor")
            let created = try await app.fileCase(
                token: supervisor, type: "supervision", category: "environment", lat: nil, lon: nil,
                extra: ["department": "440604-STHJ", "subtype": "leader_instruction", "title": "河涌整治督办", "timeLimitDays": 3])
            let id = try #require(created["id"]?.string)
            #expect(created["number"]?.string?.hasPrefix("DB-") == true)
            #expect(created["department"]?["code"]?.string == "440604-STHJ")
            let env = try await app.login("demo-env")
            var (status, body) = try await app.act(id, "urge", token: supervisor, ["comment": "请加快办理"])
            #expect(status == .ok)
            #expect(body["urges"]?.number == 1)
            (status, _) = try await app.act(id, "urge", token: env)
            #expect(status == .forbidden)
            _ = try await app.act(id, "accept", token: env)
            (status, body) = try await app.act(id, "feedback", token: env, ["comment": "已整治", "evidence": ["report.pdf"]])
            #expect(body["status"]?.string == "resolved")
            (status, body) = try await app.act(id, "return", token: supervisor, ["comment": "整治不彻底"])
            #expect(status == .ok)
            #expect(body["status"]?.string == "processing")
            _ = try await app.act(id, "feedback", token: env, ["comment": "已彻底整治"])
            (status, body) = try await app.act(id, "close", token: supervisor)
            #expect(body["status"]?.string == "closed")
            (status, body) = try await app.act(id, "evaluate", token: supervisor, ["satisfied": true])
            #expect(status == .ok)
            #expect(body["evaluation"]?.string == "satisfied")
            // Bad task source.
            let (bad, problem, _) = try await app.send(
                .POST, "/api/v1/cases", token: supervisor,
                json: ["type": "supervision", "category": "environment", "description": "x", "department": "440604-STHJ", "subtype": "rumour"])
            #expect(bad == .unprocessableEntity)
            #expect(problem["errors"]?.items.first?["field"]?.string == "subtype")
        }
    }
}

extension Application {
    /// A clerk and approver of a department (by code); returns the access token.
    func createStaff(department code: String) async throws -> String {
        let department = try #require(try await Department.query(on: db).filter(\.$code == code).first())
        let username = Fixtures.uniqueUsername("staff")
        _ = try await AccountService(db: db, hashing: passwordHashing, clock: clock).createStaff(
            username: username, password: Fixtures.password, name: "测试人员",
            grants: [RoleGrant(departmentID: department.id, role: .clerk), RoleGrant(departmentID: department.id, role: .approver)])
        return try await login(username, Fixtures.password)
    }
}
