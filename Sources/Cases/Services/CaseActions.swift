import enum Applications.Notifier
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// The case state machine.
///
/// ```
/// dispatched --accept--> processing --feedback(lead)--> resolved --close--> closed --evaluate(unsatisfied, once)--> processing
///     |  ^                  |  ^                          |
///     |  +--dispatch/escalate+  +-----------return---------+
///     +--dispatch/escalate--> dispatched (another department / the level above)
/// urge: any open state (supervisors); duplicate: a linked report, closed with its primary.
/// ```
/// Who: accept, dispatch, escalate — staff of the lead department; feedback — the lead or a co-handling
/// department; return and close — the reviewer (the dispatching or originating department, or a supervisor
/// at a higher level on the case's region chain; the lead's approver closes cases nobody dispatched);
/// urge — supervisors; evaluate — the reporter (the originating department for internal tasks).
struct CaseActions: Sendable {
    let app: Application
    let db: any Database

    struct ActionRequest: Content {
        var action: String?
        var comment: String?
        /// dispatch: the target department (code or id).
        var department: String?
        var coHandlers: [String]?
        /// feedback: evidence references (attachment ids, URLs).
        var evidence: [String]?
        /// evaluate.
        var satisfied: Bool?
        var note: String?
        /// close: false when the report turned out invalid (no points).
        var valid: Bool?
    }

    enum Action: String, CaseIterable {
        case accept, dispatch, escalate, feedback, `return`, urge, close, evaluate
    }

    static let handlerRoles: Set<StaffRole> = [.clerk, .approver, .departmentAdmin]
    static let reviewerRoles: Set<StaffRole> = [.approver, .departmentAdmin]

    static func holds(_ principal: Principal, _ roles: Set<StaffRole>, in department: UUID?) -> Bool {
        guard let department else { return false }
        if principal.isSystemAdmin { return true }
        return principal.grants.contains { $0.departmentID == department && roles.contains($0.role) }
    }

    /// Supervisors: approvers and department administrators of a department above the case's level on its
    /// region chain (or of the lead department itself, for administrators).
    static func isSupervisor(_ principal: Principal, of record: CaseRecord, directory: CasesDirectory) -> Bool {
        if principal.isSystemAdmin { return true }
        if holds(principal, [.departmentAdmin], in: record.departmentID) { return true }
        let start = record.gridID.flatMap { directory.grids[$0]?.regionID } ?? directory.departments[record.departmentID]?.regionId
        let chain = Set(directory.chain(from: start).map(\.id))
        for grant in principal.grants where reviewerRoles.contains(grant.role) {
            guard let department = grant.departmentID, let info = directory.departments[department] else { continue }
            if chain.contains(info.regionId) && directory.level(of: department) > record.level { return true }
        }
        return false
    }

    static func isReviewer(_ principal: Principal, of record: CaseRecord, directory: CasesDirectory, includeLead: Bool) -> Bool {
        if holds(principal, reviewerRoles, in: record.dispatcherID) || holds(principal, reviewerRoles, in: record.originDepartmentID) {
            return true
        }
        if isSupervisor(principal, of: record, directory: directory) { return true }
        return includeLead && record.dispatcherID == nil && record.originDepartmentID == nil
            && holds(principal, reviewerRoles, in: record.departmentID)
    }

    /// Whether the principal may read the case.
    static func canRead(_ principal: Principal, _ record: CaseRecord, directory: CasesDirectory) -> Bool {
        if record.reporterID == principal.userID { return true }
        guard principal.isStaff else { return false }
        let departments = [record.departmentID, record.dispatcherID, record.originDepartmentID].compactMap { $0 } + record.coHandlerIDs
        if departments.contains(where: { holds(principal, handlerRoles, in: $0) }) { return true }
        if let grid = record.gridID, directory.memberGrids[principal.userID]?.contains(grid) == true { return true }
        return isSupervisor(principal, of: record, directory: directory)
    }

    /// The actions the principal may take on the case now (the same role and state checks as ``perform``),
    /// in the order the page offers them.
    static func available(_ principal: Principal, _ record: CaseRecord, directory: CasesDirectory) -> [Action] {
        guard record.status != .duplicate else { return [] }
        let lead = record.departmentID
        let handler = holds(principal, handlerRoles, in: lead)
        let open = record.status == .dispatched || record.status == .processing
        var actions: [Action] = []
        if handler && record.status == .dispatched { actions.append(.accept) }
        if open && (handler || isSupervisor(principal, of: record, directory: directory)) { actions.append(.dispatch) }
        if open && handler && directory.escalationTarget(
            category: record.category, gridRegion: record.gridID.flatMap { directory.grids[$0]?.regionID },
            currentDepartment: lead, level: record.level) != nil
        {
            actions.append(.escalate)
        }
        if record.status == .processing && (handler || record.coHandlerIDs.contains { holds(principal, handlerRoles, in: $0) }) {
            actions.append(.feedback)
        }
        if record.status == .resolved && isReviewer(principal, of: record, directory: directory, includeLead: true) {
            actions.append(.close)
        }
        if record.status == .resolved && isReviewer(principal, of: record, directory: directory, includeLead: false) {
            actions.append(.return)
        }
        if open && (isSupervisor(principal, of: record, directory: directory)
            || holds(principal, reviewerRoles, in: record.originDepartmentID)
            || holds(principal, reviewerRoles, in: record.dispatcherID))
        {
            actions.append(.urge)
        }
        let internalTask = record.reporterKind != AccountKind.person.rawValue
        if record.status == .closed && record.evaluation == nil
            && (record.reporterID == principal.userID || internalTask && holds(principal, reviewerRoles, in: record.originDepartmentID))
        {
            actions.append(.evaluate)
        }
        return actions
    }

    static func outOfOrder(_ action: String, _ status: CaseStatus) -> Problem {
        Problem(
            .conflict, type: "/problems/case-action-out-of-order", title: "Action not allowed in this state",
            detail: "'\(action)' is not allowed while the case is \(status.rawValue).")
    }

    static func required(_ field: String, _ message: String) -> Problem {
        Problem.validation([FieldError(field: field, message: message)])
    }

    /// Applies one action; returns the updated case.
    func perform(caseID: UUID, _ input: ActionRequest, principal: Principal) async throws -> CaseRecord {
        guard let raw = input.action else { throw Self.required("action", "is required") }
        guard let action = Action(rawValue: raw) else {
            throw Self.required("action", "must be one of \(Action.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let comment = input.comment?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let comment, comment.count > 2000 { throw Self.required("comment", "must be at most 2000 characters") }
        let now = app.clock.now()
        let directory = try await app.casesDirectory.get(db: db, now: now)
        let events = CaseEvents(app: app)
        return try await db.writeTransaction { tx in
            guard let record = try await CaseRecord.find(caseID, on: tx),
                Self.canRead(principal, record, directory: directory)
            else { throw Problem.notFound("Case", type: "/problems/case-not-found") }
            let before = CaseStatCounters.Snapshot(record)
            let finish: (CaseRecord) async throws -> CaseRecord = { record in
                try await CaseStatCounters.apply(before: before, after: CaseStatCounters.Snapshot(record), on: tx)
                return record
            }
            let id = try record.requireID()
            let from = record.status
            let lead = record.departmentID
            var details: [String: String] = [:]
            var eventDepartment: UUID? = lead
            if record.status == .duplicate { throw Self.outOfOrder(raw, record.status) }
            switch action {
            case .accept:
                guard Self.holds(principal, Self.handlerRoles, in: lead) else { throw Problem.forbidden }
                guard record.status == .dispatched else { throw Self.outOfOrder(raw, record.status) }
                record.status = .processing
                if record.acceptedAt == nil { record.acceptedAt = now }
            case .dispatch:
                guard Self.holds(principal, Self.handlerRoles, in: lead) || Self.isSupervisor(principal, of: record, directory: directory)
                else { throw Problem.forbidden }
                guard record.status == .dispatched || record.status == .processing else { throw Self.outOfOrder(raw, record.status) }
                guard let reference = input.department else { throw Self.required("department", "is required: the department to dispatch to") }
                guard let target = CaseService.department(reference, in: directory) else { throw Self.required("department", "does not name a department") }
                var coHandlers: [UUID] = []
                for (index, code) in (input.coHandlers ?? []).enumerated() {
                    guard let department = CaseService.department(code, in: directory) else {
                        throw Self.required("coHandlers[\(index)]", "does not name a department")
                    }
                    if department != target && !coHandlers.contains(department) { coHandlers.append(department) }
                }
                let level = directory.level(of: target)
                guard level <= record.level || Self.isSupervisor(principal, of: record, directory: directory) && !Self.holds(principal, Self.handlerRoles, in: lead) else {
                    throw Problem(
                        .conflict, type: "/problems/case-dispatch-upward", title: "Dispatch goes down or across",
                        detail: "Dispatch sends a case to the same or a lower level; use 'escalate' with a reason to move it up.")
                }
                guard target != lead || !coHandlers.isEmpty else { throw Self.outOfOrder(raw, record.status) }
                if target != lead {
                    record.dispatcherID = lead
                    record.departmentID = target
                    record.level = level
                    record.status = .dispatched
                    try await restartResponse(record, now: now, tx: tx, table: directory.slaTable)
                }
                record.coHandlerIDs = coHandlers
                details["department"] = directory.departments[target]?.code ?? ""
                if !coHandlers.isEmpty { details["coHandlers"] = coHandlers.compactMap { directory.departments[$0]?.code }.joined(separator: ",") }
            case .escalate:
                guard Self.holds(principal, Self.handlerRoles, in: lead) else { throw Problem.forbidden }
                guard record.status == .dispatched || record.status == .processing else { throw Self.outOfOrder(raw, record.status) }
                guard let comment, !comment.isEmpty else { throw Self.required("comment", "is required: why this level cannot handle the case") }
                try await CaseActions(app: app, db: tx).escalate(
                    record, directory: directory, actor: principal, reason: comment, now: now, automatic: false)
                return try await finish(record)
            case .feedback:
                let isLead = Self.holds(principal, Self.handlerRoles, in: lead)
                let coHandler = record.coHandlerIDs.first { Self.holds(principal, Self.handlerRoles, in: $0) }
                guard isLead || coHandler != nil else { throw Problem.forbidden }
                guard record.status == .processing else { throw Self.outOfOrder(raw, record.status) }
                guard let comment, !comment.isEmpty else { throw Self.required("comment", "is required: the result of the handling") }
                if let evidence = input.evidence, !evidence.isEmpty {
                    guard evidence.count <= 20, evidence.allSatisfy({ !$0.isEmpty && $0.count <= 500 }) else {
                        throw Self.required("evidence", "at most 20 references of up to 500 characters")
                    }
                    // Attachment ids must name files of this case.
                    let ids = evidence.compactMap { UUID(uuidString: $0) }
                    if !ids.isEmpty {
                        let known = Set(try await CaseAttachment.query(on: tx).filter(\.$caseID == id).filter(\.$id ~~ ids).all().compactMap(\.id))
                        if let index = evidence.firstIndex(where: { UUID(uuidString: $0).map { !known.contains($0) } ?? false }) {
                            throw Self.required("evidence[\(index)]", "is not an attachment of this case")
                        }
                    }
                    details["evidence"] = evidence.joined(separator: "\n")
                }
                if isLead {
                    record.status = .resolved
                    record.resolvedAt = now
                    if record.acceptedAt == nil { record.acceptedAt = now }
                } else {
                    eventDepartment = coHandler
                    details["coHandler"] = coHandler.flatMap { directory.departments[$0]?.code } ?? ""
                }
            case .return:
                guard Self.isReviewer(principal, of: record, directory: directory, includeLead: false) else { throw Problem.forbidden }
                guard record.status == .resolved else { throw Self.outOfOrder(raw, record.status) }
                guard let comment, !comment.isEmpty else { throw Self.required("comment", "is required: why the result is not acceptable") }
                record.status = .processing
                record.resolvedAt = nil
            case .urge:
                guard Self.isSupervisor(principal, of: record, directory: directory)
                    || Self.holds(principal, Self.reviewerRoles, in: record.originDepartmentID)
                    || Self.holds(principal, Self.reviewerRoles, in: record.dispatcherID)
                else { throw Problem.forbidden }
                guard record.status == .dispatched || record.status == .processing else { throw Self.outOfOrder(raw, record.status) }
                record.urges += 1
                details["urges"] = String(record.urges)
            case .close:
                guard Self.isReviewer(principal, of: record, directory: directory, includeLead: true) else { throw Problem.forbidden }
                guard record.status == .resolved else { throw Self.outOfOrder(raw, record.status) }
                record.status = .closed
                record.closedAt = now
                record.valid = input.valid ?? true
                record.evaluation = nil
                details["valid"] = String(record.valid ?? true)
                try await closeDuplicates(of: record, now: now, tx: tx)
                try await awardPoints(record, now: now, tx: tx, directory: directory)
            case .evaluate:
                let internalTask = record.reporterKind != AccountKind.person.rawValue
                let allowed = record.reporterID == principal.userID
                    || internalTask && Self.holds(principal, Self.reviewerRoles, in: record.originDepartmentID)
                guard allowed else { throw Problem.forbidden }
                guard record.status == .closed, record.evaluation == nil else { throw Self.outOfOrder(raw, record.status) }
                guard let satisfied = input.satisfied else { throw Self.required("satisfied", "is required (true or false)") }
                let note = input.note?.trimmingCharacters(in: .whitespacesAndNewlines)
                details["satisfied"] = String(satisfied)
                if !satisfied && record.reopened == 0 {
                    guard let note, !note.isEmpty else { throw Self.required("note", "is required when unsatisfied: what is still wrong") }
                    record.reopened = 1
                    record.status = .processing
                    record.closedAt = nil
                    record.resolvedAt = nil
                    let policy = SLAPolicy.policy(type: record.type, priority: record.priority, channel: record.channel, table: directory.slaTable)
                    record.resolutionDueAt = policy.resolution.deadline(from: now, calendar: .china)
                    try await CaseTimers.reschedule(on: tx, app: app, record: record, start: now, responseToo: false)
                    details["reopened"] = "true"
                    try await notifyReporter(record, "case.reopened", note: nil, directory: directory, tx: tx)
                } else {
                    record.evaluation = satisfied ? "satisfied" : "unsatisfied"
                }
                record.updatedAt = now
                try await record.save(on: tx)
                try await events.append(
                    on: tx, caseID: id, action: "evaluate", actor: principal, department: nil, from: from, to: record.status,
                    comment: note ?? comment, details: details, at: now)
                return try await finish(record)
            }
            record.updatedAt = now
            try await record.save(on: tx)
            try await events.append(
                on: tx, caseID: id, action: raw, actor: principal, department: eventDepartment, from: from, to: record.status,
                comment: comment, details: details, at: now)
            switch (action, record.status) {
            case (.accept, _): try await notifyReporter(record, "case.accepted", note: nil, directory: directory, tx: tx)
            case (.feedback, .resolved): try await notifyReporter(record, "case.feedback", note: comment, directory: directory, tx: tx)
            case (.close, _): try await notifyReporter(record, "case.closed", note: comment, directory: directory, tx: tx)
            default: break
            }
            return try await finish(record)
        }
    }

    /// An in-app message to the resident who reported the case (internal tasks and anonymous Open311
    /// reports have none), written in the action's transaction, with an SMS copy to their phone and a push copy
    /// to their registered app devices (delivered by the `notifications.send` job; the development sender logs
    /// them to `<data dir>/outbox.log`, number and token masked).
    private func notifyReporter(
        _ record: CaseRecord, _ template: String, note: String?, directory: CasesDirectory, tx: any Database
    ) async throws {
        guard record.reporterKind == AccountKind.person.rawValue, let reporter = record.reporterID else { return }
        let department = directory.departments[record.departmentID]
        var parameters = [
            "number": record.number, "department": department?.name ?? "", "departmentEn": department?.nameEn ?? "",
        ]
        if let note, !note.isEmpty { parameters["note"] = String(note.prefix(500)) }
        try await Notifier.notify(
            userID: reporter, template: template, parameters: parameters, channels: [.inbox, .sms, .push], tx: tx, clock: app.clock)
    }

    private func restartResponse(_ record: CaseRecord, now: Date, tx: any Database, table: SLATable) async throws {
        let policy = SLAPolicy.policy(type: record.type, priority: record.priority, channel: record.channel, table: table)
        record.responseDueAt = policy.response.deadline(from: now, calendar: .china)
        try await CaseTimers.reschedule(on: tx, app: app, record: record, start: now, responseToo: true)
    }

    /// Moves the case to the next level that has a department for it. Manual escalation at the top answers 409;
    /// automatic escalation at the top only records the overdue state.
    func escalate(
        _ record: CaseRecord, directory: CasesDirectory, actor: Principal?, reason: String, now: Date, automatic: Bool
    ) async throws {
        let id = try record.requireID()
        let from = record.status
        guard let target = directory.escalationTarget(
            category: record.category, gridRegion: record.gridID.flatMap { directory.grids[$0]?.regionID },
            currentDepartment: record.departmentID, level: record.level)
        else {
            if automatic {
                record.updatedAt = now
                try await record.save(on: db)
                return
            }
            throw Problem(
                .conflict, type: "/problems/case-top-level", title: "No level above",
                detail: "The case is at the \(record.level.rawValue) level; there is no level above to escalate to.")
        }
        let previous = record.departmentID
        let previousLevel = record.level
        record.dispatcherID = previous
        record.departmentID = target.department
        record.level = target.level
        record.status = .dispatched
        record.escalations += 1
        record.coHandlerIDs = record.coHandlerIDs.filter { $0 != target.department }
        if automatic {
            let policy = SLAPolicy.policy(type: record.type, priority: record.priority, channel: record.channel, table: directory.slaTable)
            record.resolutionDueAt = policy.resolution.deadline(from: now, calendar: .china)
        }
        try await restartResponse(record, now: now, tx: db, table: directory.slaTable)
        record.updatedAt = now
        try await record.save(on: db)
        try await CaseEvents(app: app).append(
            on: db, caseID: id, action: "escalate", actor: actor, department: previous, from: from, to: .dispatched,
            comment: reason,
            details: [
                "fromLevel": previousLevel.rawValue, "toLevel": target.level.rawValue,
                "department": directory.departments[target.department]?.code ?? "", "automatic": String(automatic),
            ], at: now)
    }

    private func closeDuplicates(of record: CaseRecord, now: Date, tx: any Database) async throws {
        let id = try record.requireID()
        try await CaseRecord.query(on: tx).filter(\.$duplicateOf == id).filter(\.$closedAt == nil)
            .set(\.$closedAt, to: now).set(\.$updatedAt, to: now).update()
    }

    private func awardPoints(_ record: CaseRecord, now: Date, tx: any Database, directory: CasesDirectory) async throws {
        let points = directory.reporting(app.casesConfig).pointsPerValidReport
        guard record.valid == true, points > 0, record.reporterKind == AccountKind.person.rawValue,
            let reporter = record.reporterID
        else { return }
        let id = try record.requireID()
        guard try await PointsEntry.query(on: tx).filter(\.$caseID == id).filter(\.$reason == "valid-report").first() == nil
        else { return }
        let entry = PointsEntry()
        entry.userID = reporter
        entry.caseID = id
        entry.points = points
        entry.reason = "valid-report"
        entry.at = now
        try await entry.create(on: tx)
    }
}
