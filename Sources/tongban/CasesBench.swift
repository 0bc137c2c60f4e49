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
        @ArgumentParser.Option(
            name: .long,
            help: "HTTP clients: wrk (an external load generator, when installed; runs --seconds) or swift (in-process clients filing --reports).")
        var driver: String?
        @ArgumentParser.Option(name: .long, help: "Seconds of load with --driver wrk.") var seconds = 15

        func validate() throws {
            guard (1...1_000_000).contains(reports) else { throw ValidationError("--reports must be 1–1000000") }
            guard (1...512).contains(concurrency) else { throw ValidationError("--concurrency must be 1–512") }
            guard (1...10_000).contains(grids) else { throw ValidationError("--grids must be 1–10000") }
            guard driver == nil || ["wrk", "swift"].contains(driver!) else { throw ValidationError("--driver must be wrk or swift") }
            guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be 1–600") }
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
            let useWrk = driver == "wrk" || (driver == nil && WrkDriver.path() != nil)
            let ingest: Ingest
            if useWrk {
                guard let wrk = WrkDriver.path() else { throw CommandFailure(description: "--driver wrk: wrk is not installed (apt-get install wrk)") }
                ingest = try await ingestWithWrk(app, wrk: wrk, base: base, token: citizen, box: box)
            } else {
                ingest = try await ingestWithSwift(app, base: base, token: citizen, box: box)
            }
            let rate = ingest.rate
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
                    format: "stats over %d cases (loaded in %.0f s): p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d requests)", cases + ingest.stored,
                    loadSeconds, sorted[sorted.count / 2], p99, sorted.last ?? 0, sorted.count)
            }
            await app.server.shutdown()
            print(String(
                format: "cases: %.0f reports/s over HTTP with %d grids (%@, %d connections, %d failed, p99 %.0f ms); %@", rate, grids,
                useWrk ? "wrk" : "in-process clients", concurrency, ingest.failed, ingest.p99, statsLine))
        }

        struct Ingest {
            var stored: Int
            var seconds: Double
            var failed: Int
            var p99: Double
            var rate: Double { Double(stored) / seconds }
        }

        static let categories = ["sanitation", "environment", "road", "street_order", "public_facilities", "greenery", "water", "noise"]

        /// In-process clients (AsyncHTTPClient): `--reports` reports from `--concurrency` tasks. The clients share the
        /// server's two cores, so this understates what the server does with an external load generator.
        func ingestWithSwift(_ app: Application, base: String, token citizen: String, box: CasesBenchSupport.Box) async throws -> Ingest {
            let categories = Self.categories
            let counter = NIOLockedValueBox((next: 0, failed: 0, duplicates: 0, latencies: [Double]()))
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
                            let t0 = Date()
                            let response = try await app.client.post(URI(string: base + "/api/v1/cases")) { req in
                                req.headers.bearerAuthorization = BearerAuthorization(token: citizen)
                                try req.content.encode(body)
                            }
                            let duplicate = response.body.map { String(buffer: $0).contains("\"duplicate\"") } ?? false
                            let elapsed = Date().timeIntervalSince(t0) * 1000
                            counter.withLockedValue {
                                $0.latencies.append(elapsed)
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
            let sorted = result.latencies.sorted()
            let p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
            return Ingest(stored: reports - result.failed, seconds: seconds, failed: result.failed, p99: p99)
        }

        /// wrk with a Lua script that files grid events at random points of the grids' box for `--seconds`; the rate
        /// counts the cases actually stored (read back from the database), not wrk's requests.
        func ingestWithWrk(
            _ app: Application, wrk: String, base: String, token: String, box: CasesBenchSupport.Box
        ) async throws -> Ingest {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tongban-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let script = directory.appendingPathComponent("cases-report.lua")
            try WrkDriver.casesScript(box: box, categories: Self.categories).write(to: script, atomically: true, encoding: .utf8)
            let before = try await CasesBenchSupport.caseCount(app: app)
            BenchLicences.progress("wrk: \(concurrency) connections, 2 threads, \(seconds) s of reports")
            let output = try await WrkDriver.run(
                wrk, arguments: ["-t2", "-c\(concurrency)", "-d\(seconds)s", "--latency", "-s", script.path, base + "/api/v1/cases"],
                environment: ["TOKEN": token])
            let after = try await CasesBenchSupport.caseCount(app: app)
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("cases-wrk:") }) else {
                throw CommandFailure(description: "wrk printed no summary: \(output.suffix(300))")
            }
            // cases-wrk: <created> <failed> <seconds> <p50 ms> <p99 ms>
            let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            guard fields.count == 5 else { throw CommandFailure(description: "unexpected wrk summary: \(line)") }
            let stored = after - before
            BenchLicences.progress(String(
                format: "ingest: wrk got %.0f answers 201 (%.0f other) in %.2f s, %d cases stored = %.0f reports/s; latency p50 %.1f ms, p99 %.1f ms",
                fields[0], fields[1], fields[2], stored, Double(stored) / fields[2], fields[3], fields[4]))
            let writer = await CasesBenchSupport.writerCounts(app: app)
            BenchLicences.progress("writer: \(writer.batches) write transactions so far")
            return Ingest(stored: stored, seconds: fields[2], failed: Int(fields[1]), p99: fields[4])
        }
    }
}
