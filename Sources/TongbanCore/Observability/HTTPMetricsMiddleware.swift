import CoreMetrics
import Foundation
import NIOConcurrencyHelpers
import Prometheus
import Vapor

/// The application's Prometheus registry; `/metrics` renders it.
public final class MetricsRegistry: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    /// Request counters and timers by method/route/status, created once each.
    let handles = NIOLockedValueBox<[String: (CoreMetrics.Counter, CoreMetrics.Timer)]>([:])

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5),
        ]
        self.factory = factory
    }

    /// Prometheus text exposition format.
    public func render() -> String { registry.emitToString() }
}

extension Application {
    private struct MetricsKey: StorageKey { typealias Value = MetricsRegistry }

    /// The per-application metrics registry (not the process-global one, so tests stay isolated).
    public var metricsRegistry: MetricsRegistry {
        if let existing = storage[MetricsKey.self] { return existing }
        let created = MetricsRegistry()
        storage[MetricsKey.self] = created
        return created
    }
}

/// Counts requests and records latencies by method, route pattern and status.
public struct HTTPMetricsMiddleware: AsyncMiddleware {
    let metrics: MetricsRegistry

    public init(metrics: MetricsRegistry) { self.metrics = metrics }

    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next.respond(to: request)
        } catch {
            record(request, status: (error as? any AbortError)?.status.code ?? 500, start: start)
            throw error
        }
        record(request, status: response.status.code, start: start)
        return response
    }

    func record(_ request: Request, status: UInt, start: ContinuousClock.Instant) {
        let route =
            request.route.map { "/" + $0.path.map { $0.description }.joined(separator: "/") } ?? "unmatched"
        let method = request.method.rawValue
        let key = method + " " + route + " " + String(status)
        let factory = metrics.factory
        let (counter, timer) = metrics.handles.withLockedValue { handles in
            if let existing = handles[key] { return existing }
            let created = (
                CoreMetrics.Counter(
                    label: "http_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))],
                    factory: factory),
                CoreMetrics.Timer(
                    label: "http_request_duration_seconds", dimensions: [("method", method), ("route", route)],
                    factory: factory)
            )
            handles[key] = created
            return created
        }
        counter.increment()
        let elapsed = ContinuousClock.now - start
        timer.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
