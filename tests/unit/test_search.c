/* Unit tests of the search index (store/search.h): the tokenizer (positions, colocated unigrams,
 * every script, emoji, invalid UTF-8 and lone surrogates), query building (terms, the FTS5 match
 * with FTS syntax as text, PostgreSQL array literals), and the index end to end in-process on both
 * engines: substring semantics, visibility of staff documents, filters and the keyset. */
#include "harness.h"

#include "core/arena.h"
#include "store/search.h"

#define T_NOW_MS 1700000000000LL
#define T_OK(expr)                                                                               \
    do {                                                                                         \
        int t_rc_ = (expr);                                                                      \
        if (t_rc_ != 0) fail_msg("%s: rc %d (%s)", #expr, t_rc_, err.detail);                    \
    } while (0)

struct toks {
    char items[64][16];
    bool coloc[64];
    int n;
};

static int collect(void *arg, const char *tok, size_t len, bool colocated)
{
    struct toks *t = arg;
    if (t->n == 64 || len >= 16) return -99;
    memcpy(t->items[t->n], tok, len);
    t->items[t->n][len] = '\0';
    t->coloc[t->n++] = colocated;
    return 0;
}

static void test_document_mode_emits_unigrams_with_colocated_bigrams(void **state)
{
    (void)state;
    struct toks t = {0};
    assert_int_equal(search_tokenize("打印机", strlen("打印机"), SEARCH_TOKENIZE_DOCUMENT, collect, &t), 0);
    assert_int_equal(t.n, 5);
    assert_string_equal(t.items[0], "打");
    assert_false(t.coloc[0]);
    assert_string_equal(t.items[1], "打印");
    assert_true(t.coloc[1]);
    assert_string_equal(t.items[2], "印");
    assert_false(t.coloc[2]);
    assert_string_equal(t.items[3], "印机");
    assert_true(t.coloc[3]);
    assert_string_equal(t.items[4], "机");
    /* every bigram, also across a space: positions never jump */
    memset(&t, 0, sizeof t);
    assert_int_equal(search_tokenize("a b", 3, SEARCH_TOKENIZE_DOCUMENT, collect, &t), 0);
    assert_int_equal(t.n, 5);
    assert_string_equal(t.items[1], "a ");
    assert_string_equal(t.items[2], " ");
    assert_string_equal(t.items[3], " b");
}

static void test_query_mode_is_the_bigram_phrase_or_the_unigram(void **state)
{
    (void)state;
    struct toks t = {0};
    assert_int_equal(search_tokenize("hp-1", 4, SEARCH_TOKENIZE_QUERY, collect, &t), 0);
    assert_int_equal(t.n, 3);
    assert_string_equal(t.items[0], "hp");
    assert_string_equal(t.items[1], "p-");
    assert_string_equal(t.items[2], "-1");
    for (int i = 0; i < 3; i++) assert_false(t.coloc[i]);
    memset(&t, 0, sizeof t);
    assert_int_equal(search_tokenize("盘", strlen("盘"), SEARCH_TOKENIZE_QUERY, collect, &t), 0);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.items[0], "盘");
}

static void test_every_script_emoji_and_invalid_bytes_are_units(void **state)
{
    (void)state;
    /* Cyrillic, Arabic, Thai, an emoji (4 bytes) */
    const char *s = "жا\xe0\xb8\x81\xf0\x9f\x98\x80";
    struct toks t = {0};
    assert_int_equal(search_tokenize(s, strlen(s), SEARCH_TOKENIZE_DOCUMENT, collect, &t), 0);
    assert_int_equal(t.n, 7);
    assert_string_equal(t.items[6], "\xf0\x9f\x98\x80");
    /* invalid UTF-8, a lone surrogate (ED A0 80), a truncated sequence: one unit per bad byte */
    const char bad[] = "\xff\xed\xa0\x80x\xe6\x89";
    memset(&t, 0, sizeof t);
    assert_int_equal(search_tokenize(bad, sizeof bad - 1, SEARCH_TOKENIZE_DOCUMENT, collect, &t), 0);
    assert_int_equal(t.n, 7 * 2 - 1);
    memset(&t, 0, sizeof t);
    assert_int_equal(search_tokenize(bad, sizeof bad - 1, SEARCH_TOKENIZE_QUERY, collect, &t), 0);
    assert_int_equal(t.n, 6);
    /* empty input emits nothing; a callback's refusal stops the tokenizer */
    memset(&t, 0, sizeof t);
    assert_int_equal(search_tokenize("", 0, SEARCH_TOKENIZE_DOCUMENT, collect, &t), 0);
    assert_int_equal(t.n, 0);
    char big[80];
    memset(big, 'a', sizeof big);
    memset(&t, 0, sizeof t);
    assert_int_equal(search_tokenize(big, sizeof big, SEARCH_TOKENIZE_DOCUMENT, collect, &t), -99);
}

static void test_terms_and_match_expressions_keep_fts_syntax_as_text(void **state)
{
    (void)state;
    struct arena *a = arena_new(4096);
    struct kf_err err;
    const char **terms;
    size_t n;
    assert_int_equal(search_split_terms(a, "\"a\" near( -x", &terms, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(search_fts_match(a, terms, n), "{body}: (\"\"\"a\"\"\" \"near(\" \"-x\")");
    assert_string_equal(search_pg_array(a, terms, n, true), "{\"\\\"a\\\"\",\"near(\",\"-x\"}");
    /* each term's bigrams (or its unigram) for the GIN containment */
    const char *t2[] = {"ab\\c", "盘"};
    assert_string_equal(search_pg_array(a, t2, 2, false), "{\"ab\",\"b\\\\\",\"\\\\c\",\"盘\"}");
    assert_int_equal(search_split_terms(a, "", &terms, &n, &err), KF_E_INVALID);
    assert_string_equal(err.field, "q");
    assert_int_equal(search_split_terms(a, "a b c d e f g h i j k", &terms, &n, &err), KF_E_INVALID);
    char long_q[SEARCH_QUERY_CHARS_MAX + 2];
    memset(long_q, 'x', sizeof long_q - 1);
    long_q[sizeof long_q - 1] = '\0';
    assert_int_equal(search_split_terms(a, long_q, &terms, &n, &err), KF_E_INVALID);
    arena_free(&a);
}

/* --- the index in-process, both engines ---------------------------------------------------------- */

struct put_args {
    const char *kind, *scope, *text;
    int64_t object_id, client_id, created;
};

static int put_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct put_args *p = arg;
    if (!p->text) return search_index_delete(c, p->kind, p->object_id, p->scope, err);
    return search_index_put(c, p->kind, p->object_id, p->client_id, p->scope, p->created, p->text, err);
}

static void put(struct store *s, const char *kind, int64_t object_id, int64_t client_id, const char *scope,
                int64_t created, const char *text)
{
    struct kf_err err;
    struct put_args p = {kind, scope, text, object_id, client_id, created};
    T_OK(store_write(s, put_fn, &p, &err));
}

static int64_t query(struct store *s, const char *q, bool staff, int64_t own, int limit, int64_t after_created,
                     int64_t after_id, int64_t *ids, size_t *n_r)
{
    struct kf_err err;
    struct arena *a = arena_new(4096);
    const char **terms;
    size_t n_terms;
    struct buf nq;
    buf_init(&nq, 4096);
    T_OK(search_normalize(q, strlen(q), &nq));
    T_OK(search_split_terms(a, nq.data, &terms, &n_terms, &err));
    buf_free(&nq);
    struct search_docs_query dq = {.kind = "request", .terms = terms, .n_terms = n_terms, .staff = staff,
                                   .own_client_id = own, .limit = limit, .after_created = after_created,
                                   .after_id = after_id};
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    int64_t total = -1;
    struct search_doc_hit *hits;
    size_t n = 0;
    /* requests filters join the requests table: use a kind without it for these raw documents */
    dq.kind = "notice";
    T_OK(search_docs_query(c, a, &dq, &total, &hits, &n, &err));
    store_release(&c);
    for (size_t i = 0; i < n; i++) ids[i] = hits[i].object_id;
    *n_r = n;
    arena_free(&a);
    return total;
}

static int setup(void **state, const char *engine)
{
    struct kf_err err;
    struct store *s = NULL;
    if (harness_store_open(engine, T_NOW_MS, &s, &err) != 0) return -1;
    *state = s;
    return 0;
}
HARNESS_ENGINE_SETUPS(setup)

static int teardown(void **state)
{
    struct store *s = *state;
    if (s) store_close(&s);
    return 0;
}

/* SQLite: the FTS5 index equals what its content view says (integrity-check with rank 1 compares
 * the index with the external content: the triggers of migration 0020 kept it in step), and a
 * rebuild from the view — what the migration does to existing data — gives the same answer. */
static int fts_sql_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, arg, &st, err);
    if (rc) return rc;
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static void fts_check(struct store *s)
{
    if (strcmp(store_engine(s), "sqlite") != 0) return;
    struct kf_err err;
    T_OK(store_write(s, fts_sql_fn,
                     (void *)"INSERT INTO search_engine_fts (search_engine_fts, rank) VALUES ('integrity-check', 1)",
                     &err));
}

static void fts_rebuild(struct store *s)
{
    if (strcmp(store_engine(s), "sqlite") != 0) return;
    struct kf_err err;
    T_OK(store_write(s, fts_sql_fn, (void *)"INSERT INTO search_engine_fts (search_engine_fts) VALUES ('rebuild')",
                     &err));
}

static void test_index_answers_are_substring_semantics(void **state)
{
    struct store *s = *state;
    if (!s) skip();
    put(s, "notice", 1, 7, "public", 100, "打印机 ＨＰ－１０２０ 无法连接 server");
    put(s, "notice", 2, 7, "public", 200, "U盘 丢失；\"引号\" NEAR(x) a*b");
    put(s, "notice", 3, 8, "public", 300, "印机打 rv");
    int64_t ids[16];
    size_t n;
    assert_int_equal(query(s, "打印", true, 0, 10, 0, 0, ids, &n), 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(query(s, "hp-1020", true, 0, 10, 0, 0, ids, &n), 1);
    assert_int_equal(query(s, "rv", true, 0, 10, 0, 0, ids, &n), 2); /* server and rv */
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 1);
    assert_int_equal(query(s, "机打", true, 0, 10, 0, 0, ids, &n), 1); /* not across the phrase order */
    assert_int_equal(ids[0], 3);
    assert_int_equal(query(s, "打印机无", true, 0, 10, 0, 0, ids, &n), 0); /* a space is text too */
    assert_int_equal(query(s, "印", true, 0, 10, 0, 0, ids, &n), 2);
    assert_int_equal(query(s, "\"引号\"", true, 0, 10, 0, 0, ids, &n), 1);
    assert_int_equal(query(s, "near(x) a*b", true, 0, 10, 0, 0, ids, &n), 1);
    assert_int_equal(query(s, "；", true, 0, 10, 0, 0, ids, &n), 1);
    assert_int_equal(query(s, "u盘 打印", true, 0, 10, 0, 0, ids, &n), 0); /* every term */
    assert_int_equal(query(s, "印 机", true, 0, 10, 0, 0, ids, &n), 2);
    /* tenants and keyset: newest first, strictly after the cursor */
    assert_int_equal(query(s, "印", false, 7, 10, 0, 0, ids, &n), 1);
    assert_int_equal(query(s, "印", true, 0, 1, 300, 3, ids, &n), 2);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    /* a replaced document answers with its new text only; a deleted one not at all */
    put(s, "notice", 1, 7, "public", 100, "扫描仪");
    assert_int_equal(query(s, "打印", true, 0, 10, 0, 0, ids, &n), 0);
    assert_int_equal(query(s, "扫描", true, 0, 10, 0, 0, ids, &n), 1);
    put(s, "notice", 1, 7, NULL, 100, NULL);
    assert_int_equal(query(s, "扫描", true, 0, 10, 0, 0, ids, &n), 0);
}

static void test_staff_documents_shadow_the_public_one(void **state)
{
    struct store *s = *state;
    if (!s) skip();
    struct kf_err err;
    put(s, "request", 10, 7, "public", 100, "公开回复");
    put(s, "request", 10, 7, "staff", 100, "公开回复 内部备注");
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT scope, shadowed FROM search_docs WHERE object_id = 10 ORDER BY scope", &st, &err));
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_string_equal(store_col_text(st, 0, NULL), "public");
    assert_int_equal(store_col_int64(st, 1), 1);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_int_equal(store_col_int64(st, 1), 0);
    store_finalize(&st);
    store_release(&c);
    fts_check(s);
    put(s, "request", 10, 7, "staff", 100, NULL); /* no notes any more: the public one shows again */
    fts_check(s);
    T_OK(store_acquire(s, &c, &err));
    T_OK(store_prepare(c, "SELECT count(*), max(shadowed) FROM search_docs WHERE object_id = 10", &st, &err));
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_int_equal(store_col_int64(st, 0), 1);
    assert_int_equal(store_col_int64(st, 1), 0);
    store_finalize(&st);
    store_release(&c);
}

/* Migration 0022: a new document's FTS5 insert waits for the commit. Several changes to the same
 * documents inside one write — a new one replaced, a new one deleted, an indexed one replaced and
 * one deleted, a staff document shadowing a public one — and a write that fails after inserting
 * leave an index equal to its content (integrity-check), answers of the final texts only, and no
 * document still waiting. */
static int churn_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    (void)arg;
    int rc = search_index_put(c, "notice", 21, 7, "public", 100, "打印机 卡纸", err);
    if (!rc) rc = search_index_put(c, "notice", 21, 7, "public", 100, "扫描仪 卡纸", err);
    if (!rc) rc = search_index_put(c, "notice", 22, 7, "public", 200, "打印机 缺粉", err);
    if (!rc) rc = search_index_delete(c, "notice", 22, "public", err);
    if (!rc) rc = search_index_put(c, "notice", 23, 7, "public", 300, "投影仪 打印机", err);
    if (!rc) rc = search_index_put(c, "notice", 20, 7, "public", 50, "显示器", err); /* indexed before */
    if (!rc) rc = search_index_delete(c, "notice", 19, "public", err);               /* indexed before */
    if (!rc) rc = search_index_put(c, "request", 24, 7, "public", 400, "公开 打印机", err);
    if (!rc) rc = search_index_put(c, "request", 24, 7, "staff", 400, "公开 打印机 备注", err);
    return rc;
}

static int failing_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    (void)arg;
    int rc = search_index_put(c, "notice", 25, 7, "public", 500, "打印机 回滚", err);
    return rc ? rc : kf_fail(err, KF_E_CONFLICT, NULL, "refused after indexing");
}

static void test_changes_inside_one_write_index_the_final_texts(void **state)
{
    struct store *s = *state;
    if (!s) skip();
    struct kf_err err;
    put(s, "notice", 19, 7, "public", 10, "打印机 旧");
    put(s, "notice", 20, 7, "public", 20, "打印机 旧");
    T_OK(store_write(s, churn_fn, NULL, &err));
    assert_int_equal(store_write(s, failing_fn, NULL, &err), KF_E_CONFLICT);
    fts_check(s);
    int64_t ids[16];
    size_t n;
    assert_int_equal(query(s, "打印机", true, 0, 10, 0, 0, ids, &n), 1);
    assert_int_equal(ids[0], 23);
    assert_int_equal(query(s, "卡纸", true, 0, 10, 0, 0, ids, &n), 1);
    assert_int_equal(ids[0], 21);
    assert_int_equal(query(s, "扫描", true, 0, 10, 0, 0, ids, &n), 1);
    assert_int_equal(query(s, "显示器", true, 0, 10, 0, 0, ids, &n), 1);
    assert_int_equal(query(s, "缺粉", true, 0, 10, 0, 0, ids, &n), 0);
    assert_int_equal(query(s, "旧", true, 0, 10, 0, 0, ids, &n), 0);
    assert_int_equal(query(s, "回滚", true, 0, 10, 0, 0, ids, &n), 0);
    if (strcmp(store_engine(s), "sqlite") != 0) return;
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(s, &c, &err));
    T_OK(store_prepare(c, "SELECT count(*) FROM search_engine_pending", &st, &err));
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_int_equal(store_col_int64(st, 0), 0);
    store_finalize(&st);
    /* the staff document of request 24 shadows its public one in the index too */
    T_OK(store_prepare(c, "SELECT count(*) FROM search_engine_fts WHERE search_engine_fts MATCH $1", &st, &err));
    store_bind_text(st, 1, "{body}: \"打印\" NOT {marks}: \"\xffxrequest\"", (size_t)-1);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_int_equal(store_col_int64(st, 0), 1);
    store_finalize(&st);
    store_release(&c);
}

/* The plans (SQLite: the count from the marks, the page walking the newest documents or taking the
 * FTS5 hits; docs/search.md) give the answers of a brute-force scan: common and rare terms, several
 * terms, staff and client searchers, the client filter, other kinds and staff documents with the
 * same words, ties of created, and every page of a keyset walk across the plans. */
struct plan_doc {
    const char *kind, *scope;
    int64_t object_id, client_id, created;
    char body[64];
};

static bool plan_visible(const struct plan_doc *d, const char *const *terms, size_t n_terms, bool staff, int64_t own,
                         int64_t client)
{
    if (strcmp(d->kind, "notice") != 0) return false;
    if (!staff && strcmp(d->scope, "public") != 0) return false;
    if (own && d->client_id != own) return false;
    if (client && d->client_id != client) return false;
    for (size_t i = 0; i < n_terms; i++)
        if (!strstr(d->body, terms[i])) return false;
    return true;
}

/* Every query of the mix, for every searcher and page size, page by page against the scan. */
static void plan_check_all(struct store *s, const struct plan_doc *docs, int n_docs)
{
    static const char *const queries[] = {"甲", "甲乙", "乙", "辛", "甲 丙", "甲甲甲", "辛辛", "无"};
    static const struct { bool staff; int64_t own, client; } who[] = {{true, 0, 0}, {true, 0, 2}, {false, 3, 0},
                                                                     {false, 1, 1}, {false, 1, 2}};
    struct kf_err err;
    for (size_t qi = 0; qi < sizeof queries / sizeof queries[0]; qi++) {
        for (size_t wi = 0; wi < sizeof who / sizeof who[0]; wi++) {
            for (int limit = 1; limit <= 7; limit += 3) {
                struct arena *a = arena_new(4096);
                const char **terms;
                size_t n_terms;
                T_OK(search_split_terms(a, queries[qi], &terms, &n_terms, &err));
                int64_t want = 0;
                for (int i = 0; i < n_docs; i++)
                    want += plan_visible(&docs[i], terms, n_terms, who[wi].staff, who[wi].own, who[wi].client);
                struct search_docs_query dq = {.kind = "notice", .terms = terms, .n_terms = n_terms,
                                               .staff = who[wi].staff, .own_client_id = who[wi].own,
                                               .client_id = who[wi].client, .limit = limit};
                int next = n_docs - 1; /* the brute-force cursor: docs are in (created, object_id) order */
                int64_t seen = 0;
                for (;;) {
                    struct store_conn *c;
                    T_OK(store_acquire(s, &c, &err));
                    int64_t total = -1;
                    struct search_doc_hit *hits;
                    size_t n = 0;
                    T_OK(search_docs_query(c, a, &dq, &total, &hits, &n, &err));
                    store_release(&c);
                    assert_int_equal(total, want);
                    for (size_t h = 0; h < n; h++) {
                        while (next >= 0 && !plan_visible(&docs[next], terms, n_terms, who[wi].staff, who[wi].own,
                                                          who[wi].client))
                            next--;
                        assert_true(next >= 0);
                        assert_int_equal(hits[h].object_id, docs[next].object_id);
                        next--;
                    }
                    seen += (int64_t)n;
                    if (n < (size_t)limit) break;
                    dq.after_created = hits[n - 1].created;
                    dq.after_id = hits[n - 1].object_id;
                }
                assert_int_equal(seen, want);
                arena_free(&a);
            }
        }
    }
}

static void test_plans_answer_like_a_scan(void **state)
{
    struct store *s = *state;
    if (!s) skip();
    enum { N = 400 };
    static struct plan_doc docs[N];
    static const char *const alphabet[] = {"甲", "乙", "丙", "丁", "戊", "己", "庚", "辛"};
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        struct plan_doc *d = &docs[i];
        d->kind = i % 23 == 0 ? "agreement" : "notice";
        d->scope = i % 7 == 3 && i % 23 ? "staff" : "public"; /* staff text of notices: seen by staff only */
        d->object_id = 1000 + i;
        d->client_id = 1 + i % 3;
        d->created = 10000 + (i / 2) * 10; /* ties of created, told apart by object_id */
        size_t w = 0;
        for (int k = 0; k < 12; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* 甲 is common, 辛 rare */
            const char *ch = alphabet[(x % 100) < 40 ? 0 : (x % 100) < 97 ? 1 + x % 6 : 7];
            memcpy(d->body + w, ch, 3);
            w += 3;
        }
        d->body[w] = '\0';
        put(s, d->kind, d->object_id, d->client_id, d->scope, d->created, d->body);
    }
    /* replaced texts and removed documents leave nothing behind in the index */
    for (int i = 5; i < N; i += 37) {
        put(s, docs[i].kind, docs[i].object_id, docs[i].client_id, docs[i].scope, docs[i].created, "甲辛乙");
        memcpy(docs[i].body, "甲辛乙", sizeof "甲辛乙");
    }
    for (int i = 11; i < N; i += 41) {
        put(s, docs[i].kind, docs[i].object_id, docs[i].client_id, docs[i].scope, docs[i].created, NULL);
        docs[i].kind = "gone";
    }
    fts_check(s);
    plan_check_all(s, docs, N); /* SQLite: the id-set walk (or the FTS5 page when it runs out) */
    int64_t keep = search_sqlite_set_max;
    search_sqlite_set_max = 0; /* SQLite: the row walk with instr (or the FTS5 page) */
    plan_check_all(s, docs, N);
    search_sqlite_set_max = 60; /* common terms by rows, rare ones by the id set */
    plan_check_all(s, docs, N);
    search_sqlite_set_max = keep;
    fts_rebuild(s);
    plan_check_all(s, docs, N);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_document_mode_emits_unigrams_with_colocated_bigrams),
        cmocka_unit_test(test_query_mode_is_the_bigram_phrase_or_the_unigram),
        cmocka_unit_test(test_every_script_emoji_and_invalid_bytes_are_units),
        cmocka_unit_test(test_terms_and_match_expressions_keep_fts_syntax_as_text),
    };
    const struct CMUnitTest index[] = {
        HARNESS_BOTH_ENGINES(test_index_answers_are_substring_semantics, setup_sqlite, setup_postgres, teardown),
        HARNESS_BOTH_ENGINES(test_staff_documents_shadow_the_public_one, setup_sqlite, setup_postgres, teardown),
        HARNESS_BOTH_ENGINES(test_plans_answer_like_a_scan, setup_sqlite, setup_postgres, teardown),
        HARNESS_BOTH_ENGINES(test_changes_inside_one_write_index_the_final_texts, setup_sqlite, setup_postgres,
                             teardown),
    };
    int failed = cmocka_run_group_tests_name("search tokenizer", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("search index", index, NULL, NULL);
    return failed ? 1 : 0;
}
