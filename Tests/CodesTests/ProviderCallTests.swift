@testable import Codes
import Foundation
import Testing

@Suite("Codes: provider calls share one deadline timer")
struct ProviderCallTests {
    struct Boom: Error {}

    @Test func aCallThatMissesTheDeadline_isNil_thenItsLateAnswerCanStillBeAwaited() async throws {
        let deadline = SharedDeadline.start(after: .milliseconds(50))
        let call = ProviderCall.start {
            try await Task.sleep(for: .milliseconds(300))
            return ["13800001111"]
        }
        let started = ContinuousClock.now
        let first = await call.wait(until: deadline)
        #expect(first == nil)
        #expect(started.duration(to: .now) < .milliseconds(290), "the deadline, not the call, ended the first wait")
        let window = SharedDeadline.start(after: .seconds(5))
        let late = await call.wait(until: window)
        window.seal()
        #expect(try late?.get() == ["13800001111"])
    }

    @Test func manyCallsOnOneDeadline_eachGetTheirOwnResult_orNil() async throws {
        let deadline = SharedDeadline.start(after: .milliseconds(200))
        let results = await withTaskGroup(of: (Int, Result<[String], any Error>?).self) { group in
            for n in 0..<40 {
                group.addTask {
                    let call = ProviderCall.start {
                        if n % 4 == 0 { try await Task.sleep(for: .seconds(2)) }
                        if n % 4 == 1 { throw Boom() }
                        return ["\(n)"]
                    }
                    return (n, await call.wait(until: deadline))
                }
            }
            var all: [Int: Result<[String], any Error>?] = [:]
            for await (n, result) in group { all[n] = result }
            return all
        }
        deadline.seal()
        #expect(results.count == 40)
        for (n, result) in results {
            switch n % 4 {
            case 0: #expect(result == nil, "call \(n) is slower than the deadline")
            case 1:
                guard case .failure? = result else { Issue.record("call \(n) should have failed"); continue }
            default: #expect(try result?.get() == ["\(n)"])
            }
        }
    }

    @Test func aDeadlineThatAlreadyPassed_answersNilAtOnce_unlessTheCallHasFinished() async throws {
        let deadline = SharedDeadline.start(after: .milliseconds(1))
        try await Task.sleep(for: .milliseconds(50))
        let slow = ProviderCall.start {
            try await Task.sleep(for: .seconds(1))
            return ["x"]
        }
        #expect(await slow.wait(until: deadline) == nil)
        slow.cancel()
        let fast = ProviderCall.start { ["y"] }
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fast.wait(until: deadline)?.get() == ["y"])
    }
}
