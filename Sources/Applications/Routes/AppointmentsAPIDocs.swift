import Foundation
import TongbanCore

/// OpenAPI entries for halls, slots and appointments.
enum AppointmentsAPIDocs {
    static func register(_ docs: APIDocumentation) {
        let period = Schema.object(["start": Schema.string, "end": Schema.string], required: ["start", "end"])
        let window = Schema.object(
            [
                "id": Schema.uuid, "number": Schema.string, "name": Schema.string, "nameEn": Schema.string,
                "departmentIds": Schema.array(Schema.uuid), "serviceIds": Schema.array(Schema.uuid),
                "capacity": Schema.integer,
            ], required: ["id", "number", "name"])
        docs.addSchema(
            "Hall",
            Schema.object(
                [
                    "id": Schema.uuid, "code": Schema.string, "name": Schema.string, "nameEn": Schema.string,
                    "regionId": Schema.uuid, "departmentId": Schema.uuid, "address": Schema.string,
                    "addressEn": Schema.string,
                    "openingHours": Schema.array(period), "slotMinutes": Schema.integer,
                    "windows": Schema.array(window),
                ], required: ["id", "code", "name", "openingHours", "windows"]))
        docs.addSchema(
            "Slot",
            Schema.object(
                [
                    "id": Schema.uuid, "hallId": Schema.uuid, "windowId": Schema.uuid, "windowNumber": Schema.string,
                    "windowName": Schema.string, "date": Schema.string, "startTime": Schema.string,
                    "endTime": Schema.string,
                    "startsAt": Schema.dateTime, "endsAt": Schema.dateTime, "capacity": Schema.integer,
                    "booked": Schema.integer, "remaining": Schema.integer, "available": Schema.boolean,
                ], required: ["id", "hallId", "date", "startTime", "endTime", "capacity", "remaining", "available"]))
        docs.addSchema(
            "Appointment",
            Schema.object(
                [
                    "id": Schema.uuid, "code": Schema.string,
                    "status": ["type": "string", "enum": .array(BookingStatus.allCases.map { .string($0.rawValue) })],
                    "slotId": Schema.uuid, "hallId": Schema.uuid, "hallName": Schema.string,
                    "hallNameEn": Schema.string,
                    "address": Schema.string, "windowId": Schema.uuid, "windowNumber": Schema.string,
                    "windowName": Schema.string, "date": Schema.string, "startTime": Schema.string,
                    "endTime": Schema.string, "startsAt": Schema.dateTime, "endsAt": Schema.dateTime,
                    "serviceId": Schema.uuid, "applicationId": Schema.uuid, "createdAt": Schema.dateTime,
                    "cancelledAt": Schema.dateTime, "checkedAt": Schema.dateTime,
                    "holder": Schema.object(["name": Schema.string, "phone": Schema.string]),
                ], required: ["id", "code", "status", "slotId", "hallId", "date", "startTime", "endTime"]))
        let tag = "appointments"
        docs.add(
            APIOperation(
                .GET, "/api/v1/halls", summary: "Service halls with opening hours and windows", tag: tag,
                response: Schema.page(of: Schema.ref("Hall")), problems: [422], query: ["region", "limit", "cursor"]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/halls/{id}", summary: "One service hall", tag: tag,
                response: Schema.ref("Hall"), problems: [404]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/halls/{id}/slots", summary: "A hall's slots on a day with remaining places", tag: tag,
                response: Schema.page(of: Schema.ref("Slot")), problems: [404, 422],
                query: ["date", "service", "limit", "cursor"]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/halls/{id}/slots", summary: "Create a slot (hall administrators)", tag: tag,
                requiresAuth: true,
                request: Schema.object(
                    [
                        "windowId": Schema.uuid, "date": Schema.string, "startTime": Schema.string,
                        "endTime": Schema.string, "capacity": Schema.integer,
                    ],
                    required: ["date", "startTime", "endTime", "capacity"]),
                response: Schema.ref("Slot"), success: 201, problems: [401, 403, 404, 409, 422]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/halls/{id}/slots/open",
                summary: "Open 30-minute slots from the opening hours on the next working days (hall administrators)",
                tag: tag, requiresAuth: true,
                request: Schema.object(["from": Schema.string, "days": Schema.integer]),
                response: Schema.object(["from": Schema.string, "days": Schema.integer, "opened": Schema.integer]),
                problems: [401, 403, 404, 422]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/halls/{id}/bookings", summary: "A hall's bookings on a day (hall staff)", tag: tag,
                requiresAuth: true, response: Schema.page(of: Schema.ref("Appointment")),
                problems: [401, 403, 404, 422], query: ["date", "status", "limit", "cursor"]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/appointments", summary: "Book a place in a slot", tag: tag, requiresAuth: true,
                request: Schema.object(
                    ["slotId": Schema.uuid, "serviceId": Schema.uuid, "applicationId": Schema.uuid],
                    required: ["slotId"]),
                response: Schema.ref("Appointment"), success: 201, problems: [401, 403, 409, 422]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/appointments", summary: "My appointments, latest first", tag: tag, requiresAuth: true,
                response: Schema.page(of: Schema.ref("Appointment")), problems: [401, 422],
                query: ["status", "limit", "cursor"]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/appointments/{id}", summary: "One appointment (holder or hall staff)", tag: tag,
                requiresAuth: true, response: Schema.ref("Appointment"), problems: [401, 404]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/appointments/{id}/cancel", summary: "Cancel before the appointment starts", tag: tag,
                requiresAuth: true, request: Schema.object(["reason": Schema.string]),
                response: Schema.ref("Appointment"), problems: [401, 404, 409, 422]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/appointments/{id}/reschedule", summary: "Move to another slot (atomic)", tag: tag,
                requiresAuth: true, request: Schema.object(["slotId": Schema.uuid], required: ["slotId"]),
                response: Schema.ref("Appointment"), problems: [401, 404, 409, 422]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/appointments/{id}/attendance", summary: "Mark attended or no-show (hall staff)",
                tag: tag, requiresAuth: true,
                request: Schema.object(
                    ["status": ["type": "string", "enum": ["attended", "no_show"]]], required: ["status"]),
                response: Schema.ref("Appointment"), problems: [401, 403, 404, 409, 422]))
    }
}
