import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// Loads demo regions, departments and the five demo accounts (idempotent).
struct IdentityDemo {
    let app: Application
    let options: DemoOptions

    static let password = "Tongban-demo-2026"

    struct RegionRow: Decodable {
        var code: String
        var name: String
        var nameEn: String
        var level: RegionLevel
        var parent: String?
    }

    struct DepartmentRow: Decodable {
        var code: String
        var name: String
        var nameEn: String
        var region: String
    }

    func load() async throws {
        let db = app.db
        let regions: [RegionRow] = try DemoResources.load("regions.json")
        var regionIDs: [String: UUID] = [:]
        for region in try await Region.query(on: db).all() { regionIDs[region.code] = region.id }
        // Parents first: sort by level depth.
        for row in regions.sorted(by: { $0.level.depth < $1.level.depth }) where regionIDs[row.code] == nil {
            let region = Region(
                code: row.code, name: row.name, nameEn: row.nameEn, level: row.level,
                parentID: row.parent.flatMap { regionIDs[$0] })
            try await region.create(on: db)
            regionIDs[row.code] = region.id
        }
        options.progress("regions: \(regionIDs.count)")
        let departments: [DepartmentRow] = try DemoResources.load("departments.json")
        var departmentIDs: [String: UUID] = [:]
        for department in try await Department.query(on: db).all() { departmentIDs[department.code] = department.id }
        for row in departments where departmentIDs[row.code] == nil {
            guard let regionID = regionIDs[row.region] else { continue }
            let department = Department(code: row.code, name: row.name, nameEn: row.nameEn, regionID: regionID)
            try await department.create(on: db)
            departmentIDs[row.code] = department.id
        }
        options.progress("departments: \(departmentIDs.count)")
        let home = departments.first { $0.code.contains("SCJG") }?.code ?? departments.first?.code
        let homeDepartment = home.flatMap { departmentIDs[$0] }
        let accounts = AccountService(db: db, hashing: app.passwordHashing, clock: app.clock)
        if try await User.query(on: db).filter(\.$username == "demo-citizen").first() == nil {
            _ = try await accounts.registerPerson(
                PersonRegistration(
                    username: "demo-citizen", password: Self.password, name: "李明",
                    idNumber: Self.idNumber("37010219900307123"), phone: "13800138000",
                    email: "liming@example.cn"))
        }
        if try await User.query(on: db).filter(\.$username == "demo-enterprise").first() == nil {
            let person = try await accounts.registerPerson(
                PersonRegistration(
                    username: "demo-enterprise", password: Self.password, name: "王芳",
                    idNumber: Self.idNumber("37010219850612234"), phone: "13912345678"))
            let code = "91370100MA3C" + "5Q8K7"
            let full = code + String(CreditCode.checkCharacter(for: code) ?? "0")
            if try await Enterprise.query(on: db).filter(\.$creditCode == full).first() == nil {
                _ = try await EnterpriseService(db: db).create(
                    name: "济南泉城食品有限公司", creditCode: full, creator: try person.requireID(),
                    creatorRole: .legalRepresentative)
            }
        }
        let staff: [(String, String, StaffRole)] = [
            ("demo-clerk", "赵受理", .clerk), ("demo-approver", "钱审批", .approver), ("demo-admin", "孙管理", .systemAdmin),
        ]
        for (username, name, role) in staff
        where try await User.query(on: db).filter(\.$username == username).first() == nil {
            var grants = [RoleGrant(departmentID: role == .systemAdmin ? nil : homeDepartment, role: role)]
            if role == .systemAdmin, let homeDepartment {
                grants.append(RoleGrant(departmentID: homeDepartment, role: .departmentAdmin))
            }
            if role == .systemAdmin {
                // Reads the audit log (GET /api/v1/audit/entries/{index}).
                grants.append(RoleGrant(departmentID: nil, role: .auditor))
            }
            _ = try await accounts.createStaff(username: username, password: Self.password, name: name, grants: grants)
        }
        options.progress("demo accounts: demo-citizen, demo-enterprise, demo-clerk, demo-approver, demo-admin")
    }

    static func idNumber(_ body: String) -> String {
        body + String(ResidentIDNumber.checkCharacter(for: body))
    }
}

/// Reads JSON files from `Resources/Demo`.
public enum DemoResources {
    public static func load<T: Decodable>(_ file: String) throws -> T {
        let path = Web.WebModule.resourcesDirectory() + "Demo/" + file
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(.internalServerError, title: "Demo data missing", detail: "Cannot read \(path)")
        }
        return try JSONDecoder().decode(T.self, from: data)
    }
}

/// Administrative tasks for the CLI.
public enum IdentityAdministration {
    /// Creates a system administrator (`tongban admin create`).
    public static func createSystemAdmin(app: Application, username: String, password: String) async throws -> UUID {
        let accounts = AccountService(db: app.db, hashing: app.passwordHashing, clock: app.clock)
        let user = try await accounts.createStaff(
            username: username, password: password, name: username, grants: [RoleGrant(departmentID: nil, role: .systemAdmin)])
        return try user.requireID()
    }
}
