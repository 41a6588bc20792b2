/* Persisted one-shot and periodic jobs, run when they fall due on the injected clock.
 *
 * A job is a row in `jobs` (kind, run_at, period, payload, attempts). Domain code schedules jobs
 * inside its own write transaction with jobs_insert, so a job exists exactly when the change that
 * wants it was committed. The scheduler claims due jobs in the database — on PostgreSQL with
 * FOR UPDATE SKIP LOCKED, so among several kefu processes each due job runs once — runs the
 * kind's function, and records the run in `job_runs`. Failures are retried with growing delays up
 * to max_attempts; a periodic job then moves on to its next period. */
#ifndef KEFU_SCHEDULER_H
#define KEFU_SCHEDULER_H
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct store_conn;
struct scheduler;

struct job_run {
    int64_t id;
    const char *kind;
    int64_t scheduled_at;   /* the run_at this run was due at */
    int attempt;            /* 1 for the first try */
    const char *payload;    /* JSON text */
};

/* Runs one job. Returns 0, or a negative code with err filled (the job is retried). Does its own
 * writes through store_write; must be safe to run again after a crash (at-least-once). */
typedef int (*job_fn)(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err);

/* Registers the function for `kind` (a string that lives for the process). Call before
 * scheduler_start; re-registering a kind replaces it. */
void jobs_register(const char *kind, job_fn fn);

struct job_spec {
    const char *kind;
    const char *unique_key;  /* NULL, or a key: a second insert with the same key does nothing */
    int64_t run_at;
    int64_t period_ms;       /* 0: one-shot */
    int max_attempts;        /* 0: 5 */
    const char *payload;     /* JSON text; NULL: "{}" */
};

/* Inserts a job inside the caller's write transaction. *id_r is the new job's id, or 0 when a
 * job with the same unique_key already existed. */
int jobs_insert(struct store_conn *c, int64_t now_ms, const struct job_spec *spec, int64_t *id_r,
                struct kf_err *err);

/* Registers `fn` for `kind` and makes sure one periodic job of that kind exists in the database
 * (its unique key is the kind: however many processes start, there is one), first due one period
 * from now. For kefu's own housekeeping jobs. */
int jobs_ensure_periodic(const struct kf_env *env, const char *kind, job_fn fn, int64_t period_ms,
                         struct kf_err *err);

/* Creates the scheduler. With `background`, a thread polls for due jobs every `poll_ms`;
 * without (test mode: the fake clock moves only by scheduler_advance_to), nothing runs by itself. */
int scheduler_start(const struct kf_env *env, bool background, int poll_ms, struct scheduler **s_r,
                    struct kf_err *err);

/* Stops the background thread after the job it is running, and frees; clears *s. */
void scheduler_stop(struct scheduler **s);

/* Runs every job due at the clock's now; *ran_r counts runs (may be NULL). */
int scheduler_run_due(struct scheduler *s, int *ran_r, struct kf_err *err);

/* Fake clocks only: moves the clock to `target_ms` through the due instants of every job in
 * between, in order, running each when its time comes (a daily job fires once per day).
 * *reached_r (may be NULL) is the instant this call moved to — what to report, since another
 * advance may already be moving the clock on. */
int scheduler_advance_to(struct scheduler *s, int64_t target_ms, int *ran_r, int64_t *reached_r,
                         struct kf_err *err);

/* Like scheduler_advance_to(now + delta_ms), with now read under the same lock, so that
 * concurrent advances add up. */
int scheduler_advance_by(struct scheduler *s, int64_t delta_ms, int *ran_r, int64_t *reached_r,
                         struct kf_err *err);

#endif
