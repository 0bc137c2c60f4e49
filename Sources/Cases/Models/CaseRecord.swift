import Fluent
import Foundation

/// The three kinds of case one engine serves.
public enum CaseType: String, Codable, Sendable, CaseIterable {
    /// 网格事件: a grid member or resident reports a problem at a place (case 19).
    case gridEvent = "grid_event"
    /// 诉求: an appeal or complaint from the 12345 hotline, the web or the app (cases 16, 18).
    case appeal
    /// 督办任务: a supervision task created by staff and dispatched to departments (case 10).
    case supervision

    var numberPrefix: String {
        switch self {
        case .gridEvent: "WG"
        case .appeal: "SQ"
        case .supervision: "DB"
        }
    }
}

/// Where a case is in its life (the state machine is in ``CaseActions``).
public enum CaseStatus: String, Codable, Sendable, CaseIterable {
    /// Routed or dispatched to a lead department, not yet accepted.
    case dispatched
    /// Accepted by the lead department and being handled.
    case processing
    /// The lead department fed back a result; waiting for review (close or return).
    case resolved
    /// Closed; the reporter may evaluate it.
    case closed
    /// A duplicate report linked to another case (`duplicateOf`); closed with it.
    case duplicate

    var isOpen: Bool { self == .dispatched || self == .processing || self == .resolved }
}

/// The four dispatch levels (community → street → district → city).
public enum CaseLevel: String, Codable, Sendable, CaseIterable, Comparable {
    case community, street, district, city

    var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    var next: CaseLevel? { rank + 1 < Self.allCases.count ? Self.allCases[rank + 1] : nil }

    public static func < (lhs: CaseLevel, rhs: CaseLevel) -> Bool { lhs.rank < rhs.rank }
}

public enum CasePriority: String, Codable, Sendable, CaseIterable {
    case normal, urgent
}

/// How an appeal came in.
public enum CaseChannel: String, Codable, Sendable, CaseIterable {
    case hotline, web, app, open311, patrol, staff
}

/// A case (supervision task, appeal or grid event).
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class CaseRecord: Model, @unchecked Sendable {
    static let schema = "cases_cases"

    @ID(key: .id) var id: UUID?
    @Field(key: "number") var number: String
    @Field(key: "type") var type: CaseType
    @Field(key: "category") var category: String
    @Field(key: "description") var description: String
    @Field(key: "status") var status: CaseStatus
    @Field(key: "priority") var priority: CasePriority
    @Field(key: "channel") var channel: CaseChannel
    /// Appeal class (咨询/求助/投诉/举报/建议) or enterprise demand type, or the supervision task source.
    @OptionalField(key: "subtype") var subtype: String?
    @OptionalField(key: "title") var title: String?
    @OptionalField(key: "lat") var lat: Double?
    @OptionalField(key: "lon") var lon: Double?
    @OptionalField(key: "address") var address: String?
    /// The grid (a region of level `grid`) the point falls in; nil outside every grid.
    @OptionalField(key: "grid_id") var gridID: UUID?
    @Field(key: "outside_grid") var outsideGrid: Bool
    @Field(key: "level") var level: CaseLevel
    @Field(key: "department_id") var departmentID: UUID
    /// Co-handling departments (comma-separated UUIDs), the lead excluded.
    @Field(key: "co_handlers") var coHandlers: String
    /// The department that dispatched or escalated the case to its lead (reviews the feedback).
    @OptionalField(key: "dispatcher_id") var dispatcherID: UUID?
    /// The staff member's department that created an internal case (supervision).
    @OptionalField(key: "origin_department_id") var originDepartmentID: UUID?
    @OptionalField(key: "reporter_id") var reporterID: UUID?
    @OptionalField(key: "reporter_kind") var reporterKind: String?
    /// Contact given by an anonymous reporter (Open311), stored masked.
    @OptionalField(key: "contact") var contact: String?
    @OptionalField(key: "duplicate_of") var duplicateOf: UUID?
    @Field(key: "escalations") var escalations: Int
    @Field(key: "urges") var urges: Int
    @Field(key: "reopened") var reopened: Int
    @Field(key: "overdue") var overdue: Bool
    @Field(key: "response_due_at") var responseDueAt: Date
    @Field(key: "resolution_due_at") var resolutionDueAt: Date
    @OptionalField(key: "accepted_at") var acceptedAt: Date?
    @OptionalField(key: "resolved_at") var resolvedAt: Date?
    @OptionalField(key: "closed_at") var closedAt: Date?
    /// `satisfied` / `unsatisfied` once evaluated.
    @OptionalField(key: "evaluation") var evaluation: String?
    @OptionalField(key: "valid") var valid: Bool?
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    var coHandlerIDs: [UUID] {
        get { coHandlers.split(separator: ",").compactMap { UUID(uuidString: String($0)) } }
        set { coHandlers = newValue.map(\.uuidString).joined(separator: ",") }
    }
}

/// One timeline event: who, when, what, why.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class CaseEvent: Model, @unchecked Sendable {
    static let schema = "cases_events"

    @ID(key: .id) var id: UUID?
    @Field(key: "case_id") var caseID: UUID
    @Field(key: "seq") var seq: Int
    @Field(key: "action") var action: String
    @OptionalField(key: "actor_id") var actorID: UUID?
    @OptionalField(key: "actor_name") var actorName: String?
    @OptionalField(key: "department_id") var departmentID: UUID?
    @OptionalField(key: "from_status") var fromStatus: String?
    @OptionalField(key: "to_status") var toStatus: String?
    @OptionalField(key: "comment") var comment: String?
    /// Extra details as a JSON object text (target department, evidence, warning level…).
    @OptionalField(key: "details") var details: String?
    @Field(key: "at") var at: Date

    init() {}
}

/// A grid: the polygon of a region of level `grid`.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class GridRecord: Model, @unchecked Sendable {
    static let schema = "cases_grids"

    @ID(key: .id) var id: UUID?
    /// The region (level `grid`) in the Identity region tree.
    @Field(key: "region_id") var regionID: UUID
    @Field(key: "code") var code: String
    @Field(key: "name") var name: String
    /// GeoJSON geometry (`Polygon` or `MultiPolygon`), longitude first.
    @Field(key: "geometry") var geometry: String
    @Field(key: "min_lat") var minLat: Double
    @Field(key: "min_lon") var minLon: Double
    @Field(key: "max_lat") var maxLat: Double
    @Field(key: "max_lon") var maxLon: Double

    init() {}
}

/// A case category (also an Open311 service).
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class CategoryRecord: Model, @unchecked Sendable {
    static let schema = "cases_categories"

    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "name") var name: String
    @Field(key: "name_en") var nameEn: String
    @Field(key: "group_name") var group: String
    @Field(key: "description") var description: String
    @Field(key: "active") var active: Bool

    init() {}
}

/// A routing rule: cases of `category` (`*` for any) in `region` (nil for anywhere, the default) go to `department`.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class RoutingRule: Model, @unchecked Sendable {
    static let schema = "cases_routing_rules"

    @ID(key: .id) var id: UUID?
    @Field(key: "category") var category: String
    @OptionalField(key: "region_id") var regionID: UUID?
    @Field(key: "department_id") var departmentID: UUID

    init() {}
}

/// A grid member's assignment to a grid.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class GridMember: Model, @unchecked Sendable {
    static let schema = "cases_grid_members"

    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    @Field(key: "grid_region_id") var gridRegionID: UUID

    init() {}
}

/// A points ledger entry for a resident (积分).
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
final class PointsEntry: Model, @unchecked Sendable {
    static let schema = "cases_points"

    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    @OptionalField(key: "case_id") var caseID: UUID?
    @Field(key: "points") var points: Int
    @Field(key: "reason") var reason: String
    @Field(key: "at") var at: Date

    init() {}
}
