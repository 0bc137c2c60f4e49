import Fluent
import Foundation
import TongbanCore
import Vapor

/// Verifier organisations and their scanner devices, registered by a system administrator.
public struct VerifierRegistry: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: (any Database)? = nil) {
        self.app = app
        self.db = db ?? app.db
    }

    static let organisationNotFound = Problem(
        .notFound, type: "/problems/verifier-not-found", title: "Verifier organisation not found")
    static let deviceNotFound = Problem(.notFound, type: "/problems/verifier-device-not-found", title: "Verifier device not found")

    public func createOrganisation(name: String?, principal: Principal) async throws -> VerifierOrganisation {
        let trimmed = (name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...120).contains(trimmed.count) else {
            throw Problem.validation([FieldError(field: "name", message: "is required (1–120 characters)")])
        }
        let organisation = VerifierOrganisation()
        organisation.name = trimmed
        organisation.createdBy = principal.userID
        organisation.createdAt = app.clock.now()
        try await db.writeTransaction { tx in try await organisation.create(on: tx) }
        try await app.audit?.record(
            kind: "codes.verifier.registered", actor: principal.userID,
            subject: "verifier:\(try organisation.requireID().uuidString.lowercased())", details: ["name": trimmed])
        return organisation
    }

    public func organisations() async throws -> [(VerifierOrganisation, [VerifierDevice])] {
        let organisations = try await VerifierOrganisation.query(on: db).sort(\.$createdAt).all()
        let devices = try await VerifierDevice.query(on: db).sort(\.$createdAt).all()
        let byOrganisation = Dictionary(grouping: devices, by: \.organisationID)
        return organisations.map { ($0, $0.id.flatMap { byOrganisation[$0] } ?? []) }
    }

    /// A new device with a fresh API key (returned once; only its hash is stored).
    public func registerDevice(organisationID: UUID, name: String?, scenario: String?, location: String?, apiKey: String? = nil,
                               principal: Principal?) async throws -> (VerifierDevice, String)
    {
        guard let organisation = try await VerifierOrganisation.find(organisationID, on: db) else { throw Self.organisationNotFound }
        var errors = FieldErrors()
        let label = (name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        errors.check((1...120).contains(label.count), "name", "is required (1–120 characters)")
        let scene = Scenario(rawValue: scenario ?? "")
        errors.check(scene != nil, "scenario", "must be one of " + Scenario.allCases.map(\.rawValue).joined(separator: ", "))
        let place = (location ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        errors.check(place.count <= 200, "location", "must have at most 200 characters")
        try errors.throwIfAny()
        let key = apiKey ?? Self.newAPIKey()
        let device = VerifierDevice()
        device.organisationID = try organisation.requireID()
        device.name = label
        device.scenario = scene?.rawValue ?? ""
        device.location = place
        device.keyHash = VerificationService.hash(apiKey: key)
        device.keyHint = String(key.suffix(4))
        device.status = .active
        device.createdAt = app.clock.now()
        try await db.writeTransaction { tx in try await device.create(on: tx) }
        app.verifierDeviceCache.clear()
        if let principal {
            try await app.audit?.record(
                kind: "codes.verifier.device-registered", actor: principal.userID,
                subject: "verifier-device:\(try device.requireID().uuidString.lowercased())",
                details: ["organisation": organisationID.uuidString.lowercased(), "scenario": device.scenario, "keyHint": device.keyHint])
        }
        return (device, key)
    }

    /// `tbv_` and 32 random bytes in base64url.
    static func newAPIKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return "tbv_" + Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public func setDeviceStatus(_ id: UUID, _ status: VerifierDeviceStatus, principal: Principal) async throws -> VerifierDevice {
        guard let device = try await VerifierDevice.find(id, on: db) else { throw Self.deviceNotFound }
        device.status = status
        try await db.writeTransaction { tx in try await device.update(on: tx) }
        app.verifierDeviceCache.clear()
        try await app.audit?.record(
            kind: "codes.verifier.device-\(status.rawValue)", actor: principal.userID,
            subject: "verifier-device:\(id.uuidString.lowercased())", details: [:])
        return device
    }
}
