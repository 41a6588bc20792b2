/* Notifications and live updates over HTTP (issue 4): the bell's list and count, marking read, and
 * the event stream a page keeps open to hear of new ones without reloading. Every route acts on the
 * caller's own notifications only. */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "domain/notify.h"
#include "domain/request_events_pub.h"
#include "http/api_common.h"
#include "http/handlers.h"

static json_t *notification_json(const struct notification *x)
{
    json_error_t jerr;
    json_t *params = json_loads(x->params ? x->params : "{}", 0, &jerr);
    return json_pack("{s:o,s:s,s:o,s:o,s:I,s:o}", "id", http_json_id(x->id), "message_key", x->message_key, "params",
                     params ? params : json_object(), "link", api_opt_str(x->link), "created", (json_int_t)x->created,
                     "read_at", x->read_at ? json_integer(x->read_at) : json_null());
}

/* GET /api/v1/notifications?unread=1&after=&limit= */
int api_notification_list(struct http_req *req)
{
    int64_t after, next = 0;
    int limit, rc;
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    const char *unread = http_query(req, "unread");
    if (unread && strcmp(unread, "0") != 0 && strcmp(unread, "1") != 0)
        return kf_fail(&req->err, KF_E_INVALID, "unread", "unread must be 0 or 1");
    if (limit > NOTIFY_LIST_MAX) return kf_fail(&req->err, KF_E_INVALID, "limit", "limit must be 1..%d", NOTIFY_LIST_MAX);
    struct notification *items;
    size_t n;
    if ((rc = notify_list(&req->ctx, unread && *unread == '1', after, limit, &items, &n, &next, &req->err)) != 0)
        return rc;
    int64_t count = 0;
    if ((rc = notify_unread_count(&req->ctx, &count, &req->err)) != 0) return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, notification_json(&items[i]));
    json_t *page = api_page_json(arr, next);
    json_object_set_new(page, "unread", json_integer(count));
    return http_reply_json(req, 200, page);
}

static int reply_count(struct http_req *req)
{
    int64_t count = 0;
    int rc = notify_unread_count(&req->ctx, &count, &req->err);
    return rc ? rc : http_reply_json(req, 200, json_pack("{s:I}", "unread", (json_int_t)count));
}

/* POST /api/v1/notifications/{id}/read */
int api_notification_read(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "notification", &id);
    if (!rc) rc = notify_mark_read(&req->ctx, id, &req->err);
    return rc ? rc : reply_count(req);
}

/* POST /api/v1/notifications/read-all */
int api_notification_read_all(struct http_req *req)
{
    int rc = notify_mark_read(&req->ctx, 0, &req->err);
    return rc ? rc : reply_count(req);
}

/* GET /api/v1/events: text/event-stream. The first event says the unread count now; later ones
 * arrive as things change: `notifications` for this user, `request` for a change of a request the
 * user may read (request_events_audience: staff every client, a client user their own). The
 * browser's EventSource reconnects by itself after `retry`. */
int api_events(struct http_req *req)
{
    int64_t count = 0;
    int rc = notify_unread_count(&req->ctx, &count, &req->err);
    if (rc) return rc;
    const char *first = arena_printf(req->arena, "retry: 5000\nevent: notifications\ndata: {\"unread\":%lld}\n\n",
                                     (long long)count);
    return http_reply_stream(req, req->actor.user_id, request_events_audience(&req->actor), first);
}
