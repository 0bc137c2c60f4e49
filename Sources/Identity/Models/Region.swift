import Fluent
import Foundation

/// Levels of the administrative region tree.
public enum RegionLevel: String, Codable, Sendable, CaseIterable {
    case province, city, district, street, community, grid

    /// Depth in the tree (province = 0).
    public var depth: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}

/// A node of the region tree (GB/T 2260 codes for province, city and district).
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
public final class Region: Model, @unchecked Sendable {
    public static let schema = "identity_regions"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "name") public var name: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "level") public var level: RegionLevel
    @OptionalField(key: "parent_id") public var parentID: UUID?

    public init() {}

    public init(id: UUID? = nil, code: String, name: String, nameEn: String, level: RegionLevel, parentID: UUID?) {
        self.id = id
        self.code = code
        self.name = name
        self.nameEn = nameEn
        self.level = level
        self.parentID = parentID
    }
}

/// A government department attached to a region.
/// `@unchecked Sendable`: Fluent property wrappers; not shared across tasks.
public final class Department: Model, @unchecked Sendable {
    public static let schema = "identity_departments"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "name") public var name: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "region_id") public var regionID: UUID

    public init() {}

    public init(id: UUID? = nil, code: String, name: String, nameEn: String, regionID: UUID) {
        self.id = id
        self.code = code
        self.name = name
        self.nameEn = nameEn
        self.regionID = regionID
    }
}
