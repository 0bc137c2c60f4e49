import AsyncHTTPClient
import Crypto
import Fluent
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SQLKit
import TongbanCore
import Vapor

/// External system connectors of the supervision task hub (督办任务中枢 + 系统对接): departmental and national
/// supervision systems stay in place and exchange tasks with the platform.
///
/// - Inbound: a registered system files supervision tasks (signed with its shared secret), asks for their
///   status and answers back with feedback.
/// - Outbound: cases dispatched to (or created for) a department a connector serves, and their status
///   changes, are POSTed to the connector's endpoint by a persistent job with retries and back-off; every
///   event is a delivery row (attempts, last status or error, delivered at).
///
/// Signing (both directions): `X-Tongban-Timestamp: <unix seconds>` and
/// `X-Tongban-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`; the timestamp may be at
/// most 5 minutes off. The secret is shown once and stored sealed by the key vault (it must be recoverable
/// to sign outbound events, so it cannot be hashed).
final class CaseConnector: Model, @unchecked Sendable {
    static let schema = "cases_connectors"

    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "name") var name: String
    /// inbound, outbound or both.
    @Field(key: "direction") var direction: String
    /// The supervision task source inbound tasks are filed under.
    @Field(key: "task_source") var taskSource: String
    @OptionalField(key: "endpoint") var endpoint: String?
    /// Department ids (comma-separated) whose cases are sent out and for which the system may give feedback.
    @Field(key: "departments") var departments: String
    @Field(key: "secret_sealed") var secretSealed: String
    /// active or disabled.
    @Field(key: "status") var status: String
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    var departmentIDs: [UUID] { departments.split(separator: ",").compactMap { UUID(uuidString: String($0)) } }
    var isActive: Bool { status == "active" }
    var sendsOut: Bool { direction == "outbound" || direction == "both" }
}

/// A task an external system filed: (connector, external id) → case, for idempotency and status queries.
final class CaseConnectorTask: Model, @unchecked Sendable {
    static let schema = "cases_connector_tasks"

    @ID(key: .id) var id: UUID?
    @Field(key: "connector_id") var connectorID: UUID
    @Field(key: "external_id") var externalID: String
    @Field(key: "case_id") var caseID: UUID
    @Field(key: "created_at") var createdAt: Date

    init() {}
}

/// One outbound event to one connector.
final class CaseConnectorDelivery: Model, @unchecked Sendable {
    static let schema = "cases_connector_deliveries"

    @ID(key: .id) var id: UUID?
    @Field(key: "connector_id") var connectorID: UUID
    @Field(key: "case_id") var caseID: UUID
    @Field(key: "event") var event: String
    /// The JSON body sent (fixed when the event happened).
    @Field(key: "payload") var payload: String
    /// pending, delivered, failed (attempts used up) or cancelled (connector disabled or removed).
    @Field(key: "status") var status: String
    @Field(key: "attempts") var attempts: Int
    @OptionalField(key: "last_status_code") var lastStatusCode: Int?
    @OptionalField(key: "last_error") var lastError: String?
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "last_attempt_at") var lastAttemptAt: Date?
    @OptionalField(key: "delivered_at") var deliveredAt: Date?

    init() {}
}

struct CreateCaseConnectors: AsyncMigration {
    var name: String { "Cases.CreateCaseConnectors" }

    func prepare(on database: any Database) async throws {
        try await database.schema(CaseConnector.schema)
            .id()
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("direction", .string, .required)
            .field("task_source", .string, .required)
            .field("endpoint", .string)
            .field("departments", .string, .required)
            .field("secret_sealed", .string, .required)
            .field("status", .string, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "code")
            .create()
        try await database.schema(CaseConnectorTask.schema)
            .id()
            .field("connector_id", .uuid, .required)
            .field("external_id", .string, .required)
            .field("case_id", .uuid, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "connector_id", "external_id")
            .create()
        try await database.schema(CaseConnectorDelivery.schema)
            .id()
            .field("connector_id", .uuid, .required)
            .field("case_id", .uuid, .required)
            .field("event", .string, .required)
            .field("payload", .string, .required)
            .field("status", .string, .required)
            .field("attempts", .int, .required)
            .field("last_status_code", .int)
            .field("last_error", .string)
            .field("created_at", .datetime, .required)
            .field("last_attempt_at", .datetime)
            .field("delivered_at", .datetime)
            .create()
        if let sql = database as? any SQLDatabase {
            try await sql.create(index: "cases_connector_tasks_case_idx").on(CaseConnectorTask.schema).column("case_id").run()
            try await sql.create(index: "cases_connector_deliveries_idx").on(CaseConnectorDelivery.schema)
                .column("connector_id").column("created_at").run()
        }
    }

    func revert(on database: any Database) async throws {
        for schema in [CaseConnectorDelivery.schema, CaseConnectorTask.schema, CaseConnector.schema] {
            try await database.schema(schema).delete()
        }
    }
}

/// Connector settings from the environment.
struct ConnectorConfig: Sendable {
    /// `TONGBAN_CASES_CONNECTOR_ALLOW_PRIVATE=1` (or the media setting) lets endpoints on loopback and private
    /// addresses receive events (tests, closed networks).
    var allowPrivate = false
    /// Delivery attempts per event (`TONGBAN_CASES_CONNECTOR_ATTEMPTS`, default 8: back-off 5 s, 10 s, 20 s … ≈ 10 min).
    var maxAttempts = 8
    /// One delivery's deadline (`TONGBAN_CASES_CONNECTOR_TIMEOUT_SECONDS`, default 10).
    var timeoutSeconds: Double = 10

    static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> ConnectorConfig {
        var config = ConnectorConfig()
        let yes = ["1", "true", "yes"]
        if let value = env["TONGBAN_CASES_CONNECTOR_ALLOW_PRIVATE"] { config.allowPrivate = yes.contains(value.lowercased()) }
        if let value = env["TONGBAN_CASES_MEDIA_ALLOW_PRIVATE"], yes.contains(value.lowercased()) { config.allowPrivate = true }
        if let value = env["TONGBAN_CASES_CONNECTOR_ATTEMPTS"].flatMap(Int.init), (1...30).contains(value) { config.maxAttempts = value }
        if let value = env["TONGBAN_CASES_CONNECTOR_TIMEOUT_SECONDS"].flatMap(Double.init), value > 0 { config.timeoutSeconds = value }
        return config
    }
}

/// The active outbound connectors, cached (reloaded after a change in this process, or after 15 seconds)
/// so that a case event costs nothing when no connector serves its department.
final class OutboundConnectorCache: Sendable {
    struct Entry: Sendable {
        var id: UUID
        var code: String
        var departments: Set<UUID>
    }

    private let state = NIOLockedValueBox<(loaded: Date, entries: [Entry])?>(nil)

    func invalidate() { state.withLockedValue { $0 = nil } }

    func get(db: any Database, now: Date) async throws -> [Entry] {
        if let cached = state.withLockedValue({ $0 }), now.timeIntervalSince(cached.loaded) < 15, now >= cached.loaded {
            return cached.entries
        }
        let rows = try await CaseConnector.query(on: db).filter(\.$status == "active").filter(\.$direction ~~ ["outbound", "both"]).all()
        let entries = rows.compactMap { row in row.id.map { Entry(id: $0, code: row.code, departments: Set(row.departmentIDs)) } }
        state.withLockedValue { $0 = (now, entries) }
        return entries
    }
}

extension Application {
    private struct ConnectorConfigKey: StorageKey { typealias Value = ConnectorConfig }
    private struct OutboundCacheKey: StorageKey { typealias Value = OutboundConnectorCache }

    var connectorConfig: ConnectorConfig {
        get { storage[ConnectorConfigKey.self] ?? ConnectorConfig() }
        set { storage[ConnectorConfigKey.self] = newValue }
    }

    var outboundConnectors: OutboundConnectorCache {
        if let cache = storage[OutboundCacheKey.self] { return cache }
        let cache = OutboundConnectorCache()
        storage[OutboundCacheKey.self] = cache
        return cache
    }
}

enum CaseConnectors {
    static let kind = "cases.connector-delivery"
    static let sealPurpose = "cases.connector-secret"
    static let demoCode = "national-supervision"
    static let demoSecret = "demo-connector-secret"
    static let maxSkew: TimeInterval = 300

    /// Registers routes, the delivery job and the API documentation (called from ``CasesModule/boot(_:)``).
    static func boot(_ app: Application) throws {
        app.connectorConfig = ConnectorConfig.fromEnvironment()
        _ = app.outboundConnectors
        try app.register(collection: ConnectorsController())
        app.jobs.register(kind) { job, app in try await run(job, app: app) }
        ConnectorsController.document(app.apiDocumentation)
    }

    // MARK: secrets and signatures

    static func newSecret() -> String {
        "tbc_" + SymmetricKey(size: .bits256).withUnsafeBytes { Hex.encode($0) }
    }

    static func seal(_ secret: String, app: Application) throws -> String {
        try app.keyVault.seal(Data(secret.utf8), purpose: sealPurpose)
    }

    static func secret(of connector: CaseConnector, app: Application) throws -> Data {
        try app.keyVault.open(connector.secretSealed, purpose: sealPurpose)
    }

    /// `sha256=<hex>` over `"<timestamp>.<body>"`.
    static func signature(secret: Data, timestamp: String, body: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: signedMessage(timestamp: timestamp, body: body), using: SymmetricKey(data: secret))
        return "sha256=" + Hex.encode(mac)
    }

    static func signedMessage(timestamp: String, body: Data) -> Data {
        var message = Data(timestamp.utf8)
        message.append(UInt8(ascii: "."))
        message.append(body)
        return message
    }

    /// Checks the request's timestamp and signature; throws 401 problems.
    static func verify(secret: Data, timestamp: String?, signature: String?, body: Data, now: Date) throws {
        guard let timestamp, let signature else {
            throw unauthorized("X-Tongban-Timestamp and X-Tongban-Signature headers are required.")
        }
        guard let seconds = Double(timestamp.trimmingCharacters(in: .whitespaces)), seconds.isFinite else {
            throw unauthorized("X-Tongban-Timestamp must be Unix seconds.")
        }
        guard abs(now.timeIntervalSince1970 - seconds) <= maxSkew else {
            throw unauthorized("The timestamp is more than 5 minutes off the server's clock.")
        }
        // swift-crypto compares the code in constant time.
        let provided = signature.trimmingCharacters(in: .whitespaces)
        guard provided.lowercased().hasPrefix("sha256="), let mac = Hex.decode(String(provided.dropFirst(7))), mac.count == 32,
            HMAC<SHA256>.isValidAuthenticationCode(
                mac, authenticating: signedMessage(timestamp: timestamp, body: body), using: SymmetricKey(data: secret))
        else {
            throw unauthorized("The signature does not match.")
        }
    }

    static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, type: "/problems/connector-signature", title: "Bad connector signature", detail: detail)
    }

    // MARK: outbound events

    struct Payload: Codable, Sendable {
        var deliveryID: UUID
    }

    struct EventBody: Codable, Sendable {
        struct CaseInfo: Codable, Sendable {
            var id: String
            var number: String
            var type: String
            var category: String
            var status: String
            var department: String
            var dueAt: String
        }

        var event: String
        var `case`: CaseInfo
        var at: String
    }

    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// Delivery rows and jobs for one case event, for every active outbound connector serving the case's
    /// lead department. Written on `db` (the transaction of the change).
    static func enqueue(
        _ record: CaseRecord, event: String, at: Date, on db: any Database, app: Application, directory: CasesDirectory?
    ) async throws -> [JobQueue.NewJob] {
        guard record.status != .duplicate, let caseID = record.id else { return [] }
        let connectors = try await app.outboundConnectors.get(db: db, now: at).filter { $0.departments.contains(record.departmentID) }
        guard !connectors.isEmpty else { return [] }
        let department: String
        if let directory {
            department = directory.departments[record.departmentID]?.code ?? ""
        } else {
            department = try await app.casesDirectory.get(db: db, now: at).departments[record.departmentID]?.code ?? ""
        }
        let body = EventBody(
            event: event,
            case: .init(
                id: caseID.uuidString.lowercased(), number: record.number, type: record.type.rawValue, category: record.category,
                status: record.status.rawValue, department: department, dueAt: iso(record.resolutionDueAt)),
            at: iso(at))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(body), as: UTF8.self)
        var jobs: [JobQueue.NewJob] = []
        var rows: [CaseConnectorDelivery] = []
        let attempts = app.connectorConfig.maxAttempts
        for connector in connectors {
            let delivery = CaseConnectorDelivery()
            let id = UUID()
            delivery.id = id
            delivery.connectorID = connector.id
            delivery.caseID = caseID
            delivery.event = event
            delivery.payload = json
            delivery.status = "pending"
            delivery.attempts = 0
            delivery.createdAt = at
            rows.append(delivery)
            jobs.append(try JobQueue.NewJob(
                kind: kind, payload: Payload(deliveryID: id), runAt: at, dedupeKey: "cases-connector:\(id.uuidString.lowercased())",
                maxAttempts: attempts))
        }
        try await rows.create(on: db)
        return jobs
    }

    /// New cases (called by the case writer with its batch; the jobs join the batch's jobs).
    static func created(_ records: [CaseRecord], on db: any Database, app: Application) async throws -> [JobQueue.NewJob] {
        guard !records.isEmpty else { return [] }
        let now = app.clock.now()
        guard try await !app.outboundConnectors.get(db: db, now: now).isEmpty else { return [] }
        var jobs: [JobQueue.NewJob] = []
        for record in records { jobs += try await enqueue(record, event: "case.created", at: record.createdAt, on: db, app: app, directory: nil) }
        return jobs
    }

    /// A timeline event was written (called by ``CaseEvents/append``, in the same transaction): status
    /// changes and dispatches of a case whose lead department a connector serves become deliveries.
    static func caseEvent(
        on db: any Database, app: Application, caseID: UUID, action: String, from: CaseStatus?, to: CaseStatus?, at: Date
    ) async throws {
        guard let to, to != .duplicate else { return }
        guard try await !app.outboundConnectors.get(db: db, now: at).isEmpty else { return }
        guard let record = try await CaseRecord.find(caseID, on: db) else { return }
        let event = action == "dispatch" || action == "escalate" ? "case.dispatched" : "case.status_changed"
        guard event == "case.dispatched" || from != to else { return }
        let jobs = try await enqueue(record, event: event, at: at, on: db, app: app, directory: nil)
        if !jobs.isEmpty { try await JobQueue(db: db, clock: app.clock).enqueueNew(jobs) }
    }

    /// The delivery job: POST the event, record the outcome; a failure throws so that the job queue retries
    /// with exponential back-off until the attempts are used up.
    static func run(_ job: Job, app: Application) async throws {
        let payload = try JSONDecoder().decode(Payload.self, from: Data(job.payload.utf8))
        guard let delivery = try await CaseConnectorDelivery.find(payload.deliveryID, on: app.db), delivery.status == "pending" else { return }
        let connector = try await CaseConnector.find(delivery.connectorID, on: app.db)
        guard let connector, connector.isActive, connector.sendsOut, let endpoint = connector.endpoint else {
            delivery.status = "cancelled"
            delivery.lastError = connector == nil ? "the connector was removed" : "the connector is disabled or sends nothing out"
            try await app.db.writeTransaction { tx in try await delivery.save(on: tx) }
            return
        }
        let config = app.connectorConfig
        let now = app.clock.now()
        var statusCode: Int?
        var failure: String?
        do {
            let secret = try secret(of: connector, app: app)
            let body = Data(delivery.payload.utf8)
            let timestamp = String(Int(now.timeIntervalSince1970))
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "User-Agent", value: "Tongban-Connector/1")
            headers.add(name: "X-Tongban-Event", value: delivery.event)
            headers.add(name: "X-Tongban-Delivery", value: payload.deliveryID.uuidString.lowercased())
            headers.add(name: "X-Tongban-Timestamp", value: timestamp)
            headers.add(name: "X-Tongban-Signature", value: signature(secret: secret, timestamp: timestamp, body: body))
            statusCode = try await post(
                endpoint, body: body, headers: headers, allowPrivate: config.allowPrivate || app.casesConfig.mediaAllowPrivate,
                timeout: config.timeoutSeconds)
            if let code = statusCode, !(200..<300).contains(code) { failure = "the endpoint answered HTTP \(code)" }
        } catch let error as CaseMediaFetch.Failure {
            failure = error.description
        } catch {
            failure = "the delivery failed: \(String(describing: error).prefix(200))"
        }
        delivery.attempts += 1
        delivery.lastAttemptAt = now
        delivery.lastStatusCode = statusCode
        if let failure {
            delivery.lastError = String(failure.prefix(500))
            if job.attempts >= job.maxAttempts { delivery.status = "failed" }
        } else {
            delivery.lastError = nil
            delivery.status = "delivered"
            delivery.deliveredAt = now
        }
        try await app.db.writeTransaction { tx in try await delivery.save(on: tx) }
        if let failure { throw CaseMediaFetch.Failure(failure) }
    }

    /// POSTs under the same address guard as the media fetch (only http(s); every address of the host public
    /// unless allowed; plain http connects to the checked address; no redirects; one deadline).
    static func post(_ text: String, body: Data, headers: HTTPHeaders, allowPrivate: Bool, timeout: Double) async throws -> Int {
        typealias Failure = CaseMediaFetch.Failure
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            ["http", "https"].contains(scheme), let rawHost = components.host, !rawHost.isEmpty
        else { throw Failure("not an http or https URL") }
        guard components.user == nil, components.password == nil else { throw Failure("URLs with credentials are not used") }
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        let addresses = try CaseMediaFetch.resolve(host)
        guard let first = addresses.first else { throw Failure("\(host) has no address") }
        if !allowPrivate, let blocked = addresses.first(where: { !CaseMediaFetch.isPublic($0) }) {
            throw Failure("\(host) resolves to \(CaseMediaFetch.format(blocked)), a private or special address; events are not sent there")
        }
        var target = components
        var requestHeaders = headers
        if scheme == "http" {
            target.host = first.count == 16 ? "[\(CaseMediaFetch.format(first))]" : CaseMediaFetch.format(first)
            requestHeaders.add(name: "Host", value: components.port.map { "\(rawHost):\($0)" } ?? rawHost)
        }
        guard let url = target.string else { throw Failure("not an http or https URL") }
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        let limit = TimeAmount.milliseconds(Int64(max(0.1, timeout) * 1000))
        configuration.timeout = .init(connect: limit, read: limit)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers = requestHeaders
            request.body = .bytes(ByteBuffer(data: body))
            let response = try await client.execute(request, timeout: limit)
            // Read (and drop) at most 64 KiB of the answer.
            var read = 0
            for try await chunk in response.body {
                read += chunk.readableBytes
                if read > 64 * 1024 { break }
            }
            try? await client.shutdown()
            return Int(response.status.code)
        } catch {
            try? await client.shutdown()
            if error is Failure { throw error }
            throw Failure("the delivery failed: \(String(describing: error).prefix(200))")
        }
    }

    // MARK: demo

    /// The demo inbound connector `national-supervision` (secret `demo-connector-secret`), filing under the
    /// national supervision platform's task source.
    static func seedDemo(app: Application) async throws {
        let db = app.db
        guard try await CaseConnector.query(on: db).filter(\.$code == demoCode).first() == nil else { return }
        let now = app.clock.now()
        let sources = try await app.casesDirectory.get(db: db, now: now).taskSources.map(\.code)
        let connector = CaseConnector()
        connector.code = demoCode
        connector.name = "国务院“互联网+督查”平台"
        connector.direction = "inbound"
        connector.taskSource = sources.contains("national_system") ? "national_system" : (sources.first ?? "inspection")
        connector.endpoint = nil
        connector.departments = ""
        connector.secretSealed = try seal(demoSecret, app: app)
        connector.status = "active"
        connector.createdAt = now
        connector.updatedAt = now
        try await db.writeTransaction { tx in try await connector.create(on: tx) }
    }
}
