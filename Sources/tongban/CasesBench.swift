import ArgumentParser
import Cases
import Foundation
import NIOConcurrencyHelpers
import TongbanApp
import TongbanCore
import Vapor

extension Bench {
    /// `tongban bench cases`: report ingestion over HTTP with grid assignment over 451 grids, then
    /// statistics over many synthetic cases.
    struct CasesBenchCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cases", abstract: "Case ingestion over HTTP (451 grids) and statistics over many cases.")

        @ArgumentParser.Option(name: .long, help: "Reports to file over HTTP.") var reports = 10_000
        @ArgumentParser.Option(name: .long, help: "Concurrent HTTP clients.") var concurrency = 32
        @ArgumentParser.Option(name: .long, help: "Grids in total (the demo has 50; more are generated).") var grids = 451
        @ArgumentParser.Option(name: .long, help: "Synthetic cases for the statistics measurement (0 skips it).")
        var cases = 1_000_000
        @ArgumentParser.Option(name: .long, help: "Statistics requests per kind of period (three kinds).") var statsRuns = 20
        @ArgumentParser.Option(name: .long, help: "Port for the in-process server.") var port = 18_431
        @ArgumentParser.Option(name: .long, help: "Database URL (default: a new SQLite file in a temporary directory).")
        var database: String?

        func validate() throws {
            guard (1...1_000_000).contains(reports) else { throw ValidationError("--reports must be 1–1000000") }
            guard (1...512).contains(concurrency) else { throw ValidationError("--concurrency must be 1–512") }
            guard (1...10_000).contains(grids) else { throw ValidationError("--grids must be 1–10000") }
            guard (0...10_000_000).contains(cases) else { throw ValidationError("--cases must be 0–10000000") }
            guard (1...1000).contains(statsRuns) else { throw ValidationError("--stats-runs must be 1–1000") }
        }

        func run() async throws {
            try await Runner.withBenchApp(database: database, host: "127.0.0.1") { app in try await measure(app) }
        }

        struct Token: Decodable { var accessToken: String }

        func measure(_ app: Application) async throws {
            try await Runner.migrate(app)
            try await TongbanApp.loadDemo(app, options: DemoOptions())
            let box = try await CasesBenchSupport.addGrids(app: app, total: grids)
            BenchLicences.progress("grids: \(grids), covering latitude \(box.minLat)–\(box.maxLat), longitude \(box.minLon)–\(box.maxLon)")
            app.http.server.configuration.hostname = "127.0.0.1"
            app.http.server.configuration.port = port
            try await app.server.start(address: .hostname("127.0.0.1", port: port))
            let base = "http://127.0.0.1:\(port)"
            func login(_ username: String) async throws -> String {
                let response = try await app.client.post(URI(string: base + "/api/v1/auth/login")) { req in
                    try req.content.encode(["username": username, "password": "Tongban-demo-2026"])
                }
                return try response.content.decode(Token.self).accessToken
            }
            let citizen = try await login("demo-citizen")
            let categories = ["sanitation", "environment", "road", "street_order", "public_facilities", "greenery", "water", "noise"]
            let counter = NIOLockedValueBox((next: 0, failed: 0, duplicates: 0))
            BenchLicences.progress("filing \(reports) reports with \(concurrency) clients")
            let start = Date()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        while true {
                            let index = counter.withLockedValue { value -> Int in
                                value.next += 1
                                return value.next
                            }
                            if index > reports { return }
                            let body: [String: JSONValue] = [
                                "type": "grid_event", "category": .string(categories[index % categories.count]),
                                "description": .string("基准测试上报 \(index)"),
                                "location": [
                                    "lat": .number(Double.random(in: box.minLat...box.maxLat)),
                                    "lon": .number(Double.random(in: box.minLon...box.maxLon)),
                                ],
                            ]
                            let response = try await app.client.post(URI(string: base + "/api/v1/cases")) { req in
                                req.headers.bearerAuthorization = BearerAuthorization(token: citizen)
                                try req.content.encode(body)
                            }
                            let duplicate = response.body.map { String(buffer: $0).contains("\"duplicate\"") } ?? false
                            counter.withLockedValue {
                                if response.status != .created { $0.failed += 1 }
                                if duplicate { $0.duplicates += 1 }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let seconds = Date().timeIntervalSince(start)
            let result = counter.withLockedValue { $0 }
            let rate = Double(reports) / seconds
            let writer = await CasesBenchSupport.writerCounts(app: app)
            BenchLicences.progress(String(format: "ingest: %d reports in %.2f s = %.0f reports/s (%d failed, %d duplicates; %d write transactions)", reports, seconds, rate, result.failed, result.duplicates, writer.batches))
            var statsLine = "stats skipped"
            if cases > 0 {
                BenchLicences.progress("inserting \(cases) synthetic cases")
                let loadStart = Date()
                try await CasesBenchSupport.insertSyntheticCases(app: app, count: cases) { done in
                    BenchLicences.progress(String(format: "inserted %d (%.0f s)", done, Date().timeIntervalSince(loadStart)))
                }
                let loadSeconds = Date().timeIntervalSince(loadStart)
                let staff = try await login("demo-district")
                // Three kinds of period: everything, this year, one month (edges of 16-day blocks).
                let paths = [
                    "/api/v1/cases/stats", "/api/v1/cases/stats?from=2026-01-01&to=2026-12-31",
                    "/api/v1/cases/stats?from=2026-10-03&to=2026-11-02",
                ]
                var timings: [Double] = []
                for run in 0..<(3 * statsRuns) {
                    let t0 = Date()
                    let response = try await app.client.get(URI(string: base + paths[run % paths.count])) { req in
                        req.headers.bearerAuthorization = BearerAuthorization(token: staff)
                    }
                    guard response.status == .ok else { throw CommandFailure(description: "stats answered \(response.status)") }
                    timings.append(Date().timeIntervalSince(t0) * 1000)
                }
                let sorted = timings.sorted()
                let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
                statsLine = String(
                    format: "stats over %d cases (loaded in %.0f s): p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d requests)", cases + reports,
                    loadSeconds, sorted[sorted.count / 2], p99, sorted.last ?? 0, sorted.count)
            }
            await app.server.shutdown()
            print(String(format: "cases: %.0f reports/s over HTTP with %d grids (%d clients, %d failed); %@", rate, grids, concurrency, result.failed, statsLine))
        }
    }
}
