import Fluent
import Foundation
import TongbanCore
import Vapor

/// Registration of verifier organisations and their scanner devices (system administrators).
struct VerifierAdminController: RouteCollection {
    struct OrganisationRequest: Content {
        var name: String?
    }

    struct DeviceRequest: Content {
        var name: String?
        var scenario: String?
        var location: String?
    }

    struct DeviceView: Content {
        var id: UUID
        var organisationId: UUID
        var name: String
        var scenario: String
        var location: String
        var keyHint: String
        var status: VerifierDeviceStatus
        var createdAt: Date
        /// Only in the answer to the registration: shown once, stored hashed.
        var apiKey: String?
    }

    struct OrganisationView: Content {
        var id: UUID
        var name: String
        var createdAt: Date
        var devices: [DeviceView]
    }

    func boot(routes: any RoutesBuilder) throws {
        let verifiers = routes.grouped("api", "v1", "codes", "verifiers")
        verifiers.post(use: create)
        verifiers.get(use: list)
        verifiers.post(":id", "devices", use: registerDevice)
        let devices = routes.grouped("api", "v1", "codes", "verifier-devices")
        devices.post(":id", "disable", use: disable)
        devices.post(":id", "enable", use: enable)
    }

    static func view(_ device: VerifierDevice, apiKey: String? = nil) -> DeviceView {
        DeviceView(
            id: device.id ?? UUID(), organisationId: device.organisationID, name: device.name, scenario: device.scenario,
            location: device.location, keyHint: device.keyHint, status: device.status, createdAt: device.createdAt, apiKey: apiKey)
    }

    func admin(_ req: Request) throws -> Principal { try req.requireStaff([.systemAdmin]) }

    /// POST /api/v1/codes/verifiers — system administrators. 201; 401, 403, 422.
    @Sendable func create(req: Request) async throws -> Response {
        let principal = try admin(req)
        let body = try req.content.decode(OrganisationRequest.self)
        let organisation = try await VerifierRegistry(app: req.application, db: req.db).createOrganisation(name: body.name, principal: principal)
        let response = Response(status: .created)
        try response.content.encode(
            OrganisationView(id: try organisation.requireID(), name: organisation.name, createdAt: organisation.createdAt, devices: []))
        return response
    }

    /// GET /api/v1/codes/verifiers — system administrators: organisations and devices (never keys).
    @Sendable func list(req: Request) async throws -> [OrganisationView] {
        _ = try admin(req)
        return try await VerifierRegistry(app: req.application, db: req.db).organisations().map { organisation, devices in
            OrganisationView(
                id: organisation.id ?? UUID(), name: organisation.name, createdAt: organisation.createdAt, devices: devices.map { Self.view($0) })
        }
    }

    /// POST /api/v1/codes/verifiers/{id}/devices — system administrators: a device with its API key (shown once).
    @Sendable func registerDevice(req: Request) async throws -> Response {
        let principal = try admin(req)
        guard let id = req.parameters.get("id", as: UUID.self) else { throw VerifierRegistry.organisationNotFound }
        let body = try req.content.decode(DeviceRequest.self)
        let (device, key) = try await VerifierRegistry(app: req.application, db: req.db)
            .registerDevice(organisationID: id, name: body.name, scenario: body.scenario, location: body.location, principal: principal)
        let response = Response(status: .created)
        try response.content.encode(Self.view(device, apiKey: key))
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    @Sendable func disable(req: Request) async throws -> DeviceView { try await setStatus(req, .disabled) }
    @Sendable func enable(req: Request) async throws -> DeviceView { try await setStatus(req, .active) }

    /// POST /api/v1/codes/verifier-devices/{id}/disable|enable — system administrators.
    func setStatus(_ req: Request, _ status: VerifierDeviceStatus) async throws -> DeviceView {
        let principal = try admin(req)
        guard let id = req.parameters.get("id", as: UUID.self) else { throw VerifierRegistry.deviceNotFound }
        return Self.view(try await VerifierRegistry(app: req.application, db: req.db).setDeviceStatus(id, status, principal: principal))
    }
}
