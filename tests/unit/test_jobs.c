/* The scheduler on both engines, driven by a fake clock: one-shot and periodic jobs fire when
 * due and only then, in order; failures retry and are recorded; duplicates by key are refused. */
#include "harness.h"

#include "core/arena.h"
#include "jobs/scheduler.h"
#include "store/store.h"

#define DAY_MS (24LL * 3600 * 1000)
#define T0 1798761600000LL /* 2027-01-01T00:00:00Z */

struct fixture {
    struct store *store;
    struct kf_clock *clock;
    struct kf_env env;
    struct scheduler *sched;
};

static int calls;
static int64_t seen_scheduled[64];

static int counting_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err)
{
    if (calls < 64) seen_scheduled[calls] = run->scheduled_at;
    calls++;
    if (strstr(run->payload, "\"fail\"") && run->attempt <= 2) return kf_fail(err, KF_E_UNAVAILABLE, NULL, "planned");
    return 0;
}

static int setup(void **state, const char *engine)
{
    const char *url = harness_db_url(engine);
    if (!url) return -1;
    struct fixture *fx = calloc(1, sizeof *fx);
    struct kf_err err;
    if (store_open(url, &fx->store, &err) != 0 || store_migrate(fx->store, T0, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.detail);
        return -1;
    }
    fx->clock = clock_new_fake(T0);
    fx->env.store = fx->store;
    fx->env.clock = fx->clock;
    fx->env.test_mode = true;
    jobs_register("unit.count", counting_job);
    if (scheduler_start(&fx->env, false, 0, &fx->sched, &err) != 0) return -1;
    fx->env.sched = fx->sched;
    calls = 0;
    *state = fx;
    return 0;
}

HARNESS_ENGINE_SETUPS(setup)

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (!fx) return 0;
    scheduler_stop(&fx->sched);
    store_close(&fx->store);
    clock_free(&fx->clock);
    free(fx);
    return 0;
}

struct insert_args {
    struct job_spec spec;
    int64_t now;
    int64_t id;
};

static int insert_write(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct insert_args *a = arg;
    return jobs_insert(c, a->now, &a->spec, &a->id, err);
}

static int64_t schedule(struct fixture *fx, const char *key, int64_t run_at, int64_t period, const char *payload)
{
    struct insert_args a = {{"unit.count", key, run_at, period, 3, payload}, clock_now_ms(fx->clock), 0};
    struct kf_err err;
    assert_int_equal(store_write(fx->store, insert_write, &a, &err), 0);
    return a.id;
}

static int64_t job_state(struct fixture *fx, int64_t id, char *state, size_t size)
{
    struct store_conn *c;
    struct store_stmt *st;
    struct kf_err err;
    assert_int_equal(store_acquire(fx->store, &c, &err), 0);
    assert_int_equal(store_prepare(c, "SELECT state, attempts FROM jobs WHERE id = $1", &st, &err), 0);
    store_bind_int64(st, 1, id);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    snprintf(state, size, "%s", store_col_text(st, 0, NULL));
    int64_t attempts = store_col_int64(st, 1);
    store_finalize(&st);
    store_release(&c);
    return attempts;
}

#define SKIP_WITHOUT_ENGINE(fx) \
    do { \
        if (!(fx)) skip(); \
    } while (0)

static void one_shot_job_fires_once_when_due(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct kf_err err;
    int64_t id = schedule(fx, NULL, T0 + 3 * DAY_MS, 0, NULL);
    int ran = 0;
    assert_int_equal(scheduler_advance_to(fx->sched, T0 + 2 * DAY_MS, &ran, NULL, &err), 0);
    assert_int_equal(calls, 0);
    assert_int_equal(scheduler_advance_to(fx->sched, T0 + 10 * DAY_MS, &ran, NULL, &err), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(seen_scheduled[0], T0 + 3 * DAY_MS);
    char st[16];
    job_state(fx, id, st, sizeof st);
    assert_string_equal(st, "done");
    assert_int_equal(scheduler_advance_to(fx->sched, T0 + 20 * DAY_MS, &ran, NULL, &err), 0);
    assert_int_equal(calls, 1);
}

static void periodic_job_fires_once_per_period_in_order(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct kf_err err;
    schedule(fx, "daily", T0 + DAY_MS, DAY_MS, NULL);
    int ran = 0;
    assert_int_equal(scheduler_advance_to(fx->sched, T0 + 10 * DAY_MS, &ran, NULL, &err), 0);
    assert_int_equal(calls, 10);
    assert_int_equal(ran, 10);
    for (int i = 0; i < 10; i++) assert_int_equal(seen_scheduled[i], T0 + (i + 1) * DAY_MS);
    assert_int_equal(clock_now_ms(fx->clock), T0 + 10 * DAY_MS);
}

static void unique_key_schedules_once(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    assert_true(schedule(fx, "renewal:42", T0 + DAY_MS, 0, NULL) > 0);
    assert_int_equal(schedule(fx, "renewal:42", T0 + 2 * DAY_MS, 0, NULL), 0);
    struct kf_err err;
    int ran = 0;
    assert_int_equal(scheduler_advance_to(fx->sched, T0 + 5 * DAY_MS, &ran, NULL, &err), 0);
    assert_int_equal(calls, 1);
}

static void failing_job_retries_then_succeeds_and_runs_are_recorded(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct kf_err err;
    int64_t id = schedule(fx, NULL, T0 + 1000, 0, "{\"fail\":true}");
    int ran = 0;
    assert_int_equal(scheduler_advance_to(fx->sched, T0 + DAY_MS, &ran, NULL, &err), 0);
    assert_int_equal(calls, 3); /* two planned failures, then success */
    char st[16];
    job_state(fx, id, st, sizeof st);
    assert_string_equal(st, "done");
    struct store_conn *c;
    struct store_stmt *s;
    assert_int_equal(store_acquire(fx->store, &c, &err), 0);
    assert_int_equal(store_prepare(c, "SELECT COUNT(*), SUM(ok) FROM job_runs WHERE job_id = $1", &s, &err), 0);
    store_bind_int64(s, 1, id);
    assert_int_equal(store_step(s, &err), STORE_ROW);
    assert_int_equal(store_col_int64(s, 0), 3);
    assert_int_equal(store_col_int64(s, 1), 1);
    store_finalize(&s);
    store_release(&c);
}

/* A runner that finds a periodic job a few periods late runs each missed occurrence once; one that
 * was down for many periods skips to the next future occurrence instead of running them all. */
static void late_periodic_job_catches_up_within_limits(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct kf_err err;
    int ran = 0;
    schedule(fx, "catch-up", T0 + DAY_MS, DAY_MS, NULL);
    assert_int_equal(clock_set(fx->clock, T0 + 3 * DAY_MS), 0); /* a jump, not a walk */
    assert_int_equal(scheduler_run_due(fx->sched, &ran, &err), 0);
    assert_int_equal(ran, 3);
    for (int i = 0; i < 3; i++) assert_int_equal(seen_scheduled[i], T0 + (i + 1) * DAY_MS);
    assert_int_equal(clock_set(fx->clock, T0 + 100 * DAY_MS), 0);
    ran = 0;
    assert_int_equal(scheduler_run_due(fx->sched, &ran, &err), 0);
    assert_int_equal(ran, 1); /* 96 periods behind: one run, then the next future day */
    assert_int_equal(scheduler_advance_to(fx->sched, T0 + 101 * DAY_MS, &ran, NULL, &err), 0);
    assert_int_equal(calls, 5);
}

/* Housekeeping jobs are ensured at every start: however often, one row per kind, and it fires. */
static void ensure_periodic_keeps_one_job_per_kind(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct kf_err err;
    for (int i = 0; i < 3; i++) assert_int_equal(jobs_ensure_periodic(&fx->env, "unit.count", counting_job, DAY_MS, &err), 0);
    struct store_conn *c;
    struct store_stmt *st;
    assert_int_equal(store_acquire(fx->store, &c, &err), 0);
    assert_int_equal(store_prepare(c, "SELECT COUNT(*) FROM jobs WHERE kind = $1", &st, &err), 0);
    store_bind_text(st, 1, "unit.count", (size_t)-1);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_int_equal(store_col_int64(st, 0), 1);
    store_finalize(&st);
    store_release(&c);
    int ran = 0;
    assert_int_equal(scheduler_advance_to(fx->sched, T0 + 2 * DAY_MS, &ran, NULL, &err), 0);
    assert_int_equal(calls, 2);
}

static void clock_never_goes_backwards(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct kf_err err;
    int ran = 0;
    assert_int_equal(scheduler_advance_to(fx->sched, T0 + DAY_MS, &ran, NULL, &err), 0);
    assert_int_equal(scheduler_advance_to(fx->sched, T0, &ran, NULL, &err), KF_E_INVALID);
    assert_int_equal(clock_now_ms(fx->clock), T0 + DAY_MS);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, setup_sqlite, setup_postgres, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(one_shot_job_fires_once_when_due),
        BOTH(periodic_job_fires_once_per_period_in_order),
        BOTH(unique_key_schedules_once),
        BOTH(failing_job_retries_then_succeeds_and_runs_are_recorded),
        BOTH(late_periodic_job_catches_up_within_limits),
        BOTH(ensure_periodic_keeps_one_job_per_kind),
        BOTH(clock_never_goes_backwards),
    };
    return cmocka_run_group_tests_name("jobs (sqlite, postgres)", tests, NULL, NULL);
}
