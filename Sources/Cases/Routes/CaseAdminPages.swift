import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Web

/// Staff pages over the administration APIs: grid members (list, assign, remove — grid administrators) and
/// the case settings (the SLA table and supervision task sources: staff read, system administrators edit;
/// the routing rules; the duplicate window and points). Every change goes through the same
/// code as the API (validation, audit, versions).
struct CaseAdminPages: RouteCollection {
    static let strings = StringTable([
        "grids_title": ("网格与网格员", "Grids and grid members"),
        "grids_intro": ("您可管理以下网格的网格员。", "You manage the members of these grids."),
        "grids_none": ("您没有可管理的网格。", "There are no grids for you to manage."),
        "grids_filter": ("按编号或名称筛选", "Filter by code or name"),
        "grids_show": ("筛选", "Filter"),
        "grids_more": ("只显示前 200 个，请缩小筛选范围。", "Only the first 200 are shown; narrow the filter."),
        "col_code": ("编号", "Code"),
        "col_name": ("名称", "Name"),
        "col_members": ("网格员人数", "Members"),
        "col_username": ("账号", "Account"),
        "col_person": ("姓名", "Name"),
        "col_remove": ("操作", "Action"),
        "grid_title": ("网格员", "Grid members"),
        "grid_back": ("返回网格列表", "Back to the grids"),
        "members_none": ("该网格还没有网格员。", "This grid has no members yet."),
        "remove": ("移除", "Remove"),
        "remove_label": ("移除网格员 %@", "Remove grid member %@"),
        "add_title": ("添加网格员", "Add a grid member"),
        "field_username": ("工作人员账号", "Staff account (username)"),
        "field_username_hint": ("须为在用的工作人员账号。", "Must be an active staff account."),
        "add_submit": ("添加", "Add"),
        "flash_added": ("已添加网格员：", "Added grid member: "),
        "flash_removed": ("已移除网格员：", "Removed grid member: "),
        "errors_title": ("请修改以下问题：", "Please correct the following:"),
        "error_username_required": ("请填写工作人员账号。", "Please give a staff account."),
        "error_username_unknown": ("没有这个账号。", "There is no such account."),
        "error_username_not_staff": ("网格员须为在用的工作人员账号。", "Grid members must be active staff accounts."),
        "settings_title": ("案件设置", "Case settings"),
        "settings_readonly": ("只有系统管理员可以修改设置；您可以查看。", "Only system administrators change these settings; you can read them."),
        "settings_version": ("版本 %@，%@ 由 %@ 修改", "Version %@, changed %@ by %@"),
        "settings_default": ("默认设置（未修改过）", "The defaults (never changed)"),
        "sla_title": ("办理时限（SLA）", "Deadlines (SLA)"),
        "sla_intro": ("按案件类型和紧急程度设定响应时限和办结时限；按工作日历（含节假日和调休）计算。修改只影响之后的新时限。", "Response and resolution allowances per case type and priority, counted on the working calendar (holidays included). Changes apply to deadlines set afterwards."),
        "col_type": ("案件类型", "Case type"),
        "col_priority": ("紧急程度", "Priority"),
        "col_response": ("响应时限", "Response"),
        "col_resolution": ("办结时限", "Resolution"),
        "field_value": ("数值", "Amount"),
        "field_unit": ("单位", "Unit"),
        "hotline_response": ("12345 热线首次响应", "12345 hotline first response"),
        "unit_minutes": ("分钟", "minutes"),
        "unit_working_hours": ("工作小时", "working hours"),
        "unit_working_days": ("工作日", "working days"),
        "type_grid_event": ("网格事件", "Grid event"),
        "type_appeal": ("诉求", "Appeal"),
        "type_supervision": ("督办任务", "Supervision task"),
        "priority_normal": ("一般", "normal"),
        "priority_urgent": ("紧急", "urgent"),
        "sla_submit": ("保存办理时限", "Save the deadlines"),
        "sources_title": ("督办任务来源", "Supervision task sources"),
        "sources_intro": ("清空一行即删除该来源；已有任务保留原来源。编号为小写字母开头的 2–40 位小写字母、数字或下划线。", "Clear a row to delete that source; existing tasks keep theirs. Codes: 2–40 lower-case letters, digits or _, starting with a letter."),
        "col_source_code": ("编号", "Code"),
        "col_source_name": ("中文名称", "Chinese name"),
        "col_source_name_en": ("英文名称", "English name"),
        "source_row": ("来源 %@", "Source %@"),
        "sources_submit": ("保存任务来源", "Save the task sources"),
        "rules_title": ("分派规则", "Routing rules"),
        "rules_intro": ("按问题分类和网格所在区域选择承办部门（就近区域的规则优先，“*”为兜底）。", "The handling department by category and the grid's region (the nearest region's rule wins; * is the catch-all)."),
        "col_category": ("问题分类", "Category"),
        "col_region": ("区域", "Region"),
        "col_department": ("承办部门", "Department"),
        "all_regions": ("全部（默认）", "everywhere (default)"),
        "all_categories": ("*（其他分类）", "* (other categories)"),
        "col_rule_change": ("修改承办部门", "Change the department"),
        "col_rule_delete": ("删除", "Delete"),
        "rule_change_label": ("%@ 的承办部门", "Department for %@"),
        "rule_change_submit": ("修改", "Change"),
        "rule_change_button": ("修改规则：%@", "Change rule: %@"),
        "rule_delete_button": ("删除规则：%@", "Delete rule: %@"),
        "rule_default_kept": ("默认规则（兜底）", "default rule (kept)"),
        "rule_add_title": ("添加分派规则", "Add a routing rule"),
        "rule_field_category": ("问题分类", "Category"),
        "rule_field_region": ("区域编码（可选）", "Region code (optional)"),
        "rule_field_region_hint": ("留空即该分类在全部区域的默认规则；可填区、街道、社区或网格的编码。", "Leave blank for the category's default rule everywhere; or a district, street, community or grid code."),
        "rule_field_department": ("承办部门", "Department"),
        "rule_choose": ("请选择", "Choose"),
        "rule_add_submit": ("添加规则", "Add the rule"),
        "flash_rule_added": ("已添加分派规则。", "Routing rule added."),
        "flash_rule_changed": ("已修改分派规则。", "Routing rule changed."),
        "flash_rule_deleted": ("已删除分派规则。", "Routing rule deleted."),
        "duplicates_title": ("重复件与积分", "Duplicates and points"),
        "duplicates_meters": ("重复件距离（米）", "Duplicate distance (metres)"),
        "duplicates_hours": ("重复件时间窗（小时）", "Duplicate time window (hours)"),
        "points_per_report": ("有效反映积分", "Points per valid report"),
        "duplicates_env": ("未修改过时使用服务器环境变量 TONGBAN_CASES_DUPLICATE_METERS、TONGBAN_CASES_DUPLICATE_HOURS、TONGBAN_CASES_POINTS 的值。", "Until changed here, the server's environment variables TONGBAN_CASES_DUPLICATE_METERS, TONGBAN_CASES_DUPLICATE_HOURS and TONGBAN_CASES_POINTS apply."),
        "duplicates_intro": ("同一分类、在该距离和时间窗内的未办结案件的反映合并为重复件。修改只影响之后的新反映和新办结。", "Reports of the same category within this distance and time of an open case are linked to it. Changes apply to later reports and closings."),
        "duplicates_meters_hint": ("0–5000 米；0 表示不检测重复件。", "0–5000 metres; 0 turns duplicate detection off."),
        "duplicates_hours_hint": ("1–720 小时。", "1–720 hours."),
        "points_hint": ("0–1000 分。", "0–1000 points."),
        "duplicates_submit": ("保存重复件与积分设置", "Save duplicates and points"),
        "error_not_number": ("请填写数字。", "Please give a number."),
        "flash_saved": ("已保存，新版本 ", "Saved, new version "),
        "settings_link": ("案件设置", "Case settings"),
        "inbox_title": ("案件待办", "Case inbox"),
        "grids_link": ("网格员管理", "Grid members"),
    ])

    struct Option: Encodable, Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    struct GridRow: Encodable, Sendable {
        var code: String
        var name: String
        var members: Int
    }

    struct GridsPage: Encodable, Sendable {
        var q: String
        var rows: [GridRow]
        var more: Bool
    }

    struct MemberRow: Encodable, Sendable {
        var username: String
        var name: String
        var removeLabel: String
    }

    struct GridPage: Encodable, Sendable {
        var code: String
        var name: String
        var members: [MemberRow]
        var username: String
        var errors: [FieldError]
        var usernameInvalid: Bool
        var flash: CasePages.Flash?
    }

    struct DurationField: Encodable, Sendable {
        var id: String
        var name: String
        var value: String
        var units: [Option]
        var invalid: Bool
    }

    struct SLARow: Encodable, Sendable {
        var id: String
        var type: String
        var priority: String
        var response: DurationField
        var resolution: DurationField
    }

    struct SourceRow: Encodable, Sendable {
        var index: Int
        var label: String
        var code: String
        var name: String
        var nameEn: String
        var codeInvalid: Bool
        var nameInvalid: Bool
        var nameEnInvalid: Bool
    }

    struct RuleRow: Encodable, Sendable {
        var id: String
        var category: String
        var region: String
        var department: String
        var departments: [Option]
        var changeLabel: String
        var changeButton: String
        var deleteButton: String
        var deletable: Bool
        var invalid: Bool
    }

    struct RuleForm: Encodable, Sendable {
        var categories: [Option]
        var region: String
        var departments: [Option]
        var categoryInvalid: Bool
        var regionInvalid: Bool
        var departmentInvalid: Bool
    }

    struct SettingsPage: Encodable, Sendable {
        var admin: Bool
        var flash: CasePages.Flash?
        var errors: [FieldError]
        var slaVersion: String
        var sla: [SLARow]
        var hotline: DurationField
        var sourcesVersion: String
        var sources: [SourceRow]
        var rules: [RuleRow]
        var ruleForm: RuleForm
        var reportingVersion: String
        var duplicateMeters: String
        var duplicateHours: String
        var points: String
        var metersInvalid: Bool
        var hoursInvalid: Bool
        var pointsInvalid: Bool
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("staff", "cases", "grids", use: grids)
        routes.get("staff", "cases", "grids", ":grid", use: grid)
        routes.post("staff", "cases", "grids", ":grid", "members", use: addMember)
        routes.post("staff", "cases", "grids", ":grid", "members", ":user", "remove", use: removeMember)
        routes.get("staff", "cases", "settings", use: settings)
        routes.post("staff", "cases", "settings", "sla", use: saveSLA)
        routes.post("staff", "cases", "settings", "task-sources", use: saveSources)
        routes.post("staff", "cases", "settings", "routing-rules", use: addRule)
        routes.post("staff", "cases", "settings", "duplicates-points", use: saveReporting)
        routes.post("staff", "cases", "settings", "routing-rules", ":rule", use: changeRule)
        routes.post("staff", "cases", "settings", "routing-rules", ":rule", "delete", use: deleteRule)
    }

    // MARK: grids

    /// GET /staff/cases/grids?q= — staff: the grids they administer (system administrators, department
    /// administrators on the grid's region chain) with member counts; none for other staff.
    @Sendable func grids(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        guard principal.isStaff else { throw Problem.forbidden }
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let q = (req.query[String.self, at: "q"] ?? "").trimmingCharacters(in: .whitespaces)
        let mine = directory.grids.values
            .filter { GridMembersController.isGridAdmin(principal, $0, directory) }
        let matching = mine.filter { q.isEmpty || $0.code.localizedCaseInsensitiveContains(q) || $0.name.contains(q) }
            .sorted { $0.code < $1.code }
        let shown = Array(matching.prefix(200))
        var counts: [UUID: Int] = [:]
        for (_, gridIDs) in directory.memberGrids {
            for id in gridIDs { counts[id, default: 0] += 1 }
        }
        let page = GridsPage(
            q: q, rows: shown.map { GridRow(code: $0.code, name: $0.name, members: counts[$0.id] ?? 0) },
            more: matching.count > shown.count)
        return try await req.renderPage("cases/grids", titleKey: "grids_title", strings: Self.strings, page: page)
    }

    func authorisedGrid(_ req: Request, _ principal: Principal) async throws -> CasesDirectory.GridInfo {
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let grid = try GridMembersController.grid(req, directory)
        guard GridMembersController.isGridAdmin(principal, grid, directory) else { throw Problem.forbidden }
        return grid
    }

    func renderGrid(
        _ req: Request, grid: CasesDirectory.GridInfo, username: String = "", errors: [FieldError] = [], status: HTTPStatus = .ok
    ) async throws -> Response {
        let t = Self.strings.table(for: req.preferences.language)
        let members = try await GridMembersController.members(of: grid, db: req.db)
        let page = GridPage(
            code: grid.code, name: grid.name,
            members: members.map {
                MemberRow(
                    username: $0.username, name: $0.name,
                    removeLabel: (t["remove_label"] ?? "%@").replacingOccurrences(of: "%@", with: "\($0.name)（\($0.username)）"))
            },
            username: username, errors: errors, usernameInvalid: errors.contains { $0.field == "username" },
            flash: CasePages().takeFlash(req))
        return try await req.renderPage(
            "cases/grid", title: (t["grid_title"] ?? "") + " · " + grid.name, strings: Self.strings, page: page, status: status)
    }

    /// GET /staff/cases/grids/{grid} — the grid's members, a remove button each and the add form.
    @Sendable func grid(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        let grid = try await authorisedGrid(req, principal)
        return try await renderGrid(req, grid: grid)
    }

    struct AddForm: Content {
        var username: String?
    }

    /// POST /staff/cases/grids/{grid}/members — assigns by username; errors re-render the form (422/409).
    @Sendable func addMember(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        let grid = try await authorisedGrid(req, principal)
        let username = ((try? req.content.decode(AddForm.self))?.username ?? "").trimmingCharacters(in: .whitespaces)
        let t = Self.strings.table(for: req.preferences.language)
        do {
            let added = try await GridMembersController.assign(
                .init(username: username, userId: nil), to: grid, principal: principal, app: req.application, db: req.db)
            CasePages().flash(req, "success", (t["flash_added"] ?? "") + added.username)
        } catch let problem as Problem where problem.status == .unprocessableEntity || problem.status == .conflict {
            let message: String
            switch problem.errors.first?.message {
            case _ where username.isEmpty: message = t["error_username_required"] ?? ""
            case "does not name an account"?: message = t["error_username_unknown"] ?? ""
            case "grid members are active staff accounts"?: message = t["error_username_not_staff"] ?? ""
            default: message = problem.detail ?? problem.title
            }
            let label = t["field_username"] ?? "username"
            return try await renderGrid(
                req, grid: grid, username: username, errors: [FieldError(field: "username", message: label + "：" + message)],
                status: problem.status)
        }
        return req.redirect(to: "/staff/cases/grids/\(grid.code)", redirectType: .normal)
    }

    /// POST /staff/cases/grids/{grid}/members/{user}/remove — removes one member.
    @Sendable func removeMember(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        let grid = try await authorisedGrid(req, principal)
        let user = req.parameters.get("user") ?? ""
        try await GridMembersController.remove(user, from: grid, principal: principal, app: req.application, db: req.db)
        let t = Self.strings.table(for: req.preferences.language)
        CasePages().flash(req, "success", (t["flash_removed"] ?? "") + user)
        return req.redirect(to: "/staff/cases/grids/\(grid.code)", redirectType: .normal)
    }

    // MARK: settings

    static let units = ["minutes", "working_hours", "working_days"]

    /// Form field names and element ids of the SLA table: row i is type × priority in ``SLATable/body`` order.
    static func slaKey(_ index: Int, _ which: String) -> String { "sla_\(index)_\(which)" }

    /// The element id (without `f-`) an API error field points at: `items[2].response` → `sla_2_response_value`.
    static func slaAnchor(_ field: String) -> String {
        if field == "hotlineResponse" { return "hotline_value" }
        let scanner = field.dropFirst("items[".count)
        let index = scanner.prefix { $0.isNumber }
        let rest = scanner.dropFirst(index.count + 1).drop { $0 == "." }
        let which = rest.isEmpty ? "response" : String(rest)
        return slaKey(Int(index) ?? 0, which) + "_value"
    }

    func duration(_ id: String, _ value: SLADurationView, invalid: Bool, t: [String: String], minutes: Bool = true) -> DurationField {
        DurationField(
            id: id, name: id, value: value.value.map(String.init) ?? "",
            units: Self.units.filter { minutes || $0 != "minutes" }.map {
                Option(value: $0, label: t["unit_\($0)"] ?? $0, selected: $0 == value.unit)
            },
            invalid: invalid)
    }

    func versionText(_ t: [String: String], version: Int, at: Date?, by: String?) -> String {
        guard version > 0 else { return t["settings_default"] ?? "" }
        var text = t["settings_version"] ?? "%@ %@ %@"
        for part in [String(version), at.map(CasePages.time) ?? "", by ?? "—"] {
            if let range = text.range(of: "%@") { text.replaceSubrange(range, with: part) }
        }
        return text
    }

    /// Renders the settings page; `postedSLA`/`postedSources` keep what a rejected form sent.
    func renderSettings(
        _ req: Request, principal: Principal, postedSLA: SLATable.Body? = nil, postedSources: [TaskSource]? = nil,
        postedRule: RoutingRulesController.RuleRequest? = nil, postedDepartments: [String: String] = [:],
        postedReporting: ReportingForm? = nil,
        errors: [FieldError] = [], status: HTTPStatus = .ok
    ) async throws -> Response {
        let t = Self.strings.table(for: req.preferences.language)
        let english = req.preferences.language == .en
        let controller = CaseSettingsController()
        let sla = try await controller.slaView(req)
        let sources = try await controller.taskSourcesView(req)
        let invalid = Set(errors.map(\.field))
        let items = postedSLA?.items ?? sla.items
        let slaRows = items.enumerated().map { index, item in
            SLARow(
                id: Self.slaKey(index, "row"),
                type: t["type_\(item.type ?? "")"] ?? item.type ?? "", priority: t["priority_\(item.priority ?? "")"] ?? item.priority ?? "",
                response: duration(
                    Self.slaKey(index, "response"), item.response ?? SLADurationView(value: nil, unit: nil),
                    invalid: invalid.contains(Self.slaKey(index, "response_value")), t: t),
                resolution: duration(
                    Self.slaKey(index, "resolution"), item.resolution ?? SLADurationView(value: nil, unit: nil),
                    invalid: invalid.contains(Self.slaKey(index, "resolution_value")), t: t, minutes: false))
        }
        let shownSources = (postedSources ?? sources.items) + Array(repeating: TaskSource(code: "", name: "", nameEn: ""), count: 3)
        let sourceLabel = t["source_row"] ?? "%@"
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let departmentList = directory.departments.values.sorted { $0.code < $1.code }
        func departmentOptions(_ selected: String) -> [Option] {
            departmentList.map {
                Option(value: $0.code, label: (english ? $0.nameEn : $0.name) + "（\($0.code)）", selected: $0.code == selected)
            }
        }
        func fill(_ template: String?, _ value: String) -> String { (template ?? "%@").replacingOccurrences(of: "%@", with: value) }
        let rules = try await RoutingRulesController.all(db: req.db, directory: directory).map { rule -> RuleRow in
            let category = rule.category == "*" ? (t["all_categories"] ?? "*")
                : directory.categories[rule.category].map { (english ? $0.nameEn : $0.name) + "（\(rule.category)）" } ?? rule.category
            let region = rule.region.map { (english ? $0.nameEn : $0.name) + "（\($0.code)）" } ?? (t["all_regions"] ?? "")
            let id = rule.id.uuidString
            let posted = postedDepartments[id]
            let name = region + " · " + category
            return RuleRow(
                id: id, category: category, region: region,
                department: (english ? rule.department.nameEn : rule.department.name) + "（\(rule.department.code)）",
                departments: departmentOptions(posted ?? rule.department.code), changeLabel: fill(t["rule_change_label"], name),
                changeButton: fill(t["rule_change_button"], name), deleteButton: fill(t["rule_delete_button"], name),
                deletable: !(rule.category == "*" && rule.region == nil), invalid: invalid.contains("rule_\(id)_department"))
        }
        let categoryList = directory.categories.values.sorted { $0.code < $1.code }
        let ruleForm = RuleForm(
            categories: [Option(value: "*", label: t["all_categories"] ?? "*", selected: postedRule?.category == "*")]
                + categoryList.map {
                    Option(value: $0.code, label: (english ? $0.nameEn : $0.name) + "（\($0.code)）", selected: postedRule?.category == $0.code)
                },
            region: postedRule?.region ?? "", departments: departmentOptions(postedRule?.department ?? ""),
            categoryInvalid: invalid.contains("rule_category"), regionInvalid: invalid.contains("rule_region"),
            departmentInvalid: invalid.contains("rule_department"))
        let reporting = try await controller.reportingView(req)
        let page = SettingsPage(
            admin: principal.isSystemAdmin, flash: CasePages().takeFlash(req), errors: errors,
            slaVersion: versionText(t, version: sla.version, at: sla.updatedAt, by: sla.updatedBy), sla: slaRows,
            hotline: duration(
                "hotline", postedSLA?.hotlineResponse ?? sla.hotlineResponse, invalid: invalid.contains("hotline_value"), t: t),
            sourcesVersion: versionText(t, version: sources.version, at: sources.updatedAt, by: sources.updatedBy),
            sources: shownSources.enumerated().map { index, source in
                SourceRow(
                    index: index, label: sourceLabel.replacingOccurrences(of: "%@", with: String(index + 1)), code: source.code,
                    name: source.name, nameEn: source.nameEn, codeInvalid: invalid.contains("source_\(index)_code"),
                    nameInvalid: invalid.contains("source_\(index)_name"), nameEnInvalid: invalid.contains("source_\(index)_nameEn"))
            },
            rules: rules, ruleForm: ruleForm,
            reportingVersion: versionText(t, version: reporting.version, at: reporting.updatedAt, by: reporting.updatedBy),
            duplicateMeters: postedReporting?.meters ?? String(format: "%g", reporting.duplicates.meters ?? 0),
            duplicateHours: postedReporting?.hours ?? String(format: "%g", reporting.duplicates.hours ?? 0),
            points: postedReporting?.points ?? String(reporting.points.perValidReport ?? 0),
            metersInvalid: invalid.contains("dup_meters"), hoursInvalid: invalid.contains("dup_hours"),
            pointsInvalid: invalid.contains("points_per_report"))
        return try await req.renderPage("cases/settings", titleKey: "settings_title", strings: Self.strings, page: page, status: status)
    }

    /// GET /staff/cases/settings — staff read; system administrators get the forms.
    @Sendable func settings(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        guard principal.isStaff else { throw Problem.forbidden }
        return try await renderSettings(req, principal: principal)
    }

    /// POST /staff/cases/settings/sla — system administrators: the whole table (every row) as a new version.
    @Sendable func saveSLA(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        let form = (try? req.content.decode([String: String].self)) ?? [:]
        func field(_ key: String) -> SLADurationView? {
            let raw = form[key + "_value"]?.trimmingCharacters(in: .whitespaces) ?? ""
            let unit = form[key + "_unit"]
            if raw.isEmpty && unit == nil { return nil }
            // A value that is not a whole number keeps nil, which the validation names ("value is required").
            return SLADurationView(value: Int(raw), unit: unit)
        }
        var items: [SLATable.Item] = []
        var index = 0
        for type in CaseType.allCases {
            for priority in CasePriority.allCases {
                let response = field(Self.slaKey(index, "response"))
                let resolution = field(Self.slaKey(index, "resolution"))
                // A row the form did not send keeps its value (the page always sends every row).
                items.append(SLATable.Item(type: type.rawValue, priority: priority.rawValue, response: response, resolution: resolution))
                index += 1
            }
        }
        let sentIndex = items.indices.filter { items[$0].response != nil || items[$0].resolution != nil }
        let body = SLATable.Body(items: sentIndex.isEmpty ? nil : sentIndex.map { items[$0] }, hotlineResponse: field("hotline"))
        /// `items[k]…` of the sent rows → `items[row]…` of the page.
        func pageField(_ field: String) -> String {
            guard field.hasPrefix("items["), let k = Int(field.dropFirst(6).prefix { $0.isNumber }), sentIndex.indices.contains(k)
            else { return field }
            return "items[\(sentIndex[k])]" + field.dropFirst(6).drop { $0.isNumber }.dropFirst()
        }
        let t = Self.strings.table(for: req.preferences.language)
        do {
            let current = try await CaseSettingsService.latest("sla", db: req.db).map { SLATable.from(json: $0.body) } ?? .defaults
            let updated = try current.applying(body)
            let row = try await CaseSettingsService(app: req.application, db: req.db).save(
                kind: "sla", body: try CaseSettingsService.encode(updated.body), principal: principal)
            CasePages().flash(req, "success", (t["flash_saved"] ?? "") + String(row.version))
        } catch let problem as Problem where problem.status == .unprocessableEntity || problem.status == .conflict {
            let errors = problem.errors.isEmpty
                ? [FieldError(field: Self.slaKey(0, "response_value"), message: problem.detail ?? problem.title)]
                : problem.errors.map { error in
                    let field = pageField(error.field)
                    return FieldError(field: Self.slaAnchor(field), message: label(field, items: items, t: t) + "：" + error.message)
                }
            let shown = try await CaseSettingsController().slaView(req)
            let posted = items.enumerated().map { index, item in
                SLATable.Item(
                    type: item.type, priority: item.priority, response: item.response ?? shown.items[safe: index]?.response,
                    resolution: item.resolution ?? shown.items[safe: index]?.resolution)
            }
            return try await renderSettings(
                req, principal: principal, postedSLA: SLATable.Body(items: posted, hotlineResponse: body.hotlineResponse),
                errors: errors, status: problem.status)
        }
        return req.redirect(to: "/staff/cases/settings", redirectType: .normal)
    }

    /// A readable name for an SLA error field (`items[1].response` → "网格事件 紧急 响应时限").
    func label(_ field: String, items: [SLATable.Item], t: [String: String]) -> String {
        if field == "hotlineResponse" { return t["hotline_response"] ?? field }
        let anchor = Self.slaAnchor(field)
        let parts = anchor.split(separator: "_")
        guard parts.count >= 3, let index = Int(parts[1]), items.indices.contains(index) else { return field }
        let item = items[index]
        return [
            t["type_\(item.type ?? "")"] ?? "", t["priority_\(item.priority ?? "")"] ?? "", t["col_\(parts[2])"] ?? String(parts[2]),
        ].joined(separator: " ")
    }

    /// POST /staff/cases/settings/task-sources — system administrators: the non-empty rows replace the list.
    @Sendable func saveSources(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        let form = (try? req.content.decode([String: String].self)) ?? [:]
        var rows: [(index: Int, source: TaskSource)] = []
        for index in 0..<60 {
            let code = form["source_\(index)_code"] ?? ""
            let name = form["source_\(index)_name"] ?? ""
            let nameEn = form["source_\(index)_nameEn"] ?? ""
            let source = TaskSource(code: code, name: name, nameEn: nameEn)
            if [code, name, nameEn].allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            rows.append((index, source))
        }
        let t = Self.strings.table(for: req.preferences.language)
        let request = CaseSettingsController.TaskSourcesRequest(
            items: rows.map { .init(code: $0.source.code, name: $0.source.name, nameEn: $0.source.nameEn) })
        do {
            let saved = try await CaseSettingsController.saveTaskSources(request, principal: principal, app: req.application, db: req.db)
            CasePages().flash(req, "success", (t["flash_saved"] ?? "") + String(saved.version))
        } catch let problem as Problem where problem.status == .unprocessableEntity || problem.status == .conflict {
            let errors = problem.errors.isEmpty
                ? [FieldError(field: "source_0_code", message: problem.detail ?? problem.title)]
                : problem.errors.map { error -> FieldError in
                    // items[i].code → row i of the re-rendered form (which shows the non-blank rows in order).
                    let inner = error.field.dropFirst("items[".count)
                    let row = Int(inner.prefix { $0.isNumber }) ?? 0
                    let which = inner.split(separator: ".").last.map(String.init) ?? "code"
                    let name = ["code": t["col_source_code"], "name": t["col_source_name"], "nameEn": t["col_source_name_en"]][which] ?? nil
                    let prefix = (t["source_row"] ?? "%@").replacingOccurrences(of: "%@", with: String(row + 1))
                    return FieldError(
                        field: error.field == "items" ? "source_0_code" : "source_\(row)_\(which)",
                        message: prefix + " " + (name ?? which) + "：" + error.message)
                }
            return try await renderSettings(
                req, principal: principal, postedSources: rows.map(\.source), errors: errors, status: problem.status)
        }
        return req.redirect(to: "/staff/cases/settings", redirectType: .normal)
    }
}

extension CaseAdminPages {
    // MARK: duplicates and points

    struct ReportingForm: Content {
        var meters: String?
        var hours: String?
        var points: String?
    }

    /// POST /staff/cases/settings/duplicates-points — system administrators: the three values as a new version.
    @Sendable func saveReporting(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        let form = (try? req.content.decode(ReportingForm.self)) ?? ReportingForm()
        let t = Self.strings.table(for: req.preferences.language)
        let labels = [
            "dup_meters": t["duplicates_meters"] ?? "", "dup_hours": t["duplicates_hours"] ?? "",
            "points_per_report": t["points_per_report"] ?? "",
        ]
        func number(_ raw: String?) -> String { raw?.trimmingCharacters(in: .whitespaces) ?? "" }
        let meters = number(form.meters), hours = number(form.hours), points = number(form.points)
        // Text that is not a number is named here; the ranges are the API's validation.
        var errors: [FieldError] = []
        if Double(meters) == nil { errors.append(FieldError(field: "dup_meters", message: labels["dup_meters"]! + "：" + (t["error_not_number"] ?? ""))) }
        if Double(hours) == nil { errors.append(FieldError(field: "dup_hours", message: labels["dup_hours"]! + "：" + (t["error_not_number"] ?? ""))) }
        if Int(points) == nil {
            errors.append(FieldError(field: "points_per_report", message: labels["points_per_report"]! + "：" + (t["error_not_number"] ?? "")))
        }
        let posted = ReportingForm(meters: meters, hours: hours, points: points)
        if !errors.isEmpty {
            return try await renderSettings(
                req, principal: principal, postedReporting: posted, errors: errors, status: .unprocessableEntity)
        }
        let body = ReportingSettings.Body(
            duplicates: .init(meters: Double(meters), hours: Double(hours)), points: .init(perValidReport: Int(points)))
        do {
            let row = try await CaseSettingsController.saveReporting(body, principal: principal, app: req.application, db: req.db)
            CasePages().flash(req, "success", (t["flash_saved"] ?? "") + String(row.version))
        } catch let problem as Problem where problem.status == .unprocessableEntity || problem.status == .conflict {
            let anchors = ["duplicates.meters": "dup_meters", "duplicates.hours": "dup_hours", "points.perValidReport": "points_per_report"]
            let errors = problem.errors.isEmpty
                ? [FieldError(field: "dup_meters", message: problem.detail ?? problem.title)]
                : problem.errors.map { error in
                    let anchor = anchors[error.field] ?? "dup_meters"
                    return FieldError(field: anchor, message: (labels[anchor] ?? error.field) + "：" + error.message)
                }
            return try await renderSettings(req, principal: principal, postedReporting: posted, errors: errors, status: problem.status)
        }
        return req.redirect(to: "/staff/cases/settings#duplicates-heading", redirectType: .normal)
    }

    // MARK: routing rules

    struct RuleFormBody: Content {
        var category: String?
        var region: String?
        var department: String?
    }

    /// A 422/409 from the routing-rule API as page errors: `field` → the element id (without `f-`).
    func ruleErrors(_ problem: Problem, anchor: (String) -> String, t: [String: String]) -> [FieldError] {
        let labels = [
            "category": t["rule_field_category"] ?? "", "region": t["rule_field_region"] ?? "",
            "department": t["rule_field_department"] ?? "",
        ]
        guard !problem.errors.isEmpty else {
            return [FieldError(field: anchor(problem.status == .conflict ? "category" : "department"), message: problem.detail ?? problem.title)]
        }
        return problem.errors.map { FieldError(field: anchor($0.field), message: (labels[$0.field] ?? $0.field) + "：" + $0.message) }
    }

    /// POST /staff/cases/settings/routing-rules — system administrators: adds a rule (category, region code, department).
    @Sendable func addRule(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        let form = (try? req.content.decode(RuleFormBody.self)) ?? RuleFormBody()
        let body = RoutingRulesController.RuleRequest(category: form.category, region: form.region, department: form.department)
        let t = Self.strings.table(for: req.preferences.language)
        do {
            _ = try await RoutingRulesController.create(body, principal: principal, app: req.application, db: req.db)
            CasePages().flash(req, "success", t["flash_rule_added"] ?? "")
        } catch let problem as Problem where problem.status == .unprocessableEntity || problem.status == .conflict {
            return try await renderSettings(
                req, principal: principal, postedRule: body, errors: ruleErrors(problem, anchor: { "rule_\($0)" }, t: t),
                status: problem.status)
        }
        return req.redirect(to: "/staff/cases/settings#rules-heading", redirectType: .normal)
    }

    /// POST /staff/cases/settings/routing-rules/{id} — system administrators: changes the rule's department.
    @Sendable func changeRule(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        let reference = req.parameters.get("rule")
        let rule = try await RoutingRulesController.find(reference, db: req.db)
        let id = try rule.requireID().uuidString
        let department = (try? req.content.decode(RuleFormBody.self))?.department ?? ""
        let body = RoutingRulesController.RuleRequest(
            category: rule.category, region: rule.regionID?.uuidString, department: department)
        let t = Self.strings.table(for: req.preferences.language)
        do {
            _ = try await RoutingRulesController.update(reference, body, principal: principal, app: req.application, db: req.db)
            CasePages().flash(req, "success", t["flash_rule_changed"] ?? "")
        } catch let problem as Problem where problem.status == .unprocessableEntity || problem.status == .conflict {
            return try await renderSettings(
                req, principal: principal, postedDepartments: [id: department],
                errors: ruleErrors(problem, anchor: { _ in "rule_\(id)_department" }, t: t), status: problem.status)
        }
        return req.redirect(to: "/staff/cases/settings#rules-heading", redirectType: .normal)
    }

    /// POST /staff/cases/settings/routing-rules/{id}/delete — system administrators.
    @Sendable func deleteRule(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        try await RoutingRulesController.delete(req.parameters.get("rule"), principal: principal, app: req.application, db: req.db)
        let t = Self.strings.table(for: req.preferences.language)
        CasePages().flash(req, "success", t["flash_rule_deleted"] ?? "")
        return req.redirect(to: "/staff/cases/settings#rules-heading", redirectType: .normal)
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
