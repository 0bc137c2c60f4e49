import Foundation

/// RFC 4180 comma-separated values: quoted fields with doubled quotes, CRLF or LF line ends, a UTF-8 BOM
/// allowed at the start. Records longer or shorter than the header are reported, not padded.
public enum CSV {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var line: Int
        public var description: String
    }

    /// The records of `text` (the first is usually the header). Blank lines are skipped.
    public static func parse(_ text: String, maxRecords: Int = 1_000_000) throws -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var inQuotes = false
        var line = 1
        var fieldStarted = false
        var scalars = text.unicodeScalars[...]
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        var iterator = scalars.makeIterator()
        var pending: Unicode.Scalar?
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        func endRecord() throws {
            record.append(field)
            field = ""
            fieldStarted = false
            if !(record.count == 1 && record[0].isEmpty) { records.append(record) }
            record = []
            if records.count > maxRecords { throw Failure(line: line, description: "more than \(maxRecords) records") }
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let following = next() {
                        if following == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; pending = following }
                    } else {
                        inQuotes = false
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                guard !fieldStarted && field.isEmpty else {
                    throw Failure(line: line, description: "a quote inside an unquoted field")
                }
                inQuotes = true
                fieldStarted = true
            case ",":
                record.append(field)
                field = ""
                fieldStarted = false
            case "\r":
                if let following = next(), following != "\n" { pending = following }
                try endRecord()
                line += 1
            case "\n":
                try endRecord()
                line += 1
            default:
                field.unicodeScalars.append(c)
                fieldStarted = true
            }
        }
        if inQuotes { throw Failure(line: line, description: "a quoted field is not closed") }
        if !field.isEmpty || !record.isEmpty || fieldStarted { try endRecord() }
        return records
    }
}
