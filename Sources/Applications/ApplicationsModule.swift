import Catalogue
import Fluent
import Foundation
import Identity
import TongbanCore
import Vapor
import Workflow

/// Applications: drafts, submission into the service's process, corrections, withdrawal, progress query;
/// appointments at service halls.
public struct ApplicationsModule: TongbanModule {
    public let name = "applications"

    public init() {}

    public var migrations: [any Migration] { [CreateApplicationsSchema(), CreateRatings(), CreateNotifications(), CreateAppointments()] }

    public func boot(_ app: Application) throws {
        let clock = app.clock
        app.workflowObservers.register(ApplicationService.subjectType) { change, tx in
            try await ApplicationService.observe(change, tx: tx, clock: clock)
        }
        app.jobs.register(Notifier.sendJob) { job, app in try await Notifier.deliver(job, app: app) }
        app.jobs.register(AppointmentReminder.job) { job, app in try await AppointmentReminder.run(job, app: app) }
        try app.register(collection: ApplicationsController())
        try app.register(collection: NotificationsController())
        try app.register(collection: HallsController())
        try app.register(collection: AppointmentsController())
        ApplicationsAPIDocs.register(app.apiDocumentation)
        AppointmentsAPIDocs.register(app.apiDocumentation)
    }

    public func seedDemo(on app: Application, options: DemoOptions) async throws {
        try await ApplicationsDemo(app: app, options: options).load()
        try await AppointmentsDemo(app: app, options: options).load()
    }
}

enum ApplicationsAPIDocs {
    static func register(_ docs: APIDocumentation) {
        let application = Schema.object(
            [
                "id": Schema.uuid, "number": Schema.string, "serviceId": Schema.uuid, "serviceCode": Schema.string,
                "status": [
                    "type": "string",
                    "enum": .array(ApplicationStatus.allCases.map { .string($0.rawValue) }),
                ],
                "form": ["type": "object"], "submittedAt": Schema.dateTime, "decidedAt": Schema.dateTime,
                "timeline": Schema.array(Schema.object(["at": Schema.dateTime, "action": Schema.string, "node": Schema.string, "comment": Schema.string])),
            ], required: ["id", "number", "status"])
        docs.addSchema("Application", application)
        let form = Schema.object(["form": ["type": "object"], "reason": Schema.string])
        docs.add(APIOperation(.POST, "/api/v1/applications", summary: "Create (and optionally submit) an application", tag: "applications", requiresAuth: true,
                              request: Schema.object(["serviceId": Schema.uuid, "form": ["type": "object"], "submit": Schema.boolean], required: ["serviceId"]),
                              response: Schema.ref("Application"), success: 201, problems: [401, 403, 422]))
        docs.add(APIOperation(.GET, "/api/v1/applications", summary: "My applications", tag: "applications", requiresAuth: true,
                              response: Schema.page(of: Schema.ref("Application")), problems: [401, 422], query: ["limit", "cursor"]))
        docs.add(APIOperation(.GET, "/api/v1/applications/{id}", summary: "An application with its timeline", tag: "applications", requiresAuth: true,
                              response: Schema.ref("Application"), problems: [401, 404]))
        docs.add(APIOperation(.POST, "/api/v1/applications/{id}/submit", summary: "Submit a draft", tag: "applications", requiresAuth: true,
                              request: form, response: Schema.ref("Application"), problems: [401, 404, 409, 422]))
        docs.add(APIOperation(.POST, "/api/v1/applications/{id}/resubmit", summary: "Answer a correction", tag: "applications", requiresAuth: true,
                              request: form, response: Schema.ref("Application"), problems: [401, 404, 409, 422]))
        docs.add(APIOperation(.POST, "/api/v1/applications/{id}/withdraw", summary: "Withdraw before a decision", tag: "applications", requiresAuth: true,
                              request: form, response: Schema.ref("Application"), problems: [401, 404, 409]))
        docs.add(APIOperation(.POST, "/api/v1/applications/{id}/rating", summary: "Rate a decided application once (1–5)", tag: "applications", requiresAuth: true,
                              request: Schema.object(["score": Schema.integer, "comment": Schema.string], required: ["score"]),
                              response: Schema.object(["id": Schema.uuid, "score": Schema.integer, "rectification": Schema.boolean]), success: 201, problems: [401, 404, 409, 422]))
        docs.add(APIOperation(.GET, "/api/v1/ratings/statistics", summary: "Published rating statistics per department", tag: "applications",
                              response: Schema.page(of: Schema.object(["departmentId": Schema.uuid, "count": Schema.integer, "average": Schema.number, "scores": Schema.array(Schema.integer), "badReviews": Schema.integer, "rectified": Schema.integer])),
                              problems: [422], query: ["service"]))
        docs.add(APIOperation(.GET, "/api/v1/notifications", summary: "My in-app notifications, newest first", tag: "notifications", requiresAuth: true,
                              response: Schema.page(of: Schema.object(["id": Schema.uuid, "title": Schema.string, "body": Schema.string, "read": Schema.boolean])),
                              problems: [401, 422], query: ["unread", "limit", "cursor"]))
        docs.add(APIOperation(.POST, "/api/v1/notifications/{id}/read", summary: "Mark a notification read", tag: "notifications", requiresAuth: true,
                              success: 204, problems: [401, 404]))
        docs.add(APIOperation(.POST, "/api/v1/applications/{id}/urge", summary: "Urge an overdue application", tag: "applications", requiresAuth: true,
                              response: Schema.object(["urgedTasks": Schema.integer]), problems: [401, 404, 409]))
        docs.add(APIOperation(.GET, "/api/v1/progress", summary: "Public progress query by number and ID tail", tag: "applications",
                              response: Schema.object(["number": Schema.string, "status": Schema.string, "submittedAt": Schema.dateTime]),
                              problems: [404, 422], query: ["number", "idTail"]))
    }
}
