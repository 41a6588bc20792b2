-- 0012 service changes and term history (issue 5 item 5; C8.1.1, C3.1.1): the rows of
-- agreement_services (and through service_id their agreement_fees) become versions valid in
-- [valid_from, valid_to) — NULL: from the start / still open — and agreement_changes records every
-- proposed change with its notice, effective instant and status. The terms in force at instant T are
-- the service rows with (valid_from IS NULL OR valid_from <= T) AND (valid_to IS NULL OR valid_to > T);
-- the calendar in force at T comes from the changes' calendar_before/calendar_after
-- (src/domain/agreement_change.c, docs/agreements.md "Term history"). Numbered 0012: 0011 is the notices'.

ALTER TABLE agreement_services ADD COLUMN valid_from {{int64}};   -- NULL: from the agreement's start
ALTER TABLE agreement_services ADD COLUMN valid_to {{int64}};     -- NULL: open-ended
ALTER TABLE agreement_services ADD COLUMN change_id {{int64}};    -- the change that wrote this version, NULL: signed terms
ALTER TABLE agreement_services ADD COLUMN closed_by {{int64}};    -- the change that set valid_to

-- One open-ended version per kind (what the old unique index on (agreement_id, kind_id) kept for drafts).
DROP INDEX agreement_services_kind;
CREATE UNIQUE INDEX agreement_services_open ON agreement_services (agreement_id, kind_id) WHERE valid_to IS NULL;

CREATE TABLE agreement_changes (
    id {{int64}} PRIMARY KEY,
    agreement_id {{int64}} NOT NULL REFERENCES agreements (id),
    client_id {{int64}} NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'withdrawn')),
    summary TEXT NOT NULL,                 -- what changes, in the provider's words (UTF-8, at most 4 KiB)
    effective_at {{int64}} NOT NULL,       -- >= the notice's delivery + notice_days * 24 h, < expires_at
    services_changed {{int64}} NOT NULL,   -- 1: a new full set of services from effective_at
    calendar_changed {{int64}} NOT NULL,   -- 1: calendar_after from effective_at
    calendar_before {{int64}},             -- the calendar in force before (NULL: the default calendar)
    calendar_after {{int64}},
    services_json TEXT NOT NULL,           -- the new services as proposed (for the list and the audit), or []
    notice_id {{int64}},                   -- the formal notice (C11.1.1) of kind "change"
    notice_delivered_at {{int64}} NOT NULL,
    withdraw_notice_id {{int64}},          -- the correcting notice of a withdrawal
    proposed_by {{int64}} NOT NULL,
    applied_at {{int64}},
    withdrawn_by {{int64}},
    withdrawn_at {{int64}},
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE INDEX agreement_changes_agreement ON agreement_changes (client_id, agreement_id, id);
-- At most one pending change per agreement (the write checks first, to answer with a clear conflict).
CREATE UNIQUE INDEX agreement_changes_one_pending ON agreement_changes (agreement_id) WHERE status = 'pending';
