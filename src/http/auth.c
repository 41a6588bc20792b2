/* The actor of a request: session cookie (people, in browsers) or Bearer API token (integrations).
 * A credential that does not resolve leaves the request anonymous; the route decides whether that
 * is enough. Roles are read from the user at every request, so a role change or a disable takes
 * effect at once; an API token acts with the roles it was given that its owner still holds. */
#include "http/auth.h"

#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/clock.h"
#include "domain/api_token.h"
#include "domain/user.h"

/* The value of cookie `name` in the Cookie header, from the arena, or NULL. */

bool http_auth_over_tls(const struct http_req *req)
{
    const char *proto = req->via_trusted_proxy ? http_header(req, "X-Forwarded-Proto") : NULL;
    return proto && strcasecmp(proto, "https") == 0;
}

const char *http_auth_cookie(struct http_req *req, const char *token)
{
    bool tls = http_auth_over_tls(req);
    return arena_printf(req->arena, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s%s", tls ? AUTH_COOKIE_SECURE : AUTH_COOKIE,
                        token ? token : "", tls ? "; Secure" : "", token ? "" : "; Max-Age=0");
}

/* A disabled user, or a user of a disabled organisation, is logged out on their next request. */
static bool actor_user_live(const struct user *u)
{
    return !u->disabled && !u->org_disabled;
}

/* What pages show of the actor and how: their name, language and time zone. */
static void auth_keep_user(struct http_req *req, const struct user *u)
{
    req->user_name = arena_strdup(req->arena, u->display_name && *u->display_name ? u->display_name : u->username);
    req->user_language = u->language && *u->language ? arena_strdup(req->arena, u->language) : NULL;
    req->user_zone = u->time_zone && *u->time_zone ? arena_strdup(req->arena, u->time_zone) : NULL;
}

static int resolve_session(struct http_req *req, const char *token)
{
    struct kf_err err;
    struct user u;
    if (session_resolve_user(&req->ctx, token, &req->session, &u, &err) != 0 || !actor_user_live(&u))
        return KF_E_UNAUTHENTICATED;
    req->actor = (struct actor){.kind = ACTOR_USER, .user_id = u.id, .org_id = u.org_id, .client_id = u.client_id,
                                .roles = u.roles, .session_id = req->session.id};
    auth_keep_user(req, &u);
    req->via_session = true;
    req->session_token = token;
    req->second_factor_missing = (u.roles & AUTH_ROLES_NEEDING_2FA) && !u.totp_enabled;
    return 0;
}

static int resolve_bearer(struct http_req *req, const char *token)
{
    struct kf_err err;
    struct api_token_info ti;
    struct user u;
    if (api_token_resolve_user(&req->ctx, token, &ti, &u, &err) != 0 || !actor_user_live(&u))
        return KF_E_UNAUTHENTICATED;
    unsigned roles = ti.roles & u.roles;
    if (!roles) return KF_E_UNAUTHENTICATED;
    req->actor = (struct actor){.kind = ACTOR_TOKEN, .user_id = u.id, .org_id = u.org_id, .client_id = u.client_id,
                                .roles = roles, .token_id = ti.id};
    auth_keep_user(req, &u);
    return 0;
}

/* What an administrator or finance user without a second factor may reach: enough to enrol one. */
static bool auth_open_without_second_factor(const char *pattern)
{
    static const char *const open[] = {"/api/v1/auth/", "/account/totp", "/logout", "/static/", "/login", NULL};
    for (const char *const *p = open; *p; p++) {
        if (strncmp(pattern, *p, strlen(*p)) == 0) return true;
    }
    return false;
}

int http_auth_resolve(struct http_req *req)
{
    req->actor = (struct actor){.kind = ACTOR_ANONYMOUS};
    const char *authz = http_header(req, "Authorization");
    if (authz) {
        /* a presented token must be good: an integration should hear that its token failed */
        if (strncasecmp(authz, "Bearer ", 7) != 0 || resolve_bearer(req, authz + 7) != 0)
            return kf_fail(&req->err, KF_E_UNAUTHENTICATED, NULL, "the API token is not valid");
        return 0;
    }
    const char *cookie = http_cookie(req, AUTH_COOKIE_SECURE);
    if (!cookie) cookie = http_cookie(req, AUTH_COOKIE);
    if (cookie && resolve_session(req, cookie) == 0 && http_method_changes_state(req->method)) {
        const char *csrf = http_header(req, AUTH_CSRF_HEADER);
        /* a page's form carries the token as the hidden field `csrf` */
        if (!csrf && (req->route->flags & ROUTE_FORM_BODY) && req->json)
            csrf = json_string_value(json_object_get(req->json, AUTH_CSRF_FIELD));
        if (!csrf || !session_csrf_check(&req->session, csrf))
            return kf_fail(&req->err, KF_E_FORBIDDEN, NULL, "missing or wrong anti-forgery token (X-CSRF-Token)");
    }
    if (req->route->permission && req->actor.kind == ACTOR_ANONYMOUS)
        return kf_fail(&req->err, KF_E_UNAUTHENTICATED, NULL, NULL);
    /* admin and finance act only with a second factor: until they enrol, their session reaches the
     * /api/v1/auth/ routes (me, the enrolment, logout) and nothing else */
    if (req->second_factor_missing && !auth_open_without_second_factor(req->route->pattern))
        return kf_fail(&req->err, KF_E_FORBIDDEN, "totp_code",
                       "enrol a second factor first (POST /api/v1/auth/totp/begin, then confirm)");
    return 0;
}
