import Foundation
import Licences
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Licence status lists (W3C Bitstring Status List)")
struct StatusListTests {
    func text(_ app: Application, _ path: String) async throws -> (HTTPStatus, String) {
        let res = try await app.testing().sendRequest(.GET, path)
        return (res.status, String(buffer: res.body))
    }

    func claims(_ payload: String) throws -> LicenceClaims {
        let parts = payload.split(separator: ".")
        return try JSONDecoder().decode(LicenceClaims.self, from: try #require(Base64URL.decode(parts[1])))
    }

    @Test func revokedAndSuspendedLicencesSetTheirBits_listsAreSignedCompressedAndCheckedOffline() async throws {
        try await withTestApp(demo: true) { app in
            let clerk = try await app.login("demo-clerk")
            var issued: [(id: String, payload: String, index: Int)] = []
            for _ in 0..<3 {
                let licence = try await app.issueDemoPermit()
                let payload = try #require(licence["qr"]?["payload"]?.stringValue)
                issued.append((try #require(licence["id"]?.stringValue), payload, try #require(try claims(payload).si)))
            }
            #expect(Set(issued.map(\.index)).count == 3, "each licence has its own index")
            let (revoked, _, _) = try await app.call(.POST, "/api/v1/licences/\(issued[1].id)/revoke", token: clerk, body: ["reason": "吊销"])
            #expect(revoked == .ok)
            let (suspended, _, _) = try await app.call(.POST, "/api/v1/licences/\(issued[2].id)/suspend", token: clerk, body: ["reason": "暂停"])
            #expect(suspended == .ok)

            let trust = try await app.call(.GET, "/.well-known/tongban-trust-list.json").1
            let list = try JSONDecoder.iso8601.decode(TrustList.self, from: JSONEncoder().encode(trust))
            let issuer = try #require(list.issuers.first { $0.code == "370100-SCJG" })
            #expect(issuer.statusLists?["revocation"] == "/api/v1/licences/status/370100-SCJG/revocation")
            let keys = list.keys()

            let (ok, revocationToken) = try await text(app, "/api/v1/licences/status/370100-SCJG/revocation")
            #expect(ok == .ok)
            let revocation = try StatusListCredential.verify(revocationToken, keys: keys, issuer: "370100-SCJG", now: Date())
            #expect(revocation.credentialSubject.statusPurpose == "revocation")
            #expect(revocation.credentialSubject.encodedList.hasPrefix("u"))
            let bits = try revocation.bitstring()
            #expect(bits.count * 8 >= StatusListCredential.minimumBits)
            #expect(StatusListCredential.bit(bits, issued[0].index) == false)
            #expect(StatusListCredential.bit(bits, issued[1].index) == true)
            #expect(StatusListCredential.bit(bits, issued[2].index) == false)
            #expect(bits.reduce(0) { $0 + $1.nonzeroBitCount } == 1)
            let (_, suspensionToken) = try await text(app, "/api/v1/licences/status/370100-SCJG/suspension")
            let suspensionBits = try StatusListCredential.verify(suspensionToken, keys: keys, issuer: "370100-SCJG", now: Date()).bitstring()
            #expect(StatusListCredential.bit(suspensionBits, issued[2].index) == true)
            #expect(suspensionBits.reduce(0) { $0 + $1.nonzeroBitCount } == 1)

            // A changed character, another issuer's claim or an expired list is refused.
            var tampered = Array(revocationToken)
            let position = tampered.count - 5
            tampered[position] = tampered[position] == "A" ? "B" : "A"
            #expect(throws: (any Error).self) { try StatusListCredential.verify(String(tampered), keys: keys, issuer: "370100-SCJG", now: Date()) }
            #expect(throws: (any Error).self) { try StatusListCredential.verify(revocationToken, keys: keys, issuer: "370100-YBJ", now: Date()) }
            #expect(throws: (any Error).self) {
                try StatusListCredential.verify(revocationToken, keys: keys, issuer: "370100-SCJG", now: Date().addingTimeInterval(2 * 86400))
            }
            // Unknown purpose or department: 404 problem.
            #expect(try await text(app, "/api/v1/licences/status/370100-SCJG/colour").0 == .notFound)
            #expect(try await text(app, "/api/v1/licences/status/NOPE/revocation").0 == .notFound)

            // The holder's VC-JWT points at both lists with the licence's index.
            let citizen = try await app.login("demo-citizen")
            let res = try await app.testing().sendRequest(.GET, "/api/v1/licences/\(issued[0].id)/credential", headers: ["Authorization": "Bearer \(citizen)"])
            let vc = String(buffer: res.body).split(separator: ".")
            let body = try JSONDecoder().decode(JSONValue.self, from: try #require(Base64URL.decode(vc[1])))
            guard case .array(let entries)? = body["credentialStatus"] else { Issue.record("credentialStatus is not a list"); return }
            #expect(entries.count == 2)
            #expect(entries.allSatisfy { $0["type"]?.stringValue == "BitstringStatusListEntry" && $0["statusListIndex"]?.stringValue == String(issued[0].index) })
        }
    }

    @Test func gzipRoundTripsAndRefusesGarbageAndBombs() throws {
        let data = [UInt8](repeating: 0, count: 16_384) + [0x80]
        let compressed = try Gzip.compress(data)
        #expect(compressed.count < 200)
        #expect(compressed.prefix(2) == [0x1f, 0x8b])
        #expect(try Gzip.decompress(compressed, limit: 1 << 20) == data)
        #expect(throws: (any Error).self) { try Gzip.decompress([1, 2, 3, 4], limit: 100) }
        #expect(throws: (any Error).self) { try Gzip.decompress(compressed, limit: 1000) }
    }
}

@Suite("Licence wallet page")
struct WalletPageTests {
    @Test func holderSeesLicencesWithQRCodes_othersAreSentToLogin() async throws {
        try await withTestApp(demo: true) { app in
            let licence = try await app.issueDemoPermit()
            let number = try #require(licence["number"]?.stringValue)
            let browser = PageBrowser(app)
            let anonymous = try await browser.get("/me/licences")
            #expect(anonymous.status == .seeOther || anonymous.status == .found)
            try await browser.login("demo-citizen")
            let page = try await browser.get("/me/licences")
            #expect(page.status == .ok)
            #expect(browser.lastBody.contains(number))
            #expect(browser.lastBody.contains("<svg"))
            #expect(browser.lastBody.contains("/licences/\(try #require(licence["id"]?.stringValue).lowercased())/print"))
            let other = PageBrowser(app)
            try await other.login("demo-enterprise")
            _ = try await other.get("/me/licences")
            #expect(!other.lastBody.contains(number))
        }
    }
}
