import Catalogue
import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// Pages: `/bundles` (一件事), `/bundles/{code}` (what it joins and the one form), `/me/bundles/{id}`.
struct BundlePages: RouteCollection {
    let pages: ApplicationPages

    struct Card: Encodable, Sendable {
        var code: String
        var name: String
        var description: String
        var services: [String]
    }

    struct ListPage: Encodable, Sendable {
        var bundles: [Card]
    }

    struct ApplyPage: Encodable, Sendable {
        var code: String
        var name: String
        var description: String
        var services: [String]
        var shared: [String]
        var fields: [ApplicationPages.FieldView]
        var errors: [FieldError]
        var signedIn: Bool
    }

    struct PartRow: Encodable, Sendable {
        var id: String
        var number: String
        var service: String
        var status: String
    }

    struct DetailPage: Encodable, Sendable {
        var number: String
        var name: String
        var status: String
        var parts: [PartRow]
        var flash: ApplicationPages.Flash?
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("bundles", use: list)
        routes.get("bundles", ":bundle", use: applyPage)
        routes.post("bundles", ":bundle", use: apply)
        routes.get("me", "bundles", ":id", use: detail)
    }

    func s(_ req: Request, _ key: String) -> String { pages.s(req, key) }

    @Sendable func list(req: Request) async throws -> Response {
        let english = req.preferences.language == .en
        let cards = try await BundleService(app: req.application, db: req.db).list().map { definition in
            Card(
                code: definition.bundle.code, name: english ? definition.bundle.nameEn : definition.bundle.name,
                description: english ? definition.bundle.descriptionEn : definition.bundle.description,
                services: definition.services.map { english ? $0.nameEn : $0.name })
        }
        return try await req.renderPage(
            "applications/bundles", titleKey: "bundles_title", strings: ApplicationPages.strings, page: ListPage(bundles: cards))
    }

    @Sendable func applyPage(req: Request) async throws -> Response {
        let definition = try await BundleService(app: req.application, db: req.db).find(req.parameters.get("bundle") ?? "")
        return try await render(req, definition, values: [:], errors: [])
    }

    func render(_ req: Request, _ definition: BundleDefinition, values: [String: String], errors: [FieldError],
                status: HTTPStatus = .ok) async throws -> Response {
        let english = req.preferences.language == .en
        var counts: [String: Int] = [:]
        for service in definition.services { for field in service.form.fields { counts[field.name, default: 0] += 1 } }
        let shared = definition.form.fields.filter { (counts[$0.name] ?? 0) > 1 }.map { english ? $0.labelEn : $0.label }
        let page = ApplyPage(
            code: definition.bundle.code, name: english ? definition.bundle.nameEn : definition.bundle.name,
            description: english ? definition.bundle.descriptionEn : definition.bundle.description,
            services: definition.services.map { english ? $0.nameEn : $0.name }, shared: shared,
            fields: pages.fieldViews(definition.form, values: values, errors: errors, files: [], req: req), errors: errors,
            signedIn: req.auth.has(Principal.self))
        return try await req.renderPage(
            "applications/bundle", title: page.name, strings: ApplicationPages.strings, page: page, status: status)
    }

    @Sendable func apply(req: Request) async throws -> Response {
        guard let principal = pages.principal(req) else { return req.loginRedirect() }
        try req.verifyCSRF()
        let bundles = BundleService(app: req.application, db: req.db)
        let definition = try await bundles.find(req.parameters.get("bundle") ?? "")
        let posted = ((try? req.content.decode([String: String].self)) ?? [:]).filter { $0.key != "_csrf" && $0.key != "intent" }
        let form = ApplicationPages.formValues(posted, schema: definition.form)
        do {
            let record = try await bundles.apply(
                bundleKey: definition.bundle.code, form: form, submit: true, principal: principal)
            pages.flash(req, "success", String(format: s(req, "flash_bundle_submitted"), record.number))
            return req.redirect(to: "/me/bundles/\(try record.requireID().uuidString)", redirectType: .normal)
        } catch let problem as Problem where problem.status == .unprocessableEntity || problem.status == .forbidden {
            var errors = ApplicationPages.pageErrors(problem.errors)
            if errors.isEmpty { errors = [FieldError(field: "main", message: pages.message(req, problem))] }
            return try await render(req, definition, values: posted, errors: errors, status: problem.status)
        }
    }

    @Sendable func detail(req: Request) async throws -> Response {
        guard let principal = pages.principal(req) else { return req.loginRedirect() }
        guard let id = req.parameters.get("id", as: UUID.self) else { throw BundleService.applicationNotFound }
        let bundles = BundleService(app: req.application, db: req.db)
        let record = try await bundles.own(id, principal)
        let members = try await bundles.members(of: id)
        let english = req.preferences.language == .en
        let bundle = try await ServiceBundle.find(record.bundleID, on: req.db)
        let services = try await ServiceItem.query(on: req.db).filter(\.$id ~~ members.map(\.serviceID)).all()
        let names = Dictionary(services.compactMap { item in item.id.map { ($0, english ? item.nameEn : item.name) } }) { a, _ in a }
        let page = DetailPage(
            number: record.number, name: (english ? bundle?.nameEn : bundle?.name) ?? "",
            status: s(req, "bundle_status_\(BundleService.status(record, members: members).rawValue)"),
            parts: try members.map {
                PartRow(id: try $0.requireID().uuidString, number: $0.number, service: names[$0.serviceID] ?? $0.serviceCode,
                        status: pages.statusLabel(req, $0.status))
            },
            flash: pages.takeFlash(req))
        return try await req.renderPage(
            "applications/bundle-detail", title: String(format: s(req, "detail_title_format"), record.number),
            strings: ApplicationPages.strings, page: page)
    }
}
