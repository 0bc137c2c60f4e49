import Catalogue
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Web
import Workflow

/// Pages for applicants (`/services/{id}/apply`, `/me/applications[/{id}]`) and staff (`/staff/tasks[/{id}]`).
/// Every action posts a form with the CSRF token, runs the same service the API uses, and comes back to
/// the page with a message (a one-time "flash" kept in the session).
struct ApplicationPages: RouteCollection {
    let attachmentBodyLimit: Int
    var inspections: InspectionPages { InspectionPages(pages: self) }

    // MARK: View models

    struct OptionView: Encodable, Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    struct FieldView: Encodable, Sendable {
        var name: String
        var label: String
        var input: String
        var required: Bool
        var value: String
        var options: [OptionView]
        var error: String?
        var hint: String?
        var autocomplete: String
        var inputmode: String?
        var maxlength: Int?

        /// Ids of the hint and error paragraphs, for `aria-describedby`.
        var describedBy: String? {
            let ids = [hint.map { _ in "f-\(name)-hint" }, error.map { _ in "f-\(name)-error" }].compactMap { $0 }
            return ids.isEmpty ? nil : ids.joined(separator: " ")
        }

        enum CodingKeys: String, CodingKey {
            case name, label, input, required, value, options, error, hint, autocomplete, inputmode, maxlength, describedBy
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(label, forKey: .label)
            try container.encode(input, forKey: .input)
            try container.encode(required, forKey: .required)
            try container.encode(value, forKey: .value)
            try container.encode(options, forKey: .options)
            try container.encodeIfPresent(error, forKey: .error)
            try container.encodeIfPresent(hint, forKey: .hint)
            try container.encode(autocomplete, forKey: .autocomplete)
            try container.encodeIfPresent(inputmode, forKey: .inputmode)
            try container.encodeIfPresent(maxlength, forKey: .maxlength)
            try container.encodeIfPresent(describedBy, forKey: .describedBy)
        }
    }

    struct Row: Encodable, Sendable {
        var label: String
        var value: String
    }

    struct Flash: Encodable, Sendable {
        var kind: String
        var message: String
    }

    struct ApplyPage: Encodable, Sendable {
        var serviceId: String
        var serviceName: String
        var action: String
        var fields: [FieldView]
        var errors: [FieldError]
        var hasFileFields: Bool
    }

    struct ListItem: Encodable, Sendable {
        var id: String
        var number: String
        var service: String
        var status: String
        var statusKey: String
        var updated: String
    }

    struct ListPage: Encodable, Sendable {
        var items: [ListItem]
        var bundles: [ListItem]
        var flash: Flash?
    }

    struct AttachmentRow: Encodable, Sendable {
        var id: String
        var filename: String
        var material: String
        var size: String
        var sha256: String
    }

    struct TimelineRow: Encodable, Sendable {
        var at: String
        var action: String
        var comment: String?
    }

    struct DetailPage: Encodable, Sendable {
        var id: String
        var number: String
        var service: String
        var status: String
        var statusKey: String
        var facts: [Row]
        var answers: [Row]
        var editable: Bool
        var isDraft: Bool
        var isCorrection: Bool
        var correctionNote: String?
        var fields: [FieldView]
        var errors: [FieldError]
        var attachments: [AttachmentRow]
        var materials: [String]
        var canWithdraw: Bool
        var canUrge: Bool
        var canRate: Bool
        var rating: String?
        var timeline: [TimelineRow]
        var flash: Flash?
        var uploadHint: String
        var inspection: InspectionPages.Block?
    }

    struct TaskRow: Encodable, Sendable {
        var id: String
        var name: String
        var number: String
        var service: String
        var applicant: String
        var due: String
        var urgency: String
        var urgencyLabel: String
    }

    struct InboxPage: Encodable, Sendable {
        var tasks: [TaskRow]
        var flash: Flash?
    }

    struct TaskPage: Encodable, Sendable {
        var id: String
        var name: String
        var isAcceptance: Bool
        var number: String
        var service: String
        var facts: [Row]
        var answers: [Row]
        var attachments: [AttachmentRow]
        var timeline: [TimelineRow]
        var errors: [FieldError]
        var comment: String
        var chosen: String
        var flash: Flash?
        var inspection: InspectionPages.Block?
    }

    // MARK: Routes

    func boot(routes: any RoutesBuilder) throws {
        routes.get("services", ":id", "apply", use: applyPage)
        routes.post("services", ":id", "apply", use: apply)
        routes.get("me", "applications", use: list)
        routes.get("me", "applications", ":id", use: detail)
        routes.post("me", "applications", ":id", "save", use: save)
        routes.post("me", "applications", ":id", "withdraw", use: withdraw)
        routes.post("me", "applications", ":id", "urge", use: urge)
        routes.post("me", "applications", ":id", "rating", use: rate)
        routes.on(.POST, "me", "applications", ":id", "attachments", body: .collect(maxSize: ByteCount(value: attachmentBodyLimit)),
                  use: upload)
        routes.post("me", "applications", ":id", "attachments", ":attachment", "delete", use: deleteAttachment)
        routes.get("me", "attachments", ":attachment", use: download)
        routes.get("staff", "tasks", use: inbox)
        routes.get("staff", "tasks", ":id", use: taskPage)
        routes.post("staff", "tasks", ":id", use: decide)
        routes.get("staff", "attachments", ":attachment", use: download)
    }

    static let strings = ApplicationsModule.strings

    func s(_ req: Request, _ key: String) -> String { Strings.localised(Self.strings, key, req) }

    /// The signed-in principal, or a redirect to the login page that comes back here.
    func principal(_ req: Request) -> Principal? { req.auth.get(Principal.self) }


    func flash(_ req: Request, _ kind: String, _ message: String) {
        req.session.data["flash"] = kind + "|" + message
    }

    func takeFlash(_ req: Request) -> Flash? {
        guard req.hasSession, let raw = req.session.data["flash"] else { return nil }
        req.session.data["flash"] = nil
        let parts = raw.split(separator: "|", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        return Flash(kind: parts[0], message: parts[1])
    }

    static func time(_ date: Date?) -> String {
        guard let date else { return "—" }
        let local = InspectionService.localTime(date)
        return "\(local.date) \(local.time)"
    }

    func statusLabel(_ req: Request, _ status: ApplicationStatus) -> String { s(req, "status_\(status.rawValue)") }

    /// A problem's message for a page: the localised title of a known type, else its detail.
    func message(_ req: Request, _ problem: Problem) -> String {
        let key = "problem_" + problem.type.replacingOccurrences(of: "/problems/", with: "").replacingOccurrences(of: "-", with: "_")
        let localised = s(req, key)
        return localised == key ? (problem.detail ?? problem.title) : localised
    }

    // MARK: Form fields

    /// Fields of `schema` as inputs, with values and per-field errors.
    func fieldViews(
        _ schema: FormSchema, values: [String: String], errors: [FieldError], files: [AttachmentRow], req: Request
    ) -> [FieldView] {
        let english = req.preferences.language == .en
        let messages = Dictionary(errors.map { ($0.field, $0.message) }, uniquingKeysWith: { first, _ in first })
        return schema.fields.map { field in
            let value = values[field.name] ?? ""
            var view = FieldView(
                name: field.name, label: english ? field.labelEn : field.label, input: "text", required: field.required,
                value: value, options: [], error: messages[field.name], hint: nil, autocomplete: "off", inputmode: nil,
                maxlength: field.max.map { Int($0) })
            switch field.type {
            case .text:
                if field.min != nil || field.max != nil {
                    view.hint = String(format: s(req, "hint_length"), Int(field.min ?? 0), Int(field.max ?? 10_000))
                }
            case .number:
                view.input = "number"
                view.inputmode = "decimal"
                view.maxlength = nil
            case .date:
                view.input = "date"
                view.maxlength = nil
            case .choice:
                view.input = "select"
                view.options = (field.options ?? []).map {
                    OptionView(value: $0.value, label: english ? $0.labelEn : $0.label, selected: $0.value == value)
                }
            case .idNumber:
                view.hint = s(req, "hint_id_number")
                view.maxlength = 18
            case .uscc:
                view.hint = s(req, "hint_uscc")
                view.maxlength = 18
            case .phone:
                view.input = "tel"
                view.autocomplete = "tel"
                view.maxlength = 11
            case .file:
                view.input = "select"
                view.hint = s(req, files.isEmpty ? "hint_file_upload_first" : "hint_file")
                view.options = files.map { OptionView(value: $0.id, label: $0.filename, selected: $0.id == value) }
            }
            return view
        }
    }

    /// Posted form fields as typed values: numbers as numbers, empty inputs left out.
    static func formValues(_ posted: [String: String], schema: FormSchema) -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        for field in schema.fields {
            guard let raw = posted[field.name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { continue }
            if field.type == .number, let number = Double(raw) {
                values[field.name] = .number(number)
            } else {
                values[field.name] = .string(field.type == .idNumber || field.type == .uscc ? raw.uppercased() : raw)
            }
        }
        return values
    }

    static func stringValues(_ form: [String: JSONValue]) -> [String: String] {
        form.compactMapValues { value in
            switch value {
            case .string(let text): text
            case .number(let number): number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
            case .bool(let flag): flag ? "true" : "false"
            default: nil
            }
        }
    }

    /// `form.projectName` → `projectName`, for anchors on the page.
    static func pageErrors(_ errors: [FieldError]) -> [FieldError] {
        errors.map { FieldError(field: $0.field.hasPrefix("form.") ? String($0.field.dropFirst(5)) : $0.field, message: $0.message) }
    }

    func answers(_ schema: FormSchema?, _ form: [String: JSONValue], files: [AttachmentRow], req: Request) -> [Row] {
        let english = req.preferences.language == .en
        let values = Self.stringValues(form)
        guard let schema else { return values.keys.sorted().map { Row(label: $0, value: values[$0] ?? "") } }
        return schema.fields.compactMap { field in
            guard var value = values[field.name] else { return nil }
            if field.type == .choice, let option = field.options?.first(where: { $0.value == value }) {
                value = english ? option.labelEn : option.label
            }
            if field.type == .file, let file = files.first(where: { $0.id == value }) { value = file.filename }
            if field.type == .idNumber { value = Masking.idNumber(value) }
            return Row(label: english ? field.labelEn : field.label, value: value)
        }
    }

    // MARK: Applicant pages

    @Sendable func applyPage(req: Request) async throws -> Response {
        guard principal(req) != nil else { return req.loginRedirect() }
        let service = try await publishedService(req)
        return try await renderApply(req, service: service, values: [:], errors: [])
    }

    func publishedService(_ req: Request) async throws -> ServiceItem {
        guard let id = req.parameters.get("id", as: UUID.self),
            let service = try? await CatalogueService(db: req.db, clock: req.application.clock).service(id, viewer: nil)
        else { throw Problem.notFound("Service", type: "/problems/service-not-found") }
        return service
    }

    func renderApply(_ req: Request, service: ServiceItem, values: [String: String], errors: [FieldError], status: HTTPStatus = .ok)
        async throws -> Response
    {
        let english = req.preferences.language == .en
        let page = ApplyPage(
            serviceId: try service.requireID().uuidString, serviceName: english ? service.nameEn : service.name,
            action: "/services/\(try service.requireID().uuidString)/apply",
            fields: fieldViews(service.form, values: values, errors: errors, files: [], req: req), errors: errors,
            hasFileFields: service.form.fields.contains { $0.type == .file })
        return try await req.renderPage(
            "applications/apply", title: String(format: s(req, "apply_title_format"), page.serviceName), strings: Self.strings,
            page: page, status: status)
    }

    struct PostedForm: Content {
        var intent: String?
    }

    @Sendable func apply(req: Request) async throws -> Response {
        guard let principal = principal(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        let service = try await publishedService(req)
        let posted = (try? req.content.decode([String: String].self)) ?? [:]
        let form = Self.formValues(posted, schema: service.form)
        let submit = posted["intent"] == "submit"
        do {
            let record = try await ApplicationService(app: req.application, db: req.db).create(
                serviceID: try service.requireID(), form: form, submit: submit, principal: principal)
            flash(req, "success", String(format: s(req, submit ? "flash_submitted" : "flash_saved"), record.number))
            return req.redirect(to: "/me/applications/\(try record.requireID().uuidString)", redirectType: .normal)
        } catch let problem as Problem where problem.status == .unprocessableEntity || problem.status == .forbidden {
            var errors = Self.pageErrors(problem.errors)
            if errors.isEmpty { errors = [FieldError(field: "main", message: message(req, problem))] }
            return try await renderApply(
                req, service: service, values: posted.filter { $0.key != "_csrf" }, errors: errors, status: problem.status)
        }
    }

    @Sendable func list(req: Request) async throws -> Response {
        guard let principal = principal(req) else { return req.loginRedirect() }
        let english = req.preferences.language == .en
        let rows = try await ApplicationRecord.query(on: req.db).group(.or) { or in
            or.filter(\.$applicantID == principal.userID)
            if let enterprise = principal.actingFor { or.filter(\.$enterpriseID == enterprise) }
        }.sort(\.$createdAt, .descending).limit(100).all()
        let services = try await ServiceItem.query(on: req.db).filter(\.$id ~~ Array(Set(rows.map(\.serviceID)))).all()
        let names = Dictionary(services.compactMap { item in item.id.map { ($0, english ? item.nameEn : item.name) } }) { a, _ in a }
        let items = try rows.map { row in
            ListItem(
                id: try row.requireID().uuidString, number: row.number, service: names[row.serviceID] ?? row.serviceCode,
                status: statusLabel(req, row.status), statusKey: row.status.rawValue, updated: Self.time(row.updatedAt))
        }
        let bundleRows = try await BundleApplication.query(on: req.db).filter(\.$applicantID == principal.userID)
            .sort(\.$createdAt, .descending).limit(50).all()
        let definitions = try await ServiceBundle.query(on: req.db).filter(\.$id ~~ Array(Set(bundleRows.map(\.bundleID)))).all()
        let bundleIDs = bundleRows.compactMap(\.id)
        let parts = bundleIDs.isEmpty ? [] : try await ApplicationRecord.query(on: req.db).filter(\.$bundleApplicationID ~~ bundleIDs).all()
        let partsByBundle = Dictionary(grouping: parts) { $0.bundleApplicationID ?? UUID() }
        var bundles: [ListItem] = []
        for row in bundleRows {
            let id = try row.requireID()
            let status = BundleService.status(row, members: partsByBundle[id] ?? [])
            let definition = definitions.first { $0.id == row.bundleID }
            bundles.append(ListItem(
                id: id.uuidString, number: row.number, service: (english ? definition?.nameEn : definition?.name) ?? "",
                status: s(req, "bundle_status_\(status.rawValue)"), statusKey: status.rawValue, updated: Self.time(row.updatedAt)))
        }
        let memberOfBundle = items.isEmpty ? [] : rows.filter { $0.bundleApplicationID != nil }.compactMap { $0.id?.uuidString }
        return try await req.renderPage(
            "applications/list", titleKey: "list_title", strings: Self.strings,
            page: ListPage(items: items.filter { !memberOfBundle.contains($0.id) }, bundles: bundles, flash: takeFlash(req)))
    }

    func attachmentRows(_ applicationID: UUID, req: Request, prefix: String) async throws -> [AttachmentRow] {
        try await Attachment.query(on: req.db).filter(\.$applicationID == applicationID).sort(\.$createdAt).all().map {
            AttachmentRow(
                id: try $0.requireID().uuidString, filename: $0.filename, material: $0.material ?? "—",
                size: ByteCountFormatter.string(fromByteCount: Int64($0.size), countStyle: .file), sha256: $0.sha256)
        }
    }

    func timelineRows(_ record: ApplicationRecord, req: Request) async throws -> [TimelineRow] {
        try await ApplicationService(app: req.application, db: req.db).timeline(record).map {
            TimelineRow(at: Self.time($0.at), action: s(req, "event_\($0.action)"), comment: $0.comment)
        }
    }

    @Sendable func detail(req: Request) async throws -> Response {
        guard let principal = principal(req) else { return req.loginRedirect() }
        return try await renderDetail(req, principal: principal, posted: nil, errors: [])
    }

    func renderDetail(
        _ req: Request, principal: Principal, posted: [String: String]?, errors: [FieldError], status: HTTPStatus = .ok
    ) async throws -> Response {
        let applications = ApplicationService(app: req.application, db: req.db)
        guard let id = req.parameters.get("id", as: UUID.self) else { throw ApplicationService.notFound }
        let record = try await applications.own(id, principal)
        let english = req.preferences.language == .en
        let service = try await ServiceItem.find(record.serviceID, on: req.db)
        let form = (try? ApplicationService.decode([String: JSONValue].self, record.form)) ?? [:]
        let files = try await attachmentRows(id, req: req, prefix: "/me")
        let editable = [.draft, .correctionRequired].contains(record.status)
        var correctionNote: String?
        if record.status == .correctionRequired, let instanceID = record.instanceID {
            correctionNote = try await WorkflowEvent.query(on: req.db).filter(\.$instanceID == instanceID)
                .filter(\.$action == "return").sort(\.$at, .descending).first()?.comment
        }
        let rating = try await Rating.query(on: req.db).filter(\.$applicationID == id).first()
        let now = req.application.clock.now()
        var overdue = false
        if [.submitted, .inReview].contains(record.status), let instanceID = record.instanceID {
            overdue = try await WorkflowTask.query(on: req.db).filter(\.$instanceID == instanceID)
                .filter(\.$status ~~ [.open, .claimed]).all().contains { ($0.dueAt ?? .distantFuture) < now }
        }
        let facts = [
            Row(label: s(req, "fact_number"), value: record.number),
            Row(label: s(req, "fact_service"), value: (english ? service?.nameEn : service?.name) ?? record.serviceCode),
            Row(label: s(req, "fact_status"), value: statusLabel(req, record.status)),
            Row(label: s(req, "fact_created"), value: Self.time(record.createdAt)),
            Row(label: s(req, "fact_submitted"), value: Self.time(record.submittedAt)),
            Row(label: s(req, "fact_decided"), value: Self.time(record.decidedAt)),
        ]
        let values = posted ?? Self.stringValues(form)
        let page = DetailPage(
            id: id.uuidString, number: record.number, service: facts[1].value, status: statusLabel(req, record.status),
            statusKey: record.status.rawValue, facts: facts, answers: answers(service?.form, form, files: files, req: req),
            editable: editable, isDraft: record.status == .draft, isCorrection: record.status == .correctionRequired,
            correctionNote: correctionNote,
            fields: service.map { fieldViews($0.form, values: values, errors: errors, files: files, req: req) } ?? [],
            errors: errors, attachments: files, materials: service?.materials.map { english ? $0.nameEn : $0.name } ?? [],
            canWithdraw: [.draft, .submitted, .accepted, .inReview, .correctionRequired].contains(record.status),
            canUrge: overdue, canRate: rating == nil && [.approved, .rejected, .notAccepted, .completed].contains(record.status),
            rating: rating.map { String(repeating: "★", count: $0.score) + String(repeating: "☆", count: 5 - $0.score) },
            timeline: try await timelineRows(record, req: req), flash: takeFlash(req),
            uploadHint: String(format: s(req, "upload_hint_format"), req.application.tongbanConfig.attachmentMaxBytes / 1024),
            inspection: try await inspections.block(record, req: req, applicant: principal, staff: false))
        return try await req.renderPage(
            "applications/detail", title: String(format: s(req, "detail_title_format"), record.number), strings: Self.strings,
            page: page, status: status)
    }

    func back(_ req: Request) -> Response {
        req.redirect(to: "/me/applications/\(req.parameters.get("id") ?? "")", redirectType: .normal)
    }

    /// Saves a draft or a correction (`intent=save`), or submits it (`intent=submit`).
    @Sendable func save(req: Request) async throws -> Response {
        guard let principal = principal(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw ApplicationService.notFound }
        let applications = ApplicationService(app: req.application, db: req.db)
        let record = try await applications.own(id, principal)
        guard let service = try await ServiceItem.find(record.serviceID, on: req.db) else { throw ApplicationService.notFound }
        let posted = ((try? req.content.decode([String: String].self)) ?? [:]).filter { $0.key != "_csrf" }
        let form = Self.formValues(posted, schema: service.form)
        let intent = posted["intent"] ?? "save"
        do {
            switch (record.status, intent) {
            case (.draft, "submit"):
                let submitted = try await applications.submit(id, form: form, principal: principal)
                flash(req, "success", String(format: s(req, "flash_submitted"), submitted.number))
            case (.correctionRequired, "submit"):
                _ = try await applications.resubmit(id, form: form, principal: principal)
                flash(req, "success", s(req, "flash_resubmitted"))
            default:
                _ = try await applications.saveDraft(id, form: form, principal: principal)
                flash(req, "success", s(req, "flash_draft_saved"))
            }
            return back(req)
        } catch let problem as Problem where problem.status == .unprocessableEntity {
            return try await renderDetail(
                req, principal: principal, posted: posted, errors: Self.pageErrors(problem.errors), status: .unprocessableEntity)
        } catch let problem as Problem where problem.status == .conflict {
            flash(req, "error", message(req, problem))
            return back(req)
        }
    }

    func simpleAction(_ req: Request, _ body: (Principal, UUID) async throws -> String) async throws -> Response {
        guard let principal = principal(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw ApplicationService.notFound }
        do {
            flash(req, "success", try await body(principal, id))
        } catch let problem as Problem where problem.status == .conflict || problem.status == .unprocessableEntity {
            flash(req, "error", problem.errors.isEmpty ? message(req, problem) : problem.errors.map { "\($0.field)：\($0.message)" }.joined(separator: "；"))
        }
        return back(req)
    }

    struct ReasonForm: Content {
        var reason: String?
        var score: Int?
        var comment: String?
    }

    @Sendable func withdraw(req: Request) async throws -> Response {
        try await simpleAction(req) { principal, id in
            let reason = (try? req.content.decode(ReasonForm.self))?.reason
            _ = try await ApplicationService(app: req.application, db: req.db).withdraw(id, reason: reason, principal: principal)
            return s(req, "flash_withdrawn")
        }
    }

    @Sendable func urge(req: Request) async throws -> Response {
        try await simpleAction(req) { principal, id in
            _ = try await ApplicationService(app: req.application, db: req.db).urge(id, principal: principal)
            return s(req, "flash_urged")
        }
    }

    @Sendable func rate(req: Request) async throws -> Response {
        try await simpleAction(req) { principal, id in
            let form = try? req.content.decode(ReasonForm.self)
            _ = try await RatingService(app: req.application, db: req.db).rate(
                applicationID: id, score: form?.score, comment: form?.comment, principal: principal)
            return s(req, "flash_rated")
        }
    }

    struct UploadForm: Content {
        var file: File?
        var material: String?
    }

    @Sendable func upload(req: Request) async throws -> Response {
        try await simpleAction(req) { principal, id in
            guard let form = try? req.content.decode(UploadForm.self), let file = form.file, file.data.readableBytes > 0 else {
                throw Problem.validation([FieldError(field: s(req, "upload_file"), message: s(req, "upload_choose_file"))])
            }
            do {
                let stored = try await AttachmentService(app: req.application, db: req.db).upload(
                    applicationID: id, filename: file.filename, data: Data(buffer: file.data), material: form.material,
                    principal: principal)
                return String(format: s(req, "flash_uploaded"), stored.filename)
            } catch let problem as Problem where [.payloadTooLarge, .unsupportedMediaType].contains(problem.status) {
                throw Problem(.unprocessableEntity, detail: message(req, problem))
            }
        }
    }

    @Sendable func deleteAttachment(req: Request) async throws -> Response {
        try await simpleAction(req) { principal, id in
            guard let attachment = req.parameters.get("attachment", as: UUID.self) else { throw AttachmentService.notFound }
            try await AttachmentService(app: req.application, db: req.db).delete(
                applicationID: id, attachmentID: attachment, principal: principal)
            return s(req, "flash_attachment_deleted")
        }
    }

    /// The file, for the applicant or handling staff signed in on the page.
    @Sendable func download(req: Request) async throws -> Response {
        guard let principal = principal(req) else { return req.loginRedirect() }
        guard let id = req.parameters.get("attachment", as: UUID.self) else { throw AttachmentService.notFound }
        let (attachment, data) = try await AttachmentService(app: req.application, db: req.db).download(id, principal: principal)
        return AttachmentsController.fileResponse(attachment, data)
    }

    // MARK: Staff pages

    func requireStaff(_ req: Request) throws -> Principal? {
        guard let principal = principal(req) else { return nil }
        guard principal.isStaff || principal.isSystemAdmin else { throw Problem.forbidden }
        return principal
    }

    @Sendable func inbox(req: Request) async throws -> Response {
        guard let principal = try requireStaff(req) else { return req.loginRedirect() }
        let english = req.preferences.language == .en
        let tasks = try await req.application.workflowEngine(on: req.db).inbox(for: principal, paging: Paging(limit: 100))
        let instanceIDs = Array(Set(tasks.map(\.instanceID)))
        let records = instanceIDs.isEmpty ? [] : try await ApplicationRecord.query(on: req.db).filter(\.$instanceID ~~ instanceIDs).all()
        let byInstance = Dictionary(records.compactMap { record in record.instanceID.map { ($0, record) } }) { a, _ in a }
        let services = try await ServiceItem.query(on: req.db).filter(\.$id ~~ Array(Set(records.map(\.serviceID)))).all()
        let names = Dictionary(services.compactMap { item in item.id.map { ($0, english ? item.nameEn : item.name) } }) { a, _ in a }
        let applicants = try await User.query(on: req.db).filter(\.$id ~~ Array(Set(records.map(\.applicantID)))).all()
        let people = Dictionary(applicants.compactMap { user in user.id.map { ($0, Masking.name(user.name)) } }) { a, _ in a }
        let now = req.application.clock.now()
        let rows = try tasks.map { task in
            let record = byInstance[task.instanceID]
            let urgency: String
            if let due = task.dueAt, due < now {
                urgency = "red"
            } else if let due = task.dueAt, due.timeIntervalSince(task.createdAt) > 0,
                now.timeIntervalSince(task.createdAt) >= 0.8 * due.timeIntervalSince(task.createdAt)
            {
                urgency = "yellow"
            } else {
                urgency = "green"
            }
            return TaskRow(
                id: try task.requireID().uuidString, name: task.name, number: record?.number ?? "—",
                service: record.flatMap { names[$0.serviceID] } ?? "—", applicant: record.flatMap { people[$0.applicantID] } ?? "—",
                due: Self.time(task.dueAt), urgency: urgency, urgencyLabel: s(req, "urgency_\(urgency)"))
        }
        return try await req.renderPage(
            "applications/inbox", titleKey: "inbox_title", strings: Self.strings, page: InboxPage(tasks: rows, flash: takeFlash(req)))
    }

    @Sendable func taskPage(req: Request) async throws -> Response {
        guard let principal = try requireStaff(req) else { return req.loginRedirect() }
        return try await renderTask(req, principal: principal, errors: [], comment: "", chosen: "")
    }

    func renderTask(
        _ req: Request, principal: Principal, errors: [FieldError], comment: String, chosen: String, status: HTTPStatus = .ok
    ) async throws -> Response {
        guard let id = req.parameters.get("id", as: UUID.self), let task = try await WorkflowTask.find(id, on: req.db),
            task.isEligible(principal) || principal.isSystemAdmin, task.status.isOpen,
            let record = try await ApplicationRecord.query(on: req.db).filter(\.$instanceID == task.instanceID).first()
        else { throw Problem.notFound("Task", type: "/problems/task-not-found") }
        let english = req.preferences.language == .en
        let service = try await ServiceItem.find(record.serviceID, on: req.db)
        let applicant = try await User.find(record.applicantID, on: req.db)
        let form = (try? ApplicationService.decode([String: JSONValue].self, record.form)) ?? [:]
        let files = try await attachmentRows(try record.requireID(), req: req, prefix: "/staff")
        let facts = [
            Row(label: s(req, "fact_number"), value: record.number),
            Row(label: s(req, "fact_service"), value: (english ? service?.nameEn : service?.name) ?? record.serviceCode),
            Row(label: s(req, "fact_applicant"), value: applicant.map { Masking.name($0.name) } ?? "—"),
            Row(label: s(req, "fact_status"), value: statusLabel(req, record.status)),
            Row(label: s(req, "fact_submitted"), value: Self.time(record.submittedAt)),
            Row(label: s(req, "fact_due"), value: Self.time(task.dueAt)),
        ]
        let page = TaskPage(
            id: id.uuidString, name: task.name, isAcceptance: task.nodeID == ApplicationService.acceptanceNode,
            number: record.number, service: facts[1].value, facts: facts, answers: answers(service?.form, form, files: files, req: req),
            attachments: files, timeline: try await timelineRows(record, req: req), errors: errors, comment: comment, chosen: chosen,
            flash: takeFlash(req), inspection: try await inspections.block(record, req: req, applicant: nil, staff: true))
        return try await req.renderPage(
            "applications/task", title: String(format: s(req, "task_title_format"), task.name, record.number), strings: Self.strings,
            page: page, status: status)
    }

    struct DecisionForm: Content {
        var action: String?
        var comment: String?
    }

    @Sendable func decide(req: Request) async throws -> Response {
        guard let principal = try requireStaff(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Task", type: "/problems/task-not-found") }
        let form = try req.content.decode(DecisionForm.self)
        let raw = form.action ?? ""
        guard let action = raw == "accept" ? .approve : TaskAction(rawValue: raw), [.approve, .reject, .return, .comment].contains(action)
        else {
            return try await renderTask(
                req, principal: principal, errors: [FieldError(field: "action", message: s(req, "decision_choose"))],
                comment: form.comment ?? "", chosen: "", status: .unprocessableEntity)
        }
        do {
            _ = try await req.application.workflowEngine(on: req.db).act(
                taskID: id, action: action, actor: principal, comment: form.comment)
        } catch let problem as Problem where problem.status == .unprocessableEntity {
            let errors = problem.errors.map { FieldError(field: $0.field, message: s(req, "decision_comment_required")) }
            return try await renderTask(req, principal: principal, errors: errors, comment: form.comment ?? "", chosen: raw,
                                        status: .unprocessableEntity)
        } catch let problem as Problem where problem.status == .conflict {
            flash(req, "error", message(req, problem))
            return req.redirect(to: "/staff/tasks", redirectType: .normal)
        }
        if action == .comment {
            flash(req, "success", s(req, "flash_commented"))
            return req.redirect(to: "/staff/tasks/\(id.uuidString)", redirectType: .normal)
        }
        flash(req, "success", s(req, "flash_decided_\(action.rawValue)"))
        return req.redirect(to: "/staff/tasks", redirectType: .normal)
    }
}
