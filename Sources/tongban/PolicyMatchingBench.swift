import ArgumentParser
import Fluent
import Foundation
import Identity
import Policy
import TongbanApp
import TongbanCore
import Vapor

/// `tongban bench policy-matching`: stored batch matching on a database — a full run over every stored
/// profile × every published item, then the incremental cases (a few profiles changed; one item published).
extension Bench {
    struct PolicyMatchingBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "policy-matching",
            abstract: "Stored batch matching: full run, then incremental runs after profile edits and a new item version.")

        @ArgumentParser.Option(name: .long, help: "Stored enterprise profiles (the demo's 301 plus synthetic ones).") var enterprises = 20_000
        @ArgumentParser.Option(name: .long, help: "Profiles to change for the incremental run.") var changed = 200
        @ArgumentParser.Flag(name: .long, inversion: .prefixedNo, help: "Write a notice per new match in the full run.") var notify = true
        @ArgumentParser.Option(name: .long, help: "Database URL (default: a new SQLite file in a temporary directory).") var database: String?

        func validate() throws {
            guard (301...2_000_000).contains(enterprises) else { throw ValidationError("--enterprises must be 301–2000000") }
            guard (1...enterprises).contains(changed) else { throw ValidationError("--changed must be 1–enterprises") }
        }

        static func progress(_ line: String) { FileHandle.standardError.write(Data("bench policy-matching: \(line)\n".utf8)) }

        func run() async throws {
            #if DEBUG
            Self.progress("debug build; use `swift build -c release` for meaningful numbers")
            #endif
            try await Runner.withBenchApp(database: database) { app in try await measure(app) }
        }

        func measure(_ app: Application) async throws {
            try await Runner.migrate(app)
            try await TongbanApp.loadDemo(app, options: DemoOptions())
            guard let admin = try await User.query(on: app.db).filter(\.$username == "demo-admin").first() else {
                throw CommandFailure(description: "demo-admin missing from the demo data")
            }
            let principal = Principal(
                userID: try admin.requireID(), username: admin.username, kind: .staff, grants: [RoleGrant(departmentID: nil, role: .systemAdmin)])
            // More synthetic profiles, in multi-row inserts.
            let extra = enterprises - PolicyDemo.syntheticProfiles - 1
            let insertStart = Date()
            var inserted = 0
            while inserted < extra {
                let n = min(5_000, extra - inserted)
                let batch = (0..<n).map { PolicyDemo.synthetic(PolicyDemo.syntheticProfiles + inserted + $0) }
                try await app.db.transaction { tx in
                    for start in stride(from: 0, to: batch.count, by: 500) {
                        try await Array(batch[start..<min(start + 500, batch.count)]).create(on: tx)
                    }
                }
                inserted += n
                if inserted % 50_000 == 0 || inserted == extra { Self.progress("stored \(inserted + 301)/\(enterprises) profiles") }
            }
            let insertSeconds = Date().timeIntervalSince(insertStart)
            let matching = MatchingService(db: app.db, clock: app.clock)
            let full = try await matching.run(mode: .full, notify: notify)
            Self.progress(String(format: "full run: %d profiles × %d items, %d matches in %.2f s", full.profiles, full.items, full.newMatches, full.seconds))
            let idle = try await matching.run(mode: .incremental)

            // A few profiles change (through the import path: validation, merge, tags, matching).
            var rows = "creditCode,employees,revenue\n"
            for n in 0..<changed {
                let p = PolicyDemo.synthetic(n * (enterprises - 301) / changed)
                rows += "\(p.creditCode),\(250 + n % 50),\(50_000_000 + n * 1000)\n"
            }
            let importStart = Date()
            let imported = try await ProfileImporter(db: app.db, clock: app.clock).importCSV(rows, principal: principal)
            let importSeconds = Date().timeIntervalSince(importStart)

            // A new version of one item: only it is evaluated against every profile.
            let service = PolicyService(db: app.db, clock: app.clock)
            guard let item = try await PolicyItem.query(on: app.db).filter(\.$status == .published).filter(\.$audience == .enterprise)
                .sort(\.$code).first()
            else { throw CommandFailure(description: "no published demo item") }
            var input = PolicyService.ItemInput()
            input.title = item.titleZh + "（修订）"
            _ = try await service.update(try item.requireID(), input, principal: principal)
            _ = try await service.publish(try item.requireID(), principal: principal)
            let itemRun = try await matching.run(mode: .incremental)

            print(String(
                format: "bench policy-matching: %d stored profiles (%.1f s to store); full run %d × %d = %d evaluations in %.2f s (%.0f/s), %d matches; idle incremental run %.3f s (%d evaluations); %d profiles changed by CSV import in %.2f s (%d evaluations, %d new matches, %d removed); one new item version in %.2f s (%d evaluations, %d changed)",
                enterprises, insertSeconds, full.profiles, full.items, full.evaluations, full.seconds,
                full.seconds > 0 ? Double(full.evaluations) / full.seconds : 0, full.newMatches, idle.seconds, idle.evaluations,
                imported.rows, importSeconds, imported.matching.evaluations, imported.matching.newMatches, imported.matching.removed,
                itemRun.seconds, itemRun.evaluations, itemRun.changed))
        }
    }
}
