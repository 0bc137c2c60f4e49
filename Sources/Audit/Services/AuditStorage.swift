import AuditLog
import Fluent
import Foundation
import SQLKit
import TongbanCore

/// The log's tables in plain SQL (SQLite and PostgreSQL): entries, Merkle nodes, checkpoints.
///
/// Stored levels: every level (`StoredLevels.all`). An append writes its leaf hash and, on average, one
/// completed subtree, so the nodes table holds about 2n rows; in exchange every inclusion or consistency
/// proof is one indexed query for at most 2·⌈log₂ n⌉ rows and no hashing beyond assembling the proof.
public struct AuditStorage: Sendable {
    public let sql: any SQLDatabase

    public init(_ database: any Database) throws {
        guard let sql = database as? any SQLDatabase else {
            throw Problem(.internalServerError, title: "The audit log needs an SQL database")
        }
        self.sql = sql
    }

    public init(sql: any SQLDatabase) {
        self.sql = sql
    }

    var isPostgres: Bool { sql.dialect.name == "postgresql" }

    /// The number of entries (the next index).
    public func size() async throws -> Int {
        guard let row = try await sql.raw("SELECT MAX(idx) AS m FROM audit_entries").first(),
            try !row.decodeNil(column: "m")
        else { return 0 }
        return try row.decode(column: "m", as: Int.self) + 1
    }

    /// Serialises appenders on PostgreSQL (several server nodes); SQLite's write transaction already does.
    func lockForAppend() async throws {
        if isPostgres {
            try await sql.raw("SELECT pg_advisory_xact_lock(727001)").run()
        }
    }

    /// One entry to insert.
    struct NewEntry: Sendable {
        var kind: String
        var at: String
        var bytes: [UInt8]
    }

    /// Inserts entries starting at `first` and Merkle nodes (in the caller's transaction).
    func insert(entries: [NewEntry], first: Int, nodes: [MerkleNode]) async throws {
        for chunkStart in stride(from: 0, to: entries.count, by: 500) {
            let chunk = entries[chunkStart..<min(entries.count, chunkStart + 500)]
            var query = SQLQueryString("INSERT INTO audit_entries (idx, kind, at, entry) VALUES ")
            for (offset, entry) in chunk.enumerated() {
                if offset > 0 { query.appendLiteral(", ") }
                query.appendLiteral("(")
                query.appendInterpolation(bind: first + chunkStart + offset)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: entry.kind)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: entry.at)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: String(decoding: entry.bytes, as: UTF8.self))
                query.appendLiteral(")")
            }
            try await sql.raw(query).run()
        }
        try await insert(nodes: nodes)
    }

    func insert(nodes: [MerkleNode]) async throws {
        for chunkStart in stride(from: 0, to: nodes.count, by: 1000) {
            let chunk = nodes[chunkStart..<min(nodes.count, chunkStart + 1000)]
            var query = SQLQueryString("INSERT INTO audit_nodes (level, idx, hash) VALUES ")
            for (offset, node) in chunk.enumerated() {
                if offset > 0 { query.appendLiteral(", ") }
                query.appendLiteral("(")
                query.appendInterpolation(bind: node.id.level)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: node.id.index)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: Data(node.hash.bytes))
                query.appendLiteral(")")
            }
            try await sql.raw(query).run()
        }
    }

    /// Stored hashes of `nodes` (nil where absent), in one query.
    public func storedHashes(_ nodes: [NodeID]) async throws -> [MerkleHash?] {
        guard !nodes.isEmpty else { return [] }
        var found: [NodeID: MerkleHash] = [:]
        for chunkStart in stride(from: 0, to: nodes.count, by: 400) {
            let chunk = nodes[chunkStart..<min(nodes.count, chunkStart + 400)]
            var query = SQLQueryString("SELECT level, idx, hash FROM audit_nodes WHERE ")
            // Leaves of one range (the auditor's batches) are asked for with one BETWEEN.
            if chunk.allSatisfy({ $0.level == 0 }), let low = chunk.map(\.index).min(), let high = chunk.map(\.index).max(),
                high - low < chunk.count * 2
            {
                query.appendLiteral("level = 0 AND idx BETWEEN ")
                query.appendInterpolation(bind: low)
                query.appendLiteral(" AND ")
                query.appendInterpolation(bind: high)
            } else {
                for (offset, node) in chunk.enumerated() {
                    if offset > 0 { query.appendLiteral(" OR ") }
                    query.appendLiteral("(level = ")
                    query.appendInterpolation(bind: node.level)
                    query.appendLiteral(" AND idx = ")
                    query.appendInterpolation(bind: node.index)
                    query.appendLiteral(")")
                }
            }
            for row in try await sql.raw(query).all() {
                let level = try row.decode(column: "level", as: Int.self)
                let index = try row.decode(column: "idx", as: Int.self)
                let data = try row.decode(column: "hash", as: Data.self)
                if let hash = MerkleHash(bytes: Array(data)) {
                    found[NodeID(level: level, index: index)] = hash
                }
            }
        }
        return nodes.map { found[$0] }
    }

    /// Entries `range` as stored (index order).
    public func entries(_ range: Range<Int>) async throws -> [(index: Int, bytes: [UInt8])] {
        guard !range.isEmpty else { return [] }
        let rows = try await sql.raw(
            "SELECT idx, entry FROM audit_entries WHERE idx >= \(bind: range.lowerBound) AND idx < \(bind: range.upperBound) ORDER BY idx"
        ).all()
        return try rows.map { row in
            (try row.decode(column: "idx", as: Int.self), Array(try row.decode(column: "entry", as: String.self).utf8))
        }
    }

    public func entry(_ index: Int) async throws -> [UInt8]? {
        try await entries(index..<(index + 1)).first?.bytes
    }

    /// A stored signed checkpoint.
    public struct StoredCheckpoint: Sendable {
        public var size: Int
        public var root: MerkleHash
        public var note: String
        public var createdAt: String
    }

    public func latestCheckpoint() async throws -> StoredCheckpoint? {
        try await checkpoints(where: "ORDER BY size DESC LIMIT 1").first
    }

    /// The smallest stored checkpoint covering entry `index`.
    public func checkpoint(covering index: Int) async throws -> StoredCheckpoint? {
        let rows = try await sql.raw(
            "SELECT size, root, note, created_at FROM audit_checkpoints WHERE size > \(bind: index) ORDER BY size LIMIT 1"
        ).all()
        return try rows.map(Self.checkpoint).first
    }

    public func allCheckpoints() async throws -> [StoredCheckpoint] {
        try await checkpoints(where: "ORDER BY size")
    }

    private func checkpoints(where clause: String) async throws -> [StoredCheckpoint] {
        try await sql.raw(SQLQueryString("SELECT size, root, note, created_at FROM audit_checkpoints " + clause)).all()
            .map(Self.checkpoint)
    }

    private static func checkpoint(_ row: any SQLRow) throws -> StoredCheckpoint {
        let root = try row.decode(column: "root", as: Data.self)
        return StoredCheckpoint(
            size: try row.decode(column: "size", as: Int.self), root: MerkleHash(bytes: Array(root)) ?? MerkleTree.emptyRoot,
            note: try row.decode(column: "note", as: String.self), createdAt: try row.decode(column: "created_at", as: String.self))
    }

    /// Stores a checkpoint unless one of that size exists.
    func insertCheckpoint(size: Int, root: MerkleHash, note: String, at: String) async throws {
        try await sql.raw(
            """
            INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (\(bind: size), \(bind: Data(root.bytes)), \
            \(bind: note), \(bind: at)) ON CONFLICT (size) DO NOTHING
            """
        ).run()
    }
}

/// The stored nodes as the library's proof source.
public struct SQLMerkleStore: AsyncMerkleHashStore {
    public let storage: AuditStorage

    public init(_ storage: AuditStorage) {
        self.storage = storage
    }

    public func storedHashes(_ nodes: [NodeID]) async throws -> [MerkleHash?] {
        try await storage.storedHashes(nodes)
    }
}
