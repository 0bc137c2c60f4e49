import ArgumentParser
import Foundation
import TongbanCore

/// `tongban qr …`: the QR encoder from the command line (images for the zxing-cpp decoding tests in
/// tests/py, and the encoder benchmark). `tongban qr help` lists the subcommands.
struct QR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qr", abstract: "Encode QR codes (png, svg, matrix, batch, capacity, bench); `tongban qr help` for usage.")

    @Argument(parsing: .captureForPassthrough, help: "A subcommand and its options.")
    var arguments: [String] = []

    func run() throws {
        do {
            try QRTool.run(arguments)
        } catch let error as QRError {
            throw CommandFailure(description: error.description)
        } catch let error as QRTool.Failure {
            throw CommandFailure(
                description: error.description.contains("\n") ? "invalid arguments (see `tongban qr help`)" : error.description)
        }
    }
}

enum QRTool {
    static let usage = """
    usage:
      tongban qr png    [payload] [options] OUT.png     write one symbol as PNG
      tongban qr svg    [payload] [options] OUT.svg     write one symbol as SVG
      tongban qr matrix [payload] [options]             print version/mask/penalty and the module rows (0/1)
      tongban qr batch  --sizes LIST [--seed S] [--format png|svg] [options] DIR
                   one random payload per size (seed S + size): DIR/<L>-<size>.bin and .png/.svg;
                   prints "size version mask file" per symbol
      tongban qr capacity                               byte capacity per version: "version L M Q H"
      tongban qr bench  [--bytes 300] [--level M] [--seconds 3] [--mask K]
    payload (default: --size 16 --seed 1):
      --size N [--seed S]   N pseudo-random bytes      --text STR   UTF-8 text
      --input FILE          bytes of FILE              --hex HEX    bytes from hex digits
    options:
      --level L|M|Q|H (default M)   --mask 0-7   --min-version V   --max-version V
      --scale N (PNG px per module, default 4)   --module-size N (SVG, default 4)
      --border N (default 4)   --title STR (SVG)
    LIST: comma-separated sizes and ranges a:b[:step] (inclusive), e.g. 1,2,10:100:9
    """

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// SplitMix64: a tiny deterministic generator for reproducible payloads.
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomBytes(count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(state: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next() >> 24) }
    }

    struct Options {
        var positional: [String] = []
        var values: [String: String] = [:]

        init(_ arguments: ArraySlice<String>) throws {
            var iterator = arguments.makeIterator()
            while let argument = iterator.next() {
                if argument.hasPrefix("--") {
                    guard let value = iterator.next() else { throw Failure(description: "missing value for \(argument)") }
                    values[String(argument.dropFirst(2))] = value
                } else {
                    positional.append(argument)
                }
            }
        }

        func int(_ name: String, default value: Int) throws -> Int {
            guard let text = values[name] else { return value }
            guard let number = Int(text) else { throw Failure(description: "--\(name) needs an integer") }
            return number
        }

        func optionalInt(_ name: String) throws -> Int? {
            values[name] == nil ? nil : try int(name, default: 0)
        }

        func level() throws -> QRErrorCorrection {
            let text = values["level"] ?? "M"
            guard let level = QRErrorCorrection(rawValue: text.uppercased()) else {
                throw Failure(description: "--level must be L, M, Q or H")
            }
            return level
        }

        func payload() throws -> [UInt8] {
            if let text = values["text"] { return Array(text.utf8) }
            if let path = values["input"] {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw Failure(description: "cannot read \(path)")
                }
                return [UInt8](data)
            }
            if let hex = values["hex"] {
                let digits = Array(hex.utf8)
                guard digits.count % 2 == 0 else { throw Failure(description: "--hex needs an even number of digits") }
                return try stride(from: 0, to: digits.count, by: 2).map { i in
                    guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else {
                        throw Failure(description: "bad hex digits")
                    }
                    return byte
                }
            }
            return randomBytes(count: try int("size", default: 16), seed: UInt64(try int("seed", default: 1)))
        }

        func encode(_ payload: [UInt8]) throws -> QRCode {
            try QRCode.encode(
                payload, correction: level(),
                minVersion: int("min-version", default: 1), maxVersion: int("max-version", default: 40),
                mask: optionalInt("mask"))
        }

        func render(_ code: QRCode, format: String) throws -> [UInt8] {
            let border = try int("border", default: 4)
            switch format {
            case "png": return code.png(scale: try int("scale", default: 4), border: border)
            case "svg": return Array(code.svg(moduleSize: try int("module-size", default: 4), border: border, title: values["title"]).utf8)
            default: throw Failure(description: "unknown format \(format)")
            }
        }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw Failure(description: "cannot write \(path)")
        }
    }

    static func parseSizes(_ text: String) throws -> [Int] {
        var sizes: [Int] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":").map { Int($0) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { throw Failure(description: "bad size list item \(item)") }
            let numbers = parts.map { $0! }
            switch numbers.count {
            case 1: sizes.append(numbers[0])
            case 2, 3:
                let step = numbers.count == 3 ? numbers[2] : 1
                guard step > 0 else { throw Failure(description: "step must be positive") }
                sizes += Array(stride(from: numbers[0], through: numbers[1], by: step))
            default: throw Failure(description: "bad size list item \(item)")
            }
        }
        return sizes
    }

    static func bench(_ options: Options) throws {
        let byteCount = try options.int("bytes", default: 300)
        let seconds = Double(try options.int("seconds", default: 3))
        let level = try options.level()
        let mask = try options.optionalInt("mask")
        var payload = randomBytes(count: byteCount, seed: 42)
        let clock = ContinuousClock()

        /// CPU time of this thread in seconds: unlike wall-clock time it is not
        /// inflated when other processes compete for the cores.
        func cpuSeconds() -> Double {
            var spec = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
            return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
        }

        // Runs `body` repeatedly for `seconds` of CPU time (after a short warm-up);
        // returns (operations per CPU second, operations per wall second, output bytes).
        func measure(_ body: (inout [UInt8]) throws -> Int) rethrows -> (rate: Double, wallRate: Double, bytes: Int) {
            var iteration = 0
            var sink = 0
            let warmUpEnd = cpuSeconds() + 0.2
            while cpuSeconds() < warmUpEnd {
                for _ in 0..<16 { sink &+= try body(&payload) }
            }
            let start = cpuSeconds()
            let wallStart = clock.now
            var elapsed = 0.0
            repeat {
                for _ in 0..<32 {
                    payload[0] = UInt8(truncatingIfNeeded: iteration)  // a fresh payload each time
                    sink &+= try body(&payload)
                    iteration += 1
                }
                elapsed = cpuSeconds() - start
            } while elapsed < seconds
            let wall = clock.now - wallStart
            let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
            return (Double(iteration) / elapsed, Double(iteration) / wallSeconds, sink / max(iteration, 1))
        }

        let sample = try QRCode.encode(payload, correction: level, mask: mask)
        let encodeOnly = try measure { payload in try QRCode.encode(payload, correction: level, mask: mask).mask + 1 }
        let svg = try measure { payload in try QRCode.encode(payload, correction: level, mask: mask).svg().utf8.count }
        let png = try measure { payload in try QRCode.encode(payload, correction: level, mask: mask).png().count }
        func format(_ result: (rate: Double, wallRate: Double, bytes: Int)) -> String {
            String(format: "%.0f/s (%.1f µs, wall-clock %.0f/s)", result.rate, 1e6 / result.rate, result.wallRate)
        }
        print("bench bytes=\(byteCount) level=\(level.rawValue) version=\(sample.version) mask=\(mask.map(String.init) ?? "auto") "
            + "cpu-seconds=\(Int(seconds)) each | encode: \(format(encodeOnly)) | encode+svg: \(format(svg)), \(svg.bytes) B "
            + "| encode+png: \(format(png)), \(png.bytes) B")
    }

    static func run(_ passthrough: [String]) throws {
        let arguments = ["tongban qr"] + passthrough
        guard arguments.count >= 2 else { throw Failure(description: usage) }
        let command = arguments[1]
        let options = try Options(arguments.dropFirst(2))
        switch command {
        case "png", "svg":
            guard options.positional.count == 1 else { throw Failure(description: usage) }
            let code = try options.encode(options.payload())
            try write(options.render(code, format: command), to: options.positional[0])
            print("version \(code.version) mask \(code.mask) size \(code.size)")
        case "matrix":
            let code = try options.encode(options.payload())
            print("version \(code.version) mask \(code.mask) size \(code.size) level \(code.correction.rawValue) penalty \(code.penaltyScore)")
            for y in 0..<code.size {
                print(String((0..<code.size).map { code[$0, y] ? "1" : "0" }))
            }
        case "batch":
            guard options.positional.count == 1, let sizeList = options.values["sizes"] else { throw Failure(description: usage) }
            let directory = options.positional[0]
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let format = options.values["format"] ?? "png"
            let seed = try options.int("seed", default: 1)
            let level = try options.level()
            for size in try parseSizes(sizeList) {
                let payload = randomBytes(count: size, seed: UInt64(seed + size))
                let base = "\(directory)/\(level.rawValue)-\(size)"
                try write(payload, to: base + ".bin")
                let code = try options.encode(payload)
                try write(options.render(code, format: format), to: base + "." + format)
                print("\(size) \(code.version) \(code.mask) \(base).\(format)")
            }
        case "capacity":
            for version in 1...40 {
                let capacities = QRErrorCorrection.allCases.map { String(QRCode.capacity(version: version, correction: $0)) }
                print(([String(version)] + capacities).joined(separator: " "))
            }
        case "bench":
            try bench(options)
        case "help", "--help", "-h":
            print(usage)
        default:
            throw Failure(description: usage)
        }
    }
}
