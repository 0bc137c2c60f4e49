import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

extension VerificationResult: Content {}

/// Licence issuance, verification, revocation, the wallet and the trust list.
struct LicencesController: RouteCollection {
    struct QRLinks: Content {
        var payload: String
        var svgUrl: String
        var pngUrl: String
    }

    struct LicenceView: Content {
        var id: UUID
        var number: String
        var typeCode: String
        var holderKind: HolderKind
        var holderMasked: String
        var fields: [String: String]
        var validFrom: Date
        var validUntil: Date?
        var status: LicenceStatus
        var statusReason: String?
        var kid: String
        var createdAt: Date
        var qr: QRLinks
    }

    struct VerifyRequest: Content {
        var payload: String?
    }

    struct StatusRequest: Content {
        var reason: String?
    }

    func boot(routes: any RoutesBuilder) throws {
        let licences = routes.grouped("api", "v1", "licences")
        licences.post(use: issue)
        licences.get(use: wallet)
        licences.post("verify", use: verify)
        licences.on(.POST, "bulk", body: .collect(maxSize: "20mb"), use: bulk)
        licences.get(":id", use: show)
        licences.get(":id", "qr.svg", use: qrSVG)
        licences.get(":id", "qr.png", use: qrPNG)
        licences.get(":id", "credential", use: credential)
        licences.post(":id", "presentation", use: presentation)
        licences.post(":id", "revoke", use: revoke)
        licences.post(":id", "suspend", use: suspend)
        licences.post(":id", "reinstate", use: reinstate)
        licences.get("types", use: types)
        routes.get(".well-known", "tongban-trust-list.json", use: trustList)
        licences.get("status", ":department", ":purpose", use: statusList)
        licences.get("bindings", use: bindings)
        routes.get("api", "v1", "applications", ":id", "materials", use: materials)
        routes.post("api", "v1", "applications", ":id", "materials", use: attachMaterial)
        licences.put("bindings", ":serviceCode", use: bind)
    }

    static func view(_ licence: Licence) -> LicenceView {
        let id = licence.id ?? UUID()
        return LicenceView(
            id: id, number: licence.number, typeCode: licence.typeCode, holderKind: licence.holderKind,
            holderMasked: licence.holderMasked, fields: licence.fields, validFrom: licence.validFrom,
            validUntil: licence.validUntil, status: licence.status, statusReason: licence.statusReason, kid: licence.kid,
            createdAt: licence.createdAt,
            qr: QRLinks(
                payload: licence.payload, svgUrl: "/api/v1/licences/\(id.uuidString.lowercased())/qr.svg",
                pngUrl: "/api/v1/licences/\(id.uuidString.lowercased())/qr.png"))
    }

    func service(_ req: Request) -> LicenceService { LicenceService(app: req.application, db: req.db) }

    /// POST /api/v1/licences — staff of the issuing department. 201 with the licence and its QR links.
    @Sendable func issue(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(LicenceService.IssueRequest.self)
        let licence = try await service(req).issue(body, principal: principal)
        let response = Response(status: .created)
        try response.content.encode(Self.view(licence))
        response.headers.replaceOrAdd(name: .location, value: "/api/v1/licences/\(try licence.requireID().uuidString.lowercased())")
        return response
    }

    /// GET /api/v1/licences/{id}/credential — the holder: the licence as a VC-JWT (application/vc+jwt).
    @Sendable func credential(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let base = Self.verificationURL(req, "").replacingOccurrences(of: "/verify?p=", with: "")
        let token = try await service(req).credential(try Self.id(req), principal: principal, baseURL: base)
        let response = Response(status: .ok, body: .init(string: token))
        response.headers.replaceOrAdd(name: .contentType, value: LicenceCredential.mediaType)
        response.headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"licence.vc.jwt\"")
        response.headers.replaceOrAdd(name: .cacheControl, value: "private, no-store")
        return response
    }

    struct PresentationView: Content {
        var payload: String
        var expiresAt: Date
        var svg: String
    }

    /// POST /api/v1/licences/{id}/presentation — the holder: a presentation code valid for 60 seconds, with its
    /// QR code (SVG) that opens the verification page.
    @Sendable func presentation(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let (payload, expires) = try await service(req).presentation(try Self.id(req), principal: principal)
        let svg = try QRCode.encode(Self.verificationURL(req, payload), correction: .medium)
            .svg(moduleSize: 4, border: 4, title: "亮证码（60 秒内有效）/ Presentation code (valid for 60 seconds)")
        let response = Response(status: .created)
        try response.content.encode(PresentationView(payload: payload, expiresAt: expires, svg: svg))
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    /// POST /api/v1/licences/bulk?typeCode=… (text/csv) — staff of the issuing department. 201 with every
    /// number; 422 naming rows and columns, nothing stored.
    @Sendable func bulk(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        guard let body = req.body.data, let text = body.getString(at: body.readerIndex, length: body.readableBytes) else {
            throw Problem.validation([FieldError(field: "csv", message: "send the CSV as the request body (text/csv, UTF-8)")])
        }
        let typeCode = try? req.query.get(String.self, at: "typeCode")
        let result = try await service(req).issueBulk(csv: text, typeCode: typeCode, principal: principal)
        let response = Response(status: .created)
        try response.content.encode(result)
        return response
    }

    /// GET /api/v1/licences — the caller's wallet (a person's licences, or the enterprise's they act for).
    @Sendable func wallet(req: Request) async throws -> [LicenceView] {
        let principal = try req.requirePrincipal()
        return try await service(req).wallet(principal: principal).map(Self.view)
    }

    /// GET /api/v1/licences/{id} — the holder, staff of the issuing department, administrators; 404 otherwise.
    @Sendable func show(req: Request) async throws -> LicenceView {
        let principal = try req.requirePrincipal()
        return Self.view(try await service(req).visible(try Self.id(req), principal: principal))
    }

    /// POST /api/v1/licences/verify — anyone. Always 200 for a payload: valid or not, and why.
    /// GET /api/v1/licences/{id}/qr.svg and qr.png — the holder and issuing staff: the QR code of the
    /// signed payload (level M), as an accessible SVG or a PNG.
    @Sendable func qrSVG(req: Request) async throws -> Response {
        let licence = try await service(req).visible(try Self.id(req), principal: try req.requirePrincipal())
        let code = try QRCode.encode(Self.verificationURL(req, licence.payload), correction: .medium)
        let svg = code.svg(moduleSize: 4, border: 4, title: "电子证照二维码 \(licence.number) / Licence QR code")
        let response = Response(status: .ok, body: .init(string: svg))
        response.headers.contentType = HTTPMediaType(type: "image", subType: "svg+xml")
        response.headers.replaceOrAdd(name: .cacheControl, value: "private, no-store")
        return response
    }

    @Sendable func qrPNG(req: Request) async throws -> Response {
        let licence = try await service(req).visible(try Self.id(req), principal: try req.requirePrincipal())
        let code = try QRCode.encode(Self.verificationURL(req, licence.payload), correction: .medium)
        let response = Response(status: .ok, body: .init(data: Data(code.png(scale: 4, border: 4))))
        response.headers.contentType = .png
        response.headers.replaceOrAdd(name: .cacheControl, value: "private, no-store")
        return response
    }

    @Sendable func verify(req: Request) async throws -> VerificationResult {
        let body = try req.content.decode(VerifyRequest.self)
        guard let payload = body.payload else {
            throw Problem.validation([FieldError(field: "payload", message: "is required")])
        }
        return try await service(req).verify(payload)
    }

    @Sendable func revoke(req: Request) async throws -> LicenceView {
        try await setStatus(req, .revoked)
    }

    @Sendable func suspend(req: Request) async throws -> LicenceView {
        try await setStatus(req, .suspended)
    }

    @Sendable func reinstate(req: Request) async throws -> LicenceView {
        try await setStatus(req, .valid)
    }

    func setStatus(_ req: Request, _ status: LicenceStatus) async throws -> LicenceView {
        let principal = try req.requirePrincipal()
        let body = (try? req.content.decode(StatusRequest.self)) ?? StatusRequest()
        return Self.view(try await service(req).setStatus(try Self.id(req), to: status, reason: body.reason, principal: principal))
    }

    struct TypeView: Content {
        var code: String
        var nameZh: String
        var nameEn: String
        var departmentId: UUID
        var holderKinds: [HolderKind]
        var validityYears: Int
        var fields: [LicenceField]
    }

    /// GET /api/v1/licences/types — public.
    @Sendable func types(req: Request) async throws -> [TypeView] {
        try await LicenceType.query(on: req.db).sort(\.$code).all().map {
            TypeView(
                code: $0.code, nameZh: $0.nameZh, nameEn: $0.nameEn, departmentId: $0.departmentID, holderKinds: $0.holderKinds,
                validityYears: $0.validityYears, fields: $0.fields)
        }
    }

    /// GET /.well-known/tongban-trust-list.json — public.
    @Sendable func trustList(req: Request) async throws -> Response {
        let list = try await SigningKeyService(db: req.db, vault: req.application.keyVault, clock: req.application.clock)
            .trustList(baseURL: "")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let response = Response(status: .ok, body: .init(data: try encoder.encode(list)))
        response.headers.contentType = .json
        response.headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=300")
        return response
    }

    struct BindingView: Content {
        var serviceCode: String
        var typeCode: String
        var fields: [String: String]
    }

    struct BindingBody: Content {
        var typeCode: String?
        var fields: [String: String]?
    }

    /// GET /api/v1/applications/{id}/materials — the applicant and handling staff: each material of the service,
    /// satisfied by an upload, by an e-licence in force (免提交), or missing.
    @Sendable func materials(req: Request) async throws -> MaterialsCheck.Report {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Application", type: "/problems/application-not-found") }
        return try await MaterialsCheck(app: req.application, db: req.db).report(id, principal: principal)
    }

    @Sendable func attachMaterial(req: Request) async throws -> MaterialsCheck.Report {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Application", type: "/problems/application-not-found") }
        let body = try req.content.decode(MaterialsCheck.Attach.self)
        return try await MaterialsCheck(app: req.application, db: req.db).attach(id, body, principal: principal)
    }

    @Sendable func bindings(req: Request) async throws -> [BindingView] {
        _ = try req.requireStaff([.clerk, .approver, .departmentAdmin])
        return try await LicenceBinding.query(on: req.db).sort(\.$serviceCode).all().map {
            BindingView(serviceCode: $0.serviceCode, typeCode: $0.typeCode, fields: $0.fields)
        }
    }

    @Sendable func bind(req: Request) async throws -> BindingView {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(BindingBody.self)
        let binding = try await ApplicationIssuance.bind(
            serviceCode: req.parameters.get("serviceCode") ?? "", typeCode: body.typeCode, fields: body.fields, principal: principal,
            db: req.db, now: req.application.clock.now())
        return BindingView(serviceCode: binding.serviceCode, typeCode: binding.typeCode, fields: binding.fields)
    }

    /// GET /api/v1/licences/status/{department}/{purpose} — public: the department's signed Bitstring Status List
    /// (`revocation` or `suspension`) as a compact JWS, valid for a day; offline verifiers download it.
    @Sendable func statusList(req: Request) async throws -> Response {
        let base = Self.verificationURL(req, "").replacingOccurrences(of: "/verify?p=", with: "")
        let token = try await StatusLists(app: req.application, db: req.db).credential(
            department: req.parameters.get("department") ?? "", purpose: req.parameters.get("purpose") ?? "", baseURL: base)
        let response = Response(status: .ok, body: .init(string: token))
        response.headers.contentType = HTTPMediaType(type: "application", subType: "statuslist+jwt")
        response.headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=300")
        return response
    }

    /// What the QR code holds: the verification page's address with the signed token in `p`, so that any
    /// phone camera opens the check; verifiers that read the token take it from `p`. The address is
    /// `TONGBAN_PUBLIC_URL` when set, otherwise the host the request came to.
    static func verificationURL(_ req: Request, _ payload: String) -> String {
        var base = Environment.get("TONGBAN_PUBLIC_URL") ?? ""
        if base.isEmpty {
            let scheme = req.headers.first(name: "X-Forwarded-Proto") == "https" ? "https" : "http"
            let host = req.headers.first(name: .host).flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
            base = "\(scheme)://\(host)"
        }
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/verify?p=" + payload
    }

    static func id(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw LicenceService.notFound }
        return id
    }
}
