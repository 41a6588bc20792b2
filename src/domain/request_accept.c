/* Acceptance and remediation (request_accept.h): the client's or the customer's decision on a
 * resolution, remediation on rejection, acceptance by silence, and the quality figures of C5.1.1.
 *
 * DESIGN — invariants:
 *  - The decision is taken inside the write, on the row locked there: the status must still be
 *    "resolved" (a conditional UPDATE on it), so two decisions racing cannot both pass — the second
 *    is KF_E_CONFLICT, and so is any decision on a request that is not awaiting one.
 *  - Who decides and how long the window is come from the terms in force at the resolution
 *    (agreement_terms_at at resolved_at), not from today's terms: a service change after the
 *    resolution does not move a decision already pending.
 *  - Nothing is erased: a rejection reopens (resolved_at cleared, like any reopening), but the
 *    resolution, the reason and the decision stay in request_events, request_messages and
 *    request_acceptances.
 *  - The window is a fact of time, not of the job: once it has passed, a rejection is refused even
 *    if the job has not run yet, and an explicit acceptance still closes (what silence would do). */
#include "domain/search.h"
#include "domain/request_accept.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/ids.h"
#include "domain/agreement.h"
#include "domain/identity_internal.h"
#include "domain/notify.h"
#include "domain/request_events_pub.h"
#include "domain/request.h"
#include "domain/request_sla.h"
#include "jobs/scheduler.h"
#include "store/store.h"

#define DAY_MS INT64_C(86400000)
#define ACCEPT_BATCH 200                   /* requests the job decides per query */

enum decider { BY_CLIENT, BY_CUSTOMER, BY_SILENCE };

static const char *const decider_names[] = {"client", "customer", "silence"};

struct accept_args {
    struct kf_ctx *ctx;
    int64_t client_id, id, customer_id;
    enum decider by;
    const char *reason;                    /* NULL: accept */
    int64_t now;
    int64_t assignee_id;                   /* out: notified after the commit */
    bool skipped;                          /* silence: the window has not passed (nothing written) */
};

/* The state the decision is taken on, read after the row is locked. */
struct acc_state {
    char status[24];
    char number[32];
    int64_t agreement_id, customer_id, resolved_at, assignee_id;
    int remediation_count;
};

static int acc_lock(struct store_conn *c, int64_t client_id, int64_t id, struct acc_state *s, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = ident_lock_row(c, "UPDATE requests SET updated = updated WHERE id = $1 AND client_id = $2", id, client_id,
                            err);
    if (rc) return rc;
    rc = store_prepare(c,
                       "SELECT status, number, agreement_id, customer_id, resolved_at, assignee_id, remediation_count "
                       "FROM requests WHERE id = $1 AND client_id = $2",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        snprintf(s->status, sizeof s->status, "%s", store_col_text(st, 0, NULL));
        snprintf(s->number, sizeof s->number, "%s", store_col_text(st, 1, NULL));
        s->agreement_id = store_col_int64(st, 2);
        s->customer_id = store_col_int64(st, 3);
        s->resolved_at = store_col_int64(st, 4);
        s->assignee_id = store_col_int64(st, 5);
        s->remediation_count = (int)store_col_int64(st, 6);
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    store_finalize(&st);
    return rc;
}

static int acc_exec_one(struct store_conn *c, struct store_stmt **st, struct kf_err *err)
{
    int64_t n = 0;
    int rc = ident_exec(c, st, &n, err);
    if (rc) return rc;
    return n == 1 ? 0 : kf_fail(err, KF_E_CONFLICT, "status", "the request changed meanwhile");
}

static int acc_history(struct store_conn *c, const struct accept_args *a, const char *to, const char *reason,
                       struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO request_events (id, request_id, client_id, kind, from_value, to_value, reason, "
                           "actor_id, at) VALUES ($1, $2, $3, 'status', 'resolved', $4, $5, $6, $7)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id_new(a->now));
    store_bind_int64(st, 2, a->id);
    store_bind_int64(st, 3, a->client_id);
    store_bind_text(st, 4, to, (size_t)-1);
    store_bind_text(st, 5, reason, (size_t)-1);
    store_bind_int64(st, 6, a->ctx->actor ? a->ctx->actor->user_id : 0);
    store_bind_int64(st, 7, a->now);
    return ident_exec(c, &st, NULL, err);
}

static int acc_record(struct store_conn *c, const struct accept_args *a, const struct acc_state *s, bool accepted,
                      struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO request_acceptances (id, request_id, client_id, outcome, decided_by, actor_id, "
                           "customer_id, reason, remediation, resolved_at, at) "
                           "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id_new(a->now));
    store_bind_int64(st, 2, a->id);
    store_bind_int64(st, 3, a->client_id);
    store_bind_text(st, 4, accepted ? "accepted" : "rejected", (size_t)-1);
    store_bind_text(st, 5, decider_names[a->by], (size_t)-1);
    store_bind_int64(st, 6, a->by == BY_CLIENT ? a->ctx->actor->user_id : 0);
    if (a->by == BY_CUSTOMER) store_bind_int64(st, 7, a->customer_id);
    else store_bind_null(st, 7);
    store_bind_text(st, 8, a->reason ? a->reason : "", (size_t)-1);
    store_bind_int64(st, 9, s->remediation_count);
    store_bind_int64(st, 10, s->resolved_at);
    store_bind_int64(st, 11, a->now);
    return ident_exec(c, &st, NULL, err);
}

/* Closes the locked, resolved request as accepted. */
static int acc_close(struct store_conn *c, struct accept_args *a, const struct acc_state *s, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE requests SET status = 'closed', closed_at = $3, updated = $3 "
                           "WHERE id = $1 AND client_id = $2 AND status = 'resolved'",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, a->now);
    if ((rc = acc_exec_one(c, &st, err)) != 0) return rc;
    if ((rc = acc_history(c, a, "closed", a->by == BY_SILENCE ? "accepted by silence" : "accepted", err)) != 0)
        return rc;
    if ((rc = acc_record(c, a, s, true, err)) != 0) return rc;
    if ((rc = request_sla_store(c, a->ctx, a->client_id, a->id, a->now, NULL, -1, err)) != 0) return rc; /* the queue's columns */
    if ((rc = request_changed(c, a->client_id, a->id, "accept", err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "request.accept", "request", a->id,
                       json_pack("{s:s, s:I, s:I}", "by", decider_names[a->by], "remediation_count",
                                 (json_int_t)s->remediation_count, "resolved_at", (json_int_t)s->resolved_at),
                       NULL, err);
}

static json_t *acc_id_json(int64_t id)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, id);
    return json_string(t);
}

/* Reopens the locked, resolved request as remediation, with the reason as a public message. */
static int acc_reopen(struct store_conn *c, struct accept_args *a, const struct acc_state *s, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE requests SET status = 'reopened', resolved_at = NULL, closed_at = NULL, "
                           "remediation_count = remediation_count + 1, updated = $3 "
                           "WHERE id = $1 AND client_id = $2 AND status = 'resolved'",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, a->now);
    if ((rc = acc_exec_one(c, &st, err)) != 0) return rc;
    if ((rc = acc_history(c, a, "reopened", a->reason, err)) != 0) return rc;
    if ((rc = acc_record(c, a, s, false, err)) != 0) return rc;
    int64_t message_id = id_new(a->now);
    rc = store_prepare(c,
                       "INSERT INTO request_messages (id, request_id, client_id, kind, author_id, author_side, body, "
                       "created) VALUES ($1, $2, $3, 'public', $4, 'client', $5, $6)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, message_id);
    store_bind_int64(st, 2, a->id);
    store_bind_int64(st, 3, a->client_id);
    store_bind_int64(st, 4, a->by == BY_CLIENT ? a->ctx->actor->user_id : 0);
    store_bind_text(st, 5, a->reason, (size_t)-1);
    store_bind_int64(st, 6, a->now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    if ((rc = search_reindex_request(c, a->client_id, a->id, err)) != 0) return rc; /* the search index */
    /* the queue's columns: a fresh resolution clock runs from now (C5.1.2) */
    if ((rc = request_sla_store(c, a->ctx, a->client_id, a->id, a->now, NULL, -1, err)) != 0) return rc;
    if (s->assignee_id) {
        char idtext[24], link[64];
        snprintf(idtext, sizeof idtext, "%" PRId64, a->id);
        snprintf(link, sizeof link, "/requests/%" PRId64 "?client_id=%" PRId64, a->id, a->client_id);
        json_t *params = json_pack("{s:s, s:s}", "number", s->number, "request_id", idtext);
        rc = notify_enqueue(c, a->ctx, 0, s->assignee_id, "notify.request_rejected", params, link, NULL, err);
        json_decref(params);
        if (rc) return rc;
        a->assignee_id = s->assignee_id;
    }
    if ((rc = request_changed(c, a->client_id, a->id, "reject", err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, "request.reject", "request", a->id,
                       json_pack("{s:s, s:I, s:I, s:o}", "by", decider_names[a->by], "remediation_count",
                                 (json_int_t)s->remediation_count + 1, "reason_bytes",
                                 (json_int_t)strlen(a->reason), "message_id", acc_id_json(message_id)),
                       NULL, err);
}

static int accept_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct accept_args *a = arg;
    struct acc_state s;
    int rc = acc_lock(c, a->client_id, a->id, &s, err);
    if (rc) return rc;
    /* the customer's path: another customer's link proves nothing about this request */
    if (a->by == BY_CUSTOMER && s.customer_id != a->customer_id) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if (strcmp(s.status, "resolved") != 0) {
        if (a->by == BY_SILENCE) return a->skipped = true, 0;
        return kf_fail(err, KF_E_CONFLICT, "status", "only a resolved request awaits acceptance (this one is %s)",
                       s.status);
    }
    struct agreement_terms terms;
    if ((rc = agreement_terms_at(c, a->ctx, a->client_id, s.agreement_id, s.resolved_at, &terms, err)) != 0)
        return rc;
    int days = terms.acceptance_days > 0 ? terms.acceptance_days : AGREEMENT_DEFAULT_ACCEPTANCE_DAYS;
    bool window_over = a->now >= s.resolved_at + days * DAY_MS;
    if (a->by == BY_SILENCE) {
        if (!window_over) return a->skipped = true, 0;
        return acc_close(c, a, &s, err);
    }
    const char *named = terms.acceptance_by && *terms.acceptance_by ? terms.acceptance_by : "client";
    if (strcmp(named, decider_names[a->by]) != 0)
        return kf_fail(err, KF_E_FORBIDDEN, NULL, "the agreement names the %s to accept resolutions", named);
    if (!a->reason) return acc_close(c, a, &s, err);
    if (window_over)
        return kf_fail(err, KF_E_CONFLICT, "status", "the acceptance window has passed: silence accepted the resolution");
    return acc_reopen(c, a, &s, err);
}

static int acc_run(struct accept_args *a, struct kf_err *err)
{
    a->now = ident_now(a->ctx);
    int rc = store_write(a->ctx->env->store, accept_fn, a, err);
    if (rc == 0 && a->assignee_id) notify_published(a->ctx, 0, a->assignee_id);
    return rc;
}

static int acc_check_reason(const char *reason, struct kf_err *err)
{
    if (!reason || !*reason) return kf_fail(err, KF_E_INVALID, "reason", "a reason is required to reject a resolution");
    return ident_check_text(reason, "reason", true, REQUEST_REJECT_REASON_MAX, err);
}

int request_accept(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_ACCEPT, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct accept_args a = {.ctx = ctx, .client_id = client_id, .id = id, .by = BY_CLIENT};
    return acc_run(&a, err);
}

int request_reject(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *reason, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_ACCEPT, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if ((rc = acc_check_reason(reason, err)) != 0) return rc;
    struct accept_args a = {.ctx = ctx, .client_id = client_id, .id = id, .by = BY_CLIENT, .reason = reason};
    return acc_run(&a, err);
}

int request_accept_as_customer(struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t customer_id,
                               struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_ACCEPT_CUSTOMER, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0 || customer_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct accept_args a = {.ctx = ctx, .client_id = client_id, .id = id, .by = BY_CUSTOMER, .customer_id = customer_id};
    return acc_run(&a, err);
}

int request_reject_as_customer(struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t customer_id,
                               const char *reason, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_ACCEPT_CUSTOMER, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0 || customer_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if ((rc = acc_check_reason(reason, err)) != 0) return rc;
    struct accept_args a = {.ctx = ctx, .client_id = client_id, .id = id, .by = BY_CUSTOMER,
                            .customer_id = customer_id, .reason = reason};
    return acc_run(&a, err);
}

int request_acceptance_due(struct kf_ctx *ctx, int64_t now, int *accepted_r, struct kf_err *err)
{
    /* across clients, deciding for whoever the terms name: an action no role holds, so only kefu
     * itself (the job, the CLI) passes; the sentinel tenant keeps every client user out as well */
    int rc = ident_allow(ctx, ACT_REQUEST_ACCEPT_CUSTOMER, INT64_MAX, 0, err);
    if (rc) return rc;
    if (accepted_r) *accepted_r = 0;
    int64_t after_id = 0;
    for (;;) {
        /* the shortest window is a day: anything resolved since is not due */
        int64_t ids[ACCEPT_BATCH], clients[ACCEPT_BATCH];
        size_t n = 0;
        struct store_conn *c;
        if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
        struct store_stmt *st;
        rc = store_prepare(c,
                           "SELECT id, client_id FROM requests WHERE status = 'resolved' AND resolved_at <= $1 "
                           "AND id > $2 ORDER BY id LIMIT $3",
                           &st, err);
        if (rc == 0) {
            store_bind_int64(st, 1, now - DAY_MS);
            store_bind_int64(st, 2, after_id);
            store_bind_int64(st, 3, ACCEPT_BATCH);
            while ((rc = store_step(st, err)) == STORE_ROW && n < ACCEPT_BATCH) {
                ids[n] = store_col_int64(st, 0);
                clients[n] = store_col_int64(st, 1);
                n++;
            }
            if (rc == STORE_DONE || rc == STORE_ROW) rc = 0;
            store_finalize(&st);
        }
        store_release(&c);
        if (rc) return rc;
        for (size_t i = 0; i < n; i++) {
            struct accept_args a = {.ctx = ctx, .client_id = clients[i], .id = ids[i], .by = BY_SILENCE, .now = now};
            if ((rc = store_write(ctx->env->store, accept_fn, &a, err)) != 0) return rc;
            if (!a.skipped && accepted_r) (*accepted_r)++;
        }
        if (n < ACCEPT_BATCH) return 0;
        after_id = ids[n - 1];
    }
}

int request_acceptance_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err)
{
    (void)run;
    /* the scheduler's context has no actor: the job acts as kefu itself */
    static const struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx job = *ctx;
    if (!job.actor) job.actor = &system;
    return request_acceptance_due(&job, clock_now_ms(ctx->env->clock), NULL, err);
}

void request_acceptance_jobs_register(void)
{
    jobs_register(REQUEST_ACCEPTANCE_JOB_KIND, request_acceptance_job);
}

int request_acceptance_jobs_schedule(const struct kf_env *env, struct kf_err *err)
{
    return jobs_ensure_periodic(env, REQUEST_ACCEPTANCE_JOB_KIND, request_acceptance_job,
                                REQUEST_ACCEPTANCE_JOB_PERIOD_MS, err);
}

int request_quality_summary(struct kf_ctx *ctx, int64_t client_id, int64_t from, int64_t to,
                            struct request_quality *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_READ, client_id, 0, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c,
                       "SELECT outcome, decided_by, CASE WHEN remediation > 0 THEN 1 ELSE 0 END AS remedied, COUNT(*) "
                       "FROM request_acceptances WHERE client_id = $1 AND at >= $2 AND at < $3 "
                       "GROUP BY outcome, decided_by, CASE WHEN remediation > 0 THEN 1 ELSE 0 END",
                       &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_int64(st, 2, from);
        store_bind_int64(st, 3, to > 0 ? to : INT64_MAX);
        while ((rc = store_step(st, err)) == STORE_ROW) {
            const char *outcome = store_col_text(st, 0, NULL);
            const char *by = store_col_text(st, 1, NULL);
            bool remedied = store_col_int64(st, 2) != 0;
            int64_t n = store_col_int64(st, 3);
            if (outcome && strcmp(outcome, "rejected") == 0) {
                out->rejections += n;
                continue;
            }
            out->accepted += n;
            if (remedied) out->accepted_after_remediation += n;
            else out->accepted_first_time += n;
            if (by && strcmp(by, "silence") == 0) out->accepted_by_silence += n;
        }
        if (rc == STORE_DONE) rc = 0;
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}
