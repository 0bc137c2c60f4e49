import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Web

/// Pages: the report form (works without a map: coordinates or an address), the case with its timeline,
/// the staff inbox and statistics with server-rendered SVG charts.
struct CasePages: RouteCollection {
    /// The largest upload body the attachment form collects (the file limit plus the multipart envelope).
    var attachmentBodyLimit = 10 * 1024 * 1024 + 256 * 1024

    static let strings = StringTable([
        "report_title": ("我要反映", "Report a problem"),
        "report_intro": (
            "反映身边的问题或提出诉求，我们会按网格派给负责的部门办理。没有地图也可以填写：填经纬度或详细地址均可。",
            "Report a problem or make a request; it goes to the department responsible for the place. No map needed: give coordinates or an address."
        ),
        "field_type": ("类型", "Kind"),
        "type_grid_event": ("网格事件（身边的问题）", "Problem at a place"),
        "type_appeal": ("诉求（投诉、求助、建议）", "Appeal (complaint, help, suggestion)"),
        "type_supervision": ("督办任务", "Supervision task"),
        "field_category": ("问题分类", "Category"),
        "field_description": ("问题描述", "Description"),
        "field_lat": ("纬度", "Latitude"),
        "field_lon": ("经度", "Longitude"),
        "field_location_hint": ("十进制度数，例如纬度 23.05、经度 113.15（禅城区）。问题类事件必填。", "Decimal degrees, e.g. latitude 23.05, longitude 113.15 (Chancheng). Required for a problem at a place."),
        "field_address": ("详细地址（选填）", "Address (optional)"),
        "report_submit": ("提交", "Submit"),
        "errors_title": ("请修改以下问题：", "Please correct the following:"),
        "created": ("已提交，编号 ", "Submitted, number "),
        "case_title": ("案件详情", "Case"),
        "col_number": ("编号", "Number"),
        "col_category": ("分类", "Category"),
        "col_status": ("状态", "Status"),
        "col_department": ("承办部门", "Department"),
        "col_grid": ("网格", "Grid"),
        "col_level": ("层级", "Level"),
        "col_due": ("办结时限", "Due"),
        "col_sla": ("预警", "Warning"),
        "col_created": ("提交时间", "Filed"),
        "outside_grid": ("不在任何网格内（由区默认部门办理）", "Outside every grid (the district default department handles it)"),
        "section_timeline": ("办理过程", "Timeline"),
        "inbox_title": ("案件待办", "Case inbox"),
        "inbox_empty": ("暂无案件。", "No cases."),
        "stats_title": ("案件统计", "Case statistics"),
        "grids_link": ("网格员管理", "Grid members"),
        "settings_link": ("案件设置", "Case settings"),
        "stats_from": ("开始日期", "From"),
        "stats_to": ("结束日期", "To"),
        "stats_show": ("查询", "Show"),
        "stats_total": ("案件总数", "Cases"),
        "stats_overdue_rate": ("超期率", "Overdue rate"),
        "stats_response": ("平均响应（分钟）", "Average response (minutes)"),
        "stats_resolution": ("平均办结（小时）", "Average resolution (hours)"),
        "stats_satisfaction": ("满意率", "Satisfaction"),
        "stats_by_category": ("按分类", "By category"),
        "stats_by_status": ("按状态", "By status"),
        "stats_by_department": ("按部门", "By department"),
        "stats_csv": ("导出 CSV", "Export CSV"),
        "warning_normal": ("正常", "on time"),
        "warning_yellow": ("黄色预警", "yellow warning"),
        "warning_red": ("红色预警", "red warning"),
        "status_dispatched": ("已派单", "dispatched"),
        "status_processing": ("办理中", "in progress"),
        "status_resolved": ("已反馈", "answered"),
        "status_closed": ("已办结", "closed"),
        "status_duplicate": ("重复件", "duplicate"),
        "level_community": ("社区", "community"),
        "level_street": ("街道", "street"),
        "level_district": ("区", "district"),
        "level_city": ("市", "city"),
        "section_actions": ("办理操作", "Actions"),
        "actions_none": ("您现在没有可办理的操作。", "There is nothing for you to do on this case now."),
        "action_create": ("提交", "Filed"),
        "action_accept": ("签收", "Accept"),
        "action_accept_hint": ("签收后开始办理，响应时限即告完成。", "Accepting starts the handling and meets the response deadline."),
        "action_dispatch": ("派单", "Dispatch"),
        "action_dispatch_hint": ("派给同级或下级部门，可指定协办部门（本部门为主办）。", "Send to a department at the same or a lower level; co-handling departments are optional."),
        "action_escalate": ("上报上级", "Escalate"),
        "action_escalate_hint": ("本级无法办理时上报上一级，须说明理由。", "When this level cannot handle the case, send it to the level above, with the reason."),
        "action_feedback": ("反馈办理结果", "Feed back the result"),
        "action_return": ("退回重办", "Return for rework"),
        "action_urge": ("催办", "Urge"),
        "action_close": ("办结", "Close"),
        "action_evaluate": ("评价", "Evaluate"),
        "field_comment": ("说明", "Comment"),
        "field_reason": ("理由（必填）", "Reason (required)"),
        "field_result": ("办理结果（必填）", "Result (required)"),
        "field_department": ("承办部门", "Department"),
        "field_cohandlers": ("协办部门（可多选）", "Co-handling departments (any number)"),
        "field_valid": ("反映属实（给予积分）", "The report was valid (points are awarded)"),
        "field_satisfied": ("您对办理结果是否满意？", "Are you satisfied with the result?"),
        "satisfied_yes": ("满意", "Satisfied"),
        "satisfied_no": ("不满意（将重新办理一次）", "Not satisfied (the case is reopened once)"),
        "field_note": ("不满意的原因", "What is still wrong"),
        "field_note_hint": ("不满意时必填。", "Required when not satisfied."),
        "field_evaluate_comment": ("评价意见（选填）", "Comments (optional)"),
        "col_cohandlers": ("协办部门", "Co-handling"),
        "col_evaluation": ("评价", "Evaluation"),
        "evaluation_satisfied": ("满意", "satisfied"),
        "evaluation_unsatisfied": ("不满意", "not satisfied"),
        "error_required": ("请填写此项。", "Please fill this in."),
        "error_required_comment": ("请填写理由或办理结果。", "Please give the reason or the result."),
        "error_required_satisfied": ("请选择满意或不满意。", "Please choose satisfied or not satisfied."),
        "error_required_note": ("不满意时请说明原因。", "Please say what is still wrong."),
        "error_required_department": ("请选择承办部门。", "Please choose a department."),
        "label_comment": ("说明", "Comment"),
        "label_note": ("原因", "Reason"),
        "label_satisfied": ("评价", "Evaluation"),
        "label_department": ("承办部门", "Department"),
        "label_coHandlers": ("协办部门", "Co-handling departments"),
        "label_action": ("操作", "Action"),
        "section_files": ("照片和附件", "Photos and files"),
        "files_none": ("暂无照片或附件。", "No photos or files."),
        "files_link": ("外部链接", "external link"),
        "files_upload": ("上传照片或文件", "Upload a photo or file"),
        "files_hint": ("PDF、PNG、JPEG 或 OFD，每个不超过 %d KiB；上传后记入办理过程。", "PDF, PNG, JPEG or OFD, at most %d KiB each; the upload is recorded in the timeline."),
        "files_submit": ("上传", "Upload"),
        "files_choose": ("请选择要上传的文件。", "Please choose a file to upload."),
        "flash_uploaded": ("已上传：", "Uploaded: "),
        "action_attach": ("上传附件", "Attached a file"),
        "action_media_fetched": ("已获取反映人提供的照片", "Fetched the reporter's photo"),
        "action_media_failed": ("反映人提供的照片未能获取", "The reporter's photo could not be fetched"),
        "action_duplicate": ("重复件", "Duplicate"),
        "action_duplicate_linked": ("关联重复件", "Duplicate linked"),
        "flash_done": ("已办理：", "Done: "),
        "problem_case_action_out_of_order": ("案件状态已变化，该操作现在不可用。", "The case has changed; that action is no longer possible."),
        "problem_case_dispatch_upward": ("派单只能派给同级或下级部门；向上请用“上报上级”并说明理由。", "Dispatch goes to the same or a lower level; to go up, escalate with a reason."),
        "problem_case_top_level": ("已是最高层级，无法再上报。", "There is no level above to escalate to."),
    ])

    struct Option: Encodable, Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    struct ReportPage: Encodable, Sendable {
        var types: [Option]
        var categories: [Option]
        var description: String
        var lat: String
        var lon: String
        var address: String
        var errors: [FieldError]
    }

    struct EventRow: Encodable, Sendable {
        var at: String
        var actor: String
        var action: String
        var comment: String?
    }

    struct CaseRow: Encodable, Sendable {
        var id: String
        var number: String
        var category: String
        var status: String
        var department: String
        var grid: String
        var level: String
        var due: String
        var warning: String
        var warningLabel: String
        var created: String
        var outsideGrid: Bool
        var description: String
    }

    struct Flash: Encodable, Sendable {
        var kind: String
        var message: String
    }

    /// One action form on the case page.
    struct ActionForm: Encodable, Sendable {
        var action: String
        var label: String
        var hint: String?
        /// The comment field: "none", "optional" or "required" (with its label).
        var comment: String
        var commentLabel: String
        var commentValue: String
        var departments: [Option]
        var coHandlers: [Option]
        var valid: Bool
        var evaluate: Bool
        var secondary: Bool
        /// Fields of this form named by the error summary (`aria-invalid`).
        var commentInvalid = false
        var departmentInvalid = false
        var satisfiedInvalid = false
        var noteInvalid = false
    }

    struct FileRow: Encodable, Sendable {
        var name: String
        var href: String
        var external: Bool
        var size: String
        var sha256: String
        var at: String
    }

    struct DetailPage: Encodable, Sendable {
        var showFiles: Bool
        var files: [FileRow]
        var canUpload: Bool
        var uploadHint: String
        var row: CaseRow
        var id: String
        var coHandlers: String
        var evaluation: String?
        var timeline: [EventRow]
        var flash: Flash?
        var staff: Bool
        var actions: [ActionForm]
        var errors: [FieldError]
        var note: String
    }

    struct InboxPage: Encodable, Sendable {
        var rows: [CaseRow]
    }

    struct StatsPage: Encodable, Sendable {
        var from: String
        var to: String
        var total: Int
        var overdueRate: String
        var response: String
        var resolution: String
        var satisfaction: String
        var categoryChart: String
        var statusChart: String
        var departmentChart: String
        var csvLink: String
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("cases", "report", use: reportForm)
        routes.post("cases", "report", use: report)
        routes.get("cases", ":id", use: detail)
        routes.post("cases", ":id", "actions", use: act)
        routes.on(.POST, "cases", ":id", "attachments", body: .collect(maxSize: ByteCount(value: attachmentBodyLimit)), use: upload)
        routes.get("cases", ":id", "attachments", ":attachment", use: download)
        routes.get("staff", "cases", use: inbox)
        routes.get("staff", "cases", "stats", use: stats)
    }


    static func time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    func page(
        _ req: Request, type: String = "grid_event", category: String = "", description: String = "", lat: String = "",
        lon: String = "", address: String = "", errors: [FieldError] = []
    ) async throws -> ReportPage {
        let t = Self.strings.table(for: req.preferences.language)
        let english = req.preferences.language == .en
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        return ReportPage(
            types: ["grid_event", "appeal"].map { Option(value: $0, label: t["type_\($0)"] ?? $0, selected: $0 == type) },
            categories: directory.categories.values.sorted { $0.code < $1.code }.map {
                Option(value: $0.code, label: english ? $0.nameEn : $0.name, selected: $0.code == category)
            },
            description: description, lat: lat, lon: lon, address: address, errors: errors)
    }

    /// GET /cases/report — signed-in residents and staff.
    @Sendable func reportForm(req: Request) async throws -> Response {
        guard req.auth.get(Principal.self) != nil else { return req.loginRedirect() }
        return try await req.renderPage("cases/report", titleKey: "report_title", strings: Self.strings, page: try await page(req))
    }

    struct ReportForm: Content {
        var type: String?
        var category: String?
        var description: String?
        var lat: String?
        var lon: String?
        var address: String?
    }

    /// POST /cases/report — files the case through the same service as the API; errors come back on the form.
    @Sendable func report(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        let form = try req.content.decode(ReportForm.self)
        let latText = form.lat?.trimmingCharacters(in: .whitespaces) ?? ""
        let lonText = form.lon?.trimmingCharacters(in: .whitespaces) ?? ""
        var errors: [FieldError] = []
        var location: CaseService.Location?
        if !latText.isEmpty || !lonText.isEmpty {
            let lat = Double(latText)
            let lon = Double(lonText)
            if lat == nil { errors.append(FieldError(field: "location.lat", message: "must be a number of degrees")) }
            if lon == nil { errors.append(FieldError(field: "location.lon", message: "must be a number of degrees")) }
            location = CaseService.Location(lat: lat, lon: lon)
        }
        let address = form.address?.trimmingCharacters(in: .whitespacesAndNewlines)
        let input = CaseService.CreateRequest(
            type: form.type, category: form.category, description: form.description, location: location,
            address: (address?.isEmpty ?? true) ? nil : address, priority: nil, channel: "web", subtype: nil, title: nil,
            department: nil, coHandlers: nil, timeLimitDays: nil, contact: nil)
        var record: CaseRecord?
        if errors.isEmpty {
            do {
                record = try await CaseService(app: req.application, db: req.db).create(input, principal: principal)
            } catch let problem as Problem where !problem.errors.isEmpty || problem.status == .forbidden {
                errors = problem.errors.isEmpty ? [FieldError(field: "type", message: problem.detail ?? problem.title)] : problem.errors
            }
        }
        guard let record, let id = record.id else {
            let page = try await page(
                req, type: form.type ?? "grid_event", category: form.category ?? "", description: form.description ?? "",
                lat: latText, lon: lonText, address: address ?? "", errors: errors)
            return try await req.renderPage(
                "cases/report", titleKey: "report_title", strings: Self.strings, page: page, status: .unprocessableEntity)
        }
        return req.redirect(to: "/cases/\(id.uuidString.lowercased())?created=1")
    }

    func row(_ record: CaseRecord, _ directory: CasesDirectory, _ req: Request) -> CaseRow {
        let t = Self.strings.table(for: req.preferences.language)
        let english = req.preferences.language == .en
        let warning = CaseViews.warning(record, now: req.now)
        let department = directory.departments[record.departmentID]
        let category = directory.categories[record.category]
        return CaseRow(
            id: record.id?.uuidString.lowercased() ?? "", number: record.number,
            category: (english ? category?.nameEn : category?.name) ?? record.category,
            status: t["status_\(record.status.rawValue)"] ?? record.status.rawValue,
            department: (english ? department?.nameEn : department?.name) ?? "—",
            grid: record.gridID.flatMap { directory.grids[$0]?.name } ?? "—",
            level: t["level_\(record.level.rawValue)"] ?? record.level.rawValue, due: Self.time(record.resolutionDueAt),
            warning: warning == "normal" ? "green" : warning, warningLabel: t["warning_\(warning)"] ?? warning,
            created: Self.time(record.createdAt), outsideGrid: record.outsideGrid, description: record.description)
    }

    func flash(_ req: Request, _ kind: String, _ message: String) {
        req.session.data["flash"] = kind + "|" + message
    }

    func takeFlash(_ req: Request) -> Flash? {
        guard let raw = req.session.data["flash"] else { return nil }
        req.session.data["flash"] = nil
        let parts = raw.split(separator: "|", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        return Flash(kind: parts[0], message: parts[1])
    }

    /// A problem's message for a page: the localised text of a known type, else its detail.
    func message(_ req: Request, _ problem: Problem) -> String {
        let t = Self.strings.table(for: req.preferences.language)
        let key = "problem_" + problem.type.replacingOccurrences(of: "/problems/", with: "").replacingOccurrences(of: "-", with: "_")
        return t[key] ?? problem.detail ?? problem.title
    }

    /// The forms for the actions the principal may take now.
    func actionForms(
        _ req: Request, principal: Principal, record: CaseRecord, directory: CasesDirectory, posted: ActionPageForm?,
        errors: [FieldError]
    ) -> [ActionForm] {
        let invalid = Set(errors.map(\.field))
        let t = Self.strings.table(for: req.preferences.language)
        let english = req.preferences.language == .en
        func label(_ info: DepartmentInfo) -> String { english ? info.nameEn : info.name }
        let chosenAction = posted?.action
        return CaseActions.available(principal, record, directory: directory).map { action in
            let raw = action.rawValue
            let kept = chosenAction == raw ? (posted?.comment ?? "") : ""
            var form = ActionForm(
                action: raw, label: t["action_\(raw)"] ?? raw, hint: t["action_\(raw)_hint"], comment: "optional",
                commentLabel: t["field_comment"] ?? "", commentValue: kept, departments: [], coHandlers: [], valid: false,
                evaluate: false, secondary: false)
            switch action {
            case .accept: form.comment = "optional"
            case .dispatch:
                let supervisorOnly = !CaseActions.holds(principal, CaseActions.handlerRoles, in: record.departmentID)
                let targets = directory.departments.values
                    .filter { supervisorOnly || directory.level(of: $0.id) <= record.level }
                    .sorted { $0.code < $1.code }
                let chosen = chosenAction == raw ? posted?.department : nil
                let chosenCo = Set(chosenAction == raw ? (posted?.coHandlers ?? []) : [])
                form.departments = targets.map {
                    Option(value: $0.code, label: label($0), selected: chosen == $0.code || chosen == nil && $0.id == record.departmentID)
                }
                form.coHandlers = directory.departments.values.sorted { $0.code < $1.code }.map {
                    Option(
                        value: $0.code, label: label($0),
                        selected: chosenCo.contains($0.code) || chosenAction != raw && record.coHandlerIDs.contains($0.id))
                }
            case .escalate, .return:
                form.comment = "required"
                form.commentLabel = t["field_reason"] ?? ""
                form.secondary = true
            case .feedback:
                form.comment = "required"
                form.commentLabel = t["field_result"] ?? ""
            case .urge: form.secondary = true
            case .close: form.valid = true
            case .evaluate:
                form.evaluate = true
                form.commentLabel = t["field_evaluate_comment"] ?? ""
            }
            form.commentInvalid = invalid.contains("\(raw)-comment")
            form.departmentInvalid = invalid.contains("\(raw)-department")
            form.satisfiedInvalid = invalid.contains("\(raw)-satisfied")
            form.noteInvalid = invalid.contains("\(raw)-note")
            return form
        }
    }

    /// Renders the case page (with the errors of a rejected action form, if any).
    func renderDetail(
        _ req: Request, principal: Principal, record: CaseRecord, directory: CasesDirectory, posted: ActionPageForm? = nil,
        errors: [FieldError] = [], status: HTTPStatus = .ok
    ) async throws -> Response {
        let id = try record.requireID()
        let events = try await CaseEvent.query(on: req.db).filter(\.$caseID == id).sort(\.$seq).all()
        let t = Self.strings.table(for: req.preferences.language)
        let english = req.preferences.language == .en
        var flash = takeFlash(req)
        if flash == nil, req.query[String.self, at: "created"] == "1" {
            flash = Flash(kind: "success", message: (t["created"] ?? "") + record.number)
        }
        var files: [FileRow]?
        if CaseAttachmentService.canSeeFiles(principal, record, directory: directory) {
            files = try await CaseAttachment.query(on: req.db).filter(\.$caseID == id).sort(\.$createdAt).all().map { file in
                FileRow(
                    name: file.filename,
                    href: file.url ?? "/cases/\(id.uuidString.lowercased())/attachments/\(file.id?.uuidString.lowercased() ?? "")",
                    external: file.url != nil, size: file.url == nil ? "\(max(1, file.size / 1024)) KiB" : "",
                    sha256: file.sha256 ?? "", at: Self.time(file.createdAt))
            }
        }
        let page = DetailPage(
            showFiles: files != nil, files: files ?? [], canUpload: CaseAttachmentService.canUpload(principal, record),
            uploadHint: String(format: t["files_hint"] ?? "%d", req.application.tongbanConfig.attachmentMaxBytes / 1024),
            row: row(record, directory, req), id: id.uuidString.lowercased(),
            coHandlers: record.coHandlerIDs.compactMap { directory.departments[$0] }.map { english ? $0.nameEn : $0.name }
                .joined(separator: english ? ", " : "、"),
            evaluation: record.evaluation.map { t["evaluation_\($0)"] ?? $0 },
            timeline: events.map {
                EventRow(
                    at: Self.time($0.at), actor: $0.actorName ?? "system", action: t["action_\($0.action)"] ?? $0.action,
                    comment: $0.comment)
            },
            flash: flash, staff: principal.isStaff,
            actions: actionForms(req, principal: principal, record: record, directory: directory, posted: posted, errors: errors),
            errors: errors, note: posted?.action == "evaluate" ? (posted?.note ?? "") : "")
        return try await req.renderPage(
            "cases/detail", title: (t["case_title"] ?? "") + " " + record.number, strings: Self.strings, page: page, status: status)
    }

    /// GET /cases/{id} — the reporter and the staff who may read the case, with the forms of the actions
    /// the caller may take now.
    @Sendable func detail(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        guard let id = req.parameters.get("id", as: UUID.self), let record = try await CaseRecord.find(id, on: req.db),
            CaseActions.canRead(principal, record, directory: directory)
        else { throw Problem.notFound("Case", type: "/problems/case-not-found") }
        return try await renderDetail(req, principal: principal, record: record, directory: directory)
    }

    struct ActionPageForm: Content {
        var action: String?
        var comment: String?
        var department: String?
        var coHandlers: [String]?
        var valid: String?
        var satisfied: String?
        var note: String?
    }

    /// POST /cases/{id}/actions — one action from the case page, through the same state machine as the API.
    /// Success and conflicts come back as a one-time message; missing reasons re-render the form (422).
    @Sendable func act(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Case", type: "/problems/case-not-found") }
        let form = (try? req.content.decode(ActionPageForm.self)) ?? ActionPageForm()
        let raw = form.action ?? ""
        let back = req.redirect(to: "/cases/\(id.uuidString.lowercased())", redirectType: .normal)
        func nonEmpty(_ text: String?) -> String? {
            let trimmed = text?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return trimmed.isEmpty ? nil : trimmed
        }
        var satisfied: Bool?
        if raw == "evaluate" {
            satisfied = form.satisfied == "true" ? true : form.satisfied == "false" ? false : nil
        }
        let input = CaseActions.ActionRequest(
            action: raw, comment: nonEmpty(form.comment),
            department: raw == "dispatch" ? nonEmpty(form.department) : nil,
            coHandlers: raw == "dispatch" ? (form.coHandlers ?? []).compactMap { nonEmpty($0) } : nil, evidence: nil,
            satisfied: satisfied, note: nonEmpty(form.note),
            valid: raw == "close" ? (form.valid == "true" || form.valid == "on") : nil)
        do {
            _ = try await CaseActions(app: req.application, db: req.db).perform(caseID: id, input, principal: principal)
        } catch let problem as Problem where problem.status == .unprocessableEntity {
            let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
            guard let record = try await CaseRecord.find(id, on: req.db), CaseActions.canRead(principal, record, directory: directory)
            else { throw Problem.notFound("Case", type: "/problems/case-not-found") }
            let errors = problem.errors.map { error -> FieldError in
                let field = error.field.hasPrefix("coHandlers") ? "coHandlers" : error.field
                let t = Self.strings.table(for: req.preferences.language)
                let text = error.message.hasPrefix("is required") ? (t["error_required_\(field)"] ?? t["error_required"] ?? error.message)
                    : error.message
                return FieldError(field: "\(raw)-\(field)", message: (t["label_\(field)"] ?? field) + "：" + text)
            }
            return try await renderDetail(
                req, principal: principal, record: record, directory: directory, posted: form,
                errors: errors.isEmpty ? [FieldError(field: "\(raw)-comment", message: problem.detail ?? problem.title)] : errors,
                status: .unprocessableEntity)
        } catch let problem as Problem where problem.status == .conflict {
            flash(req, "error", message(req, problem))
            return back
        }
        let t = Self.strings.table(for: req.preferences.language)
        flash(req, "success", (t["flash_done"] ?? "") + (t["action_\(raw)"] ?? raw))
        return back
    }

    struct UploadForm: Content {
        var file: File?
    }

    /// POST /cases/{id}/attachments — a photo or file from the case page (multipart with the CSRF token).
    @Sendable func upload(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Case", type: "/problems/case-not-found") }
        let t = Self.strings.table(for: req.preferences.language)
        let back = req.redirect(to: "/cases/\(id.uuidString.lowercased())", redirectType: .normal)
        guard let file = (try? req.content.decode(UploadForm.self))?.file, file.data.readableBytes > 0 else {
            flash(req, "error", t["files_choose"] ?? "")
            return back
        }
        do {
            let stored = try await CaseAttachmentService(app: req.application, db: req.db).upload(
                caseID: id, filename: file.filename, data: Data(buffer: file.data), principal: principal)
            flash(req, "success", (t["flash_uploaded"] ?? "") + stored.filename)
        } catch let problem as Problem where [.payloadTooLarge, .unsupportedMediaType, .conflict, .unprocessableEntity].contains(problem.status) {
            flash(req, "error", problem.detail ?? problem.title)
        }
        return back
    }

    /// GET /cases/{id}/attachments/{attachment} — the file, for the reporter and handling staff signed in.
    @Sendable func download(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        guard let id = req.parameters.get("id", as: UUID.self), let attachment = req.parameters.get("attachment", as: UUID.self)
        else { throw CaseAttachmentService.notFound }
        let (file, data) = try await CaseAttachmentService(app: req.application, db: req.db).download(
            caseID: id, attachmentID: attachment, principal: principal)
        return CaseAttachmentService.fileResponse(file, data)
    }

    /// GET /staff/cases — staff: cases their departments lead or co-handle, newest first.
    @Sendable func inbox(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        guard principal.isStaff else { throw Problem.forbidden }
        let departments = Array(principal.departments(with: CaseActions.handlerRoles))
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let grids = Array(directory.memberGrids[principal.userID] ?? [])
        let query = CaseRecord.query(on: req.db).filter(\.$status ~~ [.dispatched, .processing, .resolved])
        if !principal.isSystemAdmin {
            query.group(.or) { group in
                if !departments.isEmpty { group.filter(\.$departmentID ~~ departments) }
                for department in departments { group.filter(\.$coHandlers ~~ department.uuidString) }
                if !grids.isEmpty { group.filter(\.$gridID ~~ grids.map { UUID?.some($0) }) }
            }
        }
        let records = departments.isEmpty && grids.isEmpty && !principal.isSystemAdmin
            ? [] : try await query.sort(\.$resolutionDueAt).limit(100).all()
        return try await req.renderPage(
            "cases/inbox", titleKey: "inbox_title", strings: Self.strings, page: InboxPage(rows: records.map { row($0, directory, req) }))
    }

    /// GET /staff/cases/stats?from=&to= — staff: figures and bar charts (SVG drawn on the server).
    @Sendable func stats(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect() }
        guard principal.isStaff else { throw Problem.forbidden }
        let from = req.query[String.self, at: "from"].flatMap(LocalDate.init)
        let to = req.query[String.self, at: "to"].flatMap(LocalDate.init)
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let result = try await CaseStats(db: req.db).compute(from: from, to: to, type: nil, directory: directory)
        let t = Self.strings.table(for: req.preferences.language)
        let english = req.preferences.language == .en
        func percent(_ value: Double?) -> String { value.map { String(format: "%.1f%%", $0 * 100) } ?? "—" }
        func number(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "—" }
        let categories = result.byCategory.prefix(16).map { item in
            (english ? directory.categories[item.key]?.nameEn : item.label) ?? item.key
        }
        var csv = "/api/v1/cases/stats.csv"
        if let from, let to { csv += "?from=\(from)&to=\(to)" }
        let page = StatsPage(
            from: from?.description ?? "", to: to?.description ?? "", total: result.total,
            overdueRate: percent(result.overdueRate), response: number(result.averageResponseMinutes),
            resolution: number(result.averageResolutionHours), satisfaction: percent(result.satisfactionRate),
            categoryChart: BarChart.svg(
                title: t["stats_by_category"] ?? "", labels: categories, values: result.byCategory.prefix(16).map(\.count)),
            statusChart: BarChart.svg(
                title: t["stats_by_status"] ?? "", labels: result.byStatus.map { t["status_\($0.key)"] ?? $0.key },
                values: result.byStatus.map(\.count)),
            departmentChart: BarChart.svg(
                title: t["stats_by_department"] ?? "",
                labels: result.byDepartment.prefix(12).map { item in
                    UUID(uuidString: item.key).flatMap { directory.departments[$0] }.map { english ? $0.nameEn : $0.name } ?? item.key
                },
                values: result.byDepartment.prefix(12).map(\.count)),
            csvLink: csv)
        return try await req.renderPage("cases/stats", titleKey: "stats_title", strings: Self.strings, page: page)
    }
}

/// A horizontal bar chart as accessible SVG (`role="img"`, a title, and each bar's value as text).
enum BarChart {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func svg(title: String, labels: [String], values: [Int]) -> String {
        let rows = min(labels.count, values.count)
        let maxValue = max(1, values.prefix(rows).max() ?? 1)
        let rowHeight = 26
        let labelWidth = 220
        let barWidth = 360
        let height = max(1, rows) * rowHeight + 10
        let summary = (0..<rows).map { "\(labels[$0]) \(values[$0])" }.joined(separator: ", ")
        var svg = ##"<svg xmlns="http://www.w3.org/2000/svg" role="img" width="\##(labelWidth + barWidth + 80)" height="\##(height)" viewBox="0 0 \##(labelWidth + barWidth + 80) \##(height)" aria-label="\##(escape(title + ": " + summary))"><title>\##(escape(title))</title>"##
        for index in 0..<rows {
            let y = 5 + index * rowHeight
            let width = max(2, Int(Double(barWidth) * Double(values[index]) / Double(maxValue)))
            svg += ##"<text x="\##(labelWidth - 8)" y="\##(y + 17)" text-anchor="end" font-size="14" fill="#1b1b1b">\##(escape(labels[index]))</text>"##
            svg += ##"<rect x="\##(labelWidth)" y="\##(y + 3)" width="\##(width)" height="\##(rowHeight - 8)" fill="#1d5fa8"></rect>"##
            svg += ##"<text x="\##(labelWidth + width + 6)" y="\##(y + 17)" font-size="14" fill="#1b1b1b">\##(values[index])</text>"##
        }
        return svg + "</svg>"
    }
}
