/* The service-requests API (issue 6; docs/requests.md "The API"): raising requests, reading and
 * listing them, edits, status changes, assignment and the conversation. Handlers only parse and
 * shape: every decision is the domain's (request.h), so another tenant's request is 404, never 403.
 *
 * Which client: POST /api/v1/requests takes `client_id` in the body; the routes on one request take
 * it as the query parameter `client_id` (absent: the caller's own client, so a client user never
 * needs it). Ids are strings in JSON; priorities are "P1".."P4". Internal notes appear only in what
 * the domain hands back to provider staff (request_messages decides, not this file). */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/canned.h"
#include "domain/file.h"
#include "domain/request.h"
#include "domain/request_accept.h"
#include "http/api_common.h"
#include "http/api_request_sla.h"
#include "http/api_request_views.h"
#include "http/handlers.h"
#include "http/request.h"

#define RQ_SUBJECT_BYTES (REQUEST_SUBJECT_MAX * 4)   /* the domain counts characters */

static int rq_bad(struct http_req *req, const char *field, const char *what)
{
    return kf_fail(&req->err, KF_E_INVALID, field, "%s %s", field, what);
}

/* An id field of the body: a string id or a positive integer; null or absent is 0 (*present_r says
 * whether the key was there at all). */
static int rq_body_id(struct http_req *req, const char *key, int64_t *out, bool *present_r)
{
    json_t *v = req->json ? json_object_get(req->json, key) : NULL;
    *out = 0;
    if (present_r) *present_r = v != NULL;
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v) && id_parse(json_string_value(v), out) == 0 && *out > 0) return 0;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = json_integer_value(v);
        return 0;
    }
    return rq_bad(req, key, "must be an id");
}

/* "P1".."P4" (absent: 0). Anything else is 422 on `priority`. */
static int rq_priority(struct http_req *req, const char *s, int *out)
{
    *out = 0;
    if (!s) return 0;
    if (strlen(s) == 2 && s[0] == 'P' && s[1] >= '1' && s[1] <= '4') {
        *out = s[1] - '0';
        return 0;
    }
    return rq_bad(req, "priority", "must be one of P1, P2, P3, P4");
}

static json_t *rq_opt_id(int64_t id)
{
    return id ? http_json_id(id) : json_null();
}

static json_t *rq_opt_time(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

/* A request; `with_body` false for list items (the domain leaves lists' bodies out). */
static json_t *request_json(const struct request *r, bool with_body)
{
    char prio[8];
    snprintf(prio, sizeof prio, "P%d", r->priority);
    json_t *o = json_pack("{s:o,s:o,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s}", "id", http_json_id(r->id), "client_id",
                          http_json_id(r->client_id), "number", r->number ? r->number : "", "customer_id",
                          rq_opt_id(r->customer_id), "agreement_id", http_json_id(r->agreement_id), "service_kind",
                          r->service_kind ? r->service_kind : "", "channel", r->channel ? r->channel : "", "priority",
                          prio, "subject", r->subject ? r->subject : "", "body", r->body ? r->body : "", "status",
                          r->status ? r->status : "");
    if (!with_body) json_object_del(o, "body");
    json_object_set_new(o, "assignee_id", rq_opt_id(r->assignee_id));
    json_object_set_new(o, "team_id", rq_opt_id(r->team_id));
    json_object_set_new(o, "first_response_at", rq_opt_time(r->first_response_at));
    json_object_set_new(o, "resolved_at", rq_opt_time(r->resolved_at));
    json_object_set_new(o, "closed_at", rq_opt_time(r->closed_at));
    json_object_set_new(o, "created_by", rq_opt_id(r->created_by));
    json_object_set_new(o, "created", json_integer(r->created));
    json_object_set_new(o, "updated", json_integer(r->updated));
    json_object_set_new(o, "remediation_count", json_integer(r->remediation_count));
    /* the queue's stored summary (0019; the "sla" object of the live clocks is the truth) */
    json_object_set_new(o, "sla_state", api_opt_str(r->sla_state));
    json_object_set_new(o, "sla_due_at", rq_opt_time(r->sla_due_at));
    return o;
}

static json_t *message_json(const struct request_message *m)
{
    return json_pack("{s:o,s:o,s:s,s:o,s:s,s:s,s:I}", "id", http_json_id(m->id), "request_id",
                     http_json_id(m->request_id), "kind", m->kind ? m->kind : "", "author_id", rq_opt_id(m->author_id),
                     "author_side", m->author_side ? m->author_side : "", "body", m->body ? m->body : "", "created",
                     (json_int_t)m->created);
}

static int rq_reply_one(struct http_req *req, int status, int64_t client_id, int64_t id)
{
    struct request r;
    int rc = request_get(&req->ctx, client_id, id, &r, &req->err);
    if (rc) return rc;
    json_t *o = request_json(&r, true);
    if ((rc = api_request_sla_add(req, o, &r)) != 0) return json_decref(o), rc; /* SLA clocks */
    return http_reply_json(req, status, o);
}

/* {id} and ?client_id= of the routes on one request. */
static int rq_target(struct http_req *req, int64_t *client_id, int64_t *id)
{
    int rc = api_path_id(req, "id", "request", id);
    if (rc) return rc;
    return api_query_client_id(req, false, client_id);
}

/* The reply of a creation, once its write is durable (http_write_async, writer thread): the request
 * as it was committed; on failure nothing (the error reply follows from rc). */
struct rq_creation {
    struct request_create_op *op;
    int64_t client_id;
};

static void rq_created(struct http_req *req, int rc, const struct kf_err *err)
{
    (void)err;
    if (rc) return;
    const struct rq_creation *w = req->write_arg;
    int64_t id = 0;
    bool existing = false;
    request_create_result(w->op, &id, &existing);
    const struct request_sla *sla;
    const struct request *r = request_create_row(w->op, &sla);
    if (!r) { /* the key's first request: read it back */
        rq_reply_one(req, existing ? 200 : 201, w->client_id, id);
        return;
    }
    /* the new request as the write committed it: no read on the writer thread */
    json_t *o = request_json(r, true);
    api_request_sla_set(o, sla);
    http_reply_json(req, 201, o);
}

/* POST /api/v1/requests: 201 with the new request, or 200 with the first one when this client has
 * used the idempotency key before (the same submission twice makes one request). */
int api_request_create(struct http_req *req)
{
    int64_t client_id;
    struct request_input in = {0};
    const char *priority = NULL;
    int rc;
    if ((rc = api_body_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = rq_body_id(req, "customer_id", &in.customer_id, NULL)) != 0) return rc;
    if ((rc = rq_body_id(req, "agreement_id", &in.agreement_id, NULL)) != 0) return rc;
    if ((rc = http_json_string(req, "service_kind", true, API_SHORT_MAX, &in.service_kind)) != 0) return rc;
    if ((rc = http_json_string(req, "channel", false, API_SHORT_MAX, &in.channel)) != 0) return rc;
    if ((rc = http_json_string(req, "priority", false, API_SHORT_MAX, &priority)) != 0) return rc;
    if ((rc = rq_priority(req, priority, &in.priority)) != 0) return rc;
    if ((rc = http_json_string(req, "subject", true, RQ_SUBJECT_BYTES, &in.subject)) != 0) return rc;
    if ((rc = http_json_string(req, "body", false, REQUEST_BODY_MAX, &in.body)) != 0) return rc;
    if ((rc = http_json_string(req, "idempotency_key", false, REQUEST_KEY_MAX, &in.idempotency_key)) != 0) return rc;
    struct rq_creation *w = arena_zalloc(req->arena, sizeof *w);
    w->client_id = client_id;
    if ((rc = request_create_prepare(&req->ctx, client_id, &in, &w->op, &req->err)) != 0) return rc;
    req->write_arg = w;
    /* the write joins the writer's next batch; this worker thread serves others meanwhile */
    return http_write_async(req, request_create_write, w->op, rq_created);
}

/* GET /api/v1/requests?client_id=&status=&priority=&assignee_id=&unassigned=&team_id=&channel=&sla=&from=&to=
 * &sort=&after=&limit= (api_request_views.h parses them). */
int api_request_list(struct http_req *req)
{
    struct request_filter f;
    int rc = api_request_filter_query(req, &f);
    if (rc) return rc;
    return api_request_list_reply(req, &f);
}

int api_request_list_reply(struct http_req *req, const struct request_filter *f)
{
    struct request *items;
    size_t n;
    int64_t next = 0, next_due = 0;
    int rc = request_list_keyset(&req->ctx, f, &items, &n, &next, &next_due, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, request_json(&items[i], false));
    if ((rc = api_request_sla_add_many(req, arr, items, n)) != 0) return json_decref(arr), rc; /* SLA clocks */
    return http_reply_json(req, 200, json_pack("{s:o,s:o}", "items", arr, "next",
                                               api_request_cursor(req, f, next, next_due)));
}

int api_request_get(struct http_req *req)
{
    int64_t client_id, id;
    int rc = rq_target(req, &client_id, &id);
    if (rc) return rc;
    return rq_reply_one(req, 200, client_id, id);
}

/* PATCH /api/v1/requests/{id}: subject, body, priority, service_kind, reason (absent: unchanged). */
int api_request_update(struct http_req *req)
{
    int64_t client_id, id;
    struct request_change ch = {0};
    const char *priority = NULL;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = http_json_string(req, "subject", false, RQ_SUBJECT_BYTES, &ch.subject)) != 0) return rc;
    if ((rc = http_json_string(req, "body", false, REQUEST_BODY_MAX, &ch.body)) != 0) return rc;
    if ((rc = http_json_string(req, "priority", false, API_SHORT_MAX, &priority)) != 0) return rc;
    if ((rc = rq_priority(req, priority, &ch.priority)) != 0) return rc;
    if ((rc = http_json_string(req, "service_kind", false, API_SHORT_MAX, &ch.service_kind)) != 0) return rc;
    if ((rc = http_json_string(req, "reason", false, API_TEXT_MAX, &ch.reason)) != 0) return rc;
    if ((rc = request_update(&req->ctx, client_id, id, &ch, &req->err)) != 0) return rc;
    return rq_reply_one(req, 200, client_id, id);
}

/* POST /api/v1/requests/{id}/status {"status", "reason"} */
int api_request_status(struct http_req *req)
{
    int64_t client_id, id;
    const char *status, *reason;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = http_json_string(req, "status", true, API_SHORT_MAX, &status)) != 0) return rc;
    if ((rc = http_json_string(req, "reason", false, API_TEXT_MAX, &reason)) != 0) return rc;
    if ((rc = request_set_status(&req->ctx, client_id, id, status, reason, &req->err)) != 0) return rc;
    return rq_reply_one(req, 200, client_id, id);
}

/* POST /api/v1/requests/{id}/assign {"assignee_id", "team_id"}: null or absent clears one. */
int api_request_assign(struct http_req *req)
{
    int64_t client_id, id, assignee, team;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = rq_body_id(req, "assignee_id", &assignee, NULL)) != 0) return rc;
    if ((rc = rq_body_id(req, "team_id", &team, NULL)) != 0) return rc;
    if ((rc = request_assign(&req->ctx, client_id, id, assignee, team, &req->err)) != 0) return rc;
    return rq_reply_one(req, 200, client_id, id);
}

static int rq_post_message(struct http_req *req, bool internal)
{
    int64_t client_id, id, mid;
    const char *body;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    /* a reply may be a team's canned reply, filled for this request (canned.h), instead of a body */
    int64_t canned_id = 0;
    bool canned = false;
    if (!internal && (rc = rq_body_id(req, "canned_reply_id", &canned_id, &canned)) != 0) return rc;
    if (canned && canned_id) {
        if (req->json && json_object_get(req->json, "body"))
            return rq_bad(req, "body", "must be absent with canned_reply_id");
        if ((rc = canned_render(&req->ctx, canned_id, client_id, id, &body, &req->err)) != 0) return rc;
    } else if ((rc = http_json_string(req, "body", true, REQUEST_BODY_MAX, &body)) != 0) {
        return rc;
    }
    rc = internal ? request_note(&req->ctx, client_id, id, body, &mid, &req->err)
                  : request_reply(&req->ctx, client_id, id, body, &mid, &req->err);
    if (rc) return rc;
    struct request_message *items;
    size_t n;
    int64_t next;
    /* the message just written: the conversation from just before it */
    if ((rc = request_messages(&req->ctx, client_id, id, mid - 1, 1, &items, &n, &next, &req->err)) != 0) return rc;
    if (n != 1 || items[0].id != mid)
        return kf_fail(&req->err, KF_E_INTERNAL, NULL, "the new message is not in the conversation");
    return http_reply_json(req, 201, message_json(&items[0]));
}

int api_request_reply(struct http_req *req)
{
    return rq_post_message(req, false);
}

int api_request_note(struct http_req *req)
{
    return rq_post_message(req, true);
}

/* GET /api/v1/requests/{id}/messages?after=&limit=: oldest first. */
int api_request_messages(struct http_req *req)
{
    int64_t client_id, id, after, next = 0;
    int limit, rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    if (limit > REQUEST_LIST_MAX)
        return kf_fail(&req->err, KF_E_INVALID, "limit", "limit must be 1..%d", REQUEST_LIST_MAX);
    struct request_message *items;
    size_t n;
    if ((rc = request_messages(&req->ctx, client_id, id, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, message_json(&items[i]));
    return http_reply_json(req, 200, api_page_json(arr, next));
}

/* GET /api/v1/requests/{id}/history: status, priority, assignee, team and service-kind changes. */
int api_request_history(struct http_req *req)
{
    int64_t client_id, id;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    struct request_event *items;
    size_t n;
    if ((rc = request_history(&req->ctx, client_id, id, &items, &n, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct request_event *e = &items[i];
        json_array_append_new(arr, json_pack("{s:o,s:s,s:s,s:s,s:s,s:o,s:I}", "id", http_json_id(e->id), "kind",
                                             e->kind, "from", e->from_value, "to", e->to_value, "reason", e->reason,
                                             "actor_id", rq_opt_id(e->actor_id), "at", (json_int_t)e->at));
    }
    return http_reply_json(req, 200, json_pack("{s:o}", "items", arr));
}

/* --- calls, remote sessions (C9.2.1) and time entries ------------------------------------------ */

static json_t *call_json(const struct request_call *k)
{
    return json_pack("{s:o,s:o,s:s,s:o,s:I,s:I,s:s,s:o,s:I}", "id", http_json_id(k->id), "request_id",
                     http_json_id(k->request_id), "kind", k->kind ? k->kind : "", "user_id", rq_opt_id(k->user_id),
                     "started_at", (json_int_t)k->started_at, "duration_s", (json_int_t)k->duration_s, "summary",
                     k->summary ? k->summary : "", "created_by", rq_opt_id(k->created_by), "created",
                     (json_int_t)k->created);
}

static json_t *time_json(const struct request_time_entry *e)
{
    return json_pack("{s:o,s:o,s:o,s:i,s:b,s:s,s:s,s:I,s:o,s:I}", "id", http_json_id(e->id), "request_id",
                     http_json_id(e->request_id), "user_id", rq_opt_id(e->user_id), "minutes", e->minutes, "billable",
                     e->billable, "service_kind", e->service_kind ? e->service_kind : "", "note",
                     e->note ? e->note : "", "worked_at", (json_int_t)e->worked_at, "created_by",
                     rq_opt_id(e->created_by), "created", (json_int_t)e->created);
}

/* POST /api/v1/requests/{id}/calls {"kind", "user_id", "started_at", "duration_s", "summary"} */
int api_request_call_create(struct http_req *req)
{
    int64_t client_id, id, cid;
    struct request_call_input in = {0};
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = http_json_string(req, "kind", true, API_SHORT_MAX, &in.kind)) != 0) return rc;
    if ((rc = rq_body_id(req, "user_id", &in.user_id, NULL)) != 0) return rc;
    if ((rc = http_json_int64(req, "started_at", true, 1, INT64_MAX, &in.started_at, NULL)) != 0) return rc;
    if ((rc = http_json_int64(req, "duration_s", true, 0, REQUEST_CALL_MAX_S, &in.duration_s, NULL)) != 0) return rc;
    if ((rc = http_json_string(req, "summary", false, REQUEST_SUMMARY_MAX, &in.summary)) != 0) return rc;
    if ((rc = request_log_call(&req->ctx, client_id, id, &in, &cid, &req->err)) != 0) return rc;
    struct request_call *items;
    size_t n;
    if ((rc = request_calls(&req->ctx, client_id, id, &items, &n, &req->err)) != 0) return rc;
    for (size_t i = 0; i < n; i++)
        if (items[i].id == cid) return http_reply_json(req, 201, call_json(&items[i]));
    return kf_fail(&req->err, KF_E_INTERNAL, NULL, "the new call is not in the list");
}

int api_request_call_list(struct http_req *req)
{
    int64_t client_id, id;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    struct request_call *items;
    size_t n;
    if ((rc = request_calls(&req->ctx, client_id, id, &items, &n, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, call_json(&items[i]));
        total += items[i].duration_s;
    }
    return http_reply_json(req, 200, json_pack("{s:o,s:I}", "items", arr, "total_duration_s", (json_int_t)total));
}

/* POST /api/v1/requests/{id}/time-entries {"minutes", "billable", "service_kind", "note", "worked_at", "user_id"} */
int api_request_time_create(struct http_req *req)
{
    int64_t client_id, id, eid, minutes = 0;
    struct request_time_input in = {0};
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = http_json_int64(req, "minutes", true, 1, REQUEST_MINUTES_MAX, &minutes, NULL)) != 0) return rc;
    in.minutes = (int)minutes;
    json_t *b = req->json ? json_object_get(req->json, "billable") : NULL;
    if (!b || !json_is_boolean(b)) return rq_bad(req, "billable", "must be true or false");
    in.billable = json_is_true(b);
    if ((rc = rq_body_id(req, "user_id", &in.user_id, NULL)) != 0) return rc;
    if ((rc = http_json_string(req, "service_kind", false, API_SHORT_MAX, &in.service_kind)) != 0) return rc;
    if ((rc = http_json_string(req, "note", false, API_TEXT_MAX, &in.note)) != 0) return rc;
    if ((rc = http_json_int64(req, "worked_at", false, 1, INT64_MAX, &in.worked_at, NULL)) != 0) return rc;
    if ((rc = request_log_time(&req->ctx, client_id, id, &in, &eid, &req->err)) != 0) return rc;
    struct request_time_entry *items;
    size_t n;
    if ((rc = request_time_entries(&req->ctx, client_id, id, &items, &n, NULL, NULL, &req->err)) != 0) return rc;
    for (size_t i = 0; i < n; i++)
        if (items[i].id == eid) return http_reply_json(req, 201, time_json(&items[i]));
    return kf_fail(&req->err, KF_E_INTERNAL, NULL, "the new time entry is not in the list");
}

int api_request_time_list(struct http_req *req)
{
    int64_t client_id, id, total = 0, billable = 0;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    struct request_time_entry *items;
    size_t n;
    if ((rc = request_time_entries(&req->ctx, client_id, id, &items, &n, &total, &billable, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, time_json(&items[i]));
    return http_reply_json(req, 200, json_pack("{s:o,s:I,s:I}", "items", arr, "total_minutes", (json_int_t)total,
                                               "billable_minutes", (json_int_t)billable));
}

/* --- attachments ------------------------------------------------------------------------------------ */

static json_t *attachment_json(struct http_req *req, const struct file_meta *m)
{
    const char *download = arena_printf(req->arena, "/files/%lld?client_id=%lld", (long long)m->id,
                                        (long long)m->client_id);
    return json_pack("{s:o,s:s,s:s,s:I,s:s,s:o,s:I,s:s}", "id", http_json_id(m->id), "name", m->name ? m->name : "",
                     "media_type", m->media_type ? m->media_type : "", "size", (json_int_t)m->size, "sha256",
                     m->sha256, "uploaded_by", rq_opt_id(m->uploaded_by), "created", (json_int_t)m->created,
                     "download", download);
}

/* POST /api/v1/requests/{id}/attachments?client_id= (multipart/form-data, field `file`). */
int api_request_attach(struct http_req *req)
{
    int64_t client_id, id, fid;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    if (!req->upload.field || strcmp(req->upload.field, "file") != 0) return rq_bad(req, "file", "is required");
    rc = request_attach(&req->ctx, client_id, id, req->upload.filename, req->upload.data, req->upload.len,
                        req->server_max_upload, &fid, &req->err);
    if (rc) return rc;
    struct file_meta m;
    if ((rc = file_get_meta(&req->ctx, client_id, fid, &m, &req->err)) != 0) return rc;
    return http_reply_json(req, 201, attachment_json(req, &m));
}

/* GET /api/v1/requests/{id}/attachments?client_id= */
int api_request_attachments(struct http_req *req)
{
    int64_t client_id, id;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    struct file_meta *items;
    size_t n;
    if ((rc = request_attachments(&req->ctx, client_id, id, &items, &n, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, attachment_json(req, &items[i]));
    return http_reply_json(req, 200, json_pack("{s:o}", "items", arr));
}

/* --- acceptance and remediation (C5.1.2; request_accept.h) ------------------------------------- */

/* POST /api/v1/requests/{id}/accept: the client accepts the resolution; the request closes. */
int api_request_accept(struct http_req *req)
{
    int64_t client_id, id;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = request_accept(&req->ctx, client_id, id, &req->err)) != 0) return rc;
    return rq_reply_one(req, 200, client_id, id);
}

/* POST /api/v1/requests/{id}/reject {"reason"}: the request reopens as remediation. */
int api_request_reject(struct http_req *req)
{
    int64_t client_id, id;
    const char *reason = NULL;
    int rc;
    if ((rc = rq_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = http_json_string(req, "reason", true, REQUEST_REJECT_REASON_MAX, &reason)) != 0) return rc;
    if ((rc = request_reject(&req->ctx, client_id, id, reason, &req->err)) != 0) return rc;
    return rq_reply_one(req, 200, client_id, id);
}
