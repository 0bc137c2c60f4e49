import Codes
import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Codes: device certificates, offline codes, trust list, gate batches, verifier registry")
struct OfflineCodeTests {
    /// Registers a fresh device key for demo-citizen; the reference signer and the device's id.
    static func certify(_ app: Application, token: String, days: Int? = nil) async throws -> (DeviceCodeSigner, String) {
        let (privateKey, publicKey) = DeviceCodeSigner.generateKey()
        var body: [String: JSONValue] = ["publicKey": .string(publicKey), "name": "李明的手机"]
        if let days { body["validityDays"] = .number(Double(days)) }
        let (status, device, _) = try await app.call(.POST, "/api/v1/codes/devices", token: token, body: body)
        #expect(status == .created)
        #expect(device["publicKey"]?.stringValue == publicKey)
        let certificate = try #require(device["certificate"]?.stringValue)
        return (try DeviceCodeSigner(privateKey: privateKey, certificate: certificate), try #require(device["id"]?.stringValue))
    }

    static func trustList(_ app: Application) async throws -> CodeTrustList {
        let res = try await app.testing().sendRequest(.GET, "/.well-known/tongban-codes-trust-list.json")
        #expect(res.status == .ok)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(CodeTrustList.self, from: Data(buffer: res.body))
    }

    @Test func deviceSignedCodes_verifyOnlineAndOffline_andTamperingFails() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let (signer, _) = try await Self.certify(app, token: citizen)
            let certificate = try #require(signer.certificateClaims)
            #expect(certificate.exp - certificate.iat == 7 * 24 * 3600)
            // The device signs with no network; the offline verifier needs only the trust list.
            let code = try signer.code(type: .identity, now: Date())
            let list = try await Self.trustList(app)
            let verified = try list.verify(code, now: Date())
            #expect(verified.certificateID == certificate.cid)
            #expect(verified.claims.typ == .identity)
            // Any changed character fails offline.
            let chars = Array(code)
            for index in stride(from: 0, to: chars.count, by: 7) {
                var copy = chars
                copy[index] = copy[index] == "A" ? "B" : "A"
                #expect(throws: CodeFailure.self) { try list.verify(String(copy), now: Date()) }
            }
            // A certificate spliced onto another device's code fails.
            let (other, _) = try await Self.certify(app, token: citizen)
            let foreign = try other.code(type: .identity, now: Date())
            let spliced = signer.certificate + "~" + String(foreign.split(separator: "~")[1])
            #expect(throws: CodeFailure.unknownKey) { try list.verify(spliced, now: Date()) }
            // Online: the venue sees the same attributes as for a platform-signed code, once.
            let answer = try await app.verifyCode(code)
            #expect(answer["valid"] == .bool(true))
            #expect(answer["attributes"]?["name"]?.stringValue == Demo.citizenName)
            #expect(try await app.verifyCode(code)["reason"]?.stringValue == "replayed")
            // The holder lists the devices.
            #expect(try await app.call(.GET, "/api/v1/codes/devices", token: citizen).1.items.count == 2)
        }
    }

    @Test func deviceCertificate_expires_andRevocationIsEnforcedOnlineAndInTheTrustList() async throws {
        try await withTestApp(demo: true) { app in
            let clock = app.manualClock()
            let citizen = try await app.login("demo-citizen")
            let (shortLived, _) = try await Self.certify(app, token: citizen, days: 1)
            let (revocable, revocableID) = try await Self.certify(app, token: citizen)
            // A code signed after the certificate expired.
            clock.advance(24 * 3600 + 60)
            let late = try shortLived.code(type: .identity, now: clock.now)
            #expect(try await app.verifyCode(late)["reason"]?.stringValue == "certificate_expired")
            let listNow = try await Self.trustList(app)
            #expect(throws: CodeFailure.certificateExpired) { try listNow.verify(late, now: clock.now) }
            // Revocation: by another person 404; by the holder; then refused online and listed for offline verifiers.
            let stranger = try await app.login(try await app.registerPerson(), Fixtures.password)
            #expect(try await app.call(.POST, "/api/v1/codes/devices/\(revocableID)/revoke", token: stranger).0 == .notFound)
            let holder = try await app.login("demo-citizen")
            let before = try revocable.code(type: .identity, now: clock.now)
            #expect(try await app.verifyCode(before)["valid"] == .bool(true))
            let (status, revoked, _) = try await app.call(.POST, "/api/v1/codes/devices/\(revocableID)/revoke", token: holder)
            #expect(status == .ok)
            #expect(revoked["status"]?.stringValue == "revoked")
            #expect(try await app.call(.POST, "/api/v1/codes/devices/\(revocableID)/revoke", token: holder).0 == .conflict)
            let after = try revocable.code(type: .identity, now: clock.now)
            #expect(try await app.verifyCode(after)["reason"]?.stringValue == "revoked")
            let list = try await Self.trustList(app)
            #expect(list.revokedCertificates == [revocable.certificateClaims?.cid ?? ""])
            #expect(throws: CodeFailure.revoked) { try list.verify(after, now: clock.now) }
        }
    }

    @Test func deviceRegistration_rejectsBadKeysAndValidity() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            for (body, field) in [
                (["publicKey": "not-a-key"] as [String: JSONValue], "publicKey"),
                (["publicKey": .string(Base64URL.encode(Data(repeating: 1, count: 31)))], "publicKey"),
                (["publicKey": .string(DeviceCodeSigner.generateKey().publicKey), "validityDays": 8], "validityDays"),
            ] {
                let (status, problem, _) = try await app.call(.POST, "/api/v1/codes/devices", token: citizen, body: body)
                #expect(status == .unprocessableEntity)
                #expect(problem["errors"]?.items.map { $0["field"]?.stringValue ?? "" } == [field])
            }
            #expect(try await app.call(.POST, "/api/v1/codes/devices", body: ["publicKey": "x"]).0 == .unauthorized)
        }
    }

    @Test func gateBatches_areVerifiedAsOfScanTime_andDuplicatesRemoved() async throws {
        try await withTestApp(demo: true) { app in
            let clock = app.manualClock()
            let citizen = try await app.login("demo-citizen")
            let (signer, _) = try await Self.certify(app, token: citizen)
            let scannedAt = clock.now
            let online = try await app.issueCode("transit", token: citizen)
            let offline = try signer.code(type: .transit, now: scannedAt)
            let stamp = JSONValue.string(ISO8601DateFormatter().string(from: scannedAt))
            let scans: JSONValue = [
                ["payload": .string(online), "scannedAt": stamp, "location": "1 号线 A 口"],
                ["payload": .string(offline), "scannedAt": stamp],
                ["payload": .string(online), "scannedAt": stamp],
                ["payload": "garbage", "scannedAt": stamp],
            ]
            // Uploaded ten minutes later: the codes have expired by then but were valid when scanned.
            clock.advance(600)
            let (status, result, _) = try await app.call(.POST, "/api/v1/codes/scans/batch", apiKey: "demo-gate-key", body: ["scans": scans])
            #expect(status == .ok)
            #expect(result["received"] == 4)
            #expect(result["accepted"] == 2)
            #expect(result["duplicates"] == 1)
            #expect(result["rejected"] == 1)
            #expect(result["results"]?.items.map { $0["reason"]?.stringValue ?? "" } == ["ok", "ok", "duplicate", "malformed"])
            // The same batch again (a gate retrying): nothing new.
            let (_, again, _) = try await app.call(.POST, "/api/v1/codes/scans/batch", apiKey: "demo-gate-key", body: ["scans": scans])
            #expect(again["accepted"] == 0)
            #expect(again["duplicates"] == 3)
            #expect(try await CodeScan.query(on: app.db).filter(\.$valid == true).count() == 2)
            // Two accepted scans, and the garbage scan recorded once per upload; duplicates leave no row.
            #expect(try await CodeScan.query(on: app.db).filter(\.$source == .batch).count() == 4)
            // Unknown gate: 401; bad input: 422.
            #expect(try await app.call(.POST, "/api/v1/codes/scans/batch", apiKey: "nope", body: ["scans": scans]).0 == .unauthorized)
            let (empty, _, _) = try await app.call(.POST, "/api/v1/codes/scans/batch", apiKey: "demo-gate-key", body: ["scans": []])
            #expect(empty == .unprocessableEntity)
            let future = JSONValue.string(ISO8601DateFormatter().string(from: clock.now.addingTimeInterval(3600)))
            let (bad, problem, _) = try await app.call(
                .POST, "/api/v1/codes/scans/batch", apiKey: "demo-gate-key",
                body: ["scans": [["payload": .string(online), "scannedAt": future], ["scannedAt": stamp]]])
            #expect(bad == .unprocessableEntity)
            #expect(problem["errors"]?.items.map { $0["field"]?.stringValue ?? "" } == ["scans[0].scannedAt", "scans[1].payload"])
        }
    }

    @Test func admin_registersVerifierDevices_keysShownOnceStoredHashed_andCanDisableThem() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let citizen = try await app.login("demo-citizen")
            #expect(try await app.call(.POST, "/api/v1/codes/verifiers", token: citizen, body: ["name": "x"]).0 == .forbidden)
            let (created, organisation, _) = try await app.call(.POST, "/api/v1/codes/verifiers", token: admin, body: ["name": "泉城酒店"])
            #expect(created == .created)
            let orgID = try #require(organisation["id"]?.stringValue)
            let (bad, problem, _) = try await app.call(
                .POST, "/api/v1/codes/verifiers/\(orgID)/devices", token: admin, body: ["name": "前台", "scenario": "casino"])
            #expect(bad == .unprocessableEntity)
            #expect(problem["errors"]?.items.first?["field"]?.stringValue == "scenario")
            let (status, device, _) = try await app.call(
                .POST, "/api/v1/codes/verifiers/\(orgID)/devices", token: admin,
                body: ["name": "前台", "scenario": "hotel", "location": "济南市泉城路 1 号"])
            #expect(status == .created)
            let apiKey = try #require(device["apiKey"]?.stringValue)
            #expect(apiKey.hasPrefix("tbv_") && apiKey.count > 40)
            let stored = try #require(try await VerifierDevice.query(on: app.db).filter(\.$name == "前台").first())
            #expect(stored.keyHash != apiKey && stored.keyHash.count == 64)
            // The listing never shows keys.
            let (_, list, _) = try await app.call(.GET, "/api/v1/codes/verifiers", token: admin)
            let hotel = try #require(list.items.first { $0["name"]?.stringValue == "泉城酒店" })
            #expect(hotel["devices"]?.items.first?["apiKey"] == nil)
            // The new key verifies hotel check-ins with the hotel's disclosure.
            let code = try await app.issueCode(token: citizen)
            let answer = try await app.verifyCode(code, scenario: "hotel", apiKey: apiKey)
            #expect(answer["valid"] == .bool(true))
            #expect(answer["attributes"]?.objectKeys == ["name", "idNumberMasked"])
            // Hotel and venue are different verifiers: the venue may still accept the same code once.
            #expect(try await app.verifyCode(code)["valid"] == .bool(true))
            // Disabled: unauthorised.
            let deviceID = try #require(device["id"]?.stringValue)
            #expect(try await app.call(.POST, "/api/v1/codes/verifier-devices/\(deviceID)/disable", token: admin).0 == .ok)
            let refused = try await app.verifyCode(try await app.issueCode(token: citizen), scenario: "hotel", apiKey: apiKey)
            #expect(refused["reason"]?.stringValue == "unauthorised")
            #expect(try await app.call(.POST, "/api/v1/codes/verifiers/\(UUID())/devices", token: admin, body: ["name": "x", "scenario": "venue"]).0
                == .notFound)
        }
    }

    @Test func offlineVerifier_pureChecks_withoutTheServer() throws {
        let platform = SigningKeyMaterial.generate(kid: "codes#test", algorithm: .edDSA)
        let keys = [platform.kid: platform.verificationKey]
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (deviceKey, devicePublic) = DeviceCodeSigner.generateKey()
        let cid = CodeClaims.nonce(), sub = CodeClaims.nonce()
        let claims = DeviceCertificateClaims(cid: cid, sub: sub, dpk: devicePublic, iat: 1_800_000_000, exp: 1_800_000_000 + 8 * 24 * 3600)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // A certificate longer than 7 days is malformed even though the platform key signed it.
        let tooLong = try CompactJWS.sign(payload: try encoder.encode(claims), key: platform, type: CodeFormat.certificateType)
        let signer = try DeviceCodeSigner(privateKey: deviceKey, certificate: tooLong)
        #expect(throws: CodeFailure.malformed) {
            try CodeVerifier.verify(try signer.code(type: .identity, now: now), now: now, skew: 5, keys: { keys[$0] })
        }
        // A platform-signed code with a lifetime over 60 s is malformed.
        let long = CodeClaims(sub: sub, typ: .identity, iat: 1_800_000_000, exp: 1_800_000_061, jti: CodeClaims.nonce())
        let token = try CompactJWS.sign(payload: try encoder.encode(long), key: platform, type: CodeFormat.codeType)
        #expect(throws: CodeFailure.malformed) { try CodeVerifier.verify(token, now: now, skew: 5, keys: { keys[$0] }) }
        // The same claims under another typ (a certificate passed off as a code) are refused.
        let ok = CodeClaims(sub: sub, typ: .identity, iat: 1_800_000_000, exp: 1_800_000_060, jti: CodeClaims.nonce())
        let good = try CompactJWS.sign(payload: try encoder.encode(ok), key: platform, type: CodeFormat.codeType)
        #expect(try CodeVerifier.verify(good, now: now, skew: 5, keys: { keys[$0] }).claims == ok)
        let retyped = try CompactJWS.sign(payload: try encoder.encode(ok), key: platform, type: CodeFormat.certificateType)
        #expect(throws: CodeFailure.malformed) { try CodeVerifier.verify(retyped, now: now, skew: 5, keys: { keys[$0] }) }
        // Unknown key.
        #expect(throws: CodeFailure.unknownKey) { try CodeVerifier.verify(good, now: now, skew: 5, keys: { _ in nil }) }
    }
}
