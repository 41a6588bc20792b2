/* Customers (customer.h): personal fields sealed by the vault inside the write transaction, keyed
 * look-up hashes for phone and e-mail, name tokens rewritten on every change, and reads that decrypt
 * only rows of the caller's client. Plaintext personal values never reach a log or the audit trail. */
#include "domain/customer.h"

#include <stdbool.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/normalize.h"
#include "domain/identity_internal.h"
#include "domain/vault.h"
#include "store/store.h"

#define CUSTOMER_COLS "id, client_id, kind, name, phone, email, address, id_number, created, updated"
#define CUSTOMER_CANDIDATES_MAX 20000 /* rows one search token may offer */
#define CUSTOMER_NAME_KEY_MAX 4096

/* The personal columns, in CUSTOMER_COLS order from column 3 on. */
enum { F_NAME, F_PHONE, F_EMAIL, F_ADDRESS, F_ID_NUMBER, F__COUNT };
static const char *const field_names[F__COUNT] = {"name", "phone", "email", "address", "id_number"};

static const char *input_field(const struct customer_input *in, int f)
{
    const char *v[F__COUNT] = {in->name, in->phone, in->email, in->address, in->id_number};
    return v[f];
}

static const char **customer_field(struct customer *cu, int f)
{
    const char **v[F__COUNT] = {&cu->name, &cu->phone, &cu->email, &cu->address, &cu->id_number};
    return v[f];
}

/* --- checking input ------------------------------------------------------------------------------ */

static int customer_check(const struct customer_input *in, bool create, struct kf_err *err)
{
    if ((create || in->kind) && (!in->kind || (strcmp(in->kind, "person") && strcmp(in->kind, "enterprise"))))
        return kf_fail(err, KF_E_INVALID, "kind", "person or enterprise");
    int rc = ident_check_text(in->name, "name", create || in->name, IDENT_TEXT_MAX, err);
    for (int f = F_PHONE; rc == 0 && f < F__COUNT; f++)
        rc = ident_check_text(input_field(in, f), field_names[f], false, IDENT_TEXT_MAX, err);
    if (rc == 0 && in->email && *in->email && !strchr(in->email, '@'))
        rc = kf_fail(err, KF_E_INVALID, "email", "not an e-mail address");
    return rc;
}

/* --- sealing (inside the write) ------------------------------------------------------------------ */

struct sealed {
    unsigned char *ct[F__COUNT];
    size_t ct_len[F__COUNT];
    unsigned char phone_hash[VAULT_HASH_BYTES], email_hash[VAULT_HASH_BYTES];
    bool has_phone, has_email;
};

/* Encrypts every present field of `cu` and computes its look-up hashes. */
static int customer_seal(const struct kf_ctx *ctx, struct store_conn *c, const struct customer *cu, struct sealed *s,
                         struct kf_err *err)
{
    struct vault *v = ctx->env->vault;
    memset(s, 0, sizeof *s);
    for (int f = 0; f < F__COUNT; f++) {
        const char *plain = *customer_field((struct customer *)cu, f);
        if (!plain || !*plain) continue;
        int rc = vault_encrypt(v, c, cu->client_id, "customers", field_names[f], cu->id, plain, strlen(plain),
                               ctx->arena, &s->ct[f], &s->ct_len[f], err);
        if (rc) return rc;
    }
    int rc = 0;
    if ((s->has_phone = cu->phone && *cu->phone))
        rc = vault_lookup_hash(v, c, cu->client_id, "phone", cu->phone, s->phone_hash, err);
    if (rc == 0 && (s->has_email = cu->email && *cu->email))
        rc = vault_lookup_hash(v, c, cu->client_id, "email", cu->email, s->email_hash, err);
    return rc;
}

static void bind_blob_or_null(struct store_stmt *st, int idx, const unsigned char *p, size_t len, bool present)
{
    if (present) store_bind_blob(st, idx, p, len);
    else store_bind_null(st, idx);
}

/* Binds $1 id, $2 client, $3 kind, $4..$8 fields, $9 phone hash, $10 e-mail hash, $11 now. */
static void customer_bind(struct store_stmt *st, const struct customer *cu, const struct sealed *s, int64_t now)
{
    store_bind_int64(st, 1, cu->id);
    store_bind_int64(st, 2, cu->client_id);
    store_bind_text(st, 3, cu->kind, (size_t)-1);
    for (int f = 0; f < F__COUNT; f++) bind_blob_or_null(st, 4 + f, s->ct[f], s->ct_len[f], s->ct[f] != NULL);
    bind_blob_or_null(st, 9, s->phone_hash, VAULT_HASH_BYTES, s->has_phone);
    bind_blob_or_null(st, 10, s->email_hash, VAULT_HASH_BYTES, s->has_email);
    store_bind_int64(st, 11, now);
}

static int customer_put_row(const struct kf_ctx *ctx, struct store_conn *c, const struct customer *cu, bool create,
                            struct kf_err *err)
{
    struct sealed s;
    int rc = customer_seal(ctx, c, cu, &s, err);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       create ? "INSERT INTO customers (id, client_id, kind, name, phone, email, address, id_number, "
                                "phone_hash, email_hash, deleted, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                                "$8, $9, $10, 0, $11, $11)"
                              : "UPDATE customers SET kind = $3, name = $4, phone = $5, email = $6, address = $7, "
                                "id_number = $8, phone_hash = $9, email_hash = $10, updated = $11 "
                                "WHERE id = $1 AND client_id = $2 AND deleted = 0",
                       &st, err);
    if (rc) return rc;
    customer_bind(st, cu, &s, ident_now(ctx));
    int64_t n = 0;
    rc = ident_exec(c, &st, &n, err);
    if (rc == 0 && n != 1) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    return rc;
}

/* Replaces the customer's name tokens with those of `name` (none when NULL). */
static int customer_put_tokens(const struct kf_ctx *ctx, struct store_conn *c, int64_t client_id, int64_t id,
                               const char *name, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "DELETE FROM customer_name_tokens WHERE customer_id = $1 AND client_id = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0 || !name) return rc;
    unsigned char *tokens = NULL;
    size_t n = 0;
    if ((rc = vault_name_tokens(ctx->env->vault, c, client_id, name, ctx->arena, &tokens, &n, err)) != 0) {
        if (rc == KF_E_INVALID && err) err->field = "name";
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = store_prepare(c, "INSERT INTO customer_name_tokens (client_id, token, customer_id) VALUES ($1, $2, $3)",
                           &st, err);
        if (rc) break;
        store_bind_int64(st, 1, client_id);
        store_bind_blob(st, 2, tokens + i * VAULT_HASH_BYTES, VAULT_HASH_BYTES);
        store_bind_int64(st, 3, id);
        rc = ident_exec(c, &st, NULL, err);
    }
    return rc;
}

/* The audit changes of an input: kind in clear, personal fields by name only. */
static json_t *customer_changes(const struct customer_input *in)
{
    json_t *o = json_object();
    if (in->kind) json_object_set_new(o, "kind", json_string(in->kind));
    for (int f = 0; f < F__COUNT; f++)
        if (input_field(in, f)) json_object_set_new(o, field_names[f], json_string("***"));
    return o;
}

/* --- reading ------------------------------------------------------------------------------------- */

static int customer_from_row(const struct kf_ctx *ctx, struct store_conn *c, struct store_stmt *st,
                             struct customer *cu, struct kf_err *err)
{
    cu->id = store_col_int64(st, 0);
    cu->client_id = store_col_int64(st, 1);
    cu->kind = ident_col_strdup(ctx, st, 2);
    cu->created = store_col_int64(st, 8);
    cu->updated = store_col_int64(st, 9);
    for (int f = 0; f < F__COUNT; f++) {
        char *plain = NULL;
        size_t len = 0;
        const void *ct = store_col_blob(st, 3 + f, &len);
        if (ct && len) {
            int rc = vault_decrypt(ctx->env->vault, c, cu->client_id, "customers", field_names[f], cu->id, ct, len,
                                   ctx->arena, &plain, err);
            if (rc) return rc;
        }
        *customer_field(cu, f) = plain;
    }
    return 0;
}

/* Reads live customer (client_id, id) on `c`. */
static int customer_read_on(const struct kf_ctx *ctx, struct store_conn *c, int64_t client_id, int64_t id,
                            struct customer *out, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT " CUSTOMER_COLS " FROM customers WHERE id = $1 AND client_id = $2 AND deleted = 0",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) rc = customer_from_row(ctx, c, st, out, err);
    else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    store_finalize(&st);
    return rc;
}

/* Collects the rows of a prepared SELECT of CUSTOMER_COLS (at most `max`). */
static int customer_collect(const struct kf_ctx *ctx, struct store_conn *c, struct store_stmt *st, int max,
                            struct customer **items_r, size_t *n_r, struct kf_err *err)
{
    struct customer *items = arena_zalloc(ctx->arena, sizeof *items * (size_t)max);
    size_t n = 0;
    int rc;
    while ((rc = store_step(st, err)) == STORE_ROW && n < (size_t)max) {
        if ((rc = customer_from_row(ctx, c, st, &items[n++], err)) != 0) return rc;
    }
    if (rc < 0) return rc;
    *items_r = items;
    *n_r = n;
    return 0;
}

/* --- the public calls ---------------------------------------------------------------------------- */

struct customer_args {
    struct kf_ctx *ctx;
    int64_t client_id;
    int64_t id;
    const struct customer_input *in;
};

static int customer_client_exists(struct store_conn *c, int64_t client_id, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT 1 FROM organizations WHERE id = $1 AND client_id = $1 AND kind = 'client'", &st,
                           err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc == STORE_DONE) return kf_fail(err, KF_E_NOT_FOUND, "client_id", "no such client");
    return rc < 0 ? rc : 0;
}

static int customer_create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct customer_args *a = arg;
    const struct customer_input *in = a->in;
    struct customer cu = {a->id, a->client_id, in->kind, in->name, in->phone, in->email, in->address, in->id_number, 0, 0};
    int rc = customer_client_exists(c, a->client_id, err);
    if (!rc) rc = customer_put_row(a->ctx, c, &cu, true, err);
    if (!rc) rc = customer_put_tokens(a->ctx, c, a->client_id, a->id, in->name, err);
    if (rc) return rc;
    return ident_audit(c, a->ctx, a->client_id, "customer.create", "customer", a->id, customer_changes(in), NULL, err);
}

int customer_create(struct kf_ctx *ctx, int64_t client_id, const struct customer_input *in, int64_t *id_r,
                    struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CUSTOMER_CREATE, client_id, 0, err);
    if (!rc) rc = customer_check(in, true, err);
    if (rc) return rc;
    struct customer_args a = {ctx, client_id, id_new(ident_now(ctx)), in};
    rc = store_write(ctx->env->store, customer_create_fn, &a, err);
    if (rc == 0 && id_r) *id_r = a.id;
    return rc;
}

/* --- the disclosure log ---------------------------------------------------------------------------
 * A person (or an integration's token) who is shown customers' personal data leaves an audit record
 * of which customers they saw (ids only): "customer.read" for one record, "customer.list" for a page
 * or a search (DESIGN.md: the audit of a read of personal data is bookkeeping a GET may write).
 * kefu itself (jobs, the CLI) reading for its own work leaves none. */
struct disclosure_args {
    const struct kf_ctx *ctx;
    int64_t client_id;
    const char *action;
    int64_t object_id;
    json_t *changes;
};

static int disclosure_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct disclosure_args *a = arg;
    json_t *changes = a->changes;
    a->changes = NULL; /* ident_audit releases it, whatever happens */
    return ident_audit(c, a->ctx, a->client_id, a->action, "customer", a->object_id, changes, NULL, err);
}

static int customer_disclosed(const struct kf_ctx *ctx, int64_t client_id, const char *how,
                              const struct customer *items, size_t n, struct kf_err *err)
{
    if (!ctx->actor || (ctx->actor->kind != ACTOR_USER && ctx->actor->kind != ACTOR_TOKEN) || n == 0) return 0;
    struct disclosure_args a = {ctx, client_id, "customer.list", 0, NULL};
    if (!how) {
        a.action = "customer.read";
        a.object_id = items[0].id;
        a.changes = json_object();
    } else {
        json_t *ids = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(ids, json_sprintf("%lld", (long long)items[i].id));
        a.changes = json_pack("{s:s,s:o}", "by", how, "ids", ids);
    }
    int rc = store_write(ctx->env->store, disclosure_fn, &a, err);
    json_decref(a.changes);
    return rc;
}

int customer_get(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct customer *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CUSTOMER_READ, client_id, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    rc = customer_read_on(ctx, c, client_id, id, out, err);
    store_release(&c);
    if (rc == 0) rc = customer_disclosed(ctx, client_id, NULL, out, 1, err);
    return rc;
}

/* Decided inside the write: the fields read here are the ones merged with the input. */
static int customer_update_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct customer_args *a = arg;
    struct customer cu;
    int rc = customer_read_on(a->ctx, c, a->client_id, a->id, &cu, err);
    if (rc) return rc;
    if (a->in->kind) cu.kind = a->in->kind;
    for (int f = 0; f < F__COUNT; f++) {
        const char *v = input_field(a->in, f);
        if (v) *customer_field(&cu, f) = *v ? v : NULL;
    }
    rc = customer_put_row(a->ctx, c, &cu, false, err);
    if (!rc && a->in->name) rc = customer_put_tokens(a->ctx, c, a->client_id, a->id, cu.name, err);
    if (rc) return rc;
    return ident_audit(c, a->ctx, a->client_id, "customer.update", "customer", a->id, customer_changes(a->in), NULL,
                       err);
}

int customer_update(struct kf_ctx *ctx, int64_t client_id, int64_t id, const struct customer_input *in,
                    struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CUSTOMER_UPDATE, client_id, 0, err);
    if (!rc) rc = customer_check(in, false, err);
    if (rc) return rc;
    struct customer_args a = {ctx, client_id, id, in};
    return store_write(ctx->env->store, customer_update_fn, &a, err);
}

static int customer_delete_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct customer_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE customers SET name = NULL, phone = NULL, email = NULL, address = NULL, "
                           "id_number = NULL, phone_hash = NULL, email_hash = NULL, deleted = 1, updated = $1 "
                           "WHERE id = $2 AND client_id = $3 AND deleted = 0",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, ident_now(a->ctx));
    store_bind_int64(st, 2, a->id);
    store_bind_int64(st, 3, a->client_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if ((rc = customer_put_tokens(a->ctx, c, a->client_id, a->id, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "customer.delete", "customer", a->id,
                       json_pack("{s:b}", "deleted", 1), NULL, err);
}

int customer_delete(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CUSTOMER_DELETE, client_id, 0, err);
    if (rc) return rc;
    struct customer_args a = {ctx, client_id, id, NULL};
    return store_write(ctx->env->store, customer_delete_fn, &a, err);
}

int customer_list(struct kf_ctx *ctx, int64_t client_id, int64_t after_id, int limit, struct customer **items_r,
                  size_t *n_r, int64_t *next_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CUSTOMER_READ, client_id, 0, err);
    if (rc) return rc;
    limit = ident_page_limit(limit);
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT " CUSTOMER_COLS " FROM customers WHERE client_id = $1 AND deleted = 0 AND id < $2 "
                       "ORDER BY id DESC LIMIT $3",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_int64(st, 2, after_id > 0 ? after_id : INT64_MAX);
        store_bind_int64(st, 3, limit);
        rc = customer_collect(ctx, c, st, limit, items_r, n_r, err);
        if (rc == 0 && next_r) *next_r = *n_r == (size_t)limit ? (*items_r)[*n_r - 1].id : 0;
        store_finalize(&st);
    }
    store_release(&c);
    if (rc == 0) rc = customer_disclosed(ctx, client_id, "page", *items_r, *n_r, err);
    return rc;
}

static int customer_find(struct kf_ctx *ctx, int64_t client_id, const char *kind, const char *value,
                         struct customer **items_r, size_t *n_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CUSTOMER_READ, client_id, 0, err);
    if (!rc) rc = ident_check_text(value, kind, true, IDENT_TEXT_MAX, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    unsigned char hash[VAULT_HASH_BYTES];
    rc = vault_lookup_hash(ctx->env->vault, c, client_id, kind, value, hash, err);
    struct store_stmt *st = NULL;
    if (rc == 0)
        rc = store_prepare(c,
                           strcmp(kind, "phone") == 0
                               ? "SELECT " CUSTOMER_COLS " FROM customers WHERE client_id = $1 AND phone_hash = $2 "
                                 "AND deleted = 0 ORDER BY id DESC LIMIT $3"
                               : "SELECT " CUSTOMER_COLS " FROM customers WHERE client_id = $1 AND email_hash = $2 "
                                 "AND deleted = 0 ORDER BY id DESC LIMIT $3",
                           &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_blob(st, 2, hash, sizeof hash);
        store_bind_int64(st, 3, CUSTOMER_SEARCH_MAX);
        rc = customer_collect(ctx, c, st, CUSTOMER_SEARCH_MAX, items_r, n_r, err);
        store_finalize(&st);
    }
    store_release(&c);
    if (rc == 0) rc = customer_disclosed(ctx, client_id, kind, *items_r, *n_r, err);
    return rc;
}

int customer_find_by_phone(struct kf_ctx *ctx, int64_t client_id, const char *value, struct customer **items_r,
                           size_t *n_r, struct kf_err *err)
{
    return customer_find(ctx, client_id, "phone", value, items_r, n_r, err);
}

int customer_find_by_email(struct kf_ctx *ctx, int64_t client_id, const char *value, struct customer **items_r,
                           size_t *n_r, struct kf_err *err)
{
    return customer_find(ctx, client_id, "email", value, items_r, n_r, err);
}

/* --- search by part of a name -------------------------------------------------------------------- */

struct id_set {
    int64_t *ids; /* descending */
    size_t n;
};

/* The customers holding one token, newest first, into out->ids (room for CUSTOMER_CANDIDATES_MAX). */
static int search_token_ids(struct store_conn *c, int64_t client_id, const unsigned char *token, struct id_set *out,
                            struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT customer_id FROM customer_name_tokens WHERE client_id = $1 AND token = $2 "
                           "ORDER BY customer_id DESC LIMIT $3",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    store_bind_blob(st, 2, token, VAULT_HASH_BYTES);
    store_bind_int64(st, 3, CUSTOMER_CANDIDATES_MAX);
    out->n = 0;
    while ((rc = store_step(st, err)) == STORE_ROW && out->n < CUSTOMER_CANDIDATES_MAX)
        out->ids[out->n++] = store_col_int64(st, 0);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

/* Keeps in `acc` only the ids also in `other` (both descending). */
static void id_set_intersect(struct id_set *acc, const struct id_set *other)
{
    size_t i = 0, j = 0, k = 0;
    while (i < acc->n && j < other->n) {
        if (acc->ids[i] == other->ids[j]) acc->ids[k++] = acc->ids[i++], j++;
        else if (acc->ids[i] > other->ids[j]) i++;
        else j++;
    }
    acc->n = k;
}

/* Customers holding every token of the query. */
static int search_candidates(const struct kf_ctx *ctx, struct store_conn *c, int64_t client_id,
                             const unsigned char *tokens, size_t n_tokens, struct id_set *acc, struct kf_err *err)
{
    /* two buffers for the whole query, however many tokens it has */
    acc->ids = arena_alloc(ctx->arena, sizeof *acc->ids * CUSTOMER_CANDIDATES_MAX);
    struct id_set other = {arena_alloc(ctx->arena, sizeof *other.ids * CUSTOMER_CANDIDATES_MAX), 0};
    int rc = search_token_ids(c, client_id, tokens, acc, err);
    for (size_t i = 1; rc == 0 && i < n_tokens && acc->n > 0; i++) {
        rc = search_token_ids(c, client_id, tokens + i * VAULT_HASH_BYTES, &other, err);
        if (rc == 0) id_set_intersect(acc, &other);
    }
    return rc;
}

/* True when every space-separated term of the normalised query is a substring of the normalised name. */
static bool search_name_matches(const char *name, const char *query_key)
{
    struct buf key;
    buf_init(&key, CUSTOMER_NAME_KEY_MAX);
    bool ok = normalize_name(name, strlen(name), &key) == 0;
    const char *hay = key.data ? key.data : "";
    for (const char *p = query_key; ok && *p;) {
        size_t len = strcspn(p, " ");
        char term[CUSTOMER_NAME_KEY_MAX];
        if (len >= sizeof term) len = sizeof term - 1;
        memcpy(term, p, len);
        term[len] = '\0';
        if (len && !strstr(hay, term)) ok = false;
        p += len + (p[len] == ' ');
    }
    buf_free(&key);
    return ok;
}

static int search_filter(const struct kf_ctx *ctx, struct store_conn *c, int64_t client_id, const struct id_set *cand,
                         const char *query_key, int limit, struct customer **items_r, size_t *n_r, struct kf_err *err)
{
    struct customer *items = arena_zalloc(ctx->arena, sizeof *items * (size_t)limit);
    size_t n = 0;
    for (size_t i = 0; i < cand->n && n < (size_t)limit; i++) {
        int rc = customer_read_on(ctx, c, client_id, cand->ids[i], &items[n], err);
        if (rc == KF_E_NOT_FOUND) continue;
        if (rc) return rc;
        if (items[n].name && search_name_matches(items[n].name, query_key)) n++;
    }
    *items_r = items;
    *n_r = n;
    return 0;
}

int customer_search_name(struct kf_ctx *ctx, int64_t client_id, const char *query, int limit,
                         struct customer **items_r, size_t *n_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_CUSTOMER_READ, client_id, 0, err);
    if (!rc) rc = ident_check_text(query, "q", true, IDENT_TEXT_MAX, err);
    if (rc) return rc;
    if (limit < 1 || limit > CUSTOMER_SEARCH_MAX) limit = CUSTOMER_SEARCH_MAX;
    struct buf qkey;
    buf_init(&qkey, CUSTOMER_NAME_KEY_MAX);
    if (normalize_name(query, strlen(query), &qkey) != 0 || qkey.len == 0) {
        buf_free(&qkey);
        return kf_fail(err, KF_E_INVALID, "q", "nothing to search for");
    }
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) == 0) {
        unsigned char *tokens = NULL;
        size_t n_tokens = 0;
        struct id_set cand = {0};
        rc = vault_name_tokens(ctx->env->vault, c, client_id, query, ctx->arena, &tokens, &n_tokens, err);
        if (rc == KF_E_INVALID && err) err->field = "q";
        if (rc == 0 && n_tokens) rc = search_candidates(ctx, c, client_id, tokens, n_tokens, &cand, err);
        if (rc == 0) rc = search_filter(ctx, c, client_id, &cand, qkey.data, limit, items_r, n_r, err);
        store_release(&c);
    }
    buf_free(&qkey);
    if (rc == 0) rc = customer_disclosed(ctx, client_id, "name", *items_r, *n_r, err);
    return rc;
}
