import Fluent
import Foundation
import TongbanCore
import Vapor

/// Tag rules over enterprise profiles (标签体系): list, create or replace (recomputing every profile), and the
/// tags of one enterprise.
struct TagsController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let tags = routes.grouped("api", "v1", "policy", "tags")
        tags.get(use: list)
        tags.put(":code", use: save)
        tags.post("recompute", use: recompute)
        routes.get("api", "v1", "policy", "profiles", ":uscc", "tags", use: profileTags)
    }

    struct RuleView: Content {
        var code: String
        var dimension: String
        var name: String
        var nameEn: String
        var expression: String
        var version: Int
        var updatedAt: Date
    }

    static func view(_ r: PolicyTagRule) -> RuleView {
        RuleView(code: r.code, dimension: r.dimension, name: r.nameZh, nameEn: r.nameEn, expression: r.expression, version: r.version, updatedAt: r.updatedAt)
    }

    struct Saved: Content {
        var rule: RuleView
        var recomputed: TagService.Recomputed
    }

    func service(_ req: Request) -> TagService { TagService(db: req.db, clock: req.application.clock) }

    @Sendable func list(req: Request) async throws -> [RuleView] {
        try await PolicyTagRule.query(on: req.db).sort(\.$dimension).sort(\.$code).all().map(Self.view)
    }

    @Sendable func save(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let input = try req.content.decode(TagService.RuleInput.self)
        do {
            let (rule, recomputed) = try await service(req).save(code: req.parameters.get("code") ?? "", input, principal: principal)
            return try await Saved(rule: Self.view(rule), recomputed: recomputed).encodeResponse(for: req)
        } catch let problem as RuleProblem {
            return PolicyController.ruleProblem(req, problem.errors)
        }
    }

    @Sendable func recompute(req: Request) async throws -> TagService.Recomputed {
        let principal = try req.requirePrincipal()
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        return try await service(req).recompute()
    }

    struct ProfileTags: Content {
        struct Tag: Content {
            var code: String
            var dimension: String?
            var name: String?
            var computed: Bool
        }

        var creditCode: String
        var tags: [Tag]
    }

    /// GET /api/v1/policy/profiles/{uscc}/tags — staff, or members of that enterprise.
    @Sendable func profileTags(req: Request) async throws -> ProfileTags {
        let principal = try req.requirePrincipal()
        let uscc = (req.parameters.get("uscc") ?? "").uppercased()
        let profile = try await PolicyService(db: req.db, clock: req.application.clock).profile(uscc: uscc, principal: principal)
        let stored = try await EnterpriseProfile.query(on: req.db).filter(\.$creditCode == uscc).first()
        let computed = Set(stored?.computedTagsJSON.flatMap { try? JSONText.decode([String].self, $0) } ?? [])
        let rules = Dictionary(try await PolicyTagRule.query(on: req.db).all().map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        var tags: [ProfileTags.Tag] = []
        if case .map(let map) = profile, case .list(let list)? = map["tags"] {
            for case .string(let code) in list {
                tags.append(.init(code: code, dimension: rules[code]?.dimension, name: rules[code]?.nameZh, computed: computed.contains(code)))
            }
        }
        return ProfileTags(creditCode: uscc, tags: tags)
    }
}
