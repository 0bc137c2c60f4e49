import Fluent
import Foundation
import TongbanCore

/// A region as other modules see it.
public struct RegionInfo: Codable, Sendable, Equatable {
    public var id: UUID
    public var code: String
    public var name: String
    public var nameEn: String
    public var level: RegionLevel
    public var parentId: UUID?
}

/// A department as other modules see it.
public struct DepartmentInfo: Codable, Sendable, Equatable {
    public var id: UUID
    public var code: String
    public var name: String
    public var nameEn: String
    public var regionId: UUID
}

/// The region tree and departments: the public door other modules use.
public struct DirectoryService: Sendable {
    let db: any Database

    public init(db: any Database) { self.db = db }

    static func validCode(_ code: String) -> Bool { CodeFormat.directoryCode.matches(code) }

    public func regions() async throws -> [RegionInfo] {
        try await Region.query(on: db).sort(\.$code).all().map(Self.info)
    }

    public func region(id: UUID) async throws -> RegionInfo? {
        try await Region.find(id, on: db).map(Self.info)
    }

    public func region(code: String) async throws -> RegionInfo? {
        try await Region.query(on: db).filter(\.$code == code).first().map(Self.info)
    }

    public func departments() async throws -> [DepartmentInfo] {
        try await Department.query(on: db).sort(\.$code).all().map(Self.info)
    }

    public func department(id: UUID) async throws -> DepartmentInfo? {
        try await Department.find(id, on: db).map(Self.info)
    }

    public func department(code: String) async throws -> DepartmentInfo? {
        try await Department.query(on: db).filter(\.$code == code).first().map(Self.info)
    }

    /// Departments by id, for listings (one query).
    public func departments(ids: Set<UUID>) async throws -> [UUID: DepartmentInfo] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await Department.query(on: db).filter(\.$id ~~ Array(ids)).all()
        return Dictionary(uniqueKeysWithValues: rows.map(Self.info).map { ($0.id, $0) })
    }

    /// Creates a region; the level must be one below the parent's (a province has no parent).
    public func createRegion(code: String, name: String, nameEn: String, level: RegionLevel, parentID: UUID?) async throws
        -> RegionInfo
    {
        var errors = FieldErrors()
        errors.check(Self.validCode(code), "code", "must be 2–40 characters of digits, capitals and '-'")
        AccountService.validateName(name, into: &errors)
        AccountService.validateName(nameEn, field: "nameEn", into: &errors)
        if let parentID {
            if let parent = try await Region.find(parentID, on: db) {
                errors.check(
                    level.depth == parent.level.depth + 1, "level",
                    "must be the level below the parent's (\(parent.level.rawValue))")
            } else {
                errors.add("parentId", "does not name a region")
            }
        } else {
            errors.check(level == .province, "parentId", "is required for a \(level.rawValue)")
        }
        if errors.isEmpty, try await Region.query(on: db).filter(\.$code == code).first() != nil {
            errors.add("code", "is already used")
        }
        try errors.throwIfAny()
        let region = Region(code: code, name: name, nameEn: nameEn, level: level, parentID: parentID)
        try await region.create(on: db)
        return Self.info(region)
    }

    public func createDepartment(code: String, name: String, nameEn: String, regionID: UUID?) async throws -> DepartmentInfo
    {
        var errors = FieldErrors()
        errors.check(Self.validCode(code), "code", "must be 2–40 characters of digits, capitals and '-'")
        AccountService.validateName(name, into: &errors)
        AccountService.validateName(nameEn, field: "nameEn", into: &errors)
        if let regionID {
            if try await Region.find(regionID, on: db) == nil { errors.add("regionId", "does not name a region") }
        } else {
            errors.add("regionId", "is required")
        }
        if errors.isEmpty, try await Department.query(on: db).filter(\.$code == code).first() != nil {
            errors.add("code", "is already used")
        }
        try errors.throwIfAny()
        let department = Department(code: code, name: name, nameEn: nameEn, regionID: regionID ?? UUID())
        try await department.create(on: db)
        return Self.info(department)
    }

    static func info(_ r: Region) -> RegionInfo {
        RegionInfo(id: r.id ?? UUID(), code: r.code, name: r.name, nameEn: r.nameEn, level: r.level, parentId: r.parentID)
    }

    static func info(_ d: Department) -> DepartmentInfo {
        DepartmentInfo(id: d.id ?? UUID(), code: d.code, name: d.name, nameEn: d.nameEn, regionId: d.regionID)
    }
}
