/* The bell's page (issue 4): one's own notifications, newest first, paged by key, all or unread only,
 * each in the reader's language from its catalogue key and parameters; marking one or all read.
 * kefu.js adds a "new notifications" link when the event stream reports more unread than shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "domain/notify.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "http/page.h"
#include "render/i18n.h"

#define NOTIFY_PAGE_DEFAULT 20
#define NOTIFY_ARGS 4             /* {1}..{4}: what {{t key a b c d}} takes */
#define NOTIFY_PARAM_NAMES 64     /* parameters considered (4096 bytes of JSON hold few more) */

/* Which parameter fills {1}, {2}, … of each producer's text. A key not listed here takes its
 * parameters in the alphabetical order of their names. */
static const struct {
    const char *key;
    const char *params[NOTIFY_ARGS];
} notify_params[] = {
    {"notify.token_created", {"token_id"}},
    {"notify.agreement_renewal_due", {"contract_number", "days"}},
    {"notify.request_sla_warning_first_response", {"number"}},
    {"notify.request_sla_warning_resolution", {"number"}},
    {"notify.request_sla_breach_first_response", {"number"}},
    {"notify.request_sla_breach_resolution", {"number"}},
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A parameter as text: strings as they are, numbers as written, anything else nothing. */
static const char *param_text(struct http_req *req, json_t *v)
{
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) return arena_printf(req->arena, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v)) return arena_printf(req->arena, "%g", json_real_value(v));
    if (json_is_boolean(v)) return json_is_true(v) ? "true" : "false";
    return "";
}

/* Sets arg1..arg4 of `row` from the notification's parameters (JSON object text). */
static void notification_args(struct http_req *req, json_t *row, const char *key, const char *params_text)
{
    json_error_t jerr;
    json_t *params = json_loads(params_text && *params_text ? params_text : "{}", 0, &jerr);
    if (!json_is_object(params)) {
        json_decref(params);
        return;
    }
    const char *names[NOTIFY_ARGS] = {0};
    size_t n = 0;
    for (size_t i = 0; i < sizeof notify_params / sizeof notify_params[0]; i++) {
        if (strcmp(notify_params[i].key, key) != 0) continue;
        for (; n < NOTIFY_ARGS && notify_params[i].params[n]; n++) names[n] = notify_params[i].params[n];
    }
    if (n == 0) {
        /* the text's {1}..{4} follow the parameters' names in alphabetical order */
        const char *all[NOTIFY_PARAM_NAMES];
        size_t count = 0;
        const char *k;
        json_t *v;
        json_object_foreach(params, k, v) {
            if (count < NOTIFY_PARAM_NAMES) all[count++] = k;
        }
        qsort(all, count, sizeof all[0], name_cmp);
        for (; n < NOTIFY_ARGS && n < count; n++) names[n] = all[n];
    }
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(row, arena_printf(req->arena, "arg%zu", i + 1),
                            json_string(param_text(req, json_object_get(params, names[i]))));
    }
    json_decref(params);
}

static json_t *notification_row(struct http_req *req, const struct notification *x)
{
    /* a producer's key the catalogue lacks must not break the whole page */
    const char *key = i18n_lookup(page_locale(req), x->message_key) ? x->message_key : "notifications.unknown";
    json_t *row = json_pack("{s:s,s:s,s:I,s:b}", "id", arena_printf(req->arena, "%lld", (long long)x->id), "key", key,
                            "created", (json_int_t)x->created, "unread", x->read_at == 0);
    if (x->link && *x->link && page_local_path(x->link)) json_object_set_new(row, "link", json_string(x->link));
    notification_args(req, row, key, x->params);
    return row;
}

/* Where a mark-read form returns: the list it was sent from (kept in the hidden field `back`). */
static const char *notifications_back(struct http_req *req)
{
    const char *back = req->json ? json_string_value(json_object_get(req->json, "back")) : NULL;
    if (back && page_local_path(back) && strncmp(back, "/notifications", 14) == 0 &&
        (back[14] == '\0' || back[14] == '?'))
        return back;
    return "/notifications";
}

/* GET /notifications?unread=1&after=&limit= */
int page_notifications(struct http_req *req)
{
    int64_t after, next = 0, unread_count = 0;
    int limit, rc;
    if ((rc = api_page_params(req, &after, &limit)) != 0) return rc;
    if (!http_query(req, "limit")) limit = NOTIFY_PAGE_DEFAULT;
    if (limit > NOTIFY_LIST_MAX) return kf_fail(&req->err, KF_E_INVALID, "limit", "limit must be 1..%d", NOTIFY_LIST_MAX);
    const char *unread = http_query(req, "unread");
    bool unread_only = unread && strcmp(unread, "1") == 0;
    struct notification *items;
    size_t n;
    if ((rc = notify_list(&req->ctx, unread_only, after, limit, &items, &n, &next, &req->err)) != 0) return rc;
    if ((rc = notify_unread_count(&req->ctx, &unread_count, &req->err)) != 0) return rc;
    json_t *d = page_data(req, "notifications.title", "notifications");
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(rows, notification_row(req, &items[i]));
    json_object_set_new(d, "has_items", json_boolean(n > 0));
    json_object_set_new(d, "items", rows);
    json_object_set_new(d, "unread_only", json_boolean(unread_only));
    json_object_set_new(d, "unread_count", json_integer(unread_count));
    const char *filter = unread_only ? "unread=1&" : "";
    if (next) json_object_set_new(d, "next_href", json_string(arena_printf(req->arena, "/notifications?%safter=%lld%s",
                                                                          filter, (long long)next,
                                                                          http_query(req, "limit") ?
                                                                          arena_printf(req->arena, "&limit=%d", limit) : "")));
    /* the forms come back here; a page past the first goes back to its start, where the change shows */
    json_object_set_new(d, "back", json_string(unread_only ? "/notifications?unread=1" : "/notifications"));
    if (after) json_object_set_new(d, "paged", json_true());
    json_object_set_new(d, "pager", json_boolean(after || next));
    return page_render(req, 200, "notifications/index", d);
}

/* POST /notifications/{id}/read: another person's notification is not found. */
int page_notification_read(struct http_req *req)
{
    int64_t id;
    int rc = api_path_id(req, "id", "notification", &id);
    if (rc == 0) rc = notify_mark_read(&req->ctx, id, &req->err);
    return rc ? rc : page_redirect(req, notifications_back(req));
}

/* POST /notifications/read-all */
int page_notifications_read_all(struct http_req *req)
{
    int rc = notify_mark_read(&req->ctx, 0, &req->err);
    return rc ? rc : page_redirect(req, notifications_back(req));
}
