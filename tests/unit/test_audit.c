/* The audit trail on both engines (C7.1.1): appends form gap-free hash chains per client inside the
 * caller's transaction, and `audit_verify` names the chain and first bad seq of every kind of
 * tampering done directly in SQL — edits, deletions, reordering, truncation, forged signatures. */
#include "harness.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "domain/audit.h"
#include "store/store.h"

#define T0 1798761600000LL /* 2027-01-01T00:00:00Z */
#define C1 101             /* a client chain */
#define C2 202             /* another client chain */
#define PROVIDER 0         /* the provider chain */
#define SEEDED 6           /* records per chain after seed() */
#define MAXP 16

#define T_OK(expr)                                                                   \
    do {                                                                             \
        struct kf_err *t_err_ = &fx->err;                                            \
        int t_rc_ = (expr);                                                          \
        if (t_rc_ != 0) fail_msg("%s: rc %d (%s)", #expr, t_rc_, t_err_->detail);    \
    } while (0)

struct fixture {
    struct store *store;
    struct kf_clock *clock;
    struct kf_env env;
    struct actor actor;
    struct kf_ctx ctx;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char dir[256];
    char export_path[300];
    struct kf_err err;
};

static int setup(void **state, const char *engine)
{
    if (sodium_init() < 0) return -1;
    struct fixture *fx = calloc(1, sizeof *fx);
    if (harness_store_open(engine, T0, &fx->store, &fx->err) != 0) return -1;
    fx->clock = clock_new_fake(T0);
    fx->env = (struct kf_env){.store = fx->store, .clock = fx->clock, .test_mode = true};
    fx->actor = (struct actor){.kind = ACTOR_USER, .user_id = 7001, .roles = ROLE_AGENT, .session_id = 9};
    fx->ctx = (struct kf_ctx){.env = &fx->env, .request_id = "req-unit-1", .actor = &fx->actor,
                              .source_addr = "203.0.113.9"};
    crypto_sign_keypair(fx->pk, fx->sk);
    const char *tmp = getenv("KEFU_TEST_TMP");
    snprintf(fx->dir, sizeof fx->dir, "%s/kefu-audit-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(fx->dir)) return -1;
    snprintf(fx->export_path, sizeof fx->export_path, "%s/checkpoints.jsonl", fx->dir);
    *state = fx;
    return 0;
}

HARNESS_ENGINE_SETUPS(setup)

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (!fx) return 0;
    store_close(&fx->store);
    clock_free(&fx->clock);
    unlink(fx->export_path);
    rmdir(fx->dir);
    sodium_memzero(fx->sk, sizeof fx->sk);
    free(fx);
    return 0;
}

#define SKIP_WITHOUT_ENGINE(fx) \
    do { \
        if (!(fx)) skip(); \
    } while (0)

static bool is_postgres(const struct fixture *fx)
{
    return strcmp(store_engine(fx->store), "postgres") == 0;
}

/* --- helpers ------------------------------------------------------------------------------------- */

struct append_args {
    const struct kf_ctx *ctx;
    struct audit_entry e;
    int fail_after; /* return this code after appending (0: keep) */
};

static int append_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct append_args *a = arg;
    int rc = audit_append(c, a->ctx, &a->e, err);
    if (rc == 0 && a->fail_after) rc = kf_fail(err, a->fail_after, NULL, "planned failure after the append");
    return rc;
}

static void append_with(struct fixture *fx, const struct kf_ctx *ctx, int64_t chain, const char *action,
                        const char *object_type, int64_t object_id, json_t *changes)
{
    struct append_args a = {ctx, {chain, action, object_type, object_id, changes}, 0};
    T_OK(store_write(fx->store, append_fn, &a, &fx->err));
    json_decref(changes);
}

static void append(struct fixture *fx, int64_t chain, const char *action, int64_t object_id, json_t *changes)
{
    append_with(fx, &fx->ctx, chain, action, "ticket", object_id, changes);
}

static void tick(struct fixture *fx, int64_t ms)
{
    clock_set(fx->clock, clock_now_ms(fx->clock) + ms);
}

/* Six records on each of two client chains and the provider chain, interleaved, a second apart. */
static void seed(struct fixture *fx)
{
    for (int i = 1; i <= SEEDED; i++) {
        append(fx, C1, "ticket.update", 1000 + i, json_pack("{s:i, s:s}", "n", i, "status", "open"));
        tick(fx, 1000);
        append(fx, C2, "ticket.update", 2000 + i, json_pack("{s:i, s:s}", "n", i, "status", "open"));
        tick(fx, 1000);
        append(fx, PROVIDER, "agreement.update", 3000 + i, json_pack("{s:i, s:s}", "n", i, "status", "open"));
        tick(fx, 1000);
    }
}

static int exec_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    return store_exec(c, arg, err);
}

/* Tampering: SQL run directly against the database, as an attacker with database access would. */
static void tamper(struct fixture *fx, const char *sql)
{
    T_OK(store_write(fx->store, exec_fn, (void *)sql, &fx->err));
}

static int64_t query_int(struct fixture *fx, const char *sql, int64_t p1)
{
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, sql, &st, &fx->err));
    store_bind_int64(st, 1, p1);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    int64_t v = store_col_int64(st, 0);
    store_finalize(&st);
    store_release(&c);
    return v;
}

static void query_text(struct fixture *fx, const char *sql, int64_t p1, char *out, size_t cap)
{
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, sql, &st, &fx->err));
    store_bind_int64(st, 1, p1);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    snprintf(out, cap, "%s", store_col_text(st, 0, NULL));
    store_finalize(&st);
    store_release(&c);
}

static size_t verify(struct fixture *fx, const char *exported, struct audit_problem *p)
{
    size_t n = 99;
    T_OK(audit_verify(fx->store, fx->pk, exported, p, MAXP, &n, &fx->err));
    return n;
}

static void print_problems(const struct audit_problem *p, size_t n)
{
    for (size_t i = 0; i < n && i < MAXP; i++)
        print_message("  problem: chain %lld seq %lld: %s\n", (long long)p[i].chain, (long long)p[i].seq, p[i].what);
}

/* verify finds exactly one problem: on `chain`, at `seq`, saying `what`. */
static void expect_one(struct fixture *fx, const char *exported, int64_t chain, int64_t seq, const char *what)
{
    struct audit_problem p[MAXP];
    size_t n = verify(fx, exported, p);
    if (n != 1) print_problems(p, n);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].chain, chain);
    assert_int_equal(p[0].seq, seq);
    if (!strstr(p[0].what, what)) fail_msg("expected \"%s\", got \"%s\"", what, p[0].what);
}

static void expect_intact(struct fixture *fx, const char *exported)
{
    struct audit_problem p[MAXP];
    size_t n = verify(fx, exported, p);
    if (n) print_problems(p, n);
    assert_int_equal(n, 0);
}

static void checkpoint_and_export(struct fixture *fx)
{
    int written = 0;
    T_OK(audit_checkpoint(fx->store, &fx->ctx, fx->sk, &written, &fx->err));
    T_OK(audit_export_checkpoints(fx->store, fx->export_path, &fx->err));
}

/* --- an intact trail ------------------------------------------------------------------------------- */

static void intact_trail_verifies_clean_with_and_without_exported_checkpoints(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    expect_intact(fx, NULL);
    checkpoint_and_export(fx);
    append(fx, C1, "ticket.close", 1001, json_pack("{s:s}", "status", "closed")); /* after the checkpoint */
    struct audit_problem p[MAXP];
    size_t n = 99;
    struct audit_verify_summary sum;
    T_OK(audit_verify_summary(fx->store, fx->pk, fx->export_path, p, MAXP, &n, &sum, &fx->err));
    assert_int_equal(n, 0);
    assert_int_equal(sum.chains, 3);
    assert_int_equal(sum.records, 3 * SEEDED + 1);
    assert_int_equal(sum.checkpoints, 3);
    assert_int_equal(sum.exported, 3);
    assert_int_equal(query_int(fx, "SELECT seq FROM audit_heads WHERE chain = $1", C1), SEEDED + 1);
}

/* --- tampering (C7.1.1) ------------------------------------------------------------------------------ */

/* C7.1.1: one byte of one record's changes edited → that chain, that seq, hash mismatch. */
static void c7_1_1_edited_byte_of_changes_is_hash_mismatch_at_its_seq(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    tamper(fx, "UPDATE audit_log SET changes = replace(changes, 'open', 'opeN') WHERE chain = 202 AND seq = 3");
    expect_one(fx, NULL, C2, 3, "hash mismatch at seq 3");
}

/* C7.1.1: a record's action edited → hash mismatch at its seq. */
static void c7_1_1_edited_action_is_hash_mismatch_at_its_seq(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    tamper(fx, "UPDATE audit_log SET action = 'ticket.delete' WHERE chain = 101 AND seq = 4");
    expect_one(fx, NULL, C1, 4, "hash mismatch at seq 4");
}

/* C7.1.1: a stored hash replaced (e.g. by one recomputed for an edited record) → hash mismatch. */
static void c7_1_1_edited_hash_is_hash_mismatch_at_its_seq(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    tamper(fx, "UPDATE audit_log SET hash = replace(hash, substr(hash, 1, 1), 'x') WHERE chain = 0 AND seq = 5");
    expect_one(fx, NULL, PROVIDER, 5, "hash mismatch at seq 5");
}

/* C7.1.1: a record's prev_hash edited (its own hash left) → the link is broken at its seq. */
static void c7_1_1_edited_prev_hash_is_broken_link_at_its_seq(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    tamper(fx, "UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE chain = 101 AND seq = 1) "
               "WHERE chain = 101 AND seq = 3");
    expect_one(fx, NULL, C1, 3, "hash mismatch at seq 3 (prev_hash does not link)");
}

/* C7.1.1: the head row of a chain deleted → reported at the chain's last seq. */
static void c7_1_1_deleted_head_row_is_reported(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    tamper(fx, "DELETE FROM audit_heads WHERE chain = 202");
    expect_one(fx, NULL, C2, SEEDED, "head row missing (records end at seq 6)");
}

/* C7.1.1: a record deleted from the middle → the gap: missing seq N. */
static void c7_1_1_deleted_middle_record_is_missing_seq(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    tamper(fx, "DELETE FROM audit_log WHERE chain = 0 AND seq = 3");
    expect_one(fx, NULL, PROVIDER, 3, "missing seq 3");
}

/* C7.1.1: the last record deleted leaves no gap; the head row still names it → missing seq N. */
static void c7_1_1_deleted_last_record_is_detected_through_the_head(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    tamper(fx, "DELETE FROM audit_log WHERE chain = 101 AND seq = 6");
    expect_one(fx, NULL, C1, 6, "missing seq 6");
}

/* C7.1.1: two records' seq swapped (reordering) → mismatch at the first swapped seq. */
static void c7_1_1_swapped_records_are_hash_mismatch_at_first_swapped_seq(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    tamper(fx, "UPDATE audit_log SET seq = -1 WHERE chain = 202 AND seq = 2;"
               "UPDATE audit_log SET seq = 2 WHERE chain = 202 AND seq = 4;"
               "UPDATE audit_log SET seq = 4 WHERE chain = 202 AND seq = -1");
    expect_one(fx, NULL, C2, 2, "hash mismatch at seq 2");
}

/* C7.1.1: the tail cut off and the head rewound with it. Caught by a checkpoint beyond the new end
 * while one is left in the database; an attacker who deletes those too is caught only against the
 * exported checkpoints file — without it the trail looks intact (the documented limit). */
static void c7_1_1_truncated_tail_with_rewound_head_is_caught_by_exported_checkpoints(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    checkpoint_and_export(fx);
    tamper(fx, "DELETE FROM audit_log WHERE chain = 101 AND seq > 3;"
               "UPDATE audit_heads SET seq = 3, hash = (SELECT hash FROM audit_log WHERE chain = 101 AND seq = 3) "
               "WHERE chain = 101");
    expect_one(fx, NULL, C1, 4, "chain ends at seq 3 before checkpoint seq 6");
    tamper(fx, "DELETE FROM audit_checkpoints WHERE chain = 101 AND seq > 3");
    expect_intact(fx, NULL);
    expect_one(fx, fx->export_path, C1, 4, "chain ends at seq 3 before exported checkpoint seq 6");
}

/* C7.1.1: a whole chain deleted with its head and checkpoints is caught against the export. */
static void c7_1_1_deleted_chain_is_caught_by_exported_checkpoints(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    checkpoint_and_export(fx);
    tamper(fx, "DELETE FROM audit_log WHERE chain = 202; DELETE FROM audit_heads WHERE chain = 202;"
               "DELETE FROM audit_checkpoints WHERE chain = 202");
    expect_intact(fx, NULL);
    expect_one(fx, fx->export_path, C2, 1, "chain ends at seq 0 before exported checkpoint seq 6");
}

struct sig_args {
    int64_t chain;
};

static int flip_signature_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct sig_args *a = arg;
    struct store_stmt *st = NULL;
    unsigned char sig[64];
    size_t len = 0;
    int rc = store_prepare(c, "SELECT signature FROM audit_checkpoints WHERE chain = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->chain);
    if (store_step(st, err) != STORE_ROW) return KF_E_NOT_FOUND;
    memcpy(sig, store_col_blob(st, 0, &len), sizeof sig);
    store_finalize(&st);
    sig[10] ^= 0x01;
    rc = store_prepare(c, "UPDATE audit_checkpoints SET signature = $2 WHERE chain = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->chain);
    store_bind_blob(st, 2, sig, sizeof sig);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

/* C7.1.1: one bit of a checkpoint's signature changed → checkpoint signature invalid at its seq. */
static void c7_1_1_forged_checkpoint_signature_is_reported(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    checkpoint_and_export(fx);
    struct sig_args a = {C2};
    T_OK(store_write(fx->store, flip_signature_fn, &a, &fx->err));
    expect_one(fx, NULL, C2, SEEDED, "checkpoint signature invalid at seq 6");
}

/* Rewrites chain `chain` from `from_seq` on with hashes recomputed as kefu would, and its head:
 * what an attacker who knows the format can do without the signing key. */
struct rewrite_args {
    int64_t chain;
    int64_t from_seq;
};

struct row_copy {
    struct audit_record r;
    char *strs[8];
};

static void row_copy_take(struct row_copy *rc, const struct audit_record *r)
{
    rc->r = *r;
    const char **fields[] = {&rc->r.actor_kind, &rc->r.source_addr, &rc->r.request_id, &rc->r.action,
                             &rc->r.object_type, &rc->r.changes, &rc->r.prev_hash, &rc->r.hash};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) *fields[i] = rc->strs[i] = strdup(*fields[i]);
}

static int rewrite_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct rewrite_args *a = arg;
    struct row_copy rows[SEEDED] = {0};
    size_t n = 0;
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "SELECT id, chain, seq, at, actor_kind, actor_id, token_id, source_addr, request_id, action, "
                           "object_type, object_id, changes, prev_hash, hash FROM audit_log WHERE chain = $1 ORDER BY seq",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->chain);
    while (n < SEEDED && store_step(st, err) == STORE_ROW) {
        struct audit_record r = {.id = store_col_int64(st, 0), .chain = store_col_int64(st, 1),
                                 .seq = store_col_int64(st, 2), .at = store_col_int64(st, 3),
                                 .actor_kind = store_col_text(st, 4, NULL), .actor_id = store_col_int64(st, 5),
                                 .token_id = store_col_int64(st, 6), .source_addr = store_col_text(st, 7, NULL),
                                 .request_id = store_col_text(st, 8, NULL), .action = store_col_text(st, 9, NULL),
                                 .object_type = store_col_text(st, 10, NULL), .object_id = store_col_int64(st, 11),
                                 .changes = store_col_text(st, 12, NULL), .prev_hash = store_col_text(st, 13, NULL),
                                 .hash = store_col_text(st, 14, NULL)};
        row_copy_take(&rows[n++], &r);
    }
    store_finalize(&st);
    unsigned char prev[32], h[32];
    char hex[65];
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (rows[i].r.seq < a->from_seq) continue;
        sodium_hex2bin(prev, 32, rows[i].r.prev_hash, 64, NULL, NULL, NULL);
        if (rows[i].r.seq > a->from_seq) sodium_hex2bin(prev, 32, rows[i - 1].r.hash, 64, NULL, NULL, NULL);
        if (rows[i].r.seq == a->from_seq) rows[i].r.changes = "{\"n\":3,\"status\":\"refunded\"}";
        audit_record_hash(prev, &rows[i].r, h);
        sodium_bin2hex(hex, sizeof hex, h, 32);
        free(rows[i].strs[7]);
        rows[i].r.hash = rows[i].strs[7] = strdup(hex);
        sodium_bin2hex(hex, sizeof hex, prev, 32);
        rc = store_prepare(c, "UPDATE audit_log SET changes = $2, prev_hash = $3, hash = $4 WHERE id = $1", &st, err);
        if (rc) break;
        store_bind_int64(st, 1, rows[i].r.id);
        store_bind_text(st, 2, rows[i].r.changes, (size_t)-1);
        store_bind_text(st, 3, hex, 64);
        store_bind_text(st, 4, rows[i].r.hash, 64);
        rc = store_step(st, err);
        store_finalize(&st);
        if (rc > 0) rc = 0;
        if (rc == 0 && i == n - 1) {
            rc = store_prepare(c, "UPDATE audit_heads SET hash = $2 WHERE chain = $1", &st, err);
            if (rc) break;
            store_bind_int64(st, 1, a->chain);
            store_bind_text(st, 2, rows[i].r.hash, 64);
            rc = store_step(st, err);
            store_finalize(&st);
            if (rc > 0) rc = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 8; k++) free(rows[i].strs[k]);
    }
    return rc;
}

/* C7.1.1: an edit followed by recomputing every later hash and the head passes the record-by-record
 * walk, but not the signed checkpoint; with the database's checkpoints deleted too, the exported
 * file still catches it. */
static void c7_1_1_chain_rewritten_with_recomputed_hashes_is_caught_by_signed_checkpoint(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    checkpoint_and_export(fx);
    struct rewrite_args a = {C2, 3};
    T_OK(store_write(fx->store, rewrite_fn, &a, &fx->err));
    char changes[128];
    query_text(fx, "SELECT changes FROM audit_log WHERE chain = $1 AND seq = 3", C2, changes, sizeof changes);
    assert_non_null(strstr(changes, "refunded"));
    expect_one(fx, NULL, C2, SEEDED, "hash at seq 6 differs from signed checkpoint");
    tamper(fx, "DELETE FROM audit_checkpoints WHERE chain = 202");
    expect_intact(fx, NULL);
    expect_one(fx, fx->export_path, C2, SEEDED, "hash at seq 6 differs from exported checkpoint");
}

/* C7.1.1: a record inserted with a forged NUL-separated tail (SQLite TEXT can hold NUL) is not
 * mistaken for the original: verify hashes the stored value as a whole. */
static void c7_1_1_text_with_hidden_nul_tail_is_hash_mismatch(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    if (is_postgres(fx)) skip(); /* PostgreSQL text cannot hold NUL at all */
    seed(fx);
    tamper(fx, "UPDATE audit_log SET action = action || char(0) || 'hidden' WHERE chain = 101 AND seq = 2");
    expect_one(fx, NULL, C1, 2, "hash mismatch at seq 2");
}

/* C7.1.1: a checkpoint verified with another public key fails: verify trusts only its own key. */
static void c7_1_1_checkpoints_signed_by_another_key_are_reported(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    checkpoint_and_export(fx);
    crypto_sign_keypair(fx->pk, fx->sk); /* verify now trusts a different key */
    struct audit_problem p[MAXP];
    size_t n = verify(fx, fx->export_path, p);
    assert_int_equal(n, 6); /* three in the database, three exported */
    for (size_t i = 0; i < n; i++) assert_non_null(strstr(p[i].what, "signature invalid at seq 6"));
}

/* --- concurrency and transactions ---------------------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 25

struct worker {
    struct fixture *fx;
    int index;
    int rc;
    char detail[160];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct kf_err err;
    for (int i = 0; i < PER_THREAD && w->rc == 0; i++) {
        json_t *ch = json_pack("{s:i, s:i}", "thread", w->index, "i", i);
        struct append_args a = {&w->fx->ctx, {C1, "ticket.comment", "ticket", 1, ch}, 0};
        w->rc = store_write(w->fx->store, append_fn, &a, &err);
        if (w->rc) snprintf(w->detail, sizeof w->detail, "%s", err.detail);
        json_decref(ch);
    }
    return NULL;
}

/* Eight threads appending to one chain at once get seq 1..200 without gap or fork, and it verifies
 * (on PostgreSQL the head row lock serialises concurrent transactions). */
static void concurrent_appends_to_one_chain_from_8_threads_are_gap_free_and_verify(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.fx = fx, .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].rc) fail_msg("worker %d: rc %d (%s)", i, w[i].rc, w[i].detail);
    }
    const int64_t total = THREADS * PER_THREAD;
    assert_int_equal(query_int(fx, "SELECT count(*) FROM audit_log WHERE chain = $1", C1), total);
    assert_int_equal(query_int(fx, "SELECT count(DISTINCT seq) FROM audit_log WHERE chain = $1", C1), total);
    assert_int_equal(query_int(fx, "SELECT min(seq) FROM audit_log WHERE chain = $1", C1), 1);
    assert_int_equal(query_int(fx, "SELECT max(seq) FROM audit_log WHERE chain = $1", C1), total);
    assert_int_equal(query_int(fx, "SELECT seq FROM audit_heads WHERE chain = $1", C1), total);
    expect_intact(fx, NULL);
}

/* Interleaved appends on different chains number each chain on its own: 1..n per chain. */
static void appends_on_different_chains_number_each_chain_independently(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    const int64_t chains[] = {C1, C2, PROVIDER};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(query_int(fx, "SELECT count(*) FROM audit_log WHERE chain = $1", chains[i]), SEEDED);
        assert_int_equal(query_int(fx, "SELECT max(seq) FROM audit_log WHERE chain = $1", chains[i]), SEEDED);
        assert_int_equal(query_int(fx, "SELECT count(*) FROM audit_log WHERE chain = $1 AND seq = 1 AND "
                                       "prev_hash = '0000000000000000000000000000000000000000000000000000000000000000'",
                                   chains[i]),
                         1);
    }
    expect_intact(fx, NULL);
}

/* A write that holds chain C1's head lock until told to finish. */
struct holder {
    struct fixture *fx;
    int64_t chain;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool appended, release;
    atomic_bool done;
    int rc;
};

static int hold_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct holder *h = arg;
    struct audit_entry e = {h->chain, "ticket.assign", "ticket", 1, NULL};
    int rc = audit_append(c, &h->fx->ctx, &e, err);
    pthread_mutex_lock(&h->mu);
    h->appended = true;
    pthread_cond_broadcast(&h->cv);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    while (!h->release && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0) {
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    struct kf_err err;
    h->rc = store_write(h->fx->store, hold_fn, h, &err);
    atomic_store(&h->done, true);
    return NULL;
}

struct simple_append {
    struct fixture *fx;
    int64_t chain;
    atomic_bool done;
    int rc;
};

static void *simple_append_main(void *arg)
{
    struct simple_append *s = arg;
    struct kf_err err;
    struct append_args a = {&s->fx->ctx, {s->chain, "ticket.assign", "ticket", 2, NULL}, 0};
    s->rc = store_write(s->fx->store, append_fn, &a, &err);
    atomic_store(&s->done, true);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* PostgreSQL: while one transaction has appended to C1 and not committed, an append to C2 commits
 * at once (clients never wait on each other), and a second append to C1 waits for the first to
 * commit and then follows it (seq 2 after seq 1: the chain does not fork). On SQLite the one writer
 * thread serialises every write, so there is no concurrent transaction to observe. */
static void open_append_blocks_only_its_own_chain(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    if (!is_postgres(fx)) skip();
    struct holder h = {.fx = fx, .chain = C1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t th, same;
    assert_int_equal(pthread_create(&th, NULL, holder_main, &h), 0);
    pthread_mutex_lock(&h.mu);
    while (!h.appended) pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);

    int64_t t0 = clock_monotonic_us();
    append(fx, C2, "ticket.assign", 3, NULL); /* other chain: does not wait */
    assert_true(clock_monotonic_us() - t0 < 5000000);
    assert_false(atomic_load(&h.done));

    struct simple_append s = {.fx = fx, .chain = C1};
    assert_int_equal(pthread_create(&same, NULL, simple_append_main, &s), 0);
    sleep_ms(300);
    assert_false(atomic_load(&s.done)); /* same chain: waits on the head row */

    pthread_mutex_lock(&h.mu);
    h.release = true;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    pthread_join(th, NULL);
    pthread_join(same, NULL);
    assert_int_equal(h.rc, 0);
    assert_int_equal(s.rc, 0);
    assert_int_equal(query_int(fx, "SELECT seq FROM audit_heads WHERE chain = $1", C1), 2);
    assert_int_equal(query_int(fx, "SELECT object_id FROM audit_log WHERE chain = $1 AND seq = 2", C1), 2);
    expect_intact(fx, NULL);
}

/* The append belongs to the caller's transaction: a write that appends and then fails leaves no
 * record and no head change — on an existing chain and on a new one. */
static void failed_write_leaves_no_audit_record_and_no_head_change(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    char head_before[80], head_after[80];
    query_text(fx, "SELECT hash FROM audit_heads WHERE chain = $1", C1, head_before, sizeof head_before);
    struct append_args a = {&fx->ctx, {C1, "ticket.close", "ticket", 1001, NULL}, KF_E_CONFLICT};
    assert_int_equal(store_write(fx->store, append_fn, &a, &fx->err), KF_E_CONFLICT);
    struct append_args b = {&fx->ctx, {303, "client.create", "client", 303, NULL}, KF_E_INVALID};
    assert_int_equal(store_write(fx->store, append_fn, &b, &fx->err), KF_E_INVALID);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM audit_log WHERE chain = $1", C1), SEEDED);
    assert_int_equal(query_int(fx, "SELECT seq FROM audit_heads WHERE chain = $1", C1), SEEDED);
    query_text(fx, "SELECT hash FROM audit_heads WHERE chain = $1", C1, head_after, sizeof head_after);
    assert_string_equal(head_before, head_after);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM audit_log WHERE chain = $1", 303), 0);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM audit_heads WHERE chain = $1", 303), 0);
    append(fx, C1, "ticket.close", 1001, NULL); /* the next append continues the chain */
    assert_int_equal(query_int(fx, "SELECT seq FROM audit_heads WHERE chain = $1", C1), SEEDED + 1);
    expect_intact(fx, NULL);
}

/* --- the record ------------------------------------------------------------------------------------- */

/* Who, from where, in which request: taken from the context; no actor means the system. */
static void record_takes_actor_source_request_and_time_from_context(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    append(fx, C1, "ticket.create", 42, NULL);
    struct kf_ctx job = {.env = &fx->env, .request_id = NULL, .actor = NULL, .source_addr = NULL};
    tick(fx, 5000);
    append_with(fx, &job, C1, "sla.breach", "ticket", 42, NULL);
    struct actor token = {.kind = ACTOR_TOKEN, .user_id = 7002, .token_id = 555};
    struct kf_ctx api = {.env = &fx->env, .request_id = "req-api", .actor = &token, .source_addr = "198.51.100.4"};
    append_with(fx, &api, C1, "ticket.update", "ticket", 42, NULL);
    char s[64];
    query_text(fx, "SELECT actor_kind || '|' || source_addr || '|' || request_id || '|' || changes FROM audit_log "
                   "WHERE chain = $1 AND seq = 1", C1, s, sizeof s);
    assert_string_equal(s, "user|203.0.113.9|req-unit-1|{}");
    assert_int_equal(query_int(fx, "SELECT actor_id FROM audit_log WHERE chain = 101 AND seq = $1", 1), 7001);
    assert_int_equal(query_int(fx, "SELECT at FROM audit_log WHERE chain = 101 AND seq = $1", 1), T0);
    query_text(fx, "SELECT actor_kind || '|' || source_addr || '|' || request_id FROM audit_log "
                   "WHERE chain = 101 AND seq = $1", 2, s, sizeof s);
    assert_string_equal(s, "system||");
    assert_int_equal(query_int(fx, "SELECT at FROM audit_log WHERE chain = 101 AND seq = $1", 2), T0 + 5000);
    assert_int_equal(query_int(fx, "SELECT token_id FROM audit_log WHERE chain = 101 AND seq = $1", 3), 555);
    expect_intact(fx, NULL);
}

/* Secrets never enter the trail: audit_mask replaces listed fields at any depth, and changes are
 * stored canonical (sorted keys, compact) so the hash has one input. */
static void secrets_are_masked_and_changes_are_stored_canonical(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    json_t *ch = json_loads("{\"zeta\": 1, \"password\": \"hunter2\", \"alpha\": {\"totp_secret\": \"JBSW\", "
                            "\"b\": [ {\"password\": \"x\"} ], \"a\": \"中文\"}}",
                            0, NULL);
    static const char *const secrets[] = {"password", "totp_secret", NULL};
    assert_int_equal(audit_mask(ch, secrets), 3);
    append(fx, C1, "user.update", 5, ch);
    char s[256];
    query_text(fx, "SELECT changes FROM audit_log WHERE chain = $1", C1, s, sizeof s);
    assert_string_equal(s, "{\"alpha\":{\"a\":\"中文\",\"b\":[{\"password\":\"***\"}],\"totp_secret\":\"***\"},"
                           "\"password\":\"***\",\"zeta\":1}");
    assert_null(strstr(s, "hunter2"));
    /* changes that are not an object are refused, and the append leaves nothing */
    struct append_args a = {&fx->ctx, {C1, "user.update", "user", 5, json_array()}, 0};
    assert_int_equal(store_write(fx->store, append_fn, &a, &fx->err), KF_E_INVALID);
    json_decref(a.e.changes);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM audit_log WHERE chain = $1", C1), 1);
}

/* The canonical form is injective: moving bytes between adjacent text fields changes it. */
static void canonical_form_separates_fields(void **state)
{
    (void)state;
    struct audit_record a = {.id = 1, .chain = 2, .seq = 3, .at = 4, .actor_kind = "user", .source_addr = "",
                             .request_id = "", .action = "ab", .object_type = "c", .changes = "{}"};
    struct audit_record b = a;
    b.action = "a";
    b.object_type = "bc";
    struct buf x, y;
    buf_init(&x, 4096);
    buf_init(&y, 4096);
    assert_int_equal(audit_canonical(&a, &x), 0);
    assert_int_equal(audit_canonical(&b, &y), 0);
    assert_true(x.len != y.len || memcmp(x.data, y.data, x.len) != 0);
    unsigned char zero[32] = {0}, ha[32], hb[32];
    audit_record_hash(zero, &a, ha);
    audit_record_hash(zero, &b, hb);
    assert_true(memcmp(ha, hb, 32) != 0);
    buf_free(&x);
    buf_free(&y);
}

/* --- checkpoints ---------------------------------------------------------------------------------------- */

/* audit_checkpoint signs each chain that moved since its last checkpoint, and only those; the
 * export holds one JSON line per checkpoint whose signature verifies. */
static void checkpoint_signs_only_chains_that_moved_and_export_is_json_lines(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    int written = -1;
    T_OK(audit_checkpoint(fx->store, &fx->ctx, fx->sk, &written, &fx->err));
    assert_int_equal(written, 3);
    T_OK(audit_checkpoint(fx->store, &fx->ctx, fx->sk, &written, &fx->err));
    assert_int_equal(written, 0);
    append(fx, C2, "ticket.close", 2001, NULL);
    tick(fx, 1000);
    T_OK(audit_checkpoint(fx->store, &fx->ctx, fx->sk, &written, &fx->err));
    assert_int_equal(written, 1);
    assert_int_equal(query_int(fx, "SELECT max(seq) FROM audit_checkpoints WHERE chain = $1", C2), SEEDED + 1);
    T_OK(audit_export_checkpoints(fx->store, fx->export_path, &fx->err));
    FILE *f = fopen(fx->export_path, "r");
    assert_non_null(f);
    char line[1024];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        assert_true(json_is_string(json_object_get(o, "chain")));
        assert_int_equal(strlen(json_string_value(json_object_get(o, "hash"))), 64);
        assert_int_equal(strlen(json_string_value(json_object_get(o, "signature"))), 128);
        json_decref(o);
        lines++;
    }
    fclose(f);
    assert_int_equal(lines, 4);
    expect_intact(fx, fx->export_path);
}

/* The periodic job's rule: a chain gets a checkpoint after N new records or, if it moved at all,
 * once its last checkpoint is M old. */
static void checkpoint_due_follows_every_n_records_or_every_m_ms(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    const int64_t n = 5, m = 3600000; /* 5 records or one hour */
    int written = -1;
    append(fx, C1, "ticket.create", 1, NULL);
    T_OK(audit_checkpoint_due(fx->store, &fx->ctx, fx->sk, n, m, &written, &fx->err));
    assert_int_equal(written, 1); /* a chain with no checkpoint yet is due */
    for (int i = 0; i < 4; i++) append(fx, C1, "ticket.update", 1, NULL);
    append(fx, C2, "ticket.create", 2, NULL);
    T_OK(audit_checkpoint_due(fx->store, &fx->ctx, fx->sk, n, m, &written, &fx->err));
    assert_int_equal(written, 1); /* C2 (new); C1 has grown by 4 < 5 within the hour */
    append(fx, C1, "ticket.update", 1, NULL);
    T_OK(audit_checkpoint_due(fx->store, &fx->ctx, fx->sk, n, m, &written, &fx->err));
    assert_int_equal(written, 1); /* C1 grew by 5 */
    assert_int_equal(query_int(fx, "SELECT max(seq) FROM audit_checkpoints WHERE chain = $1", C1), 6);
    append(fx, C2, "ticket.update", 2, NULL);
    T_OK(audit_checkpoint_due(fx->store, &fx->ctx, fx->sk, n, m, &written, &fx->err));
    assert_int_equal(written, 0); /* C2 grew by 1, checkpoint not an hour old */
    tick(fx, m);
    T_OK(audit_checkpoint_due(fx->store, &fx->ctx, fx->sk, n, m, &written, &fx->err));
    assert_int_equal(written, 1); /* C2 now: moved and an hour passed; C1 has not moved */
    expect_intact(fx, NULL);
}

/* --- listing ------------------------------------------------------------------------------------------- */

struct collected {
    int64_t seq[64];
    int64_t chain[64];
    int n;
};

static int collect_fn(void *arg, const struct audit_record *r)
{
    struct collected *c = arg;
    if (c->n < 64) {
        c->seq[c->n] = r->seq;
        c->chain[c->n] = r->chain;
        c->n++;
    }
    return 0;
}

/* Newest first, by key: pages of 4 over chain C1 never overlap and end with more = false; filters by
 * object, actor and time; a zero filter lists the provider chain only (C5.2: no cross-client list
 * without an explicit provider scope). */
static void list_pages_newest_first_by_key_with_filters(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    seed(fx);
    struct audit_filter f = {.chain = C1};
    struct audit_cursor cur;
    struct collected got = {0};
    T_OK(audit_list(fx->store, &f, NULL, 4, collect_fn, &got, &cur, &fx->err));
    assert_int_equal(got.n, 4);
    assert_true(cur.more);
    T_OK(audit_list(fx->store, &f, &cur, 4, collect_fn, &got, &cur, &fx->err));
    assert_int_equal(got.n, SEEDED);
    assert_false(cur.more);
    for (int i = 0; i < SEEDED; i++) {
        assert_int_equal(got.seq[i], SEEDED - i);
        assert_int_equal(got.chain[i], C1);
    }

    struct collected obj = {0};
    struct audit_filter fo = {.chain = C2, .object_type = "ticket", .object_id = 2003};
    T_OK(audit_list(fx->store, &fo, NULL, 10, collect_fn, &obj, NULL, &fx->err));
    assert_int_equal(obj.n, 1);
    assert_int_equal(obj.seq[0], 3);

    struct collected all = {0};
    struct audit_filter fa = {.all_chains = true, .actor_id = 7001, .from_ms = T0 + 3000, .to_ms = T0 + 6000};
    T_OK(audit_list(fx->store, &fa, NULL, 10, collect_fn, &all, NULL, &fx->err));
    assert_int_equal(all.n, 3); /* seconds 3, 4 and 5: seq 2 of C1, C2 and the provider chain */
    assert_int_equal(all.chain[0], PROVIDER);
    assert_int_equal(all.chain[1], C2);
    assert_int_equal(all.chain[2], C1);

    struct collected zero = {0};
    struct audit_filter fz = {0};
    T_OK(audit_list(fx->store, &fz, NULL, 100, collect_fn, &zero, NULL, &fx->err));
    assert_int_equal(zero.n, SEEDED);
    for (int i = 0; i < zero.n; i++) assert_int_equal(zero.chain[i], PROVIDER);
    assert_int_equal(audit_list(fx->store, &fz, NULL, 0, collect_fn, &zero, NULL, &fx->err), KF_E_INVALID);
}

/* The record as JSON for the pages: ids as strings, changes parsed. */
static int json_fn(void *arg, const struct audit_record *r)
{
    json_t **out = arg;
    *out = audit_record_json(r);
    return 0;
}

static void record_json_has_string_ids_and_parsed_changes(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    append(fx, C1, "ticket.create", 1234567890123456789LL, json_pack("{s:s}", "status", "open"));
    json_t *j = NULL;
    struct audit_filter f = {.chain = C1};
    T_OK(audit_list(fx->store, &f, NULL, 1, json_fn, &j, NULL, &fx->err));
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "object_id")), "1234567890123456789");
    assert_string_equal(json_string_value(json_object_get(j, "chain")), "101");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "changes"), "status")), "open");
    json_decref(j);
}

/* The interim key file: exactly 64 bytes, not readable by others. */

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, setup_sqlite, setup_postgres, teardown)
/* Tests proving C7.1.1 carry the clause's exact ID in the name cmocka reports. */
#define BOTH_C7_1_1(fn) \
    {"C7.1.1 " #fn "[sqlite]", fn, setup_sqlite, teardown, NULL}, \
    {"C7.1.1 " #fn "[postgres]", fn, setup_postgres, teardown, NULL}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(intact_trail_verifies_clean_with_and_without_exported_checkpoints),
        BOTH_C7_1_1(c7_1_1_edited_byte_of_changes_is_hash_mismatch_at_its_seq),
        BOTH_C7_1_1(c7_1_1_edited_action_is_hash_mismatch_at_its_seq),
        BOTH_C7_1_1(c7_1_1_edited_hash_is_hash_mismatch_at_its_seq),
        BOTH_C7_1_1(c7_1_1_edited_prev_hash_is_broken_link_at_its_seq),
        BOTH_C7_1_1(c7_1_1_deleted_head_row_is_reported),
        BOTH_C7_1_1(c7_1_1_deleted_middle_record_is_missing_seq),
        BOTH_C7_1_1(c7_1_1_deleted_last_record_is_detected_through_the_head),
        BOTH_C7_1_1(c7_1_1_swapped_records_are_hash_mismatch_at_first_swapped_seq),
        BOTH_C7_1_1(c7_1_1_truncated_tail_with_rewound_head_is_caught_by_exported_checkpoints),
        BOTH_C7_1_1(c7_1_1_deleted_chain_is_caught_by_exported_checkpoints),
        BOTH_C7_1_1(c7_1_1_forged_checkpoint_signature_is_reported),
        BOTH_C7_1_1(c7_1_1_chain_rewritten_with_recomputed_hashes_is_caught_by_signed_checkpoint),
        BOTH_C7_1_1(c7_1_1_text_with_hidden_nul_tail_is_hash_mismatch),
        BOTH_C7_1_1(c7_1_1_checkpoints_signed_by_another_key_are_reported),
        BOTH(concurrent_appends_to_one_chain_from_8_threads_are_gap_free_and_verify),
        BOTH(appends_on_different_chains_number_each_chain_independently),
        BOTH(open_append_blocks_only_its_own_chain),
        BOTH(failed_write_leaves_no_audit_record_and_no_head_change),
        BOTH(record_takes_actor_source_request_and_time_from_context),
        BOTH(secrets_are_masked_and_changes_are_stored_canonical),
        cmocka_unit_test(canonical_form_separates_fields),
        BOTH(checkpoint_signs_only_chains_that_moved_and_export_is_json_lines),
        BOTH(checkpoint_due_follows_every_n_records_or_every_m_ms),
        BOTH(list_pages_newest_first_by_key_with_filters),
        BOTH(record_json_has_string_ids_and_parsed_changes),
    };
    return cmocka_run_group_tests_name("audit (sqlite, postgres)", tests, NULL, NULL);
}
