import CEL
import DataSharing
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Builds a person's profile from the departments' own data (case 9: the school place is decided from the
/// household register, the real estate register and social insurance at once), recording where each fact came
/// from so that a failed or missing condition names its source.
public struct PersonProfiles: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock) {
        self.db = db
        self.clock = clock
    }

    public struct Source: Content {
        public var field: String
        public var resource: String
        public var resourceName: String
        public var resourceNameEn: String
        public var provider: String
        public var found: Bool
    }

    /// The profile of the person with `idNumber` and, per field, the resource it came from.
    public func profile(idNumber: String) async throws -> (CELValue, JSONValue, [Source]) {
        var attributes: [String: JSONValue] = ["idRegion": .string(String(idNumber.prefix(6)))]
        let chars = Array(idNumber)
        if chars.count == 18, let birth = LocalDate(String(chars[6..<10]) + "-" + String(chars[10..<12]) + "-" + String(chars[12..<14])) {
            let today = LocalDate(clock.now())
            var age = today.year - birth.year
            if (today.month, today.day) < (birth.month, birth.day) { age -= 1 }
            attributes["age"] = .number(Double(age))
        }
        var sources: [Source] = []
        let tables = DataTables(db: db)
        let directory = DirectoryService(db: db)
        func read(_ code: String, fields: [String]) async throws -> (DataResource?, [DataRow]) {
            guard let resource = try await DataResource.query(on: db).filter(\.$code == code).first() else { return (nil, []) }
            return (resource, try await tables.rows(resource, keys: [idNumber], fields: fields, limit: 10))
        }
        func note(_ field: String, _ resource: DataResource?, found: Bool) async throws {
            guard let resource else { return }
            let provider = try await directory.department(id: resource.providerDepartmentID)
            sources.append(Source(
                field: field, resource: resource.code, resourceName: resource.nameZh, resourceNameEn: resource.nameEn,
                provider: provider?.name ?? "", found: found))
        }
        let (household, householdRows) = try await read("household-register", fields: ["household_region"])
        if let region = householdRows.first?.values["household_region"] { attributes["householdRegion"] = .string(region) }
        try await note("householdRegion", household, found: attributes["householdRegion"] != nil)
        let (estate, estateRows) = try await read("real-estate-person", fields: ["certificate_no"])
        if !estateRows.isEmpty { attributes["propertyRegions"] = .array(estateRows.map { .string($0.region) }) }
        try await note("propertyRegions", estate, found: !estateRows.isEmpty)
        let (insurance, insuranceRows) = try await read("social-insurance", fields: ["months_paid"])
        if let months = insuranceRows.first?.values["months_paid"].flatMap({ Int($0) }) { attributes["socialSecurityMonths"] = .number(Double(months)) }
        try await note("socialSecurityMonths", insurance, found: attributes["socialSecurityMonths"] != nil)
        let (education, educationRows) = try await read("education-degree", fields: ["degree"])
        if let degree = educationRows.first?.values["degree"] { attributes["degree"] = .string(degree) }
        try await note("degree", education, found: attributes["degree"] != nil)
        let text = String(decoding: try JSONEncoder().encode(attributes), as: UTF8.self)
        do {
            return (try CELValue.fromJSON(text), .object(attributes), sources)
        } catch {
            throw Problem(.internalServerError, title: "Person profile unreadable")
        }
    }
}
