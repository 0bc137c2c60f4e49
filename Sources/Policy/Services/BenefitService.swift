import CEL
import Fluent
import Foundation
import Identity
import SQLKit
import TongbanCore
import Vapor

/// Where a benefit without application (免申即享) stands.
public enum BenefitStatus: String, Codable, Sendable, CaseIterable {
    /// The enterprise was found eligible and told; it has not answered.
    case notified
    /// The enterprise confirmed and gave its bank account; a payment is pending.
    case confirmed
    /// The payment was made.
    case paid
    /// The enterprise declined the benefit.
    case declined
}

/// One decision of a no-application item for one enterprise, with everything that produced it: the item's
/// version, the profile it read and each condition's result, so that it can be explained and appealed.
public final class PolicyBenefit: Model, @unchecked Sendable {
    public static let schema = "policy_benefits"

    @ID(key: .id) public var id: UUID?
    @Field(key: "item_id") public var itemID: UUID
    @Field(key: "item_code") public var itemCode: String
    @Field(key: "item_version") public var itemVersion: Int
    @Field(key: "credit_code") public var creditCode: String
    @Field(key: "enterprise_name") public var enterpriseName: String
    @Field(key: "amount") public var amount: Double
    /// The profile as the rules read it (JSON).
    @Field(key: "inputs") public var inputsJSON: String
    /// JSON array of the condition results (text, result, detail).
    @Field(key: "conditions") public var conditionsJSON: String
    @Field(key: "status") public var status: BenefitStatus
    @OptionalField(key: "bank_account_masked") public var bankAccountMasked: String?
    /// The full account number, sealed with the master key (payments need it; nobody reads it back over HTTP).
    @OptionalField(key: "bank_account_sealed") public var bankAccountSealed: String?
    @OptionalField(key: "answered_by") public var answeredBy: UUID?
    @OptionalField(key: "answered_at") public var answeredAt: Date?
    @OptionalField(key: "payment_reference") public var paymentReference: String?
    @OptionalField(key: "paid_by") public var paidBy: UUID?
    @OptionalField(key: "paid_at") public var paidAt: Date?
    @Field(key: "decided_at") public var decidedAt: Date

    public init() {}
}

struct CreatePolicyBenefits: AsyncMigration {
    var name: String { "Policy.CreatePolicyBenefits" }

    func prepare(on database: any Database) async throws {
        try await database.schema(PolicyBenefit.schema)
            .id()
            .field("item_id", .uuid, .required, .references(PolicyItem.schema, "id"))
            .field("item_code", .string, .required)
            .field("item_version", .int, .required)
            .field("credit_code", .string, .required)
            .field("enterprise_name", .string, .required)
            .field("amount", .double, .required)
            .field("inputs", .string, .required)
            .field("conditions", .string, .required)
            .field("status", .string, .required)
            .field("bank_account_masked", .string)
            .field("bank_account_sealed", .string)
            .field("answered_by", .uuid)
            .field("answered_at", .datetime)
            .field("payment_reference", .string)
            .field("paid_by", .uuid)
            .field("paid_at", .datetime)
            .field("decided_at", .datetime, .required)
            .unique(on: "item_id", "credit_code")
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "policy_benefits_credit_code").on(PolicyBenefit.schema).column("credit_code").run()
        }
    }

    func revert(on database: any Database) async throws {
        try await database.schema(PolicyBenefit.schema).delete()
    }
}

/// 免申即享: run a no-application item over every stored profile, tell eligible enterprises, take their
/// confirmation with a bank account, and record the payment.
public struct BenefitService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    var now: Date { app.clock.now() }

    public static let notFound = Problem.notFound("Benefit", type: "/problems/benefit-not-found")

    public struct RunSummary: Content {
        public var item: String
        public var version: Int
        public var evaluated: Int
        public var eligible: Int
        public var notified: Int
        public var alreadyDecided: Int
        public var errors: Int
    }

    /// Evaluates a published no-application item against every stored enterprise profile; each newly eligible
    /// enterprise gets a benefit notice (one per item and enterprise, whatever the number of runs).
    public func run(itemID: UUID, principal: Principal) async throws -> RunSummary {
        guard let item = try await PolicyItem.find(itemID, on: db) else { throw PolicyService.itemNotFound }
        guard PolicyService.isPolicyStaff(principal, department: item.departmentID) else { throw Problem.forbidden }
        guard item.mode == .noApplication, item.status == .published, item.audience == .enterprise else {
            throw Problem.conflict("Only a published no-application enterprise item runs without applications.", type: "/problems/not-no-application")
        }
        let today = LocalDate(now).description
        if let from = item.validFrom, from > today { throw Problem.conflict("The item is not in force yet.", type: "/problems/item-not-in-force") }
        if let until = item.validUntil, until < today { throw Problem.conflict("The item is no longer in force.", type: "/problems/item-not-in-force") }
        guard let compiled = PolicyService.compiled(item) else {
            throw Problem(.unprocessableEntity, type: "/problems/rule-invalid", title: "Rule does not compile")
        }
        let decided = Set(try await PolicyBenefit.query(on: db).filter(\.$itemID == itemID).all(\.$creditCode))
        var summary = RunSummary(item: item.code, version: item.version, evaluated: 0, eligible: 0, notified: 0, alreadyDecided: 0, errors: 0)
        var fresh: [PolicyBenefit] = []
        let when = now
        var lastID: UUID?
        // Profiles in pages, so memory stays flat however many enterprises there are.
        while true {
            var query = EnterpriseProfile.query(on: db).sort(\.$id).limit(1000)
            if let lastID { query = query.filter(\.$id > lastID) }
            let page = try await query.all()
            guard let last = page.last else { break }
            lastID = last.id
            for stored in page {
                summary.evaluated += 1
                guard let profile = try? stored.celValue() else { summary.errors += 1; continue }
                let diagnosis = compiled.diagnose(profile, now: when)
                guard diagnosis.eligible else { continue }
                summary.eligible += 1
                if decided.contains(stored.creditCode) { summary.alreadyDecided += 1; continue }
                var amount = 0.0
                switch diagnosis.amount {
                case .double(let v)? where v.isFinite: amount = v
                case .int(let v)?: amount = Double(v)
                case .error?: summary.errors += 1; continue
                default: break
                }
                let benefit = PolicyBenefit()
                benefit.itemID = itemID
                benefit.itemCode = item.code
                benefit.itemVersion = item.version
                benefit.creditCode = stored.creditCode
                benefit.enterpriseName = stored.name
                benefit.amount = (amount * 100).rounded() / 100
                benefit.inputsJSON = profile.jsonString()
                benefit.conditionsJSON = try JSONText.encode(diagnosis.conditions)
                benefit.status = .notified
                benefit.decidedAt = when
                fresh.append(benefit)
            }
        }
        let toStore = fresh
        try await db.writeTransaction { tx in
            for benefit in toStore { try await benefit.create(on: tx) }
        }
        summary.notified = fresh.count
        try await app.audit?.record(
            kind: "policy.benefits.decided", actor: principal.userID, subject: "policy-item:\(item.code)",
            details: ["version": String(item.version), "evaluated": String(summary.evaluated), "eligible": String(summary.eligible),
                      "notified": String(summary.notified)])
        return summary
    }

    /// Benefits of the enterprise the caller acts for.
    public func mine(principal: Principal) async throws -> [PolicyBenefit] {
        guard let enterprise = principal.actingFor, let found = try await Enterprise.find(enterprise, on: db) else {
            throw Problem(.forbidden, type: "/problems/acting-for-required", title: "Act for an enterprise",
                          detail: "Send X-Acting-For with the enterprise whose benefits you want to see.")
        }
        return try await PolicyBenefit.query(on: db).filter(\.$creditCode == found.creditCode).sort(\.$decidedAt, .descending).all()
    }

    /// The benefit, for members acting for its enterprise and for policy staff.
    public func visible(_ id: UUID, principal: Principal) async throws -> PolicyBenefit {
        guard let benefit = try await PolicyBenefit.find(id, on: db) else { throw Self.notFound }
        if PolicyService.isPolicyStaff(principal) { return benefit }
        if let enterprise = principal.actingFor, let found = try await Enterprise.find(enterprise, on: db), found.creditCode == benefit.creditCode {
            return benefit
        }
        throw Self.notFound
    }

    public struct Confirmation: Content {
        public var bankAccount: String?
        public var accountName: String?
    }

    /// The enterprise confirms with its corporate account (the account holder must be the enterprise itself).
    public func confirm(_ id: UUID, _ body: Confirmation, principal: Principal) async throws -> PolicyBenefit {
        let benefit = try await visible(id, principal: principal)
        guard principal.actingFor != nil else { throw Self.notFound }
        var errors = FieldErrors()
        let account = (body.bankAccount ?? "").filter { !$0.isWhitespace }
        errors.check((8...30).contains(account.count) && account.allSatisfy { $0.isASCII && $0.isNumber }, "bankAccount",
                     "must be the corporate account number, 8–30 digits")
        errors.check(body.accountName?.trimmingCharacters(in: .whitespaces) == benefit.enterpriseName, "accountName",
                     "must be the enterprise's own name (\(benefit.enterpriseName)): benefits are paid to its corporate account only")
        try errors.throwIfAny()
        guard benefit.status == .notified else { throw Problem.conflict("This benefit has already been answered.") }
        benefit.status = .confirmed
        benefit.bankAccountMasked = String(account.prefix(4)) + String(repeating: "*", count: max(0, account.count - 8)) + String(account.suffix(4))
        benefit.bankAccountSealed = try app.keyVault.seal(Data(account.utf8), purpose: "policy.bank-account:\(id.uuidString)")
        benefit.answeredBy = principal.userID
        benefit.answeredAt = now
        try await save(benefit, expecting: .notified)
        try await app.audit?.record(
            kind: "policy.benefit.confirmed", actor: principal.userID, subject: "benefit:\(id.uuidString.lowercased())",
            details: ["item": benefit.itemCode, "version": String(benefit.itemVersion), "amount": String(benefit.amount),
                      "account": benefit.bankAccountMasked ?? ""])
        return benefit
    }

    public func decline(_ id: UUID, principal: Principal) async throws -> PolicyBenefit {
        let benefit = try await visible(id, principal: principal)
        guard principal.actingFor != nil else { throw Self.notFound }
        guard benefit.status == .notified else { throw Problem.conflict("This benefit has already been answered.") }
        benefit.status = .declined
        benefit.answeredBy = principal.userID
        benefit.answeredAt = now
        try await save(benefit, expecting: .notified)
        return benefit
    }

    /// Policy staff record the transfer.
    public func markPaid(_ id: UUID, reference: String?, principal: Principal) async throws -> PolicyBenefit {
        guard let benefit = try await PolicyBenefit.find(id, on: db) else { throw Self.notFound }
        let item = try await PolicyItem.find(benefit.itemID, on: db)
        guard PolicyService.isPolicyStaff(principal, department: item?.departmentID) else { throw Problem.forbidden }
        let text = reference?.trimmingCharacters(in: .whitespaces) ?? ""
        guard (4...64).contains(text.count) else {
            throw Problem.validation([FieldError(field: "reference", message: "the bank's transfer reference, 4–64 characters")])
        }
        guard benefit.status == .confirmed else {
            throw Problem.conflict("Only a confirmed benefit can be paid (it is \(benefit.status.rawValue)).")
        }
        benefit.status = .paid
        benefit.paymentReference = text
        benefit.paidBy = principal.userID
        benefit.paidAt = now
        try await save(benefit, expecting: .confirmed)
        try await app.audit?.record(
            kind: "policy.benefit.paid", actor: principal.userID, subject: "benefit:\(id.uuidString.lowercased())",
            details: ["item": benefit.itemCode, "amount": String(benefit.amount), "reference": text])
        return benefit
    }

    /// Saves only if nobody changed the status meanwhile (a second answer or payment is a 409).
    func save(_ benefit: PolicyBenefit, expecting: BenefitStatus) async throws {
        let id = try benefit.requireID()
        let changed = try await db.writeTransaction { tx -> Bool in
            guard try await PolicyBenefit.query(on: tx).filter(\.$id == id).filter(\.$status == expecting).count() == 1 else { return false }
            try await benefit.save(on: tx)
            return true
        }
        guard changed else { throw Problem.conflict("This benefit changed meanwhile; reload it.") }
    }

    public func payments(status: BenefitStatus?, principal: Principal) async throws -> [PolicyBenefit] {
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        var query = PolicyBenefit.query(on: db).sort(\.$decidedAt, .descending).limit(500)
        if let status { query = query.filter(\.$status == status) }
        return try await query.all()
    }
}
