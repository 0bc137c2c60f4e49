import Fluent
import Foundation
import SQLKit
import TongbanCore
import Vapor

/// Input for registering a person account.
public struct PersonRegistration: Sendable {
    public var username: String
    public var password: String
    public var name: String
    public var idNumber: String
    public var phone: String
    public var email: String?

    public init(username: String, password: String, name: String, idNumber: String, phone: String, email: String? = nil) {
        self.username = username
        self.password = password
        self.name = name
        self.idNumber = idNumber
        self.phone = phone
        self.email = email
    }
}

/// Accounts: registration, staff creation, principals and profiles.
public struct AccountService: Sendable {
    let db: any Database
    let hashing: PasswordHashing
    let clock: TongbanClock

    public init(db: any Database, hashing: PasswordHashing, clock: TongbanClock) {
        self.db = db
        self.hashing = hashing
        self.clock = clock
    }


    static func normalise(_ username: String) -> String {
        username.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    static func validateUsername(_ username: String, into errors: inout FieldErrors) {
        if username.isEmpty { return errors.add("username", "is required") }
        if !CodeFormat.username.matches(username) {
            errors.add(
                "username",
                "must be 3–32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    static func validateName(_ name: String, field: String = "name", into errors: inout FieldErrors) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            errors.add(field, "is required")
        } else if trimmed.count > 60 {
            errors.add(field, "must have at most 60 characters")
        } else if trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.add(field, "must not contain control characters")
        }
    }

    /// Registers a person; every invalid field is reported at once (422).
    public func registerPerson(_ input: PersonRegistration) async throws -> User {
        var errors = FieldErrors()
        let username = Self.normalise(input.username)
        Self.validateUsername(username, into: &errors)
        if input.password.isEmpty {
            errors.add("password", "is required")
        } else {
            for problem in PasswordPolicy.problems(password: input.password, username: username) {
                errors.add("password", problem)
            }
        }
        Self.validateName(input.name, into: &errors)
        var idNumber: ResidentIDNumber?
        if input.idNumber.isEmpty {
            errors.add("idNumber", "is required")
        } else {
            do {
                idNumber = try ResidentIDNumber(input.idNumber, today: clock.now())
            } catch {
                errors.add("idNumber", "is not a valid resident ID number: it \(error.description)")
            }
        }
        let phone = MobileNumber(input.phone)
        if input.phone.isEmpty {
            errors.add("phone", "is required")
        } else if phone == nil {
            errors.add("phone", "is not a valid mainland mobile number")
        }
        let email = input.email?.trimmingCharacters(in: .whitespaces).lowercased()
        if let email, !email.isEmpty, !Self.isEmailAddress(email) {
            errors.add("email", "is not a valid e-mail address")
        }
        if errors.isEmpty {
            if try await User.query(on: db).filter(\.$username == username).first() != nil {
                errors.add("username", "is already taken")
            }
        }
        try errors.throwIfAny()
        let hash = try await hashing.hash(input.password)
        let user = User(
            username: username, passwordHash: hash, kind: .person,
            name: input.name.trimmingCharacters(in: .whitespacesAndNewlines), idNumber: idNumber?.value,
            phone: phone?.value)
        if let email, !email.isEmpty { user.email = email }
        do {
            try await user.create(on: db)
        } catch let error as any DatabaseError where error.isConstraintFailure {
            throw Problem.validation([FieldError(field: "username", message: "is already taken")])
        }
        return user
    }

    /// Creates a staff account with roles (admin API and CLI).
    public func createStaff(
        username rawUsername: String, password: String, name: String, grants: [RoleGrant]
    ) async throws -> User {
        var errors = FieldErrors()
        let username = Self.normalise(rawUsername)
        Self.validateUsername(username, into: &errors)
        for problem in PasswordPolicy.problems(password: password, username: username) {
            errors.add("password", problem)
        }
        Self.validateName(name, into: &errors)
        if grants.isEmpty { errors.add("roles", "must contain at least one role") }
        for (index, grant) in grants.enumerated() {
            // Platform-wide roles (system administrator, auditor) need no department.
            if ![.systemAdmin, .auditor].contains(grant.role) && grant.departmentID == nil {
                errors.add("roles[\(index)].departmentId", "is required for role \(grant.role.rawValue)")
            }
            if let department = grant.departmentID, try await Department.find(department, on: db) == nil {
                errors.add("roles[\(index)].departmentId", "does not name a department")
            }
        }
        if errors.isEmpty, try await User.query(on: db).filter(\.$username == username).first() != nil {
            errors.add("username", "is already taken")
        }
        try errors.throwIfAny()
        let hash = try await hashing.hash(password)
        return try await db.writeTransaction { db in
            let user = User(username: username, passwordHash: hash, kind: .staff, name: name)
            try await user.create(on: db)
            for grant in Set(grants) {
                try await StaffAssignment(userID: try user.requireID(), departmentID: grant.departmentID, role: grant.role)
                    .create(on: db)
            }
            return user
        }
    }

    /// Builds the principal of a user (roles loaded from the database).
    public func principal(for user: User) async throws -> Principal {
        let id = try user.requireID()
        let grants = try await StaffAssignment.query(on: db).filter(\.$userID == id).all()
            .map { RoleGrant(departmentID: $0.departmentID, role: $0.role) }
        return Principal(userID: id, username: user.username, kind: user.kind, grants: grants)
    }

    /// Whether `userID` is a member of `enterpriseID`.
    public func membership(userID: UUID, enterpriseID: UUID) async throws -> EnterpriseRole? {
        try await EnterpriseMember.query(on: db).filter(\.$userID == userID).filter(\.$enterpriseID == enterpriseID)
            .first()?.role
    }

    /// A plain check of an e-mail address: one `@`, a local part, a dotted domain, no spaces, at most 254.
    public static func isEmailAddress(_ value: String) -> Bool {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard value.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !value.contains(where: \.isWhitespace)
        else { return false }
        return true
    }
}
