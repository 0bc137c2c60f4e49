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
    ///
    /// Input is validated here, in the caller's task (bad input never reaches the database). With `grouped`
    /// (the default) the case is then written by the group-commit writer together with other concurrent
    /// reports; `grouped: false` writes it on `db` at once (callers inside a transaction, such as the patrol form).
    func create(_ input: CreateRequest, principal: Principal?, forcedChannel: CaseChannel? = nil, grouped: Bool = true)
        async throws -> CaseRecord
    {
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
        var reporterGrid: String?
        // A grid member's report records the grid they belong to (the reported point's, when theirs).
        if let principal, let own = directory.memberGrids[principal.userID], !own.isEmpty {
            let chosen = gridID.flatMap { own.contains($0) ? $0 : nil }
                ?? own.compactMap { directory.grids[$0] }.min { $0.code < $1.code }?.id
            if let chosen, let grid = directory.grids[chosen] { reporterGrid = grid.code }
        }
        _ = gridRegion
        let prepared = PreparedCase(
            type: type, category: category, description: description, priority: priority, channel: channel,
            subtype: input.subtype, title: input.title?.trimmingCharacters(in: .whitespacesAndNewlines), lat: lat, lon: lon,
            address: input.address, gridID: gridID, outsideGrid: outside, department: department,
            level: directory.level(of: department), coHandlers: coHandlers, originDepartment: originDepartment,
            dispatcher: explicitDepartment == nil ? nil : originDepartment, reporterID: principal?.userID,
            reporterKind: principal?.kind.rawValue, reporterName: principal?.username, contact: input.contact,
            responseDueAt: policy.response.deadline(from: now, calendar: calendar),
            resolutionDueAt: policy.resolution.deadline(from: now, calendar: calendar), mediaUrl: input.mediaUrl,
            reporterGrid: reporterGrid,
            duplicateMeters: lat != nil && lon != nil && type != .supervision ? directory.reporting(config).meters : 0,
            duplicateSince: now.addingTimeInterval(-directory.reporting(config).hours * 3600), now: now, directory: directory)
        if grouped {
            // Concurrent reports share one write transaction (``CaseWriter``).
            return try await app.caseWriter.submit(prepared)
        }
        return try await db.writeTransaction { [app] tx in
            try await CaseBatch.commit([prepared], on: tx, app: app)[0]
        }
    }

    static func department(_ reference: String, in directory: CasesDirectory) -> UUID? {
        if let id = UUID(uuidString: reference), directory.departments[id] != nil { return id }
        return directory.departmentsByCode[reference]?.id
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
}
