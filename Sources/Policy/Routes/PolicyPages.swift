import CEL
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Web

/// The rule editor for policy staff (write, check against the profile schema, dry-run over every stored
/// enterprise profile, save, publish as a new version) and the enterprise's policy check-up page (政策体检)
/// with its push notices.
struct PolicyPages: RouteCollection {
    static let strings = StringTable([
        "pe_title": ("政策规则编辑", "Policy rule editor"),
        "pe_new": ("新建政策事项", "New policy item"),
        "pe_intro": ("在此编写政策事项的条件（规则即代码，CEL 表达式），先检查并试算，再发布为新版本。已发布的事项修改后成为待发布修订，发布前不影响线上规则。",
                     "Write a policy item's conditions as rules (CEL expressions), check and dry-run them, then publish them as a new version. Edits to a published item wait as a pending revision until published."),
        "pe_code": ("事项编码", "Item code"),
        "pe_name": ("名称", "Title"),
        "pe_name_en": ("英文名称", "Title in English"),
        "pe_issuer": ("发布部门", "Issuer"),
        "pe_mode": ("兑现方式", "How it is granted"),
        "pe_mode_apply": ("依申请", "By application"),
        "pe_mode_apply_instantly": ("即申即享", "Apply and get instantly"),
        "pe_mode_no_application": ("免申即享", "No application needed"),
        "pe_audience": ("对象", "For"),
        "pe_audience_enterprise": ("企业", "Enterprises"),
        "pe_audience_person": ("个人", "Persons"),
        "pe_tags": ("适用标签（逗号分隔）", "Tags (comma-separated)"),
        "pe_valid_from": ("生效日期", "Valid from"),
        "pe_valid_until": ("截止日期", "Valid until"),
        "pe_conditions": ("条件（每行一条：说明 | 表达式）", "Conditions (one per line: text | expression)"),
        "pe_conditions_hint": ("例如：员工不少于 10 人 | profile.employees >= 10。可用字段见下表。", "For example: At least 10 employees | profile.employees >= 10. The fields you may use are listed below."),
        "pe_amount": ("金额表达式（元，可留空）", "Amount expression (yuan, optional)"),
        "pe_check": ("检查并试算", "Check and dry-run"),
        "pe_save": ("保存", "Save"),
        "pe_publish": ("发布新版本", "Publish a new version"),
        "pe_status": ("状态", "Status"),
        "pe_version": ("版本", "Version"),
        "pe_pending": ("有待发布修订", "Pending revision"),
        "pe_draft": ("草稿", "Draft"),
        "pe_published": ("已发布", "Published"),
        "pe_saved": ("已保存。", "Saved."),
        "pe_saved_pending": ("已保存为待发布修订；线上规则在发布前不变。", "Saved as a pending revision; the live rules stay until you publish."),
        "pe_published_now": ("已发布版本 ", "Published version "),
        "pe_dry_title": ("试算结果", "Dry run"),
        "pe_dry_profiles": ("参与试算的企业画像", "Enterprise profiles evaluated"),
        "pe_dry_eligible": ("符合全部条件", "Meet every condition"),
        "pe_dry_total": ("预计兑现总额（元）", "Total amount (yuan)"),
        "pe_condition": ("条件", "Condition"),
        "pe_passed": ("满足", "Passed"),
        "pe_failed": ("不满足", "Failed"),
        "pe_missing": ("缺数据", "Lacks data"),
        "pe_examples": ("金额最高的符合企业", "Eligible enterprises with the largest amounts"),
        "pe_enterprise": ("企业", "Enterprise"),
        "pe_amount_col": ("金额（元）", "Amount (yuan)"),
        "pe_fields": ("画像字段", "Profile fields"),
        "pe_field": ("字段", "Field"),
        "pe_type": ("类型", "Type"),
        "pe_meaning": ("含义", "Meaning"),
        "pe_versions": ("版本历史", "Versions"),
        "pe_published_at": ("发布时间", "Published"),
        "pe_none": ("还没有政策事项。", "No policy items yet."),
        "pe_edit": ("编辑", "Edit"),
        "pe_person_no_dry": ("个人事项的画像来自数据共享，按人汇集，不做批量试算。", "Person items read profiles gathered per person from data sharing; they are not dry-run in bulk."),
        "errors_title": ("请修改以下问题", "Please fix the following"),
        "pc_title": ("政策体检", "Policy check-up"),
        "pc_intro": ("根据贵企业的画像，逐项检查每条惠企政策的条件。", "Every business-support policy checked against your enterprise's profile, condition by condition."),
        "pc_act": ("请先以企业身份办理（在“我的”中选择企业）。", "Act for your enterprise first (choose it under My account)."),
        "pc_eligible": ("符合", "Eligible"),
        "pc_not_eligible": ("暂不符合", "Not yet eligible"),
        "pc_amount": ("预计金额（元）", "Expected amount (yuan)"),
        "pc_notices": ("政策推送", "Policy notices"),
        "pc_no_notices": ("暂无推送。", "No notices."),
        "pc_no_profile": ("尚无贵企业的画像数据。", "There is no profile of your enterprise yet."),
    ])

    func boot(routes: any RoutesBuilder) throws {
        routes.get("policy", "editor", use: list)
        routes.get("policy", "editor", "new", use: newItem)
        routes.post("policy", "editor", "new", use: submitNew)
        routes.get("policy", "editor", ":id", use: edit)
        routes.post("policy", "editor", ":id", use: submit)
        routes.get("policy", "checkup", use: checkup)
    }

    // MARK: Pages' data

    struct Option: Encodable, Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    struct PageError: Encodable, Sendable {
        var field: String
        var message: String

        /// The id of the form control the error is about.
        var anchor: String {
            if field.hasPrefix("conditions") { return "f-conditions" }
            switch field {
            case "amountExpression": return "f-amount"
            case "code", "title", "titleEn", "issuer", "tags", "validFrom", "validUntil", "mode", "audience": return "f-\(field)"
            default: return "f-title"
            }
        }

        enum CodingKeys: String, CodingKey { case field, message, anchor }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(field, forKey: .field)
            try c.encode(message, forKey: .message)
            try c.encode(anchor, forKey: .anchor)
        }
    }

    /// Which controls are invalid (for `aria-invalid`).
    struct Invalid: Encodable, Sendable {
        var code = false
        var title = false
        var tags = false
        var validFrom = false
        var validUntil = false
        var conditions = false
        var amount = false

        init(_ errors: [PageError]) {
            for e in errors {
                switch e.anchor {
                case "f-code": code = true
                case "f-title": title = true
                case "f-tags": tags = true
                case "f-validFrom": validFrom = true
                case "f-validUntil": validUntil = true
                case "f-conditions": conditions = true
                case "f-amount": amount = true
                default: break
                }
            }
        }
    }

    struct ListRow: Encodable, Sendable {
        var id: String
        var code: String
        var title: String
        var status: String
        var version: Int
        var pending: Bool
        var mode: String
    }

    struct ListPage: Encodable, Sendable {
        var items: [ListRow]
    }

    struct FieldRow: Encodable, Sendable {
        var name: String
        var type: String
        var meaning: String
    }

    struct VersionRow: Encodable, Sendable {
        var version: Int
        var publishedAt: String
    }

    struct EditorPage: Encodable, Sendable {
        var isNew: Bool
        var action: String
        var code: String
        var title: String
        var titleEn: String
        var issuer: String
        var modes: [Option]
        var audiences: [Option]
        var tags: String
        var validFrom: String
        var validUntil: String
        var conditions: String
        var amount: String
        var status: String
        var version: Int
        var pending: Bool
        var errors: [PageError]
        var invalid: Invalid
        var notice: String?
        var dryRun: DryRun.Result?
        var dryRunNote: String?
        var fields: [FieldRow]
        var versions: [VersionRow]
    }

    /// The form as posted (every field text).
    struct EditorForm: Content {
        var action: String?
        var code: String?
        var title: String?
        var titleEn: String?
        var issuer: String?
        var mode: String?
        var audience: String?
        var tags: String?
        var validFrom: String?
        var validUntil: String?
        var conditions: String?
        var amountExpression: String?
    }

    // MARK: Helpers

    func staff(_ req: Request) throws -> Principal? {
        guard let principal = req.auth.get(Principal.self) else { return nil }
        guard PolicyService.isPolicyStaff(principal) else { throw Problem.forbidden }
        return principal
    }


    static func conditionsText(_ conditions: [PolicyCondition]) -> String {
        conditions.map { "\($0.text) | \($0.expression)" }.joined(separator: "\n")
    }

    /// Parses "text | expression" lines; errors name the line.
    static func parseConditions(_ text: String, errors: inout [PageError], t: [String: String]) -> [PolicyCondition] {
        var out: [PolicyCondition] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            guard let bar = line.firstIndex(of: "|") else {
                errors.append(PageError(field: "conditions", message: "\(n + 1): “说明 | 表达式” / “text | expression”"))
                continue
            }
            let label = line[..<bar].trimmingCharacters(in: .whitespaces)
            let expression = line[line.index(after: bar)...].trimmingCharacters(in: .whitespaces)
            out.append(PolicyCondition(text: label, expression: expression))
        }
        return out
    }

    func page(
        _ req: Request, item: PolicyItem?, form: EditorForm?, errors: [PageError] = [], notice: String? = nil,
        dryRun: DryRun.Result? = nil, status: HTTPResponseStatus = .ok
    ) async throws -> Response {
        let t = Self.strings.table(for: req.preferences.language)
        let revision = item.map { $0.pendingRevision ?? $0.revision }
        let mode = form?.mode ?? revision?.mode.rawValue ?? PolicyMode.apply.rawValue
        let audience = form?.audience ?? item?.audience.rawValue ?? PolicyAudience.enterprise.rawValue
        let english = req.preferences.language.rawValue == "en"
        var versions: [VersionRow] = []
        if let id = item?.id {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd HH:mm"
            formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
            versions = try await PolicyItemVersion.query(on: req.db).filter(\.$itemID == id).sort(\.$version, .descending).all()
                .map { VersionRow(version: $0.version, publishedAt: formatter.string(from: $0.publishedAt)) }
        }
        let schema = audience == PolicyAudience.person.rawValue ? PersonProfileSchema.described : ProfileSchema.described
        let data = EditorPage(
            isNew: item == nil, action: item?.id.map { "/policy/editor/\($0.uuidString.lowercased())" } ?? "/policy/editor/new",
            code: form?.code ?? item?.code ?? "", title: form?.title ?? revision?.title ?? "",
            titleEn: form?.titleEn ?? revision?.titleEn ?? "", issuer: form?.issuer ?? revision?.issuer ?? "",
            modes: PolicyMode.allCases.map { Option(value: $0.rawValue, label: t["pe_mode_\($0.rawValue)"] ?? $0.rawValue, selected: $0.rawValue == mode) },
            audiences: PolicyAudience.allCases.map {
                Option(value: $0.rawValue, label: t["pe_audience_\($0.rawValue)"] ?? $0.rawValue, selected: $0.rawValue == audience)
            },
            tags: form?.tags ?? revision?.tags.joined(separator: ", ") ?? "",
            validFrom: form?.validFrom ?? revision?.validFrom ?? "", validUntil: form?.validUntil ?? revision?.validUntil ?? "",
            conditions: form?.conditions ?? revision.map { Self.conditionsText($0.conditions) } ?? "",
            amount: form?.amountExpression ?? revision?.amountExpression ?? "",
            status: item.map { t[$0.status == .published ? "pe_published" : "pe_draft"] ?? "" } ?? t["pe_draft"] ?? "",
            version: item?.version ?? 1, pending: item?.pendingRevisionJSON != nil, errors: errors, invalid: Invalid(errors), notice: notice, dryRun: dryRun,
            dryRunNote: audience == PolicyAudience.person.rawValue ? t["pe_person_no_dry"] : nil,
            fields: schema.map { FieldRow(name: "profile.\($0.name)", type: $0.type, meaning: english ? $0.descriptionEn : $0.description) },
            versions: versions)
        let title = item.map { "\(t["pe_title"] ?? "") · \($0.code)" } ?? t["pe_new"] ?? ""
        return try await req.renderPage("policy/editor", title: title, strings: Self.strings, page: data, status: status)
    }

    /// Field errors of a problem (422 validation) or a rule problem, in the page's form.
    static func errors(from error: any Error) -> [PageError]? {
        if let rule = error as? RuleProblem {
            return rule.errors.map { e in
                var field = e.field
                if field.hasPrefix("conditions["), let close = field.firstIndex(of: "]"),
                    let n = Int(field[field.index(field.startIndex, offsetBy: 11)..<close])
                {
                    field = "conditions \(n + 1)"
                }
                return PageError(field: field, message: "\(e.line):\(e.column) \(e.message)")
            }
        }
        if let problem = error as? Problem, problem.status == .unprocessableEntity || problem.status == .badRequest {
            let listed = problem.errors.map { PageError(field: $0.field, message: $0.message) }
            return listed.isEmpty ? [PageError(field: "form", message: problem.detail ?? problem.title)] : listed
        }
        return nil
    }

    /// The service input the form describes.
    static func input(_ form: EditorForm, conditions: [PolicyCondition], isNew: Bool) -> PolicyService.ItemInput {
        func text(_ s: String?) -> String? { s?.trimmingCharacters(in: .whitespacesAndNewlines) }
        let tags = (form.tags ?? "").split(whereSeparator: { $0 == "," || $0 == "，" || $0 == " " }).map(String.init)
        return PolicyService.ItemInput(
            code: isNew ? text(form.code) : nil, title: text(form.title), titleEn: text(form.titleEn).flatMap { $0.isEmpty ? nil : $0 },
            issuer: text(form.issuer), issuerEn: nil, documentId: nil, departmentId: nil, conditions: conditions,
            amountExpression: text(form.amountExpression) ?? "", validFrom: text(form.validFrom) ?? "",
            validUntil: text(form.validUntil) ?? "", mode: form.mode.flatMap(PolicyMode.init(rawValue:)),
            audience: isNew ? form.audience.flatMap(PolicyAudience.init(rawValue:)) : nil, tags: tags)
    }

    // MARK: Routes

    @Sendable func list(req: Request) async throws -> Response {
        guard try staff(req) != nil else { return req.loginRedirect() }
        let t = Self.strings.table(for: req.preferences.language)
        let items = try await PolicyItem.query(on: req.db).sort(\.$code).limit(500).all()
        let rows = items.map {
            ListRow(id: $0.id?.uuidString.lowercased() ?? "", code: $0.code, title: $0.titleZh,
                    status: t[$0.status == .published ? "pe_published" : "pe_draft"] ?? "", version: $0.version,
                    pending: $0.pendingRevisionJSON != nil, mode: t["pe_mode_\($0.mode.rawValue)"] ?? "")
        }
        return try await req.renderPage("policy/editor-list", titleKey: "pe_title", strings: Self.strings, page: ListPage(items: rows))
    }

    @Sendable func newItem(req: Request) async throws -> Response {
        guard try staff(req) != nil else { return req.loginRedirect() }
        return try await page(req, item: nil, form: nil)
    }

    @Sendable func edit(req: Request) async throws -> Response {
        guard let principal = try staff(req) else { return req.loginRedirect() }
        let item = try await PolicyService(db: req.db, clock: req.application.clock).editable(try PolicyController.id(req), principal: principal)
        let t = Self.strings.table(for: req.preferences.language)
        var notice: String?
        if req.query[String.self, at: "saved"] != nil {
            notice = t[item.pendingRevisionJSON != nil ? "pe_saved_pending" : "pe_saved"]
        }
        if let v = req.query[Int.self, at: "published"] { notice = (t["pe_published_now"] ?? "") + String(v) }
        return try await page(req, item: item, form: nil, notice: notice)
    }

    @Sendable func submitNew(req: Request) async throws -> Response {
        try await handle(req, id: nil)
    }

    @Sendable func submit(req: Request) async throws -> Response {
        try await handle(req, id: try PolicyController.id(req))
    }

    /// One form, three buttons: check (compile and dry-run, nothing stored), save, publish.
    func handle(_ req: Request, id: UUID?) async throws -> Response {
        guard let principal = try staff(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        let form = try req.content.decode(EditorForm.self)
        let service = PolicyService(db: req.db, clock: req.application.clock)
        var existing: PolicyItem?
        if let id { existing = try await service.editable(id, principal: principal) }
        let t = Self.strings.table(for: req.preferences.language)
        var errors: [PageError] = []
        let conditions = Self.parseConditions(form.conditions ?? "", errors: &errors, t: t)
        if !errors.isEmpty {
            return try await page(req, item: existing, form: form, errors: errors, status: .unprocessableEntity)
        }
        let input = Self.input(form, conditions: conditions, isNew: existing == nil)
        do {
            switch form.action ?? "check" {
            case "save", "publish":
                let item: PolicyItem
                if let existing {
                    item = try await service.update(try existing.requireID(), input, principal: principal)
                } else {
                    item = try await service.create(input, principal: principal)
                }
                let path = "/policy/editor/\(try item.requireID().uuidString.lowercased())"
                if form.action == "publish", item.status == .draft || item.pendingRevisionJSON != nil {
                    let published = try await service.publish(try item.requireID(), principal: principal)
                    return req.redirect(to: "\(path)?published=\(published.version)", redirectType: .normal)
                }
                return req.redirect(to: "\(path)?saved=1", redirectType: .normal)
            default:
                let audience = existing?.audience ?? form.audience.flatMap(PolicyAudience.init(rawValue:)) ?? .enterprise
                if audience == .person {
                    _ = try CompiledPolicyItem.compile(conditions: conditions, amount: input.amountExpression, audience: .person)
                    return try await page(req, item: existing, form: form)
                }
                guard !conditions.isEmpty else {
                    return try await page(req, item: existing, form: form,
                                          errors: [PageError(field: "conditions", message: "1–50")], status: .unprocessableEntity)
                }
                let result = try await DryRun(db: req.db, clock: req.application.clock)
                    .run(conditions: conditions, amount: input.amountExpression, samples: nil)
                return try await page(req, item: existing, form: form, dryRun: result)
            }
        } catch {
            guard let listed = Self.errors(from: error) else { throw error }
            return try await page(req, item: existing, form: form, errors: listed, status: .unprocessableEntity)
        }
    }

    // MARK: 政策体检

    struct CheckupCondition: Encodable, Sendable {
        var text: String
        var result: String
        var label: String
    }

    struct CheckupItem: Encodable, Sendable {
        var code: String
        var title: String
        var eligible: Bool
        var amount: String?
        var mode: String
        var conditions: [CheckupCondition]
    }

    struct CheckupNotice: Encodable, Sendable {
        var title: String
        var when: String
        var amount: String?
        var unread: Bool
    }

    struct CheckupPage: Encodable, Sendable {
        var enterprise: String?
        var message: String?
        var items: [CheckupItem]
        var notices: [CheckupNotice]
    }

    /// GET /policy/checkup — for a member acting for an enterprise: every published item diagnosed against the
    /// enterprise's stored profile, and its push notices.
    @Sendable func checkup(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        let t = Self.strings.table(for: req.preferences.language)
        let english = req.preferences.language.rawValue == "en"
        var data = CheckupPage(enterprise: nil, message: nil, items: [], notices: [])
        let mine = try await EnterpriseService(db: req.db).enterprises(of: principal.userID)
        guard let enterprise = mine.first(where: { $0.id == principal.actingFor }) ?? mine.first else {
            data.message = t["pc_act"]
            return try await req.renderPage("policy/checkup", titleKey: "pc_title", strings: Self.strings, page: data)
        }
        data.enterprise = enterprise.name
        let service = PolicyService(db: req.db, clock: req.application.clock)
        if let stored = try await EnterpriseProfile.query(on: req.db).filter(\.$creditCode == enterprise.creditCode).first(),
            let profile = try? stored.celValue()
        {
            data.items = try await service.match(profile).map { m in
                CheckupItem(
                    code: m.code, title: english ? m.titleEn : m.title, eligible: m.eligible,
                    amount: m.amount.map { String(format: "%.2f", $0) }, mode: t["pe_mode_\(m.mode.rawValue)"] ?? "",
                    conditions: m.conditions.map {
                        CheckupCondition(text: english ? ($0.textEn ?? $0.text) : $0.text, result: $0.result.rawValue,
                                         label: t["pe_\($0.result.rawValue)"] ?? $0.result.rawValue)
                    })
            }
        } else {
            data.message = t["pc_no_profile"]
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        data.notices = try await PolicyNotice.query(on: req.db).group(.or) { or in
            or.filter(\.$creditCode == enterprise.creditCode)
            or.filter(\.$userID == principal.userID)
        }.sort(\.$createdAt, .descending).limit(20).all().map {
            CheckupNotice(title: english ? $0.titleEn : $0.titleZh, when: formatter.string(from: $0.createdAt),
                          amount: $0.amount.map { String(format: "%.2f", $0) }, unread: $0.readAt == nil)
        }
        return try await req.renderPage("policy/checkup", titleKey: "pc_title", strings: Self.strings, page: data)
    }
}
