/* The store's contract, proved once per engine: the same suite runs against SQLite and (when
 * KEFU_TEST_PG_URL is set) PostgreSQL, plus one test that holds both engines to the same schema.
 * Writes go through store_write, reads through pooled connections, as in kefu itself. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "core/embedded.h"
#include "store/store.h"
#include "store/store_driver.h"

#define T_NOW_MS 1700000000000LL

/* Fails the test with the error detail when `expr` is not 0. Needs a `struct kf_err err` in scope. */
#define T_OK(expr)                                                                               \
    do {                                                                                         \
        int t_rc_ = (expr);                                                                      \
        if (t_rc_ != 0) fail_msg("%s: rc %d (%s)", #expr, t_rc_, err.detail);                    \
    } while (0)

/* The engine under test (set by the group's setup), or NULL when it is not available here. */
static const char *t_engine(void **state)
{
    return *state;
}

static int t_setup_sqlite(void **state)
{
    *state = (void *)"sqlite";
    return 0;
}

static int t_setup_postgres(void **state)
{
    const char *url = getenv("KEFU_TEST_PG_URL");
    *state = url && *url ? (void *)"postgres" : NULL;
    return 0;
}

static bool t_is_sqlite(struct store *s)
{
    return strcmp(store_engine(s), "sqlite") == 0;
}

/* Opens a fresh database of this test's engine (skipping the test when the engine is absent). */
static struct store *t_open_url(void **state, char *url_r, size_t cap, bool migrate)
{
    const char *url = t_engine(state) ? harness_db_url(t_engine(state)) : NULL;
    if (!url) skip();
    snprintf(url_r, cap, "%s", url);
    struct kf_err err;
    struct store *s = NULL;
    T_OK(store_open(url_r, &s, &err));
    if (migrate) T_OK(store_migrate(s, T_NOW_MS, &err));
    return s;
}

static struct store *t_open(void **state, bool migrate)
{
    char url[1100];
    return t_open_url(state, url, sizeof url, migrate);
}

/* --- write functions used by the tests ------------------------------------------------------ */

static int t_exec_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    return store_exec(c, arg, err);
}

static void t_exec(struct store *s, const char *sql)
{
    struct kf_err err;
    T_OK(store_write(s, t_exec_fn, (void *)sql, &err));
}

/* kv: one column of each type. */
static void t_create_kv(struct store *s)
{
    t_exec(s, t_is_sqlite(s) ? "CREATE TABLE kv (id INTEGER PRIMARY KEY, i INTEGER, t TEXT, b BLOB) STRICT"
                             : "CREATE TABLE kv (id BIGINT PRIMARY KEY, i BIGINT, t TEXT, b BYTEA)");
}

struct t_probe {
    int64_t id;
    const char *tag;
    const char *body;
    int fail_code; /* insert, then fail with this code (0: succeed) */
};

static int t_insert_probe(struct store_conn *c, const struct t_probe *p, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "INSERT INTO probe_writes (id, created, tag, body) VALUES ($1, $2, $3, $4)", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, p->id);
    store_bind_int64(st, 2, T_NOW_MS);
    store_bind_text(st, 3, p->tag, (size_t)-1);
    store_bind_text(st, 4, p->body ? p->body : "", (size_t)-1);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int t_probe_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    const struct t_probe *p = arg;
    int rc = t_insert_probe(c, p, err);
    if (rc) return rc;
    if (p->fail_code) return kf_fail(err, p->fail_code, "probe", "failing on purpose");
    return 0;
}

/* Rows of probe_writes with `tag`, read on a pooled connection. */
static int64_t t_count_tag(struct store *s, const char *tag)
{
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT count(*) FROM probe_writes WHERE tag = $1", &st, &err));
    store_bind_text(st, 1, tag, (size_t)-1);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    int64_t n = store_col_int64(st, 0);
    store_finalize(&st);
    store_release(&c);
    return n;
}

/* --- opening, migrating, describing --------------------------------------------------------- */

static void test_open_migrate_and_describe_schema(void **state)
{
    struct store *s = t_open(state, false);
    struct kf_err err;
    int applied = -1, latest = -1;
    T_OK(store_schema_version(s, &applied, &latest, &err));
    assert_int_equal(applied, 0);
    assert_true(latest >= 1);
    T_OK(store_migrate(s, T_NOW_MS, &err));
    T_OK(store_schema_version(s, &applied, &latest, &err));
    assert_int_equal(applied, latest);
    T_OK(store_migrate(s, T_NOW_MS + 1, &err)); /* idempotent */

    struct buf d;
    buf_init(&d, 1 << 20);
    T_OK(store_describe_schema(s, &d, &err));
    assert_non_null(strstr(d.data, "table jobs\n"));
    assert_non_null(strstr(d.data, "column jobs.id int not-null pk1\n"));
    assert_non_null(strstr(d.data, "column jobs.payload text not-null default\n"));
    assert_non_null(strstr(d.data, "column jobs.unique_key text\n"));
    assert_non_null(strstr(d.data, "index jobs (unique_key) unique name=jobs_unique_key\n"));
    assert_non_null(strstr(d.data, "index jobs (state,run_at) name=jobs_due\n"));
    assert_non_null(strstr(d.data, "fkey job_runs (job_id) references jobs (id) on-delete cascade\n"));
    assert_non_null(strstr(d.data, "column kefu_migrations.checksum text not-null\n"));
    assert_null(strstr(d.data, "sqlite_"));
    buf_free(&d);

    /* The recorded checksum is the SHA-256 of the file, in hex. */
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT name, checksum, applied_at FROM kefu_migrations WHERE version = 1", &st, &err));
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_string_equal(store_col_text(st, 0, NULL), "core");
    size_t len;
    const char *sum = store_col_text(st, 1, &len);
    assert_int_equal(len, 64);
    assert_int_equal(strspn(sum, "0123456789abcdef"), 64);
    assert_int_equal(store_col_int64(st, 2), T_NOW_MS);
    store_finalize(&st);
    store_release(&c);
    store_close(&s);
    assert_null(s);
}

static void test_unknown_url_scheme_is_config_error(void **state)
{
    struct kf_err err;
    struct store *s = NULL;
    assert_int_equal(store_open("mysql://x", &s, &err), KF_E_CONFIG);
    assert_int_equal(store_open("sqlite:", &s, &err), KF_E_CONFIG);
    assert_null(s);
}

/* --- statements ----------------------------------------------------------------------------- */

static void test_bind_and_read_every_type_including_null(void **state)
{
    struct store *s = t_open(state, false);
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT $1, $2, $3, $4", &st, &err));
    store_bind_int64(st, 1, INT64_MIN);
    store_bind_text(st, 2, "abc", 2);
    store_bind_null(st, 3);
    store_bind_text(st, 4, NULL, 0);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_int_equal(store_col_count(st), 4);
    assert_true(store_col_int64(st, 0) == INT64_MIN);
    size_t len = 99;
    assert_string_equal(store_col_text(st, 1, &len), "ab");
    assert_int_equal(len, 2);
    assert_true(store_col_is_null(st, 2));
    assert_true(store_col_is_null(st, 3));
    assert_null(store_col_text(st, 3, &len));
    assert_int_equal(len, 0);
    assert_int_equal(store_col_int64(st, 2), 0);
    assert_int_equal(store_step(st, &err), STORE_DONE);
    store_finalize(&st);
    store_release(&c);

    store_close(&s);
}

/* kv inserts: id, i, t, b; NULL t/b bind SQL NULL. */
struct t_kv {
    int64_t id;
    int64_t i;
    bool i_null;
    const char *t;
    size_t tlen;
    const void *b;
    size_t blen;
    bool b_null;
};

static int t_kv_insert_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    const struct t_kv *kv = arg;
    struct store_stmt *st;
    int rc = store_prepare(c, "INSERT INTO kv (id, i, t, b) VALUES ($1, $2, $3, $4)", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, kv->id);
    if (kv->i_null) store_bind_null(st, 2);
    else store_bind_int64(st, 2, kv->i);
    store_bind_text(st, 3, kv->t, kv->tlen);
    if (kv->b_null) store_bind_null(st, 4);
    else store_bind_blob(st, 4, kv->b, kv->blen);
    rc = store_step(st, err);
    int64_t changes = store_changes(st);
    store_finalize(&st);
    if (rc < 0) return rc;
    return changes == 1 ? 0 : kf_fail(err, KF_E_INTERNAL, NULL, "changes %lld", (long long)changes);
}

static void t_kv_put(struct store *s, const struct t_kv *kv)
{
    struct kf_err err;
    T_OK(store_write(s, t_kv_insert_fn, (void *)kv, &err));
}

/* Reads kv row `id` and checks it against `want`. */
static void t_kv_check(struct store *s, const struct t_kv *want)
{
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT i, t, b FROM kv WHERE id = $1", &st, &err));
    store_bind_int64(st, 1, want->id);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_int_equal(store_col_is_null(st, 0), want->i_null);
    if (!want->i_null) assert_true(store_col_int64(st, 0) == want->i);
    size_t len;
    const char *t = store_col_text(st, 1, &len);
    if (!want->t) {
        assert_true(store_col_is_null(st, 1));
        assert_null(t);
    } else {
        assert_non_null(t);
        assert_int_equal(len, want->tlen == (size_t)-1 ? strlen(want->t) : want->tlen);
        assert_memory_equal(t, want->t, len);
        assert_int_equal(t[len], '\0');
    }
    const void *b = store_col_blob(st, 2, &len);
    if (want->b_null) {
        assert_true(store_col_is_null(st, 2));
        assert_null(b);
    } else {
        assert_non_null(b);
        assert_int_equal(len, want->blen);
        if (len) assert_memory_equal(b, want->b, len);
    }
    assert_int_equal(store_step(st, &err), STORE_DONE);
    store_finalize(&st);
    store_release(&c);
}

static void test_round_trip_of_int_text_blob_and_null_columns(void **state)
{
    struct store *s = t_open(state, true);
    t_create_kv(s);
    static const unsigned char zeros[] = {0, 1, 0, 255, 0, 'a', 0};
    struct t_kv rows[] = {
        {.id = 1, .i = INT64_MAX, .t = "text", .tlen = (size_t)-1, .b = zeros, .blen = sizeof zeros},
        {.id = 2, .i = INT64_MIN, .t = "", .tlen = 0, .b = "", .blen = 0},
        {.id = 3, .i_null = true, .t = NULL, .b_null = true},
        {.id = 4, .i = -1, .t = "abcdef", .tlen = 3, .b = NULL, .blen = 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) t_kv_put(s, &rows[i]);
    rows[3].t = "abc"; /* only the first tlen bytes were bound */
    rows[3].b = "";
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) t_kv_check(s, &rows[i]);
    store_close(&s);
}

static void test_blob_with_every_byte_value_and_1mib_blob_round_trip(void **state)
{
    struct store *s = t_open(state, true);
    t_create_kv(s);
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    size_t big_len = 1u << 20;
    unsigned char *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++) big[i] = (unsigned char)(i * 7 % 251);
    memset(big + 1000, 0, 5000);
    struct t_kv a = {.id = 10, .i = 1, .t = "a", .tlen = 1, .b = all, .blen = sizeof all};
    struct t_kv b = {.id = 11, .i = 2, .t = "b", .tlen = 1, .b = big, .blen = big_len};
    t_kv_put(s, &a);
    t_kv_put(s, &b);
    t_kv_check(s, &a);
    t_kv_check(s, &b);
    free(big);
    store_close(&s);
}

static void test_chinese_text_and_sql_metacharacters_are_stored_verbatim(void **state)
{
    struct store *s = t_open(state, true);
    t_create_kv(s);
    static const char *const texts[] = {
        "退款 发票 空调 U盘 HP-1020 客服(乙方)：请于２０２４年处理",
        "'; DROP TABLE kv; --",
        "Robert'); DELETE FROM kv WHERE ('1'='1",
        "$1 ?1 ?NNN :name @x \"dq\" `bt` [br] %_ \\ \\x00 /* c */ -- c",
        "全角ＡＢＣ１２３ and 半角ABC123, emoji 😀, 𠀀 (U+20000)",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct t_kv kv = {.id = 100 + (int64_t)i, .i = 0, .t = texts[i], .tlen = (size_t)-1, .b_null = true};
        t_kv_put(s, &kv);
        t_kv_check(s, &kv);
    }
    /* And they match exactly as bound parameters. */
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct store_stmt *st;
        T_OK(store_prepare(c, "SELECT id FROM kv WHERE t = $1", &st, &err));
        store_bind_text(st, 1, texts[i], (size_t)-1);
        assert_int_equal(store_step(st, &err), STORE_ROW);
        assert_int_equal(store_col_int64(st, 0), 100 + (int64_t)i);
        store_finalize(&st);
    }
    store_release(&c);
    store_close(&s);
}

/* DESIGN pitfall: SQLite numbers `$N` by first appearance; the store must bind by number. */
static void test_placeholders_bind_by_number_not_by_appearance(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT CAST($2 AS TEXT), CAST($1 AS TEXT), '$1', \"t\".x FROM (SELECT 5 AS x) AS \"t\"",
                       &st, &err));
    store_bind_text(st, 1, "one", (size_t)-1);
    store_bind_text(st, 2, "two", (size_t)-1);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_string_equal(store_col_text(st, 0, NULL), "two");
    assert_string_equal(store_col_text(st, 1, NULL), "one");
    assert_string_equal(store_col_text(st, 2, NULL), "$1"); /* inside a literal: not a placeholder */
    assert_int_equal(store_col_int64(st, 3), 5);
    store_finalize(&st);
    store_release(&c);

    /* A query naming its parameters out of order. */
    struct t_probe p = {.id = 42, .tag = "order", .body = "body"};
    T_OK(store_write(s, t_probe_fn, &p, &err));
    T_OK(store_acquire(s, &c, &err));
    T_OK(store_prepare(c, "SELECT body FROM probe_writes WHERE tag = $2 AND id = $1", &st, &err));
    store_bind_int64(st, 1, 42);
    store_bind_text(st, 2, "order", (size_t)-1);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_string_equal(store_col_text(st, 0, NULL), "body");
    store_finalize(&st);
    store_release(&c);
    store_close(&s);
}

static void test_statement_cache_reuses_and_nested_use_gets_a_fresh_statement(void **state)
{
    struct store *s = t_open(state, false);
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    const char *sql = "SELECT $1 + 1";
    struct store_stmt *a, *b;
    T_OK(store_prepare(c, sql, &a, &err));
    struct store_stmt *first = a;
    store_finalize(&a);
    assert_null(a);
    T_OK(store_prepare(c, sql, &a, &err));
    assert_ptr_equal(a, first); /* back from the cache */
    store_bind_int64(a, 1, 1);
    assert_int_equal(store_step(a, &err), STORE_ROW);
    /* Same text while the first is in use: a second statement, usable at the same time. */
    T_OK(store_prepare(c, sql, &b, &err));
    assert_ptr_not_equal(b, first);
    struct store_stmt *second = b;
    store_bind_int64(b, 1, 10);
    assert_int_equal(store_step(b, &err), STORE_ROW);
    assert_int_equal(store_col_int64(b, 0), 11);
    assert_int_equal(store_col_int64(a, 0), 2);
    store_finalize(&a);
    store_finalize(&b);
    /* Both are cached now; a copy of the text at another address finds them, bindings cleared. */
    char copy[32];
    snprintf(copy, sizeof copy, "%s", sql);
    T_OK(store_prepare(c, copy, &a, &err));
    T_OK(store_prepare(c, sql, &b, &err));
    assert_true((a == first && b == second) || (a == second && b == first));
    store_bind_int64(a, 1, 41);
    assert_int_equal(store_step(a, &err), STORE_ROW);
    assert_int_equal(store_col_int64(a, 0), 42);
    store_finalize(&a);
    store_finalize(&b);
    store_release(&c);
    store_close(&s);
}

static void test_bind_index_out_of_range_fails_at_step(void **state)
{
    struct store *s = t_open(state, false);
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT CAST($1 AS TEXT)", &st, &err));
    store_bind_int64(st, 2, 5);
    assert_int_equal(store_step(st, &err), KF_E_INVALID);
    assert_non_null(strstr(err.detail, "$2"));
    store_finalize(&st);
    /* The statement is healthy again once back from the cache. */
    T_OK(store_prepare(c, "SELECT CAST($1 AS TEXT)", &st, &err));
    store_bind_text(st, 1, "x", 1);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    store_finalize(&st);
    store_release(&c);
    store_close(&s);
}

static int t_update_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    int64_t *changed = arg;
    struct store_stmt *st;
    int rc = store_prepare(c, "UPDATE probe_writes SET body = $1 WHERE tag = $2", &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, "y", 1);
    store_bind_text(st, 2, "chg", 3);
    rc = store_step(st, err);
    *changed = store_changes(st);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static void test_changes_counts_rows_of_update(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    for (int i = 1; i <= 3; i++) {
        struct t_probe p = {.id = i, .tag = "chg", .body = "x"};
        T_OK(store_write(s, t_probe_fn, &p, &err));
    }
    int64_t changed = -1;
    T_OK(store_write(s, t_update_fn, &changed, &err));
    assert_int_equal(changed, 3);
    store_close(&s);
}

/* --- errors --------------------------------------------------------------------------------- */

static int t_job_insert_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    const int64_t *id = arg;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO jobs (id, kind, unique_key, run_at, state, created, updated) "
                           "VALUES ($1, 'k', $2, 0, 'ready', 0, 0)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, *id);
    store_bind_text(st, 2, "customer-phone-13800138000", (size_t)-1);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static void test_unique_violation_is_conflict_without_bound_values_in_detail(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    int64_t id1 = 1, id2 = 2;
    T_OK(store_write(s, t_job_insert_fn, &id1, &err));
    assert_int_equal(store_write(s, t_job_insert_fn, &id2, &err), KF_E_CONFLICT); /* unique_key */
    assert_int_equal(err.code, KF_E_CONFLICT);
    assert_null(strstr(err.detail, "13800138000"));
    assert_int_equal(store_write(s, t_job_insert_fn, &id1, &err), KF_E_CONFLICT); /* primary key */
    assert_null(strstr(err.detail, "13800138000"));
    store_close(&s);
}

static int t_bad_fkey_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO job_runs (id, job_id, kind, scheduled_at, started, finished, ok, runner) "
                           "VALUES (1, 999, 'k', 0, 0, 0, 1, 'r')",
                           &st, err);
    if (rc) return rc;
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static void test_foreign_key_violation_is_conflict(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    assert_int_equal(store_write(s, t_bad_fkey_fn, NULL, &err), KF_E_CONFLICT);
    store_close(&s);
}

static int t_leave_stmt_open_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = t_probe_fn(c, arg, err);
    if (rc) return rc;
    rc = store_prepare(c, "SELECT id FROM probe_writes", &st, err);
    if (rc) return rc;
    return store_step(st, err) == STORE_ROW ? 0 : KF_E_INTERNAL; /* never finalized */
}

static void test_write_leaving_a_statement_open_still_commits(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    struct t_probe p = {.id = 1, .tag = "open", .body = ""};
    T_OK(store_write(s, t_leave_stmt_open_fn, &p, &err));
    struct t_probe q = {.id = 2, .tag = "open", .body = ""};
    T_OK(store_write(s, t_probe_fn, &q, &err));
    assert_int_equal(t_count_tag(s, "open"), 2);
    store_close(&s);
}

static int t_nested_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct store *s = arg;
    struct t_probe p = {.id = 1, .tag = "nested"};
    int rc = store_write(s, t_probe_fn, &p, err);
    if (rc != KF_E_INVALID) return kf_fail(err, KF_E_INTERNAL, NULL, "nested store_write gave %d", rc);
    /* Transaction control belongs to the store while a write function runs. */
    if (store_begin(c, err) != KF_E_INVALID) return kf_fail(err, KF_E_INTERNAL, NULL, "begin allowed");
    if (store_commit(c, err) != KF_E_INVALID) return kf_fail(err, KF_E_INTERNAL, NULL, "commit allowed");
    kf_err_clear(err);
    return 0;
}

static void test_store_write_inside_a_write_function_is_refused(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    T_OK(store_write(s, t_nested_fn, s, &err));
    assert_int_equal(t_count_tag(s, "nested"), 0);
    store_close(&s);
}

/* --- the write path ------------------------------------------------------------------------- */

/* Inserts three rows, then fails: fault injection in the sqlite style. */
static int t_fail_midway_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    for (int i = 0; i < 3; i++) {
        struct t_probe p = {.id = 500 + i, .tag = "midway", .body = "x"};
        int rc = t_insert_probe(c, &p, err);
        if (rc) return rc;
    }
    return kf_fail(err, KF_E_INVALID, "amount", "rejected after three inserts");
}

static void test_write_failing_midway_leaves_nothing_behind(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    assert_int_equal(store_write(s, t_fail_midway_fn, NULL, &err), KF_E_INVALID);
    assert_int_equal(err.code, KF_E_INVALID);
    assert_string_equal(err.field, "amount");
    assert_string_equal(err.detail, "rejected after three inserts");
    assert_int_equal(t_count_tag(s, "midway"), 0);
    /* The store is healthy afterwards. */
    struct t_probe p = {.id = 1, .tag = "after", .body = ""};
    T_OK(store_write(s, t_probe_fn, &p, &err));
    assert_int_equal(t_count_tag(s, "after"), 1);
    struct store_stats st;
    store_get_stats(s, &st);
    assert_true(st.write_failures >= 1);
    store_close(&s);
}

static void test_store_write_returns_when_visible_from_a_fresh_store(void **state)
{
    char url[1100];
    struct store *s = t_open_url(state, url, sizeof url, true);
    struct kf_err err;
    struct t_probe p = {.id = 7, .tag = "durable", .body = "x"};
    T_OK(store_write(s, t_probe_fn, &p, &err));
    struct store *other = NULL;
    T_OK(store_open(url, &other, &err));
    assert_int_equal(t_count_tag(other, "durable"), 1);
    store_close(&other);
    store_close(&s);
}

/* A gate that holds the writer inside a write function until the test opens it. */
struct t_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool entered, open;
};

static int t_gate_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct t_gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->entered = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->open) pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    return 0;
}

static void t_gate_wait_entered(struct t_gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->entered) pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void t_gate_open(struct t_gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* Collects done callbacks. */
#define T_ASYNC_MAX 256
struct t_async {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n_done;
    int rc[T_ASYNC_MAX];
    int calls[T_ASYNC_MAX];
    int64_t seen_rows[T_ASYNC_MAX]; /* rows of its tag visible from a read connection in done */
    int bad_err;
    struct store *s;
    const char *check_tag;
};

struct t_slot {
    struct t_async *a;
    int idx;
    struct t_probe probe;
};

static void t_done(void *arg, int rc, const struct kf_err *err)
{
    struct t_slot *slot = arg;
    struct t_async *a = slot->a;
    int64_t seen = -1;
    if (a->check_tag && rc == 0) seen = t_count_tag(a->s, a->check_tag);
    pthread_mutex_lock(&a->lock);
    a->rc[slot->idx] = rc;
    a->calls[slot->idx]++;
    a->seen_rows[slot->idx] = seen;
    if (rc && err->code != rc) a->bad_err++; /* asserts off the test thread would just exit */
    a->n_done++;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

static void t_async_wait(struct t_async *a, int n)
{
    pthread_mutex_lock(&a->lock);
    while (a->n_done < n) pthread_cond_wait(&a->cond, &a->lock);
    pthread_mutex_unlock(&a->lock);
}

/* Counts failed writes whose outcome the test does not otherwise track. */
static atomic_int t_untracked_failures;

static void t_gate_done(void *arg, int rc, const struct kf_err *err)
{
    if (rc) atomic_fetch_add(&t_untracked_failures, 1);
}

static void test_failing_write_in_a_batch_rolls_back_only_itself(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    if (!(store_caps(s) & STORE_CAP_GROUP_COMMIT)) {
        /* Without group commit async writes are refused; each write is its own transaction. */
        struct t_probe p = {.id = 1, .tag = "batch", .body = ""};
        assert_int_equal(store_write_async(s, t_probe_fn, &p, t_gate_done, NULL), KF_E_INVALID);
        struct t_probe bad = {.id = 2, .tag = "batch", .body = "", .fail_code = KF_E_CONFLICT};
        T_OK(store_write(s, t_probe_fn, &p, &err));
        assert_int_equal(store_write(s, t_probe_fn, &bad, &err), KF_E_CONFLICT);
        assert_int_equal(t_count_tag(s, "batch"), 1);
        store_close(&s);
        return;
    }
    struct t_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    assert_int_equal(store_write_async(s, t_gate_fn, &gate, t_gate_done, NULL), 0);
    t_gate_wait_entered(&gate);
    /* Everything queued now lands in the next batch. */
    enum { N = 20, BAD = 7 };
    struct t_async a = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .s = s};
    struct t_slot slots[N];
    for (int i = 0; i < N; i++) {
        slots[i] = (struct t_slot){&a, i, {.id = 1000 + i, .tag = "batch", .body = "b"}};
        if (i == BAD) slots[i].probe.fail_code = KF_E_INVALID;
        assert_int_equal(store_write_async(s, t_probe_fn, &slots[i].probe, t_done, &slots[i]), 0);
    }
    struct store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.queue_depth, N);
    t_gate_open(&gate);
    t_async_wait(&a, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(a.calls[i], 1);
        assert_int_equal(a.rc[i], i == BAD ? KF_E_INVALID : 0);
    }
    assert_int_equal(a.bad_err, 0);
    assert_int_equal(t_count_tag(s, "batch"), N - 1);
    struct t_probe gone = {.id = 1000 + BAD};
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *q;
    T_OK(store_prepare(c, "SELECT count(*) FROM probe_writes WHERE id = $1", &q, &err));
    store_bind_int64(q, 1, gone.id);
    assert_int_equal(store_step(q, &err), STORE_ROW);
    assert_int_equal(store_col_int64(q, 0), 0);
    store_finalize(&q);
    store_release(&c);
    store_get_stats(s, &st);
    assert_true(st.batch_max >= N);
    assert_int_equal(st.queue_depth, 0);
    assert_true(st.write_failures >= 1);
    store_close(&s);
}

static void test_done_is_called_only_after_the_batch_is_committed(void **state)
{
    struct store *s = t_open(state, true);
    if (!(store_caps(s) & STORE_CAP_GROUP_COMMIT)) {
        store_close(&s);
        skip();
    }
    struct t_async a = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .s = s,
                        .check_tag = "after-commit"};
    struct t_slot slot = {&a, 0, {.id = 1, .tag = "after-commit", .body = ""}};
    assert_int_equal(store_write_async(s, t_probe_fn, &slot.probe, t_done, &slot), 0);
    t_async_wait(&a, 1);
    assert_int_equal(a.rc[0], 0);
    assert_int_equal(a.seen_rows[0], 1); /* a read connection saw it from inside done */
    store_close(&s);
}

/* Deferred foreign keys are checked at COMMIT: a way to make a batch's COMMIT fail. */
static const char *t_deferred_sql(struct store *s)
{
    (void)s;
    return "CREATE TABLE parent (id BIGINT PRIMARY KEY);"
           "CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES parent (id) "
           "DEFERRABLE INITIALLY DEFERRED)";
}

static int t_child_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    const int64_t *ids = arg; /* id, parent */
    struct store_stmt *st;
    int rc = store_prepare(c, "INSERT INTO child (id, parent_id) VALUES ($1, $2)", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, ids[0]);
    store_bind_int64(st, 2, ids[1]);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static void test_failed_commit_fails_every_write_of_its_batch(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    t_exec(s, t_deferred_sql(s));
    t_exec(s, "INSERT INTO parent (id) VALUES (1)");
    if (!(store_caps(s) & STORE_CAP_GROUP_COMMIT)) {
        /* An ordinary transaction: only the offending write fails, at its COMMIT. */
        int64_t bad[2] = {1, 99};
        assert_int_equal(store_write(s, t_child_fn, bad, &err), KF_E_CONFLICT);
        store_close(&s);
        return;
    }
    struct t_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    assert_int_equal(store_write_async(s, t_gate_fn, &gate, t_gate_done, NULL), 0);
    t_gate_wait_entered(&gate);
    enum { N = 5 };
    struct t_async a = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .s = s};
    int64_t ids[N][2];
    struct t_slot slots[N];
    for (int i = 0; i < N; i++) {
        ids[i][0] = i + 1;
        ids[i][1] = i == 2 ? 99 : 1; /* one dangling reference, caught only at COMMIT */
        slots[i] = (struct t_slot){&a, i, {0}};
        assert_int_equal(store_write_async(s, t_child_fn, ids[i], t_done, &slots[i]), 0);
    }
    t_gate_open(&gate);
    t_async_wait(&a, N);
    for (int i = 0; i < N; i++) assert_int_equal(a.rc[i], KF_E_STORAGE);
    struct store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.commit_failures, 1);
    /* Nothing of the batch remains, and the writer goes on. */
    int64_t good[2] = {10, 1};
    T_OK(store_write(s, t_child_fn, good, &err));
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *q;
    T_OK(store_prepare(c, "SELECT count(*), sum(id) FROM child", &q, &err));
    assert_int_equal(store_step(q, &err), STORE_ROW);
    assert_int_equal(store_col_int64(q, 0), 1);
    assert_int_equal(store_col_int64(q, 1), 10);
    store_finalize(&q);
    store_release(&c);
    store_close(&s);
}

struct t_closer {
    struct store *s;
    struct t_gate *gate;
    struct t_async *extra;
    struct t_slot extra_slots[T_ASYNC_MAX];
    int accepted;
    int unexpected_rc;
};

static int t_noop_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    return 0;
}

/* Queues no-op writes until the store refuses (it is closing), then lets the writer go. */
static void *t_closer_main(void *arg)
{
    struct t_closer *cl = arg;
    for (;;) {
        if (cl->accepted == T_ASYNC_MAX) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            if (store_write_async(cl->s, t_noop_fn, NULL, t_gate_done, NULL) == KF_E_UNAVAILABLE) break;
            continue;
        }
        struct t_slot *slot = &cl->extra_slots[cl->accepted];
        *slot = (struct t_slot){cl->extra, cl->accepted, {0}};
        int rc = store_write_async(cl->s, t_noop_fn, NULL, t_done, slot);
        if (rc == KF_E_UNAVAILABLE) break;
        if (rc != 0) cl->unexpected_rc = rc;
        else cl->accepted++;
    }
    t_gate_open(cl->gate);
    return NULL;
}

static void test_store_close_drains_queued_writes(void **state)
{
    char url[1100];
    struct store *s = t_open_url(state, url, sizeof url, true);
    if (!(store_caps(s) & STORE_CAP_GROUP_COMMIT)) {
        store_close(&s);
        skip();
    }
    struct t_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    assert_int_equal(store_write_async(s, t_gate_fn, &gate, t_gate_done, NULL), 0);
    t_gate_wait_entered(&gate);
    enum { N = 100 };
    struct t_async a = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct t_slot slots[N];
    for (int i = 0; i < N; i++) {
        slots[i] = (struct t_slot){&a, i, {.id = 1 + i, .tag = "drain", .body = ""}};
        assert_int_equal(store_write_async(s, t_probe_fn, &slots[i].probe, t_done, &slots[i]), 0);
    }
    struct t_async extra = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    static struct t_closer cl;
    memset(&cl, 0, sizeof cl);
    cl.s = s;
    cl.gate = &gate;
    cl.extra = &extra;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, t_closer_main, &cl), 0);
    store_close(&s); /* the writer is still held at the gate: everything above is queued */
    pthread_join(th, NULL);
    assert_int_equal(a.n_done, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(a.calls[i], 1);
        assert_int_equal(a.rc[i], 0);
    }
    assert_int_equal(cl.unexpected_rc, 0);
    assert_int_equal(extra.n_done, cl.accepted);
    assert_int_equal(a.bad_err + extra.bad_err, 0);
    assert_int_equal(atomic_load(&t_untracked_failures), 0);
    struct kf_err err;
    T_OK(store_open(url, &s, &err));
    assert_int_equal(t_count_tag(s, "drain"), N);
    store_close(&s);
}

struct t_worker {
    struct store *s;
    int thread;
    int failures;
};

enum { T_THREADS = 8, T_PER_THREAD = 200 };

static void *t_worker_main(void *arg)
{
    struct t_worker *w = arg;
    for (int j = 0; j < T_PER_THREAD; j++) {
        struct t_probe p = {.id = (int64_t)w->thread * 100000 + j + 1, .tag = "many", .body = "concurrent"};
        struct kf_err err;
        if (store_write(w->s, t_probe_fn, &p, &err) != 0) w->failures++;
    }
    return NULL;
}

static void test_concurrent_writers_all_commit_and_share_batches(void **state)
{
    struct store *s = t_open(state, true);
    struct store_stats before;
    store_get_stats(s, &before);
    pthread_t th[T_THREADS];
    struct t_worker w[T_THREADS];
    for (int i = 0; i < T_THREADS; i++) {
        w[i] = (struct t_worker){s, i + 1, 0};
        assert_int_equal(pthread_create(&th[i], NULL, t_worker_main, &w[i]), 0);
    }
    for (int i = 0; i < T_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(t_count_tag(s, "many"), T_THREADS * T_PER_THREAD);
    struct store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.writes - before.writes, T_THREADS * T_PER_THREAD);
    if (store_caps(s) & STORE_CAP_GROUP_COMMIT) {
        assert_true(st.batch_max > 1);
        assert_true(st.write_batches - before.write_batches < T_THREADS * T_PER_THREAD);
    }
    print_message("%s: %llu writes in %llu batches (largest %llu), %llu us in COMMIT\n", store_engine(s),
                  (unsigned long long)(st.writes - before.writes),
                  (unsigned long long)(st.write_batches - before.write_batches), (unsigned long long)st.batch_max,
                  (unsigned long long)st.commit_us_total);
    store_close(&s);
}

/* --- migrations ---------------------------------------------------------------------------- */

static void test_migration_checksum_tampering_is_refused(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    t_exec(s, "UPDATE kefu_migrations SET checksum = 'feedface' WHERE version = 1");
    assert_int_equal(store_migrate(s, T_NOW_MS, &err), KF_E_MIGRATION);
    assert_non_null(strstr(err.detail, "migration 1 "));
    store_close(&s);
}

static void test_migration_unknown_to_this_binary_is_refused(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    t_exec(s, "INSERT INTO kefu_migrations (version, name, checksum, applied_at) VALUES (9999, 'future', 'x', 0)");
    assert_int_equal(store_migrate(s, T_NOW_MS, &err), KF_E_MIGRATION);
    assert_non_null(strstr(err.detail, "9999"));
    store_close(&s);
}

struct t_migrator {
    const char *url;
    int rc;
    char detail[160];
};

static void *t_migrator_main(void *arg)
{
    struct t_migrator *m = arg;
    struct store *s = NULL;
    struct kf_err err;
    m->rc = store_open(m->url, &s, &err);
    if (m->rc == 0) m->rc = store_migrate(s, T_NOW_MS, &err);
    if (m->rc) snprintf(m->detail, sizeof m->detail, "%s", err.detail);
    store_close(&s);
    return NULL;
}

/* Distinct migration versions embedded in this binary. Versions need not be consecutive: numbers
 * are handed out to parallel branches, so one may land before another's lower number. */
static int64_t t_embedded_migration_versions(void)
{
    static const char dir[] = "src/store/migrations/";
    long seen[256];
    int64_t n = 0;
    for (const struct embedded_file *f = embedded_files; f->path; f++) {
        if (strncmp(f->path, dir, sizeof dir - 1) != 0) continue;
        long v = strtol(f->path + sizeof dir - 1, NULL, 10);
        bool dup = false;
        for (int64_t i = 0; i < n; i++) dup |= seen[i] == v;
        if (!dup && v > 0 && n < 256) seen[n++] = v;
    }
    return n;
}

static void test_concurrent_processes_apply_each_migration_once(void **state)
{
    char url[1100];
    struct store *s = t_open_url(state, url, sizeof url, false);
    enum { M = 4 };
    struct t_migrator m[M];
    pthread_t th[M];
    for (int i = 0; i < M; i++) {
        m[i] = (struct t_migrator){.url = url};
        assert_int_equal(pthread_create(&th[i], NULL, t_migrator_main, &m[i]), 0);
    }
    for (int i = 0; i < M; i++) {
        pthread_join(th[i], NULL);
        if (m[i].rc) fail_msg("migrator %d: rc %d (%s)", i, m[i].rc, m[i].detail);
    }
    struct kf_err err;
    int applied, latest;
    T_OK(store_schema_version(s, &applied, &latest, &err));
    assert_int_equal(applied, latest);
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT count(*) FROM kefu_migrations", &st, &err));
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_int_equal(store_col_int64(st, 0), t_embedded_migration_versions());
    store_finalize(&st);
    store_release(&c);
    store_close(&s);
}

/* --- durability and safety ------------------------------------------------------------------ */

static void test_unsafe_durability_settings_are_refused(void **state)
{
    const char *url = t_engine(state) ? harness_db_url(t_engine(state)) : NULL;
    if (!url) skip();
    struct kf_err err;
    if (strncmp(url, "sqlite:", 7) == 0) {
        /* synchronous is set by the driver itself; check the check on a connection lowered behind its back. */
        struct store_conn *c = NULL;
        T_OK(store_driver_sqlite.conn_open(url + 7, STORE_ROLE_WRITE, &c, &err));
        T_OK(store_driver_sqlite.check_durability(c, &err));
        T_OK(store_driver_sqlite.exec(c, "PRAGMA synchronous=NORMAL", &err));
        assert_int_equal(store_driver_sqlite.check_durability(c, &err), KF_E_UNSAFE_STORAGE);
        T_OK(store_driver_sqlite.exec(c, "PRAGMA synchronous=OFF", &err));
        assert_int_equal(store_driver_sqlite.check_durability(c, &err), KF_E_UNSAFE_STORAGE);
        store_driver_sqlite.conn_close(c);
        return;
    }
    char bad[1400];
    static const char *const opts[] = {"synchronous_commit%3Doff", "fsync%3Doff", "full_page_writes%3Doff"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(bad, sizeof bad, "%s%coptions=-c%%20%s", url, strchr(url, '?') ? '&' : '?', opts[i]);
        struct store *s = NULL;
        int rc = store_open(bad, &s, &err);
        if (i == 0) {
            assert_int_equal(rc, KF_E_UNSAFE_STORAGE);
            assert_non_null(strstr(err.detail, "synchronous_commit"));
        } else {
            /* fsync and full_page_writes are server-wide: a session may not set them. */
            assert_true(rc == KF_E_UNSAFE_STORAGE || rc == KF_E_STORAGE);
        }
        assert_null(s);
    }
}

static int t_read_conn_insert(struct store *s, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(s, &c, err);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, "INSERT INTO probe_writes (id, created, tag, body) VALUES (1, 0, 'direct', '')", &st, err);
    if (rc == 0) {
        rc = store_step(st, err);
        store_finalize(&st);
    }
    store_release(&c);
    return rc < 0 ? rc : 0;
}

static void test_sqlite_read_connections_refuse_writes(void **state)
{
    struct store *s = t_open(state, true);
    if (!(store_caps(s) & STORE_CAP_GROUP_COMMIT)) {
        store_close(&s);
        skip();
    }
    struct kf_err err;
    assert_int_equal(t_read_conn_insert(s, &err), KF_E_STORAGE);
    assert_int_equal(t_count_tag(s, "direct"), 0);
    store_close(&s);
}

static void test_read_transaction_and_release_rolls_back_open_transaction(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    struct store_conn *c;
    T_OK(store_acquire(s, &c, &err));
    T_OK(store_begin(c, &err));
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT count(*) FROM jobs", &st, &err));
    assert_int_equal(store_step(st, &err), STORE_ROW);
    store_finalize(&st);
    T_OK(store_commit(c, &err));
    T_OK(store_begin(c, &err));
    store_release(&c); /* left open: the pool rolls it back */
    T_OK(store_acquire(s, &c, &err));
    T_OK(store_begin(c, &err));
    store_rollback(c);
    store_release(&c);
    struct store_stats stats;
    store_get_stats(s, &stats);
    assert_true(stats.connections >= 1);
    store_close(&s);
}

/* The map size a SQLite connection answers (PRAGMA mmap_size). */
static int64_t t_mmap_size(struct store_conn *c)
{
    struct kf_err err;
    struct store_stmt *st;
    T_OK(store_prepare(c, "PRAGMA mmap_size", &st, &err));
    assert_int_equal(store_step(st, &err), STORE_ROW);
    int64_t v = store_col_int64(st, 0);
    store_finalize(&st);
    return v;
}

/* A scan connection reads like any other; on SQLite it reads without the map (so a pass over every
 * open request leaves nothing resident), and the pool gets it back mapped as before. */
static void test_scan_connection_reads_unmapped_and_returns_to_the_pool_mapped(void **state)
{
    struct store *s = t_open(state, true);
    struct kf_err err;
    struct t_probe p = {.id = 7, .tag = "scan"};
    T_OK(store_write(s, t_probe_fn, &p, &err));
    struct store_conn *c;
    T_OK(store_acquire_scan(s, &c, &err));
    bool sqlite = t_is_sqlite(s);
    if (sqlite) assert_int_equal(t_mmap_size(c), 0);
    struct store_stmt *st;
    T_OK(store_prepare(c, "SELECT count(*) FROM probe_writes WHERE tag = $1", &st, &err));
    store_bind_text(st, 1, "scan", (size_t)-1);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_int_equal(store_col_int64(st, 0), 1);
    store_finalize(&st);
    store_release(&c);
    T_OK(store_acquire(s, &c, &err)); /* the pool's only idle connection: the one just scanned with */
    if (sqlite) assert_true(t_mmap_size(c) > 0);
    store_release(&c);
    store_close(&s);
}

/* Both engines end at the same schema after the same migrations (DESIGN: measured facts). */
static void test_both_engines_describe_the_same_schema(void **state)
{
    (void)state;
    const char *pg_url = harness_db_url("postgres");
    if (!pg_url) skip();
    char pg[1100];
    snprintf(pg, sizeof pg, "%s", pg_url);
    char lite[1100];
    snprintf(lite, sizeof lite, "%s", harness_db_url("sqlite"));
    struct kf_err err;
    struct store *a = NULL, *b = NULL;
    T_OK(store_open(lite, &a, &err));
    T_OK(store_open(pg, &b, &err));
    T_OK(store_migrate(a, T_NOW_MS, &err));
    T_OK(store_migrate(b, T_NOW_MS, &err));
    struct buf da, db;
    buf_init(&da, 1 << 20);
    buf_init(&db, 1 << 20);
    T_OK(store_describe_schema(a, &da, &err));
    T_OK(store_describe_schema(b, &db, &err));
    if (strcmp(da.data, db.data) != 0) {
        print_error("sqlite:\n%s\npostgres:\n%s\n", da.data, db.data);
    }
    assert_string_equal(da.data, db.data);
    buf_free(&da);
    buf_free(&db);
    store_close(&a);
    store_close(&b);
}

/* The catalogue queries agree on what 0001 does not use yet: composite and text keys, UNIQUE
 * constraints, multi-column foreign keys, partial and expression indexes, defaults. */
static void test_both_engines_describe_constraints_and_indexes_alike(void **state)
{
    (void)state;
    static const char ddl[] =
        "CREATE TABLE a (k1 BIGINT NOT NULL, k2 TEXT NOT NULL, email TEXT UNIQUE, note TEXT DEFAULT 'x', "
        "r REAL, PRIMARY KEY (k2, k1));"
        "CREATE TABLE b (id BIGINT PRIMARY KEY, a1 BIGINT, a2 TEXT, "
        "FOREIGN KEY (a1, a2) REFERENCES a (k1, k2) ON DELETE SET NULL);"
        "CREATE UNIQUE INDEX b_a ON b (a2, a1) WHERE a1 IS NOT NULL;"
        "CREATE INDEX b_expr ON b (lower(a2), id);"
        "CREATE TABLE c (code TEXT PRIMARY KEY, b_id BIGINT NOT NULL REFERENCES b (id), UNIQUE (b_id, code))";
    const char *pg_url = harness_db_url("postgres");
    if (!pg_url) skip();
    char pg[1100], lite[1100];
    snprintf(pg, sizeof pg, "%s", pg_url);
    snprintf(lite, sizeof lite, "%s", harness_db_url("sqlite"));
    struct kf_err err;
    struct store *a = NULL, *b = NULL;
    T_OK(store_open(lite, &a, &err));
    T_OK(store_open(pg, &b, &err));
    t_exec(a, ddl);
    t_exec(b, ddl);
    struct buf da, db;
    buf_init(&da, 1 << 20);
    buf_init(&db, 1 << 20);
    T_OK(store_describe_schema(a, &da, &err));
    T_OK(store_describe_schema(b, &db, &err));
    if (strcmp(da.data, db.data) != 0) print_error("sqlite:\n%s\npostgres:\n%s\n", da.data, db.data);
    assert_string_equal(da.data, db.data);
    assert_non_null(strstr(da.data, "column a.k1 int not-null pk2\n"));
    assert_non_null(strstr(da.data, "column a.r real\n"));
    assert_non_null(strstr(da.data, "index a (email) unique constraint\n"));
    assert_non_null(strstr(da.data, "index b (a2,a1) unique partial name=b_a\n"));
    assert_non_null(strstr(da.data, "index b ((expr),id) name=b_expr\n"));
    assert_non_null(strstr(da.data, "fkey b (a1,a2) references a (k1,k2) on-delete set-null\n"));
    assert_non_null(strstr(da.data, "fkey c (b_id) references b (id) on-delete no-action\n"));
    buf_free(&da);
    buf_free(&db);
    store_close(&a);
    store_close(&b);
}

#define T_BOTH(fn) HARNESS_BOTH_ENGINES(fn, t_setup_sqlite, t_setup_postgres, NULL)

#define T_SUITE                                                              \
    T_BOTH(test_open_migrate_and_describe_schema),                           \
    T_BOTH(test_bind_and_read_every_type_including_null),                    \
    T_BOTH(test_round_trip_of_int_text_blob_and_null_columns),               \
    T_BOTH(test_blob_with_every_byte_value_and_1mib_blob_round_trip),        \
    T_BOTH(test_chinese_text_and_sql_metacharacters_are_stored_verbatim),    \
    T_BOTH(test_placeholders_bind_by_number_not_by_appearance),              \
    T_BOTH(test_statement_cache_reuses_and_nested_use_gets_a_fresh_statement), \
    T_BOTH(test_bind_index_out_of_range_fails_at_step),                      \
    T_BOTH(test_changes_counts_rows_of_update),                              \
    T_BOTH(test_unique_violation_is_conflict_without_bound_values_in_detail), \
    T_BOTH(test_foreign_key_violation_is_conflict),                          \
    T_BOTH(test_write_leaving_a_statement_open_still_commits),               \
    T_BOTH(test_store_write_inside_a_write_function_is_refused),             \
    T_BOTH(test_write_failing_midway_leaves_nothing_behind),                 \
    T_BOTH(test_store_write_returns_when_visible_from_a_fresh_store),        \
    T_BOTH(test_failing_write_in_a_batch_rolls_back_only_itself),            \
    T_BOTH(test_done_is_called_only_after_the_batch_is_committed),           \
    T_BOTH(test_failed_commit_fails_every_write_of_its_batch),               \
    T_BOTH(test_store_close_drains_queued_writes),                           \
    T_BOTH(test_concurrent_writers_all_commit_and_share_batches),            \
    T_BOTH(test_migration_checksum_tampering_is_refused),                    \
    T_BOTH(test_migration_unknown_to_this_binary_is_refused),                \
    T_BOTH(test_concurrent_processes_apply_each_migration_once),             \
    T_BOTH(test_unsafe_durability_settings_are_refused),                     \
    T_BOTH(test_sqlite_read_connections_refuse_writes),                      \
    T_BOTH(test_read_transaction_and_release_rolls_back_open_transaction),    \
    T_BOTH(test_scan_connection_reads_unmapped_and_returns_to_the_pool_mapped)

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_unknown_url_scheme_is_config_error), T_SUITE};
    const struct CMUnitTest cross_tests[] = {
        cmocka_unit_test(test_both_engines_describe_the_same_schema),
        cmocka_unit_test(test_both_engines_describe_constraints_and_indexes_alike),
    };
    int failed = cmocka_run_group_tests_name("store", tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("store across engines", cross_tests, NULL, NULL);
    return failed ? 1 : 0;
}
