import Crypto
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor

/// Demo data: Chancheng District (禅城区, Foshan) with 4 streets, 8 communities and 50 grids covering
/// latitude 23.00–23.10 and longitude 113.10–113.20; departments at the four levels; 15 categories with
/// routing rules; staff accounts; the Open311 demo key. Idempotent.
struct CasesDemo {
    let app: Application
    let options: DemoOptions

    static let password = "Tongban-demo-2026"
    static let open311DemoKey = "demo-open311-key"
    static let district = "440604"
    static let city = "440600"

    static let streets: [(code: String, name: String, nameEn: String)] = [
        ("440604001", "祖庙街道", "Zumiao Subdistrict"), ("440604002", "石湾镇街道", "Shiwanzhen Subdistrict"),
        ("440604003", "张槎街道", "Zhangcha Subdistrict"), ("440604004", "南庄镇", "Nanzhuang Town"),
    ]
    static let communities: [(code: String, name: String, nameEn: String)] = [
        ("440604001001", "升平社区", "Shengping Community"), ("440604001002", "兴华社区", "Xinghua Community"),
        ("440604002001", "东风社区", "Dongfeng Community"), ("440604002002", "石湾社区", "Shiwan Community"),
        ("440604003001", "大富社区", "Dafu Community"), ("440604003002", "张槎社区", "Zhangcha Community"),
        ("440604004001", "南庄社区", "Nanzhuang Community"), ("440604004002", "紫洞社区", "Zidong Community"),
    ]

    /// District, city and street departments: code, name, English name, region code.
    static let departments: [(String, String, String, String)] = [
        ("440604-SHZL", "禅城区社会治理中心", "Chancheng District Social Governance Centre", district),
        ("440604-STHJ", "佛山市生态环境局禅城分局", "Chancheng Branch, Foshan Ecology and Environment Bureau", district),
        ("440604-CGJ", "禅城区城市管理和综合执法局", "Chancheng Urban Management and Law Enforcement Bureau", district),
        ("440604-JTJ", "禅城区交通运输局", "Chancheng Transport Bureau", district),
        ("440604-SWJ", "禅城区水务局", "Chancheng Water Affairs Bureau", district),
        ("440604-SCJG", "禅城区市场监督管理局", "Chancheng Administration for Market Regulation", district),
        ("440604-ZJJ", "禅城区住房城乡建设和水利局", "Chancheng Housing and Urban-Rural Development Bureau", district),
        ("440604-RSJ", "禅城区人力资源和社会保障局", "Chancheng Human Resources and Social Security Bureau", district),
        ("440604-XFJ", "禅城区消防救援大队", "Chancheng Fire and Rescue Brigade", district),
        ("440604-JKJ", "禅城区经济和科技促进局", "Chancheng Economy and Science Promotion Bureau", district),
        ("440600-12345", "佛山市12345政务服务便民热线中心", "Foshan 12345 Government Service Hotline Centre", city),
        ("440600-STHJ", "佛山市生态环境局", "Foshan Ecology and Environment Bureau", city),
        ("440600-DCB", "佛山市人民政府督查办公室", "Foshan Government Supervision Office", city),
    ]

    /// Category code, name, English name, group, description, the department code handling it (nil: the
    /// community station of the grid, then up the levels).
    static let categories: [(String, String, String, String, String, String?)] = [
        ("environment", "环境污染", "Environmental pollution", "市容环境", "废气、废水、固废、异味等污染", "440604-STHJ"),
        ("noise", "噪声扰民", "Noise nuisance", "市容环境", "施工、工业、商业噪声", "440604-STHJ"),
        ("sanitation", "市容环卫", "Sanitation and litter", "市容环境", "垃圾堆放、暴露垃圾、卫生死角", nil),
        ("street_order", "街面秩序", "Street order", "街面秩序", "占道经营、乱摆卖、乱停放", nil),
        ("neighbourhood", "邻里纠纷", "Neighbourhood disputes", "其他", "邻里矛盾、物业纠纷调解", nil),
        ("greenery", "园林绿化", "Greenery", "园林绿化", "树木倒伏、绿地破坏", "440604-CGJ"),
        ("public_facilities", "公用设施", "Public facilities", "公用设施", "井盖、路灯、护栏损坏", "440604-CGJ"),
        ("illegal_construction", "违法建设", "Illegal construction", "施工管理", "违章搭建、违法用地", "440604-CGJ"),
        ("road", "道路交通设施", "Roads and traffic facilities", "道路交通", "路面坑洼、交通标志损坏", "440604-JTJ"),
        ("water", "供水排水", "Water supply and drainage", "公用设施", "停水、内涝、排水管道堵塞", "440604-SWJ"),
        ("food_safety", "食品安全", "Food safety", "其他", "无证经营、过期食品", "440604-SCJG"),
        ("housing", "房屋安全", "Housing safety", "房屋土地", "危房、墙体开裂", "440604-ZJJ"),
        ("labour", "劳动保障", "Labour and wages", "其他", "欠薪、劳动合同纠纷", "440604-RSJ"),
        ("fire_safety", "消防安全", "Fire safety", "突发事件", "消防通道堵塞、消防设施缺失", "440604-XFJ"),
        ("enterprise", "企业诉求", "Enterprise demands", "其他", "融资、招聘、税务、登记等企业诉求", "440604-JKJ"),
        ("other", "其他", "Other", "其他", "其他问题", nil),
    ]

    func load() async throws {
        let db = app.db
        let directory = DirectoryService(db: db)
        guard let district = try await directory.region(code: Self.district), let city = try await directory.region(code: Self.city)
        else { return }
        var regionIDs: [String: UUID] = [Self.district: district.id, Self.city: city.id]
        func region(_ code: String, _ name: String, _ nameEn: String, _ level: RegionLevel, parent: UUID) async throws -> UUID {
            if let existing = try await Region.query(on: db).filter(\.$code == code).first(), let id = existing.id { return id }
            let region = Region(code: code, name: name, nameEn: nameEn, level: level, parentID: parent)
            try await region.create(on: db)
            return try region.requireID()
        }
        for street in Self.streets {
            regionIDs[street.code] = try await region(street.code, street.name, street.nameEn, .street, parent: district.id)
        }
        for community in Self.communities {
            guard let parent = regionIDs[String(community.code.prefix(9))] else { continue }
            regionIDs[community.code] = try await region(community.code, community.name, community.nameEn, .community, parent: parent)
        }
        // 50 grids: 5 rows of 0.02° latitude × 10 columns of 0.01° longitude.
        var perCommunity: [String: Int] = [:]
        var gridRegions: [String: UUID] = [:]
        let existingGrids = Set(try await GridRecord.query(on: db).all().map(\.code))
        for row in 0..<5 {
            for column in 0..<10 {
                let street = min(3, column * 4 / 10)
                let community = Self.communities[street * 2 + (row >= 3 ? 1 : 0)]
                let n = (perCommunity[community.code] ?? 0) + 1
                perCommunity[community.code] = n
                let suffix = n < 10 ? "0\(n)" : "\(n)"
                let code = community.code + "-G" + suffix
                guard let parent = regionIDs[community.code] else { continue }
                let numerals = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]
                let name = community.name + (n <= 10 ? "第\(numerals[n - 1])网格" : "第\(n)网格")
                let regionID = try await region(code, name, community.nameEn + " Grid \(n)", .grid, parent: parent)
                gridRegions[code] = regionID
                guard !existingGrids.contains(code) else { continue }
                let minLat = 23.0 + Double(row) * 0.02
                let minLon = 113.1 + Double(column) * 0.01
                let maxLat = (minLat + 0.02) * 1e6
                let maxLon = (minLon + 0.01) * 1e6
                let grid = GridRecord()
                grid.regionID = regionID
                grid.code = code
                grid.name = name
                grid.minLat = (minLat * 1e6).rounded() / 1e6
                grid.minLon = (minLon * 1e6).rounded() / 1e6
                grid.maxLat = maxLat.rounded() / 1e6
                grid.maxLon = maxLon.rounded() / 1e6
                grid.geometry = GeoPolygon.rectangleGeoJSON(minLat: grid.minLat, minLon: grid.minLon, maxLat: grid.maxLat, maxLon: grid.maxLon)
                try await grid.create(on: db)
            }
        }
        options.progress("cases: \(gridRegions.count) grids in 禅城区")
        // Departments: district, city, one office per street, one station per community.
        var departmentIDs: [String: UUID] = [:]
        func department(_ code: String, _ name: String, _ nameEn: String, region: UUID) async throws -> UUID {
            if let existing = try await Department.query(on: db).filter(\.$code == code).first(), let id = existing.id { return id }
            let department = Department(code: code, name: name, nameEn: nameEn, regionID: region)
            try await department.create(on: db)
            return try department.requireID()
        }
        for (code, name, nameEn, regionCode) in Self.departments {
            guard let regionID = regionIDs[regionCode] else { continue }
            departmentIDs[code] = try await department(code, name, nameEn, region: regionID)
        }
        for street in Self.streets {
            guard let regionID = regionIDs[street.code] else { continue }
            departmentIDs[street.code + "-JDB"] = try await department(
                street.code + "-JDB", street.name + "办事处", street.nameEn + " Office", region: regionID)
        }
        for community in Self.communities {
            guard let regionID = regionIDs[community.code] else { continue }
            departmentIDs[community.code + "-GZZ"] = try await department(
                community.code + "-GZZ", community.name + "工作站", community.nameEn + " Workstation", region: regionID)
        }
        // Categories and routing rules.
        let knownCategories = Set(try await CategoryRecord.query(on: db).all().map(\.code))
        let rules = try await RoutingRule.query(on: db).all()
        func addRule(_ category: String, _ region: UUID?, _ department: UUID?) async throws {
            guard let department else { return }
            guard !rules.contains(where: { $0.category == category && $0.regionID == region }) else { return }
            let rule = RoutingRule()
            rule.category = category
            rule.regionID = region
            rule.departmentID = department
            try await rule.create(on: db)
        }
        for (code, name, nameEn, group, description, handler) in Self.categories {
            if !knownCategories.contains(code) {
                let category = CategoryRecord()
                category.code = code
                category.name = name
                category.nameEn = nameEn
                category.group = group
                category.description = description
                category.active = true
                try await category.create(on: db)
            }
            if let handler { try await addRule(code, district.id, departmentIDs[handler]) }
        }
        try await addRule("environment", city.id, departmentIDs["440600-STHJ"])
        try await addRule("noise", city.id, departmentIDs["440600-STHJ"])
        try await addRule("*", city.id, departmentIDs["440600-12345"])
        try await addRule("*", district.id, departmentIDs["440604-SHZL"])
        try await addRule("*", nil, departmentIDs["440604-SHZL"])
        for street in Self.streets { try await addRule("*", regionIDs[street.code], departmentIDs[street.code + "-JDB"]) }
        for community in Self.communities {
            try await addRule("*", regionIDs[community.code], departmentIDs[community.code + "-GZZ"])
        }
        // Staff at each level.
        let accounts = AccountService(db: db, hashing: app.passwordHashing, clock: app.clock)
        let staff: [(String, String, String, [StaffRole])] = [
            ("demo-grid", "周网格", "440604001001-GZZ", [.clerk]),
            ("demo-community", "吴社区", "440604001001-GZZ", [.clerk, .approver]),
            ("demo-street", "郑街道", "440604001-JDB", [.clerk, .approver]),
            ("demo-district", "王区中心", "440604-SHZL", [.clerk, .approver]),
            ("demo-env", "冯环保", "440604-STHJ", [.clerk, .approver]),
            ("demo-city", "陈热线", "440600-12345", [.clerk, .approver]),
            ("demo-supervisor", "褚督查", "440600-DCB", [.approver, .departmentAdmin]),
        ]
        for (username, name, departmentCode, roles) in staff {
            guard let departmentID = departmentIDs[departmentCode] else { continue }
            var user = try await User.query(on: db).filter(\.$username == username).first()
            if user == nil {
                user = try await accounts.createStaff(
                    username: username, password: Self.password, name: name,
                    grants: roles.map { RoleGrant(departmentID: departmentID, role: $0) })
            }
            if username == "demo-grid", let userID = user?.id {
                for (code, regionID) in gridRegions where code.hasPrefix("440604001001-") {
                    if try await GridMember.query(on: db).filter(\.$userID == userID).filter(\.$gridRegionID == regionID).first() == nil {
                        let member = GridMember()
                        member.userID = userID
                        member.gridRegionID = regionID
                        try await member.create(on: db)
                    }
                }
            }
        }
        // The Open311 demo key.
        let hash = Hex.sha256(Self.open311DemoKey)
        if try await APIKeyRow.query(on: db).filter(\.$keyHash == hash).first() == nil {
            let key = APIKeyRow()
            key.keyHash = hash
            key.name = "Open311 demo key"
            key.createdAt = app.clock.now()
            try await key.create(on: db)
        }
        app.casesDirectory.invalidate()
        options.progress("cases demo accounts: demo-grid, demo-community, demo-street, demo-district, demo-env, demo-city, demo-supervisor; Open311 key demo-open311-key")
    }
}
