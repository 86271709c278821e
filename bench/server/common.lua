-- common.lua -- shared by search.lua and insert.lua (wrk 4.1 scripts of
-- `make bench-server`; bench/server/run drives them).
--
-- Each wrk thread reads the request bodies from the file named by the
-- environment variable SRV_BENCH_BODIES (one JSON body per line, written
-- by `srv_bench gen`), formats every request once in init(), and then
-- sends them round robin, starting at a thread-specific offset, so that
-- consecutive requests carry different vectors.  Formatting in init()
-- keeps wrk's per-request Lua work to a table lookup.
--
-- response() counts answers that are not HTTP 200 with a Milvus envelope
-- whose code is 0 (Milvus reports most errors with HTTP 200), and done()
-- prints one line that the run script parses:
--   RESULT requests=N duration_us=N p50_us=N p99_us=N errors=N socket_errors=N
-- Rejected: checking the answer with a JSON parser (wrk has none, and
-- parsing in Lua would make the client the bottleneck).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_number", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("SRV_BENCH_BODIES")
  assert(path, "SRV_BENCH_BODIES is not set")
  requests, count, errors = {}, 0, 0
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(path) do
    count = count + 1
    requests[count] = wrk.format("POST", endpoint, headers, line)
  end
  assert(count > 0, "no bodies in " .. path)
  next_index = (thread_number or 0) * 997 % count
end

function request()
  next_index = next_index % count + 1
  return requests[next_index]
end

function response(status, headers, body)
  if status ~= 200 or string.sub(body, 1, 9) ~= '{"code":0' then
    errors = errors + 1
  end
end

function done(summary, latency, requests_made)
  local errs = 0
  for _, t in ipairs(threads) do errs = errs + t:get("errors") end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errs,
    e.connect + e.read + e.write + e.timeout))
end
