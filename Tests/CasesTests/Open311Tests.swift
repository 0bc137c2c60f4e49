import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@testable import Cases

@Suite("Cases: Open311 GeoReport v2")
struct Open311Tests {
    func form(_ app: Application, _ path: String, _ fields: [(String, String)]) async throws -> (HTTPStatus, String, HTTPHeaders) {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        let res = try await app.testing().sendRequest(
            .POST, path, headers: ["Content-Type": "application/x-www-form-urlencoded"], body: ByteBuffer(string: body))
        return (res.status, String(buffer: res.body), res.headers)
    }

    func json(_ text: String) -> JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .null }

    @Test func services_listCategoriesWithSpecificationFields() async throws {
        try await withTestApp(demo: true) { app in
            let res = try await app.testing().sendRequest(.GET, "/open311/v2/services.json")
            #expect(res.status == .ok)
            let list = json(String(buffer: res.body)).items
            #expect(list.count >= 11)
            let environment = try #require(list.first { $0["service_code"]?.string == "environment" })
            #expect(environment["service_name"]?.string == "环境污染")
            #expect(environment["metadata"] == .bool(false))
            #expect(environment["type"]?.string == "realtime")
            #expect(environment["group"] != nil && environment["description"] != nil && environment["keywords"] != nil)
            let xml = try await app.testing().sendRequest(.GET, "/open311/v2/services.xml")
            #expect(xml.headers.first(name: .contentType)?.hasPrefix("text/xml") == true)
            let text = String(buffer: xml.body)
            #expect(text.hasPrefix("<?xml version=\"1.0\" encoding=\"utf-8\"?><services><service>"))
            #expect(text.contains("<service_code>environment</service_code>"))
        }
    }

    @Test func postRequest_specificationExample_thenFollowIt() async throws {
        try await withTestApp(demo: true) { app in
            // The specification's POST example, with our service code and a point in the demo district.
            let (status, text, _) = try await form(app, "/open311/v2/requests.json", [
                ("api_key", "demo-open311-key"), ("service_code", "environment"), ("lat", "23.0512"), ("long", "113.1523"),
                ("address_string", "1234 5th street"), ("email", "smit222@sfgov.edu"), ("device_id", "tt222111"),
                ("account_id", "123456"), ("first_name", "john"), ("last_name", "smith"), ("phone", "13812345678"),
                ("description", "A large sinkhole is destroying the street"), ("media_url", "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"),
            ])
            #expect(status == .created)
            let created = json(text).items
            #expect(created.count == 1)
            let id = try #require(created.first?["service_request_id"]?.string)
            #expect(created.first?["service_notice"]?.string?.isEmpty == false)
            #expect(created.first?["account_id"] == .null)
            // GET the one request.
            let one = try await app.testing().sendRequest(.GET, "/open311/v2/requests/\(id).json")
            #expect(one.status == .ok)
            let request = try #require(json(String(buffer: one.body)).items.first)
            #expect(request["service_request_id"]?.string == id)
            #expect(request["status"]?.string == "open")
            #expect(request["service_code"]?.string == "environment")
            #expect(request["agency_responsible"]?.string == "佛山市生态环境局禅城分局")
            #expect(request["lat"]?.number == 23.0512)
            #expect(request["long"]?.number == 113.1523)
            #expect(request["address"]?.string == "1234 5th street")
            #expect(request["requested_datetime"]?.string?.hasSuffix("+08:00") == true)
            for key in ["status_notes", "service_name", "description", "updated_datetime", "expected_datetime", "media_url"] {
                #expect(request[key] != nil, "missing \(key)")
            }
            // The contact is not published and stored only masked.
            #expect(!String(buffer: one.body).contains("13812345678"))
            let stored = try #require(try await CaseRecord.query(on: app.db).first())
            #expect(stored.contact?.contains("13812345678") == false)
            // XML, and the list with filters.
            let xml = try await app.testing().sendRequest(.GET, "/open311/v2/requests/\(id).xml")
            #expect(String(buffer: xml.body).contains("<service_requests><request>"))
            #expect(String(buffer: xml.body).contains("<service_request_id>\(id)</service_request_id>"))
            let open = try await app.testing().sendRequest(.GET, "/open311/v2/requests.json?status=open&service_code=environment")
            #expect(json(String(buffer: open.body)).items.contains { $0["service_request_id"]?.string == id })
            let closed = try await app.testing().sendRequest(.GET, "/open311/v2/requests.json?status=closed")
            #expect(json(String(buffer: closed.body)).items.isEmpty)
            let byID = try await app.testing().sendRequest(.GET, "/open311/v2/requests.json?service_request_id=\(id),nope")
            #expect(json(String(buffer: byID.body)).items.count == 1)
            // Unknown id: the specification's error list.
            let missing = try await app.testing().sendRequest(.GET, "/open311/v2/requests/WG-19990101-000001.json")
            #expect(missing.status == .notFound)
            #expect(json(String(buffer: missing.body)).items.first?["code"]?.number == 404)
        }
    }

    @Test func postRequest_badKeyMissingFieldsUnknownService_answerErrorList() async throws {
        try await withTestApp(demo: true) { app in
            var (status, text, _) = try await form(app, "/open311/v2/requests.json", [
                ("api_key", "wrong"), ("service_code", "environment"), ("lat", "23.05"), ("long", "113.15"),
            ])
            #expect(status == .forbidden)
            let error = try #require(json(text).items.first)
            #expect(error["code"]?.number == 403)
            #expect(error["description"]?.string?.contains("api_key") == true)
            (status, text, _) = try await form(app, "/open311/v2/requests.json", [("service_code", "environment"), ("lat", "23.05"), ("long", "113.15")])
            #expect(status == .badRequest)
            (status, text, _) = try await form(app, "/open311/v2/requests.json", [
                ("api_key", "demo-open311-key"), ("service_code", "unicorns"), ("lat", "23.05"), ("long", "113.15"),
            ])
            #expect(status == .badRequest)
            #expect(json(text).items.first?["description"]?.string?.contains("service_code") == true)
            (status, text, _) = try await form(app, "/open311/v2/requests.json", [("api_key", "demo-open311-key"), ("service_code", "road")])
            #expect(status == .badRequest)
            (status, text, _) = try await form(app, "/open311/v2/requests.json", [
                ("api_key", "demo-open311-key"), ("service_code", "road"), ("lat", "123"), ("long", "113.15"),
            ])
            #expect(status == .badRequest)
            #expect(json(text).items.first?["description"]?.string?.contains("lat") == true)
            (status, text, _) = try await form(app, "/open311/v2/requests.xml", [("api_key", "wrong"), ("service_code", "road")])
            #expect(status == .forbidden)
            #expect(text.contains("<errors><error><code>403</code>"))
            #expect(try await CaseRecord.query(on: app.db).count() == 0)
            // An address alone is a location.
            (status, text, _) = try await form(app, "/open311/v2/requests.json", [
                ("api_key", "demo-open311-key"), ("service_code", "road"), ("address_string", "季华五路 18 号"),
                ("description", "路面塌陷"),
            ])
            #expect(status == .created)
        }
    }
}
