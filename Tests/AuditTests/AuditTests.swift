import AuditLog
import Fluent
import Foundation
import SQLKit
import TestSupport
import Testing
import TongbanCore
import Vapor
import VaporTesting

@testable import Audit

struct CheckpointBody: Codable {
    var treeSize: Int
    var rootHash: String
    var checkpoint: String
}

struct KeyBody: Codable {
    var origin: String
    var key: String
}

struct InclusionBody: Codable {
    var leafHash: String
    var hashes: [String]
}

struct ConsistencyBody: Codable {
    var hashes: [String]
}

struct EntryBody: Codable {
    var index: Int
    var kind: String
    var entry: String
    var leafHash: String
}

extension TestingHTTPResponse {
    func json<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(buffer: body))
    }
}

func hashes(_ base64: [String]) -> [MerkleHash] { base64.compactMap(MerkleHash.init(base64:)) }

/// Fetches something as JSON (fails the test on another status).
func getJSON<T: Decodable>(_ app: Application, _ path: String, _ type: T.Type, headers: HTTPHeaders = [:]) async throws -> T {
    var result: T?
    try await app.testing().test(.GET, path, headers: headers) { res in
        #expect(res.status == .ok, "\(path): \(res.body.string)")
        result = try res.json(T.self)
    }
    guard let result else { throw Abort(.internalServerError) }
    return result
}

func recordEvents(_ app: Application, _ count: Int, kind: String = "test.event") async throws -> [Int] {
    var indices: [Int] = []
    for n in 0..<count {
        indices.append(try await app.audit!.record(kind: kind, actor: UUID(), subject: "test:\(n)", details: ["n": String(n)]))
    }
    return indices
}

@Suite("Audit log")
struct AuditTests {
    @Test func proofsFromTheEndpointsVerifyAgainstTheSignedCheckpoint() async throws {
        try await withTestApp { app in
            _ = try await recordEvents(app, 37)
            let key = try NoteVerifier(try await getJSON(app, "/api/v1/audit/key", KeyBody.self).key)
            let first = try await getJSON(app, "/api/v1/audit/checkpoint", CheckpointBody.self)
            #expect(first.treeSize == 37)
            let head = try Checkpoint.open(first.checkpoint, origin: "tongban.local/audit", verifiers: [key])
            #expect(head.size == 37)
            #expect(head.rootHash.base64 == first.rootHash)
            let storage = try AuditStorage(app.db)
            for index in [0, 1, 17, 31, 32, 36] {
                let proof = try await getJSON(
                    app, "/api/v1/audit/proofs/inclusion?index=\(index)&treeSize=37", InclusionBody.self)
                let entry = try #require(try await storage.entry(index))
                #expect(proof.leafHash == MerkleTree.leafHash(entry).base64)
                try MerkleTree.verifyInclusion(
                    leafHash: MerkleTree.leafHash(entry), index: index, treeSize: 37, proof: hashes(proof.hashes), root: head.rootHash)
            }
            _ = try await recordEvents(app, 30)
            let second = try await getJSON(app, "/api/v1/audit/checkpoint", CheckpointBody.self)
            #expect(second.treeSize == 67)
            let newer = try Checkpoint.open(second.checkpoint, origin: nil, verifiers: [key])
            let consistency = try await getJSON(app, "/api/v1/audit/proofs/consistency?first=37&second=67", ConsistencyBody.self)
            try MerkleTree.verifyConsistency(
                first: 37, second: 67, firstRoot: head.rootHash, secondRoot: newer.rootHash, proof: hashes(consistency.hashes))
            // An unchanged log serves the stored checkpoint again.
            let again = try await getJSON(app, "/api/v1/audit/checkpoint", CheckpointBody.self)
            #expect(again.checkpoint == second.checkpoint)
        }
    }

    /// RFC 6962 known answers (transparency-dev/merkle): the stored nodes give the reference roots and proofs.
    @Test func storedTreeMatchesRFC6962KnownAnswers() async throws {
        func h(_ hex: String) -> MerkleHash { MerkleHash(hex: hex)! }
        func bytes(_ hex: String) -> [UInt8] {
            var out: [UInt8] = []
            var chars = Array(hex)
            while chars.count >= 2 {
                out.append(UInt8(String(chars[0..<2]), radix: 16)!)
                chars.removeFirst(2)
            }
            return out
        }
        let leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(bytes)
        try await withTestApp { app in
            var range = CompactRange()
            let nodes = range.append(leafHashes: leaves.map { MerkleTree.leafHash($0) })
            let storage = try AuditStorage(app.db)
            // The entry texts are placeholders (PostgreSQL text cannot hold 0x00); the tree is the vectors'.
            try await storage.insert(
                entries: (0..<8).map { .init(kind: "vector", at: "2026-01-01T00:00:00Z", bytes: Array("vector \($0)".utf8)) },
                first: 0, nodes: nodes)
            #expect(
                try await MerkleTree.root(treeSize: 8, store: SQLMerkleStore(storage))
                    == h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"))
            #expect(
                try await MerkleTree.root(treeSize: 5, store: SQLMerkleStore(storage))
                    == h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"))
            let inclusion = try await getJSON(app, "/api/v1/audit/proofs/inclusion?index=5&treeSize=8", InclusionBody.self)
            #expect(
                hashes(inclusion.hashes) == [
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ])
            let small = try await getJSON(app, "/api/v1/audit/proofs/inclusion?index=1&treeSize=5", InclusionBody.self)
            #expect(
                hashes(small.hashes) == [
                    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ])
            let consistency = try await getJSON(app, "/api/v1/audit/proofs/consistency?first=6&second=8", ConsistencyBody.self)
            #expect(
                hashes(consistency.hashes) == [
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ])
            let twoFive = try await getJSON(app, "/api/v1/audit/proofs/consistency?first=2&second=5", ConsistencyBody.self)
            #expect(
                hashes(twoFive.hashes) == [
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ])
        }
    }

    @Test func verifyFindsTheFirstChangedEntry() async throws {
        try await withTestApp { app in
            _ = try await recordEvents(app, 100)
            _ = try await app.auditLog.checkpoint(on: app.db)
            let intact = try await AuditVerification.verify(service: app.auditLog, on: app.db, batchSize: 16)
            #expect(intact.isIntact)
            #expect(intact.size == 100)
            #expect(intact.checkpointsMatched == 1)
            let sql = try #require(app.db as? any SQLDatabase)
            try await sql.raw("UPDATE audit_entries SET entry = REPLACE(entry, '\"n\":\"73\"', '\"n\":\"7\"') WHERE idx = 73").run()
            try await sql.raw("UPDATE audit_entries SET entry = REPLACE(entry, '\"n\":\"90\"', '\"n\":\"9\"') WHERE idx = 90").run()
            let tampered = try await AuditVerification.verify(service: app.auditLog, on: app.db, batchSize: 16)
            #expect(!tampered.isIntact)
            #expect(tampered.firstBadIndex == 73)
            guard case .entryAltered(let index, _, _) = tampered.finding else {
                Issue.record("expected entryAltered, got \(String(describing: tampered.finding))")
                return
            }
            #expect(index == 73)
        }
    }

    @Test func verifyFindsADeletedEntry() async throws {
        try await withTestApp { app in
            _ = try await recordEvents(app, 20)
            let sql = try #require(app.db as? any SQLDatabase)
            try await sql.raw("DELETE FROM audit_entries WHERE idx = 12").run()
            let result = try await AuditVerification.verify(service: app.auditLog, on: app.db)
            #expect(result.firstBadIndex == 12)
        }
    }

    @Test(arguments: [false, true])
    func concurrentAppendsGetDistinctConsecutiveIndices(sqliteFile: Bool) async throws {
        if sqliteFile && TestDatabase.isPostgres { return }
        try await withTestApp(sqliteFile: sqliteFile) { app in
            let sink = try #require(app.audit)
            let indices = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<400 {
                    group.addTask { try await sink.record(kind: "test.concurrent", actor: nil, subject: nil, details: ["n": String(n)]) }
                }
                var all: [Int] = []
                for try await index in group { all.append(index) }
                return all
            }
            #expect(indices.sorted() == Array(0..<400))
            #expect(try await AuditStorage(app.db).size() == 400)
            let batches = await app.auditLog.appender.batches
            #expect(batches < 400, "appends were batched")
            let result = try await AuditVerification.verify(service: app.auditLog, on: app.db)
            #expect(result.isIntact)
            // Every event landed once.
            var seen = Set<String>()
            for row in try await AuditStorage(app.db).entries(0..<400) {
                seen.insert(try AuditEvent.decode(row.bytes).details["n"] ?? "")
            }
            #expect(seen.count == 400)
        }
    }

    @Test func outOfRangeProofRequestsAreProblems() async throws {
        try await withTestApp { app in
            _ = try await recordEvents(app, 10)
            let bad = [
                "/api/v1/audit/proofs/inclusion?index=10&treeSize=10", "/api/v1/audit/proofs/inclusion?index=0&treeSize=11",
                "/api/v1/audit/proofs/inclusion?index=-1&treeSize=5", "/api/v1/audit/proofs/inclusion?index=a&treeSize=5",
                "/api/v1/audit/proofs/inclusion?index=0&treeSize=0", "/api/v1/audit/proofs/inclusion?treeSize=5",
                "/api/v1/audit/proofs/inclusion?index=0&treeSize=99999999999999999999999",
                "/api/v1/audit/proofs/inclusion?index=9223372036854775807&treeSize=9223372036854775807",
                "/api/v1/audit/proofs/consistency?first=6&second=5", "/api/v1/audit/proofs/consistency?first=1&second=11",
                "/api/v1/audit/proofs/consistency?first=-1&second=5", "/api/v1/audit/proofs/consistency?first=x&second=5",
                "/api/v1/audit/proofs/consistency?first=1.5&second=5",
            ]
            for path in bad {
                try await app.testing().test(.GET, path) { res in
                    #expect((400..<500).contains(Int(res.status.code)), "\(path) → \(res.status)")
                    #expect(res.isProblemJSON, "\(path)")
                }
            }
            // Edge cases that are fine.
            for path in ["/api/v1/audit/proofs/consistency?first=0&second=10", "/api/v1/audit/proofs/consistency?first=10&second=10",
                         "/api/v1/audit/proofs/inclusion?index=9&treeSize=10"] {
                try await app.testing().test(.GET, path) { res in #expect(res.status == .ok, "\(path)") }
            }
        }
    }

    @Test func entriesNeedTheAuditorRole() async throws {
        try await withTestApp(demo: true) { app in
            _ = try await recordEvents(app, 3)
            try await app.testing().test(.GET, "/api/v1/audit/entries/0") { res in
                #expect(res.status == .unauthorized)
                #expect(res.isProblemJSON)
            }
            for user in ["demo-citizen", "demo-clerk"] {
                let token = try await app.login(user)
                try await app.testing().test(.GET, "/api/v1/audit/entries/0", headers: .bearer(token)) { res in
                    #expect(res.status == .forbidden, "\(user)")
                    #expect(res.isProblemJSON)
                }
                try await app.testing().test(.GET, "/api/v1/audit/entries/0/evidence", headers: .bearer(token)) { res in
                    #expect(res.status == .forbidden, "\(user)")
                }
            }
            let admin = try await app.login("demo-admin")
            let entry = try await getJSON(app, "/api/v1/audit/entries/0", EntryBody.self, headers: .bearer(admin))
            #expect(entry.index == 0)
            #expect(entry.leafHash == MerkleTree.leafHash(Array(entry.entry.utf8)).base64)
            try await app.testing().test(.GET, "/api/v1/audit/entries/99999", headers: .bearer(admin)) { res in
                #expect(res.status == .notFound)
                #expect(res.isProblemJSON)
            }
            try await app.testing().test(.GET, "/api/v1/audit/entries/abc", headers: .bearer(admin)) { res in
                #expect(res.status == .notFound)
            }
        }
    }

    @Test func staffLoginIsRecorded() async throws {
        try await withTestApp(demo: true) { app in
            let before = try await AuditStorage(app.db).size()
            _ = try await app.login("demo-citizen")
            #expect(try await AuditStorage(app.db).size() == before, "a person's login is not a staff login")
            _ = try await app.login("demo-clerk")
            let storage = try AuditStorage(app.db)
            let size = try await storage.size()
            #expect(size == before + 1)
            let event = try AuditEvent.decode(try #require(try await storage.entry(size - 1)))
            #expect(event.kind == "staff.login")
            #expect(event.details["username"] == "demo-clerk")
            #expect(event.actor != nil)
        }
    }

    @Test func evidenceBundleRoundTrip() async throws {
        try await withTestApp { app in
            _ = try await recordEvents(app, 25)
            let bundle = try await app.auditLog.evidence(index: 11, on: app.db)
            let key = try NoteVerifier(try await app.auditLog.verifierKey(on: app.db))
            let parsed = try EvidenceBundle(json: try bundle.json())
            let checkpoint = try parsed.verify(key: key)
            #expect(checkpoint.size == 25)
            #expect(checkpoint.origin == "tongban.local/audit")
            var altered = parsed
            altered.entry = Array(String(decoding: parsed.entry, as: UTF8.self).replacingOccurrences(of: "test:11", with: "test:12").utf8)
            #expect(throws: EvidenceFailure.entryAltered(index: 11)) { try altered.verify(key: key) }
            let stranger = try NoteSigner(generatingFor: "tongban.local/audit").verifier
            do {
                try parsed.verify(key: stranger)
                Issue.record("a bundle verified with another key")
            } catch let failure as EvidenceFailure {
                #expect(failure.code == "unknown-key")
            }
            // A later event's evidence uses a newer checkpoint covering it.
            _ = try await recordEvents(app, 5)
            let later = try await app.auditLog.evidence(index: 27, on: app.db)
            #expect(try later.verify(key: key).size == 30)
        }
    }

    @Test func personalIdentifiersAreMaskedInEntries() async throws {
        try await withTestApp { app in
            let id = Fixtures.idNumber()
            let index = try await app.audit!.record(
                kind: "data.fetched", actor: nil, subject: "person:\(id)", details: ["idNumber": id, "phone": "13812345678"])
            let text = String(decoding: try #require(try await AuditStorage(app.db).entry(index)), as: UTF8.self)
            #expect(!text.contains(id))
            #expect(!text.contains("13812345678"))
            #expect(text.contains(Masking.idNumber(id)))
            #expect(text.hasPrefix("{\"actor\"") == false)
            #expect(text.hasPrefix("{\"at\":"))
        }
    }

    @Test func canonicalBytesAreSortedCompactJSON() throws {
        let event = AuditEvent(
            kind: "consent.given", at: Date(timeIntervalSince1970: 1_790_000_000), actor: UUID(), subject: "a/b \"q\"",
            details: ["z": "line\nbreak\t\u{01}", "a": "中文 é \\", "M": "x"])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(try event.canonicalBytes() == Array(try encoder.encode(event)))
        #expect(event.at == "2026-09-21T14:13:20Z")
        #expect(try AuditEvent.decode(try event.canonicalBytes()) == event)
    }

    @Test func invalidEventsAreRejected() async throws {
        try await withTestApp { app in
            await #expect(throws: Problem.self) {
                try await app.audit!.record(kind: "Bad Kind", actor: nil, subject: nil, details: [:])
            }
            let size = try await AuditStorage(app.db).size()
            #expect(size == 0)
        }
    }
}
