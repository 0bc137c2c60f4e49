import Foundation
import Policy
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Policy tags: rules in dimensions, recomputed over every profile")
struct TagTests {
    func tags(_ app: Application, _ token: String, _ uscc: String) async throws -> [String: JSONValue] {
        let (status, body, _, _) = try await app.policyCall(.GET, "/api/v1/policy/profiles/\(uscc)/tags", token: token)
        #expect(status == .ok)
        guard case .array(let list)? = body["tags"] else { return [:] }
        return Dictionary(list.compactMap { t in t["code"]?.stringValue.map { ($0, t) } }, uniquingKeysWith: { a, _ in a })
    }

    @Test func demoRulesTagTheDemoEnterprise_changingARuleRecomputes_badRulesAreRefused() async throws {
        try await withTestApp(demo: true) { app in
            let (_, rules, _, _) = try await app.policyCall(.GET, "/api/v1/policy/tags")
            guard case .array(let list) = rules else { Issue.record("no rules"); return }
            #expect(Set(list.compactMap { $0["dimension"]?.stringValue }) == ["scale", "industry", "innovation", "credit"])
            let employer = try await app.login("demo-enterprise")
            let uscc = PolicyDemo.demoEnterpriseCode
            let mine = try await tags(app, employer, uscc)
            // 85 employees, industry C, R&D 650k of 18M revenue, credit A; `food` and `export` are stored tags.
            for code in ["scale_small", "manufacturing", "rd_intensive", "credit_a"] {
                #expect(mine[code]?["computed"] == .bool(true), "\(code)")
            }
            #expect(mine["scale_medium"] == nil)
            #expect(mine["export"]?["computed"] == .bool(false))
            #expect(mine["scale_small"]?["dimension"]?.stringValue == "scale")

            // A new rule reading stored tags, and a narrower scale rule: every profile is recomputed.
            let admin = try await app.login("demo-admin")
            let (created, saved, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/tags/export_growth", token: admin,
                json: #"{"dimension":"other","name":"出口成长型","expression":"'export' in profile.tags && profile.revenue >= 10000000.0"}"#)
            #expect(created == .ok)
            #expect(saved["recomputed"]?["profiles"]?.doubleValue ?? 0 >= 301)
            #expect(saved["rule"]?["version"]?.doubleValue == 1)
            let (_, narrowed, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/tags/scale_small", token: admin,
                json: #"{"dimension":"scale","name":"小型企业","expression":"profile.employees >= 10 && profile.employees < 50"}"#)
            #expect(narrowed["rule"]?["version"]?.doubleValue == 2)
            let after = try await tags(app, employer, uscc)
            #expect(after["export_growth"]?["computed"] == .bool(true))
            #expect(after["scale_small"] == nil)
            // Matching sees computed tags too.
            let (_, evaluated, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/match", token: employer, json: #"{"uscc":"\#(uscc)"}"#)
            #expect(evaluated["matches"] != nil)

            // Bad rules: a syntax error with its position, an unknown field, a bad dimension; only policy staff.
            let (syntax, problem, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/tags/broken", token: admin, json: #"{"dimension":"other","name":"坏","expression":"profile.employees >"}"#)
            #expect(syntax == .unprocessableEntity)
            #expect(problem["line"] != nil || problem["errors"] != nil)
            #expect(try await app.policyCall(
                .PUT, "/api/v1/policy/tags/broken", token: admin, json: #"{"dimension":"other","name":"坏","expression":"profile.colour == 'red'"}"#).0
                == .unprocessableEntity)
            #expect(try await app.policyCall(
                .PUT, "/api/v1/policy/tags/broken", token: admin, json: #"{"dimension":"mood","name":"坏","expression":"true"}"#).0
                == .unprocessableEntity)
            #expect(try await app.policyCall(
                .PUT, "/api/v1/policy/tags/mine", token: try await app.login("demo-clerk"), json: #"{"dimension":"other","name":"x","expression":"true"}"#).0
                == .forbidden)
            let (_, unchanged, _, _) = try await app.policyCall(.GET, "/api/v1/policy/tags")
            guard case .array(let rulesAfter) = unchanged else { return }
            #expect(!rulesAfter.contains { $0["code"]?.stringValue == "broken" })
        }
    }
}
