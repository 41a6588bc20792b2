/* Notifications (issue 4, "Shared facilities"): what kefu tells a person — a password changed, later
 * an SLA warning or a rejected resolution. A producer calls notify_enqueue inside its own write
 * transaction; the outbox row it writes is delivered in-app at once (the bell) and stays for later
 * channels to drain. After its commit the producer calls notify_published so open pages update
 * live. A notification is a catalogue key with parameters, rendered in the reader's language:
 * parameters hold ids, numbers and codes, never personal values. Results live in ctx->arena. */
#ifndef KEFU_NOTIFY_H
#define KEFU_NOTIFY_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct store_conn;

#define NOTIFY_KEY_MAX 64          /* bytes of a message key */
#define NOTIFY_LINK_MAX 512        /* bytes of a link */
#define NOTIFY_PARAMS_MAX 4096     /* bytes of the parameters' JSON */
#define NOTIFY_LIST_MAX 200

struct notification {
    int64_t id;
    const char *message_key;
    const char *params;            /* JSON object text */
    const char *link;              /* "" when none */
    int64_t created;
    int64_t read_at;               /* 0 while unread */
};

/* Writes an outbox row for user `user_id` of client `client_id` and delivers it in-app (inside the
 * caller's write on `c`). `key` is a catalogue key ([a-z0-9_.]), `params` a JSON object (borrowed;
 * may be NULL) and `link` a path starting with "/" (or NULL). KF_E_INVALID for a bad key, link or
 * oversized parameters; KF_E_NOT_FOUND when that user does not exist in that client. */
int notify_enqueue(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, int64_t user_id,
                   const char *key, json_t *params, const char *link, int64_t *id_r, struct kf_err *err);

/* After the commit of a write that called notify_enqueue for `user_id`: tells that user's open
 * pages the new unread count. Best effort: failures to count are ignored (the next event repairs). */
void notify_published(const struct kf_ctx *ctx, int64_t client_id, int64_t user_id);

/* The actor's own notifications, newest first, id < after_id (0: from the newest), at most `limit`
 * (1..NOTIFY_LIST_MAX); only unread ones when `unread_only`. *next_r: the next page's after_id, 0 on
 * the last. Needs ACT_NOTIFICATION_READ (the actor's own). */
int notify_list(struct kf_ctx *ctx, bool unread_only, int64_t after_id, int limit, struct notification **items_r,
                size_t *n_r, int64_t *next_r, struct kf_err *err);

/* How many of the actor's notifications are unread. */
int notify_unread_count(struct kf_ctx *ctx, int64_t *n_r, struct kf_err *err);

/* Marks the actor's notification `id` read (0: all of them). Idempotent; another user's id is
 * KF_E_NOT_FOUND. Not audited: reading one's notifications changes no business state. */
int notify_mark_read(struct kf_ctx *ctx, int64_t id, struct kf_err *err);

#endif
