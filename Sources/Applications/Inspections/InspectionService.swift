import Catalogue
import Crypto
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Workflow

/// Remote site inspections (云现勘): booking a video slot, the applicant's commitment and photos per
/// checklist item, the inspector's findings, and the days from submission to inspection.
public struct InspectionService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    /// Slot starts (local time) on each working day; one inspection per department per slot.
    public static let slotHours = [9, 10, 11, 14, 15, 16]
    /// How many working days ahead slots are offered (from tomorrow).
    public static let horizon = 10

    static let inProgress: [ApplicationStatus] = [.submitted, .accepted, .inReview]

    public func checklist(serviceID: UUID) async throws -> InspectionChecklist? {
        try await InspectionChecklist.query(on: db).filter(\.$serviceID == serviceID).first()
    }

    /// Defines (or replaces) the checklist of a service.
    @discardableResult
    public func defineChecklist(serviceCode: String, items: [ChecklistItem], commitment: String) async throws -> InspectionChecklist {
        guard let service = try await ServiceItem.query(on: db).filter(\.$code == serviceCode).first() else {
            throw Problem.validation([FieldError(field: "service", message: "is not a service code")])
        }
        var errors = FieldErrors()
        errors.check(!items.isEmpty && items.count <= 50, "items", "must list 1 to 50 items")
        errors.check(Set(items.map(\.code)).count == items.count, "items", "must have different codes")
        errors.check(!commitment.isEmpty, "commitment", "is required")
        try errors.throwIfAny()
        let checklist = try await checklist(serviceID: try service.requireID()) ?? InspectionChecklist()
        checklist.serviceID = try service.requireID()
        checklist.itemsJSON = try JSONText.encode(items)
        checklist.commitment = commitment
        try await checklist.save(on: db)
        return checklist
    }

    /// The active (scheduled or concluded) inspection of an application, if any.
    public func current(_ applicationID: UUID) async throws -> Inspection? {
        try await Inspection.query(on: db).filter(\.$applicationID == applicationID).filter(\.$status != .cancelled)
            .sort(\.$createdAt, .descending).first()
    }

    /// The application (the applicant's own, in progress) with its service's checklist.
    func ownInProgress(_ applicationID: UUID, _ principal: Principal) async throws -> (ApplicationRecord, ServiceItem, InspectionChecklist) {
        let record = try await ApplicationService(app: app, db: db).own(applicationID, principal)
        guard let service = try await ServiceItem.find(record.serviceID, on: db),
            let checklist = try await checklist(serviceID: record.serviceID)
        else {
            throw Problem.conflict("This service does not need a site inspection.", type: "/problems/no-inspection-needed")
        }
        guard Self.inProgress.contains(record.status) else {
            throw Problem.conflict("An inspection can be booked while the application is in progress.",
                                   type: "/problems/application-not-in-progress")
        }
        return (record, service, checklist)
    }

    /// Free slots for the application's department over the next working days.
    public func freeSlots(_ applicationID: UUID, principal: Principal) async throws -> [Date] {
        let (_, service, _) = try await ownInProgress(applicationID, principal)
        let all = candidateSlots()
        guard let first = all.first, let last = all.last else { return [] }
        let taken = Set(try await Inspection.query(on: db).filter(\.$departmentID == service.departmentID)
            .filter(\.$slotKey != nil).filter(\.$scheduledAt >= first).filter(\.$scheduledAt <= last).all().map(\.scheduledAt))
        return all.filter { !taken.contains($0) }
    }

    func candidateSlots() -> [Date] {
        let calendar = WorkingCalendar.china
        var day = LocalDate(app.clock.now())
        var slots: [Date] = []
        var days = 0
        while days < Self.horizon {
            day = day.adding(days: 1)
            guard calendar.isWorkingDay(day) else { continue }
            days += 1
            let start = day.start()
            slots += Self.slotHours.map { start.addingTimeInterval(TimeInterval($0 * 3600)) }
        }
        return slots
    }

    /// Books (or moves) the inspection to `at`, which must be a free slot. Moving is atomic: the old slot is
    /// released only if the new one is taken in the same transaction.
    public func schedule(_ applicationID: UUID, at: Date?, principal: Principal) async throws -> Inspection {
        let (record, service, _) = try await ownInProgress(applicationID, principal)
        guard let at, candidateSlots().contains(at) else {
            throw Problem.validation([FieldError(field: "at", message: "must be one of the offered slots (GET …/inspection/slots)")])
        }
        if let existing = try await current(applicationID), existing.status != .scheduled {
            throw Problem.conflict("The inspection has already taken place.", type: "/problems/inspection-concluded")
        }
        let now = app.clock.now()
        let department = service.departmentID
        let key = "\(department.uuidString)|\(Int(at.timeIntervalSince1970))"
        do {
            return try await db.writeTransaction { tx in
                var signedAt: Date?
                var digest: String?
                if let existing = try await Inspection.query(on: tx).filter(\.$applicationID == applicationID)
                    .filter(\.$status == .scheduled).first()
                {
                    signedAt = existing.commitmentSignedAt
                    digest = existing.commitmentDigest
                    existing.status = .cancelled
                    existing.slotKey = nil
                    try await existing.save(on: tx)
                }
                if try await Inspection.query(on: tx).filter(\.$slotKey == key).first() != nil { throw Self.slotTaken }
                let inspection = Inspection()
                inspection.applicationID = applicationID
                inspection.departmentID = department
                inspection.scheduledAt = at
                inspection.slotKey = key
                inspection.status = .scheduled
                inspection.room = "tb-" + String(UUID().uuidString.lowercased().prefix(13)).replacingOccurrences(of: "-", with: "")
                inspection.commitmentSignedAt = signedAt
                inspection.commitmentDigest = digest
                inspection.createdAt = now
                try await inspection.create(on: tx)
                let local = Self.localTime(at)
                try await Notifier.notify(
                    userID: record.applicantID, template: "inspection.scheduled",
                    parameters: ["number": record.number, "date": local.date, "time": local.time],
                    channels: [.inbox, .sms], applicationID: applicationID, tx: tx, clock: app.clock)
                return inspection
            }
        } catch let error as any DatabaseError where error.isConstraintFailure {
            throw Self.slotTaken
        }
    }

    /// The applicant signs the checklist's commitment (once; kept when the slot moves).
    public func signCommitment(_ applicationID: UUID, principal: Principal) async throws -> Inspection {
        let (record, _, checklist) = try await ownInProgress(applicationID, principal)
        guard let inspection = try await current(applicationID), inspection.status == .scheduled else {
            throw Problem.conflict("Book an inspection slot first.", type: "/problems/no-inspection-booked")
        }
        guard inspection.commitmentSignedAt == nil else {
            throw Problem.conflict("The commitment is already signed.", type: "/problems/commitment-already-signed")
        }
        let now = app.clock.now()
        let receipt = [checklist.commitment, record.number, principal.userID.uuidString, ISO8601DateFormatter().string(from: now)]
            .joined(separator: "\n")
        inspection.commitmentSignedAt = now
        inspection.commitmentDigest = Hex.sha256(receipt)
        try await inspection.save(on: db)
        return inspection
    }

    /// The inspector's findings and conclusion. Staff of the inspecting department only; the commitment
    /// must be signed, every item answered once, photos present where the checklist asks for them, and a
    /// pass only when every item passed.
    public func conclude(
        _ applicationID: UUID, findings: [ItemFinding], passed: Bool?, note: String?, principal: Principal
    ) async throws -> Inspection {
        guard principal.isStaff || principal.isSystemAdmin else { throw Self.notFound }
        guard let record = try await ApplicationRecord.find(applicationID, on: db),
            let inspection = try await current(applicationID)
        else { throw Self.notFound }
        guard principal.isSystemAdmin || principal.grants.contains(where: { $0.departmentID == inspection.departmentID }) else {
            throw Self.notFound
        }
        guard inspection.status == .scheduled else {
            throw Problem.conflict("The inspection is already concluded.", type: "/problems/inspection-concluded")
        }
        guard inspection.commitmentSignedAt != nil else {
            throw Problem.conflict("The applicant has not signed the commitment yet.", type: "/problems/commitment-missing")
        }
        guard let checklist = try await checklist(serviceID: record.serviceID) else { throw Self.notFound }
        var errors = FieldErrors()
        let codes = checklist.items.map(\.code)
        for code in codes where findings.filter({ $0.code == code }).count != 1 {
            errors.add("items.\(code)", "needs exactly one finding")
        }
        for finding in findings where !codes.contains(finding.code) { errors.add("items.\(finding.code)", "is not a checklist item") }
        for finding in findings where (finding.note?.count ?? 0) > 500 { errors.add("items.\(finding.code).note", "must have at most 500 characters") }
        let photos = Set(try await Attachment.query(on: db).filter(\.$applicationID == applicationID).all().compactMap(\.material))
        for item in checklist.items where item.photo && !photos.contains(item.code) {
            errors.add("items.\(item.code)", "has no photo from the applicant yet")
        }
        if passed == nil { errors.add("passed", "is required") }
        if passed == true && findings.contains(where: { $0.result == .fail }) {
            errors.add("passed", "cannot be true when an item failed")
        }
        if let note, note.count > 2000 { errors.add("note", "must have at most 2000 characters") }
        try errors.throwIfAny()
        let now = app.clock.now()
        let calendar = WorkingCalendar.china
        inspection.status = passed == true ? .passed : .failed
        inspection.findingsJSON = try JSONText.encode(findings)
        inspection.inspectorID = principal.userID
        inspection.note = note
        inspection.concludedAt = now
        inspection.slotKey = nil
        inspection.workingDays = record.submittedAt.map { calendar.workingDays(from: LocalDate($0), to: LocalDate(now)) }
        let failed = findings.filter { $0.result == .fail }.map(\.code)
        let summary = (passed == true ? "现场勘验通过" : "现场勘验不通过（\(failed.joined(separator: "、"))）") + (note.map { "：\($0)" } ?? "")
        return try await db.writeTransaction { tx in
            // Re-check inside the transaction so that two inspectors cannot both conclude.
            guard let fresh = try await Inspection.find(inspection.id, on: tx), fresh.status == .scheduled else {
                throw Problem.conflict("The inspection is already concluded.", type: "/problems/inspection-concluded")
            }
            try await inspection.save(on: tx)
            if let instanceID = record.instanceID,
                let task = try await WorkflowTask.query(on: tx).filter(\.$instanceID == instanceID)
                    .filter(\.$status ~~ [.open, .claimed]).sort(\.$createdAt).first()
            {
                try await app.workflowEngine(on: tx).recordTaskEvent(task, action: "inspection", actor: principal.userID, comment: summary)
            }
            var parameters = ["number": record.number, "result": passed == true ? "通过" : "不通过"]
            if let note { parameters["note"] = note }
            try await Notifier.notify(
                userID: record.applicantID, template: "inspection.completed", parameters: parameters, channels: [.inbox, .sms],
                applicationID: applicationID, tx: tx, clock: app.clock)
            return inspection
        }
    }

    /// Per service: concluded inspections, how many passed, and the average working days from submission.
    public func statistics() async throws -> [InspectionStatistics] {
        let concluded = try await Inspection.query(on: db).filter(\.$status ~~ [.passed, .failed]).all()
        let applications = try await ApplicationRecord.query(on: db).filter(\.$id ~~ concluded.map(\.applicationID)).all()
        let services = Dictionary(applications.compactMap { row in row.id.map { ($0, row.serviceCode) } }) { a, _ in a }
        let grouped = Dictionary(grouping: concluded) { services[$0.applicationID] ?? "" }
        return grouped.keys.sorted().map { code in
            let rows = grouped[code] ?? []
            let days = rows.compactMap(\.workingDays)
            return InspectionStatistics(
                serviceCode: code, inspections: rows.count, passed: rows.filter { $0.status == .passed }.count,
                averageWorkingDays: days.isEmpty ? nil : Double(days.reduce(0, +)) / Double(days.count),
                maxWorkingDays: days.max())
        }
    }

    static func localTime(_ date: Date) -> (date: String, time: String) {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .shanghai
        formatter.dateFormat = "yyyy-MM-dd"
        let day = formatter.string(from: date)
        formatter.dateFormat = "HH:mm"
        return (day, formatter.string(from: date))
    }

    static let notFound = Problem.notFound("Inspection", type: "/problems/inspection-not-found")
    static let slotTaken = Problem.conflict("That slot has just been taken; choose another.", type: "/problems/slot-taken")
}

public struct InspectionStatistics: Content {
    public var serviceCode: String
    public var inspections: Int
    public var passed: Int
    public var averageWorkingDays: Double?
    public var maxWorkingDays: Int?
}
