import AsyncHTTPClient
import Fluent
import Foundation
import NIOCore
import TongbanCore
import Vapor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fetches an Open311 `media_url` in the background (a persistent job enqueued with the case) and stores
/// the image as the case's attachment. Guarded: only http(s); the host's every address must be public
/// (loopback, private, link-local, CGNAT, multicast and other special ranges are refused unless
/// `TONGBAN_CASES_MEDIA_ALLOW_PRIVATE` allows them); plain-http fetches connect to the checked address
/// (no second DNS answer); redirects are not followed; one deadline for the whole fetch; a byte limit
/// enforced while reading; the content must be a PNG, JPEG, GIF or WebP image by its bytes (and, if the
/// server names a type, an `image/…` type). Every outcome is on the case timeline (`media_fetched` or
/// `media_failed` with the reason); the link attachment stays either way.
enum CaseMediaFetch {
    static let kind = "cases.media-fetch"

    struct Payload: Codable, Sendable {
        var caseID: UUID
        var linkID: UUID
        var url: String
    }

    /// Why a fetch was refused or failed (shown on the timeline).
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func job(caseID: UUID, linkID: UUID, url: String, at: Date) throws -> JobQueue.NewJob {
        try JobQueue.NewJob(
            kind: kind, payload: Payload(caseID: caseID, linkID: linkID, url: url), runAt: at,
            dedupeKey: "cases-media:\(linkID.uuidString.lowercased())", maxAttempts: 1)
    }

    /// The job handler: fetch, then store and record, or record the failure. Database errors propagate.
    static func run(_ job: Job, app: Application) async throws {
        let payload = try JSONDecoder().decode(Payload.self, from: Data(job.payload.utf8))
        guard let record = try await CaseRecord.find(payload.caseID, on: app.db) else { return }
        let config = app.casesConfig
        let result: Result<(Data, ImageKind, String), Failure>
        do {
            let (data, kind) = try await fetch(
                payload.url, allowPrivate: config.mediaAllowPrivate, maxBytes: config.mediaMaxBytes, timeout: config.mediaTimeoutSeconds)
            result = .success((data, kind, filename(for: payload.url, kind: kind)))
        } catch let failure as Failure {
            result = .failure(failure)
        } catch {
            result = .failure(Failure("the fetch failed: \(String(describing: error).prefix(200))"))
        }
        let events = CaseEvents(app: app)
        switch result {
        case .failure(let failure):
            try await app.db.writeTransaction { tx in
                try await events.append(
                    on: tx, caseID: payload.caseID, action: "media_failed", actor: nil, department: nil, from: nil, to: nil,
                    comment: failure.description, details: ["url": String(payload.url.prefix(1000))], at: app.clock.now())
            }
        case .success(let (data, kind, filename)):
            let count = try await CaseAttachment.query(on: app.db).filter(\.$caseID == payload.caseID).count()
            guard count < CaseAttachmentService.perCaseLimit else {
                try await app.db.writeTransaction { tx in
                    try await events.append(
                        on: tx, caseID: payload.caseID, action: "media_failed", actor: nil, department: nil, from: nil, to: nil,
                        comment: "the case already holds \(CaseAttachmentService.perCaseLimit) files",
                        details: ["url": String(payload.url.prefix(1000))], at: app.clock.now())
                }
                return
            }
            let store = BlobStore(dataDirectory: app.tongbanConfig.dataDirectory, name: "cases-files")
            let digest = try await store.put(data, on: app.threadPool)
            let now = app.clock.now()
            try await app.db.writeTransaction { tx in
                let attachment = CaseAttachment()
                attachment.id = UUID()
                attachment.caseID = payload.caseID
                attachment.uploaderID = record.reporterID
                attachment.purpose = "report"
                attachment.filename = filename
                attachment.contentType = kind.contentType
                attachment.size = data.count
                attachment.sha256 = digest
                attachment.createdAt = now
                try await attachment.create(on: tx)
                try await events.append(
                    on: tx, caseID: payload.caseID, action: "media_fetched", actor: nil, department: nil, from: nil, to: nil,
                    comment: filename,
                    details: [
                        "attachment": try attachment.requireID().uuidString.lowercased(), "url": String(payload.url.prefix(1000)),
                        "size": String(data.count), "sha256": digest,
                    ], at: now)
            }
        }
    }

    // MARK: the fetch

    struct ImageKind: Sendable, Equatable {
        var contentType: String
        var fileExtension: String
    }

    /// PNG, JPEG, GIF or WebP by the first bytes; nil for anything else.
    static func imageKind(_ data: Data) -> ImageKind? {
        let head = [UInt8](data.prefix(12))
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return ImageKind(contentType: "image/png", fileExtension: "png") }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return ImageKind(contentType: "image/jpeg", fileExtension: "jpg") }
        if head.starts(with: Array("GIF87a".utf8)) || head.starts(with: Array("GIF89a".utf8)) {
            return ImageKind(contentType: "image/gif", fileExtension: "gif")
        }
        if head.count == 12, head.starts(with: Array("RIFF".utf8)), Array(head[8..<12]) == Array("WEBP".utf8) {
            return ImageKind(contentType: "image/webp", fileExtension: "webp")
        }
        return nil
    }

    /// The stored name: the URL's last path segment (cleaned), with the extension of the detected type.
    static func filename(for url: String, kind: ImageKind) -> String {
        let last = URL(string: url)?.lastPathComponent ?? ""
        var name = CaseAttachmentService.cleanFilename(last.isEmpty || last == "/" ? "media" : last)
        let lower = name.lowercased()
        let known = kind.fileExtension == "jpg" ? [".jpg", ".jpeg"] : [".\(kind.fileExtension)"]
        if !known.contains(where: { lower.hasSuffix($0) }) { name = String(name.prefix(190)) + "." + kind.fileExtension }
        return name
    }

    /// Downloads `text` under the guards; returns the bytes and their image type.
    static func fetch(_ text: String, allowPrivate: Bool, maxBytes: Int, timeout: Double) async throws -> (Data, ImageKind) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            ["http", "https"].contains(scheme), let rawHost = components.host, !rawHost.isEmpty
        else { throw Failure("not an http or https URL") }
        guard components.user == nil, components.password == nil else { throw Failure("URLs with credentials are not fetched") }
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { throw Failure("invalid port") }
        let addresses = try resolve(host)
        guard let first = addresses.first else { throw Failure("\(host) has no address") }
        if !allowPrivate, let blocked = addresses.first(where: { !isPublic($0) }) {
            throw Failure("\(host) resolves to \(format(blocked)), a private or special address; such addresses are not fetched")
        }
        // Plain http connects to the address just checked (the Host header keeps the name); https needs the
        // name for the certificate, so it resolves again (a DNS-rebinding window that the check cannot close).
        // For http the URL is built by hand (the checked address, IPv6 in brackets, the port, the path and query as
        // given), so it does not depend on how a Foundation version treats a bracketed IPv6 `host`.
        var headers = HTTPHeaders()
        var plain = components
        plain.fragment = nil
        guard var url = plain.string else { throw Failure("not an http or https URL") }
        if scheme == "http" {
            let address = first.count == 16 ? "[\(format(first))]" : format(first)
            let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            url = "http://\(address):\(port)\(path)" + (components.percentEncodedQuery.map { "?\($0)" } ?? "")
            // An IPv6 literal keeps its brackets in the Host header (RFC 9110 §7.2).
            let hostName = host.contains(":") ? "[\(host)]" : host
            headers.add(name: "Host", value: components.port.map { "\(hostName):\($0)" } ?? hostName)
        }
        headers.add(name: "User-Agent", value: "Tongban-Open311-media/1")
        headers.add(name: "Accept", value: "image/png, image/jpeg, image/gif, image/webp")
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        // The client's own timeouts are a backstop; the task-group deadline below is the one that applies.
        let limit = TimeAmount.milliseconds(Int64((max(0.1, timeout) + 5) * 1000))
        configuration.timeout = .init(connect: limit, read: limit)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let requestHeaders = headers
        let requestURL = url
        do {
            let result = try await withThrowingTaskGroup(of: (Data, ImageKind)?.self) { group in
                group.addTask { try await download(client, url: requestURL, headers: requestHeaders, maxBytes: maxBytes, timeout: limit) }
                group.addTask {
                    try await Task.sleep(nanoseconds: UInt64(max(0.1, timeout) * 1_000_000_000))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                guard let first else { throw Failure("no answer within \(timeout) seconds") }
                return first
            }
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            if error is Failure { throw error }
            if error is CancellationError { throw Failure("no answer within \(timeout) seconds") }
            throw Failure("the fetch failed: \(String(describing: error).prefix(200))")
        }
    }

    static func download(
        _ client: HTTPClient, url: String, headers: HTTPHeaders, maxBytes: Int, timeout: TimeAmount
    ) async throws -> (Data, ImageKind)? {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers = headers
        let response = try await client.execute(request, timeout: timeout)
        guard response.status == .ok else { throw Failure("the server answered HTTP \(response.status.code)") }
        if let declared = response.headers.first(name: "Content-Type")?.lowercased(), !declared.hasPrefix("image/") {
            throw Failure("not an image (the server says \(declared.prefix(100)))")
        }
        if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > maxBytes {
            throw Failure("larger than \(maxBytes / 1024) KiB")
        }
        var data = Data()
        for try await chunk in response.body {
            guard data.count + chunk.readableBytes <= maxBytes else { throw Failure("larger than \(maxBytes / 1024) KiB") }
            data.append(contentsOf: chunk.readableBytesView)
        }
        guard !data.isEmpty else { throw Failure("the file is empty") }
        guard let kind = imageKind(data) else { throw Failure("not a PNG, JPEG, GIF or WebP image") }
        return (data, kind)
    }

    // MARK: addresses

    /// Every address of `host` (an IP literal or a name), as 4 or 16 bytes.
    static func resolve(_ host: String) throws -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if os(Linux)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let head = list else { throw Failure("\(host) could not be resolved") }
        defer { freeaddrinfo(head) }
        var result: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = head
        while let info = cursor {
            if let address = info.pointee.ai_addr {
                if info.pointee.ai_family == AF_INET {
                    var value = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    result.append(withUnsafeBytes(of: &value) { Array($0) })
                } else if info.pointee.ai_family == AF_INET6 {
                    var value = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    result.append(withUnsafeBytes(of: &value) { Array($0) })
                }
            }
            cursor = info.pointee.ai_next
        }
        var seen = Set<[UInt8]>()
        return result.filter { seen.insert($0).inserted }
    }

    /// False for loopback, private, link-local, shared (CGNAT), multicast, documentation/benchmark and other
    /// special-purpose ranges (IPv4 and IPv6, including IPv4-mapped and NAT64 forms).
    static func isPublic(_ bytes: [UInt8]) -> Bool {
        if bytes.count == 4 {
            let (a, b, c) = (bytes[0], bytes[1], bytes[2])
            switch a {
            case 0, 10, 127: return false
            case 100 where (64...127).contains(b): return false
            case 169 where b == 254: return false
            case 172 where (16...31).contains(b): return false
            case 192 where b == 168: return false
            case 192 where b == 0 && (c == 0 || c == 2): return false
            case 198 where b == 18 || b == 19: return false
            case 198 where b == 51 && c == 100: return false
            case 203 where b == 0 && c == 113: return false
            case 224...255: return false
            default: return true
            }
        }
        guard bytes.count == 16 else { return false }
        if bytes.allSatisfy({ $0 == 0 }) { return false }  // ::
        if bytes.prefix(15).allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return false }  // ::1
        if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return isPublic(Array(bytes[12...])) }
        if bytes.prefix(12) == [0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] { return isPublic(Array(bytes[12...])) }
        if bytes.prefix(12).allSatisfy({ $0 == 0 }) { return false }  // IPv4-compatible (deprecated)
        if bytes[0] & 0xFE == 0xFC { return false }  // fc00::/7 unique local
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return false }  // fe80::/10 link-local
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0xC0 { return false }  // fec0::/10 site-local
        if bytes[0] == 0xFF { return false }  // multicast
        if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8 { return false }  // documentation
        return true
    }

    static func format(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for index in stride(from: 0, to: bytes.count - 1, by: 2) {
            groups.append(String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16))
        }
        return groups.joined(separator: ":")
    }
}
