import Fluent
import Foundation
import TongbanCore
import Vapor

/// Administrator-editable settings of the case engine, versioned: every change is a new row
/// (`cases_settings`: kind, version, JSON body, who, when) and the newest version of a kind applies.
/// Kinds: `sla` (response and resolution allowances per case type and priority, and the hotline's first
/// response) and `task_sources` (the supervision task sources). Without any row the code defaults apply
/// (version 0).
final class CaseSettingRow: Model, @unchecked Sendable {
    static let schema = "cases_settings"

    @ID(key: .id) var id: UUID?
    @Field(key: "kind") var kind: String
    @Field(key: "version") var version: Int
    @Field(key: "body") var body: String
    @OptionalField(key: "actor_id") var actorID: UUID?
    @OptionalField(key: "actor_name") var actorName: String?
    @Field(key: "created_at") var createdAt: Date

    init() {}
}

struct CreateCaseSettings: AsyncMigration {
    var name: String { "Cases.CreateCaseSettings" }

    func prepare(on database: any Database) async throws {
        try await database.schema(CaseSettingRow.schema)
            .id()
            .field("kind", .string, .required)
            .field("version", .int, .required)
            .field("body", .string, .required)
            .field("actor_id", .uuid)
            .field("actor_name", .string)
            .field("created_at", .datetime, .required)
            .unique(on: "kind", "version")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(CaseSettingRow.schema).delete()
    }
}

/// One allowance as the API shows it: `{"value": 2, "unit": "working_hours"}`.
struct SLADurationView: Content, Equatable {
    var value: Int?
    var unit: String?

    init(value: Int?, unit: String?) {
        self.value = value
        self.unit = unit
    }

    init(_ duration: SLADuration) {
        switch duration {
        case .minutes(let n): self.init(value: n, unit: "minutes")
        case .workingHours(let n): self.init(value: n, unit: "working_hours")
        case .workingDays(let n): self.init(value: n, unit: "working_days")
        }
    }

    /// The duration, or the reason it is not one.
    func duration() -> Result<SLADuration, String> {
        guard let value else { return .failure("value is required") }
        switch unit {
        case "minutes": return (1...10080).contains(value) ? .success(.minutes(value)) : .failure("minutes must be from 1 to 10080")
        case "working_hours": return (1...200).contains(value) ? .success(.workingHours(value)) : .failure("working hours must be from 1 to 200")
        case "working_days": return (1...365).contains(value) ? .success(.workingDays(value)) : .failure("working days must be from 1 to 365")
        default: return .failure("unit must be minutes, working_hours or working_days")
        }
    }
}

/// The SLA table in force.
struct SLATable: Sendable, Equatable {
    var policies: [String: SLAPolicy]
    var hotlineResponse: SLADuration

    static func key(_ type: CaseType, _ priority: CasePriority) -> String { "\(type.rawValue).\(priority.rawValue)" }

    /// The code defaults (see ``SLAPolicy/defaultPolicy(type:priority:)``).
    static let defaults: SLATable = {
        var policies: [String: SLAPolicy] = [:]
        for type in CaseType.allCases {
            for priority in CasePriority.allCases { policies[key(type, priority)] = SLAPolicy.defaultPolicy(type: type, priority: priority) }
        }
        return SLATable(policies: policies, hotlineResponse: .minutes(30))
    }()

    func policy(_ type: CaseType, _ priority: CasePriority) -> SLAPolicy {
        policies[Self.key(type, priority)] ?? SLAPolicy.defaultPolicy(type: type, priority: priority)
    }

    struct Item: Content, Equatable {
        var type: String?
        var priority: String?
        var response: SLADurationView?
        var resolution: SLADurationView?
    }

    /// The stored / shown form.
    struct Body: Content {
        var items: [Item]?
        var hotlineResponse: SLADurationView?
    }

    var body: Body {
        var items: [Item] = []
        for type in CaseType.allCases {
            for priority in CasePriority.allCases {
                let policy = policy(type, priority)
                items.append(Item(
                    type: type.rawValue, priority: priority.rawValue, response: SLADurationView(policy.response),
                    resolution: SLADurationView(policy.resolution)))
            }
        }
        return Body(items: items, hotlineResponse: SLADurationView(hotlineResponse))
    }

    /// This table with the changes of `body` applied (items not named keep their values); 422 names every
    /// bad field (`items[i].response.unit`, …).
    func applying(_ body: Body) throws -> SLATable {
        var errors: [FieldError] = []
        var result = self
        if body.items == nil && body.hotlineResponse == nil {
            throw Problem.validation([FieldError(field: "items", message: "give items and/or hotlineResponse")])
        }
        var seen = Set<String>()
        for (index, item) in (body.items ?? []).enumerated() {
            let type = item.type.flatMap(CaseType.init(rawValue:))
            let priority = item.priority.flatMap(CasePriority.init(rawValue:))
            if type == nil { errors.append(FieldError(field: "items[\(index)].type", message: "must be grid_event, appeal or supervision")) }
            if priority == nil { errors.append(FieldError(field: "items[\(index)].priority", message: "must be normal or urgent")) }
            guard let type, let priority else { continue }
            let key = Self.key(type, priority)
            if !seen.insert(key).inserted { errors.append(FieldError(field: "items[\(index)]", message: "\(key) is given twice")) }
            var policy = result.policy(type, priority)
            if item.response == nil && item.resolution == nil {
                errors.append(FieldError(field: "items[\(index)]", message: "give response and/or resolution"))
            }
            if let response = item.response {
                switch response.duration() {
                case .success(let duration): policy.response = duration
                case .failure(let message): errors.append(FieldError(field: "items[\(index)].response", message: message))
                }
            }
            if let resolution = item.resolution {
                switch resolution.duration() {
                case .success(let duration):
                    if case .minutes = duration {
                        errors.append(FieldError(field: "items[\(index)].resolution", message: "resolution is counted in working hours or days"))
                    }
                    policy.resolution = duration
                case .failure(let message): errors.append(FieldError(field: "items[\(index)].resolution", message: message))
                }
            }
            result.policies[key] = policy
        }
        if let hotline = body.hotlineResponse {
            switch hotline.duration() {
            case .success(let duration): result.hotlineResponse = duration
            case .failure(let message): errors.append(FieldError(field: "hotlineResponse", message: message))
            }
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        return result
    }

    /// A table from a stored body (rows written by ``applying(_:)``, so valid; anything unreadable keeps the default).
    static func from(json: String) -> SLATable {
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(json.utf8)) else { return defaults }
        return (try? defaults.applying(body)) ?? defaults
    }
}

/// A supervision task source (督办来源).
struct TaskSource: Content, Equatable, Sendable {
    var code: String
    var name: String
    var nameEn: String

    static let defaults: [TaskSource] = [
        TaskSource(code: "leader_instruction", name: "领导批示", nameEn: "Leader's instruction"),
        TaskSource(code: "inspection", name: "督查检查", nameEn: "Inspection"),
        TaskSource(code: "hotline", name: "12345热线", nameEn: "12345 hotline"),
        TaskSource(code: "media", name: "媒体曝光", nameEn: "Media report"),
        TaskSource(code: "national_system", name: "国务院“互联网+督查”平台", nameEn: "National Internet+ supervision platform"),
        TaskSource(code: "joint_check", name: "联合检查", nameEn: "Joint check"),
    ]
}

/// Reads and changes the settings.
struct CaseSettingsService: Sendable {
    let app: Application
    let db: any Database

    struct Current<Value: Sendable>: Sendable {
        var value: Value
        var version: Int
        var updatedAt: Date?
        var updatedBy: String?
    }

    static func latest(_ kind: String, db: any Database) async throws -> CaseSettingRow? {
        try await CaseSettingRow.query(on: db).filter(\.$kind == kind).sort(\.$version, .descending).first()
    }

    /// Writes a new version of `kind` (the version number is unique per kind: a concurrent change loses with 409).
    func save(kind: String, body: String, principal: Principal) async throws -> CaseSettingRow {
        let now = app.clock.now()
        let row = try await db.writeTransaction { tx in
            let version = (try await CaseSettingRow.query(on: tx).filter(\.$kind == kind).max(\.$version) ?? 0) + 1
            let row = CaseSettingRow()
            row.kind = kind
            row.version = version
            row.body = body
            row.actorID = principal.userID
            row.actorName = principal.username
            row.createdAt = now
            do {
                try await row.create(on: tx)
            } catch {
                throw Problem(.conflict, type: "/problems/case-settings-conflict", title: "Changed meanwhile",
                              detail: "Someone changed these settings at the same time; read them again and retry.")
            }
            return row
        }
        app.casesDirectory.invalidate()
        try await app.audit?.record(
            kind: "cases.settings.changed", actor: principal.userID, subject: kind, details: ["version": String(row.version)])
        return row
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// The duplicate window and the points per valid report (kind `duplicates_points`). Without a stored
/// version the server's environment values apply (`TONGBAN_CASES_DUPLICATE_METERS`, `…_HOURS`,
/// `TONGBAN_CASES_POINTS`, read into ``CasesConfig``); a stored version fixes all three.
struct ReportingSettings: Sendable, Equatable {
    /// Reports of the same category within this distance (metres; 0 turns duplicate detection off) …
    var meters: Double
    /// … and this many hours of an open case are linked to it.
    var hours: Double
    var pointsPerValidReport: Int

    static let metersRange = 0.0...5000.0
    static let hoursRange = 1.0...720.0
    static let pointsRange = 0...1000

    init(meters: Double, hours: Double, pointsPerValidReport: Int) {
        self.meters = meters
        self.hours = hours
        self.pointsPerValidReport = pointsPerValidReport
    }

    init(_ config: CasesConfig) {
        self.init(meters: config.duplicateMeters, hours: config.duplicateHours, pointsPerValidReport: config.pointsPerValidReport)
    }

    struct Duplicates: Content, Equatable {
        var meters: Double?
        var hours: Double?
    }

    struct Points: Content, Equatable {
        var perValidReport: Int?
    }

    /// The stored / shown form: `{"duplicates":{"meters","hours"},"points":{"perValidReport"}}`.
    struct Body: Content, Equatable {
        var duplicates: Duplicates?
        var points: Points?
    }

    var body: Body {
        Body(duplicates: Duplicates(meters: meters, hours: hours), points: Points(perValidReport: pointsPerValidReport))
    }

    /// These settings with the values `body` names changed; 422 names every bad field.
    func applying(_ body: Body) throws -> ReportingSettings {
        var errors: [FieldError] = []
        var result = self
        if body.duplicates?.meters == nil && body.duplicates?.hours == nil && body.points?.perValidReport == nil {
            throw Problem.validation([FieldError(field: "duplicates", message: "give duplicates.meters, duplicates.hours and/or points.perValidReport")])
        }
        if let meters = body.duplicates?.meters {
            if meters.isFinite && Self.metersRange.contains(meters) { result.meters = meters } else {
                errors.append(FieldError(field: "duplicates.meters", message: "must be from 0 to 5000 (0 turns duplicate detection off)"))
            }
        }
        if let hours = body.duplicates?.hours {
            if hours.isFinite && Self.hoursRange.contains(hours) { result.hours = hours } else {
                errors.append(FieldError(field: "duplicates.hours", message: "must be from 1 to 720"))
            }
        }
        if let points = body.points?.perValidReport {
            if Self.pointsRange.contains(points) { result.pointsPerValidReport = points } else {
                errors.append(FieldError(field: "points.perValidReport", message: "must be from 0 to 1000"))
            }
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        return result
    }

    /// The settings in force: a stored body over the environment's defaults.
    static func from(_ stored: Body?, defaults config: CasesConfig) -> ReportingSettings {
        let defaults = ReportingSettings(config)
        guard let stored else { return defaults }
        return ReportingSettings(
            meters: stored.duplicates?.meters ?? defaults.meters, hours: stored.duplicates?.hours ?? defaults.hours,
            pointsPerValidReport: stored.points?.perValidReport ?? defaults.pointsPerValidReport)
    }

    static func decode(_ json: String) -> Body? { try? JSONDecoder().decode(Body.self, from: Data(json.utf8)) }
}
