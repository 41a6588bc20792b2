-- read_ids.lua: GET /api/v1/requests/{id}?client_id=… for ids drawn at random from the file in
-- BENCH_IDS ("id client_id" lines, written by bench/gen), with the API token in BENCH_TOKEN.
-- Every request is formatted once in init; request() only picks one (no per-request formatting).
dofile("bench/report.lua")
local reqs = {}

init = function(args)
   local token = os.getenv("BENCH_TOKEN")
   local headers = {["Authorization"] = "Bearer " .. token}
   for line in io.lines(os.getenv("BENCH_IDS")) do
      local id, cid = line:match("^(%d+) (%d+)")
      if id then reqs[#reqs + 1] = wrk.format("GET", "/api/v1/requests/" .. id .. "?client_id=" .. cid, headers) end
   end
   math.randomseed(#reqs)
end

request = function()
   return reqs[math.random(#reqs)]
end
