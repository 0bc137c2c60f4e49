import Crypto
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Signs consent receipts with the platform's receipt key (Ed25519, sealed at rest with the key vault).
public struct ReceiptSigner: Sendable {
    let db: any Database
    let vault: KeyVault
    let clock: TongbanClock

    static func purpose(_ kid: String) -> String { "datasharing.receipt-key:\(kid)" }

    public func activeKey() async throws -> SigningKeyMaterial {
        if let key = try await ReceiptKey.query(on: db).filter(\.$active == true).sort(\.$createdAt, .descending).first() {
            return try SigningKeyMaterial(kid: key.kid, algorithm: .edDSA, privateKey: vault.open(key.sealedPrivateKey, purpose: Self.purpose(key.kid)))
        }
        let kid = "consent-receipts#" + String(Int(clock.now().timeIntervalSince1970), radix: 36) + "-" + UUID().uuidString.prefix(8).lowercased()
        let material = SigningKeyMaterial.generate(kid: kid, algorithm: .edDSA)
        let key = ReceiptKey()
        key.kid = kid
        key.publicKey = material.verificationKey.publicKey.base64EncodedString()
        key.sealedPrivateKey = try vault.seal(material.rawPrivateKey, purpose: Self.purpose(kid))
        key.active = true
        key.createdAt = clock.now()
        try await key.create(on: db)
        return material
    }

    /// Every receipt key as a JWK (`kid`, `kty` OKP, `crv` Ed25519, `x`).
    public func keys() async throws -> [[String: String]] {
        try await ReceiptKey.query(on: db).sort(\.$createdAt).all().compactMap { key in
            Data(base64Encoded: key.publicKey).map { VerificationKey(kid: key.kid, algorithm: .edDSA, publicKey: $0).jwk }
        }
    }
}

/// The consent receipt: a JSON record in the spirit of ISO/IEC TS 27560, signed as a compact JWS whose
/// payload is exactly the record without its `signature` member.
public struct ConsentReceipt: Codable, Sendable, Equatable {
    public struct Party: Codable, Sendable, Equatable {
        public var kind: String
        public var id: String
        public var name: String
    }

    public struct Item: Codable, Sendable, Equatable {
        public var resource: String
        public var resourceName: String
        public var fields: [String]
        public var unmasked: [String]
    }

    public struct Signature: Codable, Sendable, Equatable {
        public var alg: String
        public var kid: String
        public var jws: String
    }

    public var schema: String
    public var recordId: String
    public var requestId: String
    /// The person, pseudonymously (the platform's user id) and by masked name.
    public var piiPrincipal: Party
    /// Who asks (the PII controller receiving the data).
    public var requester: Party
    public var scenario: String
    public var purpose: String
    public var items: [Item]
    public var validFrom: Date
    public var validUntil: Date
    public var givenAt: Date
    public var legalBasis: String
    public var method: String
    public var signature: Signature?
}

/// Personal consent (授权) with the four clarities: who asks, for what scenario, which data, for how long.
public struct ConsentService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: any Database) {
        self.app = app
        self.db = db
    }

    var now: Date { app.clock.now() }

    /// One requested item: `{"resource","fields","full"?}`, or the shorthand `"resource.field"` / `"resource"`
    /// (every field of the resource).
    public struct ItemInput: Codable, Sendable {
        public var resource: String
        public var fields: [String]?
        public var full: [String]?

        public init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
                resource = parts.first ?? ""
                fields = parts.count == 2 ? [parts[1]] : nil
                full = nil
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            resource = try c.decode(String.self, forKey: .resource)
            fields = try c.decodeIfPresent([String].self, forKey: .fields)
            full = try c.decodeIfPresent([String].self, forKey: .full)
        }
    }

    public struct NewRequest: Content {
        public var scenario: String?
        public var purpose: String?
        public var items: [ItemInput]?
        public var durationDays: Int?
        /// Alias of `durationDays`.
        public var days: Int?
        /// When given, only the person with this ID number may approve; otherwise whoever scans the QR.
        public var subjectIdNumber: String?
        /// The requesting department's code (staff in several departments).
        public var department: String?
    }

    static func hash(_ value: String) -> String {
        Hex.sha256("tongban-consent-subject:" + value.uppercased())
    }

    /// Who the caller asks as: an enterprise (a person acting for it) or a department (staff).
    func requester(_ principal: Principal, department: String?) async throws -> (RequesterKind, UUID, String) {
        if let enterprise = principal.actingFor, principal.kind == .person {
            guard let info = try await Enterprise.find(enterprise, on: db) else { throw Problem.forbidden }
            return (.enterprise, enterprise, info.name)
        }
        if principal.isStaff {
            let dept = try await SharingService(app: app, db: db).actingDepartment(
                principal, code: department, roles: SharingService.workingRoles)
            return (.department, dept.id, dept.name)
        }
        throw Problem(.forbidden, type: "/problems/forbidden", title: "Forbidden",
                      detail: "Only a department or an enterprise (X-Acting-For) can ask for a person's data.")
    }

    public func createRequest(_ body: NewRequest, principal: Principal) async throws -> ConsentRequest {
        let (kind, requesterID, requesterName) = try await requester(principal, department: body.department)
        var errors = FieldErrors()
        let scenario = body.scenario?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        // Without a separate purpose, the scenario is the purpose the person reads.
        let purpose = (body.purpose ?? body.scenario)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        errors.check((2...100).contains(scenario.count), "scenario", "must be 2–100 characters (e.g. 简历核验 résumé verification)")
        errors.check((2...500).contains(purpose.count), "purpose", "must be 2–500 characters, in words the person understands")
        let days = body.durationDays ?? body.days ?? 0
        errors.check((1...365).contains(days), "durationDays", "must be 1–365 days")
        let items = body.items ?? []
        errors.check(!items.isEmpty && items.count <= 10, "items", "name 1–10 data items")
        var subject: String?
        if let id = body.subjectIdNumber, !id.isEmpty {
            errors.check(ResidentIDNumber.isValid(id), "subjectIdNumber", "is not a valid resident ID number")
            subject = Self.hash(id)
        }
        try errors.throwIfAny()
        var normalised: [ConsentItem] = []
        for (i, item) in items.enumerated() {
            guard let resource = try await DataResource.query(on: db).filter(\.$code == item.resource).first() else {
                errors.add("items[\(i)].resource", "unknown resource \(item.resource)")
                continue
            }
            if resource.sharingType == .notShareable { throw SharingService.notShareable }
            if resource.subject != .person { errors.add("items[\(i)].resource", "does not hold personal data") }
            let known = Set(resource.fields.map(\.name))
            // No fields named: every field of the resource (the person sees each one listed).
            let fields = item.fields ?? resource.fields.map(\.name)
            let unknown = fields.filter { !known.contains($0) }
            if fields.isEmpty { errors.add("items[\(i)].fields", "name at least one field") }
            if !unknown.isEmpty { errors.add("items[\(i)].fields", "unknown fields: \(unknown.joined(separator: ", "))") }
            if let full = item.full, !full.allSatisfy(fields.contains) { errors.add("items[\(i)].full", "must be a subset of fields") }
            normalised.append(ConsentItem(resource: item.resource, fields: Self.unique(fields), full: item.full.map(Self.unique)))
        }
        try errors.throwIfAny()
        // Items naming the same resource become one ("a.x", "a.y" → a: x, y).
        var merged: [ConsentItem] = []
        for item in normalised {
            if let i = merged.firstIndex(where: { $0.resource == item.resource }) {
                merged[i].fields = Self.unique(merged[i].fields + item.fields)
                if let full = item.full { merged[i].full = Self.unique((merged[i].full ?? []) + full) }
            } else {
                merged.append(item)
            }
        }
        normalised = merged
        let request = ConsentRequest()
        request.requesterKind = kind
        request.requesterID = requesterID
        request.requesterName = requesterName
        request.requestedBy = principal.userID
        request.scenario = scenario
        request.purpose = purpose
        request.itemsJSON = try JSONText.encode(normalised)
        request.durationDays = days
        request.subjectHash = subject
        var random = SystemRandomNumberGenerator()
        request.code = Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
        request.status = .pending
        request.expiresAt = now.addingTimeInterval(24 * 3600)
        request.createdAt = now
        try await request.create(on: db)
        return request
    }

    /// Without repeats, in the order given (the person reads them in the requester's order).
    static func unique(_ list: [String]) -> [String] {
        var seen = Set<String>()
        return list.filter { seen.insert($0).inserted }
    }

    public func request(_ id: UUID) async throws -> ConsentRequest {
        guard let request = try await ConsentRequest.find(id, on: db) else {
            throw Problem.notFound("Consent request", type: "/problems/consent-request-not-found")
        }
        return request
    }

    /// The requester, or a signed-in person. The request id is a random UUID that only the QR (or the requester)
    /// gives away; the QR also carries a random code, and a code that does not match is refused, so a link
    /// altered by hand opens nothing. (Approval still needs the person's password, and a targeted request only
    /// its subject.)
    func authorise(_ request: ConsentRequest, principal: Principal, code: String?) async throws {
        if request.requestedBy == principal.userID { return }
        guard principal.kind == .person else {
            throw Problem.notFound("Consent request", type: "/problems/consent-request-not-found")
        }
        if let code, !code.isEmpty, !constantTimeEqual(code, request.code) {
            throw Problem.notFound("Consent request", type: "/problems/consent-request-not-found")
        }
    }

    /// Compares the SHA-256 digests of the two codes: swift-crypto's digest equality runs in constant time.
    func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        SHA256.hash(data: Data(a.utf8)) == SHA256.hash(data: Data(b.utf8))
    }

    public struct Clarity: Content {
        public struct Item: Content {
            public var resource: String
            public var resourceNameZh: String
            public var resourceNameEn: String
            public var provider: String
            public var fields: [Field]
        }

        public struct Field: Content {
            public var name: String
            public var nameZh: String
            public var nameEn: String
            public var unmasked: Bool
        }

        public var id: UUID
        public var status: ConsentRequestStatus
        /// 1. Who asks.
        public var requester: String
        public var requesterKind: RequesterKind
        /// 2. For what scenario and purpose.
        public var scenario: String
        public var purpose: String
        /// 3. Which data.
        public var items: [Item]
        /// 4. For how long.
        public var durationDays: Int
        public var validUntilIfApprovedNow: Date
        public var expiresAt: Date
        /// The four clarities in plain words (zh-CN and English).
        public var summaryZh: String
        public var summaryEn: String
    }

    public func clarity(_ request: ConsentRequest) async throws -> Clarity {
        var items: [Clarity.Item] = []
        let directory = DirectoryService(db: db)
        for item in request.items {
            guard let resource = try await DataResource.query(on: db).filter(\.$code == item.resource).first() else { continue }
            let provider = try await directory.department(id: resource.providerDepartmentID)
            let byName = Dictionary(resource.fields.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            items.append(Clarity.Item(
                resource: resource.code, resourceNameZh: resource.nameZh, resourceNameEn: resource.nameEn,
                provider: provider?.name ?? "",
                fields: item.fields.compactMap { name in
                    byName[name].map {
                        Clarity.Field(name: name, nameZh: $0.nameZh, nameEn: $0.nameEn, unmasked: item.full?.contains(name) ?? false)
                    }
                }))
        }
        let fieldsZh = items.map { "\($0.resourceNameZh)（\($0.fields.map(\.nameZh).joined(separator: "、"))）" }.joined(separator: "；")
        let fieldsEn = items.map { "\($0.resourceNameEn) (\($0.fields.map(\.nameEn).joined(separator: ", ")))" }.joined(separator: "; ")
        let until = now.addingTimeInterval(Double(request.durationDays) * 86400)
        let day = LocalDate(until).description
        return Clarity(
            id: try request.requireID(), status: request.status == .pending && request.expiresAt <= now ? .expired : request.status,
            requester: request.requesterName, requesterKind: request.requesterKind, scenario: request.scenario,
            purpose: request.purpose, items: items, durationDays: request.durationDays, validUntilIfApprovedNow: until,
            expiresAt: request.expiresAt,
            summaryZh: "「\(request.requesterName)」为「\(request.scenario)」申请查看您的：\(fieldsZh)。用途：\(request.purpose)。授权有效期 \(request.durationDays) 天（至 \(day)），您可随时撤回。",
            summaryEn: "\(request.requesterName) asks, for \"\(request.scenario)\", to see your: \(fieldsEn). Purpose: \(request.purpose). Valid for \(request.durationDays) days (until \(day)); you can revoke it at any time.")
    }

    /// The person approves after re-entering the password: a signed receipt and an active consent.
    public func approve(_ id: UUID, code: String?, password: String?, principal: Principal, method: String) async throws -> Consent {
        let request = try await request(id)
        try await authorise(request, principal: principal, code: code)
        guard principal.kind == .person, request.requestedBy != principal.userID else {
            throw Problem(.forbidden, type: "/problems/forbidden", title: "Forbidden", detail: "Only the person asked can approve.")
        }
        guard let user = try await User.find(principal.userID, on: db), let idNumber = user.idNumber else { throw Problem.forbidden }
        if let subject = request.subjectHash, subject != Self.hash(idNumber) {
            throw Problem(.forbidden, type: "/problems/not-the-subject", title: "Not the person asked",
                          detail: "This request asks for someone else's data.")
        }
        guard let password, !password.isEmpty, try await app.passwordHashing.verify(password, against: user.passwordHash) else {
            throw Problem(.unauthorized, type: "/problems/reauthentication", title: "Re-authentication failed",
                          detail: "Enter your password again to sign the consent.")
        }
        guard request.status == .pending else { throw Problem.conflict("This consent request has already been answered.") }
        guard request.expiresAt > now else {
            throw Problem(.gone, type: "/problems/consent-request-expired", title: "Request expired", detail: "This consent request has expired.")
        }
        let when = now
        let consentID = UUID()
        var items: [ConsentReceipt.Item] = []
        for item in request.items {
            let resource = try await DataResource.query(on: db).filter(\.$code == item.resource).first()
            items.append(.init(resource: item.resource, resourceName: resource?.nameZh ?? item.resource, fields: item.fields, unmasked: item.full ?? []))
        }
        var receipt = ConsentReceipt(
            schema: "https://tongban.gov.cn/schemas/consent-receipt/1 (ISO/IEC TS 27560)",
            recordId: consentID.uuidString.lowercased(), requestId: id.uuidString.lowercased(),
            piiPrincipal: .init(kind: "person", id: principal.userID.uuidString.lowercased(), name: FieldMasking.name(user.name)),
            requester: .init(kind: request.requesterKind.rawValue, id: request.requesterID.uuidString.lowercased(), name: request.requesterName),
            scenario: request.scenario, purpose: request.purpose, items: items, validFrom: when,
            validUntil: when.addingTimeInterval(Double(request.durationDays) * 86400), givenAt: when,
            legalBasis: "PIPL art. 13(1), 14: separate, informed consent", method: method, signature: nil)
        let payload = try Self.encoder.encode(receipt)
        let key = try await ReceiptSigner(db: db, vault: app.keyVault, clock: app.clock).activeKey()
        let jws = try CompactJWS.sign(payload: payload, key: key, type: "consent-receipt+jws")
        receipt.signature = .init(alg: key.algorithm.rawValue, kid: key.kid, jws: jws)
        let consent = Consent()
        consent.id = consentID
        consent.requestID = id
        consent.personID = principal.userID
        consent.requesterKind = request.requesterKind
        consent.requesterID = request.requesterID
        consent.requesterName = request.requesterName
        consent.scenario = request.scenario
        consent.itemsJSON = request.itemsJSON
        consent.validFrom = when
        consent.validUntil = receipt.validUntil
        consent.status = .active
        consent.receipt = String(decoding: try Self.encoder.encode(receipt), as: UTF8.self)
        consent.createdAt = when
        let approved = try await db.writeTransaction { tx -> Bool in
            try await ConsentRequest.query(on: tx).filter(\.$id == id).filter(\.$status == .pending)
                .set(\.$status, to: .approved).update()
            // The unique request_id makes a concurrent second approval fail here instead of adding a second consent.
            guard try await Consent.query(on: tx).filter(\.$requestID == id).count() == 0 else { return false }
            try await consent.create(on: tx)
            return true
        }
        guard approved else { throw Problem.conflict("This consent request has already been answered.") }
        try await app.audit?.record(
            kind: AuditKind.consentGiven, actor: principal.userID, subject: "consent:\(consentID.uuidString.lowercased())",
            details: ["requester": request.requesterName, "scenario": request.scenario,
                      "items": request.items.map { "\($0.resource):\($0.fields.joined(separator: "+"))" }.joined(separator: ","),
                      "validUntil": ISO8601DateFormatter().string(from: consent.validUntil)])
        return consent
    }

    public func decline(_ id: UUID, code: String?, principal: Principal) async throws -> ConsentRequest {
        let request = try await request(id)
        try await authorise(request, principal: principal, code: code)
        guard request.status == .pending else { throw Problem.conflict("This consent request has already been answered.") }
        request.status = .declined
        try await request.save(on: db)
        return request
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// The stored receipt of a consent.
    public static func receipt(_ consent: Consent) -> ConsentReceipt? {
        try? decoder.decode(ConsentReceipt.self, from: Data(consent.receipt.utf8))
    }

    public func consent(_ id: UUID) async throws -> Consent {
        guard let consent = try await Consent.find(id, on: db) else {
            throw Problem.notFound("Consent", type: "/problems/consent-not-found")
        }
        return consent
    }

    /// Whether the caller fetches for the consent's requester.
    func isRequester(_ consent: Consent, principal: Principal) -> Bool {
        switch consent.requesterKind {
        case .enterprise: return principal.kind == .person && principal.actingFor == consent.requesterID
        case .department: return SharingService.workingRoles.contains { principal.has($0, in: consent.requesterID) } && principal.isStaff
        }
    }

    public struct Fetched: Content {
        public var consentId: UUID
        public var items: [String: [String: String]]
        public var validUntil: Date
        public var auditIndex: Int?
    }

    /// The requester fetches exactly the consented items (`only`: a subset as `resource.field`), while the consent is valid.
    public func fetch(_ id: UUID, only: [String]?, principal: Principal) async throws -> Fetched {
        let consent = try await consent(id)
        guard isRequester(consent, principal: principal) else { throw Problem.notFound("Consent", type: "/problems/consent-not-found") }
        guard consent.status == .active else {
            throw Problem(.forbidden, type: "/problems/consent-revoked", title: "Consent revoked",
                          detail: "The person has revoked this consent; no data can be fetched.")
        }
        guard consent.validUntil > now else {
            throw Problem(.forbidden, type: "/problems/consent-expired", title: "Consent expired", detail: "This consent has expired.")
        }
        let scope = Set(consent.items.flatMap { item in item.fields.map { "\(item.resource).\($0)" } })
        if let only {
            let outside = only.filter { !scope.contains($0) }
            if !outside.isEmpty {
                throw Problem(.forbidden, type: "/problems/out-of-scope", title: "Outside the consent",
                              detail: "Not covered by this consent: \(outside.joined(separator: ", ")).")
            }
        }
        guard let person = try await User.find(consent.personID, on: db), let idNumber = person.idNumber else {
            throw Problem.notFound("Consent", type: "/problems/consent-not-found")
        }
        var result: [String: [String: String]] = [:]
        var released: [String] = []
        for item in consent.items {
            let wanted = item.fields.filter { only?.contains("\(item.resource).\($0)") ?? true }
            if wanted.isEmpty { continue }
            guard let resource = try await DataResource.query(on: db).filter(\.$code == item.resource).first() else { continue }
            let rows = try await DataTables(db: db).rows(resource, keys: [idNumber], fields: wanted, limit: 1)
            if let row = rows.first {
                result[item.resource] = DataTables.present(row, resource: resource, fields: wanted, full: Set(item.full ?? []))
            } else {
                result[item.resource] = [:]
            }
            released += wanted.map { "\(item.resource).\($0)" }
        }
        let index = try await app.audit?.record(
            kind: AuditKind.dataFetched, actor: principal.userID, subject: "consent:\(id.uuidString.lowercased())",
            details: ["requester": consent.requesterName, "items": released.joined(separator: ",")])
        let use = ConsentUse()
        use.consentID = id
        use.fetchedBy = principal.userID
        use.itemsJSON = try JSONText.encode(released)
        use.auditIndex = index ?? -1
        use.fetchedAt = now
        try await use.create(on: db)
        return Fetched(consentId: id, items: result, validUntil: consent.validUntil, auditIndex: index)
    }

    /// The person revokes at once: the next fetch fails.
    public func revoke(_ id: UUID, principal: Principal) async throws -> Consent {
        let consent = try await consent(id)
        guard consent.personID == principal.userID else { throw Problem.notFound("Consent", type: "/problems/consent-not-found") }
        guard consent.status == .active else { throw Problem.conflict("This consent is no longer active.") }
        consent.status = .revoked
        consent.revokedAt = now
        try await consent.save(on: db)
        try await app.audit?.record(
            kind: AuditKind.consentRevoked, actor: principal.userID, subject: "consent:\(id.uuidString.lowercased())",
            details: ["requester": consent.requesterName, "scenario": consent.scenario])
        return consent
    }

    public func uses(_ id: UUID) async throws -> [ConsentUse] {
        try await ConsentUse.query(on: db).filter(\.$consentID == id).sort(\.$fetchedAt, .descending).all()
    }

    public func mine(_ principal: Principal) async throws -> [Consent] {
        try await Consent.query(on: db).filter(\.$personID == principal.userID).sort(\.$createdAt, .descending).all()
    }
}
