import Foundation
import Vapor

/// Group commit for late 一证通查 answers: at 50 queries a second, every slow provider of every query answers
/// after the fan-out has returned, and one write transaction per answer would queue on SQLite's single writer.
/// Callers queue their answer; one writer takes everything queued (up to `maxBatch`) and records it with
/// ``LookupService/recordLate(_:)`` in ONE transaction, then answers each caller. If a batch fails, its answers
/// are recorded one by one, so one bad answer cannot lose the others.
public actor LateAnswerWriter {
    struct Pending {
        var item: LookupService.LateItem
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let record: @Sendable ([LookupService.LateItem]) async throws -> Void
    private let maxBatch: Int
    private var queue: [Pending] = []
    private var writing = false
    /// Batches committed so far (tests and the benchmark).
    public private(set) var batches = 0

    init(maxBatch: Int = 256, record: @escaping @Sendable ([LookupService.LateItem]) async throws -> Void) {
        self.record = record
        self.maxBatch = max(1, maxBatch)
    }

    func record(_ item: LookupService.LateItem) async throws {
        try await withCheckedThrowingContinuation { continuation in
            queue.append(Pending(item: item, continuation: continuation))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !queue.isEmpty {
            let count = min(queue.count, maxBatch)
            let batch = Array(queue.prefix(count))
            queue.removeFirst(count)
            do {
                try await record(batch.map(\.item))
                for pending in batch { pending.continuation.resume() }
            } catch {
                for pending in batch {
                    do {
                        try await record([pending.item])
                        pending.continuation.resume()
                    } catch {
                        pending.continuation.resume(throwing: error)
                    }
                }
            }
            batches += 1
        }
        writing = false
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
