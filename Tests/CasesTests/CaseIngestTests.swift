import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@testable import Cases

@Suite("Cases: group-commit ingest and block statistics")
struct CaseIngestTests {
    /// Files `bodies` at once; returns (status, body) in the same order.
    static func fileConcurrently(_ app: Application, token: String, _ bodies: [[String: JSONValue]]) async throws -> [(HTTPStatus, JSONValue)] {
        try await withThrowingTaskGroup(of: (Int, HTTPStatus, JSONValue).self) { group in
            for (index, body) in bodies.enumerated() {
                group.addTask {
                    let (status, value, _) = try await app.send(.POST, "/api/v1/cases", token: token, json: body)
                    return (index, status, value)
                }
            }
            var results = [(HTTPStatus, JSONValue)](repeating: (.internalServerError, .null), count: bodies.count)
            for try await (index, status, value) in group { results[index] = (status, value) }
            return results
        }
    }

    static func report(_ category: String, _ lat: Double, _ lon: Double, _ text: String = "并发上报") -> [String: JSONValue] {
        ["type": "grid_event", "category": .string(category), "description": .string(text), "location": ["lat": .number(lat), "lon": .number(lon)]]
    }

    @Test func concurrentReports_getConsecutiveNumbers_andDuplicatesAmongThemLinkToOnePrimary() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let district = try await app.login("demo-district")
            app.clock = .fixed(instant("2026-11-30T02:00:00Z"))
            // 12 reports at one spot (one primary, 11 duplicates), 28 spread over the district, one bad report.
            var bodies = (0..<12).map { Self.report("sanitation", 23.0312, 113.1412, "同一处垃圾 \($0)") }
            bodies += (0..<28).map { Self.report(["road", "noise", "environment", "greenery"][$0 % 4], 23.001 + Double($0) * 0.0035, 113.101 + Double($0 % 7) * 0.014) }
            bodies.append(Self.report("no_such_category", 23.05, 113.15))
            let results = try await Self.fileConcurrently(app, token: citizen, bodies)
            #expect(results.last?.0 == .unprocessableEntity)
            #expect(results.last?.1["errors"]?.items.first?["field"]?.string == "category")
            let created = results.dropLast()
            #expect(created.allSatisfy { $0.0 == .created })
            // Numbers: one per case, consecutive for the day.
            let numbers = created.compactMap { $0.1["number"]?.string }
            #expect(Set(numbers).count == 40)
            let serials = numbers.compactMap { Int($0.split(separator: "-").last ?? "") }.sorted()
            #expect(serials == Array(1...40))
            #expect(numbers.allSatisfy { $0.hasPrefix("WG-20261130-") })
            // The same spot: exactly one primary; every other report names it.
            let spot = Array(created.prefix(12))
            let primaries = spot.filter { $0.1["status"]?.string == "dispatched" }
            #expect(primaries.count == 1)
            let primaryID = try #require(primaries.first?.1["id"]?.string?.lowercased())
            #expect(spot.filter { $0.1["status"]?.string == "duplicate" }.allSatisfy { $0.1["duplicateOf"]?.string?.lowercased() == primaryID })
            #expect(created.dropFirst(12).allSatisfy { $0.1["status"]?.string == "dispatched" && $0.1["grid"]?["code"]?.string != nil })
            // The primary's timeline: created, then 11 links with distinct sequence numbers.
            let (_, primary, _) = try await app.send(.GET, "/api/v1/cases/\(primaryID)", token: district)
            let timeline = primary["timeline"]?.items ?? []
            #expect(timeline.filter { $0["action"]?.string == "duplicate_linked" }.count == 11)
            #expect(timeline.compactMap { $0["seq"]?.number } == (1...12).map(Double.init))
            // A duplicate's timeline names the primary's number.
            let duplicateID = try #require(spot.first { $0.1["status"]?.string == "duplicate" }?.1["id"]?.string)
            let (_, duplicate, _) = try await app.send(.GET, "/api/v1/cases/\(duplicateID)", token: district)
            #expect(duplicate["timeline"]?.items.first?["details"]?["duplicateOf"]?.string == primary["number"]?.string)
            // Timers only for the 29 primaries (3 each), statistics count all 40.
            #expect(try await Job.query(on: app.db).filter(\.$kind == CaseTimers.kind).count() == 29 * 3)
            let (_, stats, _) = try await app.send(.GET, "/api/v1/cases/stats?from=2026-11-30&to=2026-11-30", token: district)
            #expect(stats["total"]?.number == 40)
            #expect(stats["byStatus"]?.items.first { $0["key"]?.string == "duplicate" }?["count"]?.number == 11)
            // The writer wrote every case.
            #expect(await app.caseWriter.written == 40)
        }
    }

    @Test func aFailingBatch_isWrittenOneByOne_soOnlyTheFailingReportIsLost() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            app.caseWriter.failWrites { $0.description == "写入失败" }
            var bodies = (0..<15).map { Self.report("road", 23.002 + Double($0) * 0.006, 113.103) }
            bodies.insert(Self.report("road", 23.09, 113.19, "写入失败"), at: 7)
            let results = try await Self.fileConcurrently(app, token: citizen, bodies)
            #expect(results[7].0 == .internalServerError)
            #expect(results.enumerated().filter { $0.offset != 7 }.allSatisfy { $0.element.0 == .created })
            #expect(try await CaseRecord.query(on: app.db).count() == 15)
            #expect(try await CaseRecord.query(on: app.db).filter(\.$description == "写入失败").count() == 0)
            // Later reports are written again as usual.
            app.caseWriter.failWrites(when: nil)
            _ = try await app.fileCase(token: citizen, category: "road", lat: 23.08, lon: 113.18)
            #expect(try await CaseRecord.query(on: app.db).count() == 16)
        }
    }

    @Test func statistics_fromBlocksAndDays_agreeWithAFullScan_forManyPeriods() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let grid = try await app.login("demo-grid")
            let district = try await app.login("demo-district")
            // Reports over 70 days (several 16-day blocks), some accepted and resolved.
            let start = instant("2026-08-20T03:00:00Z")
            for day in stride(from: 0, to: 70, by: 3) {
                app.clock = .fixed(start.addingTimeInterval(Double(day) * 86400))
                let categories = ["sanitation", "road", "environment"]
                let created = try await app.fileCase(
                    token: citizen, category: categories[(day / 3) % 3], lat: 23.003 + Double(day) * 0.0012, lon: 113.104 + Double(day % 5) * 0.01)
                if day % 2 == 0, let id = created["id"]?.string {
                    app.clock = .fixed(start.addingTimeInterval(Double(day) * 86400 + 1800))
                    _ = try await app.act(id, "accept", token: grid)
                }
            }
            app.clock = .fixed(instant("2026-11-30T02:00:00Z"))
            let directory = try await app.casesDirectory.get(db: app.db, now: app.clock.now())
            let stats = CaseStats(db: app.db)
            let periods: [(String?, String?)] = [
                (nil, nil), ("2026-08-20", "2026-10-28"), ("2026-08-21", "2026-09-30"), ("2026-09-01", "2026-09-16"),
                ("2026-09-05", "2026-09-05"), ("2026-09-14", "2026-10-01"), (nil, "2026-09-10"), ("2026-10-01", nil),
                ("2026-01-01", "2026-12-31"), ("2025-01-01", "2025-12-31"),
            ]
            for (from, to) in periods {
                for type in [nil, CaseType.gridEvent, CaseType.appeal] {
                    let fast = try await stats.compute(from: from.flatMap(LocalDate.init), to: to.flatMap(LocalDate.init), type: type, directory: directory)
                    let slow = try await stats.computeByScanning(from: from.flatMap(LocalDate.init), to: to.flatMap(LocalDate.init), type: type, directory: directory)
                    #expect(fast.total == slow.total, "\(String(describing: from))–\(String(describing: to))")
                    for (a, b) in [(fast.byStatus, slow.byStatus), (fast.byGrid, slow.byGrid), (fast.byCategory, slow.byCategory), (fast.byDay, slow.byDay)] {
                        #expect(a.map { "\($0.key)=\($0.count)" } == b.map { "\($0.key)=\($0.count)" }, "\(String(describing: from))–\(String(describing: to))")
                    }
                    #expect(abs((fast.averageResponseMinutes ?? -1) - (slow.averageResponseMinutes ?? -1)) < 1.0 / 60)
                }
            }
            // The API answers with the same numbers.
            let (status, body, _) = try await app.send(.GET, "/api/v1/cases/stats?from=2026-09-02&to=2026-10-20", token: district)
            #expect(status == .ok)
            let expected = try await stats.computeByScanning(from: LocalDate("2026-09-02"), to: LocalDate("2026-10-20"), type: nil, directory: directory)
            #expect(body["total"]?.number == Double(expected.total))
            #expect(expected.total > 0)
            #expect(body["byDay"]?.items.count == expected.byDay.count)
        }
    }

    @Test func reporterNotifications_getAnSMSCopy_withTheNumberMaskedInTheOutbox() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let grid = try await app.login("demo-grid")
            let created = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.005, lon: 113.105)
            let id = try #require(created["id"]?.string)
            let number = try #require(created["number"]?.string)
            let (accepted, _) = try await app.act(id, "accept", token: grid)
            #expect(accepted == .ok)
            #expect(try await app.jobs.runOnce(app: app) >= 1)
            let outbox = URL(fileURLWithPath: app.tongbanConfig.dataDirectory).appendingPathComponent("outbox.log").path
            let written = (try? String(contentsOfFile: outbox, encoding: .utf8)) ?? ""
            let line = written.split(separator: "\n").first { $0.contains(number) }
            #expect(line?.contains(" sms 138****8000 ") == true, "\(written)")
            #expect(!written.contains("13800138000"))
            // Closing sends the result too.
            _ = try await app.act(id, "feedback", token: grid, ["comment": "已清理"])
            _ = try await app.act(id, "close", token: try await app.login("demo-community"))
            _ = try await app.jobs.runOnce(app: app)
            let after = ((try? String(contentsOfFile: outbox, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains(number) }
            #expect(after.filter { $0.contains(" sms ") }.count == 3)
        }
    }
}
