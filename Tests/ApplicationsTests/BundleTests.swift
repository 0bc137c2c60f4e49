import Applications
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@Suite("一件事 bundles")
struct BundleTests {
    static func form(price: Double = 120) -> [String: JSONValue] {
        [
            "buyerName": "李明", "buyerIdNumber": .string(Fixtures.idNumber("37010219900307123")),
            "sellerName": "张伟", "sellerIdNumber": .string(Fixtures.idNumber("37010219700101001")),
            "unitNumber": "370102001001GB00001F00010001", "price": .number(price), "phone": "13800138000",
            "utilityTransfer": "yes", "waterAccount": "1234567890", "powerAccount": "0987654321", "gasAccount": "12345678",
        ]
    }

    func handle(_ app: Application, part: String, action: String) async throws {
        let handler = try await app.login("demo-handler")
        let accept = try #require(try await app.task(for: "demo-handler", application: part))
        let (accepted, _) = try await app.json(.POST, "/api/v1/tasks/\(accept)/actions", token: handler, body: ["action": "accept"])
        #expect(accepted == .ok)
        let review = try #require(try await app.task(for: "demo-handler", application: part))
        let body: [String: JSONValue] = action == "approve" ? ["action": "approve"] : ["action": .string(action), "comment": "户号与房屋不符"]
        let (decided, _) = try await app.json(.POST, "/api/v1/tasks/\(review)/actions", token: handler, body: body)
        #expect(decided == .ok)
    }

    @Test func oneForm_sharedFieldsOnce_splitsIntoParallelParts_withAnAggregateStatus() async throws {
        try await withTestApp(demo: true) { app in
            let (status, bundle) = try await app.json(.GET, "/api/v1/bundles/home-transfer")
            #expect(status == .ok)
            guard case .array(let services)? = bundle["services"], case .array(let fields)? = bundle["form"]?["fields"],
                case .array(let shared)? = bundle["sharedFields"]
            else { Issue.record("bundle shape"); return }
            #expect(services.count == 4)
            let names = fields.compactMap { $0["name"]?.stringValue }
            #expect(names.count == Set(names).count)
            #expect(names.count == 11)
            #expect(Set(shared.compactMap(\.stringValue)) == ["buyerName", "buyerIdNumber", "unitNumber", "phone"])

            let citizen = try await app.login("demo-citizen")
            let (created, application) = try await app.json(
                .POST, "/api/v1/bundles/home-transfer/applications", token: citizen, body: ["form": .object(Self.form()), "submit": true])
            #expect(created == .created)
            #expect(application["status"]?.stringValue == "submitted")
            let id = try #require(application["id"]?.stringValue)
            let number = try #require(application["number"]?.stringValue)
            guard case .array(let parts)? = application["applications"] else { Issue.record("no parts"); return }
            #expect(parts.count == 4)
            // Each part carries only its own service's fields.
            let water = try #require(parts.first { $0["serviceCode"]?.stringValue == "370100-20-0010" }?["id"]?.stringValue)
            let (_, waterPart) = try await app.json(.GET, "/api/v1/applications/\(water)", token: citizen)
            #expect(waterPart["form"]?["waterAccount"]?.stringValue == "1234567890")
            #expect(waterPart["form"]?["sellerName"] == nil)
            #expect(waterPart["form"]?["buyerName"]?.stringValue == "李明")

            // All four are in the handler's inbox at once (parallel).
            let handler = try await app.login("demo-handler")
            let (_, inbox) = try await app.json(.GET, "/api/v1/tasks?limit=100", token: handler)
            guard case .array(let tasks)? = inbox["items"] else { Issue.record("no inbox"); return }
            let partIDs = Set(parts.compactMap { $0["id"]?.stringValue })
            #expect(tasks.filter { partIDs.contains($0["applicationId"]?.stringValue ?? "") }.count == 4)

            // One part decided: in progress; all approved: completed.
            let partList = parts.compactMap { $0["id"]?.stringValue }
            try await handle(app, part: partList[0], action: "approve")
            let (_, progressing) = try await app.json(.GET, "/api/v1/bundle-applications/\(id)", token: citizen)
            #expect(progressing["status"]?.stringValue == "in_progress")
            for part in partList.dropFirst() { try await handle(app, part: part, action: "approve") }
            let (_, done) = try await app.json(.GET, "/api/v1/bundle-applications/\(id)", token: citizen)
            #expect(done["status"]?.stringValue == "completed")
            // The public progress query finds the bundle by its number too, with every part.
            let tail = String(Fixtures.idNumber("37010219900307123").suffix(6))
            let (found, progress) = try await app.json(.GET, "/api/v1/progress?number=\(number)&idTail=\(tail)")
            #expect(found == .ok)
            #expect(progress["status"]?.stringValue == "completed")
            if case .array(let rows)? = progress["parts"] { #expect(rows.count == 4) } else { Issue.record("no parts in progress") }
            // Someone else cannot see it.
            let other = try await app.login("demo-enterprise")
            let (hidden, _) = try await app.json(.GET, "/api/v1/bundle-applications/\(id)", token: other)
            #expect(hidden == .notFound)
        }
    }

    @Test func badInput_reportsEveryFieldOnce_andStoresNothing() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            var form = Self.form()
            form["buyerName"] = nil
            form["gasAccount"] = "12"
            form["unknownField"] = "x"
            let (status, problem) = try await app.json(
                .POST, "/api/v1/bundles/home-transfer/applications", token: citizen, body: ["form": .object(form), "submit": true])
            #expect(status == .unprocessableEntity)
            let fields = (problem["errors"].flatMap { value -> [String]? in
                if case .array(let items) = value { return items.compactMap { $0["field"]?.stringValue } }
                return nil
            }) ?? []
            #expect(Set(fields) == ["form.buyerName", "form.gasAccount", "form.unknownField"])
            #expect(fields.filter { $0 == "form.buyerName" }.count == 1)
            let (_, mine) = try await app.json(.GET, "/api/v1/bundle-applications", token: citizen)
            if case .array(let items)? = mine["items"] { #expect(items.isEmpty) }
            let (_, applications) = try await app.json(.GET, "/api/v1/applications", token: citizen)
            if case .array(let items)? = applications["items"] { #expect(items.isEmpty) }
            let (unknown, _) = try await app.json(
                .POST, "/api/v1/bundles/no-such-bundle/applications", token: citizen, body: ["form": [:], "submit": true])
            #expect(unknown == .notFound)
            let (anonymous, _) = try await app.json(.POST, "/api/v1/bundles/home-transfer/applications", body: ["form": [:]])
            #expect(anonymous == .unauthorized)
            let clerk = try await app.login("demo-clerk")
            let (staff, _) = try await app.json(.POST, "/api/v1/bundles/home-transfer/applications", token: clerk, body: ["form": [:]])
            #expect(staff == .forbidden)
        }
    }

    @Test func draftThenSubmit_partlyRejected_andWithdraw() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let (created, draft) = try await app.json(
                .POST, "/api/v1/bundles/home-transfer/applications", token: citizen, body: ["form": ["buyerName": "李明"]])
            #expect(created == .created)
            #expect(draft["status"]?.stringValue == "draft")
            let id = try #require(draft["id"]?.stringValue)
            let (incomplete, _) = try await app.json(.POST, "/api/v1/bundle-applications/\(id)/submit", token: citizen)
            #expect(incomplete == .unprocessableEntity)
            let (submitted, whole) = try await app.json(
                .POST, "/api/v1/bundle-applications/\(id)/submit", token: citizen, body: ["form": .object(Self.form())])
            #expect(submitted == .ok)
            let (again, _) = try await app.json(.POST, "/api/v1/bundle-applications/\(id)/submit", token: citizen)
            #expect(again == .conflict)
            guard case .array(let parts)? = whole["applications"] else { Issue.record("no parts"); return }
            let ids = parts.compactMap { $0["id"]?.stringValue }
            try await handle(app, part: ids[0], action: "approve")
            try await handle(app, part: ids[1], action: "reject")
            // Withdraw takes back the two parts still in progress, not the decided ones.
            let (withdrawn, after) = try await app.json(.POST, "/api/v1/bundle-applications/\(id)/withdraw", token: citizen)
            #expect(withdrawn == .ok)
            guard case .array(let finalParts)? = after["applications"] else { Issue.record("no parts"); return }
            let statuses = finalParts.compactMap { $0["status"]?.stringValue }.sorted()
            #expect(statuses == ["approved", "rejected", "withdrawn", "withdrawn"])
            #expect(after["status"]?.stringValue == "partially_approved")
            let (nothingLeft, _) = try await app.json(.POST, "/api/v1/bundle-applications/\(id)/withdraw", token: citizen)
            #expect(nothingLeft == .conflict)
        }
    }
}
