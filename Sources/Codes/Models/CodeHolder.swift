import Fluent
import Foundation
import NIOConcurrencyHelpers
import Vapor

/// A person who holds codes: the link between the account and the pseudonym that codes carry.
/// `@unchecked Sendable`: Fluent's property wrappers; not shared across tasks.
public final class CodeHolder: Model, @unchecked Sendable {
    public static let schema = "codes_holders"

    @ID(key: .id) public var id: UUID?
    @Field(key: "user_id") public var userID: UUID
    /// 128 random bits in base64url: what codes carry instead of any personal identifier.
    @Field(key: "pseudonym") public var pseudonym: String
    /// The medical-insurance number (医保编号) a hospital scenario may read.
    @Field(key: "insurance_number") public var insuranceNumber: String
    @Field(key: "created_at") public var createdAt: Date

    public init() {}
}

/// Holder records read before, by account and by pseudonym. A holder's pseudonym, account and insurance number never
/// change once created, so issuing and verifying skip that query; only rows read from the database (committed) are
/// kept, and the cache is dropped when it grows past `limit`.
public final class CodeHolderCache: Sendable {
    struct Snapshot: Sendable {
        var id: UUID
        var userID: UUID
        var pseudonym: String
        var insuranceNumber: String
        var createdAt: Date

        var model: CodeHolder {
            let holder = CodeHolder()
            holder.id = id
            holder.userID = userID
            holder.pseudonym = pseudonym
            holder.insuranceNumber = insuranceNumber
            holder.createdAt = createdAt
            holder.$id.exists = true
            return holder
        }
    }

    private let state = NIOLockedValueBox<(byUser: [UUID: Snapshot], byPseudonym: [String: Snapshot])>(([:], [:]))
    let limit: Int

    public init(limit: Int = 100_000) { self.limit = limit }

    func holder(user: UUID) -> CodeHolder? { state.withLockedValue { $0.byUser[user] }?.model }
    func holder(pseudonym: String) -> CodeHolder? { state.withLockedValue { $0.byPseudonym[pseudonym] }?.model }

    func remember(_ holder: CodeHolder) {
        guard let id = holder.id else { return }
        let snapshot = Snapshot(
            id: id, userID: holder.userID, pseudonym: holder.pseudonym, insuranceNumber: holder.insuranceNumber, createdAt: holder.createdAt)
        state.withLockedValue { state in
            if state.byUser.count >= limit { state = ([:], [:]) }
            state.byUser[snapshot.userID] = snapshot
            state.byPseudonym[snapshot.pseudonym] = snapshot
        }
    }
}

extension Application {
    private struct HolderCacheKey: StorageKey { typealias Value = CodeHolderCache }

    /// Holders read before (set at boot).
    public var codeHolderCache: CodeHolderCache {
        get { storage[HolderCacheKey.self] ?? CodeHolderCache(limit: 0) }
        set { storage[HolderCacheKey.self] = newValue }
    }
}
