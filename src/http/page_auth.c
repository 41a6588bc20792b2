/* Logging in and out through pages (issue 4): the form, the second factor, where to go after, and
 * leaving. The checks are http_login's, the same as the JSON API's. */
#include <sodium.h>
#include <string.h>

#include "core/arena.h"
#include "domain/session.h"
#include "domain/user.h"
#include "http/auth.h"
#include "http/handlers.h"
#include "http/page.h"

static const char *login_next(struct http_req *req)
{
    const char *next = http_query(req, "next");
    if (!next && req->json) next = json_string_value(json_object_get(req->json, "next"));
    return page_local_path(next) ? next : "/";
}

static int login_form(struct http_req *req, int status, const char *message_key)
{
    json_t *d = page_data(req, "login.title", NULL);
    json_object_set_new(d, "next", json_string(login_next(req)));
    if (message_key) {
        const char *field = req->err.field ? req->err.field : "password";
        json_object_set_new(d, "error", json_pack("{s:s}", "message", page_text(req, message_key)));
        json_object_set_new(d, "errors", json_pack("{s:s}", field, page_text(req, message_key)));
    }
    if (http_query(req, "bye")) json_object_set_new(d, "bye", json_true());
    const char *keep[] = {"username", NULL};
    page_keep_form(req, d, keep);
    return page_render(req, status, "login", d);
}

/* GET /login: the form; a logged-in person goes straight on. */
int page_login(struct http_req *req)
{
    if (req->actor.kind == ACTOR_USER) return page_redirect(req, login_next(req));
    return login_form(req, 200, NULL);
}

/* POST /login: on success the session cookie and on to `next` (or the second-factor enrolment an
 * administrator or finance user still owes); on failure the form again, the user name kept. */
int page_login_submit(struct http_req *req)
{
    struct user u;
    char token[TOKEN_TEXT_MAX];
    int rc = http_login(req, &u, token);
    if (rc == KF_E_RATE_LIMITED) return login_form(req, 429, "login.throttled");
    if (rc == KF_E_UNAUTHENTICATED || rc == KF_E_INVALID) {
        const char *field = req->err.field;
        bool totp = field && strcmp(field, "totp_code") == 0;
        bool code_given = req->json && json_string_value(json_object_get(req->json, "totp_code")) &&
                          *json_string_value(json_object_get(req->json, "totp_code"));
        if (!field || (strcmp(field, "username") != 0 && !totp)) req->err.field = "password";
        return login_form(req, rc == KF_E_INVALID ? 422 : 401,
                          totp ? (code_given ? "login.totp_wrong" : "login.totp_needed") : "login.failed");
    }
    if (rc) return rc;
    http_reply_header(req, "Set-Cookie", http_auth_cookie(req, token));
    sodium_memzero(token, sizeof token);
    bool must_enrol = (u.roles & AUTH_ROLES_NEEDING_2FA) && !u.totp_enabled;
    return page_redirect(req, must_enrol ? "/account/totp" : login_next(req));
}

/* POST /logout: the session ends; back to the log-in page, which says so. */
int page_logout(struct http_req *req)
{
    int rc = http_logout(req);
    return rc ? rc : page_redirect(req, "/login?bye=1");
}
