import AuditLog
import Fluent
import Foundation
import SQLKit
import TongbanCore

/// The log's Ed25519 signing key (C2SP signed-note key named after the log's origin).
///
/// `TONGBAN_AUDIT_KEY` (a `PRIVATE+KEY+<origin>+…` signer key) wins; otherwise a key is generated on
/// first start and kept in the database (`audit_keys`), sealed with the master key (``KeyVault``), so every
/// server node signs with the same key and a copy of the database alone cannot sign checkpoints. Keys stored
/// as plain text by earlier versions still load. The public key (`<origin>+<key id>+<base64>`) is served at
/// `GET /api/v1/audit/key`.
enum AuditKeys {
    static let sealedPrefix = "sealed:"

    static func load(
        origin: String, configured: String?, sql: any SQLDatabase, now: String, vault: KeyVault? = nil
    ) async throws -> NoteSigner {
        if let configured {
            let signer = try NoteSigner(configured)
            guard signer.name == origin else {
                throw Problem(
                    .internalServerError, title: "Audit key misconfigured",
                    detail: "TONGBAN_AUDIT_KEY is named \(signer.name), expected the origin \(origin)")
            }
            return signer
        }
        if let stored = try await stored(origin: origin, sql: sql, vault: vault) { return stored }
        let fresh = try NoteSigner(generatingFor: origin)
        let kept = try vault.map { sealedPrefix + (try $0.seal(Data(fresh.encoded.utf8), purpose: purpose(origin))) } ?? fresh.encoded
        try await sql.raw(
            """
            INSERT INTO audit_keys (name, private_key, public_key, created_at) VALUES (\(bind: origin), \
            \(bind: kept), \(bind: fresh.verifier.encoded), \(bind: now)) ON CONFLICT (name) DO NOTHING
            """
        ).run()
        // Another node may have won the race: use whatever is stored.
        return try await stored(origin: origin, sql: sql, vault: vault) ?? fresh
    }

    static func purpose(_ origin: String) -> String { "audit.signing-key:\(origin)" }

    private static func stored(origin: String, sql: any SQLDatabase, vault: KeyVault?) async throws -> NoteSigner? {
        guard let row = try await sql.raw("SELECT private_key FROM audit_keys WHERE name = \(bind: origin)").first() else {
            return nil
        }
        let text = try row.decode(column: "private_key", as: String.self)
        guard text.hasPrefix(sealedPrefix) else { return try NoteSigner(text) }
        guard let vault else {
            throw Problem(.internalServerError, title: "Audit key sealed", detail: "the audit signing key needs the master key")
        }
        let opened = try vault.open(String(text.dropFirst(sealedPrefix.count)), purpose: purpose(origin))
        return try NoteSigner(String(decoding: opened, as: UTF8.self))
    }
}
