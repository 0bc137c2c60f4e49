import TongbanCore

/// OpenAPI descriptions of the identity routes.
enum IdentityAPIDocs {
    static func register(_ docs: APIDocumentation) {
        docs.addSchema(
            "Profile",
            Schema.object(
                [
                    "id": Schema.uuid, "username": Schema.string, "kind": ["type": "string", "enum": ["person", "staff"]],
                    "name": Schema.string, "idNumber": ["type": ["string", "null"], "description": "masked"],
                    "phone": ["type": ["string", "null"], "description": "masked"], "email": ["type": ["string", "null"], "description": "masked"], "birthDate": ["type": ["string", "null"]],
                    "roles": Schema.array(Schema.object(["role": Schema.string, "departmentId": Schema.uuid])),
                    "enterprises": Schema.array(Schema.ref("Enterprise")),
                ], required: ["id", "username", "kind", "name"]))
        docs.addSchema(
            "Enterprise",
            Schema.object(
                ["id": Schema.uuid, "name": Schema.string, "creditCode": Schema.string, "role": Schema.string],
                required: ["id", "name", "creditCode"]))
        docs.addSchema(
            "Tokens",
            Schema.object(
                [
                    "accessToken": Schema.string, "tokenType": Schema.string, "expiresIn": Schema.integer,
                    "refreshToken": Schema.string,
                ], required: ["accessToken", "tokenType", "expiresIn", "refreshToken"]))
        let region = Schema.object([
            "id": Schema.uuid, "code": Schema.string, "name": Schema.string, "nameEn": Schema.string,
            "level": ["type": "string", "enum": ["province", "city", "district", "street", "community", "grid"]],
            "parentId": ["type": ["string", "null"]],
        ])
        let department = Schema.object([
            "id": Schema.uuid, "code": Schema.string, "name": Schema.string, "nameEn": Schema.string, "regionId": Schema.uuid,
        ])
        docs.add(
            APIOperation(
                .POST, "/api/v1/auth/register", summary: "Register a person account", tag: "identity",
                request: Schema.object(
                    [
                        "username": Schema.string, "password": Schema.string, "name": Schema.string,
                        "idNumber": Schema.string, "phone": Schema.string, "email": Schema.string,
                    ], required: ["username", "password", "name", "idNumber", "phone"]),
                response: Schema.ref("Profile"), success: 201, problems: [422]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/auth/login", summary: "Sign in and receive tokens", tag: "identity",
                request: Schema.object(["username": Schema.string, "password": Schema.string], required: ["username", "password"]),
                response: Schema.ref("Tokens"), problems: [401, 422, 423, 429]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/auth/refresh", summary: "Rotate a refresh token", tag: "identity",
                request: Schema.object(["refreshToken": Schema.string], required: ["refreshToken"]),
                response: Schema.ref("Tokens"), problems: [401, 422]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/auth/logout", summary: "Revoke refresh tokens", tag: "identity", requiresAuth: true,
                success: 204, problems: [401]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/me", summary: "The caller's profile (masked)", tag: "identity", requiresAuth: true,
                response: Schema.ref("Profile"), problems: [401]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/enterprises", summary: "Register an enterprise", tag: "identity", requiresAuth: true,
                request: Schema.object(
                    ["name": Schema.string, "creditCode": Schema.string, "role": Schema.string],
                    required: ["name", "creditCode"]),
                response: Schema.ref("Enterprise"), success: 201, problems: [401, 403, 422]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/enterprises/{id}", summary: "An enterprise and its members (members only)",
                tag: "identity", requiresAuth: true, response: Schema.ref("Enterprise"), problems: [401, 404]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/enterprises/{id}/members", summary: "Add a member (legal representative only)",
                tag: "identity", requiresAuth: true,
                request: Schema.object(["username": Schema.string, "role": Schema.string], required: ["username", "role"]),
                success: 204, problems: [401, 403, 404, 409, 422]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/regions", summary: "Regions (flat list)", tag: "directory", response: Schema.page(of: region),
                problems: [422], query: ["level", "parent", "limit", "cursor"]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/departments", summary: "Departments", tag: "directory", response: Schema.page(of: department),
                problems: [422], query: ["region", "limit", "cursor"]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/admin/regions", summary: "Create a region (system admin)", tag: "admin", requiresAuth: true,
                request: Schema.object(
                    [
                        "code": Schema.string, "name": Schema.string, "nameEn": Schema.string, "level": Schema.string,
                        "parentId": Schema.uuid,
                    ], required: ["code", "name", "nameEn", "level"]),
                response: region, success: 201, problems: [401, 403, 422]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/admin/departments", summary: "Create a department (system admin)", tag: "admin",
                requiresAuth: true,
                request: Schema.object(
                    ["code": Schema.string, "name": Schema.string, "nameEn": Schema.string, "regionId": Schema.uuid],
                    required: ["code", "name", "nameEn", "regionId"]),
                response: department, success: 201, problems: [401, 403, 422]))
        docs.add(
            APIOperation(
                .GET, "/api/v1/admin/staff", summary: "Staff accounts", tag: "admin", requiresAuth: true,
                problems: [401, 403, 422], query: ["limit", "cursor"]))
        docs.add(
            APIOperation(
                .POST, "/api/v1/admin/staff", summary: "Create a staff account", tag: "admin", requiresAuth: true,
                request: Schema.object(
                    [
                        "username": Schema.string, "password": Schema.string, "name": Schema.string,
                        "roles": Schema.array(Schema.object(["role": Schema.string, "departmentId": Schema.uuid])),
                    ], required: ["username", "password", "name", "roles"]),
                success: 201, problems: [401, 403, 422]))
    }
}
