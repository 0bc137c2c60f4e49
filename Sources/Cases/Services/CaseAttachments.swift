import Fluent
import Foundation
import SQLKit
import TongbanCore
import Vapor

/// A photo or file attached to a case as evidence (by the reporter with the report, by handling staff with
/// their feedback), or an external media link (Open311 `media_url`). Uploaded bytes live in the `cases-files`
/// blob store under the data directory, named by their SHA-256 (the same approach as application attachments).
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class CaseAttachment: Model, @unchecked Sendable {
    static let schema = "cases_attachments"

    @ID(key: .id) var id: UUID?
    @Field(key: "case_id") var caseID: UUID
    @OptionalField(key: "uploader_id") var uploaderID: UUID?
    /// `report` (the reporter's) or `handling` (staff evidence).
    @Field(key: "purpose") var purpose: String
    @Field(key: "filename") var filename: String
    @Field(key: "content_type") var contentType: String
    @Field(key: "size") var size: Int
    @OptionalField(key: "sha256") var sha256: String?
    /// An external link (Open311 `media_url`) instead of stored bytes.
    @OptionalField(key: "url") var url: String?
    @Field(key: "created_at") var createdAt: Date

    init() {}
}

struct CreateCaseAttachments: AsyncMigration {
    var name: String { "Cases.CreateCaseAttachments" }

    func prepare(on database: any Database) async throws {
        try await database.schema(CaseAttachment.schema)
            .id()
            .field("case_id", .uuid, .required)
            .field("uploader_id", .uuid)
            .field("purpose", .string, .required)
            .field("filename", .string, .required)
            .field("content_type", .string, .required)
            .field("size", .int64, .required)
            .field("sha256", .string)
            .field("url", .string)
            .field("created_at", .datetime, .required)
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "cases_attachments_case_idx").on(CaseAttachment.schema).column("case_id").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema(CaseAttachment.schema).delete()
    }
}

/// Upload, list and download of case attachments.
struct CaseAttachmentService: Sendable {
    let app: Application
    let db: any Database

    static let perCaseLimit = 20
    static let notFound = Problem.notFound("Attachment", type: "/problems/attachment-not-found")

    var store: BlobStore { BlobStore(dataDirectory: app.tongbanConfig.dataDirectory, name: "cases-files") }

    /// Who may see and download a case's files: the reporter and the handling staff (lead, co-handling,
    /// dispatching and originating departments, supervisors) — not grid members who merely see the case.
    static func canSeeFiles(_ principal: Principal, _ record: CaseRecord, directory: CasesDirectory) -> Bool {
        if record.reporterID == principal.userID { return true }
        guard principal.isStaff else { return false }
        let departments = [record.departmentID, record.dispatcherID, record.originDepartmentID].compactMap { $0 } + record.coHandlerIDs
        if departments.contains(where: { CaseActions.holds(principal, CaseActions.handlerRoles, in: $0) }) { return true }
        return CaseActions.isSupervisor(principal, of: record, directory: directory)
    }

    /// Who may add files now: the reporter and the lead or co-handling departments, while the case is open.
    static func canUpload(_ principal: Principal, _ record: CaseRecord) -> Bool {
        guard [.dispatched, .processing, .resolved].contains(record.status) else { return false }
        if record.reporterID == principal.userID { return true }
        return ([record.departmentID] + record.coHandlerIDs).contains { CaseActions.holds(principal, CaseActions.handlerRoles, in: $0) }
    }

    func readable(_ caseID: UUID, _ principal: Principal) async throws -> (CaseRecord, CasesDirectory) {
        let directory = try await app.casesDirectory.get(db: db, now: app.clock.now())
        guard let record = try await CaseRecord.find(caseID, on: db), CaseActions.canRead(principal, record, directory: directory) else {
            throw Problem.notFound("Case", type: "/problems/case-not-found")
        }
        return (record, directory)
    }

    /// Stores a photo or file for the case and records it in the timeline. 403 for readers who may not add
    /// files, 409 when the case is closed or holds the most files, 413 too large, 415 not PDF/PNG/JPEG/OFD,
    /// 422 empty.
    func upload(caseID: UUID, filename rawName: String, data: Data, principal: Principal) async throws -> CaseAttachment {
        let (record, _) = try await readable(caseID, principal)
        guard record.reporterID == principal.userID
            || ([record.departmentID] + record.coHandlerIDs).contains(where: { CaseActions.holds(principal, CaseActions.handlerRoles, in: $0) })
        else { throw Problem.forbidden }
        guard Self.canUpload(principal, record) else {
            throw Problem.conflict("Files can be added while the case is open.", type: "/problems/case-closed")
        }
        let limit = app.tongbanConfig.attachmentMaxBytes
        guard data.count <= limit else {
            throw Problem(.payloadTooLarge, type: "/problems/file-too-large", title: "File too large",
                          detail: "A file may have at most \(limit / 1024) KiB.")
        }
        guard !data.isEmpty else { throw Problem.validation([FieldError(field: "file", message: "is required and must not be empty")]) }
        let filename = Self.cleanFilename(rawName)
        guard let kind = FileSniffer.kind(of: data, filename: filename) else {
            throw Problem(
                .unsupportedMediaType, type: "/problems/file-type-not-allowed", title: "File type not allowed",
                detail: "Upload \(FileSniffer.allowedDescription); the file's content was recognised as none of them.")
        }
        guard try await CaseAttachment.query(on: db).filter(\.$caseID == caseID).count() < Self.perCaseLimit else {
            throw Problem.conflict("A case holds at most \(Self.perCaseLimit) files.", type: "/problems/too-many-attachments")
        }
        // The blob first: a failed insert leaves an unreferenced blob, never a row without bytes.
        let digest = try await store.put(data, on: app.threadPool)
        let now = app.clock.now()
        let staff = record.reporterID != principal.userID
        return try await db.writeTransaction { tx in
            let attachment = CaseAttachment()
            attachment.id = UUID()
            attachment.caseID = caseID
            attachment.uploaderID = principal.userID
            attachment.purpose = staff ? "handling" : "report"
            attachment.filename = filename
            attachment.contentType = kind.contentType
            attachment.size = data.count
            attachment.sha256 = digest
            attachment.createdAt = now
            try await attachment.create(on: tx)
            let department = staff
                ? ([record.departmentID] + record.coHandlerIDs).first { CaseActions.holds(principal, CaseActions.handlerRoles, in: $0) }
                : nil
            try await CaseEvents(app: app).append(
                on: tx, caseID: caseID, action: "attach", actor: principal, department: department, from: record.status,
                to: record.status, comment: filename,
                details: [
                    "attachment": try attachment.requireID().uuidString.lowercased(), "filename": filename,
                    "contentType": kind.contentType, "size": String(data.count), "sha256": digest,
                ], at: now)
            return attachment
        }
    }

    /// The case's files, for those who may see them (404 for anyone else, 403 for readers without files).
    func list(caseID: UUID, principal: Principal) async throws -> [CaseAttachment] {
        let (record, directory) = try await readable(caseID, principal)
        guard Self.canSeeFiles(principal, record, directory: directory) else { throw Problem.forbidden }
        return try await CaseAttachment.query(on: db).filter(\.$caseID == caseID).sort(\.$createdAt).all()
    }

    /// One stored file and its bytes; 404 for anyone who may not see it (and for links, which have no bytes).
    func download(caseID: UUID, attachmentID: UUID, principal: Principal) async throws -> (CaseAttachment, Data) {
        guard let attachment = try await CaseAttachment.find(attachmentID, on: db), attachment.caseID == caseID,
            let digest = attachment.sha256
        else { throw Self.notFound }
        let record: CaseRecord
        let directory: CasesDirectory
        do {
            (record, directory) = try await readable(caseID, principal)
        } catch {
            throw Self.notFound
        }
        guard Self.canSeeFiles(principal, record, directory: directory) else { throw Self.notFound }
        do {
            let data = try await store.get(digest, on: app.threadPool)
            try await app.audit?.record(
                kind: "cases.attachment.read", actor: principal.userID, subject: record.number,
                details: ["attachment": attachmentID.uuidString.lowercased()])
            return (attachment, data)
        } catch let error as BlobStore.BlobError {
            app.logger.error("case attachment unreadable", metadata: ["attachment": "\(attachmentID)", "error": "\(error)"])
            throw Problem(.gone, type: "/problems/attachment-unavailable", title: "File unavailable",
                          detail: "The stored file is missing or damaged; please upload it again.")
        }
    }

    /// The last path component, without control characters, at most 200 characters; `file` when empty.
    static func cleanFilename(_ raw: String) -> String {
        let last = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(last.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }.map(Character.init))
            .trimmingCharacters(in: .whitespaces)
        let name = cleaned.isEmpty || cleaned == "." || cleaned == ".." ? "file" : cleaned
        return String(name.suffix(200))
    }

    /// The file as a download: checked type, RFC 6266 name, no sniffing, no shared caching, its digest.
    static func fileResponse(_ attachment: CaseAttachment, _ data: Data) -> Response {
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: attachment.contentType)
        let encoded = attachment.filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "file"
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"file\"; filename*=UTF-8''\(encoded)")
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        headers.replaceOrAdd(name: .cacheControl, value: "private, no-store")
        if let digest = attachment.sha256 { headers.replaceOrAdd(name: .eTag, value: "\"\(digest)\"") }
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }

    /// Checks an Open311 `media_url` / API `mediaUrl`: an absolute http(s) URL of at most 1000 characters.
    static func validMediaURL(_ text: String) -> Bool {
        guard text.count <= 1000, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            ["http", "https"].contains(scheme), url.host?.isEmpty == false
        else { return false }
        return true
    }
}

/// `/api/v1/cases/{id}/attachments`.
struct CaseAttachmentsController: RouteCollection {
    let bodyLimit: Int

    struct Upload: Content {
        var file: File?
    }

    struct View: Content {
        var id: UUID
        var purpose: String
        var filename: String
        var contentType: String
        var size: Int
        var sha256: String?
        var url: String?
        var createdAt: Date
        var downloadUrl: String?

        init(_ attachment: CaseAttachment) {
            id = attachment.id ?? UUID()
            purpose = attachment.purpose
            filename = attachment.filename
            contentType = attachment.contentType
            size = attachment.size
            sha256 = attachment.sha256
            url = attachment.url
            createdAt = attachment.createdAt
            downloadUrl = attachment.sha256 == nil
                ? nil : "/api/v1/cases/\(attachment.caseID.uuidString.lowercased())/attachments/\(id.uuidString.lowercased())"
        }
    }

    struct ListView: Content {
        var items: [View]
    }

    func boot(routes: any RoutesBuilder) throws {
        let files = routes.grouped("api", "v1", "cases", ":id", "attachments")
        files.on(.POST, body: .collect(maxSize: ByteCount(value: bodyLimit)), use: upload)
        files.get(use: list)
        files.get(":attachment", use: download)
    }

    static func ids(_ req: Request) throws -> (UUID, UUID?) {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Case", type: "/problems/case-not-found") }
        if req.parameters.get("attachment") != nil {
            guard let attachment = req.parameters.get("attachment", as: UUID.self) else { throw CaseAttachmentService.notFound }
            return (id, attachment)
        }
        return (id, nil)
    }

    /// POST — multipart/form-data with `file`. 201 with the stored file.
    @Sendable func upload(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let (id, _) = try Self.ids(req)
        guard req.headers.contentType?.type == "multipart", req.headers.contentType?.subType == "form-data" else {
            throw Problem(
                .unsupportedMediaType, type: "/problems/multipart-required", title: "Multipart upload required",
                detail: "Send the file as multipart/form-data in a field named file.")
        }
        let upload: Upload
        do {
            upload = try req.content.decode(Upload.self)
        } catch {
            throw Problem.badRequest("The multipart body could not be read: it needs a file field named file.")
        }
        guard let file = upload.file else { throw Problem.validation([FieldError(field: "file", message: "is required")]) }
        let attachment = try await CaseAttachmentService(app: req.application, db: req.db).upload(
            caseID: id, filename: file.filename, data: Data(buffer: file.data), principal: principal)
        return try await View(attachment).encodeResponse(status: .created, for: req)
    }

    /// GET — the reporter and handling staff.
    @Sendable func list(req: Request) async throws -> ListView {
        let principal = try req.requirePrincipal()
        let (id, _) = try Self.ids(req)
        return ListView(items: try await CaseAttachmentService(app: req.application, db: req.db).list(caseID: id, principal: principal)
            .map(View.init))
    }

    /// GET /api/v1/cases/{id}/attachments/{attachment} — the bytes, for the reporter and handling staff.
    @Sendable func download(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let (id, attachment) = try Self.ids(req)
        let (file, data) = try await CaseAttachmentService(app: req.application, db: req.db).download(
            caseID: id, attachmentID: attachment ?? UUID(), principal: principal)
        return CaseAttachmentService.fileResponse(file, data)
    }
}
