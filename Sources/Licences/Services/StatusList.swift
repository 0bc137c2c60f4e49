import CZlib
import Fluent
import Foundation
import Identity
import SQLKit
import TongbanCore
import Vapor

/// GZIP (RFC 1952) through the system zlib.
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public static func compress(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip wrapper.
        guard deflateInit2_(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        var source = input
        let status = source.withUnsafeMutableBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = src.baseAddress
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw Failure(description: "deflate failed (\(status))") }
        return Array(output.prefix(Int(stream.total_out)))
    }

    /// Decompresses at most `limit` bytes (a larger output is refused: a zip bomb is not a status list).
    public static func decompress(_ input: [UInt8], limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: limit + 1)
        var source = input
        let status = source.withUnsafeMutableBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = src.baseAddress
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                return inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) <= limit else {
            throw Failure(description: status == Z_STREAM_END ? "larger than \(limit) bytes" : "not gzip data (\(status))")
        }
        return Array(output.prefix(Int(stream.total_out)))
    }
}

/// A W3C Bitstring Status List (v1.0) credential, one per issuing department and purpose, secured as a
/// compact JWS (`typ` statuslist+jwt) with the department's signing key. Bit `i` (most significant bit of
/// byte 0 is index 0) is 1 when the licence with status index `i` is revoked (or suspended).
public struct StatusListCredential: Codable, Sendable, Equatable {
    public struct Subject: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
        public var statusPurpose: String
        /// Multibase base64url (`u` prefix, no padding) of the GZIP-compressed bitstring.
        public var encodedList: String
    }

    public var context: [String]
    public var id: String
    public var type: [String]
    /// The issuing department's code.
    public var issuer: String
    public var validFrom: Date
    public var validUntil: Date
    public var credentialSubject: Subject

    enum CodingKeys: String, CodingKey {
        case context = "@context"
        case id, type, issuer, validFrom, validUntil, credentialSubject
    }

    public static let purposes = ["revocation", "suspension"]
    /// 131,072 bits (16 KiB), the specification's minimum, so that a list does not reveal how many licences exist.
    public static let minimumBits = 131_072
    public static let tokenType = "statuslist+jwt"

    public static func encode(bits: [UInt8]) throws -> String {
        "u" + Base64URL.encode(try Gzip.compress(bits))
    }

    /// The bitstring, decompressed (at most 16 MiB).
    public func bitstring() throws -> [UInt8] {
        let text = credentialSubject.encodedList
        guard text.hasPrefix("u"), let compressed = Base64URL.decode(text.dropFirst()) else {
            throw Gzip.Failure(description: "encodedList is not multibase base64url")
        }
        return try Gzip.decompress(Array(compressed), limit: 16 << 20)
    }

    public static func bit(_ bits: [UInt8], _ index: Int) -> Bool? {
        guard index >= 0, index / 8 < bits.count else { return nil }
        return bits[index / 8] & (0x80 >> UInt8(index % 8)) != 0
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// Verifies a status list token against the trust list's keys and checks that it belongs to `issuer`,
    /// has `purpose` and is still current.
    public static func verify(_ token: String, keys: [String: VerificationKey], issuer: String, now: Date) throws -> StatusListCredential {
        let verified: CompactJWS.Verified
        do {
            verified = try CompactJWS.verify(token, lookup: { keys[$0] })
        } catch {
            throw Gzip.Failure(description: "status list signature: \(error)")
        }
        guard verified.type == tokenType, let list = try? decoder.decode(StatusListCredential.self, from: verified.payload) else {
            throw Gzip.Failure(description: "not a status list credential")
        }
        guard list.issuer == issuer, verified.kid.hasPrefix(issuer + "#") else {
            throw Gzip.Failure(description: "status list of \(list.issuer), not of \(issuer)")
        }
        guard list.validUntil > now else { throw Gzip.Failure(description: "status list expired at \(list.validUntil)") }
        return list
    }
}

/// Status indices (one counter per department) and the department status lists.
public struct StatusLists: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    /// Reserves `count` consecutive indices for `department`; returns the first. Gaps (a failed issuance)
    /// only leave bits that are never set.
    public static func allocate(department: UUID, count: Int, on db: any Database) async throws -> Int {
        try await db.writeTransaction { tx in
            let sql = tx as! any SQLDatabase
            // One upsert creates the counter at `count` or advances it, and returns the new end.
            let next = try await sql.raw(SQLQueryString(
                "INSERT INTO licences_status_counters (department_id, next_index) VALUES (\(bind: department), \(bind: count)) ON CONFLICT (department_id) DO UPDATE SET next_index = licences_status_counters.next_index + \(bind: count) RETURNING next_index"
            )).first()?.decode(column: "next_index", as: Int.self) ?? count
            return next - count
        }
    }

    public static func url(baseURL: String, department: String, purpose: String) -> String {
        "\(baseURL)/api/v1/licences/status/\(department)/\(purpose)"
    }

    /// The signed list for `department` and `purpose` ("revocation" or "suspension"), valid for a day.
    public func credential(department code: String, purpose: String, baseURL: String) async throws -> String {
        guard StatusListCredential.purposes.contains(purpose) else {
            throw Problem.notFound("Status list", type: "/problems/status-list-not-found")
        }
        guard let department = try await DirectoryService(db: db).department(code: code) else {
            throw Problem.notFound("Status list", type: "/problems/status-list-not-found")
        }
        let status: LicenceStatus = purpose == "revocation" ? .revoked : .suspended
        let indices = try await Licence.query(on: db).filter(\.$departmentID == department.id).filter(\.$status == status)
            .filter(\.$statusIndex != nil).all(\.$statusIndex).compactMap { $0 }
        let highest = indices.max() ?? 0
        var bits = [UInt8](repeating: 0, count: max(StatusListCredential.minimumBits, highest + 1 + 7) / 8)
        for index in indices where index >= 0 { bits[index / 8] |= 0x80 >> UInt8(index % 8) }
        let now = app.clock.now()
        let url = Self.url(baseURL: baseURL, department: code, purpose: purpose)
        let list = StatusListCredential(
            context: ["https://www.w3.org/ns/credentials/v2"], id: url, type: ["VerifiableCredential", "BitstringStatusListCredential"],
            issuer: code, validFrom: now, validUntil: now.addingTimeInterval(86400),
            credentialSubject: .init(id: url + "#list", type: "BitstringStatusList", statusPurpose: purpose,
                                     encodedList: try StatusListCredential.encode(bits: bits)))
        let signer = try await SigningKeyService(db: db, vault: app.keyVault, clock: app.clock).activeKey(department: department)
        return try CompactJWS.sign(payload: try StatusListCredential.encoder.encode(list), key: signer, type: StatusListCredential.tokenType)
    }
}
