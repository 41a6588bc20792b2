/* Search (DESIGN.md "Search"; docs/search.md): substring semantics over requests (subject, body,
 * replies; notes for provider staff only), agreements, notices and — through their keyed name
 * tokens — customers, newest first with a keyset cursor, the total hit count and a snippet per hit.
 * Also the index maintenance the writes of requests, agreements and notices call in their own write.
 * Results live in ctx->arena. */
#ifndef KEFU_DOMAIN_SEARCH_H
#define KEFU_DOMAIN_SEARCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct store_conn;

#define SEARCH_LIMIT_DEFAULT 20
#define SEARCH_LIMIT_MAX 100
#define SEARCH_SNIPPET_CHARS 80

/* NULL / "" / 0: no filter. kind NULL: "request". from/to: created in [from, to), UTC ms. */
struct search_filter {
    const char *q;
    const char *kind;        /* request, agreement, notice, customer */
    const char *status;
    int priority;            /* 1..4 */
    int64_t client_id;
    int64_t assignee_id;
    const char *channel;
    const char *sla;         /* running, paused, warning, breached, met, missed (requests.sla_state: the worst clock) */
    int64_t from_ms, to_ms;
    const char *cursor;      /* next_cursor of the previous page */
    int limit;               /* 1..SEARCH_LIMIT_MAX, 0: SEARCH_LIMIT_DEFAULT */
};

/* A highlighted stretch of a snippet: bytes [start, start+len). */
struct search_mark {
    size_t start, len;
};

struct search_hit {
    const char *kind;
    int64_t id, client_id, created;
    const char *number;      /* requests; NULL otherwise */
    const char *title;
    const char *status;      /* requests and agreements; NULL otherwise */
    const char *snippet;     /* ≈ SEARCH_SNIPPET_CHARS of the original text around the first match */
    struct search_mark *marks;
    size_t n_marks;
};

struct search_result {
    int64_t total;
    struct search_hit *items;
    size_t n;
    const char *next_cursor; /* NULL: the last page */
};

/* Runs one search for ctx->actor. Provider staff search every client (or f->client_id), with
 * internal notes when their role reads notes; client users only their own client's public texts.
 * KF_E_INVALID (422) with the field for a bad query or filter; a cursor that is not one of this
 * search's (forged, or from other terms or filters) is KF_E_BAD_REQUEST-like KF_E_INVALID with
 * field "cursor". */
int search_query(struct kf_ctx *ctx, const struct search_filter *f, struct search_result *out, struct kf_err *err);

/* Rebuilds the search documents of one request from its rows (inside the caller's write): the
 * public one (subject, body, public replies) and, while it has internal notes, the staff one. */
int search_reindex_request(struct store_conn *c, int64_t client_id, int64_t request_id, struct kf_err *err);

/* The search document of a request this write has just inserted, from its subject and body (it has
 * no replies or notes yet): the text search_reindex_request would build, written without reading the
 * request back or looking for documents it cannot have. */
int search_index_new_request(struct store_conn *c, int64_t client_id, int64_t request_id, int64_t created,
                             const char *subject, const char *body, struct kf_err *err);

/* Rebuilds the one public document of an agreement (contract number or draft reference, parties,
 * supplementary terms) or of a notice (subject, body), inside the caller's write. */
int search_reindex_agreement(struct store_conn *c, int64_t agreement_id, struct kf_err *err);
int search_reindex_notice(struct store_conn *c, int64_t notice_id, struct kf_err *err);

#endif
