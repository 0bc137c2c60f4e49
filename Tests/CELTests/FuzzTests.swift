import CEL
import Foundation
import Testing

/// Random token soups and mutations of valid rules: compile + evaluate must never crash or hang.
@Suite("Fuzz: bad input never crashes")
struct FuzzTests {
    static let tokens: [String] = [
        "profile", ".", "revenue", "industry", "tags", "x", "(", ")", "[", "]", "{", "}", ",", ":", "?",
        "+", "-", "*", "/", "%", "!", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "in", "has", "size",
        "all", "exists", "exists_one", "map", "filter", "matches", "startsWith", "int", "uint", "double",
        "string", "bytes", "timestamp", "duration", "min", "max", "dyn", "type", "0", "1", "-1", "1u",
        "9223372036854775807", "0x7F", "1.5", "1e308", ".5", "'a'", "\"b\"", "r'\\d+'", "b'\\xff'",
        "'''x'''", "true", "false", "null", "'(a+)+$'", "'2026-01-01T00:00:00Z'", "'1h30m'", " ", "\n",
        "'", "\"", "\\", "=", "&", "|", "#", "'\\u00e9'", "getFullYear", "'[' ", "'(?i)x'", "1/0",
    ]

    static let seeds = [
        "profile.revenue >= 5000000.0 && profile.industry in ['C', 'I']",
        "min(0.1 * profile.rdSpend, 500000.0)",
        "profile.tags.exists(t, t.startsWith('high')) ? 1 : 2",
        "timestamp(profile.foundedAt) + duration('1h') > timestamp('2020-01-01T00:00:00Z')",
        "{'a': [1, 2u, 3.0, b'x'], 'b': {'c': null}}.a.map(x, string(x))",
        "profile.name.matches('^(a|b)*c{2,5}$') || size(profile.name) > 3",
    ]

    struct RNG {
        var s: UInt64
        mutating func next(_ n: Int) -> Int {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Int((s >> 33) % UInt64(n))
        }
    }

    @Test func randomInputsNeverCrash() throws {
        var rng = RNG(s: UInt64(ProcessInfo.processInfo.environment["FUZZ_SEED"] ?? "") ?? 12345)
        let profile = try CELValue.fromJSON(sampleProfileJSON)
        var compiled = 0
        let start = Date()
        for i in 0..<(Int(ProcessInfo.processInfo.environment["FUZZ_N"] ?? "") ?? 4000) {
            var src: String
            if i % 2 == 0 {
                src = (0..<(1 + rng.next(25))).map { _ in FuzzTests.tokens[rng.next(FuzzTests.tokens.count)] }.joined(separator: rng.next(3) == 0 ? "" : " ")
            } else {
                var chars = Array(FuzzTests.seeds[rng.next(FuzzTests.seeds.count)].unicodeScalars)
                for _ in 0..<(1 + rng.next(4)) {
                    let pos = rng.next(chars.count + 1)
                    switch rng.next(3) {
                    case 0 where !chars.isEmpty: chars.remove(at: min(pos, chars.count - 1))
                    case 1: chars.insert(contentsOf: FuzzTests.tokens[rng.next(FuzzTests.tokens.count)].unicodeScalars, at: pos)
                    default:
                        if !chars.isEmpty { chars.swapAt(min(pos, chars.count - 1), rng.next(chars.count)) }
                    }
                }
                var u = String.UnicodeScalarView()
                u.append(contentsOf: chars)
                src = String(u)
            }
            for decls in [CELDeclarations.dynamicProfile, .profile(profileSchema), CELDeclarations(variables: ["profile": .dyn], typeCheck: false)] {
                guard let p = try? CELProgram.compile(src, declarations: decls) else { continue }
                compiled += 1
                _ = p.evaluate(profile: profile)
                _ = p.evaluate(profile: .null)
                _ = p.evaluate([:])
                if let b = try? CELBatchEvaluator(p) {
                    _ = b.evaluate(CELColumnTable(rows: [profile, .null, .object([:])], fields: b.requiredFields))
                }
            }
        }
        #expect(compiled > 100)
        #expect(Date().timeIntervalSince(start) < 600)
    }

    @Test func randomRegexesNeverCrash() {
        var rng = RNG(s: 99)
        let atoms = ["a", "b", ".", "\\d", "\\w", "[a-c]", "[^x]", "(", ")", "|", "*", "+", "?", "{2}", "{1,3}", "^", "$",
                     "(?i)", "(?:", "\\b", "\\", "[", "]", "{", "}", "é", "\\x41", "[[:alpha:]]", "*?"]
        let input = String(repeating: "abcab1_ é", count: 50)
        for _ in 0..<3000 {
            let p = (0..<(1 + rng.next(12))).map { _ in atoms[rng.next(atoms.count)] }.joined()
            if let re = try? CELRegex(p) { _ = re.matches(input) }
        }
    }
}
