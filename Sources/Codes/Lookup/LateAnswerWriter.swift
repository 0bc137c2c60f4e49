import Foundation
import TongbanCore
import Vapor

/// Group commit for late 一证通查 answers: at 50 queries a second, every slow provider of every query answers
/// after the fan-out has returned, and one write transaction per answer would queue on SQLite's single writer.
/// Callers queue their answer; one writer takes everything queued (up to `maxBatch`) and records it with
/// ``LookupService/recordLate(_:)`` in ONE transaction, then answers each caller. If a batch fails, its answers
/// are recorded one by one, so one bad answer cannot lose the others.
public final class LateAnswerWriter: Sendable {
    private let queue: GroupCommit<LookupService.LateItem, Void>

    init(maxBatch: Int = 256, record: @escaping @Sendable ([LookupService.LateItem]) async throws -> Void) {
        queue = GroupCommit(maxBatch: maxBatch, retryEach: true) { items in
            try await record(items)
            return Array(repeating: (), count: items.count)
        }
    }

    /// Batches committed so far (tests and the benchmark).
    public var batches: Int { get async { await queue.batches } }

    func record(_ item: LookupService.LateItem) async throws {
        try await queue.submit(item)
    }
}

extension Application {
    private struct LateAnswerWriterKey: StorageKey { typealias Value = LateAnswerWriter }
    private struct LateAnswerWriterLock: LockKey {}

    /// The process's late-answer writer (created on first use).
    public var lateAnswerWriter: LateAnswerWriter {
        locks.lock(for: LateAnswerWriterLock.self).withLock {
            if let writer = storage[LateAnswerWriterKey.self] { return writer }
            // The database is taken now: after shutdown `app.db` no longer exists, and a late answer still in
            // flight then fails (logged) instead of stopping the process.
            let database = db
            let writer = LateAnswerWriter { [unowned self] items in try await LookupService(app: self, db: database).recordLate(items) }
            storage[LateAnswerWriterKey.self] = writer
            return writer
        }
    }
}
