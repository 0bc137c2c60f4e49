import Crypto
import Fluent
import Foundation
import Identity
import SQLKit
import TongbanCore
import Vapor

/// The data resource catalogue and sharing between departments: applications, approval, scoped API keys,
/// calls and their rankings.
public struct SharingService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    var now: Date { app.clock.now() }

    static let notShareable = Problem(
        .unprocessableEntity, type: "/problems/not-shareable", title: "Resource not shareable",
        detail: "This resource is classified as not shareable (不予共享); it cannot be requested.")

    public func resource(code: String) async throws -> DataResource {
        guard let resource = try await DataResource.query(on: db).filter(\.$code == code).first() else {
            throw Problem.notFound("Data resource", type: "/problems/resource-not-found")
        }
        return resource
    }

    /// The department a staff principal acts for: `code` when given (the principal must belong to it), else the
    /// only or first department where the principal holds a working role.
    func actingDepartment(_ principal: Principal, code: String?, roles: Set<StaffRole>) async throws -> DepartmentInfo {
        guard principal.isStaff else { throw Problem.forbidden }
        let directory = DirectoryService(db: db)
        if let code, !code.isEmpty {
            guard let department = try await directory.department(code: code) else {
                throw Problem.validation([FieldError(field: "department", message: "does not name a department")])
            }
            guard roles.contains(where: { principal.has($0, in: department.id) }) else { throw Problem.forbidden }
            return department
        }
        let ids = principal.departments(with: roles).sorted { $0.uuidString < $1.uuidString }
        guard let first = ids.first, let department = try await directory.department(id: first) else {
            throw Problem(.forbidden, type: "/problems/forbidden", title: "Forbidden",
                          detail: "You hold no role in a department that can do this.")
        }
        return department
    }

    // MARK: Sharing requests

    public struct NewSharing: Content {
        public var resource: String?
        public var fields: [String]?
        public var fullFields: [String]?
        public var purpose: String?
        public var legalBasis: String?
        public var durationDays: Int?
        /// The consumer department's code (when the caller belongs to several).
        public var department: String?
    }

    static let workingRoles: Set<StaffRole> = [.clerk, .approver, .departmentAdmin]
    static let decidingRoles: Set<StaffRole> = [.approver, .departmentAdmin]

    public func apply(_ body: NewSharing, principal: Principal) async throws -> SharingRequest {
        let consumer = try await actingDepartment(principal, code: body.department, roles: Self.workingRoles)
        var errors = FieldErrors()
        let code = body.resource?.trimmingCharacters(in: .whitespaces) ?? ""
        errors.check(!code.isEmpty, "resource", "is required")
        // A not-shareable resource is refused as such, whatever else is wrong with the request.
        if !code.isEmpty, try await DataResource.query(on: db).filter(\.$code == code).filter(\.$sharingType == .notShareable).first() != nil {
            throw Self.notShareable
        }
        let purpose = body.purpose?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let basis = body.legalBasis?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        errors.check((4...500).contains(purpose.count), "purpose", "must be 4–500 characters")
        errors.check((2...500).contains(basis.count), "legalBasis", "must be 2–500 characters (the law or document that allows the use)")
        let days = body.durationDays ?? 0
        errors.check((1...1095).contains(days), "durationDays", "must be 1–1095 days")
        try errors.throwIfAny()
        let resource = try await resource(code: code)
        if resource.sharingType == .notShareable { throw Self.notShareable }
        let known = Set(resource.fields.map(\.name))
        let fields = body.fields ?? []
        errors.check(!fields.isEmpty, "fields", "name at least one field")
        let unknown = fields.filter { !known.contains($0) }
        errors.check(unknown.isEmpty, "fields", "unknown fields: \(unknown.joined(separator: ", "))")
        let full = body.fullFields ?? []
        errors.check(full.allSatisfy(fields.contains), "fullFields", "must be a subset of fields")
        try errors.throwIfAny()
        let request = SharingRequest()
        request.resourceID = try resource.requireID()
        request.consumerDepartmentID = consumer.id
        request.requestedBy = principal.userID
        request.fieldsJSON = try JSONText.encode(Array(Set(fields)).sorted())
        request.fullFieldsJSON = try JSONText.encode(Array(Set(full)).sorted())
        request.purpose = purpose
        request.legalBasis = basis
        request.durationDays = days
        request.createdAt = now
        if resource.sharingType == .unconditional {
            // 无条件共享: granted on application, recorded like any approval.
            request.status = .approved
            request.decidedAt = now
            request.validUntil = now.addingTimeInterval(Double(days) * 86400)
            request.reason = "unconditional"
        } else {
            request.status = .pending
        }
        try await request.create(on: db)
        if request.status == .approved {
            try await app.audit?.record(
                kind: AuditKind.sharingApproved, actor: principal.userID, subject: "sharing:\(try request.requireID())",
                details: ["resource": resource.code, "consumer": consumer.code, "fields": request.fields.joined(separator: ","), "mode": "unconditional"])
        }
        return request
    }

    public func request(_ id: UUID) async throws -> SharingRequest {
        guard let request = try await SharingRequest.find(id, on: db) else {
            throw Problem.notFound("Sharing request", type: "/problems/sharing-request-not-found")
        }
        return request
    }

    /// The provider department decides. Approving may narrow `fullFields`.
    public func decide(_ id: UUID, approve: Bool, reason: String?, fullFields: [String]?, principal: Principal) async throws -> SharingRequest {
        let request = try await request(id)
        guard let resource = try await DataResource.find(request.resourceID, on: db) else { throw Problem.notFound("Data resource") }
        guard Self.decidingRoles.contains(where: { principal.has($0, in: resource.providerDepartmentID) }) else { throw Problem.forbidden }
        let trimmed = reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if !approve, trimmed.count < 2 {
            throw Problem.validation([FieldError(field: "reason", message: "a refusal needs a reason")])
        }
        if let fullFields, !fullFields.allSatisfy(request.fields.contains) {
            throw Problem.validation([FieldError(field: "fullFields", message: "must be a subset of the requested fields")])
        }
        let when = now
        let updated = try await db.writeTransaction { tx -> Int in
            // Only a pending request changes: a second decision finds nothing to update.
            var query = SharingRequest.query(on: tx).filter(\.$id == id).filter(\.$status == .pending)
                .set(\.$status, to: approve ? .approved : .refused).set(\.$decidedBy, to: principal.userID)
                .set(\.$decidedAt, to: when).set(\.$reason, to: trimmed.isEmpty ? nil : trimmed)
            if approve {
                query = query.set(\.$validUntil, to: when.addingTimeInterval(Double(request.durationDays) * 86400))
                if let fullFields { query = query.set(\.$fullFieldsJSON, to: try JSONText.encode(Array(Set(fullFields)).sorted())) }
            }
            try await query.update()
            return try await SharingRequest.query(on: tx).filter(\.$id == id).filter(\.$decidedAt == when).count()
        }
        guard updated == 1 else { throw Problem.conflict("This sharing request has already been decided.") }
        let fresh = try await self.request(id)
        if approve {
            let consumer = try await DirectoryService(db: db).department(id: fresh.consumerDepartmentID)
            try await app.audit?.record(
                kind: AuditKind.sharingApproved, actor: principal.userID, subject: "sharing:\(id)",
                details: ["resource": resource.code, "consumer": consumer?.code ?? "", "fields": fresh.fields.joined(separator: ",")])
        }
        return fresh
    }

    /// A new API key for an approved request (the consumer department); replaces the previous key. Shown once.
    public func issueKey(_ id: UUID, principal: Principal) async throws -> (SharingRequest, String) {
        let request = try await request(id)
        guard Self.workingRoles.contains(where: { principal.has($0, in: request.consumerDepartmentID) }) else { throw Problem.forbidden }
        guard request.status == .approved, let until = request.validUntil, until > now else {
            throw Problem.conflict("Only an approved, unexpired sharing request has an API key.")
        }
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let key = "tbds_" + Base64URL.encode(bytes)
        request.keyHash = Self.hash(key)
        request.keyPrefix = String(key.prefix(10))
        try await request.save(on: db)
        return (request, key)
    }

    static func hash(_ key: String) -> String {
        Hex.sha256(key)
    }

    /// A call with an API key: rows of the resource limited to the approved fields, masked unless granted in full.
    public func call(resourceCode: String, apiKey: String?, keys: [String]?, limit: Int) async throws -> (DataResource, [[String: String]]) {
        guard let apiKey, apiKey.hasPrefix("tbds_"), apiKey.count < 100 else {
            throw Problem(.unauthorized, type: "/problems/api-key", title: "API key required",
                          detail: "Send the sharing credential in the X-Api-Key header.")
        }
        guard let request = try await SharingRequest.query(on: db).filter(\.$keyHash == Self.hash(apiKey)).first() else {
            throw Problem(.unauthorized, type: "/problems/api-key", title: "Unknown API key", detail: "This API key is not valid.")
        }
        let resource = try await resource(code: resourceCode)
        guard request.resourceID == resource.id else {
            throw Problem(.forbidden, type: "/problems/out-of-scope", title: "Out of scope",
                          detail: "This API key is not for the resource \(resourceCode).")
        }
        guard request.status == .approved, let until = request.validUntil, until > now else {
            throw Problem(.forbidden, type: "/problems/sharing-expired", title: "Sharing expired",
                          detail: "The approval behind this API key has expired.")
        }
        let fields = request.fields
        let rows = try await DataTables(db: db).rows(resource, keys: keys, fields: fields, limit: limit)
        let full = Set(request.fullFields)
        let out = rows.map { row -> [String: String] in
            var values = DataTables.present(row, resource: resource, fields: fields, full: full)
            // A person's row key is an ID number: masked unless the ID number itself is granted in full.
            values["_key"] = resource.subject == .person && !full.contains("id_number") ? Masking.idNumber(row.key) : row.key
            return values
        }
        let call = DataCall()
        call.resourceID = try resource.requireID()
        call.consumerDepartmentID = request.consumerDepartmentID
        call.sharingRequestID = try request.requireID()
        call.rows = out.count
        call.calledAt = now
        try await call.create(on: db)
        let consumer = try await DirectoryService(db: db).department(id: request.consumerDepartmentID)
        try await app.audit?.record(
            kind: AuditKind.dataFetched, actor: nil, subject: "sharing:\(try request.requireID())",
            details: ["resource": resource.code, "consumer": consumer?.code ?? "", "rows": String(out.count),
                      "fields": fields.joined(separator: ",")])
        return (resource, out)
    }

    public struct RankingRow: Content {
        public var code: String
        public var name: String
        public var calls: Int
        public var rows: Int
    }

    /// Call counts per resource or per consumer department, highest first (case 2's API call rankings).
    public func rankings(by: String, since: Date?) async throws -> [RankingRow] {
        let sql = db as! any SQLDatabase
        let column = by == "consumer" ? "consumer_department_id" : "resource_id"
        var query = SQLQueryString("SELECT \(unsafeRaw: column) AS k, COUNT(*) AS calls, CAST(COALESCE(SUM(\(unsafeRaw: "rows")), 0) AS BIGINT) AS total FROM ds_calls")
        if let since {
            query.appendLiteral(" WHERE called_at >= ")
            query.appendInterpolation(bind: since)
        }
        query.appendLiteral(" GROUP BY \(column) ORDER BY calls DESC LIMIT 100")
        let rows = try await sql.raw(query).all()
        let counts = try rows.map { row in
            (try row.decode(column: "k", as: UUID.self), try row.decode(column: "calls", as: Int.self), try row.decode(column: "total", as: Int.self))
        }
        // Names in one query, not one per row.
        var names: [UUID: (String, String)] = [:]
        if by == "consumer" {
            for (id, d) in try await DirectoryService(db: db).departments(ids: Set(counts.map(\.0))) { names[id] = (d.code, d.name) }
        } else {
            for r in try await DataResource.query(on: db).filter(\.$id ~~ counts.map(\.0)).all() { if let id = r.id { names[id] = (r.code, r.nameZh) } }
        }
        var out: [RankingRow] = []
        for (id, calls, total) in counts {
            out.append(RankingRow(code: names[id]?.0 ?? "", name: names[id]?.1 ?? "", calls: calls, rows: total))
        }
        return out
    }
}
