/* The person's own account pages (issue 4): who they are, their language and time zone, their
 * password, their second factor and their API tokens. Everything here acts on the actor themself;
 * the rules are the domain's, the same functions the JSON API calls. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "domain/api_token.h"
#include "domain/org.h"
#include "domain/policy.h"
#include "domain/totp.h"
#include "domain/user.h"
#include "domain/user_totp.h"
#include "http/api_common.h"
#include "http/auth.h"
#include "http/handlers.h"
#include "http/page.h"
#include "render/i18n.h"
#include "render/template.h"
#include "store/store.h"

#define PREF_LANGUAGE_MAX 16
#define PREF_ZONE_MAX 64        /* the longest IANA ids are about 30 bytes */
#define TOTP_CODE_MAX 32

/* --- shared ------------------------------------------------------------------------------------- */

/* The actor as stored now (not the session's copy), read as kefu itself: it is about themself. */
static int account_me(struct http_req *req, struct user *u)
{
    struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx ctx = req->ctx;
    ctx.actor = &system;
    return user_get(&ctx, req->actor.client_id, req->actor.user_id, u, &req->err);
}

/* A form error with the page's own wording: `errors.<field>` beside the field, `error.message` on
 * top. Returns 422. */
static int account_field_error(struct http_req *req, json_t *d, const char *field, const char *key)
{
    const char *text = page_text(req, key);
    json_object_set_new(d, "errors", json_pack("{s:s}", field, text));
    json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, "account.form_error")));
    return 422;
}

/* Role bits as [{key: "role.<name>"}] for the template's {{t key}}. */
static json_t *account_roles(struct http_req *req, unsigned roles)
{
    json_t *arr = json_array();
    for (unsigned bit = 1; bit; bit <<= 1) {
        if ((roles & bit) && role_name(bit))
            json_array_append_new(arr, json_pack("{s:s}", "key", arena_printf(req->arena, "role.%s", role_name(bit))));
    }
    return arr;
}

static bool account_may_manage_tokens(struct http_req *req)
{
    struct object_ref own = {.client_id = req->actor.client_id, .owner_id = req->actor.user_id};
    return policy_check(&req->actor, ACT_TOKEN_MANAGE, &own) == 0;
}

/* --- the account page and its preferences form ---------------------------------------------------- */

struct token_rows {
    struct http_req *req;
    json_t *rows;
    int64_t now;
    int64_t only_id;            /* 0: every token; else just this one */
};

static int token_row(void *arg, const struct api_token_info *t)
{
    struct token_rows *tr = arg;
    if (tr->only_id && t->id != tr->only_id) return 0;
    const char *state = t->revoked ? "revoked" : t->expires <= tr->now ? "expired" : "valid";
    json_t *row = json_pack("{s:s,s:s,s:o,s:I,s:I,s:s,s:b}", "id", arena_printf(tr->req->arena, "%lld", (long long)t->id),
                            "name", t->name, "roles", account_roles(tr->req, t->roles), "created", (json_int_t)t->created,
                            "expires", (json_int_t)t->expires, "state_key",
                            arena_printf(tr->req->arena, "account.tokens.state.%s", state), "revocable",
                            strcmp(state, "valid") == 0);
    if (!row) return KF_E_NOMEM;
    if (t->last_used) json_object_set_new(row, "last_used", json_integer(t->last_used));
    return json_array_append_new(tr->rows, row) == 0 ? 0 : KF_E_NOMEM;
}

/* The actor's tokens (or the one token `only_id`) as template rows. */
static int account_tokens(struct http_req *req, int64_t only_id, json_t **rows_r)
{
    struct token_rows tr = {req, json_array(), clock_now_ms(req->ctx.env->clock), only_id};
    int rc = api_token_list(req->ctx.env->store, req->actor.user_id, token_row, &tr, &req->err);
    if (rc) {
        json_decref(tr.rows);
        return rc < 0 ? rc : kf_fail(&req->err, KF_E_NOMEM, NULL, NULL);
    }
    *rows_r = tr.rows;
    return 0;
}

/* The language choices, `selected` on `current`. */
static json_t *account_languages(const char *current)
{
    static const char *const langs[][2] = {{"zh-CN", "lang.zh-CN"}, {"en", "lang.en"}};
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b}", "value", langs[i][0], "label_key", langs[i][1], "selected",
                                             current && strcmp(current, langs[i][0]) == 0));
    }
    return arr;
}

/* Renders the account page with `d` (stolen), which may already hold a form error and the kept
 * preferences (`form`). */
static int account_page(struct http_req *req, int status, json_t *d)
{
    struct user u;
    int rc = account_me(req, &u);
    if (rc) {
        json_decref(d);
        return rc;
    }
    struct org o;
    struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx sys = req->ctx;
    sys.actor = &system;
    struct kf_err oerr;
    const char *org_name = org_get(&sys, u.org_id, &o, &oerr) == 0 ? o.name : "";
    json_object_set_new(d, "me", json_pack("{s:s,s:s,s:s,s:o,s:b,s:b}", "name",
                                           u.display_name && *u.display_name ? u.display_name : u.username, "username",
                                           u.username, "org", org_name, "roles", account_roles(req, u.roles),
                                           "totp_enabled", u.totp_enabled, "provider", u.client_id == 0));
    json_t *form = json_object_get(d, "form");
    if (!form) {
        form = json_pack("{s:s,s:s}", "language", u.language && *u.language ? u.language : "zh-CN", "time_zone",
                         u.time_zone ? u.time_zone : "");
        json_object_set_new(d, "form", form);
    }
    json_object_set_new(d, "languages", account_languages(json_string_value(json_object_get(form, "language"))));
    if (account_may_manage_tokens(req)) {
        json_t *rows;
        if ((rc = account_tokens(req, 0, &rows)) != 0) {
            json_decref(d);
            return rc;
        }
        json_object_set_new(d, "tokens", json_pack("{s:b,s:o}", "has_items", json_array_size(rows) > 0, "items", rows));
    }
    static const char *const notices[][2] = {{"changed", "account.notice.changed"},
                                             {"saved", "account.notice.saved"},
                                             {"revoked", "account.notice.revoked"},
                                             {"enrolled", "account.notice.enrolled"}};
    for (size_t i = 0; i < sizeof notices / sizeof notices[0]; i++) {
        if (http_query(req, notices[i][0])) json_object_set_new(d, "notice_key", json_string(notices[i][1]));
    }
    return page_render(req, status, "account/index", d);
}

/* GET /account */
int page_account(struct http_req *req)
{
    return account_page(req, 200, page_data(req, "account.title", "account"));
}

/* POST /account/preferences (language, time_zone): "" as the zone clears it (the agreement's, then
 * Asia/Shanghai); no time_zone field leaves it as it is. The next page speaks the new language. */
int page_account_preferences(struct http_req *req)
{
    const char *language = NULL, *zone = NULL;
    int rc = http_json_string(req, "language", true, PREF_LANGUAGE_MAX, &language);
    if (rc == 0) rc = http_json_string(req, "time_zone", false, PREF_ZONE_MAX, &zone);
    if (rc == 0) rc = user_set_preferences(&req->ctx, language, zone, &req->err); /* no field: unchanged */
    if (rc == KF_E_INVALID) {
        json_t *d = page_data(req, "account.title", "account");
        const char *keep[] = {"language", "time_zone", NULL};
        page_keep_form(req, d, keep);
        const char *field = req->err.field && strcmp(req->err.field, "language") == 0 ? "language" : "time_zone";
        int status = account_field_error(req, d, field, strcmp(field, "language") == 0 ? "account.prefs.bad_language"
                                                                                       : "account.prefs.bad_zone");
        return account_page(req, status, d);
    }
    return rc ? rc : page_redirect(req, "/account?saved=1");
}

/* --- API tokens --------------------------------------------------------------------------------- */

/* The actor's own token named by the path, as a template row; another person's is not found. */
static int account_token(struct http_req *req, int64_t *id_r, json_t **row_r)
{
    if (!account_may_manage_tokens(req)) return kf_fail(&req->err, KF_E_FORBIDDEN, NULL, "not allowed");
    int rc = api_path_id(req, "id", "token", id_r);
    json_t *rows = NULL;
    if (rc == 0) rc = account_tokens(req, *id_r, &rows);
    if (rc) return rc;
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return kf_fail(&req->err, KF_E_NOT_FOUND, NULL, "no such token");
    }
    *row_r = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return 0;
}

/* GET /account/tokens/{id}/revoke: asks before revoking. */
int page_account_token_revoke_confirm(struct http_req *req)
{
    int64_t id = 0;
    json_t *row = NULL;
    int rc = account_token(req, &id, &row);
    if (rc) return rc;
    json_t *d = page_data(req, "account.revoke.title", "account");
    json_object_set_new(d, "token", row);
    return page_render(req, 200, "account/token_revoke", d);
}

struct token_revoke {
    struct http_req *req;
    int64_t id;
};

static int token_revoke_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct token_revoke *r = arg;
    return api_token_revoke(c, &r->req->ctx, r->req->actor.user_id, r->id, NULL, err);
}

/* POST /account/tokens/{id}/revoke: idempotent; back to the account page. */
int page_account_token_revoke(struct http_req *req)
{
    if (!account_may_manage_tokens(req)) return kf_fail(&req->err, KF_E_FORBIDDEN, NULL, "not allowed");
    struct token_revoke r = {req, 0};
    int rc = api_path_id(req, "id", "token", &r.id);
    if (rc == 0) rc = store_write(req->ctx.env->store, token_revoke_fn, &r, &req->err);
    return rc ? rc : page_redirect(req, "/account?revoked=1");
}

/* --- password ----------------------------------------------------------------------------------- */

static int password_form(struct http_req *req, int status, json_t *d)
{
    return page_render(req, status, "account/password", d);
}

/* GET /account/password */
int page_account_password(struct http_req *req)
{
    return password_form(req, 200, page_data(req, "account.password.title", "account"));
}

/* The catalogue key for a refused new password: the domain's reason ("too_short: …") picks it. */
static const char *password_weak_key(struct http_req *req)
{
    size_t n = strcspn(req->err.detail, ":");
    const char *key = arena_printf(req->arena, "account.password.weak.%.*s", (int)n, req->err.detail);
    return i18n_lookup(page_locale(req), key) ? key : "account.password.weak";
}

/* POST /account/password (current_password, new_password, new_password_repeat): every session of
 * the person ends, this browser gets a fresh one; on to /account?changed=1. Passwords are never
 * shown again on an error. */
int page_account_password_submit(struct http_req *req)
{
    static const char *const fields[] = {"current_password", "new_password", "new_password_repeat"};
    const char *v[3];
    json_t *d = page_data(req, "account.password.title", "account");
    for (int i = 0; i < 3; i++) {
        int rc = http_json_string(req, fields[i], false, API_PASSWORD_MAX, &v[i]);
        if (rc == KF_E_INVALID) return password_form(req, account_field_error(req, d, fields[i], "account.password.too_long"), d);
        if (rc) {
            json_decref(d);
            return rc;
        }
        if (!v[i] || !*v[i]) return password_form(req, account_field_error(req, d, fields[i], "account.required"), d);
    }
    /* a typing mistake in the new password is caught before anything changes */
    if (strcmp(v[1], v[2]) != 0)
        return password_form(req, account_field_error(req, d, "new_password_repeat", "account.password.mismatch"), d);
    struct user u;
    char token[TOKEN_TEXT_MAX];
    int rc = http_change_password(req, v[0], v[1], &u, token);
    if (rc == KF_E_INVALID && req->err.field) {
        bool current = strcmp(req->err.field, "current_password") == 0;
        const char *key = current ? "account.password.wrong_current" : password_weak_key(req);
        return password_form(req, account_field_error(req, d, current ? "current_password" : "new_password", key), d);
    }
    json_decref(d);
    if (rc) return rc;
    http_reply_header(req, "Set-Cookie", http_auth_cookie(req, token));
    sodium_memzero(token, sizeof token);
    return page_redirect(req, "/account?changed=1");
}

/* --- second factor ------------------------------------------------------------------------------ */

/* The base32 secret of an otpauth URI, in groups of four for typing by hand (apps ignore spaces). */
static const char *totp_secret_text(struct http_req *req, const char *uri)
{
    const char *s = strstr(uri, "secret=");
    if (!s) return "";
    s += 7;
    size_t n = strcspn(s, "&");
    char *out = arena_zalloc(req->arena, n + n / 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && i % 4 == 0) out[o++] = ' ';
        out[o++] = s[i];
    }
    return out;
}

/* The second-factor page in its state: `mode` is "enrolled", "enrol", "retry", "stale" or "done". */
static int totp_page(struct http_req *req, int status, json_t *d, const char *mode)
{
    json_object_set_new(d, mode, json_true());
    if (strcmp(mode, "enrol") == 0 || strcmp(mode, "retry") == 0) json_object_set_new(d, "show_form", json_true());
    /* an administrator or finance user is sent here until they enrol: say why */
    if (req->second_factor_missing && strcmp(mode, "done") != 0) json_object_set_new(d, "required", json_true());
    return page_render(req, status, "account/totp", d);
}

/* GET /account/totp: the status when a second factor is in force; otherwise a new secret (which
 * replaces any pending one) as a QR code and as text, and the form for the app's first code. */
int page_account_totp(struct http_req *req)
{
    struct user u;
    int rc = account_me(req, &u);
    if (rc) return rc;
    json_t *d = page_data(req, "account.totp.title", "account");
    if (u.totp_enabled) return totp_page(req, 200, d, "enrolled");
    struct buf uri, svg;
    buf_init(&uri, 4096);
    buf_init(&svg, TOTP_QR_SVG_MAX);
    rc = user_totp_begin(&req->ctx, &uri, &svg, &req->err);
    if (rc == 0) {
        json_object_set_new(d, "qr", render_trusted(svg.data)); /* kefu's own QR encoder made it */
        json_object_set_new(d, "secret", json_string(totp_secret_text(req, uri.data)));
    }
    if (uri.data) sodium_memzero(uri.data, uri.len);
    buf_free(&uri);
    buf_free(&svg);
    if (rc == KF_E_CONFLICT) return totp_page(req, 200, d, "enrolled"); /* enrolled meanwhile */
    if (rc) {
        json_decref(d);
        return rc;
    }
    return totp_page(req, 200, d, "enrol");
}

/* POST /account/totp (code): puts the second factor in force and shows the recovery codes once
 * (200, never cached: the server's default). A wrong code asks again; with nothing pending (already
 * enrolled, or a submission twice) the status, 409. */
int page_account_totp_submit(struct http_req *req)
{
    json_t *d = page_data(req, "account.totp.title", "account");
    const char *code = NULL;
    int rc = http_json_string(req, "code", false, TOTP_CODE_MAX, &code);
    if (rc == 0 && (!code || !*code)) rc = kf_fail(&req->err, KF_E_INVALID, "code", "required");
    char recovery[RECOVERY_CODE_COUNT][RECOVERY_CODE_TEXT];
    if (rc == 0) rc = user_totp_confirm(&req->ctx, code, recovery, &req->err);
    if (rc == KF_E_INVALID || rc == KF_E_UNAUTHENTICATED) {
        bool empty = !code || !*code;
        return totp_page(req, account_field_error(req, d, "code", empty ? "account.required" : "account.totp.wrong_code"), d,
                         "retry");
    }
    if (rc == KF_E_CONFLICT) {
        struct user u;
        bool enrolled = account_me(req, &u) == 0 && u.totp_enabled;
        return totp_page(req, 409, d, enrolled ? "enrolled" : "stale");
    }
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_t *codes = json_array();
    for (int i = 0; i < RECOVERY_CODE_COUNT; i++) json_array_append_new(codes, json_string(recovery[i]));
    sodium_memzero(recovery, sizeof recovery);
    json_object_set_new(d, "recovery_codes", codes);
    return totp_page(req, 200, d, "done");
}
