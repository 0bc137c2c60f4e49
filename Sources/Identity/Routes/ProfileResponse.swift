import Fluent
import Foundation
import TongbanCore
import Vapor

/// `GET /api/v1/me`: the caller's profile; ID number and phone masked (API.md).
struct ProfileResponse: Content {
    struct RoleView: Codable, Sendable {
        var role: StaffRole
        var departmentId: UUID?
        var departmentCode: String?
        var departmentName: String?
    }

    var id: UUID
    var username: String
    var kind: AccountKind
    var name: String
    var idNumber: String?
    var phone: String?
    var email: String?
    var birthDate: String?
    var roles: [RoleView]
    var enterprises: [EnterpriseInfo]
    var actingFor: UUID?
    var createdAt: Date?

    static func build(user: User, principal: Principal?, req: Request) async throws -> ProfileResponse {
        let id = try user.requireID()
        let grants = try await StaffAssignment.query(on: req.db).filter(\.$userID == id).all()
        let departments = try await DirectoryService(db: req.db).departments(ids: Set(grants.compactMap(\.departmentID)))
        let enterprises = try await EnterpriseService(db: req.db).enterprises(of: id)
        let resident = user.idNumber.flatMap { try? ResidentIDNumber($0) }
        return ProfileResponse(
            id: id, username: user.username, kind: user.kind, name: user.name,
            idNumber: user.idNumber.map(Masking.idNumber), phone: user.phone.map(Masking.phone),
            email: user.email.map(Masking.email),
            birthDate: resident?.birthDate,
            roles: grants.map { grant in
                let department = grant.departmentID.flatMap { departments[$0] }
                return RoleView(
                    role: grant.role, departmentId: grant.departmentID, departmentCode: department?.code,
                    departmentName: department?.name)
            },
            enterprises: enterprises, actingFor: principal?.actingFor, createdAt: user.createdAt)
    }
}

/// `GET /api/v1/me`, enterprises of the caller, regions and departments (public reads).
struct MeController: RouteCollection {
    let module: IdentityModule

    struct CreateEnterpriseRequest: Content {
        var name: String?
        var creditCode: String?
        var role: EnterpriseRole?
    }

    struct AddMemberRequest: Content {
        var username: String?
        var role: EnterpriseRole?
    }

    struct EnterpriseDetail: Content {
        struct Member: Codable, Sendable {
            var username: String
            var name: String
            var role: EnterpriseRole
        }
        var id: UUID
        var name: String
        var creditCode: String
        var role: EnterpriseRole?
        var members: [Member]
    }

    func boot(routes: any RoutesBuilder) throws {
        let v1 = routes.grouped("api", "v1")
        v1.get("me", use: me)
        v1.post("enterprises", use: createEnterprise)
        v1.get("enterprises", ":id", use: enterprise)
        v1.post("enterprises", ":id", "members", use: addMember)
        v1.get("regions", use: regions)
        v1.get("departments", use: departments)
    }

    /// GET /api/v1/me — signed in. The caller's profile, masked.
    @Sendable func me(req: Request) async throws -> ProfileResponse {
        let principal = try req.requirePrincipal()
        guard let user = try await User.find(principal.userID, on: req.db) else { throw Problem.unauthenticated }
        return try await ProfileResponse.build(user: user, principal: principal, req: req)
    }

    /// POST /api/v1/enterprises — a person. Registers an enterprise with the caller as legal representative
    /// (or agent). 201; 422 for a bad credit code; 403 for staff accounts.
    @Sendable func createEnterprise(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        guard principal.kind == .person else { throw Problem.forbidden }
        let body = try req.content.decode(CreateEnterpriseRequest.self)
        let info = try await EnterpriseService(db: req.db).create(
            name: body.name ?? "", creditCode: body.creditCode ?? "", creator: principal.userID, creatorRole: body.role)
        return try await info.encodeResponse(status: .created, for: req)
    }

    /// GET /api/v1/enterprises/{id} — members only (404 for anyone else).
    @Sendable func enterprise(req: Request) async throws -> EnterpriseDetail {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Enterprise") }
        let (info, members) = try await EnterpriseService(db: req.db).enterprise(id, for: principal.userID)
        return EnterpriseDetail(
            id: info.id, name: info.name, creditCode: info.creditCode, role: info.role,
            members: members.map { .init(username: $0.0.username, name: Masking.name($0.0.name), role: $0.1) })
    }

    /// POST /api/v1/enterprises/{id}/members — the legal representative. 204; 403 otherwise; 409 when present.
    @Sendable func addMember(req: Request) async throws -> HTTPStatus {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Enterprise") }
        let body = try req.content.decode(AddMemberRequest.self)
        var errors = FieldErrors()
        errors.check(!(body.username ?? "").isEmpty, "username", "is required")
        errors.check(body.role != nil, "role", "is required (legal_representative or agent)")
        try errors.throwIfAny()
        try await EnterpriseService(db: req.db).addMember(
            enterpriseID: id, actor: principal.userID, username: body.username ?? "", role: body.role ?? .agent)
        return .noContent
    }

    /// GET /api/v1/regions — anyone. The whole region tree as a flat list (`?level=`, `?parent=`).
    @Sendable func regions(req: Request) async throws -> CursorPage<RegionInfo> {
        var query = Region.query(on: req.db).sort(\.$code)
        if let level = req.query[String.self, at: "level"] {
            guard let parsed = RegionLevel(rawValue: level) else {
                throw Problem.validation([FieldError(field: "level", message: "must be one of \(RegionLevel.allCases.map(\.rawValue).joined(separator: ", "))")])
            }
            query = query.filter(\.$level == parsed)
        }
        if let parent = req.query[String.self, at: "parent"] {
            guard let id = UUID(uuidString: parent) else {
                throw Problem.validation([FieldError(field: "parent", message: "must be a region id")])
            }
            query = query.filter(\.$parentID == id)
        }
        let page = try Paging(from: req)
        let rows = try await query.range(page.offset..<(page.offset + page.limit + 1)).all()
        return page.page(rows.map(DirectoryService.info))
    }

    /// GET /api/v1/departments — anyone. Departments (`?region=` id filter).
    @Sendable func departments(req: Request) async throws -> CursorPage<DepartmentInfo> {
        var query = Department.query(on: req.db).sort(\.$code)
        if let region = req.query[String.self, at: "region"] {
            guard let id = UUID(uuidString: region) else {
                throw Problem.validation([FieldError(field: "region", message: "must be a region id")])
            }
            query = query.filter(\.$regionID == id)
        }
        let page = try Paging(from: req)
        let rows = try await query.range(page.offset..<(page.offset + page.limit + 1)).all()
        return page.page(rows.map(DirectoryService.info))
    }
}

extension RegionInfo: Content {}
extension DepartmentInfo: Content {}
extension EnterpriseInfo: Content {}
