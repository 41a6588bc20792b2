/* Login throttling on both engines: growing waits after 5 failures, the hard block at 100 failures
 * an hour with its retry-after, the window's reset, a success clearing the account, address keys
 * counted apart, and the login.failed / login.throttled audit records (trail verifies clean). */
#include "harness.h"

#include <pthread.h>

#include "domain_fixture.h"
#include "domain/throttle.h"

#define ACCT "acct:alice"
#define ADDR "addr:198.51.100.7"

struct fail_args {
    const char *key;
    const struct throttle_rule *rule;
    int64_t now;
    int64_t failures;
    int64_t wait;
};

static int fail_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct fail_args *a = arg;
    return throttle_fail(c, a->now, a->key, a->rule, &a->failures, &a->wait, err);
}

/* Counts one failure of `key` now; returns the wait it imposes. */
static int64_t fail_once(struct fixture *fx, const char *key, const struct throttle_rule *rule, int64_t *failures_r)
{
    struct fail_args a = {key, rule, df_now(fx), 0, 0};
    T_OK(store_write(fx->store, fail_fn, &a, &fx->err));
    if (failures_r) *failures_r = a.failures;
    return a.wait;
}

/* The wait throttle_check reports for `key` now (0: may try). */
static int64_t check(struct fixture *fx, const char *key)
{
    struct store_conn *c;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    int64_t wait = -1;
    int rc = throttle_check(c, df_now(fx), key, &wait, &fx->err);
    store_release(&c);
    if (rc == 0) assert_int_equal(wait, 0);
    else {
        assert_int_equal(rc, KF_E_RATE_LIMITED);
        assert_true(wait > 0);
        assert_non_null(strstr(fx->err.detail, "retry after"));
    }
    return wait;
}

static int success_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    return throttle_success(c, arg, err);
}

static void five_failures_bring_a_wait_that_doubles_up_to_fifteen_minutes(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    for (int i = 1; i <= 4; i++) {
        assert_int_equal(fail_once(fx, ACCT, &throttle_rule_account, NULL), 0);
        assert_int_equal(check(fx, ACCT), 0);
    }
    int64_t expect = 1000;
    for (int i = 5; i <= 16; i++) {
        int64_t n = 0;
        int64_t wait = fail_once(fx, ACCT, &throttle_rule_account, &n);
        assert_int_equal(n, i);
        assert_int_equal(wait, expect < 15 * DF_MIN ? expect : 15 * DF_MIN);
        assert_int_equal(check(fx, ACCT), wait);
        df_tick(fx, wait - 1);
        assert_int_equal(check(fx, ACCT), 1);
        df_tick(fx, 1);
        assert_int_equal(check(fx, ACCT), 0);
        expect *= 2;
    }
}

static void a_hundred_failures_in_the_hour_block_the_account_until_the_window_ends(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    /* parallel attempts that all passed the check before any failure was counted */
    int64_t start = df_now(fx), n = 0, wait = 0;
    for (int i = 1; i <= 99; i++) {
        wait = fail_once(fx, ACCT, &throttle_rule_account, &n);
        df_tick(fx, 10 * 1000);
    }
    assert_int_equal(n, 99);
    assert_true(wait <= 15 * DF_MIN);
    wait = fail_once(fx, ACCT, &throttle_rule_account, &n);
    assert_int_equal(n, 100);
    assert_int_equal(wait, start + DF_HOUR - df_now(fx)); /* until the window ends */
    assert_int_equal(check(fx, ACCT), start + DF_HOUR - df_now(fx));
    df_tick(fx, start + DF_HOUR - df_now(fx) - 1);
    assert_int_equal(check(fx, ACCT), 1);
    df_tick(fx, 1);
    assert_int_equal(check(fx, ACCT), 0);
    /* a new window: counting starts again at one, no wait */
    assert_int_equal(fail_once(fx, ACCT, &throttle_rule_account, &n), 0);
    assert_int_equal(n, 1);
}

static void the_window_resets_after_an_hour(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    int64_t n = 0;
    for (int i = 0; i < 4; i++) fail_once(fx, ACCT, &throttle_rule_account, &n);
    df_tick(fx, DF_HOUR - 1);
    assert_int_equal(fail_once(fx, ACCT, &throttle_rule_account, &n), 1000); /* 5th within the hour */
    assert_int_equal(n, 5);
    df_tick(fx, 1000); /* the wait is over and the window (from the first failure) has ended */
    assert_int_equal(fail_once(fx, ACCT, &throttle_rule_account, &n), 0);
    assert_int_equal(n, 1);
}

static void a_success_clears_the_account_but_not_the_address(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    int64_t n = 0;
    for (int i = 0; i < 7; i++) {
        fail_once(fx, ACCT, &throttle_rule_account, NULL);
        fail_once(fx, ADDR, &throttle_rule_address, NULL);
    }
    assert_true(check(fx, ACCT) > 0);
    T_OK(store_write(fx->store, success_fn, (void *)ACCT, &fx->err));
    assert_int_equal(check(fx, ACCT), 0);
    assert_int_equal(fail_once(fx, ACCT, &throttle_rule_account, &n), 0);
    assert_int_equal(n, 1);
    fail_once(fx, ADDR, &throttle_rule_address, &n);
    assert_int_equal(n, 8);
}

static void address_keys_count_apart_from_accounts_with_their_own_limits(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    int64_t n = 0;
    /* password spraying: one address, a new account each time */
    for (int i = 1; i <= 49; i++) {
        char acct[32];
        snprintf(acct, sizeof acct, "acct:user%d", i);
        assert_int_equal(fail_once(fx, acct, &throttle_rule_account, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(fail_once(fx, ADDR, &throttle_rule_address, &n), 0);
    }
    assert_int_equal(fail_once(fx, ADDR, &throttle_rule_address, &n), 1000);
    assert_int_equal(n, 50);
    assert_int_equal(check(fx, "acct:user1"), 0);
    assert_int_equal(check(fx, "addr:198.51.100.8"), 0); /* another address is untouched */
    for (int i = 51; i <= 998; i++) fail_once(fx, ADDR, &throttle_rule_address, NULL);
    assert_int_equal(fail_once(fx, ADDR, &throttle_rule_address, &n), 60 * 1000); /* waits stop at a minute */
    assert_int_equal(n, 999);
    assert_int_equal(fail_once(fx, ADDR, &throttle_rule_address, &n), DF_HOUR);
    assert_int_equal(n, 1000);
    df_tick(fx, 2 * DF_MIN);
    assert_int_equal(check(fx, ADDR), DF_HOUR - 2 * DF_MIN); /* blocked to the window's end */
}

static void address_keys_cut_ipv6_to_its_64_and_unmap_ipv4(void **state)
{
    struct kf_err err;
    char k1[THROTTLE_KEY_MAX], k2[THROTTLE_KEY_MAX];
    assert_int_equal(throttle_key_address("2001:db8:1:2:aaaa::1", k1, &err), 0);
    assert_int_equal(throttle_key_address("2001:db8:1:2:bbbb:cccc:dddd:eeee", k2, &err), 0);
    assert_string_equal(k1, "addr:2001:db8:1:2::/64");
    assert_string_equal(k1, k2);
    assert_int_equal(throttle_key_address("::ffff:198.51.100.7", k1, &err), 0);
    assert_string_equal(k1, ADDR);
    assert_int_equal(throttle_key_address("198.51.100.7", k1, &err), 0);
    assert_string_equal(k1, ADDR);
    assert_int_equal(throttle_key_account("alice", k1, &err), 0);
    assert_string_equal(k1, ACCT);
    assert_int_equal(throttle_key_account("", k1, &err), KF_E_INVALID);
    char long_name[400];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(throttle_key_account(long_name, k1, &err), KF_E_INVALID);
}

/* Parallel failures of one key (on PostgreSQL each in its own transaction on its own connection):
 * the upsert's row lock counts every one, and none is lost (DESIGN invariant 4). */
#define RACERS 8
#define EACH 10

struct racer {
    struct fixture *fx;
    int64_t now;
    int failed;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < EACH; i++) {
        struct fail_args a = {ACCT, &throttle_rule_account, r->now, 0, 0};
        struct kf_err err;
        if (store_write(r->fx->store, fail_fn, &a, &err) != 0) r->failed++;
    }
    return NULL;
}

static void parallel_failures_of_one_key_are_all_counted(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    pthread_t th[RACERS];
    struct racer r[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){fx, df_now(fx), 0};
        assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].failed, 0);
    }
    int64_t n = 0;
    fail_once(fx, ACCT, &throttle_rule_account, &n);
    assert_int_equal(n, RACERS * EACH + 1);
}

/* --- the login flow with its audit records ---------------------------------------------------------- */

struct login_args {
    const struct kf_ctx *ctx;
    struct throttle_login l;
    bool failed;
    int64_t wait;
};

static int login_check_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct login_args *a = arg;
    return throttle_login_check(c, a->ctx, &a->l, &a->wait, err);
}

static int login_failed_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct login_args *a = arg;
    return throttle_login_failed(c, a->ctx, &a->l, "bad_password", &a->wait, err);
}

static void login_failures_and_refusals_are_audited_without_names_or_passwords(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct login_args a = {&fx->ctx, {ACCT, ADDR, 4242, 77}, false, 0};
    for (int i = 1; i <= 5; i++) {
        T_OK(store_write(fx->store, login_check_fn, &a, &fx->err));
        assert_int_equal(a.wait, 0);
        T_OK(store_write(fx->store, login_failed_fn, &a, &fx->err));
    }
    assert_int_equal(a.wait, 1000);
    T_OK(store_write(fx->store, login_check_fn, &a, &fx->err)); /* returns 0: the record commits */
    assert_int_equal(a.wait, 1000);
    assert_int_equal(throttle_refuse(&fx->err, a.wait), KF_E_RATE_LIMITED);
    assert_string_equal(fx->err.detail, "retry after 1 s");
    assert_int_equal(df_audit_count(fx, "login.failed"), 5);
    assert_int_equal(df_audit_count(fx, "login.throttled"), 1);
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM audit_log WHERE chain = $1", 1, 77), 6);
    assert_false(df_rows_contain(fx, "SELECT changes, object_type FROM audit_log", "alice", 5));
    assert_true(df_rows_contain(fx, "SELECT changes FROM audit_log WHERE action = 'login.failed'", "bad_password", 12));
    assert_true(df_rows_contain(fx, "SELECT changes FROM audit_log WHERE action = 'login.throttled'",
                                "\"limited_by\":\"account\"", 22));
    df_audit_intact(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(address_keys_cut_ipv6_to_its_64_and_unmap_ipv4),
        DF_BOTH(five_failures_bring_a_wait_that_doubles_up_to_fifteen_minutes),
        DF_BOTH(a_hundred_failures_in_the_hour_block_the_account_until_the_window_ends),
        DF_BOTH(the_window_resets_after_an_hour),
        DF_BOTH(a_success_clears_the_account_but_not_the_address),
        DF_BOTH(address_keys_count_apart_from_accounts_with_their_own_limits),
        DF_BOTH(parallel_failures_of_one_key_are_all_counted),
        DF_BOTH(login_failures_and_refusals_are_audited_without_names_or_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
