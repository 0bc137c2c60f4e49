import Foundation

/// Runs wrk (https://github.com/wg/wrk) as the external HTTP load generator of a benchmark. wrk is a small C
/// program: it spends far less of the machine's two cores per request than in-process Swift clients, so the figure
/// is closer to what the server can do.
enum WrkDriver {
    /// `wrk` on the PATH, if installed.
    static func path() -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for directory in paths {
            let candidate = "\(directory)/wrk"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs wrk to completion and returns what it printed (stdout). Throws when it exits non-zero.
    static func run(_ executable: String, arguments: [String], environment: [String: String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read on a plain thread: wrk writes little, but only at its end.
        let data: Data = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: data)
            }
        }
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw CommandFailure(description: "wrk exited with status \(process.terminationStatus): \(message.prefix(300))")
        }
        return text
    }

    /// A wrk script that files grid events as the bearer of `$TOKEN` at random points of the box, cycling through the
    /// categories, and prints `cases-wrk: <201 answers> <other answers> <seconds> <p50 ms> <p99 ms>`.
    static func casesScript(box: (minLat: Double, maxLat: Double, minLon: Double, maxLon: Double), categories: [String]) -> String {
        let list = categories.map { "\"\($0)\"" }.joined(separator: ", ")
        return """
            local counter = 0
            local threads = {}
            local categories = { \(list) }

            function setup(thread)
              counter = counter + 1
              thread:set("id", counter)
              table.insert(threads, thread)
            end

            function init(args)
              math.randomseed(os.time() * 100 + id)
              token = "Bearer " .. os.getenv("TOKEN")
              created = 0
              failed = 0
              n = 0
            end

            function request()
              n = n + 1
              local lat = \(box.minLat) + math.random() * \(box.maxLat - box.minLat)
              local lon = \(box.minLon) + math.random() * \(box.maxLon - box.minLon)
              local body = string.format(
                '{"type":"grid_event","category":"%s","description":"wrk report %d-%d","location":{"lat":%.6f,"lon":%.6f}}',
                categories[(n % #categories) + 1], id, n, lat, lon)
              return wrk.format("POST", nil, { ["Content-Type"] = "application/json", ["Authorization"] = token }, body)
            end

            function response(status, headers, body)
              if status == 201 then created = created + 1 else failed = failed + 1 end
            end

            function done(summary, latency, requests)
              local c, f = 0, 0
              for _, thread in ipairs(threads) do
                c = c + thread:get("created")
                f = f + thread:get("failed")
              end
              io.write(string.format("cases-wrk: %d %d %.3f %.3f %.3f\\n", c, f, summary.duration / 1e6,
                latency:percentile(50) / 1000, latency:percentile(99) / 1000))
            end

            """
    }
}
