import Fluent
import Foundation
import NIOConcurrencyHelpers
import Vapor

/// What changed in an instance, for the module that owns its subject.
public struct WorkflowChange: Sendable {
    public var instance: WorkflowInstance
    /// `start`, `approve`, `reject`, `return`, `transfer`, `resume`, `withdraw`.
    public var action: String
    /// The node the action happened at, if any.
    public var node: String?
    /// Nodes with open tasks after the change.
    public var openNodes: [String]
}

/// Handlers per subject type, called inside the engine's transaction so that the subject's state and
/// the workflow's never disagree.
public final class WorkflowObservers: Sendable {
    public typealias Observer = @Sendable (WorkflowChange, any Database) async throws -> Void
    private let observers = NIOLockedValueBox<[String: Observer]>([:])

    public init() {}

    public func register(_ subjectType: String, _ observer: @escaping Observer) {
        observers.withLockedValue { $0[subjectType] = observer }
    }

    private let listeners = NIOLockedValueBox<[String: [Observer]]>([:])

    /// Adds a listener for changes of another module's subjects (e.g. Licences issuing a licence when an
    /// application is approved). Listeners run after the owner's observer, in the same transaction, in the
    /// order they were added.
    public func addListener(_ subjectType: String, _ listener: @escaping Observer) {
        listeners.withLockedValue { $0[subjectType, default: []].append(listener) }
    }

    func listeners(for subjectType: String) -> [Observer] {
        listeners.withLockedValue { $0[subjectType] ?? [] }
    }

    /// Called when a task of the subject type reaches 80 % of its time limit (`yellow`) or passes it
    /// (`red`), inside the transaction that records the warning.
    public typealias TimeLimitObserver = @Sendable (WorkflowTask, WorkflowInstance, String, any Database) async throws -> Void

    private let timeLimitObservers = NIOLockedValueBox<[String: TimeLimitObserver]>([:])

    public func registerTimeLimit(_ subjectType: String, _ observer: @escaping TimeLimitObserver) {
        timeLimitObservers.withLockedValue { $0[subjectType] = observer }
    }

    func timeLimitObserver(for subjectType: String) -> TimeLimitObserver? {
        timeLimitObservers.withLockedValue { $0[subjectType] }
    }

    func observer(for subjectType: String) -> Observer? {
        observers.withLockedValue { $0[subjectType] }
    }
}

/// What an application's engines look up again and again: decoded definitions by stored version (a
/// version never changes) and department ids by code (a department's code never moves to another one).
public final class WorkflowCache: Sendable {
    let definitions = NIOLockedValueBox<[UUID: ProcessDefinition]>([:])
    let departmentIDs = NIOLockedValueBox<[String: UUID]>([:])

    public init() {}
}

extension Application {
    private struct ObserversKey: StorageKey { typealias Value = WorkflowObservers }
    private struct CacheKey: StorageKey { typealias Value = WorkflowCache }

    var workflowCache: WorkflowCache {
        if let existing = storage[CacheKey.self] { return existing }
        let created = WorkflowCache()
        storage[CacheKey.self] = created
        return created
    }

    public var workflowObservers: WorkflowObservers {
        if let existing = storage[ObserversKey.self] { return existing }
        let created = WorkflowObservers()
        storage[ObserversKey.self] = created
        return created
    }

    /// The engine with this application's observers and clock.
    public func workflowEngine(on db: (any Database)? = nil) -> WorkflowEngine {
        WorkflowEngine(db: db ?? self.db, clock: clock, observers: workflowObservers, cache: workflowCache)
    }
}
