import CEL
import Fluent
import Foundation
import Identity
import TongbanCore

/// One item's result for one profile.
public struct PolicyMatch: Codable, Sendable {
    public var itemId: UUID
    public var code: String
    public var title: String
    public var titleEn: String
    public var mode: PolicyMode
    public var eligible: Bool
    public var amount: Double?
    public var amountError: String?
    public var conditions: [CompiledPolicyItem.ConditionResult]

    enum CodingKeys: String, CodingKey {
        case itemId, code, title, titleEn, mode, eligible, amount, amountError, conditions
    }

    /// `amount` is always present (null when not eligible or not an amount).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(itemId, forKey: .itemId)
        try c.encode(code, forKey: .code)
        try c.encode(title, forKey: .title)
        try c.encode(titleEn, forKey: .titleEn)
        try c.encode(mode, forKey: .mode)
        try c.encode(eligible, forKey: .eligible)
        try c.encode(amount, forKey: .amount)
        try c.encodeIfPresent(amountError, forKey: .amountError)
        try c.encode(conditions, forKey: .conditions)
    }
}

/// Policy items, enterprise profiles and matching.
public struct PolicyService: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock = .system) {
        self.db = db
        self.clock = clock
    }

    public static let itemNotFound = Problem.notFound("Policy item", type: "/problems/policy-item-not-found")
    public static let profileNotFound = Problem.notFound("Enterprise profile", type: "/problems/profile-not-found")

    // MARK: Items

    public struct ItemInput: Codable, Sendable {
        public var code: String?
        public var title: String?
        public var titleEn: String?
        public var issuer: String?
        public var issuerEn: String?
        public var documentId: UUID?
        public var departmentId: UUID?
        public var conditions: [PolicyCondition]?
        public var amountExpression: String?
        public var validFrom: String?
        public var validUntil: String?
        public var mode: PolicyMode?
        public var audience: PolicyAudience?
        /// Tag codes the item is for.
        public var tags: [String]?

        public init() {}

        init(code: String?, title: String?, titleEn: String?, issuer: String?, issuerEn: String?, documentId: UUID?, departmentId: UUID?,
             conditions: [PolicyCondition]?, amountExpression: String?, validFrom: String?, validUntil: String?, mode: PolicyMode?,
             audience: PolicyAudience?, tags: [String]?)
        {
            self.code = code
            self.title = title
            self.titleEn = titleEn
            self.issuer = issuer
            self.issuerEn = issuerEn
            self.documentId = documentId
            self.departmentId = departmentId
            self.conditions = conditions
            self.amountExpression = amountExpression
            self.validFrom = validFrom
            self.validUntil = validUntil
            self.mode = mode
            self.audience = audience
            self.tags = tags
        }
    }

    /// Whether the principal may edit policy items of `department` (system admins: all; department
    /// admins: their departments).
    public static func isPolicyStaff(_ principal: Principal, department: UUID? = nil) -> Bool {
        if principal.isSystemAdmin { return true }
        let mine = principal.departments(with: [.departmentAdmin])
        if let department { return mine.contains(department) }
        return !mine.isEmpty
    }

    /// Creates a draft item; every rule is type-checked against ``ProfileSchema`` first.
    public func create(_ input: ItemInput, principal: Principal) async throws -> PolicyItem {
        guard Self.isPolicyStaff(principal) else { throw Problem.forbidden }
        var errors = FieldErrors()
        let code = (input.code ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        errors.check(
            (2...64).contains(code.count) && code.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") },
            "code", "must be 2–64 letters, digits, '-', '_' or '.'")
        var department = input.departmentId
        if !principal.isSystemAdmin {
            let mine = principal.departments(with: [.departmentAdmin])
            if let d = department {
                if !mine.contains(d) { errors.add("departmentId", "is not a department you administer") }
            } else {
                department = mine.sorted { $0.uuidString < $1.uuidString }.first
            }
        }
        if !code.isEmpty, try await PolicyItem.query(on: db).filter(\.$code == code).first() != nil {
            errors.add("code", "is already used")
        }
        if let documentId = input.documentId, try await PolicyDocument.find(documentId, on: db) == nil {
            errors.add("documentId", "is not a policy document")
        }
        let audience = input.audience ?? .enterprise
        let revision = try await revision(from: input, base: nil, audience: audience, errors: &errors)
        let item = PolicyItem()
        item.code = code
        item.documentID = input.documentId
        item.departmentID = department
        try item.apply(revision)
        item.audience = audience
        item.status = .draft
        item.version = 1
        item.createdAt = clock.now()
        item.updatedAt = item.createdAt
        try await item.create(on: db)
        return item
    }

    /// Validates an edit (`input` fields left out keep `base`'s values) and type-checks its rules: every
    /// field error at once (422), then every rule error with line and column (``RuleProblem``).
    func revision(from input: ItemInput, base: PolicyItemRevision?, audience: PolicyAudience, errors: inout FieldErrors)
        async throws -> PolicyItemRevision
    {
        let title = (input.title ?? base?.title ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        errors.check(!title.isEmpty && title.count <= 200, "title", "is required (at most 200 characters)")
        let conditions = input.conditions ?? base?.conditions ?? []
        errors.check(!conditions.isEmpty && conditions.count <= 50, "conditions", "must list 1–50 conditions")
        for (i, c) in conditions.enumerated() {
            errors.check(!c.text.trimmingCharacters(in: .whitespaces).isEmpty, "conditions[\(i)].text", "is required")
        }
        let validFrom = input.validFrom ?? base?.validFrom
        let validUntil = input.validUntil ?? base?.validUntil
        for (field, value) in [("validFrom", validFrom), ("validUntil", validUntil)] {
            if let value, !value.isEmpty { errors.check(LocalDate(value) != nil, field, "must be a date YYYY-MM-DD") }
        }
        if let from = validFrom, let until = validUntil, !from.isEmpty, !until.isEmpty, from > until {
            errors.add("validUntil", "is before validFrom")
        }
        let tags = input.tags ?? base?.tags ?? []
        errors.check(tags.count <= 20, "tags", "at most 20 tags")
        if !tags.isEmpty {
            let known = Set(try await PolicyTagRule.query(on: db).all(\.$code))
            for tag in tags where !known.contains(tag) { errors.add("tags", "'\(tag)' is not a tag rule code") }
        }
        try errors.throwIfAny()
        let amount = input.amountExpression ?? base?.amountExpression
        let amountExpression = (amount?.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ?? true) ? nil : amount
        _ = try CompiledPolicyItem.compile(conditions: conditions, amount: amountExpression, audience: audience)
        return PolicyItemRevision(
            title: title, titleEn: input.titleEn ?? base?.titleEn ?? title, issuer: input.issuer ?? base?.issuer ?? "",
            issuerEn: input.issuerEn ?? base?.issuerEn ?? input.issuer ?? base?.issuer ?? "", conditions: conditions,
            amountExpression: amountExpression, validFrom: validFrom?.isEmpty == true ? nil : validFrom,
            validUntil: validUntil?.isEmpty == true ? nil : validUntil, mode: input.mode ?? base?.mode ?? .apply,
            tags: Array(Set(tags)).sorted())
    }

    /// The item, when the principal may edit it (404 for drafts of others, 403 for published items of others).
    func editable(_ id: UUID, principal: Principal) async throws -> PolicyItem {
        guard let item = try await PolicyItem.find(id, on: db) else { throw Self.itemNotFound }
        guard Self.isPolicyStaff(principal, department: principal.isSystemAdmin ? nil : item.departmentID) else {
            throw item.status == .published ? Problem.forbidden : Self.itemNotFound
        }
        return item
    }

    /// PUT /api/v1/policy/items/{id}: a draft changes in place; a published item keeps its live rules and
    /// gets a pending revision, which becomes the next version when published.
    public func update(_ id: UUID, _ input: ItemInput, principal: Principal) async throws -> PolicyItem {
        let item = try await editable(id, principal: principal)
        var errors = FieldErrors()
        if let code = input.code, code != item.code { errors.add("code", "cannot change (create a new item instead)") }
        if let audience = input.audience, audience != item.audience { errors.add("audience", "cannot change") }
        let base = item.status == .published ? (item.pendingRevision ?? item.revision) : item.revision
        let revision = try await revision(from: input, base: base, audience: item.audience, errors: &errors)
        if item.status == .draft {
            try item.apply(revision)
        } else {
            item.pendingRevisionJSON = revision == item.revision ? nil : try JSONText.encode(revision)
        }
        // Batch matching reads `updated_at` as "the live rules changed"; a pending revision does not change them.
        if item.status == .published {
            try await PolicyItem.query(on: db).filter(\.$id == id).set(\.$pendingRevisionJSON, to: item.pendingRevisionJSON).update()
            return item
        }
        item.updatedAt = clock.now()
        try await item.save(on: db)
        return item
    }

    /// Publishes a draft (version 1) or a published item's pending revision (the next version). Every
    /// version is archived; subscribers of the item's tags get a notice; batch matching picks the change up.
    public func publish(_ id: UUID, principal: Principal) async throws -> PolicyItem {
        let item = try await editable(id, principal: principal)
        let now = clock.now()
        if item.status == .published {
            guard let pending = item.pendingRevision else {
                throw Problem.conflict("The item is already published and has no pending revision.")
            }
            try item.apply(pending)
            item.pendingRevisionJSON = nil
            item.version += 1
        }
        item.status = .published
        item.updatedAt = now
        try await db.writeTransaction { tx in
            try await item.save(on: tx)
            let version = PolicyItemVersion()
            version.itemID = try item.requireID()
            version.version = item.version
            version.snapshotJSON = try JSONText.encode(item.revision)
            version.publishedAt = now
            version.publishedBy = principal.userID
            try await version.create(on: tx)
            try await MatchingService.notifySubscribers(of: item, on: tx, now: now)
        }
        return item
    }

    /// Every published version of an item, newest first.
    public func versions(_ id: UUID, principal: Principal?) async throws -> [PolicyItemVersion] {
        let item = try await visible(id, principal: principal)
        return try await PolicyItemVersion.query(on: db).filter(\.$itemID == item.requireID()).sort(\.$version, .descending).all()
    }

    /// An item the principal may see: published ones for anyone, drafts for policy staff.
    public func visible(_ id: UUID, principal: Principal?) async throws -> PolicyItem {
        guard let item = try await PolicyItem.find(id, on: db) else { throw Self.itemNotFound }
        if item.status == .published { return item }
        guard let principal, Self.isPolicyStaff(principal, department: principal.isSystemAdmin ? nil : item.departmentID) else {
            throw Self.itemNotFound
        }
        return item
    }

    public func list(status: PolicyStatus, paging: Paging) async throws -> CursorPage<PolicyItem> {
        let rows = try await PolicyItem.query(on: db).filter(\.$status == status).sort(\.$code)
            .range(paging.offset..<(paging.offset + paging.limit + 1)).all()
        return paging.page(rows)
    }

    // MARK: Profiles and matching

    /// The stored profile of `uscc`, for staff and for members of that enterprise (404 for others).
    public func profile(uscc raw: String, principal: Principal) async throws -> CELValue {
        let uscc = raw.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        if !principal.isStaff {
            let mine = try await EnterpriseService(db: db).enterprises(of: principal.userID)
            guard mine.contains(where: { $0.creditCode == uscc }) else { throw Self.profileNotFound }
        }
        guard let stored = try await EnterpriseProfile.query(on: db).filter(\.$creditCode == uscc).first() else {
            throw Self.profileNotFound
        }
        do {
            return try stored.celValue()
        } catch {
            throw Problem(.internalServerError, title: "Stored profile unreadable")
        }
    }

    /// Every published, currently valid enterprise item diagnosed for `profile`: eligible ones first
    /// (largest amount first), then the others by code.
    public func match(_ profile: CELValue, audience: PolicyAudience = .enterprise) async throws -> [PolicyMatch] {
        let now = clock.now()
        let today = LocalDate(now).description
        let items = try await PolicyItem.query(on: db).filter(\.$status == .published).filter(\.$audience == audience)
            .sort(\.$code).all()
        var out: [PolicyMatch] = []
        for item in items {
            if let from = item.validFrom, from > today { continue }
            if let until = item.validUntil, until < today { continue }
            guard let compiled = Self.compiled(item) else { continue }
            let d = compiled.diagnose(profile, now: now)
            var amount: Double?
            var amountError: String?
            switch d.amount {
            case .double(let v)?: amount = v.isFinite ? v : nil
            case .int(let v)?: amount = Double(v)
            case .error(let e)?: amountError = e.description
            default: break
            }
            out.append(PolicyMatch(
                itemId: try item.requireID(), code: item.code, title: item.titleZh, titleEn: item.titleEn, mode: item.mode,
                eligible: d.eligible, amount: amount, amountError: amountError, conditions: d.conditions))
        }
        return out.sorted { a, b in
            if a.eligible != b.eligible { return a.eligible }
            if (a.amount ?? 0) != (b.amount ?? 0) { return (a.amount ?? 0) > (b.amount ?? 0) }
            return a.code < b.code
        }
    }

    /// Compiled items by id and version (items are immutable per version).
    static let cache = CompiledCache()

    static func compiled(_ item: PolicyItem) -> CompiledPolicyItem? {
        let key = "\(item.id?.uuidString ?? item.code)#\(item.version)#\(item.status.rawValue)"
        if let hit = cache.get(key) { return hit }
        guard let c = try? CompiledPolicyItem.compile(conditions: item.conditions, amount: item.amountExpression, audience: item.audience) else {
            return nil
        }
        cache.set(key, c)
        return c
    }
}

final class CompiledCache: @unchecked Sendable {
    private var entries: [String: CompiledPolicyItem] = [:]
    private let lock = NSLock()

    func get(_ key: String) -> CompiledPolicyItem? {
        lock.lock()
        defer { lock.unlock() }
        return entries[key]
    }

    func set(_ key: String, _ value: CompiledPolicyItem) {
        lock.lock()
        defer { lock.unlock() }
        if entries.count > 10_000 { entries.removeAll() }
        entries[key] = value
    }
}
