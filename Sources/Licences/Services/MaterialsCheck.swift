import Applications
import Catalogue
import Fluent
import Foundation
import TongbanCore
import Vapor

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
        var rows: [Row] = []
        for material in service.materials {
            let uploaded = files.filter { $0.material == material.name }.compactMap(\.id)
            let licence = material.licenceType.flatMap { type in held.first { $0.typeCode == type } }
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
