import Catalogue
import Fluent
import Foundation
import Identity
import SQLKit
import TongbanCore
import Vapor
import Workflow

/// One line of an application's timeline.
public struct TimelineEntry: Codable, Sendable {
    public var at: Date
    public var action: String
    public var node: String?
    public var comment: String?
}

/// Applications: drafts, submission (which starts the service's process), withdrawal, answering a
/// correction, and the status that follows the workflow.
public struct ApplicationService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    static let subjectType = "application"
    static let acceptanceNode = "accept"

    /// Creates an application (a draft, or submitted when `submit`). 422 for an unknown or unpublished
    /// service or invalid form data (every field at once); 403 for staff accounts.
    public func create(serviceID: UUID?, form: [String: JSONValue], submit: Bool, principal: Principal) async throws
        -> ApplicationRecord
    {
        guard principal.kind == .person else { throw Problem.forbidden }
        guard let serviceID, let service = try? await CatalogueService(db: db, clock: app.clock).service(serviceID, viewer: nil)
        else {
            throw Problem.validation([FieldError(field: "serviceId", message: "does not name a published service")])
        }
        var errors = FieldErrors()
        if !service.forPersons && principal.actingFor == nil {
            errors.add("serviceId", "is a service for enterprises: act for one with the X-Acting-For header")
        }
        if submit {
            for error in service.form.validate(form, today: app.clock.now()) { errors.add("form.\(error.field)", error.message) }
            for error in try await fileErrors(service, form, applicationID: nil) { errors.add(error.field, error.message) }
        } else if form.count > 200 {
            errors.add("form", "has too many fields")
        }
        try errors.throwIfAny()
        let idNumber = try await Self.idNumber(of: principal.userID, db: db)
        let now = app.clock.now()
        let record = ApplicationRecord()
        record.serviceID = serviceID
        record.serviceCode = service.code
        record.applicantID = principal.userID
        record.enterpriseID = principal.actingFor
        record.idTail = String((idNumber ?? "").suffix(6))
        record.status = .draft
        record.form = try Self.encode(form)
        record.createdAt = now
        record.updatedAt = now
        return try await db.writeTransaction { tx in
            // Submitted at once: the row goes in with its submission time and process id (one INSERT, no UPDATE).
            var key: String?
            if submit {
                key = try await processKey(for: service, tx: tx)
                record.submittedAt = now
                record.instanceID = UUID()
            }
            try await insertWithNumber(record, tx: tx, now: now)
            if let key {
                _ = try await app.workflowEngine(on: tx).start(
                    key: key, subjectType: Self.subjectType, subjectID: try record.requireID(), variables: form,
                    actor: principal.userID, instanceID: record.instanceID)
            }
            // The workflow observer moved the status on: read back what the row holds now, without Fluent.
            try await Self.refresh(record, tx: tx)
            return record
        }
    }

    /// Submits a draft.
    public func submit(_ id: UUID, form: [String: JSONValue]?, principal: Principal) async throws -> ApplicationRecord {
        let record = try await own(id, principal)
        guard record.status == .draft else {
            throw Problem.conflict("Only a draft can be submitted.", type: "/problems/application-not-draft")
        }
        guard let service = try? await CatalogueService(db: db, clock: app.clock).service(record.serviceID, viewer: nil) else {
            throw Problem.conflict("The service is no longer published.", type: "/problems/service-unpublished")
        }
        let data = try form ?? Self.decode([String: JSONValue].self, record.form)
        var errors = service.form.validate(data, today: app.clock.now()).map { FieldError(field: "form.\($0.field)", message: $0.message) }
        errors += try await fileErrors(service, data, applicationID: id)
        if !errors.isEmpty { throw Problem.validation(errors) }
        return try await db.writeTransaction { tx in
            record.form = try Self.encode(data)
            try await record.save(on: tx)
            try await startProcess(record, service: service, form: data, actor: principal.userID, tx: tx)
            return try await ApplicationRecord.find(record.id, on: tx) ?? record
        }
    }

    /// Stores the form of a draft (or of an application waiting for a correction) without submitting it.
    /// Unknown fields are refused; missing or invalid values wait for submission.
    public func saveDraft(_ id: UUID, form: [String: JSONValue], principal: Principal) async throws -> ApplicationRecord {
        let record = try await own(id, principal)
        guard [.draft, .correctionRequired].contains(record.status) else {
            throw Problem.conflict("Only a draft or a correction can be edited.", type: "/problems/application-not-editable")
        }
        if let service = try await ServiceItem.find(record.serviceID, on: db) {
            let known = Set(service.form.fields.map(\.name))
            let unknown = form.keys.filter { !known.contains($0) }.sorted()
            if !unknown.isEmpty {
                throw Problem.validation(unknown.map { FieldError(field: "form.\($0)", message: "is not a field of this form") })
            }
        }
        record.form = try Self.encode(form)
        record.updatedAt = app.clock.now()
        try await record.save(on: db)
        return record
    }

    /// File fields must name an attachment of this application.
    func fileErrors(_ service: ServiceItem, _ data: [String: JSONValue], applicationID: UUID?) async throws -> [FieldError] {
        let fileFields = service.form.fields.filter { $0.type == .file }
        guard !fileFields.isEmpty else { return [] }
        var owned = Set<String>()
        if let applicationID {
            owned = Set(try await Attachment.query(on: db).filter(\.$applicationID == applicationID).all()
                .compactMap { $0.id?.uuidString.lowercased() })
        }
        return fileFields.compactMap { field in
            guard case .string(let value)? = data[field.name], !value.isEmpty else { return nil }
            return owned.contains(value.lowercased())
                ? nil : FieldError(field: "form.\(field.name)", message: "must name a file attached to this application")
        }
    }

    /// Answers a correction: merges the corrected fields and resumes the process.
    public func resubmit(_ id: UUID, form: [String: JSONValue], principal: Principal) async throws -> ApplicationRecord {
        let record = try await own(id, principal)
        guard record.status == .correctionRequired, let instanceID = record.instanceID else {
            throw Problem.conflict("The application is not waiting for a correction.", type: "/problems/no-correction-pending")
        }
        var data = try Self.decode([String: JSONValue].self, record.form)
        data.merge(form) { $1 }
        if let service = try? await CatalogueService(db: db, clock: app.clock).service(record.serviceID, viewer: nil) {
            var errors = service.form.validate(data, today: app.clock.now()).map { FieldError(field: "form.\($0.field)", message: $0.message) }
            errors += try await fileErrors(service, data, applicationID: id)
            if !errors.isEmpty { throw Problem.validation(errors) }
        }
        let merged = data
        return try await db.writeTransaction { tx in
            record.form = try Self.encode(merged)
            try await record.save(on: tx)
            _ = try await app.workflowEngine(on: tx).resume(instanceID: instanceID, variables: merged, actor: principal.userID)
            return try await ApplicationRecord.find(record.id, on: tx) ?? record
        }
    }

    /// Withdraws an application before a decision.
    public func withdraw(_ id: UUID, reason: String?, principal: Principal) async throws -> ApplicationRecord {
        let record = try await own(id, principal)
        switch record.status {
        case .draft:
            record.status = .withdrawn
            record.updatedAt = app.clock.now()
            try await record.save(on: db)
            return record
        case .submitted, .accepted, .inReview, .correctionRequired:
            guard let instanceID = record.instanceID else { throw Problem(.internalServerError) }
            try await app.workflowEngine().withdraw(instanceID: instanceID, actor: principal.userID, reason: reason)
            return try await ApplicationRecord.find(id, on: db) ?? record
        default:
            throw Problem.conflict("A decided application cannot be withdrawn.", type: "/problems/application-decided")
        }
    }

    /// Urges an overdue application: records an `urge` event on every open task past its time limit.
    /// 409 when the application is not in progress or nothing is overdue yet.
    public func urge(_ id: UUID, principal: Principal) async throws -> Int {
        let record = try await own(id, principal)
        guard [.submitted, .accepted, .inReview].contains(record.status), let instanceID = record.instanceID else {
            throw Problem.conflict("Only an application in progress can be urged.", type: "/problems/application-not-in-progress")
        }
        let now = app.clock.now()
        let overdue = try await WorkflowTask.query(on: db).filter(\.$instanceID == instanceID)
            .filter(\.$status ~~ [.open, .claimed]).all().filter { ($0.dueAt ?? .distantFuture) < now }
        guard !overdue.isEmpty else {
            throw Problem.conflict(
                "The application is still within its time limit; it can be urged once a limit has passed.",
                type: "/problems/not-overdue")
        }
        try await db.writeTransaction { tx in
            let engine = app.workflowEngine(on: tx)
            for task in overdue {
                try await engine.recordTaskEvent(
                    task, action: "urge", actor: principal.userID, comment: "申请人催办 / urged by the applicant")
            }
        }
        return overdue.count
    }

    /// The application if `principal` may see it: the applicant, members of its enterprise, staff of a
    /// department with a task on it, or a system administrator; 404 otherwise.
    public func visible(_ id: UUID, _ principal: Principal) async throws -> ApplicationRecord {
        guard let record = try await ApplicationRecord.find(id, on: db) else { throw Self.notFound }
        if record.applicantID == principal.userID || principal.isSystemAdmin { return record }
        if let enterprise = record.enterpriseID, principal.actingFor == enterprise { return record }
        if principal.isStaff, let instanceID = record.instanceID {
            let departments = Set(principal.grants.compactMap(\.departmentID))
            let tasks = try await WorkflowTask.query(on: db).filter(\.$instanceID == instanceID).all()
            if tasks.contains(where: { task in
                task.assigneeID == principal.userID || task.decidedBy == principal.userID
                    || task.departmentID.map(departments.contains) == true
            }) {
                return record
            }
        }
        throw Self.notFound
    }

    func own(_ id: UUID, _ principal: Principal) async throws -> ApplicationRecord {
        guard let record = try await ApplicationRecord.find(id, on: db),
            record.applicantID == principal.userID
                || (record.enterpriseID != nil && record.enterpriseID == principal.actingFor)
        else { throw Self.notFound }
        return record
    }

    /// Created and submitted, then every workflow event.
    public func timeline(_ record: ApplicationRecord) async throws -> [TimelineEntry] {
        var entries = [TimelineEntry(at: record.createdAt, action: "created", node: nil, comment: nil)]
        if let submitted = record.submittedAt { entries.append(TimelineEntry(at: submitted, action: "submitted", node: nil, comment: nil)) }
        if let instanceID = record.instanceID {
            for event in try await app.workflowEngine(on: db).timeline(instanceID) where event.action != "start" {
                entries.append(TimelineEntry(at: event.at, action: event.action, node: event.nodeID, comment: event.comment))
            }
        }
        return entries
    }

    // MARK: Internals

    /// Inserts with a fresh random number, retrying on the rare collision.
    func insertWithNumber(_ record: ApplicationRecord, tx: any Database, now: Date) async throws {
        try await Self.insertNumbered(
            tx: tx, now: now, assign: { record.number = $0 }, create: { try await Self.insert(record, tx: tx) },
            reset: { record.id = nil; record.$id.exists = false },
            usedElsewhere: { number in
                guard let sql = tx as? any SQLDatabase else {
                    return try await BundleApplication.query(on: tx).filter(\.$number == number).count() > 0
                }
                return try await sql.raw("""
                    SELECT 1 AS "n" FROM "applications_bundle_applications" WHERE "number" = \(bind: number) LIMIT 1
                    """).first() != nil
            })
    }

    /// Inserts an application row in plain SQL (every submission does; Fluent's create reflects over the
    /// model). Values are bound with the encoders Fluent uses, so Fluent reads the row back unchanged.
    static func insert(_ record: ApplicationRecord, tx: any Database) async throws {
        guard let sql = tx as? any SQLDatabase else { return try await record.create(on: tx) }
        let id = record.id ?? UUID()
        try await sql.raw("""
            INSERT INTO "applications_applications" ("id", "number", "service_id", "service_code", "applicant_id", \
            "enterprise_id", "id_tail", "status", "form", "instance_id", "submitted_at", "decided_at", "created_at", \
            "updated_at", "bundle_application_id") VALUES (\(bind: id), \(bind: record.number), \(bind: record.serviceID), \
            \(bind: record.serviceCode), \(bind: record.applicantID), \(bind: record.enterpriseID), \(bind: record.idTail), \
            \(bind: record.status.rawValue), \(bind: record.form), \(bind: record.instanceID), \(bind: record.submittedAt), \
            \(bind: record.decidedAt), \(bind: record.createdAt), \(bind: record.updatedAt), \(bind: record.bundleApplicationID))
            """).run()
        record.id = id
        record.$id.exists = true
    }

    /// Reads back the status and times of a row just written (the workflow observer moves the status on; the
    /// times come back as the database stores them).
    static func refresh(_ record: ApplicationRecord, tx: any Database) async throws {
        guard let sql = tx as? any SQLDatabase else { return }
        guard let row = try await sql.raw("""
            SELECT "status", "submitted_at", "decided_at", "created_at", "updated_at" FROM "applications_applications" \
            WHERE "id" = \(bind: try record.requireID())
            """).first()
        else { return }
        let raw = try row.decode(column: "status", as: String.self)
        guard let status = ApplicationStatus(rawValue: raw) else {
            throw Problem(.internalServerError, detail: "unexpected application status '\(raw)'")
        }
        record.status = status
        record.submittedAt = try row.decode(column: "submitted_at", as: Date?.self)
        record.decidedAt = try row.decode(column: "decided_at", as: Date?.self)
        record.createdAt = try row.decode(column: "created_at", as: Date.self)
        record.updatedAt = try row.decode(column: "updated_at", as: Date.self)
    }

    /// The caller's ID number (for the last six characters the public progress query asks for).
    static func idNumber(of userID: UUID, db: any Database) async throws -> String? {
        guard let sql = db as? any SQLDatabase else { return try await User.find(userID, on: db)?.idNumber }
        return try await sql.raw("SELECT \"id_number\" FROM \"identity_users\" WHERE \"id\" = \(bind: userID)").first()?
            .decode(column: "id_number", as: String?.self)
    }

    /// A fresh 14-digit number (YYYYMMDD + 6 random digits) not used by any application or bundle
    /// application. Each try runs in a savepoint so that a unique violation does not abort the surrounding
    /// PostgreSQL transaction.
    static func insertNumbered(
        tx: any Database, now: Date, assign: (String) -> Void, create: () async throws -> Void, reset: () -> Void,
        usedElsewhere: (String) async throws -> Bool
    ) async throws {
        let date = LocalDate(now)
        let prefix = String(format: "%04d%02d%02d", date.year, date.month, date.day)
        // SQLite keeps the transaction usable after a failed INSERT; PostgreSQL needs the savepoint.
        let sql = (tx as? any SQLDatabase).flatMap { $0.dialect.name == "postgresql" ? $0 : nil }
        for attempt in 0..<8 {
            let number = prefix + String(format: "%06d", Int.random(in: 0...999_999))
            // Each table's unique index catches a repeat within it; the other kind's table is checked here
            // so that an application and a bundle application never share a number.
            if try await usedElsewhere(number) { continue }
            assign(number)
            try await sql?.raw("SAVEPOINT application_number").run()
            do {
                try await create()
                try await sql?.raw("RELEASE SAVEPOINT application_number").run()
                return
            } catch let error as any DatabaseError where error.isConstraintFailure && attempt < 7 {
                try await sql?.raw("ROLLBACK TO SAVEPOINT application_number").run()
                reset()
            }
        }
        throw Problem(.serviceUnavailable, title: "No application number available", detail: "Try again.")
    }

    func startProcess(
        _ record: ApplicationRecord, service: ServiceItem, form: [String: JSONValue], actor: UUID, tx: any Database
    ) async throws {
        let key = try await processKey(for: service, tx: tx)
        let now = app.clock.now()
        // The status moves from draft to submitted through the workflow observer (which also notifies).
        record.submittedAt = now
        record.updatedAt = now
        record.instanceID = UUID()
        try await record.save(on: tx)
        _ = try await app.workflowEngine(on: tx).start(
            key: key, subjectType: Self.subjectType, subjectID: try record.requireID(), variables: form, actor: actor,
            instanceID: record.instanceID)
    }

    /// The bound process, or the department's default: acceptance by a clerk, then approval by an approver
    /// within the promised time limit.
    func processKey(for service: ServiceItem, tx: any Database) async throws -> String {
        if let sql = tx as? any SQLDatabase {
            if let row = try await sql.raw("""
                SELECT "process_key" FROM "applications_process_bindings" WHERE "service_id" = \(bind: try service.requireID())
                """).first()
            {
                return try row.decode(column: "process_key", as: String.self)
            }
        } else if let binding = try await ProcessBinding.query(on: tx).filter(\.$serviceID == service.requireID()).first() {
            return binding.processKey
        }
        guard let department = try await DirectoryService(db: tx).department(id: service.departmentID) else {
            throw Problem(.internalServerError, detail: "service without department")
        }
        let key = "default-" + department.code
        let definition = ProcessDefinition(key: key, name: "受理审批", nodes: [
            .init(id: "start", type: .start, next: Self.acceptanceNode),
            .init(id: Self.acceptanceNode, type: .task, name: "受理", next: "review",
                  assignees: [.init(department: department.code, role: .clerk)], mode: .any, days: 2),
            .init(id: "review", type: .task, name: "审批", next: "end",
                  assignees: [.init(department: department.code, role: .approver)], mode: .any,
                  days: max(1, service.promisedDays)),
            .init(id: "end", type: .end),
        ])
        _ = try await WorkflowEngine(db: tx, clock: app.clock).deploy(definition)
        return key
    }

    /// Keeps the application's status in step with its process (called inside the engine's transaction).
    /// Plain SQL: this runs at every step of every application. The status moves with one conditional
    /// UPDATE that returns the row only when the status really changed (nothing changes for the applicant
    /// while parallel approvals are still open), so an unchanged step costs one statement.
    static func observe(_ change: WorkflowChange, tx: any Database, clock: TongbanClock) async throws {
        guard let sql = tx as? any SQLDatabase else { return }
        let now = clock.now()
        let applicationID = change.instance.subjectID
        var status: ApplicationStatus
        switch change.instance.status {
        case .completed: status = .approved
        case .rejected: status = change.node == acceptanceNode ? .notAccepted : .rejected
        case .returned: status = .correctionRequired
        case .withdrawn: status = .withdrawn
        case .running:
            status = change.openNodes.contains(acceptanceNode) ? .submitted : .inReview
        }
        // Decisions also stamp decided_at.
        let decidedAt: SQLQueryString = [.approved, .rejected, .notAccepted].contains(status) ? "\"decided_at\" = \(bind: now), " : ""
        // The service's current name comes back with the row (a scalar subquery in RETURNING, on SQLite and
        // PostgreSQL alike), instead of a second SELECT.
        guard let row = try await sql.raw("""
            UPDATE "applications_applications" SET "status" = \(bind: status.rawValue), \(decidedAt)"updated_at" = \(bind: now) \
            WHERE "id" = \(bind: applicationID) AND "status" <> \(bind: status.rawValue) \
            RETURNING "number", "applicant_id", "service_code", \
            (SELECT "name" FROM "catalogue_services" WHERE "catalogue_services"."id" = "applications_applications"."service_id") AS "service_name"
            """).first()
        else { return }
        let serviceName = try row.decode(column: "service_name", as: String?.self) ?? row.decode(column: "service_code", as: String.self)
        var comment: String?
        if [.correctionRequired, .rejected, .notAccepted].contains(status), let instanceID = change.instance.id {
            comment = try await WorkflowEvent.query(on: tx).filter(\.$instanceID == instanceID)
                .filter(\.$action ~~ ["return", "reject"]).sort(\.$at, .descending).first()?.comment
        }
        try await Notifier.applicationStatusChanged(
            applicationID: applicationID, number: try row.decode(column: "number", as: String.self), status: status,
            applicantID: try row.decode(column: "applicant_id", as: UUID.self), serviceName: serviceName, comment: comment,
            tx: tx, clock: clock)
    }

    static let notFound = Problem.notFound("Application", type: "/problems/application-not-found")

    static func encode(_ value: some Encodable) throws -> String { try JSONText.encode(value) }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try JSONText.decode(type, text) }
}
