import Fluent
import Foundation
import Identity
import SQLKit
import TongbanCore

/// Filters of a catalogue search.
public struct ServiceSearch: Sendable, Equatable {
    public var text: String?
    public var zone: String?
    public var departmentID: UUID?
    public var audience: Audience?
    public var category: ServiceCategory?

    public init(text: String? = nil, zone: String? = nil, departmentID: UUID? = nil, audience: Audience? = nil,
                category: ServiceCategory? = nil) {
        self.text = text
        self.zone = zone
        self.departmentID = departmentID
        self.audience = audience
        self.category = category
    }
}

/// The service catalogue: create, update, publish, search. Other modules read services through it.
public struct CatalogueService: Sendable {
    let db: any Database
    let clock: TongbanClock

    public init(db: any Database, clock: TongbanClock) {
        self.db = db
        self.clock = clock
    }

    var isSQLite: Bool { (db as? any SQLDatabase)?.dialect.name == "sqlite" }

    // MARK: Reading

    /// A service by id. Unpublished services are visible only to staff who may edit them (404 otherwise).
    public func service(_ id: UUID, viewer: Principal?) async throws -> ServiceItem {
        guard let item = try await ServiceItem.find(id, on: db) else {
            throw Problem.notFound("Service", type: "/problems/service-not-found")
        }
        if !item.published && !(viewer.map { Self.mayEdit($0, departmentID: item.departmentID) } ?? false) {
            throw Problem.notFound("Service", type: "/problems/service-not-found")
        }
        return item
    }

    /// Published services matching `search`, most relevant first (name matches, then popularity), as
    /// summary rows (one query; the guide's large JSON columns are not read).
    public func search(_ search: ServiceSearch, page: Paging, includeUnpublished: Bool = false) async throws
        -> [ServiceRow]
    {
        guard let sql = db as? any SQLDatabase else { return [] }
        var select = sql.select().from(SQLAlias(SQLIdentifier(ServiceItem.schema), as: SQLIdentifier("s")))
        for column in ServiceRow.columns { select = select.column(SQLColumn(column, table: "s")) }
        if !includeUnpublished { select = select.where(SQLColumn("published", table: "s"), .equal, SQLBind(true)) }
        if let zone = search.zone {
            select = select.where(
                SQLColumn("id", table: "s"), .in,
                SQLGroupExpression(
                    sql.select().column("service_id").from(ServiceZone.schema).where("zone_code", .equal, SQLBind(zone)).query
                ))
        }
        if let department = search.departmentID {
            select = select.where(SQLColumn("department_id", table: "s"), .equal, SQLBind(department))
        }
        if let audience = search.audience {
            select = select.where(
                SQLColumn(audience == .person ? "for_persons" : "for_enterprises", table: "s"), .equal, SQLBind(true))
        }
        if let category = search.category {
            select = select.where(SQLColumn("category", table: "s"), .equal, SQLBind(category.rawValue))
        }
        let terms = Self.terms(search.text)
        var order: [any SQLExpression] = []
        if !terms.isEmpty {
            if isSQLite {
                var inner = sql.select().column("service_id").from("catalogue_services_fts")
                for term in terms {
                    inner = inner.where(SQLIdentifier("body"), .like, SQLBind(Self.likePattern(term)))
                }
                select = select.where(SQLColumn("id", table: "s"), .in, SQLGroupExpression(inner.query))
            } else {
                for term in terms {
                    select = select.where(
                        SQLColumn("search_text", table: "s"), SQLRaw("ILIKE"), SQLBind(Self.likePattern(term)))
                }
            }
            let nameMatch = SQLQueryString(
                "CASE WHEN s.name LIKE \(bind: Self.likePattern(terms[0])) THEN 0 ELSE 1 END")
            order.append(nameMatch)
        }
        for expression in order { select = select.orderBy(expression) }
        select = select.orderBy(SQLOrderBy(expression: SQLColumn("popularity", table: "s"), direction: SQLDirection.descending))
            .orderBy(SQLColumn("code", table: "s"))
        select = select.limit(page.limit + 1).offset(page.offset)
        return try await select.all().map { try ServiceRow(row: $0) }
    }

    /// Splits a query into at most 5 terms of at most 50 characters.
    static func terms(_ text: String?) -> [String] {
        guard let text else { return [] }
        // LIKE wildcards and the escape character separate terms, so patterns never need escaping.
        return text.split(whereSeparator: { $0.isWhitespace || $0 == "%" || $0 == "_" || $0 == "\\" }).map { String($0.prefix(50)) }.filter { !$0.isEmpty }
            .prefix(5).map { $0 }
    }

    /// `%term%` (terms never contain wildcards, see ``terms(_:)``).
    static func likePattern(_ term: String) -> String { "%" + term + "%" }

    public func popular(limit: Int) async throws -> [ServiceRow] {
        try await search(ServiceSearch(), page: Paging(limit: limit - 1, offset: 0))
    }

    public func zones() async throws -> [Zone] {
        try await Zone.query(on: db).sort(\.$kind).sort(\.$sortOrder).all()
    }

    /// Published services per zone code.
    public func zoneCounts() async throws -> [String: Int] {
        guard let sql = db as? any SQLDatabase else { return [:] }
        let rows = try await sql.select().column(SQLAlias(SQLColumn("zone_code", table: "z"), as: SQLIdentifier("code"))).column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n")
            .from(SQLAlias(SQLIdentifier(ServiceZone.schema), as: SQLIdentifier("z")))
            .join(SQLAlias(SQLIdentifier(ServiceItem.schema), as: SQLIdentifier("s")), on: SQLColumn("id", table: "s"), .equal, SQLColumn("service_id", table: "z"))
            .where(SQLColumn("published", table: "s"), .equal, SQLBind(true))
            .groupBy(SQLColumn("zone_code", table: "z"))
            .all()
        var counts: [String: Int] = [:]
        for row in rows {
            counts[try row.decode(column: "code", as: String.self)] = try row.decode(column: "n", as: Int.self)
        }
        return counts
    }

    // MARK: Editing

    /// Whether `principal` may edit services of `departmentID` (system admin, or department admin there).
    public static func mayEdit(_ principal: Principal, departmentID: UUID) -> Bool {
        principal.isSystemAdmin || principal.has(.departmentAdmin, in: departmentID)
    }

    /// Creates an unpublished service (version 1).
    public func create(_ input: ServiceInput, actor: Principal?) async throws -> ServiceItem {
        let (department, regionID) = try await validate(input, existing: nil)
        if let actor, !Self.mayEdit(actor, departmentID: department.id) { throw Problem.forbidden }
        let item = ServiceItem()
        apply(input, department: department, regionID: regionID, to: item)
        item.version = 1
        item.published = false
        return try await save(item, isNew: true)
    }

    /// Replaces the content of a service and increments its version.
    public func update(_ id: UUID, _ input: ServiceInput, actor: Principal) async throws -> ServiceItem {
        let item = try await service(id, viewer: actor)
        guard Self.mayEdit(actor, departmentID: item.departmentID) else { throw Problem.forbidden }
        let (department, regionID) = try await validate(input, existing: item)
        guard Self.mayEdit(actor, departmentID: department.id) else { throw Problem.forbidden }
        apply(input, department: department, regionID: regionID, to: item)
        item.version += 1
        return try await save(item, isNew: false)
    }

    /// Publishes or withdraws a service.
    public func setPublished(_ id: UUID, _ published: Bool, actor: Principal?) async throws -> ServiceItem {
        let item: ServiceItem
        if let actor {
            item = try await service(id, viewer: actor)
            guard Self.mayEdit(actor, departmentID: item.departmentID) else { throw Problem.forbidden }
        } else {
            guard let found = try await ServiceItem.find(id, on: db) else { throw Problem.notFound("Service") }
            item = found
        }
        if item.published != published {
            item.published = published
            item.publishedAt = published ? clock.now() : item.publishedAt
            try await item.save(on: db)
        }
        return item
    }

    func validate(_ input: ServiceInput, existing: ServiceItem?) async throws -> (DepartmentInfo, UUID) {
        var errors = FieldErrors()
        for error in input.staticErrors() { errors.add(error.field, error.message) }
        let directory = DirectoryService(db: db)
        var department: DepartmentInfo?
        if let ref = input.department, !ref.isEmpty {
            if let id = UUID(uuidString: ref) {
                department = try await directory.department(id: id)
            } else {
                department = try await directory.department(code: ref)
            }
            if department == nil { errors.add("department", "does not name a department") }
        }
        var regionID = department?.regionId
        if let ref = input.region, !ref.isEmpty {
            let region: RegionInfo?
            if let id = UUID(uuidString: ref) {
                region = try await directory.region(id: id)
            } else {
                region = try await directory.region(code: ref)
            }
            if let region { regionID = region.id } else { errors.add("region", "does not name a region") }
        }
        let zoneCodes = input.zones ?? []
        if !zoneCodes.isEmpty {
            let known = Set(try await Zone.query(on: db).filter(\.$code ~~ zoneCodes).all().map(\.code))
            for (index, code) in zoneCodes.enumerated() where !known.contains(code) {
                errors.add("zones[\(index)]", "does not name a zone")
            }
        }
        if let code = input.code, code != existing?.code,
            try await ServiceItem.query(on: db).filter(\.$code == code).first() != nil
        {
            errors.add("code", "is already used by another service")
        }
        try errors.throwIfAny()
        guard let department, let regionID else { throw Problem.validation([FieldError(field: "department", message: "is required")]) }
        return (department, regionID)
    }

    func apply(_ input: ServiceInput, department: DepartmentInfo, regionID: UUID, to item: ServiceItem) {
        item.code = input.code ?? item.code
        item.name = (input.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        item.nameEn = (input.nameEn ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        item.departmentID = department.id
        item.regionID = regionID
        item.category = input.category ?? .publicService
        let audience = Set(input.audience ?? [.person])
        item.forPersons = audience.contains(.person)
        item.forEnterprises = audience.contains(.enterprise)
        item.caseKind = input.caseKind ?? .promised
        item.statutoryDays = input.statutoryDays ?? 0
        item.promisedDays = input.promisedDays ?? 0
        item.feeYuan = input.feeYuan ?? 0
        item.feeNote = input.feeNote ?? ""
        item.feeNoteEn = input.feeNoteEn ?? ""
        item.conditions = input.conditions ?? ""
        item.conditionsEn = input.conditionsEn ?? ""
        item.legalBasis = input.legalBasis ?? ""
        item.materials = input.materials ?? []
        item.steps = input.steps ?? []
        item.onlineDepth = input.onlineDepth ?? 4
        item.visits = input.visits ?? 0
        item.crossRegion = input.crossRegion
        item.zones = input.zones ?? []
        item.keywords = input.keywords ?? []
        item.popularity = input.popularity ?? 0
        item.form = input.form ?? FormSchema(fields: [])
        item.searchText = [item.name, item.nameEn, item.code, department.name, department.nameEn]
            .joined(separator: " ") + " " + item.keywords.joined(separator: " ")
    }

    func save(_ item: ServiceItem, isNew: Bool) async throws -> ServiceItem {
        try await db.writeTransaction { db in
            if isNew { try await item.create(on: db) } else { try await item.save(on: db) }
            let id = try item.requireID()
            try await ServiceZone.query(on: db).filter(\.$serviceID == id).delete()
            for zone in Set(item.zones) { try await ServiceZone(serviceID: id, zoneCode: zone).create(on: db) }
            if let sql = db as? any SQLDatabase, sql.dialect.name == "sqlite" {
                try await sql.delete(from: "catalogue_services_fts").where("service_id", .equal, SQLBind(id)).run()
                try await sql.insert(into: "catalogue_services_fts").columns("service_id", "body")
                    .values(SQLBind(id), SQLBind(item.searchText)).run()
            }
        }
        return item
    }

    /// Creates zones that do not exist yet (demo loader).
    func ensureZone(code: String, name: String, nameEn: String, kind: Zone.Kind, order: Int, description: String,
                    descriptionEn: String) async throws {
        if try await Zone.query(on: db).filter(\.$code == code).first() == nil {
            try await Zone(code: code, name: name, nameEn: nameEn, kind: kind, sortOrder: order, description: description,
                           descriptionEn: descriptionEn).create(on: db)
        }
    }
}
