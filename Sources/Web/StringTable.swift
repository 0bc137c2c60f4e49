import Vapor
/// Localised UI strings: key → (zh-CN, English). Each module keeps its own table; pages merge the
/// common table with the module's.
public struct StringTable: Sendable {
    public let zh: [String: String]
    public let en: [String: String]

    public init(_ entries: [String: (String, String)]) {
        zh = entries.mapValues { $0.0 }
        en = entries.mapValues { $0.1 }
    }

    init(zh: [String: String], en: [String: String]) {
        self.zh = zh
        self.en = en
    }

    public func merging(_ other: StringTable) -> StringTable {
        StringTable(zh: zh.merging(other.zh) { $1 }, en: en.merging(other.en) { $1 })
    }

    public func table(for language: Preferences.Language) -> [String: String] {
        language == .en ? en : zh
    }
}

/// Common page-kit strings.
public enum Strings {
    public static let common = StringTable([
        "site_name": ("通办 · 一网通办政务服务平台", "Tongban · One-stop Government Services"),
        "site_short": ("通办", "Tongban"),
        "skip_to_content": ("跳到主要内容", "Skip to main content"),
        "nav_main": ("主导航", "Main navigation"),
        "nav_home": ("首页", "Home"),
        "nav_services": ("办事服务", "Services"),
        "nav_zones": ("主题专区", "Zones"),
        "nav_bundles": ("一件事", "One-thing bundles"),
        "nav_appointments": ("办事预约", "Appointments"),
        "nav_login": ("登录", "Sign in"),
        "nav_register": ("注册", "Register"),
        "nav_me": ("我的空间", "My space"),
        "nav_applications": ("我的办件", "My applications"),
        "nav_tasks": ("待办任务", "Task inbox"),
        "nav_logout": ("退出", "Sign out"),
        "toolbar_label": ("无障碍工具栏", "Accessibility toolbar"),
        "toolbar_elderly_on": ("长者模式", "Elderly mode"),
        "toolbar_elderly_off": ("标准模式", "Standard mode"),
        "toolbar_font": ("字号", "Text size"),
        "toolbar_font_normal": ("标准", "Normal"),
        "toolbar_font_large": ("大", "Large"),
        "toolbar_font_larger": ("特大", "Larger"),
        "toolbar_contrast_on": ("高对比度", "High contrast"),
        "toolbar_contrast_off": ("标准对比度", "Normal contrast"),
        "toolbar_language": ("语言", "Language"),
        "toolbar_a11y_help": ("无障碍说明", "Accessibility help"),
        "footer_text": (
            "通办：开源的一网通办数字政府服务平台。", "Tongban: an open-source one-stop digital-government service platform."
        ),
        "footer_a11y": ("无障碍声明", "Accessibility statement"),
        "error_title": ("出错了", "Something went wrong"),
        "error_back_home": ("返回首页", "Back to the home page"),
        "error_404": ("您要找的页面不存在。", "The page you are looking for does not exist."),
        "a11y_title": ("无障碍与适老化说明", "Accessibility and elderly-friendly design"),
        "a11y_intro": (
            "本站按照 WCAG 2.1 AA 与 GB/T 37668-2019 设计：所有功能均可仅用键盘操作，焦点清晰可见，页面有地标和标签，可配合读屏软件使用。",
            "This site follows WCAG 2.1 AA and GB/T 37668-2019: every function works with the keyboard alone, focus is always visible, pages have landmarks and labels, and work with screen readers."
        ),
        "a11y_elderly": (
            "长者模式：更大的字号、更高的对比度、更简单的版面，无广告无弹窗，设置会被记住。",
            "Elderly mode: larger text, higher contrast and a simpler layout, with no advertising or pop-ups; your choice is remembered."
        ),
        "a11y_keys": (
            "键盘：Tab 键前往下一个链接或控件，Shift+Tab 返回，Enter 打开。每页第一个链接可直接跳到主要内容。",
            "Keyboard: Tab moves to the next link or control, Shift+Tab goes back, Enter opens. The first link on every page skips to the main content."
        ),
        "a11y_contact": (
            "如遇到无法使用的功能，请拨打 12345 政务服务便民热线。", "If something does not work for you, call the 12345 government service hotline."
        ),
    ])

    static func lookup(_ key: String, _ language: Preferences.Language) -> String {
        common.table(for: language)[key] ?? key
    }
}

extension Strings {
    /// Looks `key` up in a module table, then the common one, in the visitor's language.
    public static func localised(_ table: StringTable, _ key: String, _ request: Request) -> String {
        let language = request.preferences.language
        return table.table(for: language)[key] ?? common.table(for: language)[key] ?? key
    }
}
