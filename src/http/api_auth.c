/* Logging in and out (issue 3): a password login throttled per account and per address, a fresh
 * session and its HttpOnly cookie, the anti-forgery token the pages and scripts send back, and who
 * the caller is. Every attempt, good or bad, leaves an audit record. */
#include <sodium.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/lookalike.h"
#include "domain/session.h"
#include "domain/throttle.h"
#include "domain/policy.h"
#include "domain/user.h"
#include "domain/user_totp.h"
#include "http/auth.h"
#include "http/handlers.h"
#include "http/request.h"
#include "store/store.h"

#define LOGIN_NAME_MAX 256
#define LOGIN_PASSWORD_MAX 1024

static json_t *user_json(const struct user *u, const char *csrf)
{
    /* tells the client to enrol before anything else will answer (auth.c) */
    bool second_factor_required = (u->roles & AUTH_ROLES_NEEDING_2FA) && !u->totp_enabled;
    json_t *roles = json_array();
    for (unsigned bit = 1; bit; bit <<= 1) {
        if ((u->roles & bit) && role_name(bit)) json_array_append_new(roles, json_string(role_name(bit)));
    }
    return json_pack("{s:o,s:s,s:s,s:o,s:o,s:s,s:s?,s:b,s:b}", "id", http_json_id(u->id), "username", u->username,
                     "display_name", u->display_name ? u->display_name : u->username, "client_id",
                     http_json_id(u->client_id), "roles", roles, "language", u->language ? u->language : "zh-CN",
                     "csrf_token", csrf, "totp_enabled", u->totp_enabled, "second_factor_required",
                     second_factor_required);
}

struct login {
    struct http_req *req;
    struct throttle_login keys;
    char account_key[THROTTLE_KEY_MAX];
    char address_key[THROTTLE_KEY_MAX];
    int64_t retry_after_ms;
    const char *failure;          /* NULL: the password was right */
    struct user user;
    char token[TOKEN_TEXT_MAX];
    int64_t session_id;
};

static int login_keys(struct login *l, const char *username, struct kf_err *err)
{
    struct buf skel;
    buf_init(&skel, 1024);
    int rc = lookalike_skeleton(username, &skel, err);
    /* a name that has no skeleton still counts against the address, and against itself */
    if (rc == 0) rc = throttle_key_account(skel.data ? skel.data : username, l->account_key, err);
    else rc = throttle_key_account(username, l->account_key, err);
    buf_free(&skel);
    if (rc == 0) rc = throttle_key_address(l->req->client_addr, l->address_key, err);
    l->keys.account_key = l->account_key;
    l->keys.address_key = l->address_key;
    return rc;
}

static int login_check_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct login *l = arg;
    return throttle_login_check(c, &l->req->ctx, &l->keys, &l->retry_after_ms, err);
}

static int login_failed_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct login *l = arg;
    return throttle_login_failed(c, &l->req->ctx, &l->keys, l->failure, &l->retry_after_ms, err);
}

static int login_open_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct login *l = arg;
    struct http_req *req = l->req;
    int rc = throttle_success(c, l->account_key, err);
    if (rc == 0 && req->via_session) rc = session_end(c, &req->ctx, req->session_token, NULL, err);
    if (rc == 0)
        rc = session_create(c, &req->ctx, NULL, l->user.id, l->user.client_id, req->client_addr,
                            http_header(req, "User-Agent"), l->token, &l->session_id, err);
    return rc;
}

/* Replies 200 with the user and the anti-forgery token of the session just opened with `token`
 * (which is wiped), setting its cookie. */
static int reply_new_session(struct http_req *req, const struct user *u, char token[TOKEN_TEXT_MAX])
{
    struct session_info si;
    struct kf_err serr;
    char csrf[TOKEN_TEXT_MAX] = "";
    if (session_resolve(req->ctx.env->store, req->ctx.env->clock, NULL, token, &si, &serr) == 0)
        session_csrf_token(&si, csrf);
    http_reply_header(req, "Set-Cookie", http_auth_cookie(req, token));
    sodium_memzero(token, TOKEN_TEXT_MAX);
    json_t *body = json_pack("{s:o}", "user", user_json(u, arena_strdup(req->arena, csrf)));
    sodium_memzero(csrf, sizeof csrf);
    return http_reply_json(req, 200, body);
}

static int logout_fn(struct store_conn *c, void *arg, struct kf_err *err);

int http_login(struct http_req *req, struct user *user_r, char token_r[TOKEN_TEXT_MAX])
{
    const char *username, *password;
    int rc;
    if ((rc = http_json_string(req, "username", true, LOGIN_NAME_MAX, &username)) != 0) return rc;
    if ((rc = http_json_string(req, "password", true, LOGIN_PASSWORD_MAX, &password)) != 0) return rc;
    struct login *l = arena_zalloc(req->arena, sizeof *l);
    l->req = req;
    if ((rc = login_keys(l, username, &req->err)) != 0) return rc;
    struct store *st = req->ctx.env->store;
    if ((rc = store_write(st, login_check_fn, l, &req->err)) != 0) return rc;
    if (l->retry_after_ms > 0) {
        throttle_refuse(&req->err, l->retry_after_ms);
        http_reply_header(req, "Retry-After", arena_printf(req->arena, "%lld", (long long)(l->retry_after_ms + 999) / 1000));
        return KF_E_RATE_LIMITED;
    }
    struct kf_err verr;
    kf_err_clear(&verr);
    rc = user_verify_login(&req->ctx, username, password, &l->user, &verr);
    if (rc == KF_E_UNAUTHENTICATED) {
        l->failure = "bad_credentials";
        if ((rc = store_write(st, login_failed_fn, l, &req->err)) != 0) return rc;
        return kf_fail(&req->err, KF_E_UNAUTHENTICATED, "password", "wrong user name or password");
    }
    if (rc) return kf_fail(&req->err, rc, NULL, "%s", verr.detail);
    if (l->user.totp_enabled) {
        /* the second factor: a missing code is asked for; a wrong or replayed one counts as a failure */
        const char *code = NULL;
        if ((rc = http_json_string(req, "totp_code", false, 32, &code)) != 0) return rc;
        if (!code || !*code)
            return kf_fail(&req->err, KF_E_UNAUTHENTICATED, "totp_code", "the second factor's code is required");
        struct kf_err terr;
        kf_err_clear(&terr);
        if (user_totp_check(&req->ctx, l->user.client_id, l->user.id, code, &terr) != 0) {
            l->failure = "bad_totp";
            if ((rc = store_write(st, login_failed_fn, l, &req->err)) != 0) return rc;
            return kf_fail(&req->err, KF_E_UNAUTHENTICATED, "totp_code", "wrong or used second-factor code");
        }
    }
    if ((rc = store_write(st, login_open_fn, l, &req->err)) != 0) return rc;
    *user_r = l->user;
    memcpy(token_r, l->token, TOKEN_TEXT_MAX);
    sodium_memzero(l->token, sizeof l->token);
    return 0;
}

int api_auth_login(struct http_req *req)
{
    struct user u;
    char token[TOKEN_TEXT_MAX];
    int rc = http_login(req, &u, token);
    return rc ? rc : reply_new_session(req, &u, token);
}

int http_logout(struct http_req *req)
{
    if (req->via_session) {
        int rc = store_write(req->ctx.env->store, logout_fn, req, &req->err);
        if (rc) return rc;
    }
    http_reply_header(req, "Set-Cookie", http_auth_cookie(req, NULL));
    return 0;
}

static int logout_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct http_req *req = arg;
    return session_end(c, &req->ctx, req->session_token, NULL, err);
}

int api_auth_logout(struct http_req *req)
{
    int rc = http_logout(req);
    return rc ? rc : http_reply_static(req, 204, NULL, "", 0);
}

int api_auth_me(struct http_req *req)
{
    struct user u;
    struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx ctx = req->ctx;
    ctx.actor = &system;
    int rc = user_get(&ctx, req->actor.client_id, req->actor.user_id, &u, &req->err);
    if (rc) return rc;
    char csrf[TOKEN_TEXT_MAX] = "";
    if (req->via_session) session_csrf_token(&req->session, csrf);
    return http_reply_json(req, 200, json_pack("{s:o}", "user", user_json(&u, req->via_session ? csrf : NULL)));
}

int api_auth_totp_begin(struct http_req *req)
{
    struct buf uri, svg;
    buf_init(&uri, 4096);
    buf_init(&svg, 1 << 20);
    int rc = user_totp_begin(&req->ctx, &uri, &svg, &req->err);
    if (rc == 0)
        http_reply_json(req, 200, json_pack("{s:s,s:s}", "otpauth_uri", uri.data, "qr_svg", svg.data));
    sodium_memzero(uri.data ? uri.data : (char *)"", uri.len);
    buf_free(&uri);
    buf_free(&svg);
    return rc;
}

int api_auth_totp_confirm(struct http_req *req)
{
    const char *code;
    char recovery[RECOVERY_CODE_COUNT][RECOVERY_CODE_TEXT];
    int rc = http_json_string(req, "code", true, 32, &code);
    if (rc == 0) rc = user_totp_confirm(&req->ctx, code, recovery, &req->err);
    if (rc) return rc;
    json_t *codes = json_array();
    for (int i = 0; i < RECOVERY_CODE_COUNT; i++) json_array_append_new(codes, json_string(recovery[i]));
    sodium_memzero(recovery, sizeof recovery);
    return http_reply_json(req, 200, json_pack("{s:o}", "recovery_codes", codes));
}

struct password_change {
    struct http_req *req;
    struct user user;
    char token[TOKEN_TEXT_MAX];
    int64_t session_id;
};

static int password_session_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct password_change *p = arg;
    struct http_req *req = p->req;
    return session_create(c, &req->ctx, NULL, p->user.id, p->user.client_id, req->client_addr,
                          http_header(req, "User-Agent"), p->token, &p->session_id, err);
}

int http_change_password(struct http_req *req, const char *current, const char *new_password, struct user *user_r,
                         char token_r[TOKEN_TEXT_MAX])
{
    int rc;
    if (!req->via_session)
        return kf_fail(&req->err, KF_E_FORBIDDEN, NULL, "a password is changed from a logged-in session");
    if ((rc = user_change_password(&req->ctx, current, new_password, &req->err)) != 0) {
        /* the domain names the new password "password"; here it is the field `new_password` */
        if (rc == KF_E_INVALID && req->err.field && strcmp(req->err.field, "password") == 0)
            req->err.field = "new_password";
        return rc;
    }
    struct password_change *p = arena_zalloc(req->arena, sizeof *p);
    p->req = req;
    struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx ctx = req->ctx;
    ctx.actor = &system;
    if ((rc = user_get(&ctx, req->actor.client_id, req->actor.user_id, &p->user, &req->err)) != 0) return rc;
    if ((rc = store_write(req->ctx.env->store, password_session_fn, p, &req->err)) != 0) return rc;
    *user_r = p->user;
    memcpy(token_r, p->token, TOKEN_TEXT_MAX);
    sodium_memzero(p->token, sizeof p->token);
    return 0;
}

/* POST /api/v1/auth/password {"current_password", "new_password"}: the logged-in person changes
 * their own password. Every session of theirs ends (whoever knew the old password is out); this
 * browser gets a fresh session at once, so the person who changed it stays logged in. Only a
 * session may do this: an API token never changes its owner's password. */
int api_auth_password(struct http_req *req)
{
    const char *current, *next;
    int rc;
    if (!req->via_session)
        return kf_fail(&req->err, KF_E_FORBIDDEN, NULL, "a password is changed from a logged-in session");
    if ((rc = http_json_string(req, "current_password", true, LOGIN_PASSWORD_MAX, &current)) != 0) return rc;
    if ((rc = http_json_string(req, "new_password", true, LOGIN_PASSWORD_MAX, &next)) != 0) return rc;
    struct user u;
    char token[TOKEN_TEXT_MAX];
    if ((rc = http_change_password(req, current, next, &u, token)) != 0) return rc;
    return reply_new_session(req, &u, token);
}
