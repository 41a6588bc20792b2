/* The search index (search.h): kefu's bigram+unigram tokenizer, the FTS5 tokenizer "kefu" built on
 * it, and the engine-specific reads and writes of search_docs.
 *
 * DESIGN — why the answers equal a substring scan:
 *  - Documents and queries are normalised the same way (search_normalize). A term never holds a
 *    space, so "term occurs in body" is a question about consecutive code points of the body.
 *  - SQLite: the document mode emits, at position i, the unigram of code point i and (colocated)
 *    the bigram of code points i, i+1 — every bigram, also those with a space, so positions never
 *    jump. The query mode turns a term of n ≥ 2 code points into its n-1 bigrams at consecutive
 *    positions: FTS5's phrase match then finds exactly the places where the term occurs. A term of
 *    one code point is its unigram token. Each term is one FTS5 string (quotes doubled), so no query
 *    text is ever FTS syntax.
 *  - PostgreSQL: search_engine_tokens holds the distinct tokens of each document as text[] with a
 *    GIN index; `tokens @> query tokens` finds candidates and strpos on the normalised body decides
 *    for every term (tsvector positions stop at 16383: phrase matching alone is not exact there).
 *  - Bytes that are not well-formed UTF-8 are units of their own (the text columns are validated
 *    UTF-8, so this only keeps the tokenizer total on any input). */
#include "store/search.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/ids.h"
#include "core/normalize.h"
#include "store/store.h"
#include "store/store_driver.h"

/* --- the tokenizer ------------------------------------------------------------------------------- */

/* Byte length of the unit at s[pos]: a well-formed code point, else one byte. */
static size_t search_unit_len(const char *s, size_t len, size_t pos)
{
    size_t p = pos;
    int32_t cp = normalize_next_cp(s, len, &p);
    if (cp < 0 || p <= pos) return 1;
    return p - pos;
}

int search_tokenize(const char *s, size_t len, enum search_tokenize_mode mode, search_token_fn fn, void *arg)
{
    if (!s || len == 0) return 0;
    size_t pos = 0, ulen = search_unit_len(s, len, 0);
    if (mode == SEARCH_TOKENIZE_QUERY && ulen >= len) return fn(arg, s, len, false);
    while (pos < len) {
        size_t next = pos + ulen;
        size_t nlen = next < len ? search_unit_len(s, len, next) : 0;
        int rc = 0;
        if (mode == SEARCH_TOKENIZE_DOCUMENT) {
            rc = fn(arg, s + pos, ulen, false);
            if (rc == 0 && nlen) rc = fn(arg, s + pos, ulen + nlen, true);
        } else if (nlen) {
            rc = fn(arg, s + pos, ulen + nlen, false);
        }
        if (rc) return rc;
        pos = next;
        ulen = nlen;
    }
    return 0;
}

int search_normalize(const char *s, size_t len, struct buf *out)
{
    return normalize_name(s, len, out);
}

int search_split_terms(struct arena *a, const char *q, const char ***terms_r, size_t *n_r, struct kf_err *err)
{
    size_t len = q ? strlen(q) : 0, chars = 0;
    for (size_t p = 0; p < len;) {
        p += search_unit_len(q, len, p);
        chars++;
    }
    if (chars == 0) return kf_fail(err, KF_E_INVALID, "q", "type something to search for");
    if (chars > SEARCH_QUERY_CHARS_MAX)
        return kf_fail(err, KF_E_INVALID, "q", "a search is at most %d characters", SEARCH_QUERY_CHARS_MAX);
    const char **terms = arena_zalloc(a, sizeof *terms * SEARCH_TERMS_MAX);
    size_t n = 0;
    for (const char *p = q; *p;) {
        const char *sp = strchr(p, ' ');
        size_t tl = sp ? (size_t)(sp - p) : strlen(p);
        if (tl) {
            if (n == SEARCH_TERMS_MAX)
                return kf_fail(err, KF_E_INVALID, "q", "a search is at most %d words", SEARCH_TERMS_MAX);
            terms[n++] = arena_strndup(a, p, tl);
        }
        p += tl + (sp ? 1 : 0);
    }
    if (n == 0) return kf_fail(err, KF_E_INVALID, "q", "type something to search for");
    *terms_r = terms;
    *n_r = n;
    return 0;
}

char *search_fts_match(struct arena *a, const char *const *terms, size_t n)
{
    size_t cap = 1 + 10;
    for (size_t i = 0; i < n; i++) cap += strlen(terms[i]) * 2 + 3;
    char *out = arena_alloc(a, cap), *w = out;
    memcpy(w, "{body}: (", 9); /* the terms never match the marks column */
    w += 9;
    for (size_t i = 0; i < n; i++) {
        if (i) *w++ = ' ';
        *w++ = '"';
        for (const char *p = terms[i]; *p; p++) {
            if (*p == '"') *w++ = '"';
            *w++ = *p;
        }
        *w++ = '"';
    }
    *w++ = ')';
    *w = '\0';
    return out;
}

struct pg_array {
    struct buf *b;
    bool first;
};

static int pg_array_add(void *arg, const char *tok, size_t len, bool colocated)
{
    (void)colocated;
    struct pg_array *x = arg;
    if (buf_puts(x->b, x->first ? "\"" : ",\"")) return KF_E_NOMEM;
    x->first = false;
    for (size_t i = 0; i < len; i++) {
        if ((tok[i] == '"' || tok[i] == '\\') && buf_append(x->b, "\\", 1)) return KF_E_NOMEM;
        if (buf_append(x->b, tok + i, 1)) return KF_E_NOMEM;
    }
    return buf_append(x->b, "\"", 1) ? KF_E_NOMEM : 0;
}

char *search_pg_array(struct arena *a, const char *const *terms, size_t n, bool terms_only)
{
    struct buf b;
    buf_init(&b, SEARCH_BODY_MAX * 4);
    struct pg_array x = {.b = &b, .first = true};
    int rc = buf_puts(&b, "{");
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t tl = strlen(terms[i]);
        rc = terms_only ? pg_array_add(&x, terms[i], tl, false)
                        : search_tokenize(terms[i], tl, SEARCH_TOKENIZE_QUERY, pg_array_add, &x);
    }
    if (rc == 0) rc = buf_puts(&b, "}");
    char *out = rc == 0 ? arena_strndup(a, b.data, b.len) : NULL;
    buf_free(&b);
    return out;
}

/* Every distinct token of a document as a text[] literal (PostgreSQL's GIN index). */
struct pg_doc_tokens {
    struct pg_array arr;
    const char **seen; /* open-addressing set of token starts, by (ptr, len) hash */
    size_t *seen_len;
    size_t cap;
};

static uint64_t tok_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int pg_doc_add(void *arg, const char *tok, size_t len, bool colocated)
{
    struct pg_doc_tokens *t = arg;
    size_t i = (size_t)(tok_hash(tok, len) & (t->cap - 1));
    for (; t->seen[i]; i = (i + 1) & (t->cap - 1)) {
        if (t->seen_len[i] == len && memcmp(t->seen[i], tok, len) == 0) return 0;
    }
    t->seen[i] = tok;
    t->seen_len[i] = len;
    return pg_array_add(&t->arr, tok, len, colocated);
}

static int pg_doc_array(const char *body, size_t len, struct buf *out)
{
    struct pg_doc_tokens t = {.arr = {.b = out, .first = true}};
    t.cap = 64;
    while (t.cap < len * 4 + 8) t.cap *= 2; /* at most 2 tokens per byte: load ≤ 1/2 */
    t.seen = calloc(t.cap, sizeof *t.seen);
    t.seen_len = calloc(t.cap, sizeof *t.seen_len);
    int rc = t.seen && t.seen_len ? buf_puts(out, "{") : KF_E_NOMEM;
    if (rc == 0) rc = search_tokenize(body, len, SEARCH_TOKENIZE_DOCUMENT, pg_doc_add, &t);
    if (rc == 0) rc = buf_puts(out, "}") ? KF_E_NOMEM : 0;
    free(t.seen);
    free(t.seen_len);
    return rc;
}

/* --- FTS5 ---------------------------------------------------------------------------------------- */

struct fts_cb {
    void *ctx;
    int (*token)(void *, int, const char *, int, int, int);
    const char *base;
};

static int fts_emit(void *arg, const char *tok, size_t len, bool colocated)
{
    struct fts_cb *cb = arg;
    int start = (int)(tok - cb->base);
    return cb->token(cb->ctx, colocated ? FTS5_TOKEN_COLOCATED : 0, tok, (int)len, start, start + (int)len);
}

static int fts_create(void *ctx, const char **argv, int argc, Fts5Tokenizer **out)
{
    (void)ctx;
    (void)argv;
    (void)argc;
    static int dummy;
    *out = (Fts5Tokenizer *)(void *)&dummy; /* stateless */
    return SQLITE_OK;
}

static void fts_delete(Fts5Tokenizer *t)
{
    (void)t;
}

/* The marks column: after its first byte SEARCH_MARKS_LEAD, space-separated words, each one whole
 * token (documents and queries alike). */
static int fts_marks(void *ctx, const char *text, int n, int (*token)(void *, int, const char *, int, int, int))
{
    for (int i = 1; i < n;) {
        while (i < n && text[i] == ' ') i++;
        int j = i;
        while (j < n && text[j] != ' ') j++;
        if (j > i) {
            int rc = token(ctx, 0, text + i, j - i, i, j);
            if (rc != SQLITE_OK) return rc;
        }
        i = j;
    }
    return SQLITE_OK;
}

static int fts_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int n,
                        int (*token)(void *, int, const char *, int, int, int))
{
    (void)t;
    if (!text || n <= 0) return SQLITE_OK;
    /* a body is well-formed UTF-8 and never starts with this byte: only the marks column does */
    if ((unsigned char)text[0] == SEARCH_MARKS_LEAD) return fts_marks(ctx, text, n, token);
    struct fts_cb cb = {ctx, token, text};
    /* queries (also prefix queries, which kefu never writes) get the phrase form */
    enum search_tokenize_mode mode = (flags & FTS5_TOKENIZE_QUERY) ? SEARCH_TOKENIZE_QUERY : SEARCH_TOKENIZE_DOCUMENT;
    return search_tokenize(text, (size_t)n, mode, fts_emit, &cb);
}

/* kefu_ids(rowid, max): an aggregate over a MATCH that counts the rows and keeps the first `max`
 * rowids, in the order they come (FTS5: ascending). Its value is a blob: the count, then the ids
 * when the count is at most max (each an int64 in the machine's order). Collecting inside the
 * statement saves returning every hit to the caller (a third of a common term's count). */
struct fts_ids {
    int64_t n, max, cap;
    int64_t *id;
    bool failed;
};

static void fts_ids_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct fts_ids *a = sqlite3_aggregate_context(ctx, sizeof *a);
    if (!a) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (a->n == 0) a->max = sqlite3_value_int64(argv[1]);
    if (++a->n > a->max || a->failed) return;
    if (a->n > a->cap) {
        int64_t cap = a->cap ? a->cap * 2 : 1024;
        int64_t *grown = sqlite3_realloc64(a->id, (sqlite3_uint64)cap * sizeof *grown);
        if (!grown) {
            a->failed = true;
            sqlite3_result_error_nomem(ctx);
            return;
        }
        a->id = grown;
        a->cap = cap;
    }
    a->id[a->n - 1] = sqlite3_value_int64(argv[0]);
}

static void fts_ids_final(sqlite3_context *ctx)
{
    struct fts_ids *a = sqlite3_aggregate_context(ctx, 0);
    struct fts_ids none = {0};
    if (!a) a = &none;
    if (a->failed) {
        sqlite3_free(a->id);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    int64_t kept = a->n <= a->max ? a->n : 0;
    unsigned char *out = sqlite3_malloc64((sqlite3_uint64)(kept + 1) * sizeof(int64_t));
    if (!out) {
        sqlite3_free(a->id);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    memcpy(out, &a->n, sizeof a->n);
    if (kept) memcpy(out + sizeof(int64_t), a->id, (size_t)kept * sizeof(int64_t));
    sqlite3_free(a->id);
    sqlite3_result_blob64(ctx, out, (sqlite3_uint64)(kept + 1) * sizeof(int64_t), sqlite3_free);
}

/* kefu_search_pending(), called by the insert trigger of 0022: marks its connection's flag (the
 * function's user data, the connection's own), so that the flush before COMMIT runs only when this
 * connection inserted a document. A write rolled back after marking it only costs its flush a
 * statement that finds nothing. */
static void fts_pending_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    *(bool *)sqlite3_user_data(ctx) = true;
    sqlite3_result_null(ctx);
}

int search_sqlite_flush(struct sqlite3 *db, bool *pending)
{
    if (!*pending) return SQLITE_OK;
    int rc = sqlite3_exec(db,
                          "INSERT INTO search_engine_fts (rowid, body, marks) SELECT c.id, c.body, c.marks "
                          "FROM search_engine_pending p JOIN search_engine_fts_content c ON c.id = p.id ORDER BY p.id; "
                          "DELETE FROM search_engine_pending",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK) *pending = false;
    return rc;
}

int search_sqlite_register(struct sqlite3 *db, bool *pending)
{
    int frc = sqlite3_create_function_v2(db, "kefu_ids", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, NULL, fts_ids_step,
                                         fts_ids_final, NULL);
    if (frc == SQLITE_OK) /* called from a trigger: not SQLITE_DIRECTONLY */
        frc = sqlite3_create_function_v2(db, "kefu_search_pending", 0, SQLITE_UTF8, pending, fts_pending_fn, NULL, NULL,
                                         NULL);
    if (frc != SQLITE_OK) return frc;
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (!api) return SQLITE_ERROR;
    static fts5_tokenizer tok = {fts_create, fts_delete, fts_tokenize};
    return api->xCreateTokenizer(api, "kefu", NULL, &tok, NULL);
}

/* --- writes -------------------------------------------------------------------------------------- */

static bool search_is_pg(struct store_conn *c)
{
    return strcmp(c->drv->name, "postgres") == 0;
}

/* Sets the shadowed flag of a request's public document: 1 exactly while a staff one exists. */
static int search_shadow(struct store_conn *c, const char *kind, int64_t object_id, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE search_docs SET shadowed = (SELECT count(*) FROM search_docs s WHERE s.kind = $1 "
                           "AND s.object_id = $2 AND s.scope = 'staff') WHERE kind = $1 AND object_id = $2 "
                           "AND scope = 'public'",
                           &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, kind, (size_t)-1);
    store_bind_int64(st, 2, object_id);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int sd_put(struct store_conn *c, const char *kind, int64_t object_id, int64_t client_id, const char *scope,
                  int64_t created, const char *text, bool alone, struct kf_err *err)
{
    struct buf body;
    buf_init(&body, SEARCH_BODY_MAX);
    int rc = search_normalize(text ? text : "", text ? strlen(text) : 0, &body);
    if (rc) {
        buf_free(&body);
        return kf_fail(err, rc, NULL, "search: cannot normalise the text of %s %" PRId64, kind, object_id);
    }
    struct store_stmt *st;
    rc = store_prepare(c,
                       "INSERT INTO search_docs (id, kind, object_id, client_id, scope, shadowed, created, body) "
                       "VALUES ($1, $2, $3, $4, $5, 0, $6, $7) ON CONFLICT (kind, object_id, scope) DO UPDATE SET "
                       "client_id = excluded.client_id, created = excluded.created, body = excluded.body "
                       "RETURNING id",
                       &st, err);
    int64_t doc_id = 0;
    if (rc == 0) {
        store_bind_int64(st, 1, id_new(created));
        store_bind_text(st, 2, kind, (size_t)-1);
        store_bind_int64(st, 3, object_id);
        store_bind_int64(st, 4, client_id);
        store_bind_text(st, 5, scope, (size_t)-1);
        store_bind_int64(st, 6, created);
        store_bind_text(st, 7, body.data ? body.data : "", body.len);
        rc = store_step(st, err);
        if (rc == STORE_ROW) doc_id = store_col_int64(st, 0), rc = 0;
        else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_STORAGE, NULL, "search: no document id");
        store_finalize(&st);
    }
    if (rc == 0 && search_is_pg(c)) {
        struct buf arr;
        buf_init(&arr, SEARCH_BODY_MAX * 8);
        rc = pg_doc_array(body.data ? body.data : "", body.len, &arr);
        if (rc) rc = kf_fail(err, rc, NULL, "search: tokens");
        if (rc == 0)
            rc = store_prepare(c,
                               "INSERT INTO search_engine_tokens (doc_id, tokens) VALUES ($1, $2::text[]) "
                               "ON CONFLICT (doc_id) DO UPDATE SET tokens = excluded.tokens",
                               &st, err);
        if (rc == 0) {
            store_bind_int64(st, 1, doc_id);
            store_bind_text(st, 2, arr.data, arr.len);
            rc = store_step(st, err);
            store_finalize(&st);
            if (rc > 0) rc = 0;
        }
        buf_free(&arr);
    }
    buf_free(&body);
    if (rc == 0 && !alone && strcmp(kind, "request") == 0) rc = search_shadow(c, kind, object_id, err);
    return rc < 0 ? rc : 0;
}

int search_index_put(struct store_conn *c, const char *kind, int64_t object_id, int64_t client_id, const char *scope,
                     int64_t created, const char *text, struct kf_err *err)
{
    return sd_put(c, kind, object_id, client_id, scope, created, text, false, err);
}

int search_index_put_alone(struct store_conn *c, const char *kind, int64_t object_id, int64_t client_id,
                           const char *scope, int64_t created, const char *text, struct kf_err *err)
{
    return sd_put(c, kind, object_id, client_id, scope, created, text, true, err);
}

/* Runs `sql`, a DELETE whose $1 is the kind, $2 the object's id and $3 the scope ("" for every one). */
static int sd_delete(struct store_conn *c, const char *sql, const char *kind, int64_t object_id, const char *scope,
                     struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, kind, (size_t)-1);
    store_bind_int64(st, 2, object_id);
    store_bind_text(st, 3, scope ? scope : "", (size_t)-1);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int search_index_delete(struct store_conn *c, const char *kind, int64_t object_id, const char *scope,
                        struct kf_err *err)
{
    int rc;
    if (search_is_pg(c) && /* the tokens row first: it refers to the document */
        (rc = sd_delete(c,
                        "DELETE FROM search_engine_tokens WHERE doc_id IN (SELECT id FROM search_docs WHERE "
                        "kind = $1 AND object_id = $2 AND (scope = $3 OR $3 = ''))",
                        kind, object_id, scope, err)) != 0)
        return rc;
    rc = sd_delete(c, "DELETE FROM search_docs WHERE kind = $1 AND object_id = $2 AND (scope = $3 OR $3 = '')", kind,
                   object_id, scope, err);
    if (rc) return rc;
    return strcmp(kind, "request") == 0 ? search_shadow(c, kind, object_id, err) : 0;
}

/* --- reads --------------------------------------------------------------------------------------- */

/* Parameters, the same on both engines: $1 the engine's match ($2 PostgreSQL's terms), $3 kind,
 * $4 staff, $5 own client, $6 client filter, $7 status, $8 priority, $9 assignee, $10 channel,
 * $11 from, $12 to, $13 SLA state (requests.sla_state, kept by the queue's migration 0019); the page
 * adds $14/$15 (keyset) and $16 (limit). */
#define SD_VISIBLE                                                                                        \
    " AND d.kind = $3 AND ((d.scope = 'staff' OR d.shadowed = 0) AND $4 = 1 OR d.scope = 'public' AND $4 = 0)" \
    " AND (d.client_id = $5 OR $5 = 0) AND (d.client_id = $6 OR $6 = 0) AND d.created >= $11 AND d.created < $12"
#define SQ_REQUEST " CROSS JOIN requests r ON r.id = d.object_id AND r.client_id = d.client_id"
#define PG_REQUEST " JOIN requests r ON r.id = d.object_id AND r.client_id = d.client_id"
#define SD_REQUEST_WHERE                                                                              \
    " AND (r.status = $7 OR $7 = '') AND (r.priority = $8 OR $8 = 0) AND (r.assignee_id = $9 OR $9 = 0)" \
    " AND (r.channel = $10 OR $10 = '') AND (r.sla_state = $13 OR $13 = '')"
#define SD_OTHER_WHERE                                                                                \
    " AND ($7 = '' OR $7 <> '') AND ($8 = 0 OR $8 <> 0) AND ($9 = 0 OR $9 <> 0) AND ($10 = '' OR $10 <> '')" \
    " AND ($13 = '' OR $13 <> '')"
/* newest first, ties by the object's id (time-ordered, the same on both engines); one document per
 * object is visible to any one searcher, so (created, object_id) is a key of the hits */
#define SD_PAGE                                                                                       \
    " AND (d.created < $14 OR d.created = $14 AND d.object_id < $15) ORDER BY d.created DESC, d.object_id DESC" \
    " LIMIT $16"
#define SD_COLS "d.id, d.object_id, d.client_id, d.created, d.scope, d.body"

/* CROSS JOIN: SQLite keeps the FTS5 match as the outer loop (else it may probe the match per row) */
#define SQ_FROM " FROM search_engine_fts CROSS JOIN search_docs d ON d.id = search_engine_fts.rowid"
#define SQ_MATCH " WHERE search_engine_fts MATCH $1 AND ($2 = '' OR $2 <> '')"
#define PG_FROM " FROM search_docs d JOIN search_engine_tokens t ON t.doc_id = d.id"
#define PG_MATCH                                                                                      \
    " WHERE t.tokens @> $1::text[] AND NOT EXISTS (SELECT 1 FROM unnest($2::text[]) AS q(term) WHERE " \
    "strpos(d.body, q.term) = 0)"

static const char *const sd_sql[2][2][2] = {
    /* [pg][request][page] */
    {{"SELECT count(*)" SQ_FROM SQ_MATCH SD_VISIBLE SD_OTHER_WHERE,
      "SELECT " SD_COLS SQ_FROM SQ_MATCH SD_VISIBLE SD_OTHER_WHERE SD_PAGE},
     {"SELECT count(*)" SQ_FROM SQ_REQUEST SQ_MATCH SD_VISIBLE SD_REQUEST_WHERE,
      "SELECT " SD_COLS SQ_FROM SQ_REQUEST SQ_MATCH SD_VISIBLE SD_REQUEST_WHERE SD_PAGE}},
    {{"SELECT count(*)" PG_FROM PG_MATCH SD_VISIBLE SD_OTHER_WHERE,
      "SELECT " SD_COLS PG_FROM PG_MATCH SD_VISIBLE SD_OTHER_WHERE SD_PAGE},
     {"SELECT count(*)" PG_FROM PG_REQUEST PG_MATCH SD_VISIBLE SD_REQUEST_WHERE,
      "SELECT " SD_COLS PG_FROM PG_REQUEST PG_MATCH SD_VISIBLE SD_REQUEST_WHERE SD_PAGE}},
};

static void sd_bind(struct store_stmt *st, const struct search_docs_query *q, const char *match, const char *terms,
                    bool page)
{
    store_bind_text(st, 1, match, (size_t)-1);
    store_bind_text(st, 2, terms, (size_t)-1);
    store_bind_text(st, 3, q->kind, (size_t)-1);
    store_bind_int64(st, 4, q->staff ? 1 : 0);
    store_bind_int64(st, 5, q->own_client_id);
    store_bind_int64(st, 6, q->client_id);
    store_bind_text(st, 7, q->status ? q->status : "", (size_t)-1);
    store_bind_int64(st, 8, q->priority);
    store_bind_int64(st, 9, q->assignee_id);
    store_bind_text(st, 10, q->channel ? q->channel : "", (size_t)-1);
    store_bind_int64(st, 11, q->from_ms ? q->from_ms : INT64_MIN);
    store_bind_int64(st, 12, q->to_ms ? q->to_ms : INT64_MAX);
    store_bind_text(st, 13, q->sla_state ? q->sla_state : "", (size_t)-1);
    if (!page) return;
    store_bind_int64(st, 14, q->after_id ? q->after_created : INT64_MAX);
    store_bind_int64(st, 15, q->after_id ? q->after_id : INT64_MAX);
    store_bind_int64(st, 16, q->limit);
}

/* SQLite, the count from the FTS5 index alone (the marks column, migration 0020): the terms, the
 * searcher's client and the client filter as c<id> marks, and NOT the documents this searcher does
 * not see for this kind (x<kind> for provider staff, y<kind> for everyone else). Exactly SD_VISIBLE
 * without dates: c<id> ⇔ client_id = id; NOT x<kind> ⇔ kind = <kind> AND (scope 'staff' OR not
 * shadowed); NOT y<kind> ⇔ kind = <kind> AND scope 'public'. */
static const char *sq_marks_match(struct arena *a, const char *terms_match, const struct search_docs_query *q)
{
    char lead[2] = {(char)SEARCH_MARKS_LEAD, '\0'};
    const char *own = q->own_client_id ? arena_printf(a, " AND {marks}: \"%sc%" PRId64 "\"", lead, q->own_client_id) : "";
    const char *flt = q->client_id ? arena_printf(a, " AND {marks}: \"%sc%" PRId64 "\"", lead, q->client_id) : "";
    return arena_printf(a, "((%s)%s%s) NOT {marks}: \"%s%c%s\"", terms_match, own, flt, lead, q->staff ? 'x' : 'y',
                        q->kind);
}

static bool sd_no_request_filter(const struct search_docs_query *q)
{
    return (!q->status || !*q->status) && !q->priority && !q->assignee_id && (!q->channel || !*q->channel) &&
           (!q->sla_state || !*q->sla_state);
}

/* SQLite, the page by walking search_docs_newest from the cursor (newest first), each row tested by
 * instr on its normalised body for every term — exactly the substring semantics the FTS5 phrases
 * give — and by the SD_VISIBLE conditions: `ok` is computed, not filtered, so that every row walked
 * counts against the budget. $17..$26 the terms ('' for unused slots: instr(x, '') is 1). */
#define SQ_WALK_TERMS 10
#define SQ_WALK                                                                                            \
    "SELECT " SD_COLS ", (instr(d.body, $17) > 0 AND instr(d.body, $18) > 0 AND instr(d.body, $19) > 0"     \
    " AND instr(d.body, $20) > 0 AND instr(d.body, $21) > 0 AND instr(d.body, $22) > 0"                     \
    " AND instr(d.body, $23) > 0 AND instr(d.body, $24) > 0 AND instr(d.body, $25) > 0"                     \
    " AND instr(d.body, $26) > 0" SD_VISIBLE SD_OTHER_WHERE " AND ($1 = '' OR $1 <> '') AND ($2 = '' OR $2 <> '')" \
    " AND ($16 = 0 OR $16 <> 0)) AS ok FROM search_docs d WHERE d.kind = $3 AND (d.created, d.object_id) < ($14, $15)" \
    " ORDER BY d.created DESC, d.object_id DESC"

static void sd_hit_read(struct store_stmt *st, struct arena *a, struct search_doc_hit *h)
{
    h->doc_id = store_col_int64(st, 0);
    h->object_id = store_col_int64(st, 1);
    h->client_id = store_col_int64(st, 2);
    h->created = store_col_int64(st, 3);
    h->scope = arena_strdup(a, store_col_text(st, 4, NULL));
    size_t bl = 0;
    const char *b = store_col_text(st, 5, &bl);
    h->body = arena_strndup(a, b ? b : "", bl);
}

/* Walks at most `budget` rows; *done_r: the page is exact (it is full, or the walk reached the
 * oldest document); else the caller takes the FTS5 plan. */
static int sq_walk(struct store_conn *c, struct arena *a, const struct search_docs_query *q, int64_t budget,
                   struct search_doc_hit *hits, size_t *n_r, bool *done_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, SQ_WALK, &st, err);
    if (rc) return rc;
    sd_bind(st, q, "", "", true);
    for (int i = 0; i < SQ_WALK_TERMS; i++)
        store_bind_text(st, 17 + i, (size_t)i < q->n_terms ? q->terms[i] : "", (size_t)-1);
    size_t n = 0;
    int64_t walked = 0;
    *done_r = false;
    while ((rc = store_step(st, err)) == STORE_ROW) {
        if (store_col_int64(st, 6)) sd_hit_read(st, a, &hits[n++]);
        if (n == (size_t)q->limit) {
            *done_r = true;
            break;
        }
        if (++walked >= budget) break;
    }
    if (rc == STORE_DONE) *done_r = true;
    store_finalize(&st);
    if (rc < 0) return rc;
    *n_r = n;
    return 0;
}

/* SQLite, the hits of a fast search as their document ids in ascending order (FTS5 gives them so:
 * ORDER BY rowid is its native order), so the page can walk search_docs_newest alone (the index
 * holds the id) and test membership by binary search: a walked entry costs ~0.1 us instead of a
 * row read and instr. A sorted array, not a hash set: it is written in order (no random stores into
 * megabytes, which cost a cache miss a hit) and nothing has to be zeroed first. Kept up to
 * search_sqlite_set_max hits (8 bytes each, in the request's arena). */
int64_t search_sqlite_set_max = 2000000;
struct sq_ids {
    int64_t *id; /* ascending; NULL when the hits were more than search_sqlite_set_max */
    size_t n;
};

static bool sq_ids_has(const struct sq_ids *s, int64_t id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->id[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->id[lo] == id;
}

static int sq_id_cmp(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Counts the hits of `match` into *total_r; fills *ids (arena) when they are at most
 * search_sqlite_set_max. One row: kefu_ids collects them inside the statement. */
static int sq_count_ids(struct store_conn *c, struct arena *a, const char *match, int64_t *total_r,
                        struct sq_ids *ids, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT kefu_ids(rowid, $2) FROM search_engine_fts WHERE search_engine_fts MATCH $1",
                           &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, match, (size_t)-1);
    store_bind_int64(st, 2, search_sqlite_set_max);
    rc = store_step(st, err);
    size_t len = 0;
    const unsigned char *blob = rc == STORE_ROW ? store_col_blob(st, 0, &len) : NULL;
    if (rc == STORE_ROW && (len < sizeof(int64_t) || len % sizeof(int64_t)))
        rc = kf_fail(err, KF_E_STORAGE, NULL, "search: kefu_ids gave %zu bytes", len);
    if (rc != STORE_ROW) {
        store_finalize(&st);
        return rc < 0 ? rc : kf_fail(err, KF_E_STORAGE, NULL, "search: the count gave no row");
    }
    int64_t n;
    memcpy(&n, blob, sizeof n);
    size_t kept = len / sizeof(int64_t) - 1;
    bool keep = n <= search_sqlite_set_max;
    if (keep) {
        ids->id = arena_alloc(a, sizeof *ids->id * (kept ? kept : 1));
        if (!ids->id) {
            store_finalize(&st);
            return kf_fail(err, KF_E_NOMEM, NULL, NULL);
        }
        if (kept) memcpy(ids->id, blob + sizeof(int64_t), kept * sizeof *ids->id);
        ids->n = kept;
    }
    store_finalize(&st);
    bool sorted = true;
    for (size_t i = 1; i < ids->n && sorted; i++) sorted = ids->id[i - 1] < ids->id[i];
    if (!sorted) qsort(ids->id, ids->n, sizeof *ids->id, sq_id_cmp);
    *total_r = n;
    return 0;
}

/* `ids` as a JSON array into js (initialised here; the caller frees it): how a list of ids is bound
 * as one parameter (SELECT value FROM json_each($1)). */
static int sq_ids_json(struct buf *js, const int64_t *ids, size_t n, struct kf_err *err)
{
    buf_init(js, 20 * n + 8);
    int rc = buf_puts(js, "[");
    for (size_t i = 0; i < n && rc == 0; i++) rc = buf_printf(js, "%s%" PRId64, i ? "," : "", ids[i]);
    if (rc == 0) rc = buf_puts(js, "]");
    if (rc == 0) return 0;
    buf_free(js);
    return kf_fail(err, KF_E_NOMEM, NULL, NULL);
}

/* Reads the rows of `n` documents (newest first) into hits: one statement, the ids as a JSON array
 * (a bound parameter). */
static int sq_rows_of_ids(struct store_conn *c, struct arena *a, const int64_t *ids, size_t n,
                          struct search_doc_hit *hits, struct kf_err *err)
{
    struct buf js;
    int rc = sq_ids_json(&js, ids, n, err);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT " SD_COLS " FROM search_docs d WHERE d.id IN (SELECT value FROM json_each($1))"
                       " ORDER BY d.created DESC, d.object_id DESC",
                       &st, err);
    if (rc == 0) {
        store_bind_text(st, 1, js.data, js.len);
        size_t got = 0;
        while (got < n && (rc = store_step(st, err)) == STORE_ROW) sd_hit_read(st, a, &hits[got++]);
        store_finalize(&st);
        if (rc >= 0 && got != n) rc = kf_fail(err, KF_E_STORAGE, NULL, "search: a document vanished");
    }
    buf_free(&js);
    return rc < 0 ? rc : 0;
}

/* Walks search_docs_newest from the cursor, at most `budget` entries, taking the ids in `set`;
 * *done_r as for sq_walk. The hits' rows are read afterwards, one lookup each. */
static int sq_walk_ids(struct store_conn *c, struct arena *a, const struct search_docs_query *q,
                       const struct sq_ids *set, int64_t budget, struct search_doc_hit *hits, size_t *n_r,
                       bool *done_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT d.id FROM search_docs d WHERE d.kind = $1 AND (d.created, d.object_id) < ($2, $3)"
                           " ORDER BY d.created DESC, d.object_id DESC",
                           &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, q->kind, (size_t)-1);
    store_bind_int64(st, 2, q->after_id ? q->after_created : INT64_MAX);
    store_bind_int64(st, 3, q->after_id ? q->after_id : INT64_MAX);
    int64_t *ids = arena_zalloc(a, sizeof *ids * (size_t)q->limit), walked = 0;
    size_t n = 0;
    *done_r = false;
    while ((rc = store_step(st, err)) == STORE_ROW) {
        int64_t id = store_col_int64(st, 0);
        if (sq_ids_has(set, id)) ids[n++] = id;
        if (n == (size_t)q->limit) {
            *done_r = true;
            break;
        }
        if (++walked >= budget) break;
    }
    if (rc == STORE_DONE) *done_r = true;
    store_finalize(&st);
    if (rc < 0) return rc;
    *n_r = 0;
    if (!*done_r || n == 0) return 0;
    if ((rc = sq_rows_of_ids(c, a, ids, n, hits, err)) != 0) return rc;
    *n_r = n;
    return 0;
}

/* The page of a rare term from its ids: the newest `limit` after the cursor among them, by one
 * lookup of each hit's (created, object_id) — no second FTS5 query, no text read but the page's. */
static int sq_page_of_ids(struct store_conn *c, struct arena *a, const struct search_docs_query *q,
                          const struct sq_ids *set, struct search_doc_hit *hits, size_t *n_r, struct kf_err *err)
{
    *n_r = 0;
    if (set->n == 0) return 0;
    struct buf js;
    int rc = sq_ids_json(&js, set->id, set->n, err);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT d.id FROM search_docs d WHERE d.id IN (SELECT value FROM json_each($1))"
                       " AND (d.created < $2 OR d.created = $2 AND d.object_id < $3)"
                       " ORDER BY d.created DESC, d.object_id DESC LIMIT $4",
                       &st, err);
    int64_t *ids = arena_zalloc(a, sizeof *ids * (size_t)q->limit);
    size_t n = 0;
    if (rc == 0) {
        store_bind_text(st, 1, js.data, js.len);
        store_bind_int64(st, 2, q->after_id ? q->after_created : INT64_MAX);
        store_bind_int64(st, 3, q->after_id ? q->after_id : INT64_MAX);
        store_bind_int64(st, 4, q->limit);
        while (n < (size_t)q->limit && (rc = store_step(st, err)) == STORE_ROW) ids[n++] = store_col_int64(st, 0);
        store_finalize(&st);
    }
    buf_free(&js);
    if (rc < 0) return rc;
    if (n && (rc = sq_rows_of_ids(c, a, ids, n, hits, err)) != 0) return rc;
    *n_r = n;
    return 0;
}

/* The set walk's budget: index entries per hit (an entry ~0.2 us, a hit of the FTS5 page ~6 us). */
#define SQ_SET_WALK_PER_HIT 25

/* The walk's budget in rows: SQ_WALK_PER_HIT rows per hit of the FTS5 plan it may save (measured on
 * 1M requests: a walked row ~1-4 us, a hit of the FTS5 page ~8 us), so a walk that fails costs a
 * fraction of the plan it falls back to; none when the hits are fewer than a page. */
#define SQ_WALK_PER_HIT 3
#define SQ_WALK_MAX 200000

int search_docs_query(struct store_conn *c, struct arena *a, const struct search_docs_query *q, int64_t *total_r,
                      struct search_doc_hit **hits_r, size_t *n_r, struct kf_err *err)
{
    bool pg = search_is_pg(c), request = strcmp(q->kind, "request") == 0;
    const char *match = pg ? search_pg_array(a, q->terms, q->n_terms, false) : search_fts_match(a, q->terms, q->n_terms);
    const char *terms = pg ? search_pg_array(a, q->terms, q->n_terms, true) : "";
    if (!match || !terms) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    int limit = q->limit >= 1 && q->limit <= 100 ? q->limit : 20;
    struct search_docs_query qq = *q;
    qq.limit = limit;
    /* SQLite without row filters: the count from the index alone, and the page may walk */
    bool fast = !pg && !q->from_ms && !q->to_ms && sd_no_request_filter(q) && q->n_terms <= SQ_WALK_TERMS;
    struct store_stmt *st;
    int rc;
    struct sq_ids set = {0};
    if (fast) {
        if ((rc = sq_count_ids(c, a, sq_marks_match(a, match, &qq), total_r, &set, err)) != 0) return rc;
    } else {
        rc = store_prepare(c, sd_sql[pg][request][0], &st, err);
        if (rc) return rc;
        sd_bind(st, &qq, match, terms, false);
        rc = store_step(st, err);
        if (rc == STORE_ROW) *total_r = store_col_int64(st, 0);
        store_finalize(&st);
        if (rc < 0) return rc;
    }
    struct search_doc_hit *hits = arena_zalloc(a, sizeof *hits * (size_t)limit);
    size_t n = 0;
    if (fast && set.id) {
        /* walk the newest documents while that is cheaper than a lookup per hit, else look them up */
        int64_t budget = *total_r * SQ_SET_WALK_PER_HIT;
        bool done = *total_r == 0;
        if (!done) rc = sq_walk_ids(c, a, &qq, &set, budget < SQ_WALK_MAX ? budget : SQ_WALK_MAX, hits, &n, &done, err);
        if (rc == 0 && !done) rc = sq_page_of_ids(c, a, &qq, &set, hits, &n, err);
        if (rc) return rc;
        *hits_r = hits;
        *n_r = n;
        return 0;
    }
    /* the plan (DESIGN in docs/search.md): common terms walk the newest documents, rare ones take
     * the FTS5 hits; a walk that runs out of budget falls back, so neither costs much over the other */
    if (fast && *total_r >= limit) {
        int64_t budget = *total_r * SQ_WALK_PER_HIT;
        bool done = false;
        rc = sq_walk(c, a, &qq, budget < SQ_WALK_MAX ? budget : SQ_WALK_MAX, hits, &n, &done, err);
        if (rc) return rc;
        if (done) {
            *hits_r = hits;
            *n_r = n;
            return 0;
        }
        n = 0;
        memset(hits, 0, sizeof *hits * (size_t)limit);
    }
    if ((rc = store_prepare(c, sd_sql[pg][request][1], &st, err)) != 0) return rc;
    sd_bind(st, &qq, match, terms, true);
    while (n < (size_t)limit && (rc = store_step(st, err)) == STORE_ROW) sd_hit_read(st, a, &hits[n++]);
    store_finalize(&st);
    if (rc < 0) return rc;
    *hits_r = hits;
    *n_r = n;
    return 0;
}
