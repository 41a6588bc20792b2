-- 0016 acceptance and remediation (issue 6 item 4; C5.1.2, C5.1.1): a resolved request waits for
-- whoever its agreement names to accept or reject it; a rejection reopens it as remediation
-- (counted on the request); silence past the acceptance window accepts it. Each decision is a row
-- here (the quality figures count them) besides its history row in request_events. Times are UTC ms.
-- docs/requests.md "Acceptance and remediation".

ALTER TABLE requests ADD COLUMN remediation_count {{int64}} NOT NULL DEFAULT 0;

CREATE TABLE request_acceptances (
    id {{int64}} PRIMARY KEY,
    request_id {{int64}} NOT NULL REFERENCES requests (id),
    client_id {{int64}} NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    decided_by TEXT NOT NULL CHECK (decided_by IN ('client', 'customer', 'silence')),
    actor_id {{int64}} NOT NULL,           -- the client user; 0 for the customer and for silence
    customer_id {{int64}},                 -- the customer who decided (decided_by 'customer')
    reason TEXT NOT NULL,                  -- a rejection's reason (1..4000 bytes); '' otherwise
    remediation {{int64}} NOT NULL,        -- remediations before this decision (0: the first resolution)
    resolved_at {{int64}} NOT NULL,        -- the resolution decided on
    at {{int64}} NOT NULL
) {{strict}};
CREATE INDEX request_acceptances_request ON request_acceptances (client_id, request_id, id);
CREATE INDEX request_acceptances_client ON request_acceptances (client_id, at);

-- Canned replies per provider team (issue 6 item 1): a title and a Markdown body with variables
-- (request_number, subject, customer_name, agent_name in double braces) that canned.h fills for one
-- request. Provider objects like teams: no client's data is stored here.
CREATE TABLE canned_replies (
    id {{int64}} PRIMARY KEY,
    team_id {{int64}} NOT NULL REFERENCES teams (id),
    title TEXT NOT NULL,                   -- 1..100 characters, unique in the team
    title_key TEXT NOT NULL,               -- the title normalised (NFKC, case folded): the uniqueness key
    body TEXT NOT NULL,                    -- Markdown with variables, 1 byte .. 16 KiB
    created_by {{int64}} NOT NULL,
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE UNIQUE INDEX canned_replies_title ON canned_replies (team_id, title_key);
