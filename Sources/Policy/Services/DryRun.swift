import CEL
import Fluent
import Foundation
import TongbanCore
import Vapor

/// A dry run (试算) of rules before they are published: how many stored enterprise profiles (or the sample
/// profiles sent) each condition passes, fails or lacks data for, how many are eligible and for how much.
public struct DryRun: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock) {
        self.db = db
        self.clock = clock
    }

    public struct ConditionCount: Content {
        public var text: String
        public var expression: String
        public var passed: Int
        public var failed: Int
        public var missing: Int
    }

    public struct Example: Content {
        public var creditCode: String
        public var name: String
        public var amount: Double?
    }

    public struct Result: Content {
        /// `stored` (every stored profile) or `sample` (the profiles sent).
        public var source: String
        public var profiles: Int
        public var eligible: Int
        public var totalAmount: Double
        public var amountErrors: Int
        public var conditions: [ConditionCount]
        /// Up to 10 eligible enterprises with the largest amounts.
        public var examples: [Example]
        public var milliseconds: Double
    }

    /// Enterprise rules only: person rules read profiles assembled per person from data sharing, which a dry
    /// run does not gather in bulk.
    public func run(conditions: [PolicyCondition], amount: String?, samples: [CELValue]?) async throws -> Result {
        let compiled = try CompiledPolicyItem.compile(conditions: conditions, amount: amount, audience: .enterprise)
        let started = Date()
        let now = clock.now()
        var counts = conditions.map { ConditionCount(text: $0.text, expression: $0.expression, passed: 0, failed: 0, missing: 0) }
        var result = Result(
            source: samples == nil ? "stored" : "sample", profiles: 0, eligible: 0, totalAmount: 0, amountErrors: 0, conditions: [],
            examples: [], milliseconds: 0)
        var examples: [Example] = []
        func take(_ profile: CELValue, code: String, name: String) {
            result.profiles += 1
            let d = compiled.diagnose(profile, now: now)
            for (i, c) in d.conditions.enumerated() {
                switch c.result {
                case .passed: counts[i].passed += 1
                case .failed: counts[i].failed += 1
                case .missing: counts[i].missing += 1
                }
            }
            guard d.eligible else { return }
            result.eligible += 1
            var value: Double?
            switch d.amount {
            case .double(let v)? where v.isFinite: value = v
            case .int(let v)?: value = Double(v)
            case nil: value = nil
            default: result.amountErrors += 1
            }
            if let value { result.totalAmount += value }
            examples.append(Example(creditCode: code, name: name, amount: value.map { ($0 * 100).rounded() / 100 }))
            if examples.count > 40 {
                examples.sort { ($0.amount ?? 0) > ($1.amount ?? 0) }
                examples.removeLast(examples.count - 10)
            }
        }
        if let samples {
            for (i, sample) in samples.enumerated() {
                var code = "sample-\(i + 1)"
                var name = code
                if case .map(let map) = sample {
                    if case .string(let c)? = map["creditCode"] { code = c }
                    if case .string(let n)? = map["name"] { name = n }
                }
                take(sample, code: code, name: name)
            }
        } else {
            var lastID: UUID?
            while true {
                var query = EnterpriseProfile.query(on: db).sort(\.$id).limit(1000)
                if let lastID { query = query.filter(\.$id > lastID) }
                let page = try await query.all()
                guard let last = page.last else { break }
                lastID = last.id
                for stored in page {
                    if let value = try? stored.celValue() { take(value, code: stored.creditCode, name: stored.name) }
                }
            }
        }
        examples.sort { ($0.amount ?? 0) > ($1.amount ?? 0) }
        result.examples = Array(examples.prefix(10))
        result.conditions = counts
        result.totalAmount = (result.totalAmount * 100).rounded() / 100
        result.milliseconds = (Date().timeIntervalSince(started) * 10_000).rounded() / 10
        return result
    }
}
