/* The notice pages (C11.1.1, C8.2.1): the register and the client's inbox (notices waiting for the
 * viewer's side to acknowledge them counted at the top and marked), the form for a notice or a
 * correction, a notice's page (its Markdown body rendered safely, delivery, acknowledgement, readers,
 * corrections), and the provider's announcement form and receipts. The domain (notice.h) decides
 * access, sides and audits; this file parses forms and shapes pages. */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/zone.h"
#include "core/ids.h"
#include "domain/agreement.h"
#include "domain/notice.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "http/api_common.h"
#include "http/api_notices.h"
#include "http/handlers.h"
#include "http/page.h"
#include "render/i18n.h"
#include "render/markdown.h"
#include "render/template.h"

#define NOTICE_PAGE_SIZE 50
#define AGREEMENT_CHOICE_MAX 100
#define ANY_CLIENT 1            /* any client id stands for "a client" in the provider scope (page.c) */

static const char *const kinds[] = {"change", "update", "breach", "renewal", "termination", "other", NULL};
static const char *const methods[] = {"portal", "email", "registered_mail", "hand", NULL};
static const char *const directions[] = {"received", "sent", NULL};
static const char *const notice_fields[] = {"client_id", "agreement_id", "kind", "subject", "body", "method",
                                            "tracking_number", "corrects_id", "idempotency_key", NULL};
static const char *const delivery_fields[] = {"delivered_at", "tracking_number", NULL};
static const char *const announce_fields[] = {"subject", "body", NULL};

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

/* The policy's answer for `act` on client_id's objects, in req->err (403, or 404 out of scope). */
static int require(struct http_req *req, enum action act, int64_t client_id)
{
    struct object_ref o = {.client_id = client_id};
    int rc = policy_check(&req->actor, act, &o);
    return rc ? kf_fail(&req->err, rc, NULL, "%s", policy_action_name(act)) : 0;
}

/* ?client_id= of a page: absent is the viewer's own (0 for provider staff: every client). */
static int query_client(struct http_req *req, int64_t *client_r)
{
    const char *s = query_value(req, "client_id");
    if (!s) {
        *client_r = req->actor.client_id;
        return 0;
    }
    if (api_parse_client_id(s, client_r) != 0) return kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no such client");
    return 0;
}

/* The side ("provider"/"client") of the viewer. */
static const char *viewer_side(struct http_req *req)
{
    return notice_actor_side(&req->ctx);
}

static json_t *notice_row(struct http_req *req, const struct notice *n)
{
    const char *side = viewer_side(req);
    bool to_me = strcmp(n->recipient_party, side) == 0;
    json_t *row = json_pack("{s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:b}", "id", http_json_id(n->id), "client_id",
                            http_json_id(n->client_id), "client_name", n->client_name ? n->client_name : "", "subject",
                            n->subject ? n->subject : "", "kind_key",
                            arena_printf(req->arena, "notices.kind.%s", n->kind), "method_key",
                            arena_printf(req->arena, "notices.method.%s", n->method), "from_key",
                            arena_printf(req->arena, "notices.party.%s", n->sender_party), "to_key",
                            arena_printf(req->arena, "notices.party.%s", n->recipient_party), "sent_at",
                            (json_int_t)n->sent_at, "waiting", to_me && !n->acknowledged_at, "to_me", to_me);
    if (n->delivered_at) json_object_set_new(row, "delivered_at", json_integer(n->delivered_at));
    if (n->acknowledged_at) json_object_set_new(row, "acknowledged_at", json_integer(n->acknowledged_at));
    if (n->corrects_id) json_object_set_new(row, "correction", json_true());
    return row;
}

/* --- the register and inbox -------------------------------------------------------------------- */

/* GET /notices?client_id=&kind=&direction=&unacknowledged=&after=: the register, newest first. */
int page_notice_list(struct http_req *req)
{
    int64_t client_id;
    int rc = query_client(req, &client_id);
    if (!rc) rc = require(req, ACT_NOTICE_READ, client_id ? client_id : ANY_CLIENT);
    if (rc) return rc;
    json_t *d = page_data(req, "notices.title", "notices");
    page_client_choice(req, d, client_id);
    struct notice_filter f = {.client_id = client_id};
    f.kind = query_value(req, "kind");
    f.direction = query_value(req, "direction");
    f.unacknowledged = query_value(req, "unacknowledged") != NULL;
    json_object_set_new(d, "kinds", page_options(req, "notices.kind", kinds, f.kind));
    json_object_set_new(d, "directions", page_options(req, "notices.direction", directions, f.direction));
    if (f.unacknowledged) json_object_set_new(d, "unacknowledged_only", json_true());
    if (f.kind) json_object_set_new(d, "kind_value", json_string(f.kind));
    if (f.direction) json_object_set_new(d, "direction_value", json_string(f.direction));
    if (client_id) json_object_set_new(d, "client_id", json_string(id_text(req, client_id)));
    json_object_set_new(d, "can_send", json_boolean(allowed(req, ACT_NOTICE_SEND, client_id ? client_id : ANY_CLIENT)));
    json_object_set_new(d, "can_announce", json_boolean(req->actor.client_id == 0 &&
                                                        allowed(req, ACT_ANNOUNCEMENT_SEND, ANY_CLIENT)));
    if (http_query(req, "announced")) json_object_set_new(d, "announced", json_true());
    int64_t after = 0, next = 0, waiting = 0;
    const char *after_s = query_value(req, "after");
    struct notice *items = NULL;
    size_t n = 0;
    if (after_s && id_parse(after_s, &after) != 0) rc = kf_fail(&req->err, KF_E_INVALID, "after", "after");
    if (!rc) rc = notice_list(&req->ctx, &f, after, NOTICE_PAGE_SIZE, &items, &n, &next, &req->err);
    if (!rc) rc = notice_count_unacknowledged(&req->ctx, client_id, &waiting, &req->err);
    if (rc == KF_E_INVALID) {
        int status = page_form_fail(req, d, "notices", "filter", notice_fields);
        return page_render(req, status, "notices/list", d);
    }
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(rows, notice_row(req, &items[i]));
    json_object_set_new(d, "notices", rows);
    json_object_set_new(d, "any", json_boolean(n > 0));
    json_object_set_new(d, "waiting", json_integer(waiting));
    /* the next page keeps the filters */
    if (next) json_object_set_new(d, "next", json_string(id_text(req, next)));
    return page_render(req, 200, "notices/list", d);
}

/* --- the form for a notice or a correction ------------------------------------------------------ */

/* The agreements of the client for the select (best effort: none when they cannot be listed). */
static void agreement_choice(struct http_req *req, json_t *d, int64_t client_id, const char *chosen)
{
    if (!client_id) return;
    struct agreement *items;
    size_t n;
    int64_t next;
    struct kf_err err;
    if (agreement_list(&req->ctx, client_id, NULL, 0, AGREEMENT_CHOICE_MAX, &items, &n, &next, &err) != 0) return;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *id = id_text(req, items[i].id);
        const char *label = items[i].contract_number && *items[i].contract_number ? items[i].contract_number
                                                                                   : items[i].draft_ref;
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b}", "id", id, "label", label ? label : id, "selected",
                                             chosen && strcmp(chosen, id) == 0));
    }
    json_object_set_new(d, "agreements", arr);
}

static int new_form(struct http_req *req, int status, json_t *d, int64_t client_id)
{
    json_t *c = json_object_get(d, "send");
    if (!c) {
        json_object_set_new(d, "send", json_pack("{s:{}}", "form"));
        c = json_object_get(d, "send");
    }
    json_t *form = json_object_get(c, "form");
    if (!json_is_object(form)) json_object_set_new(c, "form", form = json_object());
    /* the duplicate-submission key: new when the form is first shown, the submitted one when shown again */
    if (!json_is_string(json_object_get(form, "idempotency_key")))
        json_object_set_new(form, "idempotency_key", json_string(page_form_key(req)));
    page_client_choice(req, d, client_id);
    if (client_id) json_object_set_new(d, "client_id", json_string(id_text(req, client_id)));
    const char *kind = json_string_value(json_object_get(form, "kind"));
    const char *method = json_string_value(json_object_get(form, "method"));
    json_object_set_new(d, "kinds", page_options(req, "notices.kind", kinds, kind ? kind : "other"));
    json_object_set_new(d, "methods", page_options(req, "notices.method", methods, method ? method : "portal"));
    agreement_choice(req, d, client_id, json_string_value(json_object_get(form, "agreement_id")));
    const char *corrects = json_string_value(json_object_get(form, "corrects_id"));
    int64_t cid = 0;
    if (corrects && id_parse(corrects, &cid) == 0 && client_id) {
        struct notice orig;
        struct kf_err err;
        if (notice_get(&req->ctx, client_id, cid, &orig, &err) == 0)
            json_object_set_new(d, "corrects", json_pack("{s:s,s:s,s:I}", "id", corrects, "subject", orig.subject,
                                                         "sent_at", (json_int_t)orig.sent_at));
    }
    return page_render(req, status, "notices/new", d);
}

/* GET /notices/new?client_id=&corrects=&agreement_id=: the form; a correction starts from the original's
 * kind, subject and agreement; agreement_id preselects an agreement of that client (one not of the client
 * is not offered). Another client's notice to correct is not found. */
int page_notice_new(struct http_req *req)
{
    int64_t client_id;
    int rc = query_client(req, &client_id);
    if (!rc) rc = require(req, ACT_NOTICE_SEND, client_id ? client_id : ANY_CLIENT);
    if (rc) return rc;
    json_t *d = page_data(req, "notices.new.title", "notices");
    const char *corrects = query_value(req, "corrects");
    if (corrects) {
        int64_t cid;
        struct notice orig;
        if (id_parse(corrects, &cid) != 0 || !client_id) rc = kf_fail(&req->err, KF_E_NOT_FOUND, NULL, "not found");
        else rc = notice_get(&req->ctx, client_id, cid, &orig, &req->err);
        if (rc) {
            json_decref(d);
            return rc;
        }
        json_t *form = json_pack("{s:s,s:s,s:s}", "corrects_id", corrects, "kind", orig.kind, "subject",
                                 arena_printf(req->arena, "%s%s", page_text(req, "notices.correction_prefix"),
                                              orig.subject));
        if (orig.agreement_id) json_object_set_new(form, "agreement_id", json_string(id_text(req, orig.agreement_id)));
        json_object_set_new(d, "send", json_pack("{s:o}", "form", form));
    } else if (query_value(req, "agreement_id") && client_id) {
        /* from an agreement's page: that agreement preselected (agreement_choice marks it when it is the client's) */
        int64_t aid;
        if (id_parse(query_value(req, "agreement_id"), &aid) == 0)
            json_object_set_new(d, "send", json_pack("{s:{s:s}}", "form", "agreement_id", id_text(req, aid)));
    }
    return new_form(req, 200, d, client_id);
}

/* POST /notices (client_id, agreement_id, kind, subject, body, method, tracking_number, corrects_id). */
int page_notice_create(struct http_req *req)
{
    int64_t client_id = 0;
    int rc = api_body_client_id(req, false, &client_id);
    bool client_ok = rc == 0;
    int prc = require(req, ACT_NOTICE_SEND, client_ok ? client_id : ANY_CLIENT);
    if (prc) return prc;
    if (!client_ok) kf_fail(&req->err, KF_E_INVALID, "client_id", "choose a client");
    struct notice_input in;
    int64_t id = 0;
    if (client_ok && (rc = api_notice_input(req, &in)) == 0) {
        if (in.method && !*in.method) in.method = NULL;
        /* sent twice (the same idempotency_key): the first notice answers, and the page goes to it */
        rc = notice_send_once(&req->ctx, &in, &id, NULL, &req->err);
    }
    if (rc == KF_E_INVALID || (rc == KF_E_NOT_FOUND && req->err.field && strcmp(req->err.field, "client_id") == 0 &&
                               req->actor.client_id == 0)) {
        if (rc == KF_E_NOT_FOUND) req->err.code = KF_E_INVALID;
        json_t *d = page_data(req, "notices.new.title", "notices");
        int status = page_form_fail(req, d, "notices", "send", notice_fields);
        return new_form(req, status, d, client_ok ? client_id : 0);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/notices/%lld?client_id=%lld&sent=1", (long long)id,
                                           (long long)client_id));
}

/* --- one notice -------------------------------------------------------------------------------- */

/* The ?client_id= of a notice's page: provider staff must name it (or find nothing). */
static int notice_target(struct http_req *req, int64_t *client_id, int64_t *id)
{
    int rc = api_path_id(req, "id", "notice", id);
    if (!rc) rc = query_client(req, client_id);
    if (!rc && !*client_id) rc = kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no client chosen");
    return rc;
}

static int show_page(struct http_req *req, int status, json_t *d, int64_t client_id, int64_t id)
{
    struct notice n;
    int rc = notice_get(&req->ctx, client_id, id, &n, &req->err);
    char *html = NULL;
    if (!rc) rc = markdown_render_html(req->arena, n.body, strlen(n.body), &html, NULL, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    const char *side = viewer_side(req);
    bool sender = strcmp(n.sender_party, side) == 0, recipient = strcmp(n.recipient_party, side) == 0;
    json_t *row = notice_row(req, &n);
    json_object_set_new(d, "title", json_string(n.subject));
    json_object_set_new(row, "body_html", render_trusted(html)); /* markdown.h made it safe */
    if (*n.tracking_number) json_object_set_new(row, "tracking_number", json_string(n.tracking_number));
    json_object_set_new(row, "sent_by_name", json_string(*n.sent_by_name ? n.sent_by_name : "kefu"));
    if (n.delivery_recorded_by_name && *n.delivery_recorded_by_name)
        json_object_set_new(row, "delivery_recorded_by_name", json_string(n.delivery_recorded_by_name));
    if (n.acknowledged_at)
        json_object_set_new(row, "acknowledged_by_name",
                            json_string(*n.acknowledged_by_name ? n.acknowledged_by_name : "kefu"));
    if (n.agreement_id) json_object_set_new(row, "agreement_id", json_string(id_text(req, n.agreement_id)));
    if (n.corrects_id) json_object_set_new(row, "corrects_id", json_string(id_text(req, n.corrects_id)));
    if (n.announcement_id && req->actor.client_id == 0)
        json_object_set_new(row, "announcement_id", json_string(id_text(req, n.announcement_id)));
    json_object_set_new(d, "notice", row);
    json_object_set_new(d, "client_id", json_string(id_text(req, client_id)));
    json_t *reads = json_array(), *fixes = json_array();
    for (size_t i = 0; i < n.n_read_rows; i++)
        json_array_append_new(reads, json_pack("{s:s,s:I}", "name", n.reads[i].display_name, "read_at",
                                               (json_int_t)n.reads[i].read_at));
    for (size_t i = 0; i < n.n_corrections; i++)
        json_array_append_new(fixes, json_pack("{s:o,s:s,s:I}", "id", http_json_id(n.corrections[i].id), "subject",
                                               n.corrections[i].subject, "sent_at",
                                               (json_int_t)n.corrections[i].sent_at));
    json_object_set_new(d, "reads", reads);
    json_object_set_new(d, "any_reads", json_boolean(n.n_read_rows > 0));
    json_object_set_new(d, "corrections", fixes);
    json_object_set_new(d, "any_corrections", json_boolean(n.n_corrections > 0));
    if (recipient && !n.acknowledged_at && allowed(req, ACT_NOTICE_ACKNOWLEDGE, client_id))
        json_object_set_new(d, "can_acknowledge", json_true());
    if (sender && !n.delivered_at && strcmp(n.method, "portal") != 0 && allowed(req, ACT_NOTICE_SEND, client_id)) {
        json_object_set_new(d, "can_deliver", json_true());
        json_object_set_new(d, "needs_tracking", json_boolean(strcmp(n.method, "registered_mail") == 0 &&
                                                              !*n.tracking_number));
        if (!json_object_get(d, "deliver")) json_object_set_new(d, "deliver", json_pack("{s:{}}", "form"));
    }
    if (allowed(req, ACT_NOTICE_SEND, client_id)) json_object_set_new(d, "can_correct", json_true());
    if (http_query(req, "sent")) json_object_set_new(d, "sent", json_true());
    if (http_query(req, "acknowledged")) json_object_set_new(d, "acknowledged", json_true());
    if (http_query(req, "delivered")) json_object_set_new(d, "delivered", json_true());
    return page_render(req, status, "notices/show", d);
}

/* GET /notices/{id}?client_id=: a notice; a reader of the recipient side leaves a read receipt. */
int page_notice_show(struct http_req *req)
{
    int64_t client_id, id;
    int rc = notice_target(req, &client_id, &id);
    if (rc) return rc;
    return show_page(req, 200, page_data(req, "notices.show.title", "notices"), client_id, id);
}

/* POST /notices/{id}/acknowledge?client_id=: back to the notice. */
int page_notice_acknowledge(struct http_req *req)
{
    int64_t client_id, id;
    int rc = notice_target(req, &client_id, &id);
    if (!rc) rc = notice_acknowledge(&req->ctx, client_id, id, &req->err);
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/notices/%lld?client_id=%lld&acknowledged=1", (long long)id,
                                           (long long)client_id));
}

/* POST /notices/{id}/delivery?client_id= (delivered_at local to the viewer, tracking_number). */
int page_notice_delivery(struct http_req *req)
{
    int64_t client_id, id, at = 0;
    int rc = notice_target(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_NOTICE_SEND, client_id);
    if (rc) return rc;
    const char *when = NULL, *tracking = NULL;
    rc = http_json_string(req, "delivered_at", true, API_SHORT_MAX, &when);
    if (!rc) rc = http_json_string(req, "tracking_number", false, NOTICE_TRACKING_MAX, &tracking);
    if (!rc && zone_parse_local(when, page_zone(req), false, &at) != 0)
        rc = kf_fail(&req->err, KF_E_INVALID, "delivered_at", "a date and time");
    if (!rc) rc = notice_record_delivery(&req->ctx, client_id, id, at, tracking, &req->err);
    if (rc == KF_E_INVALID) {
        json_t *d = page_data(req, "notices.show.title", "notices");
        int status = page_form_fail(req, d, "notices", "deliver", delivery_fields);
        return show_page(req, status, d, client_id, id);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/notices/%lld?client_id=%lld&delivered=1", (long long)id,
                                           (long long)client_id));
}

/* --- announcements ------------------------------------------------------------------------------ */

static int announce_form(struct http_req *req, int status, json_t *d, const int64_t *chosen, size_t n_chosen)
{
    struct org *items;
    size_t n;
    int64_t next;
    struct kf_err err;
    json_t *arr = json_array();
    if (org_list_clients(&req->ctx, 0, PAGE_CLIENT_CHOICE_MAX, &items, &n, &next, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            bool sel = false;
            for (size_t k = 0; k < n_chosen; k++) sel |= chosen[k] == items[i].id;
            json_array_append_new(arr, json_pack("{s:o,s:s,s:b,s:b}", "id", http_json_id(items[i].id), "name",
                                                 items[i].name ? items[i].name : "", "selected", sel, "disabled",
                                                 items[i].disabled));
        }
    }
    json_object_set_new(d, "clients", arr);
    if (!json_object_get(d, "announce")) json_object_set_new(d, "announce", json_pack("{s:{}}", "form"));
    return page_render(req, status, "notices/announce", d);
}

/* GET /announcements/new: the clients to choose (or all), subject and body. */
int page_announcement_new(struct http_req *req)
{
    int rc = require(req, ACT_ANNOUNCEMENT_SEND, ANY_CLIENT);
    if (rc) return rc;
    return announce_form(req, 200, page_data(req, "notices.announce.title", "notices"), NULL, 0);
}

/* POST /announcements (client_ids repeated, or all; subject; body): on to its receipts. */
int page_announcement_create(struct http_req *req)
{
    int rc = require(req, ACT_ANNOUNCEMENT_SEND, ANY_CLIENT);
    if (rc) return rc;
    struct announcement_input in = {0};
    const char *all = NULL;
    json_t *ids = json_object_get(req->json, "client_ids");
    size_t n = json_is_array(ids) ? json_array_size(ids) : json_is_string(ids) ? 1 : 0;
    int64_t *list = arena_zalloc(req->arena, sizeof *list * (n ? n : 1));
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *x = json_is_array(ids) ? json_array_get(ids, i) : ids;
        if (!json_is_string(x) || id_parse(json_string_value(x), &list[i]) != 0)
            rc = kf_fail(&req->err, KF_E_INVALID, "client_ids", "client_ids");
    }
    in.client_ids = list;
    in.n_clients = n;
    if (!rc) rc = http_json_string(req, "all", false, API_SHORT_MAX, &all);
    in.all = all && *all;
    if (!rc) rc = http_json_string(req, "subject", true, NOTICE_SUBJECT_MAX * 4, &in.subject);
    if (!rc) rc = http_json_string(req, "body", true, NOTICE_BODY_MAX, &in.body);
    int64_t id = 0;
    if (!rc) rc = notice_announce(&req->ctx, &in, &id, NULL, &req->err);
    if (rc == KF_E_INVALID) {
        json_t *d = page_data(req, "notices.announce.title", "notices");
        int status = page_form_fail(req, d, "notices", "announce", announce_fields);
        if (in.all) json_object_set_new(json_object_get(json_object_get(d, "announce"), "form"), "all", json_true());
        return announce_form(req, status, d, list, n);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/announcements/%lld?sent=1", (long long)id));
}

/* GET /announcements/{id}: the announcement and its receipts per client (provider staff). */
int page_announcement_show(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "announcement", &id);
    struct announcement a;
    if (!rc) rc = notice_announcement_get(&req->ctx, id, &a, &req->err);
    char *html = NULL;
    if (!rc) rc = markdown_render_html(req->arena, a.body, strlen(a.body), &html, NULL, &req->err);
    if (rc) return rc;
    json_t *d = page_data(req, "notices.announcement.title", "notices");
    json_object_set_new(d, "title", json_string(a.subject));
    json_t *rows = json_array();
    for (size_t i = 0; i < a.n_receipts; i++) {
        const struct announcement_receipt *r = &a.receipts[i];
        json_t *row = json_pack("{s:o,s:s,s:o,s:I}", "client_id", http_json_id(r->client_id), "client_name",
                                r->client_name, "notice_id", http_json_id(r->notice_id), "read_count",
                                (json_int_t)r->n_reads);
        if (r->first_read_at) json_object_set_new(row, "first_read_at", json_integer(r->first_read_at));
        if (r->acknowledged_at) json_object_set_new(row, "acknowledged_at", json_integer(r->acknowledged_at));
        json_array_append_new(rows, row);
    }
    json_object_set_new(d, "announcement",
                        json_pack("{s:o,s:s,s:o,s:s,s:I,s:I,s:I}", "id", http_json_id(a.id), "subject", a.subject,
                                  "body_html", render_trusted(html), "sent_by_name",
                                  *a.sent_by_name ? a.sent_by_name : "kefu", "sent_at", (json_int_t)a.sent_at,
                                  "recipients", (json_int_t)a.recipients, "read_clients", (json_int_t)a.n_read));
    json_object_set_new(d, "receipts", rows);
    if (http_query(req, "sent")) json_object_set_new(d, "sent", json_true());
    return page_render(req, 200, "notices/announcement", d);
}
