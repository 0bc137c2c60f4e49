import Catalogue
import Fluent
import Foundation
import TongbanCore
import Vapor
import Web

/// Pages for appointments at service halls (办事预约): `/halls`, `/halls/{id}?date=&service=` and
/// `POST /halls/{id}/book` (public pages; booking by a signed-in person), `/me/appointments` with cancel and
/// reschedule, and `/staff/halls/{id}/bookings` with attendance for hall staff. Every action posts a form
/// with the CSRF token, runs ``AppointmentService`` (the same rules as the API) and comes back with a flash.
struct AppointmentPages: RouteCollection {
    let pages: ApplicationPages

    /// Working days offered as links on the date pickers.
    static let dayLinks = 10
    /// Rows shown per day (slots of one hall, bookings of one hall).
    static let rowLimit = 300

    func boot(routes: any RoutesBuilder) throws {
        routes.get("halls", use: halls)
        routes.get("halls", ":id", use: hall)
        routes.post("halls", ":id", "book", use: book)
        routes.get("me", "appointments", use: mine)
        routes.post("me", "appointments", ":id", "cancel", use: cancel)
        routes.get("me", "appointments", ":id", "reschedule", use: reschedulePage)
        routes.post("me", "appointments", ":id", "reschedule", use: reschedule)
        routes.get("staff", "halls", ":id", "bookings", use: staffBookings)
        routes.post("staff", "appointments", ":id", "attendance", use: attendance)
    }

    static let strings = ApplicationsModule.appointmentPageStrings

    func s(_ req: Request, _ key: String) -> String { Strings.localised(Self.strings, key, req) }

    func service(_ req: Request) -> AppointmentService { AppointmentService(app: req.application, db: req.db) }

    func english(_ req: Request) -> Bool { req.preferences.language == .en }

    // MARK: Shared view models

    /// One day on a date picker.
    struct DayLink: Encodable, Sendable {
        var href: String
        var label: String
        var current: Bool
    }

    /// A `GET` form with a labelled date input, plus links for the next working days.
    struct DatePicker: Encodable, Sendable {
        var action: String
        var date: String
        /// Bounds of the date input (none on the staff page, which also looks back).
        var min: String?
        var max: String?
        var service: String?
        var days: [DayLink]
        var error: String?
    }

    /// A slot as a table row.
    struct SlotRow: Encodable, Sendable {
        var id: String
        var time: String
        var window: String
        var remaining: String
        /// `available`, `full`, `past` or `current` (the booking being moved).
        var state: String
        var stateLabel: String
        /// Time and window, for the accessible name of the row's button.
        var label: String
    }

    /// The slots of one day and what a visitor can do with them: `book`, `move`, `login` or `none`.
    struct SlotTable: Encodable, Sendable {
        var caption: String
        var heading: String
        var rows: [SlotRow]
        var mode: String
        var action: String
        var button: String
        var loginHref: String
        var serviceId: String?
        var date: String
        var truncated: String?
    }

    // MARK: Helpers

    func hallID(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw AppointmentService.hallNotFound }
        return id
    }

    func bookingID(_ req: Request) throws -> UUID {
        guard let id = req.parameters.get("id", as: UUID.self) else { throw AppointmentService.bookingNotFound }
        return id
    }

    static func encoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    /// `path?date=…&service=…`, leaving out what is nil.
    static func link(_ path: String, date: LocalDate?, service: UUID? = nil) -> String {
        var query: [String] = []
        if let date { query.append("date=\(date)") }
        if let service { query.append("service=\(service.uuidString)") }
        return query.isEmpty ? path : path + "?" + query.joined(separator: "&")
    }

    /// The login page, coming back to `next` afterwards.
    static func loginLink(_ next: String) -> String { "/login?next=" + encoded(next) }

    /// `2026-03-02 周一`.
    func dayLabel(_ req: Request, _ date: LocalDate) -> String { "\(date) \(s(req, "weekday_\(date.weekday)"))" }

    /// `周一 03-02`.
    func shortDayLabel(_ req: Request, _ date: LocalDate) -> String {
        "\(s(req, "weekday_\(date.weekday)")) \(String(date.description.dropFirst(5)))"
    }

    func windowLabel(_ req: Request, _ window: HallWindow?) -> String {
        guard let window else { return s(req, "hall_wide") }
        return String(format: s(req, "window_label_format"), window.number, english(req) ? window.nameEn : window.name)
    }

    func hours(_ req: Request, _ hall: Hall) -> String {
        let periods = hall.openingHours.map { "\($0.start)–\($0.end)" }.joined(separator: english(req) ? ", " : "、")
        return english(req) ? "\(periods) (\(s(req, "hall_hours_days")))" : "\(periods)（\(s(req, "hall_hours_days"))）"
    }

    /// The next working days a hall can be visited, from today on (today only while the hall is still open).
    func upcomingDays(_ req: Request, hall: Hall) -> [LocalDate] {
        let now = req.application.clock.now()
        let today = LocalDate(now)
        let openToday = hall.openingHours.map(\.end).max().map { $0.instant(on: today) > now } ?? false
        var days: [LocalDate] = []
        var date = openToday ? today : today.adding(days: 1)
        while days.count < Self.dayLinks && date.dayNumber - today.dayNumber < 60 {
            if WorkingCalendar.china.isWorkingDay(date) { days.append(date) }
            date = date.adding(days: 1)
        }
        return days
    }

    /// The date asked for in `?date=`, else `fallback`; the error message for a malformed date.
    func requestedDate(_ req: Request, fallback: LocalDate) -> (LocalDate, String?) {
        guard let raw = req.query[String.self, at: "date"], !raw.isEmpty else { return (fallback, nil) }
        guard let date = LocalDate(raw) else { return (fallback, s(req, "date_invalid")) }
        return (date, nil)
    }

    func picker(
        _ req: Request, action: String, date: LocalDate, days: [LocalDate], service: UUID?, error: String?,
        bounded: Bool = true
    ) -> DatePicker {
        let today = LocalDate(req.application.clock.now())
        return DatePicker(
            action: action, date: date.description, min: bounded ? today.description : nil,
            max: bounded ? today.adding(days: AppointmentService.maxOpenDays).description : nil,
            service: service?.uuidString,
            days: days.map {
                DayLink(
                    href: Self.link(action, date: $0, service: service), label: shortDayLabel(req, $0),
                    current: $0 == date)
            }, error: error)
    }

    /// Rows for `slots`; `current` marks the slot of the booking being moved.
    func slotRows(_ req: Request, _ slots: [AppointmentSlot], current: UUID? = nil) async throws -> [SlotRow] {
        let windows = try await AppointmentViews.windowsByID(Set(slots.compactMap(\.windowID)), db: req.db)
        let now = req.application.clock.now()
        // By time, then by window number (the service orders equal times by id).
        let ordered = slots.prefix(Self.rowLimit).sorted { a, b in
            if a.startsAt != b.startsAt { return a.startsAt < b.startsAt }
            return (a.windowID.flatMap { windows[$0]?.number } ?? "")
                < (b.windowID.flatMap { windows[$0]?.number } ?? "")
        }
        return try ordered.map { slot in
            let id = try slot.requireID()
            let state: String
            if id == current {
                state = "current"
            } else if slot.startsAt <= now {
                state = "past"
            } else if slot.remaining == 0 {
                state = "full"
            } else {
                state = "available"
            }
            let stateLabel = state == "available" ? "" : s(req, "slot_\(state)")
            let time = "\(slot.startTime)–\(slot.endTime)"
            let window = windowLabel(req, slot.windowID.flatMap { windows[$0] })
            return SlotRow(
                id: id.uuidString, time: time, window: window,
                remaining: String(format: s(req, "remaining_format"), slot.remaining), state: state,
                stateLabel: stateLabel, label: "\(time) \(window)")
        }
    }

    /// A problem's message for a page: localised by type or by field, else its detail.
    func message(_ req: Request, _ problem: Problem) -> String {
        if problem.status == .forbidden { return s(req, "problem_appointment_forbidden") }
        if !problem.errors.isEmpty {
            var seen: [String] = []
            for error in problem.errors {
                let key = "field_error_\(error.field)"
                let text = s(req, key)
                let line = text == key ? "\(error.field)：\(error.message)" : text
                if !seen.contains(line) { seen.append(line) }
            }
            return seen.joined(separator: " ")
        }
        let key =
            "problem_"
            + problem.type.replacingOccurrences(of: "/problems/", with: "").replacingOccurrences(of: "-", with: "_")
        let localised = s(req, key)
        return localised == key ? (problem.detail ?? problem.title) : localised
    }

    /// Whether the signed-in visitor is staff of `hall` (and may open its bookings page).
    func canSee(_ req: Request, _ hall: Hall, _ principal: Principal?) async throws -> Bool {
        guard let principal else { return false }
        return try await service(req).canSee(hall, principal)
    }

    func bookingStatus(_ req: Request, _ status: BookingStatus) -> String {
        s(req, "appointment_status_\(status.rawValue)")
    }
}
