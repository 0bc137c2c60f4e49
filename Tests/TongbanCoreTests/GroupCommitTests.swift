import Foundation
import NIOConcurrencyHelpers
import Testing
import TongbanCore

@Suite("Group commit: shared commits, per-item answers, isolated failures")
struct GroupCommitTests {
    struct Refused: Error, Equatable { var item: Int }

    /// Records every commit's items; slow enough that callers queue up behind the first commit.
    final class Ledger: Sendable {
        let commits = NIOLockedValueBox<[[Int]]>([])
    }

    @Test func concurrentSubmissions_shareCommits_andEachGetsItsOwnOutput() async throws {
        let ledger = Ledger()
        let queue = GroupCommit<Int, Int>(maxBatch: 64, retryEach: false) { items in
            try await Task.sleep(for: .milliseconds(20))
            ledger.commits.withLockedValue { $0.append(items) }
            return items.map { $0 * 10 }
        }
        let outputs = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for n in 0..<100 { group.addTask { (n, try await queue.submit(n)) } }
            var all: [Int: Int] = [:]
            for try await (n, output) in group { all[n] = output }
            return all
        }
        #expect(outputs.count == 100)
        #expect(outputs.allSatisfy { $0.value == $0.key * 10 })
        let commits = ledger.commits.withLockedValue { $0 }
        #expect(commits.flatMap { $0 }.sorted() == Array(0..<100), "every item committed exactly once")
        #expect(commits.count < 100 && commits.allSatisfy { $0.count <= 64 }, "\(commits.count) commits, at most 64 items each")
        #expect(await queue.batches == commits.count)
        #expect(await queue.committed == 100)
    }

    @Test func aFailingBatch_isRetriedItemByItem_soOnlyTheBadItemFails() async throws {
        let queue = GroupCommit<Int, Int>(maxBatch: 64, retryEach: true) { items in
            try await Task.sleep(for: .milliseconds(10))
            if items.contains(13) { throw Refused(item: 13) }
            return items
        }
        let results = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for n in 0..<40 {
                group.addTask {
                    do { return (n, .success(try await queue.submit(n))) } catch { return (n, .failure(error)) }
                }
            }
            var all: [Int: Result<Int, any Error>] = [:]
            for await (n, result) in group { all[n] = result }
            return all
        }
        for (n, result) in results {
            switch result {
            case .success(let value): #expect(n != 13 && value == n)
            case .failure(let error): #expect(n == 13 && (error as? Refused) == Refused(item: 13))
            }
        }
    }

    @Test func withoutRetry_everyCallerOfAFailedBatchGetsItsError_andTheQueueGoesOn() async throws {
        let failing = NIOLockedValueBox(true)
        let queue = GroupCommit<Int, Int>(maxBatch: 8, retryEach: false) { items in
            if failing.withLockedValue({ $0 }) { throw Refused(item: items[0]) }
            return items
        }
        await #expect(throws: Refused.self) { try await queue.submit(1) }
        failing.withLockedValue { $0 = false }
        #expect(try await queue.submit(2) == 2)
    }

    @Test func aCommitThatAnswersTheWrongNumberOfOutputs_failsItsCallers() async throws {
        let queue = GroupCommit<Int, Int>(maxBatch: 8, retryEach: false) { _ in [] }
        await #expect(throws: GroupCommit<Int, Int>.OutputCountMismatch.self) { try await queue.submit(1) }
    }
}
