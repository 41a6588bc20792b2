/* DESIGN: the scheduler.
 * Invariants:
 * - A job row is `due` (waiting for run_at), `running` (claimed by one runner until
 *   locked_until), `done` (one-shot finished) or `failed` (one-shot out of attempts).
 * - Two clocks: run_at is business time (the injected clock, fake in tests); locked_until is real
 *   time, because a lock protects against crashed runners, which is a matter of wall-clock time.
 *   So processes whose fake clocks differ never take each other's fresh claims for stale ones.
 * - Every occurrence of a periodic job runs once; a runner that fell more than
 *   PERIOD_CATCH_UP periods behind (kefu was down) skips to the next future occurrence.
 * - Claiming is one UPDATE … RETURNING in its own write transaction: the claim is durable before
 *   the job's function runs, so a crash mid-run leaves a `running` row whose lock expires and is
 *   claimed again (at-least-once; job functions are idempotent).
 * - Time is the injected clock's. In test mode nothing runs by itself; scheduler_advance_to walks
 *   the fake clock through each due instant so that the order of events is the real one.
 * - Each run writes a job_runs row together with the job's new state, in one transaction. */
#include "jobs/scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "http/metrics.h"
#include "store/store.h"

#define MAX_KINDS 64
#define LOCK_MS (10 * 60 * 1000)
#define MAX_BACKOFF_MS (60 * 60 * 1000)
#define ADVANCE_MAX_STEPS 2000000
#define PERIOD_CATCH_UP 10

static struct {
    const char *kind;
    job_fn fn;
} registry[MAX_KINDS];
static int registry_len;

struct scheduler {
    const struct kf_env *env;
    pthread_t thread;
    bool background;
    int poll_ms;
    atomic_bool stopping;
    pthread_mutex_t run_lock;   /* one run_due at a time in this process */
    pthread_mutex_t advance_lock; /* one clock move at a time: the target is computed under it */
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;
    char runner[40];            /* who claimed a job: host-pid */
};

void jobs_register(const char *kind, job_fn fn)
{
    for (int i = 0; i < registry_len; i++) {
        if (strcmp(registry[i].kind, kind) == 0) {
            registry[i].fn = fn;
            return;
        }
    }
    if (registry_len < MAX_KINDS) {
        registry[registry_len].kind = kind;
        registry[registry_len++].fn = fn;
    }
}

static const char *registry_find(const char *kind, job_fn *fn_r)
{
    for (int i = 0; i < registry_len; i++) {
        if (strcmp(registry[i].kind, kind) == 0) {
            *fn_r = registry[i].fn;
            return registry[i].kind;
        }
    }
    *fn_r = NULL;
    return NULL;
}

int jobs_insert(struct store_conn *c, int64_t now_ms, const struct job_spec *spec, int64_t *id_r, struct kf_err *err)
{
    if (!spec->kind || spec->run_at < 0 || spec->period_ms < 0)
        return kf_fail(err, KF_E_INVALID, "job", "a job needs a kind and a run time");
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO jobs (id, kind, unique_key, run_at, period_ms, state, attempts, max_attempts,"
                           " payload, created, updated) VALUES ($1, $2, $3, $4, $5, 'due', 0, $6, $7, $8, $8)"
                           " ON CONFLICT DO NOTHING",
                           &st, err);
    if (rc) return rc;
    int64_t id = id_new(now_ms);
    store_bind_int64(st, 1, id);
    store_bind_text(st, 2, spec->kind, (size_t)-1);
    store_bind_text(st, 3, spec->unique_key, (size_t)-1);
    store_bind_int64(st, 4, spec->run_at);
    store_bind_int64(st, 5, spec->period_ms);
    store_bind_int64(st, 6, spec->max_attempts > 0 ? spec->max_attempts : 5);
    store_bind_text(st, 7, spec->payload ? spec->payload : "{}", (size_t)-1);
    store_bind_int64(st, 8, now_ms);
    rc = store_step(st, err);
    int64_t changed = rc == STORE_DONE ? store_changes(st) : 0;
    store_finalize(&st);
    if (rc < 0) return rc;
    if (id_r) *id_r = changed ? id : 0;
    return 0;
}

struct periodic_args {
    struct job_spec spec;
    int64_t now;
};

static int periodic_insert_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    const struct periodic_args *a = arg;
    return jobs_insert(c, a->now, &a->spec, NULL, err);
}

int jobs_ensure_periodic(const struct kf_env *env, const char *kind, job_fn fn, int64_t period_ms,
                         struct kf_err *err)
{
    jobs_register(kind, fn);
    struct periodic_args a = {.now = clock_now_ms(env->clock)};
    a.spec = (struct job_spec){.kind = kind, .unique_key = kind, .run_at = a.now + period_ms, .period_ms = period_ms};
    return store_write(env->store, periodic_insert_fn, &a, err);
}

/* --- claiming and finishing ------------------------------------------------------------------ */

struct claim {
    struct scheduler *s;
    int64_t now;
    struct arena *arena;
    bool found;
    struct job_run run;
    int64_t period_ms;
    int max_attempts;
};

static const char claim_sql_plain[] =
    "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated = $3"
    " WHERE id = (SELECT id FROM jobs WHERE (state = 'due' AND run_at <= $3)"
    " OR (state = 'running' AND locked_until < $4) ORDER BY run_at, id LIMIT 1)"
    " RETURNING id, kind, run_at, period_ms, attempts, max_attempts, payload";

static const char claim_sql_skip_locked[] =
    "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated = $3"
    " WHERE id = (SELECT id FROM jobs WHERE (state = 'due' AND run_at <= $3)"
    " OR (state = 'running' AND locked_until < $4) ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " RETURNING id, kind, run_at, period_ms, attempts, max_attempts, payload";

static int claim_write(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct claim *cl = arg;
    bool skip_locked = store_caps(cl->s->env->store) & STORE_CAP_SKIP_LOCKED;
    struct store_stmt *st;
    int rc = store_prepare(c, skip_locked ? claim_sql_skip_locked : claim_sql_plain, &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, cl->s->runner, (size_t)-1);
    int64_t real_now = clock_real_ms();
    store_bind_int64(st, 2, real_now + LOCK_MS);
    store_bind_int64(st, 3, cl->now);
    store_bind_int64(st, 4, real_now);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        cl->found = true;
        cl->run.id = store_col_int64(st, 0);
        cl->run.kind = arena_strdup(cl->arena, store_col_text(st, 1, NULL));
        cl->run.scheduled_at = store_col_int64(st, 2);
        cl->period_ms = store_col_int64(st, 3);
        cl->run.attempt = (int)store_col_int64(st, 4);
        cl->max_attempts = (int)store_col_int64(st, 5);
        cl->run.payload = arena_strdup(cl->arena, store_col_text(st, 6, NULL));
        rc = 0;
    } else {
        cl->found = false;
    }
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

struct finish {
    const struct claim *cl;
    int64_t started, finished;
    bool ok;
    const char *error;
};

/* The next run_at of a periodic job: one period on, so each occurrence runs; only a runner more
 * than PERIOD_CATCH_UP periods behind (kefu was down) skips to the next future occurrence. */
static int64_t next_period(int64_t run_at, int64_t period, int64_t now)
{
    int64_t next = run_at + period;
    if (now - next > PERIOD_CATCH_UP * period) next += ((now - next) / period + 1) * period;
    return next;
}

static int finish_write(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct finish *f = arg;
    const struct claim *cl = f->cl;
    const char *state = "done";
    int64_t run_at = cl->run.scheduled_at;
    int64_t attempts = cl->run.attempt;
    if (f->ok) {
        if (cl->period_ms > 0) {
            state = "due";
            run_at = next_period(cl->run.scheduled_at, cl->period_ms, f->finished);
            attempts = 0;
        }
    } else if (cl->run.attempt < cl->max_attempts) {
        state = "due";
        int64_t backoff = 60000LL << (cl->run.attempt > 6 ? 6 : cl->run.attempt - 1);
        run_at = f->finished + (backoff < MAX_BACKOFF_MS ? backoff : MAX_BACKOFF_MS);
    } else if (cl->period_ms > 0) {
        state = "due";
        run_at = next_period(cl->run.scheduled_at, cl->period_ms, f->finished);
        attempts = 0;
    } else {
        state = "failed";
    }
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE jobs SET state = $1, run_at = $2, attempts = $3, last_error = $4, locked_by = NULL,"
                           " locked_until = NULL, updated = $5 WHERE id = $6",
                           &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, state, (size_t)-1);
    store_bind_int64(st, 2, run_at);
    store_bind_int64(st, 3, attempts);
    store_bind_text(st, 4, f->ok ? NULL : f->error, (size_t)-1);
    store_bind_int64(st, 5, f->finished);
    store_bind_int64(st, 6, cl->run.id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    rc = store_prepare(c,
                       "INSERT INTO job_runs (id, job_id, kind, scheduled_at, started, finished, ok, error, runner)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id_new(f->finished));
    store_bind_int64(st, 2, cl->run.id);
    store_bind_text(st, 3, cl->run.kind, (size_t)-1);
    store_bind_int64(st, 4, cl->run.scheduled_at);
    store_bind_int64(st, 5, f->started);
    store_bind_int64(st, 6, f->finished);
    store_bind_int64(st, 7, f->ok ? 1 : 0);
    store_bind_text(st, 8, f->ok ? NULL : f->error, (size_t)-1);
    store_bind_text(st, 9, cl->s->runner, (size_t)-1);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

/* Claims and runs one due job. Returns 1 when a job ran, 0 when none was due, or a negative code. */
static int run_one(struct scheduler *s, struct kf_err *err)
{
    const struct kf_env *env = s->env;
    struct arena *arena = arena_new(4096);
    struct claim cl = {.s = s, .now = clock_now_ms(env->clock), .arena = arena};
    int rc = store_write(env->store, claim_write, &cl, err);
    if (rc || !cl.found) {
        arena_free(&arena);
        return rc;
    }
    job_fn fn;
    const char *kind = registry_find(cl.run.kind, &fn);
    struct kf_err job_err;
    kf_err_clear(&job_err);
    struct finish f = {.cl = &cl, .started = clock_now_ms(env->clock)};
    int job_rc;
    if (!fn) {
        job_rc = kf_fail(&job_err, KF_E_INTERNAL, NULL, "no function registered for job kind %.60s", cl.run.kind);
    } else {
        struct kf_ctx ctx = {.env = env, .arena = arena, .request_id = "job"};
        job_rc = fn(&ctx, &cl.run, &job_err);
    }
    f.finished = clock_now_ms(env->clock);
    f.ok = job_rc == 0;
    if (!f.ok) {
        const struct kf_code_info *info = kf_code_info(job_rc);
        f.error = arena_printf(arena, "%s%s%s", info->name, job_err.detail[0] ? ": " : "", job_err.detail);
        log_warn("jobs: %s job %lld attempt %d failed: %s", cl.run.kind, (long long)cl.run.id, cl.run.attempt, f.error);
    }
    metrics_observe_job(kind ? kind : "unknown", f.ok);
    rc = store_write(env->store, finish_write, &f, err);
    arena_free(&arena);
    return rc ? rc : 1;
}

int scheduler_run_due(struct scheduler *s, int *ran_r, struct kf_err *err)
{
    int ran = 0, rc = 0;
    pthread_mutex_lock(&s->run_lock);
    while (!atomic_load(&s->stopping)) {
        rc = run_one(s, err);
        if (rc <= 0) break;
        ran++;
    }
    pthread_mutex_unlock(&s->run_lock);
    if (ran_r) *ran_r += ran;
    return rc < 0 ? rc : 0;
}

/* The earliest run_at among due jobs, or INT64_MAX. */
static int next_due_at(struct scheduler *s, int64_t *at_r, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(s->env->store, &c, err);
    if (rc) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, "SELECT MIN(run_at) FROM jobs WHERE state = 'due'", &st, err);
    if (rc == 0) {
        rc = store_step(st, err);
        *at_r = (rc == STORE_ROW && !store_col_is_null(st, 0)) ? store_col_int64(st, 0) : INT64_MAX;
        store_finalize(&st);
    }
    store_release(&c);
    return rc < 0 ? rc : 0;
}

/* Walks the clock to target_ms; the caller holds advance_lock. */
static int advance_locked(struct scheduler *s, int64_t target_ms, int *ran_r, struct kf_err *err)
{
    struct kf_clock *clock = s->env->clock;
    if (target_ms < clock_now_ms(clock)) return kf_fail(err, KF_E_INVALID, "set_ms", "time never goes backwards");
    int ran = 0, rc = 0;
    for (int step = 0; step < ADVANCE_MAX_STEPS; step++) {
        int64_t next;
        if ((rc = next_due_at(s, &next, err)) != 0) break;
        if (next > target_ms) break;
        if (next > clock_now_ms(clock)) clock_set(clock, next);
        int before = ran;
        if ((rc = scheduler_run_due(s, &ran, err)) != 0) break;
        if (ran == before && next <= clock_now_ms(clock)) break; /* due but unclaimable (locked elsewhere) */
    }
    if (rc == 0) {
        clock_set(clock, target_ms);
        rc = scheduler_run_due(s, &ran, err);
    }
    if (ran_r) *ran_r = ran;
    return rc;
}

int scheduler_advance_to(struct scheduler *s, int64_t target_ms, int *ran_r, int64_t *reached_r, struct kf_err *err)
{
    if (!clock_is_fake(s->env->clock)) return kf_fail(err, KF_E_FORBIDDEN, NULL, "the clock is real");
    pthread_mutex_lock(&s->advance_lock);
    int rc = advance_locked(s, target_ms, ran_r, err);
    pthread_mutex_unlock(&s->advance_lock);
    if (rc == 0 && reached_r) *reached_r = target_ms;
    return rc;
}

int scheduler_advance_by(struct scheduler *s, int64_t delta_ms, int *ran_r, int64_t *reached_r, struct kf_err *err)
{
    if (!clock_is_fake(s->env->clock)) return kf_fail(err, KF_E_FORBIDDEN, NULL, "the clock is real");
    if (delta_ms < 0) return kf_fail(err, KF_E_INVALID, "advance_ms", "time never goes backwards");
    pthread_mutex_lock(&s->advance_lock);
    /* the target is taken under the lock, so concurrent advances add up */
    int64_t target = clock_now_ms(s->env->clock) + delta_ms;
    int rc = advance_locked(s, target, ran_r, err);
    pthread_mutex_unlock(&s->advance_lock);
    if (rc == 0 && reached_r) *reached_r = target;
    return rc;
}

/* --- the background thread -------------------------------------------------------------------- */

static void *scheduler_main(void *arg)
{
    struct scheduler *s = arg;
    while (!atomic_load(&s->stopping)) {
        struct kf_err err;
        kf_err_clear(&err);
        if (scheduler_run_due(s, NULL, &err) != 0) log_warn("jobs: could not run due jobs: %s", err.detail);
        pthread_mutex_lock(&s->wait_lock);
        if (!atomic_load(&s->stopping)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (int64_t)s->poll_ms * 1000000;
            ts.tv_sec += ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&s->wait_cond, &s->wait_lock, &ts);
        }
        pthread_mutex_unlock(&s->wait_lock);
    }
    return NULL;
}

int scheduler_start(const struct kf_env *env, bool background, int poll_ms, struct scheduler **s_r,
                    struct kf_err *err)
{
    struct scheduler *s = calloc(1, sizeof *s);
    if (!s) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    s->env = env;
    s->background = background;
    s->poll_ms = poll_ms > 0 ? poll_ms : 1000;
    pthread_mutex_init(&s->run_lock, NULL);
    pthread_mutex_init(&s->advance_lock, NULL);
    pthread_mutex_init(&s->wait_lock, NULL);
    pthread_cond_init(&s->wait_cond, NULL);
    char host[24] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(s->runner, sizeof s->runner, "%s-%d", host, (int)getpid());
    if (background && pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        free(s);
        return kf_fail(err, KF_E_INTERNAL, NULL, "cannot start the scheduler thread");
    }
    *s_r = s;
    return 0;
}

void scheduler_stop(struct scheduler **sp)
{
    struct scheduler *s = *sp;
    if (!s) return;
    atomic_store(&s->stopping, true);
    if (s->background) {
        pthread_mutex_lock(&s->wait_lock);
        pthread_cond_signal(&s->wait_cond);
        pthread_mutex_unlock(&s->wait_lock);
        pthread_join(s->thread, NULL);
    }
    pthread_mutex_lock(&s->advance_lock); /* wait for a test-mode advance in progress */
    pthread_mutex_unlock(&s->advance_lock);
    pthread_mutex_lock(&s->run_lock);
    pthread_mutex_unlock(&s->run_lock);
    pthread_mutex_destroy(&s->run_lock);
    pthread_mutex_destroy(&s->advance_lock);
    pthread_mutex_destroy(&s->wait_lock);
    pthread_cond_destroy(&s->wait_cond);
    free(s);
    *sp = NULL;
}
