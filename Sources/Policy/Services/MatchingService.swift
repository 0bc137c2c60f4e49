import CEL
import Fluent
import Foundation
import SQLKit
import TongbanCore
import Vapor

/// Batch matching (政策匹配): keeps `policy_matches` equal to "every enterprise profile × every active item"
/// and pushes a notice for each change an enterprise should hear about.
///
/// A run is incremental: it evaluates only the items whose live rules changed (or that came into force)
/// since the last run against every profile, and the profiles that changed since then against every other
/// item; it then writes only the differences. A full run evaluates everything and still writes only the
/// differences, so notices never repeat. Items that left force lose their matches silently.
public struct MatchingService: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock) {
        self.db = db
        self.clock = clock
    }

    /// The persistent job that runs an incremental pass after a publication.
    public static let job = "policy.matching"

    public enum Mode: String, Codable, Sendable {
        case incremental, full
    }

    public struct RunSummary: Content {
        public var mode: String
        /// Profiles evaluated (each against the items it needed).
        public var profiles: Int
        /// Items evaluated against every profile (new or changed rules).
        public var items: Int
        public var evaluations: Int
        public var newMatches: Int
        public var changed: Int
        public var removed: Int
        public var notices: Int
        public var seconds: Double
    }

    struct Active {
        var item: PolicyItem
        var id: UUID
        var compiled: CompiledPolicyItem
    }

    struct Stored {
        var id: UUID
        var version: Int
        var amount: Double?
    }

    /// One decided (item, enterprise) pair.
    struct Outcome {
        var active: Int
        var creditCode: String
        var amount: Double?
    }

    /// Runs a pass; `creditCodes` limits the changed profiles to those (a profile import or edit) and skips
    /// the item pass.
    /// With `notify: false` matches are stored without notices (e.g. the first full run when a city starts).
    public func run(mode: Mode, actor: UUID? = nil, creditCodes: [String]? = nil, notify: Bool = true) async throws -> RunSummary {
        let startedAt = clock.now()
        let timer = Date()
        let today = LocalDate(startedAt).description
        let watermark: Date? = mode == .full || creditCodes != nil
            ? nil : try await PolicyMatchingRun.query(on: db).sort(\.$startedAt, .descending).first()?.startedAt
        let published = try await PolicyItem.query(on: db).filter(\.$status == .published).filter(\.$audience == .enterprise)
            .sort(\.$code).all()
        var active: [Active] = []
        for item in published {
            if let from = item.validFrom, from > today { continue }
            if let until = item.validUntil, until < today { continue }
            guard let compiled = PolicyService.compiled(item), let id = item.id else { continue }
            active.append(Active(item: item, id: id, compiled: compiled))
        }
        var summary = RunSummary(
            mode: creditCodes == nil ? mode.rawValue : "profiles", profiles: 0, items: 0, evaluations: 0, newMatches: 0, changed: 0,
            removed: 0, notices: 0, seconds: 0)

        // Items no longer in force (or unpublished) keep no matches.
        if creditCodes == nil {
            let keep = active.map(\.id)
            var stale = PolicyStandingMatch.query(on: db)
            if !keep.isEmpty { stale = stale.filter(\.$itemID !~ keep) }
            summary.removed += try await stale.count()
            if summary.removed > 0 {
                var delete = PolicyStandingMatch.query(on: db)
                if !keep.isEmpty { delete = delete.filter(\.$itemID !~ keep) }
                try await delete.delete()
            }
        }

        // Pass 1: changed items × every profile.
        let changedItems: [Int]
        if creditCodes != nil {
            changedItems = []
        } else if let watermark {
            let watermarkDay = LocalDate(watermark).description
            changedItems = active.indices.filter { i in
                let item = active[i].item
                return item.updatedAt >= watermark || (item.validFrom.map { $0 > watermarkDay } ?? false)
            }
        } else {
            changedItems = Array(active.indices)
        }
        if !changedItems.isEmpty {
            summary.items = changedItems.count
            var eligible: [[Outcome]] = Array(repeating: [], count: active.count)
            // Conditions the batch evaluator supports run over columns of a whole page of profiles at once;
            // the others (and items with any such condition) run profile by profile. Both give the same answers.
            var batchable: [Int: [CELBatchEvaluator]] = [:]
            var fields = Set<CELBatchField>()
            for i in changedItems {
                let evaluators = active[i].compiled.conditions.compactMap { try? CELBatchEvaluator($0.program) }
                guard evaluators.count == active[i].compiled.conditions.count else { continue }
                batchable[i] = evaluators
                for e in evaluators { fields.formUnion(e.requiredFields) }
            }
            let fieldList = Array(fields)
            let nowValue = CELTimestamp(seconds: Int64(startedAt.timeIntervalSince1970.rounded(.down))).map { CELValue.timestamp($0) }
            try await forEachPage(size: 4096) { codes, rows in
                summary.profiles += rows.count
                let table = batchable.isEmpty ? nil : CELColumnTable(rows: rows, fields: fieldList)
                for i in changedItems {
                    summary.evaluations += rows.count
                    if let evaluators = batchable[i], let table {
                        var mask = [Bool](repeating: true, count: rows.count)
                        for e in evaluators {
                            var next = [Bool](repeating: false, count: rows.count)
                            for k in e.evaluate(table).trueRows() where mask[k] { next[k] = true }
                            mask = next
                        }
                        for k in 0..<rows.count where mask[k] {
                            eligible[i].append(Outcome(
                                active: i, creditCode: codes[k], amount: Self.amount(active[i].compiled, profile: rows[k], now: nowValue)))
                        }
                    } else {
                        for k in 0..<rows.count {
                            if let outcome = Self.decide(active[i], index: i, creditCode: codes[k], profile: rows[k], now: startedAt) {
                                eligible[i].append(outcome)
                            }
                        }
                    }
                }
            }
            for i in changedItems {
                let stored = try await storedMatches(itemIDs: [active[i].id], creditCodes: nil)
                try await apply(eligible[i], stored: stored, decided: [i], active: active, now: startedAt, notify: notify, summary: &summary)
            }
        }

        // Pass 2: changed profiles × every other item.
        let others = active.indices.filter { !changedItems.contains($0) }
        if !others.isEmpty, creditCodes != nil || watermark != nil {
            var batch: [Outcome] = []
            var codes: [String] = []
            let flush = { (batch: [Outcome], codes: [String], summary: inout RunSummary) async throws in
                let stored = try await storedMatches(itemIDs: others.map { active[$0].id }, creditCodes: codes)
                try await apply(batch, stored: stored, decided: others, active: active, now: startedAt, notify: notify, summary: &summary)
            }
            try await forEachProfile(creditCodes: creditCodes, since: watermark) { code, profile in
                summary.profiles += 1
                codes.append(code)
                for i in others {
                    summary.evaluations += 1
                    if let outcome = Self.decide(active[i], index: i, creditCode: code, profile: profile, now: startedAt) {
                        batch.append(outcome)
                    }
                }
                if codes.count >= 500 {
                    try await flush(batch, codes, &summary)
                    batch = []
                    codes = []
                }
            }
            if !codes.isEmpty { try await flush(batch, codes, &summary) }
        }

        summary.seconds = (Date().timeIntervalSince(timer) * 1000).rounded() / 1000
        let run = PolicyMatchingRun()
        run.mode = summary.mode
        run.startedAt = startedAt
        run.finishedAt = clock.now()
        run.profiles = summary.profiles
        run.items = summary.items
        run.evaluations = summary.evaluations
        run.newMatches = summary.newMatches
        run.changed = summary.changed
        run.removed = summary.removed
        run.notices = summary.notices
        run.actor = actor
        // A profile pass does not cover changed items, so it must not move the watermark.
        if creditCodes == nil { try await run.create(on: db) }
        return summary
    }

    /// The outcome of one item for one profile, when eligible.
    static func decide(_ active: Active, index: Int, creditCode: String, profile: CELValue, now: Date) -> Outcome? {
        let d = active.compiled.diagnose(profile, now: now)
        guard d.eligible else { return nil }
        return Outcome(active: index, creditCode: creditCode, amount: rounded(d.amount))
    }

    /// An amount in yuan rounded to fen; nil for no amount or an evaluation error.
    static func rounded(_ value: CELValue?) -> Double? {
        switch value {
        case .double(let v)? where v.isFinite: (v * 100).rounded() / 100
        case .int(let v)?: Double(v)
        default: nil
        }
    }

    /// The amount of an eligible profile (as ``CompiledPolicyItem/diagnose(_:now:)`` computes it), rounded to fen.
    static func amount(_ compiled: CompiledPolicyItem, profile: CELValue, now: CELValue?) -> Double? {
        guard let program = compiled.amount else { return nil }
        var activation: [String: CELValue] = ["profile": profile]
        if let now { activation["now"] = now }
        return rounded(program.evaluate(activation))
    }

    /// Calls `body` with pages of every stored profile: credit codes and profile values (plain SQL, keyset paging).
    func forEachPage(size: Int, _ body: ([String], [CELValue]) async throws -> Void) async throws {
        guard let sql = db as? any SQLDatabase else { throw Problem(.internalServerError, detail: "matching needs SQL") }
        var last: String?
        while true {
            var query = SQLQueryString(#"SELECT "credit_code", "attributes", "computed_tags" FROM "policy_profiles""#)
            if let last { query.appendLiteral(#" WHERE "credit_code" > "#); query.appendInterpolation(bind: last) }
            query.appendLiteral(#" ORDER BY "credit_code" LIMIT \#(size)"#)
            let page = try await sql.raw(query).all()
            guard !page.isEmpty else { break }
            var codes: [String] = []
            var rows: [CELValue] = []
            codes.reserveCapacity(page.count)
            rows.reserveCapacity(page.count)
            for row in page {
                let code = try row.decode(column: "credit_code", as: String.self)
                last = code
                guard let value = try? EnterpriseProfile.celValue(
                    attributes: try row.decode(column: "attributes", as: String.self),
                    computedTags: try row.decode(column: "computed_tags", as: String?.self))
                else { continue }
                codes.append(code)
                rows.append(value)
            }
            try await body(codes, rows)
        }
    }

    /// Calls `body` with every stored profile (or those of `creditCodes`, or those changed `since`), in pages.
    func forEachProfile(
        creditCodes: [String]?, since: Date?, _ body: (String, CELValue) async throws -> Void
    ) async throws {
        if let creditCodes {
            for start in stride(from: 0, to: creditCodes.count, by: 500) {
                let chunk = Array(creditCodes[start..<min(start + 500, creditCodes.count)])
                for stored in try await EnterpriseProfile.query(on: db).filter(\.$creditCode ~~ chunk).sort(\.$creditCode).all() {
                    if let value = try? stored.celValue() { try await body(stored.creditCode, value) }
                }
            }
            return
        }
        var lastID: UUID?
        while true {
            var query = EnterpriseProfile.query(on: db).sort(\.$id).limit(1000)
            if let lastID { query = query.filter(\.$id > lastID) }
            if let since { query = query.filter(\.$updatedAt >= since) }
            let page = try await query.all()
            guard let last = page.last else { break }
            lastID = last.id
            for stored in page {
                if let value = try? stored.celValue() { try await body(stored.creditCode, value) }
            }
        }
    }

    /// Stored matches of `itemIDs` (for `creditCodes`, or every enterprise), keyed by item and credit code (plain
    /// SQL: a full run reads every stored match, and model decoding was most of its time).
    func storedMatches(itemIDs: [UUID], creditCodes: [String]?) async throws -> [UUID: [String: Stored]] {
        guard let sql = db as? any SQLDatabase else { throw Problem(.internalServerError, detail: "matching needs SQL") }
        var out: [UUID: [String: Stored]] = [:]
        guard !itemIDs.isEmpty else { return out }
        var query = SQLQueryString(#"SELECT "id", "item_id", "credit_code", "item_version", "amount" FROM "policy_matches" WHERE "item_id" IN ("#)
        for (i, id) in itemIDs.enumerated() {
            if i > 0 { query.appendLiteral(", ") }
            query.appendInterpolation(bind: id)
        }
        query.appendLiteral(")")
        if let creditCodes {
            guard !creditCodes.isEmpty else { return out }
            query.appendLiteral(#" AND "credit_code" IN ("#)
            for (i, code) in creditCodes.enumerated() {
                if i > 0 { query.appendLiteral(", ") }
                query.appendInterpolation(bind: code)
            }
            query.appendLiteral(")")
        }
        for row in try await sql.raw(query).all() {
            let item = try row.decode(column: "item_id", as: UUID.self)
            out[item, default: [:]][try row.decode(column: "credit_code", as: String.self)] = Stored(
                id: try row.decode(column: "id", as: UUID.self), version: try row.decode(column: "item_version", as: Int.self),
                amount: try row.decode(column: "amount", as: Double?.self))
        }
        return out
    }

    /// Writes the difference between `outcomes` (every eligible pair among the `decided` items and the
    /// profiles evaluated) and `stored`, with a notice for each new match and each amount a new version changed.
    func apply(
        _ outcomes: [Outcome], stored: [UUID: [String: Stored]], decided: [Int], active: [Active], now: Date, notify: Bool,
        summary: inout RunSummary
    ) async throws {
        var remaining = stored
        var inserts: [PolicyStandingMatch] = []
        var updates: [(UUID, Int, Double?)] = []
        var versionOnly: [Int: [UUID]] = [:]
        var notices: [PolicyNotice] = []
        for outcome in outcomes {
            let a = active[outcome.active]
            if let existing = remaining[a.id]?.removeValue(forKey: outcome.creditCode) {
                let amountChanged = !Self.same(existing.amount, outcome.amount)
                guard existing.version != a.item.version || amountChanged else { continue }
                if amountChanged {
                    updates.append((existing.id, a.item.version, outcome.amount))
                } else {
                    versionOnly[a.item.version, default: []].append(existing.id)
                }
                summary.changed += 1
                if amountChanged && existing.version != a.item.version {
                    notices.append(Self.notice(.amountChanged, a.item, creditCode: outcome.creditCode, amount: outcome.amount, now: now))
                }
            } else {
                let m = PolicyStandingMatch()
                m.id = UUID()
                m.itemID = a.id
                m.creditCode = outcome.creditCode
                m.itemVersion = a.item.version
                m.amount = outcome.amount
                m.matchedAt = now
                inserts.append(m)
                notices.append(Self.notice(.newMatch, a.item, creditCode: outcome.creditCode, amount: outcome.amount, now: now))
            }
        }
        // What is left was eligible and no longer is.
        let decidedIDs = Set(decided.map { active[$0].id })
        let deletes = remaining.filter { decidedIDs.contains($0.key) }.flatMap { $0.value.values.map(\.id) }
        if !notify { notices = [] }
        summary.newMatches += inserts.count
        summary.removed += deletes.count
        summary.notices += notices.count
        guard !inserts.isEmpty || !updates.isEmpty || !versionOnly.isEmpty || !deletes.isEmpty || !notices.isEmpty else { return }
        let (toInsert, toUpdate, toNotify, toBump) = (inserts, updates, notices, versionOnly)
        try await db.writeTransaction { tx in
            for start in stride(from: 0, to: deletes.count, by: 500) {
                try await PolicyStandingMatch.query(on: tx).filter(\.$id ~~ Array(deletes[start..<min(start + 500, deletes.count)])).delete()
            }
            // The same amount under a new version: one UPDATE per 500 rows.
            for (version, ids) in toBump {
                for start in stride(from: 0, to: ids.count, by: 500) {
                    try await PolicyStandingMatch.query(on: tx).filter(\.$id ~~ Array(ids[start..<min(start + 500, ids.count)]))
                        .set(\.$itemVersion, to: version).update()
                }
            }
            for (id, version, amount) in toUpdate {
                try await PolicyStandingMatch.query(on: tx).filter(\.$id == id).set(\.$itemVersion, to: version)
                    .set(\.$amount, to: amount).update()
            }
            try await Self.insertMatches(toInsert, on: tx)
            try await Self.insertNotices(toNotify, on: tx)
        }
    }

    static func same(_ a: Double?, _ b: Double?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case (let x?, let y?): abs(x - y) < 0.005
        default: false
        }
    }

    static func notice(_ kind: PolicyNoticeKind, _ item: PolicyItem, creditCode: String?, userID: UUID? = nil, amount: Double?,
                       tag: String? = nil, now: Date) -> PolicyNotice
    {
        let n = PolicyNotice()
        n.id = UUID()
        n.kind = kind
        n.creditCode = creditCode
        n.userID = userID
        n.itemID = item.id ?? UUID()
        n.itemCode = item.code
        n.itemVersion = item.version
        n.titleZh = item.titleZh
        n.titleEn = item.titleEn
        n.amount = amount
        n.tag = tag
        n.createdAt = now
        return n
    }

    /// Multi-row INSERTs of matches (plain SQL, 500 rows per statement).
    static func insertMatches(_ rows: [PolicyStandingMatch], on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return try await insert(rows, on: db) }
        for start in stride(from: 0, to: rows.count, by: 500) {
            var builder = sql.insert(into: PolicyStandingMatch.schema).columns("id", "item_id", "credit_code", "item_version", "amount", "matched_at")
            for m in rows[start..<min(start + 500, rows.count)] {
                builder = builder.values(SQLBind(m.id ?? UUID()), SQLBind(m.itemID), SQLBind(m.creditCode), SQLBind(m.itemVersion),
                                         SQLBind(m.amount), SQLBind(m.matchedAt))
            }
            try await builder.run()
        }
    }

    /// Multi-row INSERTs of notices (plain SQL, 300 rows per statement).
    static func insertNotices(_ rows: [PolicyNotice], on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return try await insert(rows, on: db) }
        for start in stride(from: 0, to: rows.count, by: 300) {
            var builder = sql.insert(into: PolicyNotice.schema).columns(
                "id", "kind", "credit_code", "user_id", "item_id", "item_code", "item_version", "title_zh", "title_en", "amount", "tag",
                "created_at", "read_at")
            for n in rows[start..<min(start + 300, rows.count)] {
                builder = builder.values(
                    SQLBind(n.id ?? UUID()), SQLBind(n.kind.rawValue), SQLBind(n.creditCode), SQLBind(n.userID), SQLBind(n.itemID),
                    SQLBind(n.itemCode), SQLBind(n.itemVersion), SQLBind(n.titleZh), SQLBind(n.titleEn), SQLBind(n.amount), SQLBind(n.tag),
                    SQLBind(n.createdAt), SQLBind(n.readAt))
            }
            try await builder.run()
        }
    }

    /// Multi-row inserts (500 rows per statement).
    static func insert<M: Model>(_ models: [M], on db: any Database) async throws {
        for start in stride(from: 0, to: models.count, by: 500) {
            try await Array(models[start..<min(start + 500, models.count)]).create(on: db)
        }
    }

    /// Tells every user who follows one of `item`'s tags that it was published (one notice per user).
    static func notifySubscribers(of item: PolicyItem, on tx: any Database, now: Date) async throws {
        let payload: [String: String] = ["item": item.code, "version": String(item.version)]
        try await JobQueue(db: tx, clock: .fixed(now)).enqueue(
            kind: job, payload: payload, dedupeKey: "policy-matching:\(item.id?.uuidString ?? item.code):\(item.version)")
        let tags = item.targetTags
        guard !tags.isEmpty else { return }
        var seen = Set<UUID>()
        var notices: [PolicyNotice] = []
        for sub in try await PolicySubscription.query(on: tx).filter(\.$tag ~~ tags).sort(\.$tag).all()
        where seen.insert(sub.userID).inserted {
            notices.append(notice(.subscribedTag, item, creditCode: nil, userID: sub.userID, amount: nil, tag: sub.tag, now: now))
        }
        try await insert(notices, on: tx)
    }
}
