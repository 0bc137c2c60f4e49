import Web

extension ApplicationsModule {
    /// Strings of the appointment pages (办事预约), zh-CN and English; merged over ``strings``.
    public static let appointmentStrings = StringTable([
        "halls_title": ("办事预约", "Book an appointment"),
        "halls_intro": (
            "先在网上预约到大厅办事的时间，到场后凭预约码在对应窗口办理，不用排队取号。",
            "Book a time to visit a service hall; on the day, give your booking code at the window instead of queueing."
        ),
        "halls_empty": ("暂无可预约的办事大厅。", "No service hall takes appointments yet."),
        "halls_my": ("查看我的预约", "See my appointments"),
        "hall_address": ("地址", "Address"),
        "hall_hours": ("办公时间", "Opening hours"),
        "hall_hours_days": ("工作日", "working days"),
        "hall_windows": ("服务窗口", "Windows"),
        "hall_choose": ("选择时间预约", "Choose a time"),
        "hall_staff_link": ("查看本大厅预约（工作人员）", "Bookings at this hall (staff)"),
        "window_label_format": ("%@ 号窗口 %@", "Window %@, %@"),
        "hall_wide": ("综合窗口", "Any window"),
        "date_choose": ("选择日期", "Date"),
        "date_show": ("查看", "Show"),
        "date_days": ("近期工作日", "Next working days"),
        "date_invalid": ("日期格式不正确，请按“年-月-日”选择日期。", "That is not a date: choose one as year-month-day."),
        "slots_title_format": ("%@ 可预约时段", "Times on %@"),
        "slots_empty": ("当天没有可预约的时段，请选择其他日期。", "No times can be booked on this day; choose another date."),
        "slots_caption_format": ("%@ 的预约时段", "Appointment times on %@"),
        "slots_truncated": ("只显示了前 %d 个时段。", "Only the first %d times are shown."),
        "col_time": ("时间", "Time"),
        "col_window": ("窗口", "Window"),
        "col_remaining": ("剩余名额", "Places left"),
        "col_code": ("预约码", "Booking code"),
        "col_hall": ("办事大厅", "Service hall"),
        "col_holder": ("预约人", "Name"),
        "col_phone": ("手机号码", "Phone"),
        "remaining_format": ("剩余 %d 个", "%d left"),
        "slot_full": ("已约满", "Full"),
        "slot_past": ("已过时", "Past"),
        "slot_current": ("当前预约", "Your current time"),
        "book": ("预约", "Book"),
        "book_login": ("登录后预约", "Sign in to book"),
        "book_login_hint": ("预约需要先登录。", "Sign in to book a time."),
        "book_staff_hint": ("工作人员账号不能预约，请使用个人账号。", "Staff accounts cannot book; use a personal account."),
        "service_filter_format": ("只显示办理“%@”的窗口。", "Only windows that handle “%@” are shown."),
        "service_filter_all": ("显示全部窗口", "Show every window"),
        "service_invalid": (
            "所选事项不存在或未发布，已显示全部窗口。", "That service does not exist or is not published; every window is shown."
        ),
        "appointments_title": ("我的预约", "My appointments"),
        "appointments_empty": ("您还没有预约。", "You have no appointments yet."),
        "appointments_new": ("预约到大厅办事", "Book a visit to a service hall"),
        "appointment_status_booked": ("已预约", "Booked"),
        "appointment_status_cancelled": ("已取消", "Cancelled"),
        "appointment_status_attended": ("已到场", "Attended"),
        "appointment_status_no_show": ("未到场", "Missed"),
        "cancel_reason": ("取消原因（可选）", "Reason (optional)"),
        "cancel_appointment": ("取消预约", "Cancel"),
        "reschedule": ("改约", "Change time"),
        "reschedule_title_format": ("改约：预约码 %@", "Change the time of booking %@"),
        "reschedule_current": ("当前预约", "Current appointment"),
        "reschedule_intro": (
            "选择同一大厅的其他时段。改约成功前，原预约保持不变；预约码不变。",
            "Choose another time at the same hall. Your current time is kept until the change succeeds; the code stays the same."
        ),
        "reschedule_to": ("改到此时段", "Move here"),
        "reschedule_back": ("返回我的预约", "Back to my appointments"),
        "flash_booked_format": (
            "预约成功：%@ %@，%@。预约码 %@，请到场时出示。",
            "Booked: %@ %@, %@. Your booking code is %@; show it at the hall."
        ),
        "flash_cancelled": ("预约已取消，名额已释放。", "Appointment cancelled; the place is free again."),
        "flash_rescheduled_format": ("已改约到 %@ %@，预约码 %@ 不变。", "Moved to %@ %@; the booking code %@ stays the same."),
        "flash_not_changeable": (
            "该预约已开始或已结束，不能取消或改约。", "This appointment has started or ended; it can no longer be changed."
        ),
        "flash_attended_format": ("预约码 %@：已标记到场。", "Booking %@ marked as attended."),
        "flash_no_show_format": ("预约码 %@：已标记未到场。", "Booking %@ marked as missed."),
        "flash_slot_elsewhere": ("该时段不属于这个大厅，请重新选择。", "That time belongs to another hall; choose again."),
        "flash_slot_choose": ("请选择一个时段。", "Choose a time."),
        "staff_bookings_title_format": ("%@：预约名单", "%@: bookings"),
        "staff_bookings_caption_format": ("%@ 的预约", "Bookings on %@"),
        "staff_bookings_empty": ("当天没有预约。", "No bookings on this day."),
        "staff_previous_day": ("前一天", "Previous day"),
        "staff_next_day": ("后一天", "Next day"),
        "staff_today": ("今天", "Today"),
        "staff_day_nav": ("切换日期", "Change day"),
        "mark_attended": ("到场", "Attended"),
        "mark_no_show": ("未到场", "Missed"),
        "weekday_1": ("周一", "Mon"),
        "weekday_2": ("周二", "Tue"),
        "weekday_3": ("周三", "Wed"),
        "weekday_4": ("周四", "Thu"),
        "weekday_5": ("周五", "Fri"),
        "weekday_6": ("周六", "Sat"),
        "weekday_7": ("周日", "Sun"),
        "problem_slot_full": ("该时段已约满，请选择其他时段。", "That time is full; choose another."),
        "problem_appointment_overlap": (
            "您在这个时间已有其他预约，请先取消或改约。",
            "You already have an appointment at that time; cancel or change it first."
        ),
        "problem_appointment_not_active": (
            "该预约已取消或已办理，不能再更改。", "This appointment is no longer booked; it cannot be changed."
        ),
        "problem_appointment_started": (
            "预约时间已到，不能取消或改约。", "The appointment's time has come; it can no longer be cancelled or moved."
        ),
        "problem_appointment_not_due": ("还未到可以登记的时间。", "It is too early to record this."),
        "problem_appointment_forbidden": ("工作人员账号不能预约，请使用个人账号。", "Staff accounts cannot book; use a personal account."),
        "field_error_slotId": (
            "所选时段无效或已过时，请重新选择。", "That time cannot be booked (unknown or already past); choose again."
        ),
        "field_error_serviceId": (
            "所选窗口不办理该事项，请选择其他时段。", "That window does not handle this service; choose another time."
        ),
        "field_error_reason": ("取消原因最多 500 个字。", "The reason can have at most 500 characters."),
    ])

    /// The application strings with the appointment strings over them.
    static let appointmentPageStrings = strings.merging(appointmentStrings)
}
