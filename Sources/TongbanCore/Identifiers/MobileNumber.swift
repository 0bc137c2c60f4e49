import Foundation

/// A mainland China mobile number: 11 digits starting with 1 and a second digit 3–9, optionally written
/// with a +86 or 86 prefix, spaces or hyphens.
public struct MobileNumber: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ raw: String) {
        var digits = raw.filter { !($0 == " " || $0 == "-") }
        if digits.hasPrefix("+86") { digits.removeFirst(3) } else if digits.count == 13 && digits.hasPrefix("86") {
            digits.removeFirst(2)
        }
        let chars = Array(digits)
        guard chars.count == 11, chars.allSatisfy({ $0.isASCII && $0.isNumber }), chars[0] == "1",
            let second = chars[1].wholeNumberValue, (3...9).contains(second)
        else { return nil }
        value = digits
    }

    public var masked: String { Masking.phone(value) }
    public var description: String { masked }
}
