import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// Pages: the report form (works without a map: coordinates or an address), the case with its timeline,
/// the staff inbox and statistics with server-rendered SVG charts.
struct CasePages: RouteCollection {
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

    struct DetailPage: Encodable, Sendable {
        var row: CaseRow
        var timeline: [EventRow]
        var flash: String?
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
        routes.get("staff", "cases", use: inbox)
        routes.get("staff", "cases", "stats", use: stats)
    }

    func loginRedirect(_ req: Request) -> Response {
        let next = req.url.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "/me"
        return req.redirect(to: "/login?next=\(next)")
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
        guard req.auth.get(Principal.self) != nil else { return loginRedirect(req) }
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
        guard let principal = req.auth.get(Principal.self) else { return loginRedirect(req) }
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

    /// GET /cases/{id} — the reporter and the staff who may read the case.
    @Sendable func detail(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return loginRedirect(req) }
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        guard let id = req.parameters.get("id", as: UUID.self), let record = try await CaseRecord.find(id, on: req.db),
            CaseActions.canRead(principal, record, directory: directory)
        else { throw Problem.notFound("Case", type: "/problems/case-not-found") }
        let events = try await CaseEvent.query(on: req.db).filter(\.$caseID == id).sort(\.$seq).all()
        let t = Self.strings.table(for: req.preferences.language)
        let page = DetailPage(
            row: row(record, directory, req),
            timeline: events.map {
                EventRow(at: Self.time($0.at), actor: $0.actorName ?? "system", action: $0.action, comment: $0.comment)
            },
            flash: req.query[String.self, at: "created"] == "1" ? (t["created"] ?? "") + record.number : nil)
        return try await req.renderPage("cases/detail", title: (t["case_title"] ?? "") + " " + record.number, strings: Self.strings, page: page)
    }

    /// GET /staff/cases — staff: cases their departments lead or co-handle, newest first.
    @Sendable func inbox(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return loginRedirect(req) }
        guard principal.isStaff else { throw Problem.forbidden }
        let departments = Array(principal.departments(with: CaseActions.handlerRoles))
        let query = CaseRecord.query(on: req.db).filter(\.$status ~~ [.dispatched, .processing, .resolved])
        if !principal.isSystemAdmin {
            query.group(.or) { group in
                group.filter(\.$departmentID ~~ departments)
                for department in departments { group.filter(\.$coHandlers ~~ department.uuidString) }
            }
        }
        let records = departments.isEmpty && !principal.isSystemAdmin ? [] : try await query.sort(\.$resolutionDueAt).limit(100).all()
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        return try await req.renderPage(
            "cases/inbox", titleKey: "inbox_title", strings: Self.strings, page: InboxPage(rows: records.map { row($0, directory, req) }))
    }

    /// GET /staff/cases/stats?from=&to= — staff: figures and bar charts (SVG drawn on the server).
    @Sendable func stats(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return loginRedirect(req) }
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
