import Foundation
import NIOConcurrencyHelpers

/// One timer for many waiters: every action registered before `duration` passes runs once when it does. A
/// query's 135 provider calls share one (per distinct timeout) instead of a sleeping timer task each: at 50
/// queries a second that was 6,750 timers a second on the dispatch timer heap.
final class SharedDeadline: Sendable {
    private struct State {
        var fired = false
        var sealed = false
        var next = 0
        var waiters: [Int: @Sendable () -> Void] = [:]
        var timer: Task<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())

    private init() {}

    /// A deadline `duration` from now.
    static func start(after duration: Duration) -> SharedDeadline {
        let deadline = SharedDeadline()
        let timer = Task {
            do { try await Task.sleep(for: duration) } catch { return }
            deadline.fire()
        }
        deadline.state.withLockedValue { $0.timer = timer }
        return deadline
    }

    /// Registers `action` for when the deadline passes; nil when it already has (the caller acts at once).
    func register(_ action: @escaping @Sendable () -> Void) -> Int? {
        state.withLockedValue { state in
            if state.fired { return nil }
            state.next += 1
            state.waiters[state.next] = action
            return state.next
        }
    }

    /// Withdraws a registration (its call answered in time).
    func unregister(_ token: Int) {
        let idle = state.withLockedValue { state -> Task<Void, Never>? in
            state.waiters[token] = nil
            return Self.stopIfIdle(&state)
        }
        idle?.cancel()
    }

    /// No one registers any more: the timer stops as soon as the last waiter has left.
    func seal() {
        let idle = state.withLockedValue { state -> Task<Void, Never>? in
            state.sealed = true
            return Self.stopIfIdle(&state)
        }
        idle?.cancel()
    }

    private static func stopIfIdle(_ state: inout State) -> Task<Void, Never>? {
        guard state.sealed, state.waiters.isEmpty, !state.fired else { return nil }
        state.fired = true
        defer { state.timer = nil }
        return state.timer
    }

    func fire() {
        let actions = state.withLockedValue { state -> [@Sendable () -> Void] in
            state.fired = true
            state.timer = nil
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for action in actions { action() }
    }
}

/// A provider call running in its own task, whose result can be awaited until a deadline and, after that
/// deadline, awaited again (a late answer) without another task or timer per wait.
final class ProviderCall: Sendable {
    typealias Outcome = Result<[String], any Error>

    private struct State {
        var result: Outcome?
        var waiter: CheckedContinuation<Outcome?, Never>?
        var token: Int?
        var deadline: SharedDeadline?
    }

    private let state = NIOLockedValueBox(State())
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)

    private init() {}

    static func start(_ body: @escaping @Sendable () async throws -> [String]) -> ProviderCall {
        let call = ProviderCall()
        let task = Task {
            let outcome: Outcome
            do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
            call.complete(outcome)
        }
        call.task.withLockedValue { $0 = task }
        return call
    }

    /// Cancels the call (its waiter, if any, gets the call's cancellation error).
    func cancel() { task.withLockedValue { $0 }?.cancel() }

    private func complete(_ outcome: Outcome) {
        let (waiter, token, deadline) = state.withLockedValue { state in
            state.result = outcome
            defer {
                state.waiter = nil
                state.token = nil
                state.deadline = nil
            }
            return (state.waiter, state.token, state.deadline)
        }
        if let token, let deadline { deadline.unregister(token) }
        waiter?.resume(returning: outcome)
    }

    private func timedOut() {
        let waiter = state.withLockedValue { state in
            defer {
                state.waiter = nil
                state.token = nil
                state.deadline = nil
            }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The call's result, or nil when `deadline` passes first (the call goes on). One waiter at a time.
    func wait(until deadline: SharedDeadline) async -> Outcome? {
        await withCheckedContinuation { continuation in
            let finished = state.withLockedValue { state -> Outcome? in
                if let result = state.result { return result }
                state.waiter = continuation
                state.deadline = deadline
                return nil
            }
            if let finished {
                continuation.resume(returning: finished)
                return
            }
            // Registered outside the lock: the deadline may fire (and call back) at any moment.
            guard let token = deadline.register({ [self] in self.timedOut() }) else {
                timedOut()
                return
            }
            let waiting = state.withLockedValue { state -> Bool in
                guard state.waiter != nil else { return false }
                state.token = token
                return true
            }
            if !waiting { deadline.unregister(token) }
        }
    }
}
