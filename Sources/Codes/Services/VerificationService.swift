import Crypto
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// What a verifier learns from a scan.
public struct VerificationAnswer: Content, Sendable, Equatable {
    public var valid: Bool
    /// `ok`, or a ``CodeFailure`` raw value.
    public var reason: String
    /// Only the attributes the scenario may read; empty when not valid.
    public var attributes: [String: String]
    public var codeType: String?
    public var expiresAt: Date?
    public var scanId: UUID?
    /// Set for medical-insurance scans: the encounter record opened.
    public var encounterId: UUID?

    static func failure(_ reason: CodeFailure, scanID: UUID? = nil) -> VerificationAnswer {
        VerificationAnswer(valid: false, reason: reason.rawValue, attributes: [:], scanId: scanID)
    }
}

/// Verifies scanned codes for registered verifier devices, enforces the scenario's disclosure, records every
/// scan and accepts each code once per verifier organisation.
public struct VerificationService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: (any Database)? = nil) {
        self.app = app
        self.db = db ?? app.db
    }

    /// Hex SHA-256 of an API key (what the database stores).
    public static func hash(apiKey: String) -> String {
        Hex.sha256(apiKey)
    }

    /// The device holding `apiKey`, or nil.
    public func device(apiKey: String?) async throws -> ScanningDevice? {
        guard let apiKey, !apiKey.isEmpty, apiKey.utf8.count <= 200 else { return nil }
        let hash = Self.hash(apiKey: apiKey)
        let cache = app.verifierDeviceCache
        if let device = cache.device(keyHash: hash) { return device }
        guard let model = try await VerifierDevice.query(on: db).filter(\.$keyHash == hash).first() else { return nil }
        let device = try ScanningDevice(model)
        if !db.inTransaction { cache.remember(device, keyHash: hash) }
        return device
    }

    /// Cryptographic and time checks (the key cache is refreshed once if the kid is unknown).
    func check(_ payload: String, at time: Date) async throws -> Result<VerifiedCode, CodeFailure> {
        let skew = app.codesSettings.clockSkew
        let service = CodeKeyService(app: app, db: db)
        var keys = try await service.verificationKeys()
        for attempt in 0..<2 {
            let failure: CodeFailure
            do {
                let verified = try CodeVerifier.verify(payload, now: time, skew: skew, keys: { keys[$0] })
                return .success(verified)
            } catch {
                failure = error
            }
            if failure == .unknownKey, attempt == 0, try await service.refreshIfUnknown(Self.platformKid(payload)) {
                keys = try await service.verificationKeys()
                continue
            }
            return .failure(failure)
        }
        return .failure(.unknownKey)
    }

    static func platformKid(_ payload: String) -> String? {
        let first = payload.split(separator: CodeFormat.chainSeparator, maxSplits: 1).first.map(String.init) ?? payload
        return CompactJWS.keyID(of: first)
    }

    /// POST /api/v1/codes/verify. Never throws for anything the client sent: invalid codes, unknown devices,
    /// wrong scenarios are answers with `valid: false`.
    public func verify(payload: String, scenario requested: String?, apiKey: String?) async throws -> VerificationAnswer {
        guard let device = try await device(apiKey: apiKey) else { return .failure(.unknownDevice) }
        return try await scan(payload: payload, scenario: requested, device: device, at: app.clock.now(), location: nil, source: .online)
            .answer
    }

    struct Outcome {
        var answer: VerificationAnswer
        var duplicate: Bool
    }

    /// Verifies one scan at `time` and records it. `duplicate` is set when the code was already accepted by
    /// this organisation (for batches: removed, nothing recorded).
    func scan(payload: String, scenario requested: String?, device: ScanningDevice, at time: Date, location: String?, source: ScanSource)
        async throws -> Outcome
    {
        let deviceID = device.id
        var record = ScanDraft(device: device, deviceID: deviceID, scenario: requested ?? device.scenario, location: location ?? device.location,
                               source: source, time: time)
        guard device.status == .active else { return Outcome(answer: try await self.fail(record, .unauthorised, now: app.clock.now()), duplicate: false) }
        guard let scenario = Scenario(rawValue: requested ?? device.scenario), scenario.rawValue == device.scenario else {
            return Outcome(answer: try await self.fail(record, .wrongScenario, now: app.clock.now()), duplicate: false)
        }
        let verified: VerifiedCode
        switch try await check(payload, at: time) {
        case .failure(let failure): return Outcome(answer: try await self.fail(record, failure, now: app.clock.now()), duplicate: false)
        case .success(let value): verified = value
        }
        let claims = verified.claims
        record.codeType = claims.typ.rawValue
        record.nonce = claims.jti
        guard let holder = try await cachedHolder(pseudonym: claims.sub),
            let user = try await CodePerson.find(holder.userID, on: db), !user.disabled
        else { return Outcome(answer: try await self.fail(record, .revoked, now: app.clock.now()), duplicate: false) }
        record.holderID = holder.id
        if let cid = verified.certificateID {
            let certificate = try await HolderDevice.query(on: db).filter(\.$certificateID == cid).first()
            guard let certificate, certificate.status == .active, certificate.holderID == holder.id else {
                return Outcome(answer: try await self.fail(record, .revoked, now: app.clock.now()), duplicate: false)
            }
        }
        guard scenario.acceptedTypes.contains(claims.typ) else {
            return Outcome(answer: try await self.fail(record, .wrongScenario, now: app.clock.now()), duplicate: false)
        }
        var attributes: [String: String] = [:]
        for attribute in scenario.attributes {
            switch attribute {
            case .name: attributes[attribute.rawValue] = user.name
            case .idNumberMasked: attributes[attribute.rawValue] = Masking.idNumber(user.idNumber ?? "")
            case .insuranceNumber: attributes[attribute.rawValue] = holder.insuranceNumber
            }
        }
        let organisationID = device.organisationID
        let now = app.clock.now()
        var scan = record.row(valid: true, reason: "ok", disclosed: scenario.attributes.map(\.rawValue), now: now)
        scan.acceptKey = organisationID.uuidString.lowercased() + ":" + claims.jti
        var encounter: EncounterRow?
        if scenario == .medicalInsurance, let holderID = holder.id {
            encounter = EncounterRow(
                id: UUID(), scanID: scan.id, organisationID: organisationID, holderID: holderID, insuranceNumber: holder.insuranceNumber,
                createdAt: now)
        }
        if source == .online {
            // Group commit: one transaction for every verification queued meanwhile. A replay within this
            // process is caught in memory; the unique accept key catches the rest.
            let accepted = app.acceptedCodes
            let key = scan.acceptKey ?? ""
            guard accepted.take(key, until: claims.expiresAt.addingTimeInterval(app.codesSettings.clockSkew), now: now) else {
                return Outcome(answer: try await self.fail(record, .replayed, now: now), duplicate: false)
            }
            let stored: Bool
            do {
                // The audit event travels in the same transaction as a job (see ScanWriter).
                let audit = attributes.isEmpty
                    ? nil
                    : ScanAudit(
                        holder: try holder.requireID(), scan: scan.id, device: deviceID, scenario: scenario.rawValue,
                        attributes: scenario.attributes.map(\.rawValue).joined(separator: ","), scannedAt: now)
                stored = try await app.codeScanWriter.write(scan, encounter: encounter, audit: audit)
            } catch {
                accepted.release(key)
                throw error
            }
            guard stored else { return Outcome(answer: try await self.fail(record, .replayed, now: now), duplicate: false) }
        } else {
            do {
                try await db.writeTransaction { [scan, encounter] tx in
                    try await scan.model.create(on: tx)
                    try await encounter?.model.create(on: tx)
                }
            } catch let error as any DatabaseError where error.isConstraintFailure {
                // The unique accept key: this organisation already accepted this code.
                if source == .batch { return Outcome(answer: .failure(.replayed), duplicate: true) }
                return Outcome(answer: try await self.fail(record, .replayed, now: now), duplicate: false)
            }
        }
        if source != .online, !attributes.isEmpty {
            try await app.audit?.record(
                kind: "codes.scan.disclosed", actor: nil, subject: "code-holder:\(try holder.requireID().uuidString.lowercased())",
                details: [
                    "scan": scan.id.uuidString.lowercased(), "device": deviceID.uuidString.lowercased(),
                    "scenario": scenario.rawValue, "attributes": scenario.attributes.map(\.rawValue).joined(separator: ","),
                ])
        }
        return Outcome(
            answer: VerificationAnswer(
                valid: true, reason: "ok", attributes: attributes, codeType: claims.typ.rawValue, expiresAt: claims.expiresAt,
                scanId: scan.id, encounterId: encounter?.id),
            duplicate: false)
    }

    /// The holder of a pseudonym (cached once read: the link never changes).
    func cachedHolder(pseudonym: String) async throws -> CodeHolder? {
        let cache = app.codeHolderCache
        if let holder = cache.holder(pseudonym: pseudonym) { return holder }
        guard let holder = try await CodeHolder.query(on: db).filter(\.$pseudonym == pseudonym).first() else { return nil }
        if !db.inTransaction { cache.remember(holder) }
        return holder
    }

    /// Records a refused scan (nothing disclosed; online ones through the group-commit writer) and answers.
    func fail(_ record: ScanDraft, _ reason: CodeFailure, now: Date) async throws -> VerificationAnswer {
        let scan = record.row(valid: false, reason: reason.rawValue, disclosed: [], now: now)
        if record.source == .online {
            _ = try await app.codeScanWriter.write(scan)
        } else {
            try await db.writeTransaction { tx in try await scan.model.create(on: tx) }
        }
        return .failure(reason, scanID: scan.id)
    }

    // MARK: - Offline batches

    public struct BatchItem: Content, Sendable {
        public var payload: String?
        public var scannedAt: Date?
        public var location: String?
    }

    public struct BatchItemResult: Content, Sendable {
        public var index: Int
        public var valid: Bool
        public var reason: String
        public var duplicate: Bool
    }

    public struct BatchResult: Content, Sendable {
        public var received: Int
        public var accepted: Int
        public var duplicates: Int
        public var rejected: Int
        public var results: [BatchItemResult]
    }

    public static let maximumBatch = 1000
    /// Scans older than this are refused (a gate must upload within a week).
    public static let maximumBatchAge: TimeInterval = 7 * 24 * 3600

    /// POST /api/v1/codes/scans/batch: an offline gate uploads what it scanned. Each code is checked as of
    /// its scan time; codes the organisation already accepted (same nonce) are removed as duplicates.
    public func batch(_ items: [BatchItem], device: ScanningDevice) async throws -> BatchResult {
        var errors = FieldErrors()
        errors.check(!items.isEmpty, "scans", "must list at least one scan")
        errors.check(items.count <= Self.maximumBatch, "scans", "must list at most \(Self.maximumBatch) scans")
        let now = app.clock.now()
        for (index, item) in items.enumerated() {
            if (item.payload ?? "").isEmpty { errors.add("scans[\(index)].payload", "is required") }
            if let at = item.scannedAt {
                if at > now.addingTimeInterval(app.codesSettings.clockSkew) { errors.add("scans[\(index)].scannedAt", "is in the future") }
                if at < now.addingTimeInterval(-Self.maximumBatchAge) { errors.add("scans[\(index)].scannedAt", "is older than 7 days") }
            } else {
                errors.add("scans[\(index)].scannedAt", "is required (RFC 3339)")
            }
            if (item.location ?? "").count > 200 { errors.add("scans[\(index)].location", "must have at most 200 characters") }
        }
        try errors.throwIfAny()
        var results: [BatchItemResult] = []
        var accepted = 0, duplicates = 0
        for (index, item) in items.enumerated() {
            let outcome = try await scan(
                payload: item.payload ?? "", scenario: nil, device: device, at: item.scannedAt ?? now, location: item.location, source: .batch)
            if outcome.answer.valid { accepted += 1 }
            if outcome.duplicate { duplicates += 1 }
            results.append(BatchItemResult(index: index, valid: outcome.answer.valid, reason: outcome.duplicate ? "duplicate" : outcome.answer.reason, duplicate: outcome.duplicate))
        }
        return BatchResult(
            received: items.count, accepted: accepted, duplicates: duplicates, rejected: items.count - accepted - duplicates, results: results)
    }
}

/// A scan being recorded.
struct ScanDraft {
    let device: ScanningDevice
    let deviceID: UUID
    let scenario: String
    let location: String
    let source: ScanSource
    let time: Date
    var holderID: UUID?
    var codeType: String?
    var nonce: String?

    init(device: ScanningDevice, deviceID: UUID, scenario: String, location: String, source: ScanSource, time: Date) {
        self.device = device
        self.deviceID = deviceID
        self.scenario = String(scenario.prefix(40))
        self.location = String(location.prefix(200))
        self.source = source
        self.time = time
    }

    func row(valid: Bool, reason: String, disclosed: [String], now: Date) -> ScanRow {
        ScanRow(
            id: UUID(), organisationID: device.organisationID, deviceID: deviceID, holderID: holderID, codeType: codeType, scenario: scenario,
            nonce: nonce, valid: valid, reason: reason, disclosed: Self.disclosedJSON(disclosed), location: location, source: source,
            scannedAt: time, recordedAt: now, acceptKey: nil)
    }

    /// `["name","idNumberMasked"]`: the attribute names are fixed identifiers, so no escaping is needed.
    static func disclosedJSON(_ names: [String]) -> String {
        "[" + names.map { "\"" + $0 + "\"" }.joined(separator: ",") + "]"
    }
}
