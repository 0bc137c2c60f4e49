/// Masking rules for personal identifiers in listings and logs (API.md).
public enum Masking {
    /// `110105********002X`: the first 6 and last 4 characters stay.
    public static func idNumber(_ value: String) -> String {
        let chars = Array(value)
        guard chars.count > 10 else { return String(repeating: "*", count: chars.count) }
        return String(chars.prefix(6)) + String(repeating: "*", count: chars.count - 10) + String(chars.suffix(4))
    }

    /// `138****5678`: the first 3 and last 4 digits stay.
    public static func phone(_ value: String) -> String {
        let chars = Array(value)
        guard chars.count > 7 else { return String(repeating: "*", count: chars.count) }
        return String(chars.prefix(3)) + String(repeating: "*", count: chars.count - 7) + String(chars.suffix(4))
    }

    /// `张*` / `欧阳**`: the family name (first character) stays.
    public static func name(_ value: String) -> String {
        let chars = Array(value)
        guard chars.count > 1 else { return value }
        return String(chars[0]) + String(repeating: "*", count: chars.count - 1)
    }

    /// `z***@example.cn`: the first character of the local part and the domain stay.
    public static func email(_ value: String) -> String {
        guard let at = value.firstIndex(of: "@"), at > value.startIndex else { return String(repeating: "*", count: value.count) }
        return String(value[value.startIndex]) + "***" + String(value[at...])
    }

    /// `913701********5Q8K`: a unified social credit code keeps its first 6 and last 4 characters.
    public static func creditCode(_ value: String) -> String { idNumber(value) }
}
