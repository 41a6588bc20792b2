/* Consent records (consent.h, C7.2.1): one row per consent given, stamped on withdrawal so the
 * history stays; the check reads only rows in force for a live customer of the same client. */
#include "domain/consent.h"

#include <stdbool.h>
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/identity_internal.h"
#include "store/store.h"

#define CONSENT_COLS                                                                                   \
    "id, client_id, customer_id, purpose, third_party, notice_version, given_at, given_channel, "     \
    "withdrawn_at, withdrawn_channel, recorded_by"

static bool consent_in(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

static int consent_check_purpose(const char *purpose, const char *third_party, struct kf_err *err)
{
    static const char *const purposes[] = {CONSENT_SERVICE_DELIVERY, CONSENT_SATISFACTION_SURVEY,
                                           CONSENT_THIRD_PARTY_SHARING, CONSENT_MARKETING, NULL};
    if (!consent_in(purpose, purposes)) return kf_fail(err, KF_E_INVALID, "purpose", "unknown purpose");
    bool sharing = strcmp(purpose, CONSENT_THIRD_PARTY_SHARING) == 0;
    bool named = third_party && *third_party;
    if (sharing != named)
        return kf_fail(err, KF_E_INVALID, "third_party", sharing ? "name the third party" : "only for sharing");
    return ident_check_text(third_party, "third_party", false, IDENT_TEXT_MAX, err);
}

static int consent_check_channel(const char *channel, struct kf_err *err)
{
    static const char *const channels[] = {"phone", "web", "email", "sms", "on_site", "paper", "api", NULL};
    return consent_in(channel, channels) ? 0 : kf_fail(err, KF_E_INVALID, "channel", "unknown channel");
}

/* The customer is live and the client's (the scope is part of the key). */
static int consent_customer_live(struct store_conn *c, int64_t client_id, int64_t customer_id, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT 1 FROM customers WHERE id = $1 AND client_id = $2 AND deleted = 0", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, customer_id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc == STORE_DONE) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    return rc < 0 ? rc : 0;
}

struct consent_args {
    struct kf_ctx *ctx;
    int64_t client_id;
    int64_t customer_id;
    const struct consent_input *in;
    int64_t id;
};

static int consent_give_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct consent_args *a = arg;
    const struct consent_input *in = a->in;
    int rc = consent_customer_live(c, a->client_id, a->customer_id, err);
    struct store_stmt *st;
    if (rc || (rc = store_prepare(c,
                                  "INSERT INTO consents (id, client_id, customer_id, purpose, third_party, notice_version, "
                                  "given_at, given_channel, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                  &st, err)))
        return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, a->customer_id);
    store_bind_text(st, 4, in->purpose, (size_t)-1);
    store_bind_text(st, 5, in->third_party ? in->third_party : "", (size_t)-1);
    store_bind_text(st, 6, in->notice_version, (size_t)-1);
    store_bind_int64(st, 7, ident_now(a->ctx));
    store_bind_text(st, 8, in->channel, (size_t)-1);
    store_bind_int64(st, 9, a->ctx->actor->user_id);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    json_t *changes = json_pack("{s:I, s:s, s:s, s:s, s:s}", "customer_id", (json_int_t)a->customer_id, "purpose",
                                in->purpose, "third_party", in->third_party ? in->third_party : "", "notice_version",
                                in->notice_version, "channel", in->channel);
    return ident_audit(c, a->ctx, a->client_id, "consent.give", "consent", a->id, changes, NULL, err);
}

int consent_give(struct kf_ctx *ctx, int64_t client_id, int64_t customer_id, const struct consent_input *in,
                 int64_t *id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CONSENT_RECORD, client_id, 0, err);
    if (!rc) rc = consent_check_purpose(in->purpose, in->third_party, err);
    if (!rc) rc = ident_check_text(in->notice_version, "notice_version", true, 64, err);
    if (!rc) rc = consent_check_channel(in->channel, err);
    if (rc) return rc;
    struct consent_args a = {ctx, client_id, customer_id, in, id_new(ident_now(ctx))};
    rc = store_write(ctx->env->store, consent_give_fn, &a, err);
    if (rc == 0 && id_r) *id_r = a.id;
    return rc;
}

static int consent_withdraw_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct consent_args *a = arg;
    const struct consent_input *in = a->in;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE consents SET withdrawn_at = $1, withdrawn_channel = $2 WHERE client_id = $3 AND "
                           "customer_id = $4 AND purpose = $5 AND third_party = $6 AND withdrawn_at IS NULL",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, ident_now(a->ctx));
    store_bind_text(st, 2, in->channel, (size_t)-1);
    store_bind_int64(st, 3, a->client_id);
    store_bind_int64(st, 4, a->customer_id);
    store_bind_text(st, 5, in->purpose, (size_t)-1);
    store_bind_text(st, 6, in->third_party ? in->third_party : "", (size_t)-1);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n == 0) return kf_fail(err, KF_E_NOT_FOUND, "purpose", "no consent in force");
    json_t *changes = json_pack("{s:I, s:s, s:s, s:s}", "customer_id", (json_int_t)a->customer_id, "purpose",
                                in->purpose, "third_party", in->third_party ? in->third_party : "", "channel",
                                in->channel);
    return ident_audit(c, a->ctx, a->client_id, "consent.withdraw", "customer", a->customer_id, changes, NULL, err);
}

int consent_withdraw(struct kf_ctx *ctx, int64_t client_id, int64_t customer_id, const char *purpose,
                     const char *third_party, const char *channel, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CONSENT_RECORD, client_id, 0, err);
    if (!rc) rc = consent_check_purpose(purpose, third_party, err);
    if (!rc) rc = consent_check_channel(channel, err);
    if (rc) return rc;
    struct consent_input in = {purpose, third_party, NULL, channel};
    struct consent_args a = {ctx, client_id, customer_id, &in, 0};
    return store_write(ctx->env->store, consent_withdraw_fn, &a, err);
}

static void consent_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct consent *r)
{
    r->id = store_col_int64(st, 0);
    r->client_id = store_col_int64(st, 1);
    r->customer_id = store_col_int64(st, 2);
    r->purpose = ident_col_strdup(ctx, st, 3);
    r->third_party = ident_col_strdup(ctx, st, 4);
    r->notice_version = ident_col_strdup(ctx, st, 5);
    r->given_at = store_col_int64(st, 6);
    r->given_channel = ident_col_strdup(ctx, st, 7);
    r->withdrawn_at = store_col_int64(st, 8);
    r->withdrawn_channel = ident_col_strdup(ctx, st, 9);
    r->recorded_by = store_col_int64(st, 10);
}

int consent_list(struct kf_ctx *ctx, int64_t client_id, int64_t customer_id, struct consent **items_r, size_t *n_r,
                 struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CONSENT_READ, client_id, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    if ((rc = consent_customer_live(c, client_id, customer_id, err)) == 0)
        rc = store_prepare(c,
                           "SELECT " CONSENT_COLS " FROM consents WHERE client_id = $1 AND customer_id = $2 "
                           "ORDER BY id DESC LIMIT $3",
                           &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_int64(st, 2, customer_id);
        store_bind_int64(st, 3, IDENT_LIST_MAX);
        struct consent *items = arena_zalloc(ctx->arena, sizeof *items * IDENT_LIST_MAX);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < IDENT_LIST_MAX) consent_from_row(ctx, st, &items[n++]);
        if (rc >= 0) rc = 0, *items_r = items, *n_r = n;
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

int consent_check(struct store_conn *c, int64_t client_id, int64_t customer_id, const char *purpose,
                  const char *third_party, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT 1 FROM consents g JOIN customers k ON k.id = g.customer_id AND k.client_id = g.client_id "
                           "WHERE g.client_id = $1 AND g.customer_id = $2 AND g.purpose = $3 AND g.third_party = $4 "
                           "AND g.withdrawn_at IS NULL AND k.deleted = 0 LIMIT 1",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    store_bind_int64(st, 2, customer_id);
    store_bind_text(st, 3, purpose ? purpose : "", (size_t)-1);
    store_bind_text(st, 4, third_party ? third_party : "", (size_t)-1);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc == STORE_ROW) return 0;
    if (rc == STORE_DONE) return kf_fail(err, KF_E_FORBIDDEN, "consent", "no consent in force for this purpose");
    return rc;
}
