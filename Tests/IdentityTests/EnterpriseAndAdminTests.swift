import Fluent
import Foundation
import Identity
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Enterprises, acting for, administration")
struct EnterpriseAndAdminTests {
    @Test func createEnterprise_thenActFor_it() async throws {
        try await withTestApp { app in
            let name = try await app.registerPerson()
            let token = try await app.login(name, Fixtures.password)
            var enterpriseID = ""
            try await app.testing().test(
                .POST, "/api/v1/enterprises", headers: .bearer(token),
                beforeRequest: { req in
                    try req.content.encode(["name": "测试科技有限公司", "creditCode": "91350100m000100y43"])
                },
                afterResponse: { res in
                    #expect(res.status == .created)
                    let body = try res.content.decode([String: JSONValue].self)
                    #expect(body["creditCode"]?.stringValue == "91350100M000100Y43")
                    #expect(body["role"]?.stringValue == "legal_representative")
                    enterpriseID = body["id"]?.stringValue ?? ""
                })
            var headers = HTTPHeaders.bearer(token)
            headers.add(name: "X-Acting-For", value: enterpriseID)
            try await app.testing().test(.GET, "/api/v1/me", headers: headers) { res in
                #expect(res.status == .ok)
                let me = try res.content.decode([String: JSONValue].self)
                #expect(me["actingFor"]?.stringValue == enterpriseID)
            }
            // Another person may neither act for it nor see it.
            let other = try await app.registerPerson()
            let otherToken = try await app.login(other, Fixtures.password)
            var otherHeaders = HTTPHeaders.bearer(otherToken)
            otherHeaders.add(name: "X-Acting-For", value: enterpriseID)
            try await app.testing().test(.GET, "/api/v1/me", headers: otherHeaders) { res in
                #expect(res.status == .forbidden)
            }
            try await app.testing().test(.GET, "/api/v1/enterprises/\(enterpriseID)", headers: .bearer(otherToken)) { res in
                #expect(res.status == .notFound)
            }
            // The legal representative adds the other person as agent; then they can act for it.
            try await app.testing().test(
                .POST, "/api/v1/enterprises/\(enterpriseID)/members", headers: .bearer(token),
                beforeRequest: { req in try req.content.encode(["username": other, "role": "agent"]) },
                afterResponse: { res in #expect(res.status == .noContent) })
            try await app.testing().test(.GET, "/api/v1/me", headers: otherHeaders) { res in #expect(res.status == .ok) }
            try await app.testing().test(
                .POST, "/api/v1/enterprises/\(enterpriseID)/members", headers: .bearer(token),
                beforeRequest: { req in try req.content.encode(["username": other, "role": "agent"]) },
                afterResponse: { res in #expect(res.status == .conflict) })
            // An agent may not add members.
            try await app.testing().test(
                .POST, "/api/v1/enterprises/\(enterpriseID)/members", headers: .bearer(otherToken),
                beforeRequest: { req in try req.content.encode(["username": name, "role": "agent"]) },
                afterResponse: { res in #expect(res.status == .forbidden) })
            try await app.testing().test(.GET, "/api/v1/enterprises/\(enterpriseID)", headers: .bearer(otherToken)) { res in
                #expect(res.status == .ok)
                #expect(res.body.string.contains("测*"))
            }
        }
    }

    @Test func createEnterprise_badCreditCode_is422() async throws {
        try await withTestApp { app in
            let token = try await app.login(try await app.registerPerson(), Fixtures.password)
            try await app.testing().test(
                .POST, "/api/v1/enterprises", headers: .bearer(token),
                beforeRequest: { req in try req.content.encode(["name": "", "creditCode": "91350100M000100Y44"]) },
                afterResponse: { res in
                    #expect(res.status == .unprocessableEntity)
                    #expect(Set(res.problem?.fields() ?? []) == ["name", "creditCode"])
                })
        }
    }

    @Test func adminRoutes_forbidCitizens_andAllowSystemAdmins() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let admin = try await app.login("demo-admin")
            let body = #"{"code":"TEST-DEPT","name":"测试局","nameEn":"Test Bureau","regionId":null}"#
            try await app.testing().test(
                .POST, "/api/v1/admin/departments", headers: .bearer(citizen).merging(.json), body: ByteBuffer(string: body)
            ) { res in #expect(res.status == .forbidden) }
            try await app.testing().test(
                .POST, "/api/v1/admin/departments", headers: .bearer(admin).merging(.json), body: ByteBuffer(string: body)
            ) { res in
                #expect(res.status == .unprocessableEntity)
                #expect(res.problem?.fields() == ["regionId"])
            }
            var regionID = ""
            try await app.testing().test(.GET, "/api/v1/regions?level=province&limit=1") { res in
                #expect(res.status == .ok)
                let page = try res.content.decode(CursorPageBody.self)
                regionID = page.items.first?["id"]?.stringValue ?? ""
                #expect(page.nextCursor != nil)
            }
            try await app.testing().test(
                .POST, "/api/v1/admin/departments", headers: .bearer(admin),
                beforeRequest: { req in
                    try req.content.encode(["code": "TEST-DEPT", "name": "测试局", "nameEn": "Test Bureau", "regionId": regionID])
                },
                afterResponse: { res in #expect(res.status == .created) })
            try await app.testing().test(
                .POST, "/api/v1/admin/regions", headers: .bearer(admin),
                beforeRequest: { req in
                    try req.content.encode(["code": "999999", "name": "测试区", "nameEn": "Test", "level": "street"])
                },
                afterResponse: { res in
                    #expect(res.status == .unprocessableEntity)
                    #expect(res.problem?.fields() == ["parentId"])
                })
            try await app.testing().test(.GET, "/api/v1/regions?level=planet") { res in
                #expect(res.status == .unprocessableEntity)
            }
        }
    }

    @Test func departmentAdmin_createsOnlyOwnClerks() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            var departments: [String] = []
            try await app.testing().test(.GET, "/api/v1/departments?limit=100") { res in
                departments = try res.content.decode(CursorPageBody.self).items.compactMap { $0["id"]?.stringValue }
            }
            #expect(departments.count >= 10)
            // A new department with no staff yet, and any other one.
            var regionID = ""
            try await app.testing().test(.GET, "/api/v1/regions?level=province&limit=1") { res in
                regionID = try res.content.decode(CursorPageBody.self).items.first?["id"]?.stringValue ?? ""
            }
            var own = ""
            try await app.testing().test(
                .POST, "/api/v1/admin/departments", headers: .bearer(admin).merging(.json),
                body: ByteBuffer(string: #"{"code":"370000-EMPTY","name":"新设局","nameEn":"New Bureau","regionId":"\#(regionID)"}"#)
            ) { res in
                #expect(res.status == .created)
                own = (try? res.content.decode([String: JSONValue].self))?["id"]?.stringValue ?? ""
            }
            let foreign = departments[0]
            let payload: @Sendable (String, String, String) -> String = { user, role, dept in
                #"{"username":"\#(user)","password":"Another-Good-Pass-9","name":"部门管理员","roles":[{"role":"\#(role)","departmentId":"\#(dept)"}]}"#
            }
            try await app.testing().test(
                .POST, "/api/v1/admin/staff", headers: .bearer(admin).merging(.json),
                body: ByteBuffer(string: payload("dept-admin", "department_admin", own))
            ) { res in #expect(res.status == .created) }
            let deptAdmin = try await app.login("dept-admin", "Another-Good-Pass-9")
            try await app.testing().test(
                .POST, "/api/v1/admin/staff", headers: .bearer(deptAdmin).merging(.json),
                body: ByteBuffer(string: payload("new-clerk", "clerk", own))
            ) { res in #expect(res.status == .created) }
            try await app.testing().test(
                .POST, "/api/v1/admin/staff", headers: .bearer(deptAdmin).merging(.json),
                body: ByteBuffer(string: payload("foreign-clerk", "clerk", foreign))
            ) { res in #expect(res.status == .forbidden) }
            try await app.testing().test(
                .POST, "/api/v1/admin/staff", headers: .bearer(deptAdmin).merging(.json),
                body: ByteBuffer(string: payload("sneaky-admin", "system_admin", own))
            ) { res in #expect(res.status == .forbidden) }
            try await app.testing().test(.GET, "/api/v1/admin/staff", headers: .bearer(deptAdmin)) { res in
                #expect(res.status == .ok)
                let names = try res.content.decode(CursorPageBody.self).items.compactMap { $0["username"]?.stringValue }
                #expect(Set(names) == ["dept-admin", "new-clerk"])
            }
            let citizen = try await app.login("demo-citizen")
            try await app.testing().test(.GET, "/api/v1/admin/staff", headers: .bearer(citizen)) { res in
                #expect(res.status == .forbidden)
            }
        }
    }
}

struct CursorPageBody: Decodable {
    var items: [[String: JSONValue]]
    var nextCursor: String?
}

extension HTTPHeaders {
    func merging(_ other: HTTPHeaders) -> HTTPHeaders {
        var copy = self
        for (name, value) in other { copy.add(name: name, value: value) }
        return copy
    }
}
