import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

/// A multipart/form-data body with one file and optional text fields.
enum CaseMultipart {
    static let boundary = "tongban-cases-boundary-41c2"

    static func body(file: Data, filename: String, contentType: String = "application/octet-stream", fields: [(String, String)] = [])
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

    static var contentType: String { "multipart/form-data; boundary=\(boundary)" }
}

extension Application {
    func uploadCaseFile(_ id: String, token: String, file: Data, filename: String) async throws -> (HTTPStatus, JSONValue) {
        let res = try await testing().sendRequest(
            .POST, "/api/v1/cases/\(id)/attachments",
            headers: ["Authorization": "Bearer \(token)", "Content-Type": CaseMultipart.contentType],
            body: CaseMultipart.body(file: file, filename: filename))
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .string(String(buffer: res.body))
        return (res.status, value)
    }
}

@Suite("Cases: photos and files as evidence")
struct CaseAttachmentTests {
    /// A PNG signature and 64 bytes; SHA-256 computed independently (Python hashlib).
    static let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0x07, count: 64))
    static let pngSHA256 = "6501711a91fb5e462a4dc97d7a07a574a37405d07b4b0d59d626908296aee2a2"
    static let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0x01, count: 60))
    static let jpegSHA256 = "00f4dccee0bbb4821da376f53b5d9514680dab1900c99d303fce329a5357f2e3"

    @Test func reporterAndStaffAttachPhotos_onlyTheyDownload_feedbackCitesThem_closedCasesTakeNoMore() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let grid = try await app.login("demo-grid")
            let community = try await app.login("demo-community")
            // Staff of a department elsewhere (Jinan): neither handling nor supervising this case.
            let outsider = try await app.login("demo-clerk")
            let created = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.005, lon: 113.105)
            let id = try #require(created["id"]?.string)

            // The reporter adds a photo: SHA-256 recorded, in the timeline.
            var (status, body) = try await app.uploadCaseFile(id, token: citizen, file: Self.png, filename: "../现场照片.png")
            #expect(status == .created)
            #expect(body["sha256"]?.string == Self.pngSHA256)
            #expect(body["filename"]?.string == "现场照片.png")
            #expect(body["contentType"]?.string == "image/png")
            #expect(body["purpose"]?.string == "report")
            let photo = try #require(body["id"]?.string)
            let download = try #require(body["downloadUrl"]?.string)
            var (_, shown, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: citizen)
            let attach = shown["timeline"]?.items.last
            #expect(attach?["action"]?.string == "attach")
            #expect(attach?["details"]?["sha256"]?.string == Self.pngSHA256)
            #expect(attach?["actor"]?.string == "demo-citizen")

            // Bad uploads: not an allowed type, not multipart, no file, a non-member of the case.
            (status, body) = try await app.uploadCaseFile(id, token: citizen, file: Data("hello".utf8), filename: "a.txt")
            #expect(status == .unsupportedMediaType)
            #expect(body["type"]?.string == "/problems/file-type-not-allowed")
            let (plain, _, _) = try await app.send(.POST, "/api/v1/cases/\(id)/attachments", token: citizen, json: ["file": "x"])
            #expect(plain == .unsupportedMediaType)
            (status, _) = try await app.uploadCaseFile(id, token: citizen, file: Data(), filename: "empty.png")
            #expect(status == .unprocessableEntity)
            (status, _) = try await app.uploadCaseFile(id, token: outsider, file: Self.png, filename: "x.png")
            #expect(status == .notFound)
            var config = app.tongbanConfig
            let limit = config.attachmentMaxBytes
            config.attachmentMaxBytes = 32
            app.tongbanConfig = config
            (status, body) = try await app.uploadCaseFile(id, token: citizen, file: Self.png, filename: "big.png")
            #expect(status == .payloadTooLarge)
            config.attachmentMaxBytes = limit
            app.tongbanConfig = config

            // Download: the reporter and the handling staff; anyone else 404.
            var res = try await app.testing().sendRequest(.GET, download, headers: ["Authorization": "Bearer \(citizen)"])
            #expect(res.status == .ok)
            #expect(Data(buffer: res.body) == Self.png)
            #expect(res.headers.first(name: .contentType) == "image/png")
            #expect(res.headers.first(name: .eTag) == "\"\(Self.pngSHA256)\"")
            res = try await app.testing().sendRequest(.GET, download, headers: ["Authorization": "Bearer \(grid)"])
            #expect(res.status == .ok)
            res = try await app.testing().sendRequest(.GET, download, headers: ["Authorization": "Bearer \(outsider)"])
            #expect(res.status == .notFound)
            res = try await app.testing().sendRequest(.GET, "/api/v1/cases/\(id)/attachments/\(UUID())", headers: ["Authorization": "Bearer \(citizen)"])
            #expect(res.status == .notFound)
            res = try await app.testing().sendRequest(.GET, "/api/v1/cases/\(id)/attachments/not-a-uuid", headers: ["Authorization": "Bearer \(citizen)"])
            #expect(res.status == .notFound)
            res = try await app.testing().sendRequest(.GET, download)
            #expect(res.status == .unauthorized)

            // Staff evidence with the feedback: the attachment id is checked against the case.
            var (acted, _) = try await app.act(id, "accept", token: grid)
            #expect(acted == .ok)
            (status, body) = try await app.uploadCaseFile(id, token: grid, file: Self.jpeg, filename: "处理后.jpg")
            #expect(status == .created)
            #expect(body["purpose"]?.string == "handling")
            #expect(body["sha256"]?.string == Self.jpegSHA256)
            let after = try #require(body["id"]?.string)
            var result: JSONValue
            (acted, result) = try await app.act(id, "feedback", token: grid, ["comment": "已清运", "evidence": [.string(UUID().uuidString)]])
            #expect(acted == .unprocessableEntity)
            #expect(result["errors"]?.items.first?["field"]?.string == "evidence[0]")
            (acted, _) = try await app.act(id, "feedback", token: grid, ["comment": "已清运", "evidence": [.string(after)]])
            #expect(acted == .ok)
            var (listed, list, _) = try await app.send(.GET, "/api/v1/cases/\(id)/attachments", token: citizen)
            #expect(listed == .ok)
            #expect(list["items"]?.items.compactMap { $0["id"]?.string } == [photo, after])
            (listed, _, _) = try await app.send(.GET, "/api/v1/cases/\(id)/attachments", token: outsider)
            #expect(listed == .notFound)

            // Closed: no more files.
            (acted, _) = try await app.act(id, "close", token: community)
            #expect(acted == .ok)
            (status, body) = try await app.uploadCaseFile(id, token: citizen, file: Self.png, filename: "late.png")
            #expect(status == .conflict)
            #expect(body["type"]?.string == "/problems/case-closed")
            (_, shown, _) = try await app.send(.GET, "/api/v1/cases/\(id)", token: citizen)
            #expect(shown["timeline"]?.items.filter { $0["action"]?.string == "attach" }.count == 2)
        }
    }

    @Test func casePage_listsFiles_uploadsWithCSRF_downloadsForTheReporter() async throws {
        try await withTestApp(demo: true) { app in
            let token = try await app.login("demo-citizen")
            let created = try await app.fileCase(token: token, category: "road", lat: 23.02, lon: 113.12)
            let id = try #require(created["id"]?.string).lowercased()
            let citizen = PageBrowser(app)
            try await citizen.login("demo-citizen")
            try await citizen.get("/cases/\(id)")
            #expect(citizen.lastBody.contains(#"enctype="multipart/form-data""#))
            #expect(citizen.lastBody.contains("暂无照片或附件"))
            // Without the CSRF token: refused.
            var res = try await app.testing().sendRequest(
                .POST, "/cases/\(id)/attachments", headers: ["Cookie": citizen.cookieHeader, "Content-Type": CaseMultipart.contentType],
                body: CaseMultipart.body(file: CaseAttachmentTests.png, filename: "坑.png"))
            #expect(res.status == .forbidden)
            res = try await app.testing().sendRequest(
                .POST, "/cases/\(id)/attachments", headers: ["Cookie": citizen.cookieHeader, "Content-Type": CaseMultipart.contentType],
                body: CaseMultipart.body(file: CaseAttachmentTests.png, filename: "坑.png", fields: [("_csrf", citizen.csrf)]))
            #expect(res.status == .seeOther)
            try await citizen.get("/cases/\(id)")
            #expect(citizen.lastBody.contains("已上传：坑.png"))
            #expect(citizen.lastBody.contains(CaseAttachmentTests.pngSHA256))
            let marker = "/cases/\(id)/attachments/"
            let start = try #require(citizen.lastBody.range(of: marker))
            let link = marker + citizen.lastBody[start.upperBound...].prefix(36)
            res = try await citizen.get(String(link))
            #expect(res.status == .ok)
            #expect(Data(buffer: res.body) == CaseAttachmentTests.png)
            // A wrong type comes back as a message on the page.
            res = try await app.testing().sendRequest(
                .POST, "/cases/\(id)/attachments", headers: ["Cookie": citizen.cookieHeader, "Content-Type": CaseMultipart.contentType],
                body: CaseMultipart.body(file: Data("text".utf8), filename: "a.txt", fields: [("_csrf", citizen.csrf)]))
            #expect(res.status == .seeOther)
            try await citizen.get("/cases/\(id)")
            #expect(citizen.lastBody.contains(#"class="flash error""#))
            // Staff who handle it see the file; others cannot open it.
            let other = PageBrowser(app)
            try await other.login("demo-env")
            res = try await other.get(String(link))
            #expect(res.status == .notFound)
        }
    }

    @Test func open311MediaURL_isKeptAndPublished_badURLRefused() async throws {
        try await withTestApp(demo: true) { app in
            func post(_ form: String) async throws -> (HTTPStatus, JSONValue) {
                let res = try await app.testing().sendRequest(
                    .POST, "/open311/v2/requests.json", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: form))
                return (res.status, (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null)
            }
            var (status, body) = try await post(
                "api_key=demo-open311-key&service_code=road&lat=23.03&long=113.16&description=pothole&media_url=https%3A%2F%2Fexample.org%2Fphotos%2Fpothole.jpg")
            #expect(status == .created)
            let number = try #require(body.items.first?["service_request_id"]?.string)
            let res = try await app.testing().sendRequest(.GET, "/open311/v2/requests/\(number).json")
            let shown = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null
            #expect(shown.items.first?["media_url"]?.string == "https://example.org/photos/pothole.jpg")
            (status, body) = try await post("api_key=demo-open311-key&service_code=road&lat=23.03&long=113.17&media_url=javascript%3Aalert(1)")
            #expect(status == .badRequest)
            #expect(body.items.first?["description"]?.string?.contains("media_url") == true)
        }
    }
}
