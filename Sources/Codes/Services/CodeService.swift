import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Issuing codes and device certificates to holders, and the holder's own records.
public struct CodeService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: (any Database)? = nil) {
        self.app = app
        self.db = db ?? app.db
    }

    var keys: CodeKeyService { CodeKeyService(app: app, db: db) }
    var now: Date { app.clock.now() }

    public struct IssuedCode: Sendable {
        public var payload: String
        public var claims: CodeClaims
    }

    /// The person behind `principal`, who must be a registered person with an ID number (403 otherwise).
    func person(_ principal: Principal) async throws -> CodePerson {
        guard principal.kind == .person, let person = try await CodePerson.find(principal.userID, on: db), person.kind == .person,
            person.idNumber != nil, !person.disabled
        else { throw Problem(.forbidden, type: "/problems/forbidden", title: "Not allowed", detail: "Only a registered person with a verified ID number holds codes.") }
        return person
    }

    /// The holder record of `principal`'s person, created on first use (pseudonym and insurance number).
    func holder(for principal: Principal, person: CodePerson) async throws -> CodeHolder {
        let userID = principal.userID
        let cache = app.codeHolderCache
        if let holder = cache.holder(user: userID) { return holder }
        if let holder = try await CodeHolder.query(on: db).filter(\.$userID == userID).first() {
            if !db.inTransaction { cache.remember(holder) }
            return holder
        }
        let holder = CodeHolder()
        holder.userID = userID
        holder.pseudonym = CodeClaims.nonce()
        holder.insuranceNumber = Self.insuranceNumber(idNumber: person.idNumber ?? "")
        holder.createdAt = now
        do {
            try await db.writeTransaction { tx in try await holder.create(on: tx) }
            return holder
        } catch {
            // Created by a concurrent first request.
            if let failure = error as? any DatabaseError, failure.isConstraintFailure,
                let existing = try await CodeHolder.query(on: db).filter(\.$userID == userID).first()
            {
                return existing
            }
            throw error
        }
    }

    /// A medical-insurance number: the region of the ID number, then 12 random digits.
    static func insuranceNumber(idNumber: String) -> String {
        let region = idNumber.prefix(6).allSatisfy(\.isNumber) && idNumber.count >= 6 ? String(idNumber.prefix(6)) : "000000"
        return "YB" + region + (0..<12).map { _ in String(Int.random(in: 0...9)) }.joined()
    }

    /// POST /api/v1/codes: a code of `type` signed by the platform, valid for the configured lifetime (≤ 60 s).
    public func issue(type: CodeType, principal: Principal) async throws -> IssuedCode {
        let holder = try await holder(for: principal, person: try await person(principal))
        let signer = try await keys.signer()
        let iat = Int64(now.timeIntervalSince1970)
        let lifetime = min(app.codesSettings.codeLifetime, CodeFormat.maximumLifetime)
        let claims = CodeClaims(sub: holder.pseudonym, typ: type, iat: iat, exp: iat + Int64(lifetime), jti: CodeClaims.nonce())
        let payload = try CompactJWS.sign(payload: try CodeEncoding.json(claims), key: signer, type: CodeFormat.codeType)
        return IssuedCode(payload: payload, claims: claims)
    }

    // MARK: - Holder devices (offline codes)

    static let deviceNotFound = Problem(.notFound, type: "/problems/code-device-not-found", title: "Device not found")

    /// POST /api/v1/codes/devices: registers the device's Ed25519 public key and certifies it.
    public func registerDevice(publicKey: String?, name: String?, validityDays: Int?, principal: Principal) async throws -> HolderDevice {
        var errors = FieldErrors()
        let key = publicKey ?? ""
        errors.check(Base64URL.decode(key)?.count == 32, "publicKey", "must be a raw Ed25519 public key (32 bytes) in base64url without padding")
        let label = (name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        errors.check(label.count <= 80, "name", "must have at most 80 characters")
        let maximum = app.codesSettings.certificateDays
        let days = validityDays ?? maximum
        errors.check((1...maximum).contains(days), "validityDays", "must be from 1 to \(maximum)")
        try errors.throwIfAny()
        let holder = try await holder(for: principal, person: try await person(principal))
        let signer = try await keys.signer()
        let issued = now
        let iat = Int64(issued.timeIntervalSince1970)
        let claims = DeviceCertificateClaims(
            cid: CodeClaims.nonce(), sub: holder.pseudonym, dpk: key, iat: iat, exp: iat + Int64(days * 24 * 3600))
        let device = HolderDevice()
        device.holderID = try holder.requireID()
        device.name = label.isEmpty ? "device" : label
        device.publicKey = key
        device.certificateID = claims.cid
        device.certificate = try CompactJWS.sign(payload: try CodeEncoding.json(claims), key: signer, type: CodeFormat.certificateType)
        device.status = .active
        device.issuedAt = issued
        device.expiresAt = claims.expiresAt
        try await db.writeTransaction { tx in try await device.create(on: tx) }
        try await app.audit?.record(
            kind: "codes.device.certified", actor: principal.userID, subject: "code-device:\(try device.requireID().uuidString.lowercased())",
            details: ["certificateId": claims.cid, "expiresAt": ISO8601DateFormatter().string(from: device.expiresAt)])
        return device
    }

    /// GET /api/v1/codes/devices: the holder's devices, newest first.
    public func devices(principal: Principal) async throws -> [HolderDevice] {
        guard let holder = try await existingHolder(principal) else { return [] }
        return try await HolderDevice.query(on: db).filter(\.$holderID == holder.requireID()).sort(\.$issuedAt, .descending).all()
    }

    func existingHolder(_ principal: Principal) async throws -> CodeHolder? {
        try await CodeHolder.query(on: db).filter(\.$userID == principal.userID).first()
    }

    /// POST /api/v1/codes/devices/{id}/revoke: the holder (or a system administrator) revokes a device; its
    /// certificate is rejected online at once and listed in the trust list until it expires.
    public func revokeDevice(_ id: UUID, principal: Principal) async throws -> HolderDevice {
        guard let device = try await HolderDevice.find(id, on: db) else { throw Self.deviceNotFound }
        if !principal.isSystemAdmin {
            guard let holder = try await existingHolder(principal), device.holderID == holder.id else { throw Self.deviceNotFound }
        }
        guard device.status == .active else {
            throw Problem.conflict("The device is already revoked.", type: "/problems/code-device-revoked")
        }
        device.status = .revoked
        device.revokedAt = now
        try await db.writeTransaction { tx in try await device.update(on: tx) }
        try await app.audit?.record(
            kind: "codes.device.revoked", actor: principal.userID, subject: "code-device:\(id.uuidString.lowercased())",
            details: ["certificateId": device.certificateID])
        return device
    }

    /// The trust list: platform keys, clock skew, revoked certificates not yet expired.
    public func trustList() async throws -> CodeTrustList {
        let revoked = try await HolderDevice.query(on: db).filter(\.$status == .revoked).filter(\.$expiresAt > now)
            .sort(\.$certificateID).all().map(\.certificateID)
        return CodeTrustList(
            issuedAt: now, keys: try await keys.jwks(), clockSkewSeconds: app.codesSettings.clockSkew, revokedCertificates: revoked)
    }

    // MARK: - Scan records

    public struct ScanRecord: Content {
        public var id: UUID
        public var scannedAt: Date
        public var organisation: String
        public var device: String
        public var location: String
        public var scenario: String
        public var codeType: String?
        public var disclosed: [String]
        public var valid: Bool
        public var reason: String
        public var source: ScanSource
        public var encounterId: UUID?
    }

    /// GET /api/v1/codes/scans: "my scan records", newest first.
    public func scans(principal: Principal, paging: Paging) async throws -> CursorPage<ScanRecord> {
        guard let holder = try await existingHolder(principal) else { return CursorPage(items: [], nextCursor: nil) }
        let rows = try await CodeScan.query(on: db).filter(\.$holderID == holder.requireID())
            .sort(\.$scannedAt, .descending).sort(\.$id).range(paging.offset..<(paging.offset + paging.limit + 1)).all()
        let deviceIDs = Set(rows.map(\.deviceID))
        let devices = try await VerifierDevice.query(on: db).filter(\.$id ~~ deviceIDs).all()
        let orgIDs = Set(devices.map(\.organisationID))
        let orgs = try await VerifierOrganisation.query(on: db).filter(\.$id ~~ orgIDs).all()
        let scanIDs = rows.compactMap(\.id)
        let encounters = try await MedicalEncounter.query(on: db).filter(\.$scanID ~~ scanIDs).all()
        let deviceByID = Dictionary(devices.compactMap { d in d.id.map { ($0, d) } }, uniquingKeysWith: { a, _ in a })
        let orgByID = Dictionary(orgs.compactMap { o in o.id.map { ($0, o.name) } }, uniquingKeysWith: { a, _ in a })
        let encounterByScan = Dictionary(encounters.map { ($0.scanID, $0.id) }, uniquingKeysWith: { a, _ in a })
        let records = rows.map { row in
            ScanRecord(
                id: row.id ?? UUID(), scannedAt: row.scannedAt, organisation: orgByID[row.organisationID] ?? "",
                device: deviceByID[row.deviceID]?.name ?? "", location: row.location, scenario: row.scenario,
                codeType: row.codeType, disclosed: (try? JSONText.decode([String].self, row.disclosed)) ?? [], valid: row.valid,
                reason: row.reason, source: row.source, encounterId: row.id.flatMap { encounterByScan[$0] ?? nil })
        }
        return paging.page(records)
    }
}
