import Foundation

/// A unified social credit code per GB 32100-2015: 18 characters from a 31-character alphabet (no I, O,
/// Z, S, V), the last one a MOD 31 check character.
public struct CreditCode: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case wrongLength
        case badCharacters
        case unknownRegistrationAuthority
        case checkCharacterMismatch(expected: Character)

        public var description: String {
            switch self {
            case .wrongLength: "must have 18 characters"
            case .badCharacters: "may only contain digits and the letters ABCDEFGHJKLMNPQRTUWXY"
            case .unknownRegistrationAuthority: "starts with an unknown registration authority code"
            case .checkCharacterMismatch: "has a wrong check character"
            }
        }
    }

    static let alphabet: [Character] = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")
    static let weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    /// First characters in use: 1 organs, 5 social organisations, 9 industry & commerce, etc.
    static let registrationAuthorities: Set<Character> = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "N", "Y"]

    public init(_ raw: String) throws(Failure) {
        let text = raw.trimmingCharacters(in: .whitespaces).uppercased()
        guard text.count == 18 else { throw .wrongLength }
        let chars = Array(text)
        guard chars.allSatisfy({ Self.alphabet.contains($0) }) else { throw .badCharacters }
        guard Self.registrationAuthorities.contains(chars[0]) else { throw .unknownRegistrationAuthority }
        guard let expected = Self.checkCharacter(for: String(chars[0..<17])) else { throw .badCharacters }
        guard expected == chars[17] else { throw .checkCharacterMismatch(expected: expected) }
        value = text
    }

    /// The check character for the first 17 characters, or nil if one is outside the alphabet.
    public static func checkCharacter(for body: String) -> Character? {
        var sum = 0
        for (char, weight) in zip(body, weights) {
            guard let index = alphabet.firstIndex(of: char) else { return nil }
            sum += index * weight
        }
        return alphabet[(31 - sum % 31) % 31]
    }

    public static func isValid(_ raw: String) -> Bool { (try? CreditCode(raw)) != nil }

    /// The 6-digit GB/T 2260 division code of the registering authority.
    public var divisionCode: String { String(Array(value)[2..<8]) }

    public var description: String { value }
}
