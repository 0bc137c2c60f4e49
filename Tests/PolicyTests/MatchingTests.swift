import Foundation
import Policy
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

/// A valid unified social credit code with serial `n`.
func testCreditCode(_ n: Int) -> String {
    let body = "91350203MA" + String(format: "%07d", 9_000_000 + n)
    return body + String(CreditCode.checkCharacter(for: body) ?? "0")
}

@Suite("Policy: versioned edits, dry runs, profile imports, incremental matching, notices, subscriptions")
struct MatchingTests {
    static let item = #"""
        {"code":"TEST-GROW","title":"成长型企业奖励","titleEn":"Growth award","issuer":"测试局","tags":["manufacturing"],
         "conditions":[{"text":"员工不少于 200 人","expression":"profile.employees >= 200"},
                       {"text":"营业收入不少于 4000 万元","expression":"profile.revenue >= 40000000.0"}],
         "amountExpression":"min(0.01 * profile.revenue, 500000.0)","mode":"apply"}
        """#

    func create(_ app: Application, _ admin: String, _ json: String = item) async throws -> String {
        let (status, body, _, text) = try await app.policyCall(.POST, "/api/v1/policy/items", token: admin, json: json)
        #expect(status == .created, "\(text)")
        return body["id"]?.stringValue ?? ""
    }

    @Test func publishedItems_changeOnlyThroughPublishedVersions() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let id = try await create(app, admin)
            // A draft changes in place.
            let (draftEdit, draft, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/items/\(id)", token: admin, json: #"{"title":"成长型企业奖励（草稿二）"}"#)
            #expect(draftEdit == .ok)
            #expect(draft["title"]?.stringValue == "成长型企业奖励（草稿二）")
            #expect(draft["version"]?.doubleValue == 1)
            #expect(draft["pendingRevision"] == nil)
            let (published, v1, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: admin)
            #expect(published == .ok)
            #expect(v1["tags"] == ["manufacturing"])

            // Editing a published item leaves its live rules alone until the revision is published.
            let (edited, pending, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/items/\(id)", token: admin,
                json: #"{"conditions":[{"text":"员工不少于 100 人","expression":"profile.employees >= 100"}],"amountExpression":"50000.0"}"#)
            #expect(edited == .ok)
            #expect(pending["version"]?.doubleValue == 1)
            #expect(pending["conditions"]?.items.first?["expression"]?.stringValue == "profile.employees >= 200")
            #expect(pending["pendingRevision"]?["conditions"]?.items.first?["expression"]?.stringValue == "profile.employees >= 100")
            let probe = #"{"profile":{"employees":150,"revenue":50000000.0}}"#
            let (_, before, _, _) = try await app.policyCall(.POST, "/api/v1/policy/match", token: admin, json: probe)
            #expect(match(before, code: "TEST-GROW")?["eligible"] == .bool(false))

            // The dry run reads the pending revision.
            let (dry, counts, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/dry-run", token: admin)
            #expect(dry == .ok)
            #expect(counts["source"]?.stringValue == "stored")
            #expect(counts["profiles"]?.doubleValue ?? 0 >= 301)
            let passed = counts["conditions"]?.items.first?["passed"]?.doubleValue ?? -1
            #expect(counts["eligible"]?.doubleValue == passed)
            #expect(counts["totalAmount"]?.doubleValue == passed * 50000)

            let (_, v2, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: admin)
            #expect(v2["version"]?.doubleValue == 2)
            #expect(v2["pendingRevision"] == nil)
            let (_, after, _, _) = try await app.policyCall(.POST, "/api/v1/policy/match", token: admin, json: probe)
            #expect(match(after, code: "TEST-GROW")?["eligible"] == .bool(true))
            #expect(match(after, code: "TEST-GROW")?["amount"]?.doubleValue == 50000)
            let (_, versions, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items/\(id)/versions")
            #expect(versions.items.map { $0["version"]?.doubleValue } == [2, 1])
            #expect(versions.items.last?["revision"]?["conditions"]?.items.count == 2)

            // Nothing pending: publishing again is a conflict; bad edits are refused and change nothing.
            #expect(try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: admin).0 == .conflict)
            let (syntax, problem, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/items/\(id)", token: admin, json: #"{"conditions":[{"text":"坏","expression":"profile.employees >"}]}"#)
            #expect(syntax == .unprocessableEntity)
            #expect(problem["line"]?.doubleValue == 1)
            #expect(problem["column"] != nil)
            let (badFields, fields, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/items/\(id)", token: admin,
                json: #"{"code":"OTHER","tags":["no_such_tag"],"validFrom":"2027-01-01","validUntil":"2026-01-01"}"#)
            #expect(badFields == .unprocessableEntity)
            let named = Set(fields["errors"]?.items.compactMap { $0["field"]?.stringValue } ?? [])
            #expect(named.isSuperset(of: ["code", "tags", "validUntil"]))
            #expect(try await app.policyCall(
                .PUT, "/api/v1/policy/items/\(id)", token: try await app.login("demo-citizen"), json: #"{"title":"x"}"#).0 == .forbidden)
            let (_, still, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items/\(id)")
            #expect(still["pendingRevision"] == nil)
            #expect(still["version"]?.doubleValue == 2)
        }
    }

    @Test func dryRun_countsEachConditionOverSamples_andRefusesBadRules() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let body = #"""
                {"conditions":[{"text":"员工不少于 10 人","expression":"profile.employees >= 10"},
                               {"text":"裁员率低于 5%","expression":"profile.layoffRate < 0.05"}],
                 "amountExpression":"100.0 * double(profile.employees)",
                 "profiles":[{"creditCode":"A","employees":12,"layoffRate":0.01},{"employees":5,"layoffRate":0.01},
                             {"employees":40},{"creditCode":"B","employees":30,"layoffRate":0.02}]}
                """#
            let (status, result, _, text) = try await app.policyCall(.POST, "/api/v1/policy/dry-run", token: admin, json: body)
            #expect(status == .ok, "\(text)")
            #expect(result["source"]?.stringValue == "sample")
            #expect(result["profiles"] == 4)
            #expect(result["eligible"] == 2)
            #expect(result["totalAmount"]?.doubleValue == 4200)
            let conditions = result["conditions"]?.items ?? []
            #expect(conditions.first?["passed"] == 3 && conditions.first?["failed"] == 1)
            #expect(conditions.last?["passed"] == 3 && conditions.last?["missing"] == 1)
            #expect(result["examples"]?.items.first?["creditCode"]?.stringValue == "B")

            let (bad, problem, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/dry-run", token: admin, json: #"{"conditions":[{"text":"x","expression":"profile.colour == 1"}]}"#)
            #expect(bad == .unprocessableEntity)
            #expect(problem["errors"]?.items.first?["field"]?.stringValue == "conditions[0].expression")
            #expect(try await app.policyCall(.POST, "/api/v1/policy/dry-run", token: admin, json: #"{"conditions":[]}"#).0 == .unprocessableEntity)
            #expect(try await app.policyCall(.POST, "/api/v1/policy/dry-run", token: admin, json: "[1,").0 == .badRequest)
            #expect(try await app.policyCall(
                .POST, "/api/v1/policy/dry-run", token: try await app.login("demo-clerk"), json: body).0 == .forbidden)
        }
    }

    @Test func imports_validateEveryRowFirst_thenTagAndMatchTheImportedProfiles() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let (a, b) = (testCreditCode(1), testCreditCode(2))
            // Every error of every row at once; nothing stored.
            let bad = #"""
                [{"creditCode":"\#(a)","name":"甲","employees":"many","colour":"red"},
                 {"creditCode":"91350203MA0000000X","name":"乙"},
                 {"name":"丙"},
                 {"creditCode":"\#(b)","registeredAt":"yesterday"}]
                """#
            let (refused, problem, _, text) = try await app.policyCall(.POST, "/api/v1/policy/profiles/import", token: admin, json: bad)
            #expect(refused == .unprocessableEntity, "\(text)")
            let fields = Set(problem["errors"]?.items.compactMap { $0["field"]?.stringValue } ?? [])
            #expect(fields.isSuperset(of: ["[0].employees", "[0].colour", "[1].creditCode", "[2].creditCode", "[3].registeredAt"]))
            #expect(try await app.policyCall(.GET, "/api/v1/policy/profiles/\(a)/tags", token: admin).0 == .notFound)
            #expect(try await app.policyCall(.POST, "/api/v1/policy/profiles/import", token: admin, json: "{").0 == .unprocessableEntity)
            #expect(try await app.policyCall(
                .POST, "/api/v1/policy/profiles/import", token: try await app.login("demo-citizen"), json: "[]").0 == .forbidden)

            // CSV: a header of field names, lists separated by ';'.
            let csv = """
                creditCode,name,industry,employees,revenue,registeredAt,qualifications,creditRating
                \(a),导入甲制造有限公司,C,250,52000000,2015-06-01,high_tech;specialised_sme,A
                \(b),导入乙商贸有限公司,F,8,900000,2021-01-20,,B
                """
            var headers = HTTPHeaders()
            headers.replaceOrAdd(name: .authorization, value: "Bearer \(admin)")
            headers.replaceOrAdd(name: .contentType, value: "text/csv")
            let res = try await app.testing().sendRequest(.POST, "/api/v1/policy/profiles/import", headers: headers, body: ByteBuffer(string: csv))
            #expect(res.status == .ok, "\(String(buffer: res.body))")
            let summary = try JSONDecoder().decode(JSONValue.self, from: Data(String(buffer: res.body).utf8))
            #expect(summary["created"] == 2)
            #expect(summary["matching"]?["profiles"] == 2)
            // Tags were computed for the imported profiles (250 employees, industry C).
            let (_, tagsA, _, _) = try await app.policyCall(.GET, "/api/v1/policy/profiles/\(a)/tags", token: admin)
            let codes = Set(tagsA["tags"]?.items.compactMap { $0["code"]?.stringValue } ?? [])
            #expect(codes.contains("manufacturing"))
            #expect(codes.contains("credit_a"))
            // The stored profile reads with its schema types: the matcher sees revenue as a number.
            let (_, diagnosed, _, _) = try await app.policyCall(.POST, "/api/v1/policy/match", token: admin, json: #"{"uscc":"\#(a)"}"#)
            #expect(!(diagnosed["matches"]?.items.isEmpty ?? true))

            // A single edit merges fields; null removes one; the same values again change nothing.
            let (put, edited, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/profiles/\(b)", token: admin, json: #"{"employees":9,"creditRating":null}"#)
            #expect(put == .ok)
            #expect(edited["updated"] == 1)
            let (_, same, _, _) = try await app.policyCall(.PUT, "/api/v1/policy/profiles/\(b)", token: admin, json: #"{"employees":9}"#)
            #expect(same["unchanged"] == 1)
            #expect(try await app.policyCall(
                .PUT, "/api/v1/policy/profiles/\(b)", token: admin, json: #"{"creditCode":"\#(a)"}"#).0 == .unprocessableEntity)
            #expect(try await app.policyCall(
                .PUT, "/api/v1/policy/profiles/\(testCreditCode(3))", token: admin, json: #"{"employees":3}"#).0 == .unprocessableEntity)
        }
    }

    @Test func incrementalMatching_evaluatesOnlyWhatChanged_andNotifiesEachChangeOnce() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let (full, first, _, text) = try await app.policyCall(.POST, "/api/v1/policy/matching/run", token: admin, json: #"{"mode":"full"}"#)
            #expect(full == .ok, "\(text)")
            let profiles = first["profiles"]?.doubleValue ?? 0
            let items = first["items"]?.doubleValue ?? 0
            #expect(profiles >= 301 && items >= 1)
            #expect(first["evaluations"]?.doubleValue == profiles * items)
            #expect(first["newMatches"]?.doubleValue ?? 0 > 0)
            #expect(first["notices"] == first["newMatches"])
            // The stored matches (columnar evaluation over pages of profiles) agree with a profile-by-profile
            // dry run of every item.
            let (_, published, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items?limit=100")
            var summed = 0.0
            for item in published["items"]?.items ?? [] where item["audience"]?.stringValue == "enterprise" {
                guard let itemID = item["id"]?.stringValue else { continue }
                if let until = item["validUntil"]?.stringValue, until < LocalDate(Date()).description { continue }
                if let from = item["validFrom"]?.stringValue, from > LocalDate(Date()).description { continue }
                let (_, stored, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items/\(itemID)/matches", token: admin)
                let (_, dry, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items/\(itemID)/dry-run", token: admin)
                #expect(stored["total"] == dry["eligible"], "\(item["code"]?.stringValue ?? "")")
                #expect(abs((stored["totalAmount"]?.doubleValue ?? -1) - (dry["totalAmount"]?.doubleValue ?? -2)) <= max(1, 0.006 * (dry["eligible"]?.doubleValue ?? 0)),
                        "\(item["code"]?.stringValue ?? "")")
                summed += stored["total"]?.doubleValue ?? 0
            }
            #expect(summed == first["newMatches"]?.doubleValue)
            // Nothing changed: nothing evaluated, nothing written.
            let (_, idle, _, _) = try await app.policyCall(.POST, "/api/v1/policy/matching/run", token: admin, json: "{}")
            #expect(idle["evaluations"] == 0)
            #expect(idle["notices"] == 0)
            // A full run again writes no differences.
            let (_, again, _, _) = try await app.policyCall(.POST, "/api/v1/policy/matching/run", token: admin, json: #"{"mode":"full"}"#)
            #expect(again["newMatches"] == 0 && again["removed"] == 0 && again["notices"] == 0)

            // A new item: only it is evaluated, against every profile.
            let id = try await create(app, admin)
            _ = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: admin)
            let (_, added, _, _) = try await app.policyCall(.POST, "/api/v1/policy/matching/run", token: admin)
            #expect(added["items"] == 1)
            #expect(added["evaluations"]?.doubleValue == profiles)
            let (_, matches, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items/\(id)/matches?limit=100", token: admin)
            let eligible = matches["total"]?.doubleValue ?? -1
            #expect(added["newMatches"]?.doubleValue == eligible)
            #expect(matches["items"]?.items.count == Int(eligible))

            // One profile changes so it qualifies: a profile pass evaluates it against every item, one new notice.
            let code = PolicyDemo.demoEnterpriseCode
            let (_, edit, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/profiles/\(code)", token: admin, json: #"{"employees":260,"revenue":60000000.0}"#)
            #expect(edit["matching"]?["profiles"] == 1)
            #expect(edit["matching"]?["newMatches"]?.doubleValue ?? 0 >= 1)
            let employer = try await app.login("demo-enterprise")
            let (_, me, _, _) = try await app.policyCall(.GET, "/api/v1/me", token: employer)
            let enterprise = me["enterprises"]?.items.first?["id"]?.stringValue ?? ""
            let acting: HTTPHeaders = ["X-Acting-For": enterprise]
            let (_, notices, _, _) = try await app.policyCall(.GET, "/api/v1/policy/notices?unread=true", token: employer, headers: acting)
            let mine = notices["items"]?.items.filter { $0["itemId"]?.stringValue == id } ?? []
            #expect(mine.count == 1)
            #expect(mine.first?["kind"]?.stringValue == "new_match")
            #expect(mine.first?["amount"]?.doubleValue == 500000)
            // Without acting for the enterprise the notice is not the user's.
            let (_, personal, _, _) = try await app.policyCall(.GET, "/api/v1/policy/notices", token: employer)
            #expect(!(personal["items"]?.items.contains { $0["itemId"]?.stringValue == id } ?? true))
            let noticeID = mine.first?["id"]?.stringValue ?? ""
            #expect(try await app.policyCall(.POST, "/api/v1/policy/notices/\(noticeID)/read", token: employer).0 == .notFound)
            let (read, marked, _, _) = try await app.policyCall(.POST, "/api/v1/policy/notices/\(noticeID)/read", token: employer, headers: acting)
            #expect(read == .ok && marked["readAt"] != nil)

            // The next version lowers the amount: an amount-changed notice; a profile that stops qualifying loses its match.
            _ = try await app.policyCall(.PUT, "/api/v1/policy/items/\(id)", token: admin, json: #"{"amountExpression":"1000.0"}"#)
            _ = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: admin)
            let (_, changed, _, _) = try await app.policyCall(.POST, "/api/v1/policy/matching/run", token: admin)
            #expect(changed["changed"]?.doubleValue == eligible + 1)
            #expect(changed["notices"]?.doubleValue == eligible + 1)
            let (_, lowered, _, _) = try await app.policyCall(.GET, "/api/v1/policy/notices?unread=true", token: employer, headers: acting)
            #expect(lowered["items"]?.items.first { $0["itemId"]?.stringValue == id }?["kind"]?.stringValue == "amount_changed")
            let (_, dropped, _, _) = try await app.policyCall(.PUT, "/api/v1/policy/profiles/\(code)", token: admin, json: #"{"employees":20}"#)
            #expect(dropped["matching"]?["removed"]?.doubleValue ?? 0 >= 1)
            let (_, remaining, _, _) = try await app.policyCall(.GET, "/api/v1/policy/items/\(id)/matches?limit=100", token: admin)
            #expect(remaining["total"]?.doubleValue == eligible)
            #expect(!(remaining["items"]?.items.contains { $0["creditCode"]?.stringValue == code } ?? true))

            let (_, runs, _, _) = try await app.policyCall(.GET, "/api/v1/policy/matching/runs", token: admin)
            #expect(runs.items.count == 5)
            #expect(try await app.policyCall(.POST, "/api/v1/policy/matching/run", token: admin, json: #"{"mode":"sometimes"}"#).0
                == .unprocessableEntity)
            #expect(try await app.policyCall(.POST, "/api/v1/policy/matching/run", token: employer).0 == .forbidden)
        }
    }

    @Test func subscribersOfATag_hearOfEachPublishedVersion() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let citizen = try await app.login("demo-citizen")
            #expect(try await app.policyCall(.PUT, "/api/v1/policy/subscriptions", token: citizen, json: #"{"tags":["nonsense"]}"#).0
                == .unprocessableEntity)
            let (ok, subscribed, _, _) = try await app.policyCall(
                .PUT, "/api/v1/policy/subscriptions", token: citizen, json: #"{"tags":["manufacturing","credit_a","manufacturing"]}"#)
            #expect(ok == .ok)
            #expect(subscribed["tags"] == ["credit_a", "manufacturing"])
            let (_, listed, _, _) = try await app.policyCall(.GET, "/api/v1/policy/subscriptions", token: citizen)
            #expect(listed["tags"] == ["credit_a", "manufacturing"])
            let id = try await create(app, admin)
            // Drafts are not announced.
            let (_, none, _, _) = try await app.policyCall(.GET, "/api/v1/policy/notices", token: citizen)
            #expect(none["items"]?.items.isEmpty == true)
            _ = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: admin)
            _ = try await app.policyCall(.PUT, "/api/v1/policy/items/\(id)", token: admin, json: #"{"title":"成长型企业奖励（2027）"}"#)
            _ = try await app.policyCall(.POST, "/api/v1/policy/items/\(id)/publish", token: admin)
            let (_, heard, _, _) = try await app.policyCall(.GET, "/api/v1/policy/notices", token: citizen)
            let notices = heard["items"]?.items ?? []
            #expect(notices.count == 2)
            #expect(Set(notices.compactMap { $0["itemVersion"]?.doubleValue }) == [1, 2])
            #expect(notices.allSatisfy { $0["kind"]?.stringValue == "subscribed_tag" && $0["tag"]?.stringValue == "manufacturing" })
            // Someone who follows nothing hears nothing; unsubscribing stops the notices.
            let (_, others, _, _) = try await app.policyCall(.GET, "/api/v1/policy/notices", token: try await app.login("demo-clerk"))
            #expect(others["items"]?.items.isEmpty == true)
            let (_, cleared, _, _) = try await app.policyCall(.PUT, "/api/v1/policy/subscriptions", token: citizen, json: #"{"tags":[]}"#)
            #expect(cleared["tags"] == [])
        }
    }

    @Test func sync_fillsProfilesFromSharedData_thenTagsFollow() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let code = PolicyDemo.demoEnterpriseCode
            #expect(try await app.policyCall(
                .POST, "/api/v1/policy/profiles/sync", token: admin, json: #"{"creditCodes":["not-a-code"]}"#).0 == .unprocessableEntity)
            #expect(try await app.policyCall(.POST, "/api/v1/policy/profiles/sync", token: try await app.login("demo-citizen")).0 == .forbidden)
            let (status, summary, _, text) = try await app.policyCall(
                .POST, "/api/v1/policy/profiles/sync", token: admin, json: #"{"creditCodes":["\#(code)"]}"#)
            #expect(status == .ok, "\(text)")
            #expect(summary["enterprises"] == 1)
            let sources = Dictionary(uniqueKeysWithValues: (summary["sources"]?.items ?? []).compactMap { s in
                s["resource"]?.stringValue.map { ($0, s["rows"]?.doubleValue ?? 0) }
            })
            #expect(sources["enterprise-registration"] == 1)
            #expect(sources["enterprise-annual-report"] == 1)
            #expect(summary["imported"]?["updated"] == 1)
            // The demo annual report lists 2,000+ employees: the scale tags follow the shared data.
            let (_, tags, _, _) = try await app.policyCall(.GET, "/api/v1/policy/profiles/\(code)/tags", token: admin)
            let codes = Set(tags["tags"]?.items.compactMap { $0["code"]?.stringValue } ?? [])
            #expect(codes.contains("scale_large"))
            #expect(!codes.contains("scale_small"))
            // Syncing again changes nothing.
            let (_, again, _, _) = try await app.policyCall(.POST, "/api/v1/policy/profiles/sync", token: admin, json: #"{"creditCodes":["\#(code)"]}"#)
            #expect(again["imported"]?["unchanged"] == 1)
        }
    }
}
