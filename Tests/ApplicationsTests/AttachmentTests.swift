import Applications
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

/// A multipart/form-data body with one file and optional text fields.
struct Multipart {
    static let boundary = "tongban-test-boundary-7e3f"

    static func body(file: Data, filename: String, contentType: String = "application/octet-stream", fields: [String: String] = [:])
        -> ByteBuffer
    {
        var data = Data()
        for (name, value) in fields {
            data.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        data.append(Data(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: \(contentType)\r\n\r\n".utf8))
        data.append(file)
        data.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return ByteBuffer(data: data)
    }

    static func headers(_ token: String) -> HTTPHeaders {
        ["Authorization": "Bearer \(token)", "Content-Type": "multipart/form-data; boundary=\(boundary)"]
    }
}

extension Application {
    func upload(
        _ application: String, token: String, file: Data, filename: String, fields: [String: String] = [:], actingFor: String? = nil
    ) async throws -> (HTTPStatus, JSONValue) {
        var headers = Multipart.headers(token)
        if let actingFor { headers.add(name: "X-Acting-For", value: actingFor) }
        let res = try await testing().sendRequest(
            .POST, "/api/v1/applications/\(application)/attachments", headers: headers,
            body: Multipart.body(file: file, filename: filename, fields: fields))
        return (res.status, (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null)
    }
}

@Suite("Attachments")
struct AttachmentTests {
    static let pdf = Data("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n".utf8)
    static let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: UInt8(7), count: 64))

    func draft(_ app: Application, _ token: String) async throws -> String {
        let (_, created) = try await app.json(
            .POST, "/api/v1/applications", token: token,
            body: ["serviceId": .string(try await app.demoServiceID()), "form": ["projectName": "带附件的申请"]])
        return try #require(created["id"]?.stringValue)
    }

    @Test func upload_recordsSHA256_andOnlyApplicantAndHandlingStaffDownload() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let id = try await draft(app, citizen)
            let (status, stored) = try await app.upload(id, token: citizen, file: Self.pdf, filename: "C:\\材料\\营业执照.pdf")
            #expect(status == .created)
            #expect(stored["sha256"]?.stringValue == BlobStore.digest(Self.pdf))
            #expect(stored["filename"]?.stringValue == "营业执照.pdf")
            #expect(stored["contentType"]?.stringValue == "application/pdf")
            #expect(stored["size"] == .number(Double(Self.pdf.count)))
            let attachment = try #require(stored["id"]?.stringValue)
            // The bytes come back unchanged, with their digest, to the applicant.
            let res = try await app.testing().sendRequest(.GET, "/api/v1/attachments/\(attachment)", headers: .bearer(citizen))
            #expect(res.status == .ok)
            #expect(Data(buffer: res.body) == Self.pdf)
            #expect(res.headers.first(name: "Repr-Digest")?.hasPrefix("sha-256=:") == true)
            #expect(res.headers.first(name: .contentDisposition)?.contains("filename*=UTF-8''") == true)
            // Someone else, and staff with no task on it, get 404.
            for stranger in ["demo-enterprise", "demo-clerk"] {
                let token = try await app.login(stranger)
                let denied = try await app.testing().sendRequest(.GET, "/api/v1/attachments/\(attachment)", headers: .bearer(token))
                #expect(denied.status == .notFound)
            }
            let anonymous = try await app.testing().sendRequest(.GET, "/api/v1/attachments/\(attachment)")
            #expect(anonymous.status == .unauthorized)
            // Once submitted, the accepting clerk can read it; the applicant can no longer add or remove files.
            let (submitted, _) = try await app.json(.POST, "/api/v1/applications/\(id)/submit", token: citizen)
            #expect(submitted == .ok)
            let clerk = try await app.login("demo-clerk")
            let allowed = try await app.testing().sendRequest(.GET, "/api/v1/attachments/\(attachment)", headers: .bearer(clerk))
            #expect(allowed.status == .ok)
            let (listStatus, list) = try await app.json(.GET, "/api/v1/applications/\(id)/attachments", token: clerk)
            #expect(listStatus == .ok)
            if case .array(let items)? = list["items"] { #expect(items.count == 1) } else { Issue.record("no list") }
            let (late, problem) = try await app.upload(id, token: citizen, file: Self.png, filename: "photo.png")
            #expect(late == .conflict)
            #expect(problem["type"]?.stringValue == "/problems/application-not-editable")
            let (remove, _) = try await app.json(.DELETE, "/api/v1/applications/\(id)/attachments/\(attachment)", token: citizen)
            #expect(remove == .conflict)
        }
    }

    @Test func badFiles_areRefusedAndNothingIsStored() async throws {
        var config = TongbanConfig(databaseURL: "sqlite::memory:", bcryptCost: 4, cookieSecure: false)
        config.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("tongban-att-\(UUID().uuidString)").path
        config.attachmentMaxBytes = 2048
        try await withTestApp(demo: true, config: config) { app in
            let citizen = try await app.login("demo-citizen")
            let id = try await draft(app, citizen)
            // Not an allowed type, whatever the name says.
            let (type, typeProblem) = try await app.upload(id, token: citizen, file: Data("MZ\u{90}\0 executable".utf8), filename: "scan.pdf")
            #expect(type == .unsupportedMediaType)
            #expect(typeProblem["type"]?.stringValue == "/problems/file-type-not-allowed")
            // A ZIP is accepted only as OFD.
            let (zip, _) = try await app.upload(id, token: citizen, file: Data([0x50, 0x4B, 0x03, 0x04, 1, 2, 3]), filename: "a.zip")
            #expect(zip == .unsupportedMediaType)
            // Over the configured limit.
            var big = Self.pdf
            big.append(Data(repeating: 0x20, count: 4096))
            let (size, sizeProblem) = try await app.upload(id, token: citizen, file: big, filename: "big.pdf")
            #expect(size == .payloadTooLarge)
            #expect(sizeProblem["type"]?.stringValue == "/problems/file-too-large")
            // Empty file, unknown material.
            let (empty, emptyProblem) = try await app.upload(id, token: citizen, file: Data(), filename: "empty.pdf")
            #expect(empty == .unprocessableEntity)
            #expect(emptyProblem["errors"].map { "\($0)" }?.contains("file") == true)
            let (material, materialProblem) = try await app.upload(
                id, token: citizen, file: Self.pdf, filename: "x.pdf", fields: ["material": "不存在的材料"])
            #expect(material == .unprocessableEntity)
            #expect(materialProblem["errors"].map { "\($0)" }?.contains("material") == true)
            // JSON instead of multipart.
            let (json, _) = try await app.json(.POST, "/api/v1/applications/\(id)/attachments", token: citizen, body: ["file": "x"])
            #expect(json == .unsupportedMediaType)
            // Someone else's application.
            let other = try await app.login("demo-enterprise")
            let (foreign, _) = try await app.upload(id, token: other, file: Self.pdf, filename: "x.pdf")
            #expect(foreign == .notFound)
            // Nothing was stored by any of these.
            let (_, list) = try await app.json(.GET, "/api/v1/applications/\(id)/attachments", token: citizen)
            if case .array(let items)? = list["items"] { #expect(items.isEmpty) } else { Issue.record("no list") }
            let blobs = (FileManager.default.enumerator(atPath: config.dataDirectory + "/attachments")?.allObjects as? [String]) ?? []
            #expect(blobs.filter { $0.count == 67 }.isEmpty)
            // A good PNG still goes in; the same bytes twice are stored once; a draft's file can be removed.
            let (first, stored) = try await app.upload(id, token: citizen, file: Self.png, filename: "现场.png")
            #expect(first == .created)
            let (second, _) = try await app.upload(id, token: citizen, file: Self.png, filename: "again.png")
            #expect(second == .created)
            let files = ((FileManager.default.enumerator(atPath: config.dataDirectory + "/attachments")?.allObjects as? [String]) ?? [])
                .filter { $0.hasSuffix(BlobStore.digest(Self.png)) }
            #expect(files.count == 1)
            let attachment = try #require(stored["id"]?.stringValue)
            let (removed, _) = try await app.json(.DELETE, "/api/v1/applications/\(id)/attachments/\(attachment)", token: citizen)
            #expect(removed == .noContent)
            try? FileManager.default.removeItem(atPath: config.dataDirectory)
        }
    }

    @Test func tamperedFile_isNotServed() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let id = try await draft(app, citizen)
            let (_, stored) = try await app.upload(id, token: citizen, file: Self.pdf, filename: "a.pdf")
            let digest = BlobStore.digest(Self.pdf)
            let path = app.tongbanConfig.dataDirectory + "/attachments/\(digest.prefix(2))/\(digest)"
            try Data("%PDF-changed".utf8).write(to: URL(fileURLWithPath: path))
            let attachment = try #require(stored["id"]?.stringValue)
            let res = try await app.testing().sendRequest(.GET, "/api/v1/attachments/\(attachment)", headers: .bearer(citizen))
            #expect(res.status == .gone)
        }
    }
}
