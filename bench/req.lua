-- wrk script: replay pre-signed, unique requests from a fixed-record pool (bench/payloads.py).
-- Env: POOL (file), RECORD (bytes per record), START (first record), COUNT (records to load),
--      DELAY_MS (optional per-connection think time: closed-loop pacing).
local pool, record = os.getenv("POOL"), tonumber(os.getenv("RECORD"))
local start, count = tonumber(os.getenv("START") or "0"), tonumber(os.getenv("COUNT") or "1000")
local d = tonumber(os.getenv("DELAY_MS") or "0")
local reqs, n, i, wraps = {}, 0, 0, 0

function init(args)
  local f = assert(io.open(pool, "rb"))
  f:seek("set", start * record)
  for k = 1, count do
    local rec = f:read(record)
    if not rec or #rec < record then break end
    local len = tonumber(rec:sub(1, 8))
    n = n + 1
    reqs[n] = rec:sub(9, 8 + len)
  end
  f:close()
end

function request()
  i = i + 1
  if i > n then i = 1; wraps = wraps + 1 end
  return reqs[i]
end

if d > 0 then
  function delay() return d end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wraps") or 0) end
  local e = summary.errors
  io.write(string.format(
    'JSONRESULT {"requests":%d,"duration_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"wraps":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, w))
end
