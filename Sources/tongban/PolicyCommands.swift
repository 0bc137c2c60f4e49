import ArgumentParser
import Foundation
import Policy

/// `tongban policy match --items ITEMS.json --profiles PROFILES.jsonl [--out RESULTS.jsonl]`.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Policy rules offline.", subcommands: [Match.self])

    struct Match: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Match profiles against policy items offline (CEL rules, batch evaluation on every core).",
            discussion: """
                ITEMS.json is a JSON array of {"id", "eligible": CEL bool expression, "amount": CEL expression};
                PROFILES.jsonl has one JSON profile object with an "id" per line, bound as `profile` (JSON integers
                are CEL int, other numbers double). Writes {"profileId","itemId","amount"} per profile and eligible
                item (profile order, then item order) and one summary line on stderr. A profile whose rule fails to
                evaluate (missing field, division by zero, …) is not eligible for that item; an amount that fails is
                written as null with "error".
                """)

        @Option(name: .long, help: "JSON array of items {\"id\",\"eligible\",\"amount\"}.") var items: String
        @Option(name: .long, help: "JSON Lines file of profiles, each with an \"id\".") var profiles: String
        @Option(name: .long, help: "Output file (default: standard output).") var out: String?
        @Option(name: .long, help: "Worker threads (default: one per core).") var threads: Int?
        @Option(name: .long, help: "Single diagnoses (one profile against every item) to time for p50/p99; 0 skips.") var diagnoses = 2000

        func validate() throws {
            if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1–256") }
            guard (0...1_000_000).contains(diagnoses) else { throw ValidationError("--diagnoses must be 0–1000000") }
        }

        func run() throws {
            guard let itemData = FileManager.default.contents(atPath: items) else {
                throw CommandFailure(description: "cannot read the items file \(items)")
            }
            let profileData: Data
            do { profileData = try Data(contentsOf: URL(fileURLWithPath: profiles), options: .alwaysMapped) } catch {
                throw CommandFailure(description: "cannot read the profiles file \(profiles)")
            }
            let output: FileHandle
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil), let handle = FileHandle(forWritingAtPath: out) else {
                    throw CommandFailure(description: "cannot write \(out)")
                }
                output = handle
            } else {
                output = FileHandle.standardOutput
            }
            do {
                let loaded = try OfflineMatcher.loadItems(itemData, name: items)
                let matcher = try OfflineMatcher(items: loaded, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
                let summary = try matcher.run(profiles: profileData, name: profiles) { text in
                    try output.write(contentsOf: Data(text.utf8))
                }
                if out != nil { try? output.close() }
                FileHandle.standardError.write(Data((summary.line + "\n").utf8))
            } catch let error as OfflineMatchError {
                throw CommandFailure(description: error.description)
            } catch {
                throw CommandFailure(description: "policy match failed: \(error)")
            }
        }
    }
}

/// `tongban bench policy --enterprises N --items M`.
extension Bench {
    struct PolicyBenchCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "policy",
            abstract: "Synthetic enterprises × synthetic items through the batch rule evaluator; prints evaluations per second.")

        @Option(name: .long, help: "Synthetic enterprise profiles.") var enterprises = 414_700
        @Option(name: .long, help: "Synthetic policy items (ten rule shapes with varying thresholds).") var items = 400
        @Option(name: .long, help: "Worker threads (default: one per core).") var threads: Int?
        @Option(name: .long, help: "Single diagnoses (one profile against every item) to time for p50/p99; 0 skips.") var diagnoses = 2000

        func validate() throws {
            guard (1...100_000_000).contains(enterprises) else { throw ValidationError("--enterprises must be 1–100000000") }
            guard (1...100_000).contains(items) else { throw ValidationError("--items must be 1–100000") }
            if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1–256") }
            guard (0...1_000_000).contains(diagnoses) else { throw ValidationError("--diagnoses must be 0–1000000") }
        }

        func run() throws {
            #if DEBUG
            FileHandle.standardError.write(Data("bench policy: debug build; use `swift build -c release` for meaningful numbers\n".utf8))
            #endif
            let result: PolicyBench.Result
            do {
                result = try PolicyBench.run(
                    enterprises: enterprises, items: items, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                    progress: { line in FileHandle.standardError.write(Data(("bench policy: " + line + "\n").utf8)) })
            } catch {
                throw CommandFailure(description: error.description)
            }
            print(result.line)
            if diagnoses > 0 {
                do {
                    print(try PolicyBench.diagnosis(items: items, samples: diagnoses).line)
                } catch {
                    throw CommandFailure(description: error.description)
                }
            }
        }
    }
}
