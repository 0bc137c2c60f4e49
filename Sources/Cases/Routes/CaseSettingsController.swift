import Fluent
import Foundation
import TongbanCore
import Vapor

/// `/api/v1/cases/settings/…`: the SLA table, the supervision task sources and the duplicate window and points. Staff read them; system
/// administrators change them (each change a new version, audited); new cases and new deadlines use the
/// version in force.
struct CaseSettingsController: RouteCollection {
    struct SLAView: Content {
        var version: Int
        var updatedAt: Date?
        var updatedBy: String?
        var items: [SLATable.Item]
        var hotlineResponse: SLADurationView
    }

    struct TaskSourcesView: Content {
        var version: Int
        var updatedAt: Date?
        var updatedBy: String?
        var items: [TaskSource]
    }

    struct TaskSourcesRequest: Content {
        struct Item: Content {
            var code: String?
            var name: String?
            var nameEn: String?
        }

        var items: [Item]?
    }

    struct ReportingView: Content {
        var version: Int
        var updatedAt: Date?
        var updatedBy: String?
        var duplicates: ReportingSettings.Duplicates
        var points: ReportingSettings.Points
    }

    struct VersionView: Content {
        var version: Int
        var updatedAt: Date
        var updatedBy: String?
        var body: JSONValue?
    }

    func boot(routes: any RoutesBuilder) throws {
        let settings = routes.grouped("api", "v1", "cases", "settings")
        settings.get("sla", use: sla)
        settings.put("sla", use: updateSLA)
        settings.get("task-sources", use: taskSources)
        settings.put("task-sources", use: updateTaskSources)
        settings.get("duplicates-points", use: reporting)
        settings.put("duplicates-points", use: updateReporting)
        // Explicit paths: the router does not fall back from a constant segment to a parameter.
        settings.get("sla", "versions", use: versions)
        settings.get("task-sources", "versions", use: versions)
        settings.get("duplicates-points", "versions", use: versions)
    }

    static func requireStaff(_ req: Request) throws -> Principal {
        let principal = try req.requirePrincipal()
        guard principal.isStaff else { throw Problem.forbidden }
        return principal
    }

    static func requireAdmin(_ req: Request) throws -> Principal {
        let principal = try req.requirePrincipal()
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        return principal
    }

    func slaView(_ req: Request) async throws -> SLAView {
        let row = try await CaseSettingsService.latest("sla", db: req.db)
        let table = row.map { SLATable.from(json: $0.body) } ?? .defaults
        let body = table.body
        return SLAView(
            version: row?.version ?? 0, updatedAt: row?.createdAt, updatedBy: row?.actorName, items: body.items ?? [],
            hotlineResponse: body.hotlineResponse ?? SLADurationView(table.hotlineResponse))
    }

    /// GET /api/v1/cases/settings/sla — staff.
    @Sendable func sla(req: Request) async throws -> SLAView {
        _ = try Self.requireStaff(req)
        return try await slaView(req)
    }

    /// PUT /api/v1/cases/settings/sla `{"items":[{"type","priority","response":{"value","unit"},"resolution":…}],
    /// "hotlineResponse"?}` — system administrators. Items not named keep their values. 200 with the new
    /// version; 422 names each bad field.
    @Sendable func updateSLA(req: Request) async throws -> SLAView {
        let principal = try Self.requireAdmin(req)
        let body = try req.content.decode(SLATable.Body.self)
        let current = try await CaseSettingsService.latest("sla", db: req.db).map { SLATable.from(json: $0.body) } ?? .defaults
        let updated = try current.applying(body)
        _ = try await CaseSettingsService(app: req.application, db: req.db).save(
            kind: "sla", body: try CaseSettingsService.encode(updated.body), principal: principal)
        return try await slaView(req)
    }

    func taskSourcesView(_ req: Request) async throws -> TaskSourcesView {
        let row = try await CaseSettingsService.latest("task_sources", db: req.db)
        let items = row.flatMap { try? JSONDecoder().decode([TaskSource].self, from: Data($0.body.utf8)) } ?? TaskSource.defaults
        return TaskSourcesView(version: row?.version ?? 0, updatedAt: row?.createdAt, updatedBy: row?.actorName, items: items)
    }

    /// GET /api/v1/cases/settings/task-sources — signed in (the report and supervision forms offer them).
    @Sendable func taskSources(req: Request) async throws -> TaskSourcesView {
        _ = try req.requirePrincipal()
        return try await taskSourcesView(req)
    }

    /// 2–40 characters: a lower-case letter, then lower-case letters, digits or `_`.
    static func validCode(_ code: String) -> Bool {
        guard (2...40).contains(code.count), let first = code.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return code.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// PUT /api/v1/cases/settings/task-sources `{"items":[{"code","name","nameEn"}]}` — system administrators.
    /// The whole list (1–50 sources, unique lower-case codes); existing tasks keep their source.
    @Sendable func updateTaskSources(req: Request) async throws -> TaskSourcesView {
        let principal = try Self.requireAdmin(req)
        let body = try req.content.decode(TaskSourcesRequest.self)
        _ = try await Self.saveTaskSources(body, principal: principal, app: req.application, db: req.db)
        return try await taskSourcesView(req)
    }

    /// Validates and saves the whole list as a new version (shared by the API and the settings page).
    static func saveTaskSources(
        _ body: TaskSourcesRequest, principal: Principal, app: Application, db: any Database
    ) async throws -> CaseSettingRow {
        guard let items = body.items, (1...50).contains(items.count) else {
            throw Problem.validation([FieldError(field: "items", message: "must list 1 to 50 task sources")])
        }
        var errors: [FieldError] = []
        var codes = Set<String>()
        var sources: [TaskSource] = []
        for (index, item) in items.enumerated() {
            let code = item.code?.trimmingCharacters(in: .whitespaces) ?? ""
            let name = item.name?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let nameEn = item.nameEn?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if !Self.validCode(code) {
                errors.append(FieldError(field: "items[\(index)].code", message: "must be 2–40 lower-case letters, digits or _"))
            } else if !codes.insert(code).inserted {
                errors.append(FieldError(field: "items[\(index)].code", message: "\(code) is given twice"))
            }
            if name.isEmpty || name.count > 100 { errors.append(FieldError(field: "items[\(index)].name", message: "is required (at most 100 characters)")) }
            if nameEn.count > 100 { errors.append(FieldError(field: "items[\(index)].nameEn", message: "must be at most 100 characters")) }
            sources.append(TaskSource(code: code, name: name, nameEn: nameEn.isEmpty ? name : nameEn))
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        return try await CaseSettingsService(app: app, db: db).save(
            kind: "task_sources", body: try CaseSettingsService.encode(sources), principal: principal)
    }

    func reportingView(_ req: Request) async throws -> ReportingView {
        let row = try await CaseSettingsService.latest("duplicates_points", db: req.db)
        let settings = ReportingSettings.from(row.flatMap { ReportingSettings.decode($0.body) }, defaults: req.application.casesConfig)
        return ReportingView(
            version: row?.version ?? 0, updatedAt: row?.createdAt, updatedBy: row?.actorName,
            duplicates: .init(meters: settings.meters, hours: settings.hours), points: .init(perValidReport: settings.pointsPerValidReport))
    }

    /// GET /api/v1/cases/settings/duplicates-points — staff: `{"version","duplicates":{"meters","hours"},
    /// "points":{"perValidReport"}}` (version 0: the environment's values).
    @Sendable func reporting(req: Request) async throws -> ReportingView {
        _ = try Self.requireStaff(req)
        return try await reportingView(req)
    }

    /// PUT /api/v1/cases/settings/duplicates-points — system administrators; values not named keep theirs.
    @Sendable func updateReporting(req: Request) async throws -> ReportingView {
        let principal = try Self.requireAdmin(req)
        let body = try req.content.decode(ReportingSettings.Body.self)
        _ = try await Self.saveReporting(body, principal: principal, app: req.application, db: req.db)
        return try await reportingView(req)
    }

    /// Validates (meters 0–5000, hours 1–720, points 0–1000) and saves a new version (API and page).
    static func saveReporting(
        _ body: ReportingSettings.Body, principal: Principal, app: Application, db: any Database
    ) async throws -> CaseSettingRow {
        let current = ReportingSettings.from(
            try await CaseSettingsService.latest("duplicates_points", db: db).flatMap { ReportingSettings.decode($0.body) },
            defaults: app.casesConfig)
        let updated = try current.applying(body)
        return try await CaseSettingsService(app: app, db: db).save(
            kind: "duplicates_points", body: try CaseSettingsService.encode(updated.body), principal: principal)
    }

    /// GET /api/v1/cases/settings/sla/versions and …/task-sources/versions — staff: every version, newest first.
    @Sendable func versions(req: Request) async throws -> [VersionView] {
        _ = try Self.requireStaff(req)
        let kind: String
        switch req.url.path.split(separator: "/").dropLast().last {
        case "sla": kind = "sla"
        case "task-sources": kind = "task_sources"
        case "duplicates-points": kind = "duplicates_points"
        default: throw Problem.notFound("Settings", type: "/problems/case-settings-not-found")
        }
        let rows = try await CaseSettingRow.query(on: req.db).filter(\.$kind == kind).sort(\.$version, .descending).all()
        return rows.map {
            VersionView(
                version: $0.version, updatedAt: $0.createdAt, updatedBy: $0.actorName,
                body: try? JSONDecoder().decode(JSONValue.self, from: Data($0.body.utf8)))
        }
    }
}
