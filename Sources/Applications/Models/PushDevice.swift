import Fluent
import Foundation
import NIOConcurrencyHelpers
import TongbanCore
import Vapor

/// A person's app installation that receives push copies of their notifications (`push` channel).
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class PushDevice: Model, @unchecked Sendable {
    public static let schema = "applications_push_devices"

    /// The push services a device may belong to.
    public static let platforms = ["ios", "android", "harmony"]
    /// A person registers at most this many devices.
    public static let perPersonLimit = 10
    /// Tokens are 1–512 visible ASCII characters (APNs, FCM and HarmonyOS Push tokens are far shorter).
    public static let maxTokenLength = 512

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    @Field(key: "platform") public var platform: String
    @Field(key: "token") public var token: String
    /// False once the push service has said the token is no longer valid (nothing is sent to it then).
    @Field(key: "active") public var active: Bool
    @Field(key: "created_at") public var createdAt: Date
    @OptionalField(key: "last_sent_at") public var lastSentAt: Date?

    public init() {}

    /// `abcd…wxyz`: the first and last 4 characters (fewer for short tokens) — for listings and logs.
    public static func mask(_ token: String) -> String {
        let chars = Array(token)
        guard chars.count > 8 else { return String(repeating: "*", count: chars.count) }
        return String(chars.prefix(4)) + "…" + String(chars.suffix(4))
    }
}

/// The push devices table, and the outbox's failure reason (why a copy was not delivered).
struct CreatePushDevices: AsyncMigration {
    var name: String { "Applications.CreatePushDevices" }

    func prepare(on database: any Database) async throws {
        try await database.schema(PushDevice.schema)
            .id()
            .field("user_id", .uuid, .required)
            .field("platform", .string, .required)
            .field("token", .string, .required)
            .field("active", .bool, .required)
            .field("created_at", .datetime, .required)
            .field("last_sent_at", .datetime)
            .unique(on: "token")
            .create()
        try await database.schema(Notification.schema).field("failure_reason", .string).update()
    }

    func revert(on database: any Database) async throws {
        try await database.schema(Notification.schema).deleteField("failure_reason").update()
        try await database.schema(PushDevice.schema).delete()
    }
}

/// Delivers push messages to app devices. Production deployments plug in APNs, FCM or HarmonyOS Push; the
/// development sender appends one line per message to `<data dir>/outbox.log` with the token masked.
public protocol PushSender: Sendable {
    func push(platform: String, token: String, title: String, body: String) async throws
}

/// Thrown by a ``PushSender`` when the service says the token is gone: the device is deactivated.
public struct PushTokenInvalid: Error, Sendable {
    public init() {}
}

extension DevelopmentSender: PushSender {
    public func push(platform: String, token: String, title: String, body: String) async throws {
        try append("\(ISO8601DateFormatter().string(from: Date())) push \(platform) \(PushDevice.mask(token)) \(title): \(body)\n")
    }
}

extension Application {
    private struct PushSenderKey: StorageKey { typealias Value = any PushSender }

    /// The push sender: the one set, else the SMS/e-mail sender when it can push too (the development sender
    /// can: both write to the same outbox log).
    public var pushSender: any PushSender {
        get {
            storage[PushSenderKey.self] ?? (notificationSender as? any PushSender)
                ?? DevelopmentSender(path: URL(fileURLWithPath: tongbanConfig.dataDirectory).appendingPathComponent("outbox.log").path)
        }
        set { storage[PushSenderKey.self] = newValue }
    }
}
