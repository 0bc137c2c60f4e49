import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// `/api/v1/notifications`: the caller's in-app inbox, in their language.
struct NotificationsController: RouteCollection {
    struct View: Content {
        var id: UUID
        var title: String
        var body: String
        var template: String
        var applicationId: UUID?
        var read: Bool
        var createdAt: Date
    }

    func boot(routes: any RoutesBuilder) throws {
        let notifications = routes.grouped("api", "v1", "notifications")
        notifications.get(use: list)
        notifications.post(":id", "read", use: markRead)
    }

    /// GET /api/v1/notifications?unread=true — signed in. Newest first; `?lang=en` for English texts.
    @Sendable func list(req: Request) async throws -> CursorPage<View> {
        let principal = try req.requirePrincipal()
        let paging = try Paging(from: req)
        var query = Notification.query(on: req.db).filter(\.$userID == principal.userID).filter(\.$channel == .inbox)
        if req.query[String.self, at: "unread"] == "true" { query = query.filter(\.$readAt == nil) }
        let rows = try await query.sort(\.$createdAt, .descending).sort(\.$id)
            .range(paging.offset..<(paging.offset + paging.limit + 1)).all()
        let english = req.preferences.language == .en
        return paging.page(rows.map {
            View(
                id: $0.id ?? UUID(), title: english ? $0.titleEn : $0.titleZh, body: english ? $0.bodyEn : $0.bodyZh,
                template: $0.template, applicationId: $0.applicationID, read: $0.readAt != nil, createdAt: $0.createdAt)
        })
    }

    /// POST /api/v1/notifications/{id}/read — the recipient. 204; 404 for anyone else's.
    @Sendable func markRead(req: Request) async throws -> HTTPStatus {
        let principal = try req.requirePrincipal()
        guard let id = req.parameters.get("id", as: UUID.self), let message = try await Notification.find(id, on: req.db),
            message.userID == principal.userID, message.channel == .inbox
        else { throw Problem.notFound("Notification", type: "/problems/notification-not-found") }
        if message.readAt == nil {
            message.readAt = req.application.clock.now()
            try await message.save(on: req.db)
        }
        return .noContent
    }
}
