import CEL
import Fluent
import Foundation
import TongbanCore
import Vapor

extension PolicyMatch: Content {}

/// Expression evaluation, matching and policy items.
struct PolicyController: RouteCollection {
    struct ItemView: Content {
        var id: UUID
        var code: String
        var documentId: UUID?
        var title: String
        var titleEn: String
        var issuer: String
        var issuerEn: String
        var departmentId: UUID?
        var conditions: [PolicyCondition]
        var amountExpression: String?
        var validFrom: String?
        var validUntil: String?
        var mode: PolicyMode
        var audience: PolicyAudience
        var status: PolicyStatus
        var version: Int
        var updatedAt: Date
        var tags: [String]
        /// A published item's edit waiting to become the next version.
        var pendingRevision: PolicyItemRevision?
    }

    struct VersionView: Content {
        var version: Int
        var publishedAt: Date
        var publishedBy: UUID?
        var revision: PolicyItemRevision?
    }

    struct MatchResponse: Content {
        var matches: [PolicyMatch]
    }

    struct SchemaResponse: Content {
        var variable: String
        var fields: [ProfileSchema.Field]
    }

    func boot(routes: any RoutesBuilder) throws {
        let policy = routes.grouped("api", "v1", "policy")
        policy.on(.POST, "expressions", "evaluate", body: .collect(maxSize: "256kb"), use: evaluate)
        policy.on(.POST, "match", body: .collect(maxSize: "256kb"), use: match)
        policy.get("items", use: list)
        policy.post("items", use: create)
        policy.get("items", ":id", use: show)
        policy.post("items", ":id", "publish", use: publish)
        policy.put("items", ":id", use: update)
        policy.get("items", ":id", "versions", use: versions)
        policy.on(.POST, "dry-run", body: .collect(maxSize: "2mb"), use: dryRun)
        policy.post("items", ":id", "dry-run", use: dryRunItem)
        policy.get("schema", use: schema)
    }

    static func view(_ item: PolicyItem) -> ItemView {
        ItemView(
            id: item.id ?? UUID(), code: item.code, documentId: item.documentID, title: item.titleZh, titleEn: item.titleEn,
            issuer: item.issuerZh, issuerEn: item.issuerEn, departmentId: item.departmentID, conditions: item.conditions,
            amountExpression: item.amountExpression, validFrom: item.validFrom, validUntil: item.validUntil, mode: item.mode,
            audience: item.audience, status: item.status, version: item.version, updatedAt: item.updatedAt, tags: item.targetTags,
            pendingRevision: item.pendingRevision)
    }

    func service(_ req: Request) -> PolicyService { PolicyService(db: req.db, clock: req.application.clock) }

    /// The request body as a CEL value (JSON integers stay `int`, other numbers `double`).
    static func body(_ req: Request) throws -> CELMap {
        guard let buffer = req.body.data, buffer.readableBytes > 0 else {
            throw Problem.badRequest("Send a JSON object.")
        }
        let value: CELValue
        do { value = try CELValue.fromJSON(Data(buffer: buffer), maxDepth: 64) } catch {
            throw Problem(.badRequest, type: "/problems/malformed-body", title: "Malformed request body", detail: "\(error)")
        }
        guard case .map(let map) = value else { throw Problem.badRequest("Send a JSON object.") }
        return map
    }

    /// POST /api/v1/policy/expressions/evaluate `{"expression","context":{…}}` — signed in.
    /// 200 `{"value"}`, 200 `{"error","code"}` for evaluation errors, 422 with line and column when the
    /// expression does not compile. Every top-level key of `context` is a variable (`profile`, …).
    @Sendable func evaluate(req: Request) async throws -> Response {
        _ = try req.requirePrincipal()
        let body = try Self.body(req)
        guard case .string(let expression)? = body["expression"] else {
            throw Problem.validation([FieldError(field: "expression", message: "is required (a CEL expression)")])
        }
        var activation: [String: CELValue] = [:]
        switch body["context"] {
        case nil, .null?: break
        case .map(let context)?:
            for (key, value) in context.entries {
                guard case .string(let name) = key else { continue }
                activation[name] = value
            }
        default:
            throw Problem.validation([FieldError(field: "context", message: "must be an object of variables")])
        }
        var declarations = CELDeclarations()
        for name in activation.keys { declarations = declarations.declaring(name, as: .dyn) }
        let program: CELProgram
        do { program = try CELProgram.compile(expression, declarations: declarations) } catch {
            return Self.ruleProblem(req, [RuleError(field: "expression", error)])
        }
        let value = program.evaluate(activation)
        let text: String
        if case .error(let e) = value {
            text = "{\"error\":\(CELValue.string(e.description).jsonString()),\"code\":\"\(e.code.rawValue)\"}"
        } else {
            text = "{\"value\":\(value.jsonString())}"
        }
        let response = Response(status: .ok, body: .init(string: text))
        response.headers.contentType = .json
        return response
    }

    /// POST /api/v1/policy/match `{"profile":{…}}` or `{"uscc"}` — signed in (by uscc: staff, or members
    /// of that enterprise). Every published item with each condition passed, failed or missing.
    @Sendable func match(req: Request) async throws -> MatchResponse {
        let principal = try req.requirePrincipal()
        let body = try Self.body(req)
        let profile: CELValue
        switch (body["profile"], body["uscc"]) {
        case (.map(let map)?, _):
            profile = .map(map)
        case (_, .string(let uscc)?):
            profile = try await service(req).profile(uscc: uscc, principal: principal)
        default:
            throw Problem.validation([FieldError(field: "profile", message: "send a profile object or a uscc")])
        }
        return MatchResponse(matches: try await service(req).match(profile))
    }

    /// GET /api/v1/policy/items — published items (policy staff: `?status=draft`).
    @Sendable func list(req: Request) async throws -> CursorPage<ItemView> {
        let paging = try Paging(from: req)
        var status = PolicyStatus.published
        if let raw = req.query[String.self, at: "status"] {
            guard let s = PolicyStatus(rawValue: raw) else {
                throw Problem.validation([FieldError(field: "status", message: "must be draft or published")])
            }
            if s == .draft {
                guard let principal = req.auth.get(Principal.self) else { throw Problem.unauthenticated }
                guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
            }
            status = s
        }
        let page = try await service(req).list(status: status, paging: paging)
        return CursorPage(items: page.items.map(Self.view), nextCursor: page.nextCursor)
    }

    /// GET /api/v1/policy/items/{id}
    @Sendable func show(req: Request) async throws -> ItemView {
        Self.view(try await service(req).visible(try Self.id(req), principal: req.auth.get(Principal.self)))
    }

    /// POST /api/v1/policy/items — policy staff (department admin, system admin). 201 draft; 422 with
    /// line and column for rules that do not type-check against the profile schema.
    @Sendable func create(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let input = try req.content.decode(PolicyService.ItemInput.self)
        do {
            let item = try await service(req).create(input, principal: principal)
            let response = Response(status: .created)
            try response.content.encode(Self.view(item))
            response.headers.replaceOrAdd(name: .location, value: "/api/v1/policy/items/\(try item.requireID().uuidString.lowercased())")
            return response
        } catch let problem as RuleProblem {
            return Self.ruleProblem(req, problem.errors)
        }
    }

    /// POST /api/v1/policy/items/{id}/publish — policy staff.
    @Sendable func publish(req: Request) async throws -> ItemView {
        let principal = try req.requirePrincipal()
        return Self.view(try await service(req).publish(try Self.id(req), principal: principal))
    }

    /// PUT /api/v1/policy/items/{id} — policy staff. A draft changes in place; a published item gets a pending
    /// revision (its live rules stay until the revision is published as the next version).
    @Sendable func update(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let input = try req.content.decode(PolicyService.ItemInput.self)
        do {
            return try await Self.view(try await service(req).update(try Self.id(req), input, principal: principal)).encodeResponse(for: req)
        } catch let problem as RuleProblem {
            return Self.ruleProblem(req, problem.errors)
        }
    }

    /// GET /api/v1/policy/items/{id}/versions — every published version, newest first.
    @Sendable func versions(req: Request) async throws -> [VersionView] {
        try await service(req).versions(try Self.id(req), principal: req.auth.get(Principal.self)).map {
            VersionView(version: $0.version, publishedAt: $0.publishedAt, publishedBy: $0.publishedBy,
                        revision: try? JSONText.decode(PolicyItemRevision.self, $0.snapshotJSON))
        }
    }

    struct DryRunInput: Content {
        var conditions: [PolicyCondition]?
        var amountExpression: String?
    }

    /// POST /api/v1/policy/dry-run `{"conditions","amountExpression","profiles"?}` — policy staff. Counts over
    /// every stored enterprise profile, or over the sample `profiles` sent (at most 1,000).
    @Sendable func dryRun(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        let input = try req.content.decode(DryRunInput.self)
        var samples: [CELValue]?
        if case .list(let list)? = try Self.body(req)["profiles"] {
            guard list.count <= 1000 else { throw Problem.validation([FieldError(field: "profiles", message: "at most 1000 sample profiles")]) }
            samples = list
        }
        let conditions = input.conditions ?? []
        guard !conditions.isEmpty, conditions.count <= 50 else {
            throw Problem.validation([FieldError(field: "conditions", message: "must list 1–50 conditions")])
        }
        do {
            return try await DryRun(db: req.db, clock: req.application.clock)
                .run(conditions: conditions, amount: input.amountExpression, samples: samples).encodeResponse(for: req)
        } catch let problem as RuleProblem {
            return Self.ruleProblem(req, problem.errors)
        }
    }

    /// POST /api/v1/policy/items/{id}/dry-run — the item's pending revision (or its live rules) over every
    /// stored profile.
    @Sendable func dryRunItem(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let item = try await service(req).editable(try Self.id(req), principal: principal)
        guard item.audience == .enterprise else {
            throw Problem.conflict("Dry runs cover enterprise items.", type: "/problems/dry-run-enterprise-only")
        }
        let revision = item.pendingRevision ?? item.revision
        do {
            return try await DryRun(db: req.db, clock: req.application.clock)
                .run(conditions: revision.conditions, amount: revision.amountExpression, samples: nil).encodeResponse(for: req)
        } catch let problem as RuleProblem {
            return Self.ruleProblem(req, problem.errors)
        }
    }

    /// GET /api/v1/policy/schema — the profile fields rules may read.
    @Sendable func schema(req: Request) async throws -> SchemaResponse {
        SchemaResponse(variable: "profile", fields: ProfileSchema.described)
    }

    static func id(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw PolicyService.itemNotFound }
        return id
    }

    struct RuleErrorDocument: Encodable {
        struct Entry: Encodable {
            var field: String
            var message: String
            var kind: String
            var line: Int
            var column: Int
        }

        var type: String
        var title: String
        var status: Int
        var detail: String
        var instance: String
        var requestId: String
        var line: Int
        var column: Int
        var errors: [Entry]
    }

    /// 422 `application/problem+json` with the first error's `line` and `column` at the top level and
    /// every error (field, message, kind, line, column) in `errors`.
    static func ruleProblem(_ req: Request, _ errors: [RuleError]) -> Response {
        let first = errors.first ?? RuleError(field: "expression", CELCompileError(.syntax, "invalid", at: CELSourceLocation(offset: 0, line: 1, column: 1)))
        let document = RuleErrorDocument(
            type: "/problems/invalid-expression", title: "Invalid expression", status: 422,
            detail: "\(first.field): \(first.line):\(first.column): \(first.kind) error: \(first.message)",
            instance: req.url.path, requestId: req.id, line: first.line, column: first.column,
            errors: errors.map { .init(field: $0.field, message: $0.message, kind: $0.kind, line: $0.line, column: $0.column) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(document)) ?? Data("{\"status\":422}".utf8)
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "application/problem+json; charset=utf-8")
        return Response(status: .unprocessableEntity, headers: headers, body: .init(data: data))
    }
}
