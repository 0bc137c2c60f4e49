import ArgumentParser
import Codes
import Fluent
import Foundation
import Identity
import NIOConcurrencyHelpers
import TongbanApp
import TongbanCore
import Vapor

extension Bench {
    /// `tongban bench codes`: code issuance and online verification through the services (concurrent tasks on a
    /// fresh SQLite file), and offline verification against raw Ed25519 on the same tokens.
    struct CodesBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "codes", abstract: "Code issuance, online and offline verification rates.")

        @ArgumentParser.Option(name: .long, help: "Seconds for each rate measurement.") var seconds = 3.0
        @ArgumentParser.Option(name: .long, help: "Concurrent tasks for issuance and online verification.") var concurrency = 32
        @ArgumentParser.Option(name: .long, help: "Simulated 一证通查 providers (in-process; 0 skips the lookup measurement).")
        var providers = 132
        @ArgumentParser.Option(name: .long, help: "Share of providers that are slow (beyond their timeout) or failing.")
        var badShare = 0.05
        @ArgumentParser.Option(name: .long, help: "Concurrent lookups.") var lookupConcurrency = 8
        @ArgumentParser.Option(name: .long, help: "Database URL (default: a new SQLite file in a temporary directory).")
        var database: String?
        @ArgumentParser.Option(
            name: .long,
            help: "Soak: after the rates, start lookups at a fixed --soak-rate for this many seconds (open loop; 0 = no soak).")
        var soakSeconds = 0.0
        @ArgumentParser.Option(name: .long, help: "Soak: lookups started per second.") var soakRate = 50.0
        @ArgumentParser.Flag(name: .long, help: "Only the lookup measurements (and the soak): skip issuance and verification.")
        var lookupsOnly = false

        func validate() throws {
            guard (0.1...60).contains(seconds) else { throw ValidationError("--seconds must be 0.1–60") }
            guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be 1–1024") }
            guard (0...86_400).contains(soakSeconds) else { throw ValidationError("--soak-seconds must be 0–86400") }
            guard (0.1...1000).contains(soakRate) else { throw ValidationError("--soak-rate must be 0.1–1000") }
            guard !lookupsOnly || providers > 0 else { throw ValidationError("--lookups-only needs --providers > 0") }
        }

        func run() async throws {
            try await Runner.withBenchApp(database: database) { app in try await measure(app) }
        }

        /// Runs `body` from `concurrency` tasks for `seconds`; the results and the elapsed time.
        func concurrently<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> ([T], TimeInterval) {
            let start = Date()
            let deadline = start.addingTimeInterval(seconds)
            let results = try await withThrowingTaskGroup(of: [T].self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        var mine: [T] = []
                        while Date() < deadline { mine.append(try await body()) }
                        return mine
                    }
                }
                var all: [T] = []
                for try await part in group { all += part }
                return all
            }
            return (results, Date().timeIntervalSince(start))
        }

        func measure(_ app: Application) async throws {
            try await Runner.migrate(app)
            try await TongbanApp.loadDemo(app, options: DemoOptions())
            guard let citizen = try await User.query(on: app.db).filter(\.$username == "demo-citizen").first() else {
                throw CommandFailure(description: "demo-citizen missing from the demo data")
            }
            let principal = Principal(userID: try citizen.requireID(), username: citizen.username, kind: .person, grants: [])
            let service = CodeService(app: app)
            _ = try await service.issue(type: .identity, principal: principal)
            if lookupsOnly {
                print("bench codes" + (try await lookups(app, principal: principal)))
                return
            }

            BenchLicences.progress("issuing codes (\(concurrency) tasks, \(seconds) s)")
            let (codes, issueSeconds) = try await concurrently { try await service.issue(type: .identity, principal: principal).payload }
            let issueRate = Double(codes.count) / issueSeconds

            BenchLicences.progress("verifying codes online (\(concurrency) tasks, \(seconds) s, each code once)")
            let verifier = VerificationService(app: app)
            let cursor = NIOLockedCounter()
            let (answers, verifySeconds) = try await concurrently { () -> Bool in
                let index = cursor.next()
                guard index < codes.count else { return false }
                return try await verifier.verify(payload: codes[index], scenario: "venue", apiKey: "demo-verifier-key").valid
            }
            let verified = answers.filter { $0 }.count
            let attempted = min(answers.count, codes.count)
            guard verified == attempted else {
                throw CommandFailure(description: "\(attempted - verified) of \(attempted) online verifications failed")
            }
            let verifyRate = Double(verified) / verifySeconds

            // Offline: platform codes (one signature) and device chains (two) against raw Ed25519 on the same tokens.
            let list = try await service.trustList()
            let keys = list.verificationKeys()
            let prepared = list.prepared()
            let sample = Array(codes.prefix(2000))
            let raw: [(VerificationKey, Data, Data)] = sample.compactMap { token in
                let parts = token.split(separator: ".")
                guard parts.count == 3, let kid = CompactJWS.keyID(of: token), let key = keys[kid], let signature = Base64URL.decode(parts[2])
                else { return nil }
                return (key, signature, Data(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count)))
            }
            let (devicePrivate, devicePublic) = DeviceCodeSigner.generateKey()
            let device = try await service.registerDevice(publicKey: devicePublic, name: "bench", validityDays: 1, principal: principal)
            let signer = try DeviceCodeSigner(privateKey: devicePrivate, certificate: device.certificate)
            let now = Date()
            let chains = try (0..<500).map { _ in try signer.code(type: .transit, now: now) }
            BenchLicences.progress("verifying \(sample.count) codes offline and with raw Ed25519 (\(seconds) s each)")
            var rawIndex = 0
            var index = 0
            var failures = 0
            let (rawRate, offlineRate) = BenchLicences.interleavedRates(seconds: seconds, {
                let (key, signature, message) = raw[rawIndex % raw.count]
                rawIndex += 1
                if !key.verify(signature: signature, over: message) { failures += 1 }
                return 1
            }, {
                if (try? prepared.verify(sample[index % sample.count], now: now)) == nil { failures += 1 }
                index += 1
                return 1
            })
            index = 0
            let chainRate = BenchLicences.rate(seconds: seconds) {
                if (try? prepared.verify(chains[index % chains.count], now: now)) == nil { failures += 1 }
                index += 1
                return 1
            }
            guard failures == 0 else { throw CommandFailure(description: "\(failures) offline verifications failed") }
            let lookup = providers > 0 ? try await lookups(app, principal: principal) : ""
            print(String(
                format: "bench codes: issued %d in %.2f s = %.0f codes/s; online verify %.0f/s (%d, %d tasks, SQLite writes); offline verify %.0f/s = %.0f%% of raw Ed25519 %.0f/s; device chain (2 signatures) %.0f/s",
                codes.count, issueSeconds, issueRate, verifyRate, verified, concurrency, offlineRate, 100 * offlineRate / rawRate, rawRate, chainRate)
                + lookup)
        }

        /// Federated lookups over `providers` simulated providers (20 ms; a `badShare` half slow beyond the 1 s
        /// timeout, half failing): p50/p95 answer time and lookups/s with `lookupConcurrency` at once.
        func lookups(_ app: Application, principal: Principal) async throws -> String {
            let bad = Int((Double(providers) * badShare).rounded())
            for n in 0..<providers {
                let provider = LookupProvider()
                provider.name = String(format: "bench-provider-%03d", n)
                provider.kind = n < 93 ? .carrier : .reseller
                let slow = n >= providers - bad / 2 - bad % 2
                let failing = !slow && n >= providers - bad
                provider.endpoint = slow ? "sim://p?slowMs=1500" : failing ? "sim://p?latencyMs=20&failureRate=1" : "sim://p?latencyMs=20"
                provider.sealedCredentials = try app.keyVault.seal(Data(), purpose: "codes.provider-credentials")
                provider.status = .active
                provider.timeoutMilliseconds = 1000
                provider.createdAt = Date()
                try await provider.create(on: app.db)
            }
            app.lookupSettings.perDay = Int.max
            app.lookupSettings.lateWindow = .seconds(5)
            let service = LookupService(app: app)
            BenchLicences.progress("lookups over \(providers + 3) providers (\(bad) slow or failing), \(lookupConcurrency) at once, \(seconds) s")
            var copy = self
            copy.concurrency = lookupConcurrency
            let (times, elapsed) = try await copy.concurrently { () -> Double in
                let start = Date()
                let view = try await service.query(principal: principal, livenessToken: "bench")
                guard view.total == providers + 3 else { throw CommandFailure(description: "lookup asked \(view.total) providers") }
                return Date().timeIntervalSince(start)
            }
            let sorted = times.sorted()
            let p50 = sorted[sorted.count / 2] * 1000
            let p95 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.95))] * 1000
            let deadline = Date().addingTimeInterval(10)
            while app.lateAnswers.count > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            var result = String(
                format: "; lookups over %d providers: %d in %.1f s = %.1f/s, p50 %.0f ms, p95 %.0f ms",
                providers + 3, times.count, elapsed, Double(times.count) / elapsed, p50, p95)
            if soakSeconds > 0 { result += try await soak(service, app: app, principal: principal) }
            return result
        }

        /// The soak: one lookup started every 1/`soakRate` s for `soakSeconds` (open loop: a slow answer does not
        /// delay the next start), each in its own task; errors, lateness of the schedule and answer-time percentiles.
        func soak(_ service: LookupService, app: Application, principal: Principal) async throws -> String {
            let total = Int((soakSeconds * soakRate).rounded())
            BenchLicences.progress("soak: \(total) lookups at \(soakRate)/s over \(soakSeconds) s (open loop)")
            let start = ContinuousClock.now
            let expected = providers + 3
            let results = await withTaskGroup(of: (Double, String?).self) { group in
                for n in 0..<total {
                    let due = start.advanced(by: .seconds(Double(n) / soakRate))
                    try? await Task.sleep(until: due, clock: .continuous)
                    group.addTask {
                        let begun = ContinuousClock.now
                        do {
                            let view = try await service.query(principal: principal, livenessToken: "soak")
                            let took = begun.duration(to: .now)
                            let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
                            return (seconds, view.total == expected ? nil : "asked \(view.total) providers")
                        } catch {
                            return (0, String(describing: error))
                        }
                    }
                    if n > 0, n % Int(max(1, soakRate * 30)) == 0 {
                        BenchLicences.progress("soak: \(n) started")
                    }
                }
                var all: [(Double, String?)] = []
                for await item in group { all.append(item) }
                return all
            }
            let elapsed = start.duration(to: .now)
            let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let errors = results.compactMap(\.1)
            let times = results.filter { $0.1 == nil }.map(\.0).sorted()
            func percentile(_ p: Double) -> Double { times.isEmpty ? 0 : times[min(times.count - 1, Int(Double(times.count) * p))] * 1000 }
            if let first = errors.first { BenchLicences.progress("soak: first error: \(first)") }
            // Late answers still in flight are recorded before the app shuts down.
            let drained = Date().addingTimeInterval(30)
            while app.lateAnswers.count > 0 && Date() < drained { try await Task.sleep(for: .milliseconds(50)) }
            return String(
                format: "; soak %.0f s at %.0f/s: %d lookups in %.1f s = %.1f/s, %d errors, p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms",
                soakSeconds, soakRate, results.count, elapsedSeconds, Double(results.count) / elapsedSeconds, errors.count,
                percentile(0.5), percentile(0.95), percentile(0.99), times.last.map { $0 * 1000 } ?? 0)
        }
    }
}

/// A shared counter for handing out work items.
final class NIOLockedCounter: Sendable {
    let box = NIOLockedValueBox(0)

    func next() -> Int {
        box.withLockedValue {
            $0 += 1
            return $0 - 1
        }
    }
}
