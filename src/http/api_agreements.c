/* The agreements API (issue 5; docs/agreements.md "The API"): the service catalogue and agreements
 * with their lifecycle — drafts, the two signatures, dissolution — and their service changes and
 * term history (C8.1.1: /changes, /terms?at=). Handlers only parse and shape:
 * every decision is the domain's (agreement.h; each function checks the policy itself), so another
 * tenant's agreement comes back KF_E_NOT_FOUND (404), never 403.
 *
 * Which client: POST /api/v1/agreements takes `client_id` in the body; the routes on one agreement
 * (/api/v1/agreements/{id}…) take it as the query parameter `client_id`, like the customer routes;
 * absent, the caller's own client is meant (a client user never needs it). Ids are strings in JSON.
 *
 * Field names of errors: a value of the wrong JSON type is reported here with its path in the body
 * ("services[0].fees[1].amount_fen", "services[1].targets.P2.resolution"); a value the domain
 * refuses carries the domain's field ("term_years", "services.kind", "services.fees.amount_fen");
 * the domain's "evidence" is the body's "evidence_file_ids". */
#include <limits.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/agreement.h"
#include "domain/file.h"
#include "domain/agreement_change.h"
#include "domain/notice.h"
#include "http/api_common.h"
#include "http/api_notices.h"
#include "http/handlers.h"
#include "http/request.h"

#define AG_NAME_MAX 256          /* bytes of a number pattern or zone as the API takes them */
#define AG_EVIDENCE_API_MAX 64   /* evidence ids the API reads (the domain allows 20) */

static const char *const priorities[AGREEMENT_PRIORITIES] = {"P1", "P2", "P3", "P4"};

/* --- reading nested JSON with field paths --------------------------------------------------------- */

static int ag_bad(struct http_req *req, const char *field, const char *what)
{
    return kf_fail(&req->err, KF_E_INVALID, field, "%s %s", field, what);
}

/* String member `key` of `obj`, reported as `field`. */
static int ag_str(struct http_req *req, json_t *obj, const char *key, const char *field, bool required, size_t max,
                  const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) return required ? ag_bad(req, field, "is required") : 0;
    if (!json_is_string(v)) return ag_bad(req, field, "must be a string");
    if (json_string_length(v) > max)
        return kf_fail(&req->err, KF_E_INVALID, field, "%s is longer than %zu bytes", field, max);
    if (strlen(json_string_value(v)) != json_string_length(v)) return ag_bad(req, field, "must not contain NUL");
    *out = json_string_value(v);
    return 0;
}

/* Integer member `key` of `obj` (a JSON integer in min..max), reported as `field`; absent: *out unchanged. */
static int ag_int(struct http_req *req, json_t *obj, const char *key, const char *field, bool required, int64_t min,
                  int64_t max, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return required ? ag_bad(req, field, "is required") : 0;
    if (!json_is_integer(v)) return ag_bad(req, field, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return kf_fail(&req->err, KF_E_INVALID, field, "%s must be between %lld and %lld", field, (long long)min,
                       (long long)max);
    *out = x;
    return 0;
}

static int ag_small_int(struct http_req *req, json_t *obj, const char *key, bool required, int *out)
{
    int64_t v = *out;
    int rc = ag_int(req, obj, key, key, required, INT_MIN, INT_MAX, &v);
    if (rc == 0) *out = (int)v;
    return rc;
}

/* {"P1": {"first_response": m, "resolution": m}, …}: absent priorities and values stay 0. */
static int ag_targets(struct http_req *req, json_t *v, const char *field, struct agreement_targets *t)
{
    memset(t, 0, sizeof *t);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v)) return ag_bad(req, field, "must be an object of priorities P1..P4");
    const char *key;
    json_t *p;
    json_object_foreach(v, key, p) {
        int i = 0;
        while (i < AGREEMENT_PRIORITIES && strcmp(key, priorities[i]) != 0) i++;
        if (i == AGREEMENT_PRIORITIES) return ag_bad(req, field, "takes only the priorities P1..P4");
        const char *pf = arena_printf(req->arena, "%s.%s", field, key);
        if (!json_is_object(p)) return ag_bad(req, pf, "must be an object {first_response, resolution}");
        const char *k2;
        json_t *x;
        json_object_foreach(p, k2, x) {
            if (strcmp(k2, "first_response") != 0 && strcmp(k2, "resolution") != 0)
                return ag_bad(req, pf, "takes only first_response and resolution");
        }
        int rc = ag_int(req, p, "first_response", arena_printf(req->arena, "%s.first_response", pf), false, INT64_MIN,
                        INT64_MAX, &t->response[i]);
        if (rc) return rc;
        rc = ag_int(req, p, "resolution", arena_printf(req->arena, "%s.resolution", pf), false, INT64_MIN, INT64_MAX,
                    &t->resolution[i]);
        if (rc) return rc;
    }
    return 0;
}

/* [{"kind": …, "amount_fen": …}, …]: NULL/absent gives fees NULL, n 0. */
static int ag_fees(struct http_req *req, json_t *v, const char *field, struct agreement_fee **fees_r, size_t *n_r)
{
    *fees_r = NULL;
    *n_r = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v)) return ag_bad(req, field, "must be an array of {kind, amount_fen}");
    size_t n = json_array_size(v);
    struct agreement_fee *fees = arena_zalloc(req->arena, sizeof *fees * (n ? n : 1));
    for (size_t j = 0; j < n; j++) {
        json_t *f = json_array_get(v, j);
        const char *ff = arena_printf(req->arena, "%s[%zu]", field, j);
        if (!json_is_object(f)) return ag_bad(req, ff, "must be an object {kind, amount_fen}");
        int rc = ag_str(req, f, "kind", arena_printf(req->arena, "%s.kind", ff), true, API_SHORT_MAX, &fees[j].kind);
        if (rc) return rc;
        rc = ag_int(req, f, "amount_fen", arena_printf(req->arena, "%s.amount_fen", ff), true, INT64_MIN, INT64_MAX,
                    &fees[j].amount_fen);
        if (rc) return rc;
    }
    *fees_r = fees;
    *n_r = n;
    return 0;
}

/* The body's "services" (an array of {kind, targets, fees}); absent: required ? 422 : none. */
static int ag_services_of(struct http_req *req, bool required, const struct agreement_service_input **services_r,
                          size_t *n_r)
{
    json_t *v = req->json ? json_object_get(req->json, "services") : NULL;
    *services_r = NULL;
    *n_r = 0;
    if (!v || json_is_null(v)) return required ? ag_bad(req, "services", "is required") : 0;
    if (!json_is_array(v)) return ag_bad(req, "services", "must be an array of services");
    size_t n = json_array_size(v);
    struct agreement_service_input *s = arena_zalloc(req->arena, sizeof *s * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(v, i);
        const char *sf = arena_printf(req->arena, "services[%zu]", i);
        if (!json_is_object(o)) return ag_bad(req, sf, "must be an object {kind, targets, fees}");
        int rc = ag_str(req, o, "kind", arena_printf(req->arena, "%s.kind", sf), true, API_SHORT_MAX, &s[i].kind);
        if (rc) return rc;
        rc = ag_targets(req, json_object_get(o, "targets"), arena_printf(req->arena, "%s.targets", sf), &s[i].targets);
        if (rc) return rc;
        struct agreement_fee *fees;
        rc = ag_fees(req, json_object_get(o, "fees"), arena_printf(req->arena, "%s.fees", sf), &fees, &s[i].n_fees);
        if (rc) return rc;
        s[i].fees = fees;
    }
    *services_r = s;
    *n_r = n;
    return 0;
}

/* The body's "calendar_id": a persisted calendar's id as a string; absent or null: 0. */
static int ag_calendar_id(struct http_req *req, int64_t *out)
{
    const char *v;
    int rc = http_json_string(req, "calendar_id", false, 32, &v);
    *out = 0;
    if (rc) return rc;
    if (v && id_parse(v, out) != 0) return ag_bad(req, "calendar_id", "must be a calendar id");
    return 0;
}

/* The terms of a draft (create and update take the whole set). */
static int ag_body(struct http_req *req, struct agreement_input *in)
{
    static const char *const party[8] = {"provider_legal_name", "provider_address", "provider_contact_name",
                                         "provider_contact_phone", "client_legal_name", "client_address",
                                         "client_contact_name", "client_contact_phone"};
    const char **dst[8] = {&in->provider_legal_name, &in->provider_address, &in->provider_contact_name,
                           &in->provider_contact_phone, &in->client_legal_name, &in->client_address,
                           &in->client_contact_name, &in->client_contact_phone};
    int rc;
    memset(in, 0, sizeof *in);
    for (int i = 0; i < 8; i++)
        if ((rc = http_json_string(req, party[i], false, API_TEXT_MAX, dst[i])) != 0) return rc;
    if ((rc = ag_small_int(req, req->json, "term_years", true, &in->term_years)) != 0) return rc;
    if ((rc = ag_small_int(req, req->json, "notice_days", false, &in->notice_days)) != 0) return rc;
    if ((rc = http_json_string(req, "acceptance_by", false, API_SHORT_MAX, &in->acceptance_by)) != 0) return rc;
    if (!in->acceptance_by) in->acceptance_by = "client";
    if ((rc = ag_small_int(req, req->json, "acceptance_days", false, &in->acceptance_days)) != 0) return rc;
    if ((rc = ag_small_int(req, req->json, "reminder_days", false, &in->reminder_days)) != 0) return rc;
    if ((rc = http_json_string(req, "calendar_zone", false, AG_NAME_MAX, &in->calendar_zone)) != 0) return rc;
    if ((rc = http_json_string(req, "supplementary_terms", false, AGREEMENT_TERMS_MAX, &in->supplementary_terms)) != 0)
        return rc;
    if ((rc = http_json_string(req, "number_pattern", false, AG_NAME_MAX, &in->number_pattern)) != 0) return rc;
    if ((rc = ag_calendar_id(req, &in->calendar_id)) != 0) return rc;
    return ag_services_of(req, true, &in->services, &in->n_services);
}

/* --- replies -------------------------------------------------------------------------------------- */

static json_t *ag_opt_id(int64_t id)
{
    return id ? http_json_id(id) : json_null();
}

static json_t *ag_opt_time(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

/* {"P1": {"first_response", "resolution"}, …}; with `nullable`, 0 (not set) is null. */
static json_t *ag_targets_json(const struct agreement_targets *t, bool nullable)
{
    json_t *o = json_object();
    for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
        json_t *r = nullable && !t->response[p] ? json_null() : json_integer(t->response[p]);
        json_t *s = nullable && !t->resolution[p] ? json_null() : json_integer(t->resolution[p]);
        json_object_set_new(o, priorities[p], json_pack("{s:o,s:o}", "first_response", r, "resolution", s));
    }
    return o;
}

static json_t *ag_fees_json(const struct agreement_fee *fees, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:I}", "kind", fees[i].kind ? fees[i].kind : "", "amount_fen",
                                             (json_int_t)fees[i].amount_fen));
    return arr;
}

static json_t *kind_json(const struct service_kind *k)
{
    return json_pack("{s:o,s:s,s:s,s:s,s:o,s:o,s:b}", "id", http_json_id(k->id), "code", k->code ? k->code : "",
                     "name_zh", k->name_zh ? k->name_zh : "", "name_en", k->name_en ? k->name_en : "", "targets",
                     ag_targets_json(&k->targets, false), "fees", ag_fees_json(k->fees, k->n_fees), "builtin",
                     k->builtin);
}

static json_t *ag_evidence_json(const char *stored)
{
    json_t *v = stored && *stored ? json_loads(stored, 0, NULL) : NULL;
    if (v && json_is_array(v)) return v;
    json_decref(v);
    return json_array();
}

static json_t *ag_services_json(const struct agreement_service *services, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct agreement_service *s = &services[i];
        json_array_append_new(arr, json_pack("{s:o,s:s,s:o,s:o,s:o}", "id", http_json_id(s->id), "kind",
                                             s->kind ? s->kind : "", "targets", ag_targets_json(&s->targets, false),
                                             "personal_targets", ag_targets_json(&s->personal, true), "fees",
                                             ag_fees_json(s->fees, s->n_fees)));
    }
    return arr;
}

static json_t *agreement_json(const struct agreement *g, bool with_services)
{
    json_t *o = json_pack("{s:o,s:o,s:s,s:o,s:s,s:s}", "id", http_json_id(g->id), "client_id",
                          http_json_id(g->client_id), "draft_ref", g->draft_ref ? g->draft_ref : "", "contract_number",
                          api_opt_str(g->contract_number), "number_pattern", g->number_pattern ? g->number_pattern : "",
                          "status", g->status ? g->status : "");
    const char *pn[8] = {"provider_legal_name", "provider_address", "provider_contact_name", "provider_contact_phone",
                         "client_legal_name", "client_address", "client_contact_name", "client_contact_phone"};
    const char *pv[8] = {g->provider_legal_name, g->provider_address, g->provider_contact_name,
                         g->provider_contact_phone, g->client_legal_name, g->client_address, g->client_contact_name,
                         g->client_contact_phone};
    for (int i = 0; i < 8; i++) json_object_set_new(o, pn[i], api_opt_str(pv[i]));
    json_object_set_new(o, "term_years", json_integer(g->term_years));
    json_object_set_new(o, "notice_days", json_integer(g->notice_days));
    json_object_set_new(o, "acceptance_by", json_string(g->acceptance_by ? g->acceptance_by : ""));
    json_object_set_new(o, "acceptance_days", json_integer(g->acceptance_days));
    json_object_set_new(o, "reminder_days", json_integer(g->reminder_days));
    json_object_set_new(o, "calendar_zone", api_opt_str(g->calendar_zone));
    json_object_set_new(o, "calendar_id", ag_opt_id(g->calendar_id));
    json_object_set_new(o, "supplementary_terms", json_string(g->supplementary_terms ? g->supplementary_terms : ""));
    json_object_set_new(o, "provider_signed_by", ag_opt_id(g->provider_signed_by));
    json_object_set_new(o, "provider_signed_at", ag_opt_time(g->provider_signed_at));
    json_object_set_new(o, "client_signed_by", ag_opt_id(g->client_signed_by));
    json_object_set_new(o, "client_signed_at", ag_opt_time(g->client_signed_at));
    json_object_set_new(o, "start_at", ag_opt_time(g->start_at));
    json_object_set_new(o, "expires_at", ag_opt_time(g->expires_at));
    json_object_set_new(o, "reminder_sent_at", ag_opt_time(g->reminder_sent_at));
    json_object_set_new(o, "ended_at", ag_opt_time(g->ended_at));
    json_t *d = json_null();
    if (g->dissolution_ground && *g->dissolution_ground)
        d = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "ground", g->dissolution_ground, "invoked_by",
                      ag_opt_id(g->dissolution_invoked_by), "invoked_at", ag_opt_time(g->dissolution_invoked_at),
                      "effective_at", ag_opt_time(g->dissolution_effective_at), "provider_confirmed_by",
                      ag_opt_id(g->dissolution_provider_by), "provider_confirmed_at",
                      ag_opt_time(g->dissolution_provider_at), "client_confirmed_by", ag_opt_id(g->dissolution_client_by),
                      "client_confirmed_at", ag_opt_time(g->dissolution_client_at), "evidence_file_ids",
                      ag_evidence_json(g->dissolution_evidence));
    json_object_set_new(o, "dissolution", d);
    json_object_set_new(o, "created_by", ag_opt_id(g->created_by));
    json_object_set_new(o, "created", json_integer(g->created));
    json_object_set_new(o, "updated", json_integer(g->updated));
    if (with_services) json_object_set_new(o, "services", ag_services_json(g->services, g->n_services));
    return o;
}

static int ag_reply_one(struct http_req *req, int status, int64_t client_id, int64_t id)
{
    struct agreement g;
    int rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) return rc;
    return http_reply_json(req, status, agreement_json(&g, true));
}

/* {id} and ?client_id= of the routes on one agreement. */
static int ag_target(struct http_req *req, int64_t *client_id, int64_t *id)
{
    int rc = api_path_id(req, "id", "agreement", id);
    if (rc) return rc;
    return api_query_client_id(req, false, client_id);
}

/* --- the catalogue -------------------------------------------------------------------------------- */

int api_service_kind_list(struct http_req *req)
{
    struct service_kind *items;
    size_t n;
    int rc = agreement_service_kinds(&req->ctx, &items, &n, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, kind_json(&items[i]));
    return http_reply_json(req, 200, json_pack("{s:o}", "items", arr));
}

int api_service_kind_create(struct http_req *req)
{
    struct service_kind_input in = {0};
    int rc;
    if ((rc = http_json_string(req, "code", true, API_SHORT_MAX, &in.code)) != 0) return rc;
    if ((rc = http_json_string(req, "name_zh", true, API_TEXT_MAX, &in.name_zh)) != 0) return rc;
    if ((rc = http_json_string(req, "name_en", true, API_TEXT_MAX, &in.name_en)) != 0) return rc;
    json_t *t = json_object_get(req->json, "targets");
    if (!t || json_is_null(t)) return ag_bad(req, "targets", "is required");
    if ((rc = ag_targets(req, t, "targets", &in.targets)) != 0) return rc;
    struct agreement_fee *fees;
    if ((rc = ag_fees(req, json_object_get(req->json, "fees"), "fees", &fees, &in.n_fees)) != 0) return rc;
    in.fees = fees;
    int64_t id;
    if ((rc = agreement_service_kind_create(&req->ctx, &in, &id, &req->err)) != 0) return rc;
    struct service_kind *items;
    size_t n;
    if ((rc = agreement_service_kinds(&req->ctx, &items, &n, &req->err)) != 0) return rc;
    for (size_t i = 0; i < n; i++)
        if (items[i].id == id) return http_reply_json(req, 201, kind_json(&items[i]));
    return kf_fail(&req->err, KF_E_INTERNAL, NULL, "the new service kind is not in the catalogue");
}

/* --- agreements ----------------------------------------------------------------------------------- */

/* GET /api/v1/agreements?client_id=&status=&after=&limit=: newest first; provider staff without
 * client_id list every client's, a client user always their own. */
int api_agreement_list(struct http_req *req)
{
    int64_t client_id, after, next = 0;
    int limit, rc;
    if ((rc = api_query_client_id(req, true, &client_id)) != 0) return rc;
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    if (limit > AGREEMENT_LIST_MAX)
        return kf_fail(&req->err, KF_E_INVALID, "limit", "limit must be 1..%d", AGREEMENT_LIST_MAX);
    const char *status = http_query(req, "status");
    if (status && strlen(status) > API_SHORT_MAX) return kf_fail(&req->err, KF_E_INVALID, "status", "unknown status");
    struct agreement *items;
    size_t n;
    if ((rc = agreement_list(&req->ctx, client_id, status, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, agreement_json(&items[i], false));
    return http_reply_json(req, 200, api_page_json(arr, next));
}

int api_agreement_create(struct http_req *req)
{
    int64_t client_id, id;
    struct agreement_input in;
    int rc;
    if ((rc = api_body_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = ag_body(req, &in)) != 0) return rc;
    /* optional: the same key again answers the first draft with 200 (duplicate submission) */
    if ((rc = http_json_string(req, "idempotency_key", false, API_SHORT_MAX, &in.idempotency_key)) != 0) return rc;
    bool existing = false;
    if ((rc = agreement_create_once(&req->ctx, client_id, &in, &id, &existing, &req->err)) != 0) return rc;
    return ag_reply_one(req, existing ? 200 : 201, client_id, id);
}

int api_agreement_get(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_target(req, &client_id, &id);
    if (rc) return rc;
    return ag_reply_one(req, 200, client_id, id);
}

/* PUT /api/v1/agreements/{id}?client_id=: replaces a draft's terms and services (the whole set). */
int api_agreement_update(struct http_req *req)
{
    int64_t client_id, id;
    struct agreement_input in;
    int rc;
    if ((rc = ag_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = ag_body(req, &in)) != 0) return rc;
    if ((rc = agreement_update_draft(&req->ctx, client_id, id, &in, &req->err)) != 0) return rc;
    return ag_reply_one(req, 200, client_id, id);
}

int api_agreement_sign_provider(struct http_req *req)
{
    int64_t client_id, id;
    int rc;
    if ((rc = ag_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = agreement_sign_provider(&req->ctx, client_id, id, &req->err)) != 0) return rc;
    return ag_reply_one(req, 200, client_id, id);
}

int api_agreement_sign_client(struct http_req *req)
{
    int64_t client_id, id;
    int rc;
    if ((rc = ag_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = agreement_sign_client(&req->ctx, client_id, id, &req->err)) != 0) return rc;
    return ag_reply_one(req, 200, client_id, id);
}

/* POST /api/v1/agreements/{id}/dissolve?client_id= {"ground", "effective_at", "evidence_file_ids"}. */
int api_agreement_dissolve(struct http_req *req)
{
    int64_t client_id, id;
    struct agreement_dissolution in = {0};
    int rc;
    if ((rc = ag_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = http_json_string(req, "ground", false, API_SHORT_MAX, &in.ground)) != 0) return rc;
    if ((rc = ag_int(req, req->json, "effective_at", "effective_at", false, 0, INT64_MAX, &in.effective_at)) != 0)
        return rc;
    json_t *ev = json_object_get(req->json, "evidence_file_ids");
    if (ev && !json_is_null(ev)) {
        if (!json_is_array(ev) || json_array_size(ev) > AG_EVIDENCE_API_MAX)
            return ag_bad(req, "evidence_file_ids", "must be an array of file ids");
        size_t n = json_array_size(ev);
        int64_t *ids = arena_zalloc(req->arena, sizeof *ids * (n ? n : 1));
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(ev, i);
            const char *f = arena_printf(req->arena, "evidence_file_ids[%zu]", i);
            if (json_is_string(x)) {
                if (id_parse(json_string_value(x), &ids[i]) != 0) return ag_bad(req, f, "must be a file id");
            } else if (json_is_integer(x) && json_integer_value(x) > 0) {
                ids[i] = json_integer_value(x);
            } else {
                return ag_bad(req, f, "must be a file id");
            }
        }
        in.evidence = ids;
        in.n_evidence = n;
    }
    bool effective;
    rc = agreement_dissolve(&req->ctx, client_id, id, &in, &effective, &req->err);
    if (rc == KF_E_INVALID && req->err.field && strcmp(req->err.field, "evidence") == 0)
        req->err.field = "evidence_file_ids";
    if (rc) return rc;
    return ag_reply_one(req, 200, client_id, id);
}

/* GET /api/v1/agreements/{id}/export?client_id= (C10.3.2): the agreement with its services, its fee
 * items and its files' metadata as one JSON download, in every status — after the end the client keeps
 * read-only access and takes its data with it. Handing it out is a disclosure, recorded in the audit
 * trail (agreement_export_disclosed) before the bytes leave. */
static json_t *change_json(const struct agreement_change *ch);

int api_agreement_export(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_target(req, &client_id, &id);
    if (rc) return rc;
    struct agreement g;
    if ((rc = agreement_get(&req->ctx, client_id, id, &g, &req->err)) != 0) return rc;
    struct file_meta *files;
    size_t n_files;
    if ((rc = file_list_for_owner(&req->ctx, client_id, "agreement", id, &files, &n_files, &req->err)) != 0) return rc;
    int64_t *file_ids = arena_zalloc(req->arena, sizeof *file_ids * (n_files ? n_files : 1));
    json_t *farr = json_array();
    for (size_t i = 0; i < n_files; i++) {
        const struct file_meta *f = &files[i];
        file_ids[i] = f->id;
        json_array_append_new(farr, json_pack("{s:o,s:s,s:s,s:I,s:s,s:o,s:I}", "id", http_json_id(f->id), "name", f->name,
                                              "media_type", f->media_type, "size", (json_int_t)f->size, "sha256",
                                              f->sha256, "uploaded_by", ag_opt_id(f->uploaded_by), "created",
                                              (json_int_t)f->created));
    }
    json_t *fees = json_array();
    for (size_t i = 0; i < g.n_services; i++)
        for (size_t j = 0; j < g.services[i].n_fees; j++)
            json_array_append_new(fees, json_pack("{s:s,s:s,s:I}", "service", g.services[i].kind, "kind",
                                                  g.services[i].fees[j].kind, "amount_fen",
                                                  (json_int_t)g.services[i].fees[j].amount_fen));
    /* the service changes (C8.1.1), and the notices about it with their bodies (C11.1.1) for viewers of
     * the register: the client's own correspondence leaves with its data */
    struct agreement_change *changes;
    size_t n_changes;
    json_t *carr = json_array();
    if (agreement_change_list(&req->ctx, client_id, id, &changes, &n_changes, &req->err) == 0)
        for (size_t i = n_changes; i-- > 0;) json_array_append_new(carr, change_json(&changes[i]));
    kf_err_clear(&req->err);
    struct notice *notices = NULL;
    size_t n_notices = 0;
    bool with_notices = notice_list_for_agreement(&req->ctx, client_id, id, &notices, &n_notices, &req->err) == 0;
    kf_err_clear(&req->err);
    int64_t *notice_ids = arena_zalloc(req->arena, sizeof *notice_ids * (n_notices ? n_notices : 1));
    for (size_t i = 0; i < n_notices; i++) notice_ids[i] = notices[i].id;
    /* the disclosure is recorded before the bytes leave: the files and the notices handed out */
    if ((rc = agreement_export_disclosed_notices(&req->ctx, client_id, id, file_ids, n_files,
                                                 with_notices ? notice_ids : NULL, n_notices, &req->err)) != 0) {
        json_decref(farr);
        json_decref(fees);
        json_decref(carr);
        return rc;
    }
    json_t *a = agreement_json(&g, true);
    json_t *services = json_incref(json_object_get(a, "services"));
    json_object_del(a, "services");
    json_t *out = json_pack("{s:s,s:I,s:o,s:o,s:o,s:o,s:o}", "format", "kefu.agreement.export.v1", "exported_at",
                            (json_int_t)clock_now_ms(req->ctx.env->clock), "agreement", a, "services", services, "fees",
                            fees, "files", farr, "changes", carr);
    if (with_notices) {
        json_t *narr = json_array();
        for (size_t i = 0; i < n_notices; i++) {
            json_t *o = api_notice_json(&notices[i], false);
            json_object_set_new(o, "body", json_string(notices[i].body ? notices[i].body : ""));
            json_array_append_new(narr, o);
        }
        json_object_set_new(out, "notices", narr);
    }
    http_reply_header(req, "Content-Disposition",
                      arena_printf(req->arena, "attachment; filename=\"agreement-%lld.json\"", (long long)id));
    return http_reply_json(req, 200, out);
}

/* --- service changes and term history (C8.1.1) ----------------------------------------------------- */

static json_t *change_json(const struct agreement_change *ch)
{
    json_t *services = ch->services_changed && ch->services_json ? json_loads(ch->services_json, 0, NULL) : NULL;
    if (services && !json_is_array(services)) json_decref(services), services = NULL;
    json_t *o = json_pack("{s:o,s:o,s:o,s:s,s:s,s:I,s:b,s:b}", "id", http_json_id(ch->id), "agreement_id",
                          http_json_id(ch->agreement_id), "client_id", http_json_id(ch->client_id), "status",
                          ch->status ? ch->status : "", "summary", ch->summary ? ch->summary : "", "effective_at",
                          (json_int_t)ch->effective_at, "services_changed", ch->services_changed, "calendar_changed",
                          ch->calendar_changed);
    json_object_set_new(o, "services", services ? services : json_null());
    json_object_set_new(o, "calendar_before", ch->calendar_changed ? ag_opt_id(ch->calendar_before) : json_null());
    json_object_set_new(o, "calendar_after", ch->calendar_changed ? ag_opt_id(ch->calendar_after) : json_null());
    json_object_set_new(o, "notice_id", ag_opt_id(ch->notice_id));
    json_object_set_new(o, "notice_delivered_at", ag_opt_time(ch->notice_delivered_at));
    json_object_set_new(o, "withdraw_notice_id", ag_opt_id(ch->withdraw_notice_id));
    json_object_set_new(o, "proposed_by", ag_opt_id(ch->proposed_by));
    json_object_set_new(o, "applied_at", ag_opt_time(ch->applied_at));
    json_object_set_new(o, "withdrawn_by", ag_opt_id(ch->withdrawn_by));
    json_object_set_new(o, "withdrawn_at", ag_opt_time(ch->withdrawn_at));
    json_object_set_new(o, "created", json_integer(ch->created));
    json_object_set_new(o, "updated", json_integer(ch->updated));
    return o;
}

static int change_reply_one(struct http_req *req, int status, int64_t client_id, int64_t id, int64_t change_id)
{
    struct agreement_change ch;
    int rc = agreement_change_get(&req->ctx, client_id, id, change_id, &ch, &req->err);
    if (rc) return rc;
    return http_reply_json(req, status, change_json(&ch));
}

/* POST /api/v1/agreements/{id}/changes?client_id= {"summary", "effective_at", "services", "calendar_id"}:
 * services is the new full set (as in a draft) or absent (unchanged); calendar_id likewise. */
int api_agreement_change_create(struct http_req *req)
{
    int64_t client_id, id, change_id;
    struct agreement_change_input in = {0};
    int rc;
    if ((rc = ag_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = http_json_string(req, "summary", true, AGREEMENT_CHANGE_SUMMARY_MAX, &in.summary)) != 0) return rc;
    if ((rc = ag_int(req, req->json, "effective_at", "effective_at", true, 1, INT64_C(1) << 50, &in.effective_at)) != 0)
        return rc;
    if ((rc = ag_calendar_id(req, &in.calendar_id)) != 0) return rc;
    if ((rc = ag_services_of(req, false, &in.services, &in.n_services)) != 0) return rc;
    if (in.n_services == 0 && json_is_array(json_object_get(req->json, "services")))
        return ag_bad(req, "services", "must name at least one service (leave it out to keep the services)");
    if ((rc = agreement_change_propose(&req->ctx, client_id, id, &in, &change_id, &req->err)) != 0) return rc;
    return change_reply_one(req, 201, client_id, id, change_id);
}

/* GET /api/v1/agreements/{id}/changes?client_id=: every change, newest first, with its status. */
int api_agreement_change_list(struct http_req *req)
{
    int64_t client_id, id;
    int rc;
    if ((rc = ag_target(req, &client_id, &id)) != 0) return rc;
    struct agreement_change *items;
    size_t n;
    if ((rc = agreement_change_list(&req->ctx, client_id, id, &items, &n, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, change_json(&items[i]));
    return http_reply_json(req, 200, json_pack("{s:o}", "items", arr));
}

/* POST /api/v1/agreements/{id}/changes/{change}/withdraw?client_id=: a pending change, before its instant. */
int api_agreement_change_withdraw(struct http_req *req)
{
    int64_t client_id, id, change_id;
    int rc;
    if ((rc = ag_target(req, &client_id, &id)) != 0) return rc;
    if ((rc = api_path_id(req, "change", "change", &change_id)) != 0) return rc;
    if ((rc = agreement_change_withdraw(&req->ctx, client_id, id, change_id, &req->err)) != 0) return rc;
    return change_reply_one(req, 200, client_id, id, change_id);
}

/* GET /api/v1/agreements/{id}/terms?client_id=&at=MS: the terms in force at `at` (absent: now). */
int api_agreement_terms(struct http_req *req)
{
    int64_t client_id, id, at;
    int rc;
    if ((rc = ag_target(req, &client_id, &id)) != 0) return rc;
    const char *q = http_query(req, "at");
    if (q) {
        if (strlen(q) > 20 || text_parse_int64(q, &at) != 0 || at < 0)
            return kf_fail(&req->err, KF_E_INVALID, "at", "at is an instant in UTC milliseconds");
    } else {
        at = clock_now_ms(req->ctx.env->clock);
    }
    struct agreement_terms t;
    if ((rc = agreement_terms_at(NULL, &req->ctx, client_id, id, at, &t, &req->err)) != 0) return rc;
    json_t *o = json_pack("{s:o,s:o,s:I,s:o,s:s,s:i,s:s,s:i,s:o}", "agreement_id", http_json_id(t.agreement_id),
                          "client_id", http_json_id(t.client_id), "at", (json_int_t)t.at, "calendar_id",
                          http_json_id(t.calendar_id), "calendar_zone", t.calendar_zone ? t.calendar_zone : "",
                          "notice_days", t.notice_days, "acceptance_by", t.acceptance_by ? t.acceptance_by : "",
                          "acceptance_days", t.acceptance_days, "change_id", ag_opt_id(t.change_id));
    json_object_set_new(o, "services", ag_services_json(t.services, t.n_services));
    return http_reply_json(req, 200, o);
}
