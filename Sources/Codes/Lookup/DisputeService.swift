import Fluent
import Foundation
import TongbanCore
import Vapor

/// "Not mine": a person disputes a number a provider listed under their ID; the ticket goes to that provider
/// and an administrator records its progress.
public struct DisputeService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: (any Database)? = nil) {
        self.app = app
        self.db = db ?? app.db
    }

    static let notFound = Problem(.notFound, type: "/problems/dispute-not-found", title: "Dispute not found")

    public struct DisputeView: Content, Sendable {
        public var id: UUID
        public var lookupId: UUID
        public var provider: String
        public var number: String
        public var status: DisputeStatus
        public var note: String?
        public var createdAt: Date
        public var updatedAt: Date
    }

    func view(_ dispute: LookupDispute) async throws -> DisputeView {
        let provider = try await LookupProvider.find(dispute.providerID, on: db)
        return DisputeView(
            id: try dispute.requireID(), lookupId: dispute.queryID, provider: provider?.name ?? "", number: dispute.number,
            status: dispute.status, note: dispute.note, createdAt: dispute.createdAt, updatedAt: dispute.updatedAt)
    }

    /// POST /api/v1/codes/lookups/{id}/disputes {"provider","number"}: the number must be one that provider gave
    /// in this lookup (422 otherwise); one dispute per number (409).
    public func open(lookupID: UUID, provider name: String?, number: String?, principal: Principal) async throws -> DisputeView {
        guard let query = try await LookupQuery.find(lookupID, on: db), query.userID == principal.userID else { throw LookupService.notFound }
        var errors = FieldErrors()
        let provider = try await LookupProvider.query(on: db).filter(\.$name == (name ?? "")).first()
        errors.check(provider != nil, "provider", "does not name a provider")
        var listed: [String] = []
        if let providerID = provider?.id,
            let answer = try await LookupAnswer.query(on: db).filter(\.$queryID == lookupID).filter(\.$providerID == providerID).first()
        {
            listed = (try? JSONText.decode([String].self, answer.numbers)) ?? []
        }
        if provider != nil { errors.check(listed.contains(number ?? ""), "number", "is not a number this provider listed in this lookup") }
        try errors.throwIfAny()
        guard let provider, let providerID = provider.id, let number else { throw Problem.validation([]) }
        let now = app.clock.now()
        let dispute = LookupDispute()
        dispute.queryID = lookupID
        dispute.providerID = providerID
        dispute.userID = principal.userID
        dispute.number = number
        dispute.status = .open
        dispute.createdAt = now
        dispute.updatedAt = now
        do {
            try await db.writeTransaction { tx in try await dispute.create(on: tx) }
        } catch let error as any DatabaseError where error.isConstraintFailure {
            throw Problem.conflict("This number is already disputed.", type: "/problems/dispute-exists")
        }
        try await app.audit?.record(
            kind: "codes.lookup.disputed", actor: principal.userID, subject: "dispute:\(try dispute.requireID().uuidString.lowercased())",
            details: ["provider": provider.name, "number": number])
        return try await view(dispute)
    }

    /// GET /api/v1/codes/disputes: the person's disputes, newest first.
    public func mine(principal: Principal) async throws -> [DisputeView] {
        var views: [DisputeView] = []
        for dispute in try await LookupDispute.query(on: db).filter(\.$userID == principal.userID).sort(\.$createdAt, .descending).all() {
            views.append(try await view(dispute))
        }
        return views
    }

    /// POST /api/v1/codes/disputes/{id}/status {"status","note"}: system administrators move a dispute forward
    /// (open → forwarded → resolved); 409 for any other step.
    public func advance(_ id: UUID, to status: String?, note: String?, principal: Principal) async throws -> DisputeView {
        guard let dispute = try await LookupDispute.find(id, on: db) else { throw Self.notFound }
        guard let next = DisputeStatus(rawValue: status ?? "") else {
            throw Problem.validation([FieldError(field: "status", message: "must be forwarded or resolved")])
        }
        let allowed: [DisputeStatus: DisputeStatus] = [.open: .forwarded, .forwarded: .resolved]
        guard allowed[dispute.status] == next else {
            throw Problem.conflict("A dispute that is \(dispute.status.rawValue) cannot become \(next.rawValue).", type: "/problems/dispute-state")
        }
        dispute.status = next
        dispute.note = note.map { String($0.prefix(500)) }
        dispute.updatedAt = app.clock.now()
        try await db.writeTransaction { tx in try await dispute.update(on: tx) }
        try await app.audit?.record(
            kind: "codes.lookup.dispute-\(next.rawValue)", actor: principal.userID, subject: "dispute:\(id.uuidString.lowercased())", details: [:])
        return try await view(dispute)
    }
}
