import Foundation
import Policy
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("免申即享: benefits without application")
struct BenefitTests {
    @Test func runNotifiesEligibleEnterprisesOnce_confirmWithOwnAccount_staffRecordsPayment() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let employer = try await app.login("demo-enterprise")
            let (_, me, _, _) = try await app.policyCall(.GET, "/api/v1/me", token: employer)
            guard case .array(let enterprises)? = me["enterprises"], let enterprise = enterprises.first?["id"]?.stringValue,
                let uscc = enterprises.first?["creditCode"]?.stringValue
            else { Issue.record("demo enterprise missing"); return }
            let acting: HTTPHeaders = ["X-Acting-For": enterprise]
            // The demo enterprise's diagnosis names the no-application items it qualifies for.
            let (_, matched, _, _) = try await app.policyCall(.POST, "/api/v1/policy/match", token: employer, json: #"{"uscc":"\#(uscc)"}"#)
            guard case .array(let matches)? = matched["matches"],
                let item = matches.first(where: { $0["eligible"] == .bool(true) && $0["mode"]?.stringValue == "no_application" }),
                let itemID = item["itemId"]?.stringValue
            else { Issue.record("the demo enterprise qualifies for no no-application item"); return }

            // Only policy staff run it; an item that needs an application does not run.
            let clerk = try await app.login("demo-clerk")
            #expect(try await app.policyCall(.POST, "/api/v1/policy/items/\(itemID)/run", token: clerk).0 == .forbidden)
            if let applyItem = matches.first(where: { $0["mode"]?.stringValue == "apply" })?["itemId"]?.stringValue {
                #expect(try await app.policyCall(.POST, "/api/v1/policy/items/\(applyItem)/run", token: admin).0 == .conflict)
            }
            let (ran, summary, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items/\(itemID)/run", token: admin)
            #expect(ran == .ok)
            let eligible = summary["eligible"]?.doubleValue ?? 0
            #expect(summary["evaluated"]?.doubleValue ?? 0 >= 301)
            #expect(eligible >= 1)
            #expect(summary["notified"]?.doubleValue == eligible)
            let (_, again, _, _) = try await app.policyCall(.POST, "/api/v1/policy/items/\(itemID)/run", token: admin)
            #expect(again["notified"]?.doubleValue == 0)
            #expect(again["alreadyDecided"]?.doubleValue == eligible)

            // The enterprise sees its notice with what decided it.
            let (_, notices, _, _) = try await app.policyCall(.GET, "/api/v1/policy/benefits", token: employer, headers: acting)
            guard case .array(let list) = notices, let notice = list.first(where: { $0["itemId"]?.stringValue == itemID }),
                let benefitID = notice["id"]?.stringValue
            else { Issue.record("no notice for the demo enterprise"); return }
            #expect(notice["status"]?.stringValue == "notified")
            #expect(notice["amount"] == item["amount"])
            let (_, detail, _, _) = try await app.policyCall(.GET, "/api/v1/policy/benefits/\(benefitID)", token: employer, headers: acting)
            #expect(detail["inputs"]?["creditCode"]?.stringValue == uscc)
            #expect(detail["itemVersion"]?.doubleValue == 1)
            guard case .array(let conditions)? = detail["conditions"] else { Issue.record("no conditions"); return }
            #expect(!conditions.isEmpty && conditions.allSatisfy { $0["result"]?.stringValue == "passed" })
            // Without acting for it, or as someone else: not found.
            #expect(try await app.policyCall(.GET, "/api/v1/policy/benefits/\(benefitID)", token: try await app.login("demo-citizen")).0 == .notFound)

            // Confirmation: the corporate account of the enterprise itself.
            let (wrongName, problem, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/benefits/\(benefitID)/confirm", token: employer,
                json: #"{"bankAccount":"6222 0216 0200 1234 567","accountName":"王芳"}"#, headers: acting)
            #expect(wrongName == .unprocessableEntity)
            #expect(problem["errors"] != nil)
            let name = try #require(notice["enterpriseName"]?.stringValue)
            let (confirmed, answer, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/benefits/\(benefitID)/confirm", token: employer,
                json: #"{"bankAccount":"6222 0216 0200 1234 567","accountName":"\#(name)"}"#, headers: acting)
            #expect(confirmed == .ok)
            #expect(answer["status"]?.stringValue == "confirmed")
            #expect(answer["bankAccount"]?.stringValue == "6222***********4567")
            #expect(try await app.policyCall(
                .POST, "/api/v1/policy/benefits/\(benefitID)/confirm", token: employer,
                json: #"{"bankAccount":"62220216020012345","accountName":"\#(name)"}"#, headers: acting).0 == .conflict)

            // Staff see the payment to make and record it once.
            let (_, due, _, _) = try await app.policyCall(.GET, "/api/v1/policy/payments?status=confirmed", token: admin)
            guard case .array(let payments) = due else { Issue.record("payments not a list"); return }
            #expect(payments.contains { $0["id"]?.stringValue == benefitID })
            #expect(try await app.policyCall(.POST, "/api/v1/policy/benefits/\(benefitID)/paid", token: admin, json: "{}").0 == .unprocessableEntity)
            let (paid, record, _, _) = try await app.policyCall(
                .POST, "/api/v1/policy/benefits/\(benefitID)/paid", token: admin, json: #"{"reference":"CBOC20261130-0001"}"#)
            #expect(paid == .ok)
            #expect(record["status"]?.stringValue == "paid")
            #expect(try await app.policyCall(
                .POST, "/api/v1/policy/benefits/\(benefitID)/paid", token: admin, json: #"{"reference":"CBOC20261130-0002"}"#).0 == .conflict)
            #expect(try await app.policyCall(.GET, "/api/v1/policy/payments?status=sometimes", token: admin).0 == .badRequest)
        }
    }
}

extension JSONValue {
    var doubleValue: Double? {
        if case .number(let n) = self { return n }
        return nil
    }
}

extension JSONValue {
    /// The elements of an array (empty for anything else).
    var items: [JSONValue] {
        if case .array(let list) = self { return list }
        return []
    }
}
