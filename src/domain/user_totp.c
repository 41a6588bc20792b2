/* A user's second factor: see user_totp.h. The secret travels as hex text through the vault
 * (vault fields are text), bound to the user's row and column, so it cannot be moved to another
 * user. Every write decides inside the transaction: enabling only what is pending, advancing the
 * last used step only forwards (two logins racing with one code cannot both win). */
#include "domain/user_totp.h"

#include <sodium.h>
#include <string.h>

#include "core/arena.h"
#include "domain/identity_internal.h"
#include "domain/totp.h"
#include "domain/vault.h"
#include "store/store.h"

#define SECRET_HEX (TOTP_SECRET_BYTES * 2 + 1)
#define RECOVERY_PURPOSE "kefurcv1"

struct totp_row {
    const char *username;
    bool enabled;
    bool has_secret;
    int64_t last_step;
    unsigned char secret[TOTP_SECRET_BYTES];
};

/* Reads (and decrypts) the user's second-factor state on connection c. */
static int totp_row_read(struct kf_ctx *ctx, struct store_conn *c, int64_t client_id, int64_t user_id,
                         struct totp_row *r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT username, totp_enabled, totp_secret, totp_last_step FROM users "
                           "WHERE id = $1 AND client_id = $2 AND disabled = 0",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, user_id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "no such user");
    if (rc == STORE_ROW) {
        rc = 0;
        r->username = ident_col_strdup(ctx, st, 0);
        r->enabled = store_col_int64(st, 1) != 0;
        r->last_step = store_col_int64(st, 3);
        size_t len = 0;
        const unsigned char *ct = store_col_blob(st, 2, &len);
        r->has_secret = ct && len;
        char *hex = NULL;
        if (r->has_secret)
            rc = vault_decrypt(ctx->env->vault, c, client_id, "users", "totp_secret", user_id, ct, len, ctx->arena,
                               &hex, err);
        if (rc == 0 && hex &&
            sodium_hex2bin(r->secret, sizeof r->secret, hex, strlen(hex), NULL, NULL, NULL) != 0)
            rc = kf_fail(err, KF_E_INTERNAL, NULL, "stored second-factor secret is malformed");
        if (hex) sodium_memzero(hex, strlen(hex));
    }
    store_finalize(&st);
    return rc;
}

static int self_only(const struct kf_ctx *ctx, struct kf_err *err)
{
    if (!ctx->actor || ctx->actor->kind != ACTOR_USER)
        return kf_fail(err, KF_E_UNAUTHENTICATED, NULL, "a second factor is enrolled by the user, logged in");
    return 0;
}

struct begin_args {
    struct kf_ctx *ctx;
    unsigned char secret[TOTP_SECRET_BYTES];
    const char *username;
};

static int begin_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct begin_args *a = arg;
    const struct actor *me = a->ctx->actor;
    struct totp_row r = {0};
    int rc = totp_row_read(a->ctx, c, me->client_id, me->user_id, &r, err);
    sodium_memzero(r.secret, sizeof r.secret);
    if (rc) return rc;
    if (r.enabled) return kf_fail(err, KF_E_CONFLICT, NULL, "a second factor is in force already");
    a->username = r.username;
    char hex[SECRET_HEX];
    sodium_bin2hex(hex, sizeof hex, a->secret, sizeof a->secret);
    unsigned char *ct = NULL;
    size_t ct_len = 0;
    rc = vault_client_key_create(a->ctx->env->vault, c, me->client_id, err);
    if (rc == 0)
        rc = vault_encrypt(a->ctx->env->vault, c, me->client_id, "users", "totp_secret", me->user_id, hex,
                           strlen(hex), a->ctx->arena, &ct, &ct_len, err);
    sodium_memzero(hex, sizeof hex);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "UPDATE users SET totp_secret = $1, totp_enabled = 0, totp_last_step = 0, updated = $2 "
                       "WHERE id = $3 AND client_id = $4",
                       &st, err);
    if (rc) return rc;
    store_bind_blob(st, 1, ct, ct_len);
    store_bind_int64(st, 2, ident_now(a->ctx));
    store_bind_int64(st, 3, me->user_id);
    store_bind_int64(st, 4, me->client_id);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    static const char *const masked[] = {"totp_secret", NULL};
    return ident_audit(c, a->ctx, me->client_id, "user.totp_begin", "user", me->user_id,
                       json_pack("{s:s}", "totp_secret", ""), masked, err);
}

int user_totp_begin(struct kf_ctx *ctx, struct buf *uri, struct buf *svg, struct kf_err *err)
{
    int rc = self_only(ctx, err);
    if (rc) return rc;
    struct begin_args a = {.ctx = ctx};
    totp_secret_new(a.secret);
    rc = store_write(ctx->env->store, begin_fn, &a, err);
    if (rc == 0) rc = totp_uri(a.username, a.secret, sizeof a.secret, uri, err);
    if (rc == 0) rc = totp_qr_svg(uri->data, svg, err);
    sodium_memzero(a.secret, sizeof a.secret);
    return rc;
}

struct step_args {
    struct kf_ctx *ctx;
    int64_t client_id, user_id;
    const char *code;
    bool enable;               /* confirm enrolment, else a login check */
    char (*recovery)[RECOVERY_CODE_TEXT]; /* enable: the fresh recovery codes, shown once */
};

/* Replaces the user's recovery codes by hashes of fresh ones (inside the enabling write). */
static int recovery_codes_store(struct store_conn *c, struct step_args *a, struct kf_err *err)
{
    unsigned char key[32];
    int rc = vault_client_secret(a->ctx->env->vault, c, a->client_id, RECOVERY_PURPOSE, key, err);
    struct store_stmt *st;
    if (rc == 0) rc = store_prepare(c, "DELETE FROM user_recovery_codes WHERE user_id = $1", &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, a->user_id);
        rc = ident_exec(c, &st, NULL, err);
    }
    recovery_codes_new(a->recovery);
    for (int i = 0; rc == 0 && i < RECOVERY_CODE_COUNT; i++) {
        unsigned char h[RECOVERY_HASH_BYTES];
        rc = recovery_code_hash(key, a->user_id, a->recovery[i], h, err);
        if (rc == 0)
            rc = store_prepare(c,
                               "INSERT INTO user_recovery_codes (user_id, client_id, code_hash, created) "
                               "VALUES ($1, $2, $3, $4)",
                               &st, err);
        if (rc == 0) {
            store_bind_int64(st, 1, a->user_id);
            store_bind_int64(st, 2, a->client_id);
            store_bind_blob(st, 3, h, sizeof h);
            store_bind_int64(st, 4, ident_now(a->ctx));
            rc = ident_exec(c, &st, NULL, err);
        }
    }
    sodium_memzero(key, sizeof key);
    return rc;
}

/* Verifies the code against the stored secret and advances the last used step, in one write. */
static int step_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct step_args *a = arg;
    struct totp_row r = {0};
    int rc = totp_row_read(a->ctx, c, a->client_id, a->user_id, &r, err);
    if (rc == 0 && (!r.has_secret || r.enabled == a->enable))
        rc = a->enable ? kf_fail(err, KF_E_CONFLICT, NULL, "no second factor is waiting for confirmation")
                       : kf_fail(err, KF_E_INVALID, NULL, "no second factor in force");
    int64_t step = 0;
    if (rc == 0) rc = totp_verify(r.secret, sizeof r.secret, a->code, ident_now(a->ctx), r.last_step, &step, err);
    sodium_memzero(r.secret, sizeof r.secret);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "UPDATE users SET totp_last_step = $1, totp_enabled = 1, updated = $2 "
                       "WHERE id = $3 AND client_id = $4 AND totp_last_step < $1",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, step);
    store_bind_int64(st, 2, ident_now(a->ctx));
    store_bind_int64(st, 3, a->user_id);
    store_bind_int64(st, 4, a->client_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_UNAUTHENTICATED, "totp_code", "replay: the code was used already");
    if (!a->enable) return 0;
    if ((rc = recovery_codes_store(c, a, err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "user.totp_enable", "user", a->user_id,
                       json_pack("{s:b,s:i}", "totp_enabled", 1, "recovery_codes", RECOVERY_CODE_COUNT), NULL, err);
}

/* A recovery code instead of the app's code: the matching hash is deleted in the same write, so
 * each code works once. */
static int recovery_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct step_args *a = arg;
    unsigned char (*hashes)[RECOVERY_HASH_BYTES] = arena_alloc(a->ctx->arena, 64 * RECOVERY_HASH_BYTES);
    size_t n = 0;
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT code_hash FROM user_recovery_codes WHERE user_id = $1 AND client_id = $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->user_id);
    store_bind_int64(st, 2, a->client_id);
    while ((rc = store_step(st, err)) == STORE_ROW && n < 64) {
        size_t len = 0;
        const void *h = store_col_blob(st, 0, &len);
        if (h && len == RECOVERY_HASH_BYTES) memcpy(hashes[n++], h, RECOVERY_HASH_BYTES);
    }
    store_finalize(&st);
    if (rc < 0) return rc;
    unsigned char key[32];
    size_t index = 0;
    rc = vault_client_secret(a->ctx->env->vault, c, a->client_id, RECOVERY_PURPOSE, key, err);
    if (rc == 0) rc = recovery_code_verify(key, a->user_id, a->code, (const unsigned char(*)[RECOVERY_HASH_BYTES])hashes,
                                           n, &index, err);
    sodium_memzero(key, sizeof key);
    if (rc) return rc;
    rc = store_prepare(c, "DELETE FROM user_recovery_codes WHERE user_id = $1 AND code_hash = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->user_id);
    store_bind_blob(st, 2, hashes[index], RECOVERY_HASH_BYTES);
    int64_t deleted = 0;
    if ((rc = ident_exec(c, &st, &deleted, err)) != 0) return rc;
    if (deleted != 1) return kf_fail(err, KF_E_UNAUTHENTICATED, "totp_code", "replay: the code was used already");
    return ident_audit(c, a->ctx, a->client_id, "user.recovery_code_used", "user", a->user_id,
                       json_pack("{s:i}", "left", (int)n - 1), NULL, err);
}

/* App codes are digits; recovery codes hold letters. */
static bool looks_like_recovery_code(const char *code)
{
    for (const char *p = code; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) return true;
    }
    return false;
}

int user_totp_confirm(struct kf_ctx *ctx, const char *code, char recovery[RECOVERY_CODE_COUNT][RECOVERY_CODE_TEXT],
                      struct kf_err *err)
{
    int rc = self_only(ctx, err);
    if (rc) return rc;
    struct step_args a = {.ctx = ctx, .client_id = ctx->actor->client_id, .user_id = ctx->actor->user_id,
                          .code = code ? code : "", .enable = true, .recovery = recovery};
    rc = store_write(ctx->env->store, step_fn, &a, err);
    if (rc == KF_E_UNAUTHENTICATED || rc == KF_E_INVALID) err->field = "code";
    return rc;
}

int user_totp_check(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, const char *code, struct kf_err *err)
{
    if (!code || !*code) return kf_fail(err, KF_E_UNAUTHENTICATED, "totp_code", "the second factor's code is required");
    struct step_args a = {.ctx = ctx, .client_id = client_id, .user_id = user_id, .code = code};
    int rc = store_write(ctx->env->store, looks_like_recovery_code(code) ? recovery_fn : step_fn, &a, err);
    if (rc == KF_E_INVALID) rc = kf_fail(err, KF_E_UNAUTHENTICATED, "totp_code", "malformed code");
    if (rc == KF_E_UNAUTHENTICATED) err->field = "totp_code";
    return rc;
}
