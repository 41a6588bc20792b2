/* The notices API (C11.1.1, C8.2.1; docs/notices.md "The API"): the register of formal notices, sending
 * and correcting, recording delivery, acknowledging, and the provider's service update announcements
 * with their read receipts. Handlers only parse and shape: every decision is the domain's (notice.h),
 * so another tenant's notice comes back KF_E_NOT_FOUND (404), never 403.
 *
 * Which client: POST /api/v1/notices takes `client_id` in the body; the routes on one notice take it as
 * the query parameter `client_id`, like the agreements API; absent, the caller's own client is meant
 * (a client user never needs it). Ids are strings in JSON; times are UTC milliseconds. */
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/notice.h"
#include "http/api_common.h"
#include "http/api_notices.h"
#include "http/handlers.h"
#include "http/request.h"

#define NT_SUBJECT_BYTES (NOTICE_SUBJECT_MAX * 4)   /* 200 characters of up to 4 bytes each */

static json_t *nt_opt_id(int64_t id)
{
    return id ? http_json_id(id) : json_null();
}

static json_t *nt_opt_time(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

static const char *nt_s(const char *s)
{
    return s ? s : "";
}

json_t *api_notice_json(const struct notice *n, bool full)
{
    json_t *o = json_pack("{s:o,s:o,s:s,s:o,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:o}", "id", http_json_id(n->id), "client_id",
                          http_json_id(n->client_id), "client_name", nt_s(n->client_name), "agreement_id",
                          nt_opt_id(n->agreement_id), "announcement_id", nt_opt_id(n->announcement_id), "corrects_id",
                          nt_opt_id(n->corrects_id), "kind", nt_s(n->kind), "sender_party", nt_s(n->sender_party),
                          "recipient_party", nt_s(n->recipient_party), "subject", nt_s(n->subject), "method",
                          nt_s(n->method), "tracking_number", api_opt_str(n->tracking_number));
    json_object_set_new(o, "sent_by", nt_opt_id(n->sent_by));
    json_object_set_new(o, "sent_by_name", api_opt_str(n->sent_by_name));
    json_object_set_new(o, "sent_at", json_integer(n->sent_at));
    json_object_set_new(o, "delivered_at", nt_opt_time(n->delivered_at));
    json_object_set_new(o, "delivery_recorded_by", nt_opt_id(n->delivery_recorded_by));
    json_object_set_new(o, "delivery_recorded_by_name", api_opt_str(n->delivery_recorded_by_name));
    json_object_set_new(o, "acknowledged_at", nt_opt_time(n->acknowledged_at));
    json_object_set_new(o, "acknowledged_by", nt_opt_id(n->acknowledged_by));
    json_object_set_new(o, "acknowledged_by_name", api_opt_str(n->acknowledged_by_name));
    json_object_set_new(o, "first_read_at", nt_opt_time(n->first_read_at));
    json_object_set_new(o, "read_count", json_integer(n->n_reads));
    if (!full) return o;
    json_object_set_new(o, "body", json_string(nt_s(n->body)));
    json_t *reads = json_array(), *fixes = json_array();
    for (size_t i = 0; i < n->n_read_rows; i++)
        json_array_append_new(reads, json_pack("{s:o,s:s,s:I}", "user_id", http_json_id(n->reads[i].user_id), "name",
                                               nt_s(n->reads[i].display_name), "read_at",
                                               (json_int_t)n->reads[i].read_at));
    for (size_t i = 0; i < n->n_corrections; i++)
        json_array_append_new(fixes, json_pack("{s:o,s:s,s:I}", "id", http_json_id(n->corrections[i].id), "subject",
                                               nt_s(n->corrections[i].subject), "sent_at",
                                               (json_int_t)n->corrections[i].sent_at));
    json_object_set_new(o, "reads", reads);
    json_object_set_new(o, "corrections", fixes);
    return o;
}

json_t *api_announcement_json(const struct announcement *a, bool full)
{
    json_t *o = json_pack("{s:o,s:s,s:o,s:o,s:I,s:I}", "id", http_json_id(a->id), "subject", nt_s(a->subject),
                          "sent_by", nt_opt_id(a->sent_by), "sent_by_name", api_opt_str(a->sent_by_name), "sent_at",
                          (json_int_t)a->sent_at, "recipients", (json_int_t)a->recipients);
    if (!full) return o;
    json_object_set_new(o, "body", json_string(nt_s(a->body)));
    json_object_set_new(o, "read_clients", json_integer(a->n_read));
    json_t *arr = json_array();
    for (size_t i = 0; i < a->n_receipts; i++) {
        const struct announcement_receipt *r = &a->receipts[i];
        json_array_append_new(arr, json_pack("{s:o,s:s,s:o,s:o,s:o,s:o,s:I}", "client_id", http_json_id(r->client_id),
                                             "client_name", nt_s(r->client_name), "notice_id",
                                             http_json_id(r->notice_id), "delivered_at", nt_opt_time(r->delivered_at),
                                             "first_read_at", nt_opt_time(r->first_read_at), "acknowledged_at",
                                             nt_opt_time(r->acknowledged_at), "read_count", (json_int_t)r->n_reads));
    }
    json_object_set_new(o, "receipts", arr);
    return o;
}

/* An optional id member of the body (a string id or a positive integer); absent or null: 0. */
int api_body_opt_id(struct http_req *req, const char *key, int64_t *out)
{
    json_t *v = req->json ? json_object_get(req->json, key) : NULL;
    *out = 0;
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        if (!*json_string_value(v)) return 0;
        if (id_parse(json_string_value(v), out) == 0) return 0;
    } else if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = json_integer_value(v);
        return 0;
    }
    return kf_fail(&req->err, KF_E_INVALID, key, "%s must be an id", key);
}

/* The fields of a new notice from the body (the JSON API and the page's form alike). */
int api_notice_input(struct http_req *req, struct notice_input *in)
{
    int rc;
    memset(in, 0, sizeof *in);
    if ((rc = api_body_client_id(req, false, &in->client_id)) != 0) return rc;
    if ((rc = api_body_opt_id(req, "agreement_id", &in->agreement_id)) != 0) return rc;
    if ((rc = api_body_opt_id(req, "corrects_id", &in->corrects_id)) != 0) return rc;
    if ((rc = http_json_string(req, "kind", true, API_SHORT_MAX, &in->kind)) != 0) return rc;
    if ((rc = http_json_string(req, "sender_party", false, API_SHORT_MAX, &in->sender_party)) != 0) return rc;
    if (in->sender_party && !*in->sender_party) in->sender_party = NULL;
    if ((rc = http_json_string(req, "subject", true, NT_SUBJECT_BYTES, &in->subject)) != 0) return rc;
    if ((rc = http_json_string(req, "body", true, NOTICE_BODY_MAX, &in->body)) != 0) return rc;
    if ((rc = http_json_string(req, "method", false, API_SHORT_MAX, &in->method)) != 0) return rc;
    if ((rc = http_json_string(req, "tracking_number", false, NOTICE_TRACKING_MAX, &in->tracking_number)) != 0) return rc;
    return http_json_string(req, "idempotency_key", false, API_SHORT_MAX, &in->idempotency_key);
}

static int nt_reply_one(struct http_req *req, int status, int64_t client_id, int64_t id)
{
    struct notice n;
    int rc = notice_get(&req->ctx, client_id, id, &n, &req->err);
    if (rc) return rc;
    return http_reply_json(req, status, api_notice_json(&n, true));
}

/* {id} and ?client_id= of the routes on one notice. */
static int nt_target(struct http_req *req, int64_t *client_id, int64_t *id)
{
    int rc = api_path_id(req, "id", "notice", id);
    if (rc) return rc;
    return api_query_client_id(req, false, client_id);
}

/* An optional id of the query string; text that is no id is 422 naming the parameter. */
static int nt_query_id(struct http_req *req, const char *key, int64_t *out)
{
    const char *s = http_query(req, key);
    *out = 0;
    if (!s || !*s) return 0;
    return id_parse(s, out) == 0 ? 0 : kf_fail(&req->err, KF_E_INVALID, key, "%s must be an id", key);
}

/* GET /api/v1/notices?client_id=&kind=&agreement_id=&direction=&unacknowledged=&announcement_id=
 * &after=&limit=: the register, newest first, with how many notices to the caller's side wait for
 * an acknowledgement. */
int api_notice_list(struct http_req *req)
{
    struct notice_filter f = {0};
    int64_t after, next = 0;
    int limit, rc;
    if ((rc = api_query_client_id(req, true, &f.client_id)) != 0) return rc;
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    if (limit > NOTICE_LIST_MAX) return kf_fail(&req->err, KF_E_INVALID, "limit", "limit must be 1..%d", NOTICE_LIST_MAX);
    if ((rc = nt_query_id(req, "agreement_id", &f.agreement_id)) != 0) return rc;
    if ((rc = nt_query_id(req, "announcement_id", &f.announcement_id)) != 0) return rc;
    f.kind = http_query(req, "kind");
    f.direction = http_query(req, "direction");
    if (f.kind && strlen(f.kind) > API_SHORT_MAX) return kf_fail(&req->err, KF_E_INVALID, "kind", "unknown kind");
    if (f.direction && strlen(f.direction) > API_SHORT_MAX)
        return kf_fail(&req->err, KF_E_INVALID, "direction", "received or sent");
    const char *un = http_query(req, "unacknowledged");
    if (un && *un) {
        if (strcmp(un, "true") == 0 || strcmp(un, "1") == 0) f.unacknowledged = true;
        else if (strcmp(un, "false") != 0 && strcmp(un, "0") != 0)
            return kf_fail(&req->err, KF_E_INVALID, "unacknowledged", "true or false");
    }
    struct notice *items;
    size_t n;
    if ((rc = notice_list(&req->ctx, &f, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    int64_t waiting = 0;
    if ((rc = notice_count_unacknowledged(&req->ctx, f.client_id, &waiting, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, api_notice_json(&items[i], false));
    json_t *page = api_page_json(arr, next);
    json_object_set_new(page, "unacknowledged", json_integer(waiting));
    return http_reply_json(req, 200, page);
}

int api_notice_send(struct http_req *req)
{
    struct notice_input in;
    int64_t id;
    int rc = api_notice_input(req, &in);
    if (rc) return rc;
    bool existing = false;
    if ((rc = notice_send_once(&req->ctx, &in, &id, &existing, &req->err)) != 0) return rc;
    return nt_reply_one(req, existing ? 200 : 201, in.client_id, id);
}

int api_notice_get(struct http_req *req)
{
    int64_t client_id, id;
    int rc = nt_target(req, &client_id, &id);
    if (rc) return rc;
    return nt_reply_one(req, 200, client_id, id);
}

/* POST /api/v1/notices/{id}/delivery?client_id= {"delivered_at", "tracking_number"}. */
int api_notice_delivery(struct http_req *req)
{
    int64_t client_id, id, at = 0;
    const char *tracking = NULL;
    int rc;
    if ((rc = nt_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = http_json_int64(req, "delivered_at", true, 1, INT64_MAX, &at, NULL)) != 0) return rc;
    if ((rc = http_json_string(req, "tracking_number", false, NOTICE_TRACKING_MAX, &tracking)) != 0) return rc;
    if ((rc = notice_record_delivery(&req->ctx, client_id, id, at, tracking, &req->err)) != 0) return rc;
    return nt_reply_one(req, 200, client_id, id);
}

int api_notice_acknowledge(struct http_req *req)
{
    int64_t client_id, id;
    int rc;
    if ((rc = nt_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = notice_acknowledge(&req->ctx, client_id, id, &req->err)) != 0) return rc;
    return nt_reply_one(req, 200, client_id, id);
}

/* POST /api/v1/announcements {"client_ids": [...] | "all": true, "subject", "body"}. */
int api_announcement_send(struct http_req *req)
{
    struct announcement_input in = {0};
    int rc;
    json_t *all = json_object_get(req->json, "all");
    if (all && !json_is_null(all)) {
        if (!json_is_boolean(all)) return kf_fail(&req->err, KF_E_INVALID, "all", "all must be true or false");
        in.all = json_is_true(all);
    }
    json_t *ids = json_object_get(req->json, "client_ids");
    if (!in.all) {
        if (!ids || !json_is_array(ids))
            return kf_fail(&req->err, KF_E_INVALID, "client_ids", "client_ids must be an array of client ids");
        size_t n = json_array_size(ids);
        if (n > NOTICE_ANNOUNCE_MAX)
            return kf_fail(&req->err, KF_E_INVALID, "client_ids", "at most %d clients", NOTICE_ANNOUNCE_MAX);
        int64_t *list = arena_zalloc(req->arena, sizeof *list * (n ? n : 1));
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(ids, i);
            if (json_is_string(x) && id_parse(json_string_value(x), &list[i]) == 0) continue;
            if (json_is_integer(x) && json_integer_value(x) > 0) {
                list[i] = json_integer_value(x);
                continue;
            }
            return kf_fail(&req->err, KF_E_INVALID, "client_ids", "client_ids must be an array of client ids");
        }
        in.client_ids = list;
        in.n_clients = n;
    } else if (ids && !json_is_null(ids)) {
        return kf_fail(&req->err, KF_E_INVALID, "client_ids", "either client_ids or all");
    }
    if ((rc = http_json_string(req, "subject", true, NT_SUBJECT_BYTES, &in.subject)) != 0) return rc;
    if ((rc = http_json_string(req, "body", true, NOTICE_BODY_MAX, &in.body)) != 0) return rc;
    int64_t id;
    if ((rc = notice_announce(&req->ctx, &in, &id, NULL, &req->err)) != 0) return rc;
    struct announcement a;
    if ((rc = notice_announcement_get(&req->ctx, id, &a, &req->err)) != 0) return rc;
    return http_reply_json(req, 201, api_announcement_json(&a, true));
}

int api_announcement_get(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "announcement", &id);
    if (rc) return rc;
    struct announcement a;
    if ((rc = notice_announcement_get(&req->ctx, id, &a, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, api_announcement_json(&a, true));
}
