import CEL
import Foundation
import Testing

let profileSchema: [String: CELType] = [
    "revenue": .double, "industry": .string, "employees": .int, "rdSpend": .double,
    "foundedAt": .timestamp, "name": .string, "tags": .list(.string),
    "address": .object("Address", ["city": .string, "province": .string, "postcode": .string]),
    "certifications": .map(.string, .bool), "exportShare": .double, "isSme": .bool, "patents": .uint,
    "extra": .dyn, "incomes": .list(.double), "note": .string, "probation": .duration,
]

let sampleProfileJSON = """
    {"revenue": 5000000, "industry": "C", "employees": 120, "rdSpend": 800000.5,
     "foundedAt": "2015-06-01T00:00:00Z", "name": "Acme 有限公司", "tags": ["hightech", "export"],
     "address": {"city": "Shenzhen", "province": "Guangdong"}, "certifications": {"iso9001": true},
     "exportShare": 0.35, "isSme": true, "patents": 12, "extra": {"k": [1, 2]}, "incomes": [100, 200.5],
     "note": null, "probation": "2160h"}
    """

let sampleProfile: CELValue = try! CELValue.fromJSON(sampleProfileJSON)

func policyCase(_ expr: String, _ expect: Expect) -> Case { Case(expr, expect, bindings: ["profile": sampleProfile]) }

@Suite("Policy rules against a declared profile schema")
struct PolicyTests {
    static let decls = CELDeclarations.profile(profileSchema)

    static let cases: [Case] = [
        policyCase("profile.revenue >= 5000000.0 && profile.industry in ['C', 'I']", v(true)),
        policyCase("profile.revenue >= 5000000.0 && profile.industry in ['A', 'B', 'D', 'E', 'F', 'G']", v(false)),
        policyCase("min(0.1 * profile.rdSpend, 500000.0)", v(d(0.1 * 800000.5))),
        policyCase("max(profile.revenue * 0.01, 60000.0, 1.0)", v(d(60000.0))),
        policyCase("min([3, 1, 2])", v(1)),
        policyCase("min(0.1 * profile.rdSpend, 500000)", compileErr("no matching overload for 'min(double, int)'")),
        policyCase("profile.isSme ? min(profile.revenue * 0.05, 200000.0) : 0.0", v(d(200000.0))),
        policyCase("profile.employees + 1", v(121)),
        policyCase("profile.employees >= 100 && profile.employees < 500", v(true)),
        policyCase("profile.employees > 99.5", v(true)),
        policyCase("profile.employees == 120.0", v(true)),
        policyCase("profile.revenue + 1", compileErr("no matching overload for '+' applied to (double, int)", 1, 17)),
        policyCase("profile.revenue + 'x'", compileErr("no matching overload for '+' applied to (double, string)", 1, 17)),
        policyCase("profile.revenu > 1.0", compileErr("undefined field 'revenu'; did you mean 'revenue'?", 1, 9)),
        policyCase("profile.revenue > 1.0 &&\n  profile.industy == 'C'", compileErr("undefined field 'industy'", 2, 11)),
        policyCase("profile.address.town == 'x'", compileErr("undefined field 'town'", 1, 17)),
        policyCase("profile.revenue.x", compileErr("type 'double' does not support field selection", 1, 17)),
        policyCase("profile['revenue'] > 1.0", v(true)),
        policyCase("profile['revenu'] > 1.0", compileErr("undefined field 'revenu'", 1, 9)),
        policyCase("has(profile.address.city)", v(true)),
        policyCase("has(profile.address.postcode)", v(false)),
        policyCase("has(profile.note)", v(false)),
        policyCase("has(profile.nope)", compileErr("undefined field 'nope'", 1, 13)),
        policyCase("!has(profile.address.postcode) || profile.address.postcode.startsWith('5')", v(true)),
        policyCase("profile.address.postcode == '518000'", err("no such key: 'postcode' (profile.address.postcode)")),
        policyCase("profile.note == 'x'", err("field 'profile.note' is null")),
        policyCase("profile.note == null", compileErr("to test whether a field is present use has(...)", 1, 14)),
        policyCase("profile.foundedAt < timestamp('2020-01-01T00:00:00Z')", v(true)),
        policyCase("profile.foundedAt.getFullYear()", v(2015)),
        policyCase("timestamp('2026-01-01T00:00:00Z') - profile.foundedAt > duration('87600h')", v(true)),
        policyCase("profile.probation == duration('90d')", err("invalid duration")),
        policyCase("profile.probation <= duration('2160h')", v(true)),
        policyCase("profile.tags.exists(t, t.startsWith('high'))", v(true)),
        policyCase("profile.tags.all(t, size(t) > 3)", v(true)),
        policyCase("'export' in profile.tags", v(true)),
        policyCase("profile.tags.filter(t, t.contains('x'))", v(list("export"))),
        policyCase("profile.certifications['iso9001']", v(true)),
        policyCase("profile.certifications.iso9001", v(true)),
        policyCase("profile.certifications['iso14001']", err("no such key")),
        policyCase("'iso14001' in profile.certifications", v(false)),
        policyCase("profile.patents > 10u", v(true)),
        policyCase("profile.patents > 10", v(true)),
        policyCase("profile.extra.k[1]", v(2)),
        policyCase("profile.extra.k[2]", err("index out of range")),
        policyCase("profile.extra.missing", err("no such key: 'missing'")),
        policyCase("profile.incomes.map(x, x * 2.0)", v(list(d(200.0), d(401.0)))),
        policyCase("profile.name.matches('^Acme')", v(true)),
        policyCase("size(profile.name)", v(9)),
        policyCase("profile.exportShare > 0.3 ? 'exporter' : 'domestic'", v("exporter")),
        policyCase("profile.revenue / 0.0 > 1.0", v(true)),
        policyCase("profile.employees / (profile.employees - 120) > 1", err("division by zero")),
        policyCase("profile.employees / (profile.employees - 120) > 1 && profile.industry == 'X'", v(false)),
        policyCase("profile.industry == 'X' || profile.employees / (profile.employees - 120) > 1", err("division by zero")),
    ]

    @Test(arguments: cases) func evaluate(_ c: Case) { run(c, declarations: PolicyTests.decls) }

    @Test func resultTypes() throws {
        func t(_ s: String) throws -> CELType { try CELProgram.compile(s, declarations: PolicyTests.decls).resultType }
        #expect(try t("profile.revenue * 0.1") == .double)
        #expect(try t("profile.revenue > 1.0") == .bool)
        #expect(try t("profile.tags") == .list(.string))
        #expect(try t("profile.extra") == .dyn)
        #expect(try t("profile.extra.x + 1") == .int)
        #expect(try t("profile.certifications") == .map(.string, .bool))
        #expect(try t("[profile.revenue, 1.0]") == .list(.double))
        #expect(try t("[profile.revenue, 1]") == .list(.dyn))
        #expect(try t("profile.foundedAt - profile.foundedAt") == .duration)
        #expect(try t("min(1.0, profile.revenue)") == .double)
        #expect(try t("profile.tags.map(t, size(t))") == .list(.int))
        #expect(try t("true ? profile.extra : 1") == .dyn)
    }

    @Test func expectedResultType() throws {
        #expect(throws: CELCompileError.self) {
            _ = try CELProgram.compile("profile.revenue", declarations: PolicyTests.decls, expecting: .bool)
        }
        do {
            _ = try CELProgram.compile("profile.revenue", declarations: PolicyTests.decls, expecting: .bool)
        } catch {
            #expect(error.message == "expression has type 'double' but 'bool' is required")
        }
        let p = try CELProgram.compile("profile.extra.flag", declarations: PolicyTests.decls, expecting: .bool)
        #expect(p.resultType == .dyn)
        _ = try CELProgram.compile("min(0.1 * profile.rdSpend, 500000.0)", declarations: PolicyTests.decls, expecting: .double)
    }

    @Test func schemaCoercionAndMismatch() throws {
        let p = try CELProgram.compile("profile.employees > 5", declarations: PolicyTests.decls)
        #expect(p.evaluate(profile: .object(["employees": "many"])).errorValue?.message
            == "field 'profile.employees' has a value of type string but is declared as int")
        #expect(p.evaluate(profile: .object(["employees": 7.0])) == .bool(true))
        #expect(p.evaluate(profile: .object(["employees": 7.5])).errorValue?.code == .typeMismatch)
        #expect(p.evaluate(profile: .object([:])).errorValue?.code == .noSuchKey)
        #expect(p.evaluate(profile: .int(3)).errorValue?.code == .noSuchField)
        #expect(p.evaluate([:]).errorValue?.code == .unboundVariable)
        let ts = try CELProgram.compile("profile.foundedAt.getFullYear() > 2000", declarations: PolicyTests.decls)
        #expect(ts.evaluate(profile: .object(["foundedAt": "yesterday"])).errorValue?.message.contains("not a valid RFC 3339 timestamp") == true)
        #expect(ts.evaluate(profile: .object(["foundedAt": .timestamp(CELTimestamp(seconds: 900_000_000)!)])) == .bool(false))
    }

    @Test func errorLocationIsReported() throws {
        let p = try CELProgram.compile("profile.employees > 1 &&\n  10 / (profile.employees - 120) > 1", declarations: PolicyTests.decls)
        let e = try #require(p.evaluate(profile: sampleProfile).errorValue)
        #expect(e.code == .divisionByZero)
        #expect(e.location?.line == 2)
        #expect(e.location?.column == 6)
        #expect(e.description == "division by zero (at 2:6)")
    }

    @Test func checkedTreeExposesFieldPaths() throws {
        let p = try CELProgram.compile(
            "profile.revenue >= 5000000.0 && profile.industry in ['C', 'I'] && has(profile.address.city)",
            declarations: PolicyTests.decls)
        #expect(p.checked.referencedFieldPaths.map(\.description) == ["profile.revenue", "profile.industry", "profile.address.city"])
        guard case .and(let lhs, _) = p.checked.kind else {
            Issue.record("expected && at the root")
            return
        }
        _ = lhs
        #expect(p.checked.type == .bool)
    }

    @Test func concurrentEvaluation() async throws {
        let p = try CELProgram.compile("profile.revenue >= 5000000.0 && profile.industry in ['C', 'I']", declarations: PolicyTests.decls)
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<8 {
                group.addTask {
                    var ok = true
                    for j in 0..<2000 {
                        let rev = Double((i * 2000 + j) * 1000)
                        let r = p.evaluate(profile: .object(["revenue": .double(rev), "industry": "C"]))
                        ok = ok && r == .bool(rev >= 5_000_000)
                    }
                    return ok
                }
            }
            var all: [Bool] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.allSatisfy { $0 })
    }
}

@Suite("Dynamic (schema-less) profile")
struct DynamicProfileTests {
    static let cases: [Case] = [
        policyCase("profile.revenue >= 5000000.0", v(true)),  // JSON int vs double: heterogeneous comparison
        policyCase("profile.revenue * 2.0", err("no matching overload for '*' applied to (int, double)")),
        policyCase("profile.revenue * 2", v(10_000_000)),
        policyCase("profile.revenu > 1", err("no such key: 'revenu'")),
        policyCase("has(profile.revenu)", v(false)),
        policyCase("has(profile.note)", v(true)),
        policyCase("profile.note == null", v(true)),
        policyCase("profile.foundedAt < timestamp('2020-01-01T00:00:00Z')", err("no matching overload for '<' applied to (string, google.protobuf.Timestamp)")),
        policyCase("timestamp(profile.foundedAt) < timestamp('2020-01-01T00:00:00Z')", v(true)),
        policyCase("profile.address.city + ', ' + profile.address.province", v("Shenzhen, Guangdong")),
        policyCase("profile.tags[0]", v("hightech")),
        policyCase("profile.name.foo()", compileErr("undeclared reference to method 'foo'", 1, 14)),
        policyCase("profile.revenue + 'x'", err("no matching overload for '+' applied to (int, string)")),
    ]

    @Test(arguments: cases) func evaluate(_ c: Case) { run(c, declarations: .dynamicProfile) }
}
