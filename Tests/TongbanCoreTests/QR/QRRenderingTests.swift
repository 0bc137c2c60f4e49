import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TongbanCore

@Suite("QR rendering")
struct QRRenderingTests {
    // MARK: PNG

    struct Chunk {
        let type: String
        let data: [UInt8]
        let crc: UInt32
        let crcInput: [UInt8]
    }

    static func chunks(_ png: [UInt8]) throws -> [Chunk] {
        var result: [Chunk] = []
        var offset = 8
        func u32(_ at: Int) -> UInt32 {
            UInt32(png[at]) << 24 | UInt32(png[at + 1]) << 16 | UInt32(png[at + 2]) << 8 | UInt32(png[at + 3])
        }
        while offset < png.count {
            try #require(offset + 12 <= png.count)
            let length = Int(u32(offset))
            try #require(offset + 12 + length <= png.count)
            let type = String(decoding: png[offset + 4..<offset + 8], as: UTF8.self)
            let data = Array(png[offset + 8..<offset + 8 + length])
            result.append(Chunk(type: type, data: data, crc: u32(offset + 8 + length),
                                crcInput: Array(png[offset + 4..<offset + 8 + length])))
            offset += 12 + length
        }
        return result
    }

    /// Bitwise CRC-32, independent of the table-driven implementation.
    static func slowCRC32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test("CRC-32 and Adler-32 known answers")
    func checksums() {
        #expect(QRPNG.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Self.slowCRC32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(QRPNG.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
        let random = qrTestBytes(10_000, seed: 1)
        #expect(QRPNG.crc32(random) == Self.slowCRC32(random))
    }

    @Test("zlib stream of arbitrary data inflates back", arguments: [0, 1, 2, 3, 100, 5000])
    func zlibRoundTrip(count: Int) throws {
        var data = qrTestBytes(count, seed: UInt64(count))
        if count > 10 { for i in 10..<min(count, 400) { data[i] = 0x41 } }  // a long run
        let stream = QRPNG.zlib(data)
        #expect(try QRTestInflater.zlib(stream) == data)
    }

    @Test("PNG: signature, IHDR, valid CRCs, IEND, pixels equal to the modules",
          arguments: [(1, 0), (1, 4), (2, 1), (3, 4), (4, 4), (5, 2), (8, 0), (10, 3)])
    func png(scale: Int, border: Int) throws {
        let code = try QRCode.encode(qrTestBytes(120, seed: 7), correction: .quartile)
        let png = code.png(scale: scale, border: border)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let chunks = try Self.chunks(png)
        #expect(chunks.map(\.type) == ["IHDR", "IDAT", "IEND"])
        for chunk in chunks {
            #expect(chunk.crc == Self.slowCRC32(chunk.crcInput), "CRC of \(chunk.type)")
        }
        let header = chunks[0].data
        let width = (code.size + 2 * border) * scale
        #expect(header.count == 13)
        #expect(Array(header[0..<4]) == [UInt8(width >> 24), UInt8(width >> 16 & 0xFF), UInt8(width >> 8 & 0xFF), UInt8(width & 0xFF)])
        #expect(Array(header[4..<8]) == Array(header[0..<4]))  // square
        #expect(Array(header[8..<13]) == [1, 0, 0, 0, 0])      // 1-bit greyscale, deflate, no interlace
        #expect(chunks[2].data.isEmpty)

        let raw = try QRTestInflater.zlib(chunks[1].data)  // also checks the Adler-32
        let stride = (width + 7) / 8 + 1
        try #require(raw.count == stride * width)
        for y in 0..<width {
            #expect(raw[y * stride] == 0, "filter type of scanline \(y)")
            for x in 0..<width {
                let white = raw[y * stride + 1 + x / 8] & (0x80 >> UInt8(x % 8)) != 0
                let dark = code[x / scale - border, y / scale - border]
                    && x / scale >= border && y / scale >= border
                if white == dark {
                    Issue.record("pixel (\(x), \(y)) wrong")
                    return
                }
            }
        }
    }

    @Test("PNG of a version 40 symbol stays small")
    func pngSize() throws {
        let code = try QRCode.encode(qrTestBytes(2331, seed: 2))
        let png = code.png()
        #expect(code.version == 40)
        #expect(png.count < 20_000)  // 740 × 740 pixels
        #expect(try QRTestInflater.zlib(Self.chunks(png)[1].data).count == 740 * (93 + 1))
    }

    // MARK: SVG

    /// Parses the "M x y h w v1 h-w z" rectangles of the path into modules.
    static func modules(fromPath d: String, border: Int, size: Int) throws -> [[Bool]] {
        var matrix = Array(repeating: Array(repeating: false, count: size), count: size)
        let scanner = Scanner(string: d)
        scanner.charactersToBeSkipped = nil
        while !scanner.isAtEnd {
            try #require(scanner.scanString("M") != nil)
            let x = try #require(scanner.scanInt())
            try #require(scanner.scanString(" ") != nil)
            let y = try #require(scanner.scanInt())
            try #require(scanner.scanString("h") != nil)
            let width = try #require(scanner.scanInt())
            try #require(scanner.scanString("v1h-") != nil)
            #expect(scanner.scanInt() == width)
            try #require(scanner.scanString("z") != nil)
            for column in x..<(x + width) { matrix[y - border][column - border] = true }
        }
        return matrix
    }

    static func attribute(_ name: String, in svg: String) -> String? {
        guard let start = svg.range(of: " \(name)=\"") else { return nil }
        let rest = svg[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    @Test("SVG: well-formed basics, viewBox, crisp edges, one path tracing the modules",
          arguments: [(4, 4), (1, 0), (10, 2)])
    func svg(moduleSize: Int, border: Int) throws {
        let code = try QRCode.encode(qrTestBytes(300, seed: 8))
        let svg = code.svg(moduleSize: moduleSize, border: border)
        let extent = code.size + 2 * border
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(Self.attribute("viewBox", in: svg) == "0 0 \(extent) \(extent)")
        #expect(Self.attribute("width", in: svg) == "\(extent * moduleSize)")
        #expect(Self.attribute("height", in: svg) == "\(extent * moduleSize)")
        #expect(Self.attribute("shape-rendering", in: svg) == "crispEdges")
        #expect(Self.attribute("role", in: svg) == "img")
        #expect(!svg.contains("<title"))
        #expect(svg.contains("<rect width=\"\(extent)\" height=\"\(extent)\" fill=\"#fff\"/>"))
        #expect(svg.components(separatedBy: "<path").count == 2)
        let d = try #require(Self.attribute("d", in: svg))
        #expect(try Self.modules(fromPath: d, border: border, size: code.size) == code.moduleMatrix)
        // Parses as XML.
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse())
    }

    @Test("SVG title: escaped, and the accessible name")
    func svgTitle() throws {
        let code = try QRCode.encode("https://tongban.example/?a=1&b=2")
        let svg = code.svg(title: "Permit <2024> \"A&B\" 许可证")
        #expect(svg.contains("<title>Permit &lt;2024&gt; &quot;A&amp;B&quot; 许可证</title>"))
        #expect(svg.contains("role=\"img\" aria-label=\"Permit &lt;2024&gt; &quot;A&amp;B&quot; 许可证\""))
        #expect(XMLParser(data: Data(svg.utf8)).parse())
    }
}

/// A minimal zlib/deflate decoder for stored and fixed-Huffman blocks, to
/// check the PNG encoder's output independently.
struct QRTestInflater {
    struct Failure: Error, CustomStringConvertible { let description: String }

    let input: [UInt8]
    var position = 0
    var bitBuffer = 0
    var bitCount = 0

    static func zlib(_ stream: [UInt8]) throws -> [UInt8] {
        guard stream.count >= 6 else { throw Failure(description: "short stream") }
        guard stream[0] & 0x0F == 8, (Int(stream[0]) << 8 | Int(stream[1])) % 31 == 0, stream[1] & 0x20 == 0 else {
            throw Failure(description: "bad zlib header")
        }
        var inflater = QRTestInflater(input: Array(stream[2...]))
        let output = try inflater.inflate()
        let trailer = stream.suffix(4)
        let adler = trailer.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard adler == QRPNG.adler32(output) else { throw Failure(description: "Adler-32 mismatch") }
        guard inflater.position + 4 == inflater.input.count else { throw Failure(description: "trailing bytes") }
        return output
    }

    mutating func bit() throws -> Int {
        if bitCount == 0 {
            guard position < input.count else { throw Failure(description: "out of input") }
            bitBuffer = Int(input[position])
            position += 1
            bitCount = 8
        }
        let bit = bitBuffer & 1
        bitBuffer >>= 1
        bitCount -= 1
        return bit
    }

    mutating func bits(_ count: Int) throws -> Int {
        var value = 0
        for i in 0..<count { value |= try bit() << i }
        return value
    }

    /// Reads a fixed-Huffman literal/length symbol (codes are MSB-first).
    mutating func literal() throws -> Int {
        var code = 0
        for _ in 0..<7 { code = code << 1 | (try bit()) }
        if code <= 0b0010111 { return 256 + code }
        code = code << 1 | (try bit())
        if (0x30...0xBF).contains(code) { return code - 0x30 }
        if (0xC0...0xC7).contains(code) { return 280 + code - 0xC0 }
        code = code << 1 | (try bit())
        guard (0x190...0x1FF).contains(code) else { throw Failure(description: "bad code") }
        return 144 + code - 0x190
    }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                               1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    mutating func inflate() throws -> [UInt8] {
        var output: [UInt8] = []
        var final = false
        while !final {
            final = try bit() == 1
            switch try bits(2) {
            case 0:
                bitCount = 0  // align to the next byte
                guard position + 4 <= input.count else { throw Failure(description: "short stored block") }
                let length = Int(input[position]) | Int(input[position + 1]) << 8
                let complement = Int(input[position + 2]) | Int(input[position + 3]) << 8
                guard length ^ 0xFFFF == complement else { throw Failure(description: "bad stored length") }
                position += 4
                output += input[position..<position + length]
                position += length
            case 1:
                while true {
                    let symbol = try literal()
                    if symbol < 256 {
                        output.append(UInt8(symbol))
                    } else if symbol == 256 {
                        break
                    } else {
                        let index = symbol - 257
                        guard index < 29 else { throw Failure(description: "bad length symbol") }
                        let length = Self.lengthBase[index] + (try bits(Self.lengthExtra[index]))
                        var distanceCode = 0
                        for _ in 0..<5 { distanceCode = distanceCode << 1 | (try bit()) }
                        guard distanceCode < 30 else { throw Failure(description: "bad distance symbol") }
                        let distance = Self.distanceBase[distanceCode] + (try bits(Self.distanceExtra[distanceCode]))
                        guard distance <= output.count else { throw Failure(description: "distance too far") }
                        for _ in 0..<length { output.append(output[output.count - distance]) }
                    }
                }
            default:
                throw Failure(description: "unsupported block type")
            }
        }
        return output
    }
}
