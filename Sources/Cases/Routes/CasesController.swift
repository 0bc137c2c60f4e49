import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// `/api/v1/cases`: file, read, act on and count cases.
struct CasesController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let cases = routes.grouped("api", "v1", "cases")
        cases.post(use: create)
        cases.get(use: list)
        cases.get("categories", use: categories)
        cases.get("stats", use: stats)
        cases.get("stats.csv", use: statsCSV)
        cases.get("points", use: points)
        cases.get("grids", "locate", use: locate)
        cases.get(":id", use: show)
        cases.post(":id", "actions", use: act)
    }

    static func caseID(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Case", type: "/problems/case-not-found") }
        return id
    }

    /// POST /api/v1/cases — residents (grid events, appeals) and staff (every type). 201 with
    /// `{"id","number","status","grid","department",…}`; 401, 403, 422 (unknown category, bad coordinates).
    @Sendable func create(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(CaseService.CreateRequest.self)
        let record = try await CaseService(app: req.application, db: req.db).create(body, principal: principal)
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let response = Response(status: .created)
        try response.content.encode(CaseViews.created(record, directory, now: req.now))
        response.headers.replaceOrAdd(name: .location, value: "/api/v1/cases/\(try record.requireID().uuidString.lowercased())")
        return response
    }

    /// GET /api/v1/cases — residents: their reports; staff: the inbox of their departments (lead or co-handler).
    /// `?status=`, `?limit=`, `?cursor=`.
    @Sendable func list(req: Request) async throws -> CursorPage<CaseViews.CaseView> {
        let principal = try req.requirePrincipal()
        let paging = try Paging(from: req)
        let query = CaseRecord.query(on: req.db)
        if let raw = req.query[String.self, at: "status"] {
            guard let status = CaseStatus(rawValue: raw) else {
                throw Problem.validation([FieldError(field: "status", message: "is not a case status")])
            }
            query.filter(\.$status == status)
        }
        if principal.isSystemAdmin {
            // every case
        } else if principal.isStaff {
            let departments = Array(principal.departments(with: CaseActions.handlerRoles))
            let grids = Array(try await req.application.casesDirectory.get(db: req.db, now: req.now).memberGrids[principal.userID] ?? [])
            guard !departments.isEmpty || !grids.isEmpty else { return paging.page([]) }
            query.group(.or) { group in
                if !departments.isEmpty { group.filter(\.$departmentID ~~ departments) }
                for department in departments { group.filter(\.$coHandlers ~~ department.uuidString) }
                // Grid members: the cases of their grids.
                if !grids.isEmpty { group.filter(\.$gridID ~~ grids.map { UUID?.some($0) }) }
            }
        } else {
            query.filter(\.$reporterID == principal.userID)
        }
        let rows = try await query.sort(\.$createdAt, .descending).sort(\.$number, .descending)
            .range(paging.offset..<(paging.offset + paging.limit + 1)).all()
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        return paging.page(rows.map { CaseViews.view($0, directory, now: req.now, events: nil) })
    }

    /// GET /api/v1/cases/{id} — the case with its timeline (reporter, involved departments, supervisors); 404 otherwise.
    @Sendable func show(req: Request) async throws -> CaseViews.CaseView {
        let principal = try req.requirePrincipal()
        let id = try Self.caseID(req)
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        guard let record = try await CaseRecord.find(id, on: req.db), CaseActions.canRead(principal, record, directory: directory) else {
            throw Problem.notFound("Case", type: "/problems/case-not-found")
        }
        let events = try await CaseEvent.query(on: req.db).filter(\.$caseID == id).sort(\.$seq).all()
        return CaseViews.view(record, directory, now: req.now, events: events)
    }

    /// POST /api/v1/cases/{id}/actions — `{"action":"accept"|"dispatch"|"escalate"|"feedback"|"return"|"urge"|"close"|"evaluate","comment",…}`.
    /// 200 with the case and timeline; 403 wrong role or level; 404; 409 out of order; 422 missing reason.
    @Sendable func act(req: Request) async throws -> CaseViews.CaseView {
        let principal = try req.requirePrincipal()
        let id = try Self.caseID(req)
        let body = try req.content.decode(CaseActions.ActionRequest.self)
        let record = try await CaseActions(app: req.application, db: req.db).perform(caseID: id, body, principal: principal)
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let events = try await CaseEvent.query(on: req.db).filter(\.$caseID == id).sort(\.$seq).all()
        return CaseViews.view(record, directory, now: req.now, events: events)
    }

    /// GET /api/v1/cases/categories — public list of categories (also the Open311 services).
    @Sendable func categories(req: Request) async throws -> [CasesDirectory.CategoryInfo] {
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        return directory.categories.values.sorted { $0.code < $1.code }
    }

    func statsResult(_ req: Request) async throws -> CaseStats.Result {
        _ = try req.requireStaff([.clerk, .approver, .departmentAdmin, .auditor])
        var errors = FieldErrors()
        let from = req.query[String.self, at: "from"]
        let to = req.query[String.self, at: "to"]
        let fromDate = from.flatMap(LocalDate.init)
        let toDate = to.flatMap(LocalDate.init)
        if from != nil && fromDate == nil { errors.add("from", "must be a date YYYY-MM-DD") }
        if to != nil && toDate == nil { errors.add("to", "must be a date YYYY-MM-DD") }
        if let fromDate, let toDate, toDate < fromDate { errors.add("to", "must not be before from") }
        let typeRaw = req.query[String.self, at: "type"]
        let type = typeRaw.flatMap(CaseType.init(rawValue:))
        if typeRaw != nil && type == nil { errors.add("type", "must be grid_event, appeal or supervision") }
        try errors.throwIfAny()
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        return try await CaseStats(db: req.db).compute(from: fromDate, to: toDate, type: type, directory: directory)
    }

    /// GET /api/v1/cases/stats — staff. `?from=&to=` (dates, China time), `?type=`; `?format=csv` for CSV.
    @Sendable func stats(req: Request) async throws -> Response {
        let result = try await statsResult(req)
        if req.query[String.self, at: "format"] == "csv" { return Self.csvResponse(result) }
        let response = Response(status: .ok)
        try response.content.encode(result)
        return response
    }

    /// GET /api/v1/cases/stats.csv — the statistics as CSV (staff).
    @Sendable func statsCSV(req: Request) async throws -> Response {
        Self.csvResponse(try await statsResult(req))
    }

    static func csvResponse(_ result: CaseStats.Result) -> Response {
        let response = Response(status: .ok, body: .init(string: CaseStats.csv(result)))
        response.headers.replaceOrAdd(name: .contentType, value: "text/csv; charset=utf-8")
        response.headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"case-stats.csv\"")
        return response
    }

    struct PointsView: Content {
        struct Entry: Content {
            var points: Int
            var reason: String
            var caseId: UUID?
            var at: Date
        }

        var balance: Int
        var entries: [Entry]
    }

    /// GET /api/v1/cases/points — the caller's points ledger (积分) for valid reports.
    @Sendable func points(req: Request) async throws -> PointsView {
        let principal = try req.requirePrincipal()
        let rows = try await PointsEntry.query(on: req.db).filter(\.$userID == principal.userID).sort(\.$at, .descending).all()
        return PointsView(
            balance: rows.reduce(0) { $0 + $1.points },
            entries: rows.map { PointsView.Entry(points: $0.points, reason: $0.reason, caseId: $0.caseID, at: $0.at) })
    }

    struct LocateView: Content {
        var grid: CaseViews.GridRef?
        var outsideGrid: Bool
    }

    /// GET /api/v1/cases/grids/locate?lat=&lon= — the grid of a point (public).
    @Sendable func locate(req: Request) async throws -> LocateView {
        var errors = FieldErrors()
        let lat = req.query[String.self, at: "lat"].flatMap(Double.init)
        let lon = req.query[String.self, at: "lon"].flatMap(Double.init)
        if lat == nil || !(-90...90).contains(lat ?? 0) { errors.add("lat", "must be a latitude from -90 to 90") }
        if lon == nil || !(-180...180).contains(lon ?? 0) { errors.add("lon", "must be a longitude from -180 to 180") }
        try errors.throwIfAny()
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let grid = directory.index.locate(lat: lat ?? 0, lon: lon ?? 0)
        return LocateView(grid: CaseViews.grid(grid, directory), outsideGrid: grid == nil)
    }
}
