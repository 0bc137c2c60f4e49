import Fluent
import Foundation
import TongbanCore
import Vapor

/// `/api/v1/me/push-devices`: the caller's app devices that receive push copies of their notifications.
struct PushDevicesController: RouteCollection {
    struct View: Content {
        var id: UUID
        var platform: String
        /// Masked (`abcd…wxyz`): the full token is never shown again.
        var token: String
        var active: Bool
        var createdAt: Date
        var lastSentAt: Date?

        init(_ device: PushDevice) {
            id = device.id ?? UUID()
            platform = device.platform
            token = PushDevice.mask(device.token)
            active = device.active
            createdAt = device.createdAt
            lastSentAt = device.lastSentAt
        }
    }

    struct RegisterRequest: Content {
        var platform: String?
        var token: String?
    }

    struct ListView: Content {
        var items: [View]
    }

    func boot(routes: any RoutesBuilder) throws {
        let devices = routes.grouped("api", "v1", "me", "push-devices")
        devices.get(use: list)
        devices.post(use: register)
        devices.delete(":id", use: remove)
    }

    /// GET /api/v1/me/push-devices — signed in: own devices, oldest first, tokens masked.
    @Sendable func list(req: Request) async throws -> ListView {
        let principal = try req.requirePrincipal()
        let devices = try await PushDevice.query(on: req.db).filter(\.$userID == principal.userID).sort(\.$createdAt).sort(\.$id).all()
        return ListView(items: devices.map(View.init))
    }

    /// POST /api/v1/me/push-devices `{"platform":"ios"|"android"|"harmony","token"}` — signed in. 201 with the
    /// device; the same token again is 200 with the existing device (apps register at every start). A token
    /// registered by someone else moves to the caller (the device changed hands). At most 10 devices (409).
    @Sendable func register(req: Request) async throws -> Response {
        let principal = try req.requirePrincipal()
        let body = try req.content.decode(RegisterRequest.self)
        var errors: [FieldError] = []
        let platform = body.platform?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        if !PushDevice.platforms.contains(platform) {
            errors.append(FieldError(field: "platform", message: "must be ios, android or harmony"))
        }
        let token = body.token?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if token.isEmpty {
            errors.append(FieldError(field: "token", message: "is required"))
        } else if token.count > PushDevice.maxTokenLength {
            errors.append(FieldError(field: "token", message: "must be at most \(PushDevice.maxTokenLength) characters"))
        } else if !token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) {
            errors.append(FieldError(field: "token", message: "must be visible ASCII characters without spaces"))
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let now = req.application.clock.now()
        let userID = principal.userID
        let (device, created) = try await req.db.writeTransaction { tx -> (PushDevice, Bool) in
            if let existing = try await PushDevice.query(on: tx).filter(\.$token == token).first() {
                if existing.userID == userID {
                    if existing.platform != platform || !existing.active {
                        existing.platform = platform
                        existing.active = true
                        try await existing.save(on: tx)
                    }
                    return (existing, false)
                }
                try await existing.delete(on: tx)
            }
            let count = try await PushDevice.query(on: tx).filter(\.$userID == userID).count()
            guard count < PushDevice.perPersonLimit else {
                throw Problem.conflict(
                    "At most \(PushDevice.perPersonLimit) devices receive push messages; delete one first.",
                    type: "/problems/push-devices-limit")
            }
            let device = PushDevice()
            device.userID = userID
            device.platform = platform
            device.token = token
            device.active = true
            device.createdAt = now
            try await device.create(on: tx)
            return (device, true)
        }
        if created {
            try await req.application.audit?.record(
                kind: "notifications.push_device.registered", actor: userID, subject: device.id?.uuidString,
                details: ["platform": platform, "token": PushDevice.mask(token)])
        }
        return try await View(device).encodeResponse(status: created ? .created : .ok, for: req)
    }

    /// DELETE /api/v1/me/push-devices/{id} — the owner; 204. Anyone else's (or an unknown id) is 404.
    @Sendable func remove(req: Request) async throws -> HTTPStatus {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self), let device = try await PushDevice.find(id, on: req.db),
            device.userID == principal.userID
        else { throw Problem.notFound("Push device", type: "/problems/push-device-not-found") }
        try await req.db.writeTransaction { tx in
            try await PushDevice.query(on: tx).filter(\.$id == id).delete()
        }
        try await req.application.audit?.record(
            kind: "notifications.push_device.removed", actor: principal.userID, subject: id.uuidString,
            details: ["platform": device.platform])
        return .noContent
    }
}
