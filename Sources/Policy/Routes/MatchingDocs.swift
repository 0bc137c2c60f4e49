import TongbanCore
import Vapor

extension PolicyModule {
    /// OpenAPI entries of versioned edits, dry runs, batch matching, notices, subscriptions and profile imports.
    static func documentMatching(_ docs: APIDocumentation) {
        let condition = Schema.object(["text": Schema.string, "textEn": Schema.string, "expression": Schema.string])
        let revision = Schema.object([
            "title": Schema.string, "titleEn": Schema.string, "issuer": Schema.string, "issuerEn": Schema.string,
            "conditions": Schema.array(condition), "amountExpression": Schema.string, "validFrom": Schema.string,
            "validUntil": Schema.string, "mode": Schema.string, "tags": Schema.array(Schema.string),
        ])
        let runSummary = Schema.object([
            "mode": Schema.string, "profiles": Schema.integer, "items": Schema.integer, "evaluations": Schema.integer,
            "newMatches": Schema.integer, "changed": Schema.integer, "removed": Schema.integer, "notices": Schema.integer,
            "seconds": Schema.number,
        ])
        let dryRun = Schema.object([
            "source": Schema.string, "profiles": Schema.integer, "eligible": Schema.integer, "totalAmount": Schema.number,
            "amountErrors": Schema.integer, "milliseconds": Schema.number,
            "conditions": Schema.array(Schema.object([
                "text": Schema.string, "expression": Schema.string, "passed": Schema.integer, "failed": Schema.integer,
                "missing": Schema.integer,
            ])),
            "examples": Schema.array(Schema.object(["creditCode": Schema.string, "name": Schema.string, "amount": Schema.number])),
        ])
        let notice = Schema.object([
            "id": Schema.uuid, "kind": Schema.string, "creditCode": Schema.string, "itemId": Schema.uuid, "itemCode": Schema.string,
            "itemVersion": Schema.integer, "title": Schema.string, "titleEn": Schema.string, "amount": Schema.number,
            "tag": Schema.string, "createdAt": Schema.dateTime, "readAt": Schema.dateTime,
        ])
        let importSummary = Schema.object([
            "rows": Schema.integer, "created": Schema.integer, "updated": Schema.integer, "unchanged": Schema.integer,
            "tagged": Schema.object([:]), "matching": runSummary,
        ])
        let subscriptions = Schema.object(["tags": Schema.array(Schema.string)], required: ["tags"])
        docs.add(APIOperation(
            .PUT, "/api/v1/policy/items/{id}",
            summary: "Edit an item (policy staff): a draft changes in place; a published item gets a pending revision",
            tag: "policy", requiresAuth: true, request: revision, response: Schema.ref("PolicyItem"), problems: [400, 401, 403, 404, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/policy/items/{id}/versions", summary: "Every published version of an item, newest first", tag: "policy",
            response: Schema.array(Schema.object([
                "version": Schema.integer, "publishedAt": Schema.dateTime, "publishedBy": Schema.uuid, "revision": revision,
            ])), problems: [404]))
        docs.add(APIOperation(
            .POST, "/api/v1/policy/dry-run",
            summary: "Dry-run rules over every stored enterprise profile (or sample profiles): counts per condition, eligible, amounts",
            tag: "policy", requiresAuth: true,
            request: Schema.object([
                "conditions": Schema.array(condition), "amountExpression": Schema.string, "profiles": Schema.array(Schema.object([:])),
            ], required: ["conditions"]),
            response: dryRun, problems: [400, 401, 403, 422]))
        docs.add(APIOperation(
            .POST, "/api/v1/policy/items/{id}/dry-run", summary: "Dry-run an item's pending revision (or live rules)", tag: "policy",
            requiresAuth: true, response: dryRun, problems: [401, 403, 404, 409, 422]))
        docs.add(APIOperation(
            .POST, "/api/v1/policy/matching/run",
            summary: "Batch matching: incremental (changed items and profiles since the last run) or full; writes differences, pushes notices",
            tag: "policy", requiresAuth: true, request: Schema.object(["mode": Schema.string, "notify": Schema.boolean]), response: runSummary,
            problems: [400, 401, 403, 422]))
        docs.add(APIOperation(
            .GET, "/api/v1/policy/matching/runs", summary: "The last 20 matching runs (policy staff)", tag: "policy", requiresAuth: true,
            response: Schema.array(Schema.object([:])), problems: [401, 403]))
        docs.add(APIOperation(
            .GET, "/api/v1/policy/items/{id}/matches", summary: "Enterprises eligible for an item after the last run (policy staff)",
            tag: "policy", requiresAuth: true,
            response: Schema.object([
                "total": Schema.integer, "totalAmount": Schema.number, "nextCursor": Schema.string,
                "items": Schema.array(Schema.object([
                    "creditCode": Schema.string, "name": Schema.string, "itemVersion": Schema.integer, "amount": Schema.number,
                    "matchedAt": Schema.dateTime,
                ])),
            ]), problems: [401, 403, 404, 422], query: ["limit", "cursor"]))
        docs.add(APIOperation(
            .GET, "/api/v1/policy/notices",
            summary: "Policy push notices: the enterprise's (X-Acting-For) and the caller's subscriptions", tag: "policy",
            requiresAuth: true, response: Schema.page(of: notice), problems: [401, 422], query: ["unread", "limit", "cursor"]))
        docs.add(APIOperation(
            .POST, "/api/v1/policy/notices/{id}/read", summary: "Mark a notice read", tag: "policy", requiresAuth: true,
            response: notice, problems: [401, 404]))
        docs.add(APIOperation(
            .GET, "/api/v1/policy/subscriptions", summary: "The tags the caller follows", tag: "policy", requiresAuth: true,
            response: subscriptions, problems: [401]))
        docs.add(APIOperation(
            .PUT, "/api/v1/policy/subscriptions", summary: "Follow policy updates by tag (replaces the list)", tag: "policy",
            requiresAuth: true, request: subscriptions, response: subscriptions, problems: [400, 401, 422]))
        docs.add(APIOperation(
            .POST, "/api/v1/policy/profiles/import",
            summary: "Import enterprise profiles (JSON array, or text/csv with a header row); all rows valid or nothing stored",
            tag: "policy", requiresAuth: true, request: Schema.array(Schema.object([:])), response: importSummary,
            problems: [400, 401, 403, 422]))
        docs.add(APIOperation(
            .POST, "/api/v1/policy/profiles/sync",
            summary: "Fill enterprise profiles from shared data (registration, annual reports, tax credit, tax paid, high-tech qualification)",
            tag: "policy", requiresAuth: true, request: Schema.object(["creditCodes": Schema.array(Schema.string)]),
            response: Schema.object([
                "enterprises": Schema.integer, "imported": importSummary,
                "sources": Schema.array(Schema.object(["resource": Schema.string, "resourceName": Schema.string, "rows": Schema.integer])),
            ]), problems: [400, 401, 403, 422]))
        docs.add(APIOperation(
            .PUT, "/api/v1/policy/profiles/{uscc}", summary: "Create or update one enterprise profile (fields sent replace stored ones)",
            tag: "policy", requiresAuth: true, request: Schema.object([:]), response: importSummary, problems: [400, 401, 403, 422]))
    }
}
