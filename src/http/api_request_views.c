/* The queue's API (issue 7 item 2; docs/requests.md "Queue and saved views"): saved views and their
 * live counts, a view's page of requests, bulk assignment and status changes, and the request list's
 * query parameters and cursor. Handlers parse and shape; request_view.h and request.h decide — so
 * another user's personal view is 404, and a bulk change is all or nothing. */
#include "http/api_request_views.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/request_view.h"
#include "http/api_common.h"
#include "http/handlers.h"

static int rv_bad(struct http_req *req, const char *field, const char *what)
{
    return kf_fail(&req->err, KF_E_INVALID, field, "%s %s", field, what);
}

static int rv_query_id(struct http_req *req, const char *key, int64_t *out)
{
    const char *v = http_query(req, key);
    *out = 0;
    if (v && *v && (id_parse(v, out) != 0 || *out <= 0)) return rv_bad(req, key, "must be an id");
    return 0;
}

int api_request_page_query(struct http_req *req, struct request_filter *f)
{
    const char *sort = http_query(req, "sort");
    if (sort && *sort) {
        if (strcmp(sort, "newest") == 0) f->sort = REQUEST_SORT_NEWEST;
        else if (strcmp(sort, "oldest") == 0) f->sort = REQUEST_SORT_OLDEST;
        else if (strcmp(sort, "sla_due") == 0) f->sort = REQUEST_SORT_SLA_DUE;
        else return rv_bad(req, "sort", "must be newest, oldest or sla_due");
    }
    int rc = api_page_limit(req, &f->limit);
    if (rc) return rc;
    if (f->limit < 1 || f->limit > REQUEST_LIST_MAX)
        return kf_fail(&req->err, KF_E_INVALID, "limit", "limit must be 1..%d", REQUEST_LIST_MAX);
    const char *after = http_query(req, "after");
    f->after_id = f->after_due = 0;
    if (!after || !*after) return 0;
    if (f->sort != REQUEST_SORT_SLA_DUE) {
        if (id_parse(after, &f->after_id) != 0 || f->after_id <= 0)
            return kf_fail(&req->err, KF_E_BAD_REQUEST, "after", "the cursor is not one of this list's (an id)");
        return 0;
    }
    /* "<due>.<id>" or "none.<id>": both halves or the cursor is not ours */
    const char *dot = strchr(after, '.');
    char head[24];
    if (!dot || (size_t)(dot - after) >= sizeof head || id_parse(dot + 1, &f->after_id) != 0 || f->after_id <= 0)
        return kf_fail(&req->err, KF_E_BAD_REQUEST, "after", "the cursor is not one of this list's (due.id)");
    memcpy(head, after, (size_t)(dot - after));
    head[dot - after] = '\0';
    if (strcmp(head, "none") == 0) f->after_due = 0;
    else if (id_parse(head, &f->after_due) != 0 || f->after_due <= 0)
        return kf_fail(&req->err, KF_E_BAD_REQUEST, "after", "the cursor is not one of this list's (due.id)");
    return 0;
}

int api_request_filter_query(struct http_req *req, struct request_filter *f)
{
    memset(f, 0, sizeof *f);
    int rc;
    if ((rc = api_query_client_id(req, true, &f->client_id)) != 0) return rc;
    f->status = http_query(req, "status");
    if (f->status && strlen(f->status) > 128) return rv_bad(req, "status", "is unknown");
    const char *p = http_query(req, "priority");
    if (p && *p) {
        if (strlen(p) != 2 || p[0] != 'P' || p[1] < '1' || p[1] > '4')
            return rv_bad(req, "priority", "must be one of P1, P2, P3, P4");
        f->priority = p[1] - '0';
    }
    const char *assignee = http_query(req, "assignee_id");
    if (assignee && strcmp(assignee, "me") == 0) {
        f->assignee_id = req->ctx.actor ? req->ctx.actor->user_id : 0;
        if (!f->assignee_id) return rv_bad(req, "assignee_id", "\"me\" needs a user");
    } else if ((rc = rv_query_id(req, "assignee_id", &f->assignee_id)) != 0) {
        return rc;
    }
    const char *un = http_query(req, "unassigned");
    if (un && *un) {
        if (strcmp(un, "1") != 0 && strcmp(un, "0") != 0) return rv_bad(req, "unassigned", "must be 1 or 0");
        f->unassigned = un[0] == '1';
    }
    if ((rc = rv_query_id(req, "team_id", &f->team_id)) != 0) return rc;
    f->channel = http_query(req, "channel");
    if (f->channel && strlen(f->channel) > API_SHORT_MAX) return rv_bad(req, "channel", "is unknown");
    f->sla_state = http_query(req, "sla");
    if (f->sla_state && strlen(f->sla_state) > API_SHORT_MAX) return rv_bad(req, "sla", "is unknown");
    if ((rc = api_query_time(req, "from", false, &f->created_from)) != 0) return rc;
    if ((rc = api_query_time(req, "to", true, &f->created_to)) != 0) return rc;
    return api_request_page_query(req, f);
}

json_t *api_request_cursor(struct http_req *req, const struct request_filter *f, int64_t next, int64_t next_due)
{
    if (!next) return json_null();
    if (f->sort != REQUEST_SORT_SLA_DUE) return http_json_id(next);
    char t[64];
    if (next_due) snprintf(t, sizeof t, "%" PRId64 ".%" PRId64, next_due, next);
    else snprintf(t, sizeof t, "none.%" PRId64, next);
    return json_string(t);
}

/* --- views ------------------------------------------------------------------------------------------- */

static json_t *view_json(const struct request_view *v)
{
    json_error_t jerr;
    json_t *filters = json_loads(v->filters ? v->filters : "{}", 0, &jerr);
    return json_pack("{s:o,s:o,s:b,s:s,s:o,s:s,s:I,s:I}", "id", http_json_id(v->id), "owner_id",
                     http_json_id(v->owner_id), "shared", v->shared, "name", v->name ? v->name : "", "filters",
                     filters ? filters : json_object(), "sort", v->sort ? v->sort : "newest", "created",
                     (json_int_t)v->created, "updated", (json_int_t)v->updated);
}

/* The body of POST and PATCH: name, shared (boolean), filters (object), sort. */
static int view_body(struct http_req *req, struct request_view_input *in, bool create)
{
    memset(in, 0, sizeof *in);
    int rc;
    if ((rc = http_json_string(req, "name", create, REQUEST_VIEW_NAME_MAX * 4, &in->name)) != 0) return rc;
    if ((rc = http_json_string(req, "sort", false, API_SHORT_MAX, &in->sort)) != 0) return rc;
    json_t *shared = json_object_get(req->json, "shared");
    if (shared && !json_is_null(shared)) {
        if (!json_is_boolean(shared)) return rv_bad(req, "shared", "must be true or false");
        in->shared = json_is_true(shared);
        in->has_shared = true;
    }
    json_t *filters = json_object_get(req->json, "filters");
    if (filters && !json_is_null(filters)) {
        if (!json_is_object(filters)) return rv_bad(req, "filters", "must be an object");
        in->filters = filters;
    }
    return 0;
}

static int view_reply(struct http_req *req, int status, int64_t id)
{
    struct request_view v;
    int rc = request_view_get(&req->ctx, id, &v, &req->err);
    if (rc) return rc;
    return http_reply_json(req, status, view_json(&v));
}

/* GET /api/v1/request-views: the caller's views, then the shared ones of others. */
int api_request_view_list(struct http_req *req)
{
    struct request_view *items;
    size_t n;
    int rc = request_view_list(&req->ctx, &items, &n, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, view_json(&items[i]));
    return http_reply_json(req, 200, json_pack("{s:o}", "items", arr));
}

/* POST /api/v1/request-views: 201; the same name twice is 409. */
int api_request_view_create(struct http_req *req)
{
    struct request_view_input in;
    int64_t id;
    int rc = view_body(req, &in, true);
    if (rc) return rc;
    if ((rc = request_view_create(&req->ctx, &in, &id, &req->err)) != 0) return rc;
    return view_reply(req, 201, id);
}

int api_request_view_get(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "view", &id);
    if (rc) return rc;
    return view_reply(req, 200, id);
}

/* PATCH /api/v1/request-views/{id}: absent fields stay. */
int api_request_view_update(struct http_req *req)
{
    int64_t id;
    struct request_view_input in;
    int rc = api_path_id(req, "id", "view", &id);
    if (rc) return rc;
    if ((rc = view_body(req, &in, false)) != 0) return rc;
    if ((rc = request_view_update(&req->ctx, id, &in, &req->err)) != 0) return rc;
    return view_reply(req, 200, id);
}

int api_request_view_delete(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "view", &id);
    if (rc) return rc;
    if ((rc = request_view_delete(&req->ctx, id, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, json_pack("{s:o,s:b}", "id", http_json_id(id), "deleted", 1));
}

/* GET /api/v1/request-views/counts: {"items": [{"id", "name", "shared", "count", "capped"}]}. */
int api_request_view_counts(struct http_req *req)
{
    struct request_view *items;
    int64_t *counts;
    bool *capped;
    size_t n;
    int rc = request_view_counts(&req->ctx, &items, &counts, &capped, &n, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:o,s:s,s:b,s:I,s:b}", "id", http_json_id(items[i].id), "name",
                                             items[i].name, "shared", items[i].shared, "count",
                                             (json_int_t)counts[i], "capped", capped[i]));
    return http_reply_json(req, 200, json_pack("{s:o}", "items", arr));
}

/* GET /api/v1/request-views/{id}/requests?sort=&after=&limit=: the view's page (sort: the view's
 * unless given). */
int api_request_view_requests(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "view", &id);
    if (rc) return rc;
    struct request_view v;
    if ((rc = request_view_get(&req->ctx, id, &v, &req->err)) != 0) return rc;
    struct request_filter f;
    if ((rc = request_view_filter(&req->ctx, &v, &f, &req->err)) != 0) return rc;
    if ((rc = api_request_page_query(req, &f)) != 0) return rc;
    return api_request_list_reply(req, &f);
}

/* --- bulk -------------------------------------------------------------------------------------------- */

/* "ids": an array of 1..REQUEST_BULK_MAX request ids (strings or positive integers). */
static int bulk_ids(struct http_req *req, int64_t **ids_r, size_t *n_r)
{
    json_t *v = json_object_get(req->json, "ids");
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > REQUEST_BULK_MAX)
        return kf_fail(&req->err, KF_E_INVALID, "ids", "ids must be an array of 1 to %d request ids", REQUEST_BULK_MAX);
    size_t n = json_array_size(v);
    int64_t *ids = arena_zalloc(req->ctx.arena, sizeof *ids * n);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (json_is_string(e) && id_parse(json_string_value(e), &ids[i]) == 0 && ids[i] > 0) continue;
        if (json_is_integer(e) && json_integer_value(e) > 0) {
            ids[i] = json_integer_value(e);
            continue;
        }
        return kf_fail(&req->err, KF_E_INVALID, "ids", "item %zu: not a request id", i);
    }
    *ids_r = ids;
    *n_r = n;
    return 0;
}

static int bulk_body_id(struct http_req *req, const char *key, int64_t *out)
{
    json_t *v = json_object_get(req->json, key);
    *out = 0;
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v) && id_parse(json_string_value(v), out) == 0 && *out > 0) return 0;
    if (json_is_integer(v) && json_integer_value(v) > 0) return *out = json_integer_value(v), 0;
    return rv_bad(req, key, "must be an id");
}

static int bulk_done(struct http_req *req, const int64_t *ids, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, http_json_id(ids[i]));
    return http_reply_json(req, 200, json_pack("{s:I,s:o}", "updated", (json_int_t)n, "ids", arr));
}

/* POST /api/v1/requests/bulk/assign {"ids", "assignee_id", "team_id", "client_id"?}: all or nothing. */
int api_request_bulk_assign(struct http_req *req)
{
    int64_t *ids, assignee, team, client_id;
    size_t n;
    int rc;
    if ((rc = bulk_ids(req, &ids, &n)) != 0) return rc;
    if ((rc = bulk_body_id(req, "assignee_id", &assignee)) != 0) return rc;
    if ((rc = bulk_body_id(req, "team_id", &team)) != 0) return rc;
    if ((rc = bulk_body_id(req, "client_id", &client_id)) != 0) return rc;
    if ((rc = request_bulk_assign(&req->ctx, ids, n, client_id, assignee, team, NULL, &req->err)) != 0) return rc;
    return bulk_done(req, ids, n);
}

/* POST /api/v1/requests/bulk/status {"ids", "status", "reason"?, "client_id"?}: all or nothing. */
int api_request_bulk_status(struct http_req *req)
{
    int64_t *ids, client_id;
    size_t n;
    const char *status, *reason;
    int rc;
    if ((rc = bulk_ids(req, &ids, &n)) != 0) return rc;
    if ((rc = http_json_string(req, "status", true, API_SHORT_MAX, &status)) != 0) return rc;
    if ((rc = http_json_string(req, "reason", false, API_TEXT_MAX, &reason)) != 0) return rc;
    if ((rc = bulk_body_id(req, "client_id", &client_id)) != 0) return rc;
    if ((rc = request_bulk_status(&req->ctx, ids, n, client_id, status, reason, NULL, &req->err)) != 0) return rc;
    return bulk_done(req, ids, n);
}
