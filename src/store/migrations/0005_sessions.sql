-- 0005 sessions: login sessions, API tokens for integrations and login throttling
-- (src/domain/session.c, api_token.c, throttle.c; docs/security.md "Sessions, API tokens and throttling").
-- user_id is a plain indexed column: the users table comes with migration 0004 on another branch, and
-- the foreign keys (sessions.user_id, api_tokens.user_id → users.id) arrive when the two are merged.
-- Only BLAKE2b-256 hashes of tokens are stored: no column here authenticates anyone.

CREATE TABLE sessions (
    id {{int64}} PRIMARY KEY,
    token_hash {{blob}} NOT NULL,          -- token_hash() of the cookie value, never the value
    user_id {{int64}} NOT NULL,
    client_id {{int64}} NOT NULL,          -- the user's client; 0 for provider staff
    created {{int64}} NOT NULL,
    last_seen {{int64}} NOT NULL,          -- written at most once a minute (session_resolve)
    idle_expires {{int64}} NOT NULL,       -- last_seen + idle timeout, never past absolute_expires
    absolute_expires {{int64}} NOT NULL,   -- created + absolute timeout
    ended {{int64}},                       -- NULL while the session is open
    ended_reason TEXT,                     -- logout, disabled, password_changed, …
    source_addr TEXT NOT NULL,
    user_agent TEXT NOT NULL,              -- at most 256 bytes
    csrf_secret {{blob}} NOT NULL          -- 32 random bytes: the key of the session's CSRF token
) {{strict}};
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id, ended);
CREATE INDEX sessions_absolute_expires ON sessions (absolute_expires);

CREATE TABLE api_tokens (
    id {{int64}} PRIMARY KEY,
    token_hash {{blob}} NOT NULL,          -- token_hash() of the kf_… token, never the token
    user_id {{int64}} NOT NULL,            -- the owner
    client_id {{int64}} NOT NULL,          -- the owner's client; 0 for provider staff
    name TEXT NOT NULL,
    roles {{int64}} NOT NULL,              -- enum role bits, a subset of the owner's roles at creation
    created {{int64}} NOT NULL,
    expires {{int64}} NOT NULL,            -- required, at most a year after created
    revoked {{int64}},                     -- NULL while valid
    last_used {{int64}}                    -- written at most once a minute (api_token_resolve)
) {{strict}};
CREATE UNIQUE INDEX api_tokens_token_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created, id);

-- Failed logins per key ("acct:" + the account's look-alike key, or "addr:" + the source address,
-- IPv6 cut to its /64) in a one-hour window that starts at the window's first failure.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    window_start {{int64}} NOT NULL,
    failures {{int64}} NOT NULL,
    blocked_until {{int64}} NOT NULL       -- no attempt before this instant (0: none)
) {{strict}};
CREATE INDEX login_throttle_window ON login_throttle (window_start);
