/* Organisations (org.h): the provider once, clients with their vault data key, reads scoped by
 * client. Contact fields of an organisation name a person, so the audit trail masks them. */
#include "domain/org.h"

#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/identity_internal.h"
#include "domain/vault.h"
#include "store/store.h"

#define ORG_COLS                                                                                        \
    "id, client_id, kind, name, legal_name, address, contact_name, contact_phone, contact_email, disabled, " \
    "created, updated"

static const char *const org_masked[] = {"contact_name", "contact_phone", "contact_email", NULL};

static int org_check_input(const struct org_input *in, struct kf_err *err)
{
    int rc = ident_check_text(in->name, "name", true, IDENT_TEXT_MAX, err);
    if (!rc) rc = ident_check_text(in->legal_name, "legal_name", false, IDENT_TEXT_MAX, err);
    if (!rc) rc = ident_check_text(in->address, "address", false, IDENT_TEXT_MAX, err);
    if (!rc) rc = ident_check_text(in->contact_name, "contact_name", false, IDENT_TEXT_MAX, err);
    if (!rc) rc = ident_check_text(in->contact_phone, "contact_phone", false, IDENT_TEXT_MAX, err);
    if (!rc) rc = ident_check_text(in->contact_email, "contact_email", false, IDENT_TEXT_MAX, err);
    return rc;
}

static const char *org_or_empty(const char *s)
{
    return s ? s : "";
}

struct org_create_args {
    struct kf_ctx *ctx;
    const struct org_input *in;
    bool provider;
    int64_t id;
};

static int org_insert(struct store_conn *c, const struct org_create_args *a, int64_t now, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO organizations (" ORG_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, "
                           "$10, $10) ON CONFLICT DO NOTHING",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->provider ? 0 : a->id);
    store_bind_text(st, 3, a->provider ? "provider" : "client", (size_t)-1);
    store_bind_text(st, 4, a->in->name, (size_t)-1);
    store_bind_text(st, 5, org_or_empty(a->in->legal_name), (size_t)-1);
    store_bind_text(st, 6, org_or_empty(a->in->address), (size_t)-1);
    store_bind_text(st, 7, org_or_empty(a->in->contact_name), (size_t)-1);
    store_bind_text(st, 8, org_or_empty(a->in->contact_phone), (size_t)-1);
    store_bind_text(st, 9, org_or_empty(a->in->contact_email), (size_t)-1);
    store_bind_int64(st, 10, now);
    int64_t n = 0;
    rc = ident_exec(c, &st, &n, err);
    if (rc == 0 && n != 1) rc = kf_fail(err, KF_E_CONFLICT, "kind", "a provider organisation exists already");
    return rc;
}

static int org_create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct org_create_args *a = arg;
    int64_t now = ident_now(a->ctx);
    int rc = org_insert(c, a, now, err);
    if (rc == 0 && !a->provider) rc = vault_client_key_create(a->ctx->env->vault, c, a->id, err);
    if (rc) return rc;
    json_t *changes = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", a->in->name, "legal_name",
                                org_or_empty(a->in->legal_name), "address", org_or_empty(a->in->address),
                                "contact_name", org_or_empty(a->in->contact_name), "contact_phone",
                                org_or_empty(a->in->contact_phone), "contact_email", org_or_empty(a->in->contact_email));
    return ident_audit(c, a->ctx, a->provider ? 0 : a->id, a->provider ? "org.create_provider" : "org.create",
                       "organization", a->id, changes, org_masked, err);
}

static int org_create(struct kf_ctx *ctx, const struct org_input *in, bool provider, int64_t *id_r,
                      struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_ORG_CREATE, 0, 0, err);
    if (!rc) rc = org_check_input(in, err);
    if (rc) return rc;
    if (!provider && !ctx->env->vault) return kf_fail(err, KF_E_INTERNAL, NULL, "the vault is not open");
    struct org_create_args a = {ctx, in, provider, id_new(ident_now(ctx))};
    rc = store_write(ctx->env->store, org_create_fn, &a, err);
    if (rc == 0 && id_r) *id_r = a.id;
    return rc;
}

int org_create_provider(struct kf_ctx *ctx, const struct org_input *in, int64_t *id_r, struct kf_err *err)
{
    return org_create(ctx, in, true, id_r, err);
}

int org_create_client(struct kf_ctx *ctx, const struct org_input *in, int64_t *id_r, struct kf_err *err)
{
    return org_create(ctx, in, false, id_r, err);
}

static void org_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct org *o)
{
    o->id = store_col_int64(st, 0);
    o->client_id = store_col_int64(st, 1);
    o->provider = strcmp(store_col_text(st, 2, NULL), "provider") == 0;
    o->name = ident_col_strdup(ctx, st, 3);
    o->legal_name = ident_col_strdup(ctx, st, 4);
    o->address = ident_col_strdup(ctx, st, 5);
    o->contact_name = ident_col_strdup(ctx, st, 6);
    o->contact_phone = ident_col_strdup(ctx, st, 7);
    o->contact_email = ident_col_strdup(ctx, st, 8);
    o->disabled = store_col_int64(st, 9) != 0;
    o->created = store_col_int64(st, 10);
    o->updated = store_col_int64(st, 11);
}

/* Reads organisation `org_id` as a client's (when `as_client`) or as the provider's own (when
 * `as_provider`): what the policy allowed is part of the query, so nothing else is read. */
static int org_read(struct kf_ctx *ctx, int64_t org_id, bool as_client, bool as_provider, struct org *out,
                    struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(ctx->env->store, &c, err);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT " ORG_COLS " FROM organizations WHERE id = $1 AND "
                       "((client_id = $1 AND $2 = 1) OR (client_id = 0 AND $3 = 1))",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, org_id);
        store_bind_int64(st, 2, as_client ? 1 : 0);
        store_bind_int64(st, 3, as_provider ? 1 : 0);
        rc = store_step(st, err);
        if (rc == STORE_ROW) org_from_row(ctx, st, out), rc = 0;
        else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

int org_client_names(struct kf_ctx *ctx, const int64_t *ids, size_t n, const char **names, struct kf_err *err)
{
    for (size_t i = 0; i < n; i++) names[i] = NULL;
    struct store_conn *c;
    int rc = store_acquire(ctx->env->store, &c, err);
    if (rc) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            if (ids[k] == ids[i]) names[i] = names[k], seen = true;
        struct kf_err ignored;
        if (seen || ids[i] <= 0 || ident_allow(ctx, ACT_REQUEST_READ, ids[i], 0, &ignored) != 0) continue;
        struct store_stmt *st; /* prepared once per connection (store.h): this is a lookup */
        rc = store_prepare(c, "SELECT name FROM organizations WHERE id = $1 AND client_id = $1 AND kind = 'client'",
                           &st, err);
        if (rc) break;
        store_bind_int64(st, 1, ids[i]);
        int step = store_step(st, err);
        if (step == STORE_ROW) names[i] = ident_col_strdup(ctx, st, 0);
        else if (step < 0) rc = step;
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

int org_get(struct kf_ctx *ctx, int64_t org_id, struct org *out, struct kf_err *err)
{
    /* the id is a client's (a client's id is its client_id) or the provider's own: ask both */
    struct kf_err ignored;
    int as_client = ident_allow(ctx, ACT_ORG_READ, org_id, 0, err);
    int as_provider = ident_allow(ctx, ACT_ORG_READ, 0, 0, &ignored);
    if (as_client && as_provider) return as_client;
    return org_read(ctx, org_id, as_client == 0, as_provider == 0, out, err);
}

int org_provider_id(struct kf_ctx *ctx, int64_t *id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_ORG_READ, 0, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, "SELECT id FROM organizations WHERE kind = 'provider' AND client_id = 0", &st, err);
    if (rc == 0) {
        rc = store_step(st, err);
        if (rc == STORE_ROW) *id_r = store_col_int64(st, 0), rc = 0;
        else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "no provider organisation yet");
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

static int org_list_rows(struct kf_ctx *ctx, struct store_stmt *st, int limit, struct org **items_r, size_t *n_r,
                         int64_t *next_r, struct kf_err *err)
{
    struct org *items = arena_zalloc(ctx->arena, sizeof *items * (size_t)limit);
    size_t n = 0;
    int rc;
    while ((rc = store_step(st, err)) == STORE_ROW && n < (size_t)limit) org_from_row(ctx, st, &items[n++]);
    if (rc < 0) return rc;
    *items_r = items;
    *n_r = n;
    if (next_r) *next_r = n == (size_t)limit ? items[n - 1].id : 0;
    return 0;
}

int org_list_clients(struct kf_ctx *ctx, int64_t after_id, int limit, struct org **items_r, size_t *n_r,
                     int64_t *next_r, struct kf_err *err)
{
    /* a client user's scope is their own client; provider staff list every client, so they are
     * asked as for an object of some client (the provider scope), never of the provider itself */
    int64_t scope = ctx->actor ? ctx->actor->client_id : 0;
    int rc = ident_allow(ctx, ACT_ORG_READ, scope ? scope : INT64_MAX, 0, err);
    if (rc) return rc;
    limit = ident_page_limit(limit);
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT " ORG_COLS " FROM organizations WHERE kind = 'client' AND (client_id = $1 OR $1 = 0) "
                       "AND id < $2 ORDER BY id DESC LIMIT $3",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, scope);
        store_bind_int64(st, 2, after_id > 0 ? after_id : INT64_MAX);
        store_bind_int64(st, 3, limit);
        rc = org_list_rows(ctx, st, limit, items_r, n_r, next_r, err);
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

struct org_update_args {
    struct kf_ctx *ctx;
    int64_t client_id;
    const struct org_input *in;
};

/* COALESCE keeps what the caller left NULL; the row is matched as a client's own, so the provider
 * organisation and other tenants are never touched. */
static int org_update_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct org_update_args *a = arg;
    const struct org_input *in = a->in;
    const char *vals[6] = {in->name, in->legal_name, in->address, in->contact_name, in->contact_phone,
                           in->contact_email};
    static const char *const names[6] = {"name", "legal_name", "address", "contact_name", "contact_phone",
                                         "contact_email"};
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE organizations SET name = COALESCE($1, name), legal_name = COALESCE($2, legal_name), "
                           "address = COALESCE($3, address), contact_name = COALESCE($4, contact_name), "
                           "contact_phone = COALESCE($5, contact_phone), contact_email = COALESCE($6, contact_email), "
                           "updated = $7 WHERE id = $8 AND client_id = $8 AND kind = 'client'",
                           &st, err);
    if (rc) return rc;
    json_t *changes = json_object();
    for (int i = 0; i < 6; i++) {
        if (vals[i]) {
            store_bind_text(st, i + 1, vals[i], (size_t)-1);
            json_object_set_new(changes, names[i], json_string(vals[i]));
        } else {
            store_bind_null(st, i + 1);
        }
    }
    store_bind_int64(st, 7, ident_now(a->ctx));
    store_bind_int64(st, 8, a->client_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) == 0 && n != 1) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if (rc) {
        json_decref(changes);
        return rc;
    }
    return ident_audit(c, a->ctx, a->client_id, "org.update", "organization", a->client_id, changes, org_masked, err);
}

int org_update(struct kf_ctx *ctx, int64_t client_id, const struct org_input *in, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_ORG_UPDATE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if (in->name && !*in->name) return kf_fail(err, KF_E_INVALID, "name", "name is required");
    struct org_input checked = *in;
    if (!checked.name) checked.name = "-"; /* org_check_input wants a name; the real one stays */
    if ((rc = org_check_input(&checked, err)) != 0) return rc;
    struct org_update_args a = {ctx, client_id, in};
    return store_write(ctx->env->store, org_update_fn, &a, err);
}

struct org_disable_args {
    struct kf_ctx *ctx;
    int64_t client_id;
    bool disabled;
};

static int org_disable_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct org_disable_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE organizations SET disabled = $1, updated = $2 WHERE id = $3 AND client_id = $3 "
                           "AND kind = 'client' AND disabled <> $1",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->disabled ? 1 : 0);
    store_bind_int64(st, 2, ident_now(a->ctx));
    store_bind_int64(st, 3, a->client_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n == 0) return 0; /* already so (or absent: the caller checked it exists) */
    return ident_audit(c, a->ctx, a->client_id, a->disabled ? "org.disable" : "org.enable", "organization",
                       a->client_id, json_pack("{s:b}", "disabled", a->disabled), NULL, err);
}

int org_set_disabled(struct kf_ctx *ctx, int64_t client_id, bool disabled, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_ORG_UPDATE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct org o;
    if ((rc = org_read(ctx, client_id, true, false, &o, err)) != 0) return rc;
    struct org_disable_args a = {ctx, client_id, disabled};
    return store_write(ctx->env->store, org_disable_fn, &a, err);
}
