import Applications
import Catalogue
import Fluent
import Foundation
import TongbanCore
import Vapor

/// A licence from the wallet attached to an application in place of a material.
public final class MaterialLicence: Model, @unchecked Sendable {
    public static let schema = "licences_material_links"

    @ID(key: .id) public var id: UUID?
    @Field(key: "application_id") public var applicationID: UUID
    @Field(key: "material") public var material: String
    @Field(key: "licence_id") public var licenceID: UUID
    @Field(key: "linked_by") public var linkedBy: UUID
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}

struct CreateMaterialLinks: AsyncMigration {
    var name: String { "Licences.CreateMaterialLinks" }

    func prepare(on database: any Database) async throws {
        try await database.schema(MaterialLicence.schema)
            .id()
            .field("application_id", .uuid, .required)
            .field("material", .string, .required)
            .field("licence_id", .uuid, .required, .references(Licence.schema, "id"))
            .field("linked_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "application_id", "material")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(MaterialLicence.schema).delete()
    }
}

/// 免提交: which of a service's materials an application has, from uploaded files or from e-licences the
/// holder already has (the applicant's, or the enterprise's the application was made for), so that nobody is
/// asked for a paper copy of a licence the government itself issued.
public struct MaterialsCheck: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    public struct Row: Content {
        public var name: String
        public var nameEn: String
        public var required: Bool
        public var licenceType: String?
        /// `attachment`, `licence`, or nil (missing).
        public var satisfiedBy: String?
        public var attachments: [UUID]
        public var licence: LicenceRef?
    }

    public struct LicenceRef: Content {
        public var id: UUID
        public var number: String
        public var typeCode: String
        public var validUntil: Date?
    }

    public struct Report: Content {
        public var applicationId: UUID
        public var materials: [Row]
        /// Required materials neither uploaded nor replaced by a licence in force.
        public var missing: [String]
    }

    public struct Attach: Content {
        public var material: String?
        public var licenceId: UUID?
    }

    /// The applicant attaches a licence from the wallet in place of a material the catalogue says it may replace,
    /// while the application is editable (a draft, or waiting for a correction).
    public func attach(_ applicationID: UUID, _ body: Attach, principal: Principal) async throws -> Report {
        let record = try await ApplicationService(app: app, db: db).visible(applicationID, principal)
        let mine = record.applicantID == principal.userID || (record.enterpriseID != nil && record.enterpriseID == principal.actingFor)
        guard mine else { throw Problem.notFound("Application", type: "/problems/application-not-found") }
        guard record.status == .draft || record.status == .correctionRequired else {
            throw Problem.conflict("Materials can change only in a draft or while a correction is asked for.", type: "/problems/application-locked")
        }
        guard let service = try await ServiceItem.find(record.serviceID, on: db) else { throw Problem.notFound("Application") }
        var errors = FieldErrors()
        let material = service.materials.first { $0.name == body.material }
        errors.check(material != nil, "material", "is not a material of this service")
        errors.check(material == nil || material?.licenceType != nil, "material", "cannot be replaced by an e-licence")
        errors.check(body.licenceId != nil, "licenceId", "is required")
        try errors.throwIfAny()
        guard let material, let type = material.licenceType, let licenceID = body.licenceId,
            let licence = try await Licence.find(licenceID, on: db),
            licence.holderUserID == record.applicantID || (record.enterpriseID != nil && licence.holderEnterpriseID == record.enterpriseID)
        else {
            throw Problem.validation([FieldError(field: "licenceId", message: "is not a licence held by the applicant or its enterprise")])
        }
        let now = app.clock.now()
        if licence.typeCode != type { throw Problem.validation([FieldError(field: "licenceId", message: "is a \(licence.typeCode), the material needs a \(type)")]) }
        if licence.status != .valid || (licence.validUntil.map { $0 <= now } ?? false) {
            throw Problem.validation([FieldError(field: "licenceId", message: "is not in force (\(licence.status.rawValue))")])
        }
        let link = try await MaterialLicence.query(on: db).filter(\.$applicationID == applicationID).filter(\.$material == material.name).first()
            ?? MaterialLicence()
        link.applicationID = applicationID
        link.material = material.name
        link.licenceID = licenceID
        link.linkedBy = principal.userID
        link.createdAt = now
        try await link.save(on: db)
        return try await report(applicationID, principal: principal)
    }

    public func report(_ applicationID: UUID, principal: Principal) async throws -> Report {
        let record = try await ApplicationService(app: app, db: db).visible(applicationID, principal)
        guard let service = try await ServiceItem.find(record.serviceID, on: db) else {
            throw Problem.notFound("Application", type: "/problems/application-not-found")
        }
        let files = try await Attachment.query(on: db).filter(\.$applicationID == applicationID).all()
        let now = app.clock.now()
        // Licences in force held by the application's holder.
        var query = Licence.query(on: db).filter(\.$status == .valid)
        if let enterprise = record.enterpriseID {
            query = query.group(.or) { $0.filter(\.$holderEnterpriseID == enterprise).filter(\.$holderUserID == record.applicantID) }
        } else {
            query = query.filter(\.$holderUserID == record.applicantID)
        }
        let held = try await query.sort(\.$createdAt, .descending).all().filter { $0.validUntil.map { $0 > now } ?? true && $0.validFrom <= now }
        let links = try await MaterialLicence.query(on: db).filter(\.$applicationID == applicationID).all()
        let linked = Dictionary(links.map { ($0.material, $0.licenceID) }, uniquingKeysWith: { a, _ in a })
        var rows: [Row] = []
        for material in service.materials {
            let uploaded = files.filter { $0.material == material.name }.compactMap(\.id)
            // The licence the applicant attached from the wallet, else any licence in force of the type.
            let licence = linked[material.name].flatMap { id in held.first { $0.id == id } }
                ?? material.licenceType.flatMap { type in held.first { $0.typeCode == type } }
            rows.append(Row(
                name: material.name, nameEn: material.nameEn, required: material.required, licenceType: material.licenceType,
                satisfiedBy: licence != nil ? "licence" : (uploaded.isEmpty ? nil : "attachment"), attachments: uploaded,
                licence: licence.map { LicenceRef(id: $0.id ?? UUID(), number: $0.number, typeCode: $0.typeCode, validUntil: $0.validUntil) }))
        }
        return Report(
            applicationId: applicationID, materials: rows,
            missing: rows.filter { $0.required && $0.satisfiedBy == nil }.map(\.name))
    }
}
