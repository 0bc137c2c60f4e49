import Fluent
import Foundation
import TongbanCore
import Vapor

/// Holder codes, verification by verifier devices, offline device certificates, scan records, trust list.
struct CodesController: RouteCollection {
    struct IssueRequest: Content {
        var type: String?
    }

    struct QRLinks: Content {
        var svgUrl: String
    }

    struct IssuedView: Content {
        var payload: String
        var type: CodeType
        var issuedAt: Date
        var expiresAt: Date
        var qr: QRLinks
    }

    struct VerifyRequest: Content {
        var payload: String?
        var scenario: String?
    }

    struct BatchRequest: Content {
        var scans: [VerificationService.BatchItem]?
    }

    struct DeviceRequest: Content {
        var publicKey: String?
        var name: String?
        var validityDays: Int?
    }

    struct DeviceView: Content {
        var id: UUID
        var name: String
        var publicKey: String
        var certificateId: String
        var certificate: String
        var status: HolderDeviceStatus
        var issuedAt: Date
        var expiresAt: Date
        var revokedAt: Date?
    }

    static let apiKeyHeader = "X-Api-Key"

    func boot(routes: any RoutesBuilder) throws {
        let codes = routes.grouped("api", "v1", "codes")
        codes.post(use: issue)
        codes.get("qr.svg", use: qrSVG)
        codes.post("verify", use: verify)
        codes.get("scans", use: scans)
        codes.on(.POST, "scans", "batch", body: .collect(maxSize: "4mb"), use: batch)
        codes.post("devices", use: registerDevice)
        codes.get("devices", use: devices)
        codes.post("devices", ":id", "revoke", use: revokeDevice)
        routes.get(".well-known", "tongban-codes-trust-list.json", use: trustList)
    }

    static func view(_ device: HolderDevice) -> DeviceView {
        DeviceView(
            id: device.id ?? UUID(), name: device.name, publicKey: device.publicKey, certificateId: device.certificateID,
            certificate: device.certificate, status: device.status, issuedAt: device.issuedAt, expiresAt: device.expiresAt,
            revokedAt: device.revokedAt)
    }

    /// POST /api/v1/codes — a registered person: a code of `type` (default identity), valid ≤ 60 s, with the
    /// address of its QR code. 401, 403 (not a person), 422 (unknown type).
    @Sendable func issue(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        var body = IssueRequest()
        if req.body.data != nil { body = try req.content.decode(IssueRequest.self) }
        guard let type = CodeType(rawValue: body.type ?? CodeType.identity.rawValue) else {
            throw Problem.validation([
                FieldError(field: "type", message: "must be one of " + CodeType.allCases.map(\.rawValue).joined(separator: ", "))
            ])
        }
        let issued = try await CodeService(app: req.application, db: req.db).issue(type: type, principal: principal)
        let response = Response(status: .created)
        try response.content.encode(
            IssuedView(
                payload: issued.payload, type: type, issuedAt: issued.claims.issuedAt, expiresAt: issued.claims.expiresAt,
                qr: QRLinks(svgUrl: "/api/v1/codes/qr.svg?p=" + issued.payload)))
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    /// GET /api/v1/codes/qr.svg?p=PAYLOAD — anyone: the QR code (SVG, level M) of a code that is currently
    /// valid; 404 for anything else, so this is no general QR service.
    @Sendable func qrSVG(req: Request) async throws -> Response {
        let payload = (try? req.query.get(String.self, at: "p")) ?? ""
        let service = VerificationService(app: req.application, db: req.db)
        guard case .success(let verified) = try await service.check(payload, at: req.now) else {
            throw Problem(.notFound, type: "/problems/code-not-found", title: "Code not found", detail: "The code is not valid or has expired.")
        }
        let label = verified.claims.typ == .medicalInsurance ? "医保码 / Medical insurance code" : verified.claims.typ == .transit
            ? "乘车码 / Transit code" : "市民码 / Identity code"
        let svg = try QRCode.encode(payload, correction: .medium).svg(moduleSize: 4, border: 4, title: label)
        let response = Response(status: .ok, body: .init(string: svg))
        response.headers.contentType = HTTPMediaType(type: "image", subType: "svg+xml")
        response.headers.replaceOrAdd(name: .cacheControl, value: "private, no-store")
        return response
    }

    /// POST /api/v1/codes/verify — a verifier device (`X-Api-Key`). Always 200 with `valid` and `reason` for a
    /// payload (unknown device, wrong scenario, tampered, expired, replayed…); 422 without a payload.
    @Sendable func verify(req: Request) async throws -> VerificationAnswer {
        let body = try req.content.decode(VerifyRequest.self)
        guard let payload = body.payload else {
            throw Problem.validation([FieldError(field: "payload", message: "is required")])
        }
        return try await VerificationService(app: req.application, db: req.db)
            .verify(payload: payload, scenario: body.scenario, apiKey: req.headers.first(name: Self.apiKeyHeader))
    }

    /// POST /api/v1/codes/scans/batch — a verifier device (`X-Api-Key`): scans recorded offline, verified as of
    /// their scan time; duplicates (same code already accepted by the organisation) removed. 401, 422.
    @Sendable func batch(req: Request) async throws -> VerificationService.BatchResult {
        let service = VerificationService(app: req.application, db: req.db)
        guard let device = try await service.device(apiKey: req.headers.first(name: Self.apiKeyHeader)) else {
            throw Problem(
                .unauthorized, type: "/problems/unknown-verifier-device", title: "Unknown verifier device",
                detail: "Send the device's API key in the X-Api-Key header.")
        }
        guard device.status == .active else { throw Problem.forbidden }
        let body = try req.content.decode(BatchRequest.self)
        return try await service.batch(body.scans ?? [], device: device)
    }

    /// GET /api/v1/codes/scans — the holder: "my scan records" (who scanned, when, where, what was disclosed).
    @Sendable func scans(req: Request) async throws -> CursorPage<CodeService.ScanRecord> {
        let principal = try req.requirePrincipal()
        return try await CodeService(app: req.application, db: req.db).scans(principal: principal, paging: try Paging(from: req))
    }

    /// POST /api/v1/codes/devices — a registered person: certify the device's Ed25519 key for offline codes.
    @Sendable func registerDevice(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(DeviceRequest.self)
        let device = try await CodeService(app: req.application, db: req.db)
            .registerDevice(publicKey: body.publicKey, name: body.name, validityDays: body.validityDays, principal: principal)
        let response = Response(status: .created)
        try response.content.encode(Self.view(device))
        return response
    }

    /// GET /api/v1/codes/devices — the holder's devices and certificates.
    @Sendable func devices(req: Request) async throws -> [DeviceView] {
        let principal = try req.requirePrincipal()
        return try await CodeService(app: req.application, db: req.db).devices(principal: principal).map(Self.view)
    }

    /// POST /api/v1/codes/devices/{id}/revoke — the holder or a system administrator. 404, 409 already revoked.
    @Sendable func revokeDevice(req: Request) async throws -> DeviceView {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw CodeService.deviceNotFound }
        return Self.view(try await CodeService(app: req.application, db: req.db).revokeDevice(id, principal: principal))
    }

    /// GET /.well-known/tongban-codes-trust-list.json — public: platform code keys (JWK), clock skew,
    /// revoked device certificates.
    @Sendable func trustList(req: Request) async throws -> Response {
        let list = try await CodeService(app: req.application, db: req.db).trustList()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let response = Response(status: .ok, body: .init(data: try encoder.encode(list)))
        response.headers.contentType = .json
        response.headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=60")
        return response
    }
}
