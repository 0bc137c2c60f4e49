import Fluent
import Foundation
import TongbanCore
import Vapor

/// 一表通 patrol: one form covering the checks of several departments; each finding becomes a case for the
/// department that handles its category at the patrolled place.
struct PatrolController: RouteCollection {
    struct Finding: Content {
        var category: String?
        var description: String?
        var priority: String?
    }

    struct PatrolRequest: Content {
        var location: CaseService.Location?
        var address: String?
        var findings: [Finding]?
    }

    struct PatrolResponse: Content {
        var patrolId: UUID
        var cases: [CaseViews.Created]
    }

    struct FormItem: Content {
        var category: String
        var name: String
        var nameEn: String
        var group: String
        var department: CaseViews.DepartmentRef?
    }

    struct FormView: Content {
        var grid: CaseViews.GridRef?
        var outsideGrid: Bool
        var items: [FormItem]
    }

    func boot(routes: any RoutesBuilder) throws {
        let cases = routes.grouped("api", "v1", "cases")
        cases.get("patrol-form", use: form)
        cases.post("patrols", use: submit)
    }

    /// GET /api/v1/cases/patrol-form?lat=&lon= — staff. The one form: every category with the department
    /// that would handle a finding at that point.
    @Sendable func form(req: Request) async throws -> FormView {
        _ = try req.requireStaff([.clerk, .approver, .departmentAdmin])
        var errors = FieldErrors()
        let lat = req.query[String.self, at: "lat"].flatMap(Double.init)
        let lon = req.query[String.self, at: "lon"].flatMap(Double.init)
        if lat == nil || !(-90...90).contains(lat ?? 0) { errors.add("lat", "must be a latitude from -90 to 90") }
        if lon == nil || !(-180...180).contains(lon ?? 0) { errors.add("lon", "must be a longitude from -180 to 180") }
        try errors.throwIfAny()
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let grid = directory.index.locate(lat: lat ?? 0, lon: lon ?? 0)
        let region = grid.flatMap { directory.grids[$0]?.regionID }
        let items = directory.categories.values.sorted { $0.code < $1.code }.map { category in
            let department = region == nil ? directory.defaultDepartment : directory.route(category: category.code, from: region)
            return FormItem(
                category: category.code, name: category.name, nameEn: category.nameEn, group: category.group,
                department: CaseViews.department(department, directory))
        }
        return FormView(grid: CaseViews.grid(grid, directory), outsideGrid: grid == nil, items: items)
    }

    /// POST /api/v1/cases/patrols `{"location","address","findings":[{"category","description","priority"}]}` —
    /// staff (grid members). 201 with one case per finding, all or none; 422 names `findings[i].field`.
    @Sendable func submit(req: Request) async throws -> Response {
        let principal = try req.requireStaff([.clerk, .approver, .departmentAdmin])
        let body = try req.content.decode(PatrolRequest.self)
        let findings = body.findings ?? []
        guard !findings.isEmpty, findings.count <= 50 else {
            throw Problem.validation([FieldError(field: "findings", message: "must list 1 to 50 findings")])
        }
        let patrolID = UUID()
        let app = req.application
        let now = req.now
        let records = try await req.db.writeTransaction { tx in
            var created: [CaseRecord] = []
            for (index, finding) in findings.enumerated() {
                let input = CaseService.CreateRequest(
                    type: CaseType.gridEvent.rawValue, category: finding.category, description: finding.description,
                    location: body.location, address: body.address, priority: finding.priority, channel: nil, subtype: "patrol",
                    title: "一表通巡查 " + patrolID.uuidString.prefix(8).lowercased(), department: nil, coHandlers: nil,
                    timeLimitDays: nil, contact: nil)
                do {
                    created.append(
                        try await CaseService(app: app, db: tx).create(input, principal: principal, forcedChannel: .patrol, grouped: false))
                } catch let problem as Problem where !problem.errors.isEmpty {
                    throw Problem.validation(problem.errors.map { error in
                        error.field.hasPrefix("location") || error.field == "address"
                            ? error : FieldError(field: "findings[\(index)].\(error.field)", message: error.message)
                    })
                }
            }
            return created
        }
        let directory = try await app.casesDirectory.get(db: req.db, now: now)
        let response = Response(status: .created)
        try response.content.encode(PatrolResponse(patrolId: patrolID, cases: records.map { CaseViews.created($0, directory, now: now) }))
        return response
    }
}
