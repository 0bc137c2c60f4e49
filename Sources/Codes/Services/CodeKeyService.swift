import Fluent
import Foundation
import NIOConcurrencyHelpers
import TongbanCore
import Vapor

/// The platform's code-signing keys in memory: the active signer and every verification key by kid.
/// Refreshed from the database when a kid is missing (at most once a second) and every minute.
public final class CodeKeyCache: Sendable {
    struct State {
        var signer: SigningKeyMaterial?
        var keys: [String: VerificationKey] = [:]
        var loadedAt: Date = .distantPast
    }

    let state = NIOLockedValueBox(State())

    public init() {}

    var signer: SigningKeyMaterial? { state.withLockedValue { $0.signer } }

    func keys(now: Date) -> [String: VerificationKey]? {
        state.withLockedValue { now.timeIntervalSince($0.loadedAt) < 60 && !$0.keys.isEmpty ? $0.keys : nil }
    }

    func store(keys: [String: VerificationKey], signer: SigningKeyMaterial?, now: Date) {
        state.withLockedValue {
            $0.keys = keys
            if let signer { $0.signer = signer }
            $0.loadedAt = now
        }
    }

    func loadedAt() -> Date { state.withLockedValue { $0.loadedAt } }

    func clear() { state.withLockedValue { $0 = State() } }
}

extension Application {
    private struct CodeKeyCacheKey: StorageKey { typealias Value = CodeKeyCache }

    var codeKeyCache: CodeKeyCache {
        get {
            if let cache = storage[CodeKeyCacheKey.self] { return cache }
            let cache = CodeKeyCache()
            storage[CodeKeyCacheKey.self] = cache
            return cache
        }
        set { storage[CodeKeyCacheKey.self] = newValue }
    }
}

/// Creates, loads, rotates and publishes the platform's code-signing keys (Ed25519, sealed at rest).
public struct CodeKeyService: Sendable {
    let db: any Database
    let vault: KeyVault
    let clock: TongbanClock
    let cache: CodeKeyCache

    public init(app: Application, db: (any Database)? = nil) {
        self.db = db ?? app.db
        self.vault = app.keyVault
        self.clock = app.clock
        self.cache = app.codeKeyCache
    }

    static func purpose(_ kid: String) -> String { "codes.signing-key:\(kid)" }

    /// The active signing key, created when there is none.
    public func signer() async throws -> SigningKeyMaterial {
        if let signer = cache.signer { return signer }
        let material: SigningKeyMaterial
        if let key = try await CodeSigningKey.query(on: db).filter(\.$status == .active).sort(\.$createdAt, .descending).first() {
            let raw = try vault.open(key.sealedPrivateKey, purpose: Self.purpose(key.kid))
            material = try SigningKeyMaterial(kid: key.kid, algorithm: .edDSA, privateKey: raw)
        } else {
            material = try await create()
        }
        try await reload(signer: material)
        return material
    }

    /// A new active key; the previous active keys are retired (they still verify until their codes expire).
    @discardableResult
    public func rotate() async throws -> SigningKeyMaterial {
        let material = try await db.writeTransaction { tx in
            try await CodeSigningKey.query(on: tx).filter(\.$status == .active)
                .set(\.$status, to: .retired).set(\.$retiredAt, to: clock.now()).update()
            return try await CodeKeyService(db: tx, vault: vault, clock: clock, cache: cache).create()
        }
        cache.clear()
        try await reload(signer: material)
        return material
    }

    init(db: any Database, vault: KeyVault, clock: TongbanClock, cache: CodeKeyCache) {
        self.db = db
        self.vault = vault
        self.clock = clock
        self.cache = cache
    }

    func create() async throws -> SigningKeyMaterial {
        let stamp = String(Int(clock.now().timeIntervalSince1970), radix: 36)
        let kid = "codes#\(stamp)-\(UUID().uuidString.prefix(8).lowercased())"
        let material = SigningKeyMaterial.generate(kid: kid, algorithm: .edDSA)
        let key = CodeSigningKey()
        key.kid = kid
        key.publicKey = material.verificationKey.publicKey.base64EncodedString()
        key.sealedPrivateKey = try vault.seal(material.rawPrivateKey, purpose: Self.purpose(kid))
        key.status = .active
        key.createdAt = clock.now()
        try await db.writeTransaction { tx in try await key.create(on: tx) }
        return material
    }

    func reload(signer: SigningKeyMaterial? = nil) async throws {
        let rows = try await CodeSigningKey.query(on: db).filter(\.$status != .compromised).all()
        var keys: [String: VerificationKey] = [:]
        for row in rows { if let key = row.verificationKey { keys[row.kid] = key } }
        cache.store(keys: keys, signer: signer, now: clock.now())
    }

    /// Verification keys by kid (cached).
    public func verificationKeys() async throws -> [String: VerificationKey] {
        if let keys = cache.keys(now: clock.now()) { return keys }
        try await reload()
        return cache.keys(now: clock.now()) ?? [:]
    }

    /// Reloads when `kid` is unknown and the cache is older than a second (another node may have rotated).
    func refreshIfUnknown(_ kid: String?) async throws -> Bool {
        guard let kid, (try await verificationKeys())[kid] == nil, clock.now().timeIntervalSince(cache.loadedAt()) > 1 else {
            return false
        }
        try await reload()
        return cache.keys(now: clock.now())?[kid] != nil
    }

    /// Every non-compromised key as a JWK with its status.
    public func jwks() async throws -> [[String: String]] {
        let rows = try await CodeSigningKey.query(on: db).filter(\.$status != .compromised).sort(\.$createdAt).all()
        let formatter = ISO8601DateFormatter()
        return rows.compactMap { row in
            guard var jwk = row.verificationKey?.jwk else { return nil }
            jwk["status"] = row.status.rawValue
            jwk["validFrom"] = formatter.string(from: row.createdAt)
            if let retired = row.retiredAt { jwk["retiredAt"] = formatter.string(from: retired) }
            return jwk
        }
    }
}
