import ArgumentParser
import Codes
import Foundation
import Vapor

/// `tongban sim providers`: an HTTP server with N simulated 一证通查 providers speaking the provider contract.
struct Sim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Simulators for external systems.", subcommands: [Providers.self])

    struct Providers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve N simulated carriers and resellers for 一证通查 (POST /providers/{n} {\"idNumber\"} → {\"numbers\"}).",
            discussion: """
                Provider n (0-based) answers after --latency-ms; a share --slow-share of them (the last ones) answer after
                --slow-ms instead, and a share --fail-share fail with HTTP 503. The first 93 are carriers, the rest resellers
                (as in the real registry). On start one JSON line per provider is printed: {"name","kind","endpoint"},
                ready for POST /api/v1/codes/providers.
                """)

        @ArgumentParser.Option(name: .long, help: "Number of providers.") var count = 132
        @ArgumentParser.Option(name: .long, help: "Port to listen on.") var port = 9900
        @ArgumentParser.Option(name: .long, help: "Address to listen on.") var host = "127.0.0.1"
        @ArgumentParser.Option(name: .long, help: "Answer time of a normal provider (ms).") var latencyMs = 20
        @ArgumentParser.Option(name: .long, help: "Answer time of a slow provider (ms).") var slowMs = 5000
        @ArgumentParser.Option(name: .long, help: "Share of slow providers (0–1).") var slowShare = 0.03
        @ArgumentParser.Option(name: .long, help: "Share of failing providers (0–1).") var failShare = 0.02

        func validate() throws {
            guard (1...10_000).contains(count) else { throw ValidationError("--count must be 1–10000") }
            guard (1...65535).contains(port) else { throw ValidationError("--port must be 1–65535") }
            guard (0...1).contains(slowShare), (0...1).contains(failShare), slowShare + failShare <= 1 else {
                throw ValidationError("--slow-share and --fail-share must be 0–1 and add up to at most 1")
            }
            guard latencyMs >= 0, slowMs >= 0 else { throw ValidationError("latencies must not be negative") }
        }

        func run() async throws {
            let app = try await Application.make(Environment(name: "production", arguments: ["tongban"]))
            app.logger.logLevel = .warning
            let simulator = ProviderSimulator(
                count: count, latencyMs: latencyMs, slowMs: slowMs, slowShare: slowShare, failShare: failShare)
            simulator.register(on: app)
            app.http.server.configuration.hostname = host
            app.http.server.configuration.port = port
            var lines = ""
            for provider in simulator.providers(baseURL: "http://\(host):\(port)") {
                lines += #"{"name":"\#(provider.name)","kind":"\#(provider.kind.rawValue)","endpoint":"\#(provider.endpoint)"}"# + "\n"
            }
            FileHandle.standardOutput.write(Data(lines.utf8))
            do {
                try await app.execute()
                try await app.asyncShutdown()
            } catch {
                try? await app.asyncShutdown()
                throw error
            }
        }
    }
}
