import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// The catalogue, inter-department sharing, personal consent and data reflow over HTTP.
struct DataSharingController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let data = routes.grouped("api", "v1", "data")
        data.get("resources", use: resources)
        data.get("resources", ":code", use: resource)
        data.get("resources", ":code", "records", use: records)
        data.post("sharing-requests", use: applySharing)
        data.get("sharing-requests", use: sharingRequests)
        data.get("sharing-requests", ":id", use: sharingRequest)
        data.post("sharing-requests", ":id", "approve", use: approveSharing)
        data.post("sharing-requests", ":id", "refuse", use: refuseSharing)
        data.post("sharing-requests", ":id", "key", use: issueKey)
        data.get("rankings", use: rankings)
        data.post("reflow", "orders", use: applyReflow)
        data.get("reflow", "orders", use: reflowOrders)
        data.get("reflow", "orders", ":id", use: reflowOrder)
        data.post("reflow", "orders", ":id", "confirm", use: confirmReflow)
        data.post("reflow", "orders", ":id", "approve", use: approveReflow)
        data.post("reflow", "orders", ":id", "refuse", use: refuseReflow)
        data.post("reflow", "orders", ":id", "run", use: runReflow)

        let consents = routes.grouped("api", "v1", "consents")
        consents.post("requests", use: createConsentRequest)
        consents.get("requests", use: myConsentRequests)
        consents.get("requests", ":id", use: consentRequest)
        consents.get("requests", ":id", "qr.svg", use: consentQR)
        consents.post("requests", ":id", "approve", use: approveConsent)
        consents.post("requests", ":id", "decline", use: declineConsent)
        consents.get("keys", use: receiptKeys)
        consents.get(use: myConsents)
        consents.get(":id", use: consent)
        consents.get(":id", "data", use: fetchConsented)
        consents.delete(":id", use: revokeConsent)
    }

    static func id(_ req: Request, _ what: String) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound(what) }
        return id
    }

    static func created(_ value: some Content, location: String) throws -> Response {
        let response = Response(status: .created)
        try response.content.encode(value)
        response.headers.replaceOrAdd(name: .location, value: location)
        return response
    }

    // MARK: Catalogue

    struct ResourceView: Content {
        var code: String
        var nameZh: String
        var nameEn: String
        var provider: String
        var providerName: String
        var subject: ResourceSubject
        var fields: [ResourceField]
        var updateFrequency: String
        var sharingType: SharingType
        var openType: OpenType
        var reflow: Bool
    }

    static func view(_ r: DataResource, departments: [UUID: DepartmentInfo]) -> ResourceView {
        let provider = departments[r.providerDepartmentID]
        return ResourceView(
            code: r.code, nameZh: r.nameZh, nameEn: r.nameEn, provider: provider?.code ?? "", providerName: provider?.name ?? "",
            subject: r.subject, fields: r.fields, updateFrequency: r.updateFrequency, sharingType: r.sharingType,
            openType: r.openType, reflow: r.reflow)
    }

    /// GET /api/v1/data/resources?q=&provider=&sharingType= — the catalogue (public metadata, no data).
    @Sendable func resources(req: Request) async throws -> [ResourceView] {
        var query = DataResource.query(on: req.db).sort(\.$code)
        if let type = req.query[String.self, at: "sharingType"] {
            guard let value = SharingType(rawValue: type) else { throw Problem.badRequest("sharingType must be unconditional, conditional or not_shareable") }
            query = query.filter(\.$sharingType == value)
        }
        let directory = DirectoryService(db: req.db)
        let departments = Dictionary(try await directory.departments().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        if let provider = req.query[String.self, at: "provider"] {
            guard let id = departments.values.first(where: { $0.code == provider })?.id else { return [] }
            query = query.filter(\.$providerDepartmentID == id)
        }
        var list = try await query.all()
        if let q = req.query[String.self, at: "q"]?.trimmingCharacters(in: .whitespaces), !q.isEmpty {
            list = list.filter { $0.code.contains(q) || $0.nameZh.contains(q) || $0.nameEn.localizedCaseInsensitiveContains(q) }
        }
        return list.map { Self.view($0, departments: departments) }
    }

    @Sendable func resource(req: Request) async throws -> ResourceView {
        let resource = try await SharingService(app: req.application, db: req.db).resource(code: req.parameters.get("code") ?? "")
        let departments = Dictionary(try await DirectoryService(db: req.db).departments().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return Self.view(resource, departments: departments)
    }

    struct RecordsView: Content {
        var resource: String
        var count: Int
        var records: [[String: String]]
    }

    /// GET /api/v1/data/resources/{code}/records?key=K1,K2&limit=N with `X-Api-Key`: a call with a sharing credential.
    @Sendable func records(req: Request) async throws -> RecordsView {
        let keys = req.query[String.self, at: "key"].map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if let keys, keys.count > 100 { throw Problem.badRequest("At most 100 keys per call") }
        let rawLimit = req.query[String.self, at: "limit"]
        let limit = rawLimit.map { Int($0) ?? 0 } ?? 100
        guard (1...1000).contains(limit) else {
            throw Problem.badRequest("limit must be a number, 1–1000")
        }
        let (resource, rows) = try await SharingService(app: req.application, db: req.db).call(
            resourceCode: req.parameters.get("code") ?? "", apiKey: req.headers.first(name: "X-Api-Key"), keys: keys, limit: limit)
        return RecordsView(resource: resource.code, count: rows.count, records: rows)
    }

    // MARK: Sharing

    struct SharingView: Content {
        var id: UUID
        var resource: String
        var consumer: String
        var fields: [String]
        var fullFields: [String]
        var purpose: String
        var legalBasis: String
        var durationDays: Int
        var status: SharingStatus
        var reason: String?
        var decidedAt: Date?
        var validUntil: Date?
        var keyPrefix: String?
        var createdAt: Date
    }

    static func view(_ r: SharingRequest, on db: any Database) async throws -> SharingView {
        try await views([r], on: db)[0]
    }

    /// Views of several requests with one query for their resources and one for their consumers.
    static func views(_ requests: [SharingRequest], on db: any Database) async throws -> [SharingView] {
        let resources = Dictionary(
            try await DataResource.query(on: db).filter(\.$id ~~ Set(requests.map(\.resourceID))).all().compactMap { r in r.id.map { ($0, r.code) } },
            uniquingKeysWith: { a, _ in a })
        let consumers = try await DirectoryService(db: db).departments(ids: Set(requests.map(\.consumerDepartmentID)))
        return try requests.map { try view($0, resource: resources[$0.resourceID] ?? "", consumer: consumers[$0.consumerDepartmentID]?.code ?? "") }
    }

    static func view(_ r: SharingRequest, resource: String, consumer: String) throws -> SharingView {
        SharingView(
            id: try r.requireID(), resource: resource, consumer: consumer, fields: r.fields,
            fullFields: r.fullFields, purpose: r.purpose, legalBasis: r.legalBasis, durationDays: r.durationDays, status: r.status,
            reason: r.reason, decidedAt: r.decidedAt, validUntil: r.validUntil, keyPrefix: r.keyPrefix, createdAt: r.createdAt)
    }

    @Sendable func applySharing(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let request = try await SharingService(app: req.application, db: req.db)
            .apply(try req.content.decode(SharingService.NewSharing.self), principal: principal)
        return try Self.created(try await Self.view(request, on: req.db), location: "/api/v1/data/sharing-requests/\(try request.requireID())")
    }

    /// Requests where the caller's departments are the consumer or the provider.
    @Sendable func sharingRequests(req: Request) async throws -> [SharingView] {
        let principal = try req.requireStaff([.clerk, .approver, .departmentAdmin])
        let mine = principal.departments(with: [.clerk, .approver, .departmentAdmin])
        let providing = try await DataResource.query(on: req.db).filter(\.$providerDepartmentID ~~ Array(mine)).all().compactMap(\.id)
        var query = SharingRequest.query(on: req.db).sort(\.$createdAt, .descending).limit(200)
        if !principal.isSystemAdmin {
            query = query.group(.or) { $0.filter(\.$consumerDepartmentID ~~ Array(mine)).filter(\.$resourceID ~~ providing) }
        }
        return try await Self.views(try query.all(), on: req.db)
    }

    @Sendable func sharingRequest(req: Request) async throws -> SharingView {
        let principal = try req.requireStaff([.clerk, .approver, .departmentAdmin])
        let request = try await SharingService(app: req.application, db: req.db).request(try Self.id(req, "Sharing request"))
        let resource = try await DataResource.find(request.resourceID, on: req.db)
        let mine = principal.departments(with: [.clerk, .approver, .departmentAdmin])
        guard principal.isSystemAdmin || mine.contains(request.consumerDepartmentID) || resource.map({ mine.contains($0.providerDepartmentID) }) == true else {
            throw Problem.notFound("Sharing request", type: "/problems/sharing-request-not-found")
        }
        return try await Self.view(request, on: req.db)
    }

    struct Decision: Content {
        var reason: String?
        var comment: String?
        var fullFields: [String]?
    }

    @Sendable func approveSharing(req: Request) async throws -> SharingView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(Decision.self)) ?? Decision()
        let request = try await SharingService(app: req.application, db: req.db).decide(
            try Self.id(req, "Sharing request"), approve: true, reason: body.comment ?? body.reason, fullFields: body.fullFields, principal: principal)
        return try await Self.view(request, on: req.db)
    }

    @Sendable func refuseSharing(req: Request) async throws -> SharingView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(Decision.self)) ?? Decision()
        let request = try await SharingService(app: req.application, db: req.db).decide(
            try Self.id(req, "Sharing request"), approve: false, reason: body.reason, fullFields: nil, principal: principal)
        return try await Self.view(request, on: req.db)
    }

    struct KeyView: Content {
        var apiKey: String
        var resource: String
        var validUntil: Date?
        var note: String
    }

    @Sendable func issueKey(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let (request, key) = try await SharingService(app: req.application, db: req.db).issueKey(try Self.id(req, "Sharing request"), principal: principal)
        let resource = try await DataResource.find(request.resourceID, on: req.db)
        let response = try Self.created(
            KeyView(apiKey: key, resource: resource?.code ?? "", validUntil: request.validUntil,
                    note: "Shown once; stored only as a hash. Send it as X-Api-Key. A new key replaces this one."),
            location: "/api/v1/data/sharing-requests/\(try request.requireID())")
        response.headers.replaceOrAdd(name: HTTPHeaders.Name.cacheControl, value: "no-store")
        return response
    }

    /// GET /api/v1/data/rankings?by=resource|consumer&days=30 — API call rankings (staff).
    @Sendable func rankings(req: Request) async throws -> [SharingService.RankingRow] {
        _ = try req.requireStaff([.clerk, .approver, .departmentAdmin, .auditor])
        let by = req.query[String.self, at: "by"] ?? "resource"
        guard by == "resource" || by == "consumer" else { throw Problem.badRequest("by must be resource or consumer") }
        let rawDays = req.query[String.self, at: "days"]
        let days = rawDays.flatMap(Int.init)
        if rawDays != nil, !(days.map { (1...3650).contains($0) } ?? false) { throw Problem.badRequest("days must be a number of days, 1–3650") }
        let since = days.map { req.application.clock.now().addingTimeInterval(-Double($0) * 86400) }
        return try await SharingService(app: req.application, db: req.db).rankings(by: by, since: since)
    }

    // MARK: Reflow

    struct ReflowView: Content {
        struct Event: Content {
            var action: String
            var department: String?
            var comment: String?
            var at: Date
        }

        struct Run: Content {
            var resource: String
            var startedAt: Date
            var finishedAt: Date
            var rowsCopied: Int
            var rowsTotal: Int
            var watermark: Int64
            var checksum: String
            var verified: Bool
        }

        var id: UUID
        var number: String
        var city: String
        var applicant: String
        var tables: [ReflowTable]
        var purpose: String
        var refreshHours: Int
        var status: ReflowStatus
        var reason: String?
        var createdAt: Date
        var events: [Event]?
        var runs: [Run]?
    }

    static func view(_ order: ReflowOrder, detail: Bool, on db: any Database, app: Application) async throws -> ReflowView {
        let directory = DirectoryService(db: db)
        var view = ReflowView(
            id: try order.requireID(), number: order.number, city: order.city,
            applicant: try await directory.department(id: order.applicantDepartmentID)?.code ?? "", tables: order.tables,
            purpose: order.purpose, refreshHours: order.refreshHours, status: order.status, reason: order.reason,
            createdAt: order.createdAt)
        if detail {
            let service = ReflowOrders(app: app, db: db)
            let events = try await service.events(view.id)
            let departments = try await directory.departments(ids: Set(events.compactMap(\.departmentID)))
            view.events = events.map {
                .init(action: $0.action, department: $0.departmentID.flatMap { departments[$0]?.code }, comment: $0.comment, at: $0.at)
            }
            view.runs = try await service.runs(view.id).map {
                .init(resource: $0.resource, startedAt: $0.startedAt, finishedAt: $0.finishedAt, rowsCopied: $0.rowsCopied,
                      rowsTotal: $0.rowsTotal, watermark: $0.watermark, checksum: $0.checksum, verified: $0.verified)
            }
        }
        return view
    }

    @Sendable func applyReflow(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let order = try await ReflowOrders(app: req.application, db: req.db)
            .apply(try req.content.decode(ReflowOrders.NewOrder.self), principal: principal)
        return try Self.created(
            try await Self.view(order, detail: true, on: req.db, app: req.application),
            location: "/api/v1/data/reflow/orders/\(try order.requireID())")
    }

    @Sendable func reflowOrders(req: Request) async throws -> [ReflowView] {
        let principal = try req.requireStaff([.clerk, .approver, .departmentAdmin])
        var out: [ReflowView] = []
        for order in try await ReflowOrders(app: req.application, db: req.db).visible(principal) {
            out.append(try await Self.view(order, detail: false, on: req.db, app: req.application))
        }
        return out
    }

    @Sendable func reflowOrder(req: Request) async throws -> ReflowView {
        let principal = try req.requirePrincipal()
        let service = ReflowOrders(app: req.application, db: req.db)
        let order = try await service.order(try Self.id(req, "Reflow order"))
        guard try await service.canSee(order, principal: principal) else {
            throw Problem.notFound("Reflow order", type: "/problems/reflow-order-not-found")
        }
        return try await Self.view(order, detail: true, on: req.db, app: req.application)
    }

    @Sendable func confirmReflow(req: Request) async throws -> ReflowView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(Decision.self)) ?? Decision()
        let order = try await ReflowOrders(app: req.application, db: req.db).confirm(try Self.id(req, "Reflow order"), comment: body.comment, principal: principal)
        return try await Self.view(order, detail: true, on: req.db, app: req.application)
    }

    @Sendable func approveReflow(req: Request) async throws -> ReflowView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(Decision.self)) ?? Decision()
        let (order, _) = try await ReflowOrders(app: req.application, db: req.db).approve(try Self.id(req, "Reflow order"), comment: body.comment, principal: principal)
        return try await Self.view(order, detail: true, on: req.db, app: req.application)
    }

    @Sendable func refuseReflow(req: Request) async throws -> ReflowView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(Decision.self)) ?? Decision()
        let order = try await ReflowOrders(app: req.application, db: req.db).refuse(try Self.id(req, "Reflow order"), reason: body.reason, principal: principal)
        return try await Self.view(order, detail: true, on: req.db, app: req.application)
    }

    @Sendable func runReflow(req: Request) async throws -> ReflowView {
        let principal = try req.requirePrincipal()
        let service = ReflowOrders(app: req.application, db: req.db)
        let id = try Self.id(req, "Reflow order")
        _ = try await service.run(id, principal: principal)
        return try await Self.view(try await service.order(id), detail: true, on: req.db, app: req.application)
    }

    // MARK: Consent

    struct CreatedRequest: Content {
        var id: UUID
        var qrPayload: String
        var qr: [String: String]
        var clarity: ConsentService.Clarity
    }

    static func scanURL(_ req: Request, _ request: ConsentRequest) throws -> String {
        var base = Environment.get("TONGBAN_PUBLIC_URL") ?? ""
        if base.isEmpty {
            let scheme = req.headers.first(name: "X-Forwarded-Proto") == "https" ? "https" : "http"
            let host = req.headers.first(name: .host).flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
            base = "\(scheme)://\(host)"
        }
        while base.hasSuffix("/") { base.removeLast() }
        return "\(base)/consents/scan/\(try request.requireID().uuidString.lowercased())?c=\(request.code)"
    }

    @Sendable func createConsentRequest(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let service = ConsentService(app: req.application, db: req.db)
        let request = try await service.createRequest(try req.content.decode(ConsentService.NewRequest.self), principal: principal)
        let id = try request.requireID().uuidString.lowercased()
        return try Self.created(
            CreatedRequest(
                id: try request.requireID(), qrPayload: try Self.scanURL(req, request),
                qr: ["svgUrl": "/api/v1/consents/requests/\(id)/qr.svg"], clarity: try await service.clarity(request)),
            location: "/api/v1/consents/requests/\(id)")
    }

    struct RequestSummary: Content {
        var id: UUID
        var status: ConsentRequestStatus
        var scenario: String
        var createdAt: Date
        var expiresAt: Date
        var consentId: UUID?
    }

    @Sendable func myConsentRequests(req: Request) async throws -> [RequestSummary] {
        let principal = try req.requirePrincipal()
        let requests = try await ConsentRequest.query(on: req.db).filter(\.$requestedBy == principal.userID)
            .sort(\.$createdAt, .descending).limit(200).all()
        let ids = requests.compactMap(\.id)
        let consents = try await Consent.query(on: req.db).filter(\.$requestID ~~ ids).all()
        let byRequest = Dictionary(consents.map { ($0.requestID, $0.id) }, uniquingKeysWith: { a, _ in a })
        return requests.map {
            RequestSummary(id: $0.id ?? UUID(), status: $0.status, scenario: $0.scenario, createdAt: $0.createdAt,
                           expiresAt: $0.expiresAt, consentId: $0.id.flatMap { byRequest[$0] ?? nil })
        }
    }

    /// The four clarities: for the requester, or a logged-in person holding the QR's code (`?c=`).
    @Sendable func consentRequest(req: Request) async throws -> ConsentService.Clarity {
        let principal = try req.requirePrincipal()
        let service = ConsentService(app: req.application, db: req.db)
        let request = try await service.request(try Self.id(req, "Consent request"))
        try await service.authorise(request, principal: principal, code: req.query[String.self, at: "c"])
        return try await service.clarity(request)
    }

    @Sendable func consentQR(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let service = ConsentService(app: req.application, db: req.db)
        let request = try await service.request(try Self.id(req, "Consent request"))
        guard request.requestedBy == principal.userID else { throw Problem.notFound("Consent request") }
        let code = try QRCode.encode(try Self.scanURL(req, request), correction: .medium)
        let response = Response(status: .ok, body: .init(string: code.svg(title: "扫码授权 Scan to authorise")))
        response.headers.contentType = HTTPMediaType(type: "image", subType: "svg+xml")
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    struct ApproveBody: Content {
        var code: String?
        var password: String?
        var method: String?
    }

    struct Approved: Content {
        var consentId: UUID
        var receipt: ConsentReceipt
    }

    @Sendable func approveConsent(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(ApproveBody.self)
        let consent = try await ConsentService(app: req.application, db: req.db).approve(
            try Self.id(req, "Consent request"), code: body.code ?? req.query[String.self, at: "c"], password: body.password,
            principal: principal, method: body.method == "scan" ? "scan-to-authorise" : "online")
        let receipt = try ConsentService.receipt(consent) ?? { throw Problem(.internalServerError, detail: "receipt unreadable") }()
        let response = try Self.created(
            Approved(consentId: try consent.requireID(), receipt: receipt), location: "/api/v1/consents/\(try consent.requireID())")
        return response
    }

    @Sendable func declineConsent(req: Request) async throws -> RequestSummary {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(ApproveBody.self)) ?? ApproveBody()
        let request = try await ConsentService(app: req.application, db: req.db).decline(
            try Self.id(req, "Consent request"), code: body.code ?? req.query[String.self, at: "c"], principal: principal)
        return RequestSummary(id: try request.requireID(), status: request.status, scenario: request.scenario,
                              createdAt: request.createdAt, expiresAt: request.expiresAt, consentId: nil)
    }

    @Sendable func receiptKeys(req: Request) async throws -> Response {
        let keys = try await ReceiptSigner(db: req.db, vault: req.application.keyVault, clock: req.application.clock).keys()
        let response = Response(status: .ok)
        try response.content.encode(["keys": keys])
        response.headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=300")
        return response
    }

    struct ConsentView: Content {
        struct Use: Content {
            var items: [String]
            var fetchedAt: Date
            var auditIndex: Int
        }

        var id: UUID
        var requester: String
        var requesterKind: RequesterKind
        var scenario: String
        var items: [ConsentItem]
        var validFrom: Date
        var validUntil: Date
        var status: ConsentStatus
        var revokedAt: Date?
        var receipt: ConsentReceipt?
        var uses: [Use]?
    }

    static func view(_ c: Consent, now: Date, uses: [ConsentUse]?, receipt: Bool) -> ConsentView {
        ConsentView(
            id: c.id ?? UUID(), requester: c.requesterName, requesterKind: c.requesterKind, scenario: c.scenario, items: c.items,
            validFrom: c.validFrom, validUntil: c.validUntil,
            status: c.status == .active && c.validUntil <= now ? .expired : c.status, revokedAt: c.revokedAt,
            receipt: receipt ? ConsentService.receipt(c) : nil,
            uses: uses?.map { .init(items: (try? JSONText.decode([String].self, $0.itemsJSON)) ?? [], fetchedAt: $0.fetchedAt, auditIndex: $0.auditIndex) })
    }

    /// The person's consents with every use.
    @Sendable func myConsents(req: Request) async throws -> [ConsentView] {
        let principal = try req.requirePrincipal()
        let service = ConsentService(app: req.application, db: req.db)
        var out: [ConsentView] = []
        for consent in try await service.mine(principal) {
            out.append(Self.view(consent, now: req.application.clock.now(), uses: try await service.uses(try consent.requireID()), receipt: false))
        }
        return out
    }

    @Sendable func consent(req: Request) async throws -> ConsentView {
        let principal = try req.requirePrincipal()
        let service = ConsentService(app: req.application, db: req.db)
        let consent = try await service.consent(try Self.id(req, "Consent"))
        if consent.personID == principal.userID {
            return Self.view(consent, now: req.application.clock.now(), uses: try await service.uses(try consent.requireID()), receipt: true)
        }
        guard service.isRequester(consent, principal: principal) else { throw Problem.notFound("Consent", type: "/problems/consent-not-found") }
        return Self.view(consent, now: req.application.clock.now(), uses: nil, receipt: true)
    }

    /// GET /api/v1/consents/{id}/data?items=resource.field,… — the requester fetches within the consent.
    @Sendable func fetchConsented(req: Request) async throws -> ConsentService.Fetched {
        let principal = try req.requirePrincipal()
        let only = req.query[String.self, at: "items"].map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        return try await ConsentService(app: req.application, db: req.db).fetch(try Self.id(req, "Consent"), only: only, principal: principal)
    }

    @Sendable func revokeConsent(req: Request) async throws -> ConsentView {
        let principal = try req.requirePrincipal()
        let consent = try await ConsentService(app: req.application, db: req.db).revoke(try Self.id(req, "Consent"), principal: principal)
        return Self.view(consent, now: req.application.clock.now(), uses: nil, receipt: false)
    }
}
