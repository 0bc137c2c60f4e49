-- wrk script for scripts/bench-codes-http: POST /api/v1/codes as the demo citizen; every issued payload is
-- appended to $OUT/payloads-<thread>.txt for the verification run.
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
  wrk.body = '{"type":"identity"}'
  out = io.open(os.getenv("OUT") .. "/payloads-" .. id .. ".txt", "w")
  issued = 0
  failed = 0
end

function response(status, headers, body)
  local payload = status == 201 and string.match(body, '"payload"%s*:%s*"([^"]+)"')
  if payload then
    out:write(payload, "\n")
    issued = issued + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local issued, failed = 0, 0
  for _, thread in ipairs(threads) do
    issued = issued + thread:get("issued")
    failed = failed + thread:get("failed")
  end
  io.write(string.format("codes issued: %d (%d failed) in %.2f s = %.0f/s; latency p50 %.2f ms, p99 %.2f ms\n",
    issued, failed, summary.duration / 1e6, issued / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
