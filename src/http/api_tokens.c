/* API tokens for integrations (issue 3): a logged-in person makes tokens for their own use, scoped to
 * some of their roles and expiring; the `kf_…` value is in the creation reply only (it is stored
 * hashed). Listing shows names, scopes and dates, never values. Tokens cannot make tokens: a leaked
 * token must not be able to outlive its own revocation. */
#include <sodium.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/ids.h"
#include "domain/api_token.h"
#include "domain/notify.h"
#include "domain/policy.h"
#include "domain/user.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "store/store.h"

#define TOKEN_DAYS_DEFAULT 90
#define DAY_MS (24LL * 60 * 60 * 1000)

/* The caller may manage their own tokens (ACT_TOKEN_MANAGE, owner only). */
static int tokens_allowed(struct http_req *req)
{
    struct object_ref own = {.client_id = req->actor.client_id, .owner_id = req->actor.user_id};
    int rc = policy_check(&req->actor, ACT_TOKEN_MANAGE, &own);
    return rc ? kf_fail(&req->err, rc, NULL, "not allowed") : 0;
}

static json_t *token_json(const struct api_token_info *t)
{
    return json_pack("{s:o,s:s,s:o,s:I,s:I,s:o,s:o}", "id", http_json_id(t->id), "name", t->name, "roles",
                     api_roles_json(t->roles), "created", (json_int_t)t->created, "expires", (json_int_t)t->expires,
                     "revoked", t->revoked ? json_integer(t->revoked) : json_null(), "last_used",
                     t->last_used ? json_integer(t->last_used) : json_null());
}

static int token_list_one(void *arg, const struct api_token_info *t)
{
    return json_array_append_new(arg, token_json(t)) == 0 ? 0 : KF_E_NOMEM;
}

int api_token_list_mine(struct http_req *req)
{
    int rc = tokens_allowed(req);
    if (rc) return rc;
    json_t *arr = json_array();
    if ((rc = api_token_list(req->ctx.env->store, req->actor.user_id, token_list_one, arr, &req->err)) != 0) {
        json_decref(arr);
        return rc;
    }
    return http_reply_json(req, 200, api_page_json(arr, 0));
}

struct token_create {
    struct http_req *req;
    struct api_token_new n;
    char token[TOKEN_TEXT_MAX];
    int64_t id;
};

static int token_create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct token_create *t = arg;
    int rc = api_token_create(c, &t->req->ctx, &t->n, t->token, &t->id, err);
    if (rc) return rc;
    /* a token made in someone's name is news to them if they did not make it */
    json_t *params = json_pack("{s:o}", "token_id", http_json_id(t->id));
    rc = notify_enqueue(c, &t->req->ctx, t->n.client_id, t->n.user_id, "notify.token_created", params,
                        "/account", NULL, err);
    json_decref(params);
    return rc;
}

/* POST /api/v1/auth/tokens {"name", "roles", "expires_in_days" (1..366, default 90)}. */
int api_token_create_mine(struct http_req *req)
{
    int rc = tokens_allowed(req);
    if (rc) return rc;
    if (!req->via_session) return kf_fail(&req->err, KF_E_FORBIDDEN, NULL, "tokens are made from a logged-in session");
    struct token_create *t = arena_zalloc(req->arena, sizeof *t);
    t->req = req;
    int64_t days = TOKEN_DAYS_DEFAULT;
    if ((rc = http_json_string(req, "name", true, API_TOKEN_NAME_MAX * 4, &t->n.name)) != 0) return rc;
    if ((rc = api_body_roles(req, &t->n.roles)) != 0) return rc;
    if ((rc = http_json_int64(req, "expires_in_days", false, 1, API_TOKEN_LIFETIME_MAX_MS / DAY_MS, &days, NULL)) != 0)
        return rc;
    /* the owner's roles now, not the session's copy: a role just taken away is gone */
    struct user u;
    struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx sys = req->ctx;
    sys.actor = &system;
    if ((rc = user_get(&sys, req->actor.client_id, req->actor.user_id, &u, &req->err)) != 0) return rc;
    t->n.user_id = u.id;
    t->n.client_id = u.client_id;
    t->n.owner_roles = u.roles;
    t->n.expires = clock_now_ms(req->ctx.env->clock) + days * DAY_MS;
    if ((rc = store_write(req->ctx.env->store, token_create_fn, t, &req->err)) != 0) return rc;
    notify_published(&req->ctx, t->n.client_id, t->n.user_id);
    json_t *body = json_pack("{s:o,s:s,s:s,s:o,s:I}", "id", http_json_id(t->id), "name", t->n.name, "token", t->token,
                             "roles", api_roles_json(t->n.roles), "expires", (json_int_t)t->n.expires);
    sodium_memzero(t->token, sizeof t->token);
    return http_reply_json(req, 201, body);
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

/* POST /api/v1/auth/tokens/{id}/revoke: idempotent; another user's token is not found. A token may
 * revoke itself (an integration retiring its own credential). */
int api_token_revoke_mine(struct http_req *req)
{
    int rc = tokens_allowed(req);
    if (rc) return rc;
    struct token_revoke r = {req, 0};
    if ((rc = api_path_id(req, "id", "token", &r.id)) != 0) return rc;
    if ((rc = store_write(req->ctx.env->store, token_revoke_fn, &r, &req->err)) != 0) return rc;
    return http_reply_static(req, 204, NULL, "", 0);
}
