/* Notifications (notify.h): the outbox and the in-app channel. The in-app delivery happens in the
 * producer's transaction, so a notification exists exactly when what it reports was committed. */
#include "domain/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/identity_internal.h"
#include "store/store.h"

#define NOTIFY_COLS "id, message_key, params, link, created, read_at"

static int notify_check_key(const char *key, struct kf_err *err)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > NOTIFY_KEY_MAX || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_.") != n)
        return kf_fail(err, KF_E_INVALID, "message_key", "a catalogue key of [a-z0-9_.]");
    return 0;
}

/* A link stays inside kefu: a path, never a scheme or another host ("//evil"). */
static int notify_check_link(const char *link, struct kf_err *err)
{
    if (!link || !*link) return 0;
    size_t n = strlen(link);
    if (n > NOTIFY_LINK_MAX || link[0] != '/' || link[1] == '/' || link[1] == '\\' || !text_is_utf8(link, n))
        return kf_fail(err, KF_E_INVALID, "link", "a path inside kefu");
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)link[i] < 0x20 || link[i] == 0x7f)
            return kf_fail(err, KF_E_INVALID, "link", "a path inside kefu");
    }
    return 0;
}

static int notify_insert_outbox(struct store_conn *c, int64_t id, int64_t client_id, int64_t user_id, const char *key,
                                const char *params, const char *link, int64_t now, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO outbox (id, client_id, user_id, channel, message_key, params, link, state, "
                           "attempts, created, delivered) SELECT $1, $2, $3, 'in_app', $4, $5, $6, 'delivered', 1, $7, $7 "
                           "WHERE EXISTS (SELECT 1 FROM users WHERE id = $3 AND client_id = $2)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    store_bind_int64(st, 3, user_id);
    store_bind_text(st, 4, key, (size_t)-1);
    store_bind_text(st, 5, params, (size_t)-1);
    store_bind_text(st, 6, link, (size_t)-1);
    store_bind_int64(st, 7, now);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    return n == 1 ? 0 : kf_fail(err, KF_E_NOT_FOUND, "user_id", "no such user");
}

/* The in-app channel: the bell's row, written with the outbox row it delivers. */
static int notify_deliver_in_app(struct store_conn *c, int64_t outbox_id, int64_t client_id, int64_t user_id,
                                 const char *key, const char *params, const char *link, int64_t now, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO notifications (id, client_id, user_id, outbox_id, message_key, params, link, "
                           "created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id_new(now));
    store_bind_int64(st, 2, client_id);
    store_bind_int64(st, 3, user_id);
    store_bind_int64(st, 4, outbox_id);
    store_bind_text(st, 5, key, (size_t)-1);
    store_bind_text(st, 6, params, (size_t)-1);
    store_bind_text(st, 7, link, (size_t)-1);
    store_bind_int64(st, 8, now);
    return ident_exec(c, &st, NULL, err);
}

int notify_enqueue(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, int64_t user_id,
                   const char *key, json_t *params, const char *link, int64_t *id_r, struct kf_err *err)
{
    int rc = notify_check_key(key, err);
    if (!rc) rc = notify_check_link(link, err);
    if (rc) return rc;
    if (params && !json_is_object(params)) return kf_fail(err, KF_E_INVALID, "params", "a JSON object");
    char *text = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (params && !text) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    if (text && strlen(text) > NOTIFY_PARAMS_MAX) {
        free(text);
        return kf_fail(err, KF_E_INVALID, "params", "at most %d bytes", NOTIFY_PARAMS_MAX);
    }
    int64_t now = ident_now(ctx), id = id_new(now);
    rc = notify_insert_outbox(c, id, client_id, user_id, key, text ? text : "{}", link ? link : "", now, err);
    if (!rc) rc = notify_deliver_in_app(c, id, client_id, user_id, key, text ? text : "{}", link ? link : "", now, err);
    free(text);
    if (rc == 0 && id_r) *id_r = id;
    return rc;
}

/* Unread notifications of one user, on a connection of the caller's. */
static int notify_count_on(struct store_conn *c, int64_t client_id, int64_t user_id, int64_t *n_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT count(*) FROM notifications WHERE user_id = $1 AND client_id = $2 AND read_at IS NULL",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, user_id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) *n_r = store_col_int64(st, 0), rc = 0;
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int notify_count(const struct kf_ctx *ctx, int64_t client_id, int64_t user_id, int64_t *n_r, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(ctx->env->store, &c, err);
    if (rc) return rc;
    rc = notify_count_on(c, client_id, user_id, n_r, err);
    store_release(&c);
    return rc;
}

void notify_published(const struct kf_ctx *ctx, int64_t client_id, int64_t user_id)
{
    if (!ctx->env->publish) return;
    int64_t n = 0;
    struct kf_err err;
    if (notify_count(ctx, client_id, user_id, &n, &err) != 0) return;
    char data[64];
    snprintf(data, sizeof data, "{\"unread\":%lld}", (long long)n);
    ctx->env->publish(ctx->env->publish_arg, user_id, "notifications", data);
}

/* The actor's own notifications: ACT_NOTIFICATION_READ on themselves. */
static int notify_allow(const struct kf_ctx *ctx, struct kf_err *err)
{
    const struct actor *a = ctx->actor;
    int rc = ident_allow(ctx, ACT_NOTIFICATION_READ, a ? a->client_id : 0, a ? a->user_id : 0, err);
    if (!rc && (!a || a->user_id == 0)) rc = kf_fail(err, KF_E_FORBIDDEN, NULL, "only people have notifications");
    return rc;
}

int notify_list(struct kf_ctx *ctx, bool unread_only, int64_t after_id, int limit, struct notification **items_r,
                size_t *n_r, int64_t *next_r, struct kf_err *err)
{
    int rc = notify_allow(ctx, err);
    if (rc) return rc;
    if (limit < 1 || limit > NOTIFY_LIST_MAX) limit = 50;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       unread_only ? "SELECT " NOTIFY_COLS " FROM notifications WHERE user_id = $1 AND client_id = $2 "
                                     "AND read_at IS NULL AND id < $3 ORDER BY id DESC LIMIT $4"
                                   : "SELECT " NOTIFY_COLS " FROM notifications WHERE user_id = $1 AND client_id = $2 "
                                     "AND id < $3 ORDER BY id DESC LIMIT $4",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, ctx->actor->user_id);
        store_bind_int64(st, 2, ctx->actor->client_id);
        store_bind_int64(st, 3, after_id > 0 ? after_id : INT64_MAX);
        store_bind_int64(st, 4, limit);
        struct notification *items = arena_zalloc(ctx->arena, sizeof *items * (size_t)limit);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < (size_t)limit) {
            struct notification *x = &items[n++];
            x->id = store_col_int64(st, 0);
            x->message_key = ident_col_strdup(ctx, st, 1);
            x->params = ident_col_strdup(ctx, st, 2);
            x->link = ident_col_strdup(ctx, st, 3);
            x->created = store_col_int64(st, 4);
            x->read_at = store_col_int64(st, 5);
        }
        if (rc >= 0) {
            rc = 0;
            *items_r = items;
            *n_r = n;
            if (next_r) *next_r = n == (size_t)limit ? items[n - 1].id : 0;
        }
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

int notify_unread_count(struct kf_ctx *ctx, int64_t *n_r, struct kf_err *err)
{
    int rc = notify_allow(ctx, err);
    return rc ? rc : notify_count(ctx, ctx->actor->client_id, ctx->actor->user_id, n_r, err);
}

struct notify_read_args {
    const struct kf_ctx *ctx;
    int64_t id;
};

static int notify_mark_read_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct notify_read_args *a = arg;
    const struct actor *who = a->ctx->actor;
    struct store_stmt *st;
    int rc;
    if (a->id) {
        /* exists for this user? (already read is fine: idempotent) */
        rc = store_prepare(c, "SELECT 1 FROM notifications WHERE id = $1 AND user_id = $2 AND client_id = $3", &st, err);
        if (rc) return rc;
        store_bind_int64(st, 1, a->id);
        store_bind_int64(st, 2, who->user_id);
        store_bind_int64(st, 3, who->client_id);
        rc = store_step(st, err);
        store_finalize(&st);
        if (rc == STORE_DONE) return kf_fail(err, KF_E_NOT_FOUND, "id", "no such notification");
        if (rc < 0) return rc;
    }
    /* two statements, not "$4 = 0 OR id = $4": PostgreSQL would type $4 as the literal's int4 */
    rc = store_prepare(c,
                       a->id ? "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND client_id = $3 "
                               "AND read_at IS NULL AND id = $4"
                             : "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND client_id = $3 "
                               "AND read_at IS NULL",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, ident_now(a->ctx));
    store_bind_int64(st, 2, who->user_id);
    store_bind_int64(st, 3, who->client_id);
    if (a->id) store_bind_int64(st, 4, a->id);
    return ident_exec(c, &st, NULL, err);
}

int notify_mark_read(struct kf_ctx *ctx, int64_t id, struct kf_err *err)
{
    int rc = notify_allow(ctx, err);
    if (rc) return rc;
    struct notify_read_args a = {ctx, id};
    rc = store_write(ctx->env->store, notify_mark_read_fn, &a, err);
    if (rc == 0) notify_published(ctx, ctx->actor->client_id, ctx->actor->user_id);
    return rc;
}
