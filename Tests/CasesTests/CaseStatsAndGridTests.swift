import Fluent
import Foundation
import Testing
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

@testable import Cases

@Suite("Cases: statistics, CSV export, grid index")
struct CaseStatsAndGridTests {
    @Test func stats_countByDimension_ratesAndCSV_forStaffOnly() async throws {
        try await withTestApp(demo: true) { app in
            // Tokens are signed with the real time: sign in before fixing the clock.
            let citizen = try await app.login("demo-citizen")
            let grid = try await app.login("demo-grid")
            let community = try await app.login("demo-community")
            let district = try await app.login("demo-district")
            app.clock = .fixed(instant("2026-11-30T02:00:00Z"))
            let a = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.005, lon: 113.105)
            _ = try await app.fileCase(token: citizen, category: "environment", lat: 23.07, lon: 113.17)
            _ = try await app.fileCase(token: citizen, category: "environment", lat: 23.02, lon: 113.12)
            let id = try #require(a["id"]?.string)
            app.clock = .fixed(instant("2026-11-30T02:30:00Z"))
            _ = try await app.act(id, "accept", token: grid)
            app.clock = .fixed(instant("2026-11-30T04:00:00Z"))
            _ = try await app.act(id, "feedback", token: grid, ["comment": "ok"])
            _ = try await app.act(id, "close", token: community)
            _ = try await app.act(id, "evaluate", token: citizen, ["satisfied": true])

            let (status, stats, _) = try await app.send(.GET, "/api/v1/cases/stats?from=2026-11-01&to=2026-11-30", token: district)
            #expect(status == .ok)
            #expect(stats["total"]?.number == 3)
            func count(_ dimension: String, _ key: String) -> Double? {
                stats[dimension]?.items.first { $0["key"]?.string == key }?["count"]?.number
            }
            #expect(count("byCategory", "environment") == 2)
            #expect(count("byStatus", "closed") == 1)
            #expect(count("byStatus", "dispatched") == 2)
            #expect(count("byDay", "2026-11-30") == 3)
            #expect(count("byType", "grid_event") == 3)
            #expect(stats["byDepartment"]?.items.first?["label"]?.string == "佛山市生态环境局禅城分局")
            #expect(stats["byGrid"]?.items.count == 3)
            #expect(stats["averageResponseMinutes"]?.number == 30)
            #expect(stats["averageResolutionHours"]?.number == 2)
            #expect(stats["satisfactionRate"]?.number == 1)
            #expect(stats["overdueRate"]?.number == 0)
            // Another period is empty.
            let (_, empty, _) = try await app.send(.GET, "/api/v1/cases/stats?from=2026-10-01&to=2026-10-31", token: district)
            #expect(empty["total"]?.number == 0)
            // CSV.
            let res = try await app.testing().sendRequest(.GET, "/api/v1/cases/stats.csv", headers: .bearer(district))
            #expect(res.headers.first(name: .contentType)?.hasPrefix("text/csv") == true)
            let csv = String(buffer: res.body)
            #expect(csv.hasPrefix("dimension,key,label,count\r\n"))
            #expect(csv.contains("category,environment,环境污染,2\r\n"))
            let rows = try CSV.parse(csv)
            #expect(rows.allSatisfy { $0.count == 4 })
            // Residents may not; bad dates are 422.
            let (forbidden, _, _) = try await app.send(.GET, "/api/v1/cases/stats", token: citizen)
            #expect(forbidden == .forbidden)
            let (bad, problem, _) = try await app.send(.GET, "/api/v1/cases/stats?from=yesterday", token: district)
            #expect(bad == .unprocessableEntity)
            #expect(problem["errors"]?.items.first?["field"]?.string == "from")
        }
    }

    @Test func demoGrids_coverTheDistrictBox_andLocateAnswersForEveryPoint() async throws {
        try await withTestApp(demo: true) { app in
            #expect(try await GridRecord.query(on: app.db).count() >= 40)
            for (lat, lon) in [(23.0, 113.1), (23.1, 113.2), (23.05, 113.15), (23.0999, 113.1001), (23.02, 113.13)] {
                let (status, body, _) = try await app.send(.GET, "/api/v1/cases/grids/locate?lat=\(lat)&lon=\(lon)")
                #expect(status == .ok)
                #expect(body["outsideGrid"] == .bool(false), "\(lat),\(lon)")
                #expect(body["grid"]?["code"]?.string?.hasPrefix("440604") == true)
            }
            let (_, outside, _) = try await app.send(.GET, "/api/v1/cases/grids/locate?lat=22.99&lon=113.15")
            #expect(outside["outsideGrid"] == .bool(true))
            let (bad, _, _) = try await app.send(.GET, "/api/v1/cases/grids/locate?lat=north&lon=113.15")
            #expect(bad == .unprocessableEntity)
            // The grids are regions of level "grid" in the region tree, under communities.
            let (_, regions, _) = try await app.send(.GET, "/api/v1/regions?level=grid&limit=100")
            let list = regions["items"]?.items ?? regions.items
            #expect(list.filter { $0["level"]?.string == "grid" && $0["code"]?.string?.hasPrefix("440604") == true }.count >= 40)
        }
    }

    @Test func gridIndex_451Grids_matchesBruteForce_andHandlesHolesAndEdges() {
        // 451 irregular quadrilaterals over a 21 × 22 lattice (the last row partly filled).
        var entries: [GridIndex.Entry] = []
        var polygons: [(UUID, GeoPolygon)] = []
        for index in 0..<451 {
            let row = Double(index / 21)
            let column = Double(index % 21)
            let lat0 = 23.0 + row * 0.005
            let lon0 = 113.0 + column * 0.005
            let jitter = Double(index % 7) * 0.0003
            let ring: [(lon: Double, lat: Double)] = [
                (lon0, lat0), (lon0 + 0.005, lat0 + jitter), (lon0 + 0.005, lat0 + 0.005), (lon0 + jitter, lat0 + 0.005),
            ]
            let polygon = GeoPolygon(rings: [ring])
            let id = UUID()
            let b = polygon.bounds
            entries.append(GridIndex.Entry(id: id, polygons: [polygon], minLat: b.minLat, minLon: b.minLon, maxLat: b.maxLat, maxLon: b.maxLon))
            polygons.append((id, polygon))
        }
        let index = GridIndex(entries)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let lat = Double.random(in: 22.99...23.12, using: &generator)
            let lon = Double.random(in: 112.99...113.11, using: &generator)
            let brute = polygons.first { $0.1.contains(lat: lat, lon: lon) }?.0
            let found = index.locate(lat: lat, lon: lon)
            #expect(found == brute, "\(lat),\(lon)")
            if found != brute { break }
        }
        // A hole is outside; its border is inside.
        let donut = GeoPolygon(rings: [
            [(0, 0), (10, 0), (10, 10), (0, 10)], [(4, 4), (6, 4), (6, 6), (4, 6)],
        ])
        #expect(donut.contains(lat: 1, lon: 1))
        #expect(!donut.contains(lat: 5, lon: 5))
        #expect(donut.contains(lat: 0, lon: 5))
        #expect(!donut.contains(lat: 11, lon: 5))
        // GeoJSON parsing: Polygon, MultiPolygon, Feature; junk is nil.
        #expect(GeoPolygon.parse(geoJSON: GeoPolygon.rectangleGeoJSON(minLat: 1, minLon: 2, maxLat: 3, maxLon: 4))?.count == 1)
        #expect(GeoPolygon.parse(geoJSON: #"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1]]],[[[5,5],[6,5],[6,6]]]]}"#)?.count == 2)
        #expect(GeoPolygon.parse(geoJSON: #"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}}"#)?.count == 1)
        #expect(GeoPolygon.parse(geoJSON: #"{"type":"Point","coordinates":[0,0]}"#) == nil)
        #expect(GeoPolygon.parse(geoJSON: "nonsense") == nil)
    }
}

@Suite("Cases: running statistics agree with a full scan")
struct CaseStatCountersTests {
    @Test func countersMatchScanning_afterManyTransitions() async throws {
        try await withTestApp(demo: true) { app in
            let citizen = try await app.login("demo-citizen")
            let grid = try await app.login("demo-grid")
            let community = try await app.login("demo-community")
            let street = try await app.login("demo-street")
            var ids: [String] = []
            for (index, category) in ["sanitation", "environment", "street_order", "road", "sanitation"].enumerated() {
                let created = try await app.fileCase(token: citizen, category: category, lat: 23.001 + Double(index) * 0.011, lon: 113.101)
                ids.append(try #require(created["id"]?.string))
            }
            _ = try await app.fileCase(token: citizen, category: "sanitation", lat: 23.0011, lon: 113.101)  // a duplicate
            _ = try await app.act(ids[0], "accept", token: grid)
            _ = try await app.act(ids[0], "feedback", token: grid, ["comment": "ok"])
            _ = try await app.act(ids[0], "close", token: community)
            _ = try await app.act(ids[0], "evaluate", token: citizen, ["satisfied": false, "note": "再看看"])
            _ = try await app.act(ids[0], "feedback", token: grid, ["comment": "ok"])
            _ = try await app.act(ids[0], "close", token: community)
            _ = try await app.act(ids[0], "evaluate", token: citizen, ["satisfied": true])
            _ = try await app.act(ids[2], "escalate", token: grid, ["comment": "街道处理"])
            _ = try await app.act(ids[2], "accept", token: street)
            _ = try await app.act(ids[2], "feedback", token: street, ["comment": "ok"])
            _ = try await app.act(ids[2], "return", token: try await app.login("demo-district"), ["comment": "不够"])
            // Timers: overdue everything still open.
            app.clock = .fixed(Date().addingTimeInterval(40 * 86400))
            _ = try await app.jobs.runOnce(app: app, limit: 100)
            let directory = try await app.casesDirectory.get(db: app.db, now: app.clock.now())
            let stats = CaseStats(db: app.db)
            for (from, to, type) in [(nil, nil, nil), (LocalDate("2026-01-01"), LocalDate("2027-12-31"), CaseType.gridEvent), (LocalDate("2020-01-01"), LocalDate("2020-01-02"), nil)] as [(LocalDate?, LocalDate?, CaseType?)] {
                let fast = try await stats.compute(from: from, to: to, type: type, directory: directory)
                let slow = try await stats.computeByScanning(from: from, to: to, type: type, directory: directory)
                #expect(fast.total == slow.total)
                for (a, b) in [(fast.byStatus, slow.byStatus), (fast.byType, slow.byType), (fast.byDepartment, slow.byDepartment),
                               (fast.byGrid, slow.byGrid), (fast.byCategory, slow.byCategory), (fast.byDay, slow.byDay)] {
                    #expect(a.map { "\($0.key)=\($0.count)" } == b.map { "\($0.key)=\($0.count)" })
                }
                #expect(fast.overdue == slow.overdue && fast.evaluated == slow.evaluated && fast.satisfied == slow.satisfied)
                // Counters keep whole seconds.
                #expect(abs((fast.averageResponseMinutes ?? -1) - (slow.averageResponseMinutes ?? -1)) < 1.0 / 60)
                #expect(abs((fast.averageResolutionHours ?? -1) - (slow.averageResolutionHours ?? -1)) < 1.0 / 3600)
                if from == nil {
                    #expect(fast.total == 6)
                    #expect(fast.overdue >= 3)
                    #expect(fast.satisfied == 1 && fast.evaluated == 1)
                }
            }
        }
    }
}
