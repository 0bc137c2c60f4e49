import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

extension Application {
    /// The kinds of the audit log's entries from `start` on (and the log's size).
    func auditKinds(from start: Int = 0) async throws -> (size: Int, kinds: [String]) {
        let admin = try await login("demo-admin")
        let (_, checkpoint, _) = try await send(.GET, "/api/v1/audit/checkpoint")
        let size = Int(checkpoint["treeSize"]?.number ?? 0)
        var kinds: [String] = []
        for index in start..<max(start, size) {
            let (_, entry, _) = try await send(.GET, "/api/v1/audit/entries/\(index)", token: admin)
            kinds.append(entry["kind"]?.string ?? "")
        }
        return (size, kinds)
    }
}

@Suite("Cases: editable routing rules")
struct RoutingRulesTests {
    static let community = "440604001001"

    @Test func adminsAddChangeAndDeleteRules_newCasesFollowThem_badInputAndWrongRolesRefused() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let supervisor = try await app.login("demo-supervisor")
            let citizen = try await app.login("demo-citizen")
            let auditStart = try await app.auditKinds().size

            // Staff read the rules; residents do not.
            var (status, body, _) = try await app.send(.GET, "/api/v1/cases/routing-rules", token: supervisor)
            #expect(status == .ok)
            let environment = body.items.first { $0["category"]?.string == "environment" && $0["region"]?["code"]?.string == "440604" }
            #expect(environment?["department"]?["code"]?.string == "440604-STHJ")
            let defaultRule = try #require(body.items.first { $0["category"]?.string == "*" && $0["region"]?["code"]?.string == nil })
            let defaultID = try #require(defaultRule["id"]?.string)
            let count = body.items.count
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/routing-rules", token: citizen)
            #expect(status == .forbidden)
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/routing-rules")
            #expect(status == .unauthorized)

            // Before: sanitation in the first grid goes to the community workstation (its catch-all rule).
            var filed = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.001, lon: 113.105)
            #expect(filed["department"]?["code"]?.string == "\(Self.community)-GZZ")

            // Only system administrators change rules.
            let rule: [String: JSONValue] = ["category": "sanitation", "region": .string(Self.community), "department": "440604-CGJ"]
            (status, _, _) = try await app.send(.POST, "/api/v1/cases/routing-rules", token: supervisor, json: rule)
            #expect(status == .forbidden)

            // Bad input: every bad field named; nothing written.
            (status, body, _) = try await app.send(
                .POST, "/api/v1/cases/routing-rules", token: admin,
                json: ["category": "pothole", "region": "999999", "department": "NO-SUCH-DEPT"])
            #expect(status == .unprocessableEntity)
            #expect(Set(body["errors"]?.items.compactMap { $0["field"]?.string } ?? []) == ["category", "region", "department"])
            (status, body, _) = try await app.send(.POST, "/api/v1/cases/routing-rules", token: admin, json: [:])
            #expect(status == .unprocessableEntity)
            #expect(Set(body["errors"]?.items.compactMap { $0["field"]?.string } ?? []) == ["category", "department"])
            // A second rule for the same category and region is a conflict.
            (status, body, _) = try await app.send(
                .POST, "/api/v1/cases/routing-rules", token: admin,
                json: ["category": "environment", "region": "440604", "department": "440604-CGJ"])
            #expect(status == .conflict)
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/routing-rules", token: supervisor)
            #expect(body.items.count == count)

            // Add: 201 with the rule; new cases follow it at once.
            (status, body, _) = try await app.send(.POST, "/api/v1/cases/routing-rules", token: admin, json: rule)
            #expect(status == .created)
            let id = try #require(body["id"]?.string)
            #expect(body["category"]?.string == "sanitation")
            #expect(body["region"]?["code"]?.string == Self.community)
            #expect(body["department"]?["code"]?.string == "440604-CGJ")
            filed = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.006, lon: 113.105)
            #expect(filed["department"]?["code"]?.string == "440604-CGJ")
            // Region and department may also be given by id.
            let regionID = try #require(body["region"]?["id"]?.string)
            (status, _, _) = try await app.send(
                .POST, "/api/v1/cases/routing-rules", token: admin,
                json: ["category": "sanitation", "region": .string(regionID), "department": "440604-SHZL"])
            #expect(status == .conflict)

            // Change.
            (status, body, _) = try await app.send(
                .PUT, "/api/v1/cases/routing-rules/\(id)", token: admin,
                json: ["category": "sanitation", "region": .string(Self.community), "department": "440604-SHZL"])
            #expect(status == .ok)
            #expect(body["department"]?["code"]?.string == "440604-SHZL")
            filed = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.011, lon: 113.105)
            #expect(filed["department"]?["code"]?.string == "440604-SHZL")
            (status, body, _) = try await app.send(
                .PUT, "/api/v1/cases/routing-rules/\(id)", token: admin,
                json: ["category": "sanitation", "region": .string(Self.community), "department": "nope"])
            #expect(status == .unprocessableEntity)
            #expect(body["errors"]?.items.first?["field"]?.string == "department")
            (status, _, _) = try await app.send(
                .PUT, "/api/v1/cases/routing-rules/\(id)", token: admin,
                json: ["category": "environment", "region": "440604", "department": "440604-SHZL"])
            #expect(status == .conflict)
            (status, _, _) = try await app.send(
                .PUT, "/api/v1/cases/routing-rules/\(UUID().uuidString)", token: admin, json: rule)
            #expect(status == .notFound)
            (status, _, _) = try await app.send(.PUT, "/api/v1/cases/routing-rules/\(id)", token: supervisor, json: rule)
            #expect(status == .forbidden)
            // The default rule keeps routing points outside every grid: its department changes, nothing else.
            (status, _, _) = try await app.send(
                .PUT, "/api/v1/cases/routing-rules/\(defaultID)", token: admin, json: ["category": "other", "department": "440604-SHZL"])
            #expect(status == .conflict)
            (status, _, _) = try await app.send(.DELETE, "/api/v1/cases/routing-rules/\(defaultID)", token: admin)
            #expect(status == .conflict)

            // Delete: 204; routing falls back; a second delete is 404.
            (status, _, _) = try await app.send(.DELETE, "/api/v1/cases/routing-rules/\(id)", token: supervisor)
            #expect(status == .forbidden)
            (status, _, _) = try await app.send(.DELETE, "/api/v1/cases/routing-rules/\(id)", token: admin)
            #expect(status == .noContent)
            filed = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.016, lon: 113.105)
            #expect(filed["department"]?["code"]?.string == "\(Self.community)-GZZ")
            (status, _, _) = try await app.send(.DELETE, "/api/v1/cases/routing-rules/\(id)", token: admin)
            #expect(status == .notFound)
            (status, _, _) = try await app.send(.DELETE, "/api/v1/cases/routing-rules/not-an-id", token: admin)
            #expect(status == .notFound)

            // Every change is in the audit log (and nothing for the refused ones).
            let kinds = try await app.auditKinds(from: auditStart).kinds.filter { $0.hasPrefix("cases.routing_rule.") }
            #expect(kinds == ["cases.routing_rule.created", "cases.routing_rule.changed", "cases.routing_rule.deleted"])
        }
    }

    @Test func theSettingsPageAddsChangesAndDeletesRules_errorsLinkedToFields() async throws {
        try await withTestApp(demo: true) { app in
            // Staff see the table without forms and may not post.
            let supervisor = PageBrowser(app)
            try await supervisor.login("demo-supervisor")
            var res = try await supervisor.get("/staff/cases/settings")
            #expect(res.status == .ok)
            #expect(!supervisor.lastBody.contains(#"action="/staff/cases/settings/routing-rules""#))
            res = try await supervisor.post(
                "/staff/cases/settings/routing-rules", [("category", "sanitation"), ("region", Self.community), ("department", "440604-CGJ")])
            #expect(res.status == .forbidden)

            let admin = PageBrowser(app)
            try await admin.login("demo-admin")
            res = try await admin.get("/staff/cases/settings")
            #expect(admin.lastBody.contains(#"action="/staff/cases/settings/routing-rules""#))
            #expect(admin.lastBody.contains(#"<label for="f-rule_category">"#) && admin.lastBody.contains(#"<label for="f-rule_department">"#))

            // Bad input: 422, summary links to the fields, what was typed kept, marked invalid.
            res = try await admin.post(
                "/staff/cases/settings/routing-rules", [("category", ""), ("region", "NOWHERE"), ("department", "")])
            #expect(res.status == .unprocessableEntity)
            #expect(admin.lastBody.contains(#"role="alert""#))
            for field in ["rule_category", "rule_region", "rule_department"] {
                #expect(admin.lastBody.contains(##"href="#f-\##(field)""##))
            }
            #expect(admin.lastBody.contains(#"value="NOWHERE" maxlength="40" autocomplete="off" aria-describedby="rule-region-hint" aria-invalid="true""#))
            // A duplicate: 409 on the form.
            res = try await admin.post(
                "/staff/cases/settings/routing-rules", [("category", "environment"), ("region", "440604"), ("department", "440604-CGJ")])
            #expect(res.status == .conflict)
            #expect(admin.lastBody.contains(##"href="#f-rule_category""##))

            // Add, then the one-time message and the rule with its own change and delete forms.
            res = try await admin.post(
                "/staff/cases/settings/routing-rules", [("category", "sanitation"), ("region", Self.community), ("department", "440604-CGJ")])
            #expect(res.status == .seeOther)
            let token = try await app.login("demo-admin")
            var (_, body, _) = try await app.send(.GET, "/api/v1/cases/routing-rules", token: token)
            let rule = try #require(body.items.first { $0["category"]?.string == "sanitation" && $0["region"]?["code"]?.string == Self.community })
            let id = try #require(rule["id"]?.string)
            res = try await admin.get("/staff/cases/settings")
            #expect(admin.lastBody.contains("已添加分派规则"))
            #expect(admin.lastBody.contains(#"<label class="visually-hidden" for="f-rule_\#(id)_department">"#))
            #expect(admin.lastBody.contains(#"action="/staff/cases/settings/routing-rules/\#(id)/delete""#))

            // Change the department: a bad one comes back on the row.
            res = try await admin.post("/staff/cases/settings/routing-rules/\(id)", [("department", "NO-SUCH")])
            #expect(res.status == .unprocessableEntity)
            #expect(admin.lastBody.contains(##"href="#f-rule_\##(id)_department""##))
            res = try await admin.post("/staff/cases/settings/routing-rules/\(id)", [("department", "440604-SHZL")])
            #expect(res.status == .seeOther)
            (_, body, _) = try await app.send(.GET, "/api/v1/cases/routing-rules", token: token)
            #expect(body.items.first { $0["id"]?.string == id }?["department"]?["code"]?.string == "440604-SHZL")
            res = try await supervisor.post("/staff/cases/settings/routing-rules/\(id)/delete", [])
            #expect(res.status == .forbidden)

            // Delete.
            res = try await admin.post("/staff/cases/settings/routing-rules/\(id)/delete", [])
            #expect(res.status == .seeOther)
            (_, body, _) = try await app.send(.GET, "/api/v1/cases/routing-rules", token: token)
            #expect(!body.items.contains { $0["id"]?.string == id })
            res = try await admin.post("/staff/cases/settings/routing-rules/\(id)/delete", [])
            #expect(res.status == .notFound)

            // English.
            res = try await admin.get("/staff/cases/settings?lang=en")
            #expect(admin.lastBody.contains("Add a routing rule"))
        }
    }
}
