import Foundation
import Vapor

/// Staff roles within a department. `systemAdmin` is platform-wide.
public enum StaffRole: String, Codable, Sendable, CaseIterable {
    case clerk
    case approver
    case departmentAdmin = "department_admin"
    case systemAdmin = "system_admin"
    /// Reads the audit log's entries (platform-wide; the department is ignored).
    case auditor
}

/// The kind of account that signed in.
public enum AccountKind: String, Codable, Sendable, CaseIterable {
    case person
    case staff
}

/// One role a staff member holds in one department.
public struct RoleGrant: Codable, Sendable, Hashable {
    public var departmentID: UUID?
    public var role: StaffRole

    public init(departmentID: UUID?, role: StaffRole) {
        self.departmentID = departmentID
        self.role = role
    }
}

/// Who is calling: established by the identity module from a bearer token or a page session.
public struct Principal: Authenticatable, Sendable, Equatable {
    public var userID: UUID
    public var username: String
    public var kind: AccountKind
    public var grants: [RoleGrant]
    /// The enterprise this person acts for in this request (`X-Acting-For`), membership verified.
    public var actingFor: UUID?

    public init(userID: UUID, username: String, kind: AccountKind, grants: [RoleGrant], actingFor: UUID? = nil) {
        self.userID = userID
        self.username = username
        self.kind = kind
        self.grants = grants
        self.actingFor = actingFor
    }

    public var isSystemAdmin: Bool { grants.contains { $0.role == .systemAdmin } }
    public var isStaff: Bool { kind == .staff }

    /// Whether the principal holds `role` in `department` (system admins hold every role everywhere).
    public func has(_ role: StaffRole, in department: UUID?) -> Bool {
        if isSystemAdmin { return true }
        return grants.contains { $0.role == role && (department == nil || $0.departmentID == department) }
    }

    /// Departments in which the principal holds any of `roles`.
    public func departments(with roles: Set<StaffRole>) -> Set<UUID> {
        Set(grants.filter { roles.contains($0.role) }.compactMap(\.departmentID))
    }
}

extension Request {
    /// The authenticated principal, or a 401 problem.
    public func requirePrincipal() throws -> Principal {
        guard let principal = auth.get(Principal.self) else { throw Problem.unauthenticated }
        return principal
    }

    /// The authenticated staff principal holding one of `roles` (in any department), or 401/403.
    public func requireStaff(_ roles: Set<StaffRole>) throws -> Principal {
        let principal = try requirePrincipal()
        guard principal.isSystemAdmin || principal.grants.contains(where: { roles.contains($0.role) }) else {
            throw Problem.forbidden
        }
        return principal
    }
}
