import Catalogue
import Fluent
import Foundation
import TongbanCore
import Vapor

/// `/api/v1/bundles` and `/api/v1/bundle-applications`.
struct BundlesController: RouteCollection {
    struct MemberService: Content {
        var id: UUID
        var code: String
        var name: String
        var nameEn: String
        var departmentId: UUID
        var promisedDays: Int
    }

    struct BundleView: Content {
        var id: UUID
        var code: String
        var name: String
        var nameEn: String
        var description: String
        var descriptionEn: String
        var services: [MemberService]
        var form: FormSchema
        /// Fields asked once for several services.
        var sharedFields: [String]
    }

    struct Part: Content {
        var id: UUID
        var number: String
        var serviceId: UUID
        var serviceCode: String
        var status: ApplicationStatus
        var decidedAt: Date?
    }

    struct BundleApplicationView: Content {
        var id: UUID
        var number: String
        var bundleId: UUID
        var status: BundleStatus
        var form: [String: JSONValue]
        var applications: [Part]
        var createdAt: Date
        var submittedAt: Date?
    }

    struct ApplyRequest: Content {
        var form: [String: JSONValue]?
        var submit: Bool?
    }

    struct FormRequest: Content {
        var form: [String: JSONValue]?
        var reason: String?
    }

    func boot(routes: any RoutesBuilder) throws {
        let bundles = routes.grouped("api", "v1", "bundles")
        bundles.get(use: list)
        bundles.get(":bundle", use: show)
        bundles.post(":bundle", "applications", use: apply)
        let applications = routes.grouped("api", "v1", "bundle-applications")
        applications.get(use: mine)
        applications.get(":id", use: showApplication)
        applications.post(":id", "submit", use: submit)
        applications.post(":id", "withdraw", use: withdraw)
    }

    static func view(_ definition: BundleDefinition) throws -> BundleView {
        var counts: [String: Int] = [:]
        for service in definition.services { for field in service.form.fields { counts[field.name, default: 0] += 1 } }
        return BundleView(
            id: try definition.bundle.requireID(), code: definition.bundle.code, name: definition.bundle.name,
            nameEn: definition.bundle.nameEn, description: definition.bundle.description,
            descriptionEn: definition.bundle.descriptionEn,
            services: try definition.services.map {
                MemberService(
                    id: try $0.requireID(), code: $0.code, name: $0.name, nameEn: $0.nameEn, departmentId: $0.departmentID,
                    promisedDays: $0.promisedDays)
            },
            form: definition.form, sharedFields: definition.form.fields.map(\.name).filter { (counts[$0] ?? 0) > 1 })
    }

    static func view(_ record: BundleApplication, members: [ApplicationRecord]) throws -> BundleApplicationView {
        BundleApplicationView(
            id: try record.requireID(), number: record.number, bundleId: record.bundleID,
            status: BundleService.status(record, members: members),
            form: (try? JSONText.decode([String: JSONValue].self, record.form)) ?? [:],
            applications: try members.map {
                Part(id: try $0.requireID(), number: $0.number, serviceId: $0.serviceID, serviceCode: $0.serviceCode, status: $0.status,
                     decidedAt: $0.decidedAt)
            },
            createdAt: record.createdAt, submittedAt: record.submittedAt)
    }

    func service(_ req: Request) -> BundleService { BundleService(app: req.application, db: req.db) }

    func id(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw BundleService.applicationNotFound }
        return id
    }

    /// GET /api/v1/bundles — anyone.
    @Sendable func list(req: Request) async throws -> CursorPage<BundleView> {
        CursorPage(items: try await service(req).list().map(Self.view), nextCursor: nil)
    }

    /// GET /api/v1/bundles/{id or code} — anyone: the member services and the combined form.
    @Sendable func show(req: Request) async throws -> BundleView {
        try Self.view(try await service(req).find(req.parameters.get("bundle") ?? ""))
    }

    /// POST /api/v1/bundles/{id or code}/applications — a person. 201; with `submit`, one sub-application per service.
    @Sendable func apply(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(ApplyRequest.self)
        let record = try await service(req).apply(
            bundleKey: req.parameters.get("bundle") ?? "", form: body.form ?? [:], submit: body.submit ?? false, principal: principal)
        let view = try Self.view(record, members: try await service(req).members(of: try record.requireID()))
        let response = try await view.encodeResponse(status: .created, for: req)
        response.headers.replaceOrAdd(name: .location, value: "/api/v1/bundle-applications/\(view.id)")
        return response
    }

    /// GET /api/v1/bundle-applications — the caller's, newest first.
    @Sendable func mine(req: Request) async throws -> CursorPage<BundleApplicationView> {
        let principal = try req.requirePrincipal()
        let paging = try Paging(from: req)
        let rows = try await BundleApplication.query(on: req.db).filter(\.$applicantID == principal.userID)
            .sort(\.$createdAt, .descending).sort(\.$id).range(paging.offset..<(paging.offset + paging.limit + 1)).all()
        let ids = rows.compactMap(\.id)
        let members = ids.isEmpty ? [] : try await ApplicationRecord.query(on: req.db).filter(\.$bundleApplicationID ~~ ids).all()
        let grouped = Dictionary(grouping: members) { $0.bundleApplicationID ?? UUID() }
        return paging.page(try rows.map { try Self.view($0, members: grouped[$0.id ?? UUID()] ?? []) })
    }

    /// GET /api/v1/bundle-applications/{id} — the applicant: the status of the whole and of each part.
    @Sendable func showApplication(req: Request) async throws -> BundleApplicationView {
        let principal = try req.requirePrincipal()
        let record = try await service(req).own(try id(req), principal)
        return try Self.view(record, members: try await service(req).members(of: try record.requireID()))
    }

    /// POST /api/v1/bundle-applications/{id}/submit — the applicant, for a draft.
    @Sendable func submit(req: Request) async throws -> BundleApplicationView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(FormRequest.self)) ?? FormRequest()
        let record = try await service(req).submit(try id(req), form: body.form, principal: principal)
        return try Self.view(record, members: try await service(req).members(of: try record.requireID()))
    }

    /// POST /api/v1/bundle-applications/{id}/withdraw — the applicant: every part still in progress.
    @Sendable func withdraw(req: Request) async throws -> BundleApplicationView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(FormRequest.self)) ?? FormRequest()
        let record = try await service(req).withdraw(try id(req), reason: body.reason, principal: principal)
        return try Self.view(record, members: try await service(req).members(of: try record.requireID()))
    }
}
