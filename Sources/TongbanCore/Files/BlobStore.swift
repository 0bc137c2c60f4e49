import Crypto
import Foundation
import NIOCore
import NIOPosix

/// Content-addressed file storage under the data directory: a blob lives at
/// `<root>/<first two hex digits>/<sha256 hex>`, so the same bytes are stored once and a stored file
/// can be checked against its recorded digest. Writes go to a temporary file that is renamed into place,
/// so a crash never leaves a partial blob under its final name.
public struct BlobStore: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// `<data dir>/<name>`.
    public init(dataDirectory: String, name: String) {
        self.root = URL(fileURLWithPath: dataDirectory).appendingPathComponent(name, isDirectory: true)
    }

    public static func digest(_ data: Data) -> String {
        Hex.sha256(data)
    }

    func url(for digest: String) throws -> URL {
        guard digest.count == 64, digest.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw BlobError.badDigest
        }
        return root.appendingPathComponent(String(digest.prefix(2)), isDirectory: true).appendingPathComponent(digest)
    }

    /// Stores `data` (file I/O on `pool`) and returns its SHA-256 in lower-case hex.
    @discardableResult
    public func put(_ data: Data, on pool: NIOThreadPool) async throws -> String {
        let digest = Self.digest(data)
        let target = try url(for: digest)
        try await pool.runIfActive {
            let manager = FileManager.default
            if manager.fileExists(atPath: target.path) { return }
            try manager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(digest).\(UUID().uuidString).tmp")
            try data.write(to: temporary, options: .atomic)
            do {
                try manager.moveItem(at: temporary, to: target)
            } catch {
                try? manager.removeItem(at: temporary)
                // Another writer stored the same bytes first: that is the same blob.
                guard manager.fileExists(atPath: target.path) else { throw error }
            }
        }
        return digest
    }

    /// The stored bytes, checked against the digest (a changed file is an error, not silently served).
    public func get(_ digest: String, on pool: NIOThreadPool) async throws -> Data {
        let source = try url(for: digest)
        return try await pool.runIfActive {
            guard let data = FileManager.default.contents(atPath: source.path) else { throw BlobError.missing }
            guard Self.digest(data) == digest else { throw BlobError.corrupted }
            return data
        }
    }

    public enum BlobError: Error, CustomStringConvertible {
        case badDigest, missing, corrupted

        public var description: String {
            switch self {
            case .badDigest: "not a SHA-256 hex digest"
            case .missing: "the stored file is missing"
            case .corrupted: "the stored file no longer matches its SHA-256"
            }
        }
    }
}

/// Recognises the file types citizens may upload by their first bytes (the declared type is not trusted).
public enum FileSniffer {
    public struct Kind: Sendable, Equatable {
        public var contentType: String
        public var fileExtension: String
    }

    public static let pdf = Kind(contentType: "application/pdf", fileExtension: "pdf")
    public static let png = Kind(contentType: "image/png", fileExtension: "png")
    public static let jpeg = Kind(contentType: "image/jpeg", fileExtension: "jpg")
    /// OFD (GB/T 33190) is a ZIP container; accepted only under an `.ofd` name.
    public static let ofd = Kind(contentType: "application/ofd", fileExtension: "ofd")

    /// The kind of `data`, or nil for anything else.
    public static func kind(of data: Data, filename: String) -> Kind? {
        let head = [UInt8](data.prefix(8))
        if head.starts(with: Array("%PDF-".utf8)) { return pdf }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return png }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return jpeg }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]), filename.lowercased().hasSuffix(".ofd") { return ofd }
        return nil
    }

    public static var allowedDescription: String { "PDF, PNG, JPEG or OFD" }
}
