/* The pages' shared frame (page.h): language and zone, the layout's data, rendering, redirects,
 * error pages and form errors. Every byte of a page comes out of the template engine, which
 * escapes by context; nothing here writes HTML. */
#include "http/page.h"

#include <sodium.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "domain/notify.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/session.h"
#include "domain/user.h"
#include "http/auth.h"
#include "render/format.h"
#include "render/i18n.h"
#include "render/template.h"

/* --- language and zone ---------------------------------------------------------------------------- */

/* ?lang=: the viewer switches language. A logged-in person keeps it as their setting; anyone also
 * gets the cookie, so the login page speaks it too. A preference, not business state: GET may. */
static const char *page_switch_language(struct http_req *req, const char *wanted)
{
    const char *loc = i18n_match(wanted);
    if (!loc) return NULL;
    http_reply_header(req, "Set-Cookie", arena_printf(req->arena, "%s=%s; Path=/; Max-Age=31536000; SameSite=Lax",
                                                      PAGE_LANG_COOKIE, loc));
    if (req->actor.kind == ACTOR_USER && (!req->user_language || strcmp(req->user_language, loc) != 0)) {
        struct kf_err err;
        if (user_set_preferences(&req->ctx, loc, NULL, &err) == 0) req->user_language = loc;
    }
    return loc;
}

const char *page_locale(struct http_req *req)
{
    if (req->page_locale) return req->page_locale;
    const char *loc = NULL;
    const char *wanted = http_query(req, "lang");
    if (wanted) loc = page_switch_language(req, wanted);
    if (!loc && req->user_language) loc = i18n_match(req->user_language);
    if (!loc) loc = i18n_match(http_cookie(req, PAGE_LANG_COOKIE));
    if (!loc) loc = i18n_negotiate(http_header(req, "Accept-Language"));
    req->page_locale = loc;
    req->preferred_zh = strcmp(loc, "zh-CN") == 0;
    return loc;
}

const char *page_text(struct http_req *req, const char *key)
{
    const char *t = i18n_lookup(page_locale(req), key);
    return t ? t : key;
}

const char *page_zone(struct http_req *req)
{
    return req->user_zone && format_zone_is_valid(req->user_zone) ? req->user_zone : FORMAT_DEFAULT_ZONE;
}

/* --- navigation ------------------------------------------------------------------------------------ */

enum nav_scope {
    NAV_ANYONE,      /* every logged-in person */
    NAV_CLIENTS,     /* provider staff over clients; a client user over their own */
    NAV_PROVIDER,    /* the provider's own objects */
    NAV_EITHER,      /* either of the above */
};

static const struct nav_item {
    const char *href;
    const char *label_key;
    const char *section;
    enum action act;
    enum nav_scope scope;
} nav_items[] = {
    {"/", "nav.home", "home", ACT_LOGIN, NAV_ANYONE},
    {"/queue", "nav.queue", "queue", ACT_REQUEST_VIEW_READ, NAV_PROVIDER},
    {"/requests", "nav.requests", "requests", ACT_REQUEST_READ, NAV_CLIENTS},
    {"/search", "nav.search", "search", ACT_REQUEST_READ, NAV_CLIENTS},
    {"/customers", "nav.customers", "customers", ACT_CUSTOMER_READ, NAV_CLIENTS},
    {"/orgs", "nav.orgs", "orgs", ACT_ORG_READ, NAV_CLIENTS},
    {"/agreements", "nav.agreements", "agreements", ACT_AGREEMENT_READ, NAV_CLIENTS},
    {"/users", "nav.users", "users", ACT_USER_READ, NAV_EITHER},
    {"/teams", "nav.teams", "teams", ACT_TEAM_READ, NAV_PROVIDER},
    {"/notices", "nav.formal_notices", "notices", ACT_NOTICE_READ, NAV_CLIENTS},
    {"/calendars", "nav.calendars", "calendars", ACT_CALENDAR_READ, NAV_PROVIDER},
    {"/audit", "nav.audit", "audit", ACT_AUDIT_READ, NAV_EITHER},
    {"/notifications", "nav.notices", "notifications", ACT_LOGIN, NAV_ANYONE},
    {"/account", "nav.account", "account", ACT_LOGIN, NAV_ANYONE},
};

/* Any client id stands for "a client" in the provider scope: every client's grant is the same. */
#define NAV_ANY_CLIENT 1

static bool nav_allowed(const struct actor *a, const struct nav_item *it)
{
    if (it->scope == NAV_ANYONE) return true;
    struct object_ref own = {.client_id = a->client_id};
    if (a->client_id != 0) return policy_check(a, it->act, &own) == 0;
    struct object_ref clients = {.client_id = NAV_ANY_CLIENT}, provider = {.client_id = 0};
    bool c = (it->scope == NAV_CLIENTS || it->scope == NAV_EITHER) && policy_check(a, it->act, &clients) == 0;
    bool p = (it->scope == NAV_PROVIDER || it->scope == NAV_EITHER) && policy_check(a, it->act, &provider) == 0;
    return c || p;
}

static json_t *page_nav(const struct actor *a, const char *section)
{
    json_t *nav = json_array();
    for (size_t i = 0; i < sizeof nav_items / sizeof nav_items[0]; i++) {
        const struct nav_item *it = &nav_items[i];
        if (!nav_allowed(a, it)) continue;
        json_array_append_new(nav, json_pack("{s:s,s:s,s:b,s:s}", "href", it->href, "label_key", it->label_key,
                                             "current", section && strcmp(section, it->section) == 0, "section",
                                             it->section));
    }
    return nav;
}

/* --- data and rendering ---------------------------------------------------------------------------- */

json_t *page_data(struct http_req *req, const char *title_key, const char *section)
{
    const char *loc = page_locale(req);
    json_t *d = json_object();
    if (title_key) json_object_set_new(d, "title_key", json_string(title_key));
    json_object_set_new(d, "path", json_string(req->path ? req->path : "/"));
    json_object_set_new(d, "is_zh", json_boolean(strcmp(loc, "zh-CN") == 0));
    json_object_set_new(d, "is_en", json_boolean(strcmp(loc, "en") == 0));
    if (req->actor.kind == ACTOR_USER) {
        json_object_set_new(d, "user", json_pack("{s:s,s:o,s:b}", "name", req->user_name ? req->user_name : "", "id",
                                                 http_json_id(req->actor.user_id), "provider",
                                                 req->actor.client_id == 0));
        json_object_set_new(d, "nav", page_nav(&req->actor, section));
        char csrf[TOKEN_TEXT_MAX] = "";
        if (req->via_session) session_csrf_token(&req->session, csrf);
        json_object_set_new(d, "csrf", json_string(csrf));
        int64_t unread = 0;
        struct kf_err err;
        if (notify_unread_count(&req->ctx, &unread, &err) == 0)
            json_object_set_new(d, "unread", json_integer(unread));
    }
    return d;
}

int page_render(struct http_req *req, int status, const char *page, json_t *data)
{
    struct render_opts o = {.locale = page_locale(req), .zone = page_zone(req)};
    struct buf out;
    buf_init(&out, PAGE_MAX_BYTES);
    int rc = render_page(req->arena, page, NULL, data, &o, &out, &req->err);
    json_decref(data);
    if (rc) {
        buf_free(&out);
        return rc;
    }
    /* the buf's memory becomes the reply's: MHD frees it after sending */
    return http_reply_owned(req, status, "text/html; charset=utf-8", out.data, out.len);
}

bool page_local_path(const char *next)
{
    /* "/x" but not "//host" or "/\host" (both leave the site in browsers) */
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\') return false;
    for (const char *p = next; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return false;
    }
    return strlen(next) < 1024;
}

int page_redirect(struct http_req *req, const char *location)
{
    http_reply_header(req, "Location", page_local_path(location) ? arena_strdup(req->arena, location) : "/");
    return http_reply_static(req, 303, "text/plain; charset=utf-8", "", 0);
}

int page_reply_error(struct http_req *req, int code)
{
    if (req->err.code == KF_OK) kf_fail(&req->err, code, NULL, NULL);
    const struct kf_code_info *info = kf_code_info(req->err.code);
    if (info->http_status == 401) {
        const char *here = req->path && strcmp(req->method, "GET") == 0 ? req->path : "/";
        struct buf next;
        buf_init(&next, 2048);
        const char *target = "/login";
        if (strcmp(here, "/") != 0 && page_local_path(here)) {
            /* ?next= carries the page to return to; its characters are percent-encoded */
            static const char hex[] = "0123456789ABCDEF";
            buf_append(&next, "/login?next=", 12);
            for (const unsigned char *p = (const unsigned char *)here; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    strchr("/-_.~", *p)) {
                    buf_append(&next, (const char *)p, 1);
                } else {
                    char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
                    buf_append(&next, e, 3);
                }
            }
            if (next.data) target = arena_strdup(req->arena, next.data);
        }
        buf_free(&next);
        return page_redirect(req, target);
    }
    /* an administrator or finance user without a second factor is sent to enrol one */
    if (info->http_status == 403 && req->second_factor_missing) return page_redirect(req, "/account/totp");
    int status = info->http_status;
    struct render_opts o = {.locale = page_locale(req), .zone = page_zone(req)};
    json_t *data = page_data(req, NULL, NULL);
    struct buf out;
    buf_init(&out, PAGE_MAX_BYTES);
    struct kf_err rerr;
    int rc = render_error_page(req->arena, status, data, &o, &out, &rerr);
    json_decref(data);
    if (rc) {
        buf_free(&out);
        static const char fallback[] = "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                                       "<title>kefu</title></head><body><p>500</p></body></html>";
        return http_reply_static(req, 500, "text/html; charset=utf-8", fallback, sizeof fallback - 1);
    }
    return http_reply_owned(req, status, "text/html; charset=utf-8", out.data, out.len);
}

/* --- forms ----------------------------------------------------------------------------------------- */

int page_form_error(struct http_req *req, json_t *data)
{
    const struct kf_code_info *info = kf_code_info(req->err.code ? req->err.code : KF_E_INTERNAL);
    const char *loc = page_locale(req);
    const char *msg = strcmp(loc, "zh-CN") == 0 ? info->message_zh : info->message_en;
    /* the field's own catalogue text when there is one (form.error.<code>), else the code's message */
    char key[96];
    snprintf(key, sizeof key, "form.error.%s", info->name);
    const char *specific = i18n_lookup(loc, key);
    json_t *errors = json_object();
    const char *text = specific ? specific : msg;
    if (req->err.field) json_object_set_new(errors, req->err.field, json_string(text));
    json_object_set_new(data, "errors", errors);
    json_object_set_new(data, "error", json_pack("{s:s,s:s}", "message", text, "detail", req->err.detail));
    return info->http_status >= 400 && info->http_status < 500 ? info->http_status : 500;
}

void page_keep_form(struct http_req *req, json_t *data, const char *const *fields)
{
    json_t *form = json_object();
    for (const char *const *f = fields; *f; f++) {
        json_t *v = req->json ? json_object_get(req->json, *f) : NULL;
        /* a repeated field arrives as an array: a text box shows its first value (the handler's
         * validation already refused it; the page must still render) */
        if (json_is_array(v)) v = json_array_get(v, 0);
        if (json_is_string(v)) json_object_set(form, *f, v);
    }
    json_object_set_new(data, "form", form);
}

int page_form_fail(struct http_req *req, json_t *data, const char *group, const char *form, const char *const *fields)
{
    json_t *tmp = json_object();
    int status = page_form_error(req, tmp);
    json_t *errors = json_object_get(tmp, "errors");
    if (req->err.field) {
        const char *own = i18n_lookup(page_locale(req), arena_printf(req->arena, "%s.error.%s", group, req->err.field));
        if (own) json_object_set_new(errors, req->err.field, json_string(own));
        json_object_set_new(data, "error", json_pack("{s:s}", "message", page_text(req, "form.errors_title")));
    } else {
        json_object_set(data, "error", json_object_get(tmp, "error"));
    }
    page_keep_form(req, tmp, fields);
    json_object_set_new(data, form, json_pack("{s:O,s:O}", "errors", errors, "form", json_object_get(tmp, "form")));
    json_decref(tmp);
    return status;
}

void page_client_choice(struct http_req *req, json_t *data, int64_t selected)
{
    if (req->actor.client_id != 0) return;
    struct org *items;
    size_t n;
    int64_t next;
    struct kf_err err;
    if (org_list_clients(&req->ctx, 0, PAGE_CLIENT_CHOICE_MAX, &items, &n, &next, &err) != 0) {
        json_object_set_new(data, "client_text", json_true());
        if (selected) json_object_set_new(data, "client_value", json_string(arena_printf(req->arena, "%lld", (long long)selected)));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:o,s:s,s:b}", "id", http_json_id(items[i].id), "name",
                                             items[i].name ? items[i].name : "", "selected", items[i].id == selected));
    json_object_set_new(data, "clients", arr);
}

const char *page_form_key(struct http_req *req)
{
    unsigned char raw[16];
    char *hex = arena_alloc(req->arena, sizeof raw * 2 + 1);
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof raw * 2 + 1, raw, sizeof raw);
    return hex;
}

json_t *page_options(struct http_req *req, const char *prefix, const char *const *values, const char *chosen)
{
    json_t *arr = json_array();
    for (const char *const *v = values; *v; v++) {
        json_t *o = json_pack("{s:s,s:b}", "value", *v, "selected", chosen && strcmp(chosen, *v) == 0);
        if (prefix) json_object_set_new(o, "label_key", json_string(arena_printf(req->arena, "%s.%s", prefix, *v)));
        else json_object_set_new(o, "label", json_string(*v));
        json_array_append_new(arr, o);
    }
    return arr;
}
