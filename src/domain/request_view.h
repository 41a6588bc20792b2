/* Saved views of the agent queue (issue 7 item 2): a provider user's named filter set over the
 * requests (request.h's request_filter) and a sort, personal or shared with all provider staff;
 * and the live count of each. Personal views are their owner's alone — to anyone else they do not
 * exist (KF_E_NOT_FOUND, never KF_E_FORBIDDEN); shared views are read by every provider user with
 * ACT_REQUEST_VIEW_READ and changed by their owner or an admin. Results live in ctx->arena.
 * docs/requests.md "Queue and saved views". */
#ifndef KEFU_REQUEST_VIEW_H
#define KEFU_REQUEST_VIEW_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"
#include "domain/request.h"

#define REQUEST_VIEW_NAME_MAX 80          /* characters of a name */
#define REQUEST_VIEW_FILTERS_MAX 2048     /* bytes of the stored filters JSON */
#define REQUEST_VIEW_LIST_MAX 200         /* views one user sees (own and shared) */

/* A view's filters as parsed (pure): zero / NULL / "" mean "any".
 * JSON keys: "status" (a status or an array of statuses), "priority" ("P1".."P4"), "assignee" ("me",
 * "unassigned" or a user id), "team_id", "client_id" (ids as strings), "channel", "sla" (a state of
 * request_sla.h), "from", "to" (UTC ms, integers). */
struct request_view_filters {
    char status[128];             /* comma-separated */
    int priority;
    bool assignee_me, unassigned;
    int64_t assignee_id, team_id, client_id;
    const char *channel, *sla;    /* point into the parsed JSON */
    int64_t from, to;
};

struct request_view {
    int64_t id, owner_id;
    bool shared;
    const char *name;
    const char *filters;          /* the stored JSON object, compact with sorted keys */
    const char *sort;             /* "newest", "oldest", "sla_due" */
    int64_t created, updated;
};

/* Parses and checks a filters object (pure; `filters` NULL is no filter). KF_E_INVALID naming the
 * field as "filters.<key>" for a wrong type or an unknown value, "filters" for an unknown key or a
 * non-object. The strings of *out point into `filters`. */
int request_view_parse_filters(const json_t *filters, struct request_view_filters *out, struct kf_err *err);

/* The request_filter of parsed filters and a sort ("newest", "oldest", "sla_due"; NULL: newest) for
 * user `me` (the "me" assignee). KF_E_INVALID (field "sort") for another sort. */
int request_view_to_filter(const struct request_view_filters *vf, const char *sort, int64_t me,
                           struct request_filter *out, struct kf_err *err);

/* What request_view_create takes; for request_view_update NULL leaves a field unchanged (`shared`
 * then needs has_shared). */
struct request_view_input {
    const char *name;             /* 1..REQUEST_VIEW_NAME_MAX characters, one line */
    bool shared, has_shared;
    const json_t *filters;        /* an object; NULL: none (create) / unchanged (update) */
    const char *sort;             /* NULL: "newest" (create) / unchanged (update) */
};

/* Saves a view of the actor (ACT_REQUEST_VIEW_MANAGE). KF_E_INVALID naming "name", "sort" or the
 * filter; KF_E_CONFLICT (field "name") when the actor has a view of that name already — so a
 * duplicate submission makes no second one. Audited "request_view.create" (provider chain). */
int request_view_create(struct kf_ctx *ctx, const struct request_view_input *in, int64_t *id_r, struct kf_err *err);

/* One view the actor may see (own, or shared) (ACT_REQUEST_VIEW_READ); else KF_E_NOT_FOUND. */
int request_view_get(struct kf_ctx *ctx, int64_t id, struct request_view *out, struct kf_err *err);

/* The views the actor sees: their own, then the others' shared ones, each by name; at most
 * REQUEST_VIEW_LIST_MAX (ACT_REQUEST_VIEW_READ). */
int request_view_list(struct kf_ctx *ctx, struct request_view **items_r, size_t *n_r, struct kf_err *err);

/* Changes a view (ACT_REQUEST_VIEW_MANAGE): the owner's own, or a shared one by an admin
 * (KF_E_FORBIDDEN for other staff; another user's personal view KF_E_NOT_FOUND). Checks as for
 * create. Audited "request_view.update". */
int request_view_update(struct kf_ctx *ctx, int64_t id, const struct request_view_input *in, struct kf_err *err);

/* Deletes a view (as for update). Audited "request_view.delete". */
int request_view_delete(struct kf_ctx *ctx, int64_t id, struct kf_err *err);

/* The request_filter of view `v` for the actor. */
int request_view_filter(struct kf_ctx *ctx, const struct request_view *v, struct request_filter *out,
                        struct kf_err *err);

/* The live count of each view the actor sees (request_view_list's order): counts[i] of items[i],
 * each request_count of its filters (capped at REQUEST_COUNT_MAX; capped[i] says so). Needs
 * ACT_REQUEST_READ across clients too. */
int request_view_counts(struct kf_ctx *ctx, struct request_view **items_r, int64_t **counts_r, bool **capped_r,
                        size_t *n_r, struct kf_err *err);

#endif
