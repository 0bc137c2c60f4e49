import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// Identity: persons, enterprises, staff, regions and departments, sign-in and sessions.
public struct IdentityModule: TongbanModule {
    public let name = "identity"
    public static let sessionCookieName = "tb_session"

    public init() {}

    public var migrations: [any Migration] {
        [CreateIdentitySchema(), CreateAuthSchema(), SessionRecord.migration, AddUserEmail()]
    }

    public func boot(_ app: Application) throws {
        let config = app.tongbanConfig
        app.passwordHashing = PasswordHashing(
            cost: config.bcryptCost, threadPool: app.threadPool, eventLoopGroup: app.eventLoopGroup)
        app.tokenService = TokenService(secret: config.jwtSecret, accessTTL: config.accessTokenTTL)
        app.sessions.use(.fluent)
        app.sessions.configuration = SessionsConfiguration(cookieName: Self.sessionCookieName) { id in
            HTTPCookies.Value(
                string: id.string, maxAge: 8 * 3600, path: "/", isSecure: config.cookieSecure, isHTTPOnly: true,
                sameSite: .lax)
        }
        app.middleware.use(app.sessions.middleware)
        app.middleware.use(SessionPrincipalAuthenticator())
        app.middleware.use(BearerPrincipalAuthenticator(tokens: app.tokenService))
        try app.register(collection: AuthController(module: self))
        try app.register(collection: MeController(module: self))
        try app.register(collection: AdminController(module: self))
        try app.register(collection: IdentityPages(module: self))
        IdentityAPIDocs.register(app.apiDocumentation)
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {
        try await IdentityDemo(app: app, options: options).load()
    }

    func accounts(_ req: Request) -> AccountService {
        AccountService(db: req.db, hashing: req.application.passwordHashing, clock: req.application.clock)
    }

    func login(_ req: Request) -> LoginService {
        LoginService(
            db: req.db, hashing: req.application.passwordHashing, tokens: req.application.tokenService,
            config: req.application.tongbanConfig, clock: req.application.clock, audit: req.application.audit)
    }

    static let strings = StringTable([
        "login_title": ("登录", "Sign in"),
        "login_intro": ("使用统一身份认证账号登录，一次登录，全网通办。", "Sign in once with your unified identity account to use every service."),
        "login_username": ("用户名", "Username"),
        "login_password": ("密码", "Password"),
        "login_submit": ("登录", "Sign in"),
        "login_failed": ("用户名或密码错误。", "The username or password is wrong."),
        "login_locked": ("登录失败次数过多，账号已临时锁定 15 分钟，请稍后再试。", "Too many failed sign-ins: the account is locked for 15 minutes. Try again later."),
        "login_rate_limited": ("您的网络地址登录失败次数过多，请一分钟后再试。", "Too many failed sign-ins from your address. Try again in a minute."),
        "login_no_account": ("还没有账号？", "No account yet?"),
        "register_title": ("个人注册", "Register as a person"),
        "register_intro": ("请如实填写，身份证号将用于实名认证并在页面上脱敏显示。", "Fill in your real details; your ID number is used for real-name verification and shown masked."),
        "register_username_hint": ("3–32 位小写字母、数字、点、下划线或连字符。", "3–32 lower-case letters, digits, '.', '_' or '-'."),
        "register_password_hint": ("至少 10 位，不能包含用户名，不能是常见密码。", "At least 10 characters, not containing the username, not a common password."),
        "register_name": ("真实姓名", "Full name"),
        "register_id": ("居民身份证号码", "Resident ID number"),
        "register_id_hint": ("18 位，最后一位可为 X。", "18 characters; the last may be X."),
        "register_phone": ("手机号码", "Mobile phone number"),
        "register_submit": ("注册", "Register"),
        "register_errors": ("请修改以下问题：", "Please correct the following:"),
        "me_title": ("我的空间", "My space"),
        "me_shortcuts": ("常用功能", "Shortcuts"),
        "me_my_appointments": ("我的预约", "My appointments"),
        "me_my_licences": ("我的证照", "My licences"),
        "me_my_consents": ("我的数据授权", "My data consents"),
        "me_policy_checkup": ("政策体检", "Policy check-up"),
        "me_policy_editor": ("政策规则编辑", "Policy rule editor"),
        "me_notifications_hint": ("办件进度、补正要求和办理结果会发到“我的办件”和短信。", "Progress, correction requests and decisions appear under My applications and by SMS."),
        "me_welcome": ("注册成功，欢迎使用通办。", "Registration complete. Welcome to Tongban."),
        "me_profile": ("个人信息", "Profile"),
        "me_username": ("用户名", "Username"),
        "me_kind": ("账号类型", "Account type"),
        "me_name": ("姓名", "Name"),
        "me_id": ("身份证号", "ID number"),
        "me_phone": ("手机号", "Mobile"),
        "me_birth": ("出生日期", "Date of birth"),
        "me_roles": ("岗位角色", "Staff roles"),
        "me_enterprises": ("我可代办的企业", "Enterprises I act for"),
        "me_no_enterprises": ("暂无关联企业。", "No enterprises yet."),
        "me_credit_code": ("统一社会信用代码", "Unified social credit code"),
        "me_role": ("身份", "Role"),
        "kind_person": ("个人", "Person"),
        "kind_staff": ("工作人员", "Staff"),
        "role_clerk": ("受理人员", "Clerk"),
        "role_approver": ("审批人员", "Approver"),
        "role_department_admin": ("部门管理员", "Department administrator"),
        "role_system_admin": ("系统管理员", "System administrator"),
        "role_auditor": ("审计员", "Auditor"),
        "role_legal_representative": ("法定代表人", "Legal representative"),
        "role_agent": ("经办人", "Agent"),
    ])
}

extension Application {
    private struct HashingKey: StorageKey { typealias Value = PasswordHashing }
    private struct TokensKey: StorageKey { typealias Value = TokenService }

    /// bcrypt at the configured cost (set when the identity module boots).
    public var passwordHashing: PasswordHashing {
        get {
            if let existing = storage[HashingKey.self] { return existing }
            // Before boot (e.g. CLI admin tasks): configure from the settings.
            let created = PasswordHashing(
                cost: tongbanConfig.bcryptCost, threadPool: threadPool, eventLoopGroup: eventLoopGroup)
            storage[HashingKey.self] = created
            return created
        }
        set { storage[HashingKey.self] = newValue }
    }

    var tokenService: TokenService {
        get { storage[TokensKey.self] ?? TokenService(secret: tongbanConfig.jwtSecret, accessTTL: tongbanConfig.accessTokenTTL) }
        set { storage[TokensKey.self] = newValue }
    }
}
