import CEL
import Foundation

/// A failure of an offline run, as one readable line naming the file, item or line.
public struct OfflineMatchError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An item of an offline run: `{"id", "eligible": CEL bool expression, "amount": CEL expression}`.
public struct OfflineItem: Sendable {
    public var id: String
    public var eligible: String
    public var amount: String?

    public init(id: String, eligible: String, amount: String?) {
        self.id = id
        self.eligible = eligible
        self.amount = amount
    }
}

/// Offline matching of many profiles against many items (`tongban policy match`).
///
/// Semantics are those of CEL with `profile` bound to each JSON object as it is (JSON integers are
/// CEL `int`, other numbers `double`, no schema). For speed, each chunk of profiles gets a schema
/// inferred from its own values (a field whose non-null values are all ints is `int`, all doubles
/// `double`, all strings `string`, all bools `bool`; anything else `dyn`), which changes no result,
/// so items compile into the columnar ``CELBatchEvaluator``; an item the batch evaluator cannot run
/// (macros, lists, mixed types) falls back to row-at-a-time evaluation for that chunk.
public final class OfflineMatcher: @unchecked Sendable {
    public struct Summary: Sendable {
        public var profiles: Int = 0
        public var items: Int = 0
        public var matches: Int = 0
        public var errors: Int = 0
        public var batchItemChunks: Int = 0
        public var rowItemChunks: Int = 0
        public var seconds: Double = 0
        public var evaluationsPerSecond: Double { seconds > 0 ? Double(profiles) * Double(items) / seconds : 0 }

        public var line: String {
            String(
                format: "policy match: %d profiles, %d items, %.3f s, %@ evaluations/s, %d matches, %d evaluation errors (batch %d, row %d item-chunks)",
                profiles, items, seconds, OfflineMatcher.groupDigits(Int(evaluationsPerSecond.rounded())), matches, errors,
                batchItemChunks, rowItemChunks)
        }
    }

    public let items: [OfflineItem]
    public let threads: Int
    public let chunkSize: Int
    /// Compiled items per inferred schema (signature → compiled).
    private var cache: [String: [Compiled]] = [:]
    private let lock = NSLock()

    struct Compiled: Sendable {
        var eligible: CELProgram
        var amount: CELProgram?
        var eligibleBatch: CELBatchEvaluator?
        var amountBatch: CELBatchEvaluator?
    }

    /// Validates every item (syntax, unknown functions, a non-bool `eligible`) before any profile is read.
    public init(items: [OfflineItem], threads: Int = 2, chunkSize: Int = 8192) throws(OfflineMatchError) {
        self.items = items
        self.threads = max(1, threads)
        self.chunkSize = max(1, chunkSize)
        var seen = Set<String>()
        for item in items {
            guard seen.insert(item.id).inserted else { throw OfflineMatchError("item '\(item.id)': duplicate id") }
            let eligible: CELProgram
            do { eligible = try CELProgram.compile(item.eligible, declarations: .dynamicProfile) } catch {
                throw OfflineMatchError("item '\(item.id)' eligible: \(error)")
            }
            switch eligible.resultType {
            case .bool, .dyn: break
            default:
                throw OfflineMatchError("item '\(item.id)' eligible: has type \(eligible.resultType), a bool expression is required")
            }
            if let amount = item.amount {
                do { _ = try CELProgram.compile(amount, declarations: .dynamicProfile) } catch {
                    throw OfflineMatchError("item '\(item.id)' amount: \(error)")
                }
            }
        }
    }

    /// Reads an items file: a JSON array of `{"id", "eligible", "amount"}`.
    public static func loadItems(_ data: Data, name: String) throws(OfflineMatchError) -> [OfflineItem] {
        let value: CELValue
        do { value = try CELValue.fromJSON(data) } catch { throw OfflineMatchError("\(name): \(error)") }
        guard case .list(let list) = value else { throw OfflineMatchError("\(name): expected a JSON array of items") }
        var items: [OfflineItem] = []
        for (i, entry) in list.enumerated() {
            guard case .map(let m) = entry else { throw OfflineMatchError("\(name): item \(i + 1) is not an object") }
            let id: String
            switch m["id"] {
            case .string(let s)?: id = s
            case .int(let n)?: id = String(n)
            default: throw OfflineMatchError("\(name): item \(i + 1) has no \"id\" (string)")
            }
            guard case .string(let eligible)? = m["eligible"] else {
                throw OfflineMatchError("\(name): item '\(id)' has no \"eligible\" expression (string)")
            }
            var amount: String?
            switch m["amount"] {
            case .string(let s)?: amount = s
            case .null?, nil: amount = nil
            default: throw OfflineMatchError("\(name): item '\(id)' \"amount\" must be a CEL expression (string)")
            }
            items.append(OfflineItem(id: id, eligible: eligible, amount: amount))
        }
        return items
    }

    /// Matches every profile of a JSON Lines file (one object with an `"id"` per line; blank lines are
    /// skipped) and writes `{"profileId","itemId","amount"}` per eligible pair, in profile then item order.
    public func run(profiles data: Data, name: String, write: (String) throws -> Void) throws -> Summary {
        let start = Date()
        var summary = Summary()
        summary.items = items.count
        // Line ranges, in chunks.
        var pending: [(line: Int, range: Range<Int>)] = []
        pending.reserveCapacity(chunkSize * threads)
        var lineNumber = 0
        var failure: (any Error)?
        func flush() throws {
            guard !pending.isEmpty else { return }
            let per = (pending.count + threads - 1) / threads
            let parts = (0..<threads).map { k in Array(pending[min(pending.count, k * per)..<min(pending.count, (k + 1) * per)]) }
            let results = ResultSlots<Result<ChunkResult, any Error>>(count: parts.count)
            DispatchQueue.concurrentPerform(iterations: parts.count) { k in
                results.set(k, Result { try self.process(parts[k], data: data, name: name) })
            }
            for r in results.all() {
                let chunk = try r.get()
                summary.profiles += chunk.profiles
                summary.matches += chunk.matches
                summary.errors += chunk.errors
                summary.batchItemChunks += chunk.batch
                summary.rowItemChunks += chunk.row
                if !chunk.output.isEmpty { try write(chunk.output) }
            }
            pending.removeAll(keepingCapacity: true)
        }
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var lineStart = 0
            let n = bytes.count
            var i = 0
            while i <= n && failure == nil {
                if i == n || bytes[i] == 0x0A {
                    lineNumber += 1
                    var lo = lineStart, hi = i
                    while lo < hi, bytes[lo] == 0x20 || bytes[lo] == 0x09 || bytes[lo] == 0x0D { lo += 1 }
                    while hi > lo, bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09 || bytes[hi - 1] == 0x0D { hi -= 1 }
                    if hi > lo {
                        pending.append((lineNumber, lo..<hi))
                        if pending.count >= chunkSize * threads {
                            do { try flush() } catch { failure = error }
                        }
                    }
                    lineStart = i + 1
                }
                i += 1
            }
        }
        if let failure { throw failure }
        try flush()
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }

    struct ChunkResult {
        var profiles = 0
        var matches = 0
        var errors = 0
        var batch = 0
        var row = 0
        var output = ""
    }

    func process(_ lines: [(line: Int, range: Range<Int>)], data: Data, name: String) throws -> ChunkResult {
        var out = ChunkResult()
        guard !lines.isEmpty else { return out }
        var rows: [CELValue] = []
        var ids: [String] = []
        rows.reserveCapacity(lines.count)
        ids.reserveCapacity(lines.count)
        for (line, range) in lines {
            let value: CELValue
            do { value = try CELValue.fromJSON(data.subdata(in: range)) } catch {
                throw OfflineMatchError("\(name) line \(line): \(error)")
            }
            guard case .map(let m) = value else { throw OfflineMatchError("\(name) line \(line): expected a JSON object") }
            guard let id = m["id"], Self.isIdentifier(id) else {
                throw OfflineMatchError("\(name) line \(line): the profile has no \"id\" (string or integer)")
            }
            ids.append(id.jsonString())
            rows.append(value)
        }
        out.profiles = rows.count
        let compiled = compiledItems(for: Self.inferSchema(rows))
        var fields = Set<CELBatchField>()
        for c in compiled {
            if let b = c.eligibleBatch { fields.formUnion(b.requiredFields) }
            if let b = c.amountBatch { fields.formUnion(b.requiredFields) }
        }
        let table = CELColumnTable(rows: rows, fields: Array(fields))
        // pairs[row] = list of (item index, amount JSON)
        var pairs = [[(Int, String)]](repeating: [], count: rows.count)
        for (k, c) in compiled.enumerated() {
            var eligibleRows: [Int] = []
            if let batch = c.eligibleBatch {
                out.batch += 1
                let r = batch.evaluate(table)
                eligibleRows = r.trueRows()
                if !r.errorIndex.isEmpty { out.errors += r.errorCount }
            } else {
                out.row += 1
                for i in 0..<rows.count {
                    switch c.eligible.evaluate(profile: rows[i]) {
                    case .bool(true): eligibleRows.append(i)
                    case .bool(false): break
                    default: out.errors += 1
                    }
                }
            }
            guard !eligibleRows.isEmpty else { continue }
            var amounts: [CELValue]
            if let amount = c.amount {
                if let batch = c.amountBatch, eligibleRows.count * 4 >= rows.count {
                    let r = batch.evaluate(table)
                    amounts = eligibleRows.map { r.value(at: $0) }
                } else {
                    amounts = eligibleRows.map { amount.evaluate(profile: rows[$0]) }
                }
            } else {
                amounts = [CELValue](repeating: .null, count: eligibleRows.count)
            }
            for (j, i) in eligibleRows.enumerated() {
                let a = amounts[j]
                var text = "{\"profileId\":\(ids[i]),\"itemId\":\(CELValue.string(items[k].id).jsonString()),\"amount\":"
                if case .error(let e) = a {
                    out.errors += 1
                    text += "null,\"error\":\(CELValue.string(e.description).jsonString())}"
                } else {
                    text += a.jsonString() + "}"
                }
                pairs[i].append((k, text))
            }
        }
        var output = ""
        for row in pairs {
            for (_, text) in row {
                output += text
                output += "\n"
                out.matches += 1
            }
        }
        out.output = output
        return out
    }

    /// The schema of a chunk: per top-level field, the one scalar type all its non-null values share.
    public static func inferSchema(_ rows: [CELValue]) -> [String: CELType] {
        var types: [String: CELType] = [:]
        for row in rows {
            guard case .map(let m) = row else { continue }
            for (key, value) in m.entries {
                guard case .string(let name) = key else { continue }
                let t: CELType
                switch value {
                case .int: t = .int
                case .double: t = .double
                case .string: t = .string
                case .bool: t = .bool
                default: t = .dyn
                }
                if let old = types[name] {
                    if old != t { types[name] = .dyn }
                } else {
                    types[name] = t
                }
            }
        }
        return types
    }

    func compiledItems(for schema: [String: CELType]) -> [Compiled] {
        let signature = schema.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        lock.lock()
        if let hit = cache[signature] {
            lock.unlock()
            return hit
        }
        lock.unlock()
        let typed = CELDeclarations.profile(schema)
        var compiled: [Compiled] = []
        for item in items {
            // Typed compilation when the item checks against this chunk's schema; otherwise the exact
            // dynamic semantics, row by row (validated in init, so it compiles).
            var c: Compiled
            if let e = try? CELProgram.compile(item.eligible, declarations: typed, expecting: .bool),
                item.amount.map({ (try? CELProgram.compile($0, declarations: typed)) != nil }) ?? true
            {
                let a = item.amount.flatMap { try? CELProgram.compile($0, declarations: typed) }
                c = Compiled(eligible: e, amount: a)
                c.eligibleBatch = try? CELBatchEvaluator(e)
                c.amountBatch = a.flatMap { try? CELBatchEvaluator($0) }
            } else {
                // swiftlint:disable:next force_try
                let e = (try? CELProgram.compile(item.eligible, declarations: .dynamicProfile))!
                let a = item.amount.flatMap { try? CELProgram.compile($0, declarations: .dynamicProfile) }
                c = Compiled(eligible: e, amount: a)
            }
            compiled.append(c)
        }
        lock.lock()
        cache[signature] = compiled
        lock.unlock()
        return compiled
    }

    static func isIdentifier(_ value: CELValue) -> Bool {
        switch value {
        case .string, .int, .uint: return true
        default: return false
        }
    }

    static func groupDigits(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return out
    }
}

/// Results written by concurrent workers, one slot each.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ k: Int, _ value: T) {
        lock.lock()
        slots[k] = value
        lock.unlock()
    }

    func all() -> [T] {
        lock.lock()
        defer { lock.unlock() }
        return slots.compactMap { $0 }
    }
}
