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

    public var migrations: [any Migration] {
        [
            CreateApplicationsSchema(), CreateRatings(), CreateNotifications(), CreateAppointments(), CreateAttachments(),
            CreateBundles(), CreateInspections(), CreatePushDevices(),
        ]
    }

    public func boot(_ app: Application) throws {
        let clock = app.clock
        app.workflowObservers.register(ApplicationService.subjectType) { change, tx in
            try await ApplicationService.observe(change, tx: tx, clock: clock)
        }
        app.workflowObservers.registerTimeLimit(ApplicationService.subjectType) { task, instance, level, tx in
            try await Notifier.timeLimitReached(task: task, applicationID: instance.subjectID, level: level, tx: tx, clock: clock)
        }
        app.jobs.register(Notifier.sendJob) { job, app in try await Notifier.deliver(job, app: app) }
        app.jobs.register(AppointmentReminder.job) { job, app in try await AppointmentReminder.run(job, app: app) }
        try app.register(collection: ApplicationsController())
        try app.register(collection: NotificationsController())
        try app.register(collection: PushDevicesController())
        try app.register(collection: HallsController())
        try app.register(collection: AppointmentsController())
        try app.register(collection: AttachmentsController(bodyLimit: app.tongbanConfig.attachmentMaxBytes + 256 * 1024))
        try app.register(collection: BundlesController())
        try app.register(collection: InspectionsController())
        let pages = ApplicationPages(attachmentBodyLimit: app.tongbanConfig.attachmentMaxBytes + 256 * 1024)
        try app.register(collection: pages)
        try app.register(collection: BundlePages(pages: pages))
        try app.register(collection: InspectionPages(pages: pages))
        try app.register(collection: AppointmentPages(pages: pages))
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
        let pushDevice = Schema.object([
            "id": Schema.uuid, "platform": Schema.string, "token": Schema.string, "active": Schema.boolean,
            "createdAt": Schema.dateTime, "lastSentAt": Schema.dateTime,
        ])
        docs.add(APIOperation(.GET, "/api/v1/me/push-devices", summary: "My app devices for push copies (tokens masked)", tag: "notifications",
                              requiresAuth: true, response: Schema.object(["items": Schema.array(pushDevice)]), problems: [401]))
        docs.add(APIOperation(.POST, "/api/v1/me/push-devices", summary: "Register an app device (ios, android, harmony); the same token again answers 200",
                              tag: "notifications", requiresAuth: true,
                              request: Schema.object(["platform": Schema.string, "token": Schema.string], required: ["platform", "token"]),
                              response: pushDevice, success: 201, problems: [400, 401, 409, 422]))
        docs.add(APIOperation(.DELETE, "/api/v1/me/push-devices/{id}", summary: "Remove one of my app devices", tag: "notifications",
                              requiresAuth: true, success: 204, problems: [401, 404]))
        docs.add(APIOperation(.POST, "/api/v1/applications/{id}/urge", summary: "Urge an overdue application", tag: "applications", requiresAuth: true,
                              response: Schema.object(["urgedTasks": Schema.integer]), problems: [401, 404, 409]))
        let attachment = Schema.object([
            "id": Schema.uuid, "applicationId": Schema.uuid, "material": Schema.string, "filename": Schema.string,
            "contentType": Schema.string, "size": Schema.integer, "sha256": Schema.string, "createdAt": Schema.dateTime,
            "downloadUrl": Schema.string,
        ], required: ["id", "sha256", "size"])
        docs.addSchema("Attachment", attachment)
        var upload = APIOperation(.POST, "/api/v1/applications/{id}/attachments",
                                  summary: "Attach a file (multipart/form-data: file, material); PDF, PNG, JPEG or OFD, checked by content",
                                  tag: "applications", requiresAuth: true,
                                  request: Schema.object(["file": ["type": "string", "contentMediaType": "application/octet-stream"], "material": Schema.string], required: ["file"]),
                                  response: Schema.ref("Attachment"), success: 201, problems: [400, 401, 404, 409, 413, 415, 422])
        upload.requestContentType = "multipart/form-data"
        docs.add(upload)
        docs.add(APIOperation(.GET, "/api/v1/applications/{id}/attachments", summary: "The application's files", tag: "applications",
                              requiresAuth: true, response: Schema.page(of: Schema.ref("Attachment")), problems: [401, 404]))
        docs.add(APIOperation(.DELETE, "/api/v1/applications/{id}/attachments/{attachment}", summary: "Remove a file while editable",
                              tag: "applications", requiresAuth: true, success: 204, problems: [401, 404, 409]))
        var download = APIOperation(.GET, "/api/v1/attachments/{attachment}", summary: "Download a file (applicant and handling staff only)",
                                    tag: "applications", requiresAuth: true, response: ["type": "string", "contentMediaType": "application/octet-stream"],
                                    problems: [401, 404, 410])
        download.responseContentType = "application/octet-stream"
        docs.add(download)
        let bundle = Schema.object([
            "id": Schema.uuid, "code": Schema.string, "name": Schema.string, "nameEn": Schema.string,
            "services": Schema.array(Schema.object(["id": Schema.uuid, "code": Schema.string, "name": Schema.string])),
            "form": ["type": "object"], "sharedFields": Schema.array(Schema.string),
        ], required: ["id", "code", "services", "form"])
        docs.addSchema("Bundle", bundle)
        let bundleApplication = Schema.object([
            "id": Schema.uuid, "number": Schema.string, "bundleId": Schema.uuid,
            "status": ["type": "string", "enum": .array(BundleStatus.allCases.map { .string($0.rawValue) })],
            "applications": Schema.array(Schema.object(["id": Schema.uuid, "number": Schema.string, "serviceCode": Schema.string, "status": Schema.string])),
        ], required: ["id", "number", "status", "applications"])
        docs.addSchema("BundleApplication", bundleApplication)
        docs.add(APIOperation(.GET, "/api/v1/bundles", summary: "一件事 bundles with their combined forms", tag: "bundles",
                              response: Schema.page(of: Schema.ref("Bundle"))))
        docs.add(APIOperation(.GET, "/api/v1/bundles/{bundle}", summary: "A bundle by id or code", tag: "bundles",
                              response: Schema.ref("Bundle"), problems: [404]))
        docs.add(APIOperation(.POST, "/api/v1/bundles/{bundle}/applications",
                              summary: "Apply for a bundle with one form; with submit, one sub-application per service, handled in parallel",
                              tag: "bundles", requiresAuth: true,
                              request: Schema.object(["form": ["type": "object"], "submit": Schema.boolean]),
                              response: Schema.ref("BundleApplication"), success: 201, problems: [401, 403, 404, 422]))
        docs.add(APIOperation(.GET, "/api/v1/bundle-applications", summary: "My bundle applications", tag: "bundles", requiresAuth: true,
                              response: Schema.page(of: Schema.ref("BundleApplication")), problems: [401, 422], query: ["limit", "cursor"]))
        docs.add(APIOperation(.GET, "/api/v1/bundle-applications/{id}", summary: "A bundle application: the whole and each part",
                              tag: "bundles", requiresAuth: true, response: Schema.ref("BundleApplication"), problems: [401, 404]))
        docs.add(APIOperation(.POST, "/api/v1/bundle-applications/{id}/submit", summary: "Submit a draft bundle application",
                              tag: "bundles", requiresAuth: true, request: form, response: Schema.ref("BundleApplication"),
                              problems: [401, 404, 409, 422]))
        docs.add(APIOperation(.POST, "/api/v1/bundle-applications/{id}/withdraw", summary: "Withdraw every part still in progress",
                              tag: "bundles", requiresAuth: true, request: form, response: Schema.ref("BundleApplication"),
                              problems: [401, 404, 409]))
        let inspection = Schema.object([
            "id": Schema.uuid, "applicationId": Schema.uuid,
            "status": ["type": "string", "enum": .array(InspectionStatus.allCases.map { .string($0.rawValue) })],
            "scheduledAt": Schema.dateTime, "room": Schema.string, "commitment": Schema.string,
            "commitmentSignedAt": Schema.dateTime, "commitmentDigest": Schema.string,
            "items": Schema.array(Schema.object([
                "code": Schema.string, "label": Schema.string, "photo": Schema.boolean, "evidence": Schema.array(Schema.uuid),
                "result": ["type": "string", "enum": ["pass", "fail"]], "note": Schema.string,
            ])),
            "workingDaysFromSubmission": Schema.integer,
        ], required: ["id", "status", "scheduledAt", "items"])
        docs.addSchema("Inspection", inspection)
        docs.add(APIOperation(.GET, "/api/v1/applications/{id}/inspection", summary: "The site inspection (云现勘) of an application",
                              tag: "inspections", requiresAuth: true, response: Schema.ref("Inspection"), problems: [401, 404]))
        docs.add(APIOperation(.GET, "/api/v1/applications/{id}/inspection/slots", summary: "Free video inspection slots",
                              tag: "inspections", requiresAuth: true, response: Schema.page(of: Schema.dateTime), problems: [401, 404, 409]))
        docs.add(APIOperation(.POST, "/api/v1/applications/{id}/inspection", summary: "Book or move the video inspection",
                              tag: "inspections", requiresAuth: true, request: Schema.object(["at": Schema.dateTime], required: ["at"]),
                              response: Schema.ref("Inspection"), success: 201, problems: [401, 404, 409, 422]))
        docs.add(APIOperation(.POST, "/api/v1/applications/{id}/inspection/commitment", summary: "The applicant signs the commitment",
                              tag: "inspections", requiresAuth: true, response: Schema.ref("Inspection"), problems: [401, 404, 409]))
        docs.add(APIOperation(.POST, "/api/v1/applications/{id}/inspection/result",
                              summary: "The inspector's findings (pass/fail/note per item) and conclusion", tag: "inspections", requiresAuth: true,
                              request: Schema.object([
                                  "items": Schema.array(Schema.object(["code": Schema.string, "result": Schema.string, "note": Schema.string])),
                                  "passed": Schema.boolean, "note": Schema.string,
                              ], required: ["items", "passed"]),
                              response: Schema.ref("Inspection"), problems: [401, 404, 409, 422]))
        docs.add(APIOperation(.GET, "/api/v1/inspections/statistics", summary: "Per service: inspections, passes, working days from submission",
                              tag: "inspections",
                              response: Schema.page(of: Schema.object(["serviceCode": Schema.string, "inspections": Schema.integer, "passed": Schema.integer, "averageWorkingDays": Schema.number]))))
        docs.add(APIOperation(.GET, "/api/v1/progress", summary: "Public progress query by number and ID tail", tag: "applications",
                              response: Schema.object(["number": Schema.string, "status": Schema.string, "submittedAt": Schema.dateTime]),
                              problems: [404, 422], query: ["number", "idTail"]))
    }
}
