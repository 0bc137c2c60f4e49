// SVG rendering.

/// Append-only byte buffer on raw memory for building text output quickly.
/// `put` methods do not check capacity: call `reserve` for the bytes first.
/// Must be `deallocate`d.
struct QRTextBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    func deallocate() {
        base.deallocate()
    }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    mutating func put(_ byte: UInt8) {
        base[count] = byte
        count &+= 1
    }

    /// Appends a non-negative decimal integer (at most 20 bytes).
    @inline(__always)
    mutating func put(_ value: Int) {
        if value < 10 {
            put(0x30 &+ UInt8(truncatingIfNeeded: value))
        } else if value < 100 {
            put(0x30 &+ UInt8(truncatingIfNeeded: value / 10))
            put(0x30 &+ UInt8(truncatingIfNeeded: value % 10))
        } else if value < 1000 {
            put(0x30 &+ UInt8(truncatingIfNeeded: value / 100))
            put(0x30 &+ UInt8(truncatingIfNeeded: value / 10 % 10))
            put(0x30 &+ UInt8(truncatingIfNeeded: value % 10))
        } else {
            var digits = 1
            var power = 10
            while digits < 19 && value >= power {
                digits += 1
                power &*= 10
            }
            var v = value
            for i in stride(from: digits - 1, through: 0, by: -1) {
                base[count + i] = 0x30 &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
            }
            count += digits
        }
    }

    /// Appends text (checks capacity itself).
    mutating func append(_ text: StaticString) {
        reserve(text.utf8CodeUnitCount)
        (base + count).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    /// Appends a number (checks capacity itself).
    mutating func append(_ value: Int) {
        reserve(20)
        put(value)
    }

    /// Appends `text` with the XML special characters escaped (checks capacity itself).
    mutating func appendEscaped(_ text: String) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): append("&amp;")
            case UInt8(ascii: "<"): append("&lt;")
            case UInt8(ascii: ">"): append("&gt;")
            case UInt8(ascii: "\""): append("&quot;")
            case UInt8(ascii: "'"): append("&apos;")
            case 0x00..<0x20 where byte != 0x09 && byte != 0x0A && byte != 0x0D:
                break  // not allowed in XML 1.0
            default:
                reserve(1)
                put(byte)
            }
        }
    }

    func makeString() -> String {
        String(unsafeUninitializedCapacity: count) { buffer in
            buffer.baseAddress!.update(from: base, count: count)
            return count
        }
    }
}

extension QRCode {
    /// Renders the symbol as a standalone SVG document.
    ///
    /// The drawing is in module units (`viewBox` = size + 2 × border), scaled to
    /// `moduleSize` pixels per module by `width`/`height`. A white background
    /// rectangle covers the quiet zone; all dark modules are one `<path>` made
    /// of horizontal run rectangles, with `shape-rendering="crispEdges"`. The
    /// root has `role="img"`; when `title` is given it becomes both the
    /// `<title>` element and the `aria-label` (the accessible name), escaped.
    public func svg(moduleSize: Int = 4, border: Int = 4, title: String? = nil) -> String {
        precondition(moduleSize >= 1, "moduleSize must be at least 1")
        precondition(border >= 0, "border must not be negative")
        let size = self.size
        let extent = size + 2 * border
        var out = QRTextBuffer(capacity: 512 + size * size * 5)
        defer { out.deallocate() }
        out.append("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"")
        out.append(extent * moduleSize)
        out.append("\" height=\"")
        out.append(extent * moduleSize)
        out.append("\" viewBox=\"0 0 ")
        out.append(extent)
        out.append(" ")
        out.append(extent)
        out.append("\" shape-rendering=\"crispEdges\" role=\"img\"")
        if let title {
            out.append(" aria-label=\"")
            out.appendEscaped(title)
            out.append("\"><title>")
            out.appendEscaped(title)
            out.append("</title>")
        } else {
            out.append(">")
        }
        out.append("<rect width=\"")
        out.append(extent)
        out.append("\" height=\"")
        out.append(extent)
        out.append("\" fill=\"#fff\"/><path fill=\"#000\" d=\"")
        rows.withUnsafeBufferPointer { words in
            for y in 0..<size {
                let line = QRLine(words.baseAddress! + y * 3)
                let inverse = ~line
                var x = line.firstSet(from: 0)
                while x < size {
                    let end = min(inverse.firstSet(from: x), size)
                    out.reserve(96)  // "M" x " " y "h" w "v1h-" w "z"
                    out.put(UInt8(ascii: "M"))
                    out.put(x + border)
                    out.put(UInt8(ascii: " "))
                    out.put(y + border)
                    out.put(UInt8(ascii: "h"))
                    out.put(end - x)
                    out.put(UInt8(ascii: "v"))
                    out.put(UInt8(ascii: "1"))
                    out.put(UInt8(ascii: "h"))
                    out.put(UInt8(ascii: "-"))
                    out.put(end - x)
                    out.put(UInt8(ascii: "z"))
                    x = line.firstSet(from: end)
                }
            }
        }
        out.append("\"/></svg>\n")
        return out.makeString()
    }
}
