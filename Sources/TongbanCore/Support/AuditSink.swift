import Foundation
import NIOConcurrencyHelpers
import Vapor

/// Where modules record audit events (consent given or revoked, data fetched, licence issued or revoked,
/// staff login, sharing approved, reflow run). The Audit module provides the implementation at boot; a
/// module that records events depends only on this protocol, never on Audit.
///
/// `record` returns once the event is durably stored, with its index in the append-only log.
/// Never pass personal ID numbers or phone numbers in clear: the sink masks values that look like them,
/// but callers should send masked forms or pseudonymous ids in the first place.
public protocol AuditSink: Sendable {
    @discardableResult
    func record(kind: String, actor: UUID?, subject: String?, details: [String: String]) async throws -> Int
}

/// Event kinds recorded by the platform (other strings are allowed: `<module>.<event>`).
public enum AuditKind {
    public static let staffLogin = "staff.login"
    public static let consentGiven = "consent.given"
    public static let consentRevoked = "consent.revoked"
    public static let dataFetched = "data.fetched"
    public static let licenceIssued = "licence.issued"
    public static let licenceRevoked = "licence.revoked"
    public static let sharingApproved = "sharing.approved"
    public static let reflowRun = "reflow.run"
}

extension Application {
    private struct AuditSinkKey: StorageKey { typealias Value = any AuditSink }

    /// The audit log, set by the Audit module at boot; nil when no module provides one.
    public var audit: (any AuditSink)? {
        get { storage[AuditSinkKey.self] }
        set { storage[AuditSinkKey.self] = newValue }
    }
}
