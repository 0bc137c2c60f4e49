import Fluent
import Foundation
import Identity
import NIOConcurrencyHelpers
import SQLKit
import TongbanCore
import Vapor

/// Department signing keys: created on first use, rotated on request, sealed with the master key.
public struct SigningKeyService: Sendable {
    let db: any Database
    let vault: KeyVault
    let clock: TongbanClock
    /// Cleared when keys change on this node (other nodes see changes within the cache's lifetime).
    let cache: LicenceCache?

    public init(db: any Database, vault: KeyVault, clock: TongbanClock, cache: LicenceCache? = nil) {
        self.db = db
        self.vault = vault
        self.clock = clock
        self.cache = cache
    }

    static func purpose(_ kid: String) -> String { "licences.signing-key:\(kid)" }

    /// The department's active key, created (Ed25519) when it has none.
    public func activeKey(department: DepartmentInfo) async throws -> SigningKeyMaterial {
        if let key = try await DepartmentKey.query(on: db).filter(\.$departmentID == department.id)
            .filter(\.$status == .active).sort(\.$createdAt, .descending).first()
        {
            return try material(key)
        }
        return try await create(department: department, algorithm: .edDSA)
    }

    /// A new active key; the previous active key is retired (it still verifies what it signed).
    @discardableResult
    public func rotate(department: DepartmentInfo, algorithm: JWSAlgorithm = .edDSA) async throws -> SigningKeyMaterial {
        try await db.writeTransaction { tx in
            try await DepartmentKey.query(on: tx).filter(\.$departmentID == department.id).filter(\.$status == .active)
                .set(\.$status, to: .retired).set(\.$retiredAt, to: clock.now()).update()
            cache?.clearKeys()
            return try await SigningKeyService(db: tx, vault: vault, clock: clock, cache: cache).create(
                department: department, algorithm: algorithm)
        }
    }

    func create(department: DepartmentInfo, algorithm: JWSAlgorithm) async throws -> SigningKeyMaterial {
        let stamp = String(Int(clock.now().timeIntervalSince1970), radix: 36)
        let kid = "\(department.code)#\(stamp)-\(UUID().uuidString.prefix(8).lowercased())"
        let material = SigningKeyMaterial.generate(kid: kid, algorithm: algorithm)
        let key = DepartmentKey()
        key.departmentID = department.id
        key.kid = kid
        key.algorithm = algorithm
        key.publicKey = material.verificationKey.publicKey.base64EncodedString()
        key.sealedPrivateKey = try vault.seal(material.rawPrivateKey, purpose: Self.purpose(kid))
        key.status = .active
        key.createdAt = clock.now()
        try await key.create(on: db)
        return material
    }

    func material(_ key: DepartmentKey) throws -> SigningKeyMaterial {
        let raw = try vault.open(key.sealedPrivateKey, purpose: Self.purpose(key.kid))
        return try SigningKeyMaterial(kid: key.kid, algorithm: key.algorithm, privateKey: raw)
    }

    /// Every issuer with its active and retired keys.
    public func trustList(baseURL: String) async throws -> TrustList {
        let keys = try await DepartmentKey.query(on: db).filter(\.$status != .compromised).sort(\.$createdAt).all()
        let departments = try await DirectoryService(db: db).departments(ids: Set(keys.map(\.departmentID)))
        var issuers: [String: TrustList.Issuer] = [:]
        for key in keys {
            guard let department = departments[key.departmentID], let verification = key.verificationKey else { continue }
            var jwk = verification.jwk
            jwk["status"] = key.status.rawValue
            jwk["validFrom"] = ISO8601DateFormatter().string(from: key.createdAt)
            if let retired = key.retiredAt { jwk["retiredAt"] = ISO8601DateFormatter().string(from: retired) }
            issuers[department.code, default: TrustList.Issuer(code: department.code, name: department.name, nameEn: department.nameEn, keys: [])]
                .keys.append(jwk)
        }
        return TrustList(
            version: 1, issuedAt: clock.now(), issuers: issuers.values.sorted { $0.code < $1.code },
            statusEndpoint: baseURL + "/api/v1/licences/verify")
    }
}

/// Issuing, verifying and revoking licences.
public struct LicenceService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    public struct Holder: Content {
        public var idNumber: String?
        public var uscc: String?
    }

    public struct IssueRequest: Content {
        public var typeCode: String?
        public var holder: Holder?
        public var fields: [String: JSONValue]?
        public var validFrom: Date?
        public var validUntil: Date?
        public var applicationId: UUID?
    }

    /// Issues and signs a licence. 422 for an unknown type, a bad holder or fields (all errors at once);
    /// 403 when the principal is not clerk, approver or department administrator of the issuing department.
    public func issue(_ request: IssueRequest, principal: Principal) async throws -> Licence {
        var errors = FieldErrors()
        guard let code = request.typeCode, let type = try await LicenceType.query(on: db).filter(\.$code == code).first() else {
            throw Problem.validation([FieldError(field: "typeCode", message: "does not name a licence type")])
        }
        guard principal.isStaff,
            [.clerk, .approver, .departmentAdmin].contains(where: { principal.has($0, in: type.departmentID) })
        else { throw Problem.forbidden }
        guard let department = try await DirectoryService(db: db).department(id: type.departmentID) else {
            throw Problem(.internalServerError, detail: "licence type without department")
        }
        // Holder: exactly one of a resident ID number (person) or a unified social credit code (enterprise).
        var holderKind = HolderKind.person
        var holderKey = ""
        var holderMasked = ""
        var holderUserID: UUID?
        var holderEnterpriseID: UUID?
        switch (request.holder?.idNumber, request.holder?.uscc) {
        case (let id?, nil):
            if let number = try? ResidentIDNumber(id) {
                holderKey = number.value
                holderMasked = number.masked
                holderUserID = try await User.query(on: db).filter(\.$idNumber == number.value).first()?.id
            } else {
                errors.add("holder.idNumber", "is not a valid resident ID number (GB 11643)")
            }
        case (nil, let uscc?):
            holderKind = .enterprise
            if let credit = try? CreditCode(uscc) {
                holderKey = credit.value
                holderMasked = Masking.creditCode(credit.value)
                holderEnterpriseID = try await Enterprise.query(on: db).filter(\.$creditCode == credit.value).first()?.id
            } else {
                errors.add("holder.uscc", "is not a valid unified social credit code (GB 32100)")
            }
        default:
            errors.add("holder", "must give exactly one of idNumber (a person) or uscc (an enterprise)")
        }
        if !holderKey.isEmpty && !type.holderKinds.contains(holderKind) {
            errors.add("holder", "this licence type is not issued to \(holderKind == .person ? "persons" : "enterprises")")
        }
        // Fields: every required one present, no unknown ones, values of the declared kind.
        let given = request.fields ?? [:]
        var values: [String: String] = [:]
        let known = Dictionary(uniqueKeysWithValues: type.fields.map { ($0.name, $0) })
        for name in given.keys.sorted() where known[name] == nil { errors.add("fields.\(name)", "is not a field of this licence type") }
        for field in type.fields {
            let text: String?
            switch given[field.name] {
            case .string(let s)?: text = s.trimmingCharacters(in: .whitespacesAndNewlines)
            case .number(let n)?: text = n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
            case nil, .null?: text = nil
            default:
                errors.add("fields.\(field.name)", "must be text")
                continue
            }
            guard let text, !text.isEmpty else {
                if field.required { errors.add("fields.\(field.name)", "is required") }
                continue
            }
            if text.count > 500 { errors.add("fields.\(field.name)", "must have at most 500 characters") }
            if field.type == .number, Double(text) == nil { errors.add("fields.\(field.name)", "must be a number") }
            if field.type == .date, LocalDate(text) == nil { errors.add("fields.\(field.name)", "must be a date (YYYY-MM-DD)") }
            values[field.name] = text
        }
        let now = app.clock.now()
        let validFrom = request.validFrom ?? now
        var validUntil = request.validUntil
        if validUntil == nil, type.validityYears > 0 {
            validUntil = Calendar(identifier: .gregorian).date(byAdding: .year, value: type.validityYears, to: validFrom)
        }
        if let until = validUntil, until <= validFrom { errors.add("validUntil", "must be after validFrom") }
        if let until = validUntil, until < now { errors.add("validUntil", "must not be in the past") }
        try errors.throwIfAny()

        let signer = try await SigningKeyService(db: db, vault: app.keyVault, clock: app.clock).activeKey(department: department)
        let licence = Licence()
        licence.id = UUID()
        licence.typeID = try type.requireID()
        licence.typeCode = type.code
        licence.departmentID = department.id
        licence.holderKind = holderKind
        licence.holderKey = holderKey
        licence.holderMasked = holderMasked
        licence.holderUserID = holderUserID
        licence.holderEnterpriseID = holderEnterpriseID
        licence.fieldsJSON = try JSONText.encode(values)
        licence.validFrom = validFrom
        licence.validUntil = validUntil
        licence.status = .valid
        licence.kid = signer.kid
        licence.applicationID = request.applicationId
        licence.issuedBy = principal.userID
        licence.createdAt = now
        licence.updatedAt = now
        let publicFields = values.filter { name, _ in known[name]?.public == true }
        let masked = holderMasked
        let until = validUntil
        try await db.writeTransaction { tx in
            for attempt in 0..<8 {
                licence.number = Self.number(now: now)
                let claims = LicenceClaims(
                    v: 1, lid: try licence.requireID().uuidString.lowercased(), num: licence.number, typ: type.code,
                    iss: department.code, hm: masked, f: publicFields, nbf: Int64(validFrom.timeIntervalSince1970),
                    exp: until.map { Int64($0.timeIntervalSince1970) }, iat: Int64(now.timeIntervalSince1970))
                licence.payload = try CompactJWS.sign(payload: try claims.encoded(), key: signer, type: LicenceVerifier.tokenType)
                if try await Licence.query(on: tx).filter(\.$number == licence.number).count() > 0 && attempt < 7 { continue }
                try await licence.create(on: tx)
                return
            }
        }
        return licence
    }

    /// `DZZZ` + date + 8 random digits: unique, and readable over the phone.
    static func number(now: Date) -> String {
        let date = LocalDate(now)
        return String(format: "DZZZ%04d%02d%02d%08d", date.year, date.month, date.day, Int.random(in: 0...99_999_999))
    }

    /// Verifies a scanned payload against the platform's keys and the licence's current status.
    public func verify(_ payload: String) async throws -> VerificationResult {
        guard payload.utf8.count <= CompactJWS.maximumLength else { return .failure("oversized") }
        let cache = app.licenceCache
        var key: VerificationKey?
        if let kid = CompactJWS.keyID(of: payload), kid.count <= 200 {
            key = try await cache.key(kid, now: app.clock.now()) {
                try await DepartmentKey.query(on: db).filter(\.$kid == kid).filter(\.$status != .compromised).first()?
                    .verificationKey
            }
        }
        // The status comes from the stored licence, found by the id inside the payload (one plain SELECT: this
        // answers every scan). The verifier trusts it only after the signature checks and when the stored token
        // is exactly this one.
        var stored: (status: LicenceStatus, reason: String?, payload: String, typeID: UUID, departmentID: UUID)?
        if let claimsID = Self.unverifiedLicenceID(payload), let sql = db as? any SQLDatabase,
            let row = try await sql.raw("""
                SELECT "status", "status_reason", "payload", "type_id", "department_id" FROM "licences_licences" \
                WHERE "id" = \(bind: claimsID)
                """).first(),
            let status = LicenceStatus(rawValue: try row.decode(column: "status", as: String.self))
        {
            stored = (
                status, try row.decode(column: "status_reason", as: String?.self), try row.decode(column: "payload", as: String.self),
                try row.decode(column: "type_id", as: UUID.self), try row.decode(column: "department_id", as: UUID.self))
        }
        var typeName: String?
        var issuerName: String?
        if let stored {
            typeName = try await cache.name("type:\(stored.typeID)") { try await LicenceType.find(stored.typeID, on: db)?.nameZh }
            issuerName = try await cache.name("department:\(stored.departmentID)") {
                try await DirectoryService(db: db).department(id: stored.departmentID)?.name
            }
        }
        return LicenceVerifier.verify(
            payload, now: app.clock.now(), lookup: { kid in key?.kid == kid ? key : nil },
            status: { _ in
                guard let stored, stored.payload == payload else { return nil }
                return (stored.status, stored.reason)
            }, typeName: { _ in typeName }, issuerName: { _ in issuerName })
    }

    /// The licence id a payload claims (read before verification only to find the record; the verifier
    /// checks the signature and that the stored token is identical before anything is trusted).
    static func unverifiedLicenceID(_ payload: String) -> UUID? {
        let parts = payload.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Base64URL.decode(parts[1]),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let lid = object["lid"] as? String
        else { return nil }
        return UUID(uuidString: lid)
    }

    /// Revokes (or suspends) a licence: staff of the issuing department. 409 when already revoked.
    public func setStatus(_ id: UUID, to status: LicenceStatus, reason: String?, principal: Principal) async throws -> Licence {
        guard let licence = try await Licence.find(id, on: db) else { throw Self.notFound }
        guard principal.isStaff,
            [.clerk, .approver, .departmentAdmin].contains(where: { principal.has($0, in: licence.departmentID) })
        else { throw Self.notFound }
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if status != .valid && reason.isEmpty {
            throw Problem.validation([FieldError(field: "reason", message: "is required")])
        }
        if reason.count > 500 { throw Problem.validation([FieldError(field: "reason", message: "must have at most 500 characters")]) }
        guard licence.status != .revoked else {
            throw Problem.conflict("The licence is already revoked.", type: "/problems/licence-revoked")
        }
        licence.status = status
        licence.statusReason = reason.isEmpty ? nil : reason
        licence.updatedAt = app.clock.now()
        try await licence.save(on: db)
        return licence
    }

    /// The licence if `principal` may see it in full: the holder (or a member of the holding enterprise),
    /// staff of the issuing department, or a system administrator; 404 otherwise.
    public func visible(_ id: UUID, principal: Principal) async throws -> Licence {
        guard let licence = try await Licence.find(id, on: db) else { throw Self.notFound }
        if principal.isSystemAdmin || licence.holderUserID == principal.userID { return licence }
        if let enterprise = licence.holderEnterpriseID, principal.actingFor == enterprise { return licence }
        if principal.isStaff, principal.grants.contains(where: { $0.departmentID == licence.departmentID }) { return licence }
        throw Self.notFound
    }

    /// The signed-in person's licences (and those of the enterprise they act for), newest first.
    public func wallet(principal: Principal) async throws -> [Licence] {
        try await Licence.query(on: db).group(.or) { or in
            or.filter(\.$holderUserID == principal.userID)
            if let enterprise = principal.actingFor { or.filter(\.$holderEnterpriseID == enterprise) }
        }.sort(\.$createdAt, .descending).limit(500).all()
    }

    static let notFound = Problem.notFound("Licence", type: "/problems/licence-not-found")
}

/// What every scan looks up and rarely changes: verification keys by kid (10 seconds, so that a key marked
/// compromised on another node stops verifying soon; cleared at once on this node), and the names of types
/// and departments.
public final class LicenceCache: Sendable {
    static let keySeconds: TimeInterval = 10
    private let keys = NIOLockedValueBox<[String: (key: VerificationKey?, until: Date)]>([:])
    private let names = NIOLockedValueBox<[String: String]>([:])

    public init() {}

    func key(_ kid: String, now: Date, load: () async throws -> VerificationKey?) async throws -> VerificationKey? {
        if let hit = keys.withLockedValue({ $0[kid] }), hit.until > now { return hit.key }
        let loaded = try await load()
        keys.withLockedValue { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[kid] = (loaded, now.addingTimeInterval(Self.keySeconds))
        }
        return loaded
    }

    func name(_ key: String, load: () async throws -> String?) async throws -> String? {
        if let hit = names.withLockedValue({ $0[key] }) { return hit }
        let loaded = try await load()
        if let loaded { names.withLockedValue { if $0.count > 10_000 { $0.removeAll() }; $0[key] = loaded } }
        return loaded
    }

    public func clearKeys() { keys.withLockedValue { $0.removeAll() } }
}

extension Application {
    private struct LicenceCacheKey: StorageKey { typealias Value = LicenceCache }

    /// Created at boot by the licences module.
    public var licenceCache: LicenceCache {
        get { storage[LicenceCacheKey.self] ?? LicenceCache() }
        set { storage[LicenceCacheKey.self] = newValue }
    }
}
