/* Users and teams (issue 3): people who log in, each in one organisation, holding roles that fit
 * its kind (provider roles for provider users, client roles for client users). User names are unique
 * up to look-alikes (core/lookalike.h); passwords are argon2id (domain/password.h), hashed outside
 * the write transaction. Teams group provider users. Results live in ctx->arena. */
#ifndef KEFU_USER_H
#define KEFU_USER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

/* A user as read back: never the password hash or the TOTP secret. */
struct user {
    int64_t id;
    int64_t org_id;
    int64_t client_id;          /* 0 for provider users */
    const char *username;       /* as entered */
    const char *display_name;
    unsigned roles;             /* enum role bits */
    int64_t password_changed;
    bool totp_enabled;
    const char *language;
    const char *time_zone;
    bool disabled;
    bool org_disabled;          /* the user's organisation is disabled: no way in either */
    int64_t created;
    int64_t updated;
};

struct user_input {
    int64_t client_id;          /* 0: a provider user (of the provider organisation); else the client */
    const char *username;
    const char *display_name;   /* NULL or "": the user name */
    const char *password;
    unsigned roles;
    const char *language;       /* NULL: zh-CN */
    const char *time_zone;      /* NULL: none (the agreement's, then Asia/Shanghai) */
};

/* Creates a user. Needs ACT_USER_CREATE in the client's scope. KF_E_INVALID with field "username"
 * (username_check), "password" (password_check_strength), "roles" (empty, or not of the
 * organisation's kind); KF_E_CONFLICT field "username" when it looks like an existing name;
 * KF_E_NOT_FOUND when the organisation does not exist or is disabled. Audited "user.create". */
int user_create(struct kf_ctx *ctx, const struct user_input *in, int64_t *id_r, struct kf_err *err);

/* One user of client `client_id` (0: a provider user). Other tenants' users are KF_E_NOT_FOUND. */
int user_get(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, struct user *out, struct kf_err *err);

/* Users of client `client_id` (0: provider users), newest first, id < after_id (0: from the newest),
 * at most `limit` (1..500); *next_r is the next page's after_id, 0 on the last. */
int user_list(struct kf_ctx *ctx, int64_t client_id, int64_t after_id, int limit, struct user **items_r,
              size_t *n_r, int64_t *next_r, struct kf_err *err);

/* Disables a user (they can no longer log in). Needs ACT_USER_UPDATE. Audited "user.disable". */
int user_disable(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, struct kf_err *err);

/* Replaces a user's roles. Needs ACT_USER_UPDATE; the roles must fit the organisation's kind
 * (KF_E_INVALID "roles"); nobody may add a role to themselves (KF_E_FORBIDDEN "roles").
 * Audited "user.set_roles" with the old and new role bits. */
int user_set_roles(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, unsigned roles, struct kf_err *err);

/* The actor changes their own password: the current one must match (KF_E_INVALID field
 * "current_password"), the new one must be strong. Audited "user.change_password" (masked). */
int user_change_password(struct kf_ctx *ctx, const char *current, const char *new_password, struct kf_err *err);

/* The actor sets their own language ("zh-CN" or "en"; NULL: unchanged) and time zone (an IANA id,
 * "" for none; NULL: unchanged). KF_E_INVALID field "language" / "time_zone". Audited
 * "user.set_preferences". */
int user_set_preferences(struct kf_ctx *ctx, const char *language, const char *time_zone, struct kf_err *err);

/* Sets another user's password (an administrator's reset). Needs ACT_USER_UPDATE. Audited
 * "user.reset_password" (masked). */
int user_reset_password(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, const char *new_password,
                        struct kf_err *err);

/* The user whose name is `username` or a look-alike of it (the same skeleton), if the actor may
 * read them; KF_E_NOT_FOUND otherwise (another client's user included). For operators' commands. */
int user_find(struct kf_ctx *ctx, const char *username, struct user *out, struct kf_err *err);

/* Checks a user name and password for logging in. Returns 0 and the user, or KF_E_UNAUTHENTICATED
 * for an unknown name, a wrong password, a disabled user or a disabled organisation — alike, and an
 * unknown name costs the same argon2id verification (against a dummy hash) as a known one.
 * After a success with a hash made under older limits it stores a new hash (audited
 * "user.rehash_password"); otherwise it writes nothing: throttling and the audit of failures belong
 * to the session layer. */
int user_verify_login(struct kf_ctx *ctx, const char *username, const char *password, struct user *out,
                      struct kf_err *err);

/* --- teams (provider users only) --------------------------------------------------------------- */

/* Creates a team. Needs ACT_TEAM_MANAGE. Audited "team.create". */
int team_create(struct kf_ctx *ctx, const char *name, int64_t *id_r, struct kf_err *err);

/* Adds a provider user to a team (no-op when already a member). KF_E_INVALID field "user_id" for a
 * client user or an unknown user; KF_E_NOT_FOUND for an unknown team. Audited "team.add_member". */
int team_add_member(struct kf_ctx *ctx, int64_t team_id, int64_t user_id, struct kf_err *err);

/* Removes a member; KF_E_NOT_FOUND when they are not one. Audited "team.remove_member". */
int team_remove_member(struct kf_ctx *ctx, int64_t team_id, int64_t user_id, struct kf_err *err);

struct team {
    int64_t id;
    const char *name;
    int64_t member_count;
    int64_t created;
};

/* Every team, by name (at most 500: a provider has a handful). Needs ACT_TEAM_READ. */
int team_list(struct kf_ctx *ctx, struct team **items_r, size_t *n_r, struct kf_err *err);

/* The members' user ids, ascending (at most 500). Needs ACT_TEAM_READ; KF_E_NOT_FOUND for no such team. */
int team_members(struct kf_ctx *ctx, int64_t team_id, int64_t **ids_r, size_t *n_r, struct kf_err *err);

#endif
