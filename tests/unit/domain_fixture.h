/* A fixture for domain tests that write through the store on both engines: a migrated database, a
 * fake clock, an audit signing key pair, a context, and small helpers to run one write function and
 * to read one integer back. Include after harness.h. */
#ifndef KEFU_TEST_DOMAIN_FIXTURE_H
#define KEFU_TEST_DOMAIN_FIXTURE_H
#include <sodium.h>

#include "domain/audit.h"
#include "domain/context.h"
#include "store/store.h"

#define DF_T0 1798761600000LL /* 2027-01-01T00:00:00Z */
#define DF_MIN (60LL * 1000)
#define DF_HOUR (60 * DF_MIN)

#define T_OK(expr)                                                                   \
    do {                                                                             \
        int t_rc_ = (expr);                                                          \
        if (t_rc_ != 0) fail_msg("%s: rc %d (%s)", #expr, t_rc_, fx->err.detail);    \
    } while (0)

#define SKIP_WITHOUT_ENGINE(fx) \
    do { \
        if (!(fx)) skip(); \
    } while (0)

struct fixture {
    struct store *store;
    struct kf_clock *clock;
    struct kf_env env;
    struct actor actor;
    struct kf_ctx ctx;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    struct kf_err err;
};

static int df_setup(void **state, const char *engine)
{
    if (sodium_init() < 0) return -1;
    struct fixture *fx = calloc(1, sizeof *fx);
    if (harness_store_open(engine, DF_T0, &fx->store, &fx->err) != 0) return -1;
    fx->clock = clock_new_fake(DF_T0);
    fx->env = (struct kf_env){.store = fx->store, .clock = fx->clock, .test_mode = true};
    fx->actor = (struct actor){.kind = ACTOR_ANONYMOUS};
    fx->ctx = (struct kf_ctx){.env = &fx->env, .request_id = "req-unit-1", .actor = &fx->actor,
                              .source_addr = "203.0.113.9"};
    crypto_sign_keypair(fx->pk, fx->sk);
    *state = fx;
    return 0;
}

HARNESS_ENGINE_SETUPS(df_setup)

static int df_teardown(void **state)
{
    struct fixture *fx = *state;
    if (!fx) return 0;
    store_close(&fx->store);
    clock_free(&fx->clock);
    sodium_memzero(fx->sk, sizeof fx->sk);
    free(fx);
    return 0;
}

#define DF_BOTH(fn) HARNESS_BOTH_ENGINES(fn, setup_sqlite, setup_postgres, df_teardown)

static inline void df_tick(struct fixture *fx, int64_t ms)
{
    clock_set(fx->clock, clock_now_ms(fx->clock) + ms);
}

static inline int64_t df_now(struct fixture *fx)
{
    return clock_now_ms(fx->clock);
}

/* One integer from `sql` with an optional int64 $1 (nparams 0 or 1). */
static inline int64_t df_query_int(struct fixture *fx, const char *sql, int nparams, int64_t p1)
{
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, sql, &st, &fx->err));
    if (nparams) store_bind_int64(st, 1, p1);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    int64_t v = store_col_int64(st, 0);
    store_finalize(&st);
    store_release(&c);
    return v;
}

/* How many audit records have `action`. */
static inline int64_t df_audit_count(struct fixture *fx, const char *action)
{
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, "SELECT count(*) FROM audit_log WHERE action = $1", &st, &fx->err));
    store_bind_text(st, 1, action, (size_t)-1);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    int64_t v = store_col_int64(st, 0);
    store_finalize(&st);
    store_release(&c);
    return v;
}

/* True when `needle` (n bytes) occurs in any column of any row `sql` selects — used to prove a
 * secret was never stored. */
static inline bool df_rows_contain(struct fixture *fx, const char *sql, const void *needle, size_t n)
{
    struct store_conn *c;
    struct store_stmt *st;
    bool found = false;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, sql, &st, &fx->err));
    while (store_step(st, &fx->err) == STORE_ROW) {
        for (int i = 0; i < store_col_count(st); i++) {
            size_t len = 0;
            const void *p = store_col_blob(st, i, &len);
            if (p && len >= n && memmem(p, len, needle, n)) found = true;
        }
    }
    store_finalize(&st);
    store_release(&c);
    return found;
}

/* The audit trail verifies clean (signed checkpoint included). */
static inline void df_audit_intact(struct fixture *fx)
{
    int written = 0;
    T_OK(audit_checkpoint(fx->store, &fx->ctx, fx->sk, &written, &fx->err));
    struct audit_problem p[8];
    size_t n = 99;
    T_OK(audit_verify(fx->store, fx->pk, NULL, p, 8, &n, &fx->err));
    for (size_t i = 0; i < n && i < 8; i++) print_message("problem: chain %lld seq %lld: %s\n", (long long)p[i].chain,
                                                          (long long)p[i].seq, p[i].what);
    assert_int_equal(n, 0);
}

#endif
