/* Who is asking: resolves the actor of a request from its session cookie or its API token, and
 * enforces what every route shares — a route with a permission needs a logged-in actor, and a
 * state-changing request authenticated by the cookie must carry the session's anti-forgery token. */
#ifndef KEFU_AUTH_H
#define KEFU_AUTH_H

#include "http/request.h"

#define AUTH_COOKIE "kefu_session"
#define AUTH_COOKIE_SECURE "__Host-kefu_session"
#define AUTH_CSRF_HEADER "X-CSRF-Token"
#define AUTH_CSRF_FIELD "csrf"       /* the same token as a hidden form field of a page */
/* Roles that must have a second factor in force before they act (issue 3). */
#define AUTH_ROLES_NEEDING_2FA (ROLE_ADMIN | ROLE_FINANCE)

/* Fills req->actor (anonymous when no valid credential came) and checks the route's needs:
 * KF_E_UNAUTHENTICATED when the route has a permission and nobody is logged in (or a Bearer token
 * is bad), KF_E_FORBIDDEN when a cookie-authenticated state-changing request lacks a valid
 * X-CSRF-Token. */
int http_auth_resolve(struct http_req *req);

/* Whether the client reached kefu over TLS (a trusted proxy said X-Forwarded-Proto: https):
 * the cookie then gets Secure and the __Host- prefix. */
bool http_auth_over_tls(const struct http_req *req);

/* The Set-Cookie value that stores `token` (NULL: one that clears the cookie). From the arena. */
const char *http_auth_cookie(struct http_req *req, const char *token);

struct user;

/* Logs in from the request's fields `username`, `password` and `totp_code` (a JSON body or a
 * form): throttled per account and address, every attempt audited. On success fills the user and
 * the new session's token (the caller sets the cookie and wipes the token). Errors: KF_E_INVALID,
 * KF_E_UNAUTHENTICATED (field "password" or "totp_code"), KF_E_RATE_LIMITED (Retry-After set). */
int http_login(struct http_req *req, struct user *user_r, char token_r[TOKEN_TEXT_MAX]);

/* The logged-in person changes their own password (user_change_password: every session of theirs
 * ends) and this browser gets a fresh session at once, so whoever changed it stays logged in. Only
 * a session may (KF_E_FORBIDDEN for an API token). On success fills the user and the new session's
 * token (the caller sets the cookie and wipes the token). Errors are user_change_password's, with
 * the new password's field named "new_password" (KF_E_INVALID "current_password" for a wrong one). */
int http_change_password(struct http_req *req, const char *current, const char *new_password, struct user *user_r,
                         char token_r[TOKEN_TEXT_MAX]);

/* Ends the request's session (if it came with one) and clears the cookie. */
int http_logout(struct http_req *req);

/* True for methods that change state (not GET, HEAD, OPTIONS). */
int http_method_changes_state(const char *method);

#endif
