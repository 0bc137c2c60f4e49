import CEL
import Fluent
import Foundation
import SQLKit
import TongbanCore
import Vapor

/// A tag rule (标签规则): a CEL condition over the enterprise profile that, when true, gives the enterprise the
/// tag `code` in a dimension (industry, scale, innovation, credit, region, …).
public final class PolicyTagRule: Model, @unchecked Sendable {
    public static let schema = "policy_tag_rules"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "dimension") public var dimension: String
    @Field(key: "name_zh") public var nameZh: String
    @Field(key: "name_en") public var nameEn: String
    @Field(key: "expression") public var expression: String
    @Field(key: "version") public var version: Int
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}
}

struct CreatePolicyTags: AsyncMigration {
    var name: String { "Policy.CreatePolicyTags" }

    func prepare(on database: any Database) async throws {
        try await database.schema(PolicyTagRule.schema)
            .id()
            .field("code", .string, .required)
            .field("dimension", .string, .required)
            .field("name_zh", .string, .required)
            .field("name_en", .string, .required)
            .field("expression", .string, .required)
            .field("version", .int, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "code")
            .create()
        try await database.schema(EnterpriseProfile.schema).field("computed_tags", .string).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(EnterpriseProfile.schema).deleteField("computed_tags").update()
        try await database.schema(PolicyTagRule.schema).delete()
    }
}

extension EnterpriseProfile {
    /// The profile as rules read it: the stored attributes, with `tags` = the stored tags plus the tags the
    /// tag rules computed.
    public func celValue() throws -> CELValue {
        try Self.celValue(attributes: attributesJSON, computedTags: computedTagsJSON)
    }

    /// The profile as rules read it, from the stored columns.
    public static func celValue(attributes: String, computedTags: String?) throws -> CELValue {
        let stored = try CELValue.fromJSON(attributes)
        let computed = computedTags.flatMap { try? JSONText.decode([String].self, $0) } ?? []
        guard !computed.isEmpty, case .map(let map) = stored else { return stored }
        var fields: [String: CELValue] = [:]
        for (key, value) in map.entries { if case .string(let k) = key { fields[k] = value } }
        var tags: [String] = []
        if case .list(let existing)? = fields["tags"] {
            tags = existing.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
        }
        for tag in computed where !tags.contains(tag) { tags.append(tag) }
        fields["tags"] = .list(tags.map { .string($0) })
        return .object(fields)
    }
}

/// Tag rules and their recomputation over every stored profile (when a rule changes) or one profile.
public struct TagService: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock) {
        self.db = db
        self.clock = clock
    }

    public static let dimensions = ["industry", "scale", "innovation", "credit", "region", "employment", "other"]

    public struct RuleInput: Content {
        public var dimension: String?
        public var name: String?
        public var nameEn: String?
        public var expression: String?
    }

    public struct Recomputed: Content {
        public var profiles: Int
        public var tagged: [String: Int]
        public var errors: Int
    }

    /// Creates or replaces the rule `code` (policy staff); every profile's computed tags are recomputed.
    public func save(code: String, _ input: RuleInput, principal: Principal) async throws -> (PolicyTagRule, Recomputed) {
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        var errors = FieldErrors()
        errors.check(
            (2...40).contains(code.count) && code.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") },
            "code", "must be 2–40 lower-case letters, digits or '_'")
        let dimension = input.dimension ?? ""
        errors.check(Self.dimensions.contains(dimension), "dimension", "must be one of \(Self.dimensions.joined(separator: ", "))")
        let name = input.name?.trimmingCharacters(in: .whitespaces) ?? ""
        errors.check((1...60).contains(name.count), "name", "is required (at most 60 characters)")
        let expression = input.expression ?? ""
        errors.check(!expression.isEmpty, "expression", "is required")
        try errors.throwIfAny()
        do {
            _ = try CELProgram.compile(expression, declarations: ProfileSchema.declarations, expecting: .bool)
        } catch {
            throw RuleProblem(errors: [RuleError(field: "expression", error)])
        }
        let rule = try await PolicyTagRule.query(on: db).filter(\.$code == code).first() ?? PolicyTagRule()
        let isNew = rule.id == nil
        rule.code = code
        rule.dimension = dimension
        rule.nameZh = name
        rule.nameEn = input.nameEn ?? name
        rule.expression = expression
        rule.version = isNew ? 1 : rule.version + 1
        rule.updatedAt = clock.now()
        try await rule.save(on: db)
        return (rule, try await recompute())
    }

    /// Recomputes the computed tags of every stored profile (in pages of 1,000) from every rule, or only of the
    /// profiles of `creditCodes` (after an import or an edit).
    public func recompute(creditCodes: [String]? = nil) async throws -> Recomputed {
        let rules = try await PolicyTagRule.query(on: db).sort(\.$code).all()
        var programs: [(String, CELProgram)] = []
        for rule in rules {
            if let program = try? CELProgram.compile(rule.expression, declarations: ProfileSchema.declarations, expecting: .bool) {
                programs.append((rule.code, program))
            }
        }
        var result = Recomputed(profiles: 0, tagged: [:], errors: 0)
        var lastID: UUID?
        let now = clock.now()
        while true {
            var query = EnterpriseProfile.query(on: db).sort(\.$id).limit(1000)
            if let lastID { query = query.filter(\.$id > lastID) }
            if let creditCodes { query = query.filter(\.$creditCode ~~ creditCodes) }
            let page = try await query.all()
            guard let last = page.last else { break }
            lastID = last.id
            var updates: [(UUID, String)] = []
            for profile in page {
                result.profiles += 1
                // Rules read the stored profile (its own tags, not other rules' results), so the order of rules
                // never matters.
                guard let value = try? CELValue.fromJSON(profile.attributesJSON) else { result.errors += 1; continue }
                var tags: [String] = []
                for (code, program) in programs {
                    var activation: [String: CELValue] = ["profile": value]
                    if let t = CELTimestamp(seconds: Int64(now.timeIntervalSince1970.rounded(.down))) { activation["now"] = .timestamp(t) }
                    switch program.evaluate(activation) {
                    case .bool(true): tags.append(code); result.tagged[code, default: 0] += 1
                    case .bool(false): break
                    default: result.errors += 1
                    }
                }
                let text = try JSONText.encode(tags)
                if text != profile.computedTagsJSON, let id = profile.id { updates.append((id, text)) }
            }
            let pending = updates
            try await db.writeTransaction { tx in
                for (id, text) in pending {
                    try await EnterpriseProfile.query(on: tx).filter(\.$id == id).set(\.$computedTagsJSON, to: text)
                        .set(\.$updatedAt, to: now).update()
                }
            }
        }
        return result
    }
}
