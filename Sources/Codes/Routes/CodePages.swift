import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// The holder's page (/codes): the current code as a QR that refreshes before it expires, and the latest scans.
struct CodePages: RouteCollection {
    static let strings = StringTable([
        "codes_title": ("我的码", "My codes"),
        "codes_intro": (
            "出示二维码供核验设备扫描。二维码每分钟自动更新，截图无效；核验方只能看到该场景允许的信息。",
            "Show the QR code to the scanner. It renews itself every minute, so a screenshot does not work; each verifier sees only what its scenario allows."
        ),
        "codes_type_identity": ("市民码", "Identity code"),
        "codes_type_medical_insurance": ("医保码", "Medical insurance code"),
        "codes_type_transit": ("乘车码", "Transit code"),
        "codes_types": ("码的种类", "Kind of code"),
        "codes_expires": ("有效至", "Valid until"),
        "codes_refresh": ("刷新二维码", "Renew the code"),
        "codes_auto": (
            "页面会在二维码到期前自动刷新；如需更多时间，请点击“刷新二维码”。",
            "The page renews the code shortly before it expires; select “Renew the code” whenever you need a new one."
        ),
        "codes_scans": ("最近的扫码记录", "Recent scans"),
        "codes_no_scans": ("还没有扫码记录。", "No scans yet."),
        "codes_when": ("时间", "When"),
        "codes_who": ("核验方", "Verifier"),
        "codes_where": ("地点", "Where"),
        "codes_disclosed": ("提供的信息", "Disclosed"),
        "codes_outcome": ("结果", "Outcome"),
        "codes_ok": ("通过", "accepted"),
        "codes_nothing": ("无（仅核验有效性）", "nothing (validity only)"),
        "codes_offline_title": ("离线码（本设备签发）", "Offline code (signed by this device)"),
        "codes_offline_intro": (
            "启用后，本设备保存一把不可导出的密钥，没有网络时也能每 5 秒生成新的码。离线二维码尚未实现：离线时显示码的文本，核验设备可读取或粘贴该文本。",
            "Once enabled, this device keeps a key that cannot be exported and signs a new code every 5 seconds, even without network. An offline QR picture is not available yet: offline, the code is shown as text that a scanner can read or a verifier can paste."
        ),
        "codes_offline_register": ("在本设备启用离线码", "Use offline codes on this device"),
        "codes_offline_none": ("本设备尚未启用离线码。", "Offline codes are not set up on this device."),
        "codes_offline_registering": ("正在生成密钥并申请设备证书……", "Creating a key and requesting the device certificate…"),
        "codes_offline_ready": ("离线码已启用（在线）。", "Offline codes are ready (online)."),
        "codes_offline_offline": ("当前无网络：以下为本设备签发的码。", "No network: this code was signed by this device."),
        "codes_offline_expired": ("设备证书已过期，请重新启用。", "The device certificate has expired; set up the device again."),
        "codes_offline_failed": ("启用失败，请稍后重试。", "Setting up failed; please try again."),
        "codes_offline_unsupported": ("此浏览器不支持离线码（需要 WebCrypto Ed25519）。", "This browser cannot make offline codes (WebCrypto Ed25519 is needed)."),
        "codes_offline_code": ("离线码文本", "Offline code text"),
        "codes_offline_qr": ("离线身份码（二维码），请出示给扫码设备", "Offline identity code (QR): show it to the scanner"),
    ])

    struct TypeLink: Encodable, Sendable {
        var href: String
        var label: String
        var current: Bool
    }

    struct ScanRow: Encodable, Sendable {
        var when: String
        var who: String
        var location: String
        var disclosed: String
        var outcome: String
    }

    struct Page: Encodable, Sendable {
        var typeName: String
        var qrSVG: String
        var expiresAt: String
        var refreshMilliseconds: Int
        var refreshHref: String
        var types: [TypeLink]
        var scans: [ScanRow]
        var codeType: String
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("codes", use: holder)
        routes.get("codes", "device.js", use: script)
        routes.post("codes", "devices", use: registerDevice)
    }

    /// GET /codes/device.js — the device-side script (static).
    @Sendable func script(req: Request) async throws -> Response {
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "text/javascript; charset=utf-8")
        headers.replaceOrAdd(name: .cacheControl, value: "public, max-age=300")
        return Response(status: .ok, headers: headers, body: .init(string: QRScript.source + DeviceScript.source))
    }

    struct DeviceRequest: Content {
        var publicKey: String?
        var name: String?
    }

    /// POST /codes/devices {"publicKey","name","_csrf"} — the holder page's script (session cookie and CSRF token)
    /// certifies this browser's key; the same answer as `POST /api/v1/codes/devices`. 401, 403, 422.
    @Sendable func registerDevice(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else {
            throw Problem(.unauthorized, type: "/problems/unauthorized", title: "Sign in first", detail: "Sign in to set up offline codes.")
        }
        try req.verifyCSRF()
        let body = try req.content.decode(DeviceRequest.self)
        let device = try await CodeService(app: req.application, db: req.db)
            .registerDevice(publicKey: body.publicKey, name: body.name, validityDays: nil, principal: principal)
        let response = Response(status: .created)
        try response.content.encode(CodesController.view(device))
        return response
    }

    /// GET /codes?type=identity|medical_insurance|transit — a signed-in person; anonymous visitors go to the login page.
    @Sendable func holder(req: Request) async throws -> Response {
        guard let principal = req.auth.get(Principal.self) else { return req.redirect(to: "/login?next=/codes") }
        let type = CodeType(rawValue: (try? req.query.get(String.self, at: "type")) ?? "") ?? .identity
        let t = Self.strings.table(for: req.preferences.language)
        let service = CodeService(app: req.application, db: req.db)
        let issued = try await service.issue(type: type, principal: principal)
        let typeName = t["codes_type_\(type.rawValue)"] ?? type.rawValue
        let qr = try QRCode.encode(issued.payload, correction: .medium).svg(moduleSize: 5, border: 4, title: typeName)
        let timeFormatter = DateFormatter()
        timeFormatter.dateFormat = "HH:mm:ss"
        timeFormatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        let dateFormatter = DateFormatter()
        dateFormatter.dateFormat = "yyyy-MM-dd HH:mm"
        dateFormatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        let labels: [String: String] = [
            "name": req.preferences.language == .en ? "name" : "姓名",
            "idNumberMasked": req.preferences.language == .en ? "masked ID number" : "脱敏身份证号",
            "insuranceNumber": req.preferences.language == .en ? "insurance number" : "医保编号",
        ]
        let scans = try await service.scans(principal: principal, paging: Paging(limit: 10, offset: 0)).items.map { scan in
            ScanRow(
                when: dateFormatter.string(from: scan.scannedAt), who: scan.organisation, location: scan.location,
                disclosed: scan.disclosed.isEmpty ? (t["codes_nothing"] ?? "") : scan.disclosed.map { labels[$0] ?? $0 }.joined(separator: "、"),
                outcome: scan.valid ? (t["codes_ok"] ?? "ok") : scan.reason)
        }
        let lifetime = issued.claims.exp - issued.claims.iat
        let page = Page(
            typeName: typeName, qrSVG: qr, expiresAt: timeFormatter.string(from: issued.claims.expiresAt),
            refreshMilliseconds: Int(max(5, lifetime - 10)) * 1000, refreshHref: "/codes?type=\(type.rawValue)",
            types: CodeType.allCases.map {
                TypeLink(href: "/codes?type=\($0.rawValue)", label: t["codes_type_\($0.rawValue)"] ?? $0.rawValue, current: $0 == type)
            },
            scans: scans, codeType: type.rawValue)
        return try await req.renderPage("codes/holder", titleKey: "codes_title", strings: Self.strings, page: page)
    }
}
