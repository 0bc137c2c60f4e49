import Foundation
import TongbanCore

/// A process as data (versioned JSON): start, task nodes, parallel split/join, exclusive branches, end.
///
/// ```json
/// {"key":"joint-approval","name":"联合审批","nodes":[
///   {"id":"start","type":"start","next":"accept"},
///   {"id":"accept","type":"task","name":"受理","assignees":[{"department":"370102-SCJG","role":"clerk"}],"next":"split"},
///   {"id":"split","type":"parallel","branches":["a","b"]},
///   {"id":"a","type":"task","assignees":[{"department":"D1","role":"approver"}],"next":"join","days":3},
///   {"id":"b","type":"task","assignees":[{"user":"someone"}],"next":"join"},
///   {"id":"join","type":"join","next":"end"},
///   {"id":"end","type":"end"}]}
/// ```
public struct ProcessDefinition: Codable, Sendable, Equatable {
    public enum NodeType: String, Codable, Sendable {
        case start, task, parallel, join, exclusive, end
    }

    /// Who may act on a task: a department and role, or a named user.
    public struct Assignee: Codable, Sendable, Equatable, Hashable {
        public var department: String?
        public var role: StaffRole?
        public var user: String?

        public init(department: String? = nil, role: StaffRole? = nil, user: String? = nil) {
            self.department = department
            self.role = role
            self.user = user
        }
    }

    /// Countersign: with several assignees, `any` completes on the first approval, `all` needs every one.
    public enum Mode: String, Codable, Sendable {
        case any, all
    }

    /// A condition on a variable (form field): `field op value`.
    public struct Condition: Codable, Sendable, Equatable {
        public enum Op: String, Codable, Sendable {
            case eq = "==", ne = "!=", gt = ">", ge = ">=", lt = "<", le = "<=", contains
        }
        public var field: String
        public var op: Op
        public var value: JSONValue

        public init(field: String, op: Op, value: JSONValue) {
            self.field = field
            self.op = op
            self.value = value
        }

        /// Evaluates against `variables`; a missing field never matches.
        public func matches(_ variables: [String: JSONValue]) -> Bool {
            guard let actual = variables[field] else { return false }
            switch (actual, value) {
            case (.number(let a), .number(let b)): return Self.compare(a, b, op)
            case (.string(let a), .number(let b)): return Double(a).map { Self.compare($0, b, op) } ?? false
            case (.string(let a), .string(let b)):
                switch op {
                case .eq: return a == b
                case .ne: return a != b
                case .contains: return a.contains(b)
                default: return false
                }
            case (.bool(let a), .bool(let b)): return op == .eq ? a == b : op == .ne ? a != b : false
            case (.array(let items), _): return op == .contains && items.contains(value)
            default: return op == .ne
            }
        }

        static func compare(_ a: Double, _ b: Double, _ op: Op) -> Bool {
            switch op {
            case .eq: a == b
            case .ne: a != b
            case .gt: a > b
            case .ge: a >= b
            case .lt: a < b
            case .le: a <= b
            case .contains: false
            }
        }
    }

    public struct Branch: Codable, Sendable, Equatable {
        public var when: Condition
        public var next: String

        public init(when: Condition, next: String) {
            self.when = when
            self.next = next
        }
    }

    public struct Node: Codable, Sendable, Equatable {
        public var id: String
        public var type: NodeType
        public var name: String?
        public var next: String?
        public var assignees: [Assignee]?
        public var mode: Mode?
        /// Time limit of the task in working days.
        public var days: Int?
        /// Parallel split: the first node of each branch.
        public var branches: [String]?
        /// Exclusive: conditions in order, then `default`.
        public var conditions: [Branch]?
        public var `default`: String?

        public init(
            id: String, type: NodeType, name: String? = nil, next: String? = nil, assignees: [Assignee]? = nil,
            mode: Mode? = nil, days: Int? = nil, branches: [String]? = nil, conditions: [Branch]? = nil,
            default: String? = nil
        ) {
            self.id = id
            self.type = type
            self.name = name
            self.next = next
            self.assignees = assignees
            self.mode = mode
            self.days = days
            self.branches = branches
            self.conditions = conditions
            self.default = `default`
        }
    }

    public var key: String
    public var name: String
    public var nodes: [Node]

    public init(key: String, name: String, nodes: [Node]) {
        self.key = key
        self.name = name
        self.nodes = nodes
    }

    public func node(_ id: String) -> Node? { nodes.first { $0.id == id } }

    public var start: Node? { nodes.first { $0.type == .start } }

    /// How many edges lead into `nodeID` (a join waits for that many arrivals).
    public func inDegree(_ nodeID: String) -> Int {
        nodes.reduce(0) { count, node in
            count + (node.next == nodeID ? 1 : 0) + (node.branches?.filter { $0 == nodeID }.count ?? 0)
                + (node.conditions?.filter { $0.next == nodeID }.count ?? 0) + (node.default == nodeID ? 1 : 0)
        }
    }

    /// Structural problems, all at once (field paths under `definition`).
    public func problems() -> [FieldError] {
        var errors = FieldErrors()
        errors.check(CodeFormat.serviceCode.matches(key), "definition.key", "must be 6–36 letters, digits, '.', '_' or '-'")
        errors.check(!name.isEmpty, "definition.name", "is required")
        let ids = nodes.map(\.id)
        errors.check(Set(ids).count == ids.count, "definition.nodes", "node ids must be unique")
        errors.check(nodes.filter { $0.type == .start }.count == 1, "definition.nodes", "must have exactly one start node")
        errors.check(nodes.contains { $0.type == .end }, "definition.nodes", "must have an end node")
        errors.check(nodes.count <= 200, "definition.nodes", "must have at most 200 nodes")
        let known = Set(ids)
        for (index, node) in nodes.enumerated() {
            let path = "definition.nodes[\(index)]"
            func target(_ id: String?, _ field: String) {
                guard let id else { return errors.add("\(path).\(field)", "is required for a \(node.type.rawValue) node") }
                errors.check(known.contains(id), "\(path).\(field)", "names no node ('\(id)')")
            }
            switch node.type {
            case .start, .join: target(node.next, "next")
            case .task:
                target(node.next, "next")
                let assignees = node.assignees ?? []
                errors.check(!assignees.isEmpty, "\(path).assignees", "must name at least one assignee")
                for (i, assignee) in assignees.enumerated() {
                    let byUser = assignee.user != nil
                    let byRole = assignee.department != nil && assignee.role != nil
                    errors.check(
                        byUser != byRole, "\(path).assignees[\(i)]", "must be either a user or a department with a role")
                }
                if let days = node.days { errors.check((0...3650).contains(days), "\(path).days", "must be 0–3650") }
            case .parallel:
                let branches = node.branches ?? []
                errors.check(branches.count >= 2, "\(path).branches", "must list at least two branches")
                for branch in branches { target(branch, "branches") }
            case .exclusive:
                for (i, branch) in (node.conditions ?? []).enumerated() { target(branch.next, "conditions[\(i)].next") }
                target(node.default, "default")
            case .end:
                break
            }
        }
        if errors.isEmpty { detectCycles(into: &errors) }
        return errors.errors
    }

    /// Processes must not loop back (a return for correction resumes the same node instead).
    func detectCycles(into errors: inout FieldErrors) {
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        func successors(_ node: Node) -> [String] {
            [node.next, node.default].compactMap { $0 } + (node.branches ?? []) + (node.conditions ?? []).map(\.next)
        }
        func visit(_ id: String) -> Bool {
            if state[id] == 1 { return false }
            if state[id] == 2 { return true }
            state[id] = 1
            if let node = node(id) { for next in successors(node) where !visit(next) { return false } }
            state[id] = 2
            return true
        }
        if let start, !visit(start.id) { errors.add("definition.nodes", "must not contain a cycle") }
    }
}
