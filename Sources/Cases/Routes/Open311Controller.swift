import Crypto
import Fluent
import Foundation
import TongbanCore
import Vapor

/// Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2): services, and service requests that
/// become cases. JSON and XML; errors as the specification's `[{"code","description"}]` list.
struct Open311Controller: RouteCollection {
    enum Format: String { case json, xml }

    struct Open311Error: Error {
        var status: HTTPResponseStatus
        var description: String
    }

    func boot(routes: any RoutesBuilder) throws {
        let v2 = routes.grouped("open311", "v2")
        v2.get("services.json") { try await self.services($0, .json) }
        v2.get("services.xml") { try await self.services($0, .xml) }
        v2.get("services", ":file") { try await self.serviceDefinition($0) }
        v2.get("requests.json") { try await self.requests($0, .json) }
        v2.get("requests.xml") { try await self.requests($0, .xml) }
        v2.post("requests.json") { try await self.create($0, .json) }
        v2.post("requests.xml") { try await self.create($0, .xml) }
        v2.get("requests", ":file") { try await self.request($0) }
        v2.get("discovery.json") { _ in
            let endpoint: [String: Any] = [
                "specification": "http://wiki.open311.org/GeoReport_v2", "url": "/open311/v2",
                "changeset": "2026-11-30T00:00:00Z", "type": "production", "formats": ["application/json", "text/xml"],
            ]
            let body: [String: Any] = [
                "changeset": "2026-11-30T00:00:00Z", "contact": "Tongban", "key_service": "API keys from the platform operator",
                "endpoints": [endpoint],
            ]
            return try await Self.respond(.json, status: .ok, json: body, xml: "")
        }
    }

    // MARK: services

    func serviceList(_ req: Request) async throws -> [[String: Any]] {
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        return directory.categories.values.sorted { $0.code < $1.code }.map { category in
            [
                "service_code": category.code, "service_name": category.name, "description": category.description,
                "metadata": false, "type": "realtime", "keywords": category.nameEn, "group": category.group,
            ]
        }
    }

    func services(_ req: Request, _ format: Format) async throws -> Response {
        let list = try await serviceList(req)
        return try await Self.respond(format, status: .ok, json: list, xml: Self.xml(root: "services", item: "service", list))
    }

    /// GET /open311/v2/services/{code}.json — the definition (no extra attributes: `metadata` is false).
    func serviceDefinition(_ req: Request) async throws -> Response {
        let (code, format) = try Self.split(req.parameters.get("file") ?? "")
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        guard directory.categories[code] != nil else {
            return Self.error(format, Open311Error(status: .notFound, description: "service_code \(code) not found"))
        }
        let body: [String: Any] = ["service_code": code, "attributes": [[String: Any]]()]
        let xml = "<service_definition><service_code>\(Self.escape(code))</service_code><attributes></attributes></service_definition>"
        return try await Self.respond(format, status: .ok, json: body, xml: xml)
    }

    // MARK: requests

    struct PostBody: Content {
        var api_key: String?
        var service_code: String?
        var lat: String?
        var long: String?
        var address_string: String?
        var address_id: String?
        var email: String?
        var device_id: String?
        var account_id: String?
        var first_name: String?
        var last_name: String?
        var phone: String?
        var description: String?
        var media_url: String?
    }

    /// POST /open311/v2/requests.json — form-encoded (or JSON) with `api_key`; answers
    /// `[{"service_request_id","service_notice","account_id"}]`.
    func create(_ req: Request, _ format: Format) async throws -> Response {
        let body: PostBody
        do {
            body = try req.content.decode(PostBody.self)
        } catch {
            return Self.error(format, Open311Error(status: .badRequest, description: "The request body could not be read"))
        }
        guard let key = body.api_key, !key.isEmpty else {
            return Self.error(format, Open311Error(status: .badRequest, description: "api_key was not provided"))
        }
        guard try await Self.validKey(key, req: req) else {
            return Self.error(format, Open311Error(status: .forbidden, description: "Invalid api_key received -- can't proceed with create_request."))
        }
        guard let code = body.service_code, !code.isEmpty else {
            return Self.error(format, Open311Error(status: .badRequest, description: "service_code was not provided"))
        }
        var location: CaseService.Location?
        if body.lat != nil || body.long != nil {
            guard let lat = body.lat.flatMap(Double.init), let lon = body.long.flatMap(Double.init) else {
                return Self.error(format, Open311Error(status: .badRequest, description: "lat and long must both be decimal degrees"))
            }
            location = CaseService.Location(lat: lat, lon: lon)
        } else if (body.address_string ?? "").isEmpty && (body.address_id ?? "").isEmpty {
            return Self.error(format, Open311Error(status: .badRequest, description: "A location is required: lat and long, address_string or address_id"))
        }
        let name = [body.first_name, body.last_name].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        let contact = [
            name.isEmpty ? nil : Masking.name(name), body.phone.map(Masking.phone), body.email.map(Masking.email),
        ].compactMap { $0 }.joined(separator: " ")
        let input = CaseService.CreateRequest(
            type: location == nil ? CaseType.appeal.rawValue : CaseType.gridEvent.rawValue, category: code,
            description: (body.description?.isEmpty == false ? body.description : nil) ?? "(no description)",
            location: location, address: body.address_string ?? body.address_id, priority: nil, channel: nil, subtype: nil,
            title: nil, department: nil, coHandlers: nil, timeLimitDays: nil,
            contact: contact.isEmpty ? nil : contact, mediaUrl: (body.media_url?.isEmpty ?? true) ? nil : body.media_url)
        let record: CaseRecord
        do {
            record = try await CaseService(app: req.application, db: req.db).create(input, principal: nil, forcedChannel: .open311)
        } catch let problem as Problem {
            let description = problem.errors.isEmpty
                ? (problem.detail ?? problem.title)
                : problem.errors.map { "\(Self.open311Field($0.field)) \($0.message)" }.joined(separator: "; ")
            let status: HTTPResponseStatus = problem.status == .unprocessableEntity ? .badRequest : problem.status
            return Self.error(format, Open311Error(status: status, description: description))
        }
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let notice = record.duplicateOf != nil
            ? "Linked to an open report nearby; it will be closed with it."
            : "Handled by \(directory.departments[record.departmentID]?.name ?? "the district"); expected by \(Self.iso(record.resolutionDueAt))."
        let item: [String: Any] = ["service_request_id": record.number, "service_notice": notice, "account_id": NSNull()]
        return try await Self.respond(
            format, status: .created, json: [item],
            xml: Self.xml(root: "service_requests", item: "request", [item]))
    }

    static func open311Field(_ field: String) -> String {
        switch field {
        case "category": "service_code"
        case "location.lat": "lat"
        case "location.lon": "long"
        case "mediaUrl": "media_url"
        default: field
        }
    }

    /// GET /open311/v2/requests.json — `service_request_id` (comma-separated), `service_code`, `start_date`,
    /// `end_date`, `status` (open, closed). Default: the last 90 days, at most 1000, newest first.
    func requests(_ req: Request, _ format: Format) async throws -> Response {
        let query = CaseRecord.query(on: req.db)
        if let ids = req.query[String.self, at: "service_request_id"] {
            let list = ids.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            query.filter(\.$number ~~ list)
        } else {
            var start = req.now.addingTimeInterval(-90 * 86400)
            var end: Date?
            if let raw = req.query[String.self, at: "start_date"] {
                guard let date = Self.parseDate(raw) else {
                    return Self.error(format, Open311Error(status: .badRequest, description: "start_date must be a W3C date-time"))
                }
                start = date
            }
            if let raw = req.query[String.self, at: "end_date"] {
                guard let date = Self.parseDate(raw) else {
                    return Self.error(format, Open311Error(status: .badRequest, description: "end_date must be a W3C date-time"))
                }
                end = date
            }
            query.filter(\.$createdAt >= start)
            if let end { query.filter(\.$createdAt <= end) }
        }
        if let codes = req.query[String.self, at: "service_code"] {
            query.filter(\.$category ~~ codes.split(separator: ",").map(String.init))
        }
        if let raw = req.query[String.self, at: "status"] {
            let wanted = Set(raw.split(separator: ",").map(String.init))
            guard wanted.isSubset(of: ["open", "closed"]) else {
                return Self.error(format, Open311Error(status: .badRequest, description: "status must be open or closed"))
            }
            if wanted == ["open"] { query.filter(\.$closedAt == nil) }
            if wanted == ["closed"] { query.filter(\.$closedAt != nil) }
        }
        let rows = try await query.sort(\.$createdAt, .descending).limit(1000).all()
        let items = try await views(rows, req: req)
        return try await Self.respond(format, status: .ok, json: items, xml: Self.xml(root: "service_requests", item: "request", items))
    }

    /// GET /open311/v2/requests/{service_request_id}.json (or .xml) — a list with the one request.
    func request(_ req: Request) async throws -> Response {
        let (id, format) = try Self.split(req.parameters.get("file") ?? "")
        let query = CaseRecord.query(on: req.db)
        if let uuid = UUID(uuidString: id) { query.filter(\.$id == uuid) } else { query.filter(\.$number == id) }
        guard let record = try await query.first() else {
            return Self.error(format, Open311Error(status: .notFound, description: "service_request_id \(id) not found"))
        }
        let items = try await views([record], req: req)
        return try await Self.respond(format, status: .ok, json: items, xml: Self.xml(root: "service_requests", item: "request", items))
    }

    func views(_ rows: [CaseRecord], req: Request) async throws -> [[String: Any]] {
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let ids = rows.compactMap(\.id)
        var notes: [UUID: String] = [:]
        if !ids.isEmpty {
            let events = try await CaseEvent.query(on: req.db).filter(\.$caseID ~~ ids).filter(\.$comment != nil).sort(\.$seq).all()
            for event in events where event.action != "attach" { notes[event.caseID] = event.comment }
        }
        var media: [UUID: String] = [:]
        if !ids.isEmpty {
            for link in try await CaseAttachment.query(on: req.db).filter(\.$caseID ~~ ids).filter(\.$url != nil).sort(\.$createdAt).all()
            where media[link.caseID] == nil {
                media[link.caseID] = link.url
            }
        }
        return rows.map { record in
            var item: [String: Any] = [
                "service_request_id": record.number,
                "status": record.closedAt == nil ? "open" : "closed",
                "service_name": directory.categories[record.category]?.name ?? record.category,
                "service_code": record.category,
                "description": record.description,
                "agency_responsible": directory.departments[record.departmentID]?.name ?? "",
                "service_notice": "",
                "requested_datetime": Self.iso(record.createdAt),
                "updated_datetime": Self.iso(record.updatedAt),
                "expected_datetime": Self.iso(record.resolutionDueAt),
                "address": record.address ?? "",
                "address_id": "",
                "zipcode": "",
                "media_url": record.id.flatMap { media[$0] } ?? "",
            ]
            item["status_notes"] = record.id.flatMap { notes[$0] } ?? (record.duplicateOf != nil ? "duplicate report" : "")
            if let lat = record.lat, let lon = record.lon {
                item["lat"] = lat
                item["long"] = lon
            }
            return item
        }
    }

    // MARK: helpers

    static func validKey(_ key: String, req: Request) async throws -> Bool {
        if req.application.casesConfig.open311Keys.contains(key) { return true }
        let hash = Hex.sha256(key)
        return try await req.db.query(APIKeyRow.self).filter(\.$keyHash == hash).first() != nil
    }

    static func split(_ file: String) throws -> (String, Format) {
        for format in [Format.json, .xml] where file.hasSuffix("." + format.rawValue) {
            return (String(file.dropLast(format.rawValue.count + 1)), format)
        }
        throw Problem.notFound("Resource")
    }

    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        return formatter.string(from: date)
    }

    static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func xmlValue(_ value: Any) -> String {
        switch value {
        case is NSNull: ""
        case let bool as Bool: bool ? "true" : "false"
        case let number as Double: String(number)
        case let number as Int: String(number)
        default: escape(String(describing: value))
        }
    }

    static func xml(root: String, item: String, _ list: [[String: Any]]) -> String {
        var text = "<\(root)>"
        for element in list {
            text += "<\(item)>"
            for key in element.keys.sorted() { text += "<\(key)>\(xmlValue(element[key] ?? NSNull()))</\(key)>" }
            text += "</\(item)>"
        }
        return text + "</\(root)>"
    }

    static func respond(_ format: Format, status: HTTPResponseStatus, json: Any, xml: String) async throws -> Response {
        switch format {
        case .json:
            let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            let response = Response(status: status, body: .init(data: data))
            response.headers.replaceOrAdd(name: .contentType, value: "application/json; charset=utf-8")
            return response
        case .xml:
            let response = Response(status: status, body: .init(string: #"<?xml version="1.0" encoding="utf-8"?>"# + xml))
            response.headers.replaceOrAdd(name: .contentType, value: "text/xml; charset=utf-8")
            return response
        }
    }

    static func error(_ format: Format, _ error: Open311Error) -> Response {
        let item: [String: Any] = ["code": Int(error.status.code), "description": error.description]
        let response = (try? JSONSerialization.data(withJSONObject: [item], options: [.sortedKeys])).map {
            format == .json ? Response(status: error.status, body: .init(data: $0)) : Response(status: error.status)
        } ?? Response(status: error.status)
        if format == .xml {
            response.body = .init(string: #"<?xml version="1.0" encoding="utf-8"?><errors><error><code>\#(error.status.code)</code><description>\#(escape(error.description))</description></error></errors>"#)
            response.headers.replaceOrAdd(name: .contentType, value: "text/xml; charset=utf-8")
        } else {
            response.headers.replaceOrAdd(name: .contentType, value: "application/json; charset=utf-8")
        }
        return response
    }
}

/// An Open311 API key (stored as its SHA-256).
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class APIKeyRow: Model, @unchecked Sendable {
    static let schema = "cases_api_keys"

    @ID(key: .id) var id: UUID?
    @Field(key: "key_hash") var keyHash: String
    @Field(key: "name") var name: String
    @Field(key: "created_at") var createdAt: Date

    init() {}
}
