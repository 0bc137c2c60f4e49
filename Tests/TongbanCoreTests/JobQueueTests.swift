import Fluent
import Foundation
import NIOConcurrencyHelpers
import Testing
import TestSupport
import TongbanCore
import Vapor

@Suite("Persistent jobs")
struct JobQueueTests {
    struct Payload: Codable, Sendable, Equatable { var n: Int }

    @Test func concurrentClaims_neverTakeAJobTwice() async throws {
        try await withTestApp { app in
            let queue = JobQueue(db: app.db, clock: app.clock)
            for n in 0..<40 { try await queue.enqueue(kind: "count", payload: Payload(n: n)) }
            let claimed = try await withThrowingTaskGroup(of: [UUID].self) { group in
                for node in 0..<4 {
                    group.addTask {
                        var mine: [UUID] = []
                        while true {
                            let jobs = try await queue.claim(limit: 3, node: "node-\(node)")
                            if jobs.isEmpty { break }
                            mine += jobs.compactMap(\.id)
                        }
                        return mine
                    }
                }
                var all: [UUID] = []
                for try await ids in group { all += ids }
                return all
            }
            #expect(claimed.count == 40)
            #expect(Set(claimed).count == 40)
        }
    }

    @Test func runner_completesJobs_retriesFailures_andGivesUp() async throws {
        try await withTestApp { app in
            let seen = NIOLockedValueBox<[Int]>([])
            app.jobs.register("ok") { job, app in
                let payload = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: Payload.self)
                seen.withLockedValue { $0.append(payload.n) }
            }
            app.jobs.register("boom") { _, _ in throw Abort(.internalServerError, reason: "boom") }
            let queue = JobQueue(db: app.db, clock: app.clock)
            try await queue.enqueue(kind: "ok", payload: Payload(n: 7))
            let failing = try await queue.enqueue(kind: "boom", payload: Payload(n: 0), maxAttempts: 2)
            try await queue.enqueue(kind: "unknown", payload: Payload(n: 0), maxAttempts: 1)
            let started = Date()
            #expect(try await app.jobs.runOnce(app: app) == 3)
            #expect(seen.withLockedValue { $0 } == [7])
            let afterFirst = try #require(try await Job.find(failing.id, on: app.db))
            #expect(afterFirst.status == .pending)
            // Backed off by 5 s from the failure (measured from before the run, so that a slow machine
            // cannot fail it).
            #expect(afterFirst.runAt > started.addingTimeInterval(4.5))
            #expect(afterFirst.lastError?.contains("boom") == true)
            // Make it due again: the second failure is final.
            afterFirst.runAt = Date().addingTimeInterval(-1)
            try await afterFirst.save(on: app.db)
            #expect(try await app.jobs.runOnce(app: app) == 1)
            #expect(try await Job.find(failing.id, on: app.db)?.status == .failed)
            let statuses = try await Job.query(on: app.db).all().map(\.status)
            #expect(statuses.filter { $0 == .done }.count == 1)
            #expect(statuses.filter { $0 == .failed }.count == 2)
        }
    }

    @Test func dedupeKey_keepsOnePendingJob_andFutureJobsWait() async throws {
        try await withTestApp { app in
            let queue = JobQueue(db: app.db, clock: app.clock)
            let first = try await queue.enqueue(kind: "sla", payload: Payload(n: 1), runAt: Date().addingTimeInterval(3600), dedupeKey: "sla:1")
            let second = try await queue.enqueue(kind: "sla", payload: Payload(n: 2), dedupeKey: "sla:1")
            #expect(first.id == second.id)
            #expect(try await Job.query(on: app.db).count() == 1)
            #expect(try await queue.claim(limit: 10, node: "n").isEmpty)  // not due yet
        }
    }

    @Test func expiredLease_makesAJobClaimableAgain() async throws {
        try await withTestApp { app in
            let queue = JobQueue(db: app.db, clock: app.clock)
            try await queue.enqueue(kind: "x", payload: Payload(n: 1))
            let taken = try await queue.claim(limit: 1, node: "dead-node", lease: -1)
            #expect(taken.count == 1)
            let retaken = try await queue.claim(limit: 1, node: "live-node")
            #expect(retaken.first?.id == taken.first?.id)
            #expect(retaken.first?.attempts == 2)
            // The dead node can no longer settle it.
            try await queue.complete(try #require(taken.first), node: "dead-node")
            #expect(try await Job.find(taken.first?.id, on: app.db)?.status == .running)
        }
    }
}
