import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import TongbanCore
import Vapor

/// A validated, routed report waiting to be written: everything decided outside the write transaction
/// (grid, department, level, SLA deadlines). Numbering and duplicate detection happen at commit time.
struct PreparedCase: Sendable {
    var type: CaseType
    var category: String
    var description: String
    var priority: CasePriority
    var channel: CaseChannel
    var subtype: String?
    var title: String?
    var lat: Double?
    var lon: Double?
    var address: String?
    var gridID: UUID?
    var outsideGrid: Bool
    var department: UUID
    var level: CaseLevel
    var coHandlers: [UUID]
    var originDepartment: UUID?
    var dispatcher: UUID?
    var reporterID: UUID?
    var reporterKind: String?
    var reporterName: String?
    var contact: String?
    var responseDueAt: Date
    var resolutionDueAt: Date
    var mediaUrl: String?
    var reporterGrid: String?
    /// Duplicate search radius (0: no search).
    var duplicateMeters: Double
    var duplicateSince: Date
    var now: Date
    var directory: CasesDirectory

    /// A fresh record (a retry after a failed batch starts again from here).
    func makeRecord() -> CaseRecord {
        let record = CaseRecord()
        record.id = UUID()
        record.type = type
        record.category = category
        record.description = description
        record.status = .dispatched
        record.priority = priority
        record.channel = channel
        record.subtype = subtype
        record.title = title
        record.lat = lat
        record.lon = lon
        record.address = address
        record.gridID = gridID
        record.outsideGrid = outsideGrid
        record.level = level
        record.departmentID = department
        record.coHandlerIDs = coHandlers
        record.originDepartmentID = originDepartment
        record.dispatcherID = dispatcher
        record.reporterID = reporterID
        record.reporterKind = reporterKind
        record.contact = contact
        record.escalations = 0
        record.urges = 0
        record.reopened = 0
        record.overdue = false
        record.responseDueAt = responseDueAt
        record.resolutionDueAt = resolutionDueAt
        record.createdAt = now
        record.updatedAt = now
        return record
    }
}

/// Writes many new cases in one transaction: one duplicate search for all of them, one counter upsert for
/// their numbers, multi-row INSERTs for cases, timeline events, links, running statistics and SLA timers.
/// Later cases of a batch see earlier ones exactly as if they had been committed before (duplicates are
/// linked within a batch too).
enum CaseBatch {
    /// An open case a report may duplicate.
    struct Candidate {
        var id: UUID
        var number: String
        var category: String
        var department: UUID
        var level: CaseLevel
        var coHandlers: String
        var lat: Double
        var lon: Double
        var createdAt: Date
        /// Timeline events it has (the next linked event's sequence number is this + 1).
        var events: Int?
    }

    static func commit(_ items: [PreparedCase], on tx: any Database, app: Application) async throws -> [CaseRecord] {
        guard !items.isEmpty else { return [] }
        guard let sql = tx as? any SQLDatabase else { throw Problem(.internalServerError) }
        let found = try await candidates(for: items, on: sql)
        var records: [CaseRecord] = []
        var primaries: [Int: Candidate] = [:]  // item index → its primary
        var batchOpen: [String: [Candidate]] = [:]  // category → earlier new cases of this batch
        for (index, item) in items.enumerated() {
            let record = item.makeRecord()
            if item.duplicateMeters > 0, let lat = item.lat, let lon = item.lon {
                let pool = (found[index] ?? []) + (batchOpen[item.category] ?? []).filter { $0.createdAt >= item.duplicateSince }
                if let primary = pool
                    .map({ ($0, CaseService.distance(lat, lon, $0.lat, $0.lon)) })
                    .filter({ $0.1 <= item.duplicateMeters })
                    .min(by: { $0.1 < $1.1 })?.0
                {
                    primaries[index] = primary
                    record.status = .duplicate
                    record.duplicateOf = primary.id
                    record.departmentID = primary.department
                    record.level = primary.level
                    record.coHandlers = primary.coHandlers
                }
            }
            if primaries[index] == nil, let lat = item.lat, let lon = item.lon, let id = record.id {
                batchOpen[item.category, default: []].append(
                    Candidate(
                        id: id, number: "", category: item.category, department: record.departmentID, level: record.level,
                        coHandlers: record.coHandlers, lat: lat, lon: lon, createdAt: item.now, events: 1))
            }
            records.append(record)
        }
        // Numbers: one upsert for every (type, day) key of the batch.
        var wanted: [String: Int] = [:]
        let keys = zip(items, records).map { item, record in record.type.numberPrefix + Self.dayKey(item.now) }
        for key in keys { wanted[key, default: 0] += 1 }
        var next = try await reserveNumbers(wanted, on: sql)
        for (index, record) in records.enumerated() {
            let key = keys[index]
            let value = next[key, default: 1]
            next[key] = value + 1
            let digits = String(value)
            record.number = record.type.numberPrefix + "-" + Self.dayKey(items[index].now) + "-"
                + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
        }
        // Numbers of batch primaries (for the duplicates' timeline details).
        let numbers = Dictionary(records.compactMap { record in record.id.map { ($0, record.number) } }, uniquingKeysWith: { a, _ in a })
        try await insertCases(records, on: sql)
        // Links given as Open311 `media_url`.
        var links: [CaseAttachment] = []
        var mediaJobs: [JobQueue.NewJob] = []
        let fetchMedia = app.casesConfig.mediaFetch
        for (item, record) in zip(items, records) {
            guard let media = item.mediaUrl, let id = record.id else { continue }
            let link = CaseAttachment()
            link.id = UUID()
            // The image itself is fetched in the background (guarded; see CaseMediaFetch).
            if fetchMedia, let linkID = link.id { mediaJobs.append(try CaseMediaFetch.job(caseID: id, linkID: linkID, url: media, at: item.now)) }
            link.caseID = id
            link.uploaderID = item.reporterID
            link.purpose = "report"
            link.filename = String((URL(string: media)?.lastPathComponent ?? "media").prefix(200))
            link.contentType = "text/uri-list"
            link.size = 0
            link.url = media
            link.createdAt = item.now
            links.append(link)
        }
        if !links.isEmpty { try await links.create(on: tx) }
        // Timeline: the first event of every new case; "duplicate_linked" on each primary.
        var seqs = try await eventCounts(of: Set(primaries.values.filter { $0.events == nil }.map(\.id)), on: sql)
        for candidate in primaries.values where candidate.events != nil { seqs[candidate.id] = 1 }
        var events: [CaseEvent] = []
        var jobs: [JobQueue.NewJob] = mediaJobs
        var delta: [CaseStatCounters.Key: Int] = [:]
        for (index, item) in items.enumerated() {
            let record = records[index]
            guard let id = record.id else { continue }
            var details: [String: String] = ["department": item.directory.departments[record.departmentID]?.code ?? ""]
            if let gridID = item.gridID, let grid = item.directory.grids[gridID] { details["grid"] = grid.code }
            if item.outsideGrid { details["outsideGrid"] = "true" }
            if let reporterGrid = item.reporterGrid { details["reporterGrid"] = reporterGrid }
            if let primary = primaries[index] {
                details["duplicateOf"] = numbers[primary.id] ?? primary.number
                events.append(try event(id, 1, "duplicate", item, department: nil, to: .duplicate, details: details))
                let seq = (seqs[primary.id] ?? 0) + 1
                seqs[primary.id] = seq
                events.append(try event(primary.id, seq, "duplicate_linked", item, department: nil, to: nil, details: ["duplicate": record.number]))
            } else {
                events.append(try event(id, 1, "create", item, department: item.originDepartment, to: .dispatched, details: details))
                jobs.append(contentsOf: try CaseTimers.jobs(for: record, start: item.now))
            }
            for (key, n) in CaseStatCounters.Snapshot(record).contributions() { delta[key, default: 0] += n }
        }
        try await insertEvents(events, on: sql)
        jobs += try await CaseConnectors.created(records, on: tx, app: app)
        let queue = JobQueue(db: tx, clock: app.clock)
        for start in stride(from: 0, to: jobs.count, by: 1000) {
            try await queue.enqueueNew(Array(jobs[start..<min(jobs.count, start + 1000)]))
        }
        try await CaseStatCounters.add(delta.filter { $0.value != 0 }, on: tx)
        return records
    }

    static let caseColumns = [
        "id", "number", "type", "category", "description", "status", "priority", "channel", "subtype", "title", "lat", "lon",
        "address", "grid_id", "outside_grid", "level", "department_id", "co_handlers", "dispatcher_id", "origin_department_id",
        "reporter_id", "reporter_kind", "contact", "duplicate_of", "escalations", "urges", "reopened", "overdue",
        "response_due_at", "resolution_due_at", "accepted_at", "resolved_at", "closed_at", "evaluation", "valid",
        "created_at", "updated_at",
    ]

    /// New cases in multi-row INSERTs (Fluent's `create` reflects over 37 properties per case); the records are
    /// marked as stored, as `create` would.
    static func insertCases(_ records: [CaseRecord], on sql: any SQLDatabase) async throws {
        try await BulkInsert.run(into: CaseRecord.schema, columns: caseColumns, rows: records, on: sql) { r in
            [
                r.id, r.number, r.type.rawValue, r.category, r.description, r.status.rawValue, r.priority.rawValue,
                r.channel.rawValue, r.subtype, r.title, r.lat, r.lon, r.address, r.gridID, r.outsideGrid, r.level.rawValue,
                r.departmentID, r.coHandlers, r.dispatcherID, r.originDepartmentID, r.reporterID, r.reporterKind, r.contact,
                r.duplicateOf, r.escalations, r.urges, r.reopened, r.overdue, r.responseDueAt, r.resolutionDueAt,
                r.acceptedAt, r.resolvedAt, r.closedAt, r.evaluation, r.valid, r.createdAt, r.updatedAt,
            ]
        }
        for record in records { record._$idExists = true }
    }

    static let eventColumns = [
        "id", "case_id", "seq", "action", "actor_id", "actor_name", "department_id", "from_status", "to_status", "comment",
        "details", "at",
    ]

    static func insertEvents(_ events: [CaseEvent], on sql: any SQLDatabase) async throws {
        try await BulkInsert.run(into: CaseEvent.schema, columns: eventColumns, rows: events, on: sql) { e in
            [e.id, e.caseID, e.seq, e.action, e.actorID, e.actorName, e.departmentID, e.fromStatus, e.toStatus, e.comment, e.details, e.at]
        }
        for event in events { event._$idExists = true }
    }

    private static func event(
        _ caseID: UUID, _ seq: Int, _ action: String, _ item: PreparedCase, department: UUID?, to: CaseStatus?,
        details: [String: String]
    ) throws -> CaseEvent {
        let event = CaseEvent()
        event.id = UUID()
        event.caseID = caseID
        event.seq = seq
        event.action = action
        event.actorID = item.reporterID
        event.actorName = item.reporterName ?? "system"
        event.departmentID = department
        event.fromStatus = nil
        event.toStatus = to?.rawValue
        event.comment = nil
        if !details.isEmpty { event.details = String(decoding: try JSONEncoder().encode(details), as: UTF8.self) }
        event.at = item.now
        return event
    }

    /// `20261130`: the day in China.
    static func dayKey(_ date: Date) -> String {
        LocalDate(date).description.replacingOccurrences(of: "-", with: "")
    }

    /// Adds `wanted[key]` to each counter in one statement; returns the first number reserved per key.
    static func reserveNumbers(_ wanted: [String: Int], on sql: any SQLDatabase) async throws -> [String: Int] {
        guard !wanted.isEmpty else { return [:] }
        var query = SQLQueryString("INSERT INTO cases_counters (id, key, value) VALUES ")
        for (index, entry) in wanted.enumerated() {
            if index > 0 { query.appendLiteral(", ") }
            query.appendLiteral("(")
            query.appendInterpolation(bind: UUID())
            query.appendLiteral(", ")
            query.appendInterpolation(bind: entry.key)
            query.appendLiteral(", ")
            query.appendInterpolation(bind: entry.value)
            query.appendLiteral(")")
        }
        query.appendLiteral(" ON CONFLICT (key) DO UPDATE SET value = cases_counters.value + excluded.value RETURNING key, value")
        var first: [String: Int] = [:]
        for row in try await sql.raw(query).all() {
            let key = try row.decode(column: "key", as: String.self)
            let last = try row.decode(column: "value", as: Int.self)
            first[key] = last - (wanted[key] ?? 1) + 1
        }
        return first
    }

    /// Open cases near each item that wants a duplicate search: one statement (a UNION ALL of indexed box
    /// lookups) per 100 items.
    static func candidates(for items: [PreparedCase], on sql: any SQLDatabase) async throws -> [Int: [Candidate]] {
        let searching = items.indices.filter { items[$0].duplicateMeters > 0 && items[$0].lat != nil && items[$0].lon != nil }
        var result: [Int: [Candidate]] = [:]
        for start in stride(from: 0, to: searching.count, by: 100) {
            var query = SQLQueryString("")
            for (position, index) in searching[start..<min(searching.count, start + 100)].enumerated() {
                let item = items[index]
                guard let lat = item.lat, let lon = item.lon else { continue }
                let dLat = item.duplicateMeters / 111_320
                let dLon = item.duplicateMeters / (111_320 * max(0.01, cos(lat * .pi / 180)))
                if position > 0 { query.appendLiteral(" UNION ALL ") }
                query.appendLiteral("SELECT ")
                query.appendInterpolation(bind: index)
                query.appendLiteral(
                    " AS k, id, number, category, department_id, level, co_handlers, lat, lon, created_at FROM cases_cases WHERE category = ")
                query.appendInterpolation(bind: item.category)
                query.appendLiteral(" AND lat >= ")
                query.appendInterpolation(bind: lat - dLat)
                query.appendLiteral(" AND lat <= ")
                query.appendInterpolation(bind: lat + dLat)
                query.appendLiteral(" AND lon >= ")
                query.appendInterpolation(bind: lon - dLon)
                query.appendLiteral(" AND lon <= ")
                query.appendInterpolation(bind: lon + dLon)
                query.appendLiteral(" AND created_at >= ")
                query.appendInterpolation(bind: item.duplicateSince)
                query.appendLiteral(" AND status IN ('dispatched', 'processing', 'resolved')")
            }
            for row in try await sql.raw(query).all() {
                guard let level = CaseLevel(rawValue: try row.decode(column: "level", as: String.self)) else { continue }
                let candidate = Candidate(
                    id: try row.decode(column: "id", as: UUID.self), number: try row.decode(column: "number", as: String.self),
                    category: try row.decode(column: "category", as: String.self),
                    department: try row.decode(column: "department_id", as: UUID.self), level: level,
                    coHandlers: try row.decode(column: "co_handlers", as: String.self),
                    lat: try row.decode(column: "lat", as: Double.self), lon: try row.decode(column: "lon", as: Double.self),
                    createdAt: try row.decode(column: "created_at", as: Date.self), events: nil)
                result[try row.decode(column: "k", as: Int.self), default: []].append(candidate)
            }
        }
        return result
    }

    /// How many timeline events each case has.
    static func eventCounts(of ids: Set<UUID>, on sql: any SQLDatabase) async throws -> [UUID: Int] {
        guard !ids.isEmpty else { return [:] }
        var query = SQLQueryString("SELECT case_id, MAX(seq) AS n FROM cases_events WHERE case_id IN (")
        for (index, id) in ids.enumerated() {
            if index > 0 { query.appendLiteral(", ") }
            query.appendInterpolation(bind: id)
        }
        query.appendLiteral(") GROUP BY case_id")
        var counts: [UUID: Int] = [:]
        for row in try await sql.raw(query).all() {
            counts[try row.decode(column: "case_id", as: UUID.self)] = try row.decode(column: "n", as: Int.self)
        }
        return counts
    }
}

/// Group commit for new cases (``GroupCommit``): concurrent reports queue their validated, routed case; one writer
/// takes everything queued (up to `maxBatch`) and writes it in ONE write transaction (``CaseBatch``), and only after
/// the commit answers each caller. While a batch commits the next one queues up, so on SQLite's single writer the
/// cost of a commit is shared by every report in it.
///
/// If a batch fails it is rolled back and its cases are written one by one, so one bad report cannot lose the
/// others; each caller gets its own case or its own error.
final class CaseWriter: Sendable {
    private let queue: GroupCommit<PreparedCase, CaseRecord>
    /// Tests: a write transaction holding a case this accepts fails (as a database error would).
    private let failing: NIOLockedValueBox<(@Sendable (PreparedCase) -> Bool)?>

    struct InjectedFailure: Error {}

    init(app: Application, maxBatch: Int = 256) {
        let failing = NIOLockedValueBox<(@Sendable (PreparedCase) -> Bool)?>(nil)
        self.failing = failing
        queue = GroupCommit(maxBatch: maxBatch, retryEach: true) { [unowned app] items in
            do {
                if let predicate = failing.withLockedValue({ $0 }), items.contains(where: predicate) { throw InjectedFailure() }
                return try await app.db.writeTransaction { tx in try await CaseBatch.commit(items, on: tx, app: app) }
            } catch {
                if items.count > 1 {
                    app.logger.warning("cases: a batch of \(items.count) failed (\(String(describing: error).prefix(200))); writing one by one")
                }
                throw error
            }
        }
    }

    func submit(_ item: PreparedCase) async throws -> CaseRecord {
        try await queue.submit(item)
    }

    func failWrites(when predicate: (@Sendable (PreparedCase) -> Bool)?) {
        failing.withLockedValue { $0 = predicate }
    }

    /// Write transactions so far (tests and the benchmark).
    var batches: Int { get async { await queue.batches } }
    /// Cases written so far.
    var written: Int { get async { await queue.committed } }
}

extension Application {
    private struct CaseWriterKey: StorageKey { typealias Value = CaseWriter }

    /// The group-commit writer of new cases.
    var caseWriter: CaseWriter {
        get {
            if let writer = storage[CaseWriterKey.self] { return writer }
            let writer = CaseWriter(app: self)
            storage[CaseWriterKey.self] = writer
            return writer
        }
        set { storage[CaseWriterKey.self] = newValue }
    }
}
