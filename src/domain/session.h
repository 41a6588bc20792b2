/* Login sessions: a new random token at every login (the cookie value, shown once), stored only as
 * its hash, with idle and absolute timeouts, ended on logout, on disable and on password change,
 * and the session's anti-forgery (CSRF) token. The HTTP layer sets the cookie (docs/security.md). */
#ifndef KEFU_SESSION_H
#define KEFU_SESSION_H
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"
#include "domain/secret_token.h"

struct store;
struct store_conn;
struct kf_clock;

#define SESSION_IDLE_MS_DEFAULT (30LL * 60 * 1000)          /* 30 min without a request */
#define SESSION_ABSOLUTE_MS_DEFAULT (12LL * 60 * 60 * 1000) /* 12 h after login, however active */
#define SESSION_TOUCH_MS_DEFAULT (60LL * 1000)              /* write last_seen at most once a minute */
#define SESSION_CSRF_SECRET_BYTES 32
#define SESSION_USER_AGENT_MAX 256                          /* bytes kept of the User-Agent */
#define SESSION_ADDR_MAX 64                                 /* bytes kept of the source address */

/* Timeouts; session_limits_default() gives the defaults above. */
struct session_limits {
    int64_t idle_ms;
    int64_t absolute_ms;
    int64_t touch_ms;
};

struct session_limits session_limits_default(void);

/* An open session as session_resolve finds it. Holds the CSRF secret: keep it in memory only. */
struct session_info {
    int64_t id;
    int64_t user_id;
    int64_t client_id;
    int64_t created;
    int64_t last_seen;
    int64_t idle_expires;
    int64_t absolute_expires;
    unsigned char csrf_secret[SESSION_CSRF_SECRET_BYTES];
};

/* Opens a session for a user who has just proved who they are (inside the caller's write, so the
 * login's throttle reset, the session and its "session.create" audit record commit together).
 * Always a fresh random token — never one the client brought (session fixation). The token goes
 * to token_r once and is never stored: only its hash is. client_id: the user's client (0 for
 * provider staff). source_addr and user_agent may be NULL; they are cut to SESSION_ADDR_MAX and
 * SESSION_USER_AGENT_MAX bytes (at a UTF-8 boundary). `lim` NULL: the defaults. */
int session_create(struct store_conn *c, const struct kf_ctx *ctx, const struct session_limits *lim, int64_t user_id,
                   int64_t client_id, const char *source_addr, const char *user_agent, char token_r[TOKEN_TEXT_MAX],
                   int64_t *session_id_r, struct kf_err *err);

/* Finds the open session of `token` (the cookie value). KF_E_UNAUTHENTICATED for a malformed or
 * unknown token, and for a session that has ended, been idle past its idle expiry or reached its
 * absolute expiry. When the last recorded request is at least lim->touch_ms old, records this one
 * (last_seen) and slides the idle expiry (never past the absolute one) in a small write of its own —
 * the bookkeeping write DESIGN.md allows on GET. The caller reads the user's current roles and
 * state itself (a disabled user's sessions are ended, but check anyway). */
int session_resolve(struct store *s, const struct kf_clock *clock, const struct session_limits *lim,
                    const char *token, struct session_info *out, struct kf_err *err);

/* session_resolve with the default limits, and the session's user as it is now into *user_r
 * (strings in ctx->arena), read in the same statement; the caller's checks of the user are the same. */
struct user;
int session_resolve_user(const struct kf_ctx *ctx, const char *token, struct session_info *out, struct user *user_r,
                         struct kf_err *err);

/* Logout: ends the session of `token` (inside the caller's write) with reason "logout" and appends
 * "session.end". Idempotent: an unknown or already ended session is not an error (*ended_r false,
 * nothing written). ended_r may be NULL. */
int session_end(struct store_conn *c, const struct kf_ctx *ctx, const char *token, bool *ended_r, struct kf_err *err);

/* Ends every open session of `user_id` (inside the caller's write: the disable or the password
 * change itself) with `reason` ("disabled", "password_changed", …) and appends one
 * "session.end_all" record on `client_id`'s chain (the user's client) with the count. Sessions of
 * other users are untouched. *n_r (may be NULL): how many ended. */
int session_end_all_for_user(struct store_conn *c, const struct kf_ctx *ctx, int64_t user_id, int64_t client_id,
                             const char *reason, int64_t *n_r, struct kf_err *err);

#define SESSION_KEEP_MS (30LL * 24 * 60 * 60 * 1000) /* ended or expired sessions are kept 30 days */

/* Housekeeping (inside the caller's write): deletes sessions that ended or reached their absolute
 * expiry more than SESSION_KEEP_MS ago, and throttle rows whose window and wait are over
 * (throttle_purge); appends one "session.purge" record on the provider chain with the counts when
 * anything went. *n_r (may be NULL): sessions deleted. */
int session_purge(struct store_conn *c, const struct kf_ctx *ctx, int64_t *n_r, struct kf_err *err);

/* Registers the hourly "session.purge" job and schedules it once per database. For `kefu serve`
 * outside test mode, next to audit_jobs_schedule. */
int session_jobs_schedule(const struct kf_env *env, struct kf_err *err);

/* The session's anti-forgery token, for every state-changing form and for the X-CSRF-Token header:
 * base64url(HMAC(csrf_secret, "kefu-csrf-v1" || session id)), 43 characters. The same for the whole
 * session, different for every session. */
void session_csrf_token(const struct session_info *info, char out[TOKEN_TEXT_MAX]);

/* True when `presented` is this session's CSRF token (constant-time comparison). */
bool session_csrf_check(const struct session_info *info, const char *presented);

#endif
