-- create.lua: POST /api/v1/requests under the agreement of client BENCH_CLIENT with the API token in
-- BENCH_TOKEN: a real request (number, history rows, audit record), answered 201 once durable.
-- Usage: wrk ... -s bench/create.lua URL -- TAG   (the subject carries TAG, so rows can be counted)
dofile("bench/report.lua")

init = function(args)
   local tag = args[1] or "bench-create"
   wrk.method = "POST"
   wrk.path = "/api/v1/requests"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
   wrk.body = '{"client_id":"' .. os.getenv("BENCH_CLIENT") .. '","service_kind":"technical_support",' ..
      '"channel":"phone","priority":"P3","subject":"' .. tag .. ' 打印机无法打印",' ..
      '"body":"财务部的 HP-1020 从今天上午开始卡纸，请尽快处理。"}'
end
