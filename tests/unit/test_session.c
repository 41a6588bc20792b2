/* Sessions on both engines: a fresh random token per login stored only as its hash, idle and
 * absolute timeouts on the fake clock, logout, ending every session of one user, throttled
 * last_seen writes, the per-session CSRF token, and the audit records (trail verifies clean). */
#include "harness.h"

#include "domain_fixture.h"
#include "domain/session.h"
#include "domain/throttle.h"
#include "jobs/scheduler.h"

#define USER 5001
#define OTHER 5002
#define CLIENT 88

struct create_args {
    const struct kf_ctx *ctx;
    int64_t user_id;
    const char *agent;
    char token[TOKEN_TEXT_MAX];
    int64_t id;
};

static int create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct create_args *a = arg;
    return session_create(c, a->ctx, NULL, a->user_id, CLIENT, "203.0.113.9", a->agent, a->token, &a->id, err);
}

struct create_lim {
    struct create_args *a;
    const struct session_limits *lim;
};

static int create_lim_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct create_lim *l = arg;
    return session_create(c, l->a->ctx, l->lim, l->a->user_id, CLIENT, NULL, NULL, l->a->token, &l->a->id, err);
}

static int64_t login(struct fixture *fx, int64_t user_id, char token[TOKEN_TEXT_MAX])
{
    struct create_args a = {&fx->ctx, user_id, "Mozilla/5.0 (X11; Linux x86_64)", {0}, 0};
    T_OK(store_write(fx->store, create_fn, &a, &fx->err));
    memcpy(token, a.token, TOKEN_TEXT_MAX);
    return a.id;
}

static int resolve(struct fixture *fx, const char *token, struct session_info *info)
{
    return session_resolve(fx->store, fx->clock, NULL, token, info, &fx->err);
}

struct end_args {
    const struct kf_ctx *ctx;
    const char *token;
    bool ended;
    int64_t user_id;
    int64_t n;
};

static int end_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct end_args *a = arg;
    return session_end(c, a->ctx, a->token, &a->ended, err);
}

static int end_all_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct end_args *a = arg;
    return session_end_all_for_user(c, a->ctx, a->user_id, CLIENT, "password_changed", &a->n, err);
}

static void c7_1_1_a_token_resolves_and_only_its_hash_is_stored(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX];
    int64_t id = login(fx, USER, token);
    assert_true(token_is_well_formed(token, NULL));
    struct session_info info;
    T_OK(resolve(fx, token, &info));
    assert_int_equal(info.id, id);
    assert_int_equal(info.user_id, USER);
    assert_int_equal(info.client_id, CLIENT);
    assert_int_equal(info.absolute_expires, DF_T0 + 12 * DF_HOUR);
    assert_int_equal(info.idle_expires, DF_T0 + 30 * DF_MIN);
    /* the token text is nowhere: not in sessions, not in the audit trail */
    const char *all_sessions = "SELECT id, token_hash, user_id, client_id, created, last_seen, idle_expires, "
                               "absolute_expires, ended, ended_reason, source_addr, user_agent, csrf_secret FROM sessions";
    assert_false(df_rows_contain(fx, all_sessions, token, strlen(token)));
    assert_false(df_rows_contain(fx, "SELECT changes FROM audit_log", token, strlen(token)));
    unsigned char raw[TOKEN_RANDOM_BYTES];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof raw, token, strlen(token), NULL, &n, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
    assert_false(df_rows_contain(fx, all_sessions, raw, sizeof raw)); /* nor its raw bytes */
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(token, h);
    assert_true(df_rows_contain(fx, "SELECT token_hash FROM sessions", h, sizeof h)); /* the hash is */
    assert_int_equal(df_audit_count(fx, "session.create"), 1);
    df_audit_intact(fx);
}

static void every_login_gets_a_new_token(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char t1[TOKEN_TEXT_MAX], t2[TOKEN_TEXT_MAX];
    int64_t id1 = login(fx, USER, t1);
    int64_t id2 = login(fx, USER, t2);
    assert_string_not_equal(t1, t2);
    assert_true(id1 != id2);
    struct session_info a, b;
    T_OK(resolve(fx, t1, &a));
    T_OK(resolve(fx, t2, &b));
    assert_int_equal(a.id, id1);
    assert_int_equal(b.id, id2);
}

static void unknown_and_malformed_tokens_are_unauthenticated(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX], other[TOKEN_TEXT_MAX];
    login(fx, USER, token);
    struct session_info info;
    T_OK(token_new(NULL, other, sizeof other, &fx->err));
    assert_int_equal(resolve(fx, other, &info), KF_E_UNAUTHENTICATED);
    assert_int_equal(resolve(fx, "", &info), KF_E_UNAUTHENTICATED);
    assert_int_equal(resolve(fx, NULL, &info), KF_E_UNAUTHENTICATED);
    assert_int_equal(resolve(fx, "x' OR 1=1 --", &info), KF_E_UNAUTHENTICATED);
    token[5] = token[5] == 'A' ? 'B' : 'A';
    assert_int_equal(resolve(fx, token, &info), KF_E_UNAUTHENTICATED);
}

static void idle_for_31_minutes_is_refused(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX];
    login(fx, USER, token);
    df_tick(fx, 31 * DF_MIN);
    struct session_info info;
    assert_int_equal(resolve(fx, token, &info), KF_E_UNAUTHENTICATED);
    assert_non_null(strstr(fx->err.detail, "idle"));
}

static void idle_for_29_minutes_is_accepted_and_slides_the_idle_expiry(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX];
    int64_t id = login(fx, USER, token);
    struct session_info info;
    for (int i = 1; i <= 3; i++) { /* 87 minutes in all, never 30 idle */
        df_tick(fx, 29 * DF_MIN);
        T_OK(resolve(fx, token, &info));
        assert_int_equal(info.idle_expires, df_now(fx) + 30 * DF_MIN);
    }
    assert_int_equal(df_query_int(fx, "SELECT last_seen FROM sessions WHERE id = $1", 1, id), df_now(fx));
    df_tick(fx, 30 * DF_MIN);
    assert_int_equal(resolve(fx, token, &info), KF_E_UNAUTHENTICATED);
}

static void twelve_hours_end_a_session_however_active(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX];
    login(fx, USER, token);
    struct session_info info;
    for (int i = 0; i < 12 * 3 - 1; i++) { /* a request every 20 minutes */
        df_tick(fx, 20 * DF_MIN);
        T_OK(resolve(fx, token, &info));
        assert_true(info.idle_expires <= DF_T0 + 12 * DF_HOUR); /* never slides past the absolute expiry */
    }
    df_tick(fx, 20 * DF_MIN - 1);
    T_OK(resolve(fx, token, &info));
    df_tick(fx, 1); /* 12 h to the millisecond */
    assert_int_equal(resolve(fx, token, &info), KF_E_UNAUTHENTICATED);
    assert_non_null(strstr(fx->err.detail, "absolute"));
}

static void last_seen_is_written_at_most_once_a_minute(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX];
    int64_t id = login(fx, USER, token);
    struct store_stats before, after;
    store_get_stats(fx->store, &before);
    struct session_info info;
    for (int i = 0; i < 59; i++) {
        df_tick(fx, 1000);
        T_OK(resolve(fx, token, &info));
    }
    store_get_stats(fx->store, &after);
    assert_int_equal(after.writes, before.writes); /* 59 requests in 59 s: no write */
    assert_int_equal(df_query_int(fx, "SELECT last_seen FROM sessions WHERE id = $1", 1, id), DF_T0);
    df_tick(fx, 1000);
    T_OK(resolve(fx, token, &info));
    store_get_stats(fx->store, &after);
    assert_int_equal(after.writes, before.writes + 1);
    assert_int_equal(df_query_int(fx, "SELECT last_seen FROM sessions WHERE id = $1", 1, id), DF_T0 + DF_MIN);
}

static void logout_ends_the_session_and_the_token_is_refused_after(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX], other[TOKEN_TEXT_MAX];
    int64_t id = login(fx, USER, token);
    login(fx, USER, other);
    struct end_args a = {&fx->ctx, token, false, 0, 0};
    T_OK(store_write(fx->store, end_fn, &a, &fx->err));
    assert_true(a.ended);
    struct session_info info;
    assert_int_equal(resolve(fx, token, &info), KF_E_UNAUTHENTICATED);
    assert_non_null(strstr(fx->err.detail, "ended"));
    T_OK(resolve(fx, other, &info)); /* the user's other session stays */
    T_OK(store_write(fx->store, end_fn, &a, &fx->err)); /* twice: no error, nothing recorded */
    assert_false(a.ended);
    a.token = "not-a-token";
    T_OK(store_write(fx->store, end_fn, &a, &fx->err));
    assert_false(a.ended);
    assert_int_equal(df_audit_count(fx, "session.end"), 1);
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM sessions WHERE id = $1 AND ended_reason = 'logout'", 1, id),
                     1);
    df_audit_intact(fx);
}

static void end_all_ends_every_session_of_that_user_only(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char t[3][TOKEN_TEXT_MAX], o[TOKEN_TEXT_MAX];
    for (int i = 0; i < 3; i++) login(fx, USER, t[i]);
    login(fx, OTHER, o);
    struct end_args a = {&fx->ctx, NULL, false, USER, 0};
    T_OK(store_write(fx->store, end_all_fn, &a, &fx->err));
    assert_int_equal(a.n, 3);
    struct session_info info;
    for (int i = 0; i < 3; i++) assert_int_equal(resolve(fx, t[i], &info), KF_E_UNAUTHENTICATED);
    T_OK(resolve(fx, o, &info));
    assert_int_equal(info.user_id, OTHER);
    T_OK(store_write(fx->store, end_all_fn, &a, &fx->err)); /* nothing left: no record */
    assert_int_equal(a.n, 0);
    assert_int_equal(df_audit_count(fx, "session.end_all"), 1);
    assert_int_equal(
        df_query_int(fx, "SELECT count(*) FROM sessions WHERE user_id = $1 AND ended_reason = 'password_changed'", 1, USER),
        3);
    df_audit_intact(fx);
}

static void csrf_token_is_valid_for_its_session_only(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char t1[TOKEN_TEXT_MAX], t2[TOKEN_TEXT_MAX];
    login(fx, USER, t1);
    login(fx, USER, t2);
    struct session_info s1, s2;
    T_OK(resolve(fx, t1, &s1));
    T_OK(resolve(fx, t2, &s2));
    char c1[TOKEN_TEXT_MAX], c2[TOKEN_TEXT_MAX], again[TOKEN_TEXT_MAX];
    session_csrf_token(&s1, c1);
    session_csrf_token(&s2, c2);
    assert_int_equal(strlen(c1), TOKEN_BODY_CHARS);
    assert_true(token_is_well_formed(c1, NULL));
    assert_string_not_equal(c1, t1); /* not the session token */
    session_csrf_token(&s1, again);
    assert_string_equal(c1, again); /* stable for the session */
    assert_true(session_csrf_check(&s1, c1));
    assert_true(session_csrf_check(&s2, c2));
    assert_false(session_csrf_check(&s1, c2));
    assert_false(session_csrf_check(&s2, c1));
    for (size_t i = 0; i < strlen(c1); i++) { /* one changed character anywhere */
        char bad[TOKEN_TEXT_MAX];
        memcpy(bad, c1, sizeof bad);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        assert_false(session_csrf_check(&s1, bad));
    }
    c1[TOKEN_BODY_CHARS - 1] = '\0';
    assert_false(session_csrf_check(&s1, c1));
    assert_false(session_csrf_check(&s1, ""));
    assert_false(session_csrf_check(&s1, NULL));
    /* the CSRF token is stored nowhere either */
    assert_false(df_rows_contain(fx, "SELECT csrf_secret, token_hash, user_agent FROM sessions", c2, strlen(c2)));
}

static void a_long_or_broken_user_agent_is_cut_and_stored_safely(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char agent[600];
    memset(agent, 'a', sizeof agent);
    memcpy(agent + 254, "\xe4\xb8\xad", 3); /* 中 across the 256-byte cut */
    agent[sizeof agent - 1] = '\0';
    struct create_args a = {&fx->ctx, USER, agent, {0}, 0};
    T_OK(store_write(fx->store, create_fn, &a, &fx->err));
    assert_int_equal(df_query_int(fx, "SELECT length(user_agent) FROM sessions WHERE id = $1", 1, a.id), 254);
    struct create_args b = {&fx->ctx, USER, "bad \xff\xfe utf8\x01", {0}, 0};
    T_OK(store_write(fx->store, create_fn, &b, &fx->err));
    assert_true(df_rows_contain(fx, "SELECT user_agent FROM sessions", "bad ?? utf8?", 12));
}

static void custom_timeouts_apply_and_nonsense_is_refused(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct session_limits lim = {.idle_ms = 5 * DF_MIN, .absolute_ms = DF_HOUR, .touch_ms = 10 * 1000};
    struct create_args a = {&fx->ctx, USER, NULL, {0}, 0};
    struct session_info info;
    struct create_lim cl = {&a, &lim};
    T_OK(store_write(fx->store, create_lim_fn, &cl, &fx->err));
    assert_int_equal(df_query_int(fx, "SELECT idle_expires FROM sessions WHERE id = $1", 1, a.id), DF_T0 + 5 * DF_MIN);
    df_tick(fx, 4 * DF_MIN);
    T_OK(session_resolve(fx->store, fx->clock, &lim, a.token, &info, &fx->err));
    assert_int_equal(info.idle_expires, DF_T0 + 9 * DF_MIN);
    df_tick(fx, 5 * DF_MIN);
    assert_int_equal(session_resolve(fx->store, fx->clock, &lim, a.token, &info, &fx->err), KF_E_UNAUTHENTICATED);
    struct session_limits bad[] = {{0, DF_HOUR, 1000}, {DF_MIN, 0, 1000}, {DF_MIN, DF_HOUR, DF_MIN}, {DF_MIN, DF_HOUR, -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cl.lim = &bad[i];
        assert_int_equal(store_write(fx->store, create_lim_fn, &cl, &fx->err), KF_E_CONFIG);
        assert_int_equal(session_resolve(fx->store, fx->clock, &bad[i], a.token, &info, &fx->err), KF_E_CONFIG);
    }
}

struct fail_args {
    int64_t now;
};

static int throttle_fail_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct fail_args *a = arg;
    return throttle_fail(c, a->now, "acct:alice", &throttle_rule_account, NULL, NULL, err);
}

static int purge_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct fixture *fx = arg;
    return session_purge(c, &fx->ctx, NULL, err);
}

static void the_hourly_job_purges_sessions_30_days_after_they_end_and_spent_throttle_rows(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct scheduler *sched = NULL;
    T_OK(scheduler_start(&fx->env, false, 0, &sched, &fx->err));
    fx->env.sched = sched;
    T_OK(session_jobs_schedule(&fx->env, &fx->err));
    T_OK(session_jobs_schedule(&fx->env, &fx->err)); /* a second process: still one job */
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM jobs WHERE kind = 'session.purge'", 0, 0), 1);
    char ended[TOKEN_TEXT_MAX], open_[TOKEN_TEXT_MAX], late[TOKEN_TEXT_MAX];
    int64_t id_ended = login(fx, USER, ended);
    int64_t id_open = login(fx, USER, open_);
    struct end_args e = {&fx->ctx, ended, false, 0, 0};
    T_OK(store_write(fx->store, end_fn, &e, &fx->err));
    struct fail_args f = {df_now(fx)};
    T_OK(store_write(fx->store, throttle_fail_fn, &f, &fx->err));
    T_OK(scheduler_advance_by(sched, 2 * DF_HOUR, NULL, NULL, &fx->err)); /* the throttle row is spent */
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM login_throttle", 0, 0), 0);
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM sessions", 0, 0), 2);
    T_OK(scheduler_advance_to(sched, DF_T0 + 29 * 24 * DF_HOUR, NULL, NULL, &fx->err));
    int64_t id_late = login(fx, USER, late);
    T_OK(scheduler_advance_to(sched, DF_T0 + 30 * 24 * DF_HOUR + DF_HOUR, NULL, NULL, &fx->err));
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM sessions WHERE id = $1", 1, id_ended), 0);
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM sessions WHERE id = $1", 1, id_open), 1); /* 12 h later */
    T_OK(scheduler_advance_by(sched, 12 * DF_HOUR, NULL, NULL, &fx->err));
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM sessions WHERE id = $1", 1, id_open), 0);
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM sessions WHERE id = $1", 1, id_late), 1);
    int64_t purges = df_audit_count(fx, "session.purge");
    assert_int_equal(purges, 3);
    T_OK(store_write(fx->store, purge_fn, fx, &fx->err)); /* nothing to do: no record */
    assert_int_equal(df_audit_count(fx, "session.purge"), purges);
    scheduler_stop(&sched);
    df_audit_intact(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        DF_BOTH(c7_1_1_a_token_resolves_and_only_its_hash_is_stored),
        DF_BOTH(every_login_gets_a_new_token),
        DF_BOTH(unknown_and_malformed_tokens_are_unauthenticated),
        DF_BOTH(idle_for_31_minutes_is_refused),
        DF_BOTH(idle_for_29_minutes_is_accepted_and_slides_the_idle_expiry),
        DF_BOTH(twelve_hours_end_a_session_however_active),
        DF_BOTH(last_seen_is_written_at_most_once_a_minute),
        DF_BOTH(logout_ends_the_session_and_the_token_is_refused_after),
        DF_BOTH(end_all_ends_every_session_of_that_user_only),
        DF_BOTH(csrf_token_is_valid_for_its_session_only),
        DF_BOTH(a_long_or_broken_user_agent_is_cut_and_stored_safely),
        DF_BOTH(custom_timeouts_apply_and_nonsense_is_refused),
        DF_BOTH(the_hourly_job_purges_sessions_30_days_after_they_end_and_spent_throttle_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
