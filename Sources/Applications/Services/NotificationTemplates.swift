import Foundation

/// The text of a notification in both languages.
public struct MessageText: Sendable, Equatable {
    public var titleZh: String
    public var titleEn: String
    public var bodyZh: String
    public var bodyEn: String
}

/// Message templates, zh-CN and English, keyed by a dotted name. Placeholders are `{name}`; a missing
/// parameter renders as an empty string, and `{note}` lines are dropped when there is no note.
public enum NotificationTemplates {
    struct Template {
        var titleZh: String
        var titleEn: String
        var bodyZh: String
        var bodyEn: String
    }

    static let statusNames: [(ApplicationStatus, String, String)] = [
        (.submitted, "已提交，等待受理", "submitted, waiting for acceptance"),
        (.inReview, "已受理，正在审批", "accepted and under review"),
        (.correctionRequired, "需要补正材料", "waiting for your corrections"),
        (.approved, "已办结（准予）", "approved"),
        (.rejected, "未获批准", "not approved"),
        (.notAccepted, "不予受理", "not accepted"),
        (.withdrawn, "已撤回", "withdrawn"),
    ]

    static let table: [String: Template] = {
        var table: [String: Template] = [:]
        for (status, zh, en) in statusNames {
            table["application.status.\(status.rawValue)"] = Template(
                titleZh: "办件 {number} \(zh)", titleEn: "Application {number} \(en)",
                bodyZh: "您申请的“{service}”（办件编号 {number}）\(zh)。{note:说明：}",
                bodyEn: "Your application {number} for \"{service}\" is \(en).{note: Note: }")
        }
        table["appointment.booked"] = Template(
            titleZh: "预约成功：{hall}", titleEn: "Appointment booked: {hall}",
            bodyZh: "您已预约 {date} {time} 在“{hall}”办理“{service}”，预约号 {code}。请携带有效身份证件准时到达。",
            bodyEn: "You are booked at \"{hall}\" on {date} at {time} for \"{service}\", booking {code}. Please bring your ID.")
        table["appointment.cancelled"] = Template(
            titleZh: "预约已取消：{hall}", titleEn: "Appointment cancelled: {hall}",
            bodyZh: "您在 {date} {time} 于“{hall}”的预约（{code}）已取消。{note:说明：}",
            bodyEn: "Your appointment {code} at \"{hall}\" on {date} at {time} is cancelled.{note: Note: }")
        table["appointment.reminder"] = Template(
            titleZh: "明日预约提醒：{hall}", titleEn: "Reminder: appointment tomorrow at {hall}",
            bodyZh: "提醒：您明天 {date} {time} 在“{hall}”有预约（{code}），办理“{service}”。",
            bodyEn: "Reminder: tomorrow, {date} at {time}, you have appointment {code} at \"{hall}\" for \"{service}\".")
        table["inspection.scheduled"] = Template(
            titleZh: "云现勘已安排：办件 {number}", titleEn: "Remote inspection scheduled: application {number}",
            bodyZh: "办件 {number} 的远程视频现场勘验安排在 {date} {time}。请提前准备好现场，并按清单上传照片。",
            bodyEn: "The remote video site inspection for application {number} is on {date} at {time}. Please prepare the site and upload photos for each checklist item.")
        table["inspection.completed"] = Template(
            titleZh: "云现勘已完成：办件 {number}", titleEn: "Remote inspection completed: application {number}",
            bodyZh: "办件 {number} 的现场勘验结论：{result}。{note:说明：}",
            bodyEn: "The site inspection for application {number} concluded: {result}.{note: Note: }")
        // Codes: the last late answer of a 一证通查 query is in (or the 48-hour window ended).
        table["codes.lookup.complete"] = Template(
            titleZh: "一证通查结果已全部返回", titleEn: "Your number lookup is complete",
            bodyZh: "您的一证通查已完成：{answered}/{total} 家运营商已答复，共查到 {numbers} 个号码。请登录查看；如有非本人办理的号码，可在线提出异议。",
            bodyEn: "Your number lookup is complete: {answered} of {total} providers answered, {numbers} numbers found. Sign in to see them and report any number that is not yours.")
        table["task.warning"] = Template(
            titleZh: "办件临近时限：{task}（{number}）", titleEn: "Task nearing its time limit: {task} ({number})",
            bodyZh: "待办“{task}”（办件 {number}）已用去 80% 的办理时限，请于 {due} 前办结。",
            bodyEn: "The task \"{task}\" (application {number}) has used 80% of its time limit; please finish it by {due}.")
        table["task.overdue"] = Template(
            titleZh: "办件已超时：{task}（{number}）", titleEn: "Task overdue: {task} ({number})",
            bodyZh: "待办“{task}”（办件 {number}）已超过办理时限（{due}），请尽快办结。",
            bodyEn: "The task \"{task}\" (application {number}) passed its time limit ({due}); please finish it now.")
        // Cases (Sources/Cases): the reporter hears of acceptance, the result, closing and reopening.
        table["case.accepted"] = Template(
            titleZh: "您反映的问题已受理：{number}", titleEn: "Your report {number} was accepted",
            bodyZh: "您反映的问题（编号 {number}）已由“{department}”签收办理。",
            bodyEn: "Your report {number} was accepted by {departmentEn}, who are handling it.")
        table["case.feedback"] = Template(
            titleZh: "您反映的问题有了办理结果：{number}", titleEn: "Result of your report {number}",
            bodyZh: "“{department}”对您反映的问题（编号 {number}）反馈了办理结果。{note:结果：}",
            bodyEn: "{departmentEn} reported the result of handling your report {number}.{note: Result: }")
        table["case.closed"] = Template(
            titleZh: "您反映的问题已办结：{number}", titleEn: "Your report {number} is closed",
            bodyZh: "您反映的问题（编号 {number}）已办结，请对办理结果进行评价。{note:说明：}",
            bodyEn: "Your report {number} is closed; please tell us whether you are satisfied.{note: Note: }")
        table["case.reopened"] = Template(
            titleZh: "您反映的问题已重新办理：{number}", titleEn: "Your report {number} was reopened",
            bodyZh: "根据您的评价，问题（编号 {number}）已退回“{department}”重新办理。",
            bodyEn: "Following your evaluation, report {number} went back to {departmentEn} to be handled again.")
        return table
    }()

    public static func contains(_ key: String) -> Bool { table[key] != nil }

    /// Renders `key` with `parameters`; an unknown key renders its name (so a typo shows, not a blank).
    public static func render(_ key: String, _ parameters: [String: String]) -> MessageText {
        guard let template = table[key] else { return MessageText(titleZh: key, titleEn: key, bodyZh: key, bodyEn: key) }
        return MessageText(
            titleZh: fill(template.titleZh, parameters), titleEn: fill(template.titleEn, parameters),
            bodyZh: fill(template.bodyZh, parameters), bodyEn: fill(template.bodyEn, parameters))
    }

    /// Replaces `{name}` with the parameter and `{name:prefix}` with prefix + parameter (nothing when absent).
    static func fill(_ text: String, _ parameters: [String: String]) -> String {
        var output = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            output += rest[..<open]
            let inner = rest[rest.index(after: open)..<close]
            let parts = inner.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let value = parameters[String(parts[0])] ?? ""
            if parts.count == 2 {
                if !value.isEmpty { output += parts[1] + value }
            } else {
                output += value
            }
            rest = rest[rest.index(after: close)...]
        }
        return output + rest
    }
}
