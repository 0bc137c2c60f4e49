import Foundation
import Vapor

/// A page of a list (API.md): `{"items":[…],"nextCursor":null|"…"}`.
public struct CursorPage<Item: Codable & Sendable>: Content {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case items, nextCursor }

    /// `nextCursor` is always present, `null` on the last page.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        if let nextCursor { try container.encode(nextCursor, forKey: .nextCursor) } else { try container.encodeNil(forKey: .nextCursor) }
    }
}

/// `?limit=` (default 20, max 100) and an opaque `?cursor=`. The cursor encodes the offset of the next
/// item; it is opaque to clients so that a keyset cursor can replace it without an API change.
public struct Paging: Sendable, Equatable {
    public var limit: Int
    public var offset: Int

    public static let defaultLimit = 20
    public static let maxLimit = 100

    public init(limit: Int = Paging.defaultLimit, offset: Int = 0) {
        self.limit = limit
        self.offset = offset
    }

    /// Reads `limit` and `cursor` from the query; bad values answer 422 naming the field.
    public init(from request: Request) throws {
        var errors = FieldErrors()
        var limit = Self.defaultLimit
        if let raw = request.query[String.self, at: "limit"] {
            if let value = Int(raw), (1...Self.maxLimit).contains(value) {
                limit = value
            } else {
                errors.add("limit", "must be an integer from 1 to \(Self.maxLimit)")
            }
        }
        var offset = 0
        if let cursor = request.query[String.self, at: "cursor"], !cursor.isEmpty {
            if let value = Self.decode(cursor) { offset = value } else { errors.add("cursor", "is not a cursor this server issued") }
        }
        try errors.throwIfAny()
        self.init(limit: limit, offset: offset)
    }

    /// Builds the page from up to `limit + 1` fetched rows.
    public func page<T: Codable & Sendable>(_ fetched: [T]) -> CursorPage<T> {
        let hasMore = fetched.count > limit
        return CursorPage(items: Array(fetched.prefix(limit)), nextCursor: hasMore ? Self.encode(offset + limit) : nil)
    }

    static func encode(_ offset: Int) -> String {
        Data("o:\(offset)".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) -> Int? {
        var text = cursor
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text), let string = String(data: data, encoding: .utf8),
            string.hasPrefix("o:"), let value = Int(string.dropFirst(2)), value >= 0, value < 10_000_000
        else { return nil }
        return value
    }
}
