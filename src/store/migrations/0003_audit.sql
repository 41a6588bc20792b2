-- 0003 audit: the tamper-evident audit trail (C7.1.1; src/domain/audit.h, docs/security.md).
-- One hash chain per client and one for provider-wide records (chain 0). Hashes are lowercase hex
-- of SHA-256; text columns are NOT NULL ('' for none) so the canonical form has one reading.

CREATE TABLE audit_log (
    id {{int64}} PRIMARY KEY,
    chain {{int64}} NOT NULL,          -- client id; 0 = the provider chain
    seq {{int64}} NOT NULL,            -- 1, 2, 3, … within the chain, no gaps
    at {{int64}} NOT NULL,             -- UTC ms, from the injected clock
    actor_kind TEXT NOT NULL,          -- anonymous, user, token, system
    actor_id {{int64}} NOT NULL,       -- user id, 0 for none
    token_id {{int64}} NOT NULL,       -- API token id, 0 for none
    source_addr TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id {{int64}} NOT NULL,
    changes TEXT NOT NULL,             -- canonical JSON: sorted keys, compact; secrets masked
    prev_hash TEXT NOT NULL,           -- hash of seq - 1 (64 zeros for seq 1)
    hash TEXT NOT NULL,                -- SHA-256(prev_hash bytes || canonical bytes of this record)
    UNIQUE (chain, seq)
) {{strict}};
-- Newest-first keyset pages (at, id) for the audit pages: per client, per object, per actor, all.
CREATE INDEX audit_log_chain_at ON audit_log (chain, at, id);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at, id);
CREATE INDEX audit_log_at ON audit_log (at, id);

-- The head of each chain: the row every append to the chain locks (upsert), so appends to one
-- chain are serialised and never fork it, while different chains never wait on each other.
-- verify compares it with the last record, which detects a deleted last record.
CREATE TABLE audit_heads (
    chain {{int64}} PRIMARY KEY,
    seq {{int64}} NOT NULL,
    hash TEXT NOT NULL
) {{strict}};

-- Signed checkpoints: Ed25519 over (chain, seq, hash, at). Exported copies kept outside the
-- database let verify detect a truncated chain whose head was rewound with it.
CREATE TABLE audit_checkpoints (
    chain {{int64}} NOT NULL,
    seq {{int64}} NOT NULL,
    hash TEXT NOT NULL,
    at {{int64}} NOT NULL,
    signature {{blob}} NOT NULL,       -- 64 bytes
    public_key {{blob}} NOT NULL,      -- 32 bytes: which key signed (verify trusts only its own key)
    PRIMARY KEY (chain, seq)
) {{strict}};
