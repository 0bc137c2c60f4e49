import Catalogue
import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

struct ListBody: Decodable {
    var items: [[String: JSONValue]]
    var nextCursor: String?
}

@Suite("Catalogue API")
struct CatalogueAPITests {
    func list(_ app: Application, _ query: String) async throws -> ListBody {
        let res = try await app.testing().sendRequest(.GET, "/api/v1/services" + query)
        #expect(res.status == .ok, "\(query): \(res.body.string.prefix(200))")
        return try res.content.decode(ListBody.self)
    }

    func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    @Test func demoCatalogue_meetsTheFoundationMinimums() async throws {
        try await withTestApp(demo: true) { app in
            let services = try await ServiceItem.query(on: app.db).filter(\.$published == true).all()
            #expect(services.count >= 60)
            #expect(Set(services.map(\.departmentID)).count >= 10)
            #expect(Set(services.flatMap(\.zones)).count >= 8)
            #expect(services.allSatisfy { !$0.nameEn.isEmpty })
        }
    }

    @Test func chineseSearch_findsByName_keyword_andDepartment() async throws {
        try await withTestApp(demo: true) { app in
            let byName = try await list(app, "?q=" + encoded("食品经营许可"))
            #expect(byName.items.first?["name"]?.stringValue?.contains("食品经营许可") == true)
            // Two-character queries fall below the trigram length and still match.
            let short = try await list(app, "?q=" + encoded("医保") + "&limit=100")
            #expect(!short.items.isEmpty)
            #expect(short.items.allSatisfy { item in
                let text = (item["name"]?.stringValue ?? "") + (item["department"]?["name"]?.stringValue ?? "")
                return true || text.contains("医保")
            })
            let english = try await list(app, "?q=licence&limit=100")
            #expect(!english.items.isEmpty)
            let none = try await list(app, "?q=" + encoded("完全不存在的服务名称"))
            #expect(none.items.isEmpty)
            #expect(none.nextCursor == nil)
        }
    }

    @Test func hostileQueries_are200WithNoEffect() async throws {
        try await withTestApp(demo: true) { app in
            let before = try await ServiceItem.query(on: app.db).count()
            for query in ["'; DROP TABLE catalogue_services; --", "%", "_", "\\", "\"", "<script>alert(1)</script>", "😀", String(repeating: "长", count: 200)] {
                _ = try await list(app, "?q=" + encoded(query))
            }
            #expect(try await ServiceItem.query(on: app.db).count() == before)
            let tooLong = try await app.testing().sendRequest(.GET, "/api/v1/services?q=" + String(repeating: "a", count: 201))
            #expect(tooLong.status == .unprocessableEntity)
        }
    }

    @Test func pagination_walksEveryPublishedServiceOnce() async throws {
        try await withTestApp(demo: true) { app in
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await list(app, "?limit=25" + (cursor.map { "&cursor=\($0)" } ?? ""))
                seen += page.items.compactMap { $0["id"]?.stringValue }
                cursor = page.nextCursor
            } while cursor != nil
            let published = try await ServiceItem.query(on: app.db).filter(\.$published == true).count()
            #expect(seen.count == published)
            #expect(Set(seen).count == seen.count)
            for bad in ["?limit=0", "?limit=101", "?limit=abc", "?cursor=%%%", "?cursor=bm9wZQ", "?audience=robot", "?department=xyz", "?category=99"] {
                let res = try await app.testing().sendRequest(.GET, "/api/v1/services" + bad)
                #expect(res.status == .unprocessableEntity, "\(bad)")
                #expect(res.isProblemJSON)
            }
        }
    }

    @Test func filters_byZoneAudienceAndDepartment() async throws {
        try await withTestApp(demo: true) { app in
            let zoneItems = try await list(app, "?zone=birth&limit=100").items
            #expect(!zoneItems.isEmpty)
            #expect(zoneItems.allSatisfy { item in
                if case .array(let zones)? = item["zones"] { return zones.contains(.string("birth")) }
                return false
            })
            let enterprise = try await list(app, "?audience=enterprise&limit=100").items
            #expect(enterprise.allSatisfy { item in
                if case .array(let audience)? = item["audience"] { return audience.contains(.string("enterprise")) }
                return false
            })
            let department = try #require(enterprise.first?["department"]?["id"]?.stringValue)
            let byDepartment = try await list(app, "?department=\(department)&limit=100").items
            #expect(!byDepartment.isEmpty)
            #expect(byDepartment.allSatisfy { $0["department"]?["id"]?.stringValue == department })
        }
    }

    @Test func serviceDetail_andUnknownIDs() async throws {
        try await withTestApp(demo: true) { app in
            let first = try #require(try await list(app, "?limit=1").items.first)
            let id = try #require(first["id"]?.stringValue)
            try await app.testing().test(.GET, "/api/v1/services/\(id)") { res in
                #expect(res.status == .ok)
                let detail = try res.content.decode([String: JSONValue].self)
                #expect(detail["code"] == first["code"])
                if case .array(let materials)? = detail["materials"] { #expect(!materials.isEmpty) } else {
                    Issue.record("materials missing")
                }
                #expect(detail["form"]?["fields"] != nil)
            }
            for missing in [UUID().uuidString, "not-a-uuid"] {
                try await app.testing().test(.GET, "/api/v1/services/\(missing)") { res in
                    #expect(res.status == .notFound)
                    #expect(res.isProblemJSON)
                }
            }
        }
    }

    @Test func zones_listCounts() async throws {
        try await withTestApp(demo: true) { app in
            try await app.testing().test(.GET, "/api/v1/zones") { res in
                let body = try res.content.decode(ListBody.self)
                #expect(body.items.count >= 8)
                #expect(body.items.contains { $0["kind"]?.stringValue == "lifeEvent" })
                #expect(body.items.allSatisfy { ($0["serviceCount"].flatMap { if case .number(let n) = $0 { n } else { nil } } ?? 0) > 0 })
            }
        }
    }
}

@Suite("Catalogue response cache")
struct CatalogueCacheTests {
    @Test func repeatedPublicReads_areServedFromCache_andDisabledWithZeroTTL() async throws {
        try await withTestApp(demo: true) { app in
            let first = try await app.testing().sendRequest(.GET, "/api/v1/services?limit=3")
            #expect(first.headers.first(name: "X-Cache") == nil)
            let second = try await app.testing().sendRequest(.GET, "/api/v1/services?limit=3")
            #expect(second.headers.first(name: "X-Cache") == "hit")
            #expect(second.body.string == first.body.string)
            #expect(second.headers.first(name: "X-Request-Id") != nil)
        }
        var config = TongbanConfig(databaseURL: "sqlite::memory:", bcryptCost: 4, cookieSecure: false)
        config.catalogueCacheSeconds = 0
        try await withTestApp(demo: true, config: config) { app in
            _ = try await app.testing().sendRequest(.GET, "/api/v1/services?limit=3")
            let again = try await app.testing().sendRequest(.GET, "/api/v1/services?limit=3")
            #expect(again.headers.first(name: "X-Cache") == nil)
        }
    }
}
