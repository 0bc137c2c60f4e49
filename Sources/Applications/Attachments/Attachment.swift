import Catalogue
import Fluent
import SQLKit
import Foundation
import TongbanCore
import Vapor

/// A file attached to an application: a required material, or photo evidence for an inspection item.
/// The bytes live in the `attachments` blob store under their SHA-256.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class Attachment: Model, @unchecked Sendable {
    public static let schema = "applications_attachments"

    @ID(key: .id) public var id: UUID?
    @Field(key: "application_id") public var applicationID: UUID
    @Field(key: "uploader_id") public var uploaderID: UUID
    /// The material (by name) or inspection checklist item this file answers, if any.
    @OptionalField(key: "material") public var material: String?
    @Field(key: "filename") public var filename: String
    @Field(key: "content_type") public var contentType: String
    @Field(key: "size") public var size: Int
    @Field(key: "sha256") public var sha256: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}

struct CreateAttachments: AsyncMigration {
    var name: String { "Applications.CreateAttachments" }

    func prepare(on database: any Database) async throws {
        try await database.schema(Attachment.schema)
            .id()
            .field("application_id", .uuid, .required)
            .field("uploader_id", .uuid, .required)
            .field("material", .string)
            .field("filename", .string, .required)
            .field("content_type", .string, .required)
            .field("size", .int64, .required)
            .field("sha256", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "applications_attachments_application_idx").on(Attachment.schema).column("application_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema(Attachment.schema).delete()
    }
}

/// Upload, list, download and delete of application attachments.
public struct AttachmentService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    public static let perApplicationLimit = 50

    var store: BlobStore { BlobStore(dataDirectory: app.tongbanConfig.dataDirectory, name: "attachments") }

    /// Stores a file for `applicationID`. Only the applicant (or a member acting for its enterprise), and
    /// only while the application is a draft or waiting for a correction. 413 too large, 415 not an allowed
    /// type, 409 wrong state or too many files, 422 empty or a material the service does not list.
    public func upload(
        applicationID: UUID, filename rawName: String, data: Data, material: String?, principal: Principal
    ) async throws -> Attachment {
        let service = ApplicationService(app: app, db: db)
        let record = try await service.own(applicationID, principal)
        // Photos for a booked site inspection may be added while the application is in progress.
        var inspectionItems: [String] = []
        if let inspection = try await InspectionService(app: app, db: db).current(applicationID), inspection.status == .scheduled,
            let checklist = try await InspectionService(app: app, db: db).checklist(serviceID: record.serviceID)
        {
            inspectionItems = checklist.items.map(\.code)
        }
        let forInspection = material.map { inspectionItems.contains($0) } ?? false
        guard [.draft, .correctionRequired].contains(record.status) || forInspection else {
            throw Problem.conflict(
                "Files can be added while the application is a draft or waiting for a correction (or, for a booked site inspection, as evidence for a checklist item).",
                type: "/problems/application-not-editable")
        }
        let limit = app.tongbanConfig.attachmentMaxBytes
        guard data.count <= limit else { throw Self.tooLarge(limit) }
        var errors = FieldErrors()
        errors.check(!data.isEmpty, "file", "is required and must not be empty")
        let filename = Self.cleanFilename(rawName)
        let material = material?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let material, !material.isEmpty {
            if material.count > 200 {
                errors.add("material", "must have at most 200 characters")
            } else if let item = try await ServiceItemLookup.materials(record.serviceID, db: db),
                !item.contains(material), !inspectionItems.contains(material)
            {
                errors.add("material", "is not a material of this service (\((item + inspectionItems).joined(separator: "、")))")
            }
        }
        try errors.throwIfAny()
        guard let kind = FileSniffer.kind(of: data, filename: filename) else {
            throw Problem(
                .unsupportedMediaType, type: "/problems/file-type-not-allowed", title: "File type not allowed",
                detail: "Upload \(FileSniffer.allowedDescription); the file's content was recognised as none of them.")
        }
        let count = try await Attachment.query(on: db).filter(\.$applicationID == applicationID).count()
        guard count < Self.perApplicationLimit else {
            throw Problem.conflict(
                "An application holds at most \(Self.perApplicationLimit) files; delete one first.",
                type: "/problems/too-many-attachments")
        }
        // The blob is written first; a failed insert leaves an unreferenced blob, never a row without bytes.
        let digest = try await store.put(data, on: app.threadPool)
        let attachment = Attachment()
        attachment.applicationID = applicationID
        attachment.uploaderID = principal.userID
        attachment.material = (material?.isEmpty ?? true) ? nil : material
        attachment.filename = filename
        attachment.contentType = kind.contentType
        attachment.size = data.count
        attachment.sha256 = digest
        attachment.createdAt = app.clock.now()
        try await attachment.create(on: db)
        return attachment
    }

    /// Every file of an application the principal may see.
    public func list(applicationID: UUID, principal: Principal) async throws -> [Attachment] {
        _ = try await ApplicationService(app: app, db: db).visible(applicationID, principal)
        return try await Attachment.query(on: db).filter(\.$applicationID == applicationID).sort(\.$createdAt).all()
    }

    /// One file and its bytes, for the applicant and the handling staff only (404 for anyone else).
    public func download(_ id: UUID, principal: Principal) async throws -> (Attachment, Data) {
        guard let attachment = try await Attachment.find(id, on: db) else { throw Self.notFound }
        do {
            _ = try await ApplicationService(app: app, db: db).visible(attachment.applicationID, principal)
        } catch {
            throw Self.notFound
        }
        do {
            let data = try await store.get(attachment.sha256, on: app.threadPool)
            app.logger.info("attachment read", metadata: ["attachment": "\(id)", "reader": "\(principal.userID)"])
            return (attachment, data)
        } catch let error as BlobStore.BlobError {
            app.logger.error("attachment unreadable", metadata: ["attachment": "\(id)", "error": "\(error)"])
            throw Problem(.gone, type: "/problems/attachment-unavailable", title: "File unavailable",
                          detail: "The stored file is missing or damaged; please upload it again.")
        }
    }

    /// Removes a file while the application is still editable (the applicant only).
    public func delete(applicationID: UUID, attachmentID: UUID, principal: Principal) async throws {
        let record = try await ApplicationService(app: app, db: db).own(applicationID, principal)
        guard let attachment = try await Attachment.find(attachmentID, on: db), attachment.applicationID == applicationID
        else { throw Self.notFound }
        guard [.draft, .correctionRequired].contains(record.status) else {
            throw Problem.conflict(
                "Files can be removed while the application is a draft or waiting for a correction.",
                type: "/problems/application-not-editable")
        }
        try await attachment.delete(on: db)
    }

    static let notFound = Problem.notFound("Attachment", type: "/problems/attachment-not-found")

    static func tooLarge(_ limit: Int) -> Problem {
        Problem(
            .payloadTooLarge, type: "/problems/file-too-large", title: "File too large",
            detail: "A file may have at most \(limit / 1024) KiB.")
    }

    /// The last path component, without control characters, at most 200 characters; `file` when empty.
    static func cleanFilename(_ raw: String) -> String {
        let last = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(last.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }.map(Character.init))
            .trimmingCharacters(in: .whitespaces)
        let name = cleaned.isEmpty || cleaned == "." || cleaned == ".." ? "file" : cleaned
        return String(name.suffix(200))
    }
}

/// The material names a service lists (nil when the service is gone).
enum ServiceItemLookup {
    static func materials(_ serviceID: UUID, db: any Database) async throws -> [String]? {
        guard let service = try await Catalogue.ServiceItem.find(serviceID, on: db) else { return nil }
        return service.materials.map(\.name)
    }
}
