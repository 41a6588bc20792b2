/* API tokens for integrations: `kf_…` tokens shown once at creation and stored only as their hash,
 * scoped to a subset of the owner's roles, expiring (at most a year), revocable. The HTTP layer
 * takes them from `Authorization: Bearer kf_…`. */
#ifndef KEFU_API_TOKEN_H
#define KEFU_API_TOKEN_H
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"
#include "domain/secret_token.h"

struct store;
struct store_conn;
struct kf_clock;

#define API_TOKEN_NAME_MAX 100                               /* characters of a token's name */
#define API_TOKEN_LIFETIME_MAX_MS (366LL * 24 * 60 * 60 * 1000) /* a year, leap day included */
#define API_TOKEN_TOUCH_MS (60LL * 1000)                     /* last_used written at most once a minute */
#define API_TOKEN_LIST_MAX 200                               /* tokens api_token_list returns at most */
#define ROLES_ALL (ROLES_PROVIDER | ROLES_CLIENT)

/* What a new token is for. owner_roles are the owner's roles now, read by the caller. */
struct api_token_new {
    int64_t user_id;
    int64_t client_id;       /* the owner's client; 0 for provider staff */
    unsigned owner_roles;
    const char *name;        /* 1..API_TOKEN_NAME_MAX characters of UTF-8, no control characters */
    unsigned roles;          /* the scope: non-empty, a subset of owner_roles */
    int64_t expires;         /* UTC ms: after now, at most API_TOKEN_LIFETIME_MAX_MS after it */
};

/* A token as stored (never its value). */
struct api_token_info {
    int64_t id;
    int64_t user_id;
    int64_t client_id;
    char name[API_TOKEN_NAME_MAX * 4 + 1];
    unsigned roles;
    int64_t created;
    int64_t expires;
    int64_t revoked;         /* 0 while valid */
    int64_t last_used;       /* 0 when never used */
};

/* Creates a token (inside the caller's write) and appends "api_token.create" (name, scope, expiry —
 * never the token). The `kf_…` token goes to token_r once; only its hash is stored. KF_E_FORBIDDEN
 * (field "roles") when the scope is not a subset of the owner's roles; KF_E_INVALID for a bad name,
 * an empty scope or a missing, past or too distant expiry. */
int api_token_create(struct store_conn *c, const struct kf_ctx *ctx, const struct api_token_new *n,
                     char token_r[TOKEN_TEXT_MAX], int64_t *id_r, struct kf_err *err);

/* Finds the valid token `token` (from the Authorization header). KF_E_UNAUTHENTICATED for a
 * malformed, unknown, revoked or expired token. Records last_used when the previous record is at
 * least API_TOKEN_TOUCH_MS old, in a small write of its own. The caller must intersect out->roles
 * with the owner's current roles and refuse a disabled owner: a token never grants more than its
 * owner holds now. */
int api_token_resolve(struct store *s, const struct kf_clock *clock, const char *token, struct api_token_info *out,
                      struct kf_err *err);

/* api_token_resolve, and the token's owner as it is now into *user_r (strings in ctx->arena), read
 * in the same statement; the caller's checks of the owner are the same. */
struct user;
int api_token_resolve_user(const struct kf_ctx *ctx, const char *token, struct api_token_info *out,
                           struct user *user_r, struct kf_err *err);

/* Revokes token `id` of `user_id` (inside the caller's write) and appends "api_token.revoke".
 * Idempotent: an already revoked token is not an error (*revoked_r false, nothing written).
 * KF_E_NOT_FOUND when `user_id` owns no token `id`. revoked_r may be NULL. */
int api_token_revoke(struct store_conn *c, const struct kf_ctx *ctx, int64_t user_id, int64_t id, bool *revoked_r,
                     struct kf_err *err);

/* Revokes every valid token of `user_id` (inside the caller's write: disabling the user), appending one
 * "api_token.revoke_all" record on `client_id`'s chain when any was revoked. *n_r may be NULL. */
int api_token_revoke_all_for_user(struct store_conn *c, const struct kf_ctx *ctx, int64_t user_id, int64_t client_id,
                                  int64_t *n_r, struct kf_err *err);

/* Return non-zero to stop; api_token_list then returns that value. */
typedef int (*api_token_list_fn)(void *arg, const struct api_token_info *t);

/* Lists the tokens of `user_id`, newest first, revoked and expired ones included (at most
 * API_TOKEN_LIST_MAX). Never the token values: they are not stored. */
int api_token_list(struct store *s, int64_t user_id, api_token_list_fn fn, void *arg, struct kf_err *err);

#endif
