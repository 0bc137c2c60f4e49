import CEL
import Foundation
import Testing

@Suite("RE2-style regular expressions")
struct RegexTests {
    struct R: Sendable, CustomTestStringConvertible {
        let pattern: String
        let input: String
        let match: Bool
        var testDescription: String { "\(pattern) ~ \(input.prefix(30))" }
    }

    static let cases: [R] = [
        R(pattern: "abc", input: "xxabcxx", match: true),
        R(pattern: "^abc", input: "xxabc", match: false),
        R(pattern: "^abc$", input: "abc", match: true),
        R(pattern: "abc$", input: "abcd", match: false),
        R(pattern: "a.c", input: "abc", match: true),
        R(pattern: "a.c", input: "a\nc", match: false),
        R(pattern: "(?s)a.c", input: "a\nc", match: true),
        R(pattern: "colou?r", input: "color", match: true),
        R(pattern: "colou?r", input: "colour", match: true),
        R(pattern: "^a+$", input: "aaaa", match: true),
        R(pattern: "^a+$", input: "", match: false),
        R(pattern: "^a*$", input: "", match: true),
        R(pattern: "^(ab)+$", input: "ababab", match: true),
        R(pattern: "^(ab)+$", input: "ababa", match: false),
        R(pattern: "^(?:cat|dog)s?$", input: "dogs", match: true),
        R(pattern: "^(?P<name>\\w+)@(\\w+)\\.com$", input: "joe@example.com", match: true),
        R(pattern: "^(?<n>\\d+)$", input: "123", match: true),
        R(pattern: "^\\d{3}-\\d{4}$", input: "555-1234", match: true),
        R(pattern: "^\\d{3}-\\d{4}$", input: "55-1234", match: false),
        R(pattern: "^a{2,3}$", input: "aaa", match: true),
        R(pattern: "^a{2,3}$", input: "aaaa", match: false),
        R(pattern: "^a{2,}$", input: "aaaaaa", match: true),
        R(pattern: "^a{2}$", input: "aa", match: true),
        R(pattern: "a{,2}", input: "a{,2}", match: true),  // not a repetition: literal
        R(pattern: "^[a-c]+$", input: "abccba", match: true),
        R(pattern: "^[^a-c]+$", input: "xyz", match: true),
        R(pattern: "^[^a-c]+$", input: "xaz", match: false),
        R(pattern: "^[]a]+$", input: "]a]", match: true),
        R(pattern: "^[a-]+$", input: "a-a", match: true),
        R(pattern: "^[\\d.]+$", input: "3.14", match: true),
        R(pattern: "^[[:alpha:]]+$", input: "Hello", match: true),
        R(pattern: "^[[:digit:][:upper:]]+$", input: "A1B2", match: true),
        R(pattern: "^\\w+$", input: "snake_case1", match: true),
        R(pattern: "\\W", input: "abc", match: false),
        R(pattern: "^\\s*$", input: " \t\n", match: true),
        R(pattern: "\\S", input: "   ", match: false),
        R(pattern: "\\bcat\\b", input: "the cat sat", match: true),
        R(pattern: "\\bcat\\b", input: "concatenate", match: false),
        R(pattern: "\\Bcat\\B", input: "concatenate", match: true),
        R(pattern: "(?i)hello", input: "HeLLo world", match: true),
        R(pattern: "(?i:h)ello", input: "Hello", match: true),
        R(pattern: "(?i:h)ello", input: "HELLO", match: false),
        R(pattern: "(?i)[a-c]+", input: "ABC", match: true),
        R(pattern: "(?m)^b$", input: "a\nb\nc", match: true),
        R(pattern: "^b$", input: "a\nb\nc", match: false),
        R(pattern: "\\Aab\\z", input: "ab", match: true),
        R(pattern: "a|b|c", input: "xxc", match: true),
        R(pattern: "^(a|b)*c$", input: "ababc", match: true),
        R(pattern: "^\\x41\\x{263a}$", input: "A☺", match: true),
        R(pattern: "^\\.\\*\\+$", input: ".*+", match: true),
        R(pattern: "^.$", input: "你", match: true),
        R(pattern: "^[你好]+$", input: "你好你", match: true),
        R(pattern: "^[\\x{4e00}-\\x{9fff}]+$", input: "中文", match: true),
        R(pattern: "^a*?b$", input: "aaab", match: true),
        R(pattern: "^(a+)+$", input: String(repeating: "a", count: 30) + "b", match: false),
        R(pattern: "^(a|aa)+$", input: String(repeating: "a", count: 5000) + "b", match: false),
        R(pattern: "(a*)*c", input: String(repeating: "a", count: 5000), match: false),
        R(pattern: "(x+x+)+y", input: String(repeating: "x", count: 5000), match: false),
        R(pattern: "^(\\w+\\s?)*$", input: String(repeating: "word ", count: 1000) + "!", match: false),
        R(pattern: "(.*a){12}", input: String(repeating: "a", count: 11) + String(repeating: "b", count: 3000), match: false),
    ]

    @Test(arguments: cases) func match(_ r: R) throws {
        let re = try CELRegex(r.pattern)
        let start = Date()
        #expect(re.matches(r.input) == r.match)
        #expect(Date().timeIntervalSince(start) < 1.0, "regex took too long")
    }

    @Test(arguments: [
        ("(", "missing closing )"), ("a)", "unexpected )"), ("*a", "missing argument"), ("a**", "bad repetition"),
        ("a{1001}", "bad repetition count"), ("(a{100}){100}", "too large"),
        ("((((((a{1000}){1000}){1000}){1000}){1000}){1000}){1000}|((((((a{1000}){1000}){1000}){1000}){1000}){1000}){1000}", "too large"), ("(a)\\1", "backreferences"),
        ("(?=a)", "lookaround"), ("(?<!a)b", "lookaround"), ("[a", "missing closing ]"), ("[z-a]", "invalid character class range"),
        ("\\p{Han}", "not supported"), ("a\\", "trailing backslash"), ("\\q", "invalid escape"), ("(?x)a", "unsupported flag"),
        ("[[:foo:]]", "POSIX"),
    ])
    func invalidPatterns(_ pattern: String, _ message: String) {
        #expect {
            _ = try CELRegex(pattern)
        } throws: { e in
            (e as! CELRegex.Error).message.contains(message)
        }
    }

    @Test func catastrophicPatternThroughCELIsFast() throws {
        let s = String(repeating: "a", count: 30) + "b"
        let p = try CELProgram.compile("'\(s)'.matches('(a+)+$')")
        let start = Date()
        #expect(p.evaluate() == .bool(false))
        #expect(Date().timeIntervalSince(start) < 0.5)

        let q = try CELProgram.compile("s.matches('^(a|a)*$')", declarations: CELDeclarations(variables: ["s": .string]))
        let big = String(repeating: "a", count: 10_000) + "!"
        let t0 = Date()
        #expect(q.evaluate(["s": .string(big)]) == .bool(false))
        #expect(Date().timeIntervalSince(t0) < 2)
    }

    @Test func literalPatternErrorsAreCompileErrors() {
        #expect {
            _ = try CELProgram.compile("'x'.matches('(')")
        } throws: { e in
            let e = e as! CELCompileError
            return e.message.contains("invalid regular expression") && e.line == 1 && e.column == 13
        }
    }

    @Test func dynamicPatternErrorsAreEvaluationErrors() throws {
        let p = try CELProgram.compile("'x'.matches(p)", declarations: CELDeclarations(variables: ["p": .string]))
        #expect(p.evaluate(["p": "x+"]) == .bool(true))
        #expect(p.evaluate(["p": "("]).errorValue?.message.contains("invalid regular expression") == true)
    }
}

@Suite("JSON conversion")
struct JSONTests {
    @Test func decodeNumbersAndStructure() throws {
        let v = try CELValue.fromJSON(#"{"a": 1, "b": 1.0, "c": 1e2, "d": [true, null, -0], "e": "x\u00e9\ud83d\ude00", "f": 9223372036854775808}"#)
        guard case .map(let m) = v else { Issue.record("not a map"); return }
        #expect(m["a"] == .int(1))
        #expect(m["b"] == .double(1.0))
        #expect(m["c"] == .double(100))
        #expect(m["d"] == .list([true, .null, .int(0)]))
        #expect(m["e"] == .string("xé😀"))
        #expect(m["f"] == .double(9223372036854775808.0))
        #expect(m.keys.map(\.description) == ["\"a\"", "\"b\"", "\"c\"", "\"d\"", "\"e\"", "\"f\""])
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"\\x\"", "[1] 2", "\"\u{01}\""])
    func malformedJSON(_ text: String) {
        #expect(throws: CELJSONError.self) { _ = try CELValue.fromJSON(text) }
    }

    @Test func deepJSONIsRejected() {
        let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: CELJSONError.self) { _ = try CELValue.fromJSON(text) }
    }

    @Test func foundationJSONSerialization() throws {
        let obj = try JSONSerialization.jsonObject(with: Data(#"{"i": 5000000, "d": 0.35, "b": true, "n": null, "l": [1, "x"], "w": 2.0}"#.utf8))
        let v = CELValue(json: obj)
        guard case .map(let m) = v else { Issue.record("not a map"); return }
        #expect(m["i"] == .int(5_000_000))
        #expect(m["d"] == .double(0.35))
        #expect(m["b"] == .bool(true))
        #expect(m["n"] == .null)
        #expect(m["l"] == .list([1, "x"]))
        // Foundation may report 2.0 as an integer; either way the schema coerces numbers.
        #expect(m["w"] == .double(2.0) || m["w"] == .int(2))
        #expect(CELValue(json: ["x": 1, "y": [true, 2.5]] as [String: Any]) == .object(["x": 1, "y": [true, 2.5]]))
    }

    @Test func encode() throws {
        let v: CELValue = .object([
            "a": 1, "b": 1.5, "c": [true, .null], "d": "q\"\n", "e": .bytes([0, 255]), "f": .uint(7), "g": 2.0,
            "t": .timestamp(CELTimestamp(seconds: 0)!), "u": .duration(CELDuration(seconds: 90)!), "nan": .double(.nan),
        ])
        #expect(v.jsonString() == #"{"a":1,"b":1.5,"c":[true,null],"d":"q\"\n","e":"AP8=","f":7,"g":2.0,"nan":"NaN","t":"1970-01-01T00:00:00Z","u":"90s"}"#)
        let back = try CELValue.fromJSON(v.jsonString())
        guard case .map(let m) = back else { Issue.record("not a map"); return }
        #expect(m["g"] == .double(2.0))
        let obj = v.jsonObject as! [String: Any]
        #expect(obj["a"] as? Int == 1)
        #expect(obj["t"] as? String == "1970-01-01T00:00:00Z")
        #expect(CELValue.error(CELEvalError(.divisionByZero, "division by zero")).jsonString() == #"{"error":"division by zero"}"#)
    }
}
