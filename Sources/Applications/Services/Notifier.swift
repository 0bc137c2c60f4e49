import Fluent
import Foundation
import Identity
import NIOConcurrencyHelpers
import SQLKit
import TongbanCore
import Vapor
import Workflow

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
        let masked = channel == .sms ? Masking.phone(address) : Masking.email(address)
        try append("\(ISO8601DateFormatter().string(from: Date())) \(channel.rawValue) \(masked) \(title): \(body)\n")
    }

    func append(_ line: String) throws {
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

    /// Records an in-app message and, for each further channel (SMS, e-mail, push), an outbox copy delivered by
    /// the `notifications.send` job. The text comes from `NotificationTemplates` in both languages. Runs
    /// inside the caller's transaction, so a rolled-back action sends nothing.
    public static func notify(
        userID: UUID, template: String, parameters: [String: String], channels: [NotificationChannel] = [.inbox],
        applicationID: UUID? = nil, tx: any Database, clock: TongbanClock
    ) async throws {
        let text = NotificationTemplates.render(template, parameters)
        let now = clock.now()
        guard let sql = tx as? any SQLDatabase else { throw Problem(.internalServerError, detail: "notifications need SQL") }
        // Every copy in one multi-row INSERT and the outbox jobs in one more: a decision writes three copies
        // (in-app, SMS, e-mail), and every step of every application writes at least one.
        var query = SQLQueryString(
            #"INSERT INTO "applications_notifications" ("id", "user_id", "channel", "template", "title_zh", "title_en", "#
                + #""body_zh", "body_en", "application_id", "status", "created_at", "sent_at", "read_at") VALUES "#)
        var jobs: [JobQueue.NewJob] = []
        let titleZh = String(text.titleZh.prefix(200)), titleEn = String(text.titleEn.prefix(200))
        let bodyZh = String(text.bodyZh.prefix(1000)), bodyEn = String(text.bodyEn.prefix(1000))
        for (index, channel) in Set([NotificationChannel.inbox] + channels).sorted(by: { $0.rawValue < $1.rawValue }).enumerated() {
            let id = UUID()
            let status: NotificationStatus = channel == .inbox ? .sent : .pending
            let sentAt: Date? = channel == .inbox ? now : nil
            if index > 0 { query.appendLiteral(", ") }
            query.appendInterpolation(unsafeRaw: "(")
            query.appendInterpolation(bind: id)
            query.appendLiteral(", ")
            query.appendInterpolation(bind: userID)
            for value in [channel.rawValue, template, titleZh, titleEn, bodyZh, bodyEn] {
                query.appendLiteral(", ")
                query.appendInterpolation(bind: value)
            }
            query.appendLiteral(", ")
            query.appendInterpolation(bind: applicationID)
            query.appendLiteral(", ")
            query.appendInterpolation(bind: status.rawValue)
            query.appendLiteral(", ")
            query.appendInterpolation(bind: now)
            query.appendLiteral(", ")
            query.appendInterpolation(bind: sentAt)
            query.appendLiteral(", NULL)")
            if channel != .inbox {
                // The id is new, so its dedupe key cannot exist yet.
                jobs.append(try .init(kind: sendJob, payload: ["id": id.uuidString], runAt: now, dedupeKey: "notify:\(id)"))
            }
        }
        try await sql.raw(query).run()
        try await JobQueue(db: tx, clock: clock).enqueueNew(jobs)
    }

    /// An application's new status: in-app always; decisions and corrections also by SMS and e-mail.
    static func applicationStatusChanged(
        applicationID: UUID, number: String, status: ApplicationStatus, applicantID: UUID, serviceName: String,
        comment: String?, tx: any Database, clock: TongbanClock
    ) async throws {
        let template = "application.status.\(status.rawValue)"
        guard NotificationTemplates.contains(template) else { return }
        var channels: [NotificationChannel] = [.inbox]
        if [.approved, .rejected, .notAccepted, .correctionRequired].contains(status) { channels += [.sms, .email] }
        var parameters = ["number": number, "service": serviceName]
        if let comment { parameters["note"] = comment }
        try await notify(
            userID: applicantID, template: template, parameters: parameters, channels: channels,
            applicationID: applicationID, tx: tx, clock: clock)
    }

    /// A task at 80 % of its time limit (`yellow`) or past it (`red`): an in-app message to whoever holds it
    /// (the claimer, the named assignee, or every holder of the role in the department); overdue tasks also
    /// by SMS.
    static func timeLimitReached(task: WorkflowTask, applicationID: UUID, level: String, tx: any Database, clock: TongbanClock)
        async throws
    {
        var recipients: [UUID] = []
        if let holder = task.claimedBy ?? task.assigneeID {
            recipients = [holder]
        } else if let department = task.departmentID, let role = task.role {
            recipients = try await StaffAssignment.query(on: tx).filter(\.$departmentID == department).filter(\.$role == role)
                .all().map(\.userID)
        }
        let record = try await ApplicationRecord.find(applicationID, on: tx)
        let due = task.dueAt.map { InspectionService.localTime($0) }.map { "\($0.date) \($0.time)" } ?? ""
        for user in Set(recipients) {
            try await notify(
                userID: user, template: level == "red" ? "task.overdue" : "task.warning",
                parameters: ["task": task.name, "number": record?.number ?? "", "due": due],
                channels: level == "red" ? [.inbox, .sms] : [.inbox], applicationID: applicationID, tx: tx, clock: clock)
        }
    }

    /// Delivers one outbox message (job handler). Plain SQL: two of these run for every decided application.
    static func deliver(_ job: Job, app: Application) async throws {
        let payload = try JobQueue(db: app.db, clock: app.clock).payload(of: job, as: [String: String].self)
        guard let id = payload["id"].flatMap(UUID.init(uuidString:)), let sql = app.db as? any SQLDatabase else { return }
        // The message and its recipient's addresses in one statement.
        guard let row = try await sql.raw("""
            SELECT n."channel", n."status", n."title_zh", n."body_zh", u."email", u."phone" FROM "applications_notifications" n \
            LEFT JOIN "identity_users" u ON u."id" = n."user_id" WHERE n."id" = \(bind: id)
            """).first(),
            try row.decode(column: "status", as: String.self) == NotificationStatus.pending.rawValue,
            let channel = NotificationChannel(rawValue: try row.decode(column: "channel", as: String.self))
        else { return }
        // Through the write gate: on SQLite a write outside it would spin on the lock while a request's
        // transaction holds it.
        func mark(_ status: NotificationStatus, sentAt: Date?, reason: String? = nil) async throws {
            try await app.db.writeTransaction { tx in
                guard let sql = tx as? any SQLDatabase else { return }
                try await sql.raw("""
                    UPDATE "applications_notifications" SET "status" = \(bind: status.rawValue), "sent_at" = \(bind: sentAt), \
                    "failure_reason" = \(bind: reason) WHERE "id" = \(bind: id)
                    """).run()
            }
        }
        let column: String
        switch channel {
        case .inbox: return
        case .push:
            let outcome = try await pushToDevices(
                notification: id, title: try row.decode(column: "title_zh", as: String.self),
                body: try row.decode(column: "body_zh", as: String.self), app: app)
            try await mark(outcome.sent ? .sent : .failed, sentAt: outcome.sent ? app.clock.now() : nil, reason: outcome.reason)
            return
        case .sms: column = "phone"
        case .email: column = "email"
        }
        let address = try row.decode(column: column, as: String?.self)
        guard let address, !address.isEmpty else {
            // No address for this channel: the in-app copy stands; the outbox copy is marked failed.
            try await mark(.failed, sentAt: nil, reason: channel == .sms ? "no phone number" : "no e-mail address")
            return
        }
        try await app.notificationSender.send(
            channel: channel, to: address, title: try row.decode(column: "title_zh", as: String.self),
            body: try row.decode(column: "body_zh", as: String.self))
        try await mark(.sent, sentAt: app.clock.now())
    }
}

extension Notifier {
    /// Pushes one message to each of the recipient's active devices. Sent when at least one device took it;
    /// no device (or none reachable) is a failed copy with the reason, never an error: the in-app copy stands.
    static func pushToDevices(notification id: UUID, title: String, body: String, app: Application) async throws
        -> (sent: Bool, reason: String?)
    {
        guard let message = try await Notification.find(id, on: app.db) else { return (false, "the message is gone") }
        let devices = try await PushDevice.query(on: app.db).filter(\.$userID == message.userID).filter(\.$active == true)
            .sort(\.$createdAt).all()
        guard !devices.isEmpty else { return (false, "no push device registered") }
        var delivered: [UUID] = []
        var invalid: [UUID] = []
        var lastError: String?
        for device in devices {
            guard let deviceID = device.id else { continue }
            do {
                try await app.pushSender.push(platform: device.platform, token: device.token, title: title, body: body)
                delivered.append(deviceID)
            } catch is PushTokenInvalid {
                invalid.append(deviceID)
                lastError = "the push service no longer knows the token"
            } catch {
                lastError = String(String(describing: error).prefix(200))
            }
        }
        let now = app.clock.now()
        if !delivered.isEmpty || !invalid.isEmpty {
            try await app.db.writeTransaction { [delivered, invalid] tx in
                if !delivered.isEmpty {
                    try await PushDevice.query(on: tx).filter(\.$id ~~ delivered).set(\.$lastSentAt, to: now).update()
                }
                if !invalid.isEmpty { try await PushDevice.query(on: tx).filter(\.$id ~~ invalid).set(\.$active, to: false).update() }
            }
        }
        if delivered.isEmpty { return (false, "no device took the message: " + (lastError ?? "unknown")) }
        return (true, nil)
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
