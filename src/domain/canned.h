/* Canned replies per provider team (issue 6 item 1): a title and a Markdown body with variables that
 * are filled for one request when an agent answers with it. Kept, changed and deleted by the team's
 * members and by admins and supervisors (ACT_CANNED_READ / ACT_CANNED_MANAGE, then membership).
 * Variables: {{request_number}}, {{subject}}, {{agent_name}} (the replying user's display name) and
 * {{customer_name}} (the request's customer, read through customer.h — an audited disclosure; empty
 * when the request has none). {{due_at}} waits for the SLA clocks and is refused for now, like any
 * unknown variable. Results live in ctx->arena. docs/requests.md "Canned replies". */
#ifndef KEFU_CANNED_H
#define KEFU_CANNED_H
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

#define CANNED_TITLE_MAX 100               /* characters of a title */
#define CANNED_BODY_MAX (16u * 1024u)      /* bytes of a body */
#define CANNED_LIST_MAX 200                /* canned replies of one team */

struct canned_reply {
    int64_t id, team_id;
    const char *title, *body;
    int64_t created_by, created, updated;
};

/* A new canned reply of team `team_id`. KF_E_NOT_FOUND (field "team_id") for no such team;
 * KF_E_FORBIDDEN for an agent or technician who is not its member; KF_E_INVALID naming "title"
 * (1..CANNED_TITLE_MAX characters, one line) or "body" (1..CANNED_BODY_MAX bytes of UTF-8, only
 * known variables); KF_E_CONFLICT (field "title") when the team has that title (NFKC, case folded)
 * already — so a duplicate submission makes no second one. Audited "canned.create". */
int canned_create(struct kf_ctx *ctx, int64_t team_id, const char *title, const char *body, int64_t *id_r,
                  struct kf_err *err);

/* One canned reply (membership as for create); KF_E_NOT_FOUND when there is none. */
int canned_get(struct kf_ctx *ctx, int64_t id, struct canned_reply *out, struct kf_err *err);

/* The canned replies of a team by title, at most CANNED_LIST_MAX (membership as for create). */
int canned_list(struct kf_ctx *ctx, int64_t team_id, struct canned_reply **items_r, size_t *n_r, struct kf_err *err);

/* Changes the title and/or body (NULL: unchanged), checked as for create. Audited "canned.update". */
int canned_update(struct kf_ctx *ctx, int64_t id, const char *title, const char *body, struct kf_err *err);

/* Deletes a canned reply (replies sent with it keep their text). Audited "canned.delete". */
int canned_delete(struct kf_ctx *ctx, int64_t id, struct kf_err *err);

/* The body of canned reply `id` filled for request `request_id` of client `client_id`: the actor
 * must reach the canned reply (membership) and read the request (ACT_REQUEST_READ; another
 * client's request KF_E_NOT_FOUND). *text_r in ctx->arena. */
int canned_render(struct kf_ctx *ctx, int64_t id, int64_t client_id, int64_t request_id, const char **text_r,
                  struct kf_err *err);

/* KF_E_INVALID (field "body") when `body` holds a {{variable}} canned_render does not fill (pure). */
int canned_check_variables(const char *body, struct kf_err *err);

#endif
