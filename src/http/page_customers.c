/* The customer pages (C1.1.1) and consent records (C7.2.1): the list with one search box, the create
 * form, a customer's page with the edit form and the consents given and withdrawn, and the
 * confirmation before deleting. The domain (customer.h, consent.h) decides access and audits every
 * read of personal data; this file parses forms, shapes pages and never logs a customer's values. */
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/consent.h"
#include "domain/customer.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"
#include "render/i18n.h"

#define CUSTOMER_PAGE_SIZE 50
#define ANY_CLIENT 1            /* any client id stands for "a client" in the provider scope (page.c) */

static const char *const customer_fields[] = {"kind", "name", "phone", "email", "address", "id_number", NULL};
static const char *const purposes[] = {CONSENT_SERVICE_DELIVERY, CONSENT_SATISFACTION_SURVEY,
                                       CONSENT_THIRD_PARTY_SHARING, CONSENT_MARKETING, NULL};
static const char *const channels[] = {"phone", "web", "email", "sms", "on_site", "paper", NULL};

/* --- shared pieces ------------------------------------------------------------------------------- */

/* A query value, with "" (an empty field of a GET form) meaning absent. */
static const char *query_value(struct http_req *req, const char *key)
{
    const char *v = http_query(req, key);
    return v && *v ? v : NULL;
}

static const char *id_text(struct http_req *req, int64_t id)
{
    return arena_printf(req->arena, "%lld", (long long)id);
}

/* The client a page is about: ?client_id=, else the viewer's own. Provider staff (own client 0) must
 * choose one: *chosen_r is false when they have not. Text that is no id names no client (404). */
static int page_client(struct http_req *req, int64_t *client_r, bool *chosen_r)
{
    const char *s = query_value(req, "client_id");
    *chosen_r = true;
    if (!s) {
        *client_r = req->actor.client_id;
        *chosen_r = *client_r != 0;
        return 0;
    }
    if (api_parse_client_id(s, client_r) != 0 || *client_r == 0)
        return kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no such client");
    return 0;
}

/* Detail pages need a client: a provider viewer without one finds nothing. */
static int page_client_required(struct http_req *req, int64_t *client_r)
{
    bool chosen;
    int rc = page_client(req, client_r, &chosen);
    if (rc) return rc;
    return chosen ? 0 : kf_fail(&req->err, KF_E_NOT_FOUND, "client_id", "no client chosen");
}

static const char *kind_or_person(const char *kind)
{
    return kind && strcmp(kind, "enterprise") == 0 ? "enterprise" : "person";
}

/* Adds kind_person / kind_enterprise to a form object for the radio buttons. */
static void form_kind_flags(json_t *form)
{
    const char *kind = kind_or_person(json_string_value(json_object_get(form, "kind")));
    json_object_set_new(form, "kind_person", json_boolean(strcmp(kind, "person") == 0));
    json_object_set_new(form, "kind_enterprise", json_boolean(strcmp(kind, "enterprise") == 0));
}

static json_t *customer_row(struct http_req *req, const struct customer *c)
{
    return json_pack("{s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id", http_json_id(c->id), "name", c->name ? c->name : "",
                     "kind_key", arena_printf(req->arena, "customers.kind.%s", kind_or_person(c->kind)), "phone",
                     c->phone ? c->phone : "", "email", c->email ? c->email : "", "address", c->address ? c->address : "",
                     "id_number", c->id_number ? c->id_number : "", "created", (json_int_t)c->created, "updated",
                     (json_int_t)c->updated);
}

/* The customer fields of a form: absent fields are NULL (an update leaves them), "" clears one. */
static int customer_form(struct http_req *req, struct customer_input *in)
{
    int rc;
    if ((rc = http_json_string(req, "kind", false, API_SHORT_MAX, &in->kind)) != 0) return rc;
    if ((rc = http_json_string(req, "name", false, API_TEXT_MAX, &in->name)) != 0) return rc;
    if ((rc = http_json_string(req, "phone", false, API_TEXT_MAX, &in->phone)) != 0) return rc;
    if ((rc = http_json_string(req, "email", false, API_TEXT_MAX, &in->email)) != 0) return rc;
    if ((rc = http_json_string(req, "address", false, API_TEXT_MAX, &in->address)) != 0) return rc;
    return http_json_string(req, "id_number", false, API_TEXT_MAX, &in->id_number);
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

/* --- the list and search ------------------------------------------------------------------------- */

/* What the one search box holds: an e-mail address (has '@'), a phone number (digits with + - ( ) .
 * and spaces only, at least three digits), else part of a name. */
static const char *search_kind(const char *q)
{
    if (strchr(q, '@')) return "email";
    size_t digits = 0;
    for (const char *p = q; *p; p++) {
        if (*p >= '0' && *p <= '9') digits++;
        else if (!strchr("+-(). ", *p)) return "name";
    }
    return digits >= 3 ? "phone" : "name";
}

static int customers_search(struct http_req *req, int64_t client_id, const char *q, struct customer **items,
                            size_t *n)
{
    if (strlen(q) > API_TEXT_MAX) return kf_fail(&req->err, KF_E_INVALID, "q", "q is too long");
    const char *kind = search_kind(q);
    int rc;
    if (strcmp(kind, "email") == 0) rc = customer_find_by_email(&req->ctx, client_id, q, items, n, &req->err);
    else if (strcmp(kind, "phone") == 0) rc = customer_find_by_phone(&req->ctx, client_id, q, items, n, &req->err);
    else rc = customer_search_name(&req->ctx, client_id, q, CUSTOMER_SEARCH_MAX, items, n, &req->err);
    /* whatever the domain calls the text, the page has one box */
    if (rc == KF_E_INVALID) req->err.field = "q";
    return rc;
}

/* GET /customers?client_id=&q=&after=: a client's customers (keyset, newest first), or a search. */
int page_customers(struct http_req *req)
{
    json_t *d = page_data(req, "customers.title", "customers");
    int64_t client_id;
    bool chosen;
    int rc = page_client(req, &client_id, &chosen);
    if (rc) goto fail;
    page_client_choice(req, d, chosen ? client_id : 0);
    if (http_query(req, "deleted")) json_object_set_new(d, "deleted", json_true());
    if (!chosen) return page_render(req, 200, "customers/list", d);
    json_object_set_new(d, "client_id", json_string(id_text(req, client_id)));
    json_object_set_new(d, "can_create", json_boolean(allowed(req, ACT_CUSTOMER_CREATE, client_id)));
    const char *q = query_value(req, "q");
    struct customer *items = NULL;
    size_t n = 0;
    int64_t next = 0;
    if (q) {
        json_object_set_new(d, "q", json_string(q));
        json_object_set_new(d, "search", json_true());
        rc = customers_search(req, client_id, q, &items, &n);
    } else {
        const char *after_s = query_value(req, "after");
        int64_t after = 0;
        if (after_s && id_parse(after_s, &after) != 0) rc = kf_fail(&req->err, KF_E_INVALID, "after", "after");
        else rc = customer_list(&req->ctx, client_id, after, CUSTOMER_PAGE_SIZE, &items, &n, &next, &req->err);
    }
    if (rc == KF_E_INVALID) {
        static const char *const none[] = {NULL};
        bool cursor = req->err.field && strcmp(req->err.field, "after") == 0;
        int status = page_form_fail(req, d, "customers", "find", none);
        /* the cursor is no field on the page: its message goes to the top */
        if (cursor) json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, "customers.error.after")));
        return page_render(req, status, "customers/list", d);
    }
    if (rc) goto fail;
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(rows, customer_row(req, &items[i]));
    json_object_set_new(d, "any", json_boolean(n > 0));
    json_object_set_new(d, "customers", rows);
    json_object_set_new(d, "listed", json_true());
    if (next) json_object_set_new(d, "next", json_string(id_text(req, next)));
    return page_render(req, 200, "customers/list", d);
fail:
    json_decref(d);
    return rc;
}

/* --- creating ------------------------------------------------------------------------------------ */

static int new_form(struct http_req *req, int status, json_t *d, int64_t client_id)
{
    page_client_choice(req, d, client_id);
    if (client_id) json_object_set_new(d, "client_id", json_string(id_text(req, client_id)));
    json_t *c = json_object_get(d, "create");
    if (!c) {
        json_object_set_new(d, "create", json_pack("{s:{s:s}}", "form", "kind", "person"));
        c = json_object_get(d, "create");
    }
    json_t *form = json_object_get(c, "form");
    if (!json_is_object(form)) json_object_set_new(c, "form", form = json_object());
    form_kind_flags(form);
    return page_render(req, status, "customers/new", d);
}

/* GET /customers/new?client_id=: the create form (provider staff without a client choose one in it). */
int page_customer_new(struct http_req *req)
{
    int64_t client_id;
    bool chosen;
    int rc = page_client(req, &client_id, &chosen);
    if (!rc) rc = require(req, ACT_CUSTOMER_CREATE, chosen ? client_id : ANY_CLIENT);
    if (rc) return rc;
    json_t *d = page_data(req, "customers.new.title", "customers");
    return new_form(req, 200, d, chosen ? client_id : 0);
}

/* POST /customers (client_id, kind, name, phone, email, address, id_number): creates the customer and
 * goes to their page; a mistake shows the form again beside the field. */
int page_customer_create(struct http_req *req)
{
    int64_t client_id = 0;
    int rc = api_body_client_id(req, false, &client_id);
    bool client_ok = rc == 0;
    int prc = require(req, ACT_CUSTOMER_CREATE, client_ok ? client_id : ANY_CLIENT);
    if (prc) return prc;
    if (!client_ok) kf_fail(&req->err, KF_E_INVALID, "client_id", "choose a client");
    struct customer_input in = {0};
    int64_t id = 0;
    if (client_ok && (rc = customer_form(req, &in)) == 0) {
        if (!in.kind || !*in.kind) in.kind = "person";
        if (!in.name) in.name = "";
        rc = customer_create(&req->ctx, client_id, &in, &id, &req->err);
    }
    if (rc == KF_E_INVALID) {
        json_t *d = page_data(req, "customers.new.title", "customers");
        int status = page_form_fail(req, d, "customers", "create", customer_fields);
        return new_form(req, status, d, client_ok ? client_id : 0);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/customers/%lld?client_id=%lld&created=1", (long long)id,
                                           (long long)client_id));
}

/* --- one customer: details, edit form, consents ----------------------------------------------------- */

static json_t *consent_row(struct http_req *req, const struct consent *k)
{
    json_t *row = json_pack("{s:o,s:s,s:s,s:s,s:s,s:I,s:s}", "id", http_json_id(k->id), "purpose", k->purpose,
                            "purpose_key", arena_printf(req->arena, "customers.purpose.%s", k->purpose), "third_party",
                            k->third_party ? k->third_party : "", "notice_version",
                            k->notice_version ? k->notice_version : "", "given_at", (json_int_t)k->given_at,
                            "given_channel_key",
                            arena_printf(req->arena, "customers.channel.%s", k->given_channel ? k->given_channel : "api"));
    if (k->withdrawn_at) {
        json_object_set_new(row, "withdrawn_at", json_integer(k->withdrawn_at));
        json_object_set_new(row, "withdrawn_channel_key",
                            json_string(arena_printf(req->arena, "customers.channel.%s",
                                                     k->withdrawn_channel && *k->withdrawn_channel ? k->withdrawn_channel
                                                                                                    : "api")));
    } else {
        json_object_set_new(row, "in_force", json_true());
    }
    if (k->recorded_by) json_object_set_new(row, "recorded_by", http_json_id(k->recorded_by));
    return row;
}

/* The consent records into d (when the viewer may read them). */
static int customer_consents(struct http_req *req, json_t *d, int64_t client_id, int64_t id, bool can_record)
{
    struct consent *items;
    size_t n;
    struct kf_err err;
    int rc = consent_list(&req->ctx, client_id, id, &items, &n, &err);
    if (rc == KF_E_FORBIDDEN) return 0;
    if (rc) {
        req->err = err;
        return rc;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *row = consent_row(req, &items[i]);
        if (can_record && !items[i].withdrawn_at)
            json_object_set_new(row, "channels", page_options(req, "customers.channel", channels, "phone"));
        json_array_append_new(rows, row);
    }
    json_object_set_new(d, "any_consent", json_boolean(n > 0));
    json_object_set_new(d, "consents", rows);
    json_object_set_new(d, "consent_read", json_true());
    return 0;
}

/* Renders a customer's page: details, the edit form (d.edit.form when an error kept the input), the
 * consent records and the give-consent form. Consumes d. */
static int customer_page(struct http_req *req, int status, json_t *d, int64_t client_id, int64_t id)
{
    struct customer c;
    int rc = customer_get(&req->ctx, client_id, id, &c, &req->err);
    bool can_record = allowed(req, ACT_CONSENT_RECORD, client_id);
    if (!rc) rc = customer_consents(req, d, client_id, id, can_record);
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_object_set_new(d, "title", json_string(c.name ? c.name : ""));
    json_object_set_new(d, "client_id", json_string(id_text(req, client_id)));
    json_object_set_new(d, "customer", customer_row(req, &c));
    json_object_set_new(d, "can_update", json_boolean(allowed(req, ACT_CUSTOMER_UPDATE, client_id)));
    json_object_set_new(d, "can_delete", json_boolean(allowed(req, ACT_CUSTOMER_DELETE, client_id)));
    json_object_set_new(d, "can_record", json_boolean(can_record));
    if (!json_object_get(d, "edit")) {
        json_object_set_new(d, "edit", json_pack("{s:{s:s,s:s,s:s,s:s,s:s,s:s}}", "form", "kind", kind_or_person(c.kind),
                                                 "name", c.name ? c.name : "", "phone", c.phone ? c.phone : "", "email",
                                                 c.email ? c.email : "", "address", c.address ? c.address : "",
                                                 "id_number", c.id_number ? c.id_number : ""));
    }
    form_kind_flags(json_object_get(json_object_get(d, "edit"), "form"));
    json_t *give = json_object_get(d, "give");
    if (!give) json_object_set_new(d, "give", give = json_pack("{s:{}}", "form"));
    json_t *gf = json_object_get(give, "form");
    json_object_set_new(give, "purposes",
                        page_options(req, "customers.purpose", purposes, json_string_value(json_object_get(gf, "purpose"))));
    const char *ch = json_string_value(json_object_get(gf, "channel"));
    json_object_set_new(give, "channels", page_options(req, "customers.channel", channels, ch ? ch : "phone"));
    return page_render(req, status, "customers/show", d);
}

static int customer_ids(struct http_req *req, int64_t *client_r, int64_t *id_r)
{
    int rc = api_path_id(req, "id", "customer", id_r);
    return rc ? rc : page_client_required(req, client_r);
}

/* GET /customers/{id}?client_id=: the customer (the read is audited by the domain). */
int page_customer_show(struct http_req *req)
{
    int64_t client_id, id;
    int rc = customer_ids(req, &client_id, &id);
    if (rc) return rc;
    json_t *d = page_data(req, NULL, "customers");
    static const char *const notices[] = {"created", "saved", "given", "withdrawn", NULL};
    for (const char *const *n = notices; *n; n++)
        if (http_query(req, *n)) json_object_set_new(d, "notice_key", json_string(arena_printf(req->arena, "customers.notice.%s", *n)));
    return customer_page(req, 200, d, client_id, id);
}

/* POST /customers/{id}?client_id=: changes the fields ("" clears one; the name stays required). */
int page_customer_update(struct http_req *req)
{
    int64_t client_id, id;
    int rc = customer_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_CUSTOMER_UPDATE, client_id);
    if (rc) return rc;
    struct customer_input in = {0};
    if ((rc = customer_form(req, &in)) == 0) rc = customer_update(&req->ctx, client_id, id, &in, &req->err);
    if (rc == KF_E_INVALID) {
        json_t *d = page_data(req, NULL, "customers");
        int status = page_form_fail(req, d, "customers", "edit", customer_fields);
        return customer_page(req, status, d, client_id, id);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/customers/%lld?client_id=%lld&saved=1", (long long)id,
                                           (long long)client_id));
}

/* GET /customers/{id}/delete?client_id=: asks before deleting. */
int page_customer_delete_confirm(struct http_req *req)
{
    int64_t client_id, id;
    int rc = customer_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_CUSTOMER_DELETE, client_id);
    struct customer c;
    if (!rc) rc = customer_get(&req->ctx, client_id, id, &c, &req->err);
    if (rc) return rc;
    json_t *d = page_data(req, "customers.delete.title", "customers");
    json_object_set_new(d, "client_id", json_string(id_text(req, client_id)));
    json_object_set_new(d, "customer", customer_row(req, &c));
    json_object_set_new(d, "customer_name", json_string(c.name ? c.name : ""));
    return page_render(req, 200, "customers/delete", d);
}

/* POST /customers/{id}/delete?client_id=: erases the personal data; back to the list with a notice. */
int page_customer_delete(struct http_req *req)
{
    int64_t client_id, id;
    int rc = customer_ids(req, &client_id, &id);
    if (!rc) rc = customer_delete(&req->ctx, client_id, id, &req->err);
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/customers?client_id=%lld&deleted=1", (long long)client_id));
}

/* --- consent ------------------------------------------------------------------------------------- */

static const char *const consent_fields[] = {"purpose", "third_party", "notice_version", "channel", NULL};

/* POST /customers/{id}/consents?client_id= (purpose, third_party, notice_version, channel). */
int page_consent_give(struct http_req *req)
{
    int64_t client_id, id, cid;
    int rc = customer_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_CONSENT_RECORD, client_id);
    if (rc) return rc;
    struct consent_input in = {0};
    if ((rc = http_json_string(req, "purpose", true, API_SHORT_MAX, &in.purpose)) == 0 &&
        (rc = http_json_string(req, "third_party", false, API_TEXT_MAX, &in.third_party)) == 0 &&
        (rc = http_json_string(req, "notice_version", true, API_SHORT_MAX, &in.notice_version)) == 0 &&
        (rc = http_json_string(req, "channel", true, API_SHORT_MAX, &in.channel)) == 0)
        rc = consent_give(&req->ctx, client_id, id, &in, &cid, &req->err);
    if (rc == KF_E_INVALID) {
        json_t *d = page_data(req, NULL, "customers");
        int status = page_form_fail(req, d, "customers", "give", consent_fields);
        return customer_page(req, status, d, client_id, id);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/customers/%lld?client_id=%lld&given=1#consents", (long long)id,
                                           (long long)client_id));
}

/* POST /customers/{id}/consents/withdraw?client_id= (purpose, third_party, channel): one button per
 * consent in force — as easy as giving it. Nothing in force (a second click) says so on the page. */
int page_consent_withdraw(struct http_req *req)
{
    int64_t client_id, id;
    int rc = customer_ids(req, &client_id, &id);
    if (!rc) rc = require(req, ACT_CONSENT_RECORD, client_id);
    if (rc) return rc;
    const char *purpose, *third_party, *channel;
    if ((rc = http_json_string(req, "purpose", true, API_SHORT_MAX, &purpose)) == 0 &&
        (rc = http_json_string(req, "third_party", false, API_TEXT_MAX, &third_party)) == 0 &&
        (rc = http_json_string(req, "channel", true, API_SHORT_MAX, &channel)) == 0)
        rc = consent_withdraw(&req->ctx, client_id, id, purpose, third_party, channel, &req->err);
    if (rc == KF_E_INVALID || rc == KF_E_NOT_FOUND) {
        /* customer_page asks again: another tenant's or a deleted customer is still 404 */
        bool none = rc == KF_E_NOT_FOUND;
        json_t *d = page_data(req, NULL, "customers");
        json_object_set_new(d, "error", json_pack("{s:s}", "message",
                                                  page_text(req, none ? "customers.withdraw.none" : "form.errors_title")));
        kf_err_clear(&req->err);
        return customer_page(req, none ? 409 : 422, d, client_id, id);
    }
    if (rc) return rc;
    return page_redirect(req, arena_printf(req->arena, "/customers/%lld?client_id=%lld&withdrawn=1#consents",
                                           (long long)id, (long long)client_id));
}
