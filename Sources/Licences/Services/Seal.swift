import Foundation

/// The image half of an electronic seal (电子印章): a round red seal drawn from the department's name,
/// as SVG. The other half is the signature in the licence's code; the image alone proves nothing.
public enum Seal {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A 160×160 seal: the name along the upper arc, a five-pointed star, and the purpose below.
    public static func svg(department: String, purpose: String = "电子证照专用章", id: String = "seal") -> String {
        let name = escape(department)
        let characters = max(1, department.count)
        let fontSize = min(18.0, 300.0 / Double(characters))
        // The star: 5 outer and 5 inner points around (80, 80).
        var points: [String] = []
        for i in 0..<10 {
            let radius = i % 2 == 0 ? 22.0 : 9.0
            let angle = -Double.pi / 2 + Double(i) * Double.pi / 5
            points.append(String(format: "%.1f,%.1f", 80 + radius * cos(angle), 80 + radius * sin(angle)))
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 160" width="160" height="160" role="img" aria-label="\(name) \(escape(purpose))">\
            <title>\(name) \(escape(purpose))</title>\
            <defs><path id="\(id)-arc" d="M 28,80 A 52,52 0 1 1 132,80"/></defs>\
            <circle cx="80" cy="80" r="74" fill="none" stroke="#c8102e" stroke-width="5"/>\
            <text fill="#c8102e" font-size="\(String(format: "%.1f", fontSize))" font-weight="bold" text-anchor="middle">\
            <textPath href="#\(id)-arc" startOffset="50%">\(name)</textPath></text>\
            <polygon points="\(points.joined(separator: " "))" fill="#c8102e"/>\
            <text x="80" y="124" fill="#c8102e" font-size="11" text-anchor="middle">\(escape(purpose))</text>\
            </svg>
            """
    }
}
