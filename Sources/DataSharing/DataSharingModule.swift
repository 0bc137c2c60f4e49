import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Data sharing (issue 6): the data resource catalogue, sharing between departments with scoped API keys,
/// personal consent with the four clarities and signed receipts, masking, and data reflow to city enclaves.
public struct DataSharingModule: TongbanModule {
    public let name = "datasharing"

    public init() {}

    public var migrations: [any Migration] { [CreateDataSharing()] }

    public func boot(_ app: Application) throws {
        try app.register(collection: DataSharingController())
        try app.register(collection: ConsentPages())
        app.jobs.register(ReflowOrders.jobKind) { job, app in
            struct Payload: Decodable { var order: String }
            let payload = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: Payload.self)
            guard let id = UUID(uuidString: payload.order) else { return }
            let orders = ReflowOrders(app: app, db: app.db)
            // A refused or cancelled order stops refreshing.
            guard let order = try await ReflowOrder.find(id, on: app.db), order.status == .approved else { return }
            _ = try await orders.run(id, principal: nil)
        }
        let docs = app.apiDocumentation
        let tag = "data sharing"
        docs.add(APIOperation(.GET, "/api/v1/data/resources", summary: "The data resource catalogue (q, provider, sharingType)", tag: tag,
                              response: Schema.array(Schema.object([:])), problems: [400]))
        docs.add(APIOperation(.GET, "/api/v1/data/resources/{code}", summary: "One data resource", tag: tag,
                              response: Schema.object([:]), problems: [404]))
        docs.add(APIOperation(.GET, "/api/v1/data/resources/{code}/records", summary: "Rows within an approved sharing (X-Api-Key)", tag: tag,
                              response: Schema.object(["resource": Schema.string, "count": Schema.integer, "records": Schema.array(Schema.object([:]))]),
                              problems: [400, 401, 403, 404], query: ["key", "limit"]))
        docs.add(APIOperation(.POST, "/api/v1/data/sharing-requests", summary: "Apply to use a resource (consumer department)", tag: tag,
                              requiresAuth: true, request: Schema.object(["resource": Schema.string, "fields": Schema.array(Schema.string),
                                                                          "purpose": Schema.string, "legalBasis": Schema.string,
                                                                          "durationDays": Schema.integer]),
                              response: Schema.object([:]), success: 201, problems: [401, 403, 404, 422]))
        for action in ["approve", "refuse"] {
            docs.add(APIOperation(.POST, "/api/v1/data/sharing-requests/{id}/\(action)", summary: "Provider decides (\(action))", tag: tag,
                                  requiresAuth: true, request: Schema.object(["reason": Schema.string]), response: Schema.object([:]),
                                  problems: [401, 403, 404, 409, 422]))
        }
        docs.add(APIOperation(.POST, "/api/v1/data/sharing-requests/{id}/key", summary: "A new API key for an approved request (shown once)", tag: tag,
                              requiresAuth: true, response: Schema.object(["apiKey": Schema.string]), success: 201, problems: [401, 403, 404, 409]))
        docs.add(APIOperation(.GET, "/api/v1/data/rankings", summary: "API call rankings per resource or consumer", tag: tag,
                              requiresAuth: true, response: Schema.array(Schema.object([:])), problems: [400, 401, 403], query: ["by", "days"]))
        docs.add(APIOperation(.POST, "/api/v1/data/reflow/orders", summary: "A city applies for provincial tables (数据回流)", tag: tag,
                              requiresAuth: true, request: Schema.object(["city": Schema.string, "tables": Schema.array(Schema.object([:])),
                                                                          "purpose": Schema.string, "refreshHours": Schema.integer]),
                              response: Schema.object([:]), success: 201, problems: [401, 403, 422]))
        for action in ["confirm", "approve", "refuse", "run"] {
            docs.add(APIOperation(.POST, "/api/v1/data/reflow/orders/{id}/\(action)", summary: "Reflow order: \(action)", tag: tag,
                                  requiresAuth: true, response: Schema.object([:]), problems: [401, 403, 404, 409, 422]))
        }
        docs.add(APIOperation(.POST, "/api/v1/consents/requests", summary: "Ask a person for data (four clarities); returns the QR payload", tag: "consents",
                              requiresAuth: true,
                              request: Schema.object(["scenario": Schema.string, "purpose": Schema.string, "items": Schema.array(Schema.object([:])),
                                                      "durationDays": Schema.integer, "subjectIdNumber": Schema.string]),
                              response: Schema.object(["id": Schema.uuid, "qrPayload": Schema.string]), success: 201, problems: [401, 403, 422]))
        docs.add(APIOperation(.POST, "/api/v1/consents/requests/{id}/approve", summary: "The person approves (re-enters the password)", tag: "consents",
                              requiresAuth: true, request: Schema.object(["code": Schema.string, "password": Schema.string]),
                              response: Schema.object(["consentId": Schema.uuid, "receipt": Schema.object([:])]), success: 201,
                              problems: [401, 403, 404, 409, 410]))
        docs.add(APIOperation(.GET, "/api/v1/consents/{id}/data", summary: "The requester fetches the consented items", tag: "consents",
                              requiresAuth: true, response: Schema.object([:]), problems: [401, 403, 404], query: ["items"]))
        docs.add(APIOperation(.DELETE, "/api/v1/consents/{id}", summary: "The person revokes a consent", tag: "consents",
                              requiresAuth: true, response: Schema.object([:]), problems: [401, 404, 409]))
        docs.add(APIOperation(.GET, "/api/v1/consents", summary: "The person's consents and every use", tag: "consents",
                              requiresAuth: true, response: Schema.array(Schema.object([:])), problems: [401]))
        for (path, summary) in [
            ("/api/v1/data/sharing-requests", "Sharing requests of the caller's departments (consumer or provider)"),
            ("/api/v1/data/sharing-requests/{id}", "One sharing request"),
            ("/api/v1/data/reflow/orders", "Reflow orders visible to the caller (applicant, source, authority)"),
            ("/api/v1/data/reflow/orders/{id}", "One reflow order with its history and runs"),
            ("/api/v1/consents/requests", "The caller's consent requests"),
            ("/api/v1/consents/requests/{id}", "The four clarities of a request (requester, or a person with ?c=)"),
            ("/api/v1/consents/{id}", "One consent with its receipt (the person, the requester)"),
        ] {
            docs.add(APIOperation(.GET, path, summary: summary, tag: path.contains("consents") ? "consents" : tag, requiresAuth: true,
                                  response: Schema.object([:]), problems: [401, 403, 404]))
        }
        var qr = APIOperation(.GET, "/api/v1/consents/requests/{id}/qr.svg", summary: "The request's scan-to-authorise QR (SVG)",
                              tag: "consents", requiresAuth: true, response: Schema.string, problems: [401, 404])
        qr.responseContentType = "image/svg+xml"
        docs.add(qr)
        docs.add(APIOperation(.POST, "/api/v1/consents/requests/{id}/decline", summary: "The person declines", tag: "consents",
                              requiresAuth: true, request: Schema.object(["code": Schema.string]), response: Schema.object([:]),
                              problems: [401, 404, 409]))
        docs.add(APIOperation(.GET, "/api/v1/consents/keys", summary: "Public keys that sign consent receipts (JWK)", tag: "consents",
                              response: Schema.object(["keys": Schema.array(Schema.object([:]))]), problems: []))
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {
        try await DataSharingDemo(app: app).load(progress: options.progress)
    }
}

/// Demo: 41 resources (`Resources/Demo/data-resources.json`), their tables, rows for the demo persons and
/// enterprise, 2,200 rows of a Zhejiang provincial table over 11 cities, and three staff accounts for reflow.
struct DataSharingDemo {
    let app: Application

    struct Seed: Decodable {
        struct Department: Decodable { var code, name, nameEn, region: String }
        struct Resource: Decodable {
            var code, nameZh, nameEn, provider: String
            var subject: ResourceSubject
            var sharingType: SharingType
            var openType: OpenType
            var updateFrequency: String
            var fields: [ResourceField]
            var reflow: Bool
        }

        var authority: String
        var departments: [Department]
        var resources: [Resource]
    }

    static let password = "Tongban-demo-2026"
    static let zhejiangCities = ["330100", "330200", "330300", "330400", "330500", "330600", "330700", "330800", "330900", "331000", "331100"]

    func load(progress: @Sendable (String) -> Void) async throws {
        let seed: Seed = try DemoResources.load("data-resources.json")
        let db = app.db
        let directory = DirectoryService(db: db)
        for d in seed.departments where try await directory.department(code: d.code) == nil {
            guard let region = try await directory.region(code: d.region) else { continue }
            _ = try await directory.createDepartment(code: d.code, name: d.name, nameEn: d.nameEn, regionID: region.id)
        }
        let authority = try await directory.department(code: seed.authority)
        var created = 0
        let tables = DataTables(db: db)
        let people = try await User.query(on: db).filter(\.$kind == .person).limit(50).all()
        let enterprises = try await Enterprise.query(on: db).limit(50).all()
        for r in seed.resources {
            if try await DataResource.query(on: db).filter(\.$code == r.code).first() != nil { continue }
            guard let provider = try await directory.department(code: r.provider) else { continue }
            let resource = DataResource()
            resource.code = r.code
            resource.nameZh = r.nameZh
            resource.nameEn = r.nameEn
            resource.providerDepartmentID = provider.id
            resource.subject = r.subject
            resource.fieldsJSON = try JSONText.encode(r.fields)
            resource.updateFrequency = r.updateFrequency
            resource.sharingType = r.sharingType
            resource.openType = r.openType
            resource.reflow = r.reflow
            resource.authorityDepartmentID = r.reflow ? authority?.id : nil
            resource.createdAt = app.clock.now()
            try await resource.create(on: db)
            try await tables.create(resource)
            try await rows(for: resource, tables: tables, people: people, enterprises: enterprises)
            created += 1
        }
        progress("data resources: \(created) added (\(seed.resources.count) in the catalogue)")
        let accounts = AccountService(db: db, hashing: app.passwordHashing, clock: app.clock)
        for (username, name, department, roles) in [
            ("demo-data-city", "周回流", "330100-SJZY", [StaffRole.clerk, .approver]),
            ("demo-data-source", "吴源头", "330000-SCJG", [StaffRole.approver]),
            ("demo-data-authority", "郑数管", "330000-DSJ", [StaffRole.approver]),
        ] where try await User.query(on: db).filter(\.$username == username).first() == nil {
            guard let dept = try await directory.department(code: department) else { continue }
            _ = try await accounts.createStaff(
                username: username, password: Self.password, name: name, grants: roles.map { RoleGrant(departmentID: dept.id, role: $0) })
        }
        progress("data sharing accounts: demo-data-city, demo-data-source, demo-data-authority")
    }

    /// Rows for the demo persons and enterprise, and the provincial reflow tables.
    func rows(for resource: DataResource, tables: DataTables, people: [User], enterprises: [Enterprise]) async throws {
        let now = Int64(app.clock.now().timeIntervalSince1970 * 1000)
        var rows: [DataRow] = []
        switch resource.subject {
        case .person where !resource.reflow:
            for person in people {
                guard let id = person.idNumber else { continue }
                rows.append(DataRow(key: id, region: String(id.prefix(6)), updatedAt: now,
                                    values: Self.values(resource.fields, name: person.name, key: id, phone: person.phone, seed: id)))
            }
        case .enterprise where !resource.reflow:
            for e in enterprises {
                rows.append(DataRow(key: e.creditCode, region: "370102", updatedAt: now,
                                    values: Self.values(resource.fields, name: e.name, key: e.creditCode, phone: nil, seed: e.creditCode)))
            }
        case .none:
            for (i, region) in ["430102", "370102", "330106"].enumerated() {
                rows.append(DataRow(key: "\(region)-2025", region: region, updatedAt: now,
                                    values: ["region": region, "year": "2025", "population": String(400_000 + i * 123_457)]))
            }
        default:
            // A provincial table: 200 rows per Zhejiang city.
            for (c, city) in Self.zhejiangCities.enumerated() {
                for i in 0..<200 {
                    let region = String(city.prefix(4)) + String(format: "%02d", 2 + i % 8)
                    let key = resource.subject == .person
                        ? Self.idNumber(region: region, serial: i + c * 1000) : "9133\(city.dropFirst(2).prefix(2))00MA\(String(format: "%06d", c * 1000 + i))X"
                    rows.append(DataRow(key: key, region: region, updatedAt: now - Int64(1000 * (200 - i)),
                                        values: Self.values(resource.fields, name: "浙江样例\(c)-\(i)", key: key, phone: nil, seed: key)))
                }
            }
        }
        try await tables.upsert(resource, rows: rows)
    }

    static func idNumber(region: String, serial: Int) -> String {
        let body = region + "1990" + String(format: "%02d%02d", 1 + serial % 12, 1 + serial % 28) + String(format: "%03d", serial % 1000)
        return body + String(ResidentIDNumber.checkCharacter(for: body))
    }

    /// Plausible values for each field, deterministic per row.
    static func values(_ fields: [ResourceField], name: String, key: String, phone: String?, seed: String) -> [String: String] {
        var out: [String: String] = [:]
        let h = abs(seed.unicodeScalars.reduce(7) { ($0 &* 31 &+ Int($1.value)) % 1_000_003 })
        for field in fields {
            switch (field.name, field.type) {
            case ("name", _), ("legal_rep", _), ("mother_name", _): out[field.name] = field.name == "name" ? name : "王" + "秀英"
            case ("id_number", _), ("insurance_number", _): out[field.name] = key
            case ("uscc", _): out[field.name] = key
            case ("phone", _): out[field.name] = phone ?? "139\(String(format: "%08d", h % 100_000_000))"
            case ("address", _): out[field.name] = "济南市历下区泉城路\(h % 300 + 1)号"
            case ("household_region", _): out[field.name] = String(key.prefix(6))
            case ("months_paid", _): out[field.name] = String(12 + h % 48)
            case ("degree", _): out[field.name] = ["本科", "硕士研究生", "博士研究生"][h % 3]
            case ("school", _): out[field.name] = ["山东大学", "浙江大学", "中山大学"][h % 3]
            case ("major", _): out[field.name] = ["计算机科学与技术", "公共管理", "临床医学"][h % 3]
            case ("industry", _): out[field.name] = ["C1391", "I6510", "F5124"][h % 3]
            case ("status", _): out[field.name] = "存续"
            case (_, .integer): out[field.name] = String(2000 + h % 25)
            case (_, .decimal): out[field.name] = String(format: "%.2f", Double(h % 1_000_000) / 10)
            case (_, .date): out[field.name] = String(format: "20%02d-%02d-%02d", 10 + h % 15, 1 + h % 12, 1 + h % 28)
            default: out[field.name] = "\(field.nameZh)-\(h % 10_000)"
            }
        }
        return out
    }
}
