import Codes
import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Codes: group-committed online scans, exact replay protection")
struct ScanWriterTests {
    @Test func aCodeAcceptedByABatchUpload_isRefusedOnline_becauseTheUniqueIndexDecides() async throws {
        try await withTestApp(demo: true) { app in
            let payload = try await app.issueCode("transit")
            let stamp = JSONValue.string(ISO8601DateFormatter().string(from: app.clock.now()))
            let (status, batch, _) = try await app.call(
                .POST, "/api/v1/codes/scans/batch", apiKey: "demo-gate-key",
                body: ["scans": [["payload": .string(payload), "scannedAt": stamp, "location": "A 口"]]])
            #expect(status == .ok)
            #expect(batch["accepted"] == 1)
            // This process never accepted it online, so only the database knows: still refused, and recorded.
            let answer = try await app.verifyCode(payload, scenario: "transit", apiKey: "demo-gate-key")
            #expect(answer["valid"] == false)
            #expect(answer["reason"]?.stringValue == "replayed")
            #expect(try await CodeScan.query(on: app.db).filter(\.$valid == true).count() == 1)
            #expect(try await CodeScan.query(on: app.db).filter(\.$reason == "replayed").filter(\.$source == .online).count() == 1)
        }
    }

    @Test func concurrentVerifiesOfDistinctCodes_areAllAccepted_inSharedCommits_andEachReplayRefused() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            var payloads: [String] = []
            for _ in 0..<40 { payloads.append(try await app.issueCode(token: citizen)) }
            let before = await app.codeScanWriter.batches
            let verifier = VerificationService(app: app)
            let codes = payloads
            let answers = try await withThrowingTaskGroup(of: VerificationAnswer.self) { group in
                for payload in codes {
                    group.addTask { try await verifier.verify(payload: payload, scenario: "venue", apiKey: "demo-verifier-key") }
                }
                var all: [VerificationAnswer] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            #expect(answers.count == 40)
            #expect(answers.allSatisfy { $0.valid && $0.reason == "ok" && $0.attributes["name"] == Demo.citizenName })
            #expect(Set(answers.compactMap(\.scanId)).count == 40)
            #expect(try await CodeScan.query(on: app.db).filter(\.$valid == true).count() == 40)
            // 40 verifications started at once share commits (the first commit's wait gathers the rest).
            let commits = await app.codeScanWriter.batches - before
            #expect(commits >= 1 && commits < 40, "\(commits) commits for 40 verifications")
            // Every one of them again, concurrently: all refused as replays, none accepted twice.
            let again = try await withThrowingTaskGroup(of: VerificationAnswer.self) { group in
                for payload in codes + codes {
                    group.addTask { try await verifier.verify(payload: payload, scenario: "venue", apiKey: "demo-verifier-key") }
                }
                var all: [VerificationAnswer] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            #expect(again.allSatisfy { !$0.valid && $0.reason == "replayed" })
            #expect(try await CodeScan.query(on: app.db).filter(\.$valid == true).count() == 40)
            #expect(try await CodeScan.query(on: app.db).filter(\.$reason == "replayed").count() == 80)
        }
    }
}
