import TongbanCore

/// OpenAPI descriptions of the catalogue routes.
enum CatalogueAPIDocs {
    static func register(_ docs: APIDocumentation) {
        let department = Schema.object(["id": Schema.uuid, "code": Schema.string, "name": Schema.string, "nameEn": Schema.string])
        docs.addSchema(
            "ServiceSummary",
            Schema.object(
                [
                    "id": Schema.uuid, "code": Schema.string, "name": Schema.string, "nameEn": Schema.string,
                    "department": department, "category": Schema.string, "audience": Schema.array(Schema.string),
                    "caseKind": Schema.string, "promisedDays": Schema.integer, "statutoryDays": Schema.integer,
                    "onlineDepth": Schema.integer, "visits": Schema.integer, "zones": Schema.array(Schema.string),
                    "published": Schema.boolean,
                ], required: ["id", "code", "name", "nameEn"]))
        let field = Schema.object([
            "name": Schema.string, "label": Schema.string, "labelEn": Schema.string,
            "type": ["type": "string", "enum": ["text", "number", "date", "choice", "idNumber", "uscc", "phone", "file"]],
            "required": Schema.boolean, "min": Schema.number, "max": Schema.number, "pattern": Schema.string,
            "options": Schema.array(Schema.object(["value": Schema.string, "label": Schema.string, "labelEn": Schema.string])),
        ])
        let serviceInput = Schema.object(
            [
                "code": Schema.string, "name": Schema.string, "nameEn": Schema.string, "department": Schema.string,
                "region": Schema.string, "category": ["type": "string", "enum": ["01", "05", "07", "08", "09", "10", "20"]],
                "audience": Schema.array(["type": "string", "enum": ["person", "enterprise"]]),
                "caseKind": ["type": "string", "enum": ["immediate", "promised"]], "statutoryDays": Schema.integer,
                "promisedDays": Schema.integer, "feeYuan": Schema.number, "feeNote": Schema.string,
                "conditions": Schema.string, "legalBasis": Schema.string,
                "materials": Schema.array(
                    Schema.object([
                        "name": Schema.string, "nameEn": Schema.string, "required": Schema.boolean, "form": Schema.string,
                        "copies": Schema.integer, "licenceType": Schema.string,
                    ])),
                "steps": Schema.array(Schema.object(["name": Schema.string, "nameEn": Schema.string, "description": Schema.string])),
                "onlineDepth": Schema.integer, "visits": Schema.integer, "crossRegion": Schema.string,
                "zones": Schema.array(Schema.string), "keywords": Schema.array(Schema.string), "popularity": Schema.integer,
                "form": Schema.object(["fields": Schema.array(field)]),
            ], required: ["code", "name", "nameEn", "department", "category", "audience", "caseKind", "statutoryDays", "promisedDays"])
        docs.addSchema("ServiceInput", serviceInput)
        docs.addSchema("Service", Schema.object(["id": Schema.uuid, "version": Schema.integer, "published": Schema.boolean]))
        let filters = ["q", "zone", "department", "audience", "category", "limit", "cursor"]
        docs.add(
            APIOperation(
                .GET, "/api/v1/services", summary: "Search published services (Chinese full-text)", tag: "catalogue",
                response: Schema.page(of: Schema.ref("ServiceSummary")), problems: [422], query: filters))
        docs.add(
            APIOperation(
                .GET, "/api/v1/services/{id}", summary: "A service and its guide", tag: "catalogue",
                response: Schema.ref("Service"), problems: [404]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/zones", summary: "Theme zones and life events", tag: "catalogue",
                response: Schema.page(of: Schema.object(["code": Schema.string, "name": Schema.string, "serviceCount": Schema.integer]))))
        docs.add(
            APIOperation(
                .GET, "/api/v1/admin/services", summary: "All services incl. unpublished (editors)", tag: "admin",
                requiresAuth: true, response: Schema.page(of: Schema.ref("ServiceSummary")), problems: [401, 403, 422],
                query: filters))
        docs.add(
            APIOperation(
                .POST, "/api/v1/admin/services", summary: "Create a service (unpublished, version 1)", tag: "admin",
                requiresAuth: true, request: Schema.ref("ServiceInput"), response: Schema.ref("Service"), success: 201,
                problems: [401, 403, 422]))
        docs.add(
            APIOperation(
                .PUT, "/api/v1/admin/services/{id}", summary: "Replace a service guide (new version)", tag: "admin",
                requiresAuth: true, request: Schema.ref("ServiceInput"), response: Schema.ref("Service"),
                problems: [401, 403, 404, 422]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/admin/services/{id}/publish", summary: "Publish a service", tag: "admin",
                requiresAuth: true, response: Schema.ref("Service"), problems: [401, 403, 404]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/admin/services/{id}/unpublish", summary: "Withdraw a service", tag: "admin",
                requiresAuth: true, response: Schema.ref("Service"), problems: [401, 403, 404]))
    }
}
