/* The SLA side of the service-requests API (docs/requests.md "SLA clocks"): the `sla` object of a
 * request's JSON and GET /api/v1/requests/{id}/breaches. Handlers only shape what request_sla.h
 * computes; minutes are whole business minutes (floored), instants UTC ms, unknown instants null. */
#include <string.h>

#include "core/arena.h"
#include "domain/request.h"
#include "domain/request_sla.h"
#include "http/api_common.h"
#include "http/api_request_sla.h"
#include "http/handlers.h"
#include "http/request.h"

#define MINUTE_MS 60000

static json_t *rs_time(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

static json_t *rs_clock_json(const struct request_sla_clock *k)
{
    const struct sla_clock *v = &k->clock;
    json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:I, s:{s:I, s:I}, s:I, s:I, s:i, s:s}", "target_minutes",
                          (json_int_t)k->target_minutes, "start_at", json_integer(k->start_ms), "stop_at",
                          rs_time(k->stop_ms), "due_at", rs_time(v->due_ms), "warn_at", rs_time(v->warn_ms),
                          "counted_minutes", (json_int_t)(v->counted_ms / MINUTE_MS), "paused_minutes", "customer",
                          (json_int_t)(v->paused_ms[SLA_PAUSE_CUSTOMER] / MINUTE_MS), "client",
                          (json_int_t)(v->paused_ms[SLA_PAUSE_CLIENT] / MINUTE_MS), "overdue_minutes",
                          (json_int_t)(v->overdue_ms / MINUTE_MS), "late_ms", (json_int_t)v->late_ms, "percent",
                          v->percent, "state", k->state ? k->state : "");
    if (strcmp(k->name, "resolution") == 0) json_object_set_new(o, "cycle", json_integer(k->cycle));
    return o;
}

static json_t *rs_alert_json(const struct request_sla_alert *a)
{
    char prio[4] = {'P', (char)('0' + (a->priority >= 1 && a->priority <= 4 ? a->priority : 0)), 0, 0};
    return json_pack("{s:o, s:o, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I}}", "id",
                     http_json_id(a->id), "request_id", http_json_id(a->request_id), "clock", a->clock, "cycle",
                     a->cycle, "kind", a->kind, "priority", prio, "target_minutes", (json_int_t)a->target_minutes,
                     "due_at", (json_int_t)a->due_at, "warn_at", (json_int_t)a->warn_at, "detected_at",
                     (json_int_t)a->detected_at, "counted_minutes", (json_int_t)(a->counted_ms / MINUTE_MS),
                     "overdue_minutes", (json_int_t)(a->overdue_ms / MINUTE_MS), "overdue_ms",
                     (json_int_t)a->overdue_ms, "late_ms", (json_int_t)a->late_ms, "paused_minutes", "customer",
                     (json_int_t)(a->paused_customer_ms / MINUTE_MS), "client",
                     (json_int_t)(a->paused_client_ms / MINUTE_MS));
}

json_t *api_request_sla_object(const struct request_sla *s)
{
    char prio[4] = {'P', (char)('0' + s->priority), 0, 0};
    return json_pack("{s:s, s:o, s:I, s:o, s:o}", "priority", prio, "calendar_id", http_json_id(s->calendar_id), "at",
                     (json_int_t)s->at, "first_response", rs_clock_json(&s->first_response), "resolution",
                     rs_clock_json(&s->resolution));
}

void api_request_sla_set(json_t *request, const struct request_sla *s)
{
    json_t *o = s ? api_request_sla_object(s) : json_null();
    if (s) json_object_set_new(o, "breaches", json_array());
    json_object_set_new(request, "sla", o);
}

int api_request_sla_add(struct http_req *req, json_t *request, const struct request *r)
{
    struct request_sla s;
    int rc = request_sla_get(&req->ctx, r, &s, &req->err);
    if (rc == KF_E_INVALID || rc == KF_E_NOT_FOUND) { /* no clock: no target, or no business time */
        kf_err_clear(&req->err);
        json_object_set_new(request, "sla", json_null());
        return 0;
    }
    if (rc) return rc;
    json_t *o = api_request_sla_object(&s);
    struct request_sla_alert *items;
    size_t n;
    if ((rc = request_sla_alerts_of(&req->ctx, r, "breach", &items, &n, &req->err)) != 0) {
        json_decref(o);
        return rc;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, rs_alert_json(&items[i]));
    json_object_set_new(o, "breaches", arr);
    json_object_set_new(request, "sla", o);
    return 0;
}

int api_request_sla_add_many(struct http_req *req, json_t *items_json, const struct request *items, size_t n)
{
    if (n == 0) return 0;
    struct request_sla *s = arena_zalloc(req->arena, n * sizeof *s);
    bool *ok = arena_zalloc(req->arena, n * sizeof *ok);
    int rc = request_sla_many(&req->ctx, items, n, s, ok, &req->err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        json_object_set_new(json_array_get(items_json, i), "sla", ok[i] ? api_request_sla_object(&s[i]) : json_null());
    return 0;
}

/* GET /api/v1/requests/{id}/breaches?client_id=&kind= : the breach records (C5.3), oldest first;
 * kind=warning lists the warnings, kind=all both. */
int api_request_breaches(struct http_req *req)
{
    int64_t client_id, id;
    int rc = api_path_id(req, "id", "request", &id);
    if (rc) return rc;
    if ((rc = api_query_client_id(req, false, &client_id)) != 0) return rc;
    const char *kind = http_query(req, "kind");
    if (!kind) kind = "breach";
    else if (strcmp(kind, "all") == 0) kind = NULL;
    else if (strcmp(kind, "warning") != 0 && strcmp(kind, "breach") != 0)
        return kf_fail(&req->err, KF_E_INVALID, "kind", "kind must be breach, warning or all");
    struct request_sla_alert *items;
    size_t n;
    if ((rc = request_sla_alerts(&req->ctx, client_id, id, kind, &items, &n, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, rs_alert_json(&items[i]));
    return http_reply_json(req, 200, json_pack("{s:o}", "items", arr));
}
