-- cookie.lua: bench/report.lua's figures, with every request carrying the session cookie in
-- BENCH_COOKIE (the page benchmark asks for a logged-in person's page).
dofile("bench/report.lua")
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
