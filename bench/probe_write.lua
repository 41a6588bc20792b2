-- probe_write.lua: wrk script for the durable-write benchmark. Every request POSTs one probe row
-- (a ~100-byte body) to kefu's test-mode route, which answers 201 only once the row is on disk.
-- Usage: wrk ... -s bench/probe_write.lua URL -- [TAG]   (URL is the server root; TAG default "bench")
local tag = "bench"

init = function(args)
   if args[1] ~= nil and args[1] ~= "" then tag = args[1] end
   wrk.method = "POST"
   wrk.path = "/api/v1/test/probe-writes"
   wrk.headers["Content-Type"] = "application/json"
   -- 100 bytes of text: what a short customer message or log line weighs.
   local body = string.rep("0123456789", 10)
   wrk.body = '{"tag":"' .. tag .. '","body":"' .. body .. '"}'
   -- No request() function: wrk then formats the request once, after init, and reuses it.
end

done = function(summary, latency, requests)
   local s = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format("wrk_requests %d\n", summary.requests))
   io.write(string.format("wrk_seconds %.3f\n", s))
   io.write(string.format("wrk_rps %.1f\n", summary.requests / s))
   io.write(string.format("wrk_p50_us %d\n", latency:percentile(50)))
   io.write(string.format("wrk_p90_us %d\n", latency:percentile(90)))
   io.write(string.format("wrk_p99_us %d\n", latency:percentile(99)))
   io.write(string.format("wrk_max_us %d\n", latency.max))
   io.write(string.format("wrk_non2xx %d\n", e.status))
   io.write(string.format("wrk_errors_connect %d\n", e.connect))
   io.write(string.format("wrk_errors_read %d\n", e.read))
   io.write(string.format("wrk_errors_write %d\n", e.write))
   io.write(string.format("wrk_errors_timeout %d\n", e.timeout))
end
