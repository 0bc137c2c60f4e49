import Fluent
import Foundation
import Identity
import NIOConcurrencyHelpers
import TongbanCore
import Vapor

/// Everything routing needs, read once and kept in memory: grids (with the point-in-polygon index),
/// categories, routing rules, regions and departments. Refreshed every `ttl` seconds (grids and rules
/// change rarely; every node converges within that time) or at once after a local change.
struct CasesDirectory: Sendable {
    var index: GridIndex
    var grids: [UUID: GridInfo]
    var categories: [String: CategoryInfo]
    var rules: [RuleKey: UUID]
    var regions: [UUID: RegionInfo]
    var departments: [UUID: DepartmentInfo]
    var departmentsByCode: [String: DepartmentInfo]
    var loadedAt: Date
    /// Grid members: user → the grids (GridRecord ids) they belong to.
    var memberGrids: [UUID: Set<UUID>] = [:]
    /// The administrators' SLA table and supervision task sources in force (with their versions; 0 = code defaults).
    var slaTable: SLATable = .defaults
    var slaVersion = 0
    var taskSources: [TaskSource] = TaskSource.defaults
    var taskSourcesVersion = 0
    /// The administrators' duplicate window and points (nil: none stored, the environment's values apply).
    var reportingBody: ReportingSettings.Body?
    var reportingVersion = 0

    struct GridInfo: Sendable {
        var id: UUID
        var regionID: UUID
        var code: String
        var name: String
    }

    struct CategoryInfo: Sendable, Content {
        var code: String
        var name: String
        var nameEn: String
        var group: String
        var description: String
    }

    struct RuleKey: Hashable, Sendable {
        var category: String
        var regionID: UUID?
    }

    static func load(db: any Database, now: Date) async throws -> CasesDirectory {
        let gridRows = try await GridRecord.query(on: db).sort(\.$code).all()
        var entries: [GridIndex.Entry] = []
        var grids: [UUID: GridInfo] = [:]
        for row in gridRows {
            guard let id = row.id, let polygons = GeoPolygon.parse(geoJSON: row.geometry) else { continue }
            entries.append(
                GridIndex.Entry(
                    id: id, polygons: polygons, minLat: row.minLat, minLon: row.minLon, maxLat: row.maxLat,
                    maxLon: row.maxLon))
            grids[id] = GridInfo(id: id, regionID: row.regionID, code: row.code, name: row.name)
        }
        var categories: [String: CategoryInfo] = [:]
        for row in try await CategoryRecord.query(on: db).filter(\.$active == true).all() {
            categories[row.code] = CategoryInfo(
                code: row.code, name: row.name, nameEn: row.nameEn, group: row.group, description: row.description)
        }
        var rules: [RuleKey: UUID] = [:]
        for rule in try await RoutingRule.query(on: db).all() {
            rules[RuleKey(category: rule.category, regionID: rule.regionID)] = rule.departmentID
        }
        let directory = DirectoryService(db: db)
        let regions = Dictionary(uniqueKeysWithValues: try await directory.regions().map { ($0.id, $0) })
        let departmentList = try await directory.departments()
        var loaded = CasesDirectory(
            index: GridIndex(entries), grids: grids, categories: categories, rules: rules, regions: regions,
            departments: Dictionary(uniqueKeysWithValues: departmentList.map { ($0.id, $0) }),
            departmentsByCode: Dictionary(departmentList.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a }),
            loadedAt: now)
        let gridByRegion = Dictionary(grids.values.map { ($0.regionID, $0.id) }, uniquingKeysWith: { a, _ in a })
        for member in try await GridMember.query(on: db).all() {
            guard let grid = gridByRegion[member.gridRegionID] else { continue }
            loaded.memberGrids[member.userID, default: []].insert(grid)
        }
        if let row = try await CaseSettingsService.latest("sla", db: db) {
            loaded.slaTable = SLATable.from(json: row.body)
            loaded.slaVersion = row.version
        }
        if let row = try await CaseSettingsService.latest("task_sources", db: db),
            let sources = try? JSONDecoder().decode([TaskSource].self, from: Data(row.body.utf8)), !sources.isEmpty
        {
            loaded.taskSources = sources
            loaded.taskSourcesVersion = row.version
        }
        if let row = try await CaseSettingsService.latest("duplicates_points", db: db), let body = ReportingSettings.decode(row.body) {
            loaded.reportingBody = body
            loaded.reportingVersion = row.version
        }
        return loaded
    }

    /// The duplicate window and points in force (`config`: the environment's defaults).
    func reporting(_ config: CasesConfig) -> ReportingSettings { ReportingSettings.from(reportingBody, defaults: config) }

    /// The region and its ancestors, nearest first.
    func chain(from regionID: UUID?) -> [RegionInfo] {
        var result: [RegionInfo] = []
        var current = regionID
        while let id = current, let region = regions[id], result.count < 10 {
            result.append(region)
            current = region.parentId
        }
        return result
    }

    /// The dispatch level of a department, from its region's level.
    func level(of departmentID: UUID) -> CaseLevel {
        guard let department = departments[departmentID], let region = regions[department.regionId] else { return .district }
        return Self.level(of: region.level)
    }

    static func level(of regionLevel: RegionLevel) -> CaseLevel {
        switch regionLevel {
        case .grid, .community: .community
        case .street: .street
        case .district: .district
        case .city, .province: .city
        }
    }

    /// The default department (category `*`, no region): where points outside every grid go.
    var defaultDepartment: UUID? { rules[RuleKey(category: "*", regionID: nil)] }

    /// The handling department for `category` starting from `regionID` (a grid, or nil): a rule for the
    /// category at the nearest region wins, then a catch-all rule at the nearest region, then the default.
    func route(category: String, from regionID: UUID?) -> UUID? {
        let chain = chain(from: regionID)
        for region in chain {
            if let department = rules[RuleKey(category: category, regionID: region.id)] { return department }
        }
        for region in chain {
            if let department = rules[RuleKey(category: "*", regionID: region.id)] { return department }
        }
        return rules[RuleKey(category: category, regionID: nil)] ?? defaultDepartment
    }

    /// The department one level (or more, when a level has none) above `level` for an escalation.
    func escalationTarget(category: String, gridRegion: UUID?, currentDepartment: UUID, level: CaseLevel)
        -> (department: UUID, level: CaseLevel)?
    {
        let start = gridRegion ?? departments[currentDepartment]?.regionId
        let chain = chain(from: start)
        var target = level.next
        while let wanted = target {
            for region in chain where Self.level(of: region.level) == wanted {
                if let department = rules[RuleKey(category: category, regionID: region.id)]
                    ?? rules[RuleKey(category: "*", regionID: region.id)], department != currentDepartment
                {
                    return (department, wanted)
                }
            }
            target = wanted.next
        }
        return nil
    }
}

/// The process-wide cache of ``CasesDirectory``.
final class CasesDirectoryCache: Sendable {
    private let current = NIOLockedValueBox<CasesDirectory?>(nil)
    let ttl: TimeInterval

    init(ttl: TimeInterval = 30) { self.ttl = ttl }

    func get(db: any Database, now: Date) async throws -> CasesDirectory {
        if let cached = current.withLockedValue({ $0 }), now.timeIntervalSince(cached.loadedAt) < ttl,
            now >= cached.loadedAt
        {
            return cached
        }
        let loaded = try await CasesDirectory.load(db: db, now: now)
        current.withLockedValue { $0 = loaded }
        return loaded
    }

    func invalidate() { current.withLockedValue { $0 = nil } }
}

extension Application {
    private struct CasesDirectoryKey: StorageKey { typealias Value = CasesDirectoryCache }

    var casesDirectory: CasesDirectoryCache {
        get {
            if let existing = storage[CasesDirectoryKey.self] { return existing }
            let created = CasesDirectoryCache()
            storage[CasesDirectoryKey.self] = created
            return created
        }
        set { storage[CasesDirectoryKey.self] = newValue }
    }
}
