-- wrk script for `cargo xtask bench ingest`: every request POSTs one Sentry envelope (written by
-- tests/lib/bench-ingest.mjs as a template: one ~1 KB browser exception event with 8 frames)
-- with its own event_id, so nothing dedupes, and the current time.
-- Usage: wrk -t2 -c8 -d20s -s envelope.lua http://127.0.0.1:PORT -- <path> <template> <8 hex nonce>
-- The path is the ingest URL with its `?sentry_key=`; the nonce keeps ids distinct between
-- phases (warm-up, measure). `done` prints one `WRK {json}` line for the driver.

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state); read back by `done`.
ok, non2xx, statuses = 0, 0, ""
local path, template, nonce
local counter = 0
local headers = { ["Content-Type"] = "application/x-sentry-envelope" }

function init(args)
  path, nonce = args[1], args[3]
  local f = assert(io.open(args[2], "rb"))
  template = f:read("*a")
  f:close()
end

function request()
  counter = counter + 1
  -- 32 hex digits: phase nonce, thread, per-thread counter.
  local id = string.format("%s%08x%016x", nonce, tid, counter)
  local now = os.time()
  local body = template:gsub("@@EVENT_ID@@", id)
  body = body:gsub("@@TIMESTAMP@@", tostring(now))
  body = body:gsub("@@SENT_AT@@", os.date("!%Y-%m-%dT%H:%M:%SZ", now))
  return wrk.format("POST", path, headers, body)
end

function response(status)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non2xx = non2xx + 1
    if #statuses < 100 then statuses = statuses .. status .. " " end
  end
end

function done(summary, latency)
  local total_ok, total_bad, seen = 0, 0, ""
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_bad = total_bad + t:get("non2xx")
    seen = seen .. t:get("statuses")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"ok":%d,"non2xx":%d,"statuses":"%s",' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, total_ok, total_bad, seen,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
