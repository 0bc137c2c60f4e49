import Fluent
import Foundation
import Identity
import SQLKit
import TongbanCore
import Vapor

/// Creates cases: validation, grid assignment, routing, duplicate detection, SLA timers, the first
/// timeline event — in one write transaction.
struct CaseService: Sendable {
    let app: Application
    let db: any Database

    init(app: Application, db: (any Database)? = nil) {
        self.app = app
        self.db = db ?? app.db
    }

    var now: Date { app.clock.now() }
    var calendar: WorkingCalendar { .china }

    struct Location: Codable, Sendable {
        var lat: Double?
        var lon: Double?
    }

    /// The body of `POST /api/v1/cases`.
    struct CreateRequest: Content {
        var type: String?
        var category: String?
        var description: String?
        var location: Location?
        var address: String?
        var priority: String?
        var channel: String?
        /// Appeal class (consultation, help, complaint, report, suggestion) or enterprise demand type, or the
        /// supervision task source.
        var subtype: String?
        var title: String?
        /// Supervision tasks: the receiving department (code or id) instead of routing.
        var department: String?
        var coHandlers: [String]?
        var timeLimitDays: Int?
        /// Open311 contact (stored masked).
        var contact: String?
        /// A link to a photo or video of the problem (Open311 `media_url`), kept as a link attachment.
        var mediaUrl: String?
    }

    static let appealSubtypes: Set<String> = [
        "consultation", "help", "complaint", "report", "suggestion", "praise",
        "financing", "hiring", "tax", "business_registration", "other",
    ]

    /// Validates and files a case for `principal` (nil only for Open311 with an API key).
    func create(_ input: CreateRequest, principal: Principal?, forcedChannel: CaseChannel? = nil) async throws -> CaseRecord {
        let directory = try await app.casesDirectory.get(db: db, now: now)
        var errors = FieldErrors()
        let type = input.type.flatMap(CaseType.init(rawValue:))
        if input.type == nil {
            errors.add("type", "is required (grid_event, appeal or supervision)")
        } else if type == nil {
            errors.add("type", "must be grid_event, appeal or supervision")
        }
        let category = input.category?.trimmingCharacters(in: .whitespaces) ?? ""
        if category.isEmpty {
            errors.add("category", "is required")
        } else if directory.categories[category] == nil {
            errors.add("category", "is not a known category (GET /api/v1/cases/categories)")
        }
        let description = input.description?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        errors.check(!description.isEmpty, "description", "is required")
        errors.check(description.count <= 4000, "description", "must be at most 4000 characters")
        var lat: Double?
        var lon: Double?
        if let location = input.location {
            if let value = location.lat {
                if value.isFinite && (-90...90).contains(value) { lat = value } else { errors.add("location.lat", "must be a latitude from -90 to 90") }
            } else {
                errors.add("location.lat", "is required with a location")
            }
            if let value = location.lon {
                if value.isFinite && (-180...180).contains(value) { lon = value } else { errors.add("location.lon", "must be a longitude from -180 to 180") }
            } else {
                errors.add("location.lon", "is required with a location")
            }
        } else if type == .gridEvent {
            errors.add("location", "is required for a grid event ({\"lat\",\"lon\"})")
        }
        let priority = input.priority.map { CasePriority(rawValue: $0) } ?? .normal
        if priority == nil { errors.add("priority", "must be normal or urgent") }
        var channel = forcedChannel ?? input.channel.flatMap(CaseChannel.init(rawValue:)) ?? (principal?.isStaff == true ? .staff : .app)
        if forcedChannel == nil, let raw = input.channel {
            if CaseChannel(rawValue: raw) == nil || raw == "open311" {
                errors.add("channel", "must be hotline, web, app, patrol or staff")
            } else if principal?.isStaff != true, !["web", "app"].contains(raw) {
                errors.add("channel", "residents file through web or app")
            }
        }
        if let subtype = input.subtype {
            switch type {
            case .appeal: errors.check(Self.appealSubtypes.contains(subtype), "subtype", "must be one of \(Self.appealSubtypes.sorted().joined(separator: ", "))")
            case .supervision:
                let sources = directory.taskSources.map(\.code)
                errors.check(sources.contains(subtype), "subtype", "must be a task source: \(sources.joined(separator: ", "))")
            default: break
            }
        }
        if let days = input.timeLimitDays { errors.check((1...365).contains(days), "timeLimitDays", "must be from 1 to 365") }
        if let address = input.address { errors.check(address.count <= 300, "address", "must be at most 300 characters") }
        if let media = input.mediaUrl { errors.check(CaseAttachmentService.validMediaURL(media), "mediaUrl", "must be an http or https URL of at most 1000 characters") }
        // Who may file what.
        var originDepartment: UUID?
        if let principal {
            if type == .supervision {
                guard principal.isStaff else { throw Problem.forbidden }
                originDepartment = principal.grants.first { $0.departmentID != nil }?.departmentID
            }
            if principal.isStaff && channel == .app && input.channel == nil { channel = .staff }
        }
        var explicitDepartment: UUID?
        if let code = input.department {
            guard type == .supervision else { throw Problem.validation([FieldError(field: "department", message: "is only for supervision tasks; other cases are routed")]) }
            if let department = Self.department(code, in: directory) { explicitDepartment = department } else { errors.add("department", "does not name a department") }
        }
        var coHandlers: [UUID] = []
        for (index, code) in (input.coHandlers ?? []).enumerated() {
            if let department = Self.department(code, in: directory) { coHandlers.append(department) } else { errors.add("coHandlers[\(index)]", "does not name a department") }
        }
        try errors.throwIfAny()
        guard let type, let priority else { throw Problem.validation([]) }

        // Grid and department.
        var gridID: UUID?
        var gridRegion: UUID?
        var outside = false
        var department: UUID?
        if let lat, let lon {
            if let grid = directory.index.locate(lat: lat, lon: lon), let info = directory.grids[grid] {
                gridID = grid
                gridRegion = info.regionID
                department = directory.route(category: category, from: info.regionID)
            } else {
                outside = true
                department = directory.defaultDepartment
            }
        }
        if let explicitDepartment { department = explicitDepartment }
        if department == nil {
            let start = directory.defaultDepartment.flatMap { directory.departments[$0]?.regionId }
            department = directory.route(category: category, from: start)
        }
        guard let department else {
            throw Problem.validation([FieldError(field: "category", message: "no department handles this category here; add a routing rule")])
        }
        coHandlers.removeAll { $0 == department }
        let policy = SLAPolicy.policy(
            type: type, priority: priority, channel: channel, timeLimitDays: input.timeLimitDays, table: directory.slaTable)
        let now = self.now
        let config = app.casesConfig
        let record = CaseRecord()
        record.id = UUID()
        record.type = type
        record.category = category
        record.description = description
        record.status = .dispatched
        record.priority = priority
        record.channel = channel
        record.subtype = input.subtype
        record.title = input.title?.trimmingCharacters(in: .whitespacesAndNewlines)
        record.lat = lat
        record.lon = lon
        record.address = input.address
        record.gridID = gridID
        record.outsideGrid = outside
        record.level = directory.level(of: department)
        record.departmentID = department
        record.coHandlerIDs = coHandlers
        record.originDepartmentID = originDepartment
        record.dispatcherID = explicitDepartment == nil ? nil : originDepartment
        record.reporterID = principal?.userID
        record.reporterKind = principal?.kind.rawValue
        record.contact = input.contact
        record.escalations = 0
        record.urges = 0
        record.reopened = 0
        record.overdue = false
        record.responseDueAt = policy.response.deadline(from: now, calendar: calendar)
        record.resolutionDueAt = policy.resolution.deadline(from: now, calendar: calendar)
        record.createdAt = now
        record.updatedAt = now
        _ = gridRegion
        let events = CaseEvents(app: app)
        return try await db.writeTransaction { [lat, lon, gridID, outside, originDepartment] tx in
            // Duplicate detection: same category, near, recent, still open.
            var primary: CaseRecord?
            if let lat, let lon, config.duplicateMeters > 0, type != .supervision {
                primary = try await Self.findDuplicate(
                    on: tx, category: category, lat: lat, lon: lon, meters: config.duplicateMeters,
                    since: now.addingTimeInterval(-config.duplicateHours * 3600))
            }
            record.number = try await Self.nextNumber(on: tx, type: type, now: now)
            if let primary {
                record.status = .duplicate
                record.duplicateOf = primary.id
                record.departmentID = primary.departmentID
                record.level = primary.level
                record.coHandlers = primary.coHandlers
            }
            try await record.create(on: tx)
            try await CaseStatCounters.apply(before: nil, after: CaseStatCounters.Snapshot(record), on: tx)
            let id = try record.requireID()
            if let media = input.mediaUrl {
                let link = CaseAttachment()
                link.caseID = id
                link.uploaderID = principal?.userID
                link.purpose = "report"
                link.filename = String((URL(string: media)?.lastPathComponent ?? "media").prefix(200))
                link.contentType = "text/uri-list"
                link.size = 0
                link.url = media
                link.createdAt = now
                try await link.create(on: tx)
            }
            var details: [String: String] = ["department": directory.departments[record.departmentID]?.code ?? ""]
            if let gridID, let grid = directory.grids[gridID] { details["grid"] = grid.code }
            if outside { details["outsideGrid"] = "true" }
            // A grid member's report records the grid they belong to (the reported point's, when theirs).
            if let principal, let own = directory.memberGrids[principal.userID], !own.isEmpty {
                let chosen = gridID.flatMap { own.contains($0) ? $0 : nil }
                    ?? own.compactMap { directory.grids[$0] }.min { $0.code < $1.code }?.id
                if let chosen, let grid = directory.grids[chosen] { details["reporterGrid"] = grid.code }
            }
            if let primary {
                details["duplicateOf"] = primary.number
                try await events.append(
                    on: tx, caseID: id, action: "duplicate", actor: principal, department: nil, from: nil, to: .duplicate,
                    comment: nil, details: details, at: now, first: true)
                try await events.append(
                    on: tx, caseID: try primary.requireID(), action: "duplicate_linked", actor: principal, department: nil,
                    from: nil, to: nil, comment: nil, details: ["duplicate": record.number], at: now)
            } else {
                try await events.append(
                    on: tx, caseID: id, action: "create", actor: principal, department: originDepartment, from: nil,
                    to: .dispatched, comment: nil, details: details, at: now, first: true)
                try await CaseTimers.schedule(on: tx, app: app, record: record, start: now)
            }
            return record
        }
    }

    static func department(_ reference: String, in directory: CasesDirectory) -> UUID? {
        if let id = UUID(uuidString: reference), directory.departments[id] != nil { return id }
        return directory.departmentsByCode[reference]?.id
    }

    /// The nearest open case of `category` within `meters` created since `since`.
    static func findDuplicate(on db: any Database, category: String, lat: Double, lon: Double, meters: Double, since: Date)
        async throws -> CaseRecord?
    {
        let dLat = meters / 111_320
        let dLon = meters / (111_320 * max(0.01, cos(lat * .pi / 180)))
        let candidates = try await CaseRecord.query(on: db)
            .filter(\.$category == category)
            .filter(\.$createdAt >= since)
            .filter(\.$status ~~ [.dispatched, .processing, .resolved])
            .filter(\.$lat >= lat - dLat).filter(\.$lat <= lat + dLat)
            .filter(\.$lon >= lon - dLon).filter(\.$lon <= lon + dLon)
            .limit(50)
            .all()
        return candidates
            .map { ($0, distance(lat, lon, $0.lat ?? 0, $0.lon ?? 0)) }
            .filter { $0.1 <= meters }
            .min { $0.1 < $1.1 }?.0
    }

    /// Great-circle distance in metres (haversine).
    static func distance(_ lat1: Double, _ lon1: Double, _ lat2: Double, _ lon2: Double) -> Double {
        let r = 6_371_000.0
        let p1 = lat1 * .pi / 180
        let p2 = lat2 * .pi / 180
        let dp = (lat2 - lat1) * .pi / 180
        let dl = (lon2 - lon1) * .pi / 180
        let a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2)
        return 2 * r * atan2(a.squareRoot(), (1 - a).squareRoot())
    }

    /// `WG-20261130-000001`: type prefix, the day in China, a per-day sequence.
    static func nextNumber(on db: any Database, type: CaseType, now: Date) async throws -> String {
        let day = LocalDate(now).description.replacingOccurrences(of: "-", with: "")
        let key = type.numberPrefix + day
        guard let sql = db as? any SQLDatabase else { return key + "-" + UUID().uuidString.prefix(6) }
        // One statement: the first report of the day creates the counter, later ones increment it.
        let row = try await sql.raw(
            """
            INSERT INTO cases_counters (id, key, value) VALUES (\(bind: UUID()), \(bind: key), 1)
            ON CONFLICT (key) DO UPDATE SET value = cases_counters.value + 1 RETURNING value
            """
        ).first()
        let value = try row?.decode(column: "value", as: Int.self) ?? 0
        let digits = String(value)
        return type.numberPrefix + "-" + day + "-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
