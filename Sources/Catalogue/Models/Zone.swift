import Fluent
import Foundation

/// A theme zone (主题专区) or a life event (人生事件) grouping services.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class Zone: Model, @unchecked Sendable {
    public static let schema = "catalogue_zones"

    public enum Kind: String, Codable, Sendable, CaseIterable {
        case theme
        case lifeEvent
    }

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "name") public var name: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "kind") public var kind: Kind
    @Field(key: "sort_order") public var sortOrder: Int
    @Field(key: "description") public var description: String
    @Field(key: "description_en") public var descriptionEn: String

    public init() {}

    init(code: String, name: String, nameEn: String, kind: Kind, sortOrder: Int, description: String, descriptionEn: String) {
        self.code = code
        self.name = name
        self.nameEn = nameEn
        self.kind = kind
        self.sortOrder = sortOrder
        self.description = description
        self.descriptionEn = descriptionEn
    }
}

/// Which zones a service belongs to (for filtering by zone with an index).
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
final class ServiceZone: Model, @unchecked Sendable {
    static let schema = "catalogue_service_zones"

    @ID(key: .id) var id: UUID?
    @Field(key: "service_id") var serviceID: UUID
    @Field(key: "zone_code") var zoneCode: String

    init() {}

    init(serviceID: UUID, zoneCode: String) {
        self.serviceID = serviceID
        self.zoneCode = zoneCode
    }
}
