import Foundation

/// Group commit, the one shape behind the audit appender, online scan records and late lookup answers: callers
/// submit an item and wait; one drainer takes everything queued (up to `maxBatch`), commits it with ONE call of
/// `commit` (typically one write transaction), and only then answers each caller with its own output. While a
/// batch commits the next one queues up, so the cost of a commit is shared by every item in it.
///
/// When a batch fails, `retryEach` commits its items one at a time, so that one bad item (a unique-key collision,
/// a row that violates a constraint) answers its own caller with its own error and cannot fail the others;
/// without it every caller of the batch gets the batch's error.
public actor GroupCommit<Item: Sendable, Output: Sendable> {
    public typealias Commit = @Sendable ([Item]) async throws -> [Output]

    struct Pending {
        var item: Item
        var continuation: CheckedContinuation<Output, any Error>
    }

    /// `commit` returned a different number of outputs than it was given items.
    public struct OutputCountMismatch: Error, CustomStringConvertible {
        public var description: String { "a group commit returned the wrong number of outputs" }
    }

    private let commit: Commit
    private let maxBatch: Int
    private let retryEach: Bool
    private var queue: [Pending] = []
    private var draining = false
    /// Commits made so far (batches, and single items retried after a failed batch count one each).
    public private(set) var batches = 0
    /// Items committed so far.
    public private(set) var committed = 0

    public init(maxBatch: Int, retryEach: Bool, commit: @escaping Commit) {
        self.commit = commit
        self.maxBatch = max(1, maxBatch)
        self.retryEach = retryEach
    }

    /// Queues `item` and returns its output once its batch has been committed.
    public func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            queue.append(Pending(item: item, continuation: continuation))
            if !draining {
                draining = true
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
                let outputs = try await run(batch.map(\.item))
                for (pending, output) in zip(batch, outputs) { pending.continuation.resume(returning: output) }
            } catch {
                if retryEach && batch.count > 1 {
                    for pending in batch {
                        do {
                            pending.continuation.resume(returning: try await run([pending.item])[0])
                        } catch {
                            pending.continuation.resume(throwing: error)
                        }
                    }
                } else {
                    for pending in batch { pending.continuation.resume(throwing: error) }
                }
            }
        }
        draining = false
    }

    private func run(_ items: [Item]) async throws -> [Output] {
        let outputs = try await commit(items)
        guard outputs.count == items.count else { throw OutputCountMismatch() }
        batches += 1
        committed += items.count
        return outputs
    }
}
