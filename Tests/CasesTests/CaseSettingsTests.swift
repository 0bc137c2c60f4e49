import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("Cases: configurable SLA table and task sources")
struct CaseSettingsTests {
    @Test func adminChangesTheSLATable_newCasesUseIt_versionsKept_badInputRefused() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let supervisor = try await app.login("demo-supervisor")
            let citizen = try await app.login("demo-citizen")
            let city = try await app.login("demo-city")
            // The defaults, version 0; staff read, residents do not.
            var (status, body, _) = try await app.send(.GET, "/api/v1/cases/settings/sla", token: supervisor)
            #expect(status == .ok)
            #expect(body["version"]?.number == 0)
            let gridNormal = body["items"]?.items.first { $0["type"]?.string == "grid_event" && $0["priority"]?.string == "normal" }
            #expect(gridNormal?["resolution"]?["value"]?.number == 5)
            #expect(gridNormal?["resolution"]?["unit"]?.string == "working_days")
            #expect(body["items"]?.items.count == 6)
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/settings/sla", token: citizen)
            #expect(status == .forbidden)

            // Only system administrators change it; every bad field is named.
            let change: [String: JSONValue] = ["items": [["type": "grid_event", "priority": "normal", "resolution": ["value": 2, "unit": "working_days"]]]]
            (status, _, _) = try await app.send(.PUT, "/api/v1/cases/settings/sla", token: supervisor, json: change)
            #expect(status == .forbidden)
            (status, body, _) = try await app.send(.PUT, "/api/v1/cases/settings/sla", token: admin, json: [
                "items": [
                    ["type": "pothole", "priority": "normal", "response": ["value": 1, "unit": "working_days"]],
                    ["type": "appeal", "priority": "normal", "response": ["value": 1, "unit": "weeks"]],
                    ["type": "appeal", "priority": "urgent", "resolution": ["value": 90, "unit": "minutes"]],
                    ["type": "supervision", "priority": "normal", "resolution": ["value": 0, "unit": "working_days"]],
                ],
                "hotlineResponse": ["unit": "minutes"],
            ])
            #expect(status == .unprocessableEntity)
            let fields = Set(body["errors"]?.items.compactMap { $0["field"]?.string } ?? [])
            #expect(fields == ["items[0].type", "items[1].response", "items[2].resolution", "items[3].resolution", "hotlineResponse"])
            (status, _, _) = try await app.send(.PUT, "/api/v1/cases/settings/sla", token: admin, json: [:])
            #expect(status == .unprocessableEntity)
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/settings/sla", token: supervisor)
            #expect(body["version"]?.number == 0, "nothing was written by the refused changes")

            (status, body, _) = try await app.send(.PUT, "/api/v1/cases/settings/sla", token: admin, json: change)
            #expect(status == .ok)
            #expect(body["version"]?.number == 1)
            #expect(body["updatedBy"]?.string == "demo-admin")
            (status, body, _) = try await app.send(
                .PUT, "/api/v1/cases/settings/sla", token: admin, json: ["hotlineResponse": ["value": 15, "unit": "minutes"]])
            #expect(status == .ok)
            #expect(body["version"]?.number == 2)
            let kept = body["items"]?.items.first { $0["type"]?.string == "grid_event" && $0["priority"]?.string == "normal" }
            #expect(kept?["resolution"]?["value"]?.number == 2, "a change keeps the items it does not name")
            #expect(kept?["response"]?["unit"]?.string == "working_hours")

            // New cases use the new values: Wednesday 2026-09-30 10:00 China time; 1–7 October are holidays.
            app.clock = .fixed(instant("2026-09-30T02:00:00Z"))
            let created = try await app.fileCase(token: citizen, category: "sanitation")
            #expect(jsonDate(created["sla"]?["resolutionDueAt"]) == instant("2026-10-09T16:00:00Z"))  // 8 and 9 October
            #expect(jsonDate(created["sla"]?["responseDueAt"]) == instant("2026-09-30T04:00:00Z"))  // unchanged: 2 office hours
            let hotline = try await app.fileCase(
                token: city, type: "appeal", category: "labour", lat: nil, lon: nil, extra: ["channel": "hotline", "subtype": "complaint"])
            #expect(jsonDate(hotline["sla"]?["responseDueAt"]) == instant("2026-09-30T02:15:00Z"))

            // Every version is kept, newest first.
            (status, body, _) = try await app.send(.GET, "/api/v1/cases/settings/sla/versions", token: supervisor)
            #expect(status == .ok)
            #expect(body.items.compactMap { $0["version"]?.number } == [2, 1])
            (status, _, _) = try await app.send(.GET, "/api/v1/cases/settings/colours/versions", token: supervisor)
            #expect(status == .notFound)
        }
    }

    @Test func adminReplacesTheTaskSources_supervisionTasksAreCheckedAgainstThem() async throws {
        try await withTestApp(demo: true) { app in
            let admin = try await app.login("demo-admin")
            let supervisor = try await app.login("demo-supervisor")
            var (status, body, _) = try await app.send(.GET, "/api/v1/cases/settings/task-sources", token: supervisor)
            #expect(status == .ok)
            #expect(body["items"]?.items.compactMap { $0["code"]?.string }.contains("media") == true)
            #expect(body["version"]?.number == 0)

            (status, body, _) = try await app.send(.PUT, "/api/v1/cases/settings/task-sources", token: admin, json: [
                "items": [["code": "Bad Code", "name": "x"], ["code": "media", "name": ""], ["code": "media", "name": "媒体"]],
            ])
            #expect(status == .unprocessableEntity)
            let fields = Set(body["errors"]?.items.compactMap { $0["field"]?.string } ?? [])
            #expect(fields == ["items[0].code", "items[1].name", "items[2].code"])
            (status, _, _) = try await app.send(.PUT, "/api/v1/cases/settings/task-sources", token: admin, json: ["items": []])
            #expect(status == .unprocessableEntity)
            (status, _, _) = try await app.send(
                .PUT, "/api/v1/cases/settings/task-sources", token: supervisor, json: ["items": [["code": "petition", "name": "信访转办"]]])
            #expect(status == .forbidden)

            (status, body, _) = try await app.send(.PUT, "/api/v1/cases/settings/task-sources", token: admin, json: [
                "items": [
                    ["code": "leader_instruction", "name": "领导批示", "nameEn": "Leader's instruction"],
                    ["code": "petition", "name": "信访转办", "nameEn": "Petition referral"],
                ],
            ])
            #expect(status == .ok)
            #expect(body["version"]?.number == 1)
            #expect(body["items"]?.items.compactMap { $0["code"]?.string } == ["leader_instruction", "petition"])

            // New supervision tasks take the new sources, and no longer the removed ones.
            let task = try await app.fileCase(
                token: supervisor, type: "supervision", category: "environment", lat: nil, lon: nil,
                extra: ["department": "440604-STHJ", "subtype": "petition", "title": "信访件督办"])
            #expect(task["number"]?.string?.hasPrefix("DB-") == true)
            (status, body, _) = try await app.send(
                .POST, "/api/v1/cases", token: supervisor,
                json: ["type": "supervision", "category": "environment", "description": "x", "department": "440604-STHJ", "subtype": "media"])
            #expect(status == .unprocessableEntity)
            #expect(body["errors"]?.items.first?["field"]?.string == "subtype")
        }
    }
}
