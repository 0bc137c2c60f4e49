import CEL
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Batch matching, push notices, subscriptions by tag, and profile imports.
struct MatchingController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let policy = routes.grouped("api", "v1", "policy")
        policy.post("matching", "run", use: run)
        policy.get("matching", "runs", use: runs)
        policy.get("items", ":id", "matches", use: matches)
        policy.get("notices", use: notices)
        policy.post("notices", ":id", "read", use: read)
        policy.get("subscriptions", use: subscriptions)
        policy.put("subscriptions", use: subscribe)
        policy.on(.POST, "profiles", "import", body: .collect(maxSize: "20mb"), use: importProfiles)
        policy.on(.PUT, "profiles", ":uscc", body: .collect(maxSize: "256kb"), use: putProfile)
        policy.on(.POST, "profiles", "sync", body: .collect(maxSize: "1mb"), use: sync)
    }

    struct RunInput: Content {
        var mode: String?
        /// false: store matches without notices (a first full run).
        var notify: Bool?
    }

    /// POST /api/v1/policy/matching/run `{"mode":"incremental"|"full"}` — policy staff.
    @Sendable func run(req: Request) async throws -> MatchingService.RunSummary {
        let principal = try req.requirePrincipal()
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        let input = (req.body.data?.readableBytes ?? 0) > 0 ? try req.content.decode(RunInput.self) : RunInput()
        guard let mode = MatchingService.Mode(rawValue: input.mode ?? "incremental") else {
            throw Problem.validation([FieldError(field: "mode", message: "must be incremental or full")])
        }
        let summary = try await MatchingService(db: req.db, clock: req.application.clock).run(mode: mode, actor: principal.userID, notify: input.notify ?? true)
        try await req.application.audit?.record(
            kind: "policy.matching.run", actor: principal.userID, subject: "policy-matching:\(mode.rawValue)",
            details: ["evaluations": String(summary.evaluations), "newMatches": String(summary.newMatches),
                      "removed": String(summary.removed), "notices": String(summary.notices)])
        return summary
    }

    struct RunView: Content {
        var mode: String
        var startedAt: Date
        var finishedAt: Date
        var profiles: Int
        var items: Int
        var evaluations: Int
        var newMatches: Int
        var changed: Int
        var removed: Int
        var notices: Int
    }

    /// GET /api/v1/policy/matching/runs — the last 20 runs (policy staff).
    @Sendable func runs(req: Request) async throws -> [RunView] {
        let principal = try req.requirePrincipal()
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        return try await PolicyMatchingRun.query(on: req.db).sort(\.$startedAt, .descending).limit(20).all().map {
            RunView(mode: $0.mode, startedAt: $0.startedAt, finishedAt: $0.finishedAt, profiles: $0.profiles, items: $0.items,
                    evaluations: $0.evaluations, newMatches: $0.newMatches, changed: $0.changed, removed: $0.removed, notices: $0.notices)
        }
    }

    struct MatchView: Content {
        var creditCode: String
        var name: String
        var itemVersion: Int
        var amount: Double?
        var matchedAt: Date
    }

    struct MatchesPage: Content {
        var total: Int
        var totalAmount: Double
        var items: [MatchView]
        var nextCursor: String?
    }

    /// GET /api/v1/policy/items/{id}/matches — the enterprises eligible for an item after the last run (policy staff).
    @Sendable func matches(req: Request) async throws -> MatchesPage {
        let principal = try req.requirePrincipal()
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        let id = try PolicyController.id(req)
        guard try await PolicyItem.find(id, on: req.db) != nil else { throw PolicyService.itemNotFound }
        let paging = try Paging(from: req)
        let total = try await PolicyStandingMatch.query(on: req.db).filter(\.$itemID == id).count()
        let sum = try await PolicyStandingMatch.query(on: req.db).filter(\.$itemID == id).sum(\.$amount) ?? 0
        let rows = try await PolicyStandingMatch.query(on: req.db).filter(\.$itemID == id).sort(\.$creditCode)
            .range(paging.offset..<(paging.offset + paging.limit + 1)).all()
        let page = paging.page(rows)
        let codes = page.items.map(\.creditCode)
        var names: [String: String] = [:]
        if !codes.isEmpty {
            for p in try await EnterpriseProfile.query(on: req.db).filter(\.$creditCode ~~ codes).all() { names[p.creditCode] = p.name }
        }
        return MatchesPage(
            total: total, totalAmount: (sum * 100).rounded() / 100,
            items: page.items.map {
                MatchView(creditCode: $0.creditCode, name: names[$0.creditCode] ?? "", itemVersion: $0.itemVersion, amount: $0.amount,
                          matchedAt: $0.matchedAt)
            }, nextCursor: page.nextCursor)
    }

    struct NoticeView: Content {
        var id: UUID
        var kind: PolicyNoticeKind
        var creditCode: String?
        var itemId: UUID
        var itemCode: String
        var itemVersion: Int
        var title: String
        var titleEn: String
        var amount: Double?
        var tag: String?
        var createdAt: Date
        var readAt: Date?
    }

    /// The credit code of the enterprise the caller acts for, if any.
    static func actingCreditCode(_ req: Request, _ principal: Principal) async throws -> String? {
        guard let enterprise = principal.actingFor else { return nil }
        return try await Enterprise.find(enterprise, on: req.db)?.creditCode
    }

    /// GET /api/v1/policy/notices — the caller's notices: the enterprise's (when acting for one, `X-Acting-For`)
    /// and the caller's own (subscriptions), newest first; `?unread=true` for unread ones only.
    @Sendable func notices(req: Request) async throws -> CursorPage<NoticeView> {
        let principal = try req.requirePrincipal()
        let paging = try Paging(from: req)
        let code = try await Self.actingCreditCode(req, principal)
        var query = PolicyNotice.query(on: req.db).group(.or) { or in
            or.filter(\.$userID == principal.userID)
            if let code { or.filter(\.$creditCode == code) }
        }
        if req.query[String.self, at: "unread"] == "true" { query = query.filter(\.$readAt == nil) }
        let rows = try await query.sort(\.$createdAt, .descending).sort(\.$id)
            .range(paging.offset..<(paging.offset + paging.limit + 1)).all()
        let page = paging.page(rows)
        return CursorPage(items: page.items.map(Self.view), nextCursor: page.nextCursor)
    }

    static func view(_ n: PolicyNotice) -> NoticeView {
        NoticeView(id: n.id ?? UUID(), kind: n.kind, creditCode: n.creditCode, itemId: n.itemID, itemCode: n.itemCode,
                   itemVersion: n.itemVersion, title: n.titleZh, titleEn: n.titleEn, amount: n.amount, tag: n.tag,
                   createdAt: n.createdAt, readAt: n.readAt)
    }

    /// POST /api/v1/policy/notices/{id}/read — marks one of the caller's notices read.
    @Sendable func read(req: Request) async throws -> NoticeView {
        let principal = try req.requirePrincipal()
        let notFound = Problem.notFound("Notice", type: "/problems/notice-not-found")
        guard let id = req.parameters.get("id", as: UUID.self), let notice = try await PolicyNotice.find(id, on: req.db) else {
            throw notFound
        }
        let mine = notice.userID == principal.userID
        let acting = try await Self.actingCreditCode(req, principal)
        let ours = notice.creditCode != nil && acting == notice.creditCode
        guard mine || ours else { throw notFound }
        if notice.readAt == nil {
            notice.readAt = req.application.clock.now()
            try await notice.save(on: req.db)
        }
        return Self.view(notice)
    }

    struct Subscriptions: Content {
        var tags: [String]
    }

    /// GET /api/v1/policy/subscriptions — the tags the caller follows.
    @Sendable func subscriptions(req: Request) async throws -> Subscriptions {
        let principal = try req.requirePrincipal()
        return Subscriptions(tags: try await PolicySubscription.query(on: req.db).filter(\.$userID == principal.userID).sort(\.$tag).all(\.$tag))
    }

    /// PUT /api/v1/policy/subscriptions `{"tags":[…]}` — replaces the tags the caller follows (tag rule codes).
    @Sendable func subscribe(req: Request) async throws -> Subscriptions {
        let principal = try req.requirePrincipal()
        let input = try req.content.decode(Subscriptions.self)
        let tags = Array(Set(input.tags)).sorted()
        var errors = FieldErrors()
        errors.check(tags.count <= 50, "tags", "at most 50 tags")
        let known = Set(try await PolicyTagRule.query(on: req.db).all(\.$code))
        for tag in tags where !known.contains(tag) { errors.add("tags", "'\(tag)' is not a tag (see GET /api/v1/policy/tags)") }
        try errors.throwIfAny()
        let now = req.application.clock.now()
        try await req.db.writeTransaction { tx in
            try await PolicySubscription.query(on: tx).filter(\.$userID == principal.userID).delete()
            try await MatchingService.insert(tags.map { tag in
                let s = PolicySubscription()
                s.id = UUID()
                s.userID = principal.userID
                s.tag = tag
                s.createdAt = now
                return s
            }, on: tx)
        }
        return Subscriptions(tags: tags)
    }

    /// POST /api/v1/policy/profiles/import — policy staff; a JSON array of profiles or CSV (`Content-Type:
    /// text/csv`, header row of field names, list values separated by ';').
    @Sendable func importProfiles(req: Request) async throws -> ProfileImporter.Summary {
        let principal = try req.requirePrincipal()
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        guard let buffer = req.body.data, buffer.readableBytes > 0 else { throw Problem.badRequest("Send profiles as JSON or CSV.") }
        var errors = FieldErrors()
        let rows: [ProfileImporter.Row]
        if req.headers.contentType?.subType == "csv" {
            rows = ProfileImporter.rows(csv: String(decoding: Data(buffer: buffer), as: UTF8.self), errors: &errors)
        } else {
            rows = ProfileImporter.rows(json: Data(buffer: buffer), errors: &errors)
        }
        let summary = try await ProfileImporter(db: req.db, clock: req.application.clock)
            .importRows(rows, parseErrors: errors, principal: principal)
        try await req.application.audit?.record(
            kind: "policy.profiles.imported", actor: principal.userID, subject: "policy-profiles",
            details: ["rows": String(summary.rows), "created": String(summary.created), "updated": String(summary.updated)])
        return summary
    }

    struct SyncInput: Content {
        var creditCodes: [String]?
    }

    /// POST /api/v1/policy/profiles/sync `{"creditCodes"?}` — policy staff; fills profiles from shared data.
    @Sendable func sync(req: Request) async throws -> ProfileSync.Summary {
        let principal = try req.requirePrincipal()
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        let input = (req.body.data?.readableBytes ?? 0) > 0 ? try req.content.decode(SyncInput.self) : SyncInput()
        let summary = try await ProfileSync(db: req.db, clock: req.application.clock).sync(creditCodes: input.creditCodes, principal: principal)
        try await req.application.audit?.record(
            kind: "policy.profiles.synced", actor: principal.userID, subject: "policy-profiles",
            details: Dictionary(uniqueKeysWithValues: summary.sources.map { ($0.resource, String($0.rows)) })
                .merging(["enterprises": String(summary.enterprises)]) { a, _ in a })
        return summary
    }

    /// PUT /api/v1/policy/profiles/{uscc} — policy staff; the fields sent replace the stored ones (null removes).
    @Sendable func putProfile(req: Request) async throws -> ProfileImporter.Summary {
        let principal = try req.requirePrincipal()
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        var row: ProfileImporter.Row = [:]
        for (key, value) in try PolicyController.body(req).entries {
            if case .string(let k) = key { row[k] = value }
        }
        let uscc = (req.parameters.get("uscc") ?? "").uppercased()
        if case .string(let sent)? = row["creditCode"], sent.uppercased() != uscc {
            throw Problem.validation([FieldError(field: "creditCode", message: "differs from the one in the path")])
        }
        row["creditCode"] = .string(uscc)
        return try await ProfileImporter(db: req.db, clock: req.application.clock)
            .importRows([row], parseErrors: FieldErrors(), principal: principal)
    }
}
