-- 0021 open requests (issue 7, performance): the request.sla job looks every minute at the requests
-- whose clocks can still raise an alert — the open ones and those closed in the last day. Without an
-- index on closed_at each run read the whole table (a million rows, to find the 2 % still open); with
-- (closed_at, id) the open ones are one range in id order and the recently closed another.
CREATE INDEX requests_closed ON requests (closed_at, id);
