import Fluent
import Foundation
import TongbanCore
import Vapor

/// `/api/v1/applications/{id}/inspection…` and `/api/v1/inspections/statistics`.
struct InspectionsController: RouteCollection {
    struct ItemView: Content {
        var code: String
        var label: String
        var labelEn: String
        var photo: Bool
        /// Attachments the applicant uploaded for this item (material = the item code).
        var evidence: [UUID]
        var result: ItemResult?
        var note: String?
    }

    struct InspectionView: Content {
        var id: UUID
        var applicationId: UUID
        var status: InspectionStatus
        var scheduledAt: Date
        var room: String
        var commitment: String
        var commitmentSignedAt: Date?
        var commitmentDigest: String?
        var items: [ItemView]
        var note: String?
        var concludedAt: Date?
        var workingDaysFromSubmission: Int?
    }

    struct ScheduleRequest: Content {
        var at: Date?
    }

    struct ResultRequest: Content {
        var items: [ItemFinding]?
        var passed: Bool?
        var note: String?
    }

    struct SlotsView: Content {
        var items: [Date]
        var nextCursor: String?
    }

    func boot(routes: any RoutesBuilder) throws {
        let inspection = routes.grouped("api", "v1", "applications", ":id", "inspection")
        inspection.get(use: show)
        inspection.post(use: schedule)
        inspection.get("slots", use: slots)
        inspection.post("commitment", use: sign)
        inspection.post("result", use: conclude)
        routes.get("api", "v1", "inspections", "statistics", use: statistics)
    }

    func id(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw ApplicationService.notFound }
        return id
    }

    func service(_ req: Request) -> InspectionService { InspectionService(app: req.application, db: req.db) }

    static func view(_ inspection: Inspection, checklist: InspectionChecklist?, db: any Database) async throws -> InspectionView {
        let attachments = try await Attachment.query(on: db).filter(\.$applicationID == inspection.applicationID).all()
        let findings = inspection.findings
        return InspectionView(
            id: try inspection.requireID(), applicationId: inspection.applicationID, status: inspection.status,
            scheduledAt: inspection.scheduledAt, room: inspection.room, commitment: checklist?.commitment ?? "",
            commitmentSignedAt: inspection.commitmentSignedAt, commitmentDigest: inspection.commitmentDigest,
            items: (checklist?.items ?? []).map { item in
                let finding = findings.first { $0.code == item.code }
                return ItemView(
                    code: item.code, label: item.label, labelEn: item.labelEn, photo: item.photo,
                    evidence: attachments.filter { $0.material == item.code }.compactMap(\.id), result: finding?.result,
                    note: finding?.note)
            },
            note: inspection.note, concludedAt: inspection.concludedAt, workingDaysFromSubmission: inspection.workingDays)
    }

    func respond(_ req: Request, _ inspection: Inspection, status: HTTPStatus = .ok) async throws -> Response {
        guard let record = try await ApplicationRecord.find(inspection.applicationID, on: req.db) else { throw ApplicationService.notFound }
        let checklist = try await service(req).checklist(serviceID: record.serviceID)
        return try await Self.view(inspection, checklist: checklist, db: req.db).encodeResponse(status: status, for: req)
    }

    /// GET — the applicant and handling staff. 404 when no inspection is booked.
    @Sendable func show(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let record = try await ApplicationService(app: req.application, db: req.db).visible(try id(req), principal)
        guard let inspection = try await service(req).current(try record.requireID()) else { throw InspectionService.notFound }
        return try await respond(req, inspection)
    }

    /// GET …/slots — the applicant: free video slots over the next working days.
    @Sendable func slots(req: Request) async throws -> SlotsView {
        let principal = try req.requirePrincipal()
        return SlotsView(items: try await service(req).freeSlots(try id(req), principal: principal), nextCursor: nil)
    }

    /// POST {"at"} — the applicant books or moves the inspection. 201; 409 when the slot is taken.
    @Sendable func schedule(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(ScheduleRequest.self)
        let inspection = try await service(req).schedule(try id(req), at: body.at, principal: principal)
        return try await respond(req, inspection, status: .created)
    }

    /// POST …/commitment — the applicant signs the commitment.
    @Sendable func sign(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        return try await respond(req, try await service(req).signCommitment(try id(req), principal: principal))
    }

    /// POST …/result — the inspector: findings per item and the conclusion.
    @Sendable func conclude(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(ResultRequest.self)
        let inspection = try await service(req).conclude(
            try id(req), findings: body.items ?? [], passed: body.passed, note: body.note, principal: principal)
        return try await respond(req, inspection)
    }

    /// GET /api/v1/inspections/statistics — anyone: per service, inspections and days from submission.
    @Sendable func statistics(req: Request) async throws -> CursorPage<InspectionStatistics> {
        CursorPage(items: try await service(req).statistics(), nextCursor: nil)
    }
}
