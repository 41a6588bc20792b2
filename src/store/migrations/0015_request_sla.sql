-- SLA alerts of service requests (issue 6 item 3; C3.1.2, C5.3): the 75 % warning and the 100 %
-- breach of each clock, recorded once per request, clock and cycle by the request.sla job (the
-- unique index makes the at-least-once scheduler harmless). A breach row is the breach record: which
-- target, its due instant, by how much it was missed when detected (business minutes over, wall
-- milliseconds late) and the business time the clock spent waiting on the customer and on the
-- client, so liability can be decided from facts. Rows are never updated or deleted: a reopened
-- request keeps the records of its earlier cycles.
CREATE TABLE request_sla_alerts (
    id {{int64}} PRIMARY KEY,
    request_id {{int64}} NOT NULL REFERENCES requests (id),
    client_id {{int64}} NOT NULL,
    clock TEXT NOT NULL CHECK (clock IN ('first_response', 'resolution')),
    cycle {{int64}} NOT NULL CHECK (cycle >= 0),      -- 0; each reopening starts the next resolution cycle
    kind TEXT NOT NULL CHECK (kind IN ('warning', 'breach')),
    priority {{int64}} NOT NULL CHECK (priority BETWEEN 1 AND 4),
    target_minutes {{int64}} NOT NULL,
    due_at {{int64}} NOT NULL,
    warn_at {{int64}} NOT NULL,
    detected_at {{int64}} NOT NULL,
    counted_ms {{int64}} NOT NULL,                    -- business ms counted against the target at detection
    overdue_ms {{int64}} NOT NULL,                    -- business ms past the target at detection (breach)
    late_ms {{int64}} NOT NULL,                       -- wall ms from due_at to detection (breach)
    paused_customer_ms {{int64}} NOT NULL,            -- business ms waiting on the customer
    paused_client_ms {{int64}} NOT NULL               -- business ms waiting on the client (party B)
) {{strict}};
CREATE UNIQUE INDEX request_sla_alerts_once ON request_sla_alerts (request_id, clock, cycle, kind);
CREATE INDEX request_sla_alerts_client ON request_sla_alerts (client_id, request_id, id);
