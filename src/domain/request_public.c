/* Requests without an account (C3.2.2): the public form token of a client and the tracking token of
 * a request, both kept as token_hash() only; the intake that matches or creates the customer, records
 * their consent and raises the request; and what the tracking link reads and writes. See
 * request_public.h for the rules; docs/requests.md "Pages". */
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/consent.h"
#include "domain/customer.h"
#include "domain/identity_internal.h"
#include "domain/policy.h"
#include "domain/request_internal.h"
#include "domain/request_public.h"
#include "domain/throttle.h"
#include "store/store.h"

static const struct throttle_rule intake_rule = {
    .free_failures = INTAKE_PER_ADDRESS_FREE,
    .base_delay_ms = 1000,
    .max_delay_ms = 60LL * 1000,
    .max_failures = INTAKE_PER_ADDRESS_MAX,
    .window_ms = THROTTLE_WINDOW_MS,
};

/* --- the form token ------------------------------------------------------------------------------ */

struct rotate_args {
    struct kf_ctx *ctx;
    int64_t client_id;
    const unsigned char *hash;
};

static int rotate_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct rotate_args *a = arg;
    int64_t now = ident_now(a->ctx);
    struct store_stmt *st;
    int rc = store_prepare(c, "DELETE FROM request_intake_forms WHERE client_id = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->client_id);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    rc = store_prepare(c,
                       "INSERT INTO request_intake_forms (client_id, token_hash, created_by, created) "
                       "VALUES ($1, $2, $3, $4)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->client_id);
    store_bind_blob(st, 2, a->hash, TOKEN_HASH_BYTES);
    store_bind_int64(st, 3, a->ctx->actor->user_id);
    store_bind_int64(st, 4, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "request.intake_rotate", "organization", a->client_id, NULL, NULL, err);
}

int request_intake_rotate(struct kf_ctx *ctx, int64_t client_id, char token[TOKEN_TEXT_MAX], struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_INTAKE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not a client");
    if ((rc = token_new(INTAKE_TOKEN_PREFIX, token, TOKEN_TEXT_MAX, err)) != 0) return rc;
    unsigned char hash[TOKEN_HASH_BYTES];
    token_hash(token, hash);
    struct rotate_args a = {.ctx = ctx, .client_id = client_id, .hash = hash};
    rc = store_write(ctx->env->store, rotate_fn, &a, err);
    if (rc) token[0] = '\0';
    return rc;
}

/* The row of a token's hash: one int64 column of `sql` ($1 the hash), or KF_E_NOT_FOUND. */
static int by_hash(struct kf_ctx *ctx, const char *sql, const char *token, const char *prefix, int64_t out[3],
                   int ncols, struct kf_err *err)
{
    if (!token || !token_is_well_formed(token, prefix)) return kf_fail(err, KF_E_NOT_FOUND, NULL, "no such link");
    unsigned char hash[TOKEN_HASH_BYTES];
    token_hash(token, hash);
    struct store_conn *c;
    int rc = store_acquire(ctx->env->store, &c, err);
    if (rc) return rc;
    struct store_stmt *st;
    if ((rc = store_prepare(c, sql, &st, err)) == 0) {
        store_bind_blob(st, 1, hash, sizeof hash);
        rc = store_step(st, err);
        if (rc == STORE_ROW) {
            for (int i = 0; i < ncols; i++) out[i] = store_col_int64(st, i);
            rc = 0;
        } else if (rc >= 0) {
            rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "no such link");
        }
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

int request_intake_client(struct kf_ctx *ctx, const char *token, int64_t *client_id_r, struct kf_err *err)
{
    /* no policy check: the token is the visitor's authority (request_public.h) */
    int64_t row[3] = {0};
    int rc = by_hash(ctx, "SELECT f.client_id FROM request_intake_forms f JOIN organizations o ON o.id = f.client_id "
                     "WHERE f.token_hash = $1 AND o.disabled = 0", token,
                     INTAKE_TOKEN_PREFIX, row, 1, err);
    if (!rc) *client_id_r = row[0];
    return rc;
}

/* --- the intake ---------------------------------------------------------------------------------- */

struct throttle_args {
    struct kf_ctx *ctx;
    const char *key;
};

/* Refuses an address that must wait, else counts this submission against it. */
static int throttle_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct throttle_args *a = arg;
    int64_t now = ident_now(a->ctx), wait = 0;
    int rc = throttle_check(c, now, a->key, &wait, err);
    if (rc) return rc;
    return throttle_fail(c, now, a->key, &intake_rule, NULL, NULL, err);
}

struct tracking_args {
    struct kf_ctx *ctx;
    int64_t client_id, request_id, customer_id;
    const unsigned char *hash;
};

static int tracking_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct tracking_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO request_tracking (token_hash, request_id, client_id, customer_id, created) "
                           "VALUES ($1, $2, $3, $4, $5)",
                           &st, err);
    if (rc) return rc;
    store_bind_blob(st, 1, a->hash, TOKEN_HASH_BYTES);
    store_bind_int64(st, 2, a->request_id);
    store_bind_int64(st, 3, a->client_id);
    store_bind_int64(st, 4, a->customer_id);
    store_bind_int64(st, 5, ident_now(a->ctx));
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "request.tracking_issue", "request", a->request_id, NULL, NULL, err);
}

/* The client's customer with this name and contact, when there is one. */
static int64_t match_customer(struct kf_ctx *ctx, int64_t client_id, const struct intake_input *in)
{
    struct customer *items;
    size_t n = 0;
    struct kf_err ignored;
    for (int pass = 0; pass < 2; pass++) {
        const char *v = pass == 0 ? in->phone : in->email;
        if (!v || !*v) continue;
        int rc = pass == 0 ? customer_find_by_phone(ctx, client_id, v, &items, &n, &ignored)
                           : customer_find_by_email(ctx, client_id, v, &items, &n, &ignored);
        if (rc) continue;
        for (size_t i = 0; i < n; i++)
            if (items[i].name && strcmp(items[i].name, in->name) == 0) return items[i].id;
    }
    return 0;
}

static int intake_as_client(struct kf_ctx *ctx, int64_t client_id, const struct intake_input *in, int64_t *request_id_r,
                            int64_t *customer_id_r, bool *existing_r, struct kf_err *err)
{
    int rc;
    if ((rc = ident_check_text(in->name, "name", true, 200, err)) != 0) return rc;
    bool phone = in->phone && *in->phone, email = in->email && *in->email;
    if (!phone && !email) return kf_fail(err, KF_E_INVALID, "contact", "a phone number or an e-mail address");
    int64_t customer = match_customer(ctx, client_id, in);
    if (!customer) {
        struct customer_input ci = {.kind = "person", .name = in->name, .phone = phone ? in->phone : NULL,
                                    .email = email ? in->email : NULL};
        if ((rc = customer_create(ctx, client_id, &ci, &customer, err)) != 0) return rc;
    }
    /* consent to the purpose of the request, given on the form (C3.2.2, C7.2.1) */
    struct consent_input k = {.purpose = CONSENT_SERVICE_DELIVERY, .notice_version = INTAKE_NOTICE_VERSION,
                              .channel = "web"};
    int64_t kid;
    if ((rc = consent_give(ctx, client_id, customer, &k, &kid, err)) != 0) return rc;
    struct request_input ri = {.customer_id = customer, .service_kind = in->service_kind, .channel = "web",
                               .priority = 3, .subject = in->subject, .body = in->body,
                               .idempotency_key = in->idempotency_key};
    *customer_id_r = customer;
    return request_create(ctx, client_id, &ri, request_id_r, existing_r, err);
}

int request_intake_create(struct kf_ctx *ctx, const char *form_token, const struct intake_input *in,
                          int64_t *client_id_r, int64_t *request_id_r, char tracking[TOKEN_TEXT_MAX], bool *existing_r,
                          struct kf_err *err)
{
    tracking[0] = '\0';
    int64_t client_id;
    int rc = request_intake_client(ctx, form_token, &client_id, err);
    if (rc) return rc;
    char key[THROTTLE_KEY_MAX];
    char addr_key[THROTTLE_KEY_MAX];
    if ((rc = throttle_key_address(ctx->source_addr ? ctx->source_addr : "unknown", addr_key, err)) != 0) return rc;
    size_t kl = strlen(addr_key);
    if (kl + 8 >= sizeof key) return kf_fail(err, KF_E_INVALID, NULL, "address");
    memcpy(key, "intake:", 7);
    memcpy(key + 7, addr_key, kl + 1);
    struct throttle_args ta = {.ctx = ctx, .key = key};
    if ((rc = store_write(ctx->env->store, throttle_fn, &ta, err)) != 0) return rc;
    /* past the token: kefu itself, on this client only */
    struct actor sys = {.kind = ACTOR_SYSTEM, .client_id = client_id};
    const struct actor *visitor = ctx->actor;
    ctx->actor = &sys;
    int64_t customer = 0;
    rc = intake_as_client(ctx, client_id, in, request_id_r, &customer, existing_r, err);
    unsigned char hash[TOKEN_HASH_BYTES];
    if (!rc) rc = token_new(TRACKING_TOKEN_PREFIX, tracking, TOKEN_TEXT_MAX, err);
    if (!rc) {
        token_hash(tracking, hash);
        struct tracking_args a = {.ctx = ctx, .client_id = client_id, .request_id = *request_id_r,
                                  .customer_id = customer, .hash = hash};
        rc = store_write(ctx->env->store, tracking_fn, &a, err);
    }
    ctx->actor = visitor;
    if (rc) tracking[0] = '\0';
    else *client_id_r = client_id;
    return rc;
}

/* --- the tracking link --------------------------------------------------------------------------- */

struct track_ref {
    int64_t request_id, client_id, customer_id;
};

static int track_ref(struct kf_ctx *ctx, const char *token, struct track_ref *r, struct kf_err *err)
{
    int64_t row[3] = {0};
    int rc = by_hash(ctx, "SELECT request_id, client_id, customer_id FROM request_tracking WHERE token_hash = $1", token,
                     TRACKING_TOKEN_PREFIX, row, 3, err);
    if (rc) return rc;
    r->request_id = row[0];
    r->client_id = row[1];
    r->customer_id = row[2];
    return 0;
}

/* The public replies of a request: the statement has no way to select an internal note. */
static int public_messages(struct kf_ctx *ctx, const struct track_ref *r, struct request_message **items_r, size_t *n_r,
                           struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(ctx->env->store, &c, err);
    if (rc) return rc;
    void *items;
    rc = request_rows_read(c, ctx, r->client_id, r->request_id,
                           "SELECT id, request_id, client_id, kind, author_id, author_side, body, created FROM "
                           "request_messages WHERE request_id = $1 AND client_id = $2 AND kind = 'public' AND "
                           "id > $3 ORDER BY id LIMIT $4",
                           0, REQUEST_LIST_MAX, sizeof **items_r, request_message_fill, &items, n_r, err);
    if (rc == 0) *items_r = items;
    store_release(&c);
    return rc;
}

int request_track_open(struct kf_ctx *ctx, const char *token, struct request_track *out, struct kf_err *err)
{
    /* no policy check: the token is the visitor's authority (request_public.h) */
    struct track_ref r;
    int rc = track_ref(ctx, token, &r, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    struct actor sys = {.kind = ACTOR_SYSTEM, .client_id = r.client_id};
    const struct actor *visitor = ctx->actor;
    ctx->actor = &sys;
    rc = request_get(ctx, r.client_id, r.request_id, &out->request, err);
    if (!rc) rc = public_messages(ctx, &r, &out->messages, &out->n_messages, err);
    struct customer cu;
    if (!rc && customer_get(ctx, r.client_id, r.customer_id, &cu, err) == 0) out->customer_name = cu.name;
    struct consent *ks;
    size_t nk = 0;
    struct kf_err ignored;
    if (!rc && consent_list(ctx, r.client_id, r.customer_id, &ks, &nk, &ignored) == 0)
        for (size_t i = 0; i < nk; i++)
            if (strcmp(ks[i].purpose, CONSENT_SERVICE_DELIVERY) == 0 && !ks[i].withdrawn_at) out->consent_in_force = true;
    ctx->actor = visitor;
    if (rc == KF_E_NOT_FOUND) kf_fail(err, KF_E_NOT_FOUND, NULL, "no such link");
    return rc;
}

int request_track_reply(struct kf_ctx *ctx, const char *token, const char *body, struct kf_err *err)
{
    struct track_ref r;
    int rc = track_ref(ctx, token, &r, err);
    if (rc) return rc;
    struct actor sys = {.kind = ACTOR_SYSTEM, .client_id = r.client_id};   /* a reply of the client's side */
    const struct actor *visitor = ctx->actor;
    ctx->actor = &sys;
    int64_t mid;
    rc = request_reply(ctx, r.client_id, r.request_id, body, &mid, err);
    ctx->actor = visitor;
    return rc;
}

int request_track_consent(struct kf_ctx *ctx, const char *token, bool give, struct kf_err *err)
{
    struct track_ref r;
    int rc = track_ref(ctx, token, &r, err);
    if (rc) return rc;
    struct actor sys = {.kind = ACTOR_SYSTEM, .client_id = r.client_id};
    const struct actor *visitor = ctx->actor;
    ctx->actor = &sys;
    if (give) {
        struct consent_input k = {.purpose = CONSENT_SERVICE_DELIVERY, .notice_version = INTAKE_NOTICE_VERSION,
                                  .channel = "web"};
        int64_t kid;
        rc = consent_give(ctx, r.client_id, r.customer_id, &k, &kid, err);
    } else {
        rc = consent_withdraw(ctx, r.client_id, r.customer_id, CONSENT_SERVICE_DELIVERY, NULL, "web", err);
    }
    ctx->actor = visitor;
    return rc;
}
