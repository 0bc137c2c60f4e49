import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Cases: grid members")
struct GridMemberTests {
    @Test func adminsAssignListAndRemoveMembers_membersSeeTheirGridsCases_reportsRecordTheirGrid() async throws {
        try await withTestApp(demo: true) { app in
            let supervisor = try await app.login("demo-supervisor")  // department admin at the city level
            let community = try await app.login("demo-community")  // clerk and approver, not an admin
            let citizen = try await app.login("demo-citizen")
            let env = try await app.login("demo-env")
            let members = "/api/v1/cases/grids/440604001001-G01/members"

            // Listing: administrators on the grid's region chain only.
            var (status, body, _) = try await app.send(.GET, members, token: supervisor)
            #expect(status == .ok)
            #expect(body.items.compactMap { $0["username"]?.string } == ["demo-grid"])
            #expect(body.items.first?["grid"]?["code"]?.string == "440604001001-G01")
            (status, _, _) = try await app.send(.GET, members, token: community)
            #expect(status == .forbidden)
            (status, _, _) = try await app.send(.GET, members)
            #expect(status == .unauthorized)
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/grids/NO-SUCH-GRID/members", token: supervisor)
            #expect(status == .notFound)

            // A labour case in that grid goes to the district labour bureau: demo-env cannot read it yet.
            let created = try await app.fileCase(token: citizen, category: "labour", lat: 23.005, lon: 113.105)
            let id = try #require(created["id"]?.string)
            #expect(created["grid"]?["code"]?.string == "440604001001-G01")
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: env)
            #expect(status == .notFound)

            // Bad input: no account, unknown account, a resident, then the assignment and its repetition.
            (status, body, _) = try await app.send(.POST, members, token: supervisor, json: [:])
            #expect(status == .unprocessableEntity)
            #expect(body["errors"]?.items.first?["field"]?.string == "username")
            (status, _, _) = try await app.send(.POST, members, token: supervisor, json: ["username": "nobody-here"])
            #expect(status == .unprocessableEntity)
            (status, _, _) = try await app.send(.POST, members, token: supervisor, json: ["username": "demo-citizen"])
            #expect(status == .unprocessableEntity)
            (status, _, _) = try await app.send(.POST, members, token: community, json: ["username": "demo-env"])
            #expect(status == .forbidden)
            (status, body, _) = try await app.send(.POST, members, token: supervisor, json: ["username": "demo-env"])
            #expect(status == .created)
            #expect(body["username"]?.string == "demo-env")
            (status, body, _) = try await app.send(.POST, members, token: supervisor, json: ["username": "demo-env"])
            #expect(status == .conflict)
            #expect(body["type"]?.string == "/problems/grid-member-exists")
            (status, body, _) = try await app.send(.GET, members, token: supervisor)
            #expect(Set(body.items.compactMap { $0["username"]?.string }) == ["demo-grid", "demo-env"])
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/grids/mine", token: env)
            #expect(body.items.compactMap { $0["code"]?.string } == ["440604001001-G01"])

            // The member now sees the grid's case, in the case and in the list.
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: env)
            #expect(status == .ok)
            (status, body, _) = try await app.send(.GET, "/api/v1/cases", token: env)
            #expect(body["items"]?.items.contains { $0["id"]?.string == id } == true)
            // A member's own report records their grid.
            let own = try await app.fileCase(token: env, category: "environment", lat: 23.005, lon: 113.105)
            let ownID = try #require(own["id"]?.string)
            (_, body, _) = try await app.send(.GET, "/api/v1/cases/\(ownID)", token: env)
            #expect(body["timeline"]?.items.first?["details"]?["reporterGrid"]?.string == "440604001001-G01")

            // Removal: administrators; unknown members are 404; afterwards the case is out of sight again.
            (status, _, _) = try await app.send(.DELETE, members + "/demo-env", token: community)
            #expect(status == .forbidden)
            (status, _, _) = try await app.send(.DELETE, members + "/demo-city", token: supervisor)
            #expect(status == .notFound)
            (status, _, _) = try await app.send(.DELETE, members + "/demo-env", token: supervisor)
            #expect(status == .noContent)
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: env)
            #expect(status == .notFound)
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/grids/mine", token: env)
            #expect(body.items.isEmpty)
        }
    }
}
