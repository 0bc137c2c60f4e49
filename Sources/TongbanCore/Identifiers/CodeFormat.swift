/// Simple shapes of identifiers (usernames, codes, field names), checked without regular expressions.
public struct CodeFormat: Sendable {
    public let first: @Sendable (Character) -> Bool
    public let rest: @Sendable (Character) -> Bool
    public let length: ClosedRange<Int>

    public init(
        length: ClosedRange<Int>, first: @escaping @Sendable (Character) -> Bool,
        rest: @escaping @Sendable (Character) -> Bool
    ) {
        self.first = first
        self.rest = rest
        self.length = length
    }

    public func matches(_ text: String) -> Bool {
        guard length.contains(text.count), let head = text.first, first(head) else { return false }
        return text.dropFirst().allSatisfy(rest)
    }

    static func digit(_ c: Character) -> Bool { c.isASCII && c.isNumber }
    static func lower(_ c: Character) -> Bool { c.isASCII && c.isLowercase }
    static func upper(_ c: Character) -> Bool { c.isASCII && c.isUppercase }
    static func letter(_ c: Character) -> Bool { c.isASCII && c.isLetter }

    /// `^[a-z0-9][a-z0-9_.-]{2,31}$`
    public static let username = CodeFormat(
        length: 3...32, first: { lower($0) || digit($0) }, rest: { lower($0) || digit($0) || "_.-".contains($0) })
    /// `^[0-9A-Z][0-9A-Z-]{1,39}$` (regions, departments)
    public static let directoryCode = CodeFormat(
        length: 2...40, first: { upper($0) || digit($0) }, rest: { upper($0) || digit($0) || $0 == "-" })
    /// `^[0-9A-Za-z][0-9A-Za-z._-]{5,35}$` (service items: GB/T 39554 codes, or readable slugs such as
    /// `joint-approval-demo`)
    public static let serviceCode = CodeFormat(
        length: 6...36, first: { letter($0) || digit($0) }, rest: { letter($0) || digit($0) || "-_.".contains($0) })
    /// `^[a-zA-Z][a-zA-Z0-9_]{0,39}$` (form field names)
    public static let fieldName = CodeFormat(
        length: 1...40, first: { letter($0) }, rest: { letter($0) || digit($0) || $0 == "_" })
}
