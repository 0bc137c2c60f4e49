import Foundation
import Licences
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Materials replaced by e-licences (免提交)")
struct MaterialsCheckTests {
    @Test func aBusinessLicenceInForceReplacesTheMaterial_revokedOnesDoNot() async throws {
        try await withTestApp(demo: true) { app in
            let employer = try await app.login("demo-enterprise")
            let (_, me, _) = try await app.call(.GET, "/api/v1/me", token: employer)
            guard case .array(let enterprises)? = me["enterprises"], let enterprise = enterprises.first?["id"]?.stringValue,
                let uscc = enterprises.first?["creditCode"]?.stringValue
            else { Issue.record("demo enterprise missing"); return }
            let (_, services, _) = try await app.call(.GET, "/api/v1/services?q=370100-10-0001")
            guard case .array(let items)? = services["items"], let serviceID = items.first?["id"]?.stringValue else {
                Issue.record("seal service missing"); return
            }
            var headers = HTTPHeaders.json
            headers.add(name: .authorization, value: "Bearer \(employer)")
            headers.add(name: "X-Acting-For", value: enterprise)
            let draft = try await app.testing().sendRequest(
                .POST, "/api/v1/applications", headers: headers,
                body: ByteBuffer(data: try JSONEncoder().encode(["serviceId": JSONValue.string(serviceID), "form": .object([:])])))
            #expect(draft.status == .created)
            let id = try #require(try JSONDecoder().decode(JSONValue.self, from: Data(buffer: draft.body))["id"]?.stringValue)
            func report() async throws -> JSONValue {
                let res = try await app.testing().sendRequest(.GET, "/api/v1/applications/\(id)/materials", headers: headers)
                #expect(res.status == .ok)
                return try JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))
            }
            func row(_ report: JSONValue) -> JSONValue? {
                guard case .array(let rows)? = report["materials"] else { return nil }
                return rows.first { $0["licenceType"]?.stringValue == "business-licence" }
            }
            let before = try await report()
            #expect(row(before)?["satisfiedBy"] == .null || row(before)?["satisfiedBy"] == nil)
            #expect(row(before)?["name"]?.stringValue == "营业执照")

            let clerk = try await app.login("demo-clerk")
            let (issued, licence, _) = try await app.call(.POST, "/api/v1/licences", token: clerk, body: [
                "typeCode": "business-licence", "holder": ["uscc": .string(uscc)],
                "fields": ["companyName": "济南泉城食品有限公司", "legalRepresentative": "王芳", "registeredCapital": "100万元",
                           "scope": "食品销售", "establishedOn": "2020-05-01"],
            ])
            #expect(issued == .created, "\(licence)")
            let after = try await report()
            #expect(row(after)?["satisfiedBy"]?.stringValue == "licence")
            #expect(row(after)?["licence"]?["number"] == licence["number"])
            guard case .array(let missing)? = after["missing"] else { Issue.record("no missing list"); return }
            #expect(!missing.contains(.string("营业执照")))

            // Attaching it explicitly from the wallet; wrong material, wrong type or someone else's licence: 422.
            func attach(_ body: [String: JSONValue]) async throws -> (HTTPStatus, JSONValue) {
                let res = try await app.testing().sendRequest(
                    .POST, "/api/v1/applications/\(id)/materials", headers: headers, body: ByteBuffer(data: try JSONEncoder().encode(body)))
                return (res.status, (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null)
            }
            let licenceID = try #require(licence["id"])
            let (attached, linked) = try await attach(["material": "营业执照", "licenceId": licenceID])
            #expect(attached == .ok)
            #expect(row(linked)?["licence"]?["id"] == licenceID)
            #expect(try await attach(["material": "法定代表人居民身份证", "licenceId": licenceID]).0 == .unprocessableEntity)
            #expect(try await attach(["material": "不存在的材料", "licenceId": licenceID]).0 == .unprocessableEntity)
            let permit = try await app.issueDemoPermit()
            #expect(try await attach(["material": "营业执照", "licenceId": try #require(permit["id"])]).0 == .unprocessableEntity)

            // A revoked licence no longer replaces anything.
            _ = try await app.call(.POST, "/api/v1/licences/\(try #require(licence["id"]?.stringValue))/revoke", token: clerk, body: ["reason": "吊销"])
            #expect(row(try await report())?["satisfiedBy"]?.stringValue != "licence")

            // Someone else's application is not found.
            let citizen = try await app.login("demo-citizen")
            let (stranger, _, _) = try await app.call(.GET, "/api/v1/applications/\(id)/materials", token: citizen)
            #expect(stranger == .notFound)
        }
    }
}
