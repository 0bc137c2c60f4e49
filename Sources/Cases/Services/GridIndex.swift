import Foundation

/// A polygon with holes, in (longitude, latitude) pairs as GeoJSON has them.
struct GeoPolygon: Sendable, Equatable {
    /// The outer ring first, then holes; each ring closed or not (the last edge is implied).
    var rings: [[(lon: Double, lat: Double)]]

    static func == (lhs: GeoPolygon, rhs: GeoPolygon) -> Bool {
        lhs.rings.count == rhs.rings.count
            && zip(lhs.rings, rhs.rings).allSatisfy { a, b in
                a.count == b.count && zip(a, b).allSatisfy { $0.lon == $1.lon && $0.lat == $1.lat }
            }
    }

    var bounds: (minLat: Double, minLon: Double, maxLat: Double, maxLon: Double) {
        let points = rings.first ?? []
        return (
            points.map(\.lat).min() ?? 0, points.map(\.lon).min() ?? 0, points.map(\.lat).max() ?? 0,
            points.map(\.lon).max() ?? 0
        )
    }

    /// Even-odd rule over every ring; a point on an edge counts as inside (so shared grid borders
    /// and the outer border of a district are covered).
    func contains(lat: Double, lon: Double) -> Bool {
        var inside = false
        for ring in rings where ring.count >= 3 {
            var j = ring.count - 1
            for i in 0..<ring.count {
                let a = ring[i]
                let b = ring[j]
                if Self.onSegment(lat: lat, lon: lon, a: a, b: b) { return true }
                if (a.lat > lat) != (b.lat > lat) {
                    let x = (b.lon - a.lon) * (lat - a.lat) / (b.lat - a.lat) + a.lon
                    if lon < x { inside.toggle() }
                }
                j = i
            }
        }
        return inside
    }

    static func onSegment(lat: Double, lon: Double, a: (lon: Double, lat: Double), b: (lon: Double, lat: Double)) -> Bool {
        let cross = (b.lon - a.lon) * (lat - a.lat) - (b.lat - a.lat) * (lon - a.lon)
        guard abs(cross) <= 1e-12 else { return false }
        return lon >= min(a.lon, b.lon) - 1e-12 && lon <= max(a.lon, b.lon) + 1e-12
            && lat >= min(a.lat, b.lat) - 1e-12 && lat <= max(a.lat, b.lat) + 1e-12
    }

    /// Parses a GeoJSON `Polygon` or `MultiPolygon` geometry (a `Feature` is unwrapped).
    static func parse(geoJSON text: String) -> [GeoPolygon]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        return parse(object)
    }

    static func parse(_ object: [String: Any]) -> [GeoPolygon]? {
        if object["type"] as? String == "Feature", let geometry = object["geometry"] as? [String: Any] {
            return parse(geometry)
        }
        func ring(_ value: Any) -> [(lon: Double, lat: Double)]? {
            guard let points = value as? [[Any]] else { return nil }
            var ring: [(lon: Double, lat: Double)] = []
            for point in points {
                guard point.count >= 2, let lon = (point[0] as? NSNumber)?.doubleValue,
                    let lat = (point[1] as? NSNumber)?.doubleValue, lat.isFinite, lon.isFinite
                else { return nil }
                ring.append((lon, lat))
            }
            return ring.count >= 3 ? ring : nil
        }
        func polygon(_ value: Any) -> GeoPolygon? {
            guard let rings = value as? [Any], !rings.isEmpty else { return nil }
            var parsed: [[(lon: Double, lat: Double)]] = []
            for r in rings {
                guard let ring = ring(r) else { return nil }
                parsed.append(ring)
            }
            return GeoPolygon(rings: parsed)
        }
        switch object["type"] as? String {
        case "Polygon":
            return object["coordinates"].flatMap(polygon).map { [$0] }
        case "MultiPolygon":
            guard let list = object["coordinates"] as? [Any], !list.isEmpty else { return nil }
            var result: [GeoPolygon] = []
            for item in list {
                guard let p = polygon(item) else { return nil }
                result.append(p)
            }
            return result
        default:
            return nil
        }
    }

    /// A rectangle as a GeoJSON `Polygon` text.
    static func rectangleGeoJSON(minLat: Double, minLon: Double, maxLat: Double, maxLon: Double) -> String {
        func p(_ lon: Double, _ lat: Double) -> String { "[\(lon),\(lat)]" }
        let ring = [p(minLon, minLat), p(maxLon, minLat), p(maxLon, maxLat), p(minLon, maxLat), p(minLon, minLat)]
        return #"{"type":"Polygon","coordinates":[["# + ring.joined(separator: ",") + "]]}"
    }
}

/// Point-in-polygon over many grids with a uniform bucket index: the union of the grids' bounding boxes is
/// cut into about 4 cells per grid; each cell lists the grids whose bounding box overlaps it, so a lookup
/// tests a handful of polygons instead of all of them.
struct GridIndex: Sendable {
    struct Entry: Sendable {
        var id: UUID
        var polygons: [GeoPolygon]
        var minLat, minLon, maxLat, maxLon: Double
    }

    private let entries: [Entry]
    private let minLat, minLon, cellLat, cellLon: Double
    private let rows, columns: Int
    private let cells: [[Int32]]

    init(_ entries: [Entry]) {
        self.entries = entries
        guard !entries.isEmpty else {
            (self.minLat, self.minLon, self.cellLat, self.cellLon) = (0, 0, 1, 1)
            (self.rows, self.columns, self.cells) = (0, 0, [])
            return
        }
        let minLat = entries.map(\.minLat).min() ?? 0
        let maxLat = entries.map(\.maxLat).max() ?? 0
        let minLon = entries.map(\.minLon).min() ?? 0
        let maxLon = entries.map(\.maxLon).max() ?? 0
        let side = max(1, Int((Double(entries.count) * 4).squareRoot().rounded(.up)))
        let rows = side
        let columns = side
        let cellLat = max((maxLat - minLat) / Double(rows), 1e-9)
        let cellLon = max((maxLon - minLon) / Double(columns), 1e-9)
        var cells = [[Int32]](repeating: [], count: rows * columns)
        for (index, entry) in entries.enumerated() {
            let r0 = max(0, min(rows - 1, Int((entry.minLat - minLat) / cellLat - 1e-6)))
            let r1 = max(0, min(rows - 1, Int((entry.maxLat - minLat) / cellLat + 1e-6)))
            let c0 = max(0, min(columns - 1, Int((entry.minLon - minLon) / cellLon - 1e-6)))
            let c1 = max(0, min(columns - 1, Int((entry.maxLon - minLon) / cellLon + 1e-6)))
            for r in r0...r1 {
                for c in c0...c1 { cells[r * columns + c].append(Int32(index)) }
            }
        }
        (self.minLat, self.minLon, self.cellLat, self.cellLon) = (minLat, minLon, cellLat, cellLon)
        (self.rows, self.columns, self.cells) = (rows, columns, cells)
    }

    var count: Int { entries.count }

    /// The grid containing the point (the first by insertion order when borders are shared), or nil.
    func locate(lat: Double, lon: Double) -> UUID? {
        guard rows > 0 else { return nil }
        let r = Int(((lat - minLat) / cellLat).rounded(.down))
        let c = Int(((lon - minLon) / cellLon).rounded(.down))
        // A point exactly on the outer top/right border belongs to the last cell.
        let row = r == rows ? rows - 1 : r
        let column = c == columns ? columns - 1 : c
        guard row >= 0, row < rows, column >= 0, column < columns else { return nil }
        for index in cells[row * columns + column] {
            let entry = entries[Int(index)]
            guard lat >= entry.minLat, lat <= entry.maxLat, lon >= entry.minLon, lon <= entry.maxLon else { continue }
            if entry.polygons.contains(where: { $0.contains(lat: lat, lon: lon) }) { return entry.id }
        }
        return nil
    }
}
