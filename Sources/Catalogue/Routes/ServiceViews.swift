import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// A department as shown with a service.
struct DepartmentRef: Codable, Sendable {
    var id: UUID
    var code: String
    var name: String
    var nameEn: String
}

/// A service in a list.
struct ServiceSummary: Content {
    var id: UUID
    var code: String
    var name: String
    var nameEn: String
    var department: DepartmentRef?
    var category: ServiceCategory
    var audience: [Audience]
    var caseKind: CaseKind
    var promisedDays: Int
    var statutoryDays: Int
    var onlineDepth: Int
    var visits: Int
    var zones: [String]
    var published: Bool
}

/// A service with its whole guide.
struct ServiceDetail: Content {
    var id: UUID
    var code: String
    var name: String
    var nameEn: String
    var department: DepartmentRef?
    var regionId: UUID
    var category: ServiceCategory
    var audience: [Audience]
    var caseKind: CaseKind
    var statutoryDays: Int
    var promisedDays: Int
    var feeYuan: Double
    var feeNote: String
    var feeNoteEn: String
    var conditions: String
    var conditionsEn: String
    var legalBasis: String
    var materials: [Material]
    var steps: [ProcessStep]
    var onlineDepth: Int
    var visits: Int
    var crossRegion: CrossRegion?
    var zones: [String]
    var keywords: [String]
    var form: FormSchema
    var version: Int
    var published: Bool
    var publishedAt: Date?
    var updatedAt: Date?
}

struct ZoneView: Content {
    var code: String
    var name: String
    var nameEn: String
    var kind: Zone.Kind
    var description: String
    var descriptionEn: String
    var serviceCount: Int
}

enum ServiceMapper {
    static func departments(for ids: [UUID], db: any Database) async throws -> [UUID: DepartmentRef] {
        let infos = try await DirectoryService(db: db).departments(ids: Set(ids))
        return infos.mapValues { DepartmentRef(id: $0.id, code: $0.code, name: $0.name, nameEn: $0.nameEn) }
    }

    static func departments(for items: [ServiceItem], db: any Database) async throws -> [UUID: DepartmentRef] {
        try await departments(for: items.map(\.departmentID), db: db)
    }

    static func summary(_ item: ServiceRow, _ departments: [UUID: DepartmentRef]) -> ServiceSummary {
        ServiceSummary(
            id: item.id, code: item.code, name: item.name, nameEn: item.nameEn,
            department: departments[item.departmentID], category: item.category, audience: item.audience,
            caseKind: item.caseKind, promisedDays: item.promisedDays, statutoryDays: item.statutoryDays,
            onlineDepth: item.onlineDepth, visits: item.visits, zones: item.zones, published: item.published)
    }

    static func detail(_ item: ServiceItem, _ departments: [UUID: DepartmentRef]) -> ServiceDetail {
        ServiceDetail(
            id: item.id ?? UUID(), code: item.code, name: item.name, nameEn: item.nameEn,
            department: departments[item.departmentID], regionId: item.regionID, category: item.category,
            audience: item.audience, caseKind: item.caseKind, statutoryDays: item.statutoryDays,
            promisedDays: item.promisedDays, feeYuan: item.feeYuan, feeNote: item.feeNote, feeNoteEn: item.feeNoteEn,
            conditions: item.conditions, conditionsEn: item.conditionsEn, legalBasis: item.legalBasis,
            materials: item.materials, steps: item.steps, onlineDepth: item.onlineDepth, visits: item.visits,
            crossRegion: item.crossRegion, zones: item.zones, keywords: item.keywords, form: item.form,
            version: item.version, published: item.published, publishedAt: item.publishedAt, updatedAt: item.updatedAt)
    }
}

extension Request {
    /// Parses catalogue search filters from the query; bad values answer 422 naming the parameter.
    func serviceSearch() throws -> ServiceSearch {
        var errors = FieldErrors()
        var search = ServiceSearch()
        if let q = query[String.self, at: "q"] {
            errors.check(q.count <= 200, "q", "must have at most 200 characters")
            search.text = q.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : q
        }
        if let zone = query[String.self, at: "zone"], !zone.isEmpty { search.zone = zone }
        if let department = query[String.self, at: "department"], !department.isEmpty {
            if let id = UUID(uuidString: department) { search.departmentID = id } else {
                errors.add("department", "must be a department id")
            }
        }
        if let audience = query[String.self, at: "audience"], !audience.isEmpty {
            if let value = Audience(rawValue: audience) { search.audience = value } else {
                errors.add("audience", "must be person or enterprise")
            }
        }
        if let category = query[String.self, at: "category"], !category.isEmpty {
            if let value = ServiceCategory(rawValue: category) { search.category = value } else {
                errors.add("category", "is not a known item type")
            }
        }
        try errors.throwIfAny()
        return search
    }
}
