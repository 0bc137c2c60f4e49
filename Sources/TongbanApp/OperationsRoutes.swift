import Fluent
import Foundation
import SQLKit
import TongbanCore
import Vapor

/// `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, and the `/api` catch-all that answers 404 problems.
enum OperationsRoutes {
    struct Health: Content {
        var status: String
        var checks: [String: String]?
    }

    static func register(_ app: Application) {
        /// GET /healthz — the process is alive.
        app.get("healthz") { _ in Health(status: "ok", checks: nil) }

        /// GET /readyz — the database answers and every migration is applied; 503 otherwise.
        app.get("readyz") { req async -> Response in
            var checks: [String: String] = [:]
            var ready = true
            do {
                guard let sql = req.db as? any SQLDatabase else { throw Abort(.serviceUnavailable) }
                _ = try await sql.raw("SELECT 1 AS one").all()
                checks["database"] = "ok"
                let applied = Set(try await sql.select().column("name").from("_fluent_migrations").all()
                    .map { try $0.decode(column: "name", as: String.self) })
                let missing = TongbanApp.migrationNames().filter { !applied.contains($0) }
                checks["migrations"] = missing.isEmpty ? "ok" : "\(missing.count) pending"
                ready = missing.isEmpty
            } catch {
                checks["database"] = checks["database"] ?? "unreachable"
                checks["migrations"] = checks["migrations"] ?? "unknown"
                ready = false
            }
            let body = Health(status: ready ? "ready" : "not ready", checks: checks)
            let response = (try? await body.encodeResponse(status: ready ? .ok : .serviceUnavailable, for: req))
                ?? Response(status: .serviceUnavailable)
            response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
            return response
        }

        /// GET /metrics — Prometheus text exposition.
        app.get("metrics") { req -> Response in
            let response = Response(status: .ok, body: .init(string: req.application.metricsRegistry.render()))
            response.headers.replaceOrAdd(name: .contentType, value: "text/plain; version=0.0.4; charset=utf-8")
            return response
        }

        /// GET /openapi.json — OpenAPI 3.1 for every /api/v1 route.
        let document = app.apiDocumentation
        app.get("openapi.json") { req -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(document.document(version: TongbanApp.version))
            let response = Response(status: .ok, body: .init(data: data))
            response.headers.replaceOrAdd(name: .contentType, value: "application/json; charset=utf-8")
            return response
        }
    }
}
