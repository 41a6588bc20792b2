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
};

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
    return ident_audit(c, a->ctx, a->client_id, "user.totp_enable", "user", a->user_id,
                       json_pack("{s:b}", "totp_enabled", 1), NULL, err);
}

int user_totp_confirm(struct kf_ctx *ctx, const char *code, struct kf_err *err)
{
    int rc = self_only(ctx, err);
    if (rc) return rc;
    struct step_args a = {.ctx = ctx, .client_id = ctx->actor->client_id, .user_id = ctx->actor->user_id,
                          .code = code ? code : "", .enable = true};
    rc = store_write(ctx->env->store, step_fn, &a, err);
    if (rc == KF_E_UNAUTHENTICATED || rc == KF_E_INVALID) err->field = "code";
    return rc;
}

int user_totp_check(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, const char *code, struct kf_err *err)
{
    if (!code || !*code) return kf_fail(err, KF_E_UNAUTHENTICATED, "totp_code", "the second factor's code is required");
    struct step_args a = {.ctx = ctx, .client_id = client_id, .user_id = user_id, .code = code};
    int rc = store_write(ctx->env->store, step_fn, &a, err);
    if (rc == KF_E_INVALID) rc = kf_fail(err, KF_E_UNAUTHENTICATED, "totp_code", "malformed code");
    if (rc == KF_E_UNAUTHENTICATED) err->field = "totp_code";
    return rc;
}
