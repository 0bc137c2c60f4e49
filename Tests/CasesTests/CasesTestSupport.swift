import Foundation
import TestSupport
import TongbanCore
import Vapor
import VaporTesting

extension Application {
    /// One JSON request; returns status, decoded body and headers.
    func send(
        _ method: HTTPMethod, _ path: String, token: String? = nil, json: [String: JSONValue]? = nil
    ) async throws -> (HTTPStatus, JSONValue, HTTPHeaders) {
        var headers = HTTPHeaders.json
        if let token { headers.add(name: .authorization, value: "Bearer \(token)") }
        let buffer = try json.map { ByteBuffer(data: try JSONEncoder().encode($0)) }
        let res = try await testing().sendRequest(method, path, headers: headers, body: buffer)
        let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: res.body))) ?? .string(String(buffer: res.body))
        return (res.status, value, res.headers)
    }

    /// Files a case and expects 201.
    func fileCase(
        token: String, type: String = "grid_event", category: String, lat: Double? = 23.005, lon: Double? = 113.105,
        extra: [String: JSONValue] = [:]
    ) async throws -> JSONValue {
        var body: [String: JSONValue] = ["type": .string(type), "category": .string(category), "description": "测试问题描述"]
        if let lat, let lon { body["location"] = ["lat": .number(lat), "lon": .number(lon)] }
        for (key, value) in extra { body[key] = value }
        let (status, created, _) = try await send(.POST, "/api/v1/cases", token: token, json: body)
        guard status == .created else { throw Abort(.badRequest, reason: "filing failed: \(status) \(created)") }
        return created
    }

    /// Performs an action and returns status and body.
    func act(_ id: String, _ action: String, token: String, _ extra: [String: JSONValue] = [:]) async throws -> (HTTPStatus, JSONValue) {
        var body: [String: JSONValue] = ["action": .string(action)]
        for (key, value) in extra { body[key] = value }
        let (status, value, _) = try await send(.POST, "/api/v1/cases/\(id)/actions", token: token, json: body)
        return (status, value)
    }
}

extension JSONValue {
    var items: [JSONValue] {
        if case .array(let list) = self { return list }
        return []
    }

    var string: String? { stringValue }

    var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }
}

/// ISO 8601 instants for fixed clocks.
func instant(_ text: String) -> Date {
    ISO8601DateFormatter().date(from: text) ?? Date(timeIntervalSince1970: 0)
}

/// A date from a JSON value (RFC 3339 text, or Foundation's reference-date seconds).
func jsonDate(_ value: JSONValue?) -> Date? {
    switch value {
    case .string(let text)?:
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    case .number(let seconds)?: return Date(timeIntervalSinceReferenceDate: seconds)
    default: return nil
    }
}
