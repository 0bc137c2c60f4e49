import ArgumentParser
import Audit
import AuditLog
import Foundation
import NIOConcurrencyHelpers
import TongbanApp
import TongbanCore
import Vapor

/// Writes one line on stderr (progress).
func progressLine(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs `body` with a migrated application for `database`, shutting it down afterwards.
func withCommandApp<T>(database: String?, _ body: (Application) async throws -> T) async throws -> T {
    let (app, _) = try await Runner.makeApp(database: database)
    do {
        try await Runner.migrate(app)
        let result = try await body(app)
        try await app.asyncShutdown()
        return result
    } catch {
        try? await app.asyncShutdown()
        throw error
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The tamper-evident audit log: verify, export and check evidence.",
        subcommands: [Verify.self, VerifyEvidence.self, Evidence.self, Append.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the Merkle tree from the stored entries; report the first changed entry (exit 1).")
        @ArgumentParser.OptionGroup var db: DatabaseOptions

        func run() async throws {
            let start = Date()
            let result = try await withCommandApp(database: db.database) { app in
                try await AuditVerification.verify(service: app.auditLog, on: app.db) { done, total in
                    if done % 262_144 < 8192 || done == total { progressLine("audit verify: \(done)/\(total) entries") }
                }
            }
            let seconds = Date().timeIntervalSince(start)
            if let bad = result.badCheckpoint {
                throw CommandFailure(description: "audit log NOT intact: the stored checkpoint of size \(bad) does not verify with the log's key")
            }
            if let finding = result.finding {
                throw CommandFailure(
                    description: "audit log NOT intact: first changed entry index \(finding.index): \(finding)")
            }
            print(
                "OK: \(result.size) entries, root \(result.root.base64), \(result.checkpointsMatched) signed checkpoints match"
                    + String(format: " (%.1f s)", seconds))
        }
    }

    struct VerifyEvidence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-evidence",
            abstract: "Check an evidence bundle offline (exit 0 valid, 1 with the reason).",
            discussion: """
                The log's public key is the "key" of GET /api/v1/audit/key (text like \
                tongban.local/audit+1a2b3c4d+AXk…); pass it with --key or put it in a file for --key-file.
                """)
        @ArgumentParser.Option(name: .long, help: "The log's verifier key (<origin>+<key id>+<base64>).") var key: String?
        @ArgumentParser.Option(name: .long, help: "A file holding the verifier key.") var keyFile: String?
        @ArgumentParser.Option(name: .long, help: "Expected origin (default: the key's name).") var origin: String?
        @ArgumentParser.Argument(help: "The evidence bundle (JSON) to check.") var file: String

        func run() async throws {
            var text = key
            if let keyFile {
                guard let data = FileManager.default.contents(atPath: keyFile) else {
                    throw CommandFailure(description: "cannot read key file \(keyFile)")
                }
                text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let text else {
                throw ValidationError("the log's public key is needed: --key VKEY or --key-file FILE (GET /api/v1/audit/key)")
            }
            let verifier: NoteVerifier
            do {
                verifier = try NoteVerifier(text.trimmingCharacters(in: .whitespacesAndNewlines))
            } catch {
                throw CommandFailure(description: "invalid key: \(error)")
            }
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure(description: "cannot read \(file)")
            }
            do {
                let bundle = try EvidenceBundle(json: data)
                let checkpoint = try bundle.verify(key: verifier, origin: origin)
                print("OK: entry \(bundle.index) is in \(checkpoint.origin) at tree size \(checkpoint.size), root \(checkpoint.rootHash.base64)")
            } catch let failure as EvidenceFailure {
                throw CommandFailure(description: "invalid evidence (\(failure.code)): \(failure)")
            } catch {
                throw CommandFailure(description: "invalid evidence: \(error)")
            }
        }
    }

    struct Evidence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the evidence bundle of one entry (entry, inclusion proof, signed checkpoint).")
        @ArgumentParser.Argument(help: "The entry's index.") var index: Int
        @ArgumentParser.Option(name: .long, help: "Write to this file (default: standard output).") var out: String?
        @ArgumentParser.OptionGroup var db: DatabaseOptions

        func validate() throws {
            guard index >= 0 else { throw ValidationError("INDEX must be a non-negative integer") }
        }

        func run() async throws {
            let data: Data = try await withCommandApp(database: db.database) { app in
                do {
                    return try await app.auditLog.evidence(index: index, on: app.db).json()
                } catch let problem as Problem {
                    throw CommandFailure(description: problem.detail ?? problem.title)
                }
            }
            if let out {
                do {
                    try data.write(to: URL(fileURLWithPath: out))
                } catch {
                    throw CommandFailure(description: "cannot write \(out): \(error.localizedDescription)")
                }
                progressLine("evidence for entry \(index) written to \(out)")
            } else {
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            }
        }
    }

    struct Append: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append test events through the batched appender, printing each acknowledged index (one per line).")
        @ArgumentParser.Option(name: .long, help: "Event kind.") var kind = "ops.test"
        @ArgumentParser.Option(name: .long, help: "How many events.") var count = 1
        @ArgumentParser.Option(name: .long, help: "Concurrent appenders.") var concurrency = 1
        @ArgumentParser.OptionGroup var db: DatabaseOptions

        func validate() throws {
            guard (1...100_000_000).contains(count) else { throw ValidationError("--count must be 1–100000000") }
            guard (1...10_000).contains(concurrency) else { throw ValidationError("--concurrency must be 1–10000") }
        }

        func run() async throws {
            try await withCommandApp(database: db.database) { app in
                let service = app.auditLog
                let (kind, count, concurrency) = (kind, count, concurrency)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<concurrency {
                        group.addTask {
                            var n = worker
                            while n < count {
                                let index = try await service.record(
                                    kind: kind, actor: nil, subject: "test:\(n)", details: ["n": String(n)])
                                FileHandle.standardOutput.write(Data("\(index)\n".utf8))
                                n += concurrency
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }
}

extension Bench {
    struct AuditBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Append N events through the batched appender with many concurrent appenders, then time inclusion proofs.")
        @ArgumentParser.Option(name: .long, help: "Events to append through the appender.") var events = 100_000
        @ArgumentParser.Option(name: .long, help: "Concurrent appenders.") var concurrency = 256
        @ArgumentParser.Option(name: .long, help: "First bulk-load this many synthetic entries (for a large log).") var bulk = 0
        @ArgumentParser.Option(name: .long, help: "Inclusion proofs to time.") var proofs = 2000
        @ArgumentParser.Option(
            name: .long, help: "Database URL (default: a new temporary SQLite file, removed afterwards).") var database: String?
        @ArgumentParser.Flag(name: .long, help: "Keep the temporary database.") var keep = false

        func validate() throws {
            guard (0...100_000_000).contains(events) else { throw ValidationError("--events must be 0–100000000") }
            guard (0...100_000_000).contains(bulk) else { throw ValidationError("--bulk must be 0–100000000") }
            guard (1...100_000).contains(concurrency) else { throw ValidationError("--concurrency must be 1–100000") }
            guard (1...1_000_000).contains(proofs) else { throw ValidationError("--proofs must be 1–1000000") }
        }

        func run() async throws {
            var temporary: String?
            var url = database
            if url == nil {
                let path = FileManager.default.temporaryDirectory.appendingPathComponent("tongban-bench-audit-\(UUID().uuidString).sqlite").path
                temporary = path
                url = "sqlite://" + path
                progressLine("bench: database \(path)")
            }
            defer {
                if let temporary, !keep {
                    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: temporary + suffix) }
                }
            }
            let (events, concurrency, bulk, proofs) = (events, concurrency, bulk, proofs)
            try await withCommandApp(database: url) { app in
                let service = app.auditLog
                if bulk > 0 {
                    let start = Date()
                    try await AuditBulk.appendSynthetic(count: bulk, on: app.db) { done in
                        progressLine(String(format: "bench: bulk %d/%d entries (%.0f s)", done, bulk, Date().timeIntervalSince(start)))
                    }
                }
                let counter = NIOLockedValueBox(0)
                let start = Date()
                let reporter = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        let done = counter.withLockedValue { $0 }
                        progressLine(
                            String(format: "bench: %d/%d events, %.0f events/s", done, events, Double(done) / Date().timeIntervalSince(start)))
                    }
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<min(concurrency, max(1, events)) {
                        group.addTask {
                            var n = worker
                            while n < events {
                                _ = try await service.record(
                                    kind: "bench.event", actor: UUID(), subject: "bench:\(n)",
                                    details: ["n": String(n), "note": "synthetic benchmark event"])
                                counter.withLockedValue { $0 += 1 }
                                n += concurrency
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                reporter.cancel()
                let seconds = Date().timeIntervalSince(start)
                let batches = await service.appender.batches
                print(
                    String(
                        format: "audit append: %d events in %.2f s = %.0f events/s (%d concurrent appenders, %d batches)",
                        events, seconds, Double(events) / max(seconds, 1e-9), concurrency, batches))
                let size = try await AuditStorage(app.db).size()
                guard size > 0 else { return }
                var latencies: [Double] = []
                latencies.reserveCapacity(proofs)
                for _ in 0..<proofs {
                    let index = Int.random(in: 0..<size)
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    _ = try await service.inclusionProof(index: index, treeSize: size, on: app.db)
                    latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                }
                latencies.sort()
                let p50 = latencies[latencies.count / 2]
                let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
                print(String(format: "inclusion proof over %d entries: p50 %.3f ms, p99 %.3f ms (%d proofs)", size, p50, p99, proofs))
            }
        }
    }
}
