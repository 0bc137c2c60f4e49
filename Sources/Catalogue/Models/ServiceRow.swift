import Foundation
import SQLKit

/// The columns of a service needed for lists (no guide content).
public struct ServiceRow: Sendable, Equatable {
    public var id: UUID
    public var code: String
    public var name: String
    public var nameEn: String
    public var departmentID: UUID
    public var category: ServiceCategory
    public var forPersons: Bool
    public var forEnterprises: Bool
    public var caseKind: CaseKind
    public var statutoryDays: Int
    public var promisedDays: Int
    public var onlineDepth: Int
    public var visits: Int
    public var zones: [String]
    public var published: Bool

    static let columns = [
        "id", "code", "name", "name_en", "department_id", "category", "for_persons", "for_enterprises", "case_kind",
        "statutory_days", "promised_days", "online_depth", "visits", "zones", "published",
    ]

    init(row: any SQLRow) throws {
        id = try row.decode(column: "id", as: UUID.self)
        code = try row.decode(column: "code", as: String.self)
        name = try row.decode(column: "name", as: String.self)
        nameEn = try row.decode(column: "name_en", as: String.self)
        departmentID = try row.decode(column: "department_id", as: UUID.self)
        category = try row.decode(column: "category", as: ServiceCategory.self)
        forPersons = try row.decode(column: "for_persons", as: Bool.self)
        forEnterprises = try row.decode(column: "for_enterprises", as: Bool.self)
        caseKind = try row.decode(column: "case_kind", as: CaseKind.self)
        statutoryDays = try row.decode(column: "statutory_days", as: Int.self)
        promisedDays = try row.decode(column: "promised_days", as: Int.self)
        onlineDepth = try row.decode(column: "online_depth", as: Int.self)
        visits = try row.decode(column: "visits", as: Int.self)
        zones = try row.decode(column: "zones", as: [String].self)
        published = try row.decode(column: "published", as: Bool.self)
    }

    public var audience: [Audience] {
        (forPersons ? [Audience.person] : []) + (forEnterprises ? [Audience.enterprise] : [])
    }
}
