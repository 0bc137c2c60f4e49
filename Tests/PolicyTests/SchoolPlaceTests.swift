import DataSharing
import Fluent
import Foundation
import Policy
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("School places decided from several departments' data (case 9)")
struct SchoolPlaceTests {
    func diagnosis(_ app: Application, _ token: String) async throws -> JSONValue {
        let (status, body, _, _) = try await app.policyCall(.POST, "/api/v1/policy/person/diagnosis", token: token)
        #expect(status == .ok)
        return body
    }

    func school(_ body: JSONValue) -> JSONValue? { match(body, code: "LX-SCHOOL-2026") }

    @Test func demoCitizenQualifies_anotherPersonSeesWhichSourceFailedOrIsMissing() async throws {
        try await withTestApp(demo: true) { app in
            let before = try await app.auditSize()
            let citizen = try await app.login("demo-citizen")
            let body = try await diagnosis(app, citizen)
            #expect(body["profile"]?["householdRegion"]?.stringValue == "370102")
            #expect(body["profile"]?["socialSecurityMonths"]?.doubleValue ?? 0 >= 12)
            guard case .array(let sources)? = body["sources"] else { Issue.record("no sources"); return }
            #expect(sources.contains { $0["resource"]?.stringValue == "household-register" && $0["found"] == .bool(true) })
            let item = try #require(school(body))
            #expect(item["eligible"] == .bool(true))
            #expect(conditionResults(item) == ["passed", "passed", "passed"])
            // Only person items; the read is audited.
            #expect(match(body, code: "CN-SME-01") == nil)
            #expect(try await app.auditSize() == before + 1)

            // A newcomer from Beijing: no data anywhere yet — every condition is "missing", not "failed".
            let id = Fixtures.idNumber("11010519850101" + "123")
            let username = try await app.registerPerson(idNumber: id)
            let newcomer = try await app.login(username, Fixtures.password)
            #expect(conditionResults(school(try await diagnosis(app, newcomer))) == ["missing", "missing", "missing"])
            // Then the household moves to Lixia, but only 6 months of social insurance are on file.
            let tables = DataTables(db: app.db)
            let household = try #require(try await DataResource.query(on: app.db).filter(\.$code == "household-register").first())
            let insurance = try #require(try await DataResource.query(on: app.db).filter(\.$code == "social-insurance").first())
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try await tables.upsert(household, rows: [DataRow(key: id, region: "370102", updatedAt: now, values: ["name": "测试用户", "household_region": "370102"])])
            try await tables.upsert(insurance, rows: [DataRow(key: id, region: "370102", updatedAt: now, values: ["name": "测试用户", "months_paid": "6"])])
            let after = try #require(school(try await diagnosis(app, newcomer)))
            #expect(after["eligible"] == .bool(false))
            #expect(conditionResults(after) == ["passed", "missing", "failed"])

            // Staff have no person diagnosis of their own.
            #expect(try await app.policyCall(.POST, "/api/v1/policy/person/diagnosis", token: try await app.login("demo-clerk")).0 == .forbidden)
        }
    }
}

extension Application {
    func auditSize() async throws -> Int {
        let (_, checkpoint, _, _) = try await policyCall(.GET, "/api/v1/audit/checkpoint")
        return Int(checkpoint["treeSize"]?.doubleValue ?? -1)
    }
}
