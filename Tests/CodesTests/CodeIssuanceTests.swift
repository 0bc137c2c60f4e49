import Codes
import Fluent
import SQLKit
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Codes: issuance, verification, replay, scenarios")
struct CodeIssuanceTests {
    @Test func issue_returnsShortLivedSignedPseudonymousCode_withQR() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let before = Date()
            let (status, body, headers) = try await app.call(.POST, "/api/v1/codes", token: citizen, body: ["type": "identity"])
            let after = Date()
            #expect(status == .created)
            #expect(headers.first(name: .cacheControl) == "no-store")
            let payload = try #require(body["payload"]?.stringValue)
            let expires = try #require(body["expiresAt"]?.stringValue.flatMap { ISO8601DateFormatter().date(from: $0) })
            // At most 60 s after it was issued (between `before` and `after`; ISO 8601 drops the fraction).
            #expect(expires.timeIntervalSince(after) <= 60)
            #expect(expires.timeIntervalSince(before) > 30)
            // Claims: pseudonym, type, iat, exp, nonce; never the ID number or the name.
            let parts = payload.split(separator: ".")
            #expect(parts.count == 3)
            let claims = String(decoding: try #require(Base64URL.decode(parts[1])), as: UTF8.self)
            let header = String(decoding: try #require(Base64URL.decode(parts[0])), as: UTF8.self)
            #expect(header.contains("\"alg\":\"EdDSA\"") && header.contains("\"kid\":\"codes#"))
            for key in ["\"sub\"", "\"typ\":\"identity\"", "\"iat\"", "\"exp\"", "\"jti\""] { #expect(claims.contains(key)) }
            #expect(!payload.contains(Demo.citizenID) && !claims.contains(Demo.citizenID) && !claims.contains(Demo.citizenName))
            // The QR code of the payload.
            let svgURL = try #require(body["qr"]?["svgUrl"]?.stringValue)
            let res = try await app.testing().sendRequest(.GET, svgURL)
            #expect(res.status == .ok)
            #expect(res.headers.contentType?.subType == "svg+xml")
            #expect(String(buffer: res.body).contains("<svg"))
            // A second code is a different token (fresh nonce) with the same pseudonym.
            let second = try await app.issueCode(token: citizen)
            #expect(second != payload)
            let secondClaims = String(decoding: try #require(Base64URL.decode(second.split(separator: ".")[1])), as: UTF8.self)
            func sub(_ text: String) -> String? { (try? JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8)))?["sub"]?.stringValue }
            #expect(sub(secondClaims) == sub(claims))
            // The trust list publishes the key that signed it; the private key is stored sealed.
            let (_, trust, _) = try await app.call(.GET, "/.well-known/tongban-codes-trust-list.json")
            let kid = CompactJWS.keyID(of: payload)
            #expect(trust["keys"]?.items.contains { $0["kid"]?.stringValue == kid && $0["kty"]?.stringValue == "OKP" } == true)
            let key = try #require(try await CodeSigningKey.query(on: app.db).first())
            #expect(try app.keyVault.open(key.sealedPrivateKey, purpose: "codes.signing-key:\(key.kid)").count == 32)
        }
    }

    @Test func issue_rejectsAnonymousStaffAndUnknownTypes() async throws {
        try await withTestApp(demo: true) { app in
            let (anonymous, problem, headers) = try await app.call(.POST, "/api/v1/codes", body: ["type": "identity"])
            #expect(anonymous == .unauthorized)
            #expect(headers.first(name: .contentType)?.hasPrefix("application/problem+json") == true)
            #expect(problem["status"] == 401)
            let clerk = try await app.login("demo-clerk")
            #expect(try await app.call(.POST, "/api/v1/codes", token: clerk, body: ["type": "identity"]).0 == .forbidden)
            let citizen = try await app.login("demo-citizen")
            let (bad, badBody, _) = try await app.call(.POST, "/api/v1/codes", token: citizen, body: ["type": "passport"])
            #expect(bad == .unprocessableEntity)
            #expect(badBody["errors"]?.items.first?["field"]?.stringValue == "type")
            // Type defaults to identity.
            #expect(try await app.call(.POST, "/api/v1/codes", token: citizen, body: [:]).0 == .created)
            // QR of something that is not a valid code: 404.
            #expect(try await app.testing().sendRequest(.GET, "/api/v1/codes/qr.svg?p=hello").status == .notFound)
        }
    }

    @Test func verify_venue_disclosesNameAndMaskedIDOnly_thenReplayIsRefused_andHolderSeesBothScans() async throws {
        try await withTestApp(demo: true) { app in
            let payload = try await app.issueCode()
            let answer = try await app.verifyCode(payload)
            #expect(answer["valid"] == .bool(true))
            #expect(answer["reason"]?.stringValue == "ok")
            #expect(answer["attributes"]?.objectKeys == ["name", "idNumberMasked"])
            #expect(answer["attributes"]?["name"]?.stringValue == Demo.citizenName)
            #expect(answer["attributes"]?["idNumberMasked"]?.stringValue == Masking.idNumber(Demo.citizenID))
            let replay = try await app.verifyCode(payload)
            #expect(replay["valid"] == .bool(false))
            #expect(replay["reason"]?.stringValue == "replayed")
            #expect(replay["attributes"]?.objectKeys == [])
            // Another organisation (the hospital) may still accept it once — but not for a venue code type.
            let citizen = try await app.login("demo-citizen")
            let (status, records, _) = try await app.call(.GET, "/api/v1/codes/scans", token: citizen)
            #expect(status == .ok)
            let items = records["items"]?.items ?? []
            #expect(items.count == 2)
            #expect(items.filter { $0["valid"] == .bool(true) }.count == 1)
            let accepted = try #require(items.first { $0["valid"] == .bool(true) })
            #expect(accepted["disclosed"] == ["name", "idNumberMasked"])
            #expect(accepted["organisation"]?.stringValue?.contains("Demo venue") == true)
            #expect(accepted["scenario"]?.stringValue == "venue")
            #expect(accepted["location"]?.stringValue?.isEmpty == false)
            #expect(items.contains { $0["reason"]?.stringValue == "replayed" && $0["disclosed"] == [] })
            #expect(records["nextCursor"] == .null)
            // The disclosing scan's audit event reaches the audit log through a job written with the scan row; the
            // replayed scan disclosed nothing and has none.
            let scanID = try #require(answer["scanId"]?.stringValue).lowercased()
            while try await app.jobs.runOnce(app: app) > 0 {}
            let sql = try #require(app.db as? any SQLDatabase)
            let entries = try await sql.raw("SELECT entry FROM audit_entries WHERE kind = 'codes.scan.disclosed'").all()
                .map { try $0.decode(column: "entry", as: String.self) }
            #expect(entries.count == 1)
            #expect(entries.first?.contains(scanID) == true)
            #expect(entries.first?.contains("name,idNumberMasked") == true)
            // Another person sees none of them.
            let other = try await app.login(try await app.registerPerson(), Fixtures.password)
            #expect(try await app.call(.GET, "/api/v1/codes/scans", token: other).1["items"]?.items.count == 0)
        }
    }

    @Test func everySingleCharacterChange_neverVerifies() async throws {
        try await withTestApp(demo: true) { app in
            // A stopped clock: ~340 verifications can take longer than a code's 60 s on a loaded CI machine.
            _ = app.manualClock()
            let payload = try await app.issueCode()
            let chars = Array(payload)
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
            var reasons: Set<String> = []
            for index in chars.indices {
                var copy = chars
                var replacement = alphabet.randomElement()!
                while replacement == copy[index] { replacement = alphabet.randomElement()! }
                copy[index] = replacement
                let answer = try await app.verifyCode(String(copy))
                #expect(answer["valid"] == .bool(false), "mutant at \(index) verified")
                reasons.insert(answer["reason"]?.stringValue ?? "")
            }
            #expect(reasons.isSubset(of: ["malformed", "bad_signature", "unknown_key"]))
            #expect(reasons.contains("bad_signature"))
            // The original still verifies once (no mutant consumed it).
            #expect(try await app.verifyCode(payload)["valid"] == .bool(true))
        }
    }

    @Test func expiry_isEnforced_withConfigurableClockSkew() async throws {
        try await withTestApp(demo: true) { app in
            app.codesSettings = CodesSettings(clockSkew: 10, codeLifetime: 30)
            let clock = app.manualClock()
            let citizen = try await app.login("demo-citizen")
            let first = try await app.issueCode(token: citizen)
            let second = try await app.issueCode(token: citizen)
            clock.advance(30 + 9)  // expired by the code's own clock, inside the skew
            #expect(try await app.verifyCode(first)["valid"] == .bool(true))
            clock.advance(2)  // 30 + 11: beyond the skew
            let answer = try await app.verifyCode(second)
            #expect(answer["valid"] == .bool(false))
            #expect(answer["reason"]?.stringValue == "expired")
            // A code from the future (the platform's clock behind the holder's) is refused beyond the skew.
            clock.advance(-120)
            let again = try await app.login("demo-citizen")
            #expect(try await app.verifyCode(try await app.issueCode(token: again))["valid"] == .bool(true))
            let future = try await app.issueCode(token: again)
            clock.advance(-11)
            #expect(try await app.verifyCode(future)["reason"]?.stringValue == "not_yet_valid")
        }
    }

    @Test func wrongScenario_unknownDevice_garbage_areAnswersNotErrors() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let identity = try await app.issueCode("identity", token: citizen)
            // The venue device asked for another scenario.
            #expect(try await app.verifyCode(identity, scenario: "transit")["reason"]?.stringValue == "wrong_scenario")
            #expect(try await app.verifyCode(identity, scenario: "casino")["reason"]?.stringValue == "wrong_scenario")
            // A transit code shown at a venue.
            let transit = try await app.issueCode("transit", token: citizen)
            let wrong = try await app.verifyCode(transit, scenario: "venue")
            #expect(wrong["valid"] == .bool(false) && wrong["reason"]?.stringValue == "wrong_scenario")
            #expect(wrong["attributes"]?.objectKeys == [])
            // Unknown or missing keys.
            #expect(try await app.verifyCode(identity, apiKey: "no-such-key")["reason"]?.stringValue == "unknown_device")
            #expect(try await app.verifyCode(identity, apiKey: nil)["reason"]?.stringValue == "unknown_device")
            // Garbage.
            for garbage in ["", "garbage", "a.b.c", "~", "..", "~~", String(repeating: "A", count: 5000), "ä.ö.ü", identity + "~" + identity] {
                let answer = try await app.verifyCode(garbage)
                #expect(answer["valid"] == .bool(false), "garbage verified: \(garbage.prefix(20))")
                #expect(["malformed", "bad_signature", "unknown_key"].contains(answer["reason"]?.stringValue ?? ""))
            }
            // The untouched identity code still verifies at the venue.
            #expect(try await app.verifyCode(identity)["valid"] == .bool(true))
            // Missing payload: 422; not JSON: 400.
            let (missing, problem, _) = try await app.call(.POST, "/api/v1/codes/verify", apiKey: "demo-verifier-key", body: ["scenario": "venue"])
            #expect(missing == .unprocessableEntity)
            #expect(problem["errors"]?.items.first?["field"]?.stringValue == "payload")
            let res = try await app.testing().sendRequest(
                .POST, "/api/v1/codes/verify", headers: ["Content-Type": "application/json", "X-Api-Key": "demo-verifier-key"],
                body: ByteBuffer(string: "{not json"))
            #expect(res.status == .badRequest)
        }
    }

    @Test func selectiveDisclosure_perScenario_andMedicalEncounter() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let medical = try await app.issueCode("medical_insurance", token: citizen)
            let hospital = try await app.verifyCode(medical, scenario: "medical_insurance", apiKey: "demo-hospital-key")
            #expect(hospital["valid"] == .bool(true))
            #expect(hospital["attributes"]?.objectKeys == ["name", "insuranceNumber"])
            let insurance = try #require(hospital["attributes"]?["insuranceNumber"]?.stringValue)
            #expect(insurance.hasPrefix("YB370102") && insurance.count == 20)
            let encounterID = try #require(hospital["encounterId"]?.stringValue.flatMap(UUID.init(uuidString:)))
            let encounter = try #require(try await MedicalEncounter.find(encounterID, on: app.db))
            #expect(encounter.insuranceNumber == insurance)
            // The hospital does not accept an identity code, the venue does not see the insurance number.
            let identity = try await app.issueCode("identity", token: citizen)
            #expect(try await app.verifyCode(identity, scenario: "medical_insurance", apiKey: "demo-hospital-key")["reason"]?.stringValue
                == "wrong_scenario")
            #expect(try await app.verifyCode(identity)["attributes"]?["insuranceNumber"] == nil)
            // Transit sees validity only.
            let transit = try await app.issueCode("transit", token: citizen)
            let gate = try await app.verifyCode(transit, scenario: "transit", apiKey: "demo-gate-key")
            #expect(gate["valid"] == .bool(true))
            #expect(gate["attributes"]?.objectKeys == [])
            // The holder's records show the encounter and what each verifier saw.
            let records = try await app.call(.GET, "/api/v1/codes/scans", token: citizen).1["items"]?.items ?? []
            #expect(records.contains { $0["encounterId"]?.stringValue == encounterID.uuidString })
            #expect(records.contains { $0["scenario"]?.stringValue == "transit" && $0["disclosed"] == [] && $0["valid"] == .bool(true) })
        }
    }

    @Test func concurrentVerifies_ofOnePayload_acceptExactlyOnce() async throws {
        try await withTestApp(demo: true, sqliteFile: true) { app in
            let payload = try await app.issueCode()
            let answers = try await withThrowingTaskGroup(of: JSONValue.self) { group in
                for _ in 0..<12 { group.addTask { try await app.verifyCode(payload) } }
                var all: [JSONValue] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            #expect(answers.filter { $0["valid"] == .bool(true) }.count == 1)
            #expect(answers.filter { $0["reason"]?.stringValue == "replayed" }.count == 11)
            #expect(try await CodeScan.query(on: app.db).filter(\.$valid == true).count() == 1)
        }
    }
}
