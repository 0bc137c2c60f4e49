import CEL
import Foundation

/// The declared enterprise profile: the fields rules may read as `profile.<field>`, with their CEL
/// types. Rules are type-checked against it when saved (unknown fields and type errors are 422 with
/// line and column), and a profile's JSON is bound with these types (a JSON integer in a `double`
/// field reads as double, an RFC 3339 string in `registeredAt` as a timestamp).
public enum ProfileSchema {
    public struct Field: Codable, Sendable {
        public var name: String
        public var type: String
        public var description: String
        public var descriptionEn: String
    }

    public static let described: [Field] = [
        Field(name: "creditCode", type: "string", description: "统一社会信用代码", descriptionEn: "unified social credit code"),
        Field(name: "name", type: "string", description: "企业名称", descriptionEn: "enterprise name"),
        Field(name: "industry", type: "string", description: "国民经济行业门类（GB/T 4754，字母）", descriptionEn: "industry section (GB/T 4754 letter)"),
        Field(name: "industryCode", type: "string", description: "行业大类代码（如 C13）", descriptionEn: "industry division code (e.g. C13)"),
        Field(name: "region", type: "string", description: "注册地行政区划代码", descriptionEn: "region code of registration"),
        Field(name: "registeredAt", type: "timestamp", description: "成立日期", descriptionEn: "date of registration"),
        Field(name: "registeredCapital", type: "double", description: "注册资本（元）", descriptionEn: "registered capital (yuan)"),
        Field(name: "employees", type: "int", description: "从业人数", descriptionEn: "employees"),
        Field(name: "revenue", type: "double", description: "上年度营业收入（元）", descriptionEn: "last year's revenue (yuan)"),
        Field(name: "taxPaid", type: "double", description: "上年度纳税额（元）", descriptionEn: "tax paid last year (yuan)"),
        Field(name: "rdSpend", type: "double", description: "上年度研发费用（元）", descriptionEn: "R&D expenses last year (yuan)"),
        Field(name: "qualifications", type: "list(string)", description: "资质（如 high_tech、specialised_sme）", descriptionEn: "qualifications (e.g. high_tech, specialised_sme)"),
        Field(name: "creditRating", type: "string", description: "纳税信用等级（A、B、M、C、D）", descriptionEn: "tax credit rating (A, B, M, C, D)"),
        Field(name: "tags", type: "list(string)", description: "标签", descriptionEn: "tags"),
        Field(name: "newHires", type: "int", description: "上年度新增就业人数", descriptionEn: "new hires last year"),
        Field(name: "layoffRate", type: "double", description: "上年度裁员率（0–1）", descriptionEn: "last year's layoff rate (0–1)"),
    ]

    /// Field name → CEL type.
    public static let fields: [String: CELType] = {
        var out: [String: CELType] = [:]
        for f in described { out[f.name] = CELType(parsing: f.type) ?? .dyn }
        return out
    }()

    /// `profile` (this schema) and `now` (timestamp of the evaluation).
    public static let declarations: CELDeclarations =
        CELDeclarations.profile(fields, typeName: "EnterpriseProfile").declaring("now", as: .timestamp)
}

/// The declared person profile (case 9: school places and other benefits for residents), assembled from the
/// data-sharing tables of the departments that hold each fact (``PersonProfiles``).
public enum PersonProfileSchema {
    public static let described: [ProfileSchema.Field] = [
        .init(name: "age", type: "int", description: "年龄（周岁）", descriptionEn: "age (years)"),
        .init(name: "idRegion", type: "string", description: "身份证签发地行政区划代码", descriptionEn: "region code of the ID number"),
        .init(name: "householdRegion", type: "string", description: "户籍地行政区划代码（户籍信息）", descriptionEn: "household register region (household register)"),
        .init(name: "propertyRegions", type: "list(string)", description: "名下住房所在区（不动产登记）", descriptionEn: "regions of homes owned (real estate register)"),
        .init(name: "socialSecurityMonths", type: "int", description: "社保缴费月数（社会保险）", descriptionEn: "months of social insurance paid"),
        .init(name: "degree", type: "string", description: "最高学历（学历学位信息）", descriptionEn: "highest degree"),
    ]

    public static let fields: [String: CELType] = {
        var out: [String: CELType] = [:]
        for f in described { out[f.name] = CELType(parsing: f.type) ?? .dyn }
        return out
    }()

    public static let declarations: CELDeclarations =
        CELDeclarations.profile(fields, typeName: "PersonProfile").declaring("now", as: .timestamp)
}
