import AuditLog
import Fluent
import Foundation
import TongbanCore
import Vapor

/// The audit log over HTTP: checkpoint, key and proofs are public; entries need the auditor role.
struct AuditController: RouteCollection {
    struct CheckpointView: Content {
        var treeSize: Int
        var rootHash: String
        var checkpoint: String
        var origin: String
        var createdAt: String
    }

    struct KeyView: Content {
        var origin: String
        /// The verifier key: `<origin>+<key id>+<base64(0x01 ‖ Ed25519 public key)>`.
        var key: String
    }

    struct InclusionView: Content {
        var index: Int
        var treeSize: Int
        var leafHash: String
        var hashes: [String]
    }

    struct ConsistencyView: Content {
        var first: Int
        var second: Int
        var hashes: [String]
    }

    struct EntryView: Content {
        var index: Int
        var kind: String
        var at: String
        var leafHash: String
        /// The stored bytes (canonical JSON text, exactly as hashed).
        var entry: String
        /// The same, parsed.
        var event: AuditEvent?
    }

    func boot(routes: any RoutesBuilder) throws {
        let audit = routes.grouped("api", "v1", "audit")
        audit.get("checkpoint", use: checkpoint)
        audit.get("key", use: key)
        audit.get("proofs", "inclusion", use: inclusion)
        audit.get("proofs", "consistency", use: consistency)
        audit.get("entries", ":index", use: entry)
        audit.get("entries", ":index", "evidence", use: evidence)
    }

    /// A non-negative integer query parameter, or a 400 problem.
    static func integer(_ req: Request, _ name: String) throws -> Int {
        guard let raw = req.query[String.self, at: name] else {
            throw Problem.validation([FieldError(field: name, message: "is required")])
        }
        guard let value = Int(raw), value >= 0 else {
            throw Problem.validation([FieldError(field: name, message: "must be a non-negative integer")])
        }
        return value
    }

    @Sendable func checkpoint(req: Request) async throws -> CheckpointView {
        let service = req.application.auditLog
        let stored = try await service.checkpoint(on: req.db)
        return CheckpointView(
            treeSize: stored.size, rootHash: stored.root.base64, checkpoint: stored.note, origin: service.origin,
            createdAt: stored.createdAt)
    }

    @Sendable func key(req: Request) async throws -> KeyView {
        let service = req.application.auditLog
        return KeyView(origin: service.origin, key: try await service.verifierKey(on: req.db))
    }

    @Sendable func inclusion(req: Request) async throws -> InclusionView {
        let index = try Self.integer(req, "index")
        let treeSize = try Self.integer(req, "treeSize")
        let proof = try await req.application.auditLog.inclusionProof(index: index, treeSize: treeSize, on: req.db)
        return InclusionView(index: index, treeSize: treeSize, leafHash: proof.leafHash.base64, hashes: proof.hashes.map(\.base64))
    }

    @Sendable func consistency(req: Request) async throws -> ConsistencyView {
        let first = try Self.integer(req, "first")
        let second = try Self.integer(req, "second")
        let hashes = try await req.application.auditLog.consistencyProof(first: first, second: second, on: req.db)
        return ConsistencyView(first: first, second: second, hashes: hashes.map(\.base64))
    }

    static func index(_ req: Request) throws -> Int {
        guard let index = req.parameters.get("index", as: Int.self), index >= 0 else {
            throw Problem.notFound("Audit entry", type: "/problems/audit-entry-not-found")
        }
        return index
    }

    /// Auditors only; the read itself is recorded (`audit.read`).
    @Sendable func entry(req: Request) async throws -> EntryView {
        let principal = try req.requireStaff([.auditor])
        let index = try Self.index(req)
        let storage = try AuditStorage(req.db)
        guard let bytes = try await storage.entry(index) else {
            throw Problem.notFound("Audit entry", type: "/problems/audit-entry-not-found")
        }
        let event = try? AuditEvent.decode(bytes)
        try await req.application.auditLog.record(
            kind: "audit.read", actor: principal.userID, subject: "audit:\(index)", details: [:])
        return EntryView(
            index: index, kind: event?.kind ?? "", at: event?.at ?? "", leafHash: MerkleTree.leafHash(bytes).base64,
            entry: String(decoding: bytes, as: UTF8.self), event: event)
    }

    /// The evidence bundle for one entry (auditors), to check offline with `tongban audit verify-evidence`.
    @Sendable func evidence(req: Request) async throws -> Response {
        _ = try req.requireStaff([.auditor])
        let index = try Self.index(req)
        let size = try await AuditStorage(req.db).size()
        guard index < size else { throw Problem.notFound("Audit entry", type: "/problems/audit-entry-not-found") }
        let bundle = try await req.application.auditLog.evidence(index: index, on: req.db)
        var headers = HTTPHeaders()
        headers.contentType = .json
        return Response(status: .ok, headers: headers, body: .init(data: try bundle.json()))
    }
}
