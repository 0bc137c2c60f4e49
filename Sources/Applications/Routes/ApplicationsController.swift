import Fluent
import Foundation
import TongbanCore
import Vapor
import Workflow

/// `/api/v1/applications` and the public progress query.
struct ApplicationsController: RouteCollection {
    struct CreateRequest: Content {
        var serviceId: UUID?
        var form: [String: JSONValue]?
        var submit: Bool?
    }

    struct FormRequest: Content {
        var form: [String: JSONValue]?
        var reason: String?
    }

    struct ApplicationView: Content {
        var id: UUID
        var number: String
        var serviceId: UUID
        var serviceCode: String
        var status: ApplicationStatus
        var form: [String: JSONValue]
        var enterpriseId: UUID?
        var submittedAt: Date?
        var decidedAt: Date?
        var createdAt: Date
        var updatedAt: Date
        var timeline: [TimelineEntry]?
    }

    struct ProgressView: Content {
        var number: String
        var serviceCode: String
        var status: String
        var submittedAt: Date?
        var decidedAt: Date?
        var updatedAt: Date
        /// For a 一件事 bundle application: each part's service and status.
        var parts: [ProgressPart]?
    }

    struct ProgressPart: Content {
        var serviceCode: String
        var status: ApplicationStatus
    }

    func boot(routes: any RoutesBuilder) throws {
        let applications = routes.grouped("api", "v1", "applications")
        applications.post(use: create)
        applications.get(use: mine)
        applications.get(":id", use: show)
        applications.post(":id", "submit", use: submit)
        applications.post(":id", "resubmit", use: resubmit)
        applications.post(":id", "withdraw", use: withdraw)
        applications.post(":id", "urge", use: urge)
        routes.get("api", "v1", "progress", use: progress)
        applications.post(":id", "rating", use: rate)
        routes.get("api", "v1", "ratings", "statistics", use: statistics)
    }

    struct RatingRequest: Content {
        var score: Int?
        var comment: String?
    }

    struct RatingView: Content {
        var id: UUID
        var applicationId: UUID
        var score: Int
        var rectification: Bool
        var createdAt: Date
    }

    /// POST /api/v1/applications/{id}/rating — the applicant, once, after a decision. A bad review (1–2)
    /// opens a rectification task for the department (5 working days).
    @Sendable func rate(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(RatingRequest.self)
        let rating = try await RatingService(app: req.application, db: req.db).rate(
            applicationID: try id(req), score: body.score, comment: body.comment, principal: principal)
        let view = RatingView(
            id: try rating.requireID(), applicationId: rating.applicationID, score: rating.score,
            rectification: rating.rectificationInstanceID != nil, createdAt: rating.createdAt)
        return try await view.encodeResponse(status: .created, for: req)
    }

    /// GET /api/v1/ratings/statistics?service= — anyone: results are published (GB/T 39735).
    @Sendable func statistics(req: Request) async throws -> CursorPage<DepartmentRatingStats> {
        var serviceID: UUID?
        if let raw = req.query[String.self, at: "service"] {
            guard let id = UUID(uuidString: raw) else {
                throw Problem.validation([FieldError(field: "service", message: "must be a service id")])
            }
            serviceID = id
        }
        let stats = try await RatingService(app: req.application, db: req.db).statistics(serviceID: serviceID)
        return CursorPage(items: stats, nextCursor: nil)
    }

    func service(_ req: Request) -> ApplicationService { ApplicationService(app: req.application, db: req.db) }

    func id(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw ApplicationService.notFound }
        return id
    }

    static func view(_ record: ApplicationRecord, timeline: [TimelineEntry]?) throws -> ApplicationView {
        ApplicationView(
            id: try record.requireID(), number: record.number, serviceId: record.serviceID, serviceCode: record.serviceCode,
            status: record.status, form: (try? ApplicationService.decode([String: JSONValue].self, record.form)) ?? [:],
            enterpriseId: record.enterpriseID, submittedAt: record.submittedAt, decidedAt: record.decidedAt,
            createdAt: record.createdAt, updatedAt: record.updatedAt, timeline: timeline)
    }

    /// POST /api/v1/applications — a person. 201 {id, number, status}; 422 unknown service or bad form.
    @Sendable func create(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(CreateRequest.self)
        let record = try await service(req).create(
            serviceID: body.serviceId, form: body.form ?? [:], submit: body.submit ?? false, principal: principal)
        let view = try Self.view(record, timeline: try await service(req).timeline(record))
        let response = try await view.encodeResponse(status: .created, for: req)
        response.headers.replaceOrAdd(name: .location, value: "/api/v1/applications/\(view.id)")
        return response
    }

    /// GET /api/v1/applications — signed in. The caller's applications, newest first.
    @Sendable func mine(req: Request) async throws -> CursorPage<ApplicationView> {
        let principal = try req.requirePrincipal()
        let paging = try Paging(from: req)
        let rows = try await ApplicationRecord.query(on: req.db).filter(\.$applicantID == principal.userID)
            .sort(\.$createdAt, .descending).sort(\.$id).range(paging.offset..<(paging.offset + paging.limit + 1)).all()
        return paging.page(try rows.map { try Self.view($0, timeline: nil) })
    }

    /// GET /api/v1/applications/{id} — the applicant, their enterprise, handling staff. With the timeline.
    @Sendable func show(req: Request) async throws -> ApplicationView {
        let principal = try req.requirePrincipal()
        let record = try await service(req).visible(try id(req), principal)
        return try Self.view(record, timeline: try await service(req).timeline(record))
    }

    /// POST /api/v1/applications/{id}/submit — the applicant, for a draft (optionally with new form data).
    @Sendable func submit(req: Request) async throws -> ApplicationView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(FormRequest.self)) ?? FormRequest()
        let record = try await service(req).submit(try id(req), form: body.form, principal: principal)
        return try Self.view(record, timeline: try await service(req).timeline(record))
    }

    /// POST /api/v1/applications/{id}/resubmit — the applicant, answering a correction.
    @Sendable func resubmit(req: Request) async throws -> ApplicationView {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(FormRequest.self)
        let record = try await service(req).resubmit(try id(req), form: body.form ?? [:], principal: principal)
        return try Self.view(record, timeline: try await service(req).timeline(record))
    }

    struct UrgeView: Content {
        var urgedTasks: Int
    }

    /// POST /api/v1/applications/{id}/urge — the applicant, once a time limit has passed (409 before).
    @Sendable func urge(req: Request) async throws -> UrgeView {
        let principal = try req.requirePrincipal()
        return UrgeView(urgedTasks: try await service(req).urge(try id(req), principal: principal))
    }

    /// POST /api/v1/applications/{id}/withdraw — the applicant, before a decision.
    @Sendable func withdraw(req: Request) async throws -> ApplicationView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(FormRequest.self)) ?? FormRequest()
        let record = try await service(req).withdraw(try id(req), reason: body.reason, principal: principal)
        return try Self.view(record, timeline: try await service(req).timeline(record))
    }

    /// GET /api/v1/progress?number=&idTail= — anyone. Only status and dates; 404 unless both match.
    @Sendable func progress(req: Request) async throws -> ProgressView {
        var errors = FieldErrors()
        let number = req.query[String.self, at: "number"] ?? ""
        let tail = (req.query[String.self, at: "idTail"] ?? "").uppercased()
        errors.check(number.count == 14 && number.allSatisfy(\.isNumber), "number", "must be the 14-digit application number")
        errors.check(tail.count == 6, "idTail", "must be the last 6 characters of the applicant's ID number")
        try errors.throwIfAny()
        if let record = try await ApplicationRecord.query(on: req.db).filter(\.$number == number).first() {
            guard record.idTail == tail else { throw ApplicationService.notFound }
            return ProgressView(
                number: record.number, serviceCode: record.serviceCode, status: record.status.rawValue,
                submittedAt: record.submittedAt, decidedAt: record.decidedAt, updatedAt: record.updatedAt, parts: nil)
        }
        guard let bundle = try await BundleApplication.query(on: req.db).filter(\.$number == number).first(),
            bundle.idTail == tail
        else { throw ApplicationService.notFound }
        let members = try await BundleService(app: req.application, db: req.db).members(of: try bundle.requireID())
        let definition = try await ServiceBundle.find(bundle.bundleID, on: req.db)
        return ProgressView(
            number: bundle.number, serviceCode: definition?.code ?? "", status: BundleService.status(bundle, members: members).rawValue,
            submittedAt: bundle.submittedAt, decidedAt: members.compactMap(\.decidedAt).max(), updatedAt: bundle.updatedAt,
            parts: members.map { ProgressPart(serviceCode: $0.serviceCode, status: $0.status) })
    }
}
