import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// 免申即享 over HTTP: running a no-application item, the enterprise's notices, confirmation, payment.
struct BenefitsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let policy = routes.grouped("api", "v1", "policy")
        policy.post("items", ":id", "run", use: run)
        policy.get("benefits", use: mine)
        policy.get("benefits", ":id", use: show)
        policy.post("benefits", ":id", "confirm", use: confirm)
        policy.post("benefits", ":id", "decline", use: decline)
        policy.post("benefits", ":id", "paid", use: paid)
        policy.get("payments", use: payments)
        policy.post("person", "diagnosis", use: personDiagnosis)
    }

    struct PersonDiagnosis: Content {
        var profile: JSONValue
        var sources: [PersonProfiles.Source]
        var matches: [PolicyMatch]
    }

    /// POST /api/v1/policy/person/diagnosis — a signed-in person: their profile assembled from the departments'
    /// data (household register, real estate, social insurance, education), each source named, and every
    /// published person item (e.g. the school place) diagnosed condition by condition. The read is audited.
    @Sendable func personDiagnosis(req: Request) async throws -> PersonDiagnosis {
        let principal = try req.requirePrincipal()
        guard principal.kind == .person, let user = try await User.find(principal.userID, on: req.db), let idNumber = user.idNumber else {
            throw Problem(.forbidden, type: "/problems/person-only", title: "For persons", detail: "A person's own diagnosis needs a person account with an ID number.")
        }
        let (profile, json, sources) = try await PersonProfiles(db: req.db, clock: req.application.clock).profile(idNumber: idNumber)
        try await req.application.audit?.record(
            kind: "policy.profile.read", actor: principal.userID, subject: "person:\(principal.userID.uuidString.lowercased())",
            details: ["purpose": "self-diagnosis", "sources": sources.filter(\.found).map(\.resource).joined(separator: ",")])
        let matches = try await PolicyService(db: req.db, clock: req.application.clock).match(profile, audience: .person)
        return PersonDiagnosis(profile: json, sources: sources, matches: matches)
    }

    struct BenefitView: Content {
        var id: UUID
        var itemId: UUID
        var itemCode: String
        var itemVersion: Int
        var enterpriseName: String
        var creditCode: String
        var amount: Double
        var status: BenefitStatus
        var conditions: [CompiledPolicyItem.ConditionResult]
        /// The profile the decision read (for explanation and appeal).
        var inputs: JSONValue?
        var bankAccount: String?
        var paymentReference: String?
        var decidedAt: Date
        var answeredAt: Date?
        var paidAt: Date?
    }

    static func view(_ b: PolicyBenefit, inputs: Bool) -> BenefitView {
        BenefitView(
            id: b.id ?? UUID(), itemId: b.itemID, itemCode: b.itemCode, itemVersion: b.itemVersion, enterpriseName: b.enterpriseName,
            creditCode: b.creditCode, amount: b.amount, status: b.status,
            conditions: (try? JSONText.decode([CompiledPolicyItem.ConditionResult].self, b.conditionsJSON)) ?? [],
            inputs: inputs ? try? JSONText.decode(JSONValue.self, b.inputsJSON) : nil, bankAccount: b.bankAccountMasked,
            paymentReference: b.paymentReference, decidedAt: b.decidedAt, answeredAt: b.answeredAt, paidAt: b.paidAt)
    }

    static func id(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw BenefitService.notFound }
        return id
    }

    func service(_ req: Request) -> BenefitService { BenefitService(app: req.application, db: req.db) }

    @Sendable func run(req: Request) async throws -> BenefitService.RunSummary {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw PolicyService.itemNotFound }
        return try await service(req).run(itemID: id, principal: principal)
    }

    @Sendable func mine(req: Request) async throws -> [BenefitView] {
        try await service(req).mine(principal: try req.requirePrincipal()).map { Self.view($0, inputs: false) }
    }

    @Sendable func show(req: Request) async throws -> BenefitView {
        Self.view(try await service(req).visible(try Self.id(req), principal: try req.requirePrincipal()), inputs: true)
    }

    @Sendable func confirm(req: Request) async throws -> BenefitView {
        let body = try req.content.decode(BenefitService.Confirmation.self)
        return Self.view(try await service(req).confirm(try Self.id(req), body, principal: try req.requirePrincipal()), inputs: false)
    }

    @Sendable func decline(req: Request) async throws -> BenefitView {
        Self.view(try await service(req).decline(try Self.id(req), principal: try req.requirePrincipal()), inputs: false)
    }

    struct PaidBody: Content { var reference: String? }

    @Sendable func paid(req: Request) async throws -> BenefitView {
        let body = (try? req.content.decode(PaidBody.self)) ?? PaidBody(reference: nil)
        return Self.view(try await service(req).markPaid(try Self.id(req), reference: body.reference, principal: try req.requirePrincipal()), inputs: false)
    }

    @Sendable func payments(req: Request) async throws -> [BenefitView] {
        var status: BenefitStatus?
        if let raw = req.query[String.self, at: "status"] {
            guard let value = BenefitStatus(rawValue: raw) else { throw Problem.badRequest("status must be notified, confirmed, paid or declined") }
            status = value
        }
        return try await service(req).payments(status: status, principal: try req.requirePrincipal()).map { Self.view($0, inputs: false) }
    }
}
