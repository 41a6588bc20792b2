/* The agreement pages (issue 5 item 8; docs/agreements.md "Pages"): the list with status, expiry and
 * client filters; the draft form (new and edit) with the business calendar, the catalogue's services as
 * checkboxes, target overrides per priority, fee items typed in yuan and a duplicate-submission key; an
 * agreement's page (parties, services with effective targets — or the terms in force at a chosen date —,
 * fees, terms, service changes, notices, signatures, dissolution, files, history, actions); the two
 * signing steps and the dissolution form, each behind a confirmation page; the service change form (the
 * draft form's services editor) and its withdrawal (C8.1.1); the service catalogue (C2.1.1, C2.2.1).
 * Every decision is the domain's (agreement.h, agreement_change.h): this file parses forms into the
 * API's input, maps the domain's fields back onto the form's, and shapes pages. Another client's
 * agreement is the 404 page, with no byte of it. */
#include <string.h>

#include "core/arena.h"
#include "core/zone.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/money.h"
#include "core/text.h"
#include "domain/agreement.h"
#include "domain/agreement_change.h"
#include "domain/audit.h"
#include "domain/calendar_store.h"
#include "domain/file.h"
#include "domain/notice.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"
#include "render/i18n.h"
#include "render/markdown.h"
#include "render/template.h"

#define AG_PAGE_SIZE 50
#define AG_HISTORY_MAX 100        /* audit records shown on an agreement's page */
#define AG_NOTICES_MAX 50         /* notices shown on an agreement's page (the register has the rest) */
#define AG_ANY_CLIENT 1           /* any client id stands for "a client" in the provider scope */
/* "some client" for a check without one: a client user's own (so a refusal is 403, not 404), else any */
#define AG_SOME_CLIENT(req) ((req)->actor.client_id ? (req)->actor.client_id : AG_ANY_CLIENT)

static const char *const statuses[] = {"draft", "provider_signed", "active", "expired", "dissolved", NULL};
static const char *const fee_kinds[] = {"fixed_month", "fixed_quarter", "fixed_year", "per_hour",
                                        "per_visit",   "per_training",  NULL};
static const char *const grounds[] = {AGREEMENT_MATERIAL_BREACH, AGREEMENT_FORCE_MAJEURE, AGREEMENT_MUTUAL_CONSENT,
                                      NULL};
static const int expiring_choices[] = {30, 60, 90};

/* The scalar fields of the draft form, named as the domain's input (errors name the same field). */
static const char *const scalar_fields[] = {
    "client_id",         "term_years",          "notice_days",         "acceptance_by",       "acceptance_days",
    "reminder_days",     "calendar_zone",       "number_pattern",      "supplementary_terms", "provider_legal_name",
    "provider_address",  "provider_contact_name", "provider_contact_phone", "client_legal_name", "client_address",
    "client_contact_name", "client_contact_phone", "idempotency_key", NULL};
static const char *const party_fields[] = {"provider_legal_name", "provider_address", "provider_contact_name",
                                           "provider_contact_phone", "client_legal_name", "client_address",
                                           "client_contact_name", "client_contact_phone", NULL};

/* --- small pieces --------------------------------------------------------------------------------- */

static const char *query_value(struct http_req *req, const char *key)
{
    const char *v = http_query(req, key);
    return v && *v ? v : NULL;
}

static const char *id_text(struct http_req *req, int64_t id)
{
    return arena_printf(req->arena, "%lld", (long long)id);
}

static bool may(struct http_req *req, enum action act, int64_t client_id)
{
    struct object_ref o = {.client_id = client_id};
    return policy_check(&req->actor, act, &o) == 0;
}

/* The policy's answer before a form is read: 403 (or 404 out of scope) whatever the form holds. */
static int require(struct http_req *req, enum action act, int64_t client_id)
{
    struct object_ref o = {.client_id = client_id};
    int rc = policy_check(&req->actor, act, &o);
    return rc ? kf_fail(&req->err, rc, NULL, "%s", policy_action_name(act)) : 0;
}

/* {id} and ?client_id= (absent: the viewer's own; provider staff must name one, else nothing is found). */
static int ag_ids(struct http_req *req, int64_t *client_r, int64_t *id_r)
{
    int rc = api_path_id(req, "id", "agreement", id_r);
    if (rc) return rc;
    const char *s = query_value(req, "client_id");
    if (!s) *client_r = req->actor.client_id;
    else if (api_parse_client_id(s, client_r) != 0) *client_r = 0;
    if (*client_r == 0) return kf_fail(&req->err, KF_E_NOT_FOUND, NULL, "not found");
    return 0;
}

static const char *ag_path(struct http_req *req, int64_t client_id, int64_t id, const char *tail, const char *query)
{
    return arena_printf(req->arena, "/agreements/%lld%s?client_id=%lld%s%s", (long long)id, tail ? tail : "",
                        (long long)client_id, query ? "&" : "", query ? query : "");
}

/* A person's name for the page: as far as the viewer may read users, else the party's side only. */
static json_t *person(struct http_req *req, int64_t client_id, int64_t uid)
{
    struct user u;
    struct kf_err e;
    if (uid == 0) return json_null();
    if (user_get(&req->ctx, 0, uid, &u, &e) == 0 || user_get(&req->ctx, client_id, uid, &u, &e) == 0)
        return json_string(u.display_name && *u.display_name ? u.display_name : u.username);
    return json_string(arena_printf(req->arena, "#%lld", (long long)uid));
}

static int load_kinds(struct http_req *req, struct service_kind **kinds_r, size_t *n_r)
{
    return agreement_service_kinds(&req->ctx, kinds_r, n_r, &req->err);
}

static const struct service_kind *kind_of(const struct service_kind *kinds, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (code && strcmp(kinds[i].code, code) == 0) return &kinds[i];
    return NULL;
}

static const char *kind_name(struct http_req *req, const struct service_kind *k, const char *code)
{
    if (!k) return code ? code : "";
    return strcmp(page_locale(req), "en") == 0 ? k->name_en : k->name_zh;
}

/* Yuan with two decimals from fen, for a form field ("8000.00"). */
static const char *yuan_text(struct http_req *req, int64_t fen)
{
    return arena_printf(req->arena, "%lld.%02lld", (long long)(fen / 100), (long long)(fen % 100));
}

/* The form error of req->err into d (`errors`, `error`), on `field` of the page (NULL: the domain's):
 * the field's own text when the catalogue has one (agreements.error.<field>). Returns the status. */
static int form_error(struct http_req *req, json_t *d, const char *field)
{
    if (field) req->err.field = field;
    int status = page_form_error(req, d);
    if (req->err.field) {
        const char *f = req->err.field;
        const char *key = strncmp(f, "fee_", 4) == 0 ? "fee" : strncmp(f, "t_", 2) == 0 ? "target" : f;
        const char *own = i18n_lookup(page_locale(req), arena_printf(req->arena, "agreements.error.%s", key));
        if (own) json_object_set_new(json_object_get(d, "errors"), req->err.field, json_string(own));
        json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, "form.errors_title")));
    }
    return status;
}

static json_t *options(struct http_req *req, const char *prefix, const char *const *values, const char *chosen)
{
    json_t *arr = json_array();
    for (const char *const *v = values; *v; v++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b}", "value", *v, "label_key",
                                             arena_printf(req->arena, "%s.%s", prefix, *v), "selected",
                                             chosen && strcmp(chosen, *v) == 0));
    return arr;
}

/* --- the list ------------------------------------------------------------------------------------- */

static json_t *list_row(struct http_req *req, const struct agreement *g)
{
    bool numbered = g->contract_number && *g->contract_number;
    json_t *row = json_pack("{s:o,s:o,s:s,s:s,s:s,s:s}", "id", http_json_id(g->id), "client_id",
                            http_json_id(g->client_id), "label", numbered ? g->contract_number : g->draft_ref,
                            "client", g->client_legal_name ? g->client_legal_name : "", "status", g->status,
                            "status_key", arena_printf(req->arena, "agreements.status.%s", g->status));
    if (g->start_at) json_object_set_new(row, "start_at", json_integer(g->start_at));
    if (g->expires_at) json_object_set_new(row, "expires_at", json_integer(g->expires_at));
    if (!numbered) json_object_set_new(row, "draft", json_true());
    return row;
}

/* GET /agreements?status=&expiring=&client_id=&after=: newest first, by key; client users see their own. */
int page_agreement_list(struct http_req *req)
{
    json_t *d = page_data(req, "agreements.title", "agreements");
    struct agreement_list_filter f = {.limit = AG_PAGE_SIZE};
    const char *status = query_value(req, "status"), *expiring = query_value(req, "expiring");
    const char *client = query_value(req, "client_id"), *after = query_value(req, "after");
    json_t *form = json_object();
    int rc = 0;
    const char *bad = NULL;
    if (status) {
        json_object_set_new(form, "status", json_string(status));
        f.status = status;
    }
    if (expiring) {
        int64_t days = 0;
        json_object_set_new(form, "expiring", json_string(expiring));
        if (text_parse_int64(expiring, &days) != 0 || days < 1 || days > AGREEMENT_EXPIRING_MAX) bad = "expiring";
        else f.expiring_days = (int)days;
    }
    if (client) {
        /* a client user naming another client finds nothing (the domain's 404), as in the API */
        if (api_parse_client_id(client, &f.client_id) != 0) bad = "client_id";
        json_object_set_new(form, "client_id", json_string(client));
    }
    if (after && id_parse(after, &f.after_id) != 0) bad = "after";
    if (bad) {
        rc = kf_fail(&req->err, KF_E_INVALID, bad, "%s", bad);
    } else {
        struct agreement *items;
        size_t n;
        int64_t next = 0;
        rc = agreement_list_where(&req->ctx, &f, &items, &n, &next, &req->err);
        if (rc == KF_E_INVALID && req->err.field && strcmp(req->err.field, "expiring_days") == 0)
            req->err.field = "expiring";
        if (rc == 0) {
            json_t *rows = json_array();
            for (size_t i = 0; i < n; i++) json_array_append_new(rows, list_row(req, &items[i]));
            json_object_set_new(d, "agreements", rows);
            json_object_set_new(d, "any", json_boolean(n > 0));
            /* the template keeps the filters (form) in the next page's link */
            if (next) json_object_set_new(d, "next", json_string(id_text(req, next)));
        }
    }
    int code = 200;
    if (rc == KF_E_INVALID) {
        bool cursor = req->err.field && strcmp(req->err.field, "after") == 0;
        code = form_error(req, d, NULL);
        /* the cursor is no field on the page: its message goes to the top */
        if (cursor) json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, "agreements.error.after")));
        kf_err_clear(&req->err);
    } else if (rc) {
        json_decref(form);
        json_decref(d);
        return rc;
    }
    json_object_set_new(d, "statuses", options(req, "agreements.status", statuses, status));
    json_t *exp = json_array();
    for (size_t i = 0; i < sizeof expiring_choices / sizeof expiring_choices[0]; i++)
        json_array_append_new(exp, json_pack("{s:i,s:b}", "days", expiring_choices[i], "selected",
                                             f.expiring_days == expiring_choices[i]));
    json_object_set_new(d, "expiring_choices", exp);
    page_client_choice(req, d, f.client_id);
    json_object_set_new(d, "form", form);
    json_object_set_new(d, "can_create", json_boolean(may(req, ACT_AGREEMENT_MANAGE, AG_SOME_CLIENT(req))));
    return page_render(req, code, "agreements/list", d);
}

/* --- the draft form (new and edit) ---------------------------------------------------------------- */

static const char *field_name(struct http_req *req, const char *code, const char *what)
{
    return arena_printf(req->arena, "%s_%s", what, code);
}

static const char *target_field(struct http_req *req, const char *code, int p, bool resolution)
{
    return arena_printf(req->arena, "t_%s_p%d_%s", code, p + 1, resolution ? "res" : "fr");
}

static const char *fee_field(struct http_req *req, const char *code, const char *fee)
{
    return arena_printf(req->arena, "fee_%s_%s", code, fee);
}

/* A text field of the form as a string ("" when absent; the first of a repeated one). */
static const char *form_str(struct http_req *req, const char *key)
{
    json_t *v = req->json ? json_object_get(req->json, key) : NULL;
    if (json_is_array(v)) v = json_array_get(v, 0);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The codes checked in `services` (one value, or an array of them). */
static bool service_checked(struct http_req *req, const char *code)
{
    json_t *v = req->json ? json_object_get(req->json, "services") : NULL;
    if (json_is_string(v)) return strcmp(json_string_value(v), code) == 0;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (json_is_string(x) && strcmp(json_string_value(x), code) == 0) return true;
    return false;
}

/* An optional whole number of the form in 0..max ("" is 0). */
static int form_int(struct http_req *req, const char *key, int64_t max, int64_t *out)
{
    const char *s = form_str(req, key);
    *out = 0;
    if (!*s) return 0;
    while (*s == ' ') s++;
    if (text_parse_int64(s, out) != 0 || *out < 0 || *out > max)
        return kf_fail(&req->err, KF_E_INVALID, key, "%s must be a whole number 0..%lld", key, (long long)max);
    return 0;
}

/* The targets of service `code` on a form (t_<code>_p<N>_fr / _res, business minutes; "" is 0, the
 * catalogue's on an agreement): the draft form's, the change form's and the catalogue form's. */
static int targets_read(struct http_req *req, const char *code, struct agreement_targets *t)
{
    int rc;
    for (int p = 0; p < AGREEMENT_PRIORITIES; p++)
        if ((rc = form_int(req, target_field(req, code, p, false), AGREEMENT_TARGET_MAX, &t->response[p])) ||
            (rc = form_int(req, target_field(req, code, p, true), AGREEMENT_TARGET_MAX, &t->resolution[p])))
            return rc;
    return 0;
}

/* The fee items of service `code` on a form (fee_<code>_<kind>, typed in yuan; "" = no item of that kind). */
static int fees_read(struct http_req *req, const char *code, struct agreement_fee **fees_r, size_t *n_r)
{
    struct agreement_fee *fees = arena_zalloc(req->arena, sizeof *fees * AGREEMENT_FEES_MAX);
    size_t nf = 0;
    for (const char *const *fk = fee_kinds; *fk; fk++) {
        const char *key = fee_field(req, code, *fk);
        const char *text = form_str(req, key);
        if (!*text) continue;
        int rc = money_parse_yuan(text, key, &fees[nf].amount_fen, &req->err);
        if (rc) return rc;
        fees[nf++].kind = *fk;
    }
    *fees_r = fees;
    *n_r = nf;
    return 0;
}

/* The services editor of a form (the draft form and the service change's): the checked catalogue codes
 * (and any other code sent: the domain refuses it) with their target overrides ("" = the catalogue's) and
 * fee items in yuan ("" = none; no item at all = the catalogue's defaults). Errors name the form's field. */
static int services_read(struct http_req *req, const struct service_kind *kinds, size_t n_kinds,
                         const struct agreement_service_input **services_r, size_t *n_r)
{
    int rc;
    json_t *sv = req->json ? json_object_get(req->json, "services") : NULL;
    size_t n_sent = json_is_array(sv) ? json_array_size(sv) : json_is_string(sv) ? 1 : 0;
    if (n_sent > AGREEMENT_SERVICES_MAX) n_sent = AGREEMENT_SERVICES_MAX + 1; /* the domain says "too many" */
    struct agreement_service_input *s = arena_zalloc(req->arena, sizeof *s * (n_sent ? n_sent : 1));
    size_t n = 0;
    for (size_t i = 0; i < n_sent; i++) {
        json_t *x = json_is_array(sv) ? json_array_get(sv, i) : sv;
        if (!json_is_string(x)) return kf_fail(&req->err, KF_E_INVALID, "services", "services");
        const char *code = json_string_value(x);
        s[n].kind = code;
        const struct service_kind *k = kind_of(kinds, n_kinds, code);
        if (k) {
            struct agreement_fee *fees;
            if ((rc = targets_read(req, code, &s[n].targets)) != 0 || (rc = fees_read(req, code, &fees, &s[n].n_fees)) != 0)
                return rc;
            s[n].fees = fees;
        }
        n++;
    }
    *services_r = s;
    *n_r = n;
    return 0;
}

/* The calendar select: "" is the default calendar (0), else a calendar id (the domain checks it exists). */
static int form_calendar(struct http_req *req, int64_t *out)
{
    const char *s = form_str(req, "calendar_id");
    *out = 0;
    if (*s && id_parse(s, out) != 0) return kf_fail(&req->err, KF_E_INVALID, "calendar_id", "not a calendar id");
    return 0;
}

/* `calendars` into d: the persisted calendars for a select, `selected` marked. On the draft form 0 or the
 * default's id is the default, sent as "" so the agreement keeps no explicit calendar; on the change form
 * (`change`) "" is "unchanged" (the template's first option, selected by 0) and every calendar sends its id.
 * Nothing when the viewer may not read calendars. */
static void calendar_choice(struct http_req *req, json_t *d, int64_t selected, bool change)
{
    struct calendar_info *cals;
    size_t n;
    struct kf_err e;
    if (calendar_store_list(&req->ctx, &cals, &n, &e) != 0) return;
    if (selected == 0 && !change) selected = CALENDAR_STORE_DEFAULT_ID;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b}", "value",
                                             cals[i].id == CALENDAR_STORE_DEFAULT_ID && !change ? "" : id_text(req, cals[i].id),
                                             "name", cals[i].name ? cals[i].name : "", "zone", cals[i].zone ? cals[i].zone : "",
                                             "selected", cals[i].id == selected));
    json_object_set_new(d, "calendars", arr);
}

/* The selected calendar of a kept form ("" or garbage: the default). */
static int64_t kept_calendar(struct http_req *req)
{
    int64_t id = 0;
    const char *s = form_str(req, "calendar_id");
    if (*s && id_parse(s, &id) != 0) id = 0;
    return id;
}

/* Reads the draft form into `in` (the API's input): scalar fields as the domain names them, the
 * calendar, and the services editor (services_read). Errors name the form's field. */
static int form_read(struct http_req *req, const struct service_kind *kinds, size_t n_kinds, struct agreement_input *in)
{
    memset(in, 0, sizeof *in);
    int rc;
    const char **party[] = {&in->provider_legal_name, &in->provider_address, &in->provider_contact_name,
                            &in->provider_contact_phone, &in->client_legal_name, &in->client_address,
                            &in->client_contact_name, &in->client_contact_phone};
    for (size_t i = 0; party_fields[i]; i++)
        if ((rc = http_json_string(req, party_fields[i], false, API_TEXT_MAX, party[i])) != 0) return rc;
    int64_t v;
    if (!*form_str(req, "term_years")) return kf_fail(&req->err, KF_E_INVALID, "term_years", "term_years is required");
    if ((rc = form_int(req, "term_years", 1000, &v)) != 0) return rc;
    in->term_years = (int)v;
    if ((rc = form_int(req, "notice_days", 100000, &v)) != 0) return rc;
    in->notice_days = (int)v;
    if ((rc = form_int(req, "acceptance_days", 100000, &v)) != 0) return rc;
    in->acceptance_days = (int)v;
    if ((rc = form_int(req, "reminder_days", 100000, &v)) != 0) return rc;
    in->reminder_days = (int)v;
    if ((rc = http_json_string(req, "acceptance_by", false, API_SHORT_MAX, &in->acceptance_by)) != 0) return rc;
    if (!in->acceptance_by || !*in->acceptance_by) in->acceptance_by = "client";
    if ((rc = http_json_string(req, "calendar_zone", false, 256, &in->calendar_zone)) != 0) return rc;
    if ((rc = form_calendar(req, &in->calendar_id)) != 0) return rc;
    if ((rc = http_json_string(req, "idempotency_key", false, API_SHORT_MAX, &in->idempotency_key)) != 0) return rc;
    if ((rc = http_json_string(req, "number_pattern", false, 256, &in->number_pattern)) != 0) return rc;
    if ((rc = http_json_string(req, "supplementary_terms", false, AGREEMENT_TERMS_MAX, &in->supplementary_terms)) != 0)
        return rc;
    return services_read(req, kinds, n_kinds, &in->services, &in->n_services);
}

/* The domain's field on the form: the services' errors belong to the services' fieldset. */
static const char *page_field(const char *domain_field)
{
    if (!domain_field) return NULL;
    if (strncmp(domain_field, "services", 8) == 0) return "services";
    if (strcmp(domain_field, "expiring_days") == 0) return "expiring";
    return domain_field;
}

/* The services editor's model into d.services (one per catalogue kind: checked, its targets with the
 * catalogue's as placeholders, its fees in yuan, each with its error from d.errors): from the submitted
 * form (`kept`), else from `g`'s services (edit, or a change starting from the terms now), else the
 * catalogue's defaults (a new draft). */
static void services_model(struct http_req *req, json_t *d, const struct service_kind *kinds, size_t n_kinds,
                           const struct agreement *g, bool kept)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n_kinds; i++) {
        const struct service_kind *k = &kinds[i];
        const struct agreement_service *have = NULL;
        for (size_t j = 0; g && j < g->n_services; j++)
            if (strcmp(g->services[j].kind, k->code) == 0) have = &g->services[j];
        bool checked = kept ? service_checked(req, k->code) : g ? have != NULL : false;
        json_t *targets = json_array();
        for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
            const char *fr = target_field(req, k->code, p, false), *res = target_field(req, k->code, p, true);
            const char *frv = kept ? form_str(req, fr) : have && have->personal.response[p] ? id_text(req, have->personal.response[p]) : "";
            const char *resv = kept ? form_str(req, res) : have && have->personal.resolution[p] ? id_text(req, have->personal.resolution[p]) : "";
            json_array_append_new(targets, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "priority",
                                                     arena_printf(req->arena, "P%d", p + 1), "fr_name", fr, "fr_value", frv,
                                                     "res_name", res, "res_value", resv, "label_id",
                                                     arena_printf(req->arena, "t_%s_p%d", k->code, p + 1), "fr_default",
                                                     (json_int_t)k->targets.response[p], "res_default",
                                                     (json_int_t)k->targets.resolution[p]));
        }
        json_t *fees = json_array();
        for (const char *const *fk = fee_kinds; *fk; fk++) {
            const char *key = fee_field(req, k->code, *fk);
            const char *value = "";
            if (kept) {
                value = form_str(req, key);
            } else {
                /* edit: the stored items; new: the catalogue's defaults, to keep or change */
                const struct agreement_fee *src = have ? have->fees : g ? NULL : k->fees;
                size_t ns = have ? have->n_fees : g ? 0 : k->n_fees;
                for (size_t j = 0; j < ns; j++)
                    if (strcmp(src[j].kind, *fk) == 0) value = yuan_text(req, src[j].amount_fen);
            }
            json_array_append_new(fees, json_pack("{s:s,s:s,s:s}", "name", key, "value", value, "label_key",
                                                  arena_printf(req->arena, "agreements.fee.%s", *fk)));
        }
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:o,s:o,s:s}", "code", k->code, "name",
                                             kind_name(req, k, k->code), "checked", checked, "targets", targets, "fees",
                                             fees, "box_id", field_name(req, k->code, "svc")));
    }
    json_t *errors = json_object_get(d, "errors");
    size_t i;
    json_t *row;
    json_array_foreach(arr, i, row) {
        size_t j;
        json_t *x;
        json_array_foreach(json_object_get(row, "targets"), j, x) {
            json_t *e1 = errors ? json_object_get(errors, json_string_value(json_object_get(x, "fr_name"))) : NULL;
            json_t *e2 = errors ? json_object_get(errors, json_string_value(json_object_get(x, "res_name"))) : NULL;
            if (json_is_string(e1)) json_object_set(x, "problem", e1);
            else if (json_is_string(e2)) json_object_set(x, "problem", e2);
        }
        json_array_foreach(json_object_get(row, "fees"), j, x) {
            json_t *e = errors ? json_object_get(errors, json_string_value(json_object_get(x, "name"))) : NULL;
            if (json_is_string(e)) json_object_set(x, "problem", e);
        }
    }
    json_object_set_new(d, "services", arr);
}

/* The form's model into d: `form` (scalar values), `services` (one per catalogue kind: checked, its
 * targets with the catalogue's as placeholders, its fees in yuan), `acceptance` options and `clients`.
 * From `g` (edit), else from the submitted form (`kept`), else the defaults (new). */
static void form_model(struct http_req *req, json_t *d, const struct service_kind *kinds, size_t n_kinds,
                       const struct agreement *g, bool kept)
{
    json_t *form = json_object_get(d, "form");
    if (!json_is_object(form)) json_object_set_new(d, "form", form = json_object());
    if (g) {
        const char *pv[] = {g->provider_legal_name, g->provider_address, g->provider_contact_name,
                            g->provider_contact_phone, g->client_legal_name, g->client_address,
                            g->client_contact_name, g->client_contact_phone};
        for (size_t i = 0; party_fields[i]; i++) json_object_set_new(form, party_fields[i], json_string(pv[i] ? pv[i] : ""));
        json_object_set_new(form, "term_years", json_string(id_text(req, g->term_years)));
        json_object_set_new(form, "notice_days", json_string(id_text(req, g->notice_days)));
        json_object_set_new(form, "acceptance_by", json_string(g->acceptance_by));
        json_object_set_new(form, "acceptance_days", json_string(id_text(req, g->acceptance_days)));
        json_object_set_new(form, "reminder_days", json_string(id_text(req, g->reminder_days)));
        json_object_set_new(form, "calendar_zone", json_string(g->calendar_zone ? g->calendar_zone : ""));
        json_object_set_new(form, "number_pattern", json_string(g->number_pattern ? g->number_pattern : ""));
        json_object_set_new(form, "supplementary_terms",
                            json_string(g->supplementary_terms ? g->supplementary_terms : ""));
    } else if (!kept) {
        json_object_set_new(form, "term_years", json_string("1"));
        json_object_set_new(form, "notice_days", json_string("30"));
        json_object_set_new(form, "acceptance_days", json_string("7"));
        json_object_set_new(form, "reminder_days", json_string("30"));
        json_object_set_new(form, "calendar_zone", json_string("Asia/Shanghai"));
        json_object_set_new(form, "number_pattern", json_string(AGREEMENT_DEFAULT_PATTERN));
    }
    /* a new draft's duplicate-submission key: made when the form is first shown, kept when shown again */
    if (!g && !json_is_string(json_object_get(form, "idempotency_key")))
        json_object_set_new(form, "idempotency_key", json_string(page_form_key(req)));
    calendar_choice(req, d, kept ? kept_calendar(req) : g ? g->calendar_id : 0, false);
    const char *acc = json_string_value(json_object_get(form, "acceptance_by"));
    static const char *const accepters[] = {"client", "customer", NULL};
    json_object_set_new(d, "acceptance", options(req, "agreements.acceptance", accepters, acc && *acc ? acc : "client"));
    services_model(req, d, kinds, n_kinds, g, kept);
    json_t *parties = json_array();
    for (size_t i = 0; party_fields[i]; i++) {
        json_t *kept_value = json_object_get(form, party_fields[i]);
        /* "o" takes the reference: a borrowed kept value gets its own, a new "" is handed over */
        json_array_append_new(parties, json_pack("{s:s,s:s,s:o}", "name", party_fields[i], "label_key",
                                                 arena_printf(req->arena, "agreements.field.%s", party_fields[i]), "value",
                                                 kept_value ? json_incref(kept_value) : json_string("")));
    }
    /* each row carries its own error text, so the template needs no per-field markup */
    json_t *errors = json_object_get(d, "errors");
    size_t i;
    json_t *row;
    json_array_foreach(parties, i, row) {
        json_t *e = errors ? json_object_get(errors, json_string_value(json_object_get(row, "name"))) : NULL;
        if (json_is_string(e)) json_object_set(row, "problem", e);
    }
    json_object_set_new(d, "parties", parties);
}

static int form_page(struct http_req *req, int status, json_t *d, const struct agreement *g, bool kept, int64_t client_id)
{
    struct service_kind *kinds;
    size_t n;
    int rc = load_kinds(req, &kinds, &n);
    if (rc) {
        json_decref(d);
        return rc;
    }
    form_model(req, d, kinds, n, g, kept);
    if (g) {
        json_object_set_new(d, "edit", json_true());
        json_object_set_new(d, "action", json_string(ag_path(req, client_id, g->id, "/edit", NULL)));
        json_object_set_new(d, "back", json_string(ag_path(req, client_id, g->id, NULL, NULL)));
        json_object_set_new(d, "agreement_label", json_string(g->draft_ref));
    } else {
        page_client_choice(req, d, client_id);
        json_object_set_new(d, "action", json_string("/agreements"));
        json_object_set_new(d, "back", json_string("/agreements"));
    }
    return page_render(req, status, "agreements/new", d);
}

/* GET /agreements/new?client_id=: the draft form (account managers and admins). */
int page_agreement_new(struct http_req *req)
{
    int64_t client_id = 0;
    const char *s = query_value(req, "client_id");
    if (s && api_parse_client_id(s, &client_id) != 0) client_id = 0;
    int rc = require(req, ACT_AGREEMENT_MANAGE, client_id ? client_id : AG_SOME_CLIENT(req));
    if (rc) return rc;
    return form_page(req, 200, page_data(req, "agreements.new.title", "agreements"), NULL, false, client_id);
}

/* The form again with the error of req->err beside its field (the domain's field mapped onto the form's). */
static int form_fail(struct http_req *req, const char *title_key, const struct agreement *g, int64_t client_id)
{
    json_t *d = page_data(req, title_key, "agreements");
    int status = form_error(req, d, page_field(req->err.field));
    page_keep_form(req, d, scalar_fields);
    kf_err_clear(&req->err);
    return form_page(req, status, d, g, true, client_id);
}

static bool is_form_error(int rc)
{
    return rc == KF_E_INVALID || rc == KF_E_TOO_LARGE;
}

/* POST /agreements (client_id, the draft's fields, idempotency_key): creates the draft and goes to its page;
 * the same key again goes to the first draft and makes no other. */
int page_agreement_create(struct http_req *req)
{
    int64_t client_id = 0, id = 0;
    const char *cs = form_str(req, "client_id");
    bool client_ok = *cs && api_parse_client_id(cs, &client_id) == 0 && client_id != 0;
    /* the policy first, on the client named (another tenant's: 404), whatever else the form holds */
    int rc = require(req, ACT_AGREEMENT_MANAGE, client_ok ? client_id : AG_SOME_CLIENT(req));
    if (rc) return rc;
    if (!client_ok) rc = kf_fail(&req->err, KF_E_INVALID, "client_id", "choose a client");
    struct service_kind *kinds;
    size_t n;
    struct agreement_input in;
    if (!rc) rc = load_kinds(req, &kinds, &n);
    if (!rc) rc = form_read(req, kinds, n, &in);
    bool existing = false;
    /* the same form sent twice (its idempotency_key): the first draft answers, and the page goes to it */
    if (!rc) rc = agreement_create_once(&req->ctx, client_id, &in, &id, &existing, &req->err);
    if (rc == KF_E_NOT_FOUND && req->err.field && strcmp(req->err.field, "client_id") == 0) rc = req->err.code = KF_E_INVALID;
    if (is_form_error(rc)) return form_fail(req, "agreements.new.title", NULL, client_id);
    if (rc) return rc;
    return page_redirect(req, ag_path(req, client_id, id, NULL, existing ? NULL : "created=1"));
}

/* GET /agreements/{id}/edit?client_id=: the same form for a draft. */
int page_agreement_edit(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_AGREEMENT_MANAGE, client_id);
    struct agreement g;
    if (!rc) rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) return rc;
    json_t *d = page_data(req, "agreements.edit.title", "agreements");
    if (strcmp(g.status, "draft") != 0) {
        json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, "agreements.error.not_draft")));
        return form_page(req, 409, d, &g, false, client_id);
    }
    return form_page(req, 200, d, &g, false, client_id);
}

/* POST /agreements/{id}/edit?client_id=: replaces the draft's terms and services. */
int page_agreement_update(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_AGREEMENT_MANAGE, client_id);
    struct agreement g;
    if (!rc) rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) return rc;
    struct service_kind *kinds;
    size_t n;
    struct agreement_input in;
    if ((rc = load_kinds(req, &kinds, &n)) == 0 && (rc = form_read(req, kinds, n, &in)) == 0)
        rc = agreement_update_draft(&req->ctx, client_id, id, &in, &req->err);
    if (is_form_error(rc)) return form_fail(req, "agreements.edit.title", &g, client_id);
    if (rc == KF_E_CONFLICT) {
        json_t *d = page_data(req, "agreements.edit.title", "agreements");
        json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, "agreements.error.not_draft")));
        kf_err_clear(&req->err);
        return form_page(req, 409, d, &g, false, client_id);
    }
    if (rc) return rc;
    return page_redirect(req, ag_path(req, client_id, id, NULL, "saved=1"));
}

/* --- one agreement -------------------------------------------------------------------------------- */

static json_t *files_json(struct http_req *req, int64_t client_id, int64_t id, struct file_meta **files_r, size_t *n_r)
{
    struct file_meta *files;
    size_t n;
    struct kf_err e;
    json_t *arr = json_array();
    *n_r = 0;
    if (file_list_for_owner(&req->ctx, client_id, "agreement", id, &files, &n, &e) != 0) return arr;
    for (size_t i = 0; i < n; i++) {
        const struct file_meta *f = &files[i];
        json_array_append_new(arr, json_pack("{s:o,s:s,s:s,s:s,s:o,s:I}", "id", http_json_id(f->id), "name", f->name,
                                             "media_type", f->media_type, "size_text",
                                             arena_printf(req->arena, "%.1f KB", (double)f->size / 1024.0), "uploader",
                                             person(req, client_id, f->uploaded_by), "created", (json_int_t)f->created));
    }
    if (files_r) *files_r = files;
    *n_r = n;
    return arr;
}

static json_t *targets_rows(const struct agreement_service *s)
{
    json_t *rows = json_array();
    for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
        bool personal = s->personal.response[p] || s->personal.resolution[p];
        json_array_append_new(rows, json_pack("{s:s,s:I,s:I,s:b}", "priority", (const char *[]){"P1", "P2", "P3", "P4"}[p],
                                              "first_response", (json_int_t)s->targets.response[p], "resolution",
                                              (json_int_t)s->targets.resolution[p], "personal", personal));
    }
    return rows;
}

/* Services with their effective targets and fees, for the summary (the agreement's now, or the terms at an instant). */
static json_t *service_rows(struct http_req *req, const struct agreement_service *services, size_t n_services)
{
    struct service_kind *kinds = NULL;
    size_t nk = 0;
    struct kf_err e;
    if (agreement_service_kinds(&req->ctx, &kinds, &nk, &e) != 0) nk = 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < n_services; i++) {
        const struct agreement_service *s = &services[i];
        bool personal = false;
        for (int p = 0; p < AGREEMENT_PRIORITIES; p++) personal |= s->personal.response[p] || s->personal.resolution[p];
        json_t *fees = json_array();
        for (size_t j = 0; j < s->n_fees; j++)
            json_array_append_new(fees, json_pack("{s:s,s:I}", "label_key",
                                                  arena_printf(req->arena, "agreements.fee_name.%s", s->fees[j].kind),
                                                  "amount_fen", (json_int_t)s->fees[j].amount_fen));
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:o,s:o,s:b}", "code", s->kind, "name",
                                             kind_name(req, kind_of(kinds, nk, s->kind), s->kind), "personal", personal,
                                             "targets", targets_rows(s), "fees", fees, "has_fees", s->n_fees > 0));
    }
    return arr;
}

static json_t *services_json(struct http_req *req, const struct agreement *g)
{
    return service_rows(req, g->services, g->n_services);
}

struct history {
    struct http_req *req;
    json_t *rows;
};

static int history_row(void *arg, const struct audit_record *r)
{
    struct history *h = arg;
    /* the catalogue's words for the action where it has them, else the action's name */
    const char *label = i18n_lookup(page_locale(h->req), arena_printf(h->req->arena, "agreements.audit.%s", r->action));
    json_array_append_new(h->rows, json_pack("{s:I,s:s,s:s}", "at", (json_int_t)r->at, "action", label ? label : r->action, "actor",
                                             r->actor_id ? arena_printf(h->req->arena, "#%lld", (long long)r->actor_id)
                                                         : page_text(h->req, "agreements.history.system")));
    return 0;
}

/* The audit trail of this agreement, for viewers who may read the client's trail. */
static void history_json(struct http_req *req, json_t *d, int64_t client_id, int64_t id)
{
    if (!may(req, ACT_AUDIT_READ, client_id)) return;
    struct audit_filter f = {.chain = client_id, .object_type = "agreement", .object_id = id};
    struct history h = {req, json_array()};
    struct kf_err e;
    if (audit_trail_list(&req->ctx, &f, NULL, AG_HISTORY_MAX, history_row, &h, NULL, &e) != 0) {
        json_decref(h.rows);
        return;
    }
    /* the actors' names, once each */
    size_t i;
    json_t *row;
    json_array_foreach(h.rows, i, row) {
        const char *a = json_string_value(json_object_get(row, "actor"));
        int64_t uid;
        if (a && a[0] == '#' && id_parse(a + 1, &uid) == 0) json_object_set_new(row, "actor", person(req, client_id, uid));
    }
    json_object_set_new(d, "history", h.rows);
    json_object_set_new(d, "history_read", json_true());
    json_object_set_new(d, "audit_link", json_string(arena_printf(req->arena, "/audit?client_id=%lld&object_type=agreement&object_id=%lld",
                                                                (long long)client_id, (long long)id)));
}

/* Which side the viewer is on: "provider" (client 0) or "client". */
static const char *viewer_side(struct http_req *req)
{
    return req->actor.client_id == 0 ? "provider" : "client";
}

static bool ended(const struct agreement *g)
{
    return strcmp(g->status, "expired") == 0 || strcmp(g->status, "dissolved") == 0;
}

/* The calendar `id` (0: the default) as {id, name} for a link to /calendars/{id}; NULL when the viewer may
 * not read calendars (client users see the zone only). */
static json_t *calendar_json(struct http_req *req, int64_t id)
{
    struct calendar_info info;
    struct kf_err e;
    if (calendar_store_get(&req->ctx, id ? id : CALENDAR_STORE_DEFAULT_ID, &info, &e) != 0) return NULL;
    return json_pack("{s:o,s:s}", "id", http_json_id(info.id), "name", info.name ? info.name : "");
}

/* The agreement as the pages show it: number, status, parties, dates, signatures, dissolution. */
static json_t *agreement_view(struct http_req *req, const struct agreement *g)
{
    bool numbered = g->contract_number && *g->contract_number;
    json_t *o = json_pack("{s:o,s:o,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:i,s:i,s:s,s:s,s:I}", "id", http_json_id(g->id),
                          "client_id", http_json_id(g->client_id), "label", numbered ? g->contract_number : g->draft_ref,
                          "draft_ref", g->draft_ref, "status", g->status, "status_key",
                          arena_printf(req->arena, "agreements.status.%s", g->status), "term_years", g->term_years,
                          "notice_days", g->notice_days, "acceptance_key",
                          arena_printf(req->arena, "agreements.acceptance.%s", g->acceptance_by), "acceptance_days",
                          g->acceptance_days, "reminder_days", g->reminder_days, "calendar_zone",
                          g->calendar_zone ? g->calendar_zone : "", "number_pattern",
                          g->number_pattern ? g->number_pattern : "", "created", (json_int_t)g->created);
    if (numbered) json_object_set_new(o, "contract_number", json_string(g->contract_number));
    const char *pv[] = {g->provider_legal_name, g->provider_address, g->provider_contact_name, g->provider_contact_phone,
                        g->client_legal_name,   g->client_address,   g->client_contact_name,   g->client_contact_phone};
    for (size_t i = 0; party_fields[i]; i++) json_object_set_new(o, party_fields[i], json_string(pv[i] ? pv[i] : ""));
    struct {
        const char *key;
        int64_t v;
    } times[] = {{"provider_signed_at", g->provider_signed_at}, {"client_signed_at", g->client_signed_at},
                 {"start_at", g->start_at},                     {"expires_at", g->expires_at},
                 {"ended_at", g->ended_at}};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        if (times[i].v) json_object_set_new(o, times[i].key, json_integer(times[i].v));
    if (g->provider_signed_by) json_object_set_new(o, "provider_signed_by", person(req, g->client_id, g->provider_signed_by));
    if (g->client_signed_by) json_object_set_new(o, "client_signed_by", person(req, g->client_id, g->client_signed_by));
    if (ended(g)) json_object_set_new(o, "ended", json_true());
    json_t *cal = calendar_json(req, g->calendar_id);
    if (cal) json_object_set_new(o, "calendar", cal);
    return o;
}

/* The dissolution under way or done into d.dissolution: ground, who invoked, each party's
 * confirmation, effective instant, evidence (named from `files`). */
static void dissolution_json(struct http_req *req, json_t *d, const struct agreement *g, const struct file_meta *files,
                             size_t n_files)
{
    if (!g->dissolution_ground || !*g->dissolution_ground) return;
    json_t *o = json_pack("{s:s,s:s,s:o,s:I}", "ground", g->dissolution_ground, "ground_key",
                          arena_printf(req->arena, "agreements.ground.%s", g->dissolution_ground), "invoked_by",
                          person(req, g->client_id, g->dissolution_invoked_by), "invoked_at",
                          (json_int_t)g->dissolution_invoked_at);
    if (g->dissolution_effective_at) json_object_set_new(o, "effective_at", json_integer(g->dissolution_effective_at));
    if (g->dissolution_provider_at) {
        json_object_set_new(o, "provider_at", json_integer(g->dissolution_provider_at));
        json_object_set_new(o, "provider_by", person(req, g->client_id, g->dissolution_provider_by));
    }
    if (g->dissolution_client_at) {
        json_object_set_new(o, "client_at", json_integer(g->dissolution_client_at));
        json_object_set_new(o, "client_by", person(req, g->client_id, g->dissolution_client_by));
    }
    bool mutual = strcmp(g->dissolution_ground, AGREEMENT_MUTUAL_CONSENT) == 0;
    bool waiting = mutual && strcmp(g->status, "active") == 0 && (!g->dissolution_provider_at || !g->dissolution_client_at);
    if (waiting) {
        json_object_set_new(o, "waiting", json_true());
        bool mine_done = req->actor.client_id == 0 ? g->dissolution_provider_at != 0 : g->dissolution_client_at != 0;
        if (!mine_done && may(req, ACT_AGREEMENT_DISSOLVE, g->client_id)) json_object_set_new(o, "can_confirm", json_true());
    }
    json_t *ev = g->dissolution_evidence && *g->dissolution_evidence ? json_loads(g->dissolution_evidence, 0, NULL) : NULL;
    json_t *evidence = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(ev, i, x) {
        int64_t fid = 0;
        if (!json_is_string(x) || id_parse(json_string_value(x), &fid) != 0) continue;
        const char *name = NULL;
        for (size_t k = 0; k < n_files; k++)
            if (files[k].id == fid) name = files[k].name;
        json_array_append_new(evidence, json_pack("{s:o,s:s}", "id", http_json_id(fid), "name",
                                                  name ? name : arena_printf(req->arena, "#%lld", (long long)fid)));
    }
    json_decref(ev);
    json_object_set_new(o, "evidence", evidence);
    json_object_set_new(d, "dissolution", o);
}

/* What the viewer may do with it now (the domain decides again on each POST). */
static void actions_json(struct http_req *req, json_t *d, const struct agreement *g)
{
    bool manage = may(req, ACT_AGREEMENT_MANAGE, g->client_id);
    bool draft = strcmp(g->status, "draft") == 0, active = strcmp(g->status, "active") == 0;
    json_t *a = json_object();
    if (manage && draft) {
        json_object_set_new(a, "edit", json_true());
        json_object_set_new(a, "sign_provider", json_true());
    }
    if (strcmp(g->status, "provider_signed") == 0 && may(req, ACT_AGREEMENT_SIGN_CLIENT, g->client_id))
        json_object_set_new(a, "sign_client", json_true());
    bool under_way = g->dissolution_ground && *g->dissolution_ground;
    if (active && !under_way && may(req, ACT_AGREEMENT_DISSOLVE, g->client_id)) json_object_set_new(a, "dissolve", json_true());
    if (active && manage) json_object_set_new(a, "propose_change", json_true());
    json_object_set_new(a, "export", json_true());
    json_object_set_new(d, "actions", a);
    json_object_set_new(d, "can_attach", json_boolean(may(req, ACT_AGREEMENT_DISSOLVE, g->client_id) &&
                                                      may(req, ACT_FILE_UPLOAD, g->client_id)));
}

/* ?at=YYYY-MM-DD: the services in force at the start of that day in the agreement's zone (C8.1.1 term
 * history) into d.services with the banner d.terms_at; returns 0, or the status of a refused date (the
 * agreement's current services are shown then, with the error beside the date field). */
static int terms_json(struct http_req *req, json_t *d, const struct agreement *g)
{
    const char *day = query_value(req, "at");
    if (!day) return 0;
    json_object_set_new(d, "at_value", json_string(day));
    int64_t at;
    struct agreement_terms t;
    const char *zone = g->calendar_zone && *g->calendar_zone ? g->calendar_zone : "Asia/Shanghai";
    if (strlen(day) > 10 || zone_parse_local(day, zone, false, &at) != 0) {
        kf_fail(&req->err, KF_E_INVALID, "at", "not a date");
        int status = form_error(req, d, "at");
        kf_err_clear(&req->err);
        return status;
    }
    if (agreement_terms_at(NULL, &req->ctx, g->client_id, g->id, at, &t, &req->err) != 0) {
        kf_err_clear(&req->err);
        return 0;
    }
    json_object_set_new(d, "services", service_rows(req, t.services, t.n_services));
    json_object_set_new(d, "terms_at", json_pack("{s:I,s:s}", "at", (json_int_t)at, "day", day));
    json_t *cal = calendar_json(req, t.calendar_id);
    if (cal) json_object_set_new(json_object_get(d, "terms_at"), "calendar", cal);
    return 0;
}

/* d.changes: the agreement's service changes, newest first, with the link to each one's notice (for viewers
 * of the register) and the withdraw link of a pending one (for those who manage agreements). */
static void changes_json(struct http_req *req, json_t *d, const struct agreement *g)
{
    struct agreement_change *items;
    size_t n;
    struct kf_err e;
    if (agreement_change_list(&req->ctx, g->client_id, g->id, &items, &n, &e) != 0) return;
    bool notices = may(req, ACT_NOTICE_READ, g->client_id), manage = may(req, ACT_AGREEMENT_MANAGE, g->client_id);
    int64_t now = clock_now_ms(req->ctx.env->clock);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct agreement_change *c = &items[i];
        json_t *row = json_pack("{s:o,s:s,s:s,s:I,s:s}", "id", http_json_id(c->id), "status", c->status, "status_key",
                                arena_printf(req->arena, "agreements.change.status.%s", c->status), "effective_at",
                                (json_int_t)c->effective_at, "summary", c->summary ? c->summary : "");
        if (notices && c->notice_id)
            json_object_set_new(row, "notice_href", json_string(arena_printf(req->arena, "/notices/%lld?client_id=%lld",
                                                                             (long long)c->notice_id, (long long)g->client_id)));
        if (c->services_changed) json_object_set_new(row, "services_changed", json_true());
        if (c->calendar_changed) json_object_set_new(row, "calendar_changed", json_true());
        if (manage && strcmp(c->status, "pending") == 0 && c->effective_at > now)
            json_object_set_new(row, "withdraw_href",
                                json_string(ag_path(req, g->client_id, g->id,
                                                    arena_printf(req->arena, "/changes/%lld/withdraw", (long long)c->id), NULL)));
        json_array_append_new(arr, row);
    }
    json_object_set_new(d, "changes", arr);
    json_object_set_new(d, "has_changes", json_boolean(n > 0));
    json_object_set_new(d, "changes_read", json_true());
}

/* d.notices: the formal notices about this agreement (C11.1.1), newest first, the ones not yet acknowledged
 * marked (more strongly those waiting for the viewer's side), and the link to send one. */
static void notices_json(struct http_req *req, json_t *d, const struct agreement *g)
{
    if (!may(req, ACT_NOTICE_READ, g->client_id)) return;
    struct notice_filter f = {.client_id = g->client_id, .agreement_id = g->id};
    struct notice *items;
    size_t n;
    int64_t next = 0;
    struct kf_err e;
    if (notice_list(&req->ctx, &f, 0, AG_NOTICES_MAX, &items, &n, &next, &e) != 0) return;
    const char *side = viewer_side(req);
    json_t *arr = json_array();
    size_t waiting = 0;
    for (size_t i = 0; i < n; i++) {
        const struct notice *x = &items[i];
        bool unack = x->acknowledged_at == 0, mine = unack && strcmp(x->recipient_party, side) == 0;
        waiting += mine;
        json_t *row = json_pack("{s:o,s:s,s:s,s:I,s:s,s:b,s:b}", "id", http_json_id(x->id), "subject", x->subject, "kind_key",
                                arena_printf(req->arena, "notices.kind.%s", x->kind), "sent_at", (json_int_t)x->sent_at,
                                "direction_key",
                                arena_printf(req->arena, "agreements.notices.from_%s", x->sender_party), "unacknowledged",
                                unack, "waiting_me", mine);
        if (x->acknowledged_at) json_object_set_new(row, "acknowledged_at", json_integer(x->acknowledged_at));
        json_array_append_new(arr, row);
    }
    json_object_set_new(d, "notices", arr);
    json_object_set_new(d, "has_notices", json_boolean(n > 0));
    json_object_set_new(d, "notices_read", json_true());
    if (waiting) json_object_set_new(d, "notices_waiting", json_integer((json_int_t)waiting));
    if (next) json_object_set_new(d, "notices_more", json_true());
    if (may(req, ACT_NOTICE_SEND, g->client_id))
        json_object_set_new(d, "notice_new_href",
                            json_string(arena_printf(req->arena, "/notices/new?agreement_id=%lld&client_id=%lld",
                                                     (long long)g->id, (long long)g->client_id)));
    json_object_set_new(d, "notices_all_href",
                        json_string(arena_printf(req->arena, "/notices?client_id=%lld", (long long)g->client_id)));
}

/* Renders an agreement's page into d (consumed). */
static int show_page(struct http_req *req, int status, json_t *d, int64_t client_id, int64_t id)
{
    struct agreement g;
    int rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_object_set_new(d, "title", json_string(g.contract_number && *g.contract_number ? g.contract_number : g.draft_ref));
    json_object_set_new(d, "agreement", agreement_view(req, &g));
    if ((rc = terms_json(req, d, &g)) != 0) status = rc;
    if (!json_object_get(d, "terms_at")) json_object_set_new(d, "services", services_json(req, &g));
    changes_json(req, d, &g);
    notices_json(req, d, &g);
    if (g.supplementary_terms && *g.supplementary_terms) {
        char *html;
        struct kf_err e;
        if (markdown_render_html(req->arena, g.supplementary_terms, strlen(g.supplementary_terms), &html, NULL, &e) == 0)
            json_object_set_new(d, "terms_html", render_trusted(html));
    }
    struct file_meta *files = NULL;
    size_t n_files;
    json_t *fl = files_json(req, client_id, id, &files, &n_files);
    json_object_set_new(d, "files", fl);
    json_object_set_new(d, "has_files", json_boolean(n_files > 0));
    dissolution_json(req, d, &g, files, n_files);
    actions_json(req, d, &g);
    history_json(req, d, client_id, id);
    json_object_set_new(d, "base", json_string(arena_printf(req->arena, "/agreements/%lld", (long long)id)));
    json_object_set_new(d, "client_q", json_string(id_text(req, client_id)));
    return page_render(req, status, "agreements/show", d);
}

/* GET /agreements/{id}?client_id=: everything about one agreement, in every status (C10.3.2). */
int page_agreement_show(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    if (rc) return rc;
    json_t *d = page_data(req, NULL, "agreements");
    static const char *const notices[] = {"created", "saved", "signed", "dissolved", "confirmed", "uploaded",
                                         "proposed", "withdrawn", NULL};
    for (const char *const *n = notices; *n; n++)
        if (http_query(req, *n))
            json_object_set_new(d, "notice_key", json_string(arena_printf(req->arena, "agreements.notice.%s", *n)));
    return show_page(req, 200, d, client_id, id);
}

/* --- signing -------------------------------------------------------------------------------------- */

/* The confirmation page of one side's signature: what is signed (the summary), and the button when
 * the viewer may sign it now; `error` says why not after a refused POST. */
static int sign_page(struct http_req *req, int status, const char *side, int64_t client_id, int64_t id, const char *error_key)
{
    struct agreement g;
    int rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) return rc;
    bool provider = strcmp(side, "provider") == 0;
    json_t *d = page_data(req, provider ? "agreements.sign_provider.title" : "agreements.sign_client.title", "agreements");
    json_object_set_new(d, "agreement", agreement_view(req, &g));
    json_object_set_new(d, "services", services_json(req, &g));
    json_object_set_new(d, "provider_side", json_boolean(provider));
    const char *from = provider ? "draft" : "provider_signed";
    bool allowed = provider ? may(req, ACT_AGREEMENT_MANAGE, client_id) : may(req, ACT_AGREEMENT_SIGN_CLIENT, client_id);
    if (error_key) {
        json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, error_key)));
    } else if (strcmp(g.status, from) != 0) {
        json_object_set_new(d, "state_note", json_string(provider ? "agreements.sign.not_draft" : "agreements.sign.not_waiting"));
    } else if (!allowed) {
        json_object_set_new(d, "state_note", json_string(provider ? "agreements.sign.provider_only" : "agreements.sign.client_only"));
    } else {
        json_object_set_new(d, "can_sign", json_true());
    }
    json_object_set_new(d, "action", json_string(ag_path(req, client_id, id, provider ? "/sign-provider" : "/sign-client", NULL)));
    json_object_set_new(d, "back", json_string(ag_path(req, client_id, id, NULL, NULL)));
    return page_render(req, status, "agreements/sign", d);
}

static int sign_confirm(struct http_req *req, const char *side)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    return rc ? rc : sign_page(req, 200, side, client_id, id, NULL);
}

static int sign_submit(struct http_req *req, const char *side)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    if (rc) return rc;
    bool provider = strcmp(side, "provider") == 0;
    rc = provider ? agreement_sign_provider(&req->ctx, client_id, id, &req->err)
                  : agreement_sign_client(&req->ctx, client_id, id, &req->err);
    if (rc == KF_E_CONFLICT) {
        /* signed already, or not in the state this signature needs: the page says so */
        kf_err_clear(&req->err);
        return sign_page(req, 409, side, client_id, id, "agreements.error.sign_conflict");
    }
    if (rc) return rc;
    return page_redirect(req, ag_path(req, client_id, id, NULL, "signed=1"));
}

/* GET /agreements/{id}/sign-provider: party A's confirmation page. */
int page_agreement_sign_provider_confirm(struct http_req *req)
{
    return sign_confirm(req, "provider");
}

/* POST /agreements/{id}/sign-provider: party A signs the draft. */
int page_agreement_sign_provider(struct http_req *req)
{
    return sign_submit(req, "provider");
}

/* GET /agreements/{id}/sign-client: party B's confirmation page. */
int page_agreement_sign_client_confirm(struct http_req *req)
{
    return sign_confirm(req, "client");
}

/* POST /agreements/{id}/sign-client: party B signs; the agreement becomes active with its number. */
int page_agreement_sign_client(struct http_req *req)
{
    return sign_submit(req, "client");
}

/* --- dissolution ---------------------------------------------------------------------------------- */

static const char *const dissolve_fields[] = {"ground", "effective_date", NULL};

static int dissolve_page(struct http_req *req, int status, json_t *d, int64_t client_id, int64_t id)
{
    struct agreement g;
    int rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_object_set_new(d, "agreement", agreement_view(req, &g));
    struct file_meta *files = NULL;
    size_t n_files;
    json_t *fl = files_json(req, client_id, id, &files, &n_files);
    json_t *form = json_object_get(d, "form");
    const char *ground = form ? json_string_value(json_object_get(form, "ground")) : NULL;
    if (!ground && g.dissolution_ground && *g.dissolution_ground) ground = g.dissolution_ground;
    json_t *radios = options(req, "agreements.ground", grounds, ground);
    json_object_set_new(d, "grounds", radios);
    /* the evidence boxes: the agreement's files, the submitted ones ticked */
    json_t *sent = req->json ? json_object_get(req->json, "evidence") : NULL;
    size_t i;
    json_t *f;
    json_array_foreach(fl, i, f) {
        const char *fid = json_string_value(json_object_get(f, "id"));
        bool ticked = json_is_string(sent) && strcmp(json_string_value(sent), fid) == 0;
        size_t j;
        json_t *x;
        json_array_foreach(sent, j, x) ticked |= json_is_string(x) && strcmp(json_string_value(x), fid) == 0;
        json_object_set_new(f, "checked", json_boolean(ticked));
    }
    json_object_set_new(d, "files", fl);
    json_object_set_new(d, "has_files", json_boolean(n_files > 0));
    dissolution_json(req, d, &g, files, n_files);
    json_t *dis = json_object_get(d, "dissolution");
    bool active = strcmp(g.status, "active") == 0, allowed = may(req, ACT_AGREEMENT_DISSOLVE, client_id);
    if (!active) json_object_set_new(d, "state_note", json_string("agreements.dissolve.not_active"));
    else if (!allowed) json_object_set_new(d, "state_note", json_string("agreements.dissolve.not_allowed"));
    else if (dis && json_is_true(json_object_get(dis, "waiting")) && !json_object_get(dis, "can_confirm"))
        json_object_set_new(d, "state_note", json_string("agreements.dissolve.waiting_other"));
    else if (dis && json_object_get(dis, "can_confirm")) json_object_set_new(d, "confirm_only", json_true());
    else json_object_set_new(d, "can_dissolve", json_true());
    json_object_set_new(d, "side_key", json_string(arena_printf(req->arena, "agreements.side.%s", viewer_side(req))));
    json_object_set_new(d, "action", json_string(ag_path(req, client_id, id, "/dissolve", NULL)));
    json_object_set_new(d, "back", json_string(ag_path(req, client_id, id, NULL, NULL)));
    return page_render(req, status, "agreements/dissolve", d);
}

/* GET /agreements/{id}/dissolve: the form (ground, effective date, evidence), or the other party's
 * confirmation of a mutual consent under way. */
int page_agreement_dissolve_confirm(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    if (rc) return rc;
    json_t *d = page_data(req, "agreements.dissolve.title", "agreements");
    json_object_set_new(d, "form", json_object());
    return dissolve_page(req, 200, d, client_id, id);
}

/* POST /agreements/{id}/dissolve (ground, effective_date "YYYY-MM-DD" in the agreement's zone or
 * empty for now, evidence: file ids of the agreement's files). */
int page_agreement_dissolve(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_AGREEMENT_DISSOLVE, client_id);
    struct agreement g;
    if (!rc) rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) return rc;
    struct agreement_dissolution in = {0};
    in.ground = form_str(req, "ground");
    if (!*in.ground) in.ground = NULL;
    const char *day = form_str(req, "effective_date");
    if (*day) {
        int64_t at = 0, now = clock_now_ms(req->ctx.env->clock);
        if (zone_parse_local(day, g.calendar_zone && *g.calendar_zone ? g.calendar_zone : "Asia/Shanghai", false, &at) != 0)
            rc = kf_fail(&req->err, KF_E_INVALID, "effective_date", "not a date");
        /* today means now: its midnight has passed */
        else in.effective_at = at <= now && now - at < 24LL * 3600 * 1000 ? 0 : at;
        if (!rc && at < now && now - at >= 24LL * 3600 * 1000)
            rc = kf_fail(&req->err, KF_E_INVALID, "effective_date", "in the past");
    }
    json_t *ev = req->json ? json_object_get(req->json, "evidence") : NULL;
    size_t n_ev = json_is_array(ev) ? json_array_size(ev) : json_is_string(ev) ? 1 : 0;
    int64_t *ids = arena_zalloc(req->arena, sizeof *ids * (n_ev ? n_ev : 1));
    for (size_t i = 0; !rc && i < n_ev; i++) {
        json_t *x = json_is_array(ev) ? json_array_get(ev, i) : ev;
        if (!json_is_string(x) || id_parse(json_string_value(x), &ids[i]) != 0)
            rc = kf_fail(&req->err, KF_E_INVALID, "evidence", "not a file id");
    }
    in.evidence = ids;
    in.n_evidence = n_ev;
    bool effective = false;
    if (!rc) rc = agreement_dissolve(&req->ctx, client_id, id, &in, &effective, &req->err);
    if (rc == KF_E_INVALID || rc == KF_E_CONFLICT) {
        json_t *d = page_data(req, "agreements.dissolve.title", "agreements");
        const char *field = req->err.field && strcmp(req->err.field, "effective_at") == 0 ? "effective_date" : NULL;
        bool conflict = rc == KF_E_CONFLICT;
        int status = form_error(req, d, field);
        if (conflict)
            json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, "agreements.error.dissolve_conflict")));
        page_keep_form(req, d, dissolve_fields);
        kf_err_clear(&req->err);
        return dissolve_page(req, status, d, client_id, id);
    }
    if (rc) return rc;
    return page_redirect(req, ag_path(req, client_id, id, NULL, effective ? "dissolved=1" : "confirmed=1"));
}

/* --- files ---------------------------------------------------------------------------------------- */

/* POST /agreements/{id}/files (multipart, field `file`): attaches a signed scan or other document
 * (C1.3.2). Whoever acts for a party on the agreement (signs or dissolves: account managers, admins,
 * the client's admin) may attach; a refused file shows the page again with the reason. */
int page_agreement_file_upload(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_AGREEMENT_DISSOLVE, client_id);
    struct agreement g;
    if (!rc) rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) return rc;
    if (!req->upload.field || strcmp(req->upload.field, "file") != 0) {
        rc = kf_fail(&req->err, KF_E_INVALID, "file", "choose a file");
    } else {
        struct file_limits lim = {.max_bytes = req->server_max_upload};
        const char *name = req->upload.filename && *req->upload.filename ? req->upload.filename : "file";
        rc = file_store(&req->ctx, client_id, "agreement", id, name, req->upload.data, req->upload.len, &lim, NULL,
                        &req->err);
    }
    if (rc == 0) return page_redirect(req, arena_printf(req->arena, "%s#files", ag_path(req, client_id, id, NULL, "uploaded=1")));
    if (rc != KF_E_INVALID && rc != KF_E_TOO_LARGE && rc != KF_E_FILE_TYPE && rc != KF_E_LIMIT) return rc;
    json_t *d = page_data(req, NULL, "agreements");
    int status = form_error(req, d, "file");
    kf_err_clear(&req->err);
    return show_page(req, status, d, client_id, id);
}

/* --- service changes (C8.1.1) ---------------------------------------------------------------------- */

static const char *const change_fields[] = {"summary", "effective_at", "calendar_id", NULL};

static const char *zone_of(const struct agreement *g)
{
    return g->calendar_zone && *g->calendar_zone ? g->calendar_zone : "Asia/Shanghai";
}

/* The change form into d (consumed): the services editor starting from the services in force now (or the
 * submitted ones, `kept`), the calendar select, the earliest allowed instant (now + the notice period). */
static int change_page(struct http_req *req, int status, json_t *d, const struct agreement *g, bool kept)
{
    struct service_kind *kinds;
    size_t n;
    int rc = load_kinds(req, &kinds, &n);
    if (rc) {
        json_decref(d);
        return rc;
    }
    if (!json_is_object(json_object_get(d, "form"))) json_object_set_new(d, "form", json_object());
    json_object_set_new(d, "agreement", agreement_view(req, g));
    services_model(req, d, kinds, n, g, kept);
    calendar_choice(req, d, kept ? kept_calendar(req) : 0, true);
    int64_t now = clock_now_ms(req->ctx.env->clock);
    json_object_set_new(d, "earliest", json_integer(now + (int64_t)g->notice_days * 24 * 3600 * 1000));
    json_object_set_new(d, "zone", json_string(zone_of(g)));
    if (strcmp(g->status, "active") != 0) json_object_set_new(d, "state_note", json_string("agreements.change.not_active"));
    else json_object_set_new(d, "can_propose", json_true());
    json_object_set_new(d, "action", json_string(ag_path(req, g->client_id, g->id, "/changes", NULL)));
    json_object_set_new(d, "back", json_string(ag_path(req, g->client_id, g->id, NULL, NULL)));
    return page_render(req, status, "agreements/change", d);
}

/* GET /agreements/{id}/changes/new?client_id=: the service change form (account managers and admins;
 * an agreement not active shows why there is no form). */
int page_agreement_change_new(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_AGREEMENT_MANAGE, client_id);
    struct agreement g;
    if (!rc) rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) return rc;
    return change_page(req, strcmp(g.status, "active") == 0 ? 200 : 409,
                       page_data(req, "agreements.change.title", "agreements"), &g, false);
}

/* POST /agreements/{id}/changes?client_id= (summary, effective_at local to the agreement's zone, calendar_id
 * "" = unchanged, the services editor): proposes the change, which sends its notice; a refused field is
 * shown beside it, a second pending change (also a form sent twice) at the top. */
int page_agreement_change_create(struct http_req *req)
{
    int64_t client_id, id, change_id = 0;
    int rc = ag_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_AGREEMENT_MANAGE, client_id);
    struct agreement g;
    if (!rc) rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (rc) return rc;
    struct agreement_change_input in = {0};
    struct service_kind *kinds;
    size_t n;
    in.summary = form_str(req, "summary");
    if (!*in.summary) in.summary = NULL; /* the domain: summary required */
    const char *when = form_str(req, "effective_at");
    if (!*when) rc = kf_fail(&req->err, KF_E_INVALID, "effective_at", "effective_at is required");
    else if (zone_parse_local(when, zone_of(&g), false, &in.effective_at) != 0)
        rc = kf_fail(&req->err, KF_E_INVALID, "effective_at", "not a date and time");
    if (!rc) rc = form_calendar(req, &in.calendar_id);
    if (!rc) rc = load_kinds(req, &kinds, &n);
    if (!rc) rc = services_read(req, kinds, n, &in.services, &in.n_services);
    if (!rc && in.n_services == 0) rc = kf_fail(&req->err, KF_E_INVALID, "services", "choose at least one service");
    if (!rc) rc = agreement_change_propose(&req->ctx, client_id, id, &in, &change_id, &req->err);
    if (is_form_error(rc) || rc == KF_E_CONFLICT) {
        bool conflict = rc == KF_E_CONFLICT;
        const char *cfield = req->err.field;
        json_t *d = page_data(req, "agreements.change.title", "agreements");
        int status = form_error(req, d, page_field(req->err.field));
        if (conflict)
            json_object_set_new(d, "error", json_pack("{s:s}", "message",
                                                      page_text(req, cfield && strcmp(cfield, "change") == 0
                                                                         ? "agreements.error.change_pending"
                                                                         : "agreements.change.not_active")));
        page_keep_form(req, d, change_fields);
        kf_err_clear(&req->err);
        return change_page(req, status, d, &g, true);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "%s#changes", ag_path(req, client_id, id, NULL, "proposed=1")));
}

/* The withdrawal's confirmation page of change {change} (error_key: why a POST was refused). */
static int withdraw_page(struct http_req *req, int status, int64_t client_id, int64_t id, const char *error_key)
{
    int64_t change_id;
    int rc = api_path_id(req, "change", "change", &change_id);
    struct agreement g;
    struct agreement_change c;
    if (!rc) rc = agreement_get(&req->ctx, client_id, id, &g, &req->err);
    if (!rc) rc = agreement_change_get(&req->ctx, client_id, id, change_id, &c, &req->err);
    if (rc) return rc;
    json_t *d = page_data(req, "agreements.change.withdraw_title", "agreements");
    json_object_set_new(d, "agreement", agreement_view(req, &g));
    json_object_set_new(d, "change", json_pack("{s:I,s:s,s:s}", "effective_at", (json_int_t)c.effective_at, "summary",
                                               c.summary ? c.summary : "", "status_key",
                                               arena_printf(req->arena, "agreements.change.status.%s", c.status)));
    bool open = strcmp(c.status, "pending") == 0 && c.effective_at > clock_now_ms(req->ctx.env->clock);
    if (error_key) json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, error_key)));
    else if (!open) json_object_set_new(d, "state_note", json_string("agreements.change.not_pending"));
    else if (may(req, ACT_AGREEMENT_MANAGE, client_id)) json_object_set_new(d, "can_withdraw", json_true());
    json_object_set_new(d, "action", json_string(ag_path(req, client_id, id,
                                                         arena_printf(req->arena, "/changes/%lld/withdraw", (long long)change_id),
                                                         NULL)));
    json_object_set_new(d, "back", json_string(arena_printf(req->arena, "%s#changes", ag_path(req, client_id, id, NULL, NULL))));
    return page_render(req, status, "agreements/change_withdraw", d);
}

/* GET /agreements/{id}/changes/{change}/withdraw?client_id=: what is withdrawn, and the button. */
int page_agreement_change_withdraw_confirm(struct http_req *req)
{
    int64_t client_id, id;
    int rc = ag_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_AGREEMENT_MANAGE, client_id);
    return rc ? rc : withdraw_page(req, 200, client_id, id, NULL);
}

/* POST /agreements/{id}/changes/{change}/withdraw?client_id=: withdraws a pending change (its correcting
 * notice is sent); one applied or withdrawn already is the page again with why (409). */
int page_agreement_change_withdraw(struct http_req *req)
{
    int64_t client_id, id, change_id;
    int rc = ag_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_AGREEMENT_MANAGE, client_id);
    if (!rc) rc = api_path_id(req, "change", "change", &change_id);
    if (!rc) rc = agreement_change_withdraw(&req->ctx, client_id, id, change_id, &req->err);
    if (rc == KF_E_CONFLICT) {
        kf_err_clear(&req->err);
        return withdraw_page(req, 409, client_id, id, "agreements.error.withdraw_conflict");
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "%s#changes", ag_path(req, client_id, id, NULL, "withdrawn=1")));
}

/* --- the service catalogue (C2.1.1, C2.2.1) --------------------------------------------------------- */

#define KIND_FORM_CODE "new"   /* the field names of the catalogue form: t_new_p1_fr …, fee_new_per_hour … */
static const char *const kind_fields[] = {"code", "name_zh", "name_en", NULL};

/* Business minutes as {h, m} for "N 小时 M 分钟". */
static json_t *hours_minutes(int64_t minutes)
{
    return json_pack("{s:I,s:I}", "h", (json_int_t)(minutes / 60), "m", (json_int_t)(minutes % 60));
}

/* The catalogue page into d (consumed): every kind with its default targets and fees, and for admins the
 * form to add one (its values kept from the submission, `kept`, with each error beside its field). */
static int kinds_page(struct http_req *req, int status, json_t *d, bool kept)
{
    struct service_kind *kinds;
    size_t n;
    int rc = load_kinds(req, &kinds, &n);
    if (rc) {
        json_decref(d);
        return rc;
    }
    bool en = strcmp(page_locale(req), "en") == 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct service_kind *k = &kinds[i];
        json_t *targets = json_array(), *fees = json_array();
        for (int p = 0; p < AGREEMENT_PRIORITIES; p++)
            json_array_append_new(targets, json_pack("{s:s,s:o,s:o}", "priority", arena_printf(req->arena, "P%d", p + 1), "fr",
                                                     hours_minutes(k->targets.response[p]), "res",
                                                     hours_minutes(k->targets.resolution[p])));
        for (size_t j = 0; j < k->n_fees; j++)
            json_array_append_new(fees, json_pack("{s:s,s:I}", "label_key",
                                                  arena_printf(req->arena, "agreements.fee_name.%s", k->fees[j].kind),
                                                  "amount_fen", (json_int_t)k->fees[j].amount_fen));
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b,s:o,s:o,s:b}", "code", k->code, "name",
                                             en ? k->name_en : k->name_zh, "other_name", en ? k->name_zh : k->name_en,
                                             "builtin", k->builtin, "targets", targets, "fees", fees, "has_fees",
                                             k->n_fees > 0));
    }
    json_object_set_new(d, "kinds", arr);
    if (may(req, ACT_SERVICE_KIND_MANAGE, 0)) {
        json_object_set_new(d, "can_manage", json_true());
        if (!json_is_object(json_object_get(d, "form"))) json_object_set_new(d, "form", json_object());
        json_t *errors = json_object_get(d, "errors");
        json_t *targets = json_array(), *fees = json_array();
        for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
            const char *fr = target_field(req, KIND_FORM_CODE, p, false), *res = target_field(req, KIND_FORM_CODE, p, true);
            json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "priority", arena_printf(req->arena, "P%d", p + 1),
                                    "label_id", arena_printf(req->arena, "kt_p%d", p + 1), "fr_name", fr, "fr_value",
                                    kept ? form_str(req, fr) : "", "res_name", res, "res_value", kept ? form_str(req, res) : "");
            json_t *e1 = errors ? json_object_get(errors, fr) : NULL, *e2 = errors ? json_object_get(errors, res) : NULL;
            if (json_is_string(e1) || json_is_string(e2)) json_object_set(row, "problem", json_is_string(e1) ? e1 : e2);
            json_array_append_new(targets, row);
        }
        for (const char *const *fk = fee_kinds; *fk; fk++) {
            const char *key = fee_field(req, KIND_FORM_CODE, *fk);
            json_t *row = json_pack("{s:s,s:s,s:s}", "name", key, "value", kept ? form_str(req, key) : "", "label_key",
                                    arena_printf(req->arena, "agreements.fee.%s", *fk));
            json_t *e = errors ? json_object_get(errors, key) : NULL;
            if (json_is_string(e)) json_object_set(row, "problem", e);
            json_array_append_new(fees, row);
        }
        json_object_set_new(d, "targets", targets);
        json_object_set_new(d, "fees", fees);
    }
    return page_render(req, status, "agreements/kinds", d);
}

/* GET /service-kinds: the catalogue for every provider role and client user (agreement.read). */
int page_service_kinds(struct http_req *req)
{
    int rc = require(req, ACT_AGREEMENT_READ, AG_SOME_CLIENT(req));
    if (rc) return rc;
    json_t *d = page_data(req, "kinds.title", "agreements");
    if (http_query(req, "added")) json_object_set_new(d, "notice_key", json_string("kinds.notice.added"));
    return kinds_page(req, 200, d, false);
}

/* The field of an error on the catalogue form: a target's goes to the targets' fieldset (the domain's
 * rule, response <= resolution, names no single one), a fee item's the domain refused to the fees'. */
static const char *kind_page_field(const char *domain_field)
{
    if (domain_field && strncmp(domain_field, "t_", 2) == 0) return "targets";
    if (domain_field && strncmp(domain_field, "fees", 4) == 0) return "fees";
    return domain_field;
}

/* POST /service-kinds (code, name_zh, name_en, every target t_new_pN_fr/_res in business minutes, fees
 * fee_new_<kind> in yuan): an admin adds a kind; refused input is shown beside its field, nothing added. */
int page_service_kind_create(struct http_req *req)
{
    int rc = require(req, ACT_SERVICE_KIND_MANAGE, 0);
    if (rc) return rc;
    struct service_kind_input in = {0};
    struct agreement_fee *fees = NULL;
    in.code = form_str(req, "code");
    in.name_zh = form_str(req, "name_zh");
    in.name_en = form_str(req, "name_en");
    for (int p = 0; !rc && p < AGREEMENT_PRIORITIES; p++)
        if (!*form_str(req, target_field(req, KIND_FORM_CODE, p, false)) || !*form_str(req, target_field(req, KIND_FORM_CODE, p, true)))
            rc = kf_fail(&req->err, KF_E_INVALID, "targets", "every target is required");
    if (!rc) rc = targets_read(req, KIND_FORM_CODE, &in.targets);
    if (!rc) rc = fees_read(req, KIND_FORM_CODE, &fees, &in.n_fees);
    in.fees = fees;
    int64_t id = 0;
    if (!rc) rc = agreement_service_kind_create(&req->ctx, &in, &id, &req->err);
    if (is_form_error(rc) || rc == KF_E_CONFLICT) {
        json_t *d = page_data(req, "kinds.title", "agreements");
        int status = form_error(req, d, kind_page_field(req->err.field));
        page_keep_form(req, d, kind_fields);
        kf_err_clear(&req->err);
        return kinds_page(req, status, d, true);
    }
    if (rc) return rc;
    return page_redirect(req, "/service-kinds?added=1");
}
