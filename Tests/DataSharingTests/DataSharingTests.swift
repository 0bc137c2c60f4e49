import DataSharing
import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

extension Application {
    func call(
        _ method: HTTPMethod, _ path: String, token: String? = nil, body: [String: JSONValue]? = nil,
        headers extra: [(String, String)] = []
    ) async throws -> (HTTPStatus, JSONValue) {
        var headers = HTTPHeaders.json
        if let token { headers.add(name: .authorization, value: "Bearer \(token)") }
        for (name, value) in extra { headers.add(name: name, value: value) }
        let buffer = try body.map { ByteBuffer(data: try JSONEncoder().encode($0)) }
        let res = try await testing().sendRequest(method, path, headers: headers, body: buffer)
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null
        return (res.status, value)
    }

    func auditSize() async throws -> Int {
        let (_, checkpoint) = try await call(.GET, "/api/v1/audit/checkpoint")
        return Int(checkpoint["treeSize"]?.doubleValue ?? -1)
    }
}

extension JSONValue {
    var list: [JSONValue] {
        if case .array(let rows) = self { return rows }
        return []
    }

    var doubleValue: Double? {
        if case .number(let n) = self { return n }
        return nil
    }
}

final class MovableClock: Sendable {
    private let box = NIOLockedValueBox(Date())
    var clock: TongbanClock { TongbanClock { [box] in box.withLockedValue { $0 } } }
    func advance(days: Double) { box.withLockedValue { $0 = $0.addingTimeInterval(days * 86400) } }
}

@Suite("Data sharing: masking rules")
struct MaskingTests {
    @Test func namesKeepFirstAndLastCharacter_addressesKeepTheDistrict() {
        #expect(FieldMasking.name("张三丰") == "张*丰")
        #expect(FieldMasking.name("李明") == "李*")
        #expect(FieldMasking.name("欧阳娜娜") == "欧**娜")
        #expect(FieldMasking.apply(.idNumber, to: "370102199003071234") == "370102********1234")
        #expect(FieldMasking.apply(.phone, to: "13800138000") == "138****8000")
        #expect(FieldMasking.address("济南市历下区泉城路180号") == "济南市历下区***")
        #expect(FieldMasking.address("浙江省杭州市滨江路1号") == "浙江省杭州市***")
        #expect(FieldMasking.address("义乌市稠城街道1号") == "义乌市***")
        #expect(FieldMasking.apply(.none, to: "本科") == "本科")
    }
}

@Suite("Data sharing: catalogue and sharing between departments")
struct SharingTests {
    @Test func catalogueHasFortyResources_filtersAndRejectsBadFilters() async throws {
        try await withTestApp(demo: true) { app in
            let (status, all) = try await app.call(.GET, "/api/v1/data/resources")
            #expect(status == .ok)
            #expect(all.list.count >= 40)
            let first = try #require(all.list.first)
            #expect(first["fields"]?.list.first?["sensitivity"] != nil)
            let (_, notShareable) = try await app.call(.GET, "/api/v1/data/resources?sharingType=not_shareable")
            #expect(notShareable.list.map { $0["code"]?.stringValue } == ["criminal-record-check"])
            let (bad, problem) = try await app.call(.GET, "/api/v1/data/resources?sharingType=sometimes")
            #expect(bad == .badRequest)
            #expect(problem["detail"]?.stringValue?.contains("sharingType") == true)
            let (missing, _) = try await app.call(.GET, "/api/v1/data/resources/no-such-thing")
            #expect(missing == .notFound)
        }
    }

    @Test func conditionalSharing_approvalIssuesScopedKey_callsAreMaskedAuditedAndRanked() async throws {
        try await withTestApp(demo: true) { app in
            let clerk = try await app.login("demo-clerk")
            let admin = try await app.login("demo-admin")
            let (created, request) = try await app.call(.POST, "/api/v1/data/sharing-requests", token: clerk, body: [
                "resource": "social-insurance", "fields": ["name", "id_number", "months_paid"],
                "purpose": "核验企业开办人员参保情况", "legalBasis": "《优化营商环境条例》第十九条", "durationDays": 30,
            ])
            #expect(created == .created)
            #expect(request["status"]?.stringValue == "pending")
            let id = try #require(request["id"]?.stringValue)
            // No key before approval; the consumer cannot approve its own request.
            let (early, _) = try await app.call(.POST, "/api/v1/data/sharing-requests/\(id)/key", token: clerk)
            #expect(early == .conflict)
            let (selfApprove, _) = try await app.call(.POST, "/api/v1/data/sharing-requests/\(id)/approve", token: clerk)
            #expect(selfApprove == .forbidden)
            let (approved, decided) = try await app.call(.POST, "/api/v1/data/sharing-requests/\(id)/approve", token: admin, body: ["comment": "同意"])
            #expect(approved == .ok)
            #expect(decided["status"]?.stringValue == "approved")
            let (again, _) = try await app.call(.POST, "/api/v1/data/sharing-requests/\(id)/refuse", token: admin, body: ["reason": "改主意"])
            #expect(again == .conflict)
            let (keyStatus, key) = try await app.call(.POST, "/api/v1/data/sharing-requests/\(id)/key", token: clerk)
            #expect(keyStatus == .created)
            let apiKey = try #require(key["apiKey"]?.stringValue)
            let before = try await app.auditSize()
            let citizenID = "37010219900307123" + String(ResidentIDNumber.checkCharacter(for: "37010219900307123"))
            let (ok, records) = try await app.call(
                .GET, "/api/v1/data/resources/social-insurance/records?key=\(citizenID)", headers: [("X-Api-Key", apiKey)])
            #expect(ok == .ok)
            let row = try #require(records["records"]?.list.first)
            #expect(row["name"]?.stringValue == "李*")
            #expect(row["id_number"]?.stringValue == "370102********" + String(citizenID.suffix(4)))
            #expect(row["months_paid"]?.stringValue != nil)
            #expect(row["employer"] == nil, "fields outside the approval are never returned")
            #expect(try await app.auditSize() == before + 1)
            // The key is for this resource only; unknown keys are refused.
            let (wrongResource, scope) = try await app.call(
                .GET, "/api/v1/data/resources/housing-fund/records", headers: [("X-Api-Key", apiKey)])
            #expect(wrongResource == .forbidden)
            #expect(scope["type"]?.stringValue == "/problems/out-of-scope")
            let (unknown, _) = try await app.call(.GET, "/api/v1/data/resources/social-insurance/records", headers: [("X-Api-Key", "tbds_nope")])
            #expect(unknown == .unauthorized)
            let (_, rankings) = try await app.call(.GET, "/api/v1/data/rankings?by=resource", token: admin)
            #expect(rankings.list.first?["code"]?.stringValue == "social-insurance")
            #expect(rankings.list.first?["calls"]?.doubleValue == 1)
            let (_, consumers) = try await app.call(.GET, "/api/v1/data/rankings?by=consumer", token: admin)
            #expect(consumers.list.first?["code"]?.stringValue == "370100-SCJG")
            let (badBy, _) = try await app.call(.GET, "/api/v1/data/rankings?by=colour", token: admin)
            #expect(badBy == .badRequest)
            let (badDays, _) = try await app.call(.GET, "/api/v1/data/rankings?days=lots", token: admin)
            #expect(badDays == .badRequest)
            let (_, recent) = try await app.call(.GET, "/api/v1/data/rankings?by=resource&days=30", token: admin)
            #expect(recent.list.first?["code"]?.stringValue == "social-insurance")
            // A new key replaces the old one.
            let (_, second) = try await app.call(.POST, "/api/v1/data/sharing-requests/\(id)/key", token: clerk)
            #expect(second["apiKey"]?.stringValue != apiKey)
            let (old, _) = try await app.call(.GET, "/api/v1/data/resources/social-insurance/records", headers: [("X-Api-Key", apiKey)])
            #expect(old == .unauthorized)
        }
    }

    @Test func notShareableAndMalformedRequestsAreRefusedAndNothingIsStored() async throws {
        try await withTestApp(demo: true) { app in
            let clerk = try await app.login("demo-clerk")
            let (status, problem) = try await app.call(.POST, "/api/v1/data/sharing-requests", token: clerk, body: [
                "resource": "criminal-record-check", "fields": ["name"], "purpose": "招聘核验", "legalBasis": "无", "durationDays": 10,
            ])
            #expect(status == .unprocessableEntity)
            #expect(problem["type"]?.stringValue == "/problems/not-shareable")
            let (bad, errors) = try await app.call(.POST, "/api/v1/data/sharing-requests", token: clerk, body: [
                "resource": "social-insurance", "fields": ["salary"], "purpose": "x", "durationDays": 0,
            ])
            #expect(bad == .unprocessableEntity)
            #expect(errors["errors"]?.list.count ?? 0 >= 3)
            let citizen = try await app.login("demo-citizen")
            let (forbidden, _) = try await app.call(.POST, "/api/v1/data/sharing-requests", token: citizen, body: [
                "resource": "social-insurance", "fields": ["name"], "purpose": "查看数据", "legalBasis": "无", "durationDays": 1,
            ])
            #expect(forbidden == .forbidden)
            let (_, list) = try await app.call(.GET, "/api/v1/data/sharing-requests", token: clerk)
            #expect(list.list.isEmpty)
            // Unconditional resources are granted on application.
            let (created, granted) = try await app.call(.POST, "/api/v1/data/sharing-requests", token: clerk, body: [
                "resource": "enterprise-registration", "fields": ["name", "uscc", "status"], "purpose": "企业开办信息核验",
                "legalBasis": "政务数据共享管理办法", "durationDays": 365,
            ])
            #expect(created == .created)
            #expect(granted["status"]?.stringValue == "approved")
        }
    }
}

@Suite("Data sharing: personal consent with four clarities")
struct ConsentTests {
    static let citizenID = "37010219900307123" + String(ResidentIDNumber.checkCharacter(for: "37010219900307123"))

    /// demo-enterprise, acting for its enterprise, asks for demo-citizen's degree (résumé verification).
    static func ask(_ app: Application, subject: String? = nil, days: Int = 30) async throws -> (String, JSONValue, String) {
        let employer = try await app.login("demo-enterprise")
        let (_, me) = try await app.call(.GET, "/api/v1/me", token: employer)
        let enterprise = try #require(me["enterprises"]?.list.first?["id"]?.stringValue)
        var body: [String: JSONValue] = [
            "scenario": "简历核验", "purpose": "核验应聘者的学历信息，用于招聘录用决定",
            "items": [
                ["resource": "education-degree", "fields": ["name", "degree", "school"], "full": ["degree", "school"]],
                ["resource": "person-basic", "fields": ["name", "address"]],
            ],
            "durationDays": .number(Double(days)),
        ]
        if let subject { body["subjectIdNumber"] = .string(subject) }
        let (status, created) = try await app.call(.POST, "/api/v1/consents/requests", token: employer, body: body, headers: [("X-Acting-For", enterprise)])
        #expect(status == .created)
        return (employer, created, enterprise)
    }

    static func code(_ created: JSONValue) throws -> String {
        let payload = try #require(created["qrPayload"]?.stringValue)
        return try #require(URLComponents(string: payload)?.queryItems?.first { $0.name == "c" }?.value)
    }

    @Test func personApprovesWithPassword_receiptIsSigned_fetchIsScopedMaskedAudited_revocationStopsFetches() async throws {
        try await withTestApp(demo: true) { app in
            let (employer, created, enterprise) = try await Self.ask(app)
            let id = try #require(created["id"]?.stringValue)
            let payload = try #require(created["qrPayload"]?.stringValue)
            #expect(payload.contains("/consents/scan/\(id.lowercased())?c="))
            let code = try Self.code(created)
            let citizen = try await app.login("demo-citizen")
            // A code that is not the QR's opens nothing; staff who did not ask see nothing either.
            let (hidden, _) = try await app.call(.GET, "/api/v1/consents/requests/\(id)?c=wrong-code", token: citizen)
            #expect(hidden == .notFound)
            let (staff, _) = try await app.call(.GET, "/api/v1/consents/requests/\(id)", token: try await app.login("demo-clerk"))
            #expect(staff == .notFound)
            let (_, clarity) = try await app.call(.GET, "/api/v1/consents/requests/\(id)?c=\(code)", token: citizen)
            #expect(clarity["requester"]?.stringValue == "济南泉城食品有限公司")
            #expect(clarity["scenario"]?.stringValue == "简历核验")
            #expect(clarity["durationDays"]?.doubleValue == 30)
            #expect(clarity["summaryZh"]?.stringValue?.contains("学历学位信息（姓名、学历、毕业院校）") == true)
            let (wrong, reauth) = try await app.call(
                .POST, "/api/v1/consents/requests/\(id)/approve", token: citizen, body: ["code": .string(code), "password": "wrong"])
            #expect(wrong == .unauthorized)
            #expect(reauth["type"]?.stringValue == "/problems/reauthentication")
            let before = try await app.auditSize()
            let (approved, answer) = try await app.call(
                .POST, "/api/v1/consents/requests/\(id)/approve", token: citizen,
                body: ["code": .string(code), "password": .string(Fixtures.demoPassword)])
            #expect(approved == .created, "\(answer)")
            let consentID = try #require(answer["consentId"]?.stringValue)
            let receipt = try #require(answer["receipt"])
            #expect(receipt["recordId"]?.stringValue == consentID.lowercased())
            #expect(receipt["requester"]?["name"]?.stringValue == "济南泉城食品有限公司")
            #expect(receipt["piiPrincipal"]?["name"]?.stringValue == "李*")
            // The receipt's signature verifies with the published key, and covers exactly the record.
            let jws = try #require(receipt["signature"]?["jws"]?.stringValue)
            let (_, keys) = try await app.call(.GET, "/api/v1/consents/keys")
            let jwk = try #require(keys["keys"]?.list.first)
            var fields: [String: String] = [:]
            if case .object(let members) = jwk { for (k, v) in members { fields[k] = v.stringValue } }
            let key = try #require(VerificationKey(jwk: fields))
            let verified = try CompactJWS.verify(jws) { $0 == key.kid ? key : nil }
            let signed = try JSONDecoder().decode(JSONValue.self, from: verified.payload)
            #expect(signed["recordId"] == receipt["recordId"])
            #expect(signed["items"] == receipt["items"])
            #expect(signed["validUntil"] == receipt["validUntil"])
            let (twice, _) = try await app.call(
                .POST, "/api/v1/consents/requests/\(id)/approve", token: citizen,
                body: ["code": .string(code), "password": .string(Fixtures.demoPassword)])
            #expect(twice == .conflict)
            #expect(try await app.auditSize() == before + 1)

            // The requester fetches: degree in full (granted), name masked, address to the district.
            let acting = [("X-Acting-For", enterprise)]
            let (fetched, data) = try await app.call(.GET, "/api/v1/consents/\(consentID)/data", token: employer, headers: acting)
            #expect(fetched == .ok)
            #expect(data["items"]?["education-degree"]?["name"]?.stringValue == "李*")
            #expect(["本科", "硕士研究生", "博士研究生"].contains(data["items"]?["education-degree"]?["degree"]?.stringValue ?? ""))
            #expect(data["items"]?["person-basic"]?["address"]?.stringValue?.hasSuffix("区***") == true)
            #expect(data["items"]?["person-basic"]?["id_number"] == nil)
            #expect(try await app.auditSize() == before + 2)
            // Outside the consent: refused, nothing released.
            let (outside, scope) = try await app.call(
                .GET, "/api/v1/consents/\(consentID)/data?items=person-basic.id_number", token: employer, headers: acting)
            #expect(outside == .forbidden)
            #expect(scope["type"]?.stringValue == "/problems/out-of-scope")
            // Someone else (not acting for the requester) cannot fetch.
            let (stranger, _) = try await app.call(.GET, "/api/v1/consents/\(consentID)/data", token: employer)
            #expect(stranger == .notFound)
            // The person sees the consent and its one use.
            let (_, mine) = try await app.call(.GET, "/api/v1/consents", token: citizen)
            #expect(mine.list.first?["uses"]?.list.count == 1)
            #expect(mine.list.first?["status"]?.stringValue == "active")
            // Revocation stops the next fetch at once.
            let (revoked, _) = try await app.call(.DELETE, "/api/v1/consents/\(consentID)", token: citizen)
            #expect(revoked == .ok)
            let (after, problem) = try await app.call(.GET, "/api/v1/consents/\(consentID)/data", token: employer, headers: acting)
            #expect(after == .forbidden)
            #expect(problem["type"]?.stringValue == "/problems/consent-revoked")
            let (revokeAgain, _) = try await app.call(.DELETE, "/api/v1/consents/\(consentID)", token: citizen)
            #expect(revokeAgain == .conflict)
            #expect(try await app.auditSize() == before + 3)
        }
    }

    @Test func consentExpires_targetedRequestsOnlyForTheirSubject_badRequestsAreRefused() async throws {
        try await withTestApp(demo: true) { app in
            let clock = MovableClock()
            app.clock = clock.clock
            let (employer, created, enterprise) = try await Self.ask(app, days: 7)
            let id = try #require(created["id"]?.stringValue)
            let citizen = try await app.login("demo-citizen")
            let (_, answer) = try await app.call(
                .POST, "/api/v1/consents/requests/\(id)/approve", token: citizen,
                body: ["code": .string(try Self.code(created)), "password": .string(Fixtures.demoPassword)])
            let consentID = try #require(answer["consentId"]?.stringValue)
            clock.advance(days: 8)
            let (expired, problem) = try await app.call(
                .GET, "/api/v1/consents/\(consentID)/data", token: employer, headers: [("X-Acting-For", enterprise)])
            #expect(expired == .forbidden)
            #expect(problem["type"]?.stringValue == "/problems/consent-expired")

            // A request aimed at someone else cannot be approved by demo-citizen.
            let other = "11010519491231002" + String(ResidentIDNumber.checkCharacter(for: "11010519491231002"))
            let (_, targeted, _) = try await Self.ask(app, subject: other)
            let (notSubject, p) = try await app.call(
                .POST, "/api/v1/consents/requests/\(try #require(targeted["id"]?.stringValue))/approve", token: citizen,
                body: ["code": .string(try Self.code(targeted)), "password": .string(Fixtures.demoPassword)])
            #expect(notSubject == .forbidden)
            #expect(p["type"]?.stringValue == "/problems/not-the-subject")

            // Bad requests: unknown resource, unknown field, not shareable, a citizen asking.
            let (bad, errors) = try await app.call(.POST, "/api/v1/consents/requests", token: employer, body: [
                "scenario": "简历核验", "purpose": "核验学历", "durationDays": 30,
                "items": [["resource": "no-such", "fields": ["a"]], ["resource": "education-degree", "fields": ["salary"]]],
            ], headers: [("X-Acting-For", enterprise)])
            #expect(bad == .unprocessableEntity)
            #expect(errors["errors"]?.list.count == 2)
            let (notShareable, ns) = try await app.call(.POST, "/api/v1/consents/requests", token: employer, body: [
                "scenario": "背景调查", "purpose": "核验犯罪记录", "durationDays": 30,
                "items": [["resource": "criminal-record-check", "fields": ["result"]]],
            ], headers: [("X-Acting-For", enterprise)])
            #expect(notShareable == .unprocessableEntity)
            #expect(ns["type"]?.stringValue == "/problems/not-shareable")
            // Shorthand items ("resource.field"), `days`, and the scenario standing for the purpose.
            let (short, shorthand) = try await app.call(.POST, "/api/v1/consents/requests", token: employer, body: [
                "scenario": "学历核验", "days": 10, "items": ["education-degree.name", "education-degree.degree"],
            ], headers: [("X-Acting-For", enterprise)])
            #expect(short == .created)
            #expect(shorthand["clarity"]?["items"]?.list.count == 1)
            #expect(shorthand["clarity"]?["items"]?.list.first?["fields"]?.list.count == 2)
            #expect(shorthand["clarity"]?["durationDays"]?.doubleValue == 10)
            let (citizenAsks, _) = try await app.call(.POST, "/api/v1/consents/requests", token: citizen, body: [
                "scenario": "好奇", "purpose": "看看别人的数据", "durationDays": 1,
                "items": [["resource": "education-degree", "fields": ["name"]]],
            ])
            #expect(citizenAsks == .forbidden)
        }
    }
}

@Suite("Data sharing: data reflow to city enclaves")
struct ReflowTests {
    static func dropEnclaves(_ app: Application) async throws {
        guard TestDatabase.isPostgres, let sql = app.db as? any SQLDatabase else { return }
        let schema = try await sql.raw("SELECT current_schema() AS s").first()?.decode(column: "s", as: String.self) ?? "public"
        for city in ["330100", "330200"] {
            try await sql.raw(SQLQueryString("DROP SCHEMA IF EXISTS \(ident: "\(schema)_enclave_\(city)") CASCADE")).run()
        }
    }

    @Test func cityApplies_sourceConfirms_authorityApproves_slicesIncrementallyWithVerifiedChecksums() async throws {
        try await withTestApp(demo: true) { app in
            defer { }
            let city = try await app.login("demo-data-city")
            let source = try await app.login("demo-data-source")
            let authority = try await app.login("demo-data-authority")
            let clerk = try await app.login("demo-clerk")
            let (created, order) = try await app.call(.POST, "/api/v1/data/reflow/orders", token: city, body: [
                "tables": [["resource": "zj-market-entities", "fields": ["name", "uscc", "industry"]]],
                "purpose": "杭州市企业服务数据回流", "refreshHours": 24,
            ])
            #expect(created == .created)
            #expect(order["city"]?.stringValue == "330100")
            #expect(order["status"]?.stringValue == "submitted")
            let id = try #require(order["id"]?.stringValue)
            // Out of order: the authority cannot approve before the source confirms; a stranger sees nothing.
            let (early, problem) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/approve", token: authority)
            #expect(early == .conflict)
            #expect(problem["type"]?.stringValue == "/problems/reflow-order-state")
            let (wrongParty, _) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/confirm", token: authority)
            #expect(wrongParty == .forbidden)
            let (hidden, _) = try await app.call(.GET, "/api/v1/data/reflow/orders/\(id)", token: clerk)
            #expect(hidden == .notFound)
            let (confirmed, c) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/confirm", token: source, body: ["comment": "数据已核对"])
            #expect(confirmed == .ok)
            #expect(c["status"]?.stringValue == "confirmed")
            let (approved, a) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/approve", token: authority)
            #expect(approved == .ok)
            #expect(a["status"]?.stringValue == "approved")
            let run = try #require(a["runs"]?.list.first)
            #expect(run["rowsCopied"]?.doubleValue == 200)
            #expect(run["rowsTotal"]?.doubleValue == 200)
            #expect(run["verified"] == .bool(true))
            #expect(a["events"]?.list.compactMap { $0["action"]?.stringValue } == ["applied", "confirmed", "approved", "run"])
            let slicer = ReflowSlicer(db: app.db, dataDirectory: app.tongbanConfig.dataDirectory)
            #expect(try await slicer.enclaveCount("zj-market-entities", city: "330100") == 200)
            // Nothing new: nothing copied. Then 5 new Hangzhou rows, 1 changed row and 3 Ningbo rows arrive.
            let (_, again) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/run", token: city)
            #expect(again["runs"]?.list.first?["rowsCopied"]?.doubleValue == 0)
            let resource = try #require(try await DataResource.query(on: app.db).filter(\.$code == "zj-market-entities").first())
            let later = Int64(Date().timeIntervalSince1970 * 1000) + 60_000
            var rows = (0..<5).map { i in
                DataRow(key: "NEW-HZ-\(i)", region: "330106", updatedAt: later, values: ["name": "新企业\(i)", "uscc": "X\(i)", "industry": "I6510"])
            }
            rows += (0..<3).map { i in
                DataRow(key: "NEW-NB-\(i)", region: "330212", updatedAt: later, values: ["name": "宁波企业\(i)", "uscc": "Y\(i)", "industry": "C1391"])
            }
            let existing = try await DataTables(db: app.db).rows(resource, keys: nil, fields: ["name"], limit: 1000)
                .first { $0.region.hasPrefix("3301") }
            let changedKey = try #require(existing?.key)
            rows.append(DataRow(key: changedKey, region: existing?.region ?? "330102", updatedAt: later, values: ["name": "改名企业", "uscc": "Z", "industry": "F5124"]))
            try await DataTables(db: app.db).upsert(resource, rows: rows)
            let (_, third) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/run", token: city)
            let last = try #require(third["runs"]?.list.first)
            #expect(last["rowsCopied"]?.doubleValue == 6)
            #expect(last["rowsTotal"]?.doubleValue == 205)
            #expect(last["verified"] == .bool(true))
            #expect(try await slicer.enclaveCount("zj-market-entities", city: "330100") == 205)
            // Two Hangzhou rows are deleted at the source and one moves to Ningbo: all three leave the enclave.
            let sql = try #require(app.db as? any SQLDatabase)
            let table = DataTables.tableName("zj-market-entities")
            try await sql.raw(SQLQueryString("DELETE FROM \(unsafeRaw: table) WHERE record_key IN ('NEW-HZ-0', 'NEW-HZ-1')")).run()
            try await sql.raw(SQLQueryString("UPDATE \(unsafeRaw: table) SET city_code = '330200', region_code = '330212' WHERE record_key = 'NEW-HZ-2'")).run()
            let (_, fourth) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/run", token: city)
            let pruned = try #require(fourth["runs"]?.list.first)
            #expect(pruned["rowsTotal"]?.doubleValue == 202)
            #expect(pruned["verified"] == .bool(true))
            #expect(try await slicer.enclaveCount("zj-market-entities", city: "330100") == 202)
            #expect(fourth["events"]?.list.last?["comment"]?.stringValue?.contains("−3") == true)
            // The next refresh is scheduled as a job.
            let jobs = try await Job.query(on: app.db).filter(\.$kind == "datasharing.reflow").count()
            #expect(jobs >= 1)
            // All three parties see the order and its history.
            for token in [city, source, authority] {
                let (seen, detail) = try await app.call(.GET, "/api/v1/data/reflow/orders/\(id)", token: token)
                #expect(seen == .ok)
                #expect(detail["runs"]?.list.count == 4)
            }
            try await Self.dropEnclaves(app)
        }
    }

    @Test func malformedOrdersAndRefusalsLeaveNothingHalfWritten() async throws {
        try await withTestApp(demo: true) { app in
            let city = try await app.login("demo-data-city")
            let source = try await app.login("demo-data-source")
            for (body, field) in [
                (["tables": [["resource": "zj-market-entities", "fields": ["name"]]], "purpose": "宁波的数据", "city": "330200"] as [String: JSONValue], "city"),
                (["tables": [["resource": "enterprise-registration", "fields": ["name"]]], "purpose": "不是省级回流表"], "tables[0].resource"),
                (["tables": [["resource": "zj-market-entities", "fields": ["salary"]]], "purpose": "未知字段"], "tables[0].fields"),
                (["tables": [], "purpose": "空"], "tables"),
            ] {
                let (status, problem) = try await app.call(.POST, "/api/v1/data/reflow/orders", token: city, body: body)
                #expect(status == .unprocessableEntity, "\(body)")
                #expect(problem["errors"]?.list.contains { $0["field"]?.stringValue == field } == true, "\(problem)")
            }
            let (_, list) = try await app.call(.GET, "/api/v1/data/reflow/orders", token: city)
            #expect(list.list.isEmpty)
            let (_, order) = try await app.call(.POST, "/api/v1/data/reflow/orders", token: city, body: [
                "tables": [["resource": "zj-market-entities", "fields": []]], "purpose": "杭州市全量回流",
            ])
            let id = try #require(order["id"]?.stringValue)
            let (noReason, _) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/refuse", token: source)
            #expect(noReason == .unprocessableEntity)
            let (refused, r) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/refuse", token: source, body: ["reason": "字段涉及未公开信息"])
            #expect(refused == .ok)
            #expect(r["status"]?.stringValue == "refused")
            let (run, _) = try await app.call(.POST, "/api/v1/data/reflow/orders/\(id)/run", token: city)
            #expect(run == .conflict)
            let slicer = ReflowSlicer(db: app.db, dataDirectory: app.tongbanConfig.dataDirectory)
            #expect(try await slicer.enclaveCount("zj-market-entities", city: "330100") == 0)
        }
    }
}

@Suite("Data sharing: scan-to-authorise pages")
struct ConsentPageTests {
    @Test func personScansApprovesWithPasswordAndRevokesFromMyConsents() async throws {
        try await withTestApp(demo: true) { app in
            let (employer, created, enterprise) = try await ConsentTests.ask(app)
            let payload = try #require(created["qrPayload"]?.stringValue)
            let path = try #require(URLComponents(string: payload).map { $0.path + "?" + ($0.query ?? "") })
            let browser = PageBrowser(app)
            // Not logged in: to the login page, coming back here afterwards.
            let anonymous = try await browser.get(path)
            #expect(anonymous.status == .seeOther || anonymous.status == .found)
            try await browser.login("demo-citizen")
            let page = try await browser.get(path)
            #expect(page.status == .ok)
            #expect(browser.lastBody.contains("济南泉城食品有限公司"))
            #expect(browser.lastBody.contains("简历核验"))
            let wrong = try await browser.post(path, [("password", "wrong"), ("intent", "approve")])
            #expect(wrong.status == .unauthorized)
            #expect(browser.lastBody.contains("密码不正确"))
            let approved = try await browser.post(path, [("password", Fixtures.demoPassword), ("intent", "approve")])
            #expect(approved.status == .ok)
            #expect(browser.lastBody.contains("已授权"))
            let (_, mine) = try await app.call(.GET, "/api/v1/consents", token: try await app.login("demo-citizen"))
            let consentID = try #require(mine.list.first?["id"]?.stringValue)
            _ = try await browser.get("/consents/mine")
            #expect(browser.lastBody.contains("撤回授权"))
            let revoked = try await browser.post("/consents/\(consentID.lowercased())/revoke", [])
            #expect(revoked.status == .seeOther)
            let (after, _) = try await app.call(
                .GET, "/api/v1/consents/\(consentID)/data", token: employer, headers: [("X-Acting-For", enterprise)])
            #expect(after == .forbidden)
        }
    }
}
