import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Cases: supervision tasks (督办), appeals and the 12345 hotline (诉求), grid events (网格事件) — one case
/// engine with grids, routing, four dispatch levels, SLA timers, evaluation, points, statistics and an
/// Open311 GeoReport v2 API.
public struct CasesModule: TongbanModule {
    public let name = "cases"

    public init() {}

    public var migrations: [any Migration] { [CreateCasesSchema(), CreateCaseStatCounts(), CreateCaseSettings(), CreateCaseAttachments(), CreateCaseStatBlocks(), CreateCaseLocationIndex(), CreateCaseConnectors()] }

    public func boot(_ app: Application) throws {
        app.casesConfig = CasesConfig.fromEnvironment()
        app.casesDirectory = CasesDirectoryCache()
        app.caseWriter = CaseWriter(app: app)
        try app.register(collection: CasesController())
        try app.register(collection: Open311Controller())
        try app.register(collection: PatrolController())
        try app.register(collection: GridMembersController())
        try app.register(collection: CaseSettingsController())
        try app.register(collection: RoutingRulesController())
        try app.register(collection: CaseAttachmentsController(bodyLimit: app.tongbanConfig.attachmentMaxBytes + 256 * 1024))
        try app.register(collection: CasePages(attachmentBodyLimit: app.tongbanConfig.attachmentMaxBytes + 256 * 1024))
        try app.register(collection: CaseAdminPages())
        app.jobs.register(CaseTimers.kind) { job, app in try await CaseTimers.run(job, app: app) }
        app.jobs.register(CaseMediaFetch.kind) { job, app in try await CaseMediaFetch.run(job, app: app) }
        try CaseConnectors.boot(app)
        Self.document(app.apiDocumentation)
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {
        try await CasesDemo(app: app, options: options).load()
        try await CaseConnectors.seedDemo(app: app)
    }

    static func document(_ docs: APIDocumentation) {
        let department = Schema.object(["id": Schema.uuid, "code": Schema.string, "name": Schema.string, "nameEn": Schema.string])
        let grid = Schema.object(["id": Schema.uuid, "code": Schema.string, "name": Schema.string])
        let sla = Schema.object(["responseDueAt": Schema.dateTime, "resolutionDueAt": Schema.dateTime, "warning": Schema.string])
        let event = Schema.object([
            "seq": Schema.integer, "action": Schema.string, "actor": Schema.string, "department": department,
            "fromStatus": Schema.string, "toStatus": Schema.string, "comment": Schema.string, "details": Schema.object([:]),
            "at": Schema.dateTime,
        ])
        docs.addSchema(
            "Case",
            Schema.object([
                "id": Schema.uuid, "number": Schema.string, "type": Schema.string, "category": Schema.string,
                "description": Schema.string, "status": Schema.string, "priority": Schema.string, "channel": Schema.string,
                "location": Schema.object(["lat": Schema.number, "lon": Schema.number]), "grid": grid,
                "outsideGrid": Schema.boolean, "level": Schema.string, "department": department,
                "coHandlers": Schema.array(department), "duplicateOf": Schema.uuid, "escalations": Schema.integer,
                "urges": Schema.integer, "reopened": Schema.integer, "overdue": Schema.boolean, "sla": sla,
                "evaluation": Schema.string, "timeline": Schema.array(event),
            ]))
        docs.add(APIOperation(
            .POST, "/api/v1/cases", summary: "File a case (grid event, appeal, supervision task); routed to a grid and department",
            tag: "cases", requiresAuth: true,
            request: Schema.object([
                "type": Schema.string, "category": Schema.string, "description": Schema.string,
                "location": Schema.object(["lat": Schema.number, "lon": Schema.number]), "address": Schema.string,
                "priority": Schema.string, "channel": Schema.string, "subtype": Schema.string, "title": Schema.string,
                "department": Schema.string, "coHandlers": Schema.array(Schema.string), "timeLimitDays": Schema.integer,
            ], required: ["type", "category", "description"]),
            response: Schema.object([
                "id": Schema.uuid, "number": Schema.string, "status": Schema.string, "grid": grid, "department": department,
                "outsideGrid": Schema.boolean, "duplicateOf": Schema.uuid, "level": Schema.string, "sla": sla,
            ]),
            success: 201, problems: [400, 401, 403, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases", summary: "My reports (residents) or my departments' inbox (staff)", tag: "cases",
            requiresAuth: true, response: Schema.page(of: Schema.ref("Case")), problems: [401, 422], query: ["status", "limit", "cursor"]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/{id}", summary: "A case with its timeline", tag: "cases", requiresAuth: true,
            response: Schema.ref("Case"), problems: [401, 404]))
        docs.add(APIOperation(
            .POST, "/api/v1/cases/{id}/actions",
            summary: "accept, dispatch, escalate, feedback, return, urge, close, evaluate", tag: "cases", requiresAuth: true,
            request: Schema.object([
                "action": Schema.string, "comment": Schema.string, "department": Schema.string,
                "coHandlers": Schema.array(Schema.string), "evidence": Schema.array(Schema.string),
                "satisfied": Schema.boolean, "note": Schema.string, "valid": Schema.boolean,
            ], required: ["action"]),
            response: Schema.ref("Case"), problems: [400, 401, 403, 404, 409, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/categories", summary: "Case categories (the Open311 services)", tag: "cases",
            response: Schema.array(Schema.object([
                "code": Schema.string, "name": Schema.string, "nameEn": Schema.string, "group": Schema.string,
                "description": Schema.string,
            ]))))
        let count = Schema.array(Schema.object(["key": Schema.string, "label": Schema.string, "count": Schema.integer]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/stats", summary: "Case statistics (staff); ?format=csv for CSV", tag: "cases", requiresAuth: true,
            response: Schema.object([
                "total": Schema.integer, "byStatus": count, "byType": count, "byDepartment": count, "byGrid": count,
                "byCategory": count, "byDay": count, "overdueRate": Schema.number, "averageResponseMinutes": Schema.number,
                "averageResolutionHours": Schema.number, "satisfactionRate": Schema.number,
            ]),
            problems: [401, 403, 422], query: ["from", "to", "type", "format"]))
        var csv = APIOperation(
            .GET, "/api/v1/cases/stats.csv", summary: "Case statistics as CSV (staff)", tag: "cases", requiresAuth: true,
            response: Schema.string, problems: [401, 403, 422], query: ["from", "to", "type"])
        csv.responseContentType = "text/csv"
        docs.add(csv)
        docs.add(APIOperation(
            .GET, "/api/v1/cases/points", summary: "The caller's points ledger for valid reports", tag: "cases", requiresAuth: true,
            response: Schema.object(["balance": Schema.integer, "entries": Schema.array(Schema.object([:]))]), problems: [401]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/patrol-form", summary: "The one patrol form: each category with its department at a point (staff)",
            tag: "cases", requiresAuth: true,
            response: Schema.object(["grid": grid, "outsideGrid": Schema.boolean, "items": Schema.array(Schema.object([
                "category": Schema.string, "name": Schema.string, "nameEn": Schema.string, "group": Schema.string,
                "department": department,
            ]))]),
            problems: [401, 403, 422], query: ["lat", "lon"]))
        docs.add(APIOperation(
            .POST, "/api/v1/cases/patrols", summary: "Submit a patrol form: each finding becomes a case for its department (staff)",
            tag: "cases", requiresAuth: true,
            request: Schema.object([
                "location": Schema.object(["lat": Schema.number, "lon": Schema.number]), "address": Schema.string,
                "findings": Schema.array(Schema.object(["category": Schema.string, "description": Schema.string, "priority": Schema.string])),
            ], required: ["location", "findings"]),
            response: Schema.object(["patrolId": Schema.uuid, "cases": Schema.array(Schema.object([:]))]),
            success: 201, problems: [400, 401, 403, 422]))
        let attachment = Schema.object([
            "id": Schema.uuid, "purpose": Schema.string, "filename": Schema.string, "contentType": Schema.string,
            "size": Schema.integer, "sha256": Schema.string, "url": Schema.string, "createdAt": Schema.dateTime,
            "downloadUrl": Schema.string,
        ])
        var upload = APIOperation(
            .POST, "/api/v1/cases/{id}/attachments",
            summary: "Attach a photo or file as evidence (multipart/form-data: file); PDF, PNG, JPEG or OFD, checked by content",
            tag: "cases", requiresAuth: true,
            request: Schema.object(["file": ["type": "string", "contentMediaType": "application/octet-stream"]], required: ["file"]),
            response: attachment, success: 201, problems: [400, 401, 403, 404, 409, 413, 415, 422])
        upload.requestContentType = "multipart/form-data"
        docs.add(upload)
        docs.add(APIOperation(
            .GET, "/api/v1/cases/{id}/attachments", summary: "The case's photos and files (reporter and handling staff)", tag: "cases",
            requiresAuth: true, response: Schema.object(["items": Schema.array(attachment)]), problems: [401, 403, 404]))
        var download = APIOperation(
            .GET, "/api/v1/cases/{id}/attachments/{attachment}", summary: "One file's bytes (reporter and handling staff)",
            tag: "cases", requiresAuth: true, response: Schema.string, problems: [401, 404, 410])
        download.responseContentType = "application/octet-stream"
        docs.add(download)
        let member = Schema.object(["userId": Schema.uuid, "username": Schema.string, "name": Schema.string, "grid": grid])
        docs.add(APIOperation(
            .GET, "/api/v1/cases/grids/{grid}/members", summary: "A grid's members (grid administrators)", tag: "cases",
            requiresAuth: true, response: Schema.array(member), problems: [401, 403, 404]))
        docs.add(APIOperation(
            .POST, "/api/v1/cases/grids/{grid}/members", summary: "Assign a staff account to a grid (grid administrators)",
            tag: "cases", requiresAuth: true, request: Schema.object(["username": Schema.string, "userId": Schema.uuid]),
            response: member, success: 201, problems: [400, 401, 403, 404, 409, 422]))
        docs.add(APIOperation(
            .DELETE, "/api/v1/cases/grids/{grid}/members/{user}", summary: "Remove a grid member (grid administrators)",
            tag: "cases", requiresAuth: true, success: 204, problems: [401, 403, 404]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/grids/mine", summary: "The grids the caller belongs to", tag: "cases", requiresAuth: true,
            response: Schema.array(grid), problems: [401]))
        let duration = Schema.object(["value": Schema.integer, "unit": Schema.string])
        let slaItem = Schema.object([
            "type": Schema.string, "priority": Schema.string, "response": duration, "resolution": duration,
        ])
        let slaTable = Schema.object([
            "version": Schema.integer, "updatedAt": Schema.dateTime, "updatedBy": Schema.string,
            "items": Schema.array(slaItem), "hotlineResponse": duration,
        ])
        docs.add(APIOperation(
            .GET, "/api/v1/cases/settings/sla", summary: "The SLA table in force (staff)", tag: "cases", requiresAuth: true,
            response: slaTable, problems: [401, 403]))
        docs.add(APIOperation(
            .PUT, "/api/v1/cases/settings/sla", summary: "Change SLA items and/or the hotline first response (system administrators); a new version",
            tag: "cases", requiresAuth: true,
            request: Schema.object(["items": Schema.array(slaItem), "hotlineResponse": duration]), response: slaTable,
            problems: [400, 401, 403, 409, 422]))
        let source = Schema.object(["code": Schema.string, "name": Schema.string, "nameEn": Schema.string])
        let sources = Schema.object([
            "version": Schema.integer, "updatedAt": Schema.dateTime, "updatedBy": Schema.string, "items": Schema.array(source),
        ])
        docs.add(APIOperation(
            .GET, "/api/v1/cases/settings/task-sources", summary: "The supervision task sources", tag: "cases", requiresAuth: true,
            response: sources, problems: [401]))
        docs.add(APIOperation(
            .PUT, "/api/v1/cases/settings/task-sources", summary: "Replace the supervision task sources (system administrators); a new version",
            tag: "cases", requiresAuth: true, request: Schema.object(["items": Schema.array(source)], required: ["items"]),
            response: sources, problems: [400, 401, 403, 409, 422]))
        let version = Schema.object([
            "version": Schema.integer, "updatedAt": Schema.dateTime, "updatedBy": Schema.string, "body": Schema.object([:]),
        ])
        let reporting = Schema.object([
            "version": Schema.integer, "updatedAt": Schema.dateTime, "updatedBy": Schema.string,
            "duplicates": Schema.object(["meters": Schema.number, "hours": Schema.number]),
            "points": Schema.object(["perValidReport": Schema.integer]),
        ])
        docs.add(APIOperation(
            .GET, "/api/v1/cases/settings/duplicates-points", summary: "The duplicate window and points per valid report (staff)",
            tag: "cases", requiresAuth: true, response: reporting, problems: [401, 403]))
        docs.add(APIOperation(
            .PUT, "/api/v1/cases/settings/duplicates-points",
            summary: "Change the duplicate window (meters 0–5000, hours 1–720) and/or points (0–1000) (system administrators); a new version",
            tag: "cases", requiresAuth: true,
            request: Schema.object([
                "duplicates": Schema.object(["meters": Schema.number, "hours": Schema.number]),
                "points": Schema.object(["perValidReport": Schema.integer]),
            ]), response: reporting, problems: [400, 401, 403, 409, 422]))
        for kind in ["sla", "task-sources", "duplicates-points"] {
            docs.add(APIOperation(
                .GET, "/api/v1/cases/settings/\(kind)/versions", summary: "Every version of the settings, newest first (staff)",
                tag: "cases", requiresAuth: true, response: Schema.array(version), problems: [401, 403]))
        }
        let ref = Schema.object(["id": Schema.uuid, "code": Schema.string, "name": Schema.string, "nameEn": Schema.string])
        let rule = Schema.object(["id": Schema.uuid, "category": Schema.string, "region": ref, "department": ref])
        let ruleRequest = Schema.object(
            ["category": Schema.string, "region": Schema.string, "department": Schema.string], required: ["category", "department"])
        docs.add(APIOperation(
            .GET, "/api/v1/cases/routing-rules", summary: "The routing rules (staff)", tag: "cases", requiresAuth: true,
            response: Schema.array(rule), problems: [401, 403]))
        docs.add(APIOperation(
            .POST, "/api/v1/cases/routing-rules", summary: "Add a routing rule (system administrators); region and department by code or id",
            tag: "cases", requiresAuth: true, request: ruleRequest, response: rule, success: 201, problems: [400, 401, 403, 409, 422]))
        docs.add(APIOperation(
            .PUT, "/api/v1/cases/routing-rules/{id}", summary: "Replace a routing rule (system administrators)", tag: "cases",
            requiresAuth: true, request: ruleRequest, response: rule, problems: [400, 401, 403, 404, 409, 422]))
        docs.add(APIOperation(
            .DELETE, "/api/v1/cases/routing-rules/{id}", summary: "Delete a routing rule (system administrators; not the default rule)",
            tag: "cases", requiresAuth: true, success: 204, problems: [401, 403, 404, 409]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/grids/locate", summary: "The grid containing a point", tag: "cases",
            response: Schema.object(["grid": grid, "outsideGrid": Schema.boolean]), problems: [422], query: ["lat", "lon"]))
    }
}
