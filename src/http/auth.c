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
static const char *cookie_value(struct http_req *req, const char *name)
{
    const char *h = http_header(req, "Cookie");
    size_t nlen = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';') h++;
        size_t len = strcspn(h, ";");
        if (len > nlen && h[nlen] == '=' && strncmp(h, name, nlen) == 0)
            return arena_strndup(req->arena, h + nlen + 1, len - nlen - 1);
        h += len;
    }
    return NULL;
}

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

/* Reads the user behind a credential as kefu itself (the credential already proved who it is). */
static int actor_user(struct http_req *req, int64_t client_id, int64_t user_id, struct user *u)
{
    struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx ctx = req->ctx;
    ctx.actor = &system;
    struct kf_err err;
    int rc = user_get(&ctx, client_id, user_id, u, &err);
    /* a disabled user, or a user of a disabled organisation, is logged out on their next request */
    return rc == 0 && !u->disabled && !u->org_disabled ? 0 : KF_E_UNAUTHENTICATED;
}

static int resolve_session(struct http_req *req, const char *token)
{
    struct kf_err err;
    const struct kf_env *env = req->ctx.env;
    if (session_resolve(env->store, env->clock, NULL, token, &req->session, &err) != 0) return KF_E_UNAUTHENTICATED;
    struct user u;
    if (actor_user(req, req->session.client_id, req->session.user_id, &u) != 0) return KF_E_UNAUTHENTICATED;
    req->actor = (struct actor){.kind = ACTOR_USER, .user_id = u.id, .org_id = u.org_id, .client_id = u.client_id,
                                .roles = u.roles, .session_id = req->session.id};
    req->via_session = true;
    req->session_token = token;
    req->second_factor_missing = (u.roles & AUTH_ROLES_NEEDING_2FA) && !u.totp_enabled;
    return 0;
}

static int resolve_bearer(struct http_req *req, const char *token)
{
    struct kf_err err;
    const struct kf_env *env = req->ctx.env;
    struct api_token_info ti;
    if (api_token_resolve(env->store, env->clock, token, &ti, &err) != 0) return KF_E_UNAUTHENTICATED;
    struct user u;
    if (actor_user(req, ti.client_id, ti.user_id, &u) != 0) return KF_E_UNAUTHENTICATED;
    unsigned roles = ti.roles & u.roles;
    if (!roles) return KF_E_UNAUTHENTICATED;
    req->actor = (struct actor){.kind = ACTOR_TOKEN, .user_id = u.id, .org_id = u.org_id, .client_id = u.client_id,
                                .roles = roles, .token_id = ti.id};
    return 0;
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
    const char *cookie = cookie_value(req, AUTH_COOKIE_SECURE);
    if (!cookie) cookie = cookie_value(req, AUTH_COOKIE);
    if (cookie && resolve_session(req, cookie) == 0 && http_method_changes_state(req->method)) {
        const char *csrf = http_header(req, AUTH_CSRF_HEADER);
        if (!csrf || !session_csrf_check(&req->session, csrf))
            return kf_fail(&req->err, KF_E_FORBIDDEN, NULL, "missing or wrong anti-forgery token (X-CSRF-Token)");
    }
    if (req->route->permission && req->actor.kind == ACTOR_ANONYMOUS)
        return kf_fail(&req->err, KF_E_UNAUTHENTICATED, NULL, NULL);
    /* admin and finance act only with a second factor: until they enrol, their session reaches the
     * /api/v1/auth/ routes (me, the enrolment, logout) and nothing else */
    if (req->second_factor_missing && strncmp(req->route->pattern, "/api/v1/auth/", 13) != 0)
        return kf_fail(&req->err, KF_E_FORBIDDEN, "totp_code",
                       "enrol a second factor first (POST /api/v1/auth/totp/begin, then confirm)");
    return 0;
}
