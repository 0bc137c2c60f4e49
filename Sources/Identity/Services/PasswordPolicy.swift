import Foundation

/// Password rules: at least 10 characters, not the username (nor contained in it), not a common password.
public enum PasswordPolicy {
    public static let minimumLength = 10
    public static let maximumLength = 128

    /// The reasons a password is refused; empty when acceptable.
    public static func problems(password: String, username: String) -> [String] {
        var problems: [String] = []
        if password.count < minimumLength { problems.append("must have at least \(minimumLength) characters") }
        if password.count > maximumLength { problems.append("must have at most \(maximumLength) characters") }
        let lower = password.lowercased()
        let user = username.lowercased()
        if !user.isEmpty && (lower == user || lower.contains(user) && user.count >= 4) {
            problems.append("must not contain the username")
        }
        if CommonPasswords.set.contains(lower) || isTrivial(lower) {
            problems.append("is too common; choose a less predictable password")
        }
        return problems
    }

    /// One repeated character, or a run of consecutive keys/digits.
    static func isTrivial(_ password: String) -> Bool {
        let scalars = Array(password.unicodeScalars)
        if Set(scalars).count <= 2 { return true }
        let ascending = zip(scalars, scalars.dropFirst()).allSatisfy { $1.value == $0.value + 1 }
        let descending = zip(scalars, scalars.dropFirst()).allSatisfy { $0.value == $1.value + 1 }
        return ascending || descending
    }
}

/// A list of frequently used passwords (from public leak statistics, incl. common Chinese ones) that are
/// at least 10 characters long, lower-cased.
enum CommonPasswords {
    static let set: Set<String> = [
        "1234567890", "0123456789", "12345678910", "123456789a", "a123456789", "1234567890a", "123456789abc",
        "qwertyuiop", "qwertyuiop123", "1qaz2wsx3edc", "1q2w3e4r5t", "1q2w3e4r5t6y", "q1w2e3r4t5", "zaq12wsxcde3",
        "password12", "password123", "password1234", "passw0rd123", "p@ssw0rd123", "p@ssword123", "admin12345",
        "admin123456", "administrator", "iloveyou12", "iloveyou123", "woaini1314", "woaini5201314", "5201314520",
        "52013145201314", "1314520520", "qq123456789", "qq1234567890", "abc1234567", "abcd123456", "abcd1234567",
        "aa123456789", "a1234567890", "abc123456789", "1234qwerasdf", "qwer1234asdf", "asdfghjkl1", "asdfghjkl123",
        "zxcvbnm123", "zxcvbnm1234", "1234567890q", "147258369a", "1472583690", "9876543210", "0987654321",
        "1111111111", "0000000000", "1212121212", "1122334455", "1231231231", "123123123123", "11223344556677",
        "welcome123", "welcome1234", "letmein123", "sunshine12", "princess12", "football12", "baseball12",
        "superman12", "michael123", "dragon1234", "monkey1234", "shadow1234", "master1234", "computer12",
        "internet12", "changeme123", "changeme12", "trustno1234", "tongban2026", "tongban123", "tongban1234",
        "china12345", "china123456", "beijing2008", "beijing123", "zhongguo123", "zhang123456", "wang1234567",
        "li12345678", "liu1234567", "chen123456", "yang123456", "huang12345", "zhao123456", "wu12345678",
        "a5201314520", "woaini123456", "iloveyou1314", "qwe123456789", "qweasdzxc123", "qazwsxedc123",
        "1qazxsw23edc", "!qaz2wsx3edc", "1qaz@wsx#edc", "p@ssw0rd1234", "passw0rd1234", "password2026",
        "password2025", "password2024", "admin@12345", "admin@123456", "root123456", "test123456",
        "test1234567", "guest123456", "user123456", "user1234567", "demo123456", "demo1234567",
    ]
}
