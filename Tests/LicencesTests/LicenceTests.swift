import Foundation
import Identity
import Licences
import NIOConcurrencyHelpers
import SQLKit
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

extension Application {
    func call(
        _ method: HTTPMethod, _ path: String, token: String? = nil, body: [String: JSONValue]? = nil
    ) async throws -> (HTTPStatus, JSONValue, HTTPHeaders) {
        var headers = HTTPHeaders.json
        if let token { headers.add(name: .authorization, value: "Bearer \(token)") }
        let buffer = try body.map { ByteBuffer(data: try JSONEncoder().encode($0)) }
        let res = try await testing().sendRequest(method, path, headers: headers, body: buffer)
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null
        return (res.status, value, res.headers)
    }

    /// Issues a demo permit to demo-citizen as demo-clerk; returns the created licence.
    func issueDemoPermit(validUntil: String? = nil) async throws -> JSONValue {
        let clerk = try await login("demo-clerk")
        var body: [String: JSONValue] = [
            "typeCode": "demo-permit", "holder": ["idNumber": .string(LicenceTests.citizenID)],
            "fields": ["name": "李明的演示许可", "scope": "演示用途"],
        ]
        if let validUntil { body["validUntil"] = .string(validUntil) }
        let (status, created, _) = try await call(.POST, "/api/v1/licences", token: clerk, body: body)
        #expect(status == .created)
        return created
    }

    func verifyPayload(_ payload: String) async throws -> JSONValue {
        let (status, result, _) = try await call(.POST, "/api/v1/licences/verify", body: ["payload": .string(payload)])
        #expect(status == .ok)
        return result
    }
}

@Suite("Electronic licences: issuance, verification, status, keys")
struct LicenceTests {
    static let citizenID = "37010219900307123" + String(ResidentIDNumber.checkCharacter(for: "37010219900307123"))

    @Test func clerkIssuesDemoPermit_payloadVerifies_andShowsOnlyMaskedHolderAndPublicFields() async throws {
        try await withTestApp(demo: true) { app in
            let created = try await app.issueDemoPermit()
            let payload = try #require(created["qr"]?["payload"]?.stringValue)
            #expect(created["number"]?.stringValue?.hasPrefix("DZZZ") == true)
            #expect(created["qr"]?["svgUrl"]?.stringValue?.hasSuffix("/qr.svg") == true)
            #expect(created["holderMasked"]?.stringValue == "370102********" + String(Self.citizenID.suffix(4)))
            let result = try await app.verifyPayload(payload)
            #expect(result["valid"] == .bool(true))
            #expect(result["reason"]?.stringValue == "ok")
            #expect(result["status"]?.stringValue == "valid")
            #expect(result["type"]?.stringValue == "demo-permit")
            #expect(result["issuer"]?.stringValue == "370100-SCJG")
            #expect(result["holderMasked"]?.stringValue?.contains("********") == true)
            #expect(result["fields"]?["scope"]?.stringValue == "演示用途")
            // The unmasked ID number appears nowhere in the token.
            let parts = payload.split(separator: ".")
            let claims = String(decoding: try #require(Base64URL.decode(parts[1])), as: UTF8.self)
            #expect(!claims.contains(Self.citizenID))
            // The holder finds it in the wallet.
            let citizen = try await app.login("demo-citizen")
            let (_, wallet, _) = try await app.call(.GET, "/api/v1/licences", token: citizen)
            guard case .array(let items) = wallet else { Issue.record("wallet is not a list"); return }
            #expect(items.contains { $0["qr"]?["payload"]?.stringValue == payload })
        }
    }

    @Test func randomMutations_neverVerify() async throws {
        try await withTestApp(demo: true) { app in
            let payload = try #require(try await app.issueDemoPermit()["qr"]?["payload"]?.stringValue)
            var generator = SystemRandomNumberGenerator()
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.= ")
            var chars = Array(payload)
            var mutants: Set<String> = [String(payload.dropLast()), payload + "A", payload + ".", "", "garbage", String(payload.reversed())]
            while mutants.count < 160 {
                var copy = chars
                let index = Int.random(in: 0..<copy.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: copy[index] = alphabet.randomElement(using: &generator)!
                case 1: copy.remove(at: index)
                default: copy.insert(alphabet.randomElement(using: &generator)!, at: index)
                }
                let mutant = String(copy)
                if mutant != payload { mutants.insert(mutant) }
            }
            chars = []
            for mutant in mutants {
                let result = try await app.verifyPayload(mutant)
                #expect(result["valid"] == .bool(false), "mutant verified: \(mutant)")
                #expect(result["reason"]?.stringValue != "ok")
            }
        }
    }

    @Test func forgedHeaders_unknownKeys_andOversizedPayloads_areRefusedWithReasons() async throws {
        try await withTestApp(demo: true) { app in
            let payload = try #require(try await app.issueDemoPermit()["qr"]?["payload"]?.stringValue)
            let parts = payload.split(separator: ".").map(String.init)
            let header = String(decoding: try #require(Base64URL.decode(parts[0])), as: UTF8.self)
            func withHeader(_ text: String, signature: String? = nil) -> String {
                Base64URL.encode(Data(text.utf8)) + "." + parts[1] + "." + (signature ?? parts[2])
            }
            let none = withHeader(header.replacingOccurrences(of: "EdDSA", with: "none"), signature: "")
            #expect(try await app.verifyPayload(none)["reason"]?.stringValue == "unsupported_algorithm")
            // HS256 with the public key as the HMAC secret (the classic algorithm-confusion forgery).
            let trust = try await app.call(.GET, "/.well-known/tongban-trust-list.json").1
            guard case .array(let issuers)? = trust["issuers"], case .array(let jwks)? = issuers.first?["keys"] else {
                Issue.record("trust list shape"); return
            }
            let x = try #require(jwks.first?["x"]?.stringValue)
            let hsHeader = header.replacingOccurrences(of: "EdDSA", with: "HS256")
            let input = Base64URL.encode(Data(hsHeader.utf8)) + "." + parts[1]
            let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: try #require(Base64URL.decode(x))))
            let hs = input + "." + Base64URL.encode(Data(mac))
            #expect(try await app.verifyPayload(hs)["reason"]?.stringValue == "unsupported_algorithm")
            let unknown = withHeader(header.replacingOccurrences(of: "370100-SCJG#", with: "999999-XXXX#"))
            #expect(try await app.verifyPayload(unknown)["reason"]?.stringValue == "unknown_issuer")
            #expect(try await app.verifyPayload(String(repeating: "A", count: 5000))["reason"]?.stringValue == "oversized")
            #expect(try await app.verifyPayload("not a token")["reason"]?.stringValue == "malformed")
            // A token signed by a real key but never issued (claims changed and re-signed is impossible without
            // the key, so: a signature from another key under the right kid).
            let forged = SigningKeyMaterial.generate(kid: try #require(CompactJWS.keyID(of: payload)), algorithm: .edDSA)
            let reSigned = try CompactJWS.sign(payload: try #require(Base64URL.decode(parts[1])), key: forged, type: LicenceVerifier.tokenType)
            #expect(try await app.verifyPayload(reSigned)["reason"]?.stringValue == "bad_signature")
            // A missing payload is a 422 problem, not a 500.
            let (status, _, headers) = try await app.call(.POST, "/api/v1/licences/verify", body: [:])
            #expect(status == .unprocessableEntity)
            #expect(headers.first(name: .contentType)?.hasPrefix("application/problem+json") == true)
        }
    }

    @Test func revokeAndSuspend_changeWhatVerificationSays() async throws {
        try await withTestApp(demo: true) { app in
            let created = try await app.issueDemoPermit()
            let id = try #require(created["id"]?.stringValue)
            let payload = try #require(created["qr"]?["payload"]?.stringValue)
            let clerk = try await app.login("demo-clerk")
            let (noReason, _, _) = try await app.call(.POST, "/api/v1/licences/\(id)/suspend", token: clerk, body: [:])
            #expect(noReason == .unprocessableEntity)
            let (suspended, _, _) = try await app.call(.POST, "/api/v1/licences/\(id)/suspend", token: clerk, body: ["reason": "核查中"])
            #expect(suspended == .ok)
            var result = try await app.verifyPayload(payload)
            #expect(result["valid"] == .bool(false))
            #expect(result["reason"]?.stringValue == "suspended")
            let (reinstated, _, _) = try await app.call(.POST, "/api/v1/licences/\(id)/reinstate", token: clerk, body: [:])
            #expect(reinstated == .ok)
            #expect(try await app.verifyPayload(payload)["valid"] == .bool(true))
            // Someone outside the issuing department cannot revoke (the licence is not even visible).
            let approver = try await app.login("demo-approver-1")
            let (other, _, _) = try await app.call(.POST, "/api/v1/licences/\(id)/revoke", token: approver, body: ["reason": "x"])
            #expect(other == .notFound)
            let (revoked, _, _) = try await app.call(.POST, "/api/v1/licences/\(id)/revoke", token: clerk, body: ["reason": "以欺骗手段取得"])
            #expect(revoked == .ok)
            result = try await app.verifyPayload(payload)
            #expect(result["valid"] == .bool(false))
            #expect(result["reason"]?.stringValue == "revoked")
            #expect(result["status"]?.stringValue == "revoked")
            let (again, _, _) = try await app.call(.POST, "/api/v1/licences/\(id)/revoke", token: clerk, body: ["reason": "再次"])
            #expect(again == .conflict)
        }
    }

    @Test func expiredLicences_failWithExpired() async throws {
        try await withTestApp(demo: true) { app in
            let start = Date()
            let now = NIOLockedValueBox(start)
            app.clock = TongbanClock { now.withLockedValue { $0 } }
            let tomorrow = ISO8601DateFormatter().string(from: start.addingTimeInterval(86_400))
            let payload = try #require(try await app.issueDemoPermit(validUntil: tomorrow)["qr"]?["payload"]?.stringValue)
            #expect(try await app.verifyPayload(payload)["valid"] == .bool(true))
            now.withLockedValue { $0 = start.addingTimeInterval(2 * 86_400) }
            let result = try await app.verifyPayload(payload)
            #expect(result["valid"] == .bool(false))
            #expect(result["reason"]?.stringValue == "expired")
            #expect(result["status"]?.stringValue == "expired")
        }
    }

    @Test func rotation_keepsOldLicencesValid_andSignsNewOnesWithTheNewKey() async throws {
        try await withTestApp(demo: true) { app in
            let first = try #require(try await app.issueDemoPermit()["qr"]?["payload"]?.stringValue)
            guard let department = try await DirectoryService(db: app.db).department(code: "370100-SCJG") else {
                Issue.record("demo department missing"); return
            }
            let keys = SigningKeyService(db: app.db, vault: app.keyVault, clock: app.clock, cache: app.licenceCache)
            let rotated = try await keys.rotate(department: department)
            let second = try #require(try await app.issueDemoPermit()["qr"]?["payload"]?.stringValue)
            #expect(CompactJWS.keyID(of: second) == rotated.kid)
            #expect(CompactJWS.keyID(of: first) != rotated.kid)
            #expect(try await app.verifyPayload(first)["valid"] == .bool(true))
            #expect(try await app.verifyPayload(second)["valid"] == .bool(true))
            let trust = try await app.call(.GET, "/.well-known/tongban-trust-list.json").1
            guard case .array(let issuers)? = trust["issuers"],
                let scjg = issuers.first(where: { $0["code"]?.stringValue == "370100-SCJG" }),
                case .array(let jwks)? = scjg["keys"]
            else { Issue.record("trust list shape"); return }
            #expect(jwks.count == 2)
            #expect(Set(jwks.compactMap { $0["status"]?.stringValue }) == ["active", "retired"])
            #expect(jwks.allSatisfy { $0["kty"]?.stringValue == "OKP" && $0["crv"]?.stringValue == "Ed25519" })
            // Offline: the same answer from the trust list alone.
            let list = try JSONDecoder.iso8601.decode(TrustList.self, from: JSONEncoder().encode(trust))
            let offline = LicenceVerifier.verify(
                first, now: Date(), lookup: { list.keys()[$0] }, status: { _ in (.valid, nil) })
            #expect(offline.valid)
        }
    }

    @Test func badIssueRequests_areRefusedAllAtOnce() async throws {
        try await withTestApp(demo: true) { app in
            let clerk = try await app.login("demo-clerk")
            let (status, problem, _) = try await app.call(
                .POST, "/api/v1/licences", token: clerk,
                body: ["typeCode": "demo-permit", "holder": ["idNumber": "123"], "fields": ["name": "", "colour": "red"]])
            #expect(status == .unprocessableEntity)
            let fields = Set((problem["errors"].flatMap { value -> [JSONValue]? in
                if case .array(let items) = value { return items } else { return nil }
            } ?? []).compactMap { $0["field"]?.stringValue })
            #expect(fields.isSuperset(of: ["holder.idNumber", "fields.name", "fields.scope", "fields.colour"]))
            // A date beyond year 9999 is a clear 422, not a crash while signing.
            let (farFuture, far, _) = try await app.call(
                .POST, "/api/v1/licences", token: clerk,
                body: ["typeCode": "demo-permit", "holder": ["idNumber": .string(Self.citizenID)], "fields": ["name": "a", "scope": "b"],
                       "validUntil": "99999-01-01T00:00:00Z"])
            #expect(farFuture == .unprocessableEntity || farFuture == .badRequest, "\(far)")
            let (unknownType, _, _) = try await app.call(.POST, "/api/v1/licences", token: clerk, body: ["typeCode": "no-such-type"])
            #expect(unknownType == .unprocessableEntity)
            // A citizen cannot issue; another department's staff cannot issue this type.
            let citizen = try await app.login("demo-citizen")
            let (forbidden, _, _) = try await app.call(
                .POST, "/api/v1/licences", token: citizen,
                body: ["typeCode": "demo-permit", "holder": ["idNumber": .string(Self.citizenID)], "fields": ["name": "a", "scope": "b"]])
            #expect(forbidden == .forbidden)
            let (anonymous, _, _) = try await app.call(.POST, "/api/v1/licences", body: ["typeCode": "demo-permit"])
            #expect(anonymous == .unauthorized)
        }
    }

    @Test func es256Keys_signAndVerify_andBase64URLIsCanonical() throws {
        let key = SigningKeyMaterial.generate(kid: "p256-test", algorithm: .es256)
        let token = try CompactJWS.sign(payload: Data(#"{"a":1}"#.utf8), key: key, type: "t")
        let verified = try CompactJWS.verify(token) { $0 == "p256-test" ? key.verificationKey : nil }
        #expect(verified.payload == Data(#"{"a":1}"#.utf8))
        let jwk = key.verificationKey.jwk
        #expect(VerificationKey(jwk: jwk) == key.verificationKey)
        // "QQ" is the only encoding of "A"; "QR" decodes to the same byte in lenient decoders.
        #expect(Base64URL.decode("QQ") == Data("A".utf8))
        #expect(Base64URL.decode("QR") == nil)
        #expect(Base64URL.decode("QQ==") == nil)
        #expect(Base64URL.decode("Q") == nil)
    }
}

extension JSONDecoder {
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

@Suite("Bulk issuance from CSV")
struct BulkIssuanceTests {
    func post(_ app: Application, csv: String, token: String, type: String = "demo-permit") async throws -> (HTTPStatus, JSONValue) {
        var headers = HTTPHeaders()
        headers.add(name: .authorization, value: "Bearer \(token)")
        headers.contentType = HTTPMediaType(type: "text", subType: "csv")
        let res = try await app.testing().sendRequest(.POST, "/api/v1/licences/bulk?typeCode=\(type)", headers: headers, body: ByteBuffer(string: csv))
        return (res.status, (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .null)
    }

    @Test func validRows_areIssuedAndVerify_aBadRowStoresNothing() async throws {
        try await withTestApp(demo: true) { app in
            let clerk = try await app.login("demo-clerk")
            let ids = (0..<3).map { _ in Fixtures.randomIDNumber() }
            let csv = "idNumber,name,scope,validUntil\r\n" + ids.enumerated().map { "\($1),\"许可, 第\($0)号\",演示,2030-01-01" }.joined(separator: "\r\n")
            let (status, body) = try await post(app, csv: csv, token: clerk)
            #expect(status == .created)
            #expect(body["issued"] == .number(3))
            guard case .array(let issued)? = body["licences"], let first = issued.first?["id"]?.stringValue else {
                Issue.record("no licences"); return
            }
            let (_, licence, _) = try await app.call(.GET, "/api/v1/licences/\(first)", token: clerk)
            #expect(licence["fields"]?["name"]?.stringValue?.hasPrefix("许可, 第") == true)
            let payload = try #require(licence["qr"]?["payload"]?.stringValue)
            #expect(try await app.verifyPayload(payload)["valid"] == .bool(true))
            let before = try await Licence.query(on: app.db).count()
            let bad = "idNumber,name,scope\n\(Fixtures.randomIDNumber()),甲,乙\n123,丙,丁\n\(Fixtures.randomIDNumber()),,戊\n"
            let (refused, problem) = try await post(app, csv: bad, token: clerk)
            #expect(refused == .unprocessableEntity)
            let fields = "\(problem["errors"] ?? .null)"
            #expect(fields.contains("row 3.holder.idNumber"))
            #expect(fields.contains("row 4.fields.name"))
            #expect(try await Licence.query(on: app.db).count() == before)
            let (header, _) = try await post(app, csv: "idNumber,colour\n\(Fixtures.randomIDNumber()),red\n", token: clerk)
            #expect(header == .unprocessableEntity)
            let (unclosed, _) = try await post(app, csv: "idNumber,name,scope\n\"x,y,z\n", token: clerk)
            #expect(unclosed == .unprocessableEntity)
        }
    }

    @Test func csvParser_handlesQuotesAndLineEnds() throws {
        #expect(try CSV.parse("a,b\r\n\"x,\"\"y\"\"\",z\n\n1,2") == [["a", "b"], ["x,\"y\"", "z"], ["1", "2"]])
        #expect(try CSV.parse("\u{FEFF}h\n\"multi\nline\"") == [["h"], ["multi\nline"]])
        #expect(throws: CSV.Failure.self) { try CSV.parse("a\n\"open") }
        #expect(throws: CSV.Failure.self) { try CSV.parse("a\nb\"c") }
    }
}

@Suite("Wallet credentials (VC-JWT)")
struct CredentialTests {
    @Test func holderDownloadsAVCJWT_signedByTheIssuer_othersGet404() async throws {
        try await withTestApp(demo: true) { app in
            let created = try await app.issueDemoPermit()
            let id = try #require(created["id"]?.stringValue)
            let citizen = try await app.login("demo-citizen")
            var headers = HTTPHeaders()
            headers.add(name: .authorization, value: "Bearer \(citizen)")
            let res = try await app.testing().sendRequest(.GET, "/api/v1/licences/\(id)/credential", headers: headers)
            #expect(res.status == .ok)
            #expect(res.headers.first(name: .contentType) == "application/vc+jwt")
            let token = String(buffer: res.body)
            let trust = try await app.call(.GET, "/.well-known/tongban-trust-list.json").1
            let list = try JSONDecoder.iso8601.decode(TrustList.self, from: JSONEncoder().encode(trust))
            let verified = try CompactJWS.verify(token) { list.keys()[$0] }
            #expect(verified.type == "vc+jwt")
            let credential = try JSONDecoder().decode(LicenceCredential.self, from: verified.payload)
            #expect(credential.type.contains("VerifiableCredential"))
            #expect(credential.credentialSubject.licenceNumber == created["number"]?.stringValue)
            #expect(credential.credentialSubject.fields["scope"] == "演示用途")
            let clerk = try await app.login("demo-clerk")
            let (other, _, _) = try await app.call(.GET, "/api/v1/licences/\(id)/credential", token: clerk)
            #expect(other == .notFound)
            let (anonymous, _, _) = try await app.call(.GET, "/api/v1/licences/\(id)/credential")
            #expect(anonymous == .unauthorized)
        }
    }
}

@Suite("Presentation codes (亮证)")
struct PresentationTests {
    @Test func presentationVerifiesForAMinute_thenAScreenshotFails() async throws {
        try await withTestApp(demo: true) { app in
            let start = Date()
            let now = NIOLockedValueBox(start)
            app.clock = TongbanClock { now.withLockedValue { $0 } }
            let created = try await app.issueDemoPermit()
            let id = try #require(created["id"]?.stringValue)
            let citizen = try await app.login("demo-citizen")
            let (status, shown, _) = try await app.call(.POST, "/api/v1/licences/\(id)/presentation", token: citizen)
            #expect(status == .created)
            let payload = try #require(shown["payload"]?.stringValue)
            #expect(shown["svg"]?.stringValue?.contains("<svg") == true)
            #expect(payload != created["qr"]?["payload"]?.stringValue)
            var result = try await app.verifyPayload(payload)
            #expect(result["valid"] == .bool(true))
            #expect(result["presentation"] == .bool(true))
            #expect(result["number"] == created["number"])
            now.withLockedValue { $0 = start.addingTimeInterval(70) }
            result = try await app.verifyPayload(payload)
            #expect(result["valid"] == .bool(false))
            #expect(result["reason"]?.stringValue == "presentation_expired")
            // Someone else cannot make one; a revoked licence cannot be shown.
            let clerk = try await app.login("demo-clerk")
            let (other, _, _) = try await app.call(.POST, "/api/v1/licences/\(id)/presentation", token: clerk)
            #expect(other == .notFound)
            let (revoked, _, _) = try await app.call(.POST, "/api/v1/licences/\(id)/revoke", token: clerk, body: ["reason": "测试"])
            #expect(revoked == .ok)
            let (refused, _, _) = try await app.call(.POST, "/api/v1/licences/\(id)/presentation", token: citizen)
            #expect(refused == .conflict)
        }
    }
}

@Suite("Composite licences (一业一证)")
struct CompositeTests {
    @Test func compositeListsComponents_andVerificationShowsEachStatus() async throws {
        try await withTestApp(demo: true) { app in
            let first = try await app.issueDemoPermit()
            let second = try await app.issueDemoPermit()
            let clerk = try await app.login("demo-clerk")
            let firstNumber = try #require(first["number"]?.stringValue)
            let secondID = try #require(second["id"]?.stringValue)
            let body: [String: JSONValue] = [
                "typeCode": "composite-industry-licence", "holder": ["idNumber": .string(LicenceTests.citizenID)],
                "fields": ["industry": "便利店", "operator": "李明"], "components": [.string(firstNumber), .string(secondID)],
            ]
            let (status, composite, _) = try await app.call(.POST, "/api/v1/licences", token: clerk, body: body)
            #expect(status == .created)
            let payload = try #require(composite["qr"]?["payload"]?.stringValue)
            var result = try await app.verifyPayload(payload)
            #expect(result["valid"] == .bool(true))
            guard case .array(let components)? = result["components"] else { Issue.record("no components"); return }
            #expect(components.count == 2)
            #expect(components.allSatisfy { $0["status"]?.stringValue == "valid" })
            #expect(components.first?["number"]?.stringValue == firstNumber)
            let (revoked, _, _) = try await app.call(.POST, "/api/v1/licences/\(secondID)/revoke", token: clerk, body: ["reason": "测试"])
            #expect(revoked == .ok)
            result = try await app.verifyPayload(payload)
            guard case .array(let after)? = result["components"] else { Issue.record("no components"); return }
            #expect(after.map { $0["status"]?.stringValue } == ["valid", "revoked"])
            // Bad requests: no components, a revoked one, another holder's, components on a plain type.
            var bad = body
            bad["components"] = []
            #expect(try await app.call(.POST, "/api/v1/licences", token: clerk, body: bad).0 == .unprocessableEntity)
            bad["components"] = [.string(secondID)]
            #expect(try await app.call(.POST, "/api/v1/licences", token: clerk, body: bad).0 == .unprocessableEntity)
            bad["holder"] = ["idNumber": .string(Fixtures.randomIDNumber())]
            bad["components"] = [.string(firstNumber)]
            #expect(try await app.call(.POST, "/api/v1/licences", token: clerk, body: bad).0 == .unprocessableEntity)
            let plain: [String: JSONValue] = [
                "typeCode": "demo-permit", "holder": ["idNumber": .string(LicenceTests.citizenID)],
                "fields": ["name": "a", "scope": "b"], "components": [.string(firstNumber)],
            ]
            #expect(try await app.call(.POST, "/api/v1/licences", token: clerk, body: plain).0 == .unprocessableEntity)
        }
    }
}

@Suite("Licence pages")
struct LicencePageTests {
    @Test func printView_showsSealAndQRToTheHolder_only() async throws {
        try await withTestApp(demo: true) { app in
            let created = try await app.issueDemoPermit()
            let id = try #require(created["id"]?.stringValue)
            let holder = PageBrowser(app)
            try await holder.login("demo-citizen")
            let page = try await holder.get("/licences/\(id)/print")
            #expect(page.status == .ok)
            #expect(holder.lastBody.contains("济南市市场监督管理局"))
            #expect(holder.lastBody.contains("电子证照专用章"))
            #expect(holder.lastBody.contains("<textPath"))
            #expect(holder.lastBody.contains(try #require(created["number"]?.stringValue)))
            let stranger = PageBrowser(app)
            try await stranger.login("demo-approver-1")
            #expect(try await stranger.get("/licences/\(id)/print").status == .notFound)
            #expect(try await PageBrowser(app).get("/licences/\(id)/print").status == .seeOther)
            // The verification page answers a scanned link as well as a bare token.
            let payload = try #require(created["qr"]?["payload"]?.stringValue)
            let anyone = PageBrowser(app)
            let link = "http://example.test/verify?p=\(payload)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            #expect(try await anyone.get("/verify?p=\(link)").status == .ok)
            #expect(anyone.lastBody.contains("证照真实有效"))
        }
    }

    @Test func seal_escapesTheDepartmentName() {
        let svg = Seal.svg(department: "<script>&\"")
        #expect(!svg.contains("<script>"))
        #expect(svg.contains("&lt;script&gt;&amp;&quot;"))
    }
}

@Suite("Licence events in the audit log")
struct LicenceAuditTests {
    @Test func issueAndRevoke_areRecorded() async throws {
        try await withTestApp(demo: true) { app in
            let created = try await app.issueDemoPermit()
            let id = try #require(created["id"]?.stringValue)
            let clerk = try await app.login("demo-clerk")
            _ = try await app.call(.POST, "/api/v1/licences/\(id)/revoke", token: clerk, body: ["reason": "审计测试"])
            let admin = try await app.login("demo-admin")
            let (_, checkpoint, _) = try await app.call(.GET, "/api/v1/audit/checkpoint")
            let size = try #require(checkpoint["treeSize"].flatMap { value -> Int? in
                if case .number(let n) = value { return Int(n) } else { return nil }
            })
            var kinds: [String] = []
            var texts: [String] = []
            for index in 0..<size {
                let (_, entry, _) = try await app.call(.GET, "/api/v1/audit/entries/\(index)", token: admin)
                kinds.append(entry["kind"]?.stringValue ?? "")
                texts.append(entry["entry"]?.stringValue ?? "")
            }
            #expect(kinds.contains("licence.issued"))
            #expect(kinds.contains("licence.revoked"))
            let number = try #require(created["number"]?.stringValue)
            #expect(texts.contains { $0.contains(number) && $0.contains("licence.revoked") && $0.contains("审计测试") })
            #expect(!texts.joined().contains(LicenceTests.citizenID))
            // The log's signing key is sealed with the master key at rest.
            let sql = try #require(app.db as? any SQLDatabase)
            let stored = try #require(try await sql.raw("SELECT private_key FROM audit_keys").first()?
                .decode(column: "private_key", as: String.self))
            #expect(stored.hasPrefix("sealed:"))
            #expect(!stored.contains("PRIVATE+KEY"))
        }
    }
}
