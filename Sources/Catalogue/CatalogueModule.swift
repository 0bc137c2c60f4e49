import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Web

/// The service catalogue (事项): services with guides, zones, search, and their pages.
public struct CatalogueModule: TongbanModule {
    public let name = "catalogue"

    public init() {}

    public var migrations: [any Migration] { [CreateCatalogueSchema(), CreateServiceSearchIndex()] }

    public func boot(_ app: Application) throws {
        app.catalogueCache = ResponseCache(ttl: .seconds(Int64(app.tongbanConfig.catalogueCacheSeconds)))
        try app.register(collection: CatalogueController())
        try app.register(collection: CataloguePages())
        CatalogueAPIDocs.register(app.apiDocumentation)
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {
        try await CatalogueDemo(app: app, options: options).load()
    }

    static let strings = StringTable([
        "home_title": ("首页", "Home"),
        "home_heading": ("一网通办，办事不求人", "One place for every government service"),
        "home_intro": ("查找办事指南，在线申请，进度随时查。", "Find service guides, apply online and follow your case at any time."),
        "search_label": ("搜索办事服务", "Search services"),
        "search_placeholder": ("例如：营业执照、社保、入学", "e.g. business licence, social security, school"),
        "search_submit": ("搜索", "Search"),
        "themes": ("主题专区", "Theme zones"),
        "life_events": ("人生事件", "Life events"),
        "popular": ("热门服务", "Popular services"),
        "services_title": ("办事服务", "Services"),
        "zones_title": ("主题专区与人生事件", "Zones and life events"),
        "zone_count_format": ("%d 项服务", "%d services"),
        "filter_audience": ("服务对象", "For"),
        "filter_all": ("全部", "All"),
        "filter_apply": ("筛选", "Filter"),
        "results_format": ("第 %d–%d 条结果", "Results %d–%d"),
        "no_results": ("没有找到相关服务，请换个关键词试试。", "No services found. Try other words."),
        "next_page": ("下一页", "Next page"),
        "first_page": ("第一页", "First page"),
        "in_zone": ("专区：", "Zone: "),
        "immediate": ("即办", "Done on the spot"),
        "promised_days_format": ("承诺 %d 个工作日", "Within %d working days"),
        "days_format": ("%d 个工作日", "%d working days"),
        "visits_format": ("最多跑 %d 次", "At most %d visit(s)"),
        "audience_person": ("个人", "Persons"),
        "audience_enterprise": ("法人", "Enterprises"),
        "online_depth_1": ("网上可查询", "Information online"),
        "online_depth_2": ("网上预审", "Online pre-review"),
        "online_depth_3": ("网上受理", "Online acceptance"),
        "online_depth_4": ("全程网办", "Fully online"),
        "guide_facts": ("基本信息", "Key facts"),
        "apply_online": ("在线申请", "Apply online"),
        "guide_conditions": ("办理条件", "Conditions"),
        "guide_materials": ("申请材料", "Required materials"),
        "guide_steps": ("办理流程", "Process"),
        "guide_form": ("在线申请表", "Online application form"),
        "guide_legal": ("设定依据", "Legal basis"),
        "guide_zones": ("所属专区", "Zones"),
        "field_code": ("事项编码", "Item code"),
        "field_department": ("实施机构", "Department"),
        "field_category": ("事项类型", "Item type"),
        "field_audience": ("服务对象", "For"),
        "field_case_kind": ("办件类型", "Case kind"),
        "field_statutory": ("法定办结时限", "Statutory time limit"),
        "field_promised": ("承诺办结时限", "Promised time limit"),
        "field_fee": ("收费", "Fee"),
        "field_fee_note": ("收费依据", "Fee basis"),
        "field_online_depth": ("网办深度", "Online depth"),
        "field_visits": ("到现场次数", "Visits needed"),
        "field_cross_region": ("通办范围", "Cross-region handling"),
        "field_version": ("指南版本", "Guide version"),
        "category_01": ("行政许可", "Administrative licence"),
        "category_05": ("行政给付", "Administrative payment"),
        "category_07": ("行政确认", "Administrative confirmation"),
        "category_08": ("行政奖励", "Administrative reward"),
        "category_09": ("行政裁决", "Administrative adjudication"),
        "category_10": ("其他行政权力", "Other administrative power"),
        "category_20": ("公共服务", "Public service"),
        "case_immediate": ("即办件", "Immediate"),
        "case_promised": ("承诺件", "Promised"),
        "cross_national": ("全国通办", "Nationwide"),
        "cross_cross-province": ("跨省通办", "Across provinces"),
        "cross_province": ("省内通办", "Within the province"),
        "cross_city": ("市内通办", "Within the city"),
        "free": ("不收费", "Free"),
        "yuan": ("元", "yuan"),
        "yes": ("是", "Yes"),
        "no": ("否", "No"),
        "material_name": ("材料名称", "Material"),
        "material_required": ("必需", "Required"),
        "material_form": ("形式", "Form"),
        "material_copies": ("份数", "Copies"),
        "material_licence": ("电子证照", "E-licence"),
        "material_original": ("原件", "Original"),
        "material_copy": ("复印件", "Copy"),
        "material_electronic": ("电子件", "Electronic"),
        "licence_replaces": ("可用电子证照免提交", "An e-licence replaces it"),
        "field_label": ("字段", "Field"),
        "field_type": ("类型", "Type"),
        "field_required": ("必填", "Required"),
        "type_text": ("文本", "Text"),
        "type_number": ("数字", "Number"),
        "type_date": ("日期", "Date"),
        "type_choice": ("选项", "Choice"),
        "type_idNumber": ("身份证号", "ID number"),
        "type_uscc": ("统一社会信用代码", "Credit code"),
        "type_phone": ("手机号", "Mobile number"),
        "type_file": ("附件", "File"),
        "step": ("步骤", "Step"),
    ])
}

extension Application {
    private struct CacheKey: StorageKey { typealias Value = ResponseCache }

    /// Public catalogue responses (lists and published guides), invalidated by every catalogue write.
    var catalogueCache: ResponseCache {
        get { storage[CacheKey.self] ?? ResponseCache(ttl: .zero) }
        set { storage[CacheKey.self] = newValue }
    }
}
