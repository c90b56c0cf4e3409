-- wrk script for haat's benchmark: each thread cycles through its own file of pre-built,
-- pre-signed raw HTTP requests (written by bench/traffic.py as "LEN\n<bytes>" records).
-- Usage: wrk -t T -c C -d 60s --latency -s bench/wrk.lua URL -- STEM [START]
-- where thread i reads STEM.i, beginning at the fraction START (0 by default) of its file,
-- so repeated runs against one database can send messages it has not seen.
-- done() prints one JSON line starting with "BENCH_JSON ".

local counter = 0
local threads = {}

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   local stem = args[1]
   local f = assert(io.open(stem .. "." .. id, "rb"))
   requests = {}
   local n = 0
   while true do
      local len = f:read("*l")
      if not len then break end
      n = n + 1
      requests[n] = f:read(tonumber(len))
   end
   f:close()
   total = n
   pos = math.floor(total * (tonumber(args[2]) or 0)) % math.max(total, 1)
   sent = 0
end

function request()
   pos = pos + 1
   if pos > total then pos = 1 end
   sent = sent + 1
   return requests[pos]
end

function done(summary, latency, requests)
   local loaded, sent_all = 0, 0
   for _, thread in ipairs(threads) do
      loaded = loaded + thread:get("total")
      sent_all = sent_all + thread:get("sent")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"duration_us": %d, "requests": %d, "bytes": %d, ' ..
      '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_status": %d, ' ..
      '"errors_timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, ' ..
      '"max_us": %d, "mean_us": %.1f, "loaded": %d, "sent": %d}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean, loaded, sent_all))
end
