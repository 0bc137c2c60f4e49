@testable import Codes
import Foundation
import Testing

@Suite("Codes: provider calls share one deadline timer")
struct ProviderCallTests {
    struct Boom: Error {}

    @Test func aCallThatMissesTheDeadline_isNil_thenItsLateAnswerCanStillBeAwaited() async throws {
        let deadline = SharedDeadline.start(after: .milliseconds(50))
        // The call cannot answer before the gate opens, so only the deadline can end the first wait.
        let gate = OnceSignal()
        let call = ProviderCall.start {
            await gate.wait()
            return ["13800001111"]
        }
        let first = await call.wait(until: deadline)
        #expect(first == nil)
        gate.fire()
        let window = SharedDeadline.start(after: .seconds(5))
        let late = await call.wait(until: window)
        window.seal()
        #expect(try late?.get() == ["13800001111"])
    }

    @Test func manyCallsOnOneDeadline_eachGetTheirOwnResult_orNil() async throws {
        let deadline = SharedDeadline.start(after: .seconds(1))
        let never = OnceSignal()
        let results = await withTaskGroup(of: (Int, Result<[String], any Error>?).self) { group in
            for n in 0..<40 {
                group.addTask {
                    let call = ProviderCall.start {
                        if n % 4 == 0 { await never.wait() }
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
        never.fire()
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
        let window = SharedDeadline.start(after: .seconds(5))
        #expect(try await fast.wait(until: window)?.get() == ["y"])
        window.seal()
        // Finished: its result stands even against a deadline that has passed.
        #expect(try await fast.wait(until: deadline)?.get() == ["y"])
    }
}
