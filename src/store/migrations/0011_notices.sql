-- 0011 notices (issue 5 items 6 and 7; C11.1.1, C8.2.1): the register of written notices between the
-- provider (party A) and a client (party B), their delivery and acknowledgement, the provider's service
-- update announcements (one notice of kind 'update' per client, sharing announcement_id) and the read
-- receipts of every notice. A sent notice is never updated except to record its delivery and its
-- acknowledgement; a correction is a new notice whose corrects_id names the one it corrects.
-- Times are UTC ms. docs/notices.md.

-- One announcement of the provider to one, several or all clients: provider-wide (no client_id);
-- what each client received is its own row in notices, so a client never learns who else got it.
CREATE TABLE announcements (
    id {{int64}} PRIMARY KEY,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,                    -- Markdown
    recipients {{int64}} NOT NULL,         -- how many clients got a notice
    sent_by {{int64}} NOT NULL,
    sent_at {{int64}} NOT NULL
) {{strict}};

CREATE TABLE notices (
    id {{int64}} PRIMARY KEY,
    client_id {{int64}} NOT NULL REFERENCES organizations (id),   -- the client party (tenant)
    agreement_id {{int64}},                -- an agreement of that client, or NULL
    announcement_id {{int64}},             -- the announcement it belongs to, or NULL
    kind TEXT NOT NULL CHECK (kind IN ('change', 'update', 'breach', 'renewal', 'termination', 'other')),
    sender_party TEXT NOT NULL CHECK (sender_party IN ('provider', 'client')),
    recipient_party TEXT NOT NULL CHECK (recipient_party IN ('provider', 'client')),
    subject TEXT NOT NULL,                 -- 1..200 characters
    body TEXT NOT NULL,                    -- Markdown, at most 64 KiB
    method TEXT NOT NULL CHECK (method IN ('portal', 'email', 'registered_mail', 'hand')),
    tracking_number TEXT,                  -- registered mail only
    corrects_id {{int64}},                 -- the earlier notice of the same client this one corrects
    sent_by {{int64}} NOT NULL,            -- a user, 0 for kefu itself
    sent_at {{int64}} NOT NULL,
    delivered_at {{int64}},                -- portal: sent_at; else recorded by the sender side
    delivery_recorded_by {{int64}},
    acknowledged_at {{int64}},             -- by the recipient side, once
    acknowledged_by {{int64}},
    created {{int64}} NOT NULL
) {{strict}};
CREATE INDEX notices_client ON notices (client_id, id);
CREATE INDEX notices_announcement ON notices (announcement_id, client_id);
CREATE INDEX notices_corrects ON notices (client_id, corrects_id);
CREATE INDEX notices_unacknowledged ON notices (recipient_party, acknowledged_at, client_id);

-- Read receipts: the first read of a notice by each person of the recipient side.
CREATE TABLE notice_reads (
    notice_id {{int64}} NOT NULL REFERENCES notices (id),
    client_id {{int64}} NOT NULL,
    user_id {{int64}} NOT NULL,            -- the reader (a user of the recipient side)
    read_at {{int64}} NOT NULL,
    PRIMARY KEY (notice_id, user_id)
) {{strict}};
CREATE INDEX notice_reads_client ON notice_reads (client_id, notice_id);
