import CEL
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Policy (惠企政策): rules as CEL expressions over a declared enterprise profile, policy documents and
/// items, enterprise profiles, matching with a per-condition diagnosis, offline batch matching.
public struct PolicyModule: TongbanModule {
    public let name = "policy"

    public init() {}

    public var migrations: [any Migration] { [CreatePolicy(), CreatePolicyBenefits(), CreatePolicyTags(), CreatePolicyMatching()] }

    public func boot(_ app: Application) throws {
        try app.register(collection: PolicyController())
        try app.register(collection: BenefitsController())
        try app.register(collection: TagsController())
        try app.register(collection: MatchingController())
        try app.register(collection: PolicyPages())
        app.jobs.register(MatchingService.job) { _, app in
            _ = try await MatchingService(db: app.db, clock: app.clock).run(mode: .incremental)
        }
        Self.documentMatching(app.apiDocumentation)
        let tagRule = Schema.object([
            "code": Schema.string, "dimension": Schema.string, "name": Schema.string, "nameEn": Schema.string,
            "expression": Schema.string, "version": Schema.integer, "updatedAt": Schema.dateTime,
        ])
        app.apiDocumentation.add(APIOperation(
            .GET, "/api/v1/policy/tags", summary: "Tag rules by dimension", tag: "policy", response: Schema.array(tagRule), problems: []))
        app.apiDocumentation.add(APIOperation(
            .PUT, "/api/v1/policy/tags/{code}", summary: "Create or replace a tag rule (type-checked); every profile's tags are recomputed",
            tag: "policy", requiresAuth: true,
            request: Schema.object(["dimension": Schema.string, "name": Schema.string, "nameEn": Schema.string, "expression": Schema.string]),
            response: Schema.object(["rule": tagRule, "recomputed": Schema.object([:])]), problems: [401, 403, 422]))
        app.apiDocumentation.add(APIOperation(
            .POST, "/api/v1/policy/tags/recompute", summary: "Recompute every profile's tags", tag: "policy", requiresAuth: true,
            response: Schema.object(["profiles": Schema.integer, "tagged": Schema.object([:]), "errors": Schema.integer]), problems: [401, 403]))
        app.apiDocumentation.add(APIOperation(
            .GET, "/api/v1/policy/profiles/{uscc}/tags", summary: "An enterprise's tags (stored and computed)", tag: "policy",
            requiresAuth: true, response: Schema.object(["creditCode": Schema.string, "tags": Schema.array(Schema.object([:]))]),
            problems: [401, 404]))
        let benefit = Schema.object([
            "id": Schema.uuid, "itemId": Schema.uuid, "itemCode": Schema.string, "itemVersion": Schema.integer,
            "enterpriseName": Schema.string, "creditCode": Schema.string, "amount": Schema.number, "status": Schema.string,
            "conditions": Schema.array(Schema.object([:])), "inputs": Schema.object([:]), "bankAccount": Schema.string,
            "paymentReference": Schema.string, "decidedAt": Schema.dateTime,
        ])
        app.apiDocumentation.add(APIOperation(
            .POST, "/api/v1/policy/items/{id}/run", summary: "免申即享: decide a no-application item for every stored enterprise profile",
            tag: "policy", requiresAuth: true,
            response: Schema.object(["item": Schema.string, "version": Schema.integer, "evaluated": Schema.integer, "eligible": Schema.integer,
                                     "notified": Schema.integer, "alreadyDecided": Schema.integer, "errors": Schema.integer]),
            problems: [401, 403, 404, 409]))
        app.apiDocumentation.add(APIOperation(
            .POST, "/api/v1/policy/person/diagnosis",
            summary: "A person's own profile from the departments' data (sources named) and every person item diagnosed (e.g. school places)",
            tag: "policy", requiresAuth: true,
            response: Schema.object(["profile": Schema.object([:]), "sources": Schema.array(Schema.object([:])), "matches": Schema.array(Schema.object([:]))]),
            problems: [401, 403]))
        app.apiDocumentation.add(APIOperation(
            .GET, "/api/v1/policy/benefits", summary: "Benefit notices of the enterprise the caller acts for", tag: "policy",
            requiresAuth: true, response: Schema.array(benefit), problems: [401, 403]))
        app.apiDocumentation.add(APIOperation(
            .GET, "/api/v1/policy/benefits/{id}", summary: "One benefit with the rule version, inputs and condition results that decided it",
            tag: "policy", requiresAuth: true, response: benefit, problems: [401, 404]))
        app.apiDocumentation.add(APIOperation(
            .POST, "/api/v1/policy/benefits/{id}/confirm", summary: "The enterprise confirms with its corporate bank account", tag: "policy",
            requiresAuth: true, request: Schema.object(["bankAccount": Schema.string, "accountName": Schema.string]), response: benefit,
            problems: [401, 404, 409, 422]))
        app.apiDocumentation.add(APIOperation(
            .POST, "/api/v1/policy/benefits/{id}/decline", summary: "The enterprise declines", tag: "policy", requiresAuth: true,
            response: benefit, problems: [401, 404, 409]))
        app.apiDocumentation.add(APIOperation(
            .POST, "/api/v1/policy/benefits/{id}/paid", summary: "Policy staff record the transfer", tag: "policy", requiresAuth: true,
            request: Schema.object(["reference": Schema.string]), response: benefit, problems: [401, 403, 404, 409, 422]))
        app.apiDocumentation.add(APIOperation(
            .GET, "/api/v1/policy/payments", summary: "Benefits for policy staff (?status=confirmed: payments to make)", tag: "policy",
            requiresAuth: true, response: Schema.array(benefit), problems: [400, 401, 403], query: ["status"]))
        let docs = app.apiDocumentation
        let condition = Schema.object(["text": Schema.string, "textEn": Schema.string, "expression": Schema.string])
        docs.addSchema("PolicyItem", Schema.object([
            "id": Schema.uuid, "code": Schema.string, "documentId": Schema.uuid, "title": Schema.string, "titleEn": Schema.string,
            "issuer": Schema.string, "issuerEn": Schema.string, "departmentId": Schema.uuid,
            "conditions": Schema.array(condition), "amountExpression": Schema.string, "validFrom": Schema.string,
            "validUntil": Schema.string, "mode": Schema.string, "audience": Schema.string, "status": Schema.string,
            "version": Schema.integer, "updatedAt": Schema.dateTime, "tags": Schema.array(Schema.string),
            "pendingRevision": Schema.object([:]),
        ]))
        let match = Schema.object([
            "itemId": Schema.uuid, "code": Schema.string, "title": Schema.string, "titleEn": Schema.string, "mode": Schema.string,
            "eligible": Schema.boolean, "amount": Schema.number, "amountError": Schema.string,
            "conditions": Schema.array(Schema.object([
                "text": Schema.string, "textEn": Schema.string, "result": Schema.string, "detail": Schema.string,
            ])),
        ])
        docs.add(APIOperation(
            .POST, "/api/v1/policy/expressions/evaluate",
            summary: "Evaluate a CEL expression against a context (200 {value} or {error}; 422 with line/column for syntax errors)",
            tag: "policy", requiresAuth: true,
            request: Schema.object(["expression": Schema.string, "context": Schema.object([:])], required: ["expression"]),
            response: Schema.object(["value": Schema.object([:]), "error": Schema.string, "code": Schema.string]),
            problems: [400, 401, 422]))
        docs.add(APIOperation(
            .POST, "/api/v1/policy/match",
            summary: "Match a profile (or a stored enterprise profile by uscc) against every published item, condition by condition",
            tag: "policy", requiresAuth: true,
            request: Schema.object(["profile": Schema.object([:]), "uscc": Schema.string]),
            response: Schema.object(["matches": Schema.array(match)]), problems: [400, 401, 404, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/policy/items", summary: "Published policy items (policy staff: ?status=draft)", tag: "policy",
            response: Schema.page(of: Schema.ref("PolicyItem")), problems: [401, 403, 422], query: ["status", "limit", "cursor"]))
        docs.add(APIOperation(
            .POST, "/api/v1/policy/items",
            summary: "Create a draft item (department or system admin); rules are type-checked against the profile schema",
            tag: "policy", requiresAuth: true,
            request: Schema.object([
                "code": Schema.string, "title": Schema.string, "titleEn": Schema.string, "issuer": Schema.string,
                "issuerEn": Schema.string, "documentId": Schema.uuid, "departmentId": Schema.uuid,
                "conditions": Schema.array(condition), "amountExpression": Schema.string, "validFrom": Schema.string,
                "validUntil": Schema.string, "mode": Schema.string, "audience": Schema.string, "tags": Schema.array(Schema.string),
            ]),
            response: Schema.ref("PolicyItem"), success: 201, problems: [400, 401, 403, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/policy/items/{id}", summary: "One policy item (drafts: policy staff)", tag: "policy",
            response: Schema.ref("PolicyItem"), problems: [404]))
        docs.add(APIOperation(
            .POST, "/api/v1/policy/items/{id}/publish", summary: "Publish a draft (version 1) or a published item's pending revision (the next version); policy staff", tag: "policy",
            requiresAuth: true, response: Schema.ref("PolicyItem"), problems: [401, 403, 404, 409]))
        docs.add(APIOperation(
            .GET, "/api/v1/policy/schema", summary: "The enterprise profile fields rules may read (CEL types)", tag: "policy",
            response: Schema.object([
                "variable": Schema.string,
                "fields": Schema.array(Schema.object([
                    "name": Schema.string, "type": Schema.string, "description": Schema.string, "descriptionEn": Schema.string,
                ])),
            ]), problems: []))
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {
        try await PolicyDemo(db: app.db, clock: app.clock).load(progress: options.progress)
    }
}

/// Demo policy documents and items (`Resources/Demo/policy.json`, modelled on Xiamen's 免申即享 and
/// Changsha Furong's policy calculator) and synthetic enterprise profiles, including the demo
/// enterprise's.
public struct PolicyDemo: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock = .system) {
        self.db = db
        self.clock = clock
    }

    struct Seed: Decodable {
        struct Document: Decodable {
            var code: String
            var titleZh: String
            var titleEn: String
            var issuerZh: String
            var issuerEn: String
            var region: String?
            var issuedOn: String?
        }

        struct Item: Decodable {
            var code: String
            var document: String
            var title: String
            var titleEn: String
            var conditions: [PolicyCondition]
            var amountExpression: String?
            var mode: PolicyMode
            var validFrom: String?
            var validUntil: String?
            var audience: PolicyAudience?
        }

        var documents: [Document]
        var items: [Item]
    }

    /// 济南泉城食品有限公司 (the demo enterprise): its credit code.
    public static var demoEnterpriseCode: String {
        let code = "91370100MA3C" + "5Q8K7"
        return code + String(CreditCode.checkCharacter(for: code) ?? "0")
    }

    /// Synthetic profiles in the demo data (besides the demo enterprise's).
    public static let syntheticProfiles = 300

    public func load(progress: @Sendable (String) -> Void) async throws {
        let seed: Seed = try DemoResources.load("policy.json")
        let now = clock.now()
        var documents: [String: PolicyDocument] = [:]
        for d in try await PolicyDocument.query(on: db).all() { documents[d.code] = d }
        for s in seed.documents where documents[s.code] == nil {
            let d = PolicyDocument()
            d.code = s.code
            d.titleZh = s.titleZh
            d.titleEn = s.titleEn
            d.issuerZh = s.issuerZh
            d.issuerEn = s.issuerEn
            d.region = s.region
            d.issuedOn = s.issuedOn
            d.createdAt = now
            try await d.create(on: db)
            documents[s.code] = d
        }
        let existing = Set(try await PolicyItem.query(on: db).all(\.$code))
        var added = 0
        for s in seed.items where !existing.contains(s.code) {
            do { _ = try CompiledPolicyItem.compile(conditions: s.conditions, amount: s.amountExpression, audience: s.audience ?? .enterprise) } catch {
                throw Problem(.internalServerError, title: "Demo policy item \(s.code) does not compile: \(error.errors.map { $0.message })")
            }
            let document = documents[s.document]
            let item = PolicyItem()
            item.code = s.code
            item.documentID = document?.id
            item.titleZh = s.title
            item.titleEn = s.titleEn
            item.issuerZh = document?.issuerZh ?? ""
            item.issuerEn = document?.issuerEn ?? ""
            item.conditionsJSON = try JSONText.encode(s.conditions)
            item.amountExpression = s.amountExpression
            item.validFrom = s.validFrom
            item.validUntil = s.validUntil
            item.mode = s.mode
            item.audience = s.audience ?? .enterprise
            item.status = .published
            item.version = 1
            item.createdAt = now
            item.updatedAt = now
            try await item.create(on: db)
            added += 1
        }
        let profiles = Self.profiles()
        let known = Set(try await EnterpriseProfile.query(on: db).all(\.$creditCode))
        let missing = profiles.filter { !known.contains($0.creditCode) }
        if !missing.isEmpty {
            for m in missing { m.updatedAt = now }
            try await db.transaction { db in
                for start in stride(from: 0, to: missing.count, by: 100) {
                    try await Array(missing[start..<min(missing.count, start + 100)]).create(on: db)
                }
            }
        }
        // Tag rules in four dimensions (Changsha Furong's 19 dimensions are the model), computed over every profile.
        let tagSeeds: [(String, String, String, String, String)] = [
            ("scale_micro", "scale", "微型企业", "Micro enterprise", "profile.employees < 10"),
            ("scale_small", "scale", "小型企业", "Small enterprise", "profile.employees >= 10 && profile.employees < 100"),
            ("scale_medium", "scale", "中型企业", "Medium enterprise", "profile.employees >= 100 && profile.employees < 300"),
            ("scale_large", "scale", "大型企业", "Large enterprise", "profile.employees >= 300"),
            ("manufacturing", "industry", "制造业", "Manufacturing", "profile.industry == 'C'"),
            ("rd_intensive", "innovation", "研发投入强度≥3%", "R&D intensity ≥ 3 %", "profile.revenue > 0.0 && profile.rdSpend / profile.revenue >= 0.03"),
            ("credit_a", "credit", "纳税信用A级", "Tax credit A", "profile.creditRating == 'A'"),
        ]
        let knownTags = Set(try await PolicyTagRule.query(on: db).all(\.$code))
        var newTags = 0
        for (code, dimension, name, nameEn, expression) in tagSeeds where !knownTags.contains(code) {
            let rule = PolicyTagRule()
            rule.code = code
            rule.dimension = dimension
            rule.nameZh = name
            rule.nameEn = nameEn
            rule.expression = expression
            rule.version = 1
            rule.updatedAt = now
            try await rule.create(on: db)
            newTags += 1
        }
        if newTags > 0 || !missing.isEmpty { _ = try await TagService(db: db, clock: clock).recompute() }
        progress("policy: \(seed.items.count) items (\(added) new), \(profiles.count) enterprise profiles (\(missing.count) new), \(tagSeeds.count) tag rules")
    }

    /// The demo enterprise's profile plus ``syntheticProfiles`` deterministic ones in Xiamen, Changsha
    /// Furong and Jinan.
    static func profiles() -> [EnterpriseProfile] {
        var out: [EnterpriseProfile] = []
        // The demo enterprise: a food manufacturer in Jinan. No layoff rate on file, so conditions that
        // need it come out as "missing".
        let demo: [String: CELValue] = [
            "creditCode": .string(demoEnterpriseCode), "name": .string("济南泉城食品有限公司"), "industry": "C",
            "industryCode": "C14", "region": "370102", "registeredAt": "2016-03-18T00:00:00Z",
            "registeredCapital": .double(5_000_000), "employees": .int(85), "revenue": .double(18_000_000),
            "taxPaid": .double(420_000), "rdSpend": .double(650_000), "qualifications": ["specialised_sme"],
            "creditRating": "A", "tags": ["food", "export"], "newHires": .int(6),
        ]
        out.append(profile(demo))
        for n in 0..<syntheticProfiles { out.append(synthetic(n)) }
        return out
    }

    /// The `n`-th deterministic synthetic enterprise profile (demo data and `tongban bench policy-matching`).
    public static func synthetic(_ n: Int) -> EnterpriseProfile {
        let sections = ["C", "C", "C", "F", "G", "I", "I", "K", "L", "M", "M", "E"]
        let codes = ["C13", "C14", "C39", "F51", "G52", "I64", "I65", "K66", "L70", "M73", "M75", "E48"]
        let regions = ["350203", "350206", "350211", "430102", "430102", "370102"]
        let ratings = ["A", "A", "B", "B", "B", "M", "C"]
        let qualifications = ["high_tech", "specialised_sme", "high_tech_candidate"]
        let prefixes = ["厦门", "鹭岛", "芙蓉", "湘江", "泉城", "海西"]
        let suffixes = ["科技有限公司", "制造有限公司", "信息技术有限公司", "商贸有限公司", "服务有限公司"]
        var rng = SplitMix(state: UInt64(n + 1) &* 0x2545_F491_4F6C_DD1D)
        let region = regions[rng.int(regions.count)]
        let body = "91" + region + "MA" + String(format: "%07d", n + 1)
        let creditCode = body + String(CreditCode.checkCharacter(for: body) ?? "0")
        let sector = rng.int(sections.count)
        let employees = Int64(1 + rng.int(500))
        let revenue = (rng.double(0.2, 60) * 1_000_000).rounded()
        var quals: [CELValue] = []
        for q in qualifications where rng.int(4) == 0 { quals.append(.string(q)) }
        var tags: [CELValue] = []
        if rng.int(3) == 0 { tags.append("office_building") }
        var fields: [String: CELValue] = [
            "creditCode": .string(creditCode),
            "name": .string(prefixes[n % prefixes.count] + String(format: "%03d", n + 1) + suffixes[rng.int(suffixes.count)]),
            "industry": .string(sections[sector]), "industryCode": .string(codes[sector]), "region": .string(region),
            "registeredAt": .string(String(format: "%04d-%02d-15T00:00:00Z", 2000 + rng.int(26), 1 + rng.int(12))),
            "registeredCapital": .double(Double(1 + rng.int(100)) * 500_000), "employees": .int(employees),
            "revenue": .double(revenue), "taxPaid": .double((revenue * rng.double(0, 0.06)).rounded()),
            "rdSpend": .double((revenue * rng.double(0, 0.1)).rounded()), "qualifications": .list(quals),
            "creditRating": .string(ratings[rng.int(ratings.count)]), "tags": .list(tags),
            "newHires": .int(Int64(rng.int(30))),
        ]
        // Most profiles have a layoff rate; some lack it (data not yet shared by the insurance office).
        if rng.int(5) != 0 { fields["layoffRate"] = .double((rng.double(0, 0.12) * 1000).rounded() / 1000) }
        return profile(fields)
    }

    static func profile(_ fields: [String: CELValue]) -> EnterpriseProfile {
        let p = EnterpriseProfile()
        if case .string(let code)? = fields["creditCode"] { p.creditCode = code }
        if case .string(let name)? = fields["name"] { p.name = name }
        p.attributesJSON = CELValue.object(fields).jsonString()
        p.updatedAt = Date()
        return p
    }
}
