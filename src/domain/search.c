/* Search (search.h): who may search what, the filters, the keyset cursor, snippets, and the
 * rebuilding of the search documents inside the writes that change what they hold.
 *
 * DESIGN — invariants:
 *  - A request has a public document (subject, body, public replies, in that order) and, while it
 *    has internal notes, a staff document (everything, notes included, in conversation order); the
 *    public one is then shadowed. Provider staff who read notes search staff ∪ unshadowed public
 *    documents (each request once); everybody else public documents only, so no note text can match
 *    for a client user. Client users are always held to their own client_id (C5.2).
 *  - Every write that changes a document's text rebuilds the whole document from its rows in the
 *    same write (search_reindex_*): the index can never disagree with a committed state.
 *  - The cursor is base64url(created, id, hash of the normalised query and filters): a cursor from
 *    another search, or one that does not decode, is refused (400), never trusted as a position of
 *    another question. Keyset positions themselves reveal nothing a hit did not show.
 *  - Snippets come from the original text: it is normalised code point by code point with a map
 *    back to the original bytes; when that piecewise form differs from the stored body (composition
 *    across code points) the snippet falls back to the normalised body. Always exact, never a guess. */
#include "domain/search.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/normalize.h"
#include "domain/customer.h"
#include "domain/identity_internal.h"
#include "domain/policy.h"
#include "domain/request.h"
#include "store/search.h"
#include "store/store.h"

#define SR_TEXT_MAX (SEARCH_BODY_MAX / 2) /* original text of one document (beyond: not indexed) */

static const char *const kinds[] = {"request", "agreement", "notice", "customer", NULL};

static bool sr_in(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

/* Appends a part and one separating space; a text past SR_TEXT_MAX is cut (it stays findable up
 * to there), never a failed write. */
static int sr_part(struct buf *b, const char *s, size_t len)
{
    if (!s || !len) return 0;
    if (b->len + len + 1 > SR_TEXT_MAX) return 0;
    if (b->len && buf_append(b, " ", 1)) return KF_E_NOMEM;
    return buf_append(b, s, len) ? KF_E_NOMEM : 0;
}

/* --- the texts of documents ---------------------------------------------------------------------- */

struct sr_request {
    int64_t created;
    char *number, *subject, *status;
    struct buf pub, staff;
    bool has_notes;
};

static void sr_request_free(struct sr_request *r)
{
    free(r->number);
    free(r->subject);
    free(r->status);
    buf_free(&r->pub);
    buf_free(&r->staff);
}

static char *sr_dup(const char *s)
{
    return s ? strdup(s) : strdup("");
}

/* The start of every text of a request: its subject and body (then come the replies, and the notes). */
static int sr_request_head(struct buf *b, const char *subject, size_t sl, const char *body, size_t bl)
{
    int rc = sr_part(b, subject, sl);
    return rc ? rc : sr_part(b, body, bl);
}

/* Reads a request's texts: 1 found, 0 not found, or an error. */
static int sr_request_read(struct store_conn *c, int64_t client_id, int64_t id, struct sr_request *r,
                           struct kf_err *err)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->pub, SR_TEXT_MAX);
    buf_init(&r->staff, SR_TEXT_MAX);
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT number, subject, body, status, created FROM requests WHERE id = $1 AND client_id = $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        size_t sl = 0, bl = 0;
        const char *subject = store_col_text(st, 1, &sl), *body = store_col_text(st, 2, &bl);
        r->number = sr_dup(store_col_text(st, 0, NULL));
        r->subject = sr_dup(subject);
        r->status = sr_dup(store_col_text(st, 3, NULL));
        r->created = store_col_int64(st, 4);
        rc = sr_request_head(&r->pub, subject, sl, body, bl);
        if (!rc) rc = sr_request_head(&r->staff, subject, sl, body, bl);
        if (!rc) rc = STORE_ROW;
    }
    store_finalize(&st);
    if (rc != STORE_ROW) return rc < 0 ? rc : 0;
    rc = store_prepare(c,
                       "SELECT kind, body FROM request_messages WHERE client_id = $1 AND request_id = $2 ORDER BY id",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    store_bind_int64(st, 2, id);
    while ((rc = store_step(st, err)) == STORE_ROW) {
        size_t ml = 0;
        const char *kind = store_col_text(st, 0, NULL), *body = store_col_text(st, 1, &ml);
        bool note = kind && strcmp(kind, "internal") == 0;
        if (note) r->has_notes = true;
        if ((!note && (rc = sr_part(&r->pub, body, ml)) != 0) || (rc = sr_part(&r->staff, body, ml)) != 0) break;
    }
    store_finalize(&st);
    if (rc < 0) return rc;
    return 1;
}

int search_reindex_request(struct store_conn *c, int64_t client_id, int64_t request_id, struct kf_err *err)
{
    struct sr_request r;
    int rc = sr_request_read(c, client_id, request_id, &r, err);
    if (rc == 1) {
        rc = r.has_notes ? search_index_put(c, "request", request_id, client_id, "staff", r.created,
                                            r.staff.data ? r.staff.data : "", err)
                         : search_index_delete(c, "request", request_id, "staff", err);
        if (!rc)
            rc = search_index_put(c, "request", request_id, client_id, "public", r.created,
                                  r.pub.data ? r.pub.data : "", err);
    } else if (rc == 0) {
        rc = search_index_delete(c, "request", request_id, NULL, err);
    }
    sr_request_free(&r);
    return rc;
}

int search_index_new_request(struct store_conn *c, int64_t client_id, int64_t request_id, int64_t created,
                             const char *subject, const char *body, struct kf_err *err)
{
    struct buf text;
    buf_init(&text, SR_TEXT_MAX);
    int rc = sr_request_head(&text, subject, subject ? strlen(subject) : 0, body, body ? strlen(body) : 0);
    if (rc) rc = kf_fail(err, rc, NULL, "search: the text of request %" PRId64, request_id);
    else rc = search_index_put_alone(c, "request", request_id, client_id, "public", created, text.data ? text.data : "", err);
    buf_free(&text);
    return rc;
}

struct sr_other {
    int64_t client_id, created;
    char *title, *status;
    struct buf text;
};

/* An agreement's or a notice's text: 1 found, 0 not found, or an error. */
static int sr_other_read(struct store_conn *c, bool agreement, int64_t id, struct sr_other *o, struct kf_err *err)
{
    memset(o, 0, sizeof *o);
    buf_init(&o->text, SR_TEXT_MAX);
    struct store_stmt *st;
    int rc = store_prepare(c,
                           agreement ? "SELECT client_id, created, coalesce(contract_number, draft_ref), status, "
                                       "client_legal_name, provider_legal_name, supplementary_terms "
                                       "FROM agreements WHERE id = $1"
                                     : "SELECT client_id, created, subject, kind, body, '', '' FROM notices WHERE id = $1",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        o->client_id = store_col_int64(st, 0);
        o->created = store_col_int64(st, 1);
        o->title = sr_dup(store_col_text(st, 2, NULL));
        o->status = agreement ? sr_dup(store_col_text(st, 3, NULL)) : NULL;
        rc = 0;
        for (int col = 2; col <= 6 && !rc; col++) {
            if (col == 3) continue; /* status, kind: not text people wrote */
            size_t l = 0;
            const char *v = store_col_text(st, col, &l);
            rc = sr_part(&o->text, v, l);
        }
        if (!rc) rc = 1;
    }
    store_finalize(&st);
    return rc;
}

static void sr_other_free(struct sr_other *o)
{
    free(o->title);
    free(o->status);
    buf_free(&o->text);
}

static int sr_reindex_other(struct store_conn *c, bool agreement, int64_t id, struct kf_err *err)
{
    struct sr_other o;
    const char *kind = agreement ? "agreement" : "notice";
    int rc = sr_other_read(c, agreement, id, &o, err);
    if (rc == 1)
        rc = search_index_put(c, kind, id, o.client_id, "public", o.created, o.text.data ? o.text.data : "", err);
    else if (rc == 0)
        rc = search_index_delete(c, kind, id, NULL, err);
    sr_other_free(&o);
    return rc;
}

int search_reindex_agreement(struct store_conn *c, int64_t agreement_id, struct kf_err *err)
{
    return sr_reindex_other(c, true, agreement_id, err);
}

int search_reindex_notice(struct store_conn *c, int64_t notice_id, struct kf_err *err)
{
    return sr_reindex_other(c, false, notice_id, err);
}

/* --- snippets ------------------------------------------------------------------------------------ */

/* The normalised form of `orig` built code point by code point, with for each normalised code
 * point the original bytes it came from. */
struct sr_map {
    struct buf norm;
    size_t n;          /* normalised code points */
    size_t *nstart;    /* byte offset in norm of code point k (n+1 entries) */
    size_t *ostart, *oend;
};

static void sr_map_free(struct sr_map *m)
{
    buf_free(&m->norm);
    free(m->nstart);
    free(m->ostart);
    free(m->oend);
    memset(m, 0, sizeof *m);
}

/* Transient (malloc, freed by sr_map_free): a long conversation must not grow the request's arena. */
static int sr_map_build(const char *orig, size_t olen, struct sr_map *m)
{
    memset(m, 0, sizeof *m);
    buf_init(&m->norm, SEARCH_BODY_MAX);
    size_t cap = olen * 3 + 8; /* a code point folds to at most 3 */
    m->nstart = malloc(sizeof(size_t) * (cap + 1));
    m->ostart = malloc(sizeof(size_t) * cap);
    m->oend = malloc(sizeof(size_t) * cap);
    if (!m->nstart || !m->ostart || !m->oend) return KF_E_NOMEM;
    m->n = 0;
    struct buf one;
    buf_init(&one, 256);
    bool pending = false;
    int rc = 0;
    for (size_t pos = 0; pos < olen && rc == 0;) {
        size_t start = pos;
        if (normalize_next_cp(orig, olen, &pos) < 0) {
            rc = KF_E_INVALID;
            break;
        }
        buf_reset(&one);
        if ((rc = normalize_text(orig + start, pos - start, &one)) != 0) break;
        for (size_t p = 0; p < one.len && rc == 0;) {
            size_t cs = p;
            int32_t cp = normalize_next_cp(one.data, one.len, &p);
            if (normalize_is_space(cp)) {
                pending = m->n > 0;
                continue;
            }
            if (m->n + 2 > cap) {
                rc = KF_E_TOO_LARGE;
                break;
            }
            if (pending) {
                m->nstart[m->n] = m->norm.len, m->ostart[m->n] = start, m->oend[m->n] = start;
                m->n++;
                rc = buf_append(&m->norm, " ", 1);
                pending = false;
            }
            m->nstart[m->n] = m->norm.len, m->ostart[m->n] = start, m->oend[m->n] = pos;
            m->n++;
            if (!rc) rc = buf_append(&m->norm, one.data + cs, p - cs);
        }
    }
    m->nstart[m->n] = m->norm.len;
    buf_free(&one);
    return rc;
}

/* The code point index of byte offset `off` of norm (a code point boundary). */
static size_t sr_cp_at(const struct sr_map *m, size_t off)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->nstart[mid] < off) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int mark_cmp(const void *x, const void *y)
{
    const struct search_mark *a = x, *b = y;
    return a->start < b->start ? -1 : a->start > b->start;
}

/* Fills hit->snippet and its marks from `orig` (or the normalised `body` when the piecewise
 * normalisation of orig is not body). */
static void sr_snippet(struct arena *a, const char *orig, const char *body, const char *const *terms, size_t n_terms,
                       struct search_hit *hit)
{
    struct sr_map m;
    int rc = sr_map_build(orig, strlen(orig), &m);
    if (rc || !m.norm.data || strcmp(m.norm.data, body) != 0) {
        sr_map_free(&m);
        orig = body;
        rc = sr_map_build(orig, strlen(orig), &m);
    }
    if (rc || !m.norm.data) {
        sr_map_free(&m);
        hit->snippet = arena_strndup(a, orig, strlen(orig) > 240 ? 240 : strlen(orig));
        return;
    }
    const char *norm = m.norm.data;
    size_t first = m.norm.len;
    for (size_t i = 0; i < n_terms; i++) {
        const char *p = strstr(norm, terms[i]);
        if (p && (size_t)(p - norm) < first) first = (size_t)(p - norm);
    }
    size_t k0 = first < m.norm.len ? sr_cp_at(&m, first) : 0;
    size_t from = k0 > SEARCH_SNIPPET_CHARS / 3 ? k0 - SEARCH_SNIPPET_CHARS / 3 : 0;
    size_t to = from + SEARCH_SNIPPET_CHARS < m.n ? from + SEARCH_SNIPPET_CHARS : m.n;
    size_t ob = m.n ? m.ostart[from] : 0, oe = m.n ? m.oend[to - 1] : 0;
    if (oe < ob) oe = ob;
    const char *pre = from > 0 ? "…" : "", *post = to < m.n ? "…" : "";
    size_t pl = strlen(pre);
    hit->snippet = arena_printf(a, "%s%.*s%s", pre, (int)(oe - ob), orig + ob, post);
    size_t cap = 32, n = 0;
    struct search_mark *marks = arena_alloc(a, sizeof *marks * cap);
    for (size_t i = 0; i < n_terms && n < cap; i++) {
        size_t tl = strlen(terms[i]);
        for (const char *p = strstr(norm + m.nstart[from], terms[i]); p && n < cap; p = strstr(p + tl, terms[i])) {
            size_t ks = sr_cp_at(&m, (size_t)(p - norm)), ke = sr_cp_at(&m, (size_t)(p - norm) + tl);
            if (ke > to || ke <= ks) break;
            size_t s = m.ostart[ks], e = m.oend[ke - 1];
            if (e <= s) continue;
            marks[n++] = (struct search_mark){pl + s - ob, e - s};
        }
    }
    qsort(marks, n, sizeof *marks, mark_cmp);
    size_t w = 0; /* merge overlaps: one <mark> per stretch */
    for (size_t i = 0; i < n; i++) {
        if (w && marks[i].start <= marks[w - 1].start + marks[w - 1].len) {
            size_t end = marks[i].start + marks[i].len;
            if (end > marks[w - 1].start + marks[w - 1].len) marks[w - 1].len = end - marks[w - 1].start;
        } else {
            marks[w++] = marks[i];
        }
    }
    hit->marks = marks;
    hit->n_marks = w;
    sr_map_free(&m);
}

/* --- the cursor ---------------------------------------------------------------------------------- */

/* What a cursor is bound to: the normalised query, the kind and every filter. */
static void sr_question_hash(const char *nq, const struct search_filter *f, const char *kind, unsigned char out[8])
{
    char filters[512];
    snprintf(filters, sizeof filters, "%s|%s|%d|%lld|%lld|%s|%s|%lld|%lld", kind, f->status ? f->status : "",
             f->priority, (long long)f->client_id, (long long)f->assignee_id, f->channel ? f->channel : "",
             f->sla ? f->sla : "", (long long)f->from_ms, (long long)f->to_ms);
    crypto_generichash_state h;
    crypto_generichash_init(&h, (const unsigned char *)"kefu.search.cursor", 18, 8);
    crypto_generichash_update(&h, (const unsigned char *)nq, strlen(nq) + 1);
    crypto_generichash_update(&h, (const unsigned char *)filters, strlen(filters));
    crypto_generichash_final(&h, out, 8);
}

static void put64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) p[i] = (unsigned char)(u & 0xff), u >>= 8;
}

static int64_t get64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = (u << 8) | p[i];
    return (int64_t)u;
}

static const char *sr_cursor_make(struct arena *a, int64_t created, int64_t id, const unsigned char qh[8])
{
    unsigned char raw[24];
    put64(raw, created);
    put64(raw + 8, id);
    memcpy(raw + 16, qh, 8);
    size_t cap = sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = arena_alloc(a, cap);
    sodium_bin2base64(out, cap, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static int sr_cursor_read(const char *cursor, const unsigned char qh[8], int64_t *created_r, int64_t *id_r,
                          struct kf_err *err)
{
    unsigned char raw[24];
    size_t n = 0;
    if (strlen(cursor) > 64 ||
        sodium_base642bin(raw, sizeof raw, cursor, strlen(cursor), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != sizeof raw || get64(raw + 8) <= 0)
        return kf_fail(err, KF_E_BAD_REQUEST, "cursor", "the page cursor is not one kefu made: start the search again");
    if (sodium_memcmp(raw + 16, qh, 8) != 0)
        return kf_fail(err, KF_E_BAD_REQUEST, "cursor", "the page cursor belongs to another search: start again");
    *created_r = get64(raw);
    *id_r = get64(raw + 8);
    return 0;
}

/* --- the query ----------------------------------------------------------------------------------- */

static bool sr_allowed(const struct kf_ctx *ctx, enum action act, int64_t client_id)
{
    struct object_ref o = {.client_id = client_id};
    return policy_check(ctx->actor, act, &o) == 0;
}

static int sr_customers(struct kf_ctx *ctx, const struct search_filter *f, int64_t client_id, const char *const *terms,
                        size_t n_terms, struct search_result *out, struct kf_err *err)
{
    if (!client_id) return kf_fail(err, KF_E_INVALID, "client_id", "customers are searched within one client");
    int limit = f->limit ? f->limit : SEARCH_LIMIT_DEFAULT;
    struct customer *items;
    size_t n = 0;
    int rc = customer_search_name(ctx, client_id, f->q, limit, &items, &n, err);
    if (rc) return rc;
    out->items = arena_zalloc(ctx->arena, sizeof *out->items * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        struct search_hit *h = &out->items[out->n++];
        h->kind = "customer";
        h->id = items[i].id;
        h->client_id = items[i].client_id;
        h->title = items[i].name ? items[i].name : "";
        struct buf nb;
        buf_init(&nb, SEARCH_BODY_MAX);
        if (search_normalize(h->title, strlen(h->title), &nb) == 0)
            sr_snippet(ctx->arena, h->title, nb.data ? nb.data : "", terms, n_terms, h);
        else
            h->snippet = h->title;
        buf_free(&nb);
    }
    out->total = (int64_t)n;
    return 0;
}

/* The titles and original texts of a page of hits. */
static int sr_fill(struct kf_ctx *ctx, struct store_conn *c, const char *kind, bool staff, const char *const *terms,
                   size_t n_terms, const struct search_doc_hit *hits, size_t n, struct search_result *out,
                   struct kf_err *err)
{
    out->items = arena_zalloc(ctx->arena, sizeof *out->items * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        struct search_hit *h = &out->items[out->n];
        h->kind = kind;
        h->id = hits[i].object_id;
        h->client_id = hits[i].client_id;
        h->created = hits[i].created;
        int rc;
        if (strcmp(kind, "request") == 0) {
            struct sr_request r;
            rc = sr_request_read(c, hits[i].client_id, hits[i].object_id, &r, err);
            if (rc == 1) {
                h->number = arena_strdup(ctx->arena, r.number);
                h->title = arena_strdup(ctx->arena, r.subject);
                h->status = arena_strdup(ctx->arena, r.status);
                bool with_notes = staff && strcmp(hits[i].scope, "staff") == 0;
                const struct buf *t = with_notes ? &r.staff : &r.pub;
                sr_snippet(ctx->arena, t->data ? t->data : "", hits[i].body, terms, n_terms, h);
            }
            sr_request_free(&r);
        } else {
            struct sr_other o;
            rc = sr_other_read(c, strcmp(kind, "agreement") == 0, hits[i].object_id, &o, err);
            if (rc == 1) {
                h->title = arena_strdup(ctx->arena, o.title);
                h->status = o.status ? arena_strdup(ctx->arena, o.status) : NULL;
                sr_snippet(ctx->arena, o.text.data ? o.text.data : "", hits[i].body, terms, n_terms, h);
            }
            sr_other_free(&o);
        }
        if (rc < 0) return rc;
        if (rc == 1) out->n++;
    }
    return 0;
}

int search_query(struct kf_ctx *ctx, const struct search_filter *f, struct search_result *out, struct kf_err *err)
{
    memset(out, 0, sizeof *out);
    const char *kind = f->kind && *f->kind ? f->kind : "request";
    if (!sr_in(kind, kinds)) return kf_fail(err, KF_E_INVALID, "kind", "request, agreement, notice or customer");
    int64_t own = ctx->actor ? ctx->actor->client_id : 0;
    int64_t client_id = own ? own : f->client_id;
    if (own && f->client_id && f->client_id != own) client_id = f->client_id; /* refused just below */
    enum action act = strcmp(kind, "agreement") == 0 ? ACT_AGREEMENT_READ
                      : strcmp(kind, "notice") == 0  ? ACT_NOTICE_READ
                      : strcmp(kind, "customer") == 0 ? ACT_CUSTOMER_READ
                                                      : ACT_REQUEST_READ;
    int rc = ident_allow(ctx, act, client_id ? client_id : INT64_MAX, 0, err);
    if (rc) return rc;
    if (f->status && *f->status && !sr_in(f->status, request_statuses))
        return kf_fail(err, KF_E_INVALID, "status", "unknown status");
    if (f->channel && *f->channel && !sr_in(f->channel, request_channels))
        return kf_fail(err, KF_E_INVALID, "channel", "unknown channel");
    if (f->sla && *f->sla && !sr_in(f->sla, request_sla_states))
        return kf_fail(err, KF_E_INVALID, "sla", "running, paused, warning, breached, met or missed");
    if (f->priority && (f->priority < 1 || f->priority > 4))
        return kf_fail(err, KF_E_INVALID, "priority", "P1 to P4");
    if (f->limit && (f->limit < 1 || f->limit > SEARCH_LIMIT_MAX))
        return kf_fail(err, KF_E_INVALID, "limit", "limit must be 1..%d", SEARCH_LIMIT_MAX);
    if (f->from_ms && f->to_ms && f->to_ms <= f->from_ms)
        return kf_fail(err, KF_E_INVALID, "to", "must be after from");
    if (!f->q || strlen(f->q) > SEARCH_QUERY_CHARS_MAX * 4)
        return kf_fail(err, KF_E_INVALID, "q", f->q ? "a search is at most %d characters" : "type something to search for",
                       SEARCH_QUERY_CHARS_MAX);
    struct buf nq;
    buf_init(&nq, SEARCH_QUERY_CHARS_MAX * 64);
    rc = search_normalize(f->q, strlen(f->q), &nq);
    if (rc) {
        buf_free(&nq);
        return kf_fail(err, KF_E_INVALID, "q", "the search is not valid UTF-8 text");
    }
    char *q = arena_strndup(ctx->arena, nq.data ? nq.data : "", nq.len);
    buf_free(&nq);
    const char **terms;
    size_t n_terms;
    if ((rc = search_split_terms(ctx->arena, q, &terms, &n_terms, err)) != 0) return rc;
    if (strcmp(kind, "customer") == 0) return sr_customers(ctx, f, client_id, terms, n_terms, out, err);
    unsigned char qh[8];
    sr_question_hash(q, f, kind, qh);
    struct search_docs_query dq = {
        .kind = kind, .terms = terms, .n_terms = n_terms,
        .staff = !own && strcmp(kind, "request") == 0 && sr_allowed(ctx, ACT_REQUEST_NOTE, client_id ? client_id : 1),
        .own_client_id = own, .client_id = f->client_id, .status = f->status, .priority = f->priority,
        .assignee_id = f->assignee_id, .channel = f->channel, .from_ms = f->from_ms, .to_ms = f->to_ms,
        .sla_state = f->sla,
        .limit = f->limit ? f->limit : SEARCH_LIMIT_DEFAULT};
    if (f->cursor && *f->cursor && (rc = sr_cursor_read(f->cursor, qh, &dq.after_created, &dq.after_id, err)) != 0)
        return rc;
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct search_doc_hit *hits = NULL;
    size_t n = 0;
    rc = store_begin(c, err); /* the count and the page from one snapshot */
    if (rc == 0) rc = search_docs_query(c, ctx->arena, &dq, &out->total, &hits, &n, err);
    if (rc == 0) rc = sr_fill(ctx, c, kind, dq.staff, terms, n_terms, hits, n, out, err);
    if (rc == 0) rc = store_commit(c, err);
    store_release(&c);
    if (rc) return rc;
    if (n == (size_t)dq.limit) out->next_cursor = sr_cursor_make(ctx->arena, hits[n - 1].created, hits[n - 1].object_id, qh);
    return 0;
}
