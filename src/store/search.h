/* The search index (DESIGN.md "Search"; docs/search.md): kefu's own tokenizer (overlapping
 * character bigrams plus unigrams, every script), its registration as the SQLite FTS5 tokenizer
 * "kefu", and the writes and reads of search_docs with each engine's index behind them.
 *
 * Ownership: search_docs.body is the normalised text (normalize_name: NFKC + case folding, white
 * space runs → one space, trimmed) of the parts of one object joined by one space; the original
 * text stays in its own rows. Hits returned by search_docs_query live in the caller's arena. */
#ifndef KEFU_STORE_SEARCH_H
#define KEFU_STORE_SEARCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

struct sqlite3;
struct store_conn;
struct arena;

#define SEARCH_TERMS_MAX 10            /* terms of one query */
#define SEARCH_QUERY_CHARS_MAX 200     /* code points of one query */
#define SEARCH_BODY_MAX (8u << 20)     /* bytes of one normalised document */
#define SEARCH_MARKS_LEAD 0xFF        /* first byte of the FTS5 marks column (never of UTF-8 text) */

enum search_tokenize_mode {
    SEARCH_TOKENIZE_DOCUMENT, /* every unigram at its own position, the bigram starting there colocated */
    SEARCH_TOKENIZE_QUERY,    /* one term: its n-1 bigrams at consecutive positions, or its unigram */
};

/* Called for each token (bytes of s, not NUL-terminated); `colocated`: same position as the
 * previous token. A non-zero return stops the tokenizer and is returned by it. */
typedef int (*search_token_fn)(void *arg, const char *tok, size_t len, bool colocated);

/* Tokenizes s[0..len) by code point. A byte that does not start a well-formed UTF-8 sequence
 * (invalid input, lone surrogates) counts as one unit of its own, so nothing is skipped and
 * nothing crashes. Pure: no allocation. Returns 0 or what `fn` returned. */
int search_tokenize(const char *s, size_t len, enum search_tokenize_mode mode, search_token_fn fn, void *arg);

/* The normalised form used for documents and queries (appends to out; see normalize_name). */
int search_normalize(const char *s, size_t len, struct buf *out);

/* Splits a normalised query (`q`, as search_normalize made it) at its spaces into at most
 * SEARCH_TERMS_MAX terms (arena copies). KF_E_INVALID (field "q") when empty, longer than
 * SEARCH_QUERY_CHARS_MAX code points or of more terms. */
int search_split_terms(struct arena *a, const char *q, const char ***terms_r, size_t *n_r, struct kf_err *err);

/* The FTS5 MATCH expression of the terms: each term one quoted string (`"` doubled), so FTS
 * syntax in a query is text; the tokenizer's query mode turns each into its phrase of bigrams. */
char *search_fts_match(struct arena *a, const char *const *terms, size_t n);

/* A PostgreSQL text[] literal of the GIN tokens every hit must hold (each term's bigrams, or its
 * unigram), or of the terms themselves with `terms_only`. */
char *search_pg_array(struct arena *a, const char *const *terms, size_t n, bool terms_only);

/* Registers the tokenizer "kefu" with FTS5 and the functions kefu_ids and kefu_search_pending on
 * one SQLite connection (sqlite.c, every connection, before migrations run); `pending` is the
 * connection's flag for search_sqlite_flush and must live as long as the connection. 0 or an
 * SQLite error code. */
int search_sqlite_register(struct sqlite3 *db, bool *pending);

/* Indexes in FTS5 the documents the connection `db` inserted since its last flush
 * (migration 0022: their insert waits in search_engine_pending so that a batch writes one FTS5
 * segment instead of one per write). The writer runs it inside the batch's transaction just before
 * COMMIT; it does nothing when *pending (the flag given to search_sqlite_register for this
 * connection, which the insert trigger sets) is false. 0 or an SQLite error code. */
int search_sqlite_flush(struct sqlite3 *db, bool *pending);

/* Replaces the document (kind, object_id, scope) with the normalised `text` (NULL: empty). Runs on
 * a write connection inside a store_write function; kind "request" | "agreement" | "notice", scope
 * "public" | "staff". A request's public document is shadowed (hidden from provider staff, who see
 * the staff document instead) exactly while its staff document exists. */
int search_index_put(struct store_conn *c, const char *kind, int64_t object_id, int64_t client_id, const char *scope,
                     int64_t created, const char *text, struct kf_err *err);

/* search_index_put for an object's only document, new in this write (a request just created has no
 * staff document): the shadow flag stays 0 without the statement that recomputes it. */
int search_index_put_alone(struct store_conn *c, const char *kind, int64_t object_id, int64_t client_id,
                           const char *scope, int64_t created, const char *text, struct kf_err *err);

/* Removes the document (kind, object_id, scope), or all of the object's with scope NULL. */
int search_index_delete(struct store_conn *c, const char *kind, int64_t object_id, const char *scope,
                        struct kf_err *err);

/* What one query asks of search_docs. Strings "" and ids 0 mean "no filter". */
struct search_docs_query {
    const char *kind;            /* "request", "agreement", "notice" */
    const char *const *terms;    /* normalised, non-empty, no spaces */
    size_t n_terms;
    bool staff;                  /* provider staff: staff docs and unshadowed public ones; else public only */
    int64_t own_client_id;       /* a client user's client: only its documents (0: provider staff) */
    int64_t client_id;           /* filter */
    const char *status;          /* requests only */
    int priority;
    int64_t assignee_id;
    const char *channel;
    int64_t from_ms, to_ms;      /* created in [from, to); 0: open */
    const char *sla_state;       /* requests.sla_state ("running", "breached", …); NULL/"": any */
    int64_t after_created, after_id; /* keyset (created, object_id): hits strictly older; 0: from the newest */
    int limit;                   /* 1..100 */
};

struct search_doc_hit {
    int64_t doc_id, object_id, client_id, created;
    const char *scope;
    const char *body;            /* normalised */
};

/* The total number of hits and the newest `limit` of them after the cursor (newest first:
 * created DESC, object_id DESC). Hits and bodies in `a`. Exact on both engines: SQLite by FTS5 phrases,
 * PostgreSQL by GIN candidates (text[] @>) and a strpos check of every term. */
/* SQLite: the most hits whose ids a search keeps in memory to page by the newest index alone
 * (at most 2000000, the default: 8 bytes each, sorted, in the request's arena). Above it, the page
 * walks rows and tests their text. Lowered by the unit tests to hold every plan to the scan. */
extern int64_t search_sqlite_set_max;

int search_docs_query(struct store_conn *c, struct arena *a, const struct search_docs_query *q, int64_t *total_r,
                      struct search_doc_hit **hits_r, size_t *n_r, struct kf_err *err);

#endif
