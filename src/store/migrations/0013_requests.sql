-- 0013 service requests (issue 6; C2.1.1, C3.2.1, C5.2): requests under an active agreement with
-- their number, channel, priority, status, assignee and team; the conversation (public replies and
-- internal notes); the history of status, priority and assignment changes the SLA clocks compute
-- from; and the one counter that makes SR-numbers gap-free per installation. Times are UTC ms.
-- docs/requests.md.

CREATE TABLE requests (
    id {{int64}} PRIMARY KEY,
    client_id {{int64}} NOT NULL REFERENCES organizations (id),
    number TEXT NOT NULL,                  -- SR-000123, drawn in the creating write
    seq {{int64}} NOT NULL,                -- the number's sequence value
    customer_id {{int64}} REFERENCES customers (id),   -- NULL: raised by the client's own staff
    agreement_id {{int64}} NOT NULL REFERENCES agreements (id),
    service_kind_id {{int64}} NOT NULL REFERENCES service_kinds (id),
    channel TEXT NOT NULL CHECK (channel IN ('phone', 'web', 'email', 'api', 'onsite', 'remote')),
    priority {{int64}} NOT NULL CHECK (priority BETWEEN 1 AND 4),
    subject TEXT NOT NULL,                 -- 1..200 characters
    body TEXT NOT NULL,                    -- Markdown, at most 64 KiB
    status TEXT NOT NULL CHECK (status IN ('new', 'open', 'waiting_customer', 'waiting_client', 'resolved',
                                           'closed', 'reopened')),
    assignee_id {{int64}},                 -- a provider user
    team_id {{int64}},                     -- a provider team
    idempotency_key TEXT,                  -- the client's own key: one request per key and client
    first_response_at {{int64}},           -- the first public reply of provider staff (SLA stop)
    resolved_at {{int64}},                 -- the last move to resolved; NULL again when reopened
    closed_at {{int64}},
    created_by {{int64}} NOT NULL,
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE UNIQUE INDEX requests_number ON requests (number);
CREATE UNIQUE INDEX requests_idempotency ON requests (client_id, idempotency_key);
CREATE INDEX requests_client ON requests (client_id, id);
CREATE INDEX requests_status ON requests (status, id);
CREATE INDEX requests_assignee ON requests (assignee_id, id);

-- The last number drawn. One row: every creating write increments it, so concurrent creations queue
-- on the row and a rolled-back one rolls its increment back (no gaps).
CREATE TABLE request_numbers (
    name TEXT PRIMARY KEY,
    last_seq {{int64}} NOT NULL
) {{strict}};
INSERT INTO request_numbers (name, last_seq) VALUES ('SR', 0);

-- The conversation. kind 'internal' rows are provider staff's notes: the domain's reads for client
-- users never select them.
CREATE TABLE request_messages (
    id {{int64}} PRIMARY KEY,
    request_id {{int64}} NOT NULL REFERENCES requests (id),
    client_id {{int64}} NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('public', 'internal')),
    author_id {{int64}} NOT NULL,
    author_side TEXT NOT NULL CHECK (author_side IN ('provider', 'client')),
    body TEXT NOT NULL,                    -- Markdown, 1 byte .. 64 KiB
    created {{int64}} NOT NULL
) {{strict}};
CREATE INDEX request_messages_request ON request_messages (client_id, request_id, id);

-- What changed when: status, priority, assignee, team, service kind (from → to, as text). The SLA
-- clocks compute pauses and priority changes from these rows, never from the request's current state.
CREATE TABLE request_events (
    id {{int64}} PRIMARY KEY,
    request_id {{int64}} NOT NULL REFERENCES requests (id),
    client_id {{int64}} NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('status', 'priority', 'assignee', 'team', 'service_kind')),
    from_value TEXT NOT NULL,              -- "" when there was none
    to_value TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor_id {{int64}} NOT NULL,
    at {{int64}} NOT NULL
) {{strict}};
CREATE INDEX request_events_request ON request_events (client_id, request_id, id);

-- Phone calls and remote-assistance sessions logged against a request (C9.2.1): who, when, how
-- long, what was said; their durations feed billing later.
CREATE TABLE request_calls (
    id {{int64}} PRIMARY KEY,
    request_id {{int64}} NOT NULL REFERENCES requests (id),
    client_id {{int64}} NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('phone', 'remote')),
    user_id {{int64}} NOT NULL,            -- the provider user who took the call or ran the session
    started_at {{int64}} NOT NULL,
    duration_s {{int64}} NOT NULL CHECK (duration_s BETWEEN 0 AND 86400),
    summary TEXT NOT NULL,
    created_by {{int64}} NOT NULL,
    created {{int64}} NOT NULL
) {{strict}};
CREATE INDEX request_calls_request ON request_calls (client_id, request_id, id);

-- Time spent on a request: minutes, billable or not, under which service kind (the input of billing).
CREATE TABLE request_time_entries (
    id {{int64}} PRIMARY KEY,
    request_id {{int64}} NOT NULL REFERENCES requests (id),
    client_id {{int64}} NOT NULL,
    user_id {{int64}} NOT NULL,            -- who worked
    minutes {{int64}} NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    billable {{int64}} NOT NULL CHECK (billable IN (0, 1)),
    service_kind_id {{int64}} NOT NULL REFERENCES service_kinds (id),
    note TEXT NOT NULL,
    worked_at {{int64}} NOT NULL,          -- when the work was done
    created_by {{int64}} NOT NULL,
    created {{int64}} NOT NULL
) {{strict}};
CREATE INDEX request_time_entries_request ON request_time_entries (client_id, request_id, id);
