import Fluent
import Foundation
import NIOConcurrencyHelpers
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@testable import Cases

/// A real HTTP server on 127.0.0.1 (a second Vapor application) that serves the media the tests link to,
/// counting the requests each path received.
final class MediaServer: Sendable {
    let app: Application
    let port: Int
    let hits: NIOLockedValueBox<[String: Int]>
    /// The Host header of the last request.
    let lastHost: NIOLockedValueBox<String?>

    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0x42, count: 120)

    private init(app: Application, port: Int, hits: NIOLockedValueBox<[String: Int]>, lastHost: NIOLockedValueBox<String?>) {
        self.app = app
        self.port = port
        self.hits = hits
        self.lastHost = lastHost
    }

    static func start(host: String = "127.0.0.1") async throws -> MediaServer {
        let app = try await Application.make(.testing)
        app.logger.logLevel = .error
        let hits = NIOLockedValueBox<[String: Int]>([:])
        let lastHost = NIOLockedValueBox<String?>(nil)
        @Sendable func count(_ req: Request) {
            hits.withLockedValue { $0[req.url.path, default: 0] += 1 }
            lastHost.withLockedValue { $0 = req.headers.first(name: .host) }
        }
        @Sendable func image(_ bytes: [UInt8], type: String = "image/png") -> Response {
            var headers = HTTPHeaders()
            headers.add(name: .contentType, value: type)
            return Response(status: .ok, headers: headers, body: .init(data: Data(bytes)))
        }
        app.get("photo.png") { req -> Response in count(req); return image(png) }
        app.get("page.html") { req -> Response in count(req); return image(Array("<html><body>hi</body></html>".utf8), type: "text/html") }
        app.get("fake.png") { req -> Response in count(req); return image(Array("hello, not a picture".utf8)) }
        app.get("big.png") { req -> Response in count(req); return image(png + Array(repeating: 0x42, count: 200 * 1024)) }
        app.get("moved") { req -> Response in count(req); return req.redirect(to: "/photo.png") }
        app.get("slow.png") { req async throws -> Response in
            count(req)
            try await Task.sleep(nanoseconds: 4_000_000_000)
            return image(png)
        }
        app.get("missing.png") { req -> Response in count(req); return Response(status: .notFound) }
        do {
            try await app.server.start(address: .hostname(host, port: 0))
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
        guard let port = app.http.server.shared.localAddress?.port else { throw Abort(.internalServerError, reason: "no port") }
        return MediaServer(app: app, port: port, hits: hits, lastHost: lastHost)
    }

    func hitCount(_ path: String) -> Int { hits.withLockedValue { $0[path] ?? 0 } }

    func stop() async throws {
        await app.server.shutdown()
        try await app.asyncShutdown()
    }
}

@Suite("Cases: fetching Open311 media_url")
struct CaseMediaFetchTests {
    /// Files an Open311 request with `media_url` at a point of its own; returns the case id.
    func file(_ app: Application, _ media: String, lat: Double) async throws -> UUID {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let form = [
            ("api_key", "demo-open311-key"), ("service_code", "environment"), ("lat", String(lat)), ("long", "113.15"),
            ("description", "Smoke from a chimney"), ("media_url", media),
        ].map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        let res = try await app.testing().sendRequest(
            .POST, "/open311/v2/requests.json", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: ByteBuffer(string: form))
        #expect(res.status == .created)
        let body = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null
        let number = try #require(body.items.first?["service_request_id"]?.string)
        let record = try #require(try await CaseRecord.query(on: app.db).filter(\.$number == number).first())
        return try record.requireID()
    }

    /// The media events of a case (action, comment), through the API as the handling department.
    func mediaEvents(_ app: Application, _ id: UUID, token: String) async throws -> [(String, String)] {
        let (status, body, _) = try await app.send(.GET, "/api/v1/cases/\(id.uuidString.lowercased())", token: token)
        #expect(status == .ok)
        return body["timeline"]?.items.compactMap { event in
            guard let action = event["action"]?.string, action.hasPrefix("media_") else { return nil }
            return (action, event["comment"]?.string ?? "")
        } ?? []
    }

    @Test func mediaURL_fetchedInTheBackground_storedAsAttachment_badMediaRecordedOnTheTimeline() async throws {
        let server = try await MediaServer.start()
        do {
            try await withTestApp(demo: true) { app in
                app.casesConfig.mediaAllowPrivate = true  // the test server is on loopback
                app.casesConfig.mediaMaxBytes = 64 * 1024
                app.casesConfig.mediaTimeoutSeconds = 1.5
                let env = try await app.login("demo-env")
                let base = "http://127.0.0.1:\(server.port)"
                let good = try await file(app, base + "/photo.png", lat: 23.01)
                let html = try await file(app, base + "/page.html", lat: 23.02)
                let fake = try await file(app, base + "/fake.png", lat: 23.03)
                let big = try await file(app, base + "/big.png", lat: 23.04)
                let moved = try await file(app, base + "/moved", lat: 23.05)
                let slow = try await file(app, base + "/slow.png", lat: 23.06)
                let missing = try await file(app, base + "/missing.png", lat: 23.07)
                // Nothing is fetched while the request is answered.
                #expect(server.hitCount("/photo.png") == 0)
                var ran = 0
                for _ in 0..<5 where ran < 7 { ran += try await app.jobs.runOnce(app: app, limit: 20) }
                #expect(ran == 7)

                // The image: stored (type checked by its bytes), listed, downloadable, on the timeline.
                var events = try await mediaEvents(app, good, token: env)
                #expect(events.map(\.0) == ["media_fetched"])
                #expect(events.first?.1 == "photo.png")
                let (status, files, _) = try await app.send(.GET, "/api/v1/cases/\(good.uuidString.lowercased())/attachments", token: env)
                #expect(status == .ok)
                let stored = try #require(files["items"]?.items.first { $0["url"] == nil || $0["url"] == .null })
                #expect(stored["contentType"]?.string == "image/png")
                #expect(stored["size"]?.number == Double(MediaServer.png.count))
                #expect(files["items"]?.items.contains { $0["url"]?.string == base + "/photo.png" } == true)  // the link stays
                let download = try #require(stored["downloadUrl"]?.string)
                let res = try await app.testing().sendRequest(.GET, download, headers: ["Authorization": "Bearer \(env)"])
                #expect(res.status == .ok)
                #expect(Array(Data(buffer: res.body)) == MediaServer.png)

                // Each refusal is named on the timeline; nothing is stored.
                func failed(_ id: UUID, _ text: String) async throws {
                    let events = try await mediaEvents(app, id, token: env)
                    #expect(events.map(\.0) == ["media_failed"], "\(text): \(events)")
                    #expect(events.first?.1.contains(text) == true, "\(text): \(events)")
                    let (_, files, _) = try await app.send(.GET, "/api/v1/cases/\(id.uuidString.lowercased())/attachments", token: env)
                    #expect(files["items"]?.items.allSatisfy { $0["url"]?.string != nil } == true)
                }
                try await failed(html, "not an image")
                try await failed(fake, "not a PNG, JPEG, GIF or WebP image")
                try await failed(big, "larger than 64 KiB")
                try await failed(moved, "HTTP 303")
                try await failed(slow, "no answer within 1.5 seconds")
                try await failed(missing, "HTTP 404")
                // The redirect was not followed.
                #expect(server.hitCount("/photo.png") == 1)

                // The case page shows the fetch in the timeline.
                let browser = PageBrowser(app)
                try await browser.login("demo-env")
                _ = try await browser.get("/cases/\(good.uuidString.lowercased())")
                #expect(browser.lastBody.contains("已获取反映人提供的照片"))

                // Without the setting, loopback and private addresses are refused before any connection.
                app.casesConfig.mediaAllowPrivate = false
                let local = try await file(app, base + "/photo.png", lat: 23.08)
                let named = try await file(app, "http://localhost:\(server.port)/photo.png", lat: 23.09)
                let metadata = try await file(app, "http://169.254.169.254/latest/meta-data/", lat: 23.095)
                ran = try await app.jobs.runOnce(app: app, limit: 20)
                #expect(ran == 3)
                try await failed(local, "private or special address")
                try await failed(named, "private or special address")
                try await failed(metadata, "private or special address")
                #expect(server.hitCount("/photo.png") == 1)
                events = try await mediaEvents(app, local, token: env)
                #expect(events.first?.1.contains("127.0.0.1") == true)
            }
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }

    /// Whether this machine can listen on the IPv6 loopback address (containers often have IPv6 off).
    static let ipv6Loopback: Bool = {
        #if os(Linux)
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET6, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
        }
    }()

    @Test func ipv6LiteralURL_refusedAsLoopbackByDefault() async throws {
        try await withTestApp(demo: true) { app in
            app.casesConfig.mediaAllowPrivate = false
            app.casesConfig.mediaTimeoutSeconds = 1.5
            let env = try await app.login("demo-env")
            // Refused before any connection, so no server is needed (port 9, discard).
            let loopback = try await file(app, "http://[::1]:9/photo.png", lat: 23.011)
            let mapped = try await file(app, "http://[::ffff:127.0.0.1]/photo.png", lat: 23.012)
            let ran = try await app.jobs.runOnce(app: app, limit: 20)
            #expect(ran == 2)
            for id in [loopback, mapped] {
                let events = try await mediaEvents(app, id, token: env)
                #expect(events.map(\.0) == ["media_failed"])
                #expect(events.first?.1.contains("private or special address") == true, "\(events)")
            }
            #expect(try await mediaEvents(app, loopback, token: env).first?.1.contains("0:0:0:0:0:0:0:1") == true)
        }
    }

    @Test(.enabled(if: CaseMediaFetchTests.ipv6Loopback, "this machine cannot listen on ::1"))
    func ipv6LiteralURL_fetchedFromAServerOnTheIPv6LoopbackWhenPrivateAddressesAreAllowed() async throws {
        let server = try await MediaServer.start(host: "::1")
        do {
            try await withTestApp(demo: true) { app in
                app.casesConfig.mediaAllowPrivate = true
                app.casesConfig.mediaTimeoutSeconds = 5
                let env = try await app.login("demo-env")
                let url = "http://[::1]:\(server.port)/photo.png?size=small"
                let id = try await file(app, url, lat: 23.013)
                let ran = try await app.jobs.runOnce(app: app, limit: 20)
                #expect(ran == 1)
                let events = try await mediaEvents(app, id, token: env)
                #expect(events.map(\.0) == ["media_fetched"], "\(events)")
                #expect(events.first?.1 == "photo.png")
                #expect(server.hitCount("/photo.png") == 1)
                #expect(server.lastHost.withLockedValue { $0 } == "[::1]:\(server.port)")
            }
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }

    @Test func addressRanges_privateAndSpecialAreNotPublic() {
        func v4(_ text: String) -> [UInt8] { text.split(separator: ".").map { UInt8($0)! } }
        for address in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255"] {
            #expect(!CaseMediaFetch.isPublic(v4(address)), "\(address)")
        }
        for address in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "113.108.81.189"] {
            #expect(CaseMediaFetch.isPublic(v4(address)), "\(address)")
        }
        var loopback6 = [UInt8](repeating: 0, count: 16)
        loopback6[15] = 1
        #expect(!CaseMediaFetch.isPublic(loopback6))
        let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 1]
        #expect(!CaseMediaFetch.isPublic(mapped))
        let mappedPublic: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF, 8, 8, 8, 8]
        #expect(CaseMediaFetch.isPublic(mappedPublic))
        #expect(!CaseMediaFetch.isPublic([0xFD, 0x12] + Array(repeating: 0, count: 14)))
        #expect(!CaseMediaFetch.isPublic([0xFE, 0x80] + Array(repeating: 0, count: 14)))
        #expect(CaseMediaFetch.isPublic([0x24, 0x00, 0x32, 0x00] + Array(repeating: 0, count: 11) + [1]))
        #expect(CaseMediaFetch.format(loopback6) == "0:0:0:0:0:0:0:1")
    }
}
