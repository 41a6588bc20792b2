-- 0010 agreements (issue 5; C1.1, C1.1.1, C1.3.1, C1.3.2, C2.1.1, C2.2.1, C2.2.2, C10.1.1, C10.2.1,
-- C10.3.2): the service catalogue (provider-wide, seeded with the four kinds of C2.1.1), agreements
-- with their parties, term, signatures and dissolution, the services each includes with personalised
-- targets and fees, and the per-(pattern, year) counters that make contract numbers gap-free.
-- Times are UTC ms; money is int64 fen; targets are business minutes. docs/agreements.md.

CREATE TABLE service_kinds (
    id {{int64}} PRIMARY KEY,
    code TEXT NOT NULL,                    -- [a-z0-9_], stable: consulting, technical_support, …
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    p1_response {{int64}} NOT NULL,        -- default targets per priority, business minutes
    p1_resolution {{int64}} NOT NULL,
    p2_response {{int64}} NOT NULL,
    p2_resolution {{int64}} NOT NULL,
    p3_response {{int64}} NOT NULL,
    p3_resolution {{int64}} NOT NULL,
    p4_response {{int64}} NOT NULL,
    p4_resolution {{int64}} NOT NULL,
    builtin {{int64}} NOT NULL,            -- 1 for the four kinds of C2.1.1
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE UNIQUE INDEX service_kinds_code ON service_kinds (code);

-- Default fee items of a kind: one amount per fee kind, copied into an agreement that names none.
CREATE TABLE service_kind_fees (
    kind_id {{int64}} NOT NULL REFERENCES service_kinds (id),
    fee_kind TEXT NOT NULL CHECK (fee_kind IN ('fixed_month', 'fixed_quarter', 'fixed_year', 'per_hour',
                                               'per_visit', 'per_training')),
    amount_fen {{int64}} NOT NULL CHECK (amount_fen >= 0),
    PRIMARY KEY (kind_id, fee_kind)
) {{strict}};

INSERT INTO service_kinds (id, code, name_zh, name_en, p1_response, p1_resolution, p2_response, p2_resolution,
                           p3_response, p3_resolution, p4_response, p4_resolution, builtin, created, updated)
VALUES (1, 'consulting', '咨询服务', 'Consulting', 30, 240, 60, 480, 240, 1440, 480, 2880, 1, 0, 0),
       (2, 'technical_support', '技术支持', 'Technical support', 30, 240, 60, 480, 240, 1440, 480, 2880, 1, 0, 0),
       (3, 'maintenance', '维护服务', 'Maintenance', 30, 480, 120, 960, 480, 2880, 960, 5760, 1, 0, 0),
       (4, 'training', '培训服务', 'Training', 240, 2880, 480, 4800, 960, 9600, 1440, 14400, 1, 0, 0);

INSERT INTO service_kind_fees (kind_id, fee_kind, amount_fen)
VALUES (1, 'per_hour', 50000),
       (2, 'fixed_month', 800000),
       (3, 'fixed_quarter', 1500000),
       (3, 'per_visit', 80000),
       (4, 'per_training', 300000);

-- One agreement between the provider (party A) and one client (party B). Contact names and phones
-- name employees: the audit trail masks them. contract_number stays NULL until the agreement is active.
CREATE TABLE agreements (
    id {{int64}} PRIMARY KEY,
    client_id {{int64}} NOT NULL REFERENCES organizations (id),
    draft_ref TEXT NOT NULL,               -- DRAFT-<id>
    contract_number TEXT,                  -- from number_pattern, assigned in the activating write
    number_pattern TEXT NOT NULL,          -- e.g. KF-{yyyy}-{seq:4}
    provider_legal_name TEXT NOT NULL,
    provider_address TEXT NOT NULL,
    provider_contact_name TEXT NOT NULL,
    provider_contact_phone TEXT NOT NULL,
    client_legal_name TEXT NOT NULL,
    client_address TEXT NOT NULL,
    client_contact_name TEXT NOT NULL,
    client_contact_phone TEXT NOT NULL,
    term_years {{int64}} NOT NULL CHECK (term_years BETWEEN 1 AND 10),
    notice_days {{int64}} NOT NULL CHECK (notice_days BETWEEN 0 AND 365),
    acceptance_by TEXT NOT NULL CHECK (acceptance_by IN ('client', 'customer')),
    acceptance_days {{int64}} NOT NULL,
    reminder_days {{int64}} NOT NULL,      -- renewal reminder this many days before expiry
    calendar_zone TEXT NOT NULL,           -- IANA zone of the agreement (expiry, numbering year)
    calendar_id {{int64}},                 -- the business calendar (persisted calendars, 0009), NULL: default
    supplementary_terms TEXT NOT NULL,     -- Markdown, at most 64 KiB (C1.3.2)
    status TEXT NOT NULL CHECK (status IN ('draft', 'provider_signed', 'active', 'expired', 'dissolved')),
    provider_signed_by {{int64}},
    provider_signed_at {{int64}},
    client_signed_by {{int64}},
    client_signed_at {{int64}},
    start_at {{int64}},                    -- the second signature
    expires_at {{int64}},                  -- start + term_years in calendar_zone
    reminder_sent_at {{int64}},            -- the renewal reminder, sent once
    dissolution_ground TEXT,               -- material_breach, force_majeure, mutual_consent
    dissolution_invoked_by {{int64}},
    dissolution_invoked_at {{int64}},
    dissolution_effective_at {{int64}},
    dissolution_provider_by {{int64}},     -- confirmations (both needed for mutual consent)
    dissolution_provider_at {{int64}},
    dissolution_client_by {{int64}},
    dissolution_client_at {{int64}},
    dissolution_evidence TEXT,             -- JSON array of file ids (owner_kind "agreement")
    ended_at {{int64}},                    -- expired or dissolved at
    created_by {{int64}} NOT NULL,
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE INDEX agreements_client ON agreements (client_id, id);
CREATE INDEX agreements_status_expires ON agreements (status, expires_at);
CREATE UNIQUE INDEX agreements_contract_number ON agreements (contract_number);

-- The services an agreement includes; a NULL target means the catalogue's default (C2.2.2).
CREATE TABLE agreement_services (
    id {{int64}} PRIMARY KEY,
    agreement_id {{int64}} NOT NULL REFERENCES agreements (id),
    client_id {{int64}} NOT NULL,
    kind_id {{int64}} NOT NULL REFERENCES service_kinds (id),
    p1_response {{int64}},
    p1_resolution {{int64}},
    p2_response {{int64}},
    p2_resolution {{int64}},
    p3_response {{int64}},
    p3_resolution {{int64}},
    p4_response {{int64}},
    p4_resolution {{int64}},
    created {{int64}} NOT NULL
) {{strict}};
CREATE UNIQUE INDEX agreement_services_kind ON agreement_services (agreement_id, kind_id);
CREATE INDEX agreement_services_client ON agreement_services (client_id, agreement_id);

CREATE TABLE agreement_fees (
    id {{int64}} PRIMARY KEY,
    agreement_id {{int64}} NOT NULL REFERENCES agreements (id),
    client_id {{int64}} NOT NULL,
    service_id {{int64}} NOT NULL REFERENCES agreement_services (id),
    fee_kind TEXT NOT NULL CHECK (fee_kind IN ('fixed_month', 'fixed_quarter', 'fixed_year', 'per_hour',
                                               'per_visit', 'per_training')),
    amount_fen {{int64}} NOT NULL CHECK (amount_fen >= 0)
) {{strict}};
CREATE UNIQUE INDEX agreement_fees_kind ON agreement_fees (service_id, fee_kind);
CREATE INDEX agreement_fees_client ON agreement_fees (client_id, agreement_id);

-- The last sequence number used per pattern and year. The activating write increments its row
-- with an upsert, so concurrent activations queue on the row and a rolled-back one leaves no gap.
CREATE TABLE agreement_numbers (
    pattern TEXT NOT NULL,
    year {{int64}} NOT NULL,
    last_seq {{int64}} NOT NULL,
    PRIMARY KEY (pattern, year)
) {{strict}};
