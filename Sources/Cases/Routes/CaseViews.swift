import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Response shapes of the cases API (never the Fluent models).
enum CaseViews {
    struct DepartmentRef: Content {
        var id: UUID
        var code: String
        var name: String
        var nameEn: String
    }

    struct GridRef: Content {
        var id: UUID
        var code: String
        var name: String
    }

    struct LocationView: Content {
        var lat: Double
        var lon: Double
    }

    struct SLAView: Content {
        var responseDueAt: Date
        var resolutionDueAt: Date
        /// `normal`, `yellow` (80 % of the resolution time used) or `red` (a deadline missed).
        var warning: String
    }

    struct EventView: Content {
        var seq: Int
        var action: String
        var actor: String?
        var department: DepartmentRef?
        var fromStatus: String?
        var toStatus: String?
        var comment: String?
        var details: [String: String]?
        var at: Date
    }

    /// `POST /api/v1/cases` answer (the contract's fields first).
    struct Created: Content {
        var id: UUID
        var number: String
        var status: CaseStatus
        var grid: GridRef?
        var department: DepartmentRef?
        var outsideGrid: Bool
        var duplicateOf: UUID?
        var level: CaseLevel
        var sla: SLAView

        enum CodingKeys: String, CodingKey {
            case id, number, status, grid, department, outsideGrid, duplicateOf, level, sla
        }

        /// `grid`, `department` and `duplicateOf` are always present (`null` when absent).
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(number, forKey: .number)
            try container.encode(status, forKey: .status)
            try container.encode(grid, forKey: .grid)
            try container.encode(department, forKey: .department)
            try container.encode(outsideGrid, forKey: .outsideGrid)
            try container.encode(duplicateOf, forKey: .duplicateOf)
            try container.encode(level, forKey: .level)
            try container.encode(sla, forKey: .sla)
        }
    }

    struct CaseView: Content {
        var id: UUID
        var number: String
        var type: CaseType
        var category: String
        var categoryName: String?
        var title: String?
        var description: String
        var status: CaseStatus
        var priority: CasePriority
        var channel: CaseChannel
        var subtype: String?
        var location: LocationView?
        var address: String?
        var grid: GridRef?
        var outsideGrid: Bool
        var level: CaseLevel
        var department: DepartmentRef?
        var coHandlers: [DepartmentRef]
        var duplicateOf: UUID?
        var escalations: Int
        var urges: Int
        var reopened: Int
        var overdue: Bool
        var sla: SLAView
        var acceptedAt: Date?
        var resolvedAt: Date?
        var closedAt: Date?
        var evaluation: String?
        var valid: Bool?
        var createdAt: Date
        var updatedAt: Date
        var timeline: [EventView]?
    }

    static func department(_ id: UUID?, _ directory: CasesDirectory) -> DepartmentRef? {
        guard let id, let d = directory.departments[id] else { return nil }
        return DepartmentRef(id: d.id, code: d.code, name: d.name, nameEn: d.nameEn)
    }

    static func grid(_ id: UUID?, _ directory: CasesDirectory) -> GridRef? {
        guard let id, let g = directory.grids[id] else { return nil }
        return GridRef(id: g.id, code: g.code, name: g.name)
    }

    static func warning(_ record: CaseRecord, now: Date) -> String {
        guard record.status == .dispatched || record.status == .processing else { return record.overdue ? "red" : "normal" }
        if record.overdue || now > record.resolutionDueAt || (record.status == .dispatched && now > record.responseDueAt) {
            return "red"
        }
        return now >= SLAPolicy.yellow(start: record.createdAt, due: record.resolutionDueAt) ? "yellow" : "normal"
    }

    static func sla(_ record: CaseRecord, now: Date) -> SLAView {
        SLAView(responseDueAt: record.responseDueAt, resolutionDueAt: record.resolutionDueAt, warning: warning(record, now: now))
    }

    static func created(_ record: CaseRecord, _ directory: CasesDirectory, now: Date) -> Created {
        Created(
            id: record.id ?? UUID(), number: record.number, status: record.status, grid: grid(record.gridID, directory),
            department: department(record.departmentID, directory), outsideGrid: record.outsideGrid,
            duplicateOf: record.duplicateOf, level: record.level, sla: sla(record, now: now))
    }

    static func view(_ record: CaseRecord, _ directory: CasesDirectory, now: Date, events: [CaseEvent]?) -> CaseView {
        let location: LocationView? = record.lat.flatMap { lat in record.lon.map { LocationView(lat: lat, lon: $0) } }
        return CaseView(
            id: record.id ?? UUID(), number: record.number, type: record.type, category: record.category,
            categoryName: directory.categories[record.category]?.name, title: record.title, description: record.description,
            status: record.status, priority: record.priority, channel: record.channel, subtype: record.subtype,
            location: location, address: record.address, grid: grid(record.gridID, directory), outsideGrid: record.outsideGrid,
            level: record.level, department: department(record.departmentID, directory),
            coHandlers: record.coHandlerIDs.compactMap { department($0, directory) }, duplicateOf: record.duplicateOf,
            escalations: record.escalations, urges: record.urges, reopened: record.reopened, overdue: record.overdue,
            sla: sla(record, now: now), acceptedAt: record.acceptedAt, resolvedAt: record.resolvedAt, closedAt: record.closedAt,
            evaluation: record.evaluation, valid: record.valid, createdAt: record.createdAt, updatedAt: record.updatedAt,
            timeline: events.map { list in
                list.map { event in
                    EventView(
                        seq: event.seq, action: event.action, actor: event.actorName, department: department(event.departmentID, directory),
                        fromStatus: event.fromStatus, toStatus: event.toStatus, comment: event.comment,
                        details: event.details.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) },
                        at: event.at)
                }
            })
    }
}
