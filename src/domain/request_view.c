/* Saved views of the agent queue (request_view.h): their filters, storage, visibility and counts.
 *
 * DESIGN — invariants:
 *  - A view is a provider object (client_id 0, owner_id its user). Visibility is decided in the
 *    query (owner_id = actor OR shared = 1), so another user's personal view is never read at all
 *    and every route answers 404 for it, the same as for an id that does not exist.
 *  - Filters are checked when saved and stored as canonical JSON (compact, sorted keys); a view's
 *    filters are parsed again on every use, so a stored view can never reach a query unchecked.
 *    "me" is resolved at use: a shared "assigned to me" view shows each user their own requests.
 *  - The name is unique per owner: checked inside the write (KF_E_CONFLICT) and by the unique index,
 *    so two racing submissions of one name make one view. */
#include "domain/request_view.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/identity_internal.h"
#include "domain/request.h"
#include "store/store.h"

static const char *const rv_sorts[] = {"newest", "oldest", "sla_due", NULL};

static bool rv_in(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

static int rv_bad(struct kf_err *err, const char *field, const char *what)
{
    return kf_fail(err, KF_E_INVALID, field, "%s %s", field, what);
}

/* An id given as a string (or a positive integer). */
static int rv_id(const json_t *v, const char *field, int64_t *out, struct kf_err *err)
{
    if (json_is_string(v) && id_parse(json_string_value(v), out) == 0 && *out > 0) return 0;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = json_integer_value(v);
        return 0;
    }
    return rv_bad(err, field, "must be an id");
}

static int rv_one_of(const json_t *v, const char *field, const char *const *list, const char **out, struct kf_err *err)
{
    if (!json_is_string(v) || !rv_in(json_string_value(v), list)) return rv_bad(err, field, "has an unknown value");
    *out = json_string_value(v);
    return 0;
}

static int rv_status_add(struct request_view_filters *out, const json_t *v, struct kf_err *err)
{
    const char *s;
    int rc = rv_one_of(v, "filters.status", request_statuses, &s, err);
    if (rc) return rc;
    size_t len = strlen(out->status);
    if (len + strlen(s) + 2 > sizeof out->status) return rv_bad(err, "filters.status", "is too long");
    snprintf(out->status + len, sizeof out->status - len, "%s%s", len ? "," : "", s);
    return 0;
}

int request_view_parse_filters(const json_t *filters, struct request_view_filters *out, struct kf_err *err)
{
    memset(out, 0, sizeof *out);
    if (!filters || json_is_null(filters)) return 0;
    if (!json_is_object(filters)) return rv_bad(err, "filters", "must be an object");
    const char *key;
    const json_t *v;
    int rc = 0;
    json_object_foreach((json_t *)filters, key, v)
    {
        if (json_is_null(v)) continue; /* a cleared filter */
        if (strcmp(key, "status") == 0) {
            if (json_is_array(v)) {
                if (json_array_size(v) == 0 || json_array_size(v) > 7) return rv_bad(err, "filters.status", "1 to 7 statuses");
                size_t i;
                const json_t *e;
                json_array_foreach(v, i, e) if ((rc = rv_status_add(out, e, err)) != 0) return rc;
            } else if ((rc = rv_status_add(out, v, err)) != 0) {
                return rc;
            }
        } else if (strcmp(key, "priority") == 0) {
            const char *p = json_is_string(v) ? json_string_value(v) : "";
            if (strlen(p) != 2 || p[0] != 'P' || p[1] < '1' || p[1] > '4')
                return rv_bad(err, "filters.priority", "must be one of P1, P2, P3, P4");
            out->priority = p[1] - '0';
        } else if (strcmp(key, "assignee") == 0) {
            if (json_is_string(v) && strcmp(json_string_value(v), "me") == 0) out->assignee_me = true;
            else if (json_is_string(v) && strcmp(json_string_value(v), "unassigned") == 0) out->unassigned = true;
            else if (rv_id(v, "filters.assignee", &out->assignee_id, err) != 0)
                return rv_bad(err, "filters.assignee", "must be \"me\", \"unassigned\" or a user id");
        } else if (strcmp(key, "team_id") == 0) {
            if ((rc = rv_id(v, "filters.team_id", &out->team_id, err)) != 0) return rc;
        } else if (strcmp(key, "client_id") == 0) {
            if ((rc = rv_id(v, "filters.client_id", &out->client_id, err)) != 0) return rc;
        } else if (strcmp(key, "channel") == 0) {
            if ((rc = rv_one_of(v, "filters.channel", request_channels, &out->channel, err)) != 0) return rc;
        } else if (strcmp(key, "sla") == 0) {
            if ((rc = rv_one_of(v, "filters.sla", request_sla_states, &out->sla, err)) != 0) return rc;
        } else if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
            bool from = key[0] == 'f';
            if (!json_is_integer(v) || json_integer_value(v) <= 0)
                return rv_bad(err, from ? "filters.from" : "filters.to", "must be UTC milliseconds");
            *(from ? &out->from : &out->to) = json_integer_value(v);
        } else {
            return kf_fail(err, KF_E_INVALID, "filters", "unknown filter %.40s", key);
        }
    }
    if (out->from && out->to && out->from >= out->to) return rv_bad(err, "filters.from", "must be before to");
    return 0;
}

int request_view_to_filter(const struct request_view_filters *vf, const char *sort, int64_t me,
                           struct request_filter *out, struct kf_err *err)
{
    memset(out, 0, sizeof *out);
    if (!sort || strcmp(sort, "newest") == 0) out->sort = REQUEST_SORT_NEWEST;
    else if (strcmp(sort, "oldest") == 0) out->sort = REQUEST_SORT_OLDEST;
    else if (strcmp(sort, "sla_due") == 0) out->sort = REQUEST_SORT_SLA_DUE;
    else return rv_bad(err, "sort", "must be newest, oldest or sla_due");
    out->client_id = vf->client_id;
    out->status = vf->status[0] ? vf->status : NULL;
    out->priority = vf->priority;
    out->unassigned = vf->unassigned;
    out->assignee_id = vf->assignee_me ? (me ? me : -1) : vf->assignee_id;
    out->team_id = vf->team_id;
    out->channel = vf->channel;
    out->sla_state = vf->sla;
    out->created_from = vf->from;
    out->created_to = vf->to;
    return 0;
}

/* --- storage ----------------------------------------------------------------------------------------- */

#define RV_COLS "id, owner_id, shared, name, filters, sort, created, updated"

static void rv_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct request_view *v)
{
    v->id = store_col_int64(st, 0);
    v->owner_id = store_col_int64(st, 1);
    v->shared = store_col_int64(st, 2) != 0;
    v->name = ident_col_strdup(ctx, st, 3);
    v->filters = ident_col_strdup(ctx, st, 4);
    v->sort = ident_col_strdup(ctx, st, 5);
    v->created = store_col_int64(st, 6);
    v->updated = store_col_int64(st, 7);
}

static int64_t rv_me(const struct kf_ctx *ctx)
{
    return ctx->actor ? ctx->actor->user_id : 0;
}

/* Reads view `id` when the actor may see it (own or shared), else KF_E_NOT_FOUND. */
static int rv_read(struct store_conn *c, const struct kf_ctx *ctx, int64_t id, struct request_view *out,
                   struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT " RV_COLS " FROM request_views WHERE id = $1 AND (owner_id = $2 OR shared = 1)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, rv_me(ctx));
    rc = store_step(st, err);
    if (rc == STORE_ROW) rv_from_row(ctx, st, out), rc = 0;
    else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    store_finalize(&st);
    return rc;
}

/* Checks the input and sets *filters_json_r to the canonical filters (create: all fields). */
static int rv_check(struct kf_ctx *ctx, const struct request_view_input *in, bool create, const char **filters_r,
                    struct kf_err *err)
{
    int rc;
    if (create || in->name) {
        if ((rc = ident_check_text(in->name, "name", true, REQUEST_VIEW_NAME_MAX * 4, err)) != 0) return rc;
        size_t chars = 0;
        for (const char *p = in->name; *p; p++) {
            if ((unsigned char)*p < 0x20) return rv_bad(err, "name", "must be one line");
            if (((unsigned char)*p & 0xC0) != 0x80) chars++;
        }
        if (chars > REQUEST_VIEW_NAME_MAX) return rv_bad(err, "name", "is longer than 80 characters");
    }
    if (in->sort && !rv_in(in->sort, rv_sorts)) return rv_bad(err, "sort", "must be newest, oldest or sla_due");
    *filters_r = NULL;
    if (create || in->filters) {
        struct request_view_filters vf;
        if ((rc = request_view_parse_filters(in->filters, &vf, err)) != 0) return rc;
        json_t *empty = in->filters ? NULL : json_object();
        char *text = json_dumps(in->filters ? in->filters : empty, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(empty);
        if (!text) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
        size_t len = strlen(text);
        *filters_r = arena_strndup(ctx->arena, text, len);
        free(text);
        if (len > REQUEST_VIEW_FILTERS_MAX) return rv_bad(err, "filters", "at most 2 KiB");
    }
    return 0;
}

struct rv_args {
    struct kf_ctx *ctx;
    const struct request_view_input *in;
    const char *filters;
    int64_t id;
    bool del;
};

/* KF_E_CONFLICT when `owner` has another view (not `except`) named `name`. */
static int rv_name_free(struct store_conn *c, int64_t owner, const char *name, int64_t except, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT id FROM request_views WHERE owner_id = $1 AND name = $2 AND id <> $3", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, owner);
    store_bind_text(st, 2, name, (size_t)-1);
    store_bind_int64(st, 3, except);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    return rc == STORE_ROW ? kf_fail(err, KF_E_CONFLICT, "name", "you have a view of this name already") : 0;
}

static int create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct rv_args *a = arg;
    const struct request_view_input *in = a->in;
    int64_t now = ident_now(a->ctx), me = rv_me(a->ctx);
    int rc = rv_name_free(c, me, in->name, 0, err);
    if (rc) return rc;
    struct store_stmt *st;
    if ((rc = store_prepare(c,
                            "INSERT INTO request_views (" RV_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $7)", &st,
                            err)) != 0)
        return rc;
    const char *sort = in->sort ? in->sort : "newest";
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, me);
    store_bind_int64(st, 3, in->shared ? 1 : 0);
    store_bind_text(st, 4, in->name, (size_t)-1);
    store_bind_text(st, 5, a->filters, (size_t)-1);
    store_bind_text(st, 6, sort, (size_t)-1);
    store_bind_int64(st, 7, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, 0, "request_view.create", "request_view", a->id,
                       json_pack("{s:s, s:b, s:s, s:s}", "name", in->name, "shared", in->shared, "sort", sort,
                                 "filters", a->filters),
                       NULL, err);
}

int request_view_create(struct kf_ctx *ctx, const struct request_view_input *in, int64_t *id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_VIEW_MANAGE, 0, 0, err);
    if (rc) return rc;
    if (!rv_me(ctx)) return kf_fail(err, KF_E_FORBIDDEN, NULL, "views belong to users");
    struct rv_args a = {.ctx = ctx, .in = in, .id = id_new(ident_now(ctx))};
    if ((rc = rv_check(ctx, in, true, &a.filters, err)) != 0) return rc;
    if ((rc = store_write(ctx->env->store, create_fn, &a, err)) != 0) return rc;
    if (id_r) *id_r = a.id;
    return 0;
}

int request_view_get(struct kf_ctx *ctx, int64_t id, struct request_view *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_VIEW_READ, 0, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    rc = rv_read(c, ctx, id, out, err);
    store_release(&c);
    return rc;
}

int request_view_list(struct kf_ctx *ctx, struct request_view **items_r, size_t *n_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_VIEW_READ, 0, 0, err);
    if (rc) return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    struct request_view *items = arena_zalloc(ctx->arena, sizeof *items * REQUEST_VIEW_LIST_MAX);
    size_t n = 0;
    if ((rc = store_prepare(c,
                            "SELECT " RV_COLS " FROM request_views WHERE owner_id = $1 OR shared = 1 ORDER BY "
                            "CASE WHEN owner_id = $1 THEN 0 ELSE 1 END, name, id LIMIT $2",
                            &st, err)) == 0) {
        store_bind_int64(st, 1, rv_me(ctx));
        store_bind_int64(st, 2, REQUEST_VIEW_LIST_MAX);
        while ((rc = store_step(st, err)) == STORE_ROW && n < REQUEST_VIEW_LIST_MAX) rv_from_row(ctx, st, &items[n++]);
        store_finalize(&st);
        if (rc >= 0) rc = 0;
    }
    store_release(&c);
    if (rc) return rc;
    *items_r = items;
    *n_r = n;
    return 0;
}

/* The owner, or an admin for a shared view; the view is visible already. */
static int rv_may_change(const struct kf_ctx *ctx, const struct request_view *v, struct kf_err *err)
{
    const struct actor *a = ctx->actor;
    if (v->owner_id == rv_me(ctx) || a->kind == ACTOR_SYSTEM) return 0;
    if (v->shared && a->client_id == 0 && (a->roles & ROLE_ADMIN)) return 0;
    return kf_fail(err, KF_E_FORBIDDEN, NULL, "a shared view is changed by its owner or an admin");
}

static int change_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct rv_args *a = arg;
    struct request_view v;
    int rc = rv_read(c, a->ctx, a->id, &v, err);
    if (rc) return rc;
    if ((rc = rv_may_change(a->ctx, &v, err)) != 0) return rc;
    struct store_stmt *st;
    if (a->del) {
        if ((rc = store_prepare(c, "DELETE FROM request_views WHERE id = $1", &st, err)) != 0) return rc;
        store_bind_int64(st, 1, a->id);
        if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
        return ident_audit(c, a->ctx, 0, "request_view.delete", "request_view", a->id,
                           json_pack("{s:s, s:I}", "name", v.name, "owner_id", (json_int_t)v.owner_id), NULL, err);
    }
    const struct request_view_input *in = a->in;
    const char *name = in->name ? in->name : v.name;
    if (in->name && (rc = rv_name_free(c, v.owner_id, name, v.id, err)) != 0) return rc;
    bool shared = in->has_shared ? in->shared : v.shared;
    const char *filters = a->filters ? a->filters : v.filters;
    const char *sort = in->sort ? in->sort : v.sort;
    if ((rc = store_prepare(c,
                            "UPDATE request_views SET name = $2, shared = $3, filters = $4, sort = $5, updated = $6 "
                            "WHERE id = $1",
                            &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_text(st, 2, name, (size_t)-1);
    store_bind_int64(st, 3, shared ? 1 : 0);
    store_bind_text(st, 4, filters, (size_t)-1);
    store_bind_text(st, 5, sort, (size_t)-1);
    store_bind_int64(st, 6, ident_now(a->ctx));
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    return ident_audit(c, a->ctx, 0, "request_view.update", "request_view", a->id,
                       json_pack("{s:s, s:b, s:s, s:s}", "name", name, "shared", shared, "sort", sort, "filters",
                                 filters),
                       NULL, err);
}

int request_view_update(struct kf_ctx *ctx, int64_t id, const struct request_view_input *in, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_VIEW_MANAGE, 0, 0, err);
    if (rc) return rc;
    struct rv_args a = {.ctx = ctx, .in = in, .id = id};
    if ((rc = rv_check(ctx, in, false, &a.filters, err)) != 0) return rc;
    return store_write(ctx->env->store, change_fn, &a, err);
}

int request_view_delete(struct kf_ctx *ctx, int64_t id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_VIEW_MANAGE, 0, 0, err);
    if (rc) return rc;
    struct rv_args a = {.ctx = ctx, .id = id, .del = true};
    return store_write(ctx->env->store, change_fn, &a, err);
}

int request_view_filter(struct kf_ctx *ctx, const struct request_view *v, struct request_filter *out,
                        struct kf_err *err)
{
    json_error_t jerr;
    json_t *j = json_loads(v->filters ? v->filters : "{}", 0, &jerr);
    if (!j) return kf_fail(err, KF_E_INTERNAL, NULL, "a stored view's filters are not JSON");
    struct request_view_filters *vf = arena_zalloc(ctx->arena, sizeof *vf);
    int rc = request_view_parse_filters(j, vf, err);
    if (rc == 0) {
        /* the strings point into `j`: keep copies in the arena before it goes */
        if (vf->channel) vf->channel = arena_strdup(ctx->arena, vf->channel);
        if (vf->sla) vf->sla = arena_strdup(ctx->arena, vf->sla);
        rc = request_view_to_filter(vf, v->sort, rv_me(ctx), out, err);
    }
    json_decref(j);
    return rc;
}

int request_view_counts(struct kf_ctx *ctx, struct request_view **items_r, int64_t **counts_r, bool **capped_r,
                        size_t *n_r, struct kf_err *err)
{
    struct request_view *items;
    size_t n;
    int rc = request_view_list(ctx, &items, &n, err);
    if (rc) return rc;
    int64_t *counts = arena_zalloc(ctx->arena, sizeof *counts * (n ? n : 1));
    bool *capped = arena_zalloc(ctx->arena, sizeof *capped * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        struct request_filter f;
        if ((rc = request_view_filter(ctx, &items[i], &f, err)) != 0) return rc;
        if ((rc = request_count(ctx, &f, &counts[i], &capped[i], err)) != 0) return rc;
    }
    *items_r = items;
    *counts_r = counts;
    *capped_r = capped;
    *n_r = n;
    return 0;
}
