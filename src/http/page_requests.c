/* The service-request pages (issue 6 item 5; C3.2.1, C5.2): the list with its filters, the form for a
 * new request, and a request's page with its conversation, calls, time, attachments, history and the
 * forms for what the viewer may do (reply — a team's canned reply too —, internal note, status, priority,
 * assignment, a call, time), its SLA clocks and breaches (request_sla.h), and the client's accept /
 * reject of a resolution (request_accept.h).
 * Every decision is the domain's (request.h): another client's request is 404, and internal notes
 * reach this file only for provider staff, because request_messages does not select them for anyone
 * else. This file parses forms, shapes pages and shows a refused form again beside its field.
 * docs/requests.md "Pages". */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/ids.h"
#include "domain/agreement.h"
#include "domain/customer.h"
#include "domain/file.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/request.h"
#include "domain/request_accept.h"
#include "domain/request_sla.h"
#include "domain/canned.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"
#include "render/i18n.h"
#include "render/markdown.h"
#include "render/template.h"

#define RQ_PAGE_SIZE 50
#define RQ_SUBJECT_BYTES (REQUEST_SUBJECT_MAX * 4)   /* the domain counts characters */
#define RQ_CHOICE_MAX 200                          /* clients, users offered in a select */
#define ANY_CLIENT 1                               /* stands for "a client" in the provider scope */

static const char *const call_kinds[] = {"phone", "remote", NULL};

/* --- shared pieces ------------------------------------------------------------------------------- */

static const char *query_value(struct http_req *req, const char *key)
{
    const char *v = http_query(req, key);
    return v && *v ? v : NULL;
}

static const char *id_text(struct http_req *req, int64_t id)
{
    return arena_printf(req->arena, "%lld", (long long)id);
}

static bool allowed(struct http_req *req, enum action act, int64_t client_id)
{
    struct object_ref o = {.client_id = client_id};
    return policy_check(&req->actor, act, &o) == 0;
}

static int require(struct http_req *req, enum action act, int64_t client_id)
{
    struct object_ref o = {.client_id = client_id};
    int rc = policy_check(&req->actor, act, &o);
    return rc ? kf_fail(&req->err, rc, NULL, "%s", policy_action_name(act)) : 0;
}

/* "P1".."P4" → 1..4; absent 0; anything else KF_E_INVALID on `priority` (P9 too). */
static int parse_priority(struct http_req *req, const char *s, int *out)
{
    *out = 0;
    if (!s || !*s) return 0;
    if (strlen(s) == 2 && s[0] == 'P' && s[1] >= '1' && s[1] <= '4') {
        *out = s[1] - '0';
        return 0;
    }
    return kf_fail(&req->err, KF_E_INVALID, "priority", "priority must be one of P1..P4");
}

/* An optional id field of a form: "" or absent is 0. */
static int form_id(struct http_req *req, const char *key, int64_t *out)
{
    const char *s = NULL;
    *out = 0;
    int rc = http_json_string(req, key, false, API_SHORT_MAX, &s);
    if (rc) return rc;
    if (!s || !*s) return 0;
    if (id_parse(s, out) != 0 || *out <= 0) return kf_fail(&req->err, KF_E_INVALID, key, "%s must be an id", key);
    return 0;
}

/* A repeated field arrives as an array, which a template cannot print: show its first value. */
static void keep_strings_only(json_t *form)
{
    const char *key;
    json_t *v, *tmp;
    json_object_foreach_safe(form, tmp, key, v) {
        if (json_is_string(v)) continue;
        json_t *first = json_is_array(v) ? json_array_get(v, 0) : NULL;
        json_object_set_new(form, key, json_string(json_is_string(first) ? json_string_value(first) : ""));
    }
}

/* Puts req->err into d[form] = {errors, form} (the submitted values) and a summary into d.error; a
 * field with its own catalogue text (requests.error.<field>) gets that. Returns the status. */
static int form_fail(struct http_req *req, json_t *d, const char *form, const char *const *fields)
{
    json_t *tmp = json_object();
    int status = page_form_error(req, tmp);
    json_t *errors = json_object_get(tmp, "errors");
    if (req->err.field) {
        const char *own = i18n_lookup(page_locale(req), arena_printf(req->arena, "requests.error.%s", req->err.field));
        if (own) json_object_set_new(errors, req->err.field, json_string(own));
        json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, "form.errors_title")));
    } else {
        json_object_set(d, "error", json_object_get(tmp, "error"));
    }
    page_keep_form(req, tmp, fields);
    keep_strings_only(json_object_get(tmp, "form"));
    json_object_set_new(d, form, json_pack("{s:O,s:O}", "errors", errors, "form", json_object_get(tmp, "form")));
    json_decref(tmp);
    return status;
}

/* A refusal a form shows beside its fields: bad input, a conflict (a closed request, a transition
 * the table forbids, no agreement in force), a file refused. Everything else is an error page. */
static bool form_error(int rc)
{
    return rc == KF_E_INVALID || rc == KF_E_CONFLICT || rc == KF_E_TOO_LARGE || rc == KF_E_FILE_TYPE ||
           rc == KF_E_LIMIT;
}

/* For provider staff: `clients` (a select of client organisations, `selected` marked). */
static void client_choice(struct http_req *req, json_t *d, int64_t selected)
{
    if (req->actor.client_id != 0) return;
    struct org *items;
    size_t n;
    int64_t next;
    struct kf_err err;
    if (org_list_clients(&req->ctx, 0, RQ_CHOICE_MAX, &items, &n, &next, &err) != 0) {
        json_object_set_new(d, "client_text", json_true());
        if (selected) json_object_set_new(d, "client_value", json_string(id_text(req, selected)));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:o,s:s,s:b}", "id", http_json_id(items[i].id), "name",
                                             items[i].name ? items[i].name : "", "selected", items[i].id == selected));
    json_object_set_new(d, "clients", arr);
}

/* The provider's active users, for the assignee select and names (empty when the viewer may not list them). */
static size_t provider_users(struct http_req *req, struct user **items_r)
{
    int64_t next;
    size_t n = 0;
    struct kf_err err;
    if (user_list(&req->ctx, 0, 0, RQ_CHOICE_MAX, items_r, &n, &next, &err) != 0) return 0;
    return n;
}

static const char *user_name(const struct user *users, size_t n, int64_t id, struct http_req *req)
{
    for (size_t i = 0; i < n; i++)
        if (users[i].id == id) return users[i].display_name && *users[i].display_name ? users[i].display_name
                                                                                        : users[i].username;
    return id_text(req, id);
}

static const char *prio_text(struct http_req *req, int p)
{
    return arena_printf(req->arena, "P%d", p);
}

static json_t *request_row(struct http_req *req, const struct request *r)
{
    return json_pack("{s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:I}", "id", http_json_id(r->id), "client_id",
                     http_json_id(r->client_id), "number", r->number ? r->number : "", "subject",
                     r->subject ? r->subject : "", "status_key",
                     arena_printf(req->arena, "requests.status.%s", r->status ? r->status : "new"), "status",
                     r->status ? r->status : "", "channel_key",
                     arena_printf(req->arena, "requests.channel.%s", r->channel ? r->channel : "web"), "priority",
                     prio_text(req, r->priority), "urgent", r->priority <= 2, "created", (json_int_t)r->created,
                     "updated", (json_int_t)r->updated);
}

/* One SLA clock for a page (C3.1.2): its state, the due instant (0: unknown while paused), and the
 * business minutes counted against the target, so the countdown respects business hours. */
static json_t *sla_clock_json(struct http_req *req, const struct request_sla_clock *k, const char *status)
{
    int64_t counted = k->clock.counted_ms / 60000, left = k->target_minutes - counted;
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:I,s:b}", "name_key",
                          arena_printf(req->arena, "requests.sla.%s", k->name), "state", k->state, "state_key",
                          arena_printf(req->arena, "requests.sla.state.%s", k->state), "counted", (json_int_t)counted,
                          "target", (json_int_t)k->target_minutes, "remaining", (json_int_t)(left > 0 ? left : 0),
                          "running", !k->clock.stopped, "overdue", (json_int_t)(k->clock.overdue_ms / 60000),
                          "late", k->clock.overdue_ms > 0);
    if (k->clock.due_ms) json_object_set_new(o, "due_at", json_integer(k->clock.due_ms));
    if (k->clock.paused && status && strncmp(status, "waiting_", 8) == 0)
        json_object_set_new(o, "cause_key", json_string(arena_printf(req->arena, "requests.sla.cause.%s", status + 8)));
    return o;
}

/* --- the list ------------------------------------------------------------------------------------ */

/* GET /requests?client_id=&status=&priority=&assignee_id=&channel=&after=: newest first, keyset. */
int page_requests(struct http_req *req)
{
    json_t *d = page_data(req, "requests.title", "requests");
    struct request_filter f = {.limit = RQ_PAGE_SIZE};
    int rc = 0;
    const char *cs = query_value(req, "client_id");
    if (cs && (api_parse_client_id(cs, &f.client_id) != 0 || f.client_id == 0))
        rc = kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no such client");
    if (rc) goto fail;
    client_choice(req, d, f.client_id);
    f.status = query_value(req, "status");
    f.channel = query_value(req, "channel");
    const char *prio = query_value(req, "priority"), *assignee = query_value(req, "assignee_id"),
               *after = query_value(req, "after");
    rc = parse_priority(req, prio, &f.priority);
    if (!rc && assignee && (id_parse(assignee, &f.assignee_id) != 0 || f.assignee_id <= 0))
        rc = kf_fail(&req->err, KF_E_INVALID, "assignee_id", "must be an id");
    if (!rc && after && (id_parse(after, &f.after_id) != 0 || f.after_id <= 0))
        rc = kf_fail(&req->err, KF_E_INVALID, "after", "after");
    struct request *items = NULL;
    size_t n = 0;
    int64_t next = 0;
    if (!rc) rc = request_list(&req->ctx, &f, &items, &n, &next, &req->err);
    json_object_set_new(d, "statuses", page_options(req, "requests.status", request_statuses, f.status));
    json_object_set_new(d, "channels", page_options(req, "requests.channel", request_channels, f.channel));
    json_object_set_new(d, "priorities", page_options(req, NULL, request_priorities, prio));
    if (req->actor.client_id == 0) {
        struct user *users;
        size_t nu = provider_users(req, &users);
        json_t *arr = json_array();
        for (size_t i = 0; i < nu; i++)
            json_array_append_new(arr, json_pack("{s:o,s:s,s:b}", "id", http_json_id(users[i].id), "name",
                                                 user_name(users, nu, users[i].id, req), "selected",
                                                 users[i].id == f.assignee_id));
        json_object_set_new(d, "assignees", arr);
    }
    json_object_set_new(d, "can_create", json_boolean(allowed(req, ACT_REQUEST_CREATE,
                                                              f.client_id ? f.client_id : ANY_CLIENT)));
    if (rc == KF_E_INVALID) {
        static const char *const none[] = {NULL};
        int status = form_fail(req, d, "find", none);
        return page_render(req, status, "requests/list", d);
    }
    if (rc) goto fail;
    json_t *rows = json_array();
    struct request_sla *slas = n ? arena_zalloc(req->arena, n * sizeof *slas) : NULL;
    bool *sla_ok = n ? arena_zalloc(req->arena, n * sizeof *sla_ok) : NULL;
    struct kf_err se;
    /* a list without clocks is still the list: the SLA column stays empty */
    if (n && request_sla_many(&req->ctx, items, n, slas, sla_ok, &se) != 0) memset(sla_ok, 0, n * sizeof *sla_ok);
    for (size_t i = 0; i < n; i++) {
        json_t *row = request_row(req, &items[i]);
        if (sla_ok[i]) json_object_set_new(row, "sla", sla_clock_json(req, &slas[i].resolution, items[i].status));
        json_array_append_new(rows, row);
    }
    json_object_set_new(d, "any", json_boolean(n > 0));
    json_object_set_new(d, "requests", rows);
    if (next) {
        /* the next page keeps the filters */
        const char *q = arena_printf(req->arena, "after=%lld", (long long)next);
        if (f.client_id && req->actor.client_id == 0) q = arena_printf(req->arena, "%s&client_id=%lld", q, (long long)f.client_id);
        if (f.status) q = arena_printf(req->arena, "%s&status=%s", q, f.status);
        if (f.channel) q = arena_printf(req->arena, "%s&channel=%s", q, f.channel);
        if (f.priority) q = arena_printf(req->arena, "%s&priority=P%d", q, f.priority);
        if (f.assignee_id) q = arena_printf(req->arena, "%s&assignee_id=%lld", q, (long long)f.assignee_id);
        json_object_set_new(d, "next_query", json_string(q));
    }
    return page_render(req, 200, "requests/list", d);
fail:
    json_decref(d);
    return rc;
}

/* --- a new request ------------------------------------------------------------------------------- */

static const char *const new_fields[] = {"client_id", "customer_id", "agreement_id", "service_kind", "channel",
                                         "priority", "subject", "body", "idempotency_key", NULL};

/* A random key for the hidden idempotency_key: a double submit of the same form makes one request. */
static const char *fresh_key(struct http_req *req)
{
    unsigned char raw[16];
    char hex[sizeof raw * 2 + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    return arena_printf(req->arena, "form-%s", hex);
}

static int new_form(struct http_req *req, int status, json_t *d, int64_t client_id)
{
    client_choice(req, d, client_id);
    if (client_id) json_object_set_new(d, "client_id", json_string(id_text(req, client_id)));
    json_t *c = json_object_get(d, "create");
    if (!c) {
        json_object_set_new(d, "create", json_pack("{s:{}}", "form"));
        c = json_object_get(d, "create");
    }
    json_t *form = json_object_get(c, "form");
    if (!json_is_object(form)) json_object_set_new(c, "form", form = json_object());
    const char *key = json_string_value(json_object_get(form, "idempotency_key"));
    if (!key || !*key) json_object_set_new(form, "idempotency_key", json_string(fresh_key(req)));
    bool provider = req->actor.client_id == 0;
    const char *ch = json_string_value(json_object_get(form, "channel"));
    if (provider) json_object_set_new(c, "channels", page_options(req, "requests.channel", request_channels, ch ? ch : "phone"));
    const char *pr = json_string_value(json_object_get(form, "priority"));
    json_object_set_new(c, "priorities", page_options(req, NULL, request_priorities, pr && *pr ? pr : "P3"));
    struct service_kind *kinds;
    size_t nk = 0;
    struct kf_err err;
    const char *sk = json_string_value(json_object_get(form, "service_kind"));
    json_t *karr = json_array();
    if (agreement_service_kinds(&req->ctx, &kinds, &nk, &err) == 0) {
        bool zh = strcmp(page_locale(req), "zh-CN") == 0;
        for (size_t i = 0; i < nk; i++)
            json_array_append_new(karr, json_pack("{s:s,s:s,s:b}", "value", kinds[i].code, "label",
                                                  zh ? kinds[i].name_zh : kinds[i].name_en, "selected",
                                                  sk && strcmp(sk, kinds[i].code) == 0));
    }
    json_object_set_new(c, "kinds", karr);
    if (client_id) {
        struct agreement *ags;
        size_t na = 0;
        int64_t next;
        const char *ag = json_string_value(json_object_get(form, "agreement_id"));
        json_t *aarr = json_array();
        if (agreement_list(&req->ctx, client_id, "active", 0, 50, &ags, &na, &next, &err) == 0)
            for (size_t i = 0; i < na; i++) {
                const char *v = id_text(req, ags[i].id);
                json_array_append_new(aarr, json_pack("{s:s,s:s,s:b}", "value", v, "label",
                                                      *ags[i].contract_number ? ags[i].contract_number : ags[i].draft_ref,
                                                      "selected", ag && strcmp(ag, v) == 0));
            }
        json_object_set_new(c, "has_agreements", json_boolean(json_array_size(aarr) > 0));
        json_object_set_new(c, "agreements", aarr);
    }
    return page_render(req, status, "requests/new", d);
}

/* GET /requests/new?client_id=: the form (provider staff choose the client in it). */
int page_request_new(struct http_req *req)
{
    int64_t client_id = req->actor.client_id;
    const char *cs = query_value(req, "client_id");
    /* another client's id is refused by the policy below (404), as on the other pages */
    if (cs && (api_parse_client_id(cs, &client_id) != 0 || client_id == 0))
        return kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no such client");
    int rc = require(req, ACT_REQUEST_CREATE, client_id ? client_id : ANY_CLIENT);
    if (rc) return rc;
    json_t *d = page_data(req, "requests.new.title", "requests");
    return new_form(req, 200, d, client_id);
}

/* POST /requests (csrf, client_id, customer_id, agreement_id, service_kind, channel, priority, subject,
 * body, idempotency_key): raises the request and goes to its page; the same form twice goes to the
 * first one. A client user's request is always of their own client and on channel web. */
int page_request_create(struct http_req *req)
{
    int64_t client_id = 0, id = 0;
    int rc = api_body_client_id(req, false, &client_id);
    bool client_ok = rc == 0 && client_id != 0;
    int prc = require(req, ACT_REQUEST_CREATE, client_ok ? client_id : ANY_CLIENT);
    if (prc) return prc;
    if (!client_ok) rc = kf_fail(&req->err, KF_E_INVALID, "client_id", "choose a client");
    struct request_input in = {0};
    const char *priority = NULL;
    bool existing = false;
    if (!rc) rc = form_id(req, "customer_id", &in.customer_id);
    if (!rc) rc = form_id(req, "agreement_id", &in.agreement_id);
    if (!rc) rc = http_json_string(req, "service_kind", true, API_SHORT_MAX, &in.service_kind);
    if (!rc) rc = http_json_string(req, "channel", false, API_SHORT_MAX, &in.channel);
    if (!rc) rc = http_json_string(req, "priority", false, API_SHORT_MAX, &priority);
    if (!rc) rc = parse_priority(req, priority, &in.priority);
    if (!rc) rc = http_json_string(req, "subject", true, RQ_SUBJECT_BYTES, &in.subject);
    if (!rc) rc = http_json_string(req, "body", false, REQUEST_BODY_MAX, &in.body);
    if (!rc) rc = http_json_string(req, "idempotency_key", false, REQUEST_KEY_MAX, &in.idempotency_key);
    if (!rc) {
        if (req->actor.client_id) in.channel = "web";   /* a client user asks through the web */
        rc = request_create(&req->ctx, client_id, &in, &id, &existing, &req->err);
    }
    if (form_error(rc)) {
        json_t *d = page_data(req, "requests.new.title", "requests");
        int status = form_fail(req, d, "create", new_fields);
        return new_form(req, status, d, client_ok ? client_id : 0);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/requests/%lld?client_id=%lld&%s=1", (long long)id,
                                           (long long)client_id, existing ? "existing" : "created"));
}

/* --- one request --------------------------------------------------------------------------------- */

static int rq_ids(struct http_req *req, int64_t *client_r, int64_t *id_r)
{
    int rc = api_path_id(req, "id", "request", id_r);
    if (rc) return rc;
    const char *s = query_value(req, "client_id");
    if (!s) {
        *client_r = req->actor.client_id;
        return *client_r ? 0 : kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no client chosen");
    }
    if (api_parse_client_id(s, client_r) != 0 || *client_r == 0)
        return kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no such client");
    return 0;
}

static const char *size_text(struct http_req *req, int64_t size)
{
    if (size < 1024) return arena_printf(req->arena, "%lld B", (long long)size);
    if (size < 1024 * 1024) return arena_printf(req->arena, "%.1f KiB", (double)size / 1024.0);
    return arena_printf(req->arena, "%.1f MiB", (double)size / (1024.0 * 1024.0));
}

static const char *minutes_text(struct http_req *req, int64_t m)
{
    return arena_printf(req->arena, "%lld:%02lld", (long long)(m / 60), (long long)(m % 60));
}

static const char *duration_text(struct http_req *req, int64_t s)
{
    return arena_printf(req->arena, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                        (long long)(s % 60));
}

/* The conversation: provider staff with ACT_REQUEST_NOTE receive notes from the domain; the page
 * marks them `internal` so the template styles them apart. */
static int add_messages(struct http_req *req, json_t *d, int64_t client_id, int64_t id, const struct user *users,
                        size_t nu)
{
    struct request_message *items;
    size_t n;
    int64_t next;
    int rc = request_messages(&req->ctx, client_id, id, 0, REQUEST_LIST_MAX, &items, &n, &next, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct request_message *m = &items[i];
        char *html = NULL;
        struct kf_err e;
        json_t *row = json_pack("{s:o,s:b,s:b,s:I}", "id", http_json_id(m->id), "internal",
                                strcmp(m->kind, "internal") == 0, "from_client",
                                strcmp(m->author_side, "client") == 0, "created", (json_int_t)m->created);
        if (markdown_render_html(req->arena, m->body, strlen(m->body), &html, NULL, &e) == 0)
            json_object_set_new(row, "body_html", render_trusted(html)); /* markdown.h made it safe */
        else json_object_set_new(row, "body_text", json_string(m->body));
        /* a provider user's name when the viewer may list them; else which side wrote it */
        const char *author = NULL;
        for (size_t k = 0; k < nu && m->author_id; k++)
            if (users[k].id == m->author_id) author = user_name(users, nu, m->author_id, req);
        if (!author)
            author = page_text(req, !m->author_id ? "requests.customer_author"
                                    : strcmp(m->author_side, "client") == 0 ? "requests.client_author"
                                                                             : "requests.provider_author");
        json_object_set_new(row, "author", json_string(author));
        json_array_append_new(arr, row);
    }
    json_object_set_new(d, "messages", arr);
    return 0;
}

static int add_work(struct http_req *req, json_t *d, int64_t client_id, int64_t id, const struct user *users, size_t nu)
{
    struct request_call *calls;
    size_t nc;
    int rc = request_calls(&req->ctx, client_id, id, &calls, &nc, &req->err);
    if (rc) return rc;
    json_t *carr = json_array();
    int64_t call_total = 0;
    for (size_t i = 0; i < nc; i++) {
        call_total += calls[i].duration_s;
        json_array_append_new(carr, json_pack("{s:s,s:s,s:I,s:s,s:s}", "kind_key",
                                              arena_printf(req->arena, "requests.call.%s", calls[i].kind), "user",
                                              user_name(users, nu, calls[i].user_id, req), "started_at",
                                              (json_int_t)calls[i].started_at, "duration",
                                              duration_text(req, calls[i].duration_s), "summary",
                                              calls[i].summary ? calls[i].summary : ""));
    }
    json_object_set_new(d, "calls", carr);
    json_object_set_new(d, "calls_total", json_string(duration_text(req, call_total)));
    struct request_time_entry *te;
    size_t nt;
    int64_t total = 0, billable = 0;
    if ((rc = request_time_entries(&req->ctx, client_id, id, &te, &nt, &total, &billable, &req->err)) != 0) return rc;
    json_t *tarr = json_array();
    for (size_t i = 0; i < nt; i++)
        json_array_append_new(tarr, json_pack("{s:s,s:s,s:b,s:s,s:s,s:I}", "user", user_name(users, nu, te[i].user_id, req),
                                              "minutes", minutes_text(req, te[i].minutes), "billable", te[i].billable,
                                              "service_kind", te[i].service_kind ? te[i].service_kind : "", "note",
                                              te[i].note ? te[i].note : "", "worked_at", (json_int_t)te[i].worked_at));
    json_object_set_new(d, "time_entries", tarr);
    json_object_set_new(d, "time_total", json_string(minutes_text(req, total)));
    json_object_set_new(d, "time_billable", json_string(minutes_text(req, billable)));
    struct file_meta *files;
    size_t nf;
    if ((rc = request_attachments(&req->ctx, client_id, id, &files, &nf, &req->err)) != 0) return rc;
    json_t *farr = json_array();
    for (size_t i = 0; i < nf; i++)
        json_array_append_new(farr, json_pack("{s:o,s:s,s:s,s:s,s:I}", "id", http_json_id(files[i].id), "name",
                                              files[i].name, "media_type", files[i].media_type, "size",
                                              size_text(req, files[i].size), "created", (json_int_t)files[i].created));
    json_object_set_new(d, "files", farr);
    struct request_event *ev;
    size_t ne;
    if ((rc = request_history(&req->ctx, client_id, id, &ev, &ne, &req->err)) != 0) return rc;
    json_t *harr = json_array();
    for (size_t i = 0; i < ne; i++) {
        bool is_status = strcmp(ev[i].kind, "status") == 0;
        json_t *row = json_pack("{s:s,s:I,s:s}", "kind_key", arena_printf(req->arena, "requests.event.%s", ev[i].kind),
                                "at", (json_int_t)ev[i].at, "reason", ev[i].reason ? ev[i].reason : "");
        const char *from = ev[i].from_value ? ev[i].from_value : "", *to = ev[i].to_value ? ev[i].to_value : "";
        if (is_status) {
            if (*from) json_object_set_new(row, "from_key", json_string(arena_printf(req->arena, "requests.status.%s", from)));
            json_object_set_new(row, "to_key", json_string(arena_printf(req->arena, "requests.status.%s", to)));
        } else {
            json_object_set_new(row, "from", json_string(from));
            json_object_set_new(row, "to", json_string(to));
        }
        json_array_append_new(harr, row);
    }
    json_object_set_new(d, "history", harr);
    return 0;
}

/* The forms' select options, each keeping a value an error kept. */
static void add_forms(struct http_req *req, json_t *d, const struct request *r, const struct user *users, size_t nu)
{
    const char *names[] = {"reply", "note", "status_form", "priority_form", "assign", "call", "time", "upload", NULL};
    for (const char *const *n = names; *n; n++)
        if (!json_object_get(d, *n)) json_object_set_new(d, *n, json_pack("{s:{}}", "form"));
    json_t *sf = json_object_get(d, "status_form");
    json_t *to = json_array();
    for (const char *const *s = request_statuses; *s; s++)
        if (request_transition_allowed(r->status, *s))
            json_array_append_new(to, json_pack("{s:s,s:s}", "value", *s, "label_key",
                                                arena_printf(req->arena, "requests.status.%s", *s)));
    json_object_set_new(sf, "to", to);
    json_object_set_new(sf, "any", json_boolean(json_array_size(to) > 0));
    json_t *pf = json_object_get(d, "priority_form");
    json_object_set_new(pf, "priorities", page_options(req, NULL, request_priorities, prio_text(req, r->priority)));
    json_t *af = json_object_get(d, "assign");
    json_t *uarr = json_array();
    for (size_t i = 0; i < nu; i++)
        json_array_append_new(uarr, json_pack("{s:o,s:s,s:b}", "id", http_json_id(users[i].id), "name",
                                              user_name(users, nu, users[i].id, req), "selected",
                                              users[i].id == r->assignee_id));
    if (nu == 0 && req->actor.client_id == 0 && req->actor.user_id) {
        /* a viewer who may not list users (an agent) can still take the request themselves */
        json_array_append_new(uarr, json_pack("{s:o,s:s,s:b}", "id", http_json_id(req->actor.user_id), "name",
                                              page_text(req, "requests.me"), "selected",
                                              req->actor.user_id == r->assignee_id));
    }
    json_object_set_new(af, "users", uarr);
    struct team *teams;
    size_t nt = 0;
    struct kf_err err;
    json_t *tarr = json_array();
    if (team_list(&req->ctx, &teams, &nt, &err) == 0)
        for (size_t i = 0; i < nt; i++)
            json_array_append_new(tarr, json_pack("{s:o,s:s,s:b}", "id", http_json_id(teams[i].id), "name",
                                                  teams[i].name, "selected", teams[i].id == r->team_id));
    json_object_set_new(af, "teams", tarr);
    json_t *cf = json_object_get(d, "call");
    const char *ck = json_string_value(json_object_get(json_object_get(cf, "form"), "kind"));
    json_object_set_new(cf, "kinds", page_options(req, "requests.call", call_kinds, ck ? ck : "phone"));
}

/* The catalogue name of a service kind in the viewer's language (the code when it has none). */
static const char *kind_name(struct http_req *req, const char *code)
{
    struct service_kind *kinds;
    size_t n;
    struct kf_err err;
    if (!code) return "";
    if (agreement_service_kinds(&req->ctx, &kinds, &n, &err) != 0) return code;
    bool zh = strcmp(page_locale(req), "zh-CN") == 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kinds[i].code, code) == 0) {
            const char *name = zh ? kinds[i].name_zh : kinds[i].name_en;
            return name && *name ? name : code;
        }
    return code;
}

/* The clocks (C3.1.2) and the breach records (C5.3) of a request; the page stays without them when
 * the request has no clock (no target in its terms, no business time). */
static void add_sla(struct http_req *req, json_t *d, const struct request *r)
{
    struct request_sla s;
    struct kf_err e;
    if (request_sla_get(&req->ctx, r, &s, &e) != 0) return;
    json_t *o = json_pack("{s:o,s:o}", "first_response", sla_clock_json(req, &s.first_response, r->status), "resolution",
                          sla_clock_json(req, &s.resolution, r->status));
    struct request_sla_alert *al;
    size_t n = 0;
    json_t *arr = json_array();
    if (request_sla_alerts_of(&req->ctx, r, "breach", &al, &n, &e) == 0)
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I}", "name_key",
                                                 arena_printf(req->arena, "requests.sla.%s", al[i].clock), "cycle",
                                                 al[i].cycle, "target", (json_int_t)al[i].target_minutes, "due_at",
                                                 (json_int_t)al[i].due_at, "detected_at", (json_int_t)al[i].detected_at,
                                                 "overdue", (json_int_t)(al[i].overdue_ms / 60000), "paused_customer",
                                                 (json_int_t)(al[i].paused_customer_ms / 60000), "paused_client",
                                                 (json_int_t)(al[i].paused_client_ms / 60000)));
    json_object_set_new(o, "breaches", arr);
    json_object_set_new(o, "any_breach", json_boolean(n > 0));
    json_object_set_new(d, "sla", o);
}

/* Who decides a resolution and until when (acceptance_by / acceptance_days of the terms in force at
 * the resolution, C5.1.2); the remediations so far. The decision itself is request_accept.h's. */
static void add_acceptance(struct http_req *req, json_t *d, const struct request *r)
{
    json_t *a = json_pack("{s:i,s:b}", "remediation_count", r->remediation_count, "remediated", r->remediation_count > 0);
    bool resolved = strcmp(r->status, "resolved") == 0 && r->resolved_at;
    const char *by = "client";
    if (resolved) {
        struct agreement_terms terms;
        struct kf_err e;
        if (agreement_terms_at(NULL, &req->ctx, r->client_id, r->agreement_id, r->resolved_at, &terms, &e) == 0) {
            if (terms.acceptance_by && *terms.acceptance_by) by = terms.acceptance_by;
            int days = terms.acceptance_days > 0 ? terms.acceptance_days : AGREEMENT_DEFAULT_ACCEPTANCE_DAYS;
            json_object_set_new(a, "until", json_integer(r->resolved_at + (int64_t)days * 86400000));
        }
        json_object_set_new(a, "awaiting", json_true());
        json_object_set_new(a, "by_key", json_string(arena_printf(req->arena, "requests.accept.by_%s", by)));
    }
    bool failed = json_object_get(d, "reject_form") || json_object_get(d, "accept_form");
    bool can = resolved && strcmp(by, "client") == 0 && allowed(req, ACT_REQUEST_ACCEPT, r->client_id);
    json_object_set_new(a, "can_decide", json_boolean(can));
    json_object_set_new(a, "show", json_boolean(resolved || r->remediation_count > 0 || failed));
    json_object_set_new(d, "acceptance", a);
    if (!json_object_get(d, "accept_form")) json_object_set_new(d, "accept_form", json_pack("{s:{}}", "form"));
    if (!json_object_get(d, "reject_form")) json_object_set_new(d, "reject_form", json_pack("{s:{}}", "form"));
}

/* The canned replies of the viewer's teams (provider staff), for the reply form's select. */
static void add_canned(struct http_req *req, json_t *d)
{
    if (req->actor.client_id != 0 || !req->actor.user_id) return;
    struct team *teams;
    size_t nt = 0;
    struct kf_err e;
    if (team_list(&req->ctx, &teams, &nt, &e) != 0) return;
    json_t *arr = json_array();
    for (size_t i = 0; i < nt; i++) {
        int64_t *members;
        size_t nm = 0;
        bool member = false;
        if (team_members(&req->ctx, teams[i].id, &members, &nm, &e) != 0) continue;
        for (size_t k = 0; k < nm; k++) member = member || members[k] == req->actor.user_id;
        struct canned_reply *items;
        size_t n = 0;
        if (!member || canned_list(&req->ctx, teams[i].id, &items, &n, &e) != 0) continue;
        for (size_t k = 0; k < n; k++)
            json_array_append_new(arr, json_pack("{s:o,s:s}", "id", http_json_id(items[k].id), "title",
                                                 arena_printf(req->arena, "%s · %s", teams[i].name, items[k].title)));
    }
    json_object_set_new(d, "has_canned", json_boolean(json_array_size(arr) > 0));
    if (json_array_size(arr)) json_object_set_new(d, "canned", arr);
    else json_decref(arr);
}

/* Renders a request's page. Consumes d. */
static int request_page(struct http_req *req, int status, json_t *d, int64_t client_id, int64_t id)
{
    struct request r;
    int rc = request_get(&req->ctx, client_id, id, &r, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    bool provider = req->actor.client_id == 0;
    struct user *users = NULL;
    size_t nu = provider ? provider_users(req, &users) : 0;
    if ((rc = add_messages(req, d, client_id, id, users, nu)) != 0 || (rc = add_work(req, d, client_id, id, users, nu)) != 0) {
        json_decref(d);
        return rc;
    }
    json_t *row = request_row(req, &r);
    char *html = NULL;
    struct kf_err e;
    if (r.body && *r.body && markdown_render_html(req->arena, r.body, strlen(r.body), &html, NULL, &e) == 0)
        json_object_set_new(row, "body_html", render_trusted(html));
    json_object_set_new(row, "agreement_id", http_json_id(r.agreement_id));
    json_object_set_new(row, "service_kind", json_string(kind_name(req, r.service_kind)));
    if (r.customer_id) {
        struct customer cu;
        /* the customer's name when the viewer may read customers (the read is audited) */
        if (allowed(req, ACT_CUSTOMER_READ, client_id) && customer_get(&req->ctx, client_id, r.customer_id, &cu, &e) == 0)
            json_object_set_new(row, "customer", json_pack("{s:o,s:s}", "id", http_json_id(cu.id), "name",
                                                           cu.name ? cu.name : ""));
        else json_object_set_new(row, "customer", json_pack("{s:o,s:s}", "id", http_json_id(r.customer_id), "name",
                                                            id_text(req, r.customer_id)));
    }
    if (r.assignee_id) json_object_set_new(row, "assignee", json_string(provider ? user_name(users, nu, r.assignee_id, req)
                                                                                  : page_text(req, "requests.assigned")));
    if (r.team_id) {
        json_object_set_new(row, "team", json_string(id_text(req, r.team_id)));
        struct team *teams;
        size_t nt;
        if (provider && team_list(&req->ctx, &teams, &nt, &e) == 0)
            for (size_t i = 0; i < nt; i++)
                if (teams[i].id == r.team_id) json_object_set_new(row, "team", json_string(teams[i].name));
    }
    if (r.first_response_at) json_object_set_new(row, "first_response_at", json_integer(r.first_response_at));
    if (r.resolved_at) json_object_set_new(row, "resolved_at", json_integer(r.resolved_at));
    json_object_set_new(d, "title", json_string(arena_printf(req->arena, "%s %s", r.number, r.subject)));
    json_object_set_new(d, "request", row);
    json_object_set_new(d, "client_id", json_string(id_text(req, client_id)));
    json_object_set_new(d, "provider", json_boolean(provider));
    bool closed = strcmp(r.status, "closed") == 0;
    json_object_set_new(d, "can_reply", json_boolean(!closed && allowed(req, ACT_REQUEST_REPLY, client_id)));
    json_object_set_new(d, "can_note", json_boolean(allowed(req, ACT_REQUEST_NOTE, client_id)));
    json_object_set_new(d, "can_update", json_boolean(allowed(req, ACT_REQUEST_UPDATE, client_id)));
    json_object_set_new(d, "can_edit", json_boolean(!closed && allowed(req, ACT_REQUEST_UPDATE, client_id)));
    json_object_set_new(d, "can_assign", json_boolean(!closed && allowed(req, ACT_REQUEST_ASSIGN, client_id)));
    json_object_set_new(d, "can_log", json_boolean(allowed(req, ACT_REQUEST_LOG, client_id)));
    json_object_set_new(d, "can_upload", json_boolean(!closed && allowed(req, ACT_REQUEST_REPLY, client_id) &&
                                                      allowed(req, ACT_FILE_UPLOAD, client_id)));
    json_object_set_new(d, "closed", json_boolean(closed));
    add_forms(req, d, &r, users, nu);
    add_sla(req, d, &r);
    add_acceptance(req, d, &r);
    add_canned(req, d);
    return page_render(req, status, "requests/show", d);
}

/* GET /requests/{id}?client_id= */
int page_request_show(struct http_req *req)
{
    int64_t client_id, id;
    int rc = rq_ids(req, &client_id, &id);
    if (rc) return rc;
    json_t *d = page_data(req, NULL, "requests");
    static const char *const notices[] = {"created", "existing", "replied", "noted", "moved", "saved", "assigned",
                                          "logged", "uploaded", "accepted", "rejected", NULL};
    for (const char *const *n = notices; *n; n++)
        if (http_query(req, *n))
            json_object_set_new(d, "notice_key", json_string(arena_printf(req->arena, "requests.notice.%s", *n)));
    return request_page(req, 200, d, client_id, id);
}

/* After an action: back to the request's page with a notice, or the page again with the form's error. */
static int after_action(struct http_req *req, int rc, int64_t client_id, int64_t id, const char *form,
                        const char *const *fields, const char *notice, const char *anchor)
{
    if (form_error(rc)) {
        json_t *d = page_data(req, NULL, "requests");
        int status = form_fail(req, d, form, fields);
        return request_page(req, status, d, client_id, id);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/requests/%lld?client_id=%lld&%s=1#%s", (long long)id,
                                           (long long)client_id, notice, anchor));
}

static int post_message(struct http_req *req, bool internal)
{
    static const char *const fields[] = {"body", "canned_reply_id", NULL};
    int64_t client_id, id, mid;
    int rc = rq_ids(req, &client_id, &id);
    if (!rc) rc = require(req, internal ? ACT_REQUEST_NOTE : ACT_REQUEST_REPLY, client_id);
    if (rc) return rc;
    const char *body = NULL;
    int64_t canned_id = 0;
    /* a reply may be a team's canned reply (canned.h), filled for this request, instead of a body */
    if (!internal) rc = form_id(req, "canned_reply_id", &canned_id);
    if (!rc && canned_id) {
        rc = http_json_string(req, "body", false, REQUEST_BODY_MAX, &body);
        if (!rc && body && *body) rc = kf_fail(&req->err, KF_E_INVALID, "body", "must be empty with a canned reply");
        if (!rc) rc = canned_render(&req->ctx, canned_id, client_id, id, &body, &req->err);
        if (rc == KF_E_NOT_FOUND || rc == KF_E_FORBIDDEN) rc = kf_fail(&req->err, KF_E_INVALID, "canned_reply_id", "no such canned reply");
    } else if (!rc) {
        rc = http_json_string(req, "body", true, REQUEST_BODY_MAX, &body);
    }
    if (!rc) rc = internal ? request_note(&req->ctx, client_id, id, body, &mid, &req->err)
                           : request_reply(&req->ctx, client_id, id, body, &mid, &req->err);
    return after_action(req, rc, client_id, id, internal ? "note" : "reply", fields, internal ? "noted" : "replied",
                        "conversation");
}

/* POST /requests/{id}/replies?client_id= (csrf, body): a public reply. */
int page_request_reply(struct http_req *req)
{
    return post_message(req, false);
}

/* POST /requests/{id}/notes?client_id= (csrf, body): an internal note (provider staff). */
int page_request_note(struct http_req *req)
{
    return post_message(req, true);
}

/* POST /requests/{id}/status?client_id= (csrf, status, reason). */
int page_request_status(struct http_req *req)
{
    static const char *const fields[] = {"status", "reason", NULL};
    int64_t client_id, id;
    int rc = rq_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_REQUEST_UPDATE, client_id);
    if (rc) return rc;
    const char *to = NULL, *reason = NULL;
    rc = http_json_string(req, "status", true, API_SHORT_MAX, &to);
    if (!rc) rc = http_json_string(req, "reason", false, API_TEXT_MAX, &reason);
    if (!rc) rc = request_set_status(&req->ctx, client_id, id, to, reason, &req->err);
    return after_action(req, rc, client_id, id, "status_form", fields, "moved", "actions");
}

/* POST /requests/{id}/priority?client_id= (csrf, priority, reason). */
int page_request_priority(struct http_req *req)
{
    static const char *const fields[] = {"priority", "reason", NULL};
    int64_t client_id, id;
    int rc = rq_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_REQUEST_UPDATE, client_id);
    if (rc) return rc;
    struct request_change ch = {0};
    const char *prio = NULL;
    rc = http_json_string(req, "priority", true, API_SHORT_MAX, &prio);
    if (!rc) rc = parse_priority(req, prio, &ch.priority);
    if (!rc && !ch.priority) rc = kf_fail(&req->err, KF_E_INVALID, "priority", "priority is required");
    if (!rc) rc = http_json_string(req, "reason", false, API_TEXT_MAX, &ch.reason);
    if (!rc) rc = request_update(&req->ctx, client_id, id, &ch, &req->err);
    return after_action(req, rc, client_id, id, "priority_form", fields, "saved", "actions");
}

/* POST /requests/{id}/assign?client_id= (csrf, assignee_id, team_id: "" for nobody / none). */
int page_request_assign(struct http_req *req)
{
    static const char *const fields[] = {"assignee_id", "team_id", NULL};
    int64_t client_id, id, assignee = 0, team = 0;
    int rc = rq_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_REQUEST_ASSIGN, client_id);
    if (rc) return rc;
    rc = form_id(req, "assignee_id", &assignee);
    if (!rc) rc = form_id(req, "team_id", &team);
    if (!rc) rc = request_assign(&req->ctx, client_id, id, assignee, team, &req->err);
    return after_action(req, rc, client_id, id, "assign", fields, "assigned", "actions");
}

/* A whole number field of a form, min..max. */
static int form_int(struct http_req *req, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const char *s = NULL;
    int rc = http_json_string(req, key, true, 20, &s);
    if (rc) return rc;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < min || v > max) return kf_fail(&req->err, KF_E_INVALID, key, "%s out of range", key);
    *out = v;
    return 0;
}

/* POST /requests/{id}/calls?client_id= (csrf, kind, minutes, summary): a call that ended just now. */
int page_request_call(struct http_req *req)
{
    static const char *const fields[] = {"kind", "minutes", "summary", NULL};
    int64_t client_id, id, cid, minutes = 0;
    int rc = rq_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_REQUEST_LOG, client_id);
    if (rc) return rc;
    struct request_call_input in = {0};
    rc = http_json_string(req, "kind", true, API_SHORT_MAX, &in.kind);
    if (!rc) rc = form_int(req, "minutes", 0, REQUEST_CALL_MAX_S / 60, &minutes);
    if (!rc) rc = http_json_string(req, "summary", false, REQUEST_SUMMARY_MAX, &in.summary);
    if (!rc) {
        int64_t now = clock_now_ms(req->ctx.env->clock);
        in.duration_s = minutes * 60;
        in.started_at = now - in.duration_s * 1000 > 0 ? now - in.duration_s * 1000 : now;
        rc = request_log_call(&req->ctx, client_id, id, &in, &cid, &req->err);
        if (rc == KF_E_INVALID && req->err.field && strcmp(req->err.field, "duration_s") == 0) req->err.field = "minutes";
    }
    return after_action(req, rc, client_id, id, "call", fields, "logged", "work");
}

/* POST /requests/{id}/time-entries?client_id= (csrf, minutes, billable, note). */
int page_request_time(struct http_req *req)
{
    static const char *const fields[] = {"minutes", "note", NULL};
    int64_t client_id, id, eid, minutes = 0;
    int rc = rq_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_REQUEST_LOG, client_id);
    if (rc) return rc;
    struct request_time_input in = {0};
    const char *billable = NULL;
    rc = form_int(req, "minutes", 1, REQUEST_MINUTES_MAX, &minutes);
    if (!rc) rc = http_json_string(req, "billable", false, API_SHORT_MAX, &billable);
    if (!rc) rc = http_json_string(req, "note", false, 400, &in.note);
    if (!rc) {
        in.minutes = (int)minutes;
        in.billable = billable && *billable;
        rc = request_log_time(&req->ctx, client_id, id, &in, &eid, &req->err);
    }
    return after_action(req, rc, client_id, id, "time", fields, "logged", "work");
}

/* POST /requests/{id}/attachments?client_id= (multipart: csrf, file). */
int page_request_attach(struct http_req *req)
{
    static const char *const fields[] = {NULL};
    int64_t client_id, id, fid;
    int rc = rq_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_REQUEST_REPLY, client_id);
    if (rc) return rc;
    if (!req->upload.field || strcmp(req->upload.field, "file") != 0) {
        rc = kf_fail(&req->err, KF_E_INVALID, "file", "choose a file");
    } else {
        const char *name = req->upload.filename && *req->upload.filename ? req->upload.filename : "file";
        rc = request_attach(&req->ctx, client_id, id, name, req->upload.data, req->upload.len, req->server_max_upload,
                            &fid, &req->err);
    }
    if (form_error(rc) && req->err.field && strcmp(req->err.field, "status") != 0) req->err.field = "file";
    return after_action(req, rc, client_id, id, "upload", fields, "uploaded", "files");
}

/* POST /requests/{id}/accept?client_id= (csrf): the client accepts the resolution (C5.1.2); the
 * request closes. A request not resolved, or decided already, is the page again with 409. */
int page_request_accept(struct http_req *req)
{
    static const char *const fields[] = {NULL};
    int64_t client_id, id;
    int rc = rq_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_REQUEST_ACCEPT, client_id);
    if (rc) return rc;
    rc = request_accept(&req->ctx, client_id, id, &req->err);
    return after_action(req, rc, client_id, id, "accept_form", fields, "accepted", "acceptance");
}

/* POST /requests/{id}/reject?client_id= (csrf, reason): the client rejects the resolution with a
 * reason (C5.1.2); the request reopens as remediation. */
int page_request_reject(struct http_req *req)
{
    static const char *const fields[] = {"reason", NULL};
    int64_t client_id, id;
    int rc = rq_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_REQUEST_ACCEPT, client_id);
    if (rc) return rc;
    const char *reason = NULL;
    rc = http_json_string(req, "reason", true, REQUEST_REJECT_REASON_MAX, &reason);
    if (!rc) rc = request_reject(&req->ctx, client_id, id, reason, &req->err);
    return after_action(req, rc, client_id, id, "reject_form", fields, "rejected", "acceptance");
}
