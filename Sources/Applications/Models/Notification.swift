import Fluent
import Foundation

/// Channels a notification goes out on.
public enum NotificationChannel: String, Codable, Sendable, CaseIterable {
    case inbox, sms, email
    /// A copy pushed to each of the person's registered app devices (``PushDevice``).
    case push
}

/// Delivery states (the outbox).
public enum NotificationStatus: String, Codable, Sendable, CaseIterable {
    case pending, sent, failed
}

/// A message to a user: shown in the in-app inbox; SMS, e-mail and push copies wait in the outbox until the
/// sender job delivers them.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class Notification: Model, @unchecked Sendable {
    public static let schema = "applications_notifications"

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    @Field(key: "channel") public var channel: NotificationChannel
    @Field(key: "template") public var template: String
    @Field(key: "title_zh") public var titleZh: String
    @Field(key: "title_en") public var titleEn: String
    @Field(key: "body_zh") public var bodyZh: String
    @Field(key: "body_en") public var bodyEn: String
    @OptionalField(key: "application_id") public var applicationID: UUID?
    @Field(key: "status") public var status: NotificationStatus
    @Field(key: "created_at") public var createdAt: Date
    @OptionalField(key: "sent_at") public var sentAt: Date?
    @OptionalField(key: "read_at") public var readAt: Date?
    /// Why an outbox copy was not delivered (no phone number, no push device, …).
    @OptionalField(key: "failure_reason") public var failureReason: String?

    public init() {}
}

/// Creates the notifications table.
struct CreateNotifications: AsyncMigration {
    var name: String { "Applications.CreateNotifications" }

    func prepare(on database: any Database) async throws {
        try await database.schema(Notification.schema)
            .id()
            .field("user_id", .uuid, .required)
            .field("channel", .string, .required)
            .field("template", .string, .required)
            .field("title_zh", .string, .required)
            .field("title_en", .string, .required)
            .field("body_zh", .string, .required)
            .field("body_en", .string, .required)
            .field("application_id", .uuid)
            .field("status", .string, .required)
            .field("created_at", .datetime, .required)
            .field("sent_at", .datetime)
            .field("read_at", .datetime)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(Notification.schema).delete()
    }
}
