-- wrk script for scripts/bench-codes-http: POST /api/v1/codes/verify as the demo venue scanner, each issued
-- payload once (thread n takes every n-th line of $OUT/payloads.txt). Only answers with "valid":true count;
-- when a thread runs out of payloads it repeats its last one (answered "replayed", not counted).
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local count = tonumber(os.getenv("THREADS"))
  payloads = {}
  local line_number = 0
  for line in io.lines(os.getenv("OUT") .. "/payloads.txt") do
    if line_number % count == id - 1 then table.insert(payloads, line) end
    line_number = line_number + 1
  end
  next_index = 1
  valid = 0
  invalid = 0
  exhausted = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Api-Key"] = os.getenv("API_KEY")
end

function request()
  local payload = payloads[next_index] or payloads[#payloads]
  if payloads[next_index] then next_index = next_index + 1 else exhausted = 1 end
  return wrk.format(nil, "/api/v1/codes/verify", nil, '{"payload":"' .. payload .. '","scenario":"venue"}')
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"valid":true', 1, true) then valid = valid + 1 else invalid = invalid + 1 end
end

function done(summary, latency, requests)
  local valid, invalid, exhausted = 0, 0, 0
  for _, thread in ipairs(threads) do
    valid = valid + thread:get("valid")
    invalid = invalid + thread:get("invalid")
    exhausted = exhausted + thread:get("exhausted")
  end
  io.write(string.format("codes verified online: %d valid, %d not valid in %.2f s = %.0f valid/s; latency p50 %.2f ms, p99 %.2f ms%s\n",
    valid, invalid, summary.duration / 1e6, valid / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, exhausted > 0 and " (ran out of payloads: issue for longer)" or ""))
end
