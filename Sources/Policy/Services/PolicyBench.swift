import CEL
import Foundation

/// `tongban bench policy`: synthetic enterprises × synthetic items through the batch evaluator.
///
/// Profiles are generated in chunks (deterministic per chunk, so the result does not depend on the
/// thread count) by `threads` workers; each worker builds a column table per chunk and evaluates every
/// item's eligibility over it, then the amount of the eligible rows. Memory stays at a few chunks.
public enum PolicyBench {
    public struct Result: Sendable {
        public var enterprises: Int
        public var items: Int
        public var threads: Int
        public var batchItems: Int
        public var eligiblePairs: Int
        public var totalAmount: Double
        public var errors: Int
        /// Wall time of the whole run (generation, column tables, evaluation).
        public var seconds: Double
        /// Summed over workers: time spent generating profiles and building column tables.
        public var prepareSeconds: Double
        /// Summed over workers: time spent evaluating.
        public var evaluateSeconds: Double

        public var evaluations: Int { enterprises * items }

        public var line: String {
            let rate = seconds > 0 ? Double(evaluations) / seconds : 0
            let evalRate = evaluateSeconds > 0 ? Double(evaluations) / (evaluateSeconds / Double(threads)) : 0
            return String(
                format: "bench policy: %d enterprises × %d items = %@ evaluations in %.2f s on %d threads: %@ evaluations/s (evaluation only: %@/s; %.2f s generating profiles and columns, summed over threads); %d eligible pairs, %d errors, %d/%d items batched",
                enterprises, items, OfflineMatcher.groupDigits(evaluations), seconds, threads,
                OfflineMatcher.groupDigits(Int(rate)), OfflineMatcher.groupDigits(Int(evalRate)), prepareSeconds, eligiblePairs,
                errors, batchItems, items)
        }
    }

    /// The scalar fields of the synthetic profiles.
    public static let schema: [String: CELType] = [
        "revenue": .double, "industry": .string, "industryCode": .string, "region": .string, "employees": .int,
        "rdSpend": .double, "taxPaid": .double, "creditRating": .string, "highTech": .bool, "smallMicro": .bool,
        "layoffRate": .double, "newHires": .int, "registeredYear": .int,
    ]

    /// `count` synthetic items: ten rule shapes with varying thresholds.
    public static func items(_ count: Int) -> [OfflineItem] {
        (0..<count).map { i in
            let k = i / 10
            let t = Double(1 + k % 20)
            let (eligible, amount): (String, String?)
            switch i % 10 {
            case 0: (eligible, amount) = ("profile.revenue >= \(t * 500000.0) && profile.industry in ['C', 'I']", "min(0.1 * profile.rdSpend, 500000.0)")
            case 1: (eligible, amount) = ("profile.employees >= \(k % 50) && profile.employees < \(100 + 10 * (k % 40))", "double(profile.employees) * 1000.0")
            case 2: (eligible, amount) = ("profile.revenue > 0.0 && profile.rdSpend / profile.revenue >= \(0.01 * t)", "profile.rdSpend * 0.05")
            case 3: (eligible, amount) = ("profile.creditRating in ['A', 'B'] && profile.taxPaid >= \(t * 20000.0)", "min(profile.taxPaid * 0.1, 300000.0)")
            case 4: (eligible, amount) = ("profile.region.startsWith('3502') && profile.revenue < \(t * 3000000.0)", "50000.0")
            case 5: (eligible, amount) = ("profile.highTech && profile.employees <= \(50 + 20 * (k % 30))", "200000.0")
            case 6: (eligible, amount) = ("profile.smallMicro || profile.employees < \(5 + k % 20)", "profile.taxPaid * 0.5")
            case 7: (eligible, amount) = ("profile.layoffRate <= \(0.01 * t) && profile.newHires >= \(k % 10)", "double(profile.newHires) * 1500.0")
            case 8: (eligible, amount) = ("profile.industryCode in ['C13', 'C14', 'C39', 'I65', 'M73'] && profile.registeredYear >= \(2000 + k % 25)", "100000.0")
            default: (eligible, amount) = ("profile.registeredYear <= \(2026 - k % 10) ? profile.revenue >= \(t * 1000000.0) : profile.highTech", nil)
            }
            return OfflineItem(id: String(format: "BENCH-%04d", i + 1), eligible: eligible, amount: amount)
        }
    }

    /// Deterministic synthetic profile attributes for enterprises `first ..< first + count`, as columns.
    public static func columns(first: Int, count: Int) -> [String: CELColumnValues] {
        let sections = ["A", "C", "C", "C", "E", "F", "G", "I", "I", "K", "L", "M"]
        let codes = ["C13", "C14", "C26", "C39", "E47", "F51", "G54", "I63", "I65", "K70", "M73", "M75"]
        let regions = ["350203", "350206", "350211", "430102", "430104", "370102", "370112"]
        let ratings = ["A", "A", "B", "B", "B", "M", "C", "D"]
        var ids = [String](), industry = [String](), industryCode = [String](), region = [String](), rating = [String]()
        var revenue = [Double](), rdSpend = [Double](), taxPaid = [Double](), layoffRate = [Double]()
        var employees = [Int64](), newHires = [Int64](), registeredYear = [Int64]()
        var highTech = [Bool](), smallMicro = [Bool]()
        for n in first..<(first + count) {
            var rng = SplitMix(state: UInt64(n) &* 0x9E37_79B9_7F4A_7C15 &+ 7)
            let e = Int64(rng.int(600))
            let r = rng.double(0, 40_000_000)
            let sector = rng.int(sections.count)
            ids.append(String(format: "E%08d", n))
            revenue.append(r)
            industry.append(sections[sector])
            industryCode.append(codes[sector])
            region.append(regions[rng.int(regions.count)])
            employees.append(e)
            rdSpend.append(r * rng.double(0, 0.12))
            taxPaid.append(r * rng.double(0, 0.06))
            rating.append(ratings[rng.int(ratings.count)])
            highTech.append(rng.int(5) == 0)
            smallMicro.append(e < 100 && r < 10_000_000)
            layoffRate.append(rng.double(0, 0.2))
            newHires.append(Int64(rng.int(40)))
            registeredYear.append(Int64(1995 + rng.int(31)))
        }
        return [
            "id": .strings(ids), "revenue": .doubles(revenue), "industry": .strings(industry),
            "industryCode": .strings(industryCode), "region": .strings(region), "employees": .ints(employees),
            "rdSpend": .doubles(rdSpend), "taxPaid": .doubles(taxPaid), "creditRating": .strings(rating),
            "highTech": .bools(highTech), "smallMicro": .bools(smallMicro), "layoffRate": .doubles(layoffRate),
            "newHires": .ints(newHires), "registeredYear": .ints(registeredYear),
        ]
    }

    /// The same profiles as JSON-like `CELValue` objects (for row evaluation and files).
    public static func profiles(first: Int, count: Int) -> [CELValue] {
        let cols = columns(first: first, count: count)
        return (0..<count).map { i in
            var fields: [String: CELValue] = [:]
            for (name, values) in cols {
                switch values {
                case .ints(let a): fields[name] = .int(a[i])
                case .doubles(let a): fields[name] = .double(a[i])
                case .bools(let a): fields[name] = .bool(a[i])
                case .strings(let a): fields[name] = .string(a[i])
                }
            }
            return .object(fields)
        }
    }

    /// A column table straight from generated columns, or nil if a field is not a plain top-level column.
    static func table(_ cols: [String: CELColumnValues], count: Int, fields: [CELBatchField]) -> CELColumnTable? {
        var values: [CELBatchField: CELColumnValues] = [:]
        for f in fields {
            guard f.path.fields.count == 1, let v = cols[f.path.fields[0]] else { return nil }
            values[f] = v
        }
        return CELColumnTable(count: count, columns: values)
    }

    public static func run(
        enterprises: Int, items count: Int, threads: Int = 2, chunkSize: Int = 16_384,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(OfflineMatchError) -> Result {
        let declarations = CELDeclarations.profile(schema)
        var compiled: [(CELBatchEvaluator?, CELProgram, CELBatchEvaluator?, CELProgram?)] = []
        for item in items(count) {
            do {
                let e = try CELProgram.compile(item.eligible, declarations: declarations, expecting: .bool)
                let a = try item.amount.map { (s: String) throws(CELCompileError) in try CELProgram.compile(s, declarations: declarations) }
                compiled.append((try? CELBatchEvaluator(e), e, a.flatMap { try? CELBatchEvaluator($0) }, a))
            } catch {
                throw OfflineMatchError("item '\(item.id)': \(error)")
            }
        }
        var fields = Set<CELBatchField>()
        for c in compiled {
            if let b = c.0 { fields.formUnion(b.requiredFields) }
            if let b = c.2 { fields.formUnion(b.requiredFields) }
        }
        let fieldList = Array(fields)
        let needRows = compiled.contains { $0.0 == nil || ($0.3 != nil && $0.2 == nil) }
        let chunks = (enterprises + chunkSize - 1) / chunkSize
        let workers = max(1, min(threads, chunks))
        let totals = BenchTotals(workers: workers)
        let start = Date()
        let items = compiled
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var local = BenchTotals.Part()
            var chunk = w
            while chunk < chunks {
                let t0 = Date()
                let first = chunk * chunkSize
                let n = min(chunkSize, enterprises - first)
                let cols = columns(first: first, count: n)
                // Rows only when some item needs row evaluation (or a field is not a plain column).
                let direct = needRows ? nil : table(cols, count: n, fields: fieldList)
                let rows = direct == nil ? profiles(first: first, count: n) : []
                let table = direct ?? CELColumnTable(rows: rows, fields: fieldList)
                let t1 = Date()
                for (eb, e, ab, a) in items {
                    var eligible: [Int] = []
                    if let eb {
                        let r = eb.evaluate(table)
                        eligible = r.trueRows()
                        if !r.errorIndex.isEmpty { local.errors += r.errorCount }
                    } else {
                        for i in 0..<rows.count {
                            switch e.evaluate(profile: rows[i]) {
                            case .bool(true): eligible.append(i)
                            case .bool(false): break
                            default: local.errors += 1
                            }
                        }
                    }
                    local.eligible += eligible.count
                    guard let a, !eligible.isEmpty else { continue }
                    if let ab, eligible.count * 4 >= n || rows.isEmpty {
                        let r = ab.evaluate(table)
                        for i in eligible { if case .double(let d) = r.value(at: i) { local.amount += d } else { local.errors += 1 } }
                    } else {
                        for i in eligible {
                            switch a.evaluate(profile: rows[i]) {
                            case .double(let d): local.amount += d
                            case .int(let n): local.amount += Double(n)
                            default: local.errors += 1
                            }
                        }
                    }
                }
                let t2 = Date()
                local.prepare += t1.timeIntervalSince(t0)
                local.evaluate += t2.timeIntervalSince(t1)
                let done = totals.finishChunk()
                if chunks >= 10, done % max(1, chunks / 10) == 0 {
                    progress(String(format: "%d/%d enterprises, %.1f s", min(done * chunkSize, enterprises), enterprises, Date().timeIntervalSince(start)))
                }
                chunk += workers
            }
            totals.set(w, local)
        }
        let seconds = Date().timeIntervalSince(start)
        let sum = totals.sum()
        return Result(
            enterprises: enterprises, items: count, threads: workers, batchItems: compiled.filter { $0.0 != nil }.count,
            eligiblePairs: sum.eligible, totalAmount: sum.amount, errors: sum.errors, seconds: seconds,
            prepareSeconds: sum.prepare, evaluateSeconds: sum.evaluate)
    }
}

extension PolicyBench {
    /// Latency of a single diagnosis (政策体检): one profile against every item, each condition's outcome and
    /// the amount of the eligible ones, as `POST /api/v1/policy/match` computes it (without HTTP and storage).
    public struct DiagnosisResult: Sendable {
        public var samples: Int
        public var items: Int
        public var p50: Double
        public var p99: Double
        public var max: Double
        public var eligible: Int

        public var line: String {
            String(format: "bench policy: single diagnosis against %d items, %d profiles: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d eligible items in all)",
                   items, samples, p50 * 1000, p99 * 1000, max * 1000, eligible)
        }
    }

    public static func diagnosis(items count: Int, samples: Int) throws(OfflineMatchError) -> DiagnosisResult {
        let declarations = CELDeclarations.profile(schema)
        var compiled: [CompiledPolicyItem] = []
        for item in items(count) {
            do {
                let e = try CELProgram.compile(item.eligible, declarations: declarations, expecting: .bool)
                let a = try item.amount.map { (s: String) throws(CELCompileError) in try CELProgram.compile(s, declarations: declarations) }
                compiled.append(CompiledPolicyItem(conditions: [.init(text: item.id, textEn: nil, program: e)], amount: a))
            } catch {
                throw OfflineMatchError("item '\(item.id)': \(error)")
            }
        }
        let profiles = profiles(first: 7_000_000, count: samples)
        var times: [Double] = []
        times.reserveCapacity(samples)
        var eligible = 0
        let now = Date()
        for profile in profiles {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var results: [CompiledPolicyItem.Diagnosis] = []
            results.reserveCapacity(compiled.count)
            for item in compiled { results.append(item.diagnose(profile, now: now)) }
            // Eligible first, largest amount first, as the API answers.
            results.sort { a, b in a.eligible && !b.eligible }
            let t1 = DispatchTime.now().uptimeNanoseconds
            eligible += results.reduce(0) { $0 + ($1.eligible ? 1 : 0) }
            times.append(Double(t1 - t0) / 1e9)
        }
        times.sort()
        func q(_ f: Double) -> Double { times.isEmpty ? 0 : times[min(times.count - 1, Int(Double(times.count) * f))] }
        return DiagnosisResult(samples: samples, items: count, p50: q(0.5), p99: q(0.99), max: times.last ?? 0, eligible: eligible)
    }
}

final class BenchTotals: @unchecked Sendable {
    struct Part {
        var eligible = 0
        var errors = 0
        var amount = 0.0
        var prepare = 0.0
        var evaluate = 0.0
    }

    private var parts: [Part]
    private var chunksDone = 0
    private let lock = NSLock()

    init(workers: Int) { parts = Array(repeating: Part(), count: workers) }

    func set(_ w: Int, _ part: Part) {
        lock.lock()
        parts[w] = part
        lock.unlock()
    }

    func finishChunk() -> Int {
        lock.lock()
        defer { lock.unlock() }
        chunksDone += 1
        return chunksDone
    }

    func sum() -> Part {
        lock.lock()
        defer { lock.unlock() }
        return parts.reduce(into: Part()) {
            $0.eligible += $1.eligible
            $0.errors += $1.errors
            $0.amount += $1.amount
            $0.prepare += $1.prepare
            $0.evaluate += $1.evaluate
        }
    }
}

/// A small deterministic generator (SplitMix64).
struct SplitMix {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func double(_ lo: Double, _ hi: Double) -> Double { lo + Double(next() >> 11) / Double(1 << 53) * (hi - lo) }
}
