import Foundation
import Testing
import TongbanCore

@Suite("GB 11643 resident ID numbers")
struct ResidentIDNumberTests {
    @Test func standardExample_isValid() throws {
        let id = try ResidentIDNumber("11010519491231002X")
        #expect(id.value == "11010519491231002X")
        #expect(id.birthDate == "1949-12-31")
        #expect(id.sex == "female")
        #expect(id.masked == "110105********002X")
    }

    @Test func lowerCaseX_isNormalised() throws {
        #expect(try ResidentIDNumber("11010519491231002x").value == "11010519491231002X")
    }

    @Test(arguments: ["440308199901011239", "370102199003071232", "510104200002291234"])
    func computedCheckCharacters_areAccepted(body: String) throws {
        let valid = String(body.prefix(17)) + String(ResidentIDNumber.checkCharacter(for: String(body.prefix(17))))
        #expect(ResidentIDNumber.isValid(valid))
    }

    @Test func wrongCheckCharacter_isRejected() {
        #expect(throws: ResidentIDNumber.Failure.checkCharacterMismatch(expected: "X")) {
            try ResidentIDNumber("110105194912310021")
        }
    }

    @Test func impossibleDate_isRejected() {
        let body = "11010519490230002"  // 30 February
        let id = body + String(ResidentIDNumber.checkCharacter(for: body))
        #expect(throws: ResidentIDNumber.Failure.invalidBirthDate) { try ResidentIDNumber(id) }
    }

    @Test func futureBirthDate_isRejected() {
        let body = "11010520991231002"
        let id = body + String(ResidentIDNumber.checkCharacter(for: body))
        #expect(throws: ResidentIDNumber.Failure.birthDateInFuture) { try ResidentIDNumber(id) }
    }

    @Test func unknownProvince_isRejected() {
        let body = "99010519491231002"
        let id = body + String(ResidentIDNumber.checkCharacter(for: body))
        #expect(throws: ResidentIDNumber.Failure.unknownProvince("99")) { try ResidentIDNumber(id) }
    }

    @Test(arguments: ["", "123", "11010519491231002X1", "1101051949123100XX", "11010519491231002Y", "１１０１０５１９４９１２３１００２Ｘ"])
    func malformedInput_isRejected(raw: String) {
        #expect(!ResidentIDNumber.isValid(raw))
    }

    @Test func legacyFifteenDigitNumber_isConverted() throws {
        let id = try ResidentIDNumber("110105491231002")
        #expect(id.value == "11010519491231002X")
    }

    @Test func leapDay_isAccepted() throws {
        let body = "11010520000229001"
        #expect(ResidentIDNumber.isValid(body + String(ResidentIDNumber.checkCharacter(for: body))))
    }
}

@Suite("GB 32100 unified social credit codes")
struct CreditCodeTests {
    @Test func standardExample_isValid() throws {
        let code = try CreditCode("91350100M000100Y43")
        #expect(code.value == "91350100M000100Y43")
        #expect(code.divisionCode == "350100")
    }

    @Test func lowerCase_isNormalised() throws {
        #expect(try CreditCode("91350100m000100y43").value == "91350100M000100Y43")
    }

    @Test func wrongCheckCharacter_isRejected() {
        #expect(throws: CreditCode.Failure.checkCharacterMismatch(expected: "3")) { try CreditCode("91350100M000100Y44") }
    }

    @Test(arguments: ["", "91350100M000100Y4", "91350100M000100Y433", "91350100I000100Y43", "91350100O000100Y43", "Z1350100M000100Y43"])
    func malformedInput_isRejected(raw: String) {
        #expect(!CreditCode.isValid(raw))
    }

    @Test func computedCodes_roundTrip() throws {
        for body in ["91370100MA3C5Q8K7", "12100000400000624", "52110000500021543"] {
            let check = try #require(CreditCode.checkCharacter(for: body))
            #expect(CreditCode.isValid(body + String(check)))
        }
    }
}

@Suite("Mobile numbers and masking")
struct MobileAndMaskingTests {
    @Test(arguments: ["13812345678", "+86 138 1234 5678", "8613812345678", "199-1234-5678"])
    func validNumbers(raw: String) {
        #expect(MobileNumber(raw)?.value.count == 11)
    }

    @Test(arguments: ["", "12812345678", "1381234567", "138123456789", "abcdefghijk", "23812345678"])
    func invalidNumbers(raw: String) {
        #expect(MobileNumber(raw) == nil)
    }

    @Test func masks() {
        #expect(Masking.phone("13812345678") == "138****5678")
        #expect(Masking.idNumber("11010519491231002X") == "110105********002X")
        #expect(Masking.name("张三丰") == "张**")
        #expect(Masking.idNumber("123") == "***")
    }
}

@Suite("Code formats")
struct CodeFormatTests {
    @Test func usernames() {
        #expect(CodeFormat.username.matches("demo-citizen"))
        #expect(CodeFormat.username.matches("a.b_c"))
        #expect(!CodeFormat.username.matches("ab"))
        #expect(!CodeFormat.username.matches("-abc"))
        #expect(!CodeFormat.username.matches("Abc"))
        #expect(!CodeFormat.username.matches("张三丰"))
        #expect(!CodeFormat.username.matches(String(repeating: "a", count: 33)))
    }

    @Test func codesAndFieldNames() {
        #expect(CodeFormat.serviceCode.matches("370100-01-0001"))
        #expect(CodeFormat.serviceCode.matches("joint-approval-demo"))
        #expect(!CodeFormat.serviceCode.matches("bad code"))
        #expect(!CodeFormat.serviceCode.matches("-leading"))
        #expect(CodeFormat.directoryCode.matches("370100-SCJG"))
        #expect(!CodeFormat.directoryCode.matches("-X"))
        #expect(CodeFormat.fieldName.matches("companyName_2"))
        #expect(!CodeFormat.fieldName.matches("1x"))
    }
}
