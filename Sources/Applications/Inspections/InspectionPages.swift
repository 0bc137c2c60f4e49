import Fluent
import Foundation
import TongbanCore
import Vapor
import Web
import Workflow

/// The site-inspection block on the applicant's application page and the staff task page, and its form
/// posts: book a slot, sign the commitment, upload a photo per item (applicant); record findings (staff).
struct InspectionPages: RouteCollection {
    let pages: ApplicationPages

    struct Item: Encodable, Sendable {
        var code: String
        var label: String
        var photo: Bool
        var evidence: [ApplicationPages.AttachmentRow]
        var result: String?
        var resultKey: String?
        var note: String?
    }

    struct Block: Encodable, Sendable {
        var applicationId: String
        var status: String?
        var statusKey: String?
        var scheduled: String?
        var room: String?
        var commitment: String
        var signed: Bool
        var signedAt: String?
        var items: [Item]
        var slots: [ApplicationPages.OptionView]
        var canBook: Bool
        var canConclude: Bool
        var note: String?
        var days: Int?
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.post("me", "applications", ":id", "inspection", use: book)
        routes.post("me", "applications", ":id", "inspection", "commitment", use: sign)
        routes.post("staff", "tasks", ":id", "inspection", use: conclude)
    }

    func s(_ req: Request, _ key: String) -> String { pages.s(req, key) }

    /// The block for `record`, or nil when its service needs no inspection. `applicant` decides which forms show.
    func block(_ record: ApplicationRecord, req: Request, applicant: Principal?, staff: Bool) async throws -> Block? {
        let service = InspectionService(app: req.application, db: req.db)
        guard let checklist = try await service.checklist(serviceID: record.serviceID) else { return nil }
        let english = req.preferences.language == .en
        let id = try record.requireID()
        let inspection = try await service.current(id)
        let files = try await pages.attachmentRows(id, req: req, prefix: staff ? "/staff" : "/me")
        let attachments = try await Attachment.query(on: req.db).filter(\.$applicationID == id).all()
        let findings = inspection?.findings ?? []
        var slots: [ApplicationPages.OptionView] = []
        let inProgress = InspectionService.inProgress.contains(record.status)
        let canBook = !staff && inProgress && (inspection == nil || inspection?.status == .scheduled)
        if canBook, let applicant {
            let formatter = ISO8601DateFormatter()
            slots = try await service.freeSlots(id, principal: applicant).prefix(30).map { date in
                let local = InspectionService.localTime(date)
                return ApplicationPages.OptionView(value: formatter.string(from: date), label: "\(local.date) \(local.time)", selected: false)
            }
        }
        return Block(
            applicationId: id.uuidString, status: inspection.map { s(req, "inspection_status_\($0.status.rawValue)") },
            statusKey: inspection?.status.rawValue,
            scheduled: inspection.map { let local = InspectionService.localTime($0.scheduledAt); return "\(local.date) \(local.time)" },
            room: inspection?.room, commitment: checklist.commitment, signed: inspection?.commitmentSignedAt != nil,
            signedAt: inspection?.commitmentSignedAt.map(ApplicationPages.time),
            items: checklist.items.map { item in
                let finding = findings.first { $0.code == item.code }
                let evidenceIDs = Set(attachments.filter { $0.material == item.code }.compactMap { $0.id?.uuidString })
                return Item(
                    code: item.code, label: english ? item.labelEn : item.label, photo: item.photo,
                    evidence: files.filter { evidenceIDs.contains($0.id) },
                    result: finding.map { s(req, "inspection_item_\($0.result.rawValue)") }, resultKey: finding?.result.rawValue,
                    note: finding?.note)
            },
            slots: slots, canBook: canBook,
            canConclude: staff && inspection?.status == .scheduled && inspection?.commitmentSignedAt != nil,
            note: inspection?.note, days: inspection?.workingDays)
    }

    func back(_ req: Request) -> Response {
        req.redirect(to: "/me/applications/\(req.parameters.get("id") ?? "")", redirectType: .normal)
    }

    struct BookForm: Content {
        var at: String?
    }

    @Sendable func book(req: Request) async throws -> Response {
        try await pages.simpleAction(req) { principal, id in
            let form = try? req.content.decode(BookForm.self)
            let at = form?.at.flatMap { ISO8601DateFormatter().date(from: $0) }
            let inspection = try await InspectionService(app: req.application, db: req.db).schedule(id, at: at, principal: principal)
            let local = InspectionService.localTime(inspection.scheduledAt)
            return String(format: s(req, "flash_inspection_booked"), "\(local.date) \(local.time)")
        }
    }

    @Sendable func sign(req: Request) async throws -> Response {
        try await pages.simpleAction(req) { principal, id in
            _ = try await InspectionService(app: req.application, db: req.db).signCommitment(id, principal: principal)
            return s(req, "flash_commitment_signed")
        }
    }

    /// Staff: findings come as `result-<code>` / `note-<code>` fields plus `passed` and `note`.
    @Sendable func conclude(req: Request) async throws -> Response {
        guard let principal = try pages.requireStaff(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard let taskID = req.parameters.get("id", as: UUID.self),
            let task = try await WorkflowTaskLookup.task(taskID, db: req.db),
            let record = try await ApplicationRecord.query(on: req.db).filter(\.$instanceID == task.instanceID).first()
        else { throw Problem.notFound("Task", type: "/problems/task-not-found") }
        let posted = (try? req.content.decode([String: String].self)) ?? [:]
        let service = InspectionService(app: req.application, db: req.db)
        let items = try await service.checklist(serviceID: record.serviceID)?.items ?? []
        let findings = items.compactMap { item -> ItemFinding? in
            guard let raw = posted["result-\(item.code)"], let result = ItemResult(rawValue: raw) else { return nil }
            let note = posted["note-\(item.code)"].flatMap { $0.isEmpty ? nil : $0 }
            return ItemFinding(code: item.code, result: result, note: note)
        }
        let passed = posted["passed"].map { $0 == "true" }
        do {
            _ = try await service.conclude(
                try record.requireID(), findings: findings, passed: passed, note: posted["note"].flatMap { $0.isEmpty ? nil : $0 },
                principal: principal)
            pages.flash(req, "success", s(req, "flash_inspection_concluded"))
        } catch let problem as Problem where [.unprocessableEntity, .conflict].contains(problem.status) {
            let details = problem.errors.map { "\($0.field)：\($0.message)" }.joined(separator: "；")
            pages.flash(req, "error", details.isEmpty ? pages.message(req, problem) : details)
        }
        return req.redirect(to: "/staff/tasks/\(taskID.uuidString)", redirectType: .normal)
    }
}

/// Finds a task (kept apart so pages need not import the engine's internals).
enum WorkflowTaskLookup {
    static func task(_ id: UUID, db: any Database) async throws -> WorkflowTaskRef? {
        guard let task = try await Workflow.WorkflowTask.find(id, on: db) else { return nil }
        return WorkflowTaskRef(instanceID: task.instanceID)
    }

    struct WorkflowTaskRef {
        var instanceID: UUID
    }
}
