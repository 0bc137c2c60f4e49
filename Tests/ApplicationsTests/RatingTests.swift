import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Ratings (好差评)")
struct RatingTests {
    /// Submits joint-approval-demo and takes it to approval; returns the application id.
    func approvedApplication(_ app: Application, citizen: String) async throws -> String {
        let serviceID = try await app.demoServiceID()
        let (_, created) = try await app.json(
            .POST, "/api/v1/applications", token: citizen,
            body: ["serviceId": .string(serviceID), "form": ["projectName": "评价测试"], "submit": true])
        let id = try #require(created["id"]?.stringValue)
        for username in ["demo-clerk", "demo-approver-1", "demo-approver-2", "demo-approver-3"] {
            let task = try #require(try await app.task(for: username, application: id))
            let (status, _) = try await app.json(
                .POST, "/api/v1/tasks/\(task)/actions", token: try await app.login(username),
                body: ["action": username == "demo-clerk" ? "accept" : "approve"])
            #expect(status == .ok)
        }
        return id
    }

    @Test func badReview_opensARectificationTask_andStatisticsArePublished() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let id = try await approvedApplication(app, citizen: citizen)
            let (invalid, problem) = try await app.json(.POST, "/api/v1/applications/\(id)/rating", token: citizen, body: ["score": 6])
            #expect(invalid == .unprocessableEntity)
            #expect(problem["errors"] != nil)
            let (noReason, _) = try await app.json(.POST, "/api/v1/applications/\(id)/rating", token: citizen, body: ["score": 1])
            #expect(noReason == .unprocessableEntity)
            let (created, rating) = try await app.json(
                .POST, "/api/v1/applications/\(id)/rating", token: citizen, body: ["score": 1, "comment": "等待时间太长"])
            #expect(created == .created)
            #expect(rating["rectification"] == .bool(true))
            let (again, _) = try await app.json(.POST, "/api/v1/applications/\(id)/rating", token: citizen, body: ["score": 5])
            #expect(again == .conflict)
            // The department administrator must rectify within 5 working days.
            let admin = try await app.login("demo-admin")
            let (_, inbox) = try await app.json(.GET, "/api/v1/tasks", token: admin)
            guard case .array(let items)? = inbox["items"] else { Issue.record("no inbox"); return }
            let rectify = try #require(items.first { $0["nodeId"]?.stringValue == "rectify" })
            #expect(rectify["dueAt"] != nil)
            let (stats1, _) = try await app.json(.GET, "/api/v1/ratings/statistics")
            #expect(stats1 == .ok)
            let taskID = try #require(rectify["id"]?.stringValue)
            let (done, _) = try await app.json(.POST, "/api/v1/tasks/\(taskID)/actions", token: admin, body: ["action": "approve", "comment": "已优化流程并回访"])
            #expect(done == .ok)
            let (_, stats) = try await app.json(.GET, "/api/v1/ratings/statistics")
            guard case .array(let rows)? = stats["items"], let row = rows.first else { Issue.record("no statistics"); return }
            #expect(row["count"] == .number(1))
            #expect(row["badReviews"] == .number(1))
            #expect(row["rectified"] == .number(1))
            #expect(!(stats["items"].map { "\($0)" } ?? "").contains("等待时间太长"))
        }
    }

    @Test func onlyDecidedApplications_canBeRated_byTheirApplicant() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let serviceID = try await app.demoServiceID()
            let (_, draft) = try await app.json(.POST, "/api/v1/applications", token: citizen, body: ["serviceId": .string(serviceID), "form": [:]])
            let id = try #require(draft["id"]?.stringValue)
            let (early, _) = try await app.json(.POST, "/api/v1/applications/\(id)/rating", token: citizen, body: ["score": 5])
            #expect(early == .conflict)
            let other = try await app.login("demo-enterprise")
            let (foreign, _) = try await app.json(.POST, "/api/v1/applications/\(id)/rating", token: other, body: ["score": 5])
            #expect(foreign == .notFound)
            let (badQuery, _) = try await app.json(.GET, "/api/v1/ratings/statistics?service=nope")
            #expect(badQuery == .unprocessableEntity)
        }
    }
}
