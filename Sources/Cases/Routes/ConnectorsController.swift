import Fluent
import Foundation
import TongbanCore
import Vapor

/// `/api/v1/cases/connectors/…`: the registry of external supervision systems (system administrators) and
/// the signed endpoints those systems call (inbound tasks, status queries, feedback). See ``CaseConnectors``.
struct ConnectorsController: RouteCollection {
    struct ConnectorRequest: Content {
        var code: String?
        var name: String?
        var direction: String?
        var taskSource: String?
        var endpoint: String?
        var departments: [String]?
        var status: String?
        /// PUT: a new secret, shown once in the answer.
        var rotateSecret: Bool?
    }

    struct ConnectorView: Content {
        var code: String
        var name: String
        var direction: String
        var taskSource: String
        var endpoint: String?
        var departments: [String]
        var status: String
        var createdAt: Date
        var updatedAt: Date
        /// Only when created or rotated: the shared secret, shown once.
        var secret: String?
    }

    struct DeliveryView: Content {
        var id: UUID
        var caseId: UUID
        var event: String
        var status: String
        var attempts: Int
        var lastStatusCode: Int?
        var lastError: String?
        var createdAt: Date
        var lastAttemptAt: Date?
        var deliveredAt: Date?
    }

    struct TaskRequest: Codable, Sendable {
        var externalId: String?
        var category: String?
        var title: String?
        var description: String?
        var department: String?
        var location: CaseService.Location?
        var timeLimitDays: Int?
    }

    struct FeedbackRequest: Codable, Sendable {
        var comment: String?
        var evidence: [String]?
    }

    struct TimelineItem: Content {
        var seq: Int
        var action: String
        var fromStatus: String?
        var toStatus: String?
        var department: String?
        var comment: String?
        var at: Date
    }

    struct TaskView: Content {
        var externalId: String?
        var id: UUID
        var number: String
        var type: String
        var category: String
        var status: String
        var department: String
        var dueAt: Date
        var overdue: Bool
        var timeline: [TimelineItem]?
    }

    static let directions: Set<String> = ["inbound", "outbound", "both"]
    static let statuses: Set<String> = ["active", "disabled"]
    static let bodyLimit: ByteCount = "256kb"

    func boot(routes: any RoutesBuilder) throws {
        let connectors = routes.grouped("api", "v1", "cases", "connectors")
        connectors.post(use: create)
        connectors.get(use: list)
        connectors.get(":code", use: show)
        connectors.put(":code", use: update)
        connectors.delete(":code", use: delete)
        connectors.get(":code", "deliveries", use: deliveries)
        connectors.on(.POST, ":code", "tasks", body: .collect(maxSize: Self.bodyLimit), use: fileTask)
        connectors.on(.GET, ":code", "tasks", ":externalId", use: taskStatus)
        connectors.on(.POST, ":code", "tasks", ":externalId", "feedback", body: .collect(maxSize: Self.bodyLimit), use: taskFeedback)
        connectors.on(.POST, ":code", "cases", ":number", "feedback", body: .collect(maxSize: Self.bodyLimit), use: caseFeedback)
    }

    // MARK: registry

    static func requireAdmin(_ req: Request) throws -> Principal {
        let principal = try req.requirePrincipal()
        guard principal.isSystemAdmin else { throw Problem.forbidden }
        return principal
    }

    static func find(_ req: Request) async throws -> CaseConnector {
        guard let code = req.parameters.get("code"),
            let connector = try await CaseConnector.query(on: req.db).filter(\.$code == code).first()
        else { throw Problem.notFound("Connector", type: "/problems/connector-not-found") }
        return connector
    }

    static func view(_ connector: CaseConnector, _ directory: CasesDirectory, secret: String? = nil) -> ConnectorView {
        ConnectorView(
            code: connector.code, name: connector.name, direction: connector.direction, taskSource: connector.taskSource,
            endpoint: connector.endpoint, departments: connector.departmentIDs.map { directory.departments[$0]?.code ?? $0.uuidString.lowercased() },
            status: connector.status, createdAt: connector.createdAt, updatedAt: connector.updatedAt, secret: secret)
    }

    /// Validates the merged fields into `connector`; throws 422 naming every bad field.
    static func apply(_ input: ConnectorRequest, to connector: CaseConnector, creating: Bool, directory: CasesDirectory) throws {
        var errors = FieldErrors()
        if creating {
            let code = input.code ?? ""
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_")
            if code.isEmpty {
                errors.add("code", "is required")
            } else if code.count > 64 || !code.allSatisfy({ allowed.contains($0) }) || code.first == "-" || code.first == "_" {
                errors.add("code", "must be 1–64 lower-case letters, digits, '-' or '_', starting with a letter or digit")
            }
            connector.code = code
        } else if let code = input.code, code != connector.code {
            errors.add("code", "cannot be changed")
        }
        if let name = input.name?.trimmingCharacters(in: .whitespacesAndNewlines) { connector.name = name }
        if connector.name.isEmpty { errors.add("name", "is required") } else if connector.name.count > 100 { errors.add("name", "must be at most 100 characters") }
        if let direction = input.direction { connector.direction = direction }
        if connector.direction.isEmpty {
            errors.add("direction", "is required (inbound, outbound or both)")
        } else if !directions.contains(connector.direction) {
            errors.add("direction", "must be inbound, outbound or both")
        }
        if let source = input.taskSource { connector.taskSource = source }
        let sources = directory.taskSources.map(\.code)
        if connector.taskSource.isEmpty {
            errors.add("taskSource", "is required: one of \(sources.joined(separator: ", "))")
        } else if !sources.contains(connector.taskSource) {
            errors.add("taskSource", "must be a task source: \(sources.joined(separator: ", "))")
        }
        if let endpoint = input.endpoint {
            let trimmed = endpoint.trimmingCharacters(in: .whitespaces)
            connector.endpoint = trimmed.isEmpty ? nil : trimmed
        }
        if let departments = input.departments {
            var ids: [UUID] = []
            for (index, reference) in departments.enumerated() {
                if let id = CaseService.department(reference, in: directory) {
                    if !ids.contains(id) { ids.append(id) }
                } else {
                    errors.add("departments[\(index)]", "does not name a department")
                }
            }
            connector.departments = ids.map { $0.uuidString }.joined(separator: ",")
        }
        if let endpoint = connector.endpoint {
            let components = URLComponents(string: endpoint)
            let scheme = components?.scheme?.lowercased()
            if endpoint.count > 1000 || components?.host?.isEmpty != false || !(scheme == "http" || scheme == "https") {
                errors.add("endpoint", "must be an http or https URL of at most 1000 characters")
            } else if components?.user != nil || components?.password != nil {
                errors.add("endpoint", "must not hold credentials (the events are signed with the shared secret)")
            }
        }
        if connector.sendsOut {
            if connector.endpoint == nil { errors.add("endpoint", "is required for an outbound connector") }
            if connector.departmentIDs.isEmpty && !errors.errors.contains(where: { $0.field.hasPrefix("departments[") }) {
                errors.add("departments", "is required for an outbound connector: the departments whose cases it receives")
            }
        }
        if let status = input.status { connector.status = status }
        if !statuses.contains(connector.status) { errors.add("status", "must be active or disabled") }
        try errors.throwIfAny()
    }

    /// POST /api/v1/cases/connectors — system administrators. 201 with the secret (shown once); 409 when the code exists.
    @Sendable func create(req: Request) async throws -> Response {
        let principal = try Self.requireAdmin(req)
        let input = try req.content.decode(ConnectorRequest.self)
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let connector = CaseConnector()
        connector.name = ""
        connector.direction = ""
        connector.taskSource = ""
        connector.endpoint = nil
        connector.departments = ""
        connector.status = "active"
        try Self.apply(input, to: connector, creating: true, directory: directory)
        let secret = CaseConnectors.newSecret()
        connector.secretSealed = try CaseConnectors.seal(secret, app: req.application)
        connector.createdAt = req.now
        connector.updatedAt = req.now
        let exists = Problem.conflict("A connector with the code '\(connector.code)' exists.", type: "/problems/connector-exists")
        do {
            try await req.db.writeTransaction { tx in
                guard try await CaseConnector.query(on: tx).filter(\.$code == connector.code).first() == nil else { throw exists }
                try await connector.create(on: tx)
            }
        } catch {
            if (error as? any DatabaseError)?.isConstraintFailure == true { throw exists }
            throw error
        }
        req.application.outboundConnectors.invalidate()
        try await Self.audit(req, "cases.connector.created", principal, connector)
        let response = Response(status: .created)
        try response.content.encode(Self.view(connector, directory, secret: secret))
        response.headers.replaceOrAdd(name: .location, value: "/api/v1/cases/connectors/\(connector.code)")
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }

    /// GET /api/v1/cases/connectors — system administrators.
    @Sendable func list(req: Request) async throws -> CursorPage<ConnectorView> {
        _ = try Self.requireAdmin(req)
        let paging = try Paging(from: req)
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let rows = try await CaseConnector.query(on: req.db).sort(\.$code).offset(paging.offset).limit(paging.limit + 1).all()
        return paging.page(rows.map { Self.view($0, directory) })
    }

    /// GET /api/v1/cases/connectors/{code} — system administrators.
    @Sendable func show(req: Request) async throws -> ConnectorView {
        _ = try Self.requireAdmin(req)
        let connector = try await Self.find(req)
        return Self.view(connector, try await req.application.casesDirectory.get(db: req.db, now: req.now))
    }

    /// PUT /api/v1/cases/connectors/{code} — system administrators; the fields given change;
    /// `"rotateSecret": true` issues a new secret (shown once).
    @Sendable func update(req: Request) async throws -> Response {
        let principal = try Self.requireAdmin(req)
        let connector = try await Self.find(req)
        let input = try req.content.decode(ConnectorRequest.self)
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        try Self.apply(input, to: connector, creating: false, directory: directory)
        var secret: String?
        if input.rotateSecret == true {
            let fresh = CaseConnectors.newSecret()
            connector.secretSealed = try CaseConnectors.seal(fresh, app: req.application)
            secret = fresh
        }
        connector.updatedAt = req.now
        try await req.db.writeTransaction { tx in try await connector.save(on: tx) }
        req.application.outboundConnectors.invalidate()
        try await Self.audit(req, "cases.connector.updated", principal, connector, extra: secret == nil ? [:] : ["secret": "rotated"])
        let response = Response(status: .ok)
        try response.content.encode(Self.view(connector, directory, secret: secret))
        if secret != nil { response.headers.replaceOrAdd(name: .cacheControl, value: "no-store") }
        return response
    }

    /// DELETE /api/v1/cases/connectors/{code} — system administrators. 204; pending deliveries are cancelled
    /// when their jobs run; cases and the delivery history stay.
    @Sendable func delete(req: Request) async throws -> HTTPStatus {
        let principal = try Self.requireAdmin(req)
        let connector = try await Self.find(req)
        try await req.db.writeTransaction { tx in try await connector.delete(on: tx) }
        req.application.outboundConnectors.invalidate()
        try await Self.audit(req, "cases.connector.deleted", principal, connector)
        return .noContent
    }

    /// GET /api/v1/cases/connectors/{code}/deliveries — system administrators; newest first; `?status=`, paging.
    @Sendable func deliveries(req: Request) async throws -> CursorPage<DeliveryView> {
        _ = try Self.requireAdmin(req)
        let connector = try await Self.find(req)
        let paging = try Paging(from: req)
        let query = CaseConnectorDelivery.query(on: req.db).filter(\.$connectorID == (try connector.requireID()))
        if let status = req.query[String.self, at: "status"] {
            guard ["pending", "delivered", "failed", "cancelled"].contains(status) else {
                throw Problem.validation([FieldError(field: "status", message: "must be pending, delivered, failed or cancelled")])
            }
            query.filter(\.$status == status)
        }
        let rows = try await query.sort(\.$createdAt, .descending).sort(\.$id).offset(paging.offset).limit(paging.limit + 1).all()
        return paging.page(rows.map {
            DeliveryView(
                id: $0.id ?? UUID(), caseId: $0.caseID, event: $0.event, status: $0.status, attempts: $0.attempts,
                lastStatusCode: $0.lastStatusCode, lastError: $0.lastError, createdAt: $0.createdAt, lastAttemptAt: $0.lastAttemptAt,
                deliveredAt: $0.deliveredAt)
        })
    }

    static func audit(
        _ req: Request, _ kind: String, _ principal: Principal, _ connector: CaseConnector, extra: [String: String] = [:]
    ) async throws {
        var details = [
            "code": connector.code, "direction": connector.direction, "status": connector.status, "taskSource": connector.taskSource,
        ]
        if let endpoint = connector.endpoint { details["endpoint"] = String(endpoint.prefix(300)) }
        for (key, value) in extra { details[key] = value }
        try await req.application.audit?.record(kind: kind, actor: principal.userID, subject: "connector:\(connector.code)", details: details)
    }

    // MARK: signed endpoints

    /// The connector named in the path with a good signature over the raw body; 404, 401.
    static func authenticate(_ req: Request) async throws -> (CaseConnector, Data) {
        let connector = try await find(req)
        let body = Data(req.body.data.map { Array($0.readableBytesView) } ?? [])
        let secret = try CaseConnectors.secret(of: connector, app: req.application)
        try CaseConnectors.verify(
            secret: secret, timestamp: req.headers.first(name: "X-Tongban-Timestamp"),
            signature: req.headers.first(name: "X-Tongban-Signature"), body: body, now: req.now)
        guard connector.isActive else {
            throw Problem(
                .forbidden, type: "/problems/connector-disabled", title: "Connector disabled",
                detail: "The connector '\(connector.code)' is disabled.")
        }
        return (connector, body)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body.isEmpty ? Data("{}".utf8) : body)
        } catch {
            throw Problem.badRequest("The body is not the expected JSON object.")
        }
    }

    static func taskView(_ record: CaseRecord, externalID: String?, directory: CasesDirectory, events: [CaseEvent]?) -> TaskView {
        TaskView(
            externalId: externalID, id: record.id ?? UUID(), number: record.number, type: record.type.rawValue, category: record.category,
            status: record.status.rawValue, department: directory.departments[record.departmentID]?.code ?? "",
            dueAt: record.resolutionDueAt, overdue: record.overdue,
            timeline: events?.map {
                TimelineItem(
                    seq: $0.seq, action: $0.action, fromStatus: $0.fromStatus, toStatus: $0.toStatus,
                    department: $0.departmentID.flatMap { id in directory.departments[id]?.code }, comment: $0.comment, at: $0.at)
            })
    }

    /// POST /api/v1/cases/connectors/{code}/tasks — signed. 201 with the new supervision task; 200 with the
    /// same case when the external id was filed before; 401, 403, 404, 422.
    @Sendable func fileTask(req: Request) async throws -> Response {
        let (connector, body) = try await Self.authenticate(req)
        guard connector.direction != "outbound" else {
            throw Problem(
                .forbidden, type: "/problems/connector-direction", title: "Connector does not file tasks",
                detail: "The connector '\(connector.code)' is outbound only.")
        }
        let input = try Self.decode(TaskRequest.self, body)
        let connectorID = try connector.requireID()
        let externalID = input.externalId?.trimmingCharacters(in: .whitespaces) ?? ""
        var errors = FieldErrors()
        if externalID.isEmpty { errors.add("externalId", "is required") } else if externalID.count > 128 { errors.add("externalId", "must be at most 128 characters") }
        if let title = input.title { errors.check(title.count <= 200, "title", "must be at most 200 characters") }
        try errors.throwIfAny()
        let app = req.application
        let directory = try await app.casesDirectory.get(db: req.db, now: req.now)
        func existing(on db: any Database) async throws -> CaseRecord? {
            guard let link = try await CaseConnectorTask.query(on: db).filter(\.$connectorID == connectorID)
                .filter(\.$externalID == externalID).first()
            else { return nil }
            return try await CaseRecord.find(link.caseID, on: db)
        }
        func answer(_ record: CaseRecord, _ status: HTTPStatus) throws -> Response {
            let response = Response(status: status)
            try response.content.encode(Self.taskView(record, externalID: externalID, directory: directory, events: nil))
            response.headers.replaceOrAdd(name: .location, value: "/api/v1/cases/connectors/\(connector.code)/tasks/\(externalID)")
            return response
        }
        if let record = try await existing(on: req.db) { return try answer(record, .ok) }
        let create = CaseService.CreateRequest(
            type: CaseType.supervision.rawValue, category: input.category, description: input.description, location: input.location,
            subtype: connector.taskSource, title: input.title, department: input.department, timeLimitDays: input.timeLimitDays)
        let now = req.now
        do {
            let record = try await req.db.writeTransaction { tx -> CaseRecord in
                let record = try await CaseService(app: app, db: tx).create(create, principal: nil, forcedChannel: .staff, grouped: false)
                let link = CaseConnectorTask()
                link.connectorID = connectorID
                link.externalID = externalID
                link.caseID = try record.requireID()
                link.createdAt = now
                try await link.create(on: tx)
                try await CaseEvents(app: app).append(
                    on: tx, caseID: link.caseID, action: "connector_filed", actor: nil, department: nil, from: nil, to: nil,
                    comment: connector.name, details: ["connector": connector.code, "externalId": externalID], at: now)
                return record
            }
            try await app.audit?.record(
                kind: "cases.connector.task", actor: nil, subject: "case:\(record.number)",
                details: ["connector": connector.code, "externalId": externalID])
            return try answer(record, .created)
        } catch {
            // The same external id filed concurrently: the first one won.
            guard (error as? any DatabaseError)?.isConstraintFailure == true, let record = try await existing(on: req.db) else { throw error }
            return try answer(record, .ok)
        }
    }

    static func linkedCase(_ req: Request, _ connector: CaseConnector) async throws -> (CaseRecord, String) {
        guard let externalID = req.parameters.get("externalId"),
            let link = try await CaseConnectorTask.query(on: req.db).filter(\.$connectorID == (try connector.requireID()))
                .filter(\.$externalID == externalID).first(),
            let record = try await CaseRecord.find(link.caseID, on: req.db)
        else { throw Problem.notFound("Task", type: "/problems/connector-task-not-found") }
        return (record, externalID)
    }

    /// GET /api/v1/cases/connectors/{code}/tasks/{externalId} — signed (empty body): status and timeline.
    @Sendable func taskStatus(req: Request) async throws -> TaskView {
        let (connector, _) = try await Self.authenticate(req)
        let (record, externalID) = try await Self.linkedCase(req, connector)
        let directory = try await req.application.casesDirectory.get(db: req.db, now: req.now)
        let events = try await CaseEvent.query(on: req.db).filter(\.$caseID == (try record.requireID())).sort(\.$seq).all()
        return Self.taskView(record, externalID: externalID, directory: directory, events: events)
    }

    /// POST /api/v1/cases/connectors/{code}/tasks/{externalId}/feedback — signed.
    @Sendable func taskFeedback(req: Request) async throws -> TaskView {
        let (connector, body) = try await Self.authenticate(req)
        let (record, externalID) = try await Self.linkedCase(req, connector)
        return try await feedback(req, connector, record, externalID: externalID, body: body)
    }

    /// POST /api/v1/cases/connectors/{code}/cases/{number}/feedback — signed.
    @Sendable func caseFeedback(req: Request) async throws -> TaskView {
        let (connector, body) = try await Self.authenticate(req)
        guard let number = req.parameters.get("number"),
            let record = try await CaseRecord.query(on: req.db).filter(\.$number == number).first()
        else { throw Problem.notFound("Case", type: "/problems/case-not-found") }
        let link = try await CaseConnectorTask.query(on: req.db).filter(\.$connectorID == (try connector.requireID()))
            .filter(\.$caseID == (try record.requireID())).first()
        return try await feedback(req, connector, record, externalID: link?.externalID, body: body)
    }

    /// The case's `feedback` action as the department the connector serves (the lead, else a co-handler).
    /// A case still waiting in `dispatched` is accepted first (the external system received it); any other
    /// state follows the state machine (409 out of order).
    func feedback(_ req: Request, _ connector: CaseConnector, _ record: CaseRecord, externalID: String?, body: Data) async throws -> TaskView {
        let input = try Self.decode(FeedbackRequest.self, body)
        let served = Set(connector.departmentIDs)
        guard let department = served.contains(record.departmentID)
            ? record.departmentID : record.coHandlerIDs.first(where: { served.contains($0) })
        else {
            // Cases elsewhere are not the connector's to see.
            throw Problem.notFound("Case", type: "/problems/case-not-found")
        }
        let app = req.application
        let principal = Principal(
            userID: try connector.requireID(), username: "connector:\(connector.code)", kind: .staff,
            grants: [RoleGrant(departmentID: department, role: .clerk)])
        let caseID = try record.requireID()
        if (input.comment ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw Problem.validation([FieldError(field: "comment", message: "is required: the result of the handling")])
        }
        let updated = try await req.db.writeTransaction { tx -> CaseRecord in
            let actions = CaseActions(app: app, db: tx)
            if record.status == .dispatched && department == record.departmentID {
                _ = try await actions.perform(
                    caseID: caseID, CaseActions.ActionRequest(action: "accept", comment: "received by \(connector.name)"), principal: principal)
            }
            return try await actions.perform(
                caseID: caseID, CaseActions.ActionRequest(action: "feedback", comment: input.comment, evidence: input.evidence),
                principal: principal)
        }
        let directory = try await app.casesDirectory.get(db: req.db, now: req.now)
        let events = try await CaseEvent.query(on: req.db).filter(\.$caseID == caseID).sort(\.$seq).all()
        return Self.taskView(updated, externalID: externalID, directory: directory, events: events)
    }

    // MARK: documentation

    static func document(_ docs: APIDocumentation) {
        let connector = Schema.object([
            "code": Schema.string, "name": Schema.string, "direction": Schema.string, "taskSource": Schema.string,
            "endpoint": Schema.string, "departments": Schema.array(Schema.string), "status": Schema.string,
            "createdAt": Schema.dateTime, "updatedAt": Schema.dateTime, "secret": Schema.string,
        ])
        let request = Schema.object([
            "code": Schema.string, "name": Schema.string, "direction": Schema.string, "taskSource": Schema.string,
            "endpoint": Schema.string, "departments": Schema.array(Schema.string), "status": Schema.string,
            "rotateSecret": Schema.boolean,
        ])
        let task = Schema.object([
            "externalId": Schema.string, "id": Schema.uuid, "number": Schema.string, "type": Schema.string,
            "category": Schema.string, "status": Schema.string, "department": Schema.string, "dueAt": Schema.dateTime,
            "overdue": Schema.boolean,
            "timeline": Schema.array(Schema.object([
                "seq": Schema.integer, "action": Schema.string, "fromStatus": Schema.string, "toStatus": Schema.string,
                "department": Schema.string, "comment": Schema.string, "at": Schema.dateTime,
            ])),
        ])
        docs.add(APIOperation(
            .POST, "/api/v1/cases/connectors", summary: "Register an external supervision system (system administrators); the secret is shown once",
            tag: "cases", requiresAuth: true, request: request, response: connector, success: 201, problems: [400, 401, 403, 409, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/connectors", summary: "The registered external systems (system administrators)", tag: "cases",
            requiresAuth: true, response: Schema.page(of: connector), problems: [401, 403, 422], query: ["limit", "cursor"]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/connectors/{code}", summary: "One connector (system administrators)", tag: "cases",
            requiresAuth: true, response: connector, problems: [401, 403, 404]))
        docs.add(APIOperation(
            .PUT, "/api/v1/cases/connectors/{code}", summary: "Change a connector; rotateSecret issues a new secret (system administrators)",
            tag: "cases", requiresAuth: true, request: request, response: connector, problems: [400, 401, 403, 404, 422]))
        docs.add(APIOperation(
            .DELETE, "/api/v1/cases/connectors/{code}", summary: "Remove a connector (system administrators)", tag: "cases",
            requiresAuth: true, success: 204, problems: [401, 403, 404]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/connectors/{code}/deliveries", summary: "Outbound event deliveries, newest first (system administrators)",
            tag: "cases", requiresAuth: true,
            response: Schema.page(of: Schema.object([
                "id": Schema.uuid, "caseId": Schema.uuid, "event": Schema.string, "status": Schema.string, "attempts": Schema.integer,
                "lastStatusCode": Schema.integer, "lastError": Schema.string, "createdAt": Schema.dateTime,
                "lastAttemptAt": Schema.dateTime, "deliveredAt": Schema.dateTime,
            ])),
            problems: [401, 403, 404, 422], query: ["status", "limit", "cursor"]))
        docs.add(APIOperation(
            .POST, "/api/v1/cases/connectors/{code}/tasks",
            summary: "An external system files a supervision task (X-Tongban-Timestamp, X-Tongban-Signature: sha256=HMAC(secret, timestamp.body)); 200 on a repeated externalId",
            tag: "cases",
            request: Schema.object([
                "externalId": Schema.string, "category": Schema.string, "title": Schema.string, "description": Schema.string,
                "department": Schema.string, "location": Schema.object(["lat": Schema.number, "lon": Schema.number]),
                "timeLimitDays": Schema.integer,
            ], required: ["externalId", "category", "description"]),
            response: task, success: 201, problems: [400, 401, 403, 404, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/cases/connectors/{code}/tasks/{externalId}", summary: "Status and timeline of a task the system filed (signed, empty body)",
            tag: "cases", response: task, problems: [401, 403, 404]))
        for path in ["/api/v1/cases/connectors/{code}/tasks/{externalId}/feedback", "/api/v1/cases/connectors/{code}/cases/{number}/feedback"] {
            docs.add(APIOperation(
                .POST, path, summary: "Feedback from the external system as the department it serves (signed); accepts a dispatched case first",
                tag: "cases", request: Schema.object(["comment": Schema.string, "evidence": Schema.array(Schema.string)], required: ["comment"]),
                response: task, problems: [400, 401, 403, 404, 409, 422]))
        }
    }
}
