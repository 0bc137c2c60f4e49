import Catalogue
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Workflow

/// The joint-approval demo: service `joint-approval-demo` (one text field `projectName`), accepted by
/// `demo-clerk`, then approved in parallel by `demo-approver-1`, `-2` and `-3` in three departments.
struct ApplicationsDemo {
    let app: Application
    let options: DemoOptions

    static let serviceCode = "joint-approval-demo"
    static let processKey = "joint-approval-demo"

    func load() async throws {
        let db = app.db
        let departments = try await Department.query(on: db).sort(\.$code).all()
        guard let clerkRole = try await User.query(on: db).filter(\.$username == "demo-clerk").first(),
            let clerkDepartment = try await StaffAssignment.query(on: db).filter(\.$userID == clerkRole.requireID())
                .first()?.departmentID,
            let home = departments.first(where: { $0.id == clerkDepartment })
        else { return }
        let others = departments.filter { $0.id != clerkDepartment }
        guard others.count >= 3 else { return }
        let approverDepartments = Array(others.prefix(3))
        let accounts = AccountService(db: db, hashing: app.passwordHashing, clock: app.clock)
        for (index, department) in approverDepartments.enumerated() {
            let username = "demo-approver-\(index + 1)"
            if try await User.query(on: db).filter(\.$username == username).first() == nil {
                _ = try await accounts.createStaff(
                    username: username, password: "Tongban-demo-2026", name: "联审人员\(index + 1)",
                    grants: [RoleGrant(departmentID: try department.requireID(), role: .approver)])
            }
        }
        let definition = ProcessDefinition(key: Self.processKey, name: "多部门并联审批示例", nodes: [
            .init(id: "start", type: .start, next: ApplicationService.acceptanceNode),
            .init(id: ApplicationService.acceptanceNode, type: .task, name: "受理", next: "split",
                  assignees: [.init(department: home.code, role: .clerk)], mode: .any, days: 1),
            .init(id: "split", type: .parallel, branches: ["review-1", "review-2", "review-3"]),
        ] + approverDepartments.enumerated().map { index, department in
            .init(id: "review-\(index + 1)", type: .task, name: "联合审批（\(department.name)）", next: "join",
                  assignees: [.init(department: department.code, role: .approver)], mode: .any, days: 5)
        } + [
            .init(id: "join", type: .join, next: "end"),
            .init(id: "end", type: .end),
        ])
        _ = try await WorkflowEngine(db: db, clock: app.clock).deploy(definition)
        let catalogue = CatalogueService(db: db, clock: app.clock)
        var service = try await ServiceItem.query(on: db).filter(\.$code == Self.serviceCode).first()
        if service == nil {
            var input = ServiceInput()
            input.code = Self.serviceCode
            input.name = "多部门联合审批示例事项"
            input.nameEn = "Joint approval demonstration"
            input.department = home.code
            input.category = .licence
            input.audience = [.person, .enterprise]
            input.caseKind = .promised
            input.statutoryDays = 20
            input.promisedDays = 5
            input.conditions = "用于演示受理后由三个部门并联审批。"
            input.conditionsEn = "Demonstrates acceptance followed by parallel approval in three departments."
            input.steps = [
                ProcessStep(name: "受理", nameEn: "Acceptance", description: "窗口受理", descriptionEn: "Accepted by a clerk"),
                ProcessStep(name: "并联审批", nameEn: "Joint approval", description: "三个部门同时审批", descriptionEn: "Three departments approve at once"),
            ]
            input.zones = []
            input.form = FormSchema(fields: [
                .init(name: "projectName", label: "项目名称", labelEn: "Project name", type: .text, required: true, min: 1, max: 200)
            ])
            let created = try await catalogue.create(input, actor: nil)
            service = try await catalogue.setPublished(try created.requireID(), true, actor: nil)
        }
        if let service, try await ProcessBinding.query(on: db).filter(\.$serviceID == service.requireID()).first() == nil {
            try await ProcessBinding(serviceID: try service.requireID(), processKey: Self.processKey).create(on: db)
        }
        options.progress("applications: joint-approval-demo with demo-approver-1…3")
        try await loadBundles()
        try await loadInspections()
    }

    struct ChecklistRow: Decodable {
        var service: String
        var commitment: String
        var items: [ChecklistItem]
    }

    /// Site-inspection checklists (`inspections.json`) and `demo-inspector`, clerk and approver in the
    /// departments of those services.
    func loadInspections() async throws {
        let db = app.db
        let rows: [ChecklistRow] = try DemoResources.load("inspections.json")
        let inspections = InspectionService(app: app, db: db)
        var departments = Set<UUID>()
        for row in rows {
            try await inspections.defineChecklist(serviceCode: row.service, items: row.items, commitment: row.commitment)
            if let service = try await ServiceItem.query(on: db).filter(\.$code == row.service).first() {
                departments.insert(service.departmentID)
            }
        }
        if try await User.query(on: db).filter(\.$username == "demo-inspector").first() == nil, !departments.isEmpty {
            _ = try await AccountService(db: db, hashing: app.passwordHashing, clock: app.clock).createStaff(
                username: "demo-inspector", password: "Tongban-demo-2026", name: "云现勘人员",
                grants: departments.sorted { $0.uuidString < $1.uuidString }.flatMap {
                    [RoleGrant(departmentID: $0, role: .clerk), RoleGrant(departmentID: $0, role: .approver)]
                })
        }
        options.progress("applications: \(rows.count) site-inspection checklist(s), inspected by demo-inspector")
    }

    struct BundleRow: Decodable {
        var code: String
        var name: String
        var nameEn: String
        var description: String
        var descriptionEn: String
        var services: [String]
    }

    /// The 一件事 bundles of `bundles.json`, and `demo-handler` (clerk and approver in every department of
    /// their services) so that each part can be handled.
    func loadBundles() async throws {
        let db = app.db
        let rows: [BundleRow] = try DemoResources.load("bundles.json")
        let bundles = BundleService(app: app, db: db)
        var departments = Set<UUID>()
        for row in rows {
            _ = try await bundles.define(
                code: row.code, name: row.name, nameEn: row.nameEn, description: row.description,
                descriptionEn: row.descriptionEn, serviceCodes: row.services)
            for service in try await ServiceItem.query(on: db).filter(\.$code ~~ row.services).all() {
                departments.insert(service.departmentID)
            }
        }
        if try await User.query(on: db).filter(\.$username == "demo-handler").first() == nil, !departments.isEmpty {
            let accounts = AccountService(db: db, hashing: app.passwordHashing, clock: app.clock)
            _ = try await accounts.createStaff(
                username: "demo-handler", password: "Tongban-demo-2026", name: "联办人员",
                grants: departments.sorted { $0.uuidString < $1.uuidString }.flatMap {
                    [RoleGrant(departmentID: $0, role: .clerk), RoleGrant(departmentID: $0, role: .approver)]
                })
        }
        options.progress("applications: \(rows.count) 一件事 bundle(s), handled by demo-handler")
    }
}
