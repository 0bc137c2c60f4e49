import AuditLog
import Fluent
import Foundation
import SQLKit
import TongbanCore

/// The log's Ed25519 signing key (C2SP signed-note key named after the log's origin).
///
/// `TONGBAN_AUDIT_KEY` (a `PRIVATE+KEY+<origin>+…` signer key) wins; otherwise a key is generated on
/// first start and kept in the database (`audit_keys`), like the token signing secret, so every server
/// node signs with the same key. The public key (`<origin>+<key id>+<base64>`) is served at
/// `GET /api/v1/audit/key`.
enum AuditKeys {
    static func load(origin: String, configured: String?, sql: any SQLDatabase, now: String) async throws -> NoteSigner {
        if let configured {
            let signer = try NoteSigner(configured)
            guard signer.name == origin else {
                throw Problem(
                    .internalServerError, title: "Audit key misconfigured",
                    detail: "TONGBAN_AUDIT_KEY is named \(signer.name), expected the origin \(origin)")
            }
            return signer
        }
        if let stored = try await stored(origin: origin, sql: sql) { return stored }
        let fresh = try NoteSigner(generatingFor: origin)
        try await sql.raw(
            """
            INSERT INTO audit_keys (name, private_key, public_key, created_at) VALUES (\(bind: origin), \
            \(bind: fresh.encoded), \(bind: fresh.verifier.encoded), \(bind: now)) ON CONFLICT (name) DO NOTHING
            """
        ).run()
        // Another node may have won the race: use whatever is stored.
        return try await stored(origin: origin, sql: sql) ?? fresh
    }

    private static func stored(origin: String, sql: any SQLDatabase) async throws -> NoteSigner? {
        guard let row = try await sql.raw("SELECT private_key FROM audit_keys WHERE name = \(bind: origin)").first() else {
            return nil
        }
        return try NoteSigner(try row.decode(column: "private_key", as: String.self))
    }
}
