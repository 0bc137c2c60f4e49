import Fluent
import Vapor

/// A domain module: one room with explicit doors. ``TongbanApp`` is a list of these.
public protocol TongbanModule: Sendable {
    /// A short, stable name (`identity`, `catalogue`).
    var name: String { get }
    /// Migrations in order; append-only.
    var migrations: [any Migration] { get }
    /// Registers routes, services and jobs.
    func boot(_ app: Application) throws
    /// Loads demo data; must be idempotent.
    func seedDemo(on app: Application, options: DemoOptions) async throws
}

/// Options for demo data loading.
public struct DemoOptions: Sendable {
    /// Additional synthetic services to generate (for benchmarks).
    public var extraServices: Int
    /// Progress reporter (`line`), e.g. printing to stderr.
    public var progress: @Sendable (String) -> Void

    public init(extraServices: Int = 0, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.extraServices = extraServices
        self.progress = progress
    }
}
