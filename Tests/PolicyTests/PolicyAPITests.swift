import CEL
import Foundation
import Identity
import Policy
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

extension Application {
    /// Sends a raw JSON body (so integers and doubles stay distinct) and decodes the answer.
    func policyCall(
        _ method: HTTPMethod, _ path: String, token: String? = nil, json: String? = nil, headers extra: HTTPHeaders = [:]
    ) async throws -> (HTTPStatus, JSONValue, HTTPHeaders, String) {
        var headers = HTTPHeaders.json
        if let token { headers.add(name: .authorization, value: "Bearer \(token)") }
        for (name, value) in extra { headers.add(name: name, value: value) }
        let buffer = json.map { ByteBuffer(string: $0) }
        let res = try await testing().sendRequest(method, path, headers: headers, body: buffer)
        let text = String(buffer: res.body)
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .null
        return (res.status, value, res.headers, text)
    }
}

func jsonString(_ s: String) -> String {
    String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
}

func match(_ body: JSONValue, code: String) -> JSONValue? {
    guard case .array(let matches)? = body["matches"] else { return nil }
    return matches.first { $0["code"]?.stringValue == code }
}

func conditionResults(_ match: JSONValue?) -> [String] {
    guard case .array(let list)? = match?["conditions"] else { return [] }
    return list.compactMap { $0["result"]?.stringValue }
}

@Suite("Policy: expression evaluation endpoint")
struct PolicyEvaluateTests {
    func evaluate(_ app: Application, _ token: String, _ expression: String, context: String = "{}") async throws
        -> (HTTPStatus, JSONValue, String)
    {
        let (status, body, _, text) = try await app.policyCall(
            .POST, "/api/v1/policy/expressions/evaluate", token: token,
            json: "{\"expression\":\(jsonString(expression)),\"context\":\(context)}")
        return (status, body, text)
    }

    @Test func values_errors_syntax_andLogin() async throws {
        try await withTestApp(demo: true) { app in
            let token = try await app.login("demo-admin")
            let profile = #"{"profile":{"revenue":6000000.0,"industry":"C","employees":120,"rdSpend":2000000.0}}"#
            var (status, body, text) = try await evaluate(
                app, token, "profile.revenue >= 5000000.0 && profile.industry in ['C', 'I']", context: profile)
            #expect(status == .ok)
            #expect(body["value"] == .bool(true))
            (status, body, text) = try await evaluate(app, token, "min(0.1 * profile.rdSpend, 500000.0)", context: profile)
            #expect(text == #"{"value":200000.0}"#)
            (status, body, text) = try await evaluate(app, token, "profile.employees * 2", context: profile)
            #expect(text == #"{"value":240}"#)
            (status, body, _) = try await evaluate(app, token, "'通办'.size() == 2 && [1, 2, 3].exists(x, x > 2)")
            #expect(body["value"] == .bool(true))
            // Evaluation errors: 200 with "error".
            for expression in ["1 / 0", "profile.missing > 1", "9223372036854775807 + 1", "profile.employees * 1.5"] {
                (status, body, _) = try await evaluate(app, token, expression, context: profile)
                #expect(status == .ok, "\(expression)")
                #expect(body["error"]?.stringValue?.isEmpty == false, "\(expression)")
                #expect(body["value"] == nil)
            }
            (status, body, _) = try await evaluate(app, token, "1 / 0")
            #expect(body["error"]?.stringValue?.contains("division by zero") == true)
            // Syntax errors: 422 problem with line and column, at the top level and in errors[].
            let (s422, problem, headers, _) = try await app.policyCall(
                .POST, "/api/v1/policy/expressions/evaluate", token: token,
                json: #"{"expression":"profile.revenue >=\n  (5000000.0 &&","context":{"profile":{}}}"#)
            #expect(s422 == .unprocessableEntity)
            #expect(headers.first(name: .contentType)?.hasPrefix("application/problem+json") == true)
            #expect(problem["line"] == .number(2))
            if case .number(let column)? = problem["column"] { #expect(column >= 3) } else { Issue.record("no column") }
            #expect(problem["status"] == .number(422))
            guard case .array(let errors)? = problem["errors"] else { Issue.record("no errors[]"); return }
            #expect(errors.first?["field"]?.stringValue == "expression")
            #expect(errors.first?["line"] == .number(2))
            #expect(errors.first?["column"] != nil)
            // Not signed in: 401.
            let (s401, _, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/expressions/evaluate", json: #"{"expression":"1 + 1"}"#)
            #expect(s401 == .unauthorized)
            let (m401, _, _, _) = try await app.policyCall(.POST, "/api/v1/policy/match", json: #"{"profile":{}}"#)
            #expect(m401 == .unauthorized)
        }
    }

    @Test func hostileInput_isAnsweredQuickly_neverCrashes() async throws {
        try await withTestApp { app in
            _ = try await app.registerPerson(username: "policy-user")
            let token = try await app.login("policy-user", Fixtures.password)
            let start = Date()
            // Catastrophic regex (linear-time engine).
            var (status, body, _) = try await evaluate(app, token, "'" + String(repeating: "a", count: 5000) + "!'.matches('(a+)+$')")
            #expect(status == .ok)
            #expect(body["value"] == .bool(false))
            // Too long, too deep, unknown function, bad JSON, wrong types.
            (status, _, _) = try await evaluate(app, token, String(repeating: "1 + ", count: 6000) + "1")
            #expect(status == .unprocessableEntity)
            (status, _, _) = try await evaluate(app, token, String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000))
            #expect(status == .unprocessableEntity)
            (status, _, _) = try await evaluate(app, token, "nosuchfunction(1)")
            #expect(status == .unprocessableEntity)
            (status, body, _) = try await evaluate(app, token, "[1, 2, 3].map(x, [x, x, x, x, x, x, x, x]).map(y, y.map(z, [z, z, z, z, z, z, z]))")
            #expect(status == .ok)
            (status, body, _) = try await evaluate(app, token, "'a' + 1")
            #expect(status == .unprocessableEntity)
            let (bad, _, _, _) = try await app.policyCall(.POST, "/api/v1/policy/expressions/evaluate", token: token, json: "{\"expression\":")
            #expect(bad == .badRequest)
            let (noExpr, _, _, _) = try await app.policyCall(.POST, "/api/v1/policy/expressions/evaluate", token: token, json: "{}")
            #expect(noExpr == .unprocessableEntity)
            #expect(Date().timeIntervalSince(start) < 20)
        }
    }
}

@Suite("Policy: matching, items, type-checked rules")
struct PolicyMatchTests {
    @Test func matchGivenProfile_reportsPassedFailedMissing_andAmounts() async throws {
        try await withTestApp(demo: true) { app in
            let token = try await app.login("demo-admin")
            // A Xiamen high-tech enterprise; JSON integers in double fields are read as doubles.
            let profile = """
                {"profile":{"region":"350203","industry":"C","revenue":25000000,"rdSpend":3000000.0,"creditRating":"A",
                "taxPaid":1200000.0,"employees":200,"qualifications":["high_tech"],"newHires":4,"tags":[],
                "registeredCapital":10000000.0,"registeredAt":"2015-05-01T00:00:00Z"}}
                """
            let (status, body, _, _) = try await app.policyCall(.POST, "/api/v1/policy/match", token: token, json: profile)
            #expect(status == .ok)
            let ht = match(body, code: "XM-HT-01")
            #expect(ht?["eligible"] == .bool(true))
            #expect(ht?["amount"] == .number(200_000))
            #expect(ht?["itemId"]?.stringValue != nil)
            #expect(conditionResults(ht) == ["passed", "passed"])
            let rd = match(body, code: "XM-RD-01")
            #expect(rd?["eligible"] == .bool(true))
            #expect(rd?["amount"] == .number(300_000))
            let mfg = match(body, code: "XM-MFG-01")
            #expect(mfg?["amount"] == .number(25_000))
            // No layoff rate in the profile: that condition is missing, the item not eligible.
            let emp = match(body, code: "XM-EMP-01")
            #expect(emp?["eligible"] == .bool(false))
            #expect(conditionResults(emp) == ["passed", "missing", "passed"])
            #expect(emp?["amount"] == .null)
            // Furong items fail on the region.
            let fr = match(body, code: "CS-FR-01")
            #expect(fr?["eligible"] == .bool(false))
            #expect(conditionResults(fr).first == "failed")
            // Condition texts in Chinese, with English.
            guard case .array(let conditions)? = ht?["conditions"] else { Issue.record("no conditions"); return }
            #expect(conditions.first?["text"]?.stringValue == "注册在厦门市")
            #expect(conditions.first?["textEn"]?.stringValue == "Registered in Xiamen")
            // Eligible items come first.
            guard case .array(let all)? = body["matches"] else { return }
            #expect(all.count == 20)
            let flags = all.map { $0["eligible"] == .bool(true) }
            #expect(flags == flags.sorted { $0 && !$1 })
        }
    }

    @Test func matchByUSCC_forMembersAndStaffOnly() async throws {
        try await withTestApp(demo: true) { app in
            let uscc = PolicyDemo.demoEnterpriseCode
            let enterprise = try await app.login("demo-enterprise")
            let (status, body, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/match", token: enterprise, json: "{\"uscc\":\"\(uscc)\"}")
            #expect(status == .ok)
            // 85 employees, 5M capital, 18M revenue: small low-profit relief, min(420000 * 0.5, 750000).
            let sme = match(body, code: "CN-SME-01")
            #expect(sme?["eligible"] == .bool(true))
            #expect(sme?["amount"] == .number(210_000))
            #expect(conditionResults(sme) == ["passed", "passed", "passed"])
            // The demo enterprise has no layoff rate on file.
            let expansion = match(body, code: "CN-EMP-01")
            #expect(conditionResults(expansion) == ["passed", "missing"])
            #expect(match(body, code: "CN-RD-01")?["amount"] == .number(162_500))
            // Staff may ask too; others and unknown codes get 404.
            let admin = try await app.login("demo-admin")
            let (staffStatus, _, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/match", token: admin, json: "{\"uscc\":\"\(uscc)\"}")
            #expect(staffStatus == .ok)
            let citizen = try await app.login("demo-citizen")
            let (other, problem, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/match", token: citizen, json: "{\"uscc\":\"\(uscc)\"}")
            #expect(other == .notFound)
            #expect(problem["type"]?.stringValue == "/problems/profile-not-found")
            let (unknown, _, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/match", token: admin, json: #"{"uscc":"91350200MA0000000X"}"#)
            #expect(unknown == .notFound)
            let (neither, _, _, _) = try await app.policyCall(.POST, "/api/v1/policy/match", token: admin, json: "{}")
            #expect(neither == .unprocessableEntity)
        }
    }

    @Test func rulesAreTypeCheckedWhenSaved_thenPublishedAndListed() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            func create(_ conditions: String, amount: String = "1000.0", code: String = "TEST-01") async throws
                -> (HTTPStatus, JSONValue)
            {
                let json = """
                    {"code":"\(code)","title":"测试政策","titleEn":"Test policy","conditions":\(conditions),
                    "amountExpression":\(jsonString(amount)),"mode":"apply_instantly"}
                    """
                let (status, body, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items", token: admin, json: json)
                return (status, body)
            }
            // Unknown field, with line and column.
            var (status, body) = try await create(#"[{"text":"收入","expression":"profile.revenu >= 1.0"}]"#)
            #expect(status == .unprocessableEntity)
            #expect(body["line"] == .number(1))
            #expect(body["column"] != nil)
            guard case .array(let errors)? = body["errors"] else { Issue.record("no errors[]"); return }
            #expect(errors.first?["field"]?.stringValue == "conditions[0].expression")
            #expect(errors.first?["message"]?.stringValue?.contains("revenu") == true)
            // Type errors: comparing an int with a string; a non-bool condition; mixed arithmetic in the amount.
            (status, body) = try await create(#"[{"text":"人数","expression":"profile.employees > 'many'"}]"#)
            #expect(status == .unprocessableEntity)
            (status, body) = try await create(#"[{"text":"收入","expression":"profile.revenue * 2.0"}]"#)
            #expect(status == .unprocessableEntity)
            (status, body) = try await create(#"[{"text":"收入","expression":"profile.revenue > 1.0"}]"#, amount: "0.1 * profile.employees")
            #expect(status == .unprocessableEntity)
            if case .array(let errors)? = body["errors"] { #expect(errors.first?["field"]?.stringValue == "amountExpression") }
            // A good rule: 201 draft, not listed until published.
            (status, body) = try await create(
                #"[{"text":"制造业","textEn":"Manufacturing","expression":"profile.industry == 'C'"},{"text":"研发","expression":"profile.rdSpend > 0.0"}]"#,
                amount: "min(0.2 * profile.rdSpend, 100000.0)")
            #expect(status == .created)
            #expect(body["status"]?.stringValue == "draft")
            let id = try #require(body["id"]?.stringValue)
            var (listStatus, list, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items?limit=100")
            #expect(listStatus == .ok)
            guard case .array(let before)? = list["items"] else { Issue.record("no items"); return }
            #expect(before.count == 21, "20 enterprise items and the school-place person item")
            #expect(!before.contains { $0["id"]?.stringValue == id })
            let citizen = try await app.login("demo-citizen")
            let (forbidden, _, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: citizen)
            #expect(forbidden == .notFound)
            let (published, item, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: admin)
            #expect(published == .ok)
            #expect(item["status"]?.stringValue == "published")
            let (again, _, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: admin)
            #expect(again == .conflict)
            (listStatus, list, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items?limit=100")
            guard case .array(let after)? = list["items"] else { return }
            #expect(after.count == 22)
            // It takes part in matching now.
            let (_, matched, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/match", token: citizen, json: #"{"profile":{"industry":"C","rdSpend":1000000}}"#)
            #expect(match(matched, code: "TEST-01")?["amount"] == .number(100_000))
            // A person cannot create items.
            let (personStatus, _, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/items", token: citizen,
                json: #"{"code":"X-1","title":"x","conditions":[{"text":"t","expression":"true"}]}"#)
            #expect(personStatus == .forbidden)
            let (schemaStatus, schema, _, _) = try await app.policyCall(.GET, "/api/v1/policy/schema")
            #expect(schemaStatus == .ok)
            #expect(schema["variable"]?.stringValue == "profile")
        }
    }

    @Test func demoDataLoadsIdempotently() async throws {
        try await withTestApp(demo: true) { app in
            try await PolicyDemo(db: app.db).load(progress: { _ in })
            #expect(try await PolicyItem.query(on: app.db).count() == 21)
            #expect(try await EnterpriseProfile.query(on: app.db).count() == PolicyDemo.syntheticProfiles + 1)
        }
    }
}
