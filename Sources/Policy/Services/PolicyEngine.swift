import CEL
import Foundation

/// A rule that failed to compile: where and why (for 422 answers with line and column).
/// Rule errors of one request, answered as 422 with line and column (see ``PolicyController``).
public struct RuleProblem: Error, Sendable {
    public var errors: [RuleError]
}

public struct RuleError: Error, Sendable {
    public var field: String
    public var kind: String
    public var message: String
    public var line: Int
    public var column: Int

    public init(field: String, _ error: CELCompileError) {
        self.field = field
        kind = error.kind.rawValue
        message = error.message
        line = error.line
        column = error.column
    }
}

/// A policy item compiled against ``ProfileSchema``: ready to diagnose any profile.
public struct CompiledPolicyItem: Sendable {
    public struct Condition: Sendable {
        public var text: String
        public var textEn: String?
        public var program: CELProgram
    }

    public var conditions: [Condition]
    public var amount: CELProgram?

    /// Type-checks every condition (bool) and the amount (double or int); collects every error.
    public static func compile(
        conditions: [PolicyCondition], amount: String?, audience: PolicyAudience = .enterprise
    ) throws(RuleProblem) -> CompiledPolicyItem {
        let declarations = audience == .person ? PersonProfileSchema.declarations : ProfileSchema.declarations
        var errors: [RuleError] = []
        var compiled: [Condition] = []
        for (i, c) in conditions.enumerated() {
            do {
                let p = try CELProgram.compile(c.expression, declarations: declarations, expecting: .bool)
                compiled.append(Condition(text: c.text, textEn: c.textEn, program: p))
            } catch {
                errors.append(RuleError(field: "conditions[\(i)].expression", error))
            }
        }
        var amountProgram: CELProgram?
        if let amount, !amount.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            do {
                let p = try CELProgram.compile(amount, declarations: declarations)
                switch p.resultType {
                case .double, .int, .dyn: amountProgram = p
                default:
                    errors.append(RuleError(field: "amountExpression", CELCompileError(
                        .type, "expression has type '\(p.resultType)' but an amount must be double or int",
                        at: p.checked.location)))
                }
            } catch {
                errors.append(RuleError(field: "amountExpression", error))
            }
        }
        if !errors.isEmpty { throw RuleProblem(errors: errors) }
        return CompiledPolicyItem(conditions: compiled, amount: amountProgram)
    }

    /// The outcome of one condition, in words a non-expert understands.
    public enum Outcome: String, Codable, Sendable {
        /// The enterprise meets the condition.
        case passed
        /// It does not (or the data contradicts it).
        case failed
        /// The profile lacks the data to decide.
        case missing
    }

    public struct ConditionResult: Codable, Sendable {
        public var text: String
        public var textEn: String?
        public var result: Outcome
        /// Why a condition could not be decided (an evaluation error), when it could not.
        public var detail: String?
    }

    public struct Diagnosis: Sendable {
        public var eligible: Bool
        public var amount: CELValue?
        public var conditions: [ConditionResult]
    }

    /// Evaluates every condition (not only up to the first failure, so the enterprise sees all of
    /// them) and, when all passed, the amount.
    public func diagnose(_ profile: CELValue, now: Date = Date()) -> Diagnosis {
        var activation: [String: CELValue] = ["profile": profile]
        let seconds = now.timeIntervalSince1970
        if let t = CELTimestamp(seconds: Int64(seconds.rounded(.down))) { activation["now"] = .timestamp(t) }
        var results: [ConditionResult] = []
        var eligible = true
        for c in conditions {
            let value = c.program.evaluate(activation)
            let outcome: Outcome
            var detail: String?
            switch value {
            case .bool(true): outcome = .passed
            case .bool(false): outcome = .failed
            case .error(let e):
                outcome = (e.code == .noSuchKey || e.code == .noSuchField) ? .missing : .failed
                detail = e.description
            default:
                outcome = .failed
            }
            if outcome != .passed { eligible = false }
            results.append(ConditionResult(text: c.text, textEn: c.textEn, result: outcome, detail: detail))
        }
        var amountValue: CELValue?
        if eligible, let program = amount {
            amountValue = program.evaluate(activation)
        }
        return Diagnosis(eligible: eligible, amount: amountValue, conditions: results)
    }
}
