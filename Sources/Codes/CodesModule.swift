import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// One-code digital identity (一码通): holder codes signed by the platform or by certified holder devices
/// (offline), verification by registered verifier devices with per-scenario selective disclosure, replay
/// protection, scan records, offline gate batches, medical encounters and the codes trust list.
public struct CodesModule: TongbanModule {
    public let name = "codes"

    public init() {}

    public var migrations: [any Migration] { [CreateCodes(), CreateCodesLookup()] }

    public func boot(_ app: Application) throws {
        app.codesSettings = CodesSettings.fromEnvironment(ProcessInfo.processInfo.environment)
        app.codeKeyCache = CodeKeyCache()
        app.codeScanWriter = ScanWriter(database: { [unowned app] in app.db }, clock: { [unowned app] in app.clock })
        app.acceptedCodes = AcceptedCodes()
        app.codeHolderCache = CodeHolderCache()
        app.verifierDeviceCache = VerifierDeviceCache()
        let environment = ProcessInfo.processInfo.environment
        app.lookupSettings = LookupSettings.fromEnvironment(environment)
        app.lookupBreakers = CircuitBreakers(
            threshold: environment["TONGBAN_LOOKUP_BREAKER_THRESHOLD"].flatMap(Int.init).map { max(1, $0) } ?? 5,
            cooldown: environment["TONGBAN_LOOKUP_BREAKER_SECONDS"].flatMap(Double.init).map { max(1, $0) } ?? 30)
        app.lateAnswers = LateAnswers()
        app.livenessHook = .development
        app.jobs.register(LookupService.lateJob) { job, app in try await LookupService.runLateJob(job, app: app) }
        app.jobs.register(ScanAudit.jobKind) { job, app in try await ScanAudit.run(job, app: app) }
        try app.register(collection: CodesController())
        try app.register(collection: VerifierAdminController())
        try app.register(collection: CodePages())
        try app.register(collection: LookupController())
        document(app.apiDocumentation)
    }

    func document(_ docs: APIDocumentation) {
        let tag = "codes"
        let verification = Schema.object([
            "valid": Schema.boolean, "reason": Schema.string, "attributes": Schema.object([:]), "codeType": Schema.string,
            "expiresAt": Schema.dateTime, "scanId": Schema.uuid, "encounterId": Schema.uuid,
        ])
        docs.add(APIOperation(
            .POST, "/api/v1/codes", summary: "A dynamic code (≤ 60 s) for the signed-in person", tag: tag, requiresAuth: true,
            request: Schema.object(["type": Schema.string]),
            response: Schema.object([
                "payload": Schema.string, "type": Schema.string, "issuedAt": Schema.dateTime, "expiresAt": Schema.dateTime,
                "qr": Schema.object(["svgUrl": Schema.string]),
            ]), success: 201, problems: [401, 403, 422]))
        var qr = APIOperation(
            .GET, "/api/v1/codes/qr.svg", summary: "QR code (SVG) of a currently valid code", tag: tag, response: Schema.string,
            problems: [404], query: ["p"])
        qr.responseContentType = "image/svg+xml"
        docs.add(qr)
        docs.add(APIOperation(
            .POST, "/api/v1/codes/verify", summary: "Verify a scanned code (verifier device, X-Api-Key header)", tag: tag,
            request: Schema.object(["payload": Schema.string, "scenario": Schema.string]), response: verification, problems: [400, 422]))
        docs.add(APIOperation(
            .POST, "/api/v1/codes/scans/batch", summary: "Upload offline scans (verifier device, X-Api-Key header)", tag: tag,
            request: Schema.object([
                "scans": Schema.array(Schema.object(["payload": Schema.string, "scannedAt": Schema.dateTime, "location": Schema.string]))
            ]),
            response: Schema.object([
                "received": Schema.integer, "accepted": Schema.integer, "duplicates": Schema.integer, "rejected": Schema.integer,
                "results": Schema.array(Schema.object([:])),
            ]), problems: [401, 403, 413, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/codes/scans", summary: "My scan records (holder)", tag: tag, requiresAuth: true,
            response: Schema.object(["items": Schema.array(Schema.object([:])), "nextCursor": Schema.string]), problems: [401, 422],
            query: ["limit", "cursor"]))
        let device = Schema.object([
            "id": Schema.uuid, "name": Schema.string, "publicKey": Schema.string, "certificateId": Schema.string,
            "certificate": Schema.string, "status": Schema.string, "issuedAt": Schema.dateTime, "expiresAt": Schema.dateTime,
        ])
        docs.add(APIOperation(
            .POST, "/api/v1/codes/devices", summary: "Certify the holder's device key for offline codes", tag: tag,
            requiresAuth: true,
            request: Schema.object(["publicKey": Schema.string, "name": Schema.string, "validityDays": Schema.integer]),
            response: device, success: 201, problems: [401, 403, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/codes/devices", summary: "The holder's devices", tag: tag, requiresAuth: true,
            response: Schema.array(device), problems: [401]))
        docs.add(APIOperation(
            .POST, "/api/v1/codes/devices/{id}/revoke", summary: "Revoke a holder device (holder, system admin)", tag: tag,
            requiresAuth: true, response: device, problems: [401, 404, 409]))
        let verifierDevice = Schema.object([
            "id": Schema.uuid, "organisationId": Schema.uuid, "name": Schema.string, "scenario": Schema.string,
            "location": Schema.string, "keyHint": Schema.string, "status": Schema.string, "apiKey": Schema.string,
        ])
        let organisation = Schema.object([
            "id": Schema.uuid, "name": Schema.string, "createdAt": Schema.dateTime, "devices": Schema.array(verifierDevice),
        ])
        docs.add(APIOperation(
            .POST, "/api/v1/codes/verifiers", summary: "Register a verifier organisation (system admin)", tag: tag,
            requiresAuth: true, request: Schema.object(["name": Schema.string]), response: organisation, success: 201,
            problems: [401, 403, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/codes/verifiers", summary: "Verifier organisations and devices (system admin)", tag: tag,
            requiresAuth: true, response: Schema.array(organisation), problems: [401, 403]))
        docs.add(APIOperation(
            .POST, "/api/v1/codes/verifiers/{id}/devices", summary: "Register a scanner device; its API key is shown once",
            tag: tag, requiresAuth: true,
            request: Schema.object(["name": Schema.string, "scenario": Schema.string, "location": Schema.string]),
            response: verifierDevice, success: 201, problems: [401, 403, 404, 422]))
        for action in ["disable", "enable"] {
            docs.add(APIOperation(
                .POST, "/api/v1/codes/verifier-devices/{id}/\(action)", summary: "\(action.capitalized) a scanner device (system admin)",
                tag: tag, requiresAuth: true, response: verifierDevice, problems: [401, 403, 404]))
        }
        let provider = Schema.object([
            "id": Schema.uuid, "name": Schema.string, "kind": Schema.string, "endpoint": Schema.string, "status": Schema.string,
            "timeoutMs": Schema.integer,
        ])
        docs.add(APIOperation(
            .POST, "/api/v1/codes/providers", summary: "Register a 一证通查 provider (system admin)", tag: tag, requiresAuth: true,
            request: Schema.object([
                "name": Schema.string, "kind": Schema.string, "endpoint": Schema.string, "credentials": Schema.string,
                "timeoutMs": Schema.integer,
            ]), response: provider, success: 201, problems: [401, 403, 409, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/codes/providers", summary: "一证通查 providers (system admin)", tag: tag, requiresAuth: true,
            response: Schema.array(provider), problems: [401, 403]))
        let lookup = Schema.object([
            "id": Schema.uuid, "status": Schema.string, "total": Schema.integer, "answered": Schema.integer,
            "numbers": Schema.array(Schema.object(["number": Schema.string, "provider": Schema.string, "kind": Schema.string])),
            "pending": Schema.array(Schema.string), "failed": Schema.array(Schema.string), "providers": Schema.array(Schema.object([:])),
        ])
        docs.add(APIOperation(
            .POST, "/api/v1/codes/lookups", summary: "一证通查: numbers registered under my ID across all providers", tag: tag,
            requiresAuth: true, request: Schema.object(["livenessToken": Schema.string]), response: lookup, success: 201,
            problems: [401, 403, 429]))
        docs.add(APIOperation(
            .GET, "/api/v1/codes/lookups/{id}", summary: "One of my 一证通查 queries, with late answers", tag: tag, requiresAuth: true,
            response: lookup, problems: [401, 404]))
        let dispute = Schema.object([
            "id": Schema.uuid, "lookupId": Schema.uuid, "provider": Schema.string, "number": Schema.string, "status": Schema.string,
            "note": Schema.string, "createdAt": Schema.dateTime, "updatedAt": Schema.dateTime,
        ])
        docs.add(APIOperation(
            .POST, "/api/v1/codes/lookups/{id}/disputes", summary: "\"Not mine\": dispute a listed number", tag: tag,
            requiresAuth: true, request: Schema.object(["provider": Schema.string, "number": Schema.string]), response: dispute,
            success: 201, problems: [401, 404, 409, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/codes/disputes", summary: "My number disputes", tag: tag, requiresAuth: true,
            response: Schema.array(dispute), problems: [401]))
        docs.add(APIOperation(
            .POST, "/api/v1/codes/disputes/{id}/status", summary: "Move a dispute forward (system admin)", tag: tag,
            requiresAuth: true, request: Schema.object(["status": Schema.string, "note": Schema.string]), response: dispute,
            problems: [401, 403, 404, 409, 422]))
        // The contract real providers implement (the platform is the client; the simulator serves it too).
        docs.addSchema("CodesProviderRequest", [
            "type": "object", "required": ["idNumber"],
            "properties": ["idNumber": ["type": "string", "description": "The person's 18-character resident ID number."]],
            "description": """
                一证通查 provider contract (outbound: the platform calls the provider). `POST <provider endpoint>` with \
                `Content-Type: application/json`, `Authorization: Bearer <credentials>` (the credentials registered with the \
                provider) and this body. The provider answers `200` with `CodesProviderAnswer` within the provider's \
                `timeoutMs`; any other status, a body that is not that JSON, or a number that is not 5–20 digits is a failure \
                (retried with back-off, counted by the circuit breaker). A provider that misses its timeout is asked again \
                (the same request) with back-off until 48 hours have passed.
                """,
        ])
        docs.addSchema("CodesProviderAnswer", [
            "type": "object", "required": ["numbers"],
            "properties": [
                "numbers": [
                    "type": "array", "maxItems": 100,
                    "items": ["type": "string", "pattern": "^[0-9]{5,20}$"],
                    "description": "Full mobile numbers registered under the ID number (the platform masks them before storing).",
                ]
            ],
            "description": "The provider's answer to `CodesProviderRequest` (HTTP 200, application/json).",
        ])
        docs.add(APIOperation(
            .GET, "/.well-known/tongban-codes-trust-list.json", summary: "Platform code keys (JWK), clock skew, revoked device certificates",
            tag: tag, response: Schema.object(["version": Schema.integer, "keys": Schema.array(Schema.object([:]))]), problems: []))
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {
        try await CodesDemo(app: app).load(progress: options.progress)
    }
}

/// Demo verifiers: `demo-verifier-key` (venue), `demo-hospital-key` (medical_insurance), `demo-gate-key` (transit).
struct CodesDemo {
    let app: Application

    static let devices: [(organisation: String, device: String, scenario: Scenario, location: String, key: String)] = [
        ("演示体育馆 Demo venue", "入口闸机 1", .venue, "济南市历下区演示体育馆东门", "demo-verifier-key"),
        ("演示医院 Demo hospital", "挂号窗口 1", .medicalInsurance, "济南市演示医院门诊楼", "demo-hospital-key"),
        ("演示地铁 Demo metro", "1 号线闸机 A", .transit, "济南地铁 1 号线演示站", "demo-gate-key"),
    ]

    func load(progress: @Sendable (String) -> Void) async throws {
        let registry = VerifierRegistry(app: app)
        var added = 0
        for seed in Self.devices
        where try await VerifierDevice.query(on: app.db).filter(\.$keyHash == VerificationService.hash(apiKey: seed.key)).first() == nil {
            let organisation: VerifierOrganisation
            if let existing = try await VerifierOrganisation.query(on: app.db).filter(\.$name == seed.organisation).first() {
                organisation = existing
            } else {
                organisation = VerifierOrganisation()
                organisation.name = seed.organisation
                organisation.createdAt = app.clock.now()
                try await organisation.create(on: app.db)
            }
            _ = try await registry.registerDevice(
                organisationID: try organisation.requireID(), name: seed.device, scenario: seed.scenario.rawValue, location: seed.location,
                apiKey: seed.key, principal: nil)
            added += 1
        }
        progress("code verifiers: demo-verifier-key (venue), demo-hospital-key, demo-gate-key (\(added) new)")
        var providers = 0
        for (name, kind, endpoint) in [
            ("演示移动 (simulated)", ProviderKind.carrier, "sim://demo-mobile?latencyMs=20&numbers=1"),
            ("演示联通 (simulated)", ProviderKind.carrier, "sim://demo-unicom?latencyMs=30"),
            ("演示转售 (simulated)", ProviderKind.reseller, "sim://demo-mvno?latencyMs=40"),
        ] where try await LookupProvider.query(on: app.db).filter(\.$name == name).first() == nil {
            let provider = LookupProvider()
            provider.name = name
            provider.kind = kind
            provider.endpoint = endpoint
            provider.sealedCredentials = try app.keyVault.seal(Data(), purpose: "codes.provider-credentials")
            provider.status = .active
            provider.timeoutMilliseconds = 1000
            provider.createdAt = app.clock.now()
            try await provider.create(on: app.db)
            providers += 1
        }
        progress("一证通查 providers: 3 simulated (\(providers) new)")
    }
}
