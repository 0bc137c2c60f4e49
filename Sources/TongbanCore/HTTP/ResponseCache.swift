import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Vapor

/// A small in-process cache of public GET responses (status 200, JSON) with a short time to live.
///
/// For read-mostly public data (the service catalogue). Writes on this node call ``invalidateAll()``; other
/// nodes see a change after at most `ttl`. When full, it starts over rather than tracking recency.
public final class ResponseCache: Sendable {
    struct Entry: Sendable {
        var body: ByteBuffer
        var contentType: String
        var expires: NIODeadline
        var refreshing = false
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    public let ttl: TimeAmount
    public let maxEntries: Int

    public init(ttl: TimeAmount, maxEntries: Int = 10_000) {
        self.ttl = ttl
        self.maxEntries = maxEntries
    }

    public var isEnabled: Bool { ttl > .zero }

    /// A cached response for `key`, or nil when the caller should compute (and ``store(_:for:)``) it.
    ///
    /// After expiry exactly one caller gets nil and refreshes the entry; the others keep getting the
    /// previous response for up to one more `ttl` meanwhile, so an expiry under load does not send every
    /// concurrent request to the database at once.
    public func response(for key: String) -> Response? {
        guard isEnabled else { return nil }
        let now = NIODeadline.now()
        let ttl = self.ttl
        let found: Entry? = entries.withLockedValue { entries in
            guard var entry = entries[key] else { return nil }
            if entry.expires > now { return entry }
            if !entry.refreshing && entry.expires + ttl > now {
                entry.refreshing = true
                entries[key] = entry
                return nil
            }
            return entry.expires + ttl > now ? entry : nil
        }
        guard let entry = found else { return nil }
        let response = Response(status: .ok, body: .init(buffer: entry.body))
        response.headers.replaceOrAdd(name: .contentType, value: entry.contentType)
        response.headers.replaceOrAdd(name: "X-Cache", value: "hit")
        return response
    }

    /// Remembers a successful response's body.
    public func store(_ response: Response, for key: String) {
        guard isEnabled, response.status == .ok, let buffer = response.body.buffer else { return }
        let entry = Entry(
            body: buffer, contentType: response.headers.first(name: .contentType) ?? "application/json; charset=utf-8",
            expires: .now() + ttl)
        entries.withLockedValue { entries in
            if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
            entries[key] = entry
        }
    }

    public func invalidateAll() {
        entries.withLockedValue { $0.removeAll() }
    }
}
