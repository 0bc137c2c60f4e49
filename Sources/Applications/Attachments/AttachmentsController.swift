import Fluent
import Foundation
import TongbanCore
import Vapor

/// `/api/v1/applications/{id}/attachments` and `/api/v1/attachments/{id}`.
struct AttachmentsController: RouteCollection {
    /// The largest body the upload route collects (the configured file limit plus room for the multipart
    /// envelope); larger bodies are refused with 413 before they are read.
    let bodyLimit: Int

    struct Upload: Content {
        var file: File?
        var material: String?
    }

    struct AttachmentView: Content {
        var id: UUID
        var applicationId: UUID
        var material: String?
        var filename: String
        var contentType: String
        var size: Int
        var sha256: String
        var createdAt: Date
        var downloadUrl: String

        init(_ attachment: Attachment) {
            id = attachment.id ?? UUID()
            applicationId = attachment.applicationID
            material = attachment.material
            filename = attachment.filename
            contentType = attachment.contentType
            size = attachment.size
            sha256 = attachment.sha256
            createdAt = attachment.createdAt
            downloadUrl = "/api/v1/attachments/\(id.uuidString.lowercased())"
        }
    }

    struct ListView: Content {
        var items: [AttachmentView]
        var nextCursor: String?
    }

    func boot(routes: any RoutesBuilder) throws {
        let applications = routes.grouped("api", "v1", "applications", ":id", "attachments")
        applications.on(.POST, body: .collect(maxSize: ByteCount(value: bodyLimit)), use: upload)
        applications.get(use: list)
        applications.delete(":attachment", use: delete)
        routes.get("api", "v1", "attachments", ":attachment", use: download)
    }

    func applicationID(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw ApplicationService.notFound }
        return id
    }

    func attachmentID(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("attachment", as: UUID.self) else { throw AttachmentService.notFound }
        return id
    }

    /// POST — multipart/form-data with `file` (and optionally `material`). 201 with the stored file.
    @Sendable func upload(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let id = try applicationID(req)
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
        guard let file = upload.file else {
            throw Problem.validation([FieldError(field: "file", message: "is required")])
        }
        let attachment = try await AttachmentService(app: req.application, db: req.db).upload(
            applicationID: id, filename: file.filename, data: Data(buffer: file.data), material: upload.material,
            principal: principal)
        return try await AttachmentView(attachment).encodeResponse(status: .created, for: req)
    }

    /// GET — the applicant and handling staff.
    @Sendable func list(req: Request) async throws -> ListView {
        let principal = try req.requirePrincipal()
        let files = try await AttachmentService(app: req.application, db: req.db).list(
            applicationID: try applicationID(req), principal: principal)
        return ListView(items: files.map(AttachmentView.init), nextCursor: nil)
    }

    /// DELETE — the applicant, while editable. 204.
    @Sendable func delete(req: Request) async throws -> HTTPStatus {
        let principal = try req.requirePrincipal()
        try await AttachmentService(app: req.application, db: req.db).delete(
            applicationID: try applicationID(req), attachmentID: try attachmentID(req), principal: principal)
        return .noContent
    }

    /// GET /api/v1/attachments/{id} — the bytes, as a download, for the applicant and handling staff.
    @Sendable func download(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let (attachment, data) = try await AttachmentService(app: req.application, db: req.db).download(
            try attachmentID(req), principal: principal)
        return Self.fileResponse(attachment, data)
    }

    /// The file as a download: its checked type, its name (RFC 6266), no sniffing, no shared caching, and
    /// its digest (RFC 9530) so a client can check what it received. Used by the API and the pages.
    static func fileResponse(_ attachment: Attachment, _ data: Data) -> Response {
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: attachment.contentType)
        let encoded = attachment.filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "file"
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"file\"; filename*=UTF-8''\(encoded)")
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        headers.replaceOrAdd(name: .cacheControl, value: "private, no-store")
        headers.replaceOrAdd(name: .eTag, value: "\"\(attachment.sha256)\"")
        // RFC 9530: the digest of the representation, so a client can check what it received.
        headers.replaceOrAdd(name: "Repr-Digest", value: "sha-256=:\(Data(hex: attachment.sha256).base64EncodedString()):")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }
}

extension Data {
    /// Bytes from lower-case hex (invalid pairs are skipped; used only on digests we computed).
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            if let byte = UInt8(hex[index..<next], radix: 16) { bytes.append(byte) }
            index = next
        }
        self.init(bytes)
    }
}
