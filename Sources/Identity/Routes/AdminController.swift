import Fluent
import Foundation
import TongbanCore
import Vapor

/// Administration of regions, departments and staff.
/// Regions and departments: system administrators. Staff: system administrators, or department
/// administrators for clerks and approvers of their own department.
struct AdminController: RouteCollection {
    let module: IdentityModule

    struct CreateRegionRequest: Content {
        var code: String?
        var name: String?
        var nameEn: String?
        var level: RegionLevel?
        var parentId: UUID?
    }

    struct CreateDepartmentRequest: Content {
        var code: String?
        var name: String?
        var nameEn: String?
        var regionId: UUID?
    }

    struct RoleInput: Content {
        var role: StaffRole?
        var departmentId: UUID?
    }

    struct CreateStaffRequest: Content {
        var username: String?
        var password: String?
        var name: String?
        var roles: [RoleInput]?
    }

    struct StaffView: Content {
        var id: UUID
        var username: String
        var name: String
        var roles: [RoleInput]
        var disabled: Bool
    }

    func boot(routes: any RoutesBuilder) throws {
        let admin = routes.grouped("api", "v1", "admin")
        admin.post("regions", use: createRegion)
        admin.post("departments", use: createDepartment)
        admin.get("staff", use: listStaff)
        admin.post("staff", use: createStaff)
    }

    /// POST /api/v1/admin/regions — system admin. 201; 422; 403.
    @Sendable func createRegion(req: Request) async throws -> Response {
        let principal = try req.requireStaff([.systemAdmin])
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        let body = try req.content.decode(CreateRegionRequest.self)
        guard let level = body.level else {
            throw Problem.validation([FieldError(field: "level", message: "is required")])
        }
        let region = try await DirectoryService(db: req.db).createRegion(
            code: body.code ?? "", name: body.name ?? "", nameEn: body.nameEn ?? "", level: level, parentID: body.parentId)
        return try await region.encodeResponse(status: .created, for: req)
    }

    /// POST /api/v1/admin/departments — system admin. 201; 422; 403.
    @Sendable func createDepartment(req: Request) async throws -> Response {
        let principal = try req.requireStaff([.systemAdmin])
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        let body = try req.content.decode(CreateDepartmentRequest.self)
        let department = try await DirectoryService(db: req.db).createDepartment(
            code: body.code ?? "", name: body.name ?? "", nameEn: body.nameEn ?? "", regionID: body.regionId)
        return try await department.encodeResponse(status: .created, for: req)
    }

    /// GET /api/v1/admin/staff — system admin (all) or department admin (own departments).
    @Sendable func listStaff(req: Request) async throws -> CursorPage<StaffView> {
        let principal = try req.requireStaff([.systemAdmin, .departmentAdmin])
        let page = try Paging(from: req)
        var assignments = StaffAssignment.query(on: req.db)
        if !principal.isSystemAdmin {
            assignments = assignments.filter(\.$departmentID ~~ Array(principal.departments(with: [.departmentAdmin])))
        }
        let userIDs = Array(Set(try await assignments.all().map(\.userID)))
        let users = try await User.query(on: req.db).filter(\.$id ~~ userIDs).sort(\.$username)
            .range(page.offset..<(page.offset + page.limit + 1)).all()
        let roles = try await StaffAssignment.query(on: req.db).filter(\.$userID ~~ users.compactMap(\.id)).all()
        let byUser = Dictionary(grouping: roles, by: \.userID)
        return page.page(
            users.map { user in
                StaffView(
                    id: user.id ?? UUID(), username: user.username, name: user.name,
                    roles: (user.id.flatMap { byUser[$0] } ?? []).map { RoleInput(role: $0.role, departmentId: $0.departmentID) },
                    disabled: user.disabled)
            })
    }

    /// POST /api/v1/admin/staff — system admin, or department admin for clerk/approver in own department.
    @Sendable func createStaff(req: Request) async throws -> Response {
        let principal = try req.requireStaff([.systemAdmin, .departmentAdmin])
        let body = try req.content.decode(CreateStaffRequest.self)
        var errors = FieldErrors()
        let inputs = body.roles ?? []
        for (index, input) in inputs.enumerated() where input.role == nil {
            errors.add("roles[\(index)].role", "is required")
        }
        try errors.throwIfAny()
        let grants = inputs.compactMap { input in input.role.map { RoleGrant(departmentID: input.departmentId, role: $0) } }
        if !principal.isSystemAdmin {
            let own = principal.departments(with: [.departmentAdmin])
            for grant in grants {
                guard [.clerk, .approver].contains(grant.role), let department = grant.departmentID, own.contains(department)
                else { throw Problem.forbidden }
            }
        }
        let user = try await module.accounts(req).createStaff(
            username: body.username ?? "", password: body.password ?? "", name: body.name ?? "", grants: grants)
        let view = StaffView(
            id: try user.requireID(), username: user.username, name: user.name,
            roles: grants.map { RoleInput(role: $0.role, departmentId: $0.departmentID) }, disabled: false)
        return try await view.encodeResponse(status: .created, for: req)
    }
}
