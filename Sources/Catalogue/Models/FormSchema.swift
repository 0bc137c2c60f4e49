import Foundation
import TongbanCore

/// An application form: typed fields with constraints. The server validates submitted data against it
/// and reports every error at once.
public struct FormSchema: Codable, Sendable, Equatable {
    public enum FieldType: String, Codable, Sendable, CaseIterable {
        case text, number, date, choice, idNumber, uscc, phone, file
    }

    public struct Option: Codable, Sendable, Equatable {
        public var value: String
        public var label: String
        public var labelEn: String

        public init(value: String, label: String, labelEn: String) {
            self.value = value
            self.label = label
            self.labelEn = labelEn
        }
    }

    public struct Field: Codable, Sendable, Equatable {
        public var name: String
        public var label: String
        public var labelEn: String
        public var type: FieldType
        public var required: Bool
        /// Text: minimum length; number: minimum value.
        public var min: Double?
        /// Text: maximum length; number: maximum value.
        public var max: Double?
        /// Text only: a regular expression the whole value must match.
        public var pattern: String?
        /// Choice only.
        public var options: [Option]?

        public init(
            name: String, label: String, labelEn: String, type: FieldType, required: Bool, min: Double? = nil,
            max: Double? = nil, pattern: String? = nil, options: [Option]? = nil
        ) {
            self.name = name
            self.label = label
            self.labelEn = labelEn
            self.type = type
            self.required = required
            self.min = min
            self.max = max
            self.pattern = pattern
            self.options = options
        }
    }

    public var fields: [Field]

    public init(fields: [Field]) { self.fields = fields }

    /// Problems in the schema itself (for administrators editing a service), with `prefix` on field paths.
    public func definitionErrors(prefix: String = "form") -> [FieldError] {
        var errors = FieldErrors()
        var seen = Set<String>()
        errors.check(fields.count <= 100, "\(prefix).fields", "must have at most 100 fields")
        for (index, field) in fields.enumerated() {
            let path = "\(prefix).fields[\(index)]"
            errors.check(
                CodeFormat.fieldName.matches(field.name), "\(path).name",
                "must start with a letter and contain only letters, digits and '_' (max 40)")
            errors.check(seen.insert(field.name).inserted, "\(path).name", "is used by another field")
            errors.check(!field.label.trimmingCharacters(in: .whitespaces).isEmpty, "\(path).label", "is required")
            if let min = field.min, let max = field.max { errors.check(min <= max, "\(path).min", "must not exceed max") }
            if field.type == .choice {
                errors.check(!(field.options ?? []).isEmpty, "\(path).options", "must list at least one option")
            } else {
                errors.check(field.options == nil, "\(path).options", "is only allowed for choice fields")
            }
            if let pattern = field.pattern {
                errors.check(field.type == .text, "\(path).pattern", "is only allowed for text fields")
                errors.check(
                    pattern.count <= 200 && (try? NSRegularExpression(pattern: pattern)) != nil, "\(path).pattern",
                    "is not a valid regular expression")
            }
        }
        return errors.errors
    }

    /// Validates submitted form data; returns every problem (field names as in the schema).
    public func validate(_ data: [String: JSONValue], today: Date = Date()) -> [FieldError] {
        var errors = FieldErrors()
        let known = Set(fields.map(\.name))
        for key in data.keys.sorted() where !known.contains(key) {
            errors.add(key, "is not a field of this form")
        }
        for field in fields {
            let value = data[field.name]
            let isEmpty: Bool
            switch value {
            case nil, .null?: isEmpty = true
            case .string(let text)?: isEmpty = text.trimmingCharacters(in: .whitespaces).isEmpty
            default: isEmpty = false
            }
            if isEmpty {
                if field.required { errors.add(field.name, "is required") }
                continue
            }
            guard let value else { continue }
            if let message = check(field, value, today: today) { errors.add(field.name, message) }
        }
        return errors.errors
    }

    func check(_ field: Field, _ value: JSONValue, today: Date) -> String? {
        switch field.type {
        case .number:
            let number: Double?
            switch value {
            case .number(let n): number = n
            case .string(let s): number = Double(s.trimmingCharacters(in: .whitespaces))
            default: number = nil
            }
            guard let number, number.isFinite else { return "must be a number" }
            if let min = field.min, number < min { return "must be at least \(Self.format(min))" }
            if let max = field.max, number > max { return "must be at most \(Self.format(max))" }
            return nil
        case .text, .date, .choice, .idNumber, .uscc, .phone, .file:
            guard case .string(let text) = value else { return "must be a string" }
            switch field.type {
            case .text:
                if let min = field.min, Double(text.count) < min { return "must have at least \(Self.format(min)) characters" }
                if let max = field.max, Double(text.count) > max { return "must have at most \(Self.format(max)) characters" }
                if text.count > 10_000 { return "is too long" }
                if let pattern = field.pattern, let regex = try? NSRegularExpression(pattern: "^(?:\(pattern))$"),
                    regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
                {
                    return "does not have the expected format"
                }
            case .date:
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
                formatter.dateFormat = "yyyy-MM-dd"
                guard text.count == 10, let date = formatter.date(from: text), formatter.string(from: date) == text else {
                    return "must be a date YYYY-MM-DD"
                }
            case .choice:
                if !(field.options ?? []).contains(where: { $0.value == text }) { return "is not one of the options" }
            case .idNumber:
                do { _ = try ResidentIDNumber(text, today: today) } catch { return "is not a valid resident ID number: it \(error.description)" }
            case .uscc:
                do { _ = try CreditCode(text) } catch { return "is not a valid unified social credit code: it \(error.description)" }
            case .phone:
                if MobileNumber(text) == nil { return "is not a valid mainland mobile number" }
            case .file:
                if text.isEmpty || text.count > 200 { return "must reference an uploaded file" }
            case .number:
                break
            }
            return nil
        }
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(value)
    }
}
