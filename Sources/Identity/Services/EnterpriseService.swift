import Fluent
import Foundation
import TongbanCore

/// An enterprise with the caller's role in it.
public struct EnterpriseInfo: Codable, Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var creditCode: String
    public var role: EnterpriseRole?
}

/// Enterprises (legal entities) and their members.
public struct EnterpriseService: Sendable {
    let db: any Database

    public init(db: any Database) { self.db = db }

    /// Registers an enterprise; the creating person becomes its legal representative or agent.
    public func create(name: String, creditCode: String, creator: UUID, creatorRole: EnterpriseRole?) async throws
        -> EnterpriseInfo
    {
        var errors = FieldErrors()
        AccountService.validateName(name, into: &errors)
        var code: CreditCode?
        do { code = try CreditCode(creditCode) } catch {
            errors.add("creditCode", "is not a valid unified social credit code: it \(error.description)")
        }
        if let code, try await Enterprise.query(on: db).filter(\.$creditCode == code.value).first() != nil {
            errors.add("creditCode", "is already registered")
        }
        try errors.throwIfAny()
        let role = creatorRole ?? .legalRepresentative
        let normalised = code?.value ?? creditCode
        return try await db.writeTransaction { db in
            let enterprise = Enterprise(
                name: name.trimmingCharacters(in: .whitespacesAndNewlines), creditCode: normalised,
                legalRepresentativeID: creator)
            try await enterprise.create(on: db)
            try await EnterpriseMember(enterpriseID: try enterprise.requireID(), userID: creator, role: role).create(on: db)
            return EnterpriseInfo(id: try enterprise.requireID(), name: enterprise.name, creditCode: enterprise.creditCode, role: role)
        }
    }

    /// Enterprises a person belongs to, with their role.
    public func enterprises(of userID: UUID) async throws -> [EnterpriseInfo] {
        let memberships = try await EnterpriseMember.query(on: db).filter(\.$userID == userID).all()
        guard !memberships.isEmpty else { return [] }
        let roles = Dictionary(memberships.map { ($0.enterpriseID, $0.role) }, uniquingKeysWith: { a, _ in a })
        return try await Enterprise.query(on: db).filter(\.$id ~~ Array(roles.keys)).sort(\.$name).all().map {
            EnterpriseInfo(id: $0.id ?? UUID(), name: $0.name, creditCode: $0.creditCode, role: $0.id.flatMap { roles[$0] })
        }
    }

    /// One enterprise, visible only to its members (404 otherwise).
    public func enterprise(_ id: UUID, for userID: UUID) async throws -> (EnterpriseInfo, [(User, EnterpriseRole)]) {
        guard let enterprise = try await Enterprise.find(id, on: db),
            let mine = try await EnterpriseMember.query(on: db).filter(\.$enterpriseID == id).filter(\.$userID == userID)
                .first()
        else { throw Problem.notFound("Enterprise", type: "/problems/enterprise-not-found") }
        let members = try await EnterpriseMember.query(on: db).filter(\.$enterpriseID == id).all()
        let users = try await User.query(on: db).filter(\.$id ~~ members.map(\.userID)).all()
        let byID = Dictionary(uniqueKeysWithValues: users.compactMap { u in u.id.map { ($0, u) } })
        let list = members.compactMap { m in byID[m.userID].map { ($0, m.role) } }
        return (
            EnterpriseInfo(id: id, name: enterprise.name, creditCode: enterprise.creditCode, role: mine.role), list
        )
    }

    /// Adds a member; only the legal representative may (403 otherwise).
    public func addMember(enterpriseID: UUID, actor: UUID, username: String, role: EnterpriseRole) async throws {
        let (info, _) = try await enterprise(enterpriseID, for: actor)
        guard info.role == .legalRepresentative else { throw Problem.forbidden }
        guard let user = try await User.query(on: db).filter(\.$username == AccountService.normalise(username)).first(),
            user.kind == .person, let userID = user.id
        else { throw Problem.validation([FieldError(field: "username", message: "does not name a person account")]) }
        if try await EnterpriseMember.query(on: db).filter(\.$enterpriseID == enterpriseID).filter(\.$userID == userID)
            .first() != nil
        {
            throw Problem.conflict("That person is already a member.", type: "/problems/already-member")
        }
        try await EnterpriseMember(enterpriseID: enterpriseID, userID: userID, role: role).create(on: db)
    }
}
