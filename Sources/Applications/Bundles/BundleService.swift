import Catalogue
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Workflow

/// A bundle with its member services and the combined form.
public struct BundleDefinition: Sendable {
    public var bundle: ServiceBundle
    public var services: [ServiceItem]
    public var form: FormSchema
}

/// 一件事 bundles: the combined form, submission that splits into one sub-application per service (all in
/// one transaction), and the status of the whole.
public struct BundleService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    /// One form for several services: each field once, in the order first met; required when any member
    /// requires it. A field name used with two different types is a definition error.
    public static func combinedForm(_ services: [ServiceItem]) throws -> FormSchema {
        var fields: [FormSchema.Field] = []
        var index: [String: Int] = [:]
        for service in services {
            for field in service.form.fields {
                if let at = index[field.name] {
                    guard fields[at].type == field.type else {
                        throw Problem.validation([
                            FieldError(field: "services", message: "field \(field.name) has different types in \(service.code) and an earlier service")
                        ])
                    }
                    fields[at].required = fields[at].required || field.required
                    if let min = field.min { fields[at].min = max(fields[at].min ?? min, min) }
                    if let max = field.max { fields[at].max = min(fields[at].max ?? max, max) }
                } else {
                    index[field.name] = fields.count
                    fields.append(field)
                }
            }
        }
        return FormSchema(fields: fields)
    }

    /// Creates (or replaces, by code) a bundle of published services. 422 for fewer than two services,
    /// unknown or unpublished codes, or conflicting field types.
    @discardableResult
    public func define(
        code: String, name: String, nameEn: String, description: String, descriptionEn: String, serviceCodes: [String]
    ) async throws -> ServiceBundle {
        var errors = FieldErrors()
        errors.check(CodeFormat.serviceCode.matches(code), "code", "must be a code of letters, digits and '-'")
        errors.check(!name.isEmpty && name.count <= 200, "name", "is required (at most 200 characters)")
        errors.check(Set(serviceCodes).count >= 2 && Set(serviceCodes).count == serviceCodes.count && serviceCodes.count <= 20,
                     "services", "must list 2 to 20 different service codes")
        try errors.throwIfAny()
        let services = try await ServiceItem.query(on: db).filter(\.$code ~~ serviceCodes).filter(\.$published == true).all()
        let missing = serviceCodes.filter { code in !services.contains { $0.code == code } }
        if !missing.isEmpty {
            throw Problem.validation([FieldError(field: "services", message: "not published: \(missing.joined(separator: ", "))")])
        }
        _ = try Self.combinedForm(serviceCodes.compactMap { code in services.first { $0.code == code } })
        let bundle = try await ServiceBundle.query(on: db).filter(\.$code == code).first() ?? ServiceBundle()
        bundle.code = code
        bundle.name = name
        bundle.nameEn = nameEn
        bundle.description = description
        bundle.descriptionEn = descriptionEn
        bundle.serviceCodes = try JSONText.encode(serviceCodes)
        bundle.published = true
        if bundle.id == nil { bundle.createdAt = app.clock.now() }
        try await bundle.save(on: db)
        return bundle
    }

    /// Published bundles whose services are all published.
    public func list() async throws -> [BundleDefinition] {
        let bundles = try await ServiceBundle.query(on: db).filter(\.$published == true).sort(\.$code).all()
        var result: [BundleDefinition] = []
        for bundle in bundles {
            if let definition = try? await definition(bundle) { result.append(definition) }
        }
        return result
    }

    /// A bundle by id or code; 404 when unknown, unpublished, or a member service is no longer published.
    public func find(_ key: String) async throws -> BundleDefinition {
        let bundle: ServiceBundle?
        if let id = UUID(uuidString: key) {
            bundle = try await ServiceBundle.find(id, on: db)
        } else {
            bundle = try await ServiceBundle.query(on: db).filter(\.$code == key).first()
        }
        guard let bundle, bundle.published else { throw Self.notFound }
        return try await definition(bundle)
    }

    func definition(_ bundle: ServiceBundle) async throws -> BundleDefinition {
        let codes = bundle.codes
        let rows = try await ServiceItem.query(on: db).filter(\.$code ~~ codes).filter(\.$published == true).all()
        let services = codes.compactMap { code in rows.first { $0.code == code } }
        guard services.count == codes.count, services.count >= 2 else { throw Self.notFound }
        return BundleDefinition(bundle: bundle, services: services, form: try Self.combinedForm(services))
    }

    /// Validates the combined form (every error at once) and each service's share of it.
    func validate(_ definition: BundleDefinition, _ form: [String: JSONValue]) throws {
        var errors = definition.form.validate(form, today: app.clock.now()).map { FieldError(field: "form.\($0.field)", message: $0.message) }
        if errors.isEmpty {
            for service in definition.services {
                for error in service.form.validate(Self.share(of: service, in: form), today: app.clock.now()) {
                    errors.append(FieldError(field: "form.\(error.field)", message: "\(error.message) (\(service.code))"))
                }
            }
        }
        if !errors.isEmpty { throw Problem.validation(errors) }
    }

    /// The fields of `form` that `service` asks for.
    static func share(of service: ServiceItem, in form: [String: JSONValue]) -> [String: JSONValue] {
        let names = Set(service.form.fields.map(\.name))
        return form.filter { names.contains($0.key) }
    }

    /// Creates a bundle application; with `submit`, splits it into one submitted sub-application per
    /// service, each starting its department's process, all in one transaction.
    public func apply(bundleKey: String, form: [String: JSONValue], submit: Bool, principal: Principal) async throws
        -> BundleApplication
    {
        guard principal.kind == .person else { throw Problem.forbidden }
        let definition = try await find(bundleKey)
        if definition.services.contains(where: { !$0.forPersons }) && principal.actingFor == nil {
            throw Problem.validation([FieldError(field: "bundle", message: "includes services for enterprises: act for one with the X-Acting-For header")])
        }
        if submit {
            try validate(definition, form)
        } else {
            let unknown = Set(form.keys).subtracting(definition.form.fields.map(\.name)).sorted()
            if !unknown.isEmpty { throw Problem.validation(unknown.map { FieldError(field: "form.\($0)", message: "is not a field of this form") }) }
        }
        let user = try await User.find(principal.userID, on: db)
        let now = app.clock.now()
        let record = BundleApplication()
        record.bundleID = try definition.bundle.requireID()
        record.applicantID = principal.userID
        record.enterpriseID = principal.actingFor
        record.idTail = String((user?.idNumber ?? "").suffix(6))
        record.form = try JSONText.encode(form)
        record.createdAt = now
        record.updatedAt = now
        return try await db.writeTransaction { tx in
            try await ApplicationService.insertNumbered(
                tx: tx, now: now, assign: { record.number = $0 }, create: { try await record.create(on: tx) },
                reset: { record.id = nil; record.$id.exists = false },
                usedElsewhere: { try await ApplicationRecord.query(on: tx).filter(\.$number == $0).count() > 0 })
            if submit { try await split(record, definition: definition, form: form, principal: principal, tx: tx) }
            return record
        }
    }

    /// Submits a draft bundle application (optionally with new form data).
    public func submit(_ id: UUID, form: [String: JSONValue]?, principal: Principal) async throws -> BundleApplication {
        let record = try await own(id, principal)
        guard record.submittedAt == nil, record.withdrawnAt == nil else {
            throw Problem.conflict("Only a draft can be submitted.", type: "/problems/application-not-draft")
        }
        let definition = try await definition(for: record)
        let data = try form ?? JSONText.decode([String: JSONValue].self, record.form)
        try validate(definition, data)
        return try await db.writeTransaction { tx in
            // Re-read inside the transaction: two concurrent submits split once.
            guard let fresh = try await BundleApplication.find(id, on: tx), fresh.submittedAt == nil else {
                throw Problem.conflict("Only a draft can be submitted.", type: "/problems/application-not-draft")
            }
            fresh.form = try JSONText.encode(data)
            try await split(fresh, definition: definition, form: data, principal: principal, tx: tx)
            return fresh
        }
    }

    func split(
        _ record: BundleApplication, definition: BundleDefinition, form: [String: JSONValue], principal: Principal,
        tx: any Database
    ) async throws {
        let now = app.clock.now()
        record.submittedAt = now
        record.updatedAt = now
        try await record.save(on: tx)
        let applications = ApplicationService(app: app, db: tx)
        for service in definition.services {
            let share = Self.share(of: service, in: form)
            let child = ApplicationRecord()
            child.serviceID = try service.requireID()
            child.serviceCode = service.code
            child.applicantID = record.applicantID
            child.enterpriseID = record.enterpriseID
            child.idTail = record.idTail
            child.status = .draft
            child.form = try JSONText.encode(share)
            child.createdAt = now
            child.updatedAt = now
            child.bundleApplicationID = record.id
            try await applications.insertWithNumber(child, tx: tx, now: now)
            try await applications.startProcess(child, service: service, form: share, actor: principal.userID, tx: tx)
        }
    }

    /// Withdraws every sub-application still in progress (each in its own transaction); a draft is
    /// simply closed. 409 when nothing can be withdrawn.
    public func withdraw(_ id: UUID, reason: String?, principal: Principal) async throws -> BundleApplication {
        let record = try await own(id, principal)
        let children = try await members(of: id)
        if record.submittedAt == nil {
            guard record.withdrawnAt == nil else {
                throw Problem.conflict("The application is already withdrawn.", type: "/problems/application-decided")
            }
            record.withdrawnAt = app.clock.now()
            try await record.save(on: db)
            return record
        }
        let open = children.filter { [.submitted, .accepted, .inReview, .correctionRequired].contains($0.status) }
        guard !open.isEmpty else {
            throw Problem.conflict("Every part of this application is already decided.", type: "/problems/application-decided")
        }
        let applications = ApplicationService(app: app, db: db)
        for child in open {
            _ = try await applications.withdraw(try child.requireID(), reason: reason, principal: principal)
        }
        record.withdrawnAt = app.clock.now()
        record.updatedAt = app.clock.now()
        try await record.save(on: db)
        return record
    }

    func definition(for record: BundleApplication) async throws -> BundleDefinition {
        guard let bundle = try await ServiceBundle.find(record.bundleID, on: db) else { throw Self.notFound }
        return try await definition(bundle)
    }

    public func members(of id: UUID) async throws -> [ApplicationRecord] {
        try await ApplicationRecord.query(on: db).filter(\.$bundleApplicationID == id).sort(\.$serviceCode).all()
    }

    /// The status of the whole, from its parts.
    public static func status(_ record: BundleApplication, members: [ApplicationRecord]) -> BundleStatus {
        guard record.submittedAt != nil, !members.isEmpty else { return record.withdrawnAt == nil ? .draft : .withdrawn }
        let statuses = members.map(\.status)
        if statuses.allSatisfy({ $0 == .withdrawn }) { return .withdrawn }
        if statuses.contains(.correctionRequired) { return .correctionRequired }
        if statuses.allSatisfy({ $0 == .submitted }) { return .submitted }
        if statuses.contains(where: { [.draft, .submitted, .accepted, .inReview].contains($0) }) { return .inProgress }
        let approved = statuses.filter { [.approved, .completed].contains($0) }.count
        if approved == statuses.count { return .completed }
        return approved > 0 ? .partiallyApproved : .rejected
    }

    /// The bundle application if it is the principal's (or their enterprise's); 404 otherwise.
    public func own(_ id: UUID, _ principal: Principal) async throws -> BundleApplication {
        guard let record = try await BundleApplication.find(id, on: db),
            record.applicantID == principal.userID || (record.enterpriseID != nil && record.enterpriseID == principal.actingFor)
        else { throw Self.applicationNotFound }
        return record
    }

    static let notFound = Problem.notFound("Bundle", type: "/problems/bundle-not-found")
    static let applicationNotFound = Problem.notFound("Bundle application", type: "/problems/application-not-found")
}
