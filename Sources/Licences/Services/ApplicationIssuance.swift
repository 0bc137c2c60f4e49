import Fluent
import Foundation
import Identity
import SQLKit
import TongbanCore
import Vapor
import Workflow

/// Which licence an approved application of a service yields, and where its fields come from.
public final class LicenceBinding: Model, @unchecked Sendable {
    public static let schema = "licences_bindings"

    @ID(key: .id) public var id: UUID?
    @Field(key: "service_code") public var serviceCode: String
    @Field(key: "type_code") public var typeCode: String
    /// JSON object: licence field → `$formField` (a value from the application's form) or literal text.
    @Field(key: "fields") public var fieldsJSON: String
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}

    public var fields: [String: String] { (try? JSONText.decode([String: String].self, fieldsJSON)) ?? [:] }
}

struct CreateLicenceBindings: AsyncMigration {
    var name: String { "Licences.CreateLicenceBindings" }

    func prepare(on database: any Database) async throws {
        try await database.schema(LicenceBinding.schema)
            .id()
            .field("service_code", .string, .required)
            .field("type_code", .string, .required)
            .field("fields", .string, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "service_code")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(LicenceBinding.schema).delete()
    }
}

/// Issues the bound licence when an application is approved (办结即发证): the workflow listener enqueues a
/// persistent job in the approving transaction, and the job signs and stores the licence, once per application.
public enum ApplicationIssuance {
    public static let job = "licences.issue-for-application"

    struct Payload: Codable { var application: UUID }

    /// Registered as a workflow listener for applications.
    static func listen(_ change: WorkflowChange, tx: any Database, clock: TongbanClock) async throws {
        guard change.instance.status == .completed else { return }
        let application = change.instance.subjectID
        // One statement: is the application's service bound to a licence type?
        guard let sql = tx as? any SQLDatabase,
            try await sql.raw("""
                SELECT 1 AS "bound" FROM applications_applications a JOIN licences_bindings b ON b.service_code = a.service_code \
                WHERE a.id = \(bind: application) LIMIT 1
                """).first() != nil
        else { return }
        try await JobQueue(db: tx, clock: clock).enqueue(
            kind: job, payload: Payload(application: application), dedupeKey: "licence-for-application:\(application.uuidString)")
    }

    /// Fills the licence from the form (`$field`) and literals; the holder is the enterprise the application was
    /// made for, or the applicant.
    static func run(_ job: Job, app: Application) async throws {
        let payload = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: Payload.self)
        let db = app.db
        guard let sql = db as? any SQLDatabase,
            let row = try await sql.raw("""
                SELECT applicant_id, enterprise_id, form, service_code, status FROM applications_applications WHERE id = \(bind: payload.application)
                """).first(),
            try row.decode(column: "status", as: String.self) == "approved"
        else { return }
        // Once per application, even if the job runs again.
        if try await Licence.query(on: db).filter(\.$applicationID == payload.application).count() > 0 { return }
        let serviceCode = try row.decode(column: "service_code", as: String.self)
        guard let binding = try await LicenceBinding.query(on: db).filter(\.$serviceCode == serviceCode).first(),
            let type = try await LicenceType.query(on: db).filter(\.$code == binding.typeCode).first()
        else { return }
        let form = (try? JSONText.decode([String: JSONValue].self, try row.decode(column: "form", as: String.self))) ?? [:]
        var fields: [String: JSONValue] = [:]
        for (field, source) in binding.fields {
            if source.hasPrefix("$") {
                if let value = form[String(source.dropFirst())] { fields[field] = value }
            } else {
                fields[field] = .string(source)
            }
        }
        var request = LicenceService.IssueRequest()
        request.typeCode = type.code
        request.fields = fields
        request.applicationId = payload.application
        if let enterprise = try row.decode(column: "enterprise_id", as: UUID?.self),
            let found = try await Enterprise.find(enterprise, on: db)
        {
            request.holder = LicenceService.Holder(idNumber: nil, uscc: found.creditCode)
        } else if let user = try await User.find(try row.decode(column: "applicant_id", as: UUID.self), on: db), let id = user.idNumber {
            request.holder = LicenceService.Holder(idNumber: id, uscc: nil)
        } else {
            return
        }
        // Issued in the name of the staff member who gave the final approval.
        let approver = try await sql.raw("""
            SELECT e.actor_id FROM workflow_events e JOIN workflow_instances i ON i.id = e.instance_id \
            WHERE i.subject_id = \(bind: payload.application) AND e.action = 'approve' AND e.actor_id IS NOT NULL ORDER BY e.at DESC LIMIT 1
            """).first().flatMap { try? $0.decode(column: "actor_id", as: UUID.self) }
        let principal = Principal(
            userID: approver ?? UUID(), username: "system", kind: .staff,
            grants: [RoleGrant(departmentID: type.departmentID, role: .approver)])
        _ = try await LicenceService(app: app, db: db).issue(request, principal: principal)
    }

    /// Binds a service to a licence type (department admin of the type's department, or system admin).
    public static func bind(serviceCode: String, typeCode: String?, fields: [String: String]?, principal: Principal, db: any Database, now: Date) async throws -> LicenceBinding {
        var errors = FieldErrors()
        var type: LicenceType?
        if let typeCode { type = try await LicenceType.query(on: db).filter(\.$code == typeCode).first() }
        errors.check(type != nil, "typeCode", "does not name a licence type")
        let known = Set(type?.fields.map(\.name) ?? [])
        let unknown = (fields ?? [:]).keys.filter { !known.contains($0) }
        errors.check(unknown.isEmpty, "fields", "unknown licence fields: \(unknown.sorted().joined(separator: ", "))")
        errors.check(serviceCode.count >= 2 && serviceCode.count <= 64, "serviceCode", "must be 2–64 characters")
        try errors.throwIfAny()
        guard let type, principal.has(.departmentAdmin, in: type.departmentID) else { throw Problem.forbidden }
        let binding = try await LicenceBinding.query(on: db).filter(\.$serviceCode == serviceCode).first() ?? LicenceBinding()
        binding.serviceCode = serviceCode
        binding.typeCode = type.code
        binding.fieldsJSON = try JSONText.encode(fields ?? [:])
        binding.updatedAt = now
        try await binding.save(on: db)
        return binding
    }
}
