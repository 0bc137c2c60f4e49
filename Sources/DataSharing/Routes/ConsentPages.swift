import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// Scan-to-authorise (case 9): the requester's QR opens this page on the person's phone; the person reads the
/// four clarities, re-enters the password and approves or declines. `/consents/mine` lists consents and uses,
/// with revocation.
struct ConsentPages: RouteCollection {
    static let strings = StringTable([
        "consent_title": ("数据授权", "Data consent"),
        "consent_intro": ("以下机构请求查看您的个人数据。请核对后决定是否授权。", "The organisation below asks to see your personal data. Check the details, then decide."),
        "consent_who": ("谁在请求", "Who asks"),
        "consent_scenario": ("用于什么场景", "For what"),
        "consent_what": ("查看哪些数据", "Which data"),
        "consent_howlong": ("授权多久", "For how long"),
        "consent_password": ("登录密码", "Your password"),
        "consent_password_hint": ("再次输入密码，确认是您本人授权。", "Enter your password again to confirm it is you."),
        "consent_approve": ("同意授权", "Approve"),
        "consent_decline": ("拒绝", "Decline"),
        "consent_answered": ("此请求已处理或已过期。", "This request has been answered or has expired."),
        "consent_approved": ("已授权", "Consent given"),
        "consent_approved_text": ("您已授权。授权凭证已签名保存，您可随时在“我的授权”中撤回。", "You have given consent. The signed receipt is saved; you can revoke it at any time under My consents."),
        "consent_declined": ("已拒绝", "Declined"),
        "consent_declined_text": ("您已拒绝此请求，对方无法查看您的数据。", "You declined; the requester cannot see your data."),
        "consent_bad_password": ("密码不正确，未授权。", "Wrong password; nothing was approved."),
        "consent_mine": ("我的授权", "My consents"),
        "consent_none": ("您还没有授权过任何数据。", "You have not given any consent yet."),
        "consent_status": ("状态", "Status"),
        "consent_uses": ("已使用次数", "Times used"),
        "consent_revoke": ("撤回授权", "Revoke"),
        "days": ("天", "days"),
        "until": ("至", "until"),
    ])

    func boot(routes: any RoutesBuilder) throws {
        routes.get("consents", "scan", ":id", use: scan)
        routes.post("consents", "scan", ":id", use: answer)
        routes.get("consents", "mine", use: mine)
        routes.post("consents", ":id", "revoke", use: revoke)
    }

    struct ScanPage: Encodable, Sendable {
        var id: String
        var code: String
        var requester: String
        var scenario: String
        var purpose: String
        var items: [String]
        var howLong: String
        var summary: String
        var pending: Bool
        var done: Bool
        var doneTitle: String
        var doneText: String
        var error: String?
    }


    func page(_ req: Request, error: String? = nil, done: (String, String)? = nil, status: HTTPResponseStatus = .ok) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect(keepingQuery: true) }
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Consent request") }
        let service = ConsentService(app: req.application, db: req.db)
        let request = try await service.request(id)
        let code = req.query[String.self, at: "c"] ?? ""
        try await service.authorise(request, principal: principal, code: code)
        let clarity = try await service.clarity(request)
        let english = req.preferences.language == .en
        let t = Self.strings.table(for: req.preferences.language)
        let items = clarity.items.map { item in
            (english ? item.resourceNameEn : item.resourceNameZh) + (english ? ": " : "：")
                + item.fields.map { english ? $0.nameEn : $0.nameZh }.joined(separator: english ? ", " : "、")
        }
        let page = ScanPage(
            id: id.uuidString.lowercased(), code: code, requester: clarity.requester, scenario: clarity.scenario, purpose: clarity.purpose,
            items: items, howLong: "\(clarity.durationDays) \(t["days"] ?? "")",
            summary: english ? clarity.summaryEn : clarity.summaryZh, pending: clarity.status == .pending,
            done: done != nil, doneTitle: done?.0 ?? "", doneText: done?.1 ?? "", error: error)
        return try await req.renderPage("consents/scan", titleKey: "consent_title", strings: Self.strings, page: page, status: status)
    }

    @Sendable func scan(req: Request) async throws -> Response { try await page(req) }

    @Sendable func answer(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect(keepingQuery: true) }
        try req.verifyCSRF()
        struct Form: Decodable { var password: String?; var intent: String? }
        let form = (try? req.content.decode(Form.self)) ?? Form()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Consent request") }
        let service = ConsentService(app: req.application, db: req.db)
        let code = req.query[String.self, at: "c"]
        let t = Self.strings.table(for: req.preferences.language)
        if form.intent == "decline" {
            _ = try await service.decline(id, code: code, principal: principal)
            return try await page(req, done: (t["consent_declined"] ?? "", t["consent_declined_text"] ?? ""))
        }
        do {
            _ = try await service.approve(id, code: code, password: form.password, principal: principal, method: "scan-to-authorise")
        } catch let problem as Problem where problem.status == .unauthorized {
            return try await page(req, error: t["consent_bad_password"], status: .unauthorized)
        }
        return try await page(req, done: (t["consent_approved"] ?? "", t["consent_approved_text"] ?? ""))
    }

    struct MinePage: Encodable, Sendable {
        struct Row: Encodable, Sendable {
            var id: String
            var requester: String
            var scenario: String
            var items: String
            var status: String
            var validity: String
            var uses: Int
            var active: Bool
        }

        var consents: [Row]
    }

    @Sendable func mine(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect(keepingQuery: true) }
        let service = ConsentService(app: req.application, db: req.db)
        let now = req.application.clock.now()
        var rows: [MinePage.Row] = []
        for consent in try await service.mine(principal) {
            let active = consent.status == .active && consent.validUntil > now
            rows.append(.init(
                id: try consent.requireID().uuidString.lowercased(), requester: consent.requesterName, scenario: consent.scenario,
                items: consent.items.map { "\($0.resource)（\($0.fields.joined(separator: "、"))）" }.joined(separator: "；"),
                status: active ? "active" : (consent.status == .active ? "expired" : consent.status.rawValue),
                validity: "\(LocalDate(consent.validFrom)) – \(LocalDate(consent.validUntil))",
                uses: try await service.uses(try consent.requireID()).count, active: active))
        }
        return try await req.renderPage("consents/mine", titleKey: "consent_mine", strings: Self.strings, page: MinePage(consents: rows))
    }

    @Sendable func revoke(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.loginRedirect(keepingQuery: true) }
        try req.verifyCSRF()
        guard let id = req.parameters.get("id", as: UUID.self) else { throw Problem.notFound("Consent") }
        _ = try await ConsentService(app: req.application, db: req.db).revoke(id, principal: principal)
        return req.redirect(to: "/consents/mine", redirectType: .normal)
    }
}
