-- report.lua: adds machine-readable lines to wrk's output for bench/run (no per-request Lua work,
-- so it does not slow wrk down). Latencies in microseconds.
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
