import Fluent
import Foundation
import Identity
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Registration")
struct RegistrationTests {
    @Test func register_validPerson_returns201WithMaskedProfile() async throws {
        try await withTestApp { app in
            try await app.testing().test(
                .POST, "/api/v1/auth/register",
                beforeRequest: { req in
                    try req.content.encode([
                        "username": "Zhang.San", "password": Fixtures.password, "name": "张三",
                        "idNumber": "11010519491231002x", "phone": "138 1234 5678",
                    ])
                },
                afterResponse: { res in
                    #expect(res.status == .created)
                    let body = try res.content.decode([String: JSONValue].self)
                    #expect(body["username"]?.stringValue == "zhang.san")
                    #expect(body["idNumber"]?.stringValue == "110105********002X")
                    #expect(body["phone"]?.stringValue == "138****5678")
                    #expect(!res.body.string.contains("11010519491231002X"))
                })
            let stored = try #require(try await User.query(on: app.db).filter(\.$username == "zhang.san").first())
            #expect(stored.idNumber == "11010519491231002X")
            #expect(stored.passwordHash.hasPrefix("$2"))
            #expect(stored.passwordHash != Fixtures.password)
        }
    }

    @Test func register_invalidIDNumber_returns422NamingIdNumber() async throws {
        try await withTestApp { app in
            try await app.testing().test(
                .POST, "/api/v1/auth/register",
                beforeRequest: { req in
                    try req.content.encode([
                        "username": "lisi", "password": Fixtures.password, "name": "李四",
                        "idNumber": "110105194912310021", "phone": "13812345678",
                    ])
                },
                afterResponse: { res in
                    #expect(res.status == .unprocessableEntity)
                    #expect(res.isProblemJSON)
                    #expect(res.problem?.fields() == ["idNumber"])
                })
            #expect(try await User.query(on: app.db).count() == 0)
        }
    }

    @Test func register_everyFieldWrong_reportsAllErrorsAtOnce() async throws {
        try await withTestApp { app in
            try await app.testing().test(
                .POST, "/api/v1/auth/register",
                beforeRequest: { req in
                    try req.content.encode([
                        "username": "x", "password": "1234567890", "name": "", "idNumber": "abc", "phone": "123",
                        "email": "no-at-sign.example.cn",
                    ])
                },
                afterResponse: { res in
                    #expect(res.status == .unprocessableEntity)
                    let fields = Set(res.problem?.fields() ?? [])
                    #expect(fields == ["username", "password", "name", "idNumber", "phone", "email"])
                })
        }
    }

    @Test func register_missingFields_are422NotCrash() async throws {
        try await withTestApp { app in
            try await app.testing().test(
                .POST, "/api/v1/auth/register", headers: .json, body: ByteBuffer(string: "{}"),
                afterResponse: { res in
                    #expect(res.status == .unprocessableEntity)
                    let fields = Set(res.problem?.fields() ?? [])
                    #expect(fields.isSuperset(of: ["username", "password", "idNumber"]))
                })
        }
    }

    @Test(arguments: ["{not json", "[1,2", "\"just a string\""])
    func register_malformedJSON_returns400Problem(body: String) async throws {
        try await withTestApp { app in
            try await app.testing().test(
                .POST, "/api/v1/auth/register", headers: .json, body: ByteBuffer(string: body),
                afterResponse: { res in
                    #expect(res.status == .badRequest)
                    #expect(res.isProblemJSON)
                    #expect(res.problem?.instance == "/api/v1/auth/register")
                })
        }
    }

    @Test func register_wrongFieldType_returns400() async throws {
        try await withTestApp { app in
            try await app.testing().test(
                .POST, "/api/v1/auth/register", headers: .json, body: ByteBuffer(string: #"{"username": 42}"#),
                afterResponse: { res in #expect(res.status == .badRequest) })
        }
    }

    @Test func register_duplicateUsername_isRejected() async throws {
        try await withTestApp { app in
            let id = Fixtures.randomIDNumber()
            let name = try await app.registerPerson(idNumber: id)
            try await app.testing().test(
                .POST, "/api/v1/auth/register",
                beforeRequest: { req in
                    try req.content.encode([
                        "username": name, "password": Fixtures.password, "name": "王五", "idNumber": id,
                        "phone": "13812345678",
                    ])
                },
                afterResponse: { res in
                    #expect(res.status == .unprocessableEntity)
                    #expect(res.problem?.fields() == ["username"])
                })
        }
    }

    @Test(arguments: ["zhangsan2026", "1234567890", "password123", "aaaaaaaaaaaa", "short"])
    func register_weakPasswords_areRejected(password: String) async throws {
        try await withTestApp { app in
            try await app.testing().test(
                .POST, "/api/v1/auth/register",
                beforeRequest: { req in
                    try req.content.encode([
                        "username": "zhangsan", "password": password, "name": "张三",
                        "idNumber": Fixtures.randomIDNumber(), "phone": "13812345678",
                    ])
                },
                afterResponse: { res in
                    #expect(res.status == .unprocessableEntity)
                    #expect(res.problem?.fields() == ["password"])
                })
        }
    }

    @Test func register_hostileText_isStoredVerbatimAndEscapedOnPages() async throws {
        try await withTestApp { app in
            let hostile = "<script>alert('x')</script>\"; DROP TABLE identity_users; -- 😀"
            let name = Fixtures.uniqueUsername()
            try await app.testing().test(
                .POST, "/api/v1/auth/register",
                beforeRequest: { req in
                    try req.content.encode([
                        "username": name, "password": Fixtures.password, "name": String(hostile.prefix(60)),
                        "idNumber": Fixtures.randomIDNumber(), "phone": "13812345678",
                    ])
                },
                afterResponse: { res in #expect(res.status == .created) })
            let user = try #require(try await User.query(on: app.db).filter(\.$username == name).first())
            #expect(user.name == String(hostile.prefix(60)).trimmingCharacters(in: .whitespaces))
            #expect(try await User.query(on: app.db).count() == 1)
        }
    }
}
