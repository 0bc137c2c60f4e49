import Foundation
import Vapor

/// bcrypt hashing off the event loop, at the configured work factor.
public struct PasswordHashing: Sendable {
    let cost: Int
    let threadPool: NIOThreadPool
    let eventLoopGroup: any EventLoopGroup

    /// A hash of a random string at the same cost, verified against when the username does not exist so
    /// that the answer takes as long as for a real account.
    let decoy: String

    public init(cost: Int, threadPool: NIOThreadPool, eventLoopGroup: any EventLoopGroup) {
        self.cost = cost
        self.threadPool = threadPool
        self.eventLoopGroup = eventLoopGroup
        self.decoy = (try? Bcrypt.hash(UUID().uuidString, cost: cost)) ?? ""
    }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await threadPool.runIfActive(eventLoop: eventLoopGroup.next()) {
            try Bcrypt.hash(password, cost: cost)
        }.get()
    }

    public func verify(_ password: String, against hash: String) async throws -> Bool {
        try await threadPool.runIfActive(eventLoop: eventLoopGroup.next()) {
            (try? Bcrypt.verify(password, created: hash)) ?? false
        }.get()
    }

}
