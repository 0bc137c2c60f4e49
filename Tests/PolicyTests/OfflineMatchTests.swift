import CEL
import Foundation
import Policy
import Testing

@Suite("Policy: offline matching (tongban policy match) and the benchmark")
struct OfflineMatchTests {
    static let items = """
        [
          {"id": "rev", "eligible": "profile.revenue >= 5000000.0 && profile.industry in ['C', 'I']",
           "amount": "min(0.1 * profile.rdSpend, 500000.0)"},
          {"id": "staff", "eligible": "profile.employees >= 10 && profile.employees < 500", "amount": "profile.employees * 100"},
          {"id": "tag", "eligible": "profile.tags.exists(t, t == 'hightech')", "amount": "1.5"},
          {"id": "ratio", "eligible": "profile.rdSpend / profile.revenue >= 0.05"}
        ]
        """

    func run(_ items: String, _ profiles: String, threads: Int = 2, chunkSize: Int = 8192) throws -> ([String], OfflineMatcher.Summary) {
        let loaded = try OfflineMatcher.loadItems(Data(items.utf8), name: "items.json")
        let matcher = try OfflineMatcher(items: loaded, threads: threads, chunkSize: chunkSize)
        var out = ""
        let summary = try matcher.run(profiles: Data(profiles.utf8), name: "profiles.jsonl") { out += $0 }
        return (out.split(separator: "\n").map(String.init), summary)
    }

    @Test func smallFiles_givePerProfileLines_inOrder_withIntAndDoubleSemantics() throws {
        let profiles = """
            {"id": "p1", "revenue": 6000000.0, "industry": "C", "rdSpend": 2000000.0, "employees": 120, "tags": ["hightech"]}

            {"id": "p2", "revenue": 6000000, "industry": "G", "rdSpend": 100.0, "employees": 5, "tags": []}
            {"id": 3, "revenue": 9000000.0, "industry": "I", "rdSpend": 1000000, "employees": 10}
            {"id": "p4", "revenue": 0.0, "industry": "I", "rdSpend": 0.0, "employees": 600, "tags": ["x"]}
            """
        let (lines, summary) = try run(Self.items, profiles)
        #expect(Array(lines.prefix(4)) == [
            #"{"profileId":"p1","itemId":"rev","amount":200000.0}"#,
            #"{"profileId":"p1","itemId":"staff","amount":12000}"#,
            #"{"profileId":"p1","itemId":"tag","amount":1.5}"#,
            #"{"profileId":"p1","itemId":"ratio","amount":null}"#,
        ])
        #expect(lines.last == #"{"profileId":3,"itemId":"staff","amount":1000}"#)
        // p3: rdSpend is a JSON integer, so 0.1 * rdSpend is an evaluation error (CEL never mixes int and double).
        #expect(lines.count == 6)
        #expect(lines[4].hasPrefix(#"{"profileId":3,"itemId":"rev","amount":null,"error":"#))
        #expect(summary.profiles == 4)
        #expect(summary.items == 4)
        #expect(summary.matches == 6)
        // p2's int revenue compares with a double by value, but it is not in C or I; p3 has no tags (an
        // error: not eligible); p4's 0/0 ratio is NaN, not eligible.
        #expect(summary.errors >= 2)
        // One thread and tiny chunks (many schemas, batch and row paths) give the same lines.
        let (single, _) = try run(Self.items, profiles, threads: 1, chunkSize: 1)
        #expect(single == lines)
    }

    @Test func batchAndRowPaths_agreeOnGeneratedProfiles() throws {
        var text = ""
        for (k, p) in PolicyBench.profiles(first: 0, count: 3000).enumerated() {
            var line = p.jsonString()
            if k % 97 == 0 { line = line.replacingOccurrences(of: "\"employees\"", with: "\"staff\"") }  // missing field
            text += line + "\n"
        }
        let items = PolicyBench.items(30).map { item -> String in
            let amount = item.amount.map { ",\"amount\":" + CELValue.string($0).jsonString() } ?? ""
            return "{\"id\":\(CELValue.string(item.id).jsonString()),\"eligible\":\(CELValue.string(item.eligible).jsonString())\(amount)}"
        }
        let itemsJSON = "[" + items.joined(separator: ",") + "]"
        let (batched, summary) = try run(itemsJSON, text, threads: 2, chunkSize: 1024)
        #expect(summary.batchItemChunks > 0)
        // Reference: every pair row by row.
        let loaded = try OfflineMatcher.loadItems(Data(itemsJSON.utf8), name: "items.json")
        var reference: [String] = []
        let rows = try text.split(separator: "\n").map { try CELValue.fromJSON(String($0)) }
        let compiled = try loaded.map { item in
            (item.id, try CELProgram.compile(item.eligible, declarations: .dynamicProfile),
             try item.amount.map { try CELProgram.compile($0, declarations: .dynamicProfile) })
        }
        for row in rows {
            guard case .map(let m) = row else { continue }
            for (id, eligible, amount) in compiled where eligible.evaluate(profile: row) == .bool(true) {
                var line = "{\"profileId\":\(m["id"]!.jsonString()),\"itemId\":\(CELValue.string(id).jsonString()),\"amount\":"
                let a = amount?.evaluate(profile: row) ?? .null
                if case .error(let e) = a {
                    line += "null,\"error\":\(CELValue.string(e.description).jsonString())}"
                } else {
                    line += a.jsonString() + "}"
                }
                reference.append(line)
            }
        }
        #expect(batched.count == reference.count)
        #expect(batched == reference)
    }

    @Test func badFiles_failWithOneLineNamingTheItemOrLine() throws {
        func failure(_ items: String, _ profiles: String) -> String? {
            do {
                _ = try run(items, profiles)
                return nil
            } catch let error as OfflineMatchError {
                return error.description
            } catch {
                return "\(error)"
            }
        }
        let good = #"{"id":"p","revenue":1.0}"#
        #expect(failure(#"[{"id":"a","eligible":"profile.revenue >= "}]"#, good)?.contains("item 'a' eligible: 1:") == true)
        #expect(failure(#"[{"id":"a","eligible":"profile.revenue * 2.0"}]"#, good)?.contains("bool") == true)
        #expect(failure(#"[{"id":"a","eligible":"true","amount":"nosuch(1)"}]"#, good)?.contains("item 'a' amount") == true)
        #expect(failure(#"[{"id":"a"}]"#, good)?.contains("no \"eligible\"") == true)
        #expect(failure(#"{"id":"a"}"#, good)?.contains("JSON array") == true)
        #expect(failure(#"[{"id":"a","eligible":"true"},{"id":"a","eligible":"false"}]"#, good)?.contains("duplicate") == true)
        let items = #"[{"id":"a","eligible":"profile.revenue > 0.0"}]"#
        #expect(failure(items, good + "\n{\"id\":\"q\",\"revenue\":") == "profiles.jsonl line 2: " + (failureDetail(#"{"id":"q","revenue":"#) ?? ""))
        #expect(failure(items, good + "\n\n[1, 2]")?.hasPrefix("profiles.jsonl line 3:") == true)
        #expect(failure(items, #"{"revenue":1.0}"#)?.contains("line 1: the profile has no \"id\"") == true)
    }

    func failureDetail(_ json: String) -> String? {
        do {
            _ = try CELValue.fromJSON(json)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func directColumnTables_giveTheSameResultsAsRowTables() throws {
        let n = 3000
        let cols = PolicyBench.columns(first: 100, count: n)
        let rows = PolicyBench.profiles(first: 100, count: n)
        let declarations = CELDeclarations.profile(PolicyBench.schema)
        for item in PolicyBench.items(20) {
            for source in [item.eligible] + (item.amount.map { [$0] } ?? []) {
                let program = try CELProgram.compile(source, declarations: declarations)
                let batch = try CELBatchEvaluator(program)
                var values: [CELBatchField: CELColumnValues] = [:]
                for f in batch.requiredFields { values[f] = cols[f.path.fields[0]] }
                let direct = try #require(CELColumnTable(count: n, columns: values))
                let a = batch.evaluate(direct, threads: 2)
                let b = batch.evaluate(CELColumnTable(rows: rows, fields: batch.requiredFields))
                var mismatches = 0
                for i in 0..<n where a.value(at: i) != b.value(at: i) || a.value(at: i) != program.evaluate(profile: rows[i]) {
                    mismatches += 1
                }
                #expect(mismatches == 0, "\(source)")
            }
        }
        // A column of the wrong type or length is refused.
        let program = try CELProgram.compile("profile.employees > 1", declarations: declarations)
        let field = try CELBatchEvaluator(program).requiredFields[0]
        #expect(CELColumnTable(count: 2, columns: [field: .doubles([1, 2])]) == nil)
        #expect(CELColumnTable(count: 3, columns: [field: .ints([1, 2])]) == nil)
    }

    @Test func bench_smallRun_isConsistent() throws {
        let one = try PolicyBench.run(enterprises: 5000, items: 40, threads: 1, chunkSize: 1000)
        let two = try PolicyBench.run(enterprises: 5000, items: 40, threads: 2, chunkSize: 1000)
        #expect(one.batchItems == 40)
        #expect(one.errors == 0)
        #expect(one.eligiblePairs == two.eligiblePairs)
        #expect(abs(one.totalAmount - two.totalAmount) < 1e-3 * max(1, one.totalAmount))
        #expect(one.eligiblePairs > 0 && one.eligiblePairs < 5000 * 40)
        #expect(two.line.contains("5000 enterprises × 40 items"))
    }
}
