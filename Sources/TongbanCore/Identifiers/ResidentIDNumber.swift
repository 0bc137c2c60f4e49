import Foundation

/// A mainland resident identity number per GB 11643-1999: 6-digit address code (GB/T 2260), 8-digit
/// birth date, 3-digit sequence (odd = male) and an ISO 7064 MOD 11-2 check character.
public struct ResidentIDNumber: Sendable, Hashable, CustomStringConvertible {
    /// The normalised 18-character value (upper-case `X`).
    public let value: String

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case wrongLength
        case badCharacters
        case unknownProvince(String)
        case invalidBirthDate
        case birthDateInFuture
        case checkCharacterMismatch(expected: Character)

        public var description: String {
            switch self {
            case .wrongLength: "must have 18 characters (or a legacy 15-digit number)"
            case .badCharacters: "may contain only digits, with X as the last character"
            case .unknownProvince(let code): "starts with an unknown province code \(code)"
            case .invalidBirthDate: "contains an impossible birth date"
            case .birthDateInFuture: "contains a birth date in the future"
            case .checkCharacterMismatch: "has a wrong check character"
            }
        }
    }

    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkCharacters: [Character] = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]

    /// Validates and normalises; `today` bounds the birth date.
    public init(_ raw: String, today: Date = Date()) throws(Failure) {
        var text = raw.trimmingCharacters(in: .whitespaces).uppercased()
        if text.count == 15 {
            guard text.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw .badCharacters }
            let body = String(text.prefix(6)) + "19" + String(text.suffix(9))
            text = body + String(Self.checkCharacter(for: body))
        }
        guard text.count == 18 else { throw .wrongLength }
        let chars = Array(text)
        guard chars[0..<17].allSatisfy({ $0.isASCII && $0.isNumber }),
            chars[17].isASCII && (chars[17].isNumber || chars[17] == "X")
        else { throw .badCharacters }
        let province = String(chars[0..<2])
        guard RegionCodes.provinces[province] != nil else { throw .unknownProvince(province) }
        let birth = String(chars[6..<14])
        guard let date = Self.parseDate(birth) else { throw .invalidBirthDate }
        guard date <= today else { throw .birthDateInFuture }
        let expected = Self.checkCharacter(for: String(chars[0..<17]))
        guard expected == chars[17] else { throw .checkCharacterMismatch(expected: expected) }
        value = text
    }

    /// Computes the MOD 11-2 check character for the first 17 digits.
    public static func checkCharacter(for body: String) -> Character {
        let digits = body.compactMap { $0.wholeNumberValue }
        let sum = zip(digits, weights).reduce(0) { $0 + $1.0 * $1.1 }
        return checkCharacters[sum % 11]
    }

    /// Whether `raw` is a valid number (convenience for validators).
    public static func isValid(_ raw: String, today: Date = Date()) -> Bool {
        (try? ResidentIDNumber(raw, today: today)) != nil
    }

    static func parseDate(_ yyyymmdd: String) -> Date? {
        guard yyyymmdd.count == 8, let year = Int(yyyymmdd.prefix(4)), let month = Int(yyyymmdd.dropFirst(4).prefix(2)),
            let day = Int(yyyymmdd.suffix(2)), year >= 1880
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai") ?? .gmt
        let components = DateComponents(year: year, month: month, day: day)
        guard let date = calendar.date(from: components) else { return nil }
        let back = calendar.dateComponents([.year, .month, .day], from: date)
        guard back.year == year, back.month == month, back.day == day else { return nil }
        return date
    }

    /// Birth date as `YYYY-MM-DD`.
    public var birthDate: String {
        let c = Array(value)
        return String(c[6..<10]) + "-" + String(c[10..<12]) + "-" + String(c[12..<14])
    }

    /// `male` when the sequence number is odd.
    public var sex: String {
        let c = Array(value)
        return (c[16].wholeNumberValue ?? 0) % 2 == 1 ? "male" : "female"
    }

    /// The GB/T 2260 address code of registration.
    public var addressCode: String { String(value.prefix(6)) }

    public var masked: String { Masking.idNumber(value) }

    public var description: String { masked }
}
