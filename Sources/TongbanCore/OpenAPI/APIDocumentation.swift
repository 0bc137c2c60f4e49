import Foundation
import NIOConcurrencyHelpers
import Vapor

/// One documented operation of the `/api/v1` surface.
public struct APIOperation: Sendable {
    public var method: HTTPMethod
    /// Path with `{name}` parameters, e.g. `/api/v1/services/{id}`.
    public var path: String
    public var summary: String
    public var tag: String
    public var requiresAuth: Bool
    public var requestSchema: JSONValue?
    public var responseSchema: JSONValue?
    /// Status codes (other than the success one) this operation may answer with a problem.
    public var problems: [Int]
    public var successStatus: Int
    public var queryParameters: [String]
    /// The request body's media type (`application/json` unless e.g. `multipart/form-data`).
    public var requestContentType: String = "application/json"
    /// The success body's media type (`application/json` unless e.g. a file download).
    public var responseContentType: String = "application/json"

    public init(
        _ method: HTTPMethod, _ path: String, summary: String, tag: String, requiresAuth: Bool = false,
        request: JSONValue? = nil, response: JSONValue? = nil, success: Int = 200, problems: [Int] = [],
        query: [String] = []
    ) {
        self.method = method
        self.path = path
        self.summary = summary
        self.tag = tag
        self.requiresAuth = requiresAuth
        self.requestSchema = request
        self.responseSchema = response
        self.successStatus = success
        self.problems = problems
        self.queryParameters = query
    }
}

/// The registry every module adds its operations to; rendered as OpenAPI 3.1 at `/openapi.json`.
public final class APIDocumentation: Sendable {
    private let operations = NIOLockedValueBox<[APIOperation]>([])
    private let schemas = NIOLockedValueBox<[String: JSONValue]>([:])

    public init() {}

    public func add(_ operation: APIOperation) {
        operations.withLockedValue { $0.append(operation) }
    }

    public func addSchema(_ name: String, _ schema: JSONValue) {
        schemas.withLockedValue { $0[name] = schema }
    }

    public var all: [APIOperation] { operations.withLockedValue { $0 } }

    /// Whether an operation documents `method` + Vapor path components (`:id` ↔ `{id}`).
    public func documents(method: HTTPMethod, path: String) -> Bool {
        all.contains { $0.method == method && $0.path == path }
    }

    /// Builds the OpenAPI 3.1 document.
    public func document(version: String) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for op in all.sorted(by: { ($0.path, $0.method.rawValue) < ($1.path, $1.method.rawValue) }) {
            var parameters: [JSONValue] = []
            for segment in op.path.split(separator: "/") where segment.hasPrefix("{") {
                let name = String(segment.dropFirst().dropLast())
                parameters.append([
                    "name": .string(name), "in": "path", "required": true, "schema": ["type": "string"],
                ])
            }
            for name in op.queryParameters {
                parameters.append(["name": .string(name), "in": "query", "required": false, "schema": ["type": "string"]])
            }
            var responses: [String: JSONValue] = [
                String(op.successStatus): [
                    "description": "Success",
                    "content": [op.responseContentType: ["schema": op.responseSchema ?? ["type": "object"]]],
                ]
            ]
            if op.successStatus == 204 { responses["204"] = ["description": "No content"] }
            for code in Set(op.problems + [400, 500]).sorted() {
                responses[String(code)] = [
                    "description": .string(HTTPResponseStatus(statusCode: code).reasonPhrase),
                    "content": ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]],
                ]
            }
            var operation: [String: JSONValue] = [
                "summary": .string(op.summary),
                "operationId": .string(Self.operationID(op)),
                "tags": [.string(op.tag)],
                "parameters": .array(parameters),
                "responses": .object(responses),
            ]
            if let request = op.requestSchema {
                operation["requestBody"] = [
                    "required": true, "content": [op.requestContentType: ["schema": request]],
                ]
            }
            if op.requiresAuth { operation["security"] = [["bearerAuth": []]] }
            paths[op.path, default: [:]][op.method.rawValue.lowercased()] = .object(operation)
        }
        var componentSchemas = schemas.withLockedValue { $0 }
        componentSchemas["Problem"] = [
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": [
                "type": ["type": "string"], "title": ["type": "string"], "status": ["type": "integer"],
                "detail": ["type": "string"], "instance": ["type": "string"], "requestId": ["type": "string"],
                "errors": [
                    "type": "array",
                    "items": [
                        "type": "object",
                        "properties": ["field": ["type": "string"], "message": ["type": "string"]],
                    ],
                ],
            ],
        ]
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Tongban API", "version": .string(version),
                "description": "Tongban (通办) digital-government service platform. Errors are RFC 9457 problem documents.",
            ],
            "servers": [["url": "/"]],
            "paths": .object(paths.mapValues { .object($0) }),
            "components": [
                "schemas": .object(componentSchemas),
                "securitySchemes": ["bearerAuth": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT"]],
            ],
        ]
    }

    static func operationID(_ op: APIOperation) -> String {
        let words = op.path.replacingOccurrences(of: "/api/v1/", with: "").split(whereSeparator: { "/{}-.".contains($0) })
        return op.method.rawValue.lowercased() + words.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}

extension Application {
    private struct DocsKey: StorageKey { typealias Value = APIDocumentation }

    public var apiDocumentation: APIDocumentation {
        if let existing = storage[DocsKey.self] { return existing }
        let created = APIDocumentation()
        storage[DocsKey.self] = created
        return created
    }
}

/// Small helpers to write JSON Schemas tersely.
public enum Schema {
    public static let string: JSONValue = ["type": "string"]
    public static let integer: JSONValue = ["type": "integer"]
    public static let number: JSONValue = ["type": "number"]
    public static let boolean: JSONValue = ["type": "boolean"]
    public static let uuid: JSONValue = ["type": "string", "format": "uuid"]
    public static let dateTime: JSONValue = ["type": "string", "format": "date-time"]

    public static func object(_ properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        ["type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) })]
    }

    public static func array(_ items: JSONValue) -> JSONValue { ["type": "array", "items": items] }

    public static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }

    public static func page(of item: JSONValue) -> JSONValue {
        object(["items": array(item), "nextCursor": ["type": ["string", "null"]]], required: ["items", "nextCursor"])
    }
}
