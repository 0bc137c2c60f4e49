import Crypto
import Foundation
import Vapor

/// Encrypts secrets at rest (department signing keys, log keys) with a 256-bit master key, AES-256-GCM.
///
/// The master key comes from `TONGBAN_MASTER_KEY` (base64 or hex of 32 bytes) or the file named by
/// `TONGBAN_MASTER_KEY_FILE`; without either, a development key is created once in
/// `<data dir>/master.key` (mode 0600). Sealed values carry the purpose as authenticated data, so a
/// sealed licence key cannot be passed off as another kind of secret.
public struct KeyVault: Sendable {
    let key: SymmetricKey

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public init(masterKey: Data) throws {
        guard masterKey.count == 32 else { throw Failure(description: "the master key must be 32 bytes") }
        key = SymmetricKey(data: masterKey)
    }

    /// The vault for this environment (see the type's documentation).
    public static func load(environment: [String: String], dataDirectory: String) throws -> KeyVault {
        if let raw = environment["TONGBAN_MASTER_KEY"], !raw.isEmpty {
            return try KeyVault(masterKey: try decodeKey(raw, source: "TONGBAN_MASTER_KEY"))
        }
        let path = environment["TONGBAN_MASTER_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: dataDirectory).appendingPathComponent("master.key").path
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            return try KeyVault(masterKey: try decodeKey(text.trimmingCharacters(in: .whitespacesAndNewlines), source: path))
        }
        guard environment["TONGBAN_MASTER_KEY_FILE"] == nil else {
            throw Failure(description: "TONGBAN_MASTER_KEY_FILE: cannot read \(path)")
        }
        let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((fresh.base64EncodedString() + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard created else { throw Failure(description: "cannot create the development master key at \(path)") }
        return try KeyVault(masterKey: fresh)
    }

    static func decodeKey(_ raw: String, source: String) throws -> Data {
        if raw.count == 64, let hex = Data(hexString: raw) { return hex }
        if let data = Data(base64Encoded: raw), data.count == 32 { return data }
        throw Failure(description: "\(source) must hold 32 bytes as base64 or hex")
    }

    /// `base64(nonce ‖ ciphertext ‖ tag)`.
    public func seal(_ secret: Data, purpose: String) throws -> String {
        let box = try AES.GCM.seal(secret, using: key, authenticating: Data(purpose.utf8))
        guard let combined = box.combined else { throw Failure(description: "sealing failed") }
        return combined.base64EncodedString()
    }

    public func open(_ sealed: String, purpose: String) throws -> Data {
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Data(purpose.utf8))
        else { throw Failure(description: "a sealed secret does not open with this master key") }
        return plain
    }
}

extension Data {
    /// Bytes from lower- or upper-case hex; nil for anything else.
    init?(hexString: String) {
        let chars = Array(hexString.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(chars.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 65...70: c - 55
            case 97...102: c - 87
            default: nil
            }
        }
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        self.init(bytes)
    }
}

extension Application {
    private struct VaultKey: StorageKey { typealias Value = KeyVault }

    /// The key vault, loaded at start-up by ``TongbanApp``.
    public var keyVault: KeyVault {
        get {
            guard let vault = storage[VaultKey.self] else { fatalError("KeyVault used before configuration") }
            return vault
        }
        set { storage[VaultKey.self] = newValue }
    }
}
