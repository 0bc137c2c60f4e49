import Applications
import Fluent
import SQLKit
import Foundation
import Identity
import NIOConcurrencyHelpers
import TongbanCore
import Vapor

/// Settings of 一证通查 (from the environment at boot; tests replace them).
///
/// - `TONGBAN_LOOKUPS_PER_DAY`: queries per person per day (default 3).
/// - `TONGBAN_LOOKUP_RETRIES`: attempts per provider within its timeout (default 3), with back-off from 50 ms.
/// - `TONGBAN_LOOKUP_BREAKER_THRESHOLD` / `TONGBAN_LOOKUP_BREAKER_SECONDS`: consecutive failures that open a
///   provider's circuit (default 5) and how long it stays open (default 30).
/// - `TONGBAN_LOOKUP_LATE_RETRY_SECONDS`: first delay before a late provider is asked again (default 60), doubling
///   up to `TONGBAN_LOOKUP_LATE_RETRY_MAX_SECONDS` (default 3600), until the 48-hour window ends.
public struct LookupSettings: Sendable {
    public var perDay: Int
    public var attempts: Int
    public var backoff: Duration
    /// How long a late answer is awaited (48 hours).
    public var lateWindow: Duration
    /// First delay before a provider that missed its timeout is asked again (persistent job), doubling each time.
    public var lateRetry: Duration
    /// Longest delay between two late re-asks.
    public var lateRetryMax: Duration
    /// How long one late re-ask may take (shorter than the job lease of 60 s).
    public var lateAttemptTimeout: Duration
    /// Whether the serving process also keeps awaiting the call that missed its timeout (the fast path; the
    /// persistent job is the one that survives a restart). Tests turn it off to act out a restart.
    public var awaitInFlight: Bool

    public init(
        perDay: Int = 3, attempts: Int = 3, backoff: Duration = .milliseconds(50), lateWindow: Duration = .seconds(48 * 3600),
        lateRetry: Duration = .seconds(60), lateRetryMax: Duration = .seconds(3600), lateAttemptTimeout: Duration = .seconds(30),
        awaitInFlight: Bool = true
    ) {
        self.perDay = perDay
        self.attempts = attempts
        self.backoff = backoff
        self.lateWindow = lateWindow
        self.lateRetry = lateRetry
        self.lateRetryMax = lateRetryMax
        self.lateAttemptTimeout = lateAttemptTimeout
        self.awaitInFlight = awaitInFlight
    }

    static func fromEnvironment(_ env: [String: String]) -> LookupSettings {
        var settings = LookupSettings()
        if let value = env["TONGBAN_LOOKUPS_PER_DAY"].flatMap(Int.init), (1...1000).contains(value) { settings.perDay = value }
        if let value = env["TONGBAN_LOOKUP_RETRIES"].flatMap(Int.init), (1...10).contains(value) { settings.attempts = value }
        if let value = env["TONGBAN_LOOKUP_LATE_RETRY_SECONDS"].flatMap(Int.init), (1...86_400).contains(value) {
            settings.lateRetry = .seconds(value)
        }
        if let value = env["TONGBAN_LOOKUP_LATE_RETRY_MAX_SECONDS"].flatMap(Int.init), (1...86_400).contains(value) {
            settings.lateRetryMax = .seconds(value)
        }
        return settings
    }

    /// The delay before late re-ask number `attempt` (1-based): `lateRetry` doubling, at most `lateRetryMax`.
    func lateDelay(attempt: Int) -> TimeInterval {
        let first = Double(lateRetry.components.seconds) + Double(lateRetry.components.attoseconds) / 1e18
        let most = Double(lateRetryMax.components.seconds) + Double(lateRetryMax.components.attoseconds) / 1e18
        return min(most, first * pow(2, Double(min(max(0, attempt - 1), 40))))
    }
}

/// The liveness / face check hook a query must pass (a real deployment plugs in its face-verification service).
/// The default accepts a non-empty `livenessToken`.
public struct LivenessHook: Sendable {
    public var check: @Sendable (_ principal: Principal, _ token: String?) async throws -> Bool

    public init(check: @escaping @Sendable (_ principal: Principal, _ token: String?) async throws -> Bool) { self.check = check }

    public static let development = LivenessHook { _, token in !(token ?? "").isEmpty }
}

extension Application {
    private struct LookupSettingsKey: StorageKey { typealias Value = LookupSettings }
    private struct BreakersKey: StorageKey { typealias Value = CircuitBreakers }
    private struct LivenessKey: StorageKey { typealias Value = LivenessHook }

    public var lookupSettings: LookupSettings {
        get { storage[LookupSettingsKey.self] ?? LookupSettings() }
        set { storage[LookupSettingsKey.self] = newValue }
    }

    public var lookupBreakers: CircuitBreakers {
        get {
            if let breakers = storage[BreakersKey.self] { return breakers }
            let breakers = CircuitBreakers()
            storage[BreakersKey.self] = breakers
            return breakers
        }
        set { storage[BreakersKey.self] = newValue }
    }

    public var livenessHook: LivenessHook {
        get { storage[LivenessKey.self] ?? .development }
        set { storage[LivenessKey.self] = newValue }
    }
}

/// 一证通查: fans a person's query out to every active provider at once, each with its timeout, retries with
/// back-off and a circuit breaker; merges the masked answers; providers that miss their timeout answer later
/// (recorded as `late`), and the person is notified when the last one arrives.
public struct LookupService: Sendable {
    let app: Application
    let db: any Database

    public init(app: Application, db: (any Database)? = nil) {
        self.app = app
        self.db = db ?? app.db
    }

    static let notFound = Problem(.notFound, type: "/problems/lookup-not-found", title: "Lookup not found")

    /// The notification template sent when a query's last late answer is in (Applications' templates).
    public static let completedTemplate = "codes.lookup.complete"

    // MARK: - Registry

    public func register(name: String?, kind: String?, endpoint: String?, credentials: String?, timeoutMs: Int?, principal: Principal)
        async throws -> LookupProvider
    {
        var errors = FieldErrors()
        let label = (name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        errors.check((1...120).contains(label.count), "name", "is required (1–120 characters)")
        let providerKind = ProviderKind(rawValue: kind ?? "")
        errors.check(providerKind != nil, "kind", "must be carrier or reseller")
        let address = endpoint ?? ""
        let scheme = URLComponents(string: address)?.scheme
        errors.check(scheme == "https" || scheme == "http" || scheme == "sim", "endpoint", "must be an http(s):// or sim:// address")
        let timeout = timeoutMs ?? 1000
        errors.check((10...30_000).contains(timeout), "timeoutMs", "must be from 10 to 30000")
        try errors.throwIfAny()
        if try await LookupProvider.query(on: db).filter(\.$name == label).first() != nil {
            throw Problem.conflict("A provider with this name exists.", type: "/problems/provider-exists")
        }
        let provider = LookupProvider()
        provider.name = label
        provider.kind = providerKind ?? .carrier
        provider.endpoint = address
        provider.sealedCredentials = try app.keyVault.seal(Data((credentials ?? "").utf8), purpose: "codes.provider-credentials")
        provider.status = .active
        provider.timeoutMilliseconds = timeout
        provider.createdAt = app.clock.now()
        try await db.writeTransaction { tx in try await provider.create(on: tx) }
        app.activeProviders.invalidate()
        try await app.audit?.record(
            kind: "codes.provider.registered", actor: principal.userID,
            subject: "provider:\(try provider.requireID().uuidString.lowercased())", details: ["name": label, "kind": provider.kind.rawValue])
        return provider
    }

    func client(for provider: LookupProvider) -> any NumberProvider {
        app.activeProviders.client(for: provider) { makeClient(for: provider) }
    }

    func makeClient(for provider: LookupProvider) -> any NumberProvider {
        if let simulated = SimulatedProvider(name: provider.name, endpoint: provider.endpoint) { return simulated }
        let credentials = (try? app.keyVault.open(provider.sealedCredentials, purpose: "codes.provider-credentials"))
            .map { String(decoding: $0, as: UTF8.self) } ?? ""
        return HTTPNumberProvider(client: app.client, endpoint: provider.endpoint, credentials: credentials)
    }

    // MARK: - Queries

    public struct NumberView: Content, Sendable, Equatable {
        public var number: String
        public var provider: String
        public var kind: ProviderKind
    }

    public struct ProviderView: Content, Sendable, Equatable {
        public var provider: String
        public var status: AnswerStatus
        public var attempts: Int
    }

    public struct QueryView: Content, Sendable {
        public var id: UUID
        public var status: String
        public var total: Int
        public var answered: Int
        public var numbers: [NumberView]
        public var pending: [String]
        public var failed: [String]
        public var providers: [ProviderView]
        public var createdAt: Date
        public var completedAt: Date?
        public var notifiedAt: Date?
    }

    static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai") ?? .gmt
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    struct Outcome: Sendable {
        var status: AnswerStatus
        var numbers: [String]
        var attempts: Int
    }

    /// POST /api/v1/codes/lookups: the whole fan-out; answers within the slowest provider's timeout.
    public func query(principal: Principal, livenessToken: String?) async throws -> QueryView {
        guard principal.kind == .person, let person = try await CodePerson.find(principal.userID, on: db), !person.disabled,
            let idNumber = person.idNumber
        else {
            throw Problem(.forbidden, type: "/problems/forbidden", title: "Not allowed", detail: "Only a registered person may query.")
        }
        guard try await app.livenessHook.check(principal, livenessToken) else {
            throw Problem(
                .forbidden, type: "/problems/liveness-required", title: "Liveness check required",
                detail: "Pass the face / liveness check first and send its token as livenessToken.")
        }
        let settings = app.lookupSettings
        let now = app.clock.now()
        let today = Self.day(now)
        let used = try await LookupQuery.query(on: db).filter(\.$userID == principal.userID).filter(\.$day == today).count()
        guard used < settings.perDay else {
            throw Problem(
                .tooManyRequests, type: "/problems/lookup-limit", title: "Daily limit reached",
                detail: "At most \(settings.perDay) queries per day.", headers: ["Retry-After": "3600"])
        }
        let providers = try await app.activeProviders.get(now: now) { [db] in
            try await LookupProvider.query(on: db).filter(\.$status == .active).sort(\.$name).all()
        }
        let query = LookupQuery()
        query.userID = principal.userID
        query.day = today
        query.status = "partial"
        query.providers = providers.count
        query.createdAt = now
        // Through the write gate: on SQLite a bare INSERT would wait for the writer lock while holding a pooled
        // connection that readers need.
        try await db.writeTransaction { tx in try await query.create(on: tx) }
        let queryID = try query.requireID()
        try await app.audit?.record(
            kind: "codes.lookup", actor: principal.userID, subject: "lookup:\(queryID.uuidString.lowercased())",
            details: ["providers": String(providers.count)])

        let breakers = app.lookupBreakers
        // Late answers of this query are recorded only once its rows exist (in-process, no polling).
        let written = OnceSignal()
        // One timer per distinct provider timeout, and one for the late window, shared by every call.
        var deadlines: [Int: SharedDeadline] = [:]
        for provider in providers where deadlines[provider.timeoutMilliseconds] == nil {
            deadlines[provider.timeoutMilliseconds] = SharedDeadline.start(after: .milliseconds(provider.timeoutMilliseconds))
        }
        let window = SharedDeadline.start(after: settings.lateWindow)
        let outcomes = await withTaskGroup(of: (UUID, Outcome).self) { group in
            for provider in providers {
                guard let providerID = provider.id, let deadline = deadlines[provider.timeoutMilliseconds] else { continue }
                let client = self.client(for: provider)
                let timeout = Duration.milliseconds(provider.timeoutMilliseconds)
                group.addTask {
                    (providerID, await self.ask(client, providerID: providerID, queryID: queryID, idNumber: idNumber, timeout: timeout,
                                                settings: settings, breakers: breakers, written: written, deadline: deadline, window: window))
                }
            }
            var all: [UUID: Outcome] = [:]
            for await (id, outcome) in group { all[id] = outcome }
            return all
        }
        for deadline in deadlines.values { deadline.seal() }
        window.seal()
        let answeredAt = app.clock.now()
        let complete = !outcomes.values.contains { $0.status == .pending }
        // Every provider that missed its timeout gets a persistent re-ask job (until the 48-hour window ends),
        // written with the pending rows: a restart loses no late answer.
        let deadline = now.addingTimeInterval(Self.seconds(settings.lateWindow))
        let lateJobs = try outcomes.filter { $0.value.status == .pending }.map { providerID, _ in
            try JobQueue.NewJob(
                kind: Self.lateJob, payload: LatePayload(query: queryID, provider: providerID, attempt: 1, deadline: deadline),
                runAt: min(deadline, answeredAt.addingTimeInterval(settings.lateDelay(attempt: 1))),
                dedupeKey: Self.lateKey(queryID, providerID, attempt: 1), maxAttempts: 3)
        }
        defer { written.fire() }
        try await db.writeTransaction { tx in
            try await JobQueue(db: tx, clock: app.clock).enqueueNew(lateJobs)
            // Multi-row INSERTs in plain SQL (``BulkInsert``): building 135 models per query was a visible share of a lookup.
            let rows = outcomes.map { providerID, outcome in
                (providerID, outcome, (try? JSONText.encode(outcome.numbers.map(Masking.phone))) ?? "[]")
            }
            if let sql = tx as? any SQLDatabase {
                try await BulkInsert.run(
                    into: LookupAnswer.schema, columns: ["id", "query_id", "provider_id", "status", "numbers", "attempts", "answered_at"],
                    rows: rows, on: sql
                ) { providerID, outcome, numbers in
                    [UUID(), queryID, providerID, outcome.status.rawValue, numbers, outcome.attempts, outcome.status == .answered ? answeredAt : nil as Date?]
                }
            } else {
                let answers = rows.map { providerID, outcome, numbers in
                    let answer = LookupAnswer()
                    answer.id = UUID()
                    answer.queryID = queryID
                    answer.providerID = providerID
                    answer.status = outcome.status
                    answer.numbers = numbers
                    answer.attempts = outcome.attempts
                    answer.answeredAt = outcome.status == .answered ? answeredAt : nil
                    return answer
                }
                try await answers.create(on: tx)
            }
            if complete {
                try await LookupQuery.query(on: tx).filter(\.$id == queryID).set(\.$status, to: "complete")
                    .set(\.$completedAt, to: answeredAt).update()
            }
        }
        // The answer as just written (re-reading 135 rows and the providers per query was most of its reads).
        let byID = Dictionary(providers.compactMap { p in p.id.map { ($0, p) } }, uniquingKeysWith: { a, _ in a })
        let answers = outcomes.compactMap { providerID, outcome in
            byID[providerID].map { (provider: $0, status: outcome.status, attempts: outcome.attempts, numbers: outcome.numbers.map(Masking.phone)) }
        }
        return Self.view(
            id: queryID, status: complete ? "complete" : "partial", total: providers.count, answers: answers,
            createdAt: now, completedAt: complete ? answeredAt : nil, notifiedAt: nil)
    }

    /// A query's answer from its providers' answers (numbers already masked).
    static func view(
        id: UUID, status: String, total: Int,
        answers: [(provider: LookupProvider, status: AnswerStatus, attempts: Int, numbers: [String])],
        createdAt: Date, completedAt: Date?, notifiedAt: Date?
    ) -> QueryView {
        var numbers: [NumberView] = []
        var rows: [ProviderView] = []
        for answer in answers {
            rows.append(ProviderView(provider: answer.provider.name, status: answer.status, attempts: answer.attempts))
            for number in answer.numbers {
                numbers.append(NumberView(number: number, provider: answer.provider.name, kind: answer.provider.kind))
            }
        }
        rows.sort { $0.provider < $1.provider }
        numbers.sort { ($0.provider, $0.number) < ($1.provider, $1.number) }
        return QueryView(
            id: id, status: status, total: total,
            answered: rows.filter { $0.status == .answered || $0.status == .late }.count, numbers: numbers,
            pending: rows.filter { $0.status == .pending }.map(\.provider),
            failed: rows.filter { $0.status == .failed || $0.status == .circuitOpen }.map(\.provider), providers: rows,
            createdAt: createdAt, completedAt: completedAt, notifiedAt: notifiedAt)
    }

    /// One provider: attempts with back-off inside its timeout; a call still running at the timeout keeps
    /// running and its answer is recorded later.
    func ask(
        _ client: any NumberProvider, providerID: UUID, queryID: UUID, idNumber: String, timeout: Duration, settings: LookupSettings,
        breakers: CircuitBreakers, written: OnceSignal = OnceSignal(fired: true), deadline shared: SharedDeadline? = nil,
        window sharedWindow: SharedDeadline? = nil
    ) async -> Outcome {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: timeout)
        let deadline = shared ?? SharedDeadline.start(after: timeout)
        defer { if shared == nil { deadline.seal() } }
        var attempts = 0
        var backoff = settings.backoff
        while attempts < settings.attempts {
            guard breakers.allows(providerID, now: app.clock.now()) else {
                return Outcome(status: attempts == 0 ? .circuitOpen : .failed, numbers: [], attempts: attempts)
            }
            attempts += 1
            let call = ProviderCall.start { try await client.numbers(idNumber: idNumber) }
            switch await call.wait(until: deadline) {
            case .success(let numbers)?:
                breakers.success(providerID)
                return Outcome(status: .answered, numbers: numbers, attempts: attempts)
            case .failure?:
                breakers.failure(providerID, now: app.clock.now())
                if clock.now.advanced(by: backoff) >= end { return Outcome(status: .failed, numbers: [], attempts: attempts) }
                try? await Task.sleep(for: backoff)
                backoff = backoff * 2
            case nil:
                // Timed out: the call goes on (its answer is recorded when it comes); the persistent job written
                // with the pending row asks again later if this process forgets the call.
                if settings.awaitInFlight {
                    let window = sharedWindow ?? SharedDeadline.start(after: settings.lateWindow)
                    awaitLate(call, providerID: providerID, queryID: queryID, window: window, written: written)
                    if sharedWindow == nil { window.seal() }
                } else {
                    call.cancel()
                }
                return Outcome(status: .pending, numbers: [], attempts: attempts)
            }
        }
        return Outcome(status: .failed, numbers: [], attempts: attempts)
    }

    /// Awaits the call that missed its timeout in this process and records its answer when it comes. A failure
    /// or no answer records nothing: the persistent re-ask job decides (and fails the provider after the window).
    func awaitLate(_ call: ProviderCall, providerID: UUID, queryID: UUID, window: SharedDeadline, written: OnceSignal) {
        let app = self.app
        let tracker = app.lateAnswers
        tracker.started()
        Task {
            defer { tracker.finished() }
            guard case .success(let numbers)? = await call.wait(until: window) else { return }
            do {
                // Late answers arrive together (every slow provider of every query): one writer commits them in
                // batches instead of one write transaction each.
                await written.wait()
                try await app.lateAnswerWriter.record(LateItem(numbers: numbers, providerID: providerID, queryID: queryID))
            } catch {
                app.logger.warning("late lookup answer not recorded", metadata: ["lookup.id": .string(queryID.uuidString)])
            }
        }
    }

    // MARK: - Late answers (persistent)

    /// Job kind: asks a provider that missed its timeout again, until the late window ends.
    public static let lateJob = "codes.lookup.late"

    /// The re-ask job's payload (no personal data: the ID number is read from the person's account).
    struct LatePayload: Codable, Sendable {
        var query: UUID
        var provider: UUID
        var attempt: Int
        var deadline: Date
    }

    static func lateKey(_ query: UUID, _ provider: UUID, attempt: Int) -> String {
        "codes.late:\(query.uuidString.lowercased()):\(provider.uuidString.lowercased()):\(attempt)"
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The `codes.lookup.late` job handler.
    static func runLateJob(_ job: Job, app: Application) async throws {
        let payload = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: LatePayload.self)
        try await LookupService(app: app).askAgain(payload)
    }

    /// One late re-ask: records the answer; or, once the window has ended, marks the provider failed (which
    /// completes the query when it was the last one pending); otherwise schedules the next re-ask with back-off.
    func askAgain(_ payload: LatePayload) async throws {
        guard let answer = try await LookupAnswer.query(on: db).filter(\.$queryID == payload.query)
            .filter(\.$providerID == payload.provider).first(), answer.status == .pending
        else { return }
        let now = app.clock.now()
        guard now < payload.deadline else {
            try await recordLate([LateItem(numbers: nil, providerID: payload.provider, queryID: payload.query)])
            return
        }
        let settings = app.lookupSettings
        let breakers = app.lookupBreakers
        var numbers: [String]?
        if let provider = try await LookupProvider.find(payload.provider, on: db), provider.status == .active,
            let query = try await LookupQuery.find(payload.query, on: db),
            let idNumber = try await User.find(query.userID, on: db)?.idNumber,
            breakers.allows(payload.provider, now: now)
        {
            let client = self.client(for: provider)
            let call = ProviderCall.start { try await client.numbers(idNumber: idNumber) }
            let deadline = SharedDeadline.start(after: settings.lateAttemptTimeout)
            let outcome = await call.wait(until: deadline)
            deadline.seal()
            switch outcome {
            case .success(let value)?:
                breakers.success(payload.provider)
                numbers = value
            case .failure?:
                breakers.failure(payload.provider, now: app.clock.now())
            case nil:
                call.cancel()
            }
        }
        if let numbers {
            try await recordLate([LateItem(numbers: numbers, providerID: payload.provider, queryID: payload.query)])
            return
        }
        let attempt = payload.attempt + 1
        try await db.writeTransaction { tx in
            try await LookupAnswer.query(on: tx).filter(\.$id == answer.requireID()).set(\.$attempts, to: answer.attempts + 1).update()
            try await JobQueue(db: tx, clock: app.clock).enqueue(
                kind: Self.lateJob, payload: LatePayload(query: payload.query, provider: payload.provider, attempt: attempt, deadline: payload.deadline),
                runAt: min(payload.deadline, app.clock.now().addingTimeInterval(settings.lateDelay(attempt: attempt))),
                dedupeKey: Self.lateKey(payload.query, payload.provider, attempt: attempt), maxAttempts: 3)
        }
    }

    /// One late answer (or, with `numbers` nil, a provider given up on).
    struct LateItem: Sendable {
        var numbers: [String]?
        var providerID: UUID
        var queryID: UUID
    }

    /// Records late answers in ONE write transaction: each still-pending answer takes its outcome; every query
    /// left with no pending provider is completed and its person notified (in-app and SMS), then audited.
    func recordLate(_ items: [LateItem]) async throws {
        guard !items.isEmpty else { return }
        let now = app.clock.now()
        let queryIDs = Array(Set(items.map(\.queryID)))
        let finished = try await db.writeTransaction { tx -> [LookupQuery] in
            let pending = try await LookupAnswer.query(on: tx).filter(\.$queryID ~~ queryIDs).filter(\.$status == .pending).all()
            var byKey: [String: LookupAnswer] = [:]
            for answer in pending { byKey["\(answer.queryID)/\(answer.providerID)"] = answer }
            var touched = Set<UUID>()
            for item in items {
                guard let answer = byKey.removeValue(forKey: "\(item.queryID)/\(item.providerID)") else { continue }
                answer.status = item.numbers == nil ? .failed : .late
                answer.numbers = (try? JSONText.encode((item.numbers ?? []).map(Masking.phone))) ?? "[]"
                answer.answeredAt = item.numbers == nil ? nil : now
                try await answer.update(on: tx)
                touched.insert(item.queryID)
            }
            // Queries whose last pending provider just answered.
            let stillPending = Set(byKey.values.map(\.queryID))
            var done: [LookupQuery] = []
            for queryID in touched where !stillPending.contains(queryID) {
                guard let query = try await LookupQuery.find(queryID, on: tx), query.status != "complete" else { continue }
                query.status = "complete"
                query.completedAt = now
                query.notifiedAt = now
                try await query.update(on: tx)
                // The person is told in-app and by SMS (the Applications notifier: inbox row plus an SMS outbox copy
                // delivered by its job through the pluggable `app.notificationSender`).
                let answers = try await LookupAnswer.query(on: tx).filter(\.$queryID == queryID).all()
                let answered = answers.filter { $0.status == .answered || $0.status == .late }
                let found = answered.reduce(0) { $0 + ((try? JSONText.decode([String].self, $1.numbers))?.count ?? 0) }
                try await Notifier.notify(
                    userID: query.userID, template: Self.completedTemplate,
                    parameters: ["answered": String(answered.count), "total": String(answers.count), "numbers": String(found)],
                    channels: [.inbox, .sms], tx: tx, clock: app.clock)
                done.append(query)
            }
            return done
        }
        for query in finished {
            try await app.audit?.record(
                kind: "codes.lookup.notified", actor: nil, subject: "lookup:\((try? query.requireID())?.uuidString.lowercased() ?? "")",
                details: ["user": query.userID.uuidString.lowercased()])
        }
    }

    /// GET /api/v1/codes/lookups/{id}: the owner only (404 for anyone else).
    public func view(_ id: UUID, principal: Principal) async throws -> QueryView {
        guard let query = try await LookupQuery.find(id, on: db), query.userID == principal.userID else { throw Self.notFound }
        let answers = try await LookupAnswer.query(on: db).filter(\.$queryID == id).all()
        let providers = try await LookupProvider.query(on: db).filter(\.$id ~~ Set(answers.map(\.providerID))).all()
        let byID = Dictionary(providers.compactMap { p in p.id.map { ($0, p) } }, uniquingKeysWith: { a, _ in a })
        let rows = answers.compactMap { answer in
            byID[answer.providerID].map {
                (provider: $0, status: answer.status, attempts: answer.attempts,
                 numbers: (try? JSONText.decode([String].self, answer.numbers)) ?? [])
            }
        }
        return Self.view(
            id: id, status: query.status, total: query.providers, answers: rows,
            createdAt: query.createdAt, completedAt: query.completedAt, notifiedAt: query.notifiedAt)
    }
}

/// The active providers, read at most every `seconds` (every query asks all of them: decoding ~130 rows per
/// query was a large share of a lookup's cost). Registering a provider on this node clears it; other nodes see a
/// new provider within `seconds`.
public final class ActiveProviders: Sendable {
    private let state = NIOLockedValueBox<(providers: [LookupProvider], loadedAt: Date)?>(nil)
    let seconds: TimeInterval

    public init(seconds: TimeInterval = 2) { self.seconds = seconds }

    func get(now: Date, load: () async throws -> [LookupProvider]) async throws -> [LookupProvider] {
        if let cached = state.withLockedValue({ $0 }), now.timeIntervalSince(cached.loadedAt) < seconds, cached.loadedAt <= now {
            return cached.providers
        }
        let providers = try await load()
        state.withLockedValue { $0 = (providers, now) }
        return providers
    }

    public func invalidate() { state.withLockedValue { $0 = nil } }

    /// Provider clients by provider id, kept while the endpoint and sealed credentials stay the same (opening the
    /// sealed credentials and building a client for each of ~130 providers on every query was per-query work).
    private let clients = NIOLockedValueBox<[UUID: (endpoint: String, sealed: String, client: any NumberProvider)]>([:])

    func client(for provider: LookupProvider, make: () -> any NumberProvider) -> any NumberProvider {
        guard let id = provider.id else { return make() }
        if let cached = clients.withLockedValue({ $0[id] }), cached.endpoint == provider.endpoint, cached.sealed == provider.sealedCredentials {
            return cached.client
        }
        let client = make()
        clients.withLockedValue { clients in
            if clients.count >= 10_000 { clients.removeAll() }
            clients[id] = (provider.endpoint, provider.sealedCredentials, client)
        }
        return client
    }
}

extension Application {
    private struct ActiveProvidersKey: StorageKey { typealias Value = ActiveProviders }
    private struct ActiveProvidersLock: LockKey {}

    public var activeProviders: ActiveProviders {
        locks.lock(for: ActiveProvidersLock.self).withLock {
            if let cache = storage[ActiveProvidersKey.self] { return cache }
            let cache = ActiveProviders()
            storage[ActiveProvidersKey.self] = cache
            return cache
        }
    }
}

/// Fires once; `wait()` returns at once after that (late answers wait for their query's rows to be written).
final class OnceSignal: Sendable {
    private let state: NIOLockedValueBox<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>

    init(fired: Bool = false) { state = NIOLockedValueBox((fired, [])) }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { state -> Bool in
                if state.fired { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func fire() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            guard !state.fired else { return [] }
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Counts late-answer tasks still running (tests and shutdown wait for them).
public final class LateAnswers: Sendable {
    let running = NIOLockedValueBox(0)

    public init() {}

    func started() { running.withLockedValue { $0 += 1 } }
    func finished() { running.withLockedValue { $0 -= 1 } }

    public var count: Int { running.withLockedValue { $0 } }
}

extension Application {
    private struct LateAnswersKey: StorageKey { typealias Value = LateAnswers }

    public var lateAnswers: LateAnswers {
        get {
            if let tracker = storage[LateAnswersKey.self] { return tracker }
            let tracker = LateAnswers()
            storage[LateAnswersKey.self] = tracker
            return tracker
        }
        set { storage[LateAnswersKey.self] = newValue }
    }
}
