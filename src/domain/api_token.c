/* API tokens: create (shown once, stored hashed, scope ⊆ owner's roles, expiry required and at
 * most a year away), resolve by hash with throttled last_used writes, revoke, list. No token value
 * is ever logged, audited or stored. */
#include "domain/api_token.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/audit.h"
#include "domain/identity_internal.h"
#include "domain/user.h"
#include "store/store.h"

#define TOKEN_COLS "t.id, t.user_id, t.client_id, t.name, t.roles, t.created, t.expires, t.revoked, t.last_used"
#define TOKEN_NCOLS 9

static int audit_token(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, const char *action,
                       const char *object_type, int64_t object_id, json_t *changes, struct kf_err *err)
{
    if (!changes) return kf_fail(err, KF_E_NOMEM, NULL, "api_token: out of memory");
    struct audit_entry e = {client_id, action, object_type, object_id, changes};
    int rc = audit_append(c, ctx, &e, err);
    json_decref(changes);
    return rc;
}

/* --- create ------------------------------------------------------------------------------------------ */

/* 1..API_TOKEN_NAME_MAX characters of UTF-8 without C0, DEL or C1 controls. */
static bool name_is_valid(const char *name)
{
    if (!name) return false;
    size_t len = strlen(name), chars = 0;
    if (len == 0 || len > API_TOKEN_NAME_MAX * 4 || !text_is_utf8(name, len)) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7F) return false;
        if (ch == 0xC2 && i + 1 < len && (unsigned char)name[i + 1] < 0xA0) return false; /* U+0080..U+009F */
        if ((ch & 0xC0) != 0x80) chars++;
    }
    return chars <= API_TOKEN_NAME_MAX;
}

static int create_check(const struct api_token_new *n, int64_t now, struct kf_err *err)
{
    if (n->user_id <= 0 || n->client_id < 0) return kf_fail(err, KF_E_INVALID, "user_id", "api_token: no such user");
    if (!name_is_valid(n->name))
        return kf_fail(err, KF_E_INVALID, "name", "1 to %d characters, no control characters", API_TOKEN_NAME_MAX);
    if (n->roles == 0 || (n->roles & ~(unsigned)ROLES_ALL))
        return kf_fail(err, KF_E_INVALID, "roles", "at least one known role");
    if (n->roles & ~n->owner_roles) return kf_fail(err, KF_E_FORBIDDEN, "roles", "a token cannot hold roles its owner lacks");
    if (n->expires <= now) return kf_fail(err, KF_E_INVALID, "expires", "an expiry in the future is required");
    if (n->expires - now > API_TOKEN_LIFETIME_MAX_MS)
        return kf_fail(err, KF_E_INVALID, "expires", "at most a year from now");
    return 0;
}

static int create_insert(struct store_conn *c, const struct api_token_new *n, int64_t id, int64_t now,
                         const unsigned char hash[TOKEN_HASH_BYTES], struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "INSERT INTO api_tokens (id, token_hash, user_id, client_id, name, roles, created, expires) "
                           "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_blob(st, 2, hash, TOKEN_HASH_BYTES);
    store_bind_int64(st, 3, n->user_id);
    store_bind_int64(st, 4, n->client_id);
    store_bind_text(st, 5, n->name, (size_t)-1);
    store_bind_int64(st, 6, (int64_t)n->roles);
    store_bind_int64(st, 7, now);
    store_bind_int64(st, 8, n->expires);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int api_token_create(struct store_conn *c, const struct kf_ctx *ctx, const struct api_token_new *n,
                     char token_r[TOKEN_TEXT_MAX], int64_t *id_r, struct kf_err *err)
{
    token_r[0] = '\0';
    int64_t now = clock_now_ms(ctx->env->clock);
    int rc = create_check(n, now, err);
    if (rc) return rc;
    int64_t id = id_new(now);
    unsigned char hash[TOKEN_HASH_BYTES];
    rc = token_new(TOKEN_PREFIX_API, token_r, TOKEN_TEXT_MAX, err);
    if (rc == 0) {
        token_hash(token_r, hash);
        rc = create_insert(c, n, id, now, hash, err);
    }
    if (rc == 0) {
        json_t *ch = json_pack("{s:I, s:s, s:I, s:I}", "user_id", (json_int_t)n->user_id, "name", n->name, "roles",
                               (json_int_t)n->roles, "expires", (json_int_t)n->expires);
        rc = audit_token(c, ctx, n->client_id, "api_token.create", "api_token", id, ch, err);
    }
    if (rc) {
        sodium_memzero(token_r, TOKEN_TEXT_MAX);
        return rc;
    }
    if (id_r) *id_r = id;
    return 0;
}

/* --- reading ------------------------------------------------------------------------------------------ */

static void row_read(struct store_stmt *st, struct api_token_info *t)
{
    t->id = store_col_int64(st, 0);
    t->user_id = store_col_int64(st, 1);
    t->client_id = store_col_int64(st, 2);
    const char *name = store_col_text(st, 3, NULL);
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
    t->roles = (unsigned)store_col_int64(st, 4);
    t->created = store_col_int64(st, 5);
    t->expires = store_col_int64(st, 6);
    t->revoked = store_col_int64(st, 7);
    t->last_used = store_col_int64(st, 8);
}

/* Reads the token row of `hash` into out and, with `ctx`, its owner into *user_r in the same statement
 * (one round trip per authenticated request instead of two). */
static int resolve_read(struct store *s, const unsigned char hash[TOKEN_HASH_BYTES], struct api_token_info *out,
                        const struct kf_ctx *ctx, struct user *user_r, struct kf_err *err)
{
    struct store_conn *c = NULL;
    struct store_stmt *st = NULL;
    int rc = store_acquire(s, &c, err);
    if (rc == 0)
        rc = store_prepare(c,
                           ctx ? "SELECT " TOKEN_COLS ", " IDENT_USER_COLS " FROM api_tokens t JOIN users u "
                                 "ON u.id = t.user_id AND u.client_id = t.client_id WHERE t.token_hash = $1"
                               : "SELECT " TOKEN_COLS " FROM api_tokens t WHERE t.token_hash = $1",
                           &st, err);
    if (rc == 0) {
        store_bind_blob(st, 1, hash, TOKEN_HASH_BYTES);
        rc = store_step(st, err);
    }
    if (rc == STORE_ROW) {
        row_read(st, out);
        if (ctx) ident_user_from_row(ctx, st, TOKEN_NCOLS, user_r);
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_UNAUTHENTICATED, "token", "api_token: unknown token");
    }
    store_finalize(&st);
    store_release(&c);
    return rc;
}

struct touch_args {
    int64_t id, now;
};

static int touch_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct touch_args *a = arg;
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "UPDATE api_tokens SET last_used = $2 WHERE id = $1 AND revoked IS NULL "
                           "AND (last_used IS NULL OR last_used <= $3)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->now);
    store_bind_int64(st, 3, a->now - API_TOKEN_TOUCH_MS);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int resolve(struct store *s, const struct kf_clock *clock, const char *token, struct api_token_info *out,
                   const struct kf_ctx *ctx, struct user *user_r, struct kf_err *err)
{
    memset(out, 0, sizeof *out);
    if (!token_is_well_formed(token, TOKEN_PREFIX_API))
        return kf_fail(err, KF_E_UNAUTHENTICATED, "token", "api_token: malformed token");
    unsigned char hash[TOKEN_HASH_BYTES];
    token_hash(token, hash);
    int rc = resolve_read(s, hash, out, ctx, user_r, err);
    int64_t now = clock_now_ms(clock);
    if (rc == 0 && out->revoked) rc = kf_fail(err, KF_E_UNAUTHENTICATED, "token", "api_token: revoked");
    if (rc == 0 && now >= out->expires) rc = kf_fail(err, KF_E_UNAUTHENTICATED, "token", "api_token: expired");
    if (rc == 0 && (out->last_used == 0 || now - out->last_used >= API_TOKEN_TOUCH_MS)) {
        struct touch_args a = {out->id, now};
        rc = store_write(s, touch_fn, &a, err);
        if (rc == 0) out->last_used = now;
    }
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

int api_token_resolve(struct store *s, const struct kf_clock *clock, const char *token, struct api_token_info *out,
                      struct kf_err *err)
{
    return resolve(s, clock, token, out, NULL, NULL, err);
}

int api_token_resolve_user(const struct kf_ctx *ctx, const char *token, struct api_token_info *out,
                           struct user *user_r, struct kf_err *err)
{
    memset(user_r, 0, sizeof *user_r);
    return resolve(ctx->env->store, ctx->env->clock, token, out, ctx, user_r, err);
}

int api_token_list(struct store *s, int64_t user_id, api_token_list_fn fn, void *arg, struct kf_err *err)
{
    struct store_conn *c = NULL;
    struct store_stmt *st = NULL;
    int rc = store_acquire(s, &c, err);
    if (rc == 0)
        rc = store_prepare(c,
                           "SELECT " TOKEN_COLS " FROM api_tokens t WHERE user_id = $1 "
                           "ORDER BY created DESC, id DESC LIMIT $2",
                           &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, user_id);
        store_bind_int64(st, 2, API_TOKEN_LIST_MAX);
        struct api_token_info t;
        while ((rc = store_step(st, err)) == STORE_ROW) {
            row_read(st, &t);
            if ((rc = fn(arg, &t)) != 0) break;
        }
    }
    store_finalize(&st);
    store_release(&c);
    return rc;
}

/* --- revoke -------------------------------------------------------------------------------------------- */

/* 1 when `user_id` owns token `id`, 0 when not, or an error. */
static int revoke_owned(struct store_conn *c, int64_t user_id, int64_t id, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "SELECT 1 FROM api_tokens WHERE id = $1 AND user_id = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, user_id);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : rc == STORE_ROW;
}

int api_token_revoke(struct store_conn *c, const struct kf_ctx *ctx, int64_t user_id, int64_t id, bool *revoked_r,
                     struct kf_err *err)
{
    if (revoked_r) *revoked_r = false;
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "UPDATE api_tokens SET revoked = $3 WHERE id = $1 AND user_id = $2 AND revoked IS NULL "
                           "RETURNING client_id",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, user_id);
    store_bind_int64(st, 3, clock_now_ms(ctx->env->clock));
    rc = store_step(st, err);
    bool changed = rc == STORE_ROW;
    int64_t client_id = changed ? store_col_int64(st, 0) : 0;
    if (changed) rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    if (!changed) {
        rc = revoke_owned(c, user_id, id, err);
        return rc < 0 ? rc : rc ? 0 : kf_fail(err, KF_E_NOT_FOUND, "id", "api_token: no such token");
    }
    json_t *ch = json_pack("{s:I}", "user_id", (json_int_t)user_id);
    rc = audit_token(c, ctx, client_id, "api_token.revoke", "api_token", id, ch, err);
    if (rc == 0 && revoked_r) *revoked_r = true;
    return rc;
}

int api_token_revoke_all_for_user(struct store_conn *c, const struct kf_ctx *ctx, int64_t user_id, int64_t client_id,
                                  int64_t *n_r, struct kf_err *err)
{
    if (n_r) *n_r = 0;
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "UPDATE api_tokens SET revoked = $2 WHERE user_id = $1 AND revoked IS NULL", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, user_id);
    store_bind_int64(st, 2, clock_now_ms(ctx->env->clock));
    rc = store_step(st, err);
    int64_t n = rc == STORE_DONE ? store_changes(st) : 0;
    store_finalize(&st);
    if (rc < 0) return rc;
    if (n_r) *n_r = n;
    if (n == 0) return 0;
    json_t *ch = json_pack("{s:I}", "tokens", (json_int_t)n);
    return audit_token(c, ctx, client_id, "api_token.revoke_all", "user", user_id, ch, err);
}
