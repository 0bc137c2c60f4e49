import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// `/api/v1/cases/routing-rules`: the rules that choose a case's handling department by category and
/// region (`cases_routing_rules`). Staff read them; system administrators add, change and delete them.
/// Every change is audited and takes effect at once on this node (the cases directory is reloaded) and
/// within the directory's refresh time on the others. The static functions are shared with the settings page.
struct RoutingRulesController: RouteCollection {
    struct RegionRef: Content, Equatable {
        var id: UUID
        var code: String
        var name: String
        var nameEn: String
    }

    struct RuleView: Content {
        var id: UUID
        var category: String
        /// nil: the rule applies everywhere (the category's default).
        var region: RegionRef?
        var department: RegionRef
    }

    /// `{"category","region"?,"department"}`: region and department by code or id; no region = the default
    /// rule for the category; category `*` = every category without its own rule.
    struct RuleRequest: Content {
        var category: String?
        var region: String?
        var department: String?
    }

    func boot(routes: any RoutesBuilder) throws {
        let rules = routes.grouped("api", "v1", "cases", "routing-rules")
        rules.get(use: list)
        rules.post(use: create)
        rules.put(":id", use: update)
        rules.delete(":id", use: delete)
    }

    // MARK: shared with the page

    static func view(_ rule: RoutingRule, _ directory: CasesDirectory) -> RuleView? {
        guard let id = rule.id else { return nil }
        let region = rule.regionID.map { regionID -> RegionRef in
            let info = directory.regions[regionID]
            return RegionRef(id: regionID, code: info?.code ?? "", name: info?.name ?? "", nameEn: info?.nameEn ?? "")
        }
        let info = directory.departments[rule.departmentID]
        return RuleView(
            id: id, category: rule.category, region: region,
            department: RegionRef(id: rule.departmentID, code: info?.code ?? "", name: info?.name ?? "", nameEn: info?.nameEn ?? ""))
    }

    /// Every rule: the defaults (no region) first, then by region code and category.
    static func all(db: any Database, directory: CasesDirectory) async throws -> [RuleView] {
        try await RoutingRule.query(on: db).all().compactMap { view($0, directory) }.sorted {
            ($0.region?.code ?? "", $0.category) < ($1.region?.code ?? "", $1.category)
        }
    }

    static func region(_ reference: String, in directory: CasesDirectory) -> UUID? {
        if let id = UUID(uuidString: reference), directory.regions[id] != nil { return id }
        return directory.regions.values.first { $0.code == reference }?.id
    }

    /// The validated (category, region, department) of a request; 422 names every bad field.
    static func resolve(_ body: RuleRequest, directory: CasesDirectory) throws -> (category: String, region: UUID?, department: UUID) {
        var errors: [FieldError] = []
        let category = body.category?.trimmingCharacters(in: .whitespaces) ?? ""
        if category.isEmpty {
            errors.append(FieldError(field: "category", message: "is required (a category code, or * for every category)"))
        } else if category != "*" && directory.categories[category] == nil {
            errors.append(FieldError(field: "category", message: "there is no active category '\(category)'"))
        }
        var regionID: UUID?
        let regionRef = body.region?.trimmingCharacters(in: .whitespaces) ?? ""
        if !regionRef.isEmpty {
            regionID = region(regionRef, in: directory)
            if regionID == nil { errors.append(FieldError(field: "region", message: "there is no region '\(regionRef)'")) }
        }
        let departmentRef = body.department?.trimmingCharacters(in: .whitespaces) ?? ""
        let department = departmentRef.isEmpty ? nil : CaseService.department(departmentRef, in: directory)
        if departmentRef.isEmpty {
            errors.append(FieldError(field: "department", message: "is required (a department code or id)"))
        } else if department == nil {
            errors.append(FieldError(field: "department", message: "there is no department '\(departmentRef)'"))
        }
        guard errors.isEmpty, let department else { throw Problem.validation(errors) }
        return (category, regionID, department)
    }

    static func duplicate(_ category: String, _ region: UUID?) -> Problem {
        Problem.conflict(
            "There is already a rule for category '\(category)' " + (region == nil ? "everywhere" : "in this region")
                + "; change that rule instead.", type: "/problems/case-routing-rule-exists")
    }

    static let defaultRuleProblem = Problem.conflict(
        "The default rule (category *, every region) routes points outside every grid; change its department instead.",
        type: "/problems/case-routing-rule-default")

    static func find(_ reference: String?, db: any Database) async throws -> RoutingRule {
        guard let id = reference.flatMap(UUID.init(uuidString:)), let rule = try await RoutingRule.find(id, on: db) else {
            throw Problem.notFound("Routing rule", type: "/problems/case-routing-rule-not-found")
        }
        return rule
    }

    static func audit(_ kind: String, _ rule: RoutingRule, principal: Principal, app: Application, directory: CasesDirectory) async throws {
        try await app.audit?.record(
            kind: "cases.routing_rule.\(kind)", actor: principal.userID, subject: rule.id?.uuidString,
            details: [
                "category": rule.category, "region": rule.regionID.flatMap { directory.regions[$0]?.code } ?? "*",
                "department": directory.departments[rule.departmentID]?.code ?? rule.departmentID.uuidString,
            ])
    }

    static func create(_ body: RuleRequest, principal: Principal, app: Application, db: any Database) async throws -> RoutingRule {
        let directory = try await app.casesDirectory.get(db: db, now: app.clock.now())
        let resolved = try resolve(body, directory: directory)
        let rule = try await db.writeTransaction { tx in
            let existing = try await RoutingRule.query(on: tx).filter(\.$category == resolved.category).all()
            if existing.contains(where: { $0.regionID == resolved.region }) { throw Self.duplicate(resolved.category, resolved.region) }
            let rule = RoutingRule()
            rule.category = resolved.category
            rule.regionID = resolved.region
            rule.departmentID = resolved.department
            try await rule.create(on: tx)
            return rule
        }
        app.casesDirectory.invalidate()
        try await audit("created", rule, principal: principal, app: app, directory: directory)
        return rule
    }

    static func update(
        _ reference: String?, _ body: RuleRequest, principal: Principal, app: Application, db: any Database
    ) async throws -> RoutingRule {
        let directory = try await app.casesDirectory.get(db: db, now: app.clock.now())
        _ = try await find(reference, db: db)
        let resolved = try resolve(body, directory: directory)
        let rule = try await db.writeTransaction { tx in
            let rule = try await Self.find(reference, db: tx)
            let id = try rule.requireID()
            if rule.category == "*" && rule.regionID == nil && (resolved.category != "*" || resolved.region != nil) {
                throw Self.defaultRuleProblem
            }
            let existing = try await RoutingRule.query(on: tx).filter(\.$category == resolved.category).all()
            if existing.contains(where: { $0.id != id && $0.regionID == resolved.region }) {
                throw Self.duplicate(resolved.category, resolved.region)
            }
            rule.category = resolved.category
            rule.regionID = resolved.region
            rule.departmentID = resolved.department
            try await rule.save(on: tx)
            return rule
        }
        app.casesDirectory.invalidate()
        try await audit("changed", rule, principal: principal, app: app, directory: directory)
        return rule
    }

    static func delete(_ reference: String?, principal: Principal, app: Application, db: any Database) async throws {
        let directory = try await app.casesDirectory.get(db: db, now: app.clock.now())
        let rule = try await db.writeTransaction { tx in
            let rule = try await Self.find(reference, db: tx)
            if rule.category == "*" && rule.regionID == nil { throw Self.defaultRuleProblem }
            try await rule.delete(on: tx)
            return rule
        }
        app.casesDirectory.invalidate()
        try await audit("deleted", rule, principal: principal, app: app, directory: directory)
    }

    // MARK: API

    /// GET /api/v1/cases/routing-rules — staff.
    @Sendable func list(req: Request) async throws -> [RuleView] {
        _ = try CaseSettingsController.requireStaff(req)
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        return try await Self.all(db: req.db, directory: directory)
    }

    func respond(_ req: Request, _ rule: RoutingRule, status: HTTPStatus) async throws -> Response {
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        guard let view = Self.view(rule, directory) else { throw Problem(.internalServerError) }
        let response = try await view.encodeResponse(status: status, for: req)
        return response
    }

    /// POST /api/v1/cases/routing-rules — system administrators; 201 with the rule.
    @Sendable func create(req: Request) async throws -> Response {
        let principal = try CaseSettingsController.requireAdmin(req)
        let body = try req.content.decode(RuleRequest.self)
        let rule = try await Self.create(body, principal: principal, app: req.application, db: req.db)
        return try await respond(req, rule, status: .created)
    }

    /// PUT /api/v1/cases/routing-rules/{id} — system administrators: the whole rule (same body as POST).
    @Sendable func update(req: Request) async throws -> Response {
        let principal = try CaseSettingsController.requireAdmin(req)
        let body = try req.content.decode(RuleRequest.self)
        let rule = try await Self.update(req.parameters.get("id"), body, principal: principal, app: req.application, db: req.db)
        return try await respond(req, rule, status: .ok)
    }

    /// DELETE /api/v1/cases/routing-rules/{id} — system administrators; 204.
    @Sendable func delete(req: Request) async throws -> HTTPStatus {
        let principal = try CaseSettingsController.requireAdmin(req)
        try await Self.delete(req.parameters.get("id"), principal: principal, app: req.application, db: req.db)
        return .noContent
    }
}
