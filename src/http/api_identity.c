/* The identity API (issue 3): client organisations, users, customers and their consent records.
 * Handlers only parse and shape: every access decision is the domain's (each domain function calls
 * policy_check itself), so another tenant's object comes back KF_E_NOT_FOUND (404), never 403.
 *
 * Which client an object belongs to: create routes take `client_id` in the JSON body; routes on an
 * existing user or customer take it as the query parameter `client_id`. When it is absent the
 * caller's own client is meant (0, the provider, for provider staff — valid for users, not for
 * customers, which always belong to a client). Ids are strings in JSON; a body's `client_id` may
 * also be a JSON integer. Personal values never reach a log: handlers log nothing, and the access
 * log carries the path without its query string. */
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "domain/consent.h"
#include "domain/customer.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/request.h"

#define NAME_MAX_BYTES 256    /* user names */

/* --- organisations ------------------------------------------------------------------------------- */

static json_t *org_json(const struct org *o)
{
    return json_pack("{s:o,s:o,s:b,s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:I,s:I}", "id", http_json_id(o->id), "client_id",
                     http_json_id(o->client_id), "provider", o->provider, "name", o->name ? o->name : "",
                     "legal_name", api_opt_str(o->legal_name), "address", api_opt_str(o->address), "contact_name",
                     api_opt_str(o->contact_name), "contact_phone", api_opt_str(o->contact_phone), "contact_email",
                     api_opt_str(o->contact_email), "disabled", o->disabled, "created", (json_int_t)o->created, "updated",
                     (json_int_t)o->updated);
}

/* The organisation fields of a body: absent fields are NULL (left as they are by an update). */
static int org_body(struct http_req *req, bool name_required, struct org_input *in)
{
    int rc;
    if ((rc = http_json_string(req, "name", name_required, API_TEXT_MAX, &in->name)) != 0) return rc;
    if ((rc = http_json_string(req, "legal_name", false, API_TEXT_MAX, &in->legal_name)) != 0) return rc;
    if ((rc = http_json_string(req, "address", false, API_TEXT_MAX, &in->address)) != 0) return rc;
    if ((rc = http_json_string(req, "contact_name", false, API_TEXT_MAX, &in->contact_name)) != 0) return rc;
    if ((rc = http_json_string(req, "contact_phone", false, API_TEXT_MAX, &in->contact_phone)) != 0) return rc;
    return http_json_string(req, "contact_email", false, API_TEXT_MAX, &in->contact_email);
}

int api_org_list(struct http_req *req)
{
    int64_t after, next = 0;
    int limit, rc;
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    struct org *items;
    size_t n;
    if ((rc = org_list_clients(&req->ctx, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, org_json(&items[i]));
    return http_reply_json(req, 200, api_page_json(arr, next));
}

int api_org_create(struct http_req *req)
{
    struct org_input in = {0};
    int rc;
    if ((rc = org_body(req, true, &in)) != 0) return rc;
    int64_t id;
    if ((rc = org_create_client(&req->ctx, &in, &id, &req->err)) != 0) return rc;
    struct org o;
    if ((rc = org_get(&req->ctx, id, &o, &req->err)) != 0) return rc;
    return http_reply_json(req, 201, org_json(&o));
}

int api_org_get(struct http_req *req)
{
    int64_t id;
    int rc;
    if ((rc = api_path_id(req, "id", "organisation", &id)) != 0) return rc;
    struct org o;
    if ((rc = org_get(&req->ctx, id, &o, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, org_json(&o));
}

/* PATCH /api/v1/orgs/{id}: the given fields change, "" clears one (not the name). */
int api_org_update(struct http_req *req)
{
    int64_t id;
    struct org_input in = {0};
    int rc;
    if ((rc = api_path_id(req, "id", "organisation", &id)) != 0) return rc;
    if ((rc = org_body(req, false, &in)) != 0) return rc;
    if ((rc = org_update(&req->ctx, id, &in, &req->err)) != 0) return rc;
    struct org o;
    if ((rc = org_get(&req->ctx, id, &o, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, org_json(&o));
}

static int org_reply_disabled(struct http_req *req, bool disabled)
{
    int64_t id;
    int rc;
    if ((rc = api_path_id(req, "id", "organisation", &id)) != 0) return rc;
    if ((rc = org_set_disabled(&req->ctx, id, disabled, &req->err)) != 0) return rc;
    struct org o;
    if ((rc = org_get(&req->ctx, id, &o, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, org_json(&o));
}

int api_org_disable(struct http_req *req)
{
    return org_reply_disabled(req, true);
}

int api_org_enable(struct http_req *req)
{
    return org_reply_disabled(req, false);
}

/* --- users --------------------------------------------------------------------------------------- */

static json_t *user_json(const struct user *u)
{
    json_t *roles = api_roles_json(u->roles);
    return json_pack("{s:o,s:o,s:s,s:s,s:o,s:s,s:b,s:b,s:I,s:I}", "id", http_json_id(u->id), "client_id",
                     http_json_id(u->client_id), "username", u->username,
                     "display_name", u->display_name ? u->display_name : u->username, "roles", roles, "language",
                     u->language ? u->language : "zh-CN", "totp_enabled", u->totp_enabled, "disabled", u->disabled,
                     "created", (json_int_t)u->created, "updated", (json_int_t)u->updated);
}

/* GET /api/v1/orgs/{id}/users: {id} is a client's id, or 0 for the provider's staff. */
int api_org_users(struct http_req *req)
{
    int64_t client_id, after, next = 0;
    int limit, rc;
    if (api_parse_client_id(http_param(req, "id"), &client_id) != 0)
        return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such organisation");
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    struct user *items;
    size_t n;
    if ((rc = user_list(&req->ctx, client_id, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, user_json(&items[i]));
    return http_reply_json(req, 200, api_page_json(arr, next));
}

int api_user_create(struct http_req *req)
{
    struct user_input in = {0};
    int rc;
    if ((rc = api_body_client_id(req, true, &in.client_id)) != 0) return rc;
    if ((rc = http_json_string(req, "username", true, NAME_MAX_BYTES, &in.username)) != 0) return rc;
    if ((rc = http_json_string(req, "display_name", false, API_TEXT_MAX, &in.display_name)) != 0) return rc;
    if ((rc = http_json_string(req, "password", true, API_PASSWORD_MAX, &in.password)) != 0) return rc;
    if ((rc = api_body_roles(req, &in.roles)) != 0) return rc;
    if ((rc = http_json_string(req, "language", false, API_SHORT_MAX, &in.language)) != 0) return rc;
    int64_t id;
    if ((rc = user_create(&req->ctx, &in, &id, &req->err)) != 0) return rc;
    struct user u;
    if ((rc = user_get(&req->ctx, in.client_id, id, &u, &req->err)) != 0) return rc;
    return http_reply_json(req, 201, user_json(&u));
}

int api_user_get(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = api_path_id(req, "id", "user", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, true, &client_id)) != 0) return rc;
    struct user u;
    if ((rc = user_get(&req->ctx, client_id, id, &u, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, user_json(&u));
}

int api_user_disable(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = api_path_id(req, "id", "user", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, true, &client_id)) != 0) return rc;
    if ((rc = user_disable(&req->ctx, client_id, id, &req->err)) != 0) return rc;
    struct user u;
    if ((rc = user_get(&req->ctx, client_id, id, &u, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, user_json(&u));
}

/* PUT /api/v1/users/{id}/roles {"roles": [...]}: replaces the roles; nobody adds one to themselves. */
int api_user_set_roles(struct http_req *req)
{
    int64_t id, client_id;
    unsigned roles;
    int rc;
    if ((rc = api_path_id(req, "id", "user", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, true, &client_id)) != 0) return rc;
    if ((rc = api_body_roles(req, &roles)) != 0) return rc;
    if ((rc = user_set_roles(&req->ctx, client_id, id, roles, &req->err)) != 0) return rc;
    struct user u;
    if ((rc = user_get(&req->ctx, client_id, id, &u, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, user_json(&u));
}

/* POST /api/v1/users/{id}/password {"password": ...}: an administrator sets a new password; every
 * session of that user ends. */
int api_user_reset_password(struct http_req *req)
{
    int64_t id, client_id;
    const char *password;
    int rc;
    if ((rc = api_path_id(req, "id", "user", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, true, &client_id)) != 0) return rc;
    if ((rc = http_json_string(req, "password", true, API_PASSWORD_MAX, &password)) != 0) return rc;
    if ((rc = user_reset_password(&req->ctx, client_id, id, password, &req->err)) != 0) return rc;
    return http_reply_static(req, 204, NULL, "", 0);
}

/* --- customers ----------------------------------------------------------------------------------- */

static json_t *customer_json(const struct customer *c)
{
    return json_pack("{s:o,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:I}", "id", http_json_id(c->id), "client_id",
                     http_json_id(c->client_id), "kind", c->kind ? c->kind : "person", "name", c->name ? c->name : "",
                     "phone", api_opt_str(c->phone), "email", api_opt_str(c->email), "address", api_opt_str(c->address),
                     "id_number", api_opt_str(c->id_number), "created", (json_int_t)c->created, "updated",
                     (json_int_t)c->updated);
}

static json_t *customers_json(const struct customer *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, customer_json(&items[i]));
    return arr;
}

/* GET /api/v1/customers?client_id=: a keyset page, or with `phone`, `email` or `name` a search. */
int api_customer_list(struct http_req *req)
{
    int64_t client_id;
    int rc;
    if ((rc = api_query_client_id(req, false, &client_id)) != 0) return rc;
    const char *phone = http_query(req, "phone"), *email = http_query(req, "email"), *name = http_query(req, "name");
    struct customer *items;
    size_t n;
    if (phone || email || name) {
        if ((phone != NULL) + (email != NULL) + (name != NULL) > 1)
            return kf_fail(&req->err, KF_E_INVALID, phone ? "phone" : "email", "search by one of phone, email, name");
        const char *field = phone ? "phone" : email ? "email" : "name", *value = phone ? phone : email ? email : name;
        if (strlen(value) > API_TEXT_MAX) return kf_fail(&req->err, KF_E_INVALID, field, "%s is too long", field);
        if (phone) rc = customer_find_by_phone(&req->ctx, client_id, phone, &items, &n, &req->err);
        else if (email) rc = customer_find_by_email(&req->ctx, client_id, email, &items, &n, &req->err);
        else rc = customer_search_name(&req->ctx, client_id, name, CUSTOMER_SEARCH_MAX, &items, &n, &req->err);
        /* the domain calls a name search's text "q"; here it is the parameter `name` */
        if (rc == KF_E_INVALID && name && req->err.field && strcmp(req->err.field, "q") == 0) req->err.field = "name";
        if (rc) return rc;
        return http_reply_json(req, 200, api_page_json(customers_json(items, n), 0));
    }
    int64_t after, next = 0;
    int limit;
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    if ((rc = customer_list(&req->ctx, client_id, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, api_page_json(customers_json(items, n), next));
}

/* The customer fields of a body: absent fields are NULL (left as they are by an update). */
static int customer_body(struct http_req *req, bool name_required, struct customer_input *in)
{
    int rc;
    if ((rc = http_json_string(req, "kind", false, API_SHORT_MAX, &in->kind)) != 0) return rc;
    if ((rc = http_json_string(req, "name", name_required, API_TEXT_MAX, &in->name)) != 0) return rc;
    if ((rc = http_json_string(req, "phone", false, API_TEXT_MAX, &in->phone)) != 0) return rc;
    if ((rc = http_json_string(req, "email", false, API_TEXT_MAX, &in->email)) != 0) return rc;
    if ((rc = http_json_string(req, "address", false, API_TEXT_MAX, &in->address)) != 0) return rc;
    return http_json_string(req, "id_number", false, API_TEXT_MAX, &in->id_number);
}

int api_customer_create(struct http_req *req)
{
    struct customer_input in = {0};
    int64_t client_id;
    int rc;
    if ((rc = api_body_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = customer_body(req, true, &in)) != 0) return rc;
    if (!in.kind) in.kind = "person";
    int64_t id;
    if ((rc = customer_create(&req->ctx, client_id, &in, &id, &req->err)) != 0) return rc;
    struct customer c;
    if ((rc = customer_get(&req->ctx, client_id, id, &c, &req->err)) != 0) return rc;
    return http_reply_json(req, 201, customer_json(&c));
}

/* PATCH /api/v1/customers/{id}?client_id=: the given fields change, "" clears one (not the name). */
int api_customer_update(struct http_req *req)
{
    int64_t id, client_id;
    struct customer_input in = {0};
    int rc;
    if ((rc = api_path_id(req, "id", "customer", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = customer_body(req, false, &in)) != 0) return rc;
    if ((rc = customer_update(&req->ctx, client_id, id, &in, &req->err)) != 0) return rc;
    struct customer c;
    if ((rc = customer_get(&req->ctx, client_id, id, &c, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, customer_json(&c));
}

/* DELETE /api/v1/customers/{id}?client_id=: erases the personal data (the record stays, flagged). */
int api_customer_delete(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = api_path_id(req, "id", "customer", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = customer_delete(&req->ctx, client_id, id, &req->err)) != 0) return rc;
    return http_reply_static(req, 204, NULL, "", 0);
}

int api_customer_get(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = api_path_id(req, "id", "customer", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, false, &client_id)) != 0) return rc;
    struct customer c;
    if ((rc = customer_get(&req->ctx, client_id, id, &c, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, customer_json(&c));
}

/* --- consent ------------------------------------------------------------------------------------- */

static json_t *consent_json(const struct consent *k)
{
    return json_pack("{s:o,s:o,s:o,s:s,s:o,s:s,s:I,s:s,s:o,s:o,s:o}", "id", http_json_id(k->id), "client_id",
                     http_json_id(k->client_id), "customer_id", http_json_id(k->customer_id), "purpose", k->purpose,
                     "third_party", api_opt_str(k->third_party), "notice_version", k->notice_version ? k->notice_version : "",
                     "given_at", (json_int_t)k->given_at, "given_channel", k->given_channel ? k->given_channel : "",
                     "withdrawn_at", k->withdrawn_at ? json_integer(k->withdrawn_at) : json_null(), "withdrawn_channel",
                     api_opt_str(k->withdrawn_channel), "recorded_by",
                     k->recorded_by ? http_json_id(k->recorded_by) : json_null());
}

static int consent_reply_list(struct http_req *req, int status, int64_t client_id, int64_t customer_id)
{
    struct consent *items;
    size_t n;
    int rc = consent_list(&req->ctx, client_id, customer_id, &items, &n, &req->err);
    if (rc) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, consent_json(&items[i]));
    return http_reply_json(req, status, json_pack("{s:o}", "items", arr));
}

int api_consent_list(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = api_path_id(req, "id", "customer", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, false, &client_id)) != 0) return rc;
    return consent_reply_list(req, 200, client_id, id);
}

int api_consent_give(struct http_req *req)
{
    int64_t id, client_id;
    struct consent_input in = {0};
    int rc;
    if ((rc = api_path_id(req, "id", "customer", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = http_json_string(req, "purpose", true, API_SHORT_MAX, &in.purpose)) != 0) return rc;
    if ((rc = http_json_string(req, "third_party", false, API_TEXT_MAX, &in.third_party)) != 0) return rc;
    if ((rc = http_json_string(req, "notice_version", true, API_SHORT_MAX, &in.notice_version)) != 0) return rc;
    if ((rc = http_json_string(req, "channel", true, API_SHORT_MAX, &in.channel)) != 0) return rc;
    int64_t cid;
    if ((rc = consent_give(&req->ctx, client_id, id, &in, &cid, &req->err)) != 0) return rc;
    return consent_reply_list(req, 201, client_id, id);
}

int api_consent_withdraw(struct http_req *req)
{
    int64_t id, client_id;
    const char *purpose, *third_party, *channel;
    int rc;
    if ((rc = api_path_id(req, "id", "customer", &id)) != 0) return rc;
    if ((rc = api_query_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = http_json_string(req, "purpose", true, API_SHORT_MAX, &purpose)) != 0) return rc;
    if ((rc = http_json_string(req, "third_party", false, API_TEXT_MAX, &third_party)) != 0) return rc;
    if ((rc = http_json_string(req, "channel", true, API_SHORT_MAX, &channel)) != 0) return rc;
    if ((rc = consent_withdraw(&req->ctx, client_id, id, purpose, third_party, channel, &req->err)) != 0) return rc;
    return consent_reply_list(req, 200, client_id, id);
}
