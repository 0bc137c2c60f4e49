import Foundation
import TongbanCore

/// The editable content of a service item, as administrators and the demo loader send it.
public struct ServiceInput: Codable, Sendable {
    public var code: String?
    public var name: String?
    public var nameEn: String?
    /// Department id or code.
    public var department: String?
    /// Region id or code; defaults to the department's region.
    public var region: String?
    public var category: ServiceCategory?
    public var audience: [Audience]?
    public var caseKind: CaseKind?
    public var statutoryDays: Int?
    public var promisedDays: Int?
    public var feeYuan: Double?
    public var feeNote: String?
    public var feeNoteEn: String?
    public var conditions: String?
    public var conditionsEn: String?
    public var legalBasis: String?
    public var materials: [Material]?
    public var steps: [ProcessStep]?
    public var onlineDepth: Int?
    public var visits: Int?
    public var crossRegion: CrossRegion?
    public var zones: [String]?
    public var keywords: [String]?
    public var popularity: Int?
    public var form: FormSchema?

    public init() {}

    /// Field errors independent of the database.
    func staticErrors() -> [FieldError] {
        var errors = FieldErrors()
        func text(_ value: String?, _ field: String, max: Int, required: Bool = true) {
            let trimmed = (value ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty {
                if required { errors.add(field, "is required") }
            } else if trimmed.count > max {
                errors.add(field, "must have at most \(max) characters")
            }
        }
        let code = code ?? ""
        if code.isEmpty {
            errors.add("code", "is required")
        } else if !CodeFormat.serviceCode.matches(code) {
            errors.add("code", "must be 6–36 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        text(name, "name", max: 200)
        text(nameEn, "nameEn", max: 300)
        text(department, "department", max: 60)
        errors.check(category != nil, "category", "is required (one of \(ServiceCategory.allCases.map(\.rawValue).joined(separator: ", ")))")
        errors.check(!(audience ?? []).isEmpty, "audience", "must name person and/or enterprise")
        errors.check(caseKind != nil, "caseKind", "is required (immediate or promised)")
        let statutory = statutoryDays ?? -1
        let promised = promisedDays ?? -1
        errors.check((0...3650).contains(statutory), "statutoryDays", "must be a number of working days from 0 to 3650")
        errors.check((0...3650).contains(promised), "promisedDays", "must be a number of working days from 0 to 3650")
        if statutory >= 0 && promised > statutory { errors.add("promisedDays", "must not exceed statutoryDays") }
        if caseKind == .immediate && promised > 0 { errors.add("promisedDays", "must be 0 for an immediate case") }
        if let fee = feeYuan, !(fee.isFinite && fee >= 0 && fee <= 1_000_000) {
            errors.add("feeYuan", "must be an amount from 0 to 1000000")
        }
        text(feeNote, "feeNote", max: 500, required: false)
        text(conditions, "conditions", max: 5000, required: false)
        text(legalBasis, "legalBasis", max: 5000, required: false)
        errors.check((1...4).contains(onlineDepth ?? 4), "onlineDepth", "must be 1 to 4")
        errors.check((0...5).contains(visits ?? 0), "visits", "must be 0 to 5")
        for (index, material) in (materials ?? []).enumerated() {
            errors.check(!material.name.trimmingCharacters(in: .whitespaces).isEmpty, "materials[\(index)].name", "is required")
            errors.check((0...100).contains(material.copies), "materials[\(index)].copies", "must be 0 to 100")
        }
        errors.check((materials ?? []).count <= 100, "materials", "must have at most 100 entries")
        errors.check((steps ?? []).count <= 50, "steps", "must have at most 50 entries")
        errors.check((keywords ?? []).count <= 30, "keywords", "must have at most 30 entries")
        errors.check((popularity ?? 0) >= 0, "popularity", "must not be negative")
        for error in (form ?? FormSchema(fields: [])).definitionErrors() { errors.add(error.field, error.message) }
        return errors.errors
    }
}
