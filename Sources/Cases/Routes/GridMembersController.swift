import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// `/api/v1/cases/grids/{grid}/members`: grid members (网格员) belong to grids. Administrators of the grid —
/// system administrators and department administrators of a department on the grid's region chain
/// (community, street, district, city) — list, assign and remove them. A member sees the cases of their
/// grids, and their reports record the grid they belong to.
struct GridMembersController: RouteCollection {
    struct MemberView: Content {
        var userId: UUID
        var username: String
        var name: String
        var grid: CaseViews.GridRef
    }

    struct AssignRequest: Content {
        var username: String?
        var userId: UUID?
    }

    func boot(routes: any RoutesBuilder) throws {
        let grids = routes.grouped("api", "v1", "cases", "grids")
        grids.get("mine", use: mine)
        grids.get(":grid", "members", use: list)
        grids.post(":grid", "members", use: assign)
        grids.delete(":grid", "members", ":user", use: remove)
    }

    static func gridNotFound() -> Problem { Problem.notFound("Grid", type: "/problems/grid-not-found") }

    /// The grid named by code or id in the path.
    static func grid(_ req: Request, _ directory: CasesDirectory) throws -> CasesDirectory.GridInfo {
        let raw = req.parameters.get("grid") ?? ""
        if let id = UUID(uuidString: raw), let grid = directory.grids[id] { return grid }
        guard let grid = directory.grids.values.first(where: { $0.code == raw }) else { throw gridNotFound() }
        return grid
    }

    /// System administrators, and department administrators of a department whose region is on the grid's chain.
    static func isGridAdmin(_ principal: Principal, _ grid: CasesDirectory.GridInfo, _ directory: CasesDirectory) -> Bool {
        if principal.isSystemAdmin { return true }
        let chain = Set(directory.chain(from: grid.regionID).map(\.id))
        return principal.grants.contains { grant in
            grant.role == .departmentAdmin && grant.departmentID.flatMap { directory.departments[$0] }.map { chain.contains($0.regionId) } == true
        }
    }

    func authorised(_ req: Request) async throws -> (Principal, CasesDirectory.GridInfo, CasesDirectory) {
        let principal = try req.requirePrincipal()
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let grid = try Self.grid(req, directory)
        guard Self.isGridAdmin(principal, grid, directory) else { throw Problem.forbidden }
        return (principal, grid, directory)
    }

    /// GET /api/v1/cases/grids/{grid}/members — grid administrators; 403 others, 404 unknown grid.
    @Sendable func list(req: Request) async throws -> [MemberView] {
        let (_, grid, _) = try await authorised(req)
        return try await Self.members(of: grid, db: req.db)
    }

    /// The grid's members, by username.
    static func members(of grid: CasesDirectory.GridInfo, db: any Database) async throws -> [MemberView] {
        let members = try await GridMember.query(on: db).filter(\.$gridRegionID == grid.regionID).all()
        let users = try await User.query(on: db).filter(\.$id ~~ members.map(\.userID)).all()
        let ref = CaseViews.GridRef(id: grid.id, code: grid.code, name: grid.name)
        return users.compactMap { user in
            user.id.map { MemberView(userId: $0, username: user.username, name: user.name, grid: ref) }
        }.sorted { $0.username < $1.username }
    }

    /// POST /api/v1/cases/grids/{grid}/members `{"username"}` or `{"userId"}` — grid administrators. 201;
    /// 422 unknown or non-staff account, 409 already a member.
    @Sendable func assign(req: Request) async throws -> Response {
        let (principal, grid, _) = try await authorised(req)
        let body = try req.content.decode(AssignRequest.self)
        let view = try await Self.assign(body, to: grid, principal: principal, app: req.application, db: req.db)
        let response = Response(status: .created)
        try response.content.encode(view)
        return response
    }

    /// Assigns a staff account to the grid (shared by the API and the staff page); 422 unknown or non-staff
    /// account, 409 already a member.
    static func assign(
        _ body: AssignRequest, to grid: CasesDirectory.GridInfo, principal: Principal, app: Application, db: any Database
    ) async throws -> MemberView {
        let user: User?
        if let id = body.userId {
            user = try await User.find(id, on: db)
        } else if let username = body.username?.trimmingCharacters(in: .whitespaces), !username.isEmpty {
            user = try await User.query(on: db).filter(\.$username == username).first()
        } else {
            throw Problem.validation([FieldError(field: "username", message: "is required (or userId)")])
        }
        guard let user, let userID = user.id else {
            throw Problem.validation([FieldError(field: body.userId == nil ? "username" : "userId", message: "does not name an account")])
        }
        guard user.kind == .staff, !user.disabled else {
            throw Problem.validation([FieldError(field: body.userId == nil ? "username" : "userId", message: "grid members are active staff accounts")])
        }
        let existing = try await GridMember.query(on: db).filter(\.$userID == userID).filter(\.$gridRegionID == grid.regionID).first()
        guard existing == nil else {
            throw Problem(
                .conflict, type: "/problems/grid-member-exists", title: "Already a member",
                detail: "\(user.username) is already a member of grid \(grid.code).")
        }
        let member = GridMember()
        member.userID = userID
        member.gridRegionID = grid.regionID
        try await member.create(on: db)
        app.casesDirectory.invalidate()
        try await app.audit?.record(
            kind: "cases.grid-member.assigned", actor: principal.userID, subject: grid.code, details: ["user": user.username])
        return MemberView(
            userId: userID, username: user.username, name: user.name,
            grid: CaseViews.GridRef(id: grid.id, code: grid.code, name: grid.name))
    }

    /// DELETE /api/v1/cases/grids/{grid}/members/{user} (username or id) — grid administrators. 204; 404 not a member.
    @Sendable func remove(req: Request) async throws -> HTTPStatus {
        let (principal, grid, _) = try await authorised(req)
        try await Self.remove(req.parameters.get("user") ?? "", from: grid, principal: principal, app: req.application, db: req.db)
        return .noContent
    }

    /// Removes a member named by username or id (shared by the API and the staff page); 404 not a member.
    static func remove(
        _ raw: String, from grid: CasesDirectory.GridInfo, principal: Principal, app: Application, db: any Database
    ) async throws {
        let user: User?
        if let id = UUID(uuidString: raw) {
            user = try await User.find(id, on: db)
        } else {
            user = try await User.query(on: db).filter(\.$username == raw).first()
        }
        guard let user, let userID = user.id,
            let member = try await GridMember.query(on: db).filter(\.$userID == userID).filter(\.$gridRegionID == grid.regionID).first()
        else { throw Problem.notFound("Grid member", type: "/problems/grid-member-not-found") }
        try await member.delete(on: db)
        app.casesDirectory.invalidate()
        try await app.audit?.record(
            kind: "cases.grid-member.removed", actor: principal.userID, subject: grid.code, details: ["user": user.username])
    }

    /// GET /api/v1/cases/grids/mine — signed in: the grids the caller belongs to.
    @Sendable func mine(req: Request) async throws -> [CaseViews.GridRef] {
        let principal = try req.requirePrincipal()
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        return (directory.memberGrids[principal.userID] ?? []).compactMap { directory.grids[$0] }
            .sorted { $0.code < $1.code }.map { CaseViews.GridRef(id: $0.id, code: $0.code, name: $0.name) }
    }
}
