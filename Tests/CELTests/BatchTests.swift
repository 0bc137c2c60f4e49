import CEL
import Foundation
import Testing

let batchSchema: [String: CELType] = [
    "revenue": .double, "industry": .string, "employees": .int, "rdSpend": .double, "age": .int,
    "isSme": .bool, "name": .string, "debt": .int,
    "address": .object("Address", ["city": .string, "zip": .int]),
]

/// Deterministic profiles including every awkward case: missing keys, nulls, wrong types,
/// JSON ints in double fields, zero divisors, overflow-prone ints, NaN, nested objects missing.
func batchProfiles(_ n: Int) -> [CELValue] {
    var state: UInt64 = 7
    func next(_ m: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(m))
    }
    let industries = ["A", "C", "I", "Z", "é", "e\u{301}"]
    return (0..<n).map { i in
        var f: [String: CELValue] = [:]
        switch next(10) {
        case 0: break  // missing
        case 1: f["revenue"] = .null
        case 2: f["revenue"] = .string("lots")
        case 3: f["revenue"] = .int(Int64(next(10_000_000)))  // JSON int -> coerced to double
        case 4: f["revenue"] = .double(.nan)
        case 5: f["revenue"] = .double(0)
        default: f["revenue"] = .double(Double(next(20_000_000)) + 0.5)
        }
        if next(12) != 0 { f["industry"] = .string(industries[next(industries.count)]) }
        switch next(8) {
        case 0: break
        case 1: f["employees"] = .int(0)
        case 2: f["employees"] = .int(Int64.max)
        case 3: f["employees"] = .double(12.0)  // integral double -> int
        case 4: f["employees"] = .double(12.5)  // mismatch
        default: f["employees"] = .int(Int64(next(500)))
        }
        f["rdSpend"] = next(9) == 0 ? .bool(true) : .double(Double(next(1_000_000)))
        f["age"] = .int(Int64(next(90)) - 5)
        if next(10) != 0 { f["isSme"] = .bool(next(2) == 0) }
        f["name"] = .string(["Shenzhen Co \(i % 50)", "Beijing Ltd", "", "shenzhen"][next(4)])
        f["debt"] = .int(next(5) == 0 ? Int64.min : Int64(next(1000)) - 500)
        switch next(6) {
        case 0: break
        case 1: f["address"] = .string("nowhere")
        case 2: f["address"] = .object(["zip": .int(518000)])
        default: f["address"] = .object(["city": .string(["Shenzhen", "Guangzhou"][next(2)]), "zip": .int(Int64(next(999_999)))])
        }
        if i % 97 == 0 { return .int(5) }  // not even a map
        return .object(f)
    }
}

@Suite("Columnar batch evaluator agrees with the row evaluator")
struct BatchTests {
    static let expressions: [String] = [
        "profile.revenue >= 5000000.0 && profile.industry in ['C', 'I']",
        "profile.industry in ['C', 'I'] || profile.revenue < 1.0",
        "profile.employees >= 10 && profile.employees < 500",
        "!(profile.employees > 100)",
        "min(0.1 * profile.rdSpend, 500000.0)",
        "max(profile.revenue, profile.rdSpend, 10.0)",
        "min(profile.employees, profile.age)",
        "profile.isSme ? profile.revenue * 0.02 : 0.0",
        "profile.isSme && profile.revenue > 0.0 ? 1 : 2",
        "profile.rdSpend / profile.revenue >= 0.05",
        "profile.employees / profile.age > 2",
        "profile.employees % (profile.age - 10) == 1",
        "profile.employees + 1 > 0",
        "profile.employees * 2 > 10 || profile.age < 18",
        "profile.debt - 1 < 0",
        "-profile.debt > 0",
        "-profile.revenue < 0.0",
        "profile.employees == 12.0",
        "profile.employees < 99.5 && profile.revenue != 0.0",
        "profile.age > profile.employees",
        "profile.name.startsWith('Shenzhen')",
        "profile.name.endsWith('Ltd') || profile.name.contains('Co')",
        "profile.name.matches('^[Ss]henzhen')",
        "size(profile.name) > 5",
        "profile.name < 'M'",
        "'M' <= profile.name",
        "profile.name == 'Beijing Ltd'",
        "profile.industry == profile.name",
        "profile.industry == 'é'",
        "profile.industry > profile.name",
        "has(profile.revenue) && profile.revenue > 1.0",
        "!has(profile.isSme) || profile.isSme",
        "has(profile.address.city)",
        "profile.address.city == 'Shenzhen' && profile.address.zip > 500000",
        "profile.address.zip in [518000, 100000, 510000.0]",
        "profile.revenue in [0.0, 1.5, 3]",
        "double(profile.employees) * 1.5 > profile.revenue",
        "profile.isSme == true",
        "profile.isSme != (profile.age > 30)",
        "profile.age > 30 ? profile.age - 30 : 30 - profile.age",
        "1 / 0 > profile.age || profile.age > 18",
        "profile.age > 18 && 1 / 0 > 2",
        "(profile.employees + profile.debt) * 2 > 0",
        "int(profile.age) + 0 == profile.age",
        "profile.revenue > 1.0 == true",
    ]

    static let profiles = batchProfiles(3000)

    @Test(arguments: expressions)
    func agreesWithRowEvaluator(_ src: String) throws {
        let program = try CELProgram.compile(src, declarations: .profile(batchSchema))
        let batch = try CELBatchEvaluator(program)
        let table = CELColumnTable(rows: BatchTests.profiles, fields: batch.requiredFields)
        for threads in [1, 3] {
            let result = threads == 1 ? batch.evaluate(table) : batch.evaluate(table, threads: threads)
            #expect(result.count == BatchTests.profiles.count)
            var mismatches = 0
            for (i, p) in BatchTests.profiles.enumerated() {
                let want = program.evaluate(profile: p)
                let got = result.value(at: i)
                let same = got == want && got.errorValue?.location == want.errorValue?.location
                if !same {
                    mismatches += 1
                    if mismatches <= 3 { Issue.record("row \(i): batch \(got), row \(want) for \(p)") }
                }
            }
            #expect(mismatches == 0)
        }
    }

    @Test func unsupportedExpressionsAreReported() throws {
        for src in ["profile.name + 'x' == 'a'", "[1, 2].exists(x, x == profile.age)", "profile.revenue", "profile.name"] {
            let program = try CELProgram.compile(src, declarations: .profile(batchSchema))
            if src == "profile.revenue" {
                _ = try CELBatchEvaluator(program)  // numeric results are supported
                continue
            }
            #expect(throws: CELBatchUnsupported.self, "\(src)") { _ = try CELBatchEvaluator(program) }
        }
        let dynProgram = try CELProgram.compile("profile.x > 1", declarations: .dynamicProfile)
        #expect(throws: CELBatchUnsupported.self) { _ = try CELBatchEvaluator(dynProgram) }
    }

    @Test func resultHelpers() throws {
        let program = try CELProgram.compile("profile.age >= 18", declarations: .profile(batchSchema))
        let batch = try CELBatchEvaluator(program)
        #expect(batch.requiredFields.map(\.description) == ["profile.age: int"])
        let rows: [CELValue] = [.object(["age": 20]), .object(["age": 10]), .object([:])]
        let r = batch.evaluate(CELColumnTable(rows: rows, fields: batch.requiredFields))
        #expect(r.trueCount == 1)
        #expect(r.errorCount == 1)
        #expect(r.value(at: 2).errorValue?.message == "no such key: 'age' (profile.age)")
    }
}
