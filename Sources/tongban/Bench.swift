import ArgumentParser
import Fluent
import Foundation
import Identity
import Licences
import TongbanApp
import TongbanCore
import Vapor

/// `tongban bench …`: measurements that print progress and one summary line.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (progress on stderr, one summary line at the end).", subcommands: [BenchLicences.self, AuditBench.self, PolicyBenchCommand.self, PolicyMatchingBench.self, Reflow.self, Bench.CodesBench.self, Bench.CasesBenchCommand.self])
}

/// `tongban bench licences`: bulk signing and storing, offline verification against raw Ed25519, and QR
/// encoding, on a fresh SQLite database in a temporary directory (or --database).
struct BenchLicences: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "licences", abstract: "Bulk issuance, offline verification and QR encoding rates.")

    @ArgumentParser.Option(name: .long, help: "Licences to issue in bulk.") var count = 20_000
    @ArgumentParser.Option(name: .long, help: "Seconds for each rate measurement.") var seconds = 2.0
    @ArgumentParser.Option(name: .long, help: "Database URL (default: a new SQLite file in a temporary directory).")
    var database: String?

    func validate() throws {
        guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be 1–1000000") }
        guard (0.1...60).contains(seconds) else { throw ValidationError("--seconds must be 0.1–60") }
    }

    static func progress(_ line: String) { FileHandle.standardError.write(Data(("bench: " + line + "\n").utf8)) }

    /// Calls `body` repeatedly for about `seconds`; operations per second of wall time.
    static func rate(seconds: Double, _ body: () -> Int) -> Double {
        let start = Date()
        var operations = 0
        while Date().timeIntervalSince(start) < seconds { operations += body() }
        return Double(operations) / Date().timeIntervalSince(start)
    }

    /// Two rates measured in alternating 50 ms slices over `seconds` each, so that both see the same machine:
    /// a background burst (another process, the demo's password hashing) cannot favour one of them.
    static func interleavedRates(seconds: Double, _ first: () -> Int, _ second: () -> Int) -> (Double, Double) {
        var counts = (0, 0)
        var times = (0.0, 0.0)
        let slice = 0.05
        while times.0 < seconds || times.1 < seconds {
            var start = Date()
            while Date().timeIntervalSince(start) < slice { counts.0 += first() }
            times.0 += Date().timeIntervalSince(start)
            start = Date()
            while Date().timeIntervalSince(start) < slice { counts.1 += second() }
            times.1 += Date().timeIntervalSince(start)
        }
        return (Double(counts.0) / times.0, Double(counts.1) / times.1)
    }

    func run() async throws {
        try await Runner.withBenchApp(database: database) { app in try await measure(app) }
    }

    func measure(_ app: Application) async throws {
        try await Runner.migrate(app)
        try await TongbanApp.loadDemo(app, options: DemoOptions())
        guard let clerk = try await User.query(on: app.db).filter(\.$username == "demo-clerk").first(),
            let grant = try await StaffAssignment.query(on: app.db).filter(\.$userID == clerk.requireID()).first()
        else { throw CommandFailure(description: "demo-clerk missing from the demo data") }
        let principal = Principal(
            userID: try clerk.requireID(), username: clerk.username, kind: .staff,
            grants: [RoleGrant(departmentID: grant.departmentID, role: grant.role)])
        let service = LicenceService(app: app, db: app.db)

        // 1. Bulk issuance: CSV rows → validated, signed, stored.
        Self.progress("issuing \(count) demo permits in bulk")
        let chunk = 10_000
        var issued = 0
        let issueStart = Date()
        while issued < count {
            let n = min(chunk, count - issued)
            var csv = "idNumber,name,scope\n"
            for i in 0..<n { csv += "\(Self.randomIDNumber()),bench \(issued + i),demo\n" }
            issued += try await service.issueBulk(csv: csv, typeCode: "demo-permit", principal: principal).issued
            Self.progress("issued \(issued)/\(count)")
        }
        let issueSeconds = Date().timeIntervalSince(issueStart)
        let issueRate = Double(issued) / issueSeconds

        // 2. Offline verification against the raw swift-crypto Ed25519 verify, on the same tokens.
        let payloads = try await Licence.query(on: app.db).limit(2000).all().map(\.payload)
        let list = try await SigningKeyService(db: app.db, vault: app.keyVault, clock: app.clock).trustList(baseURL: "")
        let keys = list.keys()
        let now = Date()
        let raw: [(VerificationKey, Data, Data)] = payloads.compactMap { token in
            let parts = token.split(separator: ".")
            guard parts.count == 3, let kid = CompactJWS.keyID(of: token), let key = keys[kid],
                let signature = Base64URL.decode(parts[2])
            else { return nil }
            return (key, signature, Data(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count)))
        }
        guard !raw.isEmpty else { throw CommandFailure(description: "no licences to verify") }
        Self.progress("verifying \(payloads.count) tokens offline and with raw Ed25519 (\(seconds) s each)")
        var rawIndex = 0
        var index = 0
        var failures = 0
        let (rawRate, offlineRate) = Self.interleavedRates(seconds: seconds, {
            let (key, signature, message) = raw[rawIndex % raw.count]
            rawIndex += 1
            if !key.verify(signature: signature, over: message) { failures += 1 }
            return 1
        }, {
            let result = LicenceVerifier.verify(
                payloads[index % payloads.count], now: now, lookup: { keys[$0] }, status: { _ in (.valid, nil) })
            index += 1
            if !result.valid { failures += 1 }
            return 1
        })
        guard failures == 0 else { throw CommandFailure(description: "\(failures) verifications failed") }

        // 3. QR: a 300-byte payload to SVG.
        let bytes = [UInt8]((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        Self.progress("encoding 300-byte QR codes to SVG (\(seconds) s)")
        var svgBytes = 0
        let qrRate = Self.rate(seconds: seconds) {
            guard let code = try? QRCode.encode(bytes, correction: .medium) else { return 0 }
            svgBytes = code.svg().utf8.count
            return 1
        }
        print(String(
            format: "bench licences: issued %d in %.2f s = %.0f licences/s (signed and stored); offline verify %.0f/s = %.0f%% of raw Ed25519 %.0f/s; QR 300 B -> SVG %.0f/s (%d B)",
            issued, issueSeconds, issueRate, offlineRate, 100 * offlineRate / rawRate, rawRate, qrRate, svgBytes))
    }

    static func randomIDNumber() -> String {
        let body = String(format: "110105%04d%02d%02d%03d", Int.random(in: 1950...2005), Int.random(in: 1...12), Int.random(in: 1...28), Int.random(in: 0...999))
        return body + String(ResidentIDNumber.checkCharacter(for: body))
    }
}

extension Runner {
    /// The benchmark harness every `tongban bench …` shares: a fresh temporary directory (data files, and the
    /// SQLite database unless `database` names one), quiet logging, the app, and one readable failure line.
    static func withBenchApp(
        database: String?, host: String? = nil, _ body: (Application) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tongban-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        if ProcessInfo.processInfo.environment["TONGBAN_DATA_DIR"] == nil { setenv("TONGBAN_DATA_DIR", directory, 1) }
        if ProcessInfo.processInfo.environment["LOG_LEVEL"] == nil { setenv("LOG_LEVEL", "warning", 1) }
        let (app, _) = try await makeApp(database: database ?? "sqlite://\(directory)/bench.sqlite", host: host)
        do {
            try await body(app)
            try await app.asyncShutdown()
        } catch {
            try? await app.asyncShutdown()
            if let failure = error as? CommandFailure { throw failure }
            throw CommandFailure(description: "bench failed: \(String(describing: error).prefix(300))")
        }
    }
}
