/* SLA clocks of service requests (issue 6 item 3; CONTRACT.md C2.2.1, C3.1.2, C5.3): each request's
 * first-response and resolution clocks, computed by sla.h from the request's own history and the
 * terms in force when it was created; the request.sla job that warns at 75 % and records breaches at
 * 100 %, once per clock; and the breach records kept for liability. docs/requests.md "SLA clocks".
 * Results live in ctx->arena. */
#ifndef KEFU_REQUEST_SLA_H
#define KEFU_REQUEST_SLA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"
#include "domain/sla.h"

struct store_conn;
struct job_run;

#define REQUEST_SLA_JOB_KIND "request.sla"
#define REQUEST_SLA_JOB_PERIOD_MS 60000      /* every minute */
#define REQUEST_SLA_EVENTS_MAX 5000          /* status rows of one request read for its clocks */

/* One clock of one request, at an instant. */
struct request_sla_clock {
    const char *name;             /* "first_response" or "resolution" */
    int cycle;                    /* 0; the resolution clock's number of reopenings so far */
    int64_t target_minutes;       /* business minutes, from the terms in force at creation */
    int64_t start_ms;             /* creation (first response; resolution cycle 0) or the last reopening */
    int64_t stop_ms;              /* 0 while running; else when the target was answered */
    struct sla_clock clock;       /* sla_clock_eval's answer */
    const char *state;            /* "running", "paused", "warning", "breached", "met", "missed" */
};

struct request_sla {
    int64_t request_id, client_id;
    int priority;                 /* the current one: a change recomputes over the same history */
    int64_t calendar_id;          /* the calendar in force at creation */
    int64_t at;                   /* the instant the clocks are evaluated at */
    struct request_sla_clock first_response, resolution;
};

/* A warning or breach record (C5.3). */
struct request_sla_alert {
    int64_t id, request_id, client_id;
    const char *clock;            /* "first_response" or "resolution" */
    int cycle;
    const char *kind;             /* "warning" or "breach" */
    int priority;
    int64_t target_minutes, due_at, warn_at, detected_at;
    int64_t counted_ms, overdue_ms, late_ms, paused_customer_ms, paused_client_ms;
};

/* The clocks now of request `r`, as read by request_get (ACT_REQUEST_READ for its client): its
 * row's facts (creation, first response, agreement, priority, service kind) are taken from `r`, the
 * history, terms and calendar are read. KF_E_INVALID (field "calendar") when the calendar in force
 * at creation has no business time to reach a target; KF_E_NOT_FOUND (field "service_kind") when
 * the terms at creation hold no target for the request's service kind. */
struct request;
int request_sla_get(struct kf_ctx *ctx, const struct request *r, struct request_sla *out, struct kf_err *err);

/* The clocks of `n` requests already read (request_list's items, whole rows: their facts are taken
 * from them), on one connection with their calendars loaded once (ACT_REQUEST_READ for each item's
 * client). out[i] is valid where ok[i]; an item without a clock to compute (no target, no business
 * time) has ok[i] false. */
int request_sla_many(struct kf_ctx *ctx, const struct request *items, size_t n, struct request_sla *out, bool *ok,
                     struct kf_err *err);

/* The same on connection `c` at instant `now` — no policy check: the caller has made its own (the
 * job, or a read that already checked ACT_REQUEST_READ). The calendar comes from the thread's cache,
 * checked against its `updated` as `c` sees it (calendar_store_cached_conn), inside a write too.
 * `cache` (may be NULL) is a memo of agreement terms for a job batch; free it with
 * request_sla_cache_free. */
struct request_sla_cache;
int request_sla_compute(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t now,
                        struct request_sla_cache **cache, struct request_sla *out, struct kf_err *err);
void request_sla_cache_free(struct request_sla_cache **cache);

/* The queue's summary of a request's clocks (pure): *state_r the worst of the two by rank met <
 * paused < running < warning < missed < breached (a static string), *due_r the earliest due instant
 * of a clock still running or paused with a known due (0: none). */
void request_sla_summary(const struct request_sla *s, const char **state_r, int64_t *due_r);

/* Stores request_sla_summary on the request's row (requests.sla_state, sla_due_at) at `now`, on
 * connection `c` inside the caller's write, when it differs from `old_state`/`old_due` (pass NULL and
 * -1 to write unconditionally). A request without a clock to compute gets NULL, NULL. No policy check:
 * the caller is a write that made its own (request.c) or the job. */
int request_sla_store(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t now,
                      const char *old_state, int64_t old_due, struct kf_err *err);

/* request_sla_store for request `r` that this write has just inserted, from r's facts (its history
 * is only its creation, so nothing is read but the terms and the calendar): the clocks at `now` in
 * *out and *has_r true, or *has_r false when it has none to compute (no target, no business time);
 * r->sla_state and r->sla_due_at get the summary stored on the row. */
int request_sla_store_new(struct store_conn *c, struct kf_ctx *ctx, struct request *r, int64_t now,
                          struct request_sla *out, bool *has_r, struct kf_err *err);

/* The warning and breach records of a request, oldest first (ACT_REQUEST_READ). `kind` NULL: both;
 * "warning" or "breach": only those. */
int request_sla_alerts(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *kind,
                       struct request_sla_alert **items_r, size_t *n_r, struct kf_err *err);

/* The same for request `r` the caller has just read under ACT_REQUEST_READ (request_get): without
 * the statement that proves the request exists for its client. */
int request_sla_alerts_of(struct kf_ctx *ctx, const struct request *r, const char *kind,
                          struct request_sla_alert **items_r, size_t *n_r, struct kf_err *err);

/* The job's work at `now` (C3.1.2): for every request not closed (or closed within the last day),
 * each clock that has reached 75 % unanswered gets one warning, each that has passed its due instant
 * one breach record — once per request, clock and cycle, so repeated runs change nothing. Each new
 * record notifies the assignee and the provider's supervisors in-app and is audited
 * ("request.sla_warning", "request.sla_breach"), in the write of its request. Counts may be NULL. */
int request_sla_due(struct kf_ctx *ctx, int64_t now, int *warned_r, int *breached_r, struct kf_err *err);

/* The job function behind "request.sla" (request_sla_due at the clock's now, as kefu itself). */
int request_sla_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err);

/* Registers the job function (both modes; test mode creates the job through POST /api/v1/test/jobs). */
void request_sla_jobs_register(void);

/* Schedules "request.sla" every REQUEST_SLA_JOB_PERIOD_MS (normal mode). */
int request_sla_jobs_schedule(const struct kf_env *env, struct kf_err *err);

#endif
