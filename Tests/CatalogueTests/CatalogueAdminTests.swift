import Catalogue
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Catalogue administration and form schemas")
struct CatalogueAdminTests {
    static func input(code: String, department: String) -> [String: JSONValue] {
        [
            "code": .string(code), "name": "测试事项审批", "nameEn": "Test item approval", "department": .string(department),
            "category": "01", "audience": ["person"], "caseKind": "promised", "statutoryDays": 20, "promisedDays": 5,
            "zones": ["birth"], "keywords": ["测试"],
            "materials": [["name": "申请书", "nameEn": "Application", "required": true, "form": "original", "copies": 1]],
            "form": [
                "fields": [
                    ["name": "applicant", "label": "申请人", "labelEn": "Applicant", "type": "text", "required": true, "min": 2, "max": 20],
                    ["name": "idNumber", "label": "身份证号", "labelEn": "ID", "type": "idNumber", "required": true],
                ]
            ],
        ]
    }

    @Test func create_publish_search_update() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let department = try #require(try await app.departmentCode(index: 0))
            var id = ""
            try await app.testing().test(
                .POST, "/api/v1/admin/services", headers: .bearer(admin),
                beforeRequest: { req in try req.content.encode(Self.input(code: "TEST-01-0001", department: department)) },
                afterResponse: { res in
                    #expect(res.status == .created)
                    let body = try res.content.decode([String: JSONValue].self)
                    #expect(body["version"] == .number(1))
                    #expect(body["published"] == .bool(false))
                    id = body["id"]?.stringValue ?? ""
                })
            // Unpublished: hidden from the public (404) and from search, visible to the editor.
            try await app.testing().test(.GET, "/api/v1/services/\(id)") { res in #expect(res.status == .notFound) }
            try await app.testing().test(.GET, "/api/v1/services/\(id)", headers: .bearer(admin)) { res in #expect(res.status == .ok) }
            let query = "/api/v1/services?q=" + ("测试事项".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            try await app.testing().test(.GET, query) { res in #expect(!res.body.string.contains(id)) }
            try await app.testing().test(.POST, "/api/v1/admin/services/\(id)/publish", headers: .bearer(admin)) { res in
                #expect(res.status == .ok)
            }
            try await app.testing().test(.GET, query) { res in #expect(res.body.string.contains(id)) }
            var changed = Self.input(code: "TEST-01-0001", department: department)
            changed["name"] = "测试事项变更审批"
            try await app.testing().test(
                .PUT, "/api/v1/admin/services/\(id)", headers: .bearer(admin),
                beforeRequest: { req in try req.content.encode(changed) },
                afterResponse: { res in
                    let body = try res.content.decode([String: JSONValue].self)
                    #expect(body["version"] == .number(2))
                    #expect(body["name"]?.stringValue == "测试事项变更审批")
                })
            let renamed = "/api/v1/services?q=" + ("事项变更".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            try await app.testing().test(.GET, renamed) { res in #expect(res.body.string.contains(id)) }
            try await app.testing().test(.POST, "/api/v1/admin/services/\(id)/unpublish", headers: .bearer(admin)) { res in
                #expect(res.status == .ok)
            }
            try await app.testing().test(.GET, "/api/v1/services/\(id)") { res in #expect(res.status == .notFound) }
        }
    }

    @Test func create_invalidInput_reportsEveryField() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let body: [String: JSONValue] = [
                "code": "bad code", "name": "", "department": "NOPE", "audience": [], "statutoryDays": 5,
                "promisedDays": 9, "zones": ["atlantis"],
                "form": ["fields": [["name": "1x", "label": "", "labelEn": "", "type": "choice", "required": true]]],
            ]
            try await app.testing().test(
                .POST, "/api/v1/admin/services", headers: .bearer(admin),
                beforeRequest: { req in try req.content.encode(body) },
                afterResponse: { res in
                    #expect(res.status == .unprocessableEntity)
                    let fields = Set(res.problem?.fields() ?? [])
                    for expected in [
                        "code", "name", "nameEn", "category", "audience", "caseKind", "promisedDays",
                        "form.fields[0].name", "form.fields[0].label", "form.fields[0].options", "department", "zones[0]",
                    ] {
                        #expect(fields.contains(expected), "missing \(expected) in \(fields)")
                    }
                })
            try await app.testing().test(
                .POST, "/api/v1/admin/services", headers: .bearer(admin).adding(.json), body: ByteBuffer(string: #"{"category":"77"}"#)
            ) { res in #expect(res.status == .badRequest) }
        }
    }

    @Test func permissions_citizensAndOtherDepartments() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let department = try #require(try await app.departmentCode(index: 0))
            try await app.testing().test(
                .POST, "/api/v1/admin/services", headers: .bearer(citizen),
                beforeRequest: { req in try req.content.encode(Self.input(code: "TEST-01-0002", department: department)) },
                afterResponse: { res in #expect(res.status == .forbidden) })
            try await app.testing().test(
                .POST, "/api/v1/admin/services",
                beforeRequest: { req in try req.content.encode(Self.input(code: "TEST-01-0002", department: department)) },
                afterResponse: { res in #expect(res.status == .unauthorized) })
            // A clerk is staff but no editor.
            let clerk = try await app.login("demo-clerk")
            try await app.testing().test(
                .POST, "/api/v1/admin/services", headers: .bearer(clerk),
                beforeRequest: { req in try req.content.encode(Self.input(code: "TEST-01-0002", department: department)) },
                afterResponse: { res in #expect(res.status == .forbidden) })
        }
    }

    @Test func formSchema_validatesSubmissionsAllAtOnce() {
        let schema = FormSchema(fields: [
            .init(name: "name", label: "姓名", labelEn: "Name", type: .text, required: true, min: 2, max: 5, pattern: nil, options: nil),
            .init(name: "age", label: "年龄", labelEn: "Age", type: .number, required: true, min: 0, max: 150, pattern: nil, options: nil),
            .init(name: "born", label: "出生", labelEn: "Born", type: .date, required: false, min: nil, max: nil, pattern: nil, options: nil),
            .init(name: "kind", label: "类别", labelEn: "Kind", type: .choice, required: true, min: nil, max: nil, pattern: nil,
                  options: [.init(value: "a", label: "甲", labelEn: "A")]),
            .init(name: "id", label: "身份证", labelEn: "ID", type: .idNumber, required: true, min: nil, max: nil, pattern: nil, options: nil),
            .init(name: "code", label: "信用代码", labelEn: "USCC", type: .uscc, required: false, min: nil, max: nil, pattern: nil, options: nil),
            .init(name: "mobile", label: "手机", labelEn: "Mobile", type: .phone, required: false, min: nil, max: nil, pattern: nil, options: nil),
            .init(name: "zip", label: "邮编", labelEn: "Postcode", type: .text, required: false, min: nil, max: nil, pattern: "[0-9]{6}", options: nil),
        ])
        #expect(schema.definitionErrors().isEmpty)
        let good: [String: JSONValue] = [
            "name": "张三", "age": 30, "born": "1990-02-28", "kind": "a", "id": "11010519491231002X",
            "code": "91350100M000100Y43", "mobile": "13812345678", "zip": "250001",
        ]
        #expect(schema.validate(good).isEmpty)
        let bad: [String: JSONValue] = [
            "name": "张", "age": 200, "born": "1990-02-30", "kind": "b", "id": "110105194912310021",
            "code": "91350100M000100Y44", "mobile": "12345", "zip": "2500", "extra": "x",
        ]
        let errors = schema.validate(bad).map(\.field)
        #expect(Set(errors) == ["name", "age", "born", "kind", "id", "code", "mobile", "zip", "extra"])
        #expect(schema.validate([:]).map(\.field).sorted() == ["age", "id", "kind", "name"])
    }
}

extension Application {
    func departmentCode(index: Int) async throws -> String? {
        let res = try await testing().sendRequest(.GET, "/api/v1/departments?limit=100")
        let body = try res.content.decode(ListBody.self)
        // The demo admin is department admin of the market-regulation department; system admin covers all.
        return body.items.count > index ? body.items[index]["code"]?.stringValue : nil
    }
}

extension HTTPHeaders {
    func adding(_ other: HTTPHeaders) -> HTTPHeaders {
        var copy = self
        for (name, value) in other { copy.add(name: name, value: value) }
        return copy
    }
}
