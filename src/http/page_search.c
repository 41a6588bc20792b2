/* The search page (docs/search.md): the search box with its filters, the total, each hit with its
 * snippet (escaped, matches marked) and a link to the object, and the next page by keyset cursor.
 * The domain (search_query) decides who sees what; this file parses the query and shapes the page. */
#include <string.h>

#include "core/arena.h"
#include "domain/request.h"
#include "domain/search.h"
#include "http/api_search.h"
#include "http/handlers.h"
#include "http/page.h"
#include "render/html.h"
#include "render/template.h"

static const char *const kinds[] = {"request", "agreement", "notice", "customer", NULL};
static const char *const keep[] = {"q", "kind", "status", "priority", "channel", "client_id", "assignee_id", "sla",
                                   "from", "to", "limit", NULL};

/* The link of a hit's own page. */
static const char *hit_href(struct http_req *req, const struct search_hit *h)
{
    if (strcmp(h->kind, "request") == 0)
        return arena_printf(req->arena, "/requests/%lld?client_id=%lld", (long long)h->id, (long long)h->client_id);
    if (strcmp(h->kind, "agreement") == 0)
        return arena_printf(req->arena, "/agreements/%lld?client_id=%lld", (long long)h->id, (long long)h->client_id);
    if (strcmp(h->kind, "notice") == 0) return arena_printf(req->arena, "/notices/%lld", (long long)h->id);
    return arena_printf(req->arena, "/customers/%lld?client_id=%lld", (long long)h->id, (long long)h->client_id);
}

/* The query string of the next page: the same search and filters, the next cursor. */
static const char *next_query(struct http_req *req, const char *cursor)
{
    struct buf b;
    buf_init(&b, 8192);
    int rc = 0;
    for (const char *const *k = keep; *k && rc == 0; k++) {
        const char *v = http_query(req, *k);
        if (!v || !*v) continue;
        rc = buf_printf(&b, "%s=", *k);
        if (!rc) rc = html_url_arg(&b, v, strlen(v));
        if (!rc) rc = buf_puts(&b, "&");
    }
    if (!rc) rc = buf_puts(&b, "cursor=");
    if (!rc) rc = html_url_arg(&b, cursor, strlen(cursor));
    const char *out = rc == 0 ? arena_strndup(req->arena, b.data, b.len) : NULL;
    buf_free(&b);
    return out;
}

/* GET /search?q=&kind=&…&cursor= */
int page_search(struct http_req *req)
{
    json_t *d = page_data(req, "search.title", "search");
    const char *q = http_query(req, "q");
    const char *kind = http_query(req, "kind");
    json_t *opts = json_array();
    for (const char *const *k = kinds; *k; k++)
        json_array_append_new(opts, json_pack("{s:s,s:s,s:b}", "value", *k, "label_key",
                                              arena_printf(req->arena, "search.kind.%s", *k), "selected",
                                              kind ? strcmp(kind, *k) == 0 : strcmp(*k, "request") == 0));
    json_object_set_new(d, "kinds", opts);
    json_object_set_new(d, "statuses", page_options(req, "requests.status", request_statuses, http_query(req, "status")));
    json_object_set_new(d, "priorities", page_options(req, NULL, request_priorities, http_query(req, "priority")));
    json_object_set_new(d, "channels", page_options(req, "requests.channel", request_channels, http_query(req, "channel")));
    json_object_set_new(d, "slas", page_options(req, "requests.sla.state", request_sla_states, http_query(req, "sla")));
    page_keep_form(req, d, keep);
    if (!q) return page_render(req, 200, "search", d); /* the empty form */
    struct search_filter f;
    struct search_result r;
    int rc = api_search_filter(req, &f);
    if (!rc) rc = search_query(&req->ctx, &f, &r, &req->err);
    if (rc == KF_E_INVALID || rc == KF_E_BAD_REQUEST) {
        int status = page_form_fail(req, d, "search", "find", keep);
        return page_render(req, status, "search", d);
    }
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_t *hits = json_array();
    for (size_t i = 0; i < r.n; i++) {
        const struct search_hit *h = &r.items[i];
        json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:I}", "href", hit_href(req, h), "title", h->title ? h->title : "",
                              "kind_key", arena_printf(req->arena, "search.kind.%s", h->kind), "snippet_html",
                              render_trusted(api_search_snippet_html(req->arena, h)), "created",
                              (json_int_t)h->created);
        if (h->number) json_object_set_new(o, "number", json_string(h->number));
        json_array_append_new(hits, o);
    }
    json_object_set_new(d, "searched", json_true());
    json_object_set_new(d, "total", json_integer((json_int_t)r.total));
    json_object_set_new(d, "any", json_boolean(r.n > 0));
    json_object_set_new(d, "hits", hits);
    if (r.next_cursor) {
        const char *nq = next_query(req, r.next_cursor);
        if (nq) json_object_set_new(d, "next_query", json_string(nq));
    }
    return page_render(req, 200, "search", d);
}
