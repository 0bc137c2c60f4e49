import Fluent
import Foundation
import Identity
import SQLKit
import TongbanCore

/// The few columns of a user account that issuing and verifying codes need, read fresh on every call (an account
/// disabled a moment ago neither gets nor passes codes) with one plain SELECT by primary key: loading the whole
/// Fluent `User` model (reflection over a dozen properties) was the largest share of an issuance and of a
/// verification.
struct CodePerson: Sendable {
    var name: String
    var idNumber: String?
    var kind: AccountKind
    var disabled: Bool

    static func find(_ userID: UUID, on db: any Database) async throws -> CodePerson? {
        if let sql = db as? any SQLDatabase {
            guard
                let row = try await sql.select().columns("name", "id_number", "kind", "disabled").from(User.schema)
                    .where("id", .equal, SQLBind(userID)).first()
            else { return nil }
            return CodePerson(
                name: try row.decode(column: "name", as: String.self),
                idNumber: try row.decode(column: "id_number", as: String?.self),
                kind: AccountKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .staff,
                disabled: try row.decode(column: "disabled", as: Bool.self))
        }
        guard let user = try await User.find(userID, on: db) else { return nil }
        return CodePerson(name: user.name, idNumber: user.idNumber, kind: user.kind, disabled: user.disabled)
    }
}
