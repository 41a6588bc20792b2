/* The pages of requests without an account (C3.2.2): a client's public form /c/{token}/new (no login,
 * a honeypot field, rate-limited per address by the domain), the confirmation that shows the private
 * tracking link once, the tracking page /t/{token} (the request, its public replies, a reply form and
 * the customer's consent), and the organisation page's button that makes or rotates the form's link.
 * Every decision is request_public.h's: a wrong, truncated or another request's token is the same 404
 * page. Internal notes cannot reach these pages: the domain's query selects public replies only. */
#include <string.h>

#include "core/arena.h"
#include "domain/agreement.h"
#include "domain/request_accept.h"
#include "domain/request_public.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"
#include "render/i18n.h"
#include "render/markdown.h"
#include "render/template.h"

#define INTAKE_HONEYPOT "website"   /* hidden from people; a robot fills it in */

static const char *const intake_fields[] = {"name", "phone", "email", "service_kind", "subject", "body",
                                            "idempotency_key", NULL};

static const char *path_token(struct http_req *req)
{
    const char *t = http_param(req, "token");
    return t ? t : "";
}

static const char *fresh_key(struct http_req *req)
{
    char t[TOKEN_TEXT_MAX];
    struct kf_err e;
    if (token_new("form_", t, sizeof t, &e) != 0) return "";
    return arena_strdup(req->arena, t);
}

/* The form: service kinds of the catalogue, the kept input, d.intake {form, errors}. */
static int intake_form(struct http_req *req, int status, json_t *d, const char *token)
{
    json_object_set_new(d, "token", json_string(token));
    json_t *in = json_object_get(d, "intake");
    if (!in) json_object_set_new(d, "intake", in = json_pack("{s:{}}", "form"));
    json_t *form = json_object_get(in, "form");
    const char *key = json_string_value(json_object_get(form, "idempotency_key"));
    if (!key || !*key) json_object_set_new(form, "idempotency_key", json_string(fresh_key(req)));
    struct service_kind *kinds;
    size_t n = 0;
    struct kf_err e;
    const char *sk = json_string_value(json_object_get(form, "service_kind"));
    json_t *arr = json_array();
    /* the catalogue is provider-wide and not secret; the visitor is no actor the policy knows */
    struct actor sys = {.kind = ACTOR_SYSTEM};
    const struct actor *visitor = req->ctx.actor;
    req->ctx.actor = &sys;
    if (agreement_service_kinds(&req->ctx, &kinds, &n, &e) == 0) {
        bool zh = strcmp(page_locale(req), "zh-CN") == 0;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:b}", "value", kinds[i].code, "label",
                                                 zh ? kinds[i].name_zh : kinds[i].name_en, "selected",
                                                 sk && strcmp(sk, kinds[i].code) == 0));
    }
    req->ctx.actor = visitor;
    json_object_set_new(in, "kinds", arr);
    return page_render(req, status, "requests/intake", d);
}

/* GET /c/{token}/new: the public form of the token's client; any other token is the 404 page. */
int page_intake_new(struct http_req *req)
{
    int64_t client_id;
    const char *token = path_token(req);
    int rc = request_intake_client(&req->ctx, token, &client_id, &req->err);
    if (rc) return rc;
    json_t *d = page_data(req, "requests.intake.title", NULL);
    return intake_form(req, 200, d, token);
}

/* POST /c/{token}/new (name, phone, email, service_kind, subject, body, idempotency_key, and the
 * honeypot): raises the request and shows the tracking link once. A filled honeypot gets the same
 * confirmation without a link and nothing is written. */
int page_intake_create(struct http_req *req)
{
    const char *token = path_token(req);
    int64_t client_id, request_id;
    int rc = request_intake_client(&req->ctx, token, &client_id, &req->err);
    if (rc) return rc;
    const char *trap = NULL;
    if (http_json_string(req, INTAKE_HONEYPOT, false, API_TEXT_MAX, &trap) != 0 || (trap && *trap)) {
        kf_err_clear(&req->err);
        json_t *d = page_data(req, "requests.intake.done_title", NULL);
        return page_render(req, 200, "requests/intake_done", d);
    }
    struct intake_input in = {0};
    if ((rc = http_json_string(req, "name", true, 200, &in.name)) == 0 &&
        (rc = http_json_string(req, "phone", false, API_TEXT_MAX, &in.phone)) == 0 &&
        (rc = http_json_string(req, "email", false, API_TEXT_MAX, &in.email)) == 0 &&
        (rc = http_json_string(req, "service_kind", true, API_SHORT_MAX, &in.service_kind)) == 0 &&
        (rc = http_json_string(req, "subject", true, REQUEST_SUBJECT_MAX * 4, &in.subject)) == 0 &&
        (rc = http_json_string(req, "body", false, REQUEST_BODY_MAX, &in.body)) == 0 &&
        (rc = http_json_string(req, "idempotency_key", false, REQUEST_KEY_MAX, &in.idempotency_key)) == 0) {
        char tracking[TOKEN_TEXT_MAX];
        bool existing = false;
        rc = request_intake_create(&req->ctx, token, &in, &client_id, &request_id, tracking, &existing, &req->err);
        if (rc == 0) {
            json_t *d = page_data(req, "requests.intake.done_title", NULL);
            struct request_track t;
            struct kf_err e;
            if (request_track_open(&req->ctx, tracking, &t, &e) == 0)
                json_object_set_new(d, "number", json_string(t.request.number));
            json_object_set_new(d, "link", json_string(arena_printf(req->arena, "/t/%s", tracking)));
            return page_render(req, 201, "requests/intake_done", d);
        }
    }
    if (rc == KF_E_INVALID || rc == KF_E_CONFLICT || rc == KF_E_RATE_LIMITED) {
        json_t *d = page_data(req, "requests.intake.title", NULL);
        json_t *tmp = json_object();
        int status = rc == KF_E_RATE_LIMITED ? 429 : page_form_error(req, tmp);
        json_t *errors = json_object_get(tmp, "errors");
        if (!errors) errors = json_object();
        else json_incref(errors);
        if (req->err.field) {
            const char *own = i18n_lookup(page_locale(req), arena_printf(req->arena, "requests.error.%s", req->err.field));
            if (own) json_object_set_new(errors, req->err.field, json_string(own));
        }
        const char *summary = rc == KF_E_RATE_LIMITED ? "requests.intake.throttled"
                              : rc == KF_E_CONFLICT   ? "requests.intake.unavailable"
                                                      : "form.errors_title";
        json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, summary)));
        page_keep_form(req, tmp, intake_fields);
        json_object_set_new(d, "intake", json_pack("{s:o,s:O}", "errors", errors, "form", json_object_get(tmp, "form")));
        json_decref(tmp);
        kf_err_clear(&req->err);
        return intake_form(req, status, d, token);
    }
    return rc;
}

/* Renders the tracking page of `token`. Consumes d. */
static int track_page(struct http_req *req, int status, json_t *d, const char *token)
{
    struct request_track t;
    int rc = request_track_open(&req->ctx, token, &t, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    const struct request *r = &t.request;
    json_object_set_new(d, "title", json_string(arena_printf(req->arena, "%s %s", r->number, r->subject)));
    json_object_set_new(d, "token", json_string(token));
    char *html = NULL;
    struct kf_err e;
    json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:I}", "number", r->number, "subject", r->subject, "status", r->status,
                            "status_key", arena_printf(req->arena, "requests.status.%s", r->status), "created",
                            (json_int_t)r->created);
    if (r->body && *r->body && markdown_render_html(req->arena, r->body, strlen(r->body), &html, NULL, &e) == 0)
        json_object_set_new(row, "body_html", render_trusted(html));
    json_object_set_new(d, "request", row);
    json_t *arr = json_array();
    for (size_t i = 0; i < t.n_messages; i++) {
        const struct request_message *m = &t.messages[i];
        json_t *mr = json_pack("{s:b,s:I}", "from_client", strcmp(m->author_side, "client") == 0, "created",
                               (json_int_t)m->created);
        json_object_set_new(mr, "author", json_string(page_text(req, !m->author_id ? "requests.you"
                                                                  : strcmp(m->author_side, "client") == 0
                                                                      ? "requests.client_author"
                                                                      : "requests.provider_author")));
        if (markdown_render_html(req->arena, m->body, strlen(m->body), &html, NULL, &e) == 0)
            json_object_set_new(mr, "body_html", render_trusted(html));
        else json_object_set_new(mr, "body_text", json_string(m->body));
        json_array_append_new(arr, mr);
    }
    json_object_set_new(d, "messages", arr);
    json_object_set_new(d, "closed", json_boolean(strcmp(r->status, "closed") == 0));
    json_object_set_new(d, "consent", json_boolean(t.consent_in_force));
    if (!json_object_get(d, "reply")) json_object_set_new(d, "reply", json_pack("{s:{}}", "form"));
    /* acceptance (C5.1.2): the customer decides when the terms in force at the resolution name them */
    json_t *acc = json_pack("{s:i,s:b}", "remediation_count", r->remediation_count, "remediated", r->remediation_count > 0);
    if (strcmp(r->status, "resolved") == 0 && r->resolved_at) {
        struct agreement_terms terms;
        struct actor sys = {.kind = ACTOR_SYSTEM};
        const struct actor *visitor = req->ctx.actor;
        req->ctx.actor = &sys;   /* the link is proven: read the terms as kefu itself */
        if (agreement_terms_at(NULL, &req->ctx, r->client_id, r->agreement_id, r->resolved_at, &terms, &e) == 0 &&
            terms.acceptance_by && strcmp(terms.acceptance_by, "customer") == 0) {
            int days = terms.acceptance_days > 0 ? terms.acceptance_days : AGREEMENT_DEFAULT_ACCEPTANCE_DAYS;
            json_object_set_new(acc, "can_decide", json_true());
            json_object_set_new(acc, "until", json_integer(r->resolved_at + (int64_t)days * 86400000));
        }
        req->ctx.actor = visitor;
        json_object_set_new(acc, "awaiting", json_true());
    }
    json_object_set_new(acc, "show", json_boolean(json_object_get(acc, "awaiting") || r->remediation_count > 0 ||
                                                  json_object_get(d, "reject_form")));
    json_object_set_new(d, "acceptance", acc);
    if (!json_object_get(d, "reject_form")) json_object_set_new(d, "reject_form", json_pack("{s:{}}", "form"));
    return page_render(req, status, "requests/track", d);
}

/* GET /t/{token}: the request the link follows. */
int page_track_show(struct http_req *req)
{
    json_t *d = page_data(req, NULL, NULL);
    static const char *const notices[] = {"replied", "given", "withdrawn", "accepted", "rejected", NULL};
    for (const char *const *n = notices; *n; n++)
        if (http_query(req, *n))
            json_object_set_new(d, "notice_key", json_string(arena_printf(req->arena, "requests.track.%s", *n)));
    return track_page(req, 200, d, path_token(req));
}

/* POST /t/{token}/replies (body): the customer's reply. */
int page_track_reply(struct http_req *req)
{
    const char *token = path_token(req), *body = NULL;
    int rc = http_json_string(req, "body", true, REQUEST_BODY_MAX, &body);
    if (!rc) rc = request_track_reply(&req->ctx, token, body, &req->err);
    if (rc == KF_E_INVALID || rc == KF_E_CONFLICT) {
        json_t *d = page_data(req, NULL, NULL);
        json_t *tmp = json_object();
        int status = page_form_error(req, tmp);
        static const char *const fields[] = {"body", NULL};
        page_keep_form(req, tmp, fields);
        json_object_set_new(d, "reply", json_pack("{s:O,s:O}", "errors", json_object_get(tmp, "errors"), "form",
                                                  json_object_get(tmp, "form")));
        json_object_set(d, "error", json_object_get(tmp, "error"));
        json_decref(tmp);
        kf_err_clear(&req->err);
        return track_page(req, status, d, token);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/t/%s?replied=1#conversation", token));
}

/* POST /t/{token}/consent (action: give or withdraw): the customer's consent to the purpose
 * service_delivery, as easy to withdraw as to give. */
int page_track_consent(struct http_req *req)
{
    const char *token = path_token(req), *action = NULL;
    int rc = http_json_string(req, "action", true, API_SHORT_MAX, &action);
    if (!rc && strcmp(action, "give") != 0 && strcmp(action, "withdraw") != 0)
        rc = kf_fail(&req->err, KF_E_INVALID, "action", "give or withdraw");
    bool give = !rc && strcmp(action, "give") == 0;
    struct request_track t;
    /* the link first: a wrong token is 404 whatever the form says */
    struct kf_err e;
    if (request_track_open(&req->ctx, token, &t, &e) != 0) {
        req->err = e;
        return KF_E_NOT_FOUND;
    }
    if (!rc) rc = request_track_consent(&req->ctx, token, give, &req->err);
    if (rc == KF_E_INVALID || (rc == KF_E_NOT_FOUND && !give)) {
        json_t *d = page_data(req, NULL, NULL);
        json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, "form.errors_title")));
        kf_err_clear(&req->err);
        return track_page(req, rc == KF_E_INVALID ? 422 : 409, d, token);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/t/%s?%s=1#consent", token, give ? "given" : "withdrawn"));
}

/* POST /orgs/{id}/intake-token: makes or rotates the client's public form link and shows it once. */
int page_intake_rotate(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "organisation", &id);
    char token[TOKEN_TEXT_MAX];
    if (!rc) rc = request_intake_rotate(&req->ctx, id, token, &req->err);
    if (rc) return rc;
    json_t *d = page_data(req, "requests.intake.link_title", "orgs");
    json_object_set_new(d, "org_id", json_string(arena_printf(req->arena, "%lld", (long long)id)));
    json_object_set_new(d, "link", json_string(arena_printf(req->arena, "/c/%s/new", token)));
    return page_render(req, 200, "requests/intake_link", d);
}

/* The customer's decision on a resolution through the tracking link (C5.1.2): the link first (a wrong
 * token is 404 whatever the form says), then request_accept.h with a system actor. */
static int track_decide(struct http_req *req, bool accept)
{
    const char *token = path_token(req), *reason = NULL;
    struct request_track t;
    struct kf_err e;
    if (request_track_open(&req->ctx, token, &t, &e) != 0) {
        req->err = e;
        return KF_E_NOT_FOUND;
    }
    int rc = accept ? 0 : http_json_string(req, "reason", true, REQUEST_REJECT_REASON_MAX, &reason);
    if (!rc) {
        struct actor sys = {.kind = ACTOR_SYSTEM};
        const struct actor *visitor = req->ctx.actor;
        req->ctx.actor = &sys;
        rc = accept ? request_accept_as_customer(&req->ctx, t.request.client_id, t.request.id, t.request.customer_id, &req->err)
                    : request_reject_as_customer(&req->ctx, t.request.client_id, t.request.id, t.request.customer_id,
                                                 reason, &req->err);
        req->ctx.actor = visitor;
    }
    if (rc == KF_E_INVALID || rc == KF_E_CONFLICT || rc == KF_E_FORBIDDEN) {
        json_t *d = page_data(req, NULL, NULL);
        json_t *tmp = json_object();
        int status = rc == KF_E_FORBIDDEN ? 403 : page_form_error(req, tmp);
        static const char *const fields[] = {"reason", NULL};
        page_keep_form(req, tmp, fields);
        json_t *errors = json_object_get(tmp, "errors");
        json_object_set_new(d, "reject_form", json_pack("{s:o,s:O}", "errors", errors ? json_incref(errors) : json_object(),
                                                        "form", json_object_get(tmp, "form")));
        json_object_set_new(d, "error", json_pack("{s:s}", "message",
                                                  page_text(req, rc == KF_E_INVALID ? "form.errors_title"
                                                                                    : "requests.accept.not_open")));
        json_decref(tmp);
        kf_err_clear(&req->err);
        return track_page(req, status, d, token);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/t/%s?%s=1#acceptance", token, accept ? "accepted" : "rejected"));
}

/* POST /t/{token}/accept: the customer accepts the resolution; the request closes. */
int page_track_accept(struct http_req *req)
{
    return track_decide(req, true);
}

/* POST /t/{token}/reject (reason): the customer rejects it; the request reopens as remediation. */
int page_track_reject(struct http_req *req)
{
    return track_decide(req, false);
}
