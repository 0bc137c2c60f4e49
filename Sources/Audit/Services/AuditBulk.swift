import AuditLog
import Fluent
import Foundation
import TongbanCore

/// Bulk loading for benchmarks: builds a large log quickly with big transactions and no per-event
/// callers. Stores exactly what the appender stores (entries, leaf hashes, every completed node).
public enum AuditBulk {
    public static func appendSynthetic(
        count: Int, on db: any Database, batchSize: Int = 50_000, progress: @Sendable (Int) -> Void = { _ in }
    ) async throws {
        var done = 0
        while done < count {
            let n = min(batchSize, count - done)
            try await db.writeTransaction { tx in
                let storage = try AuditStorage(tx)
                try await storage.lockForAppend()
                let size = try await storage.size()
                var range = try await CompactRange(size: size, store: SQLMerkleStore(storage))
                var entries: [AuditStorage.NewEntry] = []
                entries.reserveCapacity(n)
                for i in 0..<n {
                    let event = AuditEvent(
                        kind: "bench.synthetic", at: Date(), actor: nil, subject: "bench:\(size + i)",
                        details: ["n": String(size + i)])
                    entries.append(.init(kind: event.kind, at: event.at, bytes: try event.canonicalBytes()))
                }
                let nodes = range.append(leafHashes: entries.map { MerkleTree.leafHash($0.bytes) })
                try await storage.insert(entries: entries, first: size, nodes: nodes)
            }
            done += n
            progress(done)
        }
    }
}
