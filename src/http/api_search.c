/* GET /api/v1/search (docs/search.md): the query string into a search_filter, one domain call
 * (search_query decides who sees what), and the page of hits as JSON with escaped snippets. */
#include "http/api_search.h"

#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/text.h"
#include "http/api_common.h"
#include "http/handlers.h"
#include "render/html.h"


static const char *sq_value(struct http_req *req, const char *key)
{
    const char *v = http_query(req, key);
    return v && *v ? v : NULL;
}

int api_search_filter(struct http_req *req, struct search_filter *f)
{
    memset(f, 0, sizeof *f);
    f->q = http_query(req, "q");
    if (!f->q) f->q = "";
    f->kind = sq_value(req, "kind");
    f->status = sq_value(req, "status");
    f->channel = sq_value(req, "channel");
    f->sla = sq_value(req, "sla");
    f->cursor = sq_value(req, "cursor");
    const char *shorts[] = {"kind", "status", "channel", "sla"};
    const char *vals[] = {f->kind, f->status, f->channel, f->sla};
    for (size_t i = 0; i < 4; i++)
        if (vals[i] && strlen(vals[i]) > API_SHORT_MAX)
            return kf_fail(&req->err, KF_E_INVALID, shorts[i], "is unknown");
    if (f->cursor && strlen(f->cursor) > 128)
        return kf_fail(&req->err, KF_E_BAD_REQUEST, "cursor", "the page cursor is not one kefu made");
    const char *v = sq_value(req, "priority");
    if (v) {
        if (strlen(v) != 2 || (v[0] != 'P' && v[0] != 'p') || v[1] < '1' || v[1] > '4')
            return kf_fail(&req->err, KF_E_INVALID, "priority", "P1, P2, P3 or P4");
        f->priority = v[1] - '0';
    }
    if ((v = sq_value(req, "client_id")) && api_parse_client_id(v, &f->client_id) != 0)
        return kf_fail(&req->err, KF_E_INVALID, "client_id", "must be an id");
    if ((v = sq_value(req, "assignee_id")) && id_parse(v, &f->assignee_id) != 0)
        return kf_fail(&req->err, KF_E_INVALID, "assignee_id", "must be an id");
    if ((v = sq_value(req, "limit"))) {
        int64_t n = 0;
        if (text_parse_int64(v, &n) != 0 || n < 1 || n > SEARCH_LIMIT_MAX)
            return kf_fail(&req->err, KF_E_INVALID, "limit", "limit must be 1..%d", SEARCH_LIMIT_MAX);
        f->limit = (int)n;
    }
    int rc = api_query_time(req, "from", false, &f->from_ms);
    if (!rc) rc = api_query_time(req, "to", true, &f->to_ms);
    return rc;
}

char *api_search_snippet_html(struct arena *a, const struct search_hit *h)
{
    struct buf b;
    buf_init(&b, 64 * 1024);
    const char *s = h->snippet ? h->snippet : "";
    size_t len = strlen(s), at = 0;
    int rc = 0;
    for (size_t i = 0; i < h->n_marks && rc == 0; i++) {
        const struct search_mark *m = &h->marks[i];
        if (m->start < at || m->start + m->len > len) continue;
        rc = html_txt(&b, s + at, m->start - at);
        if (!rc) rc = buf_puts(&b, "<mark>");
        if (!rc) rc = html_txt(&b, s + m->start, m->len);
        if (!rc) rc = buf_puts(&b, "</mark>");
        at = m->start + m->len;
    }
    if (!rc) rc = html_txt(&b, s + at, len - at);
    char *out = arena_strndup(a, rc == 0 && b.data ? b.data : "", rc == 0 ? b.len : 0);
    buf_free(&b);
    return out;
}

/* GET /api/v1/search → {"total", "items": [{kind, id, number, title, snippet_html, created, client_id,
 * status}], "next_cursor"} */
int api_search(struct http_req *req)
{
    struct search_filter f;
    int rc = api_search_filter(req, &f);
    if (rc) return rc;
    struct search_result r;
    if ((rc = search_query(&req->ctx, &f, &r, &req->err)) != 0) return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < r.n; i++) {
        const struct search_hit *h = &r.items[i];
        json_t *o = json_pack("{s:s, s:o, s:s, s:s, s:I, s:o}", "kind", h->kind, "id", http_json_id(h->id), "title",
                              h->title ? h->title : "", "snippet_html", api_search_snippet_html(req->arena, h),
                              "created", (json_int_t)h->created, "client_id", http_json_id(h->client_id));
        if (h->number) json_object_set_new(o, "number", json_string(h->number));
        if (h->status) json_object_set_new(o, "status", json_string(h->status));
        json_array_append_new(items, o);
    }
    json_t *out = json_pack("{s:I, s:o, s:o}", "total", (json_int_t)r.total, "items", items, "next_cursor",
                            r.next_cursor ? json_string(r.next_cursor) : json_null());
    return http_reply_json(req, 200, out);
}
