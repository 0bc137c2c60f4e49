import Fluent
import Foundation
import TongbanCore
import Vapor

/// Appends timeline events (who, when, action, comment) to a case.
struct CaseEvents: Sendable {
    let app: Application

    func append(
        on db: any Database, caseID: UUID, action: String, actor: Principal?, department: UUID?, from: CaseStatus?,
        to: CaseStatus?, comment: String?, details: [String: String], at: Date, first: Bool = false
    ) async throws {
        let seq = first ? 1 : try await CaseEvent.query(on: db).filter(\.$caseID == caseID).count() + 1
        let event = CaseEvent()
        event.caseID = caseID
        event.seq = seq
        event.action = action
        event.actorID = actor?.userID
        event.actorName = actor?.username ?? "system"
        event.departmentID = department
        event.fromStatus = from?.rawValue
        event.toStatus = to?.rawValue
        event.comment = comment
        if !details.isEmpty {
            event.details = String(decoding: try JSONEncoder().encode(details), as: UTF8.self)
        }
        event.at = at
        try await event.create(on: db)
        try await CaseConnectors.caseEvent(on: db, app: app, caseID: caseID, action: action, from: from, to: to, at: at)
    }
}

/// SLA timers as persistent jobs: the response deadline, the yellow warning (80 % of the resolution time)
/// and the resolution deadline, which escalates an overdue case one level up automatically.
enum CaseTimers {
    static let kind = "cases.sla"

    struct Payload: Codable, Sendable {
        var caseId: UUID
        var timer: String
        var due: Double
    }

    static func jobs(for record: CaseRecord, start: Date, responseToo: Bool = true) throws -> [JobQueue.NewJob] {
        let id = try record.requireID()
        var timers: [(String, Date)] = [
            ("yellow", SLAPolicy.yellow(start: start, due: record.resolutionDueAt)), ("resolution", record.resolutionDueAt),
        ]
        if responseToo { timers.insert(("response", record.responseDueAt), at: 0) }
        return try timers.map { timer, due in
            let stamp = Int(record.resolutionDueAt.timeIntervalSince1970)
            return try JobQueue.NewJob(
                kind: kind, payload: Payload(caseId: id, timer: timer, due: (timer == "response" ? record.responseDueAt : record.resolutionDueAt).timeIntervalSince1970),
                runAt: due, dedupeKey: "cases:\(id.uuidString):\(timer):\(timer == "response" ? Int(record.responseDueAt.timeIntervalSince1970) : stamp)")
        }
    }

    /// Timers of a new case (one INSERT).
    static func schedule(on db: any Database, app: Application, record: CaseRecord, start: Date) async throws {
        try await JobQueue(db: db, clock: app.clock).enqueueNew(try jobs(for: record, start: start))
    }

    /// Timers after a deadline changed (dispatch, escalation, reopening): only the timers of a changed deadline
    /// are added (a pending timer with the same key already exists otherwise). Stale timers find a different due
    /// date when they fire and do nothing.
    static func reschedule(on db: any Database, app: Application, record: CaseRecord, start: Date, responseToo: Bool) async throws {
        let queue = JobQueue(db: db, clock: app.clock)
        for job in try jobs(for: record, start: start, responseToo: responseToo) {
            if let key = job.dedupeKey, try await Job.query(on: db).filter(\.$dedupeKey == key).first() != nil { continue }
            try await queue.enqueue(
                kind: job.kind, payload: try JSONDecoder().decode(Payload.self, from: Data(job.payload.utf8)),
                runAt: job.runAt, dedupeKey: job.dedupeKey)
        }
    }

    /// Runs one timer job.
    static func run(_ job: Job, app: Application) async throws {
        let payload = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: Payload.self)
        let now = app.clock.now()
        try await app.db.writeTransaction { tx in
            guard let record = try await CaseRecord.find(payload.caseId, on: tx), record.status.isOpen else { return }
            let before = CaseStatCounters.Snapshot(record)
            let events = CaseEvents(app: app)
            let id = try record.requireID()
            switch payload.timer {
            case "response":
                guard record.status == .dispatched, abs(record.responseDueAt.timeIntervalSince1970 - payload.due) < 1 else { return }
                record.overdue = true
                record.updatedAt = now
                try await record.save(on: tx)
                try await events.append(
                    on: tx, caseID: id, action: "sla_overdue", actor: nil, department: record.departmentID, from: nil, to: nil,
                    comment: "response time exceeded", details: ["timer": "response", "warning": "red"], at: now)
            case "yellow":
                guard record.status != .resolved, abs(record.resolutionDueAt.timeIntervalSince1970 - payload.due) < 1 else { return }
                try await events.append(
                    on: tx, caseID: id, action: "sla_warning", actor: nil, department: record.departmentID, from: nil, to: nil,
                    comment: "resolution deadline approaching", details: ["timer": "resolution", "warning": "yellow"], at: now)
            case "resolution":
                guard record.status != .resolved, abs(record.resolutionDueAt.timeIntervalSince1970 - payload.due) < 1 else { return }
                record.overdue = true
                try await events.append(
                    on: tx, caseID: id, action: "sla_overdue", actor: nil, department: record.departmentID, from: nil, to: nil,
                    comment: "resolution time exceeded", details: ["timer": "resolution", "warning": "red"], at: now)
                let directory = try await app.casesDirectory.get(db: tx, now: now)
                try await CaseActions(app: app, db: tx).escalate(
                    record, directory: directory, actor: nil, reason: "automatic escalation: resolution time exceeded", now: now,
                    automatic: true)
            default:
                return
            }
            try await CaseStatCounters.apply(before: before, after: CaseStatCounters.Snapshot(record), on: tx)
        }
    }
}
