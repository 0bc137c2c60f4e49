import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Web

/// The public verification page (/verify): paste or scan a licence code and see whether it is genuine.
struct LicencePages: RouteCollection {
    static let strings = StringTable([
        "verify_title": ("电子证照核验", "Verify an electronic licence"),
        "verify_intro": (
            "扫描证照二维码，或粘贴二维码中的内容，核验证照的真伪和状态。",
            "Scan a licence QR code, or paste its content, to check that the licence is genuine and in force."
        ),
        "verify_label": ("证照码内容", "Licence code"),
        "verify_hint": ("以 “ey” 开头的一串字符，或核验链接。", "A string that starts with “ey”, or a verification link."),
        "verify_submit": ("核验", "Verify"),
        "verify_valid": ("证照真实有效", "Genuine and valid"),
        "verify_invalid": ("核验未通过", "Not valid"),
        "verify_type": ("证照类型", "Licence type"),
        "verify_issuer": ("签发机构", "Issued by"),
        "verify_number": ("证照编号", "Number"),
        "verify_holder": ("持证主体", "Holder"),
        "verify_status": ("状态", "Status"),
        "verify_validity": ("有效期", "Valid"),
        "verify_long_term": ("长期", "long-term"),
        "verify_components": ("包含的许可证", "Licences it includes"),
        "print_number": ("证照编号", "Number"),
        "print_holder": ("持证主体", "Holder"),
        "print_validity": ("有效期", "Valid"),
        "print_status": ("状态", "Status"),
        "print_scan": ("扫码核验真伪", "Scan to verify"),
        "print_note": (
            "本证照由签发机构以电子签名签发，印章图形仅作展示，真伪以扫码核验结果为准。",
            "Issued with the issuer's electronic signature. The seal image is for display; scan the code to check that the licence is genuine."
        ),
        "print_button": ("打印（A4）", "Print (A4)"),
        "wallet_title": ("我的证照", "My licences"),
        "wallet_intro": (
            "您和您代表的企业持有的电子证照。办事时出示二维码即可，无需再交纸质材料。",
            "Electronic licences held by you and the enterprise you act for. Show the QR code instead of paper copies."
        ),
        "wallet_empty": ("您还没有电子证照。", "You hold no electronic licences yet."),
        "wallet_print": ("查看和打印（A4）", "View and print (A4)"),
        "status_valid": ("有效", "valid"),
        "status_suspended": ("暂停", "suspended"),
        "status_revoked": ("已注销", "revoked"),
        "status_expired": ("已过期", "expired"),
        "status_unknown": ("未知", "unknown"),
    ])

    struct Field: Encodable, Sendable {
        var label: String
        var value: String
    }

    struct Page: Encodable, Sendable {
        var payload: String
        var checked: Bool
        var valid: Bool
        var message: String
        var hasDetails: Bool
        var typeName: String
        var issuer: String
        var number: String
        var holder: String
        var status: String
        var validity: String
        var fields: [Field]
        var components: [Field]
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("verify", use: verify)
        routes.get("licences", ":id", "print", use: printView)
        routes.get("me", "licences", use: wallet)
    }

    struct PrintPage: Encodable, Sendable {
        var typeName: String
        var number: String
        var holder: String
        var fields: [Field]
        var validity: String
        var status: String
        var issuer: String
        var issuedOn: String
        var qrSVG: String
        var sealSVG: String
    }

    /// GET /licences/{id}/print — the holder and issuing staff: the licence laid out for A4, with its QR code and
    /// the issuing department's seal. Others get the not-found page; anonymous visitors go to the login page.
    @Sendable func printView(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else {
            let next = req.url.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "/me"
            return req.redirect(to: "/login?next=\(next)")
        }
        guard let id = req.parameters.get("id", as: UUID.self) else { throw LicenceService.notFound }
        let licence = try await LicenceService(app: req.application, db: req.db).visible(id, principal: principal)
        let english = req.preferences.language == .en
        let t = LicencePages.strings.table(for: req.preferences.language)
        let type = try await LicenceType.find(licence.typeID, on: req.db)
        let department = try await DirectoryService(db: req.db).department(id: licence.departmentID)
        let labels = Dictionary(uniqueKeysWithValues: (type?.fields ?? []).map { ($0.name, english ? $0.labelEn : $0.labelZh) })
        let values = licence.fields
        let order = (type?.fields ?? []).map(\.name).filter { values[$0] != nil }
        let until = licence.validUntil.map { LocalDate($0).description } ?? (t["verify_long_term"] ?? "")
        let qr = try QRCode.encode(LicencesController.verificationURL(req, licence.payload), correction: .medium)
        let page = PrintPage(
            typeName: (english ? type?.nameEn : type?.nameZh) ?? licence.typeCode, number: licence.number,
            holder: licence.holderMasked, fields: order.map { Field(label: labels[$0] ?? $0, value: values[$0] ?? "") },
            validity: "\(LocalDate(licence.validFrom).description) – \(until)",
            status: t["status_\(licence.status.rawValue)"] ?? licence.status.rawValue, issuer: department?.name ?? "",
            issuedOn: LocalDate(licence.createdAt).description,
            qrSVG: qr.svg(moduleSize: 4, border: 4, title: (t["print_scan"] ?? "") + " \(licence.number)"),
            sealSVG: Seal.svg(department: department?.name ?? ""))
        return try await req.renderPage("licences/print", title: page.typeName, strings: Self.strings, page: page)
    }

    struct WalletPage: Encodable, Sendable {
        struct Row: Encodable, Sendable {
            var id: String
            var typeName: String
            var number: String
            var holder: String
            var status: String
            var validity: String
            var issuer: String
            var qrSVG: String
        }

        var licences: [Row]
    }

    /// GET /me/licences — the holder's wallet (and the enterprise's they act for), each with its QR code.
    @Sendable func wallet(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.redirect(to: "/login?next=%2Fme%2Flicences") }
        let english = req.preferences.language == .en
        let t = LicencePages.strings.table(for: req.preferences.language)
        let licences = try await LicenceService(app: req.application, db: req.db).wallet(principal: principal)
        let types = Dictionary(try await LicenceType.query(on: req.db).all().map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        let departments = try await DirectoryService(db: req.db).departments(ids: Set(licences.map(\.departmentID)))
        var rows: [WalletPage.Row] = []
        for licence in licences.prefix(100) {
            let type = types[licence.typeCode]
            let typeName = (english ? type?.nameEn : type?.nameZh) ?? licence.typeCode
            let until = licence.validUntil.map { LocalDate($0).description } ?? (t["verify_long_term"] ?? "")
            let effective = licence.status == .valid && (licence.validUntil.map { $0 < req.application.clock.now() } ?? false) ? "expired" : licence.status.rawValue
            let qr = try QRCode.encode(LicencesController.verificationURL(req, licence.payload), correction: .medium)
            rows.append(.init(
                id: try licence.requireID().uuidString.lowercased(), typeName: typeName, number: licence.number, holder: licence.holderMasked,
                status: t["status_\(effective)"] ?? effective, validity: "\(LocalDate(licence.validFrom).description) – \(until)",
                issuer: departments[licence.departmentID].map { english ? $0.nameEn : $0.name } ?? "",
                qrSVG: qr.svg(moduleSize: 3, border: 4, title: (t["print_scan"] ?? "") + " \(licence.number)")))
        }
        return try await req.renderPage("licences/wallet", title: t["wallet_title"], strings: Self.strings, page: WalletPage(licences: rows))
    }

    /// The token inside what was scanned: the token itself, or a verification link carrying it in `p`.
    static func token(from scanned: String) -> String {
        let trimmed = scanned.trimmingCharacters(in: .whitespacesAndNewlines)
        if let components = URLComponents(string: trimmed), components.scheme != nil,
            let p = components.queryItems?.first(where: { $0.name == "p" })?.value
        {
            return p
        }
        return trimmed
    }

    @Sendable func verify(req: Request) async throws -> Response {
        let scanned = String((try? req.query.get(String.self, at: "p"))?.prefix(8192) ?? "")
        let english = req.preferences.language == .en
        let t = LicencePages.strings.table(for: req.preferences.language)
        var page = Page(
            payload: scanned, checked: false, valid: false, message: "", hasDetails: false, typeName: "", issuer: "", number: "",
            holder: "", status: "", validity: "", fields: [], components: [])
        if !scanned.isEmpty {
            let result = try await LicenceService(app: req.application, db: req.db).verify(Self.token(from: scanned))
            page.checked = true
            page.valid = result.valid
            page.message = english ? result.messageEn : result.message
            if result.type != nil {
                page.hasDetails = true
                var labels: [String: String] = [:]
                var typeName = result.type ?? ""
                if let code = result.type, let type = try await LicenceType.query(on: req.db).filter(\.$code == code).first() {
                    typeName = english ? type.nameEn : type.nameZh
                    for field in type.fields { labels[field.name] = english ? field.labelEn : field.labelZh }
                }
                page.typeName = typeName
                page.issuer = result.issuerName ?? result.issuer ?? ""
                page.number = result.number ?? ""
                page.holder = result.holderMasked ?? ""
                page.status = t["status_\(result.status)"] ?? result.status
                let from = result.validFrom.map { LocalDate($0).description } ?? ""
                let until = result.validUntil.map { LocalDate($0).description } ?? (t["verify_long_term"] ?? "")
                page.validity = "\(from) – \(until)"
                page.components = (result.components ?? []).map {
                    Field(label: "\($0.number)（\($0.type)，\($0.issuer)）", value: t["status_\($0.status)"] ?? $0.status)
                }
                page.fields = result.fields.keys.sorted().map { Field(label: labels[$0] ?? $0, value: result.fields[$0] ?? "") }
            }
        }
        return try await req.renderPage("licences/verify", titleKey: "verify_title", strings: Self.strings, page: page)
    }
}
