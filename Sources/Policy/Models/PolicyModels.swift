import Fluent
import Foundation
import TongbanCore

/// How a benefit reaches the enterprise: by application, by an instant (one-click) application, or
/// without any application (免申即享: granted automatically to every eligible enterprise).
public enum PolicyMode: String, Codable, Sendable, CaseIterable {
    case apply
    case applyInstantly = "apply_instantly"
    case noApplication = "no_application"
}

/// Who a policy item is for.
public enum PolicyAudience: String, Codable, Sendable, CaseIterable {
    case enterprise
    case person
}

public enum PolicyStatus: String, Codable, Sendable, CaseIterable {
    case draft
    case published
}

/// One condition of a policy item: the plain-language text a non-expert reads (zh-CN and English)
/// and the CEL rule that decides it (`profile.employees <= 100`).
public struct PolicyCondition: Codable, Sendable, Equatable {
    public var text: String
    public var textEn: String?
    public var expression: String

    public init(text: String, textEn: String? = nil, expression: String) {
        self.text = text
        self.textEn = textEn
        self.expression = expression
    }
}

/// A policy document (政策文件): the published text that one or more items (政策事项) come from.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class PolicyDocument: Model, @unchecked Sendable {
    public static let schema = "policy_documents"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @Field(key: "title_zh") public var titleZh: String
    @Field(key: "title_en") public var titleEn: String
    @Field(key: "issuer_zh") public var issuerZh: String
    @Field(key: "issuer_en") public var issuerEn: String
    @OptionalField(key: "region") public var region: String?
    @OptionalField(key: "issued_on") public var issuedOn: String?
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}

/// A policy item (政策事项): the conditions an enterprise must meet and the amount it receives.
/// Eligibility is the conjunction of the conditions; every published version was type-checked
/// against ``ProfileSchema`` when saved.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class PolicyItem: Model, @unchecked Sendable {
    public static let schema = "policy_items"

    @ID(key: .id) public var id: UUID?
    @Field(key: "code") public var code: String
    @OptionalField(key: "document_id") public var documentID: UUID?
    @Field(key: "title_zh") public var titleZh: String
    @Field(key: "title_en") public var titleEn: String
    @Field(key: "issuer_zh") public var issuerZh: String
    @Field(key: "issuer_en") public var issuerEn: String
    @OptionalField(key: "department_id") public var departmentID: UUID?
    /// JSON array of ``PolicyCondition``.
    @Field(key: "conditions") public var conditionsJSON: String
    /// CEL expression of type double or int (yuan); nil when the benefit is not an amount.
    @OptionalField(key: "amount_expression") public var amountExpression: String?
    @OptionalField(key: "valid_from") public var validFrom: String?
    @OptionalField(key: "valid_until") public var validUntil: String?
    @Field(key: "mode") public var mode: PolicyMode
    @Field(key: "audience") public var audience: PolicyAudience
    @Field(key: "status") public var status: PolicyStatus
    @Field(key: "version") public var version: Int
    @Field(key: "created_at") public var createdAt: Date
    @Field(key: "updated_at") public var updatedAt: Date
    /// JSON array of tag codes the item is for (subscribers of these tags are told when it is published).
    @OptionalField(key: "target_tags") public var targetTagsJSON: String?
    /// JSON of a ``PolicyItemRevision`` proposed for a published item; it replaces the live rules (as the next
    /// version) only when published.
    @OptionalField(key: "pending_revision") public var pendingRevisionJSON: String?

    public init() {}

    public var conditions: [PolicyCondition] {
        (try? JSONText.decode([PolicyCondition].self, conditionsJSON)) ?? []
    }

    public var targetTags: [String] {
        targetTagsJSON.flatMap { try? JSONText.decode([String].self, $0) } ?? []
    }

    public var pendingRevision: PolicyItemRevision? {
        pendingRevisionJSON.flatMap { try? JSONText.decode(PolicyItemRevision.self, $0) }
    }

    /// The live content of the item.
    public var revision: PolicyItemRevision {
        PolicyItemRevision(
            title: titleZh, titleEn: titleEn, issuer: issuerZh, issuerEn: issuerEn, conditions: conditions,
            amountExpression: amountExpression, validFrom: validFrom, validUntil: validUntil, mode: mode, tags: targetTags)
    }

    /// Makes `revision` the live content.
    public func apply(_ revision: PolicyItemRevision) throws {
        titleZh = revision.title
        titleEn = revision.titleEn
        issuerZh = revision.issuer
        issuerEn = revision.issuerEn
        conditionsJSON = try JSONText.encode(revision.conditions)
        amountExpression = revision.amountExpression
        validFrom = revision.validFrom
        validUntil = revision.validUntil
        mode = revision.mode
        targetTagsJSON = revision.tags.isEmpty ? nil : try JSONText.encode(revision.tags)
    }
}

/// An enterprise's profile (企业画像) as rules see it: the attributes are one JSON document (the
/// fields of ``ProfileSchema``), found by credit code.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class EnterpriseProfile: Model, @unchecked Sendable {
    public static let schema = "policy_profiles"

    @ID(key: .id) public var id: UUID?
    @Field(key: "credit_code") public var creditCode: String
    @Field(key: "name") public var name: String
    /// JSON object of profile attributes.
    @Field(key: "attributes") public var attributesJSON: String
    /// JSON array of the tags the tag rules computed (``TagService``); nil until computed.
    @OptionalField(key: "computed_tags") public var computedTagsJSON: String?
    @Field(key: "updated_at") public var updatedAt: Date

    public init() {}
}
