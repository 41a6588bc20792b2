/* A fixture shared by the identity tests (test_identity, test_customer, test_consent): a migrated
 * database on one engine, an open vault, a fake clock, a context whose actor a test switches, the
 * provider organisation and two clients — and helpers that count and verify audit records. */
#ifndef KEFU_TEST_IDENTITY_FIXTURE_H
#define KEFU_TEST_IDENTITY_FIXTURE_H
#include "harness.h"

#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/lookalike.h"
#include "domain/audit.h"
#include "domain/org.h"
#include "domain/password.h"
#include "domain/policy.h"
#include "domain/vault.h"
#include "store/store.h"

#define T0 1798761600000LL /* 2027-01-01T00:00:00Z */
#define STRONG_PW "Qx7!mZp2vR9#tL"
#define STRONG_PW2 "Wn4$kT8@bY3&hJ"

struct ifx {
    char url[1100];
    char dir[256];
    char key_path[300];
    struct store *store;
    struct vault *vault;
    struct kf_clock *clock;
    struct arena *arena;
    struct kf_env env;
    struct actor actor;
    struct kf_ctx ctx;
    struct kf_err err;
    int64_t provider_id, client_a, client_b;
};

#define T_OK(expr)                                                                   \
    do {                                                                             \
        int t_rc_ = (expr);                                                          \
        if (t_rc_ != 0) fail_msg("%s: rc %d (%s)", #expr, t_rc_, fx->err.detail);    \
    } while (0)

#define IFX(state)                       \
    struct ifx *fx = *(state);           \
    if (!fx) skip();                     \
    kf_err_clear(&fx->err)

static inline void ifx_as_system(struct ifx *fx)
{
    fx->actor = (struct actor){.kind = ACTOR_SYSTEM};
}

/* Acts as a user of client `client_id` (0: the provider) holding `roles`. */
static inline void ifx_as(struct ifx *fx, int64_t user_id, int64_t client_id, unsigned roles)
{
    fx->actor = (struct actor){.kind = ACTOR_USER, .user_id = user_id, .org_id = client_id ? client_id : fx->provider_id,
                               .client_id = client_id, .roles = roles, .session_id = 1};
}

static inline void ifx_as_anonymous(struct ifx *fx)
{
    fx->actor = (struct actor){.kind = ACTOR_ANONYMOUS};
}

static inline int ifx_setup(void **state, const char *engine)
{
    if (sodium_init() < 0) return -1;
    const char *url = harness_db_url(engine);
    if (!url) return -1;
    struct ifx *fx = calloc(1, sizeof *fx);
    snprintf(fx->url, sizeof fx->url, "%s", url);
    const char *tmp = getenv("KEFU_TEST_TMP");
    snprintf(fx->dir, sizeof fx->dir, "%s/kefu-ident-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(fx->dir)) return -1;
    snprintf(fx->key_path, sizeof fx->key_path, "%s/master.key", fx->dir);
    struct kf_err *err = &fx->err;
    if (password_init(err) != 0 || store_open(fx->url, &fx->store, err) != 0 ||
        store_migrate(fx->store, T0, err) != 0 || vault_key_file_create(fx->key_path, err) != 0 ||
        vault_open(fx->key_path, fx->store, &fx->vault, err) != 0) {
        fprintf(stderr, "setup: %s\n", err->detail);
        return -1;
    }
    fx->clock = clock_new_fake(T0);
    vault_set_clock(fx->vault, fx->clock);
    fx->arena = arena_new(0);
    fx->env = (struct kf_env){.store = fx->store, .clock = fx->clock, .vault = fx->vault, .test_mode = true};
    fx->ctx = (struct kf_ctx){.env = &fx->env, .arena = fx->arena, .request_id = "req-ident", .actor = &fx->actor,
                              .source_addr = "203.0.113.7"};
    ifx_as_system(fx);
    struct org_input p = {.name = "客服运营有限公司", .legal_name = "Kefu Operations Ltd"};
    struct org_input a = {.name = "甲客户", .contact_name = "王经理", .contact_phone = "13800138000"};
    struct org_input b = {.name = "乙客户"};
    if (org_create_provider(&fx->ctx, &p, &fx->provider_id, err) != 0 ||
        org_create_client(&fx->ctx, &a, &fx->client_a, err) != 0 ||
        org_create_client(&fx->ctx, &b, &fx->client_b, err) != 0) {
        fprintf(stderr, "setup orgs: %s\n", err->detail);
        return -1;
    }
    *state = fx;
    return 0;
}

static inline int ifx_setup_sqlite(void **state) { return ifx_setup(state, "sqlite"); }

static inline int ifx_setup_postgres(void **state)
{
    if (!getenv("KEFU_TEST_PG_URL")) {
        *state = NULL;
        return 0;
    }
    return ifx_setup(state, "postgres");
}

static inline int ifx_teardown(void **state)
{
    struct ifx *fx = *state;
    if (!fx) return 0;
    vault_close(&fx->vault);
    store_close(&fx->store);
    clock_free(&fx->clock);
    arena_free(&fx->arena);
    harness_remove_dir(fx->dir);
    harness_remove_sqlite(fx->url);
    free(fx);
    return 0;
}

/* A one-row count with one text parameter $1. */
static inline int64_t ifx_count_text(struct ifx *fx, const char *sql, const char *text)
{
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, sql, &st, &fx->err));
    store_bind_text(st, 1, text, (size_t)-1);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    int64_t v = store_col_int64(st, 0);
    store_finalize(&st);
    store_release(&c);
    return v;
}

/* A one-row count with int64 parameters $1 (and $2 when the SQL names it). */
static inline int64_t ifx_count(struct ifx *fx, const char *sql, int64_t p1, int64_t p2)
{
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, sql, &st, &fx->err));
    store_bind_int64(st, 1, p1);
    if (strstr(sql, "$2")) store_bind_int64(st, 2, p2);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    int64_t v = store_col_int64(st, 0);
    store_finalize(&st);
    store_release(&c);
    return v;
}

/* Audit records with this action (any chain). */
static inline int64_t ifx_audit_count(struct ifx *fx, const char *action)
{
    return ifx_count_text(fx, "SELECT count(*) FROM audit_log WHERE action = $1", action);
}

static inline int64_t ifx_audit_total(struct ifx *fx)
{
    return ifx_count_text(fx, "SELECT count(*) FROM audit_log WHERE action <> $1", "");
}

/* The changes JSON of the newest record with `action`, in the arena. */
static inline char *ifx_audit_changes(struct ifx *fx, const char *action)
{
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, "SELECT changes FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1", &st, &fx->err));
    store_bind_text(st, 1, action, (size_t)-1);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    char *s = arena_strdup(fx->arena, store_col_text(st, 0, NULL));
    store_finalize(&st);
    store_release(&c);
    return s;
}

/* Every chain verifies clean (C7.1.1). */
static inline void ifx_audit_verify_clean(struct ifx *fx)
{
    unsigned char pk[32], sk[64];
    T_OK(vault_signing_key(fx->vault, fx->store, pk, sk, &fx->err));
    struct audit_problem probs[8];
    size_t n = 99;
    T_OK(audit_verify(fx->store, pk, NULL, probs, 8, &n, &fx->err));
    sodium_memzero(sk, sizeof sk);
    if (n) fail_msg("audit: chain %lld seq %lld: %s", (long long)probs[0].chain, (long long)probs[0].seq, probs[0].what);
}

#endif
