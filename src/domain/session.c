/* Login sessions: create at login, resolve per request (sliding the idle expiry at most once a
 * minute), end at logout or for every session of a user, and the per-session CSRF token. Only
 * token hashes reach the database; no token or CSRF value is ever logged or audited. */
#include "domain/session.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "core/clock.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/audit.h"
#include "domain/identity_internal.h"
#include "domain/throttle.h"
#include "domain/user.h"
#include "store/store.h"

#define CSRF_MAGIC "kefu-csrf-v1"
#define SESSION_COLS                                                                                      \
    "t.id, t.user_id, t.client_id, t.created, t.last_seen, t.idle_expires, t.absolute_expires, "        \
    "CASE WHEN t.ended IS NULL THEN 0 ELSE 1 END, t.csrf_secret, t.token_hash"
#define SESSION_NCOLS 10

_Static_assert(crypto_auth_KEYBYTES == SESSION_CSRF_SECRET_BYTES, "the CSRF secret is an HMAC key");
_Static_assert(crypto_auth_BYTES == TOKEN_RANDOM_BYTES, "a CSRF token is as long as any token");

struct session_limits session_limits_default(void)
{
    return (struct session_limits){SESSION_IDLE_MS_DEFAULT, SESSION_ABSOLUTE_MS_DEFAULT, SESSION_TOUCH_MS_DEFAULT};
}

/* The limits in force (NULL: the defaults). A touch interval at or above the idle timeout would let
 * an active session expire, so it is refused with the rest of the nonsense (KF_E_CONFIG). */
static int limits_get(const struct session_limits *lim, struct session_limits *out, struct kf_err *err)
{
    *out = lim ? *lim : session_limits_default();
    if (out->idle_ms <= 0 || out->absolute_ms <= 0 || out->touch_ms < 0 || out->touch_ms >= out->idle_ms)
        return kf_fail(err, KF_E_CONFIG, "session_limits", "session: timeouts must be positive, touch below idle");
    return 0;
}

/* Copies at most `max` bytes of `in` (NULL: "") into out[max + 1], cut at a UTF-8 boundary; text
 * that is not UTF-8 keeps only its printable ASCII, so both engines store it. */
static void text_cut(const char *in, char *out, size_t max)
{
    size_t n = in ? strnlen(in, max) : 0;
    if (n == max && in[n] != '\0') {
        while (n > 0 && ((unsigned char)in[n] & 0xC0) == 0x80) n--;
    }
    memcpy(out, in ? in : "", n);
    out[n] = '\0';
    if (text_is_utf8(out, n)) return;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)out[i];
        if (ch < 0x20 || ch >= 0x7F) out[i] = '?';
    }
}

static int audit_session(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, const char *action,
                         const char *object_type, int64_t object_id, json_t *changes, struct kf_err *err)
{
    if (!changes) return kf_fail(err, KF_E_NOMEM, NULL, "session: out of memory");
    struct audit_entry e = {client_id, action, object_type, object_id, changes};
    int rc = audit_append(c, ctx, &e, err);
    json_decref(changes);
    return rc;
}

/* --- create ------------------------------------------------------------------------------------------ */

struct new_row {
    int64_t id, user_id, client_id, now, idle_expires, absolute_expires;
    unsigned char hash[TOKEN_HASH_BYTES];
    unsigned char csrf[SESSION_CSRF_SECRET_BYTES];
    char addr[SESSION_ADDR_MAX + 1];
    char agent[SESSION_USER_AGENT_MAX + 1];
};

static int create_insert(struct store_conn *c, const struct new_row *r, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "INSERT INTO sessions (id, token_hash, user_id, client_id, created, last_seen, idle_expires, "
                           "absolute_expires, source_addr, user_agent, csrf_secret) "
                           "VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, r->id);
    store_bind_blob(st, 2, r->hash, sizeof r->hash);
    store_bind_int64(st, 3, r->user_id);
    store_bind_int64(st, 4, r->client_id);
    store_bind_int64(st, 5, r->now);
    store_bind_int64(st, 6, r->idle_expires);
    store_bind_int64(st, 7, r->absolute_expires);
    store_bind_text(st, 8, r->addr, (size_t)-1);
    store_bind_text(st, 9, r->agent, (size_t)-1);
    store_bind_blob(st, 10, r->csrf, sizeof r->csrf);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int session_create(struct store_conn *c, const struct kf_ctx *ctx, const struct session_limits *lim, int64_t user_id,
                   int64_t client_id, const char *source_addr, const char *user_agent, char token_r[TOKEN_TEXT_MAX],
                   int64_t *session_id_r, struct kf_err *err)
{
    token_r[0] = '\0';
    if (user_id <= 0 || client_id < 0) return kf_fail(err, KF_E_INVALID, "user_id", "session: no such user");
    struct session_limits l;
    int rc = limits_get(lim, &l, err);
    if (rc) return rc;
    struct new_row r = {.user_id = user_id, .client_id = client_id, .now = clock_now_ms(ctx->env->clock)};
    r.id = id_new(r.now);
    r.absolute_expires = r.now + l.absolute_ms;
    r.idle_expires = r.now + (l.idle_ms < l.absolute_ms ? l.idle_ms : l.absolute_ms);
    text_cut(source_addr, r.addr, SESSION_ADDR_MAX);
    text_cut(user_agent, r.agent, SESSION_USER_AGENT_MAX);
    rc = token_new(NULL, token_r, TOKEN_TEXT_MAX, err);
    if (rc == 0) {
        token_hash(token_r, r.hash);
        randombytes_buf(r.csrf, sizeof r.csrf);
        rc = create_insert(c, &r, err);
    }
    if (rc == 0) {
        json_t *ch = json_pack("{s:I, s:I, s:I}", "user_id", (json_int_t)user_id, "idle_expires",
                               (json_int_t)r.idle_expires, "absolute_expires", (json_int_t)r.absolute_expires);
        rc = audit_session(c, ctx, client_id, "session.create", "session", r.id, ch, err);
    }
    sodium_memzero(r.csrf, sizeof r.csrf);
    if (rc) {
        sodium_memzero(token_r, TOKEN_TEXT_MAX);
        return rc;
    }
    if (session_id_r) *session_id_r = r.id;
    return 0;
}

/* --- resolve ----------------------------------------------------------------------------------------- */

static int refuse(struct kf_err *err, const char *why)
{
    return kf_fail(err, KF_E_UNAUTHENTICATED, "session", "session: %s", why);
}

/* Reads the session row of `hash` into out (*ended_r tells whether it has ended) and, with `ctx`, its
 * user into *user_r in the same statement (one round trip per page instead of two). */
static int resolve_read(struct store *s, const unsigned char hash[TOKEN_HASH_BYTES], struct session_info *out,
                        bool *ended_r, const struct kf_ctx *ctx, struct user *user_r, struct kf_err *err)
{
    struct store_conn *c = NULL;
    struct store_stmt *st = NULL;
    int rc = store_acquire(s, &c, err);
    if (rc == 0)
        rc = store_prepare(c,
                           ctx ? "SELECT " SESSION_COLS ", " IDENT_USER_COLS " FROM sessions t JOIN users u "
                                 "ON u.id = t.user_id AND u.client_id = t.client_id WHERE t.token_hash = $1"
                               : "SELECT " SESSION_COLS " FROM sessions t WHERE t.token_hash = $1",
                           &st, err);
    if (rc == 0) {
        store_bind_blob(st, 1, hash, TOKEN_HASH_BYTES);
        rc = store_step(st, err);
    }
    if (rc == STORE_ROW) {
        size_t slen = 0, hlen = 0;
        const void *secret = store_col_blob(st, 8, &slen);
        const void *stored = store_col_blob(st, 9, &hlen);
        int64_t *f[7] = {&out->id, &out->user_id, &out->client_id, &out->created, &out->last_seen,
                         &out->idle_expires, &out->absolute_expires};
        for (int i = 0; i < 7; i++) *f[i] = store_col_int64(st, i);
        *ended_r = store_col_int64(st, 7) != 0;
        if (slen != SESSION_CSRF_SECRET_BYTES || hlen != TOKEN_HASH_BYTES || !token_hash_equal(stored, hash, hlen)) {
            rc = refuse(err, "damaged row");
        } else {
            memcpy(out->csrf_secret, secret, slen);
            if (ctx) ident_user_from_row(ctx, st, SESSION_NCOLS, user_r);
            rc = 0;
        }
    } else if (rc == STORE_DONE) {
        rc = refuse(err, "unknown token");
    }
    store_finalize(&st);
    store_release(&c);
    return rc;
}

struct touch_args {
    int64_t id, now, idle_expires;
};

/* Records the request and slides the idle expiry, unless the session ended meanwhile. */
static int touch_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct touch_args *a = arg;
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "UPDATE sessions SET last_seen = $2, idle_expires = $3 "
                           "WHERE id = $1 AND ended IS NULL AND idle_expires > $2 AND last_seen < $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->now);
    store_bind_int64(st, 3, a->idle_expires);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int resolve(struct store *s, const struct kf_clock *clock, const struct session_limits *lim, const char *token,
                   struct session_info *out, const struct kf_ctx *ctx, struct user *user_r, struct kf_err *err)
{
    memset(out, 0, sizeof *out);
    struct session_limits l;
    int rc = limits_get(lim, &l, err);
    if (rc) return rc;
    if (!token_is_well_formed(token, NULL)) return refuse(err, "malformed token");
    unsigned char hash[TOKEN_HASH_BYTES];
    token_hash(token, hash);
    bool ended = false;
    rc = resolve_read(s, hash, out, &ended, ctx, user_r, err);
    int64_t now = clock_now_ms(clock);
    if (rc == 0 && ended) rc = refuse(err, "ended");
    if (rc == 0 && now >= out->absolute_expires) rc = refuse(err, "absolute timeout");
    if (rc == 0 && now >= out->idle_expires) rc = refuse(err, "idle timeout");
    if (rc == 0 && now - out->last_seen >= l.touch_ms) {
        int64_t idle = now + l.idle_ms;
        struct touch_args a = {out->id, now, idle < out->absolute_expires ? idle : out->absolute_expires};
        rc = store_write(s, touch_fn, &a, err);
        if (rc == 0) {
            out->last_seen = now;
            out->idle_expires = a.idle_expires;
        }
    }
    if (rc) sodium_memzero(out, sizeof *out);
    return rc;
}

int session_resolve(struct store *s, const struct kf_clock *clock, const struct session_limits *lim,
                    const char *token, struct session_info *out, struct kf_err *err)
{
    return resolve(s, clock, lim, token, out, NULL, NULL, err);
}

int session_resolve_user(const struct kf_ctx *ctx, const char *token, struct session_info *out, struct user *user_r,
                         struct kf_err *err)
{
    memset(user_r, 0, sizeof *user_r);
    return resolve(ctx->env->store, ctx->env->clock, NULL, token, out, ctx, user_r, err);
}

/* --- end ----------------------------------------------------------------------------------------------- */

int session_end(struct store_conn *c, const struct kf_ctx *ctx, const char *token, bool *ended_r, struct kf_err *err)
{
    if (ended_r) *ended_r = false;
    if (!token_is_well_formed(token, NULL)) return 0;
    unsigned char hash[TOKEN_HASH_BYTES];
    token_hash(token, hash);
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "UPDATE sessions SET ended = $2, ended_reason = 'logout' "
                           "WHERE token_hash = $1 AND ended IS NULL RETURNING id, user_id, client_id",
                           &st, err);
    if (rc) return rc;
    store_bind_blob(st, 1, hash, sizeof hash);
    store_bind_int64(st, 2, clock_now_ms(ctx->env->clock));
    int64_t row[3] = {0, 0, 0};
    rc = store_step(st, err);
    bool found = rc == STORE_ROW;
    if (found) {
        for (int i = 0; i < 3; i++) row[i] = store_col_int64(st, i);
        rc = store_step(st, err);
    }
    store_finalize(&st);
    if (rc < 0 || !found) return rc < 0 ? rc : 0;
    json_t *ch = json_pack("{s:I, s:s}", "user_id", (json_int_t)row[1], "reason", "logout");
    rc = audit_session(c, ctx, row[2], "session.end", "session", row[0], ch, err);
    if (rc == 0 && ended_r) *ended_r = true;
    return rc;
}

int session_end_all_for_user(struct store_conn *c, const struct kf_ctx *ctx, int64_t user_id, int64_t client_id,
                             const char *reason, int64_t *n_r, struct kf_err *err)
{
    if (n_r) *n_r = 0;
    if (!reason || !*reason || strlen(reason) > 64) return kf_fail(err, KF_E_INVALID, "reason", "session: bad reason");
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "UPDATE sessions SET ended = $2, ended_reason = $3 WHERE user_id = $1 AND ended IS NULL",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, user_id);
    store_bind_int64(st, 2, clock_now_ms(ctx->env->clock));
    store_bind_text(st, 3, reason, (size_t)-1);
    rc = store_step(st, err);
    int64_t n = rc == STORE_DONE ? store_changes(st) : 0;
    store_finalize(&st);
    if (rc < 0) return rc;
    if (n_r) *n_r = n;
    if (n == 0) return 0; /* nothing changed, nothing to record */
    json_t *ch = json_pack("{s:s, s:I}", "reason", reason, "sessions", (json_int_t)n);
    return audit_session(c, ctx, client_id, "session.end_all", "user", user_id, ch, err);
}

/* --- housekeeping -------------------------------------------------------------------------------------- */

static int purge_sessions(struct store_conn *c, int64_t before, int64_t *n_r, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "DELETE FROM sessions WHERE absolute_expires < $1 OR ended < $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, before);
    rc = store_step(st, err);
    if (rc == STORE_DONE) *n_r = store_changes(st);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int session_purge(struct store_conn *c, const struct kf_ctx *ctx, int64_t *n_r, struct kf_err *err)
{
    int64_t now = clock_now_ms(ctx->env->clock), sessions = 0, throttles = 0;
    if (n_r) *n_r = 0;
    int rc = purge_sessions(c, now - SESSION_KEEP_MS, &sessions, err);
    if (rc == 0) rc = throttle_purge(c, now, &throttles, err);
    if (rc || (sessions == 0 && throttles == 0)) return rc;
    if (n_r) *n_r = sessions;
    json_t *ch = json_pack("{s:I, s:I}", "sessions", (json_int_t)sessions, "throttle_rows", (json_int_t)throttles);
    return audit_session(c, ctx, 0, "session.purge", "session", 0, ch, err);
}

/* --- CSRF ---------------------------------------------------------------------------------------------- */

void session_csrf_token(const struct session_info *info, char out[TOKEN_TEXT_MAX])
{
    unsigned char msg[sizeof CSRF_MAGIC + 8];
    memcpy(msg, CSRF_MAGIC, sizeof CSRF_MAGIC); /* with its NUL, which ends the magic */
    uint64_t id = (uint64_t)info->id;
    for (int i = 7; i >= 0; i--, id >>= 8) msg[sizeof CSRF_MAGIC + (size_t)i] = (unsigned char)(id & 0xffu);
    unsigned char mac[crypto_auth_BYTES];
    crypto_auth(mac, msg, sizeof msg, info->csrf_secret);
    sodium_bin2base64(out, TOKEN_TEXT_MAX, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(mac, sizeof mac);
}

bool session_csrf_check(const struct session_info *info, const char *presented)
{
    char expected[TOKEN_TEXT_MAX];
    session_csrf_token(info, expected);
    bool ok = token_text_equal(expected, presented);
    sodium_memzero(expected, sizeof expected);
    return ok;
}
