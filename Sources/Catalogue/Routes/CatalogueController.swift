import Fluent
import Foundation
import TongbanCore
import Vapor

/// The catalogue API: public search and guides; administration of services.
struct CatalogueController: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let v1 = routes.grouped("api", "v1")
        v1.get("services", use: list)
        v1.get("services", ":id", use: show)
        v1.get("zones", use: zones)
        let admin = v1.grouped("admin", "services")
        admin.get(use: adminList)
        admin.post(use: create)
        admin.put(":id", use: update)
        admin.post(":id", "publish", use: publish)
        admin.post(":id", "unpublish", use: unpublish)
    }

    func service(_ req: Request) -> CatalogueService { CatalogueService(db: req.db, clock: req.application.clock) }

    func id(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else {
            throw Problem.notFound("Service", type: "/problems/service-not-found")
        }
        return id
    }

    /// GET /api/v1/services?q=&zone=&department=&audience=&category=&limit=&cursor= — anyone. Published services.
    @Sendable func list(req: Request) async throws -> Response {
        let cache = req.application.catalogueCache
        let key = "list?" + (req.url.query ?? "")
        if let hit = cache.response(for: key) { return hit }
        let search = try req.serviceSearch()
        let page = try Paging(from: req)
        let items = try await service(req).search(search, page: page)
        let departments = try await ServiceMapper.departments(for: items.map(\.departmentID), db: req.db)
        let response = try await page.page(items.map { ServiceMapper.summary($0, departments) }).encodeResponse(for: req)
        cache.store(response, for: key)
        return response
    }

    /// GET /api/v1/services/{id} — anyone for published services; editors for unpublished. 404 otherwise.
    @Sendable func show(req: Request) async throws -> Response {
        let id = try id(req)
        let cache = req.application.catalogueCache
        let key = "show/" + id.uuidString
        if let hit = cache.response(for: key) { return hit }
        let item = try await service(req).service(id, viewer: req.auth.get(Principal.self))
        let response = try await ServiceMapper.detail(item, try await ServiceMapper.departments(for: [item], db: req.db))
            .encodeResponse(for: req)
        if item.published { cache.store(response, for: key) }
        return response
    }

    /// GET /api/v1/zones — anyone. Theme zones and life events with their published service counts.
    @Sendable func zones(req: Request) async throws -> CursorPage<ZoneView> {
        let catalogue = service(req)
        let counts = try await catalogue.zoneCounts()
        let zones = try await catalogue.zones().map {
            ZoneView(
                code: $0.code, name: $0.name, nameEn: $0.nameEn, kind: $0.kind, description: $0.description,
                descriptionEn: $0.descriptionEn, serviceCount: counts[$0.code] ?? 0)
        }
        return CursorPage(items: zones, nextCursor: nil)
    }

    /// GET /api/v1/admin/services — editors. All services including unpublished (same filters as the list).
    @Sendable func adminList(req: Request) async throws -> CursorPage<ServiceSummary> {
        let principal = try req.requireStaff([.departmentAdmin, .systemAdmin])
        var search = try req.serviceSearch()
        let page = try Paging(from: req)
        if !principal.isSystemAdmin {
            let own = principal.departments(with: [.departmentAdmin])
            if let wanted = search.departmentID {
                guard own.contains(wanted) else { throw Problem.forbidden }
            } else if own.count == 1 {
                search.departmentID = own.first
            }
        }
        var items = try await service(req).search(search, page: page, includeUnpublished: true)
        if !principal.isSystemAdmin {
            items = items.filter { CatalogueService.mayEdit(principal, departmentID: $0.departmentID) }
        }
        let departments = try await ServiceMapper.departments(for: items.map(\.departmentID), db: req.db)
        return page.page(items.map { ServiceMapper.summary($0, departments) })
    }

    /// POST /api/v1/admin/services — system admin or department admin of the service's department. 201.
    @Sendable func create(req: Request) async throws -> Response {
        let principal = try req.requireStaff([.departmentAdmin, .systemAdmin])
        let input = try req.content.decode(ServiceInput.self)
        let item = try await service(req).create(input, actor: principal)
        req.application.catalogueCache.invalidateAll()
        let detail = ServiceMapper.detail(item, try await ServiceMapper.departments(for: [item], db: req.db))
        return try await detail.encodeResponse(status: .created, for: req)
    }

    /// PUT /api/v1/admin/services/{id} — editors. Replaces the guide; the version increases.
    @Sendable func update(req: Request) async throws -> ServiceDetail {
        let principal = try req.requireStaff([.departmentAdmin, .systemAdmin])
        let input = try req.content.decode(ServiceInput.self)
        let item = try await service(req).update(try id(req), input, actor: principal)
        req.application.catalogueCache.invalidateAll()
        return ServiceMapper.detail(item, try await ServiceMapper.departments(for: [item], db: req.db))
    }

    /// POST /api/v1/admin/services/{id}/publish — editors.
    @Sendable func publish(req: Request) async throws -> ServiceDetail {
        let principal = try req.requireStaff([.departmentAdmin, .systemAdmin])
        let item = try await service(req).setPublished(try id(req), true, actor: principal)
        req.application.catalogueCache.invalidateAll()
        return ServiceMapper.detail(item, try await ServiceMapper.departments(for: [item], db: req.db))
    }

    /// POST /api/v1/admin/services/{id}/unpublish — editors.
    @Sendable func unpublish(req: Request) async throws -> ServiceDetail {
        let principal = try req.requireStaff([.departmentAdmin, .systemAdmin])
        let item = try await service(req).setPublished(try id(req), false, actor: principal)
        req.application.catalogueCache.invalidateAll()
        return ServiceMapper.detail(item, try await ServiceMapper.departments(for: [item], db: req.db))
    }
}
