import Foundation
import Testing
import TestSupport
import TongbanApp
import TongbanCore
import Vapor
import VaporTesting

@Suite("Operations, OpenAPI, migrations and bad input")
struct OperationsTests {
    @Test func health_ready_metrics() async throws {
        try await withTestApp { app in
            try await app.testing().test(.GET, "/healthz") { res in
                #expect(res.status == .ok)
                #expect(res.body.string.contains("\"ok\""))
                #expect(res.headers.first(name: "X-Request-Id") != nil)
            }
            try await app.testing().test(.GET, "/readyz") { res in
                #expect(res.status == .ok)
                #expect(res.body.string.contains("\"ready\""))
            }
            _ = try await app.testing().sendRequest(.GET, "/api/v1/services")
            try await app.testing().test(.GET, "/metrics") { res in
                #expect(res.headers.first(name: .contentType)?.hasPrefix("text/plain") == true)
                let text = res.body.string
                #expect(text.contains("http_requests_total"))
                #expect(text.contains("route=\"/api/v1/services\""))
                #expect(text.contains("http_request_duration_seconds_bucket"))
            }
        }
    }

    @Test func readyz_reportsPendingMigrations() async throws {
        try await withTestApp { app in
            try await app.autoRevert()
            try await app.testing().test(.GET, "/readyz") { res in #expect(res.status == .serviceUnavailable) }
            try await app.autoMigrate()
            try await app.testing().test(.GET, "/readyz") { res in #expect(res.status == .ok) }
        }
    }

    @Test func migrations_revertAndReapplyWithDemoData() async throws {
        try await withTestApp(demo: true) { app in
            try await app.autoRevert()
            try await app.autoMigrate()
            try await TongbanApp.loadDemo(app, options: DemoOptions())
            try await TongbanApp.loadDemo(app, options: DemoOptions())  // idempotent
            let res = try await app.testing().sendRequest(.GET, "/api/v1/services?limit=100")
            #expect(res.status == .ok)
        }
    }

    /// The server builds its router from every route at start-up; RoutingKit stops the process when two
    /// routes name a parameter differently at the same place (`/x/:id` and `/x/:task/y`). Tests that send
    /// requests in memory do not build it, so this one does, as `tongban serve` would.
    @Test func allRoutesBuildOneRouter() async throws {
        try await withTestApp { app in
            var seen: [String: String] = [:]
            for route in app.routes.all {
                var prefix = route.method.rawValue
                for component in route.path {
                    if case .parameter(let name) = component {
                        let key = prefix + "/:"
                        if let other = seen[key] { #expect(other == name, "\(route.path.string): :\(name) vs :\(other)") }
                        seen[key] = name
                    }
                    prefix += "/" + (component.description.hasPrefix(":") ? ":" : component.description)
                }
            }
            _ = app.responder.current
        }
    }

    @Test func openAPI_describesEveryAPIRoute() async throws {
        try await withTestApp { app in
            let docs = app.apiDocumentation
            let apiRoutes = app.routes.all.filter { $0.path.first?.description == "api" }
            #expect(apiRoutes.count >= 20)
            for route in apiRoutes {
                let path = "/" + route.path.map { component -> String in
                    if case .parameter(let name) = component { return "{\(name)}" }
                    return component.description
                }.joined(separator: "/")
                #expect(docs.documents(method: route.method, path: path), "\(route.method) \(path) is not in /openapi.json")
            }
            try await app.testing().test(.GET, "/openapi.json") { res in
                let document = try res.content.decode(JSONValue.self)
                #expect(document["openapi"]?.stringValue == "3.1.0")
                #expect(document["paths"]?["/api/v1/services"]?["get"] != nil)
                #expect(document["paths"]?["/api/v1/auth/login"]?["post"] != nil)
            }
        }
    }

    @Test func unknownAPIRoute_is404Problem() async throws {
        try await withTestApp { app in
            for (method, path) in [(HTTPMethod.GET, "/api/v1/nothing"), (.POST, "/api/v2/services"), (.DELETE, "/api/v1/services")] {
                let res = try await app.testing().sendRequest(method, path)
                #expect(res.status == .notFound, "\(method) \(path)")
                #expect(res.isProblemJSON)
                #expect(res.problem?.instance == path)
            }
        }
    }

    @Test func oversizeBody_is413Problem() async throws {
        try await withTestApp { app in
            let big = "{\"username\":\"" + String(repeating: "a", count: 1_100_000) + "\"}"
            // The limit applies while the body streams in, so this needs a real server.
            let res = try await app.testing(method: .running(port: Int.random(in: 20_000...40_000))).sendRequest(
                .POST, "/api/v1/auth/register", headers: .json, body: ByteBuffer(string: big))
            #expect(res.status == .payloadTooLarge)
            #expect(res.isProblemJSON)
        }
    }

    @Test func garbageBodies_neverAnswer500() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let bodies = ["", "null", "[]", "{\"a\":", "\u{0}\u{1}", "{\"username\":null,\"password\":[1]}", "{\"roles\":[{}]}",
                          "{\"code\":\"X\",\"materials\":\"nope\"}", String(repeating: "{", count: 600)]
            let routes: [(HTTPMethod, String)] = app.routes.all
                .filter { $0.path.first?.description == "api" && $0.method != .GET }
                .map { route in
                    (route.method, "/" + route.path.map { c -> String in
                        if case .parameter = c { return UUID().uuidString }
                        return c.description
                    }.joined(separator: "/"))
                }
            for (method, path) in routes {
                for body in bodies {
                    var headers = HTTPHeaders.bearer(admin)
                    headers.add(name: .contentType, value: "application/json")
                    let res = try await app.testing().sendRequest(method, path, headers: headers, body: ByteBuffer(string: body))
                    #expect(res.status.code < 500, "\(method) \(path) with \(body.prefix(20)) -> \(res.status.code) \(res.body.string.prefix(200))")
                    #expect(res.status.code < 300 || res.isProblemJSON, "\(method) \(path)")
                }
            }
        }
    }
}
