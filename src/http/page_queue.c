/* The agent queue page (issue 7 item 2; docs/requests.md "Queue and saved views"): the user's saved
 * views with their live counts, 50 requests of the chosen view (or of the filters in the query)
 * with their live SLA clocks, a checkbox per row and a bulk bar (assign, set status), saving the
 * current filters as a view and deleting one. Plain forms, no script needed: the bulk bar's
 * checkboxes belong to its form by the `form` attribute, kefu.js asks data-confirm's question. The
 * table and the counts carry data-live="requests" and stable ids for the live-update helper, which
 * re-fetches this page's own URL and swaps those elements. */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "core/zone.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/request.h"
#include "domain/request_sla.h"
#include "domain/request_view.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/api_request_views.h"
#include "http/handlers.h"
#include "http/page.h"

#define QUEUE_ROWS 50
#define QUEUE_CHOICE_MAX 200

static const char *const q_settable[] = {"open", "waiting_customer", "waiting_client", "resolved", "closed",
                                         "reopened", NULL};
static const char *const q_sorts[] = {"newest", "oldest", "sla_due", NULL};

static int q_require(struct http_req *req, enum action act, int64_t client_id)
{
    struct object_ref o = {.client_id = client_id};
    int rc = policy_check(&req->actor, act, &o);
    return rc ? kf_fail(&req->err, rc, NULL, "%s", policy_action_name(act)) : 0;
}

static const char *q_sort_name(enum request_sort s)
{
    return s == REQUEST_SORT_OLDEST ? "oldest" : s == REQUEST_SORT_SLA_DUE ? "sla_due" : "newest";
}

/* The query of filter f (checked by the list already: ids and catalogue words only, nothing to escape
 * but what the template's attribute escaping does). */
static const char *q_filter_query(struct http_req *req, const struct request_filter *f, int64_t me)
{
    const char *q = arena_printf(req->arena, "sort=%s", q_sort_name(f->sort));
    if (f->client_id) q = arena_printf(req->arena, "%s&client_id=%lld", q, (long long)f->client_id);
    if (f->status) q = arena_printf(req->arena, "%s&status=%s", q, f->status);
    if (f->priority) q = arena_printf(req->arena, "%s&priority=P%d", q, f->priority);
    if (f->unassigned) q = arena_printf(req->arena, "%s&unassigned=1", q);
    else if (f->assignee_id && f->assignee_id == me) q = arena_printf(req->arena, "%s&assignee_id=me", q);
    else if (f->assignee_id) q = arena_printf(req->arena, "%s&assignee_id=%lld", q, (long long)f->assignee_id);
    if (f->team_id) q = arena_printf(req->arena, "%s&team_id=%lld", q, (long long)f->team_id);
    if (f->channel) q = arena_printf(req->arena, "%s&channel=%s", q, f->channel);
    if (f->sla_state) q = arena_printf(req->arena, "%s&sla=%s", q, f->sla_state);
    if (f->created_from) q = arena_printf(req->arena, "%s&from=%lld", q, (long long)f->created_from);
    if (f->created_to) q = arena_printf(req->arena, "%s&to=%lld", q, (long long)f->created_to);
    return q;
}

static const char *q_name(struct http_req *req, const struct user *users, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (users[i].id == id) return users[i].display_name && *users[i].display_name ? users[i].display_name
                                                                                        : users[i].username;
    return arena_printf(req->arena, "%lld", (long long)id);
}

/* The views column: [{id, name, shared, count, capped, current, mine}]. */
static int q_views(struct http_req *req, json_t *d, int64_t current)
{
    struct request_view *views;
    int64_t *counts;
    bool *capped;
    size_t n;
    int rc = request_view_counts(&req->ctx, &views, &counts, &capped, &n, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:o,s:s,s:b,s:I,s:b,s:b,s:b}", "id", http_json_id(views[i].id), "name",
                                             views[i].name, "shared", views[i].shared, "count", (json_int_t)counts[i],
                                             "capped", capped[i], "current", views[i].id == current, "mine",
                                             views[i].owner_id == req->actor.user_id));
    json_object_set_new(d, "views", arr);
    json_object_set_new(d, "any_view", json_boolean(n > 0));
    return 0;
}

/* The queue; `refused` (may be NULL) the error of a form that changed nothing, shown at the top. */
static int q_page(struct http_req *req, const struct kf_err *refused)
{
    int rc = q_require(req, ACT_REQUEST_VIEW_READ, 0);
    if (rc) return rc;
    json_t *d = page_data(req, "queue.title", "queue");
    int64_t me = req->actor.user_id, view_id = 0;
    struct request_filter f;
    const char *vs = http_query(req, "view");
    struct request_view v = {0};
    if (vs && *vs) {
        if (id_parse(vs, &view_id) != 0 || view_id <= 0) rc = kf_fail(&req->err, KF_E_NOT_FOUND, "view", "no such view");
        if (!rc) rc = request_view_get(&req->ctx, view_id, &v, &req->err);
        if (!rc) rc = request_view_filter(&req->ctx, &v, &f, &req->err);
        if (!rc) rc = api_request_page_query(req, &f);
        if (!rc) json_object_set_new(d, "view", json_pack("{s:o,s:s,s:b,s:b}", "id", http_json_id(v.id), "name", v.name,
                                                          "shared", v.shared, "mine", v.owner_id == me));
    } else {
        rc = api_request_filter_query(req, &f);
    }
    if (rc && rc != KF_E_INVALID) goto fail;
    f.limit = QUEUE_ROWS;
    struct request *items = NULL;
    size_t n = 0;
    int64_t next = 0, next_due = 0;
    if (!rc) rc = request_list_keyset(&req->ctx, &f, &items, &n, &next, &next_due, &req->err);
    if (rc && rc != KF_E_INVALID) goto fail;
    int status = 200;
    if (rc == KF_E_INVALID) {
        json_t *tmp = json_object();
        status = page_form_error(req, tmp);
        json_object_set(d, "error", json_object_get(tmp, "error"));
        json_object_set(d, "errors", json_object_get(tmp, "errors"));
        json_decref(tmp);
        memset(&f, 0, sizeof f);
        n = 0;
        next = 0;
    }
    if ((rc = q_views(req, d, view_id)) != 0) goto fail;
    /* names and choices */
    struct user *users = NULL;
    size_t nu = 0;
    int64_t unext;
    struct kf_err ignore;
    if (user_list(&req->ctx, 0, 0, QUEUE_CHOICE_MAX, &users, &nu, &unext, &ignore) != 0) nu = 0;
    struct team *teams = NULL;
    size_t nt = 0;
    if (team_list(&req->ctx, &teams, &nt, &ignore) != 0) nt = 0;
    struct org *orgs = NULL;
    size_t no = 0;
    int64_t onext;
    if (org_list_clients(&req->ctx, 0, QUEUE_CHOICE_MAX, &orgs, &no, &onext, &ignore) != 0) no = 0;
    json_t *ua = json_array();
    for (size_t i = 0; i < nu; i++)
        json_array_append_new(ua, json_pack("{s:o,s:s,s:b}", "id", http_json_id(users[i].id), "name",
                                            q_name(req, users, nu, users[i].id), "selected",
                                            !f.unassigned && f.assignee_id == users[i].id && users[i].id != me));
    json_object_set_new(d, "users", ua);
    json_t *ta = json_array();
    for (size_t i = 0; i < nt; i++)
        json_array_append_new(ta, json_pack("{s:o,s:s,s:b}", "id", http_json_id(teams[i].id), "name",
                                            teams[i].name ? teams[i].name : "", "selected", f.team_id == teams[i].id));
    json_object_set_new(d, "teams", ta);
    json_t *ca = json_array();
    for (size_t i = 0; i < no; i++)
        json_array_append_new(ca, json_pack("{s:o,s:s,s:b}", "id", http_json_id(orgs[i].id), "name",
                                            orgs[i].name ? orgs[i].name : "", "selected", f.client_id == orgs[i].id));
    json_object_set_new(d, "clients", ca);
    json_object_set_new(d, "assignee_me", json_boolean(!f.unassigned && f.assignee_id && f.assignee_id == me));
    json_object_set_new(d, "assignee_none", json_boolean(f.unassigned));
    json_object_set_new(d, "statuses", page_options(req, "requests.status", request_statuses, f.status));
    json_object_set_new(d, "settable", page_options(req, "requests.status", q_settable, NULL));
    json_object_set_new(d, "slas", page_options(req, "requests.sla.state", request_sla_states, f.sla_state));
    json_object_set_new(d, "sorts", page_options(req, "queue.sort", q_sorts, q_sort_name(f.sort)));
    json_object_set_new(d, "priorities", page_options(req, NULL, request_priorities,
                                                   f.priority ? arena_printf(req->arena, "P%d", f.priority) : NULL));
    /* the rows, with the live clocks (the stored state is for filtering and sorting) */
    struct request_sla *slas = n ? arena_zalloc(req->arena, n * sizeof *slas) : NULL;
    bool *ok = n ? arena_zalloc(req->arena, n * sizeof *ok) : NULL;
    if (n && request_sla_many(&req->ctx, items, n, slas, ok, &ignore) != 0) memset(ok, 0, n * sizeof *ok);
    /* whose request each row is: the name for whoever may read it (agents have no org.read) */
    int64_t *cids = n ? arena_zalloc(req->arena, n * sizeof *cids) : NULL;
    const char **cnames = n ? arena_zalloc(req->arena, n * sizeof *cnames) : NULL;
    for (size_t i = 0; i < n; i++) cids[i] = items[i].client_id;
    if (n && org_client_names(&req->ctx, cids, n, cnames, &ignore) != 0) memset(cnames, 0, n * sizeof *cnames);
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct request *r = &items[i];
        const char *client = cnames[i];
        json_t *row = json_pack("{s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "id", http_json_id(r->id), "client_id",
                                http_json_id(r->client_id), "number", r->number ? r->number : "", "subject",
                                r->subject ? r->subject : "", "client",
                                client ? client : arena_printf(req->arena, "%lld", (long long)r->client_id), "status",
                                r->status ? r->status : "", "status_key",
                                arena_printf(req->arena, "requests.status.%s", r->status ? r->status : "new"),
                                "urgent", r->priority <= 2, "priority", arena_printf(req->arena, "P%d", r->priority));
        if (r->assignee_id) json_object_set_new(row, "assignee", json_string(q_name(req, users, nu, r->assignee_id)));
        if (ok[i]) {
            const char *state;
            int64_t due;
            request_sla_summary(&slas[i], &state, &due);
            if (state) {
                json_t *s = json_pack("{s:s,s:s}", "state", state, "state_key",
                                      arena_printf(req->arena, "requests.sla.state.%s", state));
                if (due) json_object_set_new(s, "due_at", json_integer(due));
                json_object_set_new(row, "sla", s);
            }
        }
        json_array_append_new(rows, row);
    }
    json_object_set_new(d, "requests", rows);
    json_object_set_new(d, "any", json_boolean(n > 0));
    /* this page's own URL (the live helper re-fetches it; forms come back to it) */
    const char *self = view_id ? arena_printf(req->arena, "view=%lld&sort=%s", (long long)view_id, q_sort_name(f.sort))
                               : q_filter_query(req, &f, me);
    json_object_set_new(d, "self_query", json_string(self));
    json_object_set_new(d, "filter_query", json_string(q_filter_query(req, &f, me)));
    json_object_set_new(d, "sort_sla_query",
                        json_string(view_id ? arena_printf(req->arena, "view=%lld&sort=sla_due", (long long)view_id)
                                            : arena_printf(req->arena, "%s&sort=sla_due", q_filter_query(req, &f, me))));
    if (next) {
        json_t *cur = api_request_cursor(req, &f, next, next_due);
        json_object_set_new(d, "next_query", json_string(arena_printf(req->arena, "%s&after=%s", self,
                                                                      json_is_string(cur) ? json_string_value(cur) : "")));
        json_decref(cur);
    }
    /* the filters to save as a view */
    json_t *save = json_object();
    if (f.status) json_object_set_new(save, "status", json_string(f.status));
    if (f.priority) json_object_set_new(save, "priority", json_string(arena_printf(req->arena, "P%d", f.priority)));
    if (f.unassigned) json_object_set_new(save, "assignee", json_string("unassigned"));
    else if (f.assignee_id == me && me) json_object_set_new(save, "assignee", json_string("me"));
    else if (f.assignee_id) json_object_set_new(save, "assignee", http_json_id(f.assignee_id));
    if (f.team_id) json_object_set_new(save, "team_id", http_json_id(f.team_id));
    if (f.client_id) json_object_set_new(save, "client_id", http_json_id(f.client_id));
    if (f.sla_state) json_object_set_new(save, "sla", json_string(f.sla_state));
    if (f.channel) json_object_set_new(save, "channel", json_string(f.channel));
    if (f.created_from) json_object_set_new(save, "from", json_string(arena_printf(req->arena, "%lld", (long long)f.created_from)));
    if (f.created_to) json_object_set_new(save, "to", json_string(arena_printf(req->arena, "%lld", (long long)f.created_to)));
    json_object_set_new(d, "save", save);
    /* the date fields show local days: `to` is the midnight after its day */
    char day[11];
    if (f.created_from && zone_local_date(f.created_from, API_DATE_ZONE, day) == 0)
        json_object_set_new(d, "from_date", json_string(day));
    if (f.created_to && zone_local_date(f.created_to - 1, API_DATE_ZONE, day) == 0)
        json_object_set_new(d, "to_date", json_string(day));
    const char *done = http_query(req, "done");
    int64_t done_n = 0;
    if (done && id_parse(done, &done_n) == 0 && done_n > 0 && done_n <= REQUEST_BULK_MAX)
        json_object_set_new(d, "done", json_integer(done_n));
    const char *saved = http_query(req, "saved");
    if (saved && strcmp(saved, "1") == 0) json_object_set_new(d, "saved", json_true());
    const char *deleted = http_query(req, "deleted");
    if (deleted && strcmp(deleted, "1") == 0) json_object_set_new(d, "deleted", json_true());
    if (refused) {
        req->err = *refused;
        json_t *tmp = json_object();
        status = page_form_error(req, tmp);
        json_object_set(d, "error", json_object_get(tmp, "error"));
        json_t *errs = json_object_get(tmp, "errors");
        const char *detail = NULL;
        if (errs) {
            const char *k;
            json_t *val;
            json_object_foreach(errs, k, val) if (json_is_string(val)) detail = json_string_value(val);
        }
        if (detail) json_object_set_new(d, "error_detail", json_string(detail));
        json_decref(tmp);
    }
    return page_render(req, status, "queue", d);
fail:
    json_decref(d);
    return rc;
}

/* GET /queue?view=&sort=&after= or ?<the list's filters>: the queue. */
int page_queue(struct http_req *req)
{
    return q_page(req, NULL);
}

/* Back to the queue after a form: the form's `back` (this page's own query) when it is one of ours. */
static int q_back(struct http_req *req, const char *extra)
{
    const char *back = NULL;
    if (http_json_string(req, "back", false, 1024, &back) != 0) back = NULL;
    bool ok = back && *back;
    for (const char *p = back; ok && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("=&_,.-", *p)))
            ok = false;
    kf_err_clear(&req->err);
    return page_redirect(req, arena_printf(req->arena, "/queue?%s%s%s", ok ? back : "", ok ? "&" : "", extra));
}

/* The queue again with the error at the top (bad input, a conflict, an unknown item): nothing changed. */
static int q_refused(struct http_req *req, int rc)
{
    if (rc != KF_E_INVALID && rc != KF_E_CONFLICT && rc != KF_E_NOT_FOUND) return rc;
    struct kf_err refused = req->err;
    kf_err_clear(&req->err);
    return q_page(req, &refused);
}

/* The form's ids: one checkbox is a string, several an array. */
static int q_ids(struct http_req *req, int64_t **ids_r, size_t *n_r)
{
    json_t *v = req->json ? json_object_get(req->json, "ids") : NULL;
    size_t n = json_is_array(v) ? json_array_size(v) : json_is_string(v) ? 1 : 0;
    if (n == 0) return kf_fail(&req->err, KF_E_INVALID, "ids", "choose at least one request");
    if (n > REQUEST_BULK_MAX) return kf_fail(&req->err, KF_E_INVALID, "ids", "at most %d requests", REQUEST_BULK_MAX);
    int64_t *ids = arena_zalloc(req->arena, n * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(e) || id_parse(json_string_value(e), &ids[i]) != 0 || ids[i] <= 0)
            return kf_fail(&req->err, KF_E_INVALID, "ids", "item %zu: not a request id", i);
    }
    *ids_r = ids;
    *n_r = n;
    return 0;
}

static int q_form_id(struct http_req *req, const char *key, int64_t *out)
{
    const char *s = NULL;
    *out = 0;
    int rc = http_json_string(req, key, false, API_SHORT_MAX, &s);
    if (rc) return rc;
    if (s && *s && (id_parse(s, out) != 0 || *out <= 0)) return kf_fail(&req->err, KF_E_INVALID, key, "%s must be an id", key);
    return 0;
}

/* POST /queue/bulk (csrf, ids…, op=assign with assignee_id and team_id, or op=status with status). */
int page_queue_bulk(struct http_req *req)
{
    int rc;
    int64_t *ids = NULL;
    size_t n = 0;
    const char *op = NULL;
    rc = q_ids(req, &ids, &n);
    if (!rc) rc = http_json_string(req, "op", true, API_SHORT_MAX, &op);
    if (!rc && strcmp(op, "assign") == 0) {
        int64_t assignee, team;
        rc = q_form_id(req, "assignee_id", &assignee);
        if (!rc) rc = q_form_id(req, "team_id", &team);
        if (!rc) rc = request_bulk_assign(&req->ctx, ids, n, 0, assignee, team, NULL, &req->err);
    } else if (!rc && strcmp(op, "status") == 0) {
        const char *to = NULL;
        rc = http_json_string(req, "status", true, API_SHORT_MAX, &to);
        if (!rc) rc = request_bulk_status(&req->ctx, ids, n, 0, to, NULL, NULL, &req->err);
    } else if (!rc) {
        rc = kf_fail(&req->err, KF_E_INVALID, "op", "assign or status");
    }
    if (rc) return q_refused(req, rc);
    return q_back(req, arena_printf(req->arena, "done=%zu", n));
}

/* POST /queue/views (csrf, name, shared, sort, the filters as fields): save the current filters. */
int page_queue_view_create(struct http_req *req)
{
    struct request_view_input in = {0};
    const char *shared = NULL;
    int rc = http_json_string(req, "name", true, REQUEST_VIEW_NAME_MAX * 4, &in.name);
    if (!rc) rc = http_json_string(req, "sort", false, API_SHORT_MAX, &in.sort);
    if (!rc) rc = http_json_string(req, "shared", false, API_SHORT_MAX, &shared);
    json_t *filters = json_object();
    static const char *const keys[] = {"status", "priority", "assignee", "team_id", "client_id", "sla", "channel",
                                       "from", "to", NULL};
    for (const char *const *k = keys; !rc && *k; k++) {
        const char *s = NULL;
        rc = http_json_string(req, *k, false, 256, &s);
        int64_t ms;
        bool time = strcmp(*k, "from") == 0 || strcmp(*k, "to") == 0;
        if (!rc && s && *s && time) {
            /* a day as typed, or the instant the page carried */
            if (api_time_text(s, (*k)[0] == 't', &ms) != 0)
                rc = kf_fail(&req->err, KF_E_INVALID, *k, "a date (YYYY-MM-DD) or UTC milliseconds");
            else json_object_set_new(filters, *k, json_integer(ms));
        } else if (!rc && s && *s && strcmp(*k, "status") == 0 && strchr(s, ',')) {
            /* several statuses travel as one comma-separated field */
            json_t *arr = json_array();
            for (const char *p = s;;) {
                size_t len = strcspn(p, ",");
                json_array_append_new(arr, json_stringn(p, len));
                if (!p[len]) break;
                p += len + 1;
            }
            json_object_set_new(filters, *k, arr);
        } else if (!rc && s && *s) {
            json_object_set_new(filters, *k, json_string(s));
        }
    }
    in.shared = shared && strcmp(shared, "1") == 0;
    in.has_shared = true;
    in.filters = filters;
    int64_t id = 0;
    if (!rc) rc = request_view_create(&req->ctx, &in, &id, &req->err);
    json_decref(filters);
    if (rc) return q_refused(req, rc);
    return page_redirect(req, arena_printf(req->arena, "/queue?view=%lld&saved=1", (long long)id));
}

/* POST /queue/views/{id}/delete (csrf). */
int page_queue_view_delete(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "view", &id);
    if (!rc) rc = request_view_delete(&req->ctx, id, &req->err);
    if (rc == KF_E_CONFLICT || rc == KF_E_INVALID) return q_refused(req, rc);
    if (rc) return rc;
    return page_redirect(req, "/queue?deleted=1");
}
