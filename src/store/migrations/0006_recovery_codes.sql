-- 0006 recovery codes: the one-time codes that stand in for a lost second factor (issue 3).
-- Only keyed hashes are stored (src/domain/totp.h recovery_code_hash, keyed by a sub-key of the
-- user's client data key, which key rotation re-wraps but never changes).
CREATE TABLE user_recovery_codes (
    user_id {{int64}} NOT NULL REFERENCES users (id),
    client_id {{int64}} NOT NULL,
    code_hash {{blob}} NOT NULL,
    created {{int64}} NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) {{strict}};
