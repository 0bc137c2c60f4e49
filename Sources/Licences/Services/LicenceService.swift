import Crypto
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
            issuers[department.code, default: TrustList.Issuer(
                code: department.code, name: department.name, nameEn: department.nameEn, keys: [],
                statusLists: Dictionary(uniqueKeysWithValues: StatusListCredential.purposes.map {
                    ($0, StatusLists.url(baseURL: baseURL, department: department.code, purpose: $0))
                }))]
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

        public init(idNumber: String? = nil, uscc: String? = nil) {
            self.idNumber = idNumber
            self.uscc = uscc
        }
    }

    public struct IssueRequest: Content {
        public init() {}

        public var typeCode: String?
        public var holder: Holder?
        public var fields: [String: JSONValue]?
        public var validFrom: Date?
        public var validUntil: Date?
        public var applicationId: UUID?
        /// Composite types only: the component licences, by number or id.
        public var components: [String]?
    }

    /// Issues and signs a licence. 422 for an unknown type, a bad holder or fields (all errors at once);
    /// 403 when the principal is not clerk, approver or department administrator of the issuing department.
    public func issue(_ request: IssueRequest, principal: Principal) async throws -> Licence {
        let (type, department) = try await authorize(typeCode: request.typeCode, principal: principal)
        let now = app.clock.now()
        let prepared = try await prepare(request, type: type, now: now, field: { $0 }, holders: HolderLookup(db: db))
        guard let prepared = prepared.licence else { throw Problem.validation(prepared.errors) }
        let signer = try await SigningKeyService(db: db, vault: app.keyVault, clock: app.clock).activeKey(department: department)
        // The status index, the signature and the row in one write transaction (one pass through the write
        // gate; an index is never used up by a failed insert).
        let licence = try await db.writeTransaction { tx in
            let index = try await StatusLists.allocate(department: department.id, count: 1, on: tx)
            let licence = try Self.sign(
                prepared, type: type, department: department, signer: signer, issuer: principal.userID, now: now, statusIndex: index)
            for attempt in 0..<8 {
                if try await Licence.query(on: tx).filter(\.$number == licence.number).count() > 0 && attempt < 7 {
                    try Self.renumber(licence, signer: signer, now: now)
                    continue
                }
                try await licence.create(on: tx)
                for (position, component) in prepared.componentIDs.enumerated() {
                    let link = LicenceComponent()
                    link.compositeID = try licence.requireID()
                    link.componentID = component
                    link.position = position
                    try await link.create(on: tx)
                }
                return licence
            }
            return licence
        }
        try await app.audit?.record(
            kind: AuditKind.licenceIssued, actor: principal.userID, subject: "licence:\(try licence.requireID().uuidString.lowercased())",
            details: ["number": licence.number, "type": type.code, "issuer": department.code, "holder": licence.holderMasked, "kid": licence.kid])
        return licence
    }

    /// The licence type and its department, if `principal` may issue it (422 unknown type, 403 otherwise).
    func authorize(typeCode: String?, principal: Principal) async throws -> (LicenceType, DepartmentInfo) {
        guard let code = typeCode, let type = try await LicenceType.query(on: db).filter(\.$code == code).first() else {
            throw Problem.validation([FieldError(field: "typeCode", message: "does not name a licence type")])
        }
        guard principal.isStaff,
            [.clerk, .approver, .departmentAdmin].contains(where: { principal.has($0, in: type.departmentID) })
        else { throw Problem.forbidden }
        guard let department = try await DirectoryService(db: db).department(id: type.departmentID) else {
            throw Problem(.internalServerError, detail: "licence type without department")
        }
        return (type, department)
    }

    /// Finds registered holders: one query per holder, or for a whole batch at once.
    struct HolderLookup: Sendable {
        let db: any Database
        var users: [String: UUID]? = nil
        var enterprises: [String: UUID]? = nil

        func user(_ idNumber: String) async throws -> UUID? {
            if let users { return users[idNumber] }
            return try await User.query(on: db).filter(\.$idNumber == idNumber).first()?.id
        }

        func enterprise(_ code: String) async throws -> UUID? {
            if let enterprises { return enterprises[code] }
            return try await Enterprise.query(on: db).filter(\.$creditCode == code).first()?.id
        }

        /// Loads every holder named in `ids` and `codes` with a few IN queries.
        static func batch(db: any Database, ids: [String], codes: [String]) async throws -> HolderLookup {
            var users: [String: UUID] = [:]
            var enterprises: [String: UUID] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                for user in try await User.query(on: db).filter(\.$idNumber ~~ chunk).all() {
                    if let number = user.idNumber, let id = user.id { users[number] = id }
                }
            }
            for chunk in stride(from: 0, to: codes.count, by: 500).map({ Array(codes[$0..<min($0 + 500, codes.count)]) }) {
                for enterprise in try await Enterprise.query(on: db).filter(\.$creditCode ~~ chunk).all() {
                    if let id = enterprise.id { enterprises[enterprise.creditCode] = id }
                }
            }
            return HolderLookup(db: db, users: users, enterprises: enterprises)
        }
    }

    /// A validated licence, not yet signed.
    struct Prepared: Sendable {
        var holderKind: HolderKind
        var holderKey: String
        var holderMasked: String
        var holderUserID: UUID?
        var holderEnterpriseID: UUID?
        var values: [String: String]
        var publicValues: [String: String]
        var validFrom: Date
        var validUntil: Date?
        var applicationID: UUID?
        var components: [LicenceClaims.Component] = []
        var componentIDs: [UUID] = []
    }

    /// Checks holder, fields and validity; every problem at once (`field` names them, e.g. with a row prefix).
    func prepare(
        _ request: IssueRequest, type: LicenceType, now: Date, field: (String) -> String, holders: HolderLookup
    ) async throws -> (licence: Prepared?, errors: [FieldError]) {
        var errors = FieldErrors()
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
                holderUserID = try await holders.user(number.value)
            } else {
                errors.add(field("holder.idNumber"), "is not a valid resident ID number (GB 11643)")
            }
        case (nil, let uscc?):
            holderKind = .enterprise
            if let credit = try? CreditCode(uscc) {
                holderKey = credit.value
                holderMasked = Masking.creditCode(credit.value)
                holderEnterpriseID = try await holders.enterprise(credit.value)
            } else {
                errors.add(field("holder.uscc"), "is not a valid unified social credit code (GB 32100)")
            }
        default:
            errors.add(field("holder"), "must give exactly one of idNumber (a person) or uscc (an enterprise)")
        }
        if !holderKey.isEmpty && !type.holderKinds.contains(holderKind) {
            errors.add(field("holder"), "this licence type is not issued to \(holderKind == .person ? "persons" : "enterprises")")
        }
        // Fields: every required one present, no unknown ones, values of the declared kind.
        let given = request.fields ?? [:]
        var values: [String: String] = [:]
        let definitions = type.fields
        let known = Dictionary(uniqueKeysWithValues: definitions.map { ($0.name, $0) })
        for name in given.keys.sorted() where known[name] == nil {
            errors.add(field("fields.\(name)"), "is not a field of this licence type")
        }
        for definition in definitions {
            let text: String?
            switch given[definition.name] {
            case .string(let s)?: text = s.trimmingCharacters(in: .whitespacesAndNewlines)
            case .number(let n)?: text = n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
            case nil, .null?: text = nil
            default:
                errors.add(field("fields.\(definition.name)"), "must be text")
                continue
            }
            guard let text, !text.isEmpty else {
                if definition.required { errors.add(field("fields.\(definition.name)"), "is required") }
                continue
            }
            if text.count > 500 { errors.add(field("fields.\(definition.name)"), "must have at most 500 characters") }
            if definition.type == .number, Double(text) == nil { errors.add(field("fields.\(definition.name)"), "must be a number") }
            if definition.type == .date, LocalDate(text) == nil {
                errors.add(field("fields.\(definition.name)"), "must be a date (YYYY-MM-DD)")
            }
            values[definition.name] = text
        }
        // Dates outside years 1900–9999 are refused here: the signed claims carry them as 64-bit seconds.
        let plausible = Date(timeIntervalSince1970: -2_208_988_800)...Date(timeIntervalSince1970: 253_402_300_799)
        for (name, date) in [("validFrom", request.validFrom), ("validUntil", request.validUntil)] {
            if let date, !plausible.contains(date) { errors.add(field(name), "must be a date between the years 1900 and 9999") }
        }
        guard errors.isEmpty else { return (nil, errors.errors) }
        let validFrom = request.validFrom ?? now
        var validUntil = request.validUntil
        if validUntil == nil, type.validityYears > 0 {
            validUntil = Calendar(identifier: .gregorian).date(byAdding: .year, value: type.validityYears, to: validFrom)
        }
        if let until = validUntil, until <= validFrom { errors.add(field("validUntil"), "must be after validFrom") }
        if let until = validUntil, until < now { errors.add(field("validUntil"), "must not be in the past") }
        var components: [LicenceClaims.Component] = []
        var componentIDs: [UUID] = []
        if type.composite {
            let references = request.components ?? []
            if references.isEmpty || references.count > 50 {
                errors.add(field("components"), "a composite licence lists 1 to 50 component licences")
            }
            for (index, reference) in references.enumerated() {
                let found: Licence?
                if let id = UUID(uuidString: reference) {
                    found = try await Licence.find(id, on: db)
                } else {
                    found = try await Licence.query(on: db).filter(\.$number == reference).first()
                }
                guard let component = found else {
                    errors.add(field("components[\(index)]"), "names no licence")
                    continue
                }
                if component.status != .valid || (component.validUntil.map { $0 <= now } ?? false) {
                    errors.add(field("components[\(index)]"), "is not in force")
                }
                if component.holderKey != holderKey { errors.add(field("components[\(index)]"), "belongs to another holder") }
                if componentIDs.contains(try component.requireID()) { errors.add(field("components[\(index)]"), "is listed twice") }
                let issuer = try await DirectoryService(db: db).department(id: component.departmentID)?.code ?? ""
                components.append(.init(num: component.number, typ: component.typeCode, iss: issuer))
                componentIDs.append(try component.requireID())
            }
        } else if request.components != nil {
            errors.add(field("components"), "only composite licence types list components")
        }
        guard errors.isEmpty else { return (nil, errors.errors) }
        return (
            Prepared(
                holderKind: holderKind, holderKey: holderKey, holderMasked: holderMasked, holderUserID: holderUserID,
                holderEnterpriseID: holderEnterpriseID, values: values,
                publicValues: values.filter { name, _ in known[name]?.public == true }, validFrom: validFrom,
                validUntil: validUntil, applicationID: request.applicationId, components: components,
                componentIDs: componentIDs),
            []
        )
    }

    /// Builds and signs the licence (no database work).
    static func sign(
        _ prepared: Prepared, type: LicenceType, department: DepartmentInfo, signer: SigningKeyMaterial, issuer: UUID, now: Date,
        statusIndex: Int? = nil
    ) throws -> Licence {
        let licence = Licence()
        licence.id = UUID()
        licence.typeID = try type.requireID()
        licence.typeCode = type.code
        licence.departmentID = department.id
        licence.holderKind = prepared.holderKind
        licence.holderKey = prepared.holderKey
        licence.holderMasked = prepared.holderMasked
        licence.holderUserID = prepared.holderUserID
        licence.holderEnterpriseID = prepared.holderEnterpriseID
        licence.fieldsJSON = try JSONText.encode(prepared.values)
        licence.validFrom = prepared.validFrom
        licence.validUntil = prepared.validUntil
        licence.status = .valid
        licence.kid = signer.kid
        licence.applicationID = prepared.applicationID
        licence.statusIndex = statusIndex
        licence.issuedBy = issuer
        licence.createdAt = now
        licence.updatedAt = now
        licence.number = number(now: now)
        licence.payload = try CompactJWS.sign(
            payload: try claims(
                licence, typeCode: type.code, issuer: department.code, publicValues: prepared.publicValues, now: now,
                components: prepared.components
            ).encoded(),
            key: signer, type: LicenceVerifier.tokenType)
        return licence
    }

    static func claims(
        _ licence: Licence, typeCode: String, issuer: String, publicValues: [String: String], now: Date,
        components: [LicenceClaims.Component] = []
    ) throws -> LicenceClaims {
        LicenceClaims(
            v: 1, lid: try licence.requireID().uuidString.lowercased(), num: licence.number, typ: typeCode, iss: issuer,
            hm: licence.holderMasked, f: publicValues, nbf: Int64(licence.validFrom.timeIntervalSince1970),
            exp: licence.validUntil.map { Int64($0.timeIntervalSince1970) }, iat: Int64(now.timeIntervalSince1970),
            sub: components.isEmpty ? nil : components, si: licence.statusIndex)
    }

    /// A new number after a collision, and the token signed again over it.
    static func renumber(_ licence: Licence, signer: SigningKeyMaterial, now: Date) throws {
        guard let token = try? CompactJWS.verify(licence.payload, lookup: { _ in signer.verificationKey }),
            var claims = try? JSONDecoder().decode(LicenceClaims.self, from: token.payload)
        else { throw Problem(.internalServerError, detail: "cannot renumber a licence") }
        licence.number = number(now: now)
        claims.num = licence.number
        licence.payload = try CompactJWS.sign(payload: try claims.encoded(), key: signer, type: LicenceVerifier.tokenType)
    }

    /// The result of a bulk issuance.
    public struct BulkResult: Content {
        public struct Issued: Content {
            public var id: UUID
            public var number: String
        }

        public var issued: Int
        public var licences: [Issued]
    }

    public static let bulkLimit = 20_000

    /// Issues one licence per CSV row (columns `idNumber` or `uscc`, optional `validFrom`/`validUntil` as
    /// YYYY-MM-DD or ISO 8601, and the type's field names). Every row is checked first: any problem answers
    /// 422 naming rows and columns, and nothing is stored. Signed with one key; stored in one transaction.
    public func issueBulk(csv: String, typeCode: String?, principal: Principal) async throws -> BulkResult {
        let (type, department) = try await authorize(typeCode: typeCode, principal: principal)
        if type.composite {
            throw Problem.validation([FieldError(field: "typeCode", message: "composite licences are issued one at a time")])
        }
        let records: [[String]]
        do {
            records = try CSV.parse(csv, maxRecords: Self.bulkLimit + 1)
        } catch let failure as CSV.Failure {
            throw Problem.validation([FieldError(field: "csv", message: "line \(failure.line): \(failure.description)")])
        }
        guard let header = records.first?.map({ $0.trimmingCharacters(in: .whitespaces) }), records.count > 1 else {
            throw Problem.validation([FieldError(field: "csv", message: "needs a header row and at least one licence")])
        }
        var errors = FieldErrors()
        let known = Set(type.fields.map(\.name)).union(["idNumber", "uscc", "validFrom", "validUntil"])
        for column in header where !known.contains(column) { errors.add("csv.header", "unknown column '\(column)'") }
        if Set(header).count != header.count { errors.add("csv.header", "repeats a column") }
        try errors.throwIfAny()
        let rows = records.dropFirst()
        func value(_ row: [String], _ column: String) -> String? {
            guard let index = header.firstIndex(of: column), index < row.count else { return nil }
            let text = row[index].trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? nil : text
        }
        let holders = try await HolderLookup.batch(
            db: db, ids: rows.compactMap { value($0, "idNumber")?.uppercased() }, codes: rows.compactMap { value($0, "uscc")?.uppercased() })
        let now = app.clock.now()
        var prepared: [Prepared] = []
        prepared.reserveCapacity(rows.count)
        for (offset, row) in rows.enumerated() {
            let number = offset + 2
            if row.count != header.count {
                errors.add("row \(number)", "has \(row.count) columns, the header has \(header.count)")
                continue
            }
            var request = IssueRequest()
            request.typeCode = type.code
            request.holder = Holder(idNumber: value(row, "idNumber"), uscc: value(row, "uscc"))
            var fields: [String: JSONValue] = [:]
            for definition in type.fields { if let text = value(row, definition.name) { fields[definition.name] = .string(text) } }
            request.fields = fields
            for (column, assign) in [("validFrom", { (d: Date) in request.validFrom = d }), ("validUntil", { request.validUntil = $0 })] {
                guard let text = value(row, column) else { continue }
                if let date = Self.date(text) { assign(date) } else { errors.add("row \(number).\(column)", "must be YYYY-MM-DD or ISO 8601") }
            }
            let result = try await prepare(request, type: type, now: now, field: { "row \(number).\($0)" }, holders: holders)
            for error in result.errors { errors.add(error.field, error.message) }
            if let licence = result.licence { prepared.append(licence) }
            if errors.errors.count >= 100 { break }
        }
        try errors.throwIfAny()
        let signer = try await SigningKeyService(db: db, vault: app.keyVault, clock: app.clock).activeKey(department: department)
        let first = try await StatusLists.allocate(department: department.id, count: prepared.count, on: db)
        let licences = try prepared.enumerated().map { offset, item in
            try Self.sign(item, type: type, department: department, signer: signer, issuer: principal.userID, now: now, statusIndex: first + offset)
        }
        // Numbers unique within the batch and against what is stored (a race with another issuer still fails
        // the transaction on the unique index, and nothing is stored).
        var seen = Set<String>()
        for licence in licences where !seen.insert(licence.number).inserted {
            repeat { try Self.renumber(licence, signer: signer, now: now) } while !seen.insert(licence.number).inserted
        }
        let stored = try await existingNumbers(Array(seen))
        for licence in licences where stored.contains(licence.number) {
            repeat { try Self.renumber(licence, signer: signer, now: now) } while seen.contains(licence.number) || stored.contains(licence.number)
            seen.insert(licence.number)
        }
        try await db.writeTransaction { tx in
            for start in stride(from: 0, to: licences.count, by: 200) {
                try await Self.insert(Array(licences[start..<min(start + 200, licences.count)]), tx: tx)
            }
        }
        // One audit event for the batch: how many, and a digest of every number in order.
        let numbers = licences.map(\.number).joined(separator: "\n")
        try await app.audit?.record(
            kind: AuditKind.licenceIssued, actor: principal.userID, subject: "licence-batch:\(type.code)",
            details: [
                "count": String(licences.count), "type": type.code, "issuer": department.code,
                "first": licences.first?.number ?? "", "last": licences.last?.number ?? "",
                "numbersSha256": Hex.sha256(numbers),
            ])
        return BulkResult(issued: licences.count, licences: licences.compactMap { l in l.id.map { .init(id: $0, number: l.number) } })
    }

    func existingNumbers(_ numbers: [String]) async throws -> Set<String> {
        var found = Set<String>()
        for start in stride(from: 0, to: numbers.count, by: 500) {
            let chunk = Array(numbers[start..<min(start + 500, numbers.count)])
            for licence in try await Licence.query(on: db).filter(\.$number ~~ chunk).field(\.$id).field(\.$number).all() {
                found.insert(licence.number)
            }
        }
        return found
    }

    /// One multi-row INSERT (plain SQL; the bulk path signs and stores thousands per second).
    static func insert(_ licences: [Licence], tx: any Database) async throws {
        guard let sql = tx as? any SQLDatabase else {
            for licence in licences { try await licence.create(on: tx) }
            return
        }
        var query = SQLQueryString(
            #"INSERT INTO "licences_licences" ("id", "number", "type_id", "type_code", "department_id", "holder_kind", "holder_key", "holder_masked", "holder_user_id", "holder_enterprise_id", "fields", "valid_from", "valid_until", "status", "status_reason", "kid", "payload", "application_id", "issued_by", "created_at", "updated_at", "status_index") VALUES "#
        )
        for (index, l) in licences.enumerated() {
            if index > 0 { query.appendLiteral(", ") }
            let values: [any Encodable & Sendable] = [
                l.id, l.number, l.typeID, l.typeCode, l.departmentID, l.holderKind.rawValue, l.holderKey, l.holderMasked,
                l.holderUserID, l.holderEnterpriseID, l.fieldsJSON, l.validFrom, l.validUntil, l.status.rawValue, l.statusReason,
                l.kid, l.payload, l.applicationID, l.issuedBy, l.createdAt, l.updatedAt, l.statusIndex,
            ]
            query.appendLiteral("(")
            for (position, value) in values.enumerated() {
                if position > 0 { query.appendLiteral(", ") }
                query.appendInterpolation(bind: value)
            }
            query.appendLiteral(")")
        }
        try await sql.raw(query).run()
    }

    static func date(_ text: String) -> Date? {
        if let day = LocalDate(text) { return day.start(in: .shanghai) }
        return ISO8601DateFormatter().date(from: text)
    }

    /// `DZZZ-YYYYMMDD-` + 10 random digits: unique (checked), read out in groups over the phone, and never an
    /// 18-digit run that logs would mistake for (and mask as) a resident ID number.
    static func number(now: Date) -> String {
        let date = LocalDate(now)
        return String(format: "DZZZ-%04d%02d%02d-%010d", date.year, date.month, date.day, Int.random(in: 0...9_999_999_999))
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
        var stored: (status: LicenceStatus, reason: String?, payload: String, typeID: UUID, departmentID: UUID, number: String)?
        let claimed = Self.unverifiedClaims(payload)
        if let claimsID = claimed?.id, let sql = db as? any SQLDatabase,
            let row = try await sql.raw("""
                SELECT "status", "status_reason", "payload", "type_id", "department_id", "number" FROM "licences_licences" \
                WHERE "id" = \(bind: claimsID)
                """).first(),
            let status = LicenceStatus(rawValue: try row.decode(column: "status", as: String.self))
        {
            stored = (
                status, try row.decode(column: "status_reason", as: String?.self), try row.decode(column: "payload", as: String.self),
                try row.decode(column: "type_id", as: UUID.self), try row.decode(column: "department_id", as: UUID.self),
                try row.decode(column: "number", as: String.self))
        }
        var typeName: String?
        var issuerName: String?
        var componentStatuses: [String: String] = [:]
        // Only a token that lists components costs the extra queries (a composite's components, with their
        // current status; a valid one past its date is expired).
        if stored != nil, let claimed, claimed.composite {
            let links = try await LicenceComponent.query(on: db).filter(\.$compositeID == claimed.id).all()
            if !links.isEmpty {
                let now = app.clock.now()
                for component in try await Licence.query(on: db).filter(\.$id ~~ links.map(\.componentID)).all() {
                    let expired = component.status == .valid && (component.validUntil.map { $0 <= now } ?? false)
                    componentStatuses[component.number] = expired ? "expired" : component.status.rawValue
                }
            }
        }
        if let stored {
            typeName = try await cache.name("type:\(stored.typeID)") { try await LicenceType.find(stored.typeID, on: db)?.nameZh }
            issuerName = try await cache.name("department:\(stored.departmentID)") {
                try await DirectoryService(db: db).department(id: stored.departmentID)?.name
            }
        }
        return LicenceVerifier.verify(
            payload, now: app.clock.now(), lookup: { kid in key?.kid == kid ? key : nil },
            status: { claims in
                // The licence's own code must be exactly the stored one; a presentation names it by id and number.
                guard let stored, stored.payload == payload || (claims.pexp != nil && claims.num == stored.number) else { return nil }
                return (stored.status, stored.reason)
            }, typeName: { _ in typeName }, issuerName: { _ in issuerName },
            componentStatus: { number in componentStatuses[number] }, decodedClaims: claimed?.claims)
    }

    /// A presentation code (亮证) for the holder: the licence's public claims, signed with the issuer's current
    /// key, accepted for ``presentationSeconds`` (so a screenshot shown later fails). 409 unless the licence is
    /// valid now.
    public static let presentationSeconds: Int64 = 60

    public func presentation(_ id: UUID, principal: Principal) async throws -> (payload: String, expiresAt: Date) {
        guard let licence = try await Licence.find(id, on: db),
            licence.holderUserID == principal.userID
                || (licence.holderEnterpriseID != nil && licence.holderEnterpriseID == principal.actingFor)
        else { throw Self.notFound }
        let now = app.clock.now()
        guard licence.status == .valid, licence.validUntil.map({ $0 > now }) ?? true, licence.validFrom <= now.addingTimeInterval(1) else {
            throw Problem.conflict("Only a licence in force can be shown.", type: "/problems/licence-not-in-force")
        }
        guard let type = try await LicenceType.find(licence.typeID, on: db),
            let department = try await DirectoryService(db: db).department(id: licence.departmentID)
        else { throw Self.notFound }
        let signer = try await SigningKeyService(db: db, vault: app.keyVault, clock: app.clock).activeKey(department: department)
        let publicFields = licence.fields.filter { name, _ in type.fields.first { $0.name == name }?.public == true }
        var claims = try Self.claims(licence, typeCode: type.code, issuer: department.code, publicValues: publicFields, now: now)
        let expires = Int64(now.timeIntervalSince1970) + Self.presentationSeconds
        claims.pexp = expires
        claims.nonce = Base64URL.encode((0..<12).map { _ in UInt8.random(in: 0...255) })
        let token = try CompactJWS.sign(payload: try claims.encoded(), key: signer, type: LicenceVerifier.presentationType)
        return (token, Date(timeIntervalSince1970: TimeInterval(expires)))
    }

    /// The holder's licence as a VC-JWT (the holder, or a member of the holding enterprise; 404 otherwise).
    public func credential(_ id: UUID, principal: Principal, baseURL: String) async throws -> String {
        guard let licence = try await Licence.find(id, on: db),
            licence.holderUserID == principal.userID
                || (licence.holderEnterpriseID != nil && licence.holderEnterpriseID == principal.actingFor)
        else { throw Self.notFound }
        guard let type = try await LicenceType.find(licence.typeID, on: db),
            let department = try await DirectoryService(db: db).department(id: licence.departmentID),
            let stored = try await DepartmentKey.query(on: db).filter(\.$kid == licence.kid).first()
        else { throw Self.notFound }
        guard stored.status != .compromised else {
            throw Problem.conflict("The key that signed this licence is no longer trusted.", type: "/problems/key-compromised")
        }
        let signer = try SigningKeyService(db: db, vault: app.keyVault, clock: app.clock).material(stored)
        let iso = ISO8601DateFormatter()
        let issuerID = baseURL + "/issuers/" + department.code
        let now = app.clock.now()
        let credential = LicenceCredential(
            context: ["https://www.w3.org/ns/credentials/v2"], id: "urn:uuid:\(try licence.requireID().uuidString.lowercased())",
            type: ["VerifiableCredential", "TongbanLicence"], issuer: .init(id: issuerID, name: department.name),
            validFrom: iso.string(from: licence.validFrom), validUntil: licence.validUntil.map(iso.string(from:)),
            credentialSubject: .init(
                holder: licence.holderMasked, holderKind: licence.holderKind.rawValue, licenceNumber: licence.number,
                licenceType: type.code, licenceTypeName: type.nameZh, fields: licence.fields),
            credentialStatus: licence.statusIndex.map { index in
                StatusListCredential.purposes.map { purpose in
                    let list = StatusLists.url(baseURL: baseURL, department: department.code, purpose: purpose)
                    return LicenceCredential.Status(
                        id: "\(list)#\(index)", type: "BitstringStatusListEntry", statusPurpose: purpose,
                        statusListIndex: String(index), statusListCredential: list)
                }
            } ?? [.init(id: baseURL + "/api/v1/licences/verify", type: "TongbanLicenceStatus")],
            iss: issuerID, jti: "urn:uuid:\(try licence.requireID().uuidString.lowercased())",
            iat: Int64(now.timeIntervalSince1970), nbf: Int64(licence.validFrom.timeIntervalSince1970),
            exp: licence.validUntil.map { Int64($0.timeIntervalSince1970) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try CompactJWS.sign(payload: try encoder.encode(credential), key: signer, type: "vc+jwt", contentType: "vc")
    }

    /// The licence id a payload claims, and whether it lists components (read before verification only to
    /// find the records; the verifier checks the signature and the stored token before anything is trusted).
    static func unverifiedClaims(_ payload: String) -> (id: UUID, composite: Bool, claims: LicenceClaims)? {
        let parts = payload.utf8.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Base64URL.decode(Substring(parts[1])),
            let claimed = try? CompactJWS.decoder.decode(LicenceClaims.self, from: data), let id = UUID(uuidString: claimed.lid)
        else { return nil }
        return (id, !(claimed.sub ?? []).isEmpty, claimed)
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
        try await app.audit?.record(
            kind: status == .revoked ? AuditKind.licenceRevoked : "licence.\(status == .suspended ? "suspended" : "reinstated")",
            actor: principal.userID, subject: "licence:\(id.uuidString.lowercased())",
            details: ["number": licence.number, "type": licence.typeCode, "reason": reason])
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
