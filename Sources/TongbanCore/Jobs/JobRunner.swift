import Fluent
import Foundation
import NIOConcurrencyHelpers
import Vapor

/// Runs persistent jobs in the server process: polls the queue, dispatches each job to the handler
/// registered for its kind, and settles it. Every `tongban serve` node runs one; the queue's claim
/// guarantees that no job runs on two nodes at once.
public final class JobRunner: Sendable {
    public typealias Handler = @Sendable (Job, Application) async throws -> Void

    private let handlers = NIOLockedValueBox<[String: Handler]>([:])
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)
    public let node: String

    public init(node: String = "node-" + UUID().uuidString.prefix(8).lowercased()) {
        self.node = node
    }

    /// Registers the handler for a job kind (modules call this in `boot`).
    public func register(_ kind: String, handler: @escaping Handler) {
        handlers.withLockedValue { $0[kind] = handler }
    }

    /// Claims and runs one batch; returns how many jobs ran. Tests call this directly.
    ///
    /// Jobs that succeed are marked done together (one write instead of one per job), at the end of the
    /// batch or as soon as a second has passed since the last such write, well within the claim's lease;
    /// a failure is recorded at once. If the node dies in between, the leases lapse and the jobs run again,
    /// as they would if it died between a job and its completion (handlers are written to allow that).
    @discardableResult
    public func runOnce(app: Application, limit: Int = 20) async throws -> Int {
        let queue = JobQueue(db: app.db, clock: app.clock)
        let jobs = try await queue.claim(limit: limit, node: node)
        var done: [Job] = []
        var lastWrite = ContinuousClock.now
        for job in jobs {
            guard let handler = handlers.withLockedValue({ $0[job.kind] }) else {
                try await queue.fail(job, node: node, error: "no handler for job kind \(job.kind)")
                continue
            }
            do {
                try await handler(job, app)
                done.append(job)
            } catch {
                app.logger.warning(
                    "job failed", metadata: ["job.kind": .string(job.kind), "job.attempts": .stringConvertible(job.attempts)])
                try await queue.fail(job, node: node, error: String(describing: error))
            }
            if !done.isEmpty, ContinuousClock.now - lastWrite > .seconds(1) {
                try await queue.complete(done, node: node)
                done = []
                lastWrite = .now
            }
        }
        try await queue.complete(done, node: node)
        return jobs.count
    }

    /// Starts polling every `interval` (server only).
    public func start(app: Application, interval: Duration = .seconds(2)) {
        let runner = self
        let newTask = Task {
            while !Task.isCancelled {
                let ran = (try? await runner.runOnce(app: app)) ?? 0
                if ran == 0 { try? await Task.sleep(for: interval) }
            }
        }
        task.withLockedValue { $0 = newTask }
    }

    public func stop() {
        task.withLockedValue { $0?.cancel() }
    }
}

/// Starts and stops the job runner with the server.
struct JobRunnerLifecycle: LifecycleHandler {
    let runner: JobRunner

    func didBootAsync(_ application: Application) async throws {
        guard application.environment != .testing else { return }
        runner.start(app: application)
    }

    func shutdownAsync(_ application: Application) async {
        runner.stop()
    }
}

extension Application {
    private struct RunnerKey: StorageKey { typealias Value = JobRunner }

    /// The process's job runner; modules register handlers on it.
    public var jobs: JobRunner {
        if let existing = storage[RunnerKey.self] { return existing }
        let created = JobRunner()
        storage[RunnerKey.self] = created
        return created
    }
}
