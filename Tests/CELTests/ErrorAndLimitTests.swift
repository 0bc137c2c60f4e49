import CEL
import Foundation
import Testing

@Suite("Syntax errors report line and column")
struct SyntaxErrorTests {
    static let cases: [Case] = [
        Case("1 +", compileErr("unexpected end of input", 1, 4)),
        Case("(1 + 2", compileErr("expected ')'", 1, 7)),
        Case("1 = 2", compileErr("use '==' for equality", 1, 3)),
        Case("true & false", compileErr("use '&&'", 1, 6)),
        Case("true | false", compileErr("use '||'", 1, 6)),
        Case("[1, 2", compileErr("expected ',' or ']'", 1, 6)),
        Case("{'a' 1}", compileErr("expected ':' after map key", 1, 6)),
        Case("true ? 2", compileErr("expected ':'", 1, 9)),
        Case("'abc' 'def'", compileErr("unexpected ''def'' after end of expression", 1, 7)),
        Case("#", compileErr("unexpected character", 1, 1)),
        Case("1.5.5", compileErr("after end of expression", 1, 4)),
        Case("has(1)", compileErr("invalid argument to has()", 1, 1)),
        Case("Type{a: 1}", compileErr("message construction", 1, 5)),
        Case("\n\n   1 +* 2", compileErr("unexpected '*'", 3, 7)),
        Case("'你好' + 1", compileErr("no matching overload for '+' applied to (string, int)", 1, 6)),
        Case("x.if", compileErr("'if' is a reserved word", 1, 3)),
        Case("while", compileErr("'while' is a reserved word", 1, 1)),
        Case("foo(1)", compileErr("undeclared reference to function 'foo'", 1, 1)),
        Case("1e", compileErr("malformed exponent", 1, 1)),
        Case("12abc", compileErr("malformed number", 1, 1)),
        Case("0x", compileErr("malformed hex literal", 1, 1)),
        Case("!-1", compileErr("unexpected '-'", 1, 2)),
        Case("a..b", compileErr("expected identifier after '.'", 1, 3)),
        Case("", compileErr("unexpected end of input", 1, 1)),
        Case("   // only a comment", compileErr("unexpected end of input", 1, 21)),
        Case("size()", compileErr("wrong number of arguments for 'size'", 1, 1)),
        Case("'a'.size(1)", compileErr("wrong number of arguments", 1, 5)),
        Case("int('1').startsWith('1')", compileErr("no matching overload for 'int.startsWith(string)'", 1, 10)),
        Case("'x'.int()", compileErr("'int' cannot be called as a method", 1, 5)),
        Case("'x'.contains", compileErr("type 'string' does not support field selection", 1, 5)),
        Case("[1][true]", compileErr("list index must be int", 1, 5)),
        Case("{1: 2}['a']", compileErr("map key must be 'int'", 1, 8)),
        Case("1[0]", compileErr("type 'int' does not support indexing", 1, 2)),
        Case("{[1]: 2}", compileErr("unsupported map key type", 1, 2)),
        Case("{'a': 1, 'a': 2}", err("duplicate key")),
        Case("{dyn([1]): 2}", err("unsupported map key type")),
        Case("'a' ? 1 : 2", compileErr("condition of '? :' must be bool", 1, 1)),
    ]

    @Test(arguments: cases) func evaluate(_ c: Case) { run(c) }
}

@Suite("Limits: size, nesting, cost")
struct LimitTests {
    @Test func sourceLengthLimit() {
        let src = "'" + String(repeating: "a", count: 20_000) + "'"
        #expect {
            _ = try CELProgram.compile(src)
        } throws: { e in
            let e = e as! CELCompileError
            return e.kind == .limit && e.message.contains("expression too long") && e.line == 1 && e.column == 1
        }
    }

    @Test(arguments: [150, 1_000, 100_000])
    func deepParenthesesAreRejectedWithoutCrashing(depth: Int) {
        let src = String(repeating: "(", count: depth) + "1" + String(repeating: ")", count: depth)
        let limits = CELLimits(maxSourceLength: 1_000_000)
        #expect {
            _ = try CELProgram.compile(src, limits: limits)
        } throws: { e in
            let e = e as! CELCompileError
            return e.kind == .limit && e.message.contains("nested too deeply") && e.line == 1 && e.column == 101
        }
    }

    @Test func deepListsAndCallsAreRejected() {
        for src in [
            String(repeating: "[", count: 120) + String(repeating: "]", count: 120),
            String(repeating: "size(", count: 120) + "1" + String(repeating: ")", count: 120),
            String(repeating: "-", count: 300) + "1",
            String(repeating: "!", count: 300) + "true",
            "1" + String(repeating: " + 1", count: 150),
            "x" + String(repeating: ".a", count: 150),
            "[1]" + String(repeating: "[0]", count: 150),
        ] {
            #expect(throws: CELCompileError.self, "\(src.prefix(20))") {
                _ = try CELProgram.compile(src, declarations: CELDeclarations(variables: ["x": .dyn]))
            }
        }
    }

    @Test func moderatelyDeepExpressionsAreFine() throws {
        let src = String(repeating: "(", count: 90) + "1" + String(repeating: ")", count: 90)
        #expect(try CELProgram.compile(src).evaluate() == .int(1))
        let sum = "1" + String(repeating: " + 1", count: 90)
        #expect(try CELProgram.compile(sum).evaluate() == .int(91))
    }

    @Test func longLogicalChainsAreBalanced() throws {
        let src = Array(repeating: "x > 0", count: 1_500).joined(separator: " || ")
        let p = try CELProgram.compile(src, declarations: CELDeclarations(variables: ["x": .int]))
        #expect(p.evaluate(["x": 1]) == .bool(true))
        #expect(p.evaluate(["x": 0]) == .bool(false))
    }

    @Test func costLimitStopsNestedMacros() throws {
        let l = "[" + (0..<60).map(String.init).joined(separator: ",") + "]"
        let src = "\(l).all(a, \(l).all(b, \(l).all(c, a + b + c >= 0)))"
        let p = try CELProgram.compile(src)
        let start = Date()
        let r = p.evaluate()
        #expect(r.errorValue?.code == .costLimitExceeded)
        #expect(r.errorValue?.message.contains("cost limit exceeded") == true)
        #expect(Date().timeIntervalSince(start) < 2)
        // a larger budget lets it finish
        #expect(p.evaluateWithCost([:], costLimit: 50_000_000).value == .bool(true))
    }

    @Test func costLimitIsNotMaskedByShortCircuit() throws {
        let l = "[" + (0..<300).map(String.init).joined(separator: ",") + "]"
        let p = try CELProgram.compile("\(l).exists(a, \(l).exists(b, a * b < 0)) || true")
        #expect(p.evaluate().errorValue?.code == .costLimitExceeded)
    }

    @Test func costIsReportedAndConfigurable() throws {
        let p = try CELProgram.compile("[1, 2, 3].map(x, x * 2)")
        let (v, cost) = p.evaluateWithCost([:])
        #expect(v == .list([2, 4, 6]))
        #expect(cost > 0 && cost < 50)
        let tiny = try CELProgram.compile("1 + 2 + 3", limits: CELLimits(maxCost: 3))
        #expect(tiny.evaluate().errorValue?.code == .costLimitExceeded)
    }

    @Test func stringGrowthIsBounded() throws {
        // doubling a string through chained map() calls is charged by result size
        var src = "['" + String(repeating: "x", count: 1000) + "']"
        for _ in 0..<40 { src += ".map(s, s + s)" }
        let p = try CELProgram.compile(src)
        let start = Date()
        #expect(p.evaluate().errorValue?.code == .costLimitExceeded)
        #expect(Date().timeIntervalSince(start) < 2)
    }
}

@Suite("Stack safety")
struct StackSafetyTests {
    /// Runs `body` on a thread with a small stack (512 KiB, the macOS secondary-thread default).
    func onSmallStack(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            body()
            done.signal()
        }
        t.stackSize = 512 * 1024
        t.start()
        done.wait()
    }

    @Test func maximalNestingOnSmallStack() {
        onSmallStack {
            let limits = CELLimits()
            let sources = [
                String(repeating: "(", count: 99) + "1" + String(repeating: ")", count: 99),
                String(repeating: "[", count: 98) + "1" + String(repeating: "]", count: 98),
                String(repeating: "{1: ", count: 98) + "1" + String(repeating: "}", count: 98),
                String(repeating: "size(", count: 49) + "'a'" + String(repeating: ")", count: 49),
                String(repeating: "-", count: 98) + "1",
                String(repeating: "true ? ", count: 45) + "1" + String(repeating: " : 2", count: 45),
                String(repeating: "[", count: 40) + "1" + String(repeating: "]", count: 40) + String(repeating: ".map(x, x)", count: 40),
            ]
            for src in sources {
                do {
                    let p = try CELProgram.compile(src, limits: limits)
                    _ = p.evaluate()
                } catch {
                    // exceeding the limit is fine; crashing is not
                }
            }
            for depth in [101, 150, 5000] {
                let src = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                _ = try? CELProgram.compile(src, limits: CELLimits(maxSourceLength: 1 << 20))
            }
        }
    }
}
