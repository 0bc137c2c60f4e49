import Foundation
import Testing
import Vapor
import TongbanCore

@Suite("Paging, problems and OpenAPI documents")
struct PagingAndProblemTests {
    struct Item: Codable, Sendable, Equatable { var n: Int }

    @Test func page_withMoreRows_hasCursorThatDecodesToNextOffset() throws {
        let paging = Paging(limit: 2, offset: 4)
        let page = paging.page([Item(n: 1), Item(n: 2), Item(n: 3)])
        #expect(page.items == [Item(n: 1), Item(n: 2)])
        let cursor = try #require(page.nextCursor)
        #expect(!cursor.contains("4"), "cursor should be opaque")
    }

    @Test func lastPage_encodesNullCursor() throws {
        let page = Paging(limit: 5, offset: 0).page([Item(n: 1)])
        let json = String(decoding: try JSONEncoder().encode(page), as: UTF8.self)
        #expect(json.contains("\"nextCursor\":null"))
    }

    @Test func fieldErrors_collectsEverything() {
        var errors = FieldErrors()
        errors.check(false, "a", "bad")
        errors.check(true, "b", "fine")
        errors.add("c", "bad too")
        #expect(errors.errors.map(\.field) == ["a", "c"])
        #expect(throws: Problem.self) { try errors.throwIfAny() }
    }

    @Test func problemDefaults() {
        let problem = Problem(.locked)
        #expect(problem.type == "/problems/locked")
        #expect(problem.title == "Locked")
    }

    @Test func openAPIDocument_listsOperationsAndPathParameters() throws {
        let docs = APIDocumentation()
        docs.add(APIOperation(.GET, "/api/v1/things/{id}", summary: "A thing", tag: "t", problems: [404]))
        let document = docs.document(version: "1")
        #expect(document["openapi"]?.stringValue == "3.1.0")
        let operation = try #require(document["paths"]?["/api/v1/things/{id}"]?["get"])
        #expect(operation["operationId"]?.stringValue == "getThingsId")
        #expect(docs.documents(method: .GET, path: "/api/v1/things/{id}"))
        #expect(!docs.documents(method: .POST, path: "/api/v1/things/{id}"))
    }

    @Test func config_rejectsBadEnvironmentValues() {
        #expect(throws: TongbanConfig.InvalidSetting.self) {
            try TongbanConfig.fromEnvironment(environment: ["TONGBAN_BCRYPT_COST": "99"])
        }
        #expect(throws: TongbanConfig.InvalidSetting.self) {
            try TongbanConfig.fromEnvironment(environment: ["TONGBAN_JWT_SECRET": "short"])
        }
        #expect(throws: TongbanConfig.InvalidSetting.self) {
            try TongbanConfig.fromEnvironment(environment: ["TONGBAN_SQLITE_WAL_AUTOCHECKPOINT": "10"])
        }
        let config = try? TongbanConfig.fromEnvironment(
            host: "0.0.0.0",
            environment: ["DATABASE_URL": "sqlite::memory:", "TONGBAN_LOGIN_IP_LIMIT": "7", "TONGBAN_SQLITE_WAL_AUTOCHECKPOINT": "8000"])
        #expect(config?.sqliteWalAutocheckpoint == 8000)
        #expect(config?.sqliteCacheMiB == 64)
        #expect(throws: TongbanConfig.InvalidSetting.self) {
            try TongbanConfig.fromEnvironment(environment: ["TONGBAN_SQLITE_CACHE_MB": "0"])
        }
        #expect(config?.databaseURL == "sqlite::memory:")
        #expect(config?.loginFailuresPerIPPerMinute == 7)
        #expect(config?.cookieSecure == true)
    }
}

@Suite("Response cache")
struct ResponseCacheTests {
    @Test func storesServesAndInvalidates() {
        let cache = ResponseCache(ttl: .seconds(60))
        #expect(cache.response(for: "k") == nil)
        cache.store(Response(status: .ok, body: .init(string: "hello")), for: "k")
        #expect(cache.response(for: "k")?.body.string == "hello")
        cache.store(Response(status: .notFound, body: .init(string: "nope")), for: "missing")
        #expect(cache.response(for: "missing") == nil)
        cache.invalidateAll()
        #expect(cache.response(for: "k") == nil)
    }

    @Test func afterExpiry_oneCallerRefreshesWhileOthersGetTheStaleCopy() throws {
        let cache = ResponseCache(ttl: .milliseconds(50))
        cache.store(Response(status: .ok, body: .init(string: "v1")), for: "k")
        Thread.sleep(forTimeInterval: 0.08)
        #expect(cache.response(for: "k") == nil)  // this caller refreshes
        #expect(cache.response(for: "k")?.body.string == "v1")  // the others get the stale copy
        cache.store(Response(status: .ok, body: .init(string: "v2")), for: "k")
        #expect(cache.response(for: "k")?.body.string == "v2")
        Thread.sleep(forTimeInterval: 0.15)
        #expect(cache.response(for: "k") == nil)  // too old to serve at all
    }

    @Test func zeroTTL_disables() {
        let cache = ResponseCache(ttl: .zero)
        cache.store(Response(status: .ok, body: .init(string: "x")), for: "k")
        #expect(cache.response(for: "k") == nil)
    }
}

@Suite("Hex")
struct HexTests {
    @Test func encodesAndDecodes_andRefusesWhatIsNotHex() {
        let bytes: [UInt8] = [0x00, 0x0f, 0xa0, 0xff, 0x5c]
        #expect(Hex.encode(bytes) == "000fa0ff5c")
        #expect(Hex.decode("000fa0ff5c") == bytes)
        #expect(Hex.decode("000FA0FF5C") == bytes)
        #expect(Hex.decode("") == [])
        for bad in ["0", "0g", "zz", "00 1", "é0"] { #expect(Hex.decode(bad) == nil) }
        #expect(Hex.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
