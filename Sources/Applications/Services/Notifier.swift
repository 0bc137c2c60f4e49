import Fluent
import Foundation
import Identity
import NIOConcurrencyHelpers
import TongbanCore
import Vapor

/// Sends SMS and e-mail. Production deployments plug in their gateway; the development sender appends one
/// line per message to `<data dir>/outbox.log`, with the phone number masked.
public protocol NotificationSender: Sendable {
    func send(channel: NotificationChannel, to address: String, title: String, body: String) async throws
}

/// Writes messages to a log file instead of sending them.
public struct DevelopmentSender: NotificationSender {
    let path: String
    let lock = NIOLock()

    public init(path: String) { self.path = path }

    public func send(channel: NotificationChannel, to address: String, title: String, body: String) async throws {
        let masked = channel == .sms ? Masking.phone(address) : address
        let line = "\(ISO8601DateFormatter().string(from: Date())) \(channel.rawValue) \(masked) \(title): \(body)\n"
        try lock.withLock {
            let url = URL(fileURLWithPath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(line.utf8))
        }
    }
}

/// Writes notifications (inbox entry plus outbox copies) and delivers the outbox through jobs.
public enum Notifier {
    static let sendJob = "notifications.send"

    struct Template {
        var titleZh: String
        var titleEn: String
        var bodyZh: String
        var bodyEn: String
    }

    static let statusNames: [ApplicationStatus: (String, String)] = [
        .submitted: ("已提交，等待受理", "submitted, waiting for acceptance"),
        .inReview: ("已受理，正在审批", "accepted and under review"),
        .correctionRequired: ("需要补正材料", "waiting for your corrections"),
        .approved: ("已办结（准予）", "approved"),
        .rejected: ("未获批准", "not approved"),
        .withdrawn: ("已撤回", "withdrawn"),
    ]

    /// The zh-CN and English texts for an application's new status.
    static func statusTemplate(number: String, service: String, status: ApplicationStatus, comment: String?) -> Template {
        let names = statusNames[status] ?? (status.rawValue, status.rawValue)
        let extraZh = comment.map { "说明：\($0)" } ?? ""
        let extraEn = comment.map { " Note: \($0)" } ?? ""
        return Template(
            titleZh: "办件 \(number) \(names.0)", titleEn: "Application \(number) \(names.1)",
            bodyZh: "您申请的“\(service)”（办件编号 \(number)）\(names.0)。\(extraZh)",
            bodyEn: "Your application \(number) for \"\(service)\" is \(names.1).\(extraEn)")
    }

    /// Records an inbox message and, for decisions and corrections, an SMS copy in the outbox (delivered
    /// by a job). Runs inside the caller's transaction.
    static func applicationStatusChanged(
        _ record: ApplicationRecord, serviceName: String, comment: String?, tx: any Database, now: Date, clock: TongbanClock
    ) async throws {
        guard statusNames[record.status] != nil else { return }
        let text = statusTemplate(number: record.number, service: serviceName, status: record.status, comment: comment)
        var channels: [NotificationChannel] = [.inbox]
        if [.approved, .rejected, .correctionRequired].contains(record.status) { channels.append(.sms) }
        for channel in channels {
            let message = Notification()
            message.userID = record.applicantID
            message.channel = channel
            message.template = "application.status.\(record.status.rawValue)"
            message.titleZh = text.titleZh
            message.titleEn = text.titleEn
            message.bodyZh = String(text.bodyZh.prefix(1000))
            message.bodyEn = String(text.bodyEn.prefix(1000))
            message.applicationID = record.id
            message.status = channel == .inbox ? .sent : .pending
            message.createdAt = now
            message.sentAt = channel == .inbox ? now : nil
            try await message.create(on: tx)
            if channel != .inbox, let id = message.id {
                try await JobQueue(db: tx, clock: clock).enqueue(kind: sendJob, payload: ["id": id.uuidString], dedupeKey: "notify:\(id)")
            }
        }
    }

    /// Delivers one outbox message (job handler).
    static func deliver(_ job: Job, app: Application) async throws {
        let payload = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: [String: String].self)
        guard let id = payload["id"].flatMap(UUID.init(uuidString:)),
            let message = try await Notification.find(id, on: app.db), message.status == .pending
        else { return }
        guard let user = try await User.find(message.userID, on: app.db), let phone = user.phone else {
            message.status = .failed
            try await message.save(on: app.db)
            return
        }
        try await app.notificationSender.send(channel: message.channel, to: phone, title: message.titleZh, body: message.bodyZh)
        message.status = .sent
        message.sentAt = app.clock.now()
        try await message.save(on: app.db)
    }
}

extension Application {
    private struct SenderKey: StorageKey { typealias Value = any NotificationSender }

    /// The SMS/e-mail sender (the development sender unless one was set).
    public var notificationSender: any NotificationSender {
        get {
            storage[SenderKey.self]
                ?? DevelopmentSender(path: URL(fileURLWithPath: tongbanConfig.dataDirectory).appendingPathComponent("outbox.log").path)
        }
        set { storage[SenderKey.self] = newValue }
    }
}
