-- 0019 the agent queue (issue 7 item 2): each request's SLA state and next due instant kept on its
-- row, so a queue of a million rows filters and sorts by them through an index; and saved views.
-- sla_state is the worst of the two clocks ('running', 'paused', 'warning', 'breached', 'met',
-- 'missed'; request_sla.h), NULL while unknown; sla_due_at the due instant of the next running
-- clock, NULL when none runs. The request.sla job and the request writes keep them (docs/requests.md
-- "Queue and saved views" says how fresh they are); pages still compute the live clocks of what
-- they show.
ALTER TABLE requests ADD COLUMN sla_state TEXT;
ALTER TABLE requests ADD COLUMN sla_due_at {{int64}};
CREATE INDEX requests_sla_due ON requests (sla_due_at, id);
CREATE INDEX requests_sla_state ON requests (sla_state, id);
CREATE INDEX requests_team ON requests (team_id, id);

-- A saved view: a named filter set and a sort of one provider user, personal or shared with all
-- provider staff. filters is a JSON object (request_view.h names its keys); the name is unique
-- per owner (a second submission of the same name is refused).
CREATE TABLE request_views (
    id {{int64}} PRIMARY KEY,
    owner_id {{int64}} NOT NULL REFERENCES users (id),
    shared {{int64}} NOT NULL CHECK (shared IN (0, 1)),
    name TEXT NOT NULL,                    -- 1..80 characters
    filters TEXT NOT NULL,                 -- JSON object, at most 2 KiB
    sort TEXT NOT NULL CHECK (sort IN ('newest', 'oldest', 'sla_due')),
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE UNIQUE INDEX request_views_name ON request_views (owner_id, name);
CREATE INDEX request_views_shared ON request_views (shared, id);
