/* Users and teams (user.h): creation with look-alike-proof names and strong argon2id passwords,
 * role changes without self-escalation, login verification in near-constant time, and teams of
 * provider users. Password hashing (~0.1 s) happens before store_write, never inside it. */
#include "domain/user.h"

#include "domain/api_token.h"
#include "domain/session.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/lookalike.h"
#include "domain/identity_internal.h"
#include "core/zone.h"
#include "domain/notify.h"
#include "domain/password.h"
#include "store/store.h"

#define USER_COLS IDENT_USER_COLS
#define USER_KEY_MAX 1024

static const char *const user_masked[] = {"password", "password_hash", "totp_secret", NULL};

/* --- reading -------------------------------------------------------------------------------------- */

void ident_user_from_row(const struct kf_ctx *ctx, struct store_stmt *st, int first, struct user *u)
{
    u->id = store_col_int64(st, first + 0);
    u->org_id = store_col_int64(st, first + 1);
    u->client_id = store_col_int64(st, first + 2);
    u->username = ident_col_strdup(ctx, st, first + 3);
    u->display_name = ident_col_strdup(ctx, st, first + 4);
    u->roles = (unsigned)store_col_int64(st, first + 5);
    u->password_changed = store_col_int64(st, first + 6);
    u->totp_enabled = store_col_int64(st, first + 7) != 0;
    u->language = ident_col_strdup(ctx, st, first + 8);
    u->time_zone = ident_col_strdup(ctx, st, first + 9);
    u->disabled = store_col_int64(st, first + 10) != 0;
    u->created = store_col_int64(st, first + 11);
    u->updated = store_col_int64(st, first + 12);
    u->org_disabled = store_col_int64(st, first + 13) != 0;
}

static void user_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct user *u)
{
    ident_user_from_row(ctx, st, 0, u);
}

/* Reads user (client_id, user_id) on `c`, and its password hash into hash_r (may be NULL). */
static int user_read_on(struct kf_ctx *ctx, struct store_conn *c, int64_t client_id, int64_t user_id,
                        struct user *out, char **hash_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT " USER_COLS ", u.password_hash FROM users u WHERE u.id = $1 AND u.client_id = $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, user_id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        user_from_row(ctx, st, out);
        if (hash_r) *hash_r = ident_col_strdup(ctx, st, 14);
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    store_finalize(&st);
    return rc;
}

static int user_read(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, struct user *out, char **hash_r,
                     struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(ctx->env->store, &c, err);
    if (rc) return rc;
    rc = user_read_on(ctx, c, client_id, user_id, out, hash_r, err);
    store_release(&c);
    return rc;
}

int user_get(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, struct user *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_USER_READ, client_id, 0, err);
    return rc ? rc : user_read(ctx, client_id, user_id, out, NULL, err);
}

int user_list(struct kf_ctx *ctx, int64_t client_id, int64_t after_id, int limit, struct user **items_r,
              size_t *n_r, int64_t *next_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_USER_READ, client_id, 0, err);
    if (rc) return rc;
    limit = ident_page_limit(limit);
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, "SELECT " USER_COLS " FROM users u WHERE u.client_id = $1 AND u.id < $2 ORDER BY u.id DESC LIMIT $3",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_int64(st, 2, after_id > 0 ? after_id : INT64_MAX);
        store_bind_int64(st, 3, limit);
        struct user *items = arena_zalloc(ctx->arena, sizeof *items * (size_t)limit);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < (size_t)limit) user_from_row(ctx, st, &items[n++]);
        if (rc >= 0) {
            rc = 0;
            *items_r = items;
            *n_r = n;
            if (next_r) *next_r = n == (size_t)limit ? items[n - 1].id : 0;
        }
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

/* --- creating ------------------------------------------------------------------------------------- */

static int user_roles_fit(int64_t client_id, unsigned roles, struct kf_err *err)
{
    unsigned allowed = client_id == 0 ? (unsigned)ROLES_PROVIDER : (unsigned)ROLES_CLIENT;
    if (roles == 0) return kf_fail(err, KF_E_INVALID, "roles", "at least one role");
    if (roles & ~allowed)
        return kf_fail(err, KF_E_INVALID, "roles", "%s users hold only %s roles", client_id ? "client" : "provider",
                       client_id ? "client" : "provider");
    return 0;
}

/* The look-alike skeleton of a name, in the arena. */
static int user_name_key(struct kf_ctx *ctx, const char *name, char **key_r, struct kf_err *err)
{
    struct buf b;
    buf_init(&b, USER_KEY_MAX);
    int rc = lookalike_skeleton(name, &b, err);
    if (rc == 0) *key_r = arena_strndup(ctx->arena, b.data ? b.data : "", b.len);
    buf_free(&b);
    return rc;
}

/* The enabled organisation a new user of `client_id` joins. */
static int user_org_of(struct store_conn *c, int64_t client_id, int64_t *org_id_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT id FROM organizations WHERE client_id = $1 AND disabled = 0 AND "
                           "kind = (CASE WHEN $1 = 0 THEN 'provider' ELSE 'client' END)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) *org_id_r = store_col_int64(st, 0), rc = 0;
    else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, "client_id", "no such organisation");
    store_finalize(&st);
    return rc;
}

struct user_create_args {
    struct kf_ctx *ctx;
    const struct user_input *in;
    const char *key;
    const char *hash;
    int64_t id;
};

static int user_insert(struct store_conn *c, struct user_create_args *a, int64_t org_id, struct kf_err *err)
{
    const struct user_input *in = a->in;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO users (id, org_id, client_id, username, username_key, display_name, roles, "
                           "password_hash, password_changed, language, time_zone, created, updated) VALUES ($1, $2, $3, "
                           "$4, $5, $6, $7, $8, $9, $10, $11, $9, $9) ON CONFLICT (username_key) DO NOTHING",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, org_id);
    store_bind_int64(st, 3, in->client_id);
    store_bind_text(st, 4, in->username, (size_t)-1);
    store_bind_text(st, 5, a->key, (size_t)-1);
    store_bind_text(st, 6, in->display_name && *in->display_name ? in->display_name : in->username, (size_t)-1);
    store_bind_int64(st, 7, in->roles);
    store_bind_text(st, 8, a->hash, (size_t)-1);
    store_bind_int64(st, 9, ident_now(a->ctx));
    store_bind_text(st, 10, in->language && *in->language ? in->language : "zh-CN", (size_t)-1);
    store_bind_text(st, 11, in->time_zone ? in->time_zone : "", (size_t)-1);
    int64_t n = 0;
    rc = ident_exec(c, &st, &n, err);
    if (rc == 0 && n != 1) rc = kf_fail(err, KF_E_CONFLICT, "username", "a user with a name like this exists");
    return rc;
}

static int user_create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct user_create_args *a = arg;
    int64_t org_id = 0;
    int rc = user_org_of(c, a->in->client_id, &org_id, err);
    if (!rc) rc = user_insert(c, a, org_id, err);
    if (rc) return rc;
    json_t *changes = json_pack("{s:s, s:i, s:I, s:s}", "username", a->in->username, "roles", (int)a->in->roles,
                                "org_id", (json_int_t)org_id, "password", "");
    return ident_audit(c, a->ctx, a->in->client_id, "user.create", "user", a->id, changes, user_masked, err);
}

static int user_check_input(struct kf_ctx *ctx, const struct user_input *in, char **key_r, struct kf_err *err)
{
    int rc = username_check(in->username ? in->username : "", err);
    if (rc) {
        if (err) err->field = "username";
        return rc;
    }
    if ((rc = ident_check_text(in->display_name, "display_name", false, IDENT_TEXT_MAX, err)) != 0) return rc;
    if ((rc = ident_check_text(in->language, "language", false, 16, err)) != 0) return rc;
    if ((rc = ident_check_text(in->time_zone, "time_zone", false, 64, err)) != 0) return rc;
    if ((rc = user_roles_fit(in->client_id, in->roles, err)) != 0) return rc;
    if ((rc = password_check_strength(in->password ? in->password : "", in->username, err)) != 0) return rc;
    return user_name_key(ctx, in->username, key_r, err);
}

int user_create(struct kf_ctx *ctx, const struct user_input *in, int64_t *id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_USER_CREATE, in->client_id, 0, err);
    char *key = NULL;
    if (!rc) rc = user_check_input(ctx, in, &key, err);
    if (rc) return rc;
    char hash[PASSWORD_HASH_BYTES];
    if ((rc = password_hash(in->password, hash, err)) != 0) return rc;
    struct user_create_args a = {ctx, in, key, hash, id_new(ident_now(ctx))};
    rc = store_write(ctx->env->store, user_create_fn, &a, err);
    sodium_memzero(hash, sizeof hash);
    if (rc == 0 && id_r) *id_r = a.id;
    return rc;
}

/* --- changing ------------------------------------------------------------------------------------- */

struct user_update_args {
    struct kf_ctx *ctx;
    int64_t client_id;
    int64_t user_id;
    unsigned roles;
    const char *hash;
    const char *action;
};

static int user_disable_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct user_update_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c, "UPDATE users SET disabled = 1, updated = $1 WHERE id = $2 AND client_id = $3 AND disabled = 0",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, ident_now(a->ctx));
    store_bind_int64(st, 2, a->user_id);
    store_bind_int64(st, 3, a->client_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0 || n == 0) return rc;
    rc = ident_audit(c, a->ctx, a->client_id, "user.disable", "user", a->user_id, json_pack("{s:b}", "disabled", 1),
                     NULL, err);
    /* a disabled user keeps no way in: every session ends and every API token is revoked */
    if (rc == 0) rc = session_end_all_for_user(c, a->ctx, a->user_id, a->client_id, "disabled", NULL, err);
    if (rc == 0) rc = api_token_revoke_all_for_user(c, a->ctx, a->user_id, a->client_id, NULL, err);
    return rc;
}

int user_disable(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_USER_UPDATE, client_id, 0, err);
    struct user u;
    if (!rc) rc = user_read(ctx, client_id, user_id, &u, NULL, err);
    if (rc) return rc;
    struct user_update_args a = {.ctx = ctx, .client_id = client_id, .user_id = user_id};
    return store_write(ctx->env->store, user_disable_fn, &a, err);
}

/* Decided inside the write: the roles read here are the ones replaced. */
static int user_set_roles_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct user_update_args *a = arg;
    struct user u;
    int rc = user_read_on(a->ctx, c, a->client_id, a->user_id, &u, NULL, err);
    if (rc) return rc;
    const struct actor *me = a->ctx->actor;
    if (me->kind != ACTOR_SYSTEM && me->user_id == u.id && (a->roles & ~u.roles))
        return kf_fail(err, KF_E_FORBIDDEN, "roles", "nobody may add a role to themselves");
    if (a->roles == u.roles) return 0;
    struct store_stmt *st;
    if ((rc = store_prepare(c, "UPDATE users SET roles = $1, updated = $2 WHERE id = $3 AND client_id = $4", &st, err)))
        return rc;
    store_bind_int64(st, 1, a->roles);
    store_bind_int64(st, 2, ident_now(a->ctx));
    store_bind_int64(st, 3, a->user_id);
    store_bind_int64(st, 4, a->client_id);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "user.set_roles", "user", a->user_id,
                       json_pack("{s:{s:i, s:i}}", "roles", "from", (int)u.roles, "to", (int)a->roles), NULL, err);
}

int user_set_roles(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, unsigned roles, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_USER_UPDATE, client_id, 0, err);
    if (!rc) rc = user_roles_fit(client_id, roles, err);
    if (rc) return rc;
    struct user_update_args a = {.ctx = ctx, .client_id = client_id, .user_id = user_id, .roles = roles};
    return store_write(ctx->env->store, user_set_roles_fn, &a, err);
}

static int user_set_hash_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct user_update_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE users SET password_hash = $1, password_changed = $2, updated = $2 "
                           "WHERE id = $3 AND client_id = $4",
                           &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, a->hash, (size_t)-1);
    store_bind_int64(st, 2, ident_now(a->ctx));
    store_bind_int64(st, 3, a->user_id);
    store_bind_int64(st, 4, a->client_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    rc = ident_audit(c, a->ctx, a->client_id, a->action, "user", a->user_id, json_pack("{s:s}", "password", ""),
                     user_masked, err);
    /* whoever knew the old password is logged out everywhere (the HTTP layer opens a fresh session
     * for the user who changed it) */
    if (rc == 0) rc = session_end_all_for_user(c, a->ctx, a->user_id, a->client_id, "password_changed", NULL, err);
    /* the owner hears of it in the bell: a change they did not make is their cue to call an admin */
    if (rc == 0)
        rc = notify_enqueue(c, a->ctx, a->client_id, a->user_id,
                            strcmp(a->action, "user.reset_password") == 0 ? "notify.password_reset"
                                                                          : "notify.password_changed",
                            NULL, "/account", NULL, err);
    return rc;
}

struct user_pref_args {
    struct kf_ctx *ctx;
    const char *language;
    const char *time_zone;
};

static int user_pref_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct user_pref_args *a = arg;
    const struct actor *who = a->ctx->actor;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE users SET language = COALESCE($1, language), time_zone = COALESCE($2, time_zone), "
                           "updated = $3 WHERE id = $4 AND client_id = $5",
                           &st, err);
    if (rc) return rc;
    if (a->language) store_bind_text(st, 1, a->language, (size_t)-1);
    else store_bind_null(st, 1);
    if (a->time_zone) store_bind_text(st, 2, a->time_zone, (size_t)-1);
    else store_bind_null(st, 2);
    store_bind_int64(st, 3, ident_now(a->ctx));
    store_bind_int64(st, 4, who->user_id);
    store_bind_int64(st, 5, who->client_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    json_t *changes = json_object();
    if (a->language) json_object_set_new(changes, "language", json_string(a->language));
    if (a->time_zone) json_object_set_new(changes, "time_zone", json_string(a->time_zone));
    return ident_audit(c, a->ctx, who->client_id, "user.set_preferences", "user", who->user_id, changes, NULL, err);
}

int user_set_preferences(struct kf_ctx *ctx, const char *language, const char *time_zone, struct kf_err *err)
{
    const struct actor *a = ctx->actor;
    int rc = ident_allow(ctx, ACT_USER_PREFERENCES, a ? a->client_id : 0, a ? a->user_id : 0, err);
    if (rc) return rc;
    if (language && strcmp(language, "zh-CN") != 0 && strcmp(language, "en") != 0)
        return kf_fail(err, KF_E_INVALID, "language", "zh-CN or en");
    if (time_zone && *time_zone && !zone_is_valid(time_zone))
        return kf_fail(err, KF_E_INVALID, "time_zone", "an IANA time zone such as Asia/Shanghai");
    struct user_pref_args args = {ctx, language, time_zone};
    return store_write(ctx->env->store, user_pref_fn, &args, err);
}

/* Checks strength, hashes (outside the writer) and stores the new password of `u`. */
static int user_store_password(struct kf_ctx *ctx, const struct user *u, const char *new_password,
                               const char *action, struct kf_err *err)
{
    int rc = password_check_strength(new_password ? new_password : "", u->username, err);
    if (rc) return rc;
    char hash[PASSWORD_HASH_BYTES];
    if ((rc = password_hash(new_password, hash, err)) != 0) return rc;
    struct user_update_args a = {.ctx = ctx, .client_id = u->client_id, .user_id = u->id, .hash = hash, .action = action};
    rc = store_write(ctx->env->store, user_set_hash_fn, &a, err);
    sodium_memzero(hash, sizeof hash);
    if (rc == 0) notify_published(ctx, u->client_id, u->id);
    return rc;
}

int user_change_password(struct kf_ctx *ctx, const char *current, const char *new_password, struct kf_err *err)
{
    const struct actor *me = ctx->actor;
    int64_t client_id = me ? me->client_id : 0, user_id = me ? me->user_id : 0;
    int rc = ident_allow(ctx, ACT_USER_PASSWORD, client_id, user_id, err);
    if (rc) return rc;
    struct user u;
    char *hash = NULL;
    if ((rc = user_read(ctx, client_id, user_id, &u, &hash, err)) != 0) return rc;
    rc = password_verify(hash, current ? current : "", err);
    if (rc == KF_E_UNAUTHENTICATED) return kf_fail(err, KF_E_INVALID, "current_password", "does not match");
    if (rc) return rc;
    return user_store_password(ctx, &u, new_password, "user.change_password", err);
}

int user_reset_password(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, const char *new_password,
                        struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_USER_UPDATE, client_id, 0, err);
    struct user u;
    if (!rc) rc = user_read(ctx, client_id, user_id, &u, NULL, err);
    return rc ? rc : user_store_password(ctx, &u, new_password, "user.reset_password", err);
}

/* --- logging in ----------------------------------------------------------------------------------- */

static char user_dummy_hash[PASSWORD_HASH_BYTES];
static int user_dummy_rc = KF_E_INTERNAL;
static pthread_once_t user_dummy_once = PTHREAD_ONCE_INIT;

/* A hash of a random password: unknown names are verified against it, so they cost the same. */
static void user_dummy_make(void)
{
    unsigned char raw[24];
    char plain[sizeof raw * 2 + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(plain, sizeof plain, raw, sizeof raw);
    struct kf_err err;
    user_dummy_rc = password_hash(plain, user_dummy_hash, &err);
    sodium_memzero(plain, sizeof plain);
}

/* Reads the login row of a name's skeleton; *found_r false when there is none. */
static int user_read_login(struct kf_ctx *ctx, const char *key, struct user *out, char **hash_r, bool *live_r,
                           bool *found_r, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(ctx->env->store, &c, err);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT " USER_COLS ", u.password_hash, o.disabled FROM users u JOIN organizations o "
                       "ON o.id = u.org_id WHERE u.username_key = $1",
                       &st, err);
    if (rc == 0) {
        store_bind_text(st, 1, key, (size_t)-1);
        rc = store_step(st, err);
        *found_r = rc == STORE_ROW;
        if (rc == STORE_ROW) {
            user_from_row(ctx, st, out);
            *hash_r = ident_col_strdup(ctx, st, 14);
            *live_r = !out->disabled && store_col_int64(st, 15) == 0;
        }
        rc = rc < 0 ? rc : 0;
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

static int user_rehash_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct user_update_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c, "UPDATE users SET password_hash = $1 WHERE id = $2 AND client_id = $3", &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, a->hash, (size_t)-1);
    store_bind_int64(st, 2, a->user_id);
    store_bind_int64(st, 3, a->client_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0 || n != 1) return rc;
    return ident_audit(c, a->ctx, a->client_id, "user.rehash_password", "user", a->user_id,
                       json_pack("{s:s}", "password_hash", ""), user_masked, err);
}

/* After a successful login with a hash made under older limits: hash again with the limits in force.
 * Best effort: a failure here must not refuse a correct password (the next login tries again). */
static void user_rehash(struct kf_ctx *ctx, const struct user *u, const char *password)
{
    char hash[PASSWORD_HASH_BYTES];
    struct kf_err ignored;
    if (password_hash(password, hash, &ignored) != 0) return;
    struct user_update_args a = {.ctx = ctx, .client_id = u->client_id, .user_id = u->id, .hash = hash};
    store_write(ctx->env->store, user_rehash_fn, &a, &ignored);
    sodium_memzero(hash, sizeof hash);
}

int user_verify_login(struct kf_ctx *ctx, const char *username, const char *password, struct user *out,
                      struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_LOGIN, 0, 0, err);
    if (rc) return rc;
    pthread_once(&user_dummy_once, user_dummy_make);
    char *key = NULL;
    bool found = false, live = false;
    char *hash = NULL;
    struct kf_err ignored;
    if (username && user_name_key(ctx, username, &key, &ignored) == 0)
        rc = user_read_login(ctx, key, out, &hash, &live, &found, err);
    if (rc) return rc;
    if (!found && user_dummy_rc != 0) return kf_fail(err, KF_E_INTERNAL, NULL, "no dummy hash");
    rc = password_verify(found ? hash : user_dummy_hash, password ? password : "", err);
    if (rc == KF_E_BUSY) return rc;
    if (rc || !found || !live) {
        memset(out, 0, sizeof *out);
        return kf_fail(err, KF_E_UNAUTHENTICATED, NULL, "wrong user name or password");
    }
    if (password_needs_rehash(hash)) user_rehash(ctx, out, password);
    return 0;
}

int user_find(struct kf_ctx *ctx, const char *username, struct user *out, struct kf_err *err)
{
    char *key = NULL, *hash = NULL;
    bool found = false, live = false;
    int rc = user_name_key(ctx, username ? username : "", &key, err);
    if (rc == 0) rc = user_read_login(ctx, key, out, &hash, &live, &found, err);
    if (rc == 0 && hash) sodium_memzero(hash, strlen(hash));
    if (rc) return rc;
    if (!found) return kf_fail(err, KF_E_NOT_FOUND, "username", "no such user");
    rc = ident_allow(ctx, ACT_USER_READ, out->client_id, out->id, err);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

/* --- teams ---------------------------------------------------------------------------------------- */

struct team_args {
    struct kf_ctx *ctx;
    int64_t team_id;
    int64_t user_id;
    const char *name;
};

static int team_create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct team_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c, "INSERT INTO teams (id, name, created, updated) VALUES ($1, $2, $3, $3)", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->team_id);
    store_bind_text(st, 2, a->name, (size_t)-1);
    store_bind_int64(st, 3, ident_now(a->ctx));
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, 0, "team.create", "team", a->team_id, json_pack("{s:s}", "name", a->name), NULL,
                       err);
}

int team_create(struct kf_ctx *ctx, const char *name, int64_t *id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_TEAM_MANAGE, 0, 0, err);
    if (!rc) rc = ident_check_text(name, "name", true, IDENT_TEXT_MAX, err);
    if (rc) return rc;
    struct team_args a = {.ctx = ctx, .team_id = id_new(ident_now(ctx)), .name = name};
    rc = store_write(ctx->env->store, team_create_fn, &a, err);
    if (rc == 0 && id_r) *id_r = a.team_id;
    return rc;
}

/* 1 when `sql` with $1 = a finds a row. */
static int team_exists(struct store_conn *c, const char *sql, int64_t a, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : rc == STORE_ROW;
}

static int team_add_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct team_args *a = arg;
    int rc = team_exists(c, "SELECT 1 FROM teams WHERE id = $1", a->team_id, err);
    if (rc == 0) return kf_fail(err, KF_E_NOT_FOUND, "team_id", "no such team");
    if (rc < 0) return rc;
    rc = team_exists(c, "SELECT 1 FROM users WHERE id = $1 AND client_id = 0", a->user_id, err);
    if (rc == 0) return kf_fail(err, KF_E_INVALID, "user_id", "teams hold provider users only");
    if (rc < 0) return rc;
    struct store_stmt *st;
    if ((rc = store_prepare(c, "INSERT INTO team_members (team_id, user_id, created) VALUES ($1, $2, $3) "
                               "ON CONFLICT DO NOTHING", &st, err)))
        return rc;
    store_bind_int64(st, 1, a->team_id);
    store_bind_int64(st, 2, a->user_id);
    store_bind_int64(st, 3, ident_now(a->ctx));
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0 || n == 0) return rc;
    return ident_audit(c, a->ctx, 0, "team.add_member", "team", a->team_id,
                       json_pack("{s:I}", "user_id", (json_int_t)a->user_id), NULL, err);
}

static int team_remove_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct team_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c, "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->team_id);
    store_bind_int64(st, 2, a->user_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n == 0) return kf_fail(err, KF_E_NOT_FOUND, "user_id", "not a member");
    return ident_audit(c, a->ctx, 0, "team.remove_member", "team", a->team_id,
                       json_pack("{s:I}", "user_id", (json_int_t)a->user_id), NULL, err);
}

int team_add_member(struct kf_ctx *ctx, int64_t team_id, int64_t user_id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_TEAM_MANAGE, 0, 0, err);
    if (rc) return rc;
    struct team_args a = {.ctx = ctx, .team_id = team_id, .user_id = user_id};
    return store_write(ctx->env->store, team_add_fn, &a, err);
}

int team_remove_member(struct kf_ctx *ctx, int64_t team_id, int64_t user_id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_TEAM_MANAGE, 0, 0, err);
    if (rc) return rc;
    struct team_args a = {.ctx = ctx, .team_id = team_id, .user_id = user_id};
    return store_write(ctx->env->store, team_remove_fn, &a, err);
}

int team_list(struct kf_ctx *ctx, struct team **items_r, size_t *n_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_TEAM_READ, 0, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT t.id, t.name, t.created, (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) "
                       "FROM teams t ORDER BY t.name, t.id LIMIT $1",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, IDENT_LIST_MAX);
        struct team *items = arena_alloc(ctx->arena, sizeof *items * IDENT_LIST_MAX);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < IDENT_LIST_MAX) {
            items[n] = (struct team){.id = store_col_int64(st, 0), .name = ident_col_strdup(ctx, st, 1),
                                     .created = store_col_int64(st, 2), .member_count = store_col_int64(st, 3)};
            n++;
        }
        if (rc >= 0) rc = 0, *items_r = items, *n_r = n;
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

int team_members(struct kf_ctx *ctx, int64_t team_id, int64_t **ids_r, size_t *n_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_TEAM_READ, 0, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = team_exists(c, "SELECT 1 FROM teams WHERE id = $1", team_id, err);
    if (rc == 0) rc = kf_fail(err, KF_E_NOT_FOUND, "team_id", "no such team");
    else if (rc > 0) rc = store_prepare(c, "SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY user_id LIMIT $2", &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, team_id);
        store_bind_int64(st, 2, IDENT_LIST_MAX);
        int64_t *ids = arena_alloc(ctx->arena, sizeof *ids * IDENT_LIST_MAX);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < IDENT_LIST_MAX) ids[n++] = store_col_int64(st, 0);
        if (rc >= 0) rc = 0, *ids_r = ids, *n_r = n;
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}
