import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Data reflow work orders (数据回流, case 4): a city applies for provincial tables → each source department
/// confirms → the provincial data authority approves → a slicing job copies the city's rows into its enclave,
/// then refreshes incrementally on schedule. Every step is an event visible to all three parties.
public struct ReflowOrders: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    var now: Date { app.clock.now() }

    public static let jobKind = "datasharing.reflow"

    public struct NewOrder: Content {
        public var city: String?
        public var tables: [ReflowTable]?
        public var purpose: String?
        public var refreshHours: Int?
        public var department: String?
    }

    public func apply(_ body: NewOrder, principal: Principal) async throws -> ReflowOrder {
        let sharing = SharingService(app: app, db: db)
        let applicant = try await sharing.actingDepartment(principal, code: body.department, roles: SharingService.workingRoles)
        var errors = FieldErrors()
        let directory = DirectoryService(db: db)
        let region = try await directory.region(id: applicant.regionId)
        let city = body.city ?? region.map { DataTables.city(of: $0.code) } ?? ""
        errors.check(ReflowSlicer.validCity(city), "city", "must be a city region code such as 330100")
        if ReflowSlicer.validCity(city), let region {
            errors.check(region.code.hasPrefix(String(city.prefix(4))), "city", "must be the applicant department's own city")
        }
        let purpose = body.purpose?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        errors.check((4...500).contains(purpose.count), "purpose", "must be 4–500 characters")
        let hours = body.refreshHours ?? 24
        errors.check((0...24 * 31).contains(hours), "refreshHours", "must be 0 (manual) to 744 hours")
        let tables = body.tables ?? []
        errors.check((1...50).contains(tables.count), "tables", "name 1–50 tables")
        try errors.throwIfAny()
        var normalised: [ReflowTable] = []
        for (i, table) in tables.enumerated() {
            guard let resource = try await DataResource.query(on: db).filter(\.$code == table.resource).first() else {
                errors.add("tables[\(i)].resource", "unknown resource \(table.resource)")
                continue
            }
            if resource.sharingType == .notShareable { throw SharingService.notShareable }
            if !resource.reflow { errors.add("tables[\(i)].resource", "is not a provincial table open to reflow") }
            let known = Set(resource.fields.map(\.name))
            let fields = table.fields.isEmpty ? resource.fields.map(\.name) : table.fields
            let unknown = fields.filter { !known.contains($0) }
            if !unknown.isEmpty { errors.add("tables[\(i)].fields", "unknown fields: \(unknown.joined(separator: ", "))") }
            normalised.append(ReflowTable(resource: resource.code, fields: Array(Set(fields)).sorted()))
        }
        errors.check(Set(normalised.map(\.resource)).count == normalised.count, "tables", "name each table once")
        try errors.throwIfAny()
        let order = ReflowOrder()
        let stamp = now
        order.number = "HL-" + LocalDate(stamp).description.replacingOccurrences(of: "-", with: "") + "-" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8))
        order.city = city
        order.applicantDepartmentID = applicant.id
        order.requestedBy = principal.userID
        order.tablesJSON = try JSONText.encode(normalised)
        order.purpose = purpose
        order.refreshHours = hours
        order.status = .submitted
        order.createdAt = stamp
        order.updatedAt = stamp
        try await db.writeTransaction { tx in
            try await order.create(on: tx)
            try await Self.event(order, "applied", principal: principal, department: applicant.id, comment: purpose, at: stamp, on: tx)
        }
        return order
    }

    static func event(_ order: ReflowOrder, _ action: String, principal: Principal?, department: UUID?, comment: String?, at: Date, on db: any Database) async throws {
        let event = ReflowEvent()
        event.orderID = try order.requireID()
        event.action = action
        event.actor = principal?.userID
        event.departmentID = department
        event.comment = comment
        event.at = at
        try await event.create(on: db)
    }

    public func order(_ id: UUID) async throws -> ReflowOrder {
        guard let order = try await ReflowOrder.find(id, on: db) else {
            throw Problem.notFound("Reflow order", type: "/problems/reflow-order-not-found")
        }
        return order
    }

    func resources(_ order: ReflowOrder) async throws -> [DataResource] {
        let codes = order.tables.map(\.resource)
        return try await DataResource.query(on: db).filter(\.$code ~~ codes).all()
    }

    /// The departments that must confirm (providers of the tables) and the authority that approves.
    func parties(_ order: ReflowOrder) async throws -> (providers: Set<UUID>, authorities: Set<UUID>) {
        let resources = try await resources(order)
        return (Set(resources.map(\.providerDepartmentID)), Set(resources.compactMap(\.authorityDepartmentID)))
    }

    public func canSee(_ order: ReflowOrder, principal: Principal) async throws -> Bool {
        if principal.isSystemAdmin { return true }
        let (providers, authorities) = try await parties(order)
        let mine = principal.departments(with: [.clerk, .approver, .departmentAdmin])
        return mine.contains(order.applicantDepartmentID) || !mine.isDisjoint(with: providers) || !mine.isDisjoint(with: authorities)
    }

    func deciding(_ principal: Principal, in departments: Set<UUID>) -> UUID? {
        departments.first { d in SharingService.decidingRoles.contains { principal.has($0, in: d) } }
    }

    /// A source department confirms its tables; when every provider has confirmed the order is `confirmed`.
    public func confirm(_ id: UUID, comment: String?, principal: Principal) async throws -> ReflowOrder {
        let order = try await order(id)
        let (providers, _) = try await parties(order)
        guard let department = deciding(principal, in: providers) else { throw Problem.forbidden }
        guard order.status == .submitted else {
            throw Problem.conflict("Only a submitted order can be confirmed (it is \(order.status.rawValue)).", type: "/problems/reflow-order-state")
        }
        let stamp = now
        return try await db.writeTransaction { tx in
            let confirmed = Set(try await ReflowEvent.query(on: tx).filter(\.$orderID == id).filter(\.$action == "confirmed").all().compactMap(\.departmentID))
            guard !confirmed.contains(department) else { throw Problem.conflict("Your department has already confirmed this order.", type: "/problems/reflow-order-state") }
            try await Self.event(order, "confirmed", principal: principal, department: department, comment: comment, at: stamp, on: tx)
            if providers.isSubset(of: confirmed.union([department])) {
                order.status = .confirmed
            }
            order.updatedAt = stamp
            try await order.save(on: tx)
            return order
        }
    }

    /// The provincial data authority approves a confirmed order; the first slicing runs at once.
    public func approve(_ id: UUID, comment: String?, principal: Principal) async throws -> (ReflowOrder, [ReflowRun]) {
        let order = try await order(id)
        let (_, authorities) = try await parties(order)
        guard let department = deciding(principal, in: authorities) else { throw Problem.forbidden }
        guard order.status == .confirmed else {
            throw Problem.conflict(
                "Only an order every source department has confirmed can be approved (it is \(order.status.rawValue)).",
                type: "/problems/reflow-order-state")
        }
        let stamp = now
        try await db.writeTransaction { tx in
            order.status = .approved
            order.updatedAt = stamp
            try await order.save(on: tx)
            try await Self.event(order, "approved", principal: principal, department: department, comment: comment, at: stamp, on: tx)
        }
        let runs = try await run(id, principal: principal)
        return (order, runs)
    }

    /// Any of the three parties may refuse before approval, with a reason.
    public func refuse(_ id: UUID, reason: String?, principal: Principal) async throws -> ReflowOrder {
        let order = try await order(id)
        let (providers, authorities) = try await parties(order)
        guard let department = deciding(principal, in: providers.union(authorities)) else { throw Problem.forbidden }
        let text = reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard text.count >= 2 else { throw Problem.validation([FieldError(field: "reason", message: "a refusal needs a reason")]) }
        guard order.status == .submitted || order.status == .confirmed else {
            throw Problem.conflict("Only an order not yet approved can be refused.", type: "/problems/reflow-order-state")
        }
        let stamp = now
        try await db.writeTransaction { tx in
            order.status = .refused
            order.reason = text
            order.updatedAt = stamp
            try await order.save(on: tx)
            try await Self.event(order, "refused", principal: principal, department: department, comment: text, at: stamp, on: tx)
        }
        return order
    }

    /// Runs the slicing for every table of an approved order (incremental from each table's watermark), records
    /// the runs, audits them, and schedules the next refresh.
    public func run(_ id: UUID, principal: Principal?) async throws -> [ReflowRun] {
        let order = try await order(id)
        if let principal {
            let (_, authorities) = try await parties(order)
            let allowed = principal.isSystemAdmin || SharingService.workingRoles.contains { principal.has($0, in: order.applicantDepartmentID) }
                || deciding(principal, in: authorities) != nil
            guard allowed else { throw Problem.forbidden }
        }
        guard order.status == .approved else {
            throw Problem.conflict("Only an approved order runs (it is \(order.status.rawValue)).", type: "/problems/reflow-order-state")
        }
        let slicer = ReflowSlicer(db: db, dataDirectory: app.tongbanConfig.dataDirectory)
        let resources = Dictionary(try await resources(order).map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        var runs: [ReflowRun] = []
        var deletions: [String: Int] = [:]
        for table in order.tables {
            guard let resource = resources[table.resource] else { continue }
            let last = try await ReflowRun.query(on: db).filter(\.$orderID == id).filter(\.$resource == table.resource)
                .sort(\.$watermark, .descending).first()
            let started = now
            let outcome = try await slicer.slice(resource, fields: table.fields, city: order.city, watermark: last?.watermark ?? Int64.min)
            let run = ReflowRun()
            run.orderID = id
            run.resource = table.resource
            run.startedAt = started
            run.finishedAt = app.clock.now()
            run.rowsCopied = outcome.copied
            deletions[table.resource] = outcome.deleted
            run.rowsTotal = outcome.total
            run.watermark = outcome.watermark
            run.checksum = outcome.checksum
            run.verified = outcome.verified
            try await run.create(on: db)
            runs.append(run)
            try await app.audit?.record(
                kind: AuditKind.reflowRun, actor: principal?.userID, subject: "reflow:\(order.number)",
                details: ["city": order.city, "table": table.resource, "copied": String(outcome.copied), "deleted": String(outcome.deleted),
                          "total": String(outcome.total), "checksum": outcome.checksum, "verified": String(outcome.verified)])
        }
        let stamp = now
        try await Self.event(
            order, "run", principal: principal, department: nil,
            comment: runs.map { "\($0.resource): +\($0.rowsCopied) −\(deletions[$0.resource] ?? 0) (\($0.rowsTotal) rows, \($0.verified ? "verified" : "CHECKSUM MISMATCH"))" }.joined(separator: "; "),
            at: stamp, on: db)
        if order.refreshHours > 0 {
            let next = stamp.addingTimeInterval(Double(order.refreshHours) * 3600)
            try await JobQueue(db: db, clock: app.clock).enqueue(
                kind: Self.jobKind, payload: ["order": id.uuidString], runAt: next,
                dedupeKey: "reflow:\(id.uuidString):\(Int(next.timeIntervalSince1970) / 3600)")
        }
        return runs
    }

    public func events(_ id: UUID) async throws -> [ReflowEvent] {
        try await ReflowEvent.query(on: db).filter(\.$orderID == id).sort(\.$at).all()
    }

    public func runs(_ id: UUID) async throws -> [ReflowRun] {
        try await ReflowRun.query(on: db).filter(\.$orderID == id).sort(\.$startedAt, .descending).all()
    }

    /// Orders the caller is a party to (one query for the orders, one for the reflow resources they name).
    public func visible(_ principal: Principal) async throws -> [ReflowOrder] {
        let all = try await ReflowOrder.query(on: db).sort(\.$createdAt, .descending).limit(200).all()
        if principal.isSystemAdmin { return all }
        let resources = Dictionary(
            try await DataResource.query(on: db).filter(\.$reflow == true).all().map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        let mine = principal.departments(with: [.clerk, .approver, .departmentAdmin])
        return all.filter { order in
            if mine.contains(order.applicantDepartmentID) { return true }
            let named = order.tables.compactMap { resources[$0.resource] }
            let parties = Set(named.map(\.providerDepartmentID)).union(named.compactMap(\.authorityDepartmentID))
            return !mine.isDisjoint(with: parties)
        }
    }
}
