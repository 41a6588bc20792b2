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
#include "http/handlers.h"
#include "http/request.h"

#define TEXT_MAX 400          /* free-text fields, as the domain's own limit */
#define NAME_MAX_BYTES 256    /* user names */
#define PASSWORD_MAX 1024
#define SHORT_MAX 64          /* kind, purpose, channel, notice version */
#define LIST_DEFAULT 50
#define LIST_MAX 500

/* --- input helpers ------------------------------------------------------------------------------ */

/* Parses an id where 0 is allowed (the provider): "0" or a positive decimal. */
static int parse_client_id(const char *s, int64_t *out)
{
    if (s && strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    return id_parse(s, out);
}

/* `client_id` from the query string, or the caller's own client when absent. */
static int query_client_id(struct http_req *req, bool allow_provider, int64_t *out)
{
    const char *s = http_query(req, "client_id");
    if (!s) {
        *out = req->actor.client_id;
    } else if (parse_client_id(s, out) != 0) {
        return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id must be an id");
    }
    if (*out == 0 && !allow_provider) return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id is required");
    return 0;
}

/* `client_id` from the JSON body (a string id or an integer), or the caller's own when absent. */
static int body_client_id(struct http_req *req, bool allow_provider, int64_t *out)
{
    json_t *v = req->json ? json_object_get(req->json, "client_id") : NULL;
    if (!v || json_is_null(v)) {
        *out = req->actor.client_id;
    } else if (json_is_string(v)) {
        if (parse_client_id(json_string_value(v), out) != 0)
            return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id must be an id");
    } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
    } else {
        return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id must be an id");
    }
    if (*out == 0 && !allow_provider) return kf_fail(&req->err, KF_E_INVALID, "client_id", "client_id is required");
    return 0;
}

/* The path's {id}: anything that is not an id names nothing (404). */
static int path_id(struct http_req *req, const char *what, int64_t *out)
{
    if (id_parse(http_param(req, "id"), out) != 0) return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such %s", what);
    return 0;
}

/* ?after=ID&limit=N for keyset lists. */
static int page_params(struct http_req *req, int64_t *after_r, int *limit_r)
{
    const char *after = http_query(req, "after");
    const char *limit = http_query(req, "limit");
    *after_r = 0;
    *limit_r = LIST_DEFAULT;
    if (after && id_parse(after, after_r) != 0) return kf_fail(&req->err, KF_E_INVALID, "after", "after must be an id");
    if (limit) {
        int64_t n;
        if (id_parse(limit, &n) != 0 || n > LIST_MAX)
            return kf_fail(&req->err, KF_E_INVALID, "limit", "limit must be 1..%d", LIST_MAX);
        *limit_r = (int)n;
    }
    return 0;
}

static json_t *page_json(json_t *items, int64_t next)
{
    return json_pack("{s:o,s:o}", "items", items, "next", next ? http_json_id(next) : json_null());
}

/* A nullable string for replies. */
static json_t *opt_str(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* --- organisations ------------------------------------------------------------------------------- */

static json_t *org_json(const struct org *o)
{
    return json_pack("{s:o,s:o,s:b,s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:I,s:I}", "id", http_json_id(o->id), "client_id",
                     http_json_id(o->client_id), "provider", o->provider, "name", o->name ? o->name : "",
                     "legal_name", opt_str(o->legal_name), "address", opt_str(o->address), "contact_name",
                     opt_str(o->contact_name), "contact_phone", opt_str(o->contact_phone), "contact_email",
                     opt_str(o->contact_email), "disabled", o->disabled, "created", (json_int_t)o->created, "updated",
                     (json_int_t)o->updated);
}

int api_org_list(struct http_req *req)
{
    int64_t after, next = 0;
    int limit, rc;
    if ((rc = page_params(req, &after, &limit)) != 0) return rc;
    struct org *items;
    size_t n;
    if ((rc = org_list_clients(&req->ctx, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, org_json(&items[i]));
    return http_reply_json(req, 200, page_json(arr, next));
}

int api_org_create(struct http_req *req)
{
    struct org_input in = {0};
    int rc;
    if ((rc = http_json_string(req, "name", true, TEXT_MAX, &in.name)) != 0) return rc;
    if ((rc = http_json_string(req, "legal_name", false, TEXT_MAX, &in.legal_name)) != 0) return rc;
    if ((rc = http_json_string(req, "address", false, TEXT_MAX, &in.address)) != 0) return rc;
    if ((rc = http_json_string(req, "contact_name", false, TEXT_MAX, &in.contact_name)) != 0) return rc;
    if ((rc = http_json_string(req, "contact_phone", false, TEXT_MAX, &in.contact_phone)) != 0) return rc;
    if ((rc = http_json_string(req, "contact_email", false, TEXT_MAX, &in.contact_email)) != 0) return rc;
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
    if ((rc = path_id(req, "organisation", &id)) != 0) return rc;
    struct org o;
    if ((rc = org_get(&req->ctx, id, &o, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, org_json(&o));
}

/* --- users --------------------------------------------------------------------------------------- */

static json_t *user_json(const struct user *u)
{
    json_t *roles = json_array();
    for (unsigned bit = 1; bit; bit <<= 1) {
        if ((u->roles & bit) && role_name(bit)) json_array_append_new(roles, json_string(role_name(bit)));
    }
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
    if (parse_client_id(http_param(req, "id"), &client_id) != 0)
        return kf_fail(&req->err, KF_E_NOT_FOUND, "id", "no such organisation");
    if ((rc = page_params(req, &after, &limit)) != 0) return rc;
    struct user *items;
    size_t n;
    if ((rc = user_list(&req->ctx, client_id, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, user_json(&items[i]));
    return http_reply_json(req, 200, page_json(arr, next));
}

/* `roles`: a non-empty array of role names. */
static int body_roles(struct http_req *req, unsigned *roles_r)
{
    json_t *v = req->json ? json_object_get(req->json, "roles") : NULL;
    if (!v || json_is_null(v)) return kf_fail(&req->err, KF_E_INVALID, "roles", "roles is required");
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 16)
        return kf_fail(&req->err, KF_E_INVALID, "roles", "roles must be a non-empty array of role names");
    *roles_r = 0;
    size_t i;
    json_t *r;
    json_array_foreach(v, i, r) {
        if (!json_is_string(r) || json_string_length(r) == 0 || json_string_length(r) > SHORT_MAX ||
            strchr(json_string_value(r), ',') || strlen(json_string_value(r)) != json_string_length(r))
            return kf_fail(&req->err, KF_E_INVALID, "roles", "roles must be a non-empty array of role names");
        unsigned bits;
        int rc = role_parse_list(json_string_value(r), &bits, &req->err);
        if (rc) return rc;
        *roles_r |= bits;
    }
    return 0;
}

int api_user_create(struct http_req *req)
{
    struct user_input in = {0};
    int rc;
    if ((rc = body_client_id(req, true, &in.client_id)) != 0) return rc;
    if ((rc = http_json_string(req, "username", true, NAME_MAX_BYTES, &in.username)) != 0) return rc;
    if ((rc = http_json_string(req, "display_name", false, TEXT_MAX, &in.display_name)) != 0) return rc;
    if ((rc = http_json_string(req, "password", true, PASSWORD_MAX, &in.password)) != 0) return rc;
    if ((rc = body_roles(req, &in.roles)) != 0) return rc;
    if ((rc = http_json_string(req, "language", false, SHORT_MAX, &in.language)) != 0) return rc;
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
    if ((rc = path_id(req, "user", &id)) != 0) return rc;
    if ((rc = query_client_id(req, true, &client_id)) != 0) return rc;
    struct user u;
    if ((rc = user_get(&req->ctx, client_id, id, &u, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, user_json(&u));
}

int api_user_disable(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = path_id(req, "user", &id)) != 0) return rc;
    if ((rc = query_client_id(req, true, &client_id)) != 0) return rc;
    if ((rc = user_disable(&req->ctx, client_id, id, &req->err)) != 0) return rc;
    struct user u;
    if ((rc = user_get(&req->ctx, client_id, id, &u, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, user_json(&u));
}

/* --- customers ----------------------------------------------------------------------------------- */

static json_t *customer_json(const struct customer *c)
{
    return json_pack("{s:o,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:I}", "id", http_json_id(c->id), "client_id",
                     http_json_id(c->client_id), "kind", c->kind ? c->kind : "person", "name", c->name ? c->name : "",
                     "phone", opt_str(c->phone), "email", opt_str(c->email), "address", opt_str(c->address),
                     "id_number", opt_str(c->id_number), "created", (json_int_t)c->created, "updated",
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
    if ((rc = query_client_id(req, false, &client_id)) != 0) return rc;
    const char *phone = http_query(req, "phone"), *email = http_query(req, "email"), *name = http_query(req, "name");
    struct customer *items;
    size_t n;
    if (phone || email || name) {
        if ((phone != NULL) + (email != NULL) + (name != NULL) > 1)
            return kf_fail(&req->err, KF_E_INVALID, phone ? "phone" : "email", "search by one of phone, email, name");
        const char *field = phone ? "phone" : email ? "email" : "name", *value = phone ? phone : email ? email : name;
        if (strlen(value) > TEXT_MAX) return kf_fail(&req->err, KF_E_INVALID, field, "%s is too long", field);
        if (phone) rc = customer_find_by_phone(&req->ctx, client_id, phone, &items, &n, &req->err);
        else if (email) rc = customer_find_by_email(&req->ctx, client_id, email, &items, &n, &req->err);
        else rc = customer_search_name(&req->ctx, client_id, name, CUSTOMER_SEARCH_MAX, &items, &n, &req->err);
        /* the domain calls a name search's text "q"; here it is the parameter `name` */
        if (rc == KF_E_INVALID && name && req->err.field && strcmp(req->err.field, "q") == 0) req->err.field = "name";
        if (rc) return rc;
        return http_reply_json(req, 200, page_json(customers_json(items, n), 0));
    }
    int64_t after, next = 0;
    int limit;
    if ((rc = page_params(req, &after, &limit)) != 0) return rc;
    if ((rc = customer_list(&req->ctx, client_id, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, page_json(customers_json(items, n), next));
}

int api_customer_create(struct http_req *req)
{
    struct customer_input in = {0};
    int64_t client_id;
    int rc;
    if ((rc = body_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = http_json_string(req, "kind", false, SHORT_MAX, &in.kind)) != 0) return rc;
    if ((rc = http_json_string(req, "name", true, TEXT_MAX, &in.name)) != 0) return rc;
    if ((rc = http_json_string(req, "phone", false, TEXT_MAX, &in.phone)) != 0) return rc;
    if ((rc = http_json_string(req, "email", false, TEXT_MAX, &in.email)) != 0) return rc;
    if ((rc = http_json_string(req, "address", false, TEXT_MAX, &in.address)) != 0) return rc;
    if ((rc = http_json_string(req, "id_number", false, TEXT_MAX, &in.id_number)) != 0) return rc;
    if (!in.kind) in.kind = "person";
    int64_t id;
    if ((rc = customer_create(&req->ctx, client_id, &in, &id, &req->err)) != 0) return rc;
    struct customer c;
    if ((rc = customer_get(&req->ctx, client_id, id, &c, &req->err)) != 0) return rc;
    return http_reply_json(req, 201, customer_json(&c));
}

int api_customer_get(struct http_req *req)
{
    int64_t id, client_id;
    int rc;
    if ((rc = path_id(req, "customer", &id)) != 0) return rc;
    if ((rc = query_client_id(req, false, &client_id)) != 0) return rc;
    struct customer c;
    if ((rc = customer_get(&req->ctx, client_id, id, &c, &req->err)) != 0) return rc;
    return http_reply_json(req, 200, customer_json(&c));
}

/* --- consent ------------------------------------------------------------------------------------- */

static json_t *consent_json(const struct consent *k)
{
    return json_pack("{s:o,s:o,s:o,s:s,s:o,s:s,s:I,s:s,s:o,s:o,s:o}", "id", http_json_id(k->id), "client_id",
                     http_json_id(k->client_id), "customer_id", http_json_id(k->customer_id), "purpose", k->purpose,
                     "third_party", opt_str(k->third_party), "notice_version", k->notice_version ? k->notice_version : "",
                     "given_at", (json_int_t)k->given_at, "given_channel", k->given_channel ? k->given_channel : "",
                     "withdrawn_at", k->withdrawn_at ? json_integer(k->withdrawn_at) : json_null(), "withdrawn_channel",
                     opt_str(k->withdrawn_channel), "recorded_by",
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
    if ((rc = path_id(req, "customer", &id)) != 0) return rc;
    if ((rc = query_client_id(req, false, &client_id)) != 0) return rc;
    return consent_reply_list(req, 200, client_id, id);
}

int api_consent_give(struct http_req *req)
{
    int64_t id, client_id;
    struct consent_input in = {0};
    int rc;
    if ((rc = path_id(req, "customer", &id)) != 0) return rc;
    if ((rc = query_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = http_json_string(req, "purpose", true, SHORT_MAX, &in.purpose)) != 0) return rc;
    if ((rc = http_json_string(req, "third_party", false, TEXT_MAX, &in.third_party)) != 0) return rc;
    if ((rc = http_json_string(req, "notice_version", true, SHORT_MAX, &in.notice_version)) != 0) return rc;
    if ((rc = http_json_string(req, "channel", true, SHORT_MAX, &in.channel)) != 0) return rc;
    int64_t cid;
    if ((rc = consent_give(&req->ctx, client_id, id, &in, &cid, &req->err)) != 0) return rc;
    return consent_reply_list(req, 201, client_id, id);
}

int api_consent_withdraw(struct http_req *req)
{
    int64_t id, client_id;
    const char *purpose, *third_party, *channel;
    int rc;
    if ((rc = path_id(req, "customer", &id)) != 0) return rc;
    if ((rc = query_client_id(req, false, &client_id)) != 0) return rc;
    if ((rc = http_json_string(req, "purpose", true, SHORT_MAX, &purpose)) != 0) return rc;
    if ((rc = http_json_string(req, "third_party", false, TEXT_MAX, &third_party)) != 0) return rc;
    if ((rc = http_json_string(req, "channel", true, SHORT_MAX, &channel)) != 0) return rc;
    if ((rc = consent_withdraw(&req->ctx, client_id, id, purpose, third_party, channel, &req->err)) != 0) return rc;
    return consent_reply_list(req, 200, client_id, id);
}
