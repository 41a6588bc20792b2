/* SLA clocks of service requests (request_sla.h): the facts sla.h evaluates, read from a request's
 * history and the terms in force at its creation; the request.sla job's warnings and breach records.
 *
 * DESIGN — invariants:
 *  - Nothing about a clock is stored but its alerts. Due, warning instant, counted and paused time
 *    are recomputed from the request's row (created, priority, first_response_at), its status
 *    history (request_events) and the terms at creation, every time they are asked for — so a
 *    priority change is a new target over the same history (creation instant, same pauses), never a
 *    clock restarted from now, and no write of request.c has a cached due time to keep in step.
 *  - The terms are those in force at creation (agreement_terms_at(created)): the target of the
 *    request's service kind and current priority, and the calendar in force then. A later service
 *    change does not move the clocks of requests raised before it.
 *  - First response: starts at creation, never pauses, stops at first_response_at — or, for a
 *    request resolved or closed without a public reply, at that first resolution or closure.
 *  - Resolution: cycle 0 starts at creation. Every status row to waiting_customer (cause customer)
 *    or waiting_client (cause client) opens a pause that the next status row closes; the first move
 *    to resolved or closed stops the clock. A move to reopened starts the next cycle: a fresh clock
 *    from the reopening instant with the whole target (remediation, C5.1.2, gets the agreed time
 *    again), its own pauses and its own alerts. Earlier cycles' records stay; nothing is erased.
 *  - Alerts: a warning for a clock that is unanswered past 75 % and not yet due, a breach for one
 *    past due (running, or answered late); each at most once per (request, clock, cycle, kind) —
 *    the unique index, and the check inside the write after the request row is locked, make the
 *    at-least-once scheduler harmless. A clock found already due gets its breach and no warning. */
#include "domain/request_sla.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/ids.h"
#include "domain/agreement.h"
#include "domain/calendar_store.h"
#include "domain/identity_internal.h"
#include "domain/notify.h"
#include "domain/request.h"
#include "domain/request_events_pub.h"
#include "jobs/scheduler.h"
#include "store/store.h"

#define RS_BATCH 100                 /* requests the job reads at a time */
#define RS_RECIPIENTS_MAX 64         /* assignee and supervisors notified of one alert */
#define RS_CLOSED_HORIZON_MS (24LL * 3600 * 1000)   /* closed requests the job still looks at */

/* The calendars live in calendar_store's per-thread cache (calendar_store_cached_conn, checked against
 * the calendar's `updated` on every use). What the cache holds itself is a memo of agreement terms, on
 * only when every use of the cache is inside one read transaction (`snapshot`: store_read_begin began
 * one): nothing is written in between, so the terms at `at` are those at any instant of the window
 * agreement_terms_window gave with them (no version or change boundary inside). A list's rows mostly
 * share an agreement: one terms read (seven statements) and one window read instead of one per row.
 * It lives for one call (request_sla_many, request_sla_get, a job batch), never across transactions;
 * its terms point into that call's ctx->arena. */
#define RS_TERMS_MEMO 16

struct rs_terms_entry {
    int64_t client_id, agreement_id, lo, hi;
    struct agreement_terms terms;
};

struct request_sla_cache {
    bool snapshot;
    size_t n, next;
    struct rs_terms_entry terms[RS_TERMS_MEMO];
};

void request_sla_cache_free(struct request_sla_cache **cache)
{
    if (!cache || !*cache) return;
    free(*cache);
    *cache = NULL;
}

/* A cache for reads on a connection that is (snapshot) or is not inside one read transaction; NULL
 * when out of memory (the reads then go without the memo). */
static struct request_sla_cache *rs_cache_new(bool snapshot)
{
    struct request_sla_cache *k = calloc(1, sizeof *k);
    if (k) k->snapshot = snapshot;
    return k;
}

/* agreement_terms_at(created), from the memo when `cache` holds the agreement's terms for a window
 * around `at`. The policy check of agreement_terms_at was made for this ctx and client by the read
 * that filled the entry. */
static int rs_terms(struct store_conn *c, struct kf_ctx *ctx, struct request_sla_cache **cache, int64_t client_id,
                    int64_t agreement_id, int64_t at, struct agreement_terms *out, struct kf_err *err)
{
    struct request_sla_cache *k = cache ? *cache : NULL;
    if (!k || !k->snapshot) return agreement_terms_at(c, ctx, client_id, agreement_id, at, out, err);
    for (size_t i = 0; i < k->n; i++) {
        const struct rs_terms_entry *e = &k->terms[i];
        if (e->client_id == client_id && e->agreement_id == agreement_id && e->lo <= at && at < e->hi) {
            *out = e->terms;
            out->at = at;
            return 0;
        }
    }
    int64_t lo, hi;
    int rc = agreement_terms_at(c, ctx, client_id, agreement_id, at, out, err);
    if (rc == 0) rc = agreement_terms_window(c, client_id, agreement_id, at, &lo, &hi, err);
    if (rc) return rc;
    size_t i = k->n < RS_TERMS_MEMO ? k->n++ : k->next;
    k->next = (i + 1) % RS_TERMS_MEMO;
    k->terms[i] = (struct rs_terms_entry){.client_id = client_id, .agreement_id = agreement_id, .lo = lo, .hi = hi,
                                          .terms = *out};
    return 0;
}

/* The facts of the two clocks, from the history oldest first. */
struct rs_facts {
    int64_t created, first_response_at, agreement_id;
    int priority;
    const char *service_kind;
    int64_t fr_stop;                 /* first response */
    int cycle;                       /* resolution */
    int64_t res_start, res_stop;
    struct sla_pause *pauses;
    size_t n_pauses, cap_pauses;     /* grown in `arena` up to SLA_PAUSES_MAX (most requests pause rarely) */
    struct arena *arena;
};

static bool rs_waiting(const char *status, enum sla_pause_cause *cause)
{
    if (strcmp(status, "waiting_customer") == 0) return *cause = SLA_PAUSE_CUSTOMER, true;
    if (strcmp(status, "waiting_client") == 0) return *cause = SLA_PAUSE_CLIENT, true;
    return false;
}

/* One status row of the history at `at` moving to `to`. */
static void rs_step(struct rs_facts *f, int64_t at, const char *to)
{
    bool answer = strcmp(to, "resolved") == 0 || strcmp(to, "closed") == 0;
    if (answer && f->fr_stop == 0) f->fr_stop = at;
    if (strcmp(to, "reopened") == 0) {
        f->cycle++;
        f->res_start = at;
        f->res_stop = 0;
        f->n_pauses = 0;
        return;
    }
    if (f->res_stop) return; /* after the stop only a reopening matters */
    if (f->n_pauses && f->pauses[f->n_pauses - 1].to_ms == 0) {
        struct sla_pause *p = &f->pauses[f->n_pauses - 1];
        if (at > p->from_ms) p->to_ms = at;
        else f->n_pauses--; /* left at the instant it began: no pause at all */
    }
    enum sla_pause_cause cause;
    if (answer) {
        f->res_stop = at;
    } else if (rs_waiting(to, &cause) && f->n_pauses < SLA_PAUSES_MAX) {
        /* past SLA_PAUSES_MAX pauses the time counts as running: never in the provider's favour */
        if (f->n_pauses == f->cap_pauses) {
            size_t cap = f->cap_pauses ? f->cap_pauses * 2 : 8;
            if (cap > SLA_PAUSES_MAX) cap = SLA_PAUSES_MAX;
            struct sla_pause *grown = arena_alloc(f->arena, cap * sizeof *grown);
            if (f->n_pauses) memcpy(grown, f->pauses, f->n_pauses * sizeof *grown);
            f->pauses = grown;
            f->cap_pauses = cap;
        }
        f->pauses[f->n_pauses++] = (struct sla_pause){.from_ms = at, .to_ms = 0, .cause = cause};
    }
}

/* The row's facts of the two clocks, read from the request. */
static int rs_read_row(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, struct rs_facts *f,
                       struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT r.created, r.first_response_at, r.agreement_id, r.priority, k.code FROM requests r "
                           "JOIN service_kinds k ON k.id = r.service_kind_id WHERE r.id = $1 AND r.client_id = $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        f->created = store_col_int64(st, 0);
        f->first_response_at = store_col_int64(st, 1);
        f->agreement_id = store_col_int64(st, 2);
        f->priority = (int)store_col_int64(st, 3);
        f->service_kind = ident_col_strdup(ctx, st, 4);
        rc = 0;
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    store_finalize(&st);
    return rc;
}

/* The same facts from a request the caller has read (request_get, request_list's items). */
static void rs_row_of(const struct request *r, struct rs_facts *f)
{
    f->created = r->created;
    f->first_response_at = r->first_response_at;
    f->agreement_id = r->agreement_id;
    f->priority = r->priority;
    f->service_kind = r->service_kind ? r->service_kind : "";
}

/* The history's facts (pauses, reopenings, the resolution), after the row's. */
static int rs_read_history(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, struct rs_facts *f,
                           struct kf_err *err)
{
    struct store_stmt *st;
    f->res_start = f->created;
    f->arena = ctx->arena; /* pauses grow as rs_step finds them */
    int rc = store_prepare(c,
                       "SELECT at, to_value FROM request_events WHERE client_id = $1 AND request_id = $2 AND "
                       "kind = 'status' AND from_value <> '' ORDER BY id LIMIT $3",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, client_id);
    store_bind_int64(st, 2, id);
    store_bind_int64(st, 3, REQUEST_SLA_EVENTS_MAX);
    while ((rc = store_step(st, err)) == STORE_ROW) {
        int64_t at = store_col_int64(st, 0);
        const char *to = store_col_text(st, 1, NULL);
        rs_step(f, at < f->created ? f->created : at, to ? to : "");
    }
    store_finalize(&st);
    if (rc < 0) return rc;
    if (f->first_response_at) f->fr_stop = f->first_response_at;
    return 0;
}

static const char *rs_state(const struct sla_clock *k)
{
    if (k->stopped) return k->breached ? "missed" : "met";
    if (k->breached) return "breached";
    if (k->paused) return "paused";
    if (k->warned) return "warning";
    return "running";
}

static int rs_eval(const struct calendar *cal, const char *name, int cycle, int64_t target, int64_t start,
                   int64_t stop, const struct sla_pause *pauses, size_t n, int64_t now, struct request_sla_clock *out,
                   struct kf_err *err)
{
    struct sla_clock_input in = {.cal = cal, .start_ms = start, .target_minutes = target, .pauses = n ? pauses : NULL,
                                 .n_pauses = n, .stop_ms = stop};
    *out = (struct request_sla_clock){.name = name, .cycle = cycle, .target_minutes = target, .start_ms = start,
                                      .stop_ms = stop};
    int rc = sla_clock_eval(&in, now < start ? start : now, &out->clock, err);
    if (rc) return rc;
    out->state = rs_state(&out->clock);
    return 0;
}

/* The clocks from the row's facts in `f`: reads the history (unless `fresh`: a request just
 * created has none that matters), the terms and the calendar. */
static int rs_compute(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, struct rs_facts *f_in,
                      bool fresh, int64_t now, struct request_sla_cache **cache, struct request_sla *out,
                      struct kf_err *err)
{
    struct rs_facts f = *f_in;
    int rc = 0;
    if (fresh) f.res_start = f.created;
    else if ((rc = rs_read_history(c, ctx, client_id, id, &f, err)) != 0) return rc;
    struct agreement_terms terms;
    if ((rc = rs_terms(c, ctx, cache, client_id, f.agreement_id, f.created, &terms, err)) != 0) return rc;
    const struct agreement_service *svc = NULL;
    for (size_t i = 0; i < terms.n_services && !svc; i++)
        if (terms.services[i].kind && strcmp(terms.services[i].kind, f.service_kind) == 0) svc = &terms.services[i];
    if (!svc || f.priority < 1 || f.priority > 4)
        return kf_fail(err, KF_E_NOT_FOUND, "service_kind", "no target for this service kind in the terms at creation");
    const struct calendar *cal; /* the thread's cache, checked against what this transaction sees */
    if ((rc = calendar_store_cached_conn(c, terms.calendar_id, &cal, err)) != 0) return rc;
    *out = (struct request_sla){.request_id = id, .client_id = client_id, .priority = f.priority,
                                .calendar_id = terms.calendar_id, .at = now};
    rc = rs_eval(cal, "first_response", 0, svc->targets.response[f.priority - 1], f.created, f.fr_stop, NULL, 0, now,
                 &out->first_response, err);
    if (rc == 0) {
        int64_t stop = f.res_stop && f.res_stop <= now ? f.res_stop : 0;
        rc = rs_eval(cal, "resolution", f.cycle, svc->targets.resolution[f.priority - 1], f.res_start, stop, f.pauses,
                     f.n_pauses, now, &out->resolution, err);
    }
    return rc;
}

int request_sla_compute(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t now,
                        struct request_sla_cache **cache, struct request_sla *out, struct kf_err *err)
{
    struct rs_facts f = {0};
    int rc = rs_read_row(c, ctx, client_id, id, &f, err);
    return rc ? rc : rs_compute(c, ctx, client_id, id, &f, false, now, cache, out, err);
}

static int rs_rank(const char *state)
{
    static const char *const order[] = {"met", "paused", "running", "warning", "missed", "breached"};
    for (int i = 0; i < 6; i++)
        if (state && strcmp(state, order[i]) == 0) return i + 1;
    return 0;
}

void request_sla_summary(const struct request_sla *s, const char **state_r, int64_t *due_r)
{
    const struct request_sla_clock *k[2] = {&s->first_response, &s->resolution};
    const char *state = NULL;
    int64_t due = 0;
    for (int i = 0; i < 2; i++) {
        if (rs_rank(k[i]->state) > rs_rank(state)) state = k[i]->state;
        if (!k[i]->clock.stopped && k[i]->clock.due_ms && (!due || k[i]->clock.due_ms < due)) due = k[i]->clock.due_ms;
    }
    *state_r = state;
    *due_r = due;
}

/* Writes the summary `s` (NULL: no clock) when it differs from the old values (old_due -1: always). */
static int rs_store_summary(struct store_conn *c, int64_t client_id, int64_t id, const struct request_sla *s,
                            const char *old_state, int64_t old_due, struct kf_err *err)
{
    const char *state = NULL;
    int64_t due = 0;
    int rc;
    if (s) request_sla_summary(s, &state, &due);
    if (old_due >= 0 && old_due == due && strcmp(old_state ? old_state : "", state ? state : "") == 0) return 0;
    struct store_stmt *st;
    if ((rc = store_prepare(c, "UPDATE requests SET sla_state = $3, sla_due_at = $4 WHERE id = $1 AND client_id = $2",
                            &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    if (state) store_bind_text(st, 3, state, (size_t)-1);
    else store_bind_null(st, 3);
    if (due) store_bind_int64(st, 4, due);
    else store_bind_null(st, 4);
    return ident_exec(c, &st, NULL, err);
}

int request_sla_store(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t now,
                      const char *old_state, int64_t old_due, struct kf_err *err)
{
    struct request_sla s;
    int rc = request_sla_compute(c, ctx, client_id, id, now, NULL, &s, err);
    if (rc == KF_E_NOT_FOUND || rc == KF_E_INVALID) {
        kf_err_clear(err); /* no clock to compute: NULL, NULL */
        return rs_store_summary(c, client_id, id, NULL, old_state, old_due, err);
    }
    if (rc) return rc;
    return rs_store_summary(c, client_id, id, &s, old_state, old_due, err);
}

int request_sla_store_new(struct store_conn *c, struct kf_ctx *ctx, struct request *r, int64_t now,
                          struct request_sla *out, bool *has_r, struct kf_err *err)
{
    struct rs_facts f = {0};
    rs_row_of(r, &f);
    int rc = rs_compute(c, ctx, r->client_id, r->id, &f, true, now, NULL, out, err);
    *has_r = rc == 0;
    if (rc == KF_E_NOT_FOUND || rc == KF_E_INVALID) kf_err_clear(err), rc = 0; /* no clock: NULL, NULL */
    if (rc) return rc;
    r->sla_state = NULL;
    r->sla_due_at = 0;
    if (*has_r) request_sla_summary(out, &r->sla_state, &r->sla_due_at);
    return rs_store_summary(c, r->client_id, r->id, *has_r ? out : NULL, NULL, -1, err);
}

/* The clocks of `n` requests already read, in one read transaction on one connection; a terms memo
 * only for a list (for one request it would cost a statement to fill). `ok` NULL (one request): a
 * request without a clock answers its KF_E_INVALID or KF_E_NOT_FOUND; else ok[i] is false for it.
 * The rows' facts are the caller's: the clocks agree with the rows it shows. */
static int rs_of_rows(struct kf_ctx *ctx, const struct request *items, size_t n, struct request_sla *out, bool *ok,
                      struct kf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (ok) ok[i] = false;
        int rc = ident_allow(ctx, ACT_REQUEST_READ, items[i].client_id, 0, err);
        if (rc) return rc;
        if (items[i].client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    if (n == 0) return 0;
    struct store_conn *c;
    int rc = store_acquire(ctx->env->store, &c, err);
    if (rc) return rc;
    struct request_sla_cache *cache = NULL;
    int64_t now = ident_now(ctx);
    bool began;
    rc = store_read_begin(c, &began, err); /* one read lock (and snapshot) for every row's statements */
    if (rc == 0 && n > 1) cache = rs_cache_new(began);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct rs_facts f = {0};
        rs_row_of(&items[i], &f);
        rc = rs_compute(c, ctx, items[i].client_id, items[i].id, &f, false, now, &cache, &out[i], err);
        if (rc == 0 && ok) ok[i] = true;
        else if (ok && (rc == KF_E_INVALID || rc == KF_E_NOT_FOUND)) rc = 0, kf_err_clear(err);
    }
    store_read_end(c, began);
    request_sla_cache_free(&cache);
    store_release(&c);
    return rc;
}

int request_sla_get(struct kf_ctx *ctx, const struct request *r, struct request_sla *out, struct kf_err *err)
{
    return rs_of_rows(ctx, r, 1, out, NULL, err);
}

int request_sla_many(struct kf_ctx *ctx, const struct request *items, size_t n, struct request_sla *out, bool *ok,
                     struct kf_err *err)
{
    return rs_of_rows(ctx, items, n, out, ok, err);
}

/* --- alerts ----------------------------------------------------------------------------------------- */

#define RS_ALERT_COLS                                                                                            \
    "id, request_id, client_id, clock, cycle, kind, priority, target_minutes, due_at, warn_at, detected_at, "   \
    "counted_ms, overdue_ms, late_ms, paused_customer_ms, paused_client_ms"

/* The records of request `id`; `check` (the caller has not read the request): the request must
 * exist for this client (KF_E_NOT_FOUND), not merely have no records. */
static int rs_alerts(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *kind, bool check,
                     struct request_sla_alert **items_r, size_t *n_r, struct kf_err *err)
{
    *items_r = NULL;
    *n_r = 0;
    int rc = ident_allow(ctx, ACT_REQUEST_READ, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if (kind && strcmp(kind, "warning") != 0 && strcmp(kind, "breach") != 0)
        return kf_fail(err, KF_E_INVALID, "kind", "warning or breach");
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = check ? store_prepare(c, "SELECT 1 FROM requests WHERE id = $1 AND client_id = $2", &st, err) : 0;
    if (rc == 0 && check) {
        store_bind_int64(st, 1, id);
        store_bind_int64(st, 2, client_id);
        rc = store_step(st, err);
        store_finalize(&st);
        rc = rc == STORE_ROW ? 0 : rc < 0 ? rc : kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    if (rc == 0)
        rc = store_prepare(c,
                           "SELECT " RS_ALERT_COLS " FROM request_sla_alerts WHERE client_id = $1 AND request_id = $2 "
                           "AND ($3 = '' OR kind = $3) ORDER BY id LIMIT 1000",
                           &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, client_id);
        store_bind_int64(st, 2, id);
        store_bind_text(st, 3, kind ? kind : "", (size_t)-1);
        size_t cap = 16, n = 0;
        struct request_sla_alert *items = arena_zalloc(ctx->arena, cap * sizeof *items);
        while ((rc = store_step(st, err)) == STORE_ROW) {
            if (n == cap) {
                struct request_sla_alert *grown = arena_zalloc(ctx->arena, 2 * cap * sizeof *items);
                memcpy(grown, items, n * sizeof *items);
                items = grown, cap *= 2;
            }
            struct request_sla_alert *a = &items[n++];
            a->id = store_col_int64(st, 0);
            a->request_id = store_col_int64(st, 1);
            a->client_id = store_col_int64(st, 2);
            a->clock = ident_col_strdup(ctx, st, 3);
            a->cycle = (int)store_col_int64(st, 4);
            a->kind = ident_col_strdup(ctx, st, 5);
            a->priority = (int)store_col_int64(st, 6);
            a->target_minutes = store_col_int64(st, 7);
            a->due_at = store_col_int64(st, 8);
            a->warn_at = store_col_int64(st, 9);
            a->detected_at = store_col_int64(st, 10);
            a->counted_ms = store_col_int64(st, 11);
            a->overdue_ms = store_col_int64(st, 12);
            a->late_ms = store_col_int64(st, 13);
            a->paused_customer_ms = store_col_int64(st, 14);
            a->paused_client_ms = store_col_int64(st, 15);
        }
        store_finalize(&st);
        if (rc == STORE_DONE) rc = 0, *items_r = items, *n_r = n;
    }
    store_release(&c);
    return rc;
}

int request_sla_alerts(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *kind,
                       struct request_sla_alert **items_r, size_t *n_r, struct kf_err *err)
{
    return rs_alerts(ctx, client_id, id, kind, true, items_r, n_r, err);
}

int request_sla_alerts_of(struct kf_ctx *ctx, const struct request *r, const char *kind,
                          struct request_sla_alert **items_r, size_t *n_r, struct kf_err *err)
{
    return rs_alerts(ctx, r->client_id, r->id, kind, false, items_r, n_r, err);
}

/* --- the job ------------------------------------------------------------------------------------------ */

struct rs_due_args {
    struct kf_ctx *ctx;
    int64_t id, client_id, now;
    int warned, breached;
    int64_t recipients[RS_RECIPIENTS_MAX];
    size_t n_recipients;
};

/* 1 when the alert exists, 0 when not, or an error. */
static int rs_alert_exists(struct store_conn *c, const struct rs_due_args *a, const char *clock, int cycle,
                           const char *kind, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT 1 FROM request_sla_alerts WHERE client_id = $1 AND request_id = $2 AND clock = $3 "
                           "AND cycle = $4 AND kind = $5",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->client_id);
    store_bind_int64(st, 2, a->id);
    store_bind_text(st, 3, clock, (size_t)-1);
    store_bind_int64(st, 4, cycle);
    store_bind_text(st, 5, kind, (size_t)-1);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : rc == STORE_ROW;
}

/* The assignee and the provider's supervisors (each once). */
static int rs_recipients(struct store_conn *c, struct rs_due_args *a, int64_t assignee, struct kf_err *err)
{
    if (a->n_recipients) return 0;
    if (assignee) a->recipients[a->n_recipients++] = assignee;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT id FROM users WHERE client_id = 0 AND disabled = 0 AND (roles & $1) <> 0 ORDER BY id "
                           "LIMIT $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, ROLE_SUPERVISOR);
    store_bind_int64(st, 2, RS_RECIPIENTS_MAX);
    while ((rc = store_step(st, err)) == STORE_ROW && a->n_recipients < RS_RECIPIENTS_MAX) {
        int64_t u = store_col_int64(st, 0);
        if (u != assignee) a->recipients[a->n_recipients++] = u;
    }
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int rs_alert(struct store_conn *c, struct rs_due_args *a, const struct request_sla *s,
                    const struct request_sla_clock *k, const char *kind, const char *number, int64_t assignee,
                    struct kf_err *err)
{
    const struct sla_clock *v = &k->clock;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO request_sla_alerts (" RS_ALERT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                           "$9, $10, $11, $12, $13, $14, $15, $16)",
                           &st, err);
    if (rc) return rc;
    int64_t alert_id = id_new(a->now);
    bool breach = strcmp(kind, "breach") == 0;
    store_bind_int64(st, 1, alert_id);
    store_bind_int64(st, 2, a->id);
    store_bind_int64(st, 3, a->client_id);
    store_bind_text(st, 4, k->name, (size_t)-1);
    store_bind_int64(st, 5, k->cycle);
    store_bind_text(st, 6, kind, (size_t)-1);
    store_bind_int64(st, 7, s->priority);
    store_bind_int64(st, 8, k->target_minutes);
    store_bind_int64(st, 9, v->due_ms);
    store_bind_int64(st, 10, v->warn_ms);
    store_bind_int64(st, 11, a->now);
    store_bind_int64(st, 12, v->counted_ms);
    store_bind_int64(st, 13, breach ? v->overdue_ms : 0);
    store_bind_int64(st, 14, breach ? v->late_ms : 0);
    store_bind_int64(st, 15, v->paused_ms[SLA_PAUSE_CUSTOMER]);
    store_bind_int64(st, 16, v->paused_ms[SLA_PAUSE_CLIENT]);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    if ((rc = rs_recipients(c, a, assignee, err)) != 0) return rc;
    char idtext[24], link[96];
    snprintf(idtext, sizeof idtext, "%" PRId64, a->id);
    snprintf(link, sizeof link, "/requests/%" PRId64 "?client_id=%" PRId64, a->id, a->client_id);
    const char *key = breach ? (strcmp(k->name, "first_response") == 0 ? "notify.request_sla_breach_first_response"
                                                                         : "notify.request_sla_breach_resolution")
                             : (strcmp(k->name, "first_response") == 0 ? "notify.request_sla_warning_first_response"
                                                                         : "notify.request_sla_warning_resolution");
    json_t *params = json_pack("{s:s, s:s, s:s, s:I}", "request_id", idtext, "number", number, "clock", k->name,
                               "due_at", (json_int_t)v->due_ms);
    for (size_t i = 0; i < a->n_recipients && rc == 0; i++) {
        rc = notify_enqueue(c, a->ctx, 0, a->recipients[i], key, params, link, NULL, err);
        if (rc == KF_E_NOT_FOUND) rc = 0, kf_err_clear(err); /* an assignee since removed: the rest still hear */
    }
    json_decref(params);
    if (rc) return rc;
    if (breach) a->breached++;
    else a->warned++;
    /* the list's SLA badge changes with a warning or a breach */
    if ((rc = request_changed(c, a->client_id, a->id, "sla", err)) != 0) return rc;
    return ident_audit(c, a->ctx, a->client_id, breach ? "request.sla_breach" : "request.sla_warning", "request", a->id,
                       json_pack("{s:s, s:i, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "clock", k->name, "cycle",
                                 k->cycle, "priority", s->priority == 1 ? "P1" : s->priority == 2 ? "P2"
                                                                          : s->priority == 3 ? "P3" : "P4",
                                 "target_minutes", (int)k->target_minutes, "due_at", (json_int_t)v->due_ms,
                                 "overdue_ms", (json_int_t)(breach ? v->overdue_ms : 0), "late_ms",
                                 (json_int_t)(breach ? v->late_ms : 0), "paused_customer_ms",
                                 (json_int_t)v->paused_ms[SLA_PAUSE_CUSTOMER], "paused_client_ms",
                                 (json_int_t)v->paused_ms[SLA_PAUSE_CLIENT], "alert_id", (json_int_t)alert_id),
                       NULL, err);
}

static int rs_check_clock(struct store_conn *c, struct rs_due_args *a, const struct request_sla *s,
                          const struct request_sla_clock *k, const char *number, int64_t assignee, struct kf_err *err)
{
    const struct sla_clock *v = &k->clock;
    const char *kind = NULL;
    if (v->breached) kind = "breach";
    else if (v->warned && !v->stopped) kind = "warning";
    if (!kind) return 0;
    int rc = rs_alert_exists(c, a, k->name, k->cycle, kind, err);
    if (rc) return rc < 0 ? rc : 0;
    return rs_alert(c, a, s, k, kind, number, assignee, err);
}

static int rs_due_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct rs_due_args *a = arg;
    a->warned = a->breached = 0;
    a->n_recipients = 0;
    /* the request row first: two runners of the job queue here, the second sees the first's alerts */
    struct store_stmt *st;
    int rc = store_prepare(c, "UPDATE requests SET updated = updated WHERE id = $1 AND client_id = $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    if ((rc = store_prepare(c,
                            "SELECT number, assignee_id, sla_state, sla_due_at FROM requests WHERE id = $1 AND "
                            "client_id = $2",
                            &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->client_id);
    if ((rc = store_step(st, err)) != STORE_ROW) {
        store_finalize(&st);
        return rc < 0 ? rc : 0;
    }
    const char *number = ident_col_strdup(a->ctx, st, 0);
    int64_t assignee = store_col_int64(st, 1);
    const char *old_state = ident_col_strdup(a->ctx, st, 2);
    int64_t old_due = store_col_int64(st, 3);
    store_finalize(&st);
    struct request_sla s;
    rc = request_sla_compute(c, a->ctx, a->client_id, a->id, a->now, NULL, &s, err);
    if (rc == KF_E_NOT_FOUND || rc == KF_E_INVALID) { /* no clock to watch */
        kf_err_clear(err);
        return rs_store_summary(c, a->client_id, a->id, NULL, old_state, old_due, err);
    }
    if (rc) return rc;
    /* the queue's columns (request_sla_store): a compare, and a write only when they moved */
    if ((rc = rs_store_summary(c, a->client_id, a->id, &s, old_state, old_due, err)) != 0) return rc;
    if ((rc = rs_check_clock(c, a, &s, &s.first_response, number, assignee, err)) != 0) return rc;
    return rs_check_clock(c, a, &s, &s.resolution, number, assignee, err);
}

/* 1 when request `id`'s clocks at `now` call for a warning or breach not yet recorded, 0 when not (or
 * it has no clock), or an error — read only, on connection `c`. The write (rs_due_fn) decides again
 * after locking the row; this only spares the requests with nothing to record a write each. */
static int rs_needs_alert(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t now,
                          struct request_sla_cache **cache, struct kf_err *err)
{
    struct request_sla s;
    int rc = request_sla_compute(c, ctx, client_id, id, now, cache, &s, err);
    if (rc == KF_E_NOT_FOUND || rc == KF_E_INVALID) return kf_err_clear(err), 0;
    if (rc) return rc;
    struct rs_due_args a = {.ctx = ctx, .id = id, .client_id = client_id, .now = now};
    const struct request_sla_clock *clocks[2] = {&s.first_response, &s.resolution};
    for (size_t i = 0; i < 2; i++) {
        const struct sla_clock *v = &clocks[i]->clock;
        const char *kind = v->breached ? "breach" : v->warned && !v->stopped ? "warning" : NULL;
        if (!kind) continue;
        rc = rs_alert_exists(c, &a, clocks[i]->name, clocks[i]->cycle, kind, err);
        if (rc <= 0) return rc < 0 ? rc : 1;
    }
    return 0;
}

/* One batch of the job: up to RS_BATCH requests after id `after`, read on one connection (calendars
 * loaded once), a write only for those with an alert to record. All memory in `ctx->arena`, which the
 * caller frees per batch — the job's memory is one batch's, not the whole table's. */
static int rs_due_batch(struct kf_ctx *ctx, int64_t now, int64_t *after, size_t *n_r, int *warned_r, int *breached_r,
                        struct kf_err *err)
{
    int64_t ids[RS_BATCH], clients[RS_BATCH];
    bool due[RS_BATCH];
    size_t n = 0;
    struct store_conn *c;
    int rc = store_acquire_scan(ctx->env->store, &c, err); /* every open request, once: not kept mapped */
    if (rc) return rc;
    struct store_stmt *st;
    if ((rc = store_prepare(c,
                            /* two ranges of requests_closed (0021), each in id order, merged: the
                             * open requests and the recently closed, never the whole table */
                            "SELECT id, client_id FROM ("
                            "SELECT * FROM (SELECT id, client_id FROM requests WHERE closed_at IS NULL AND id > $2 "
                            "ORDER BY id LIMIT $3) AS o UNION ALL "
                            "SELECT id, client_id FROM requests WHERE closed_at >= $1 AND closed_at <= $4 AND "
                            "+id > $2) AS b ORDER BY id LIMIT $3", /* both bounds (and +id): the index's range */
                            &st, err)) == 0) {
        store_bind_int64(st, 1, now - RS_CLOSED_HORIZON_MS);
        store_bind_int64(st, 2, *after);
        store_bind_int64(st, 3, RS_BATCH);
        store_bind_int64(st, 4, now);
        while ((rc = store_step(st, err)) == STORE_ROW && n < RS_BATCH) {
            ids[n] = store_col_int64(st, 0);
            clients[n++] = store_col_int64(st, 1);
        }
        store_finalize(&st);
    }
    struct request_sla_cache *cache = NULL;
    if (rc >= 0) rc = 0;
    bool began = false;
    if (rc == 0 && n) rc = store_read_begin(c, &began, err); /* one read lock and snapshot for the batch */
    if (rc == 0) cache = rs_cache_new(began);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = rs_needs_alert(c, ctx, clients[i], ids[i], now, &cache, err);
        due[i] = rc == 1;
        if (rc == 1) rc = 0;
    }
    store_read_end(c, began);
    request_sla_cache_free(&cache);
    store_release(&c);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        *after = ids[i];
        if (!due[i]) continue;
        struct rs_due_args *a = arena_zalloc(ctx->arena, sizeof *a);
        *a = (struct rs_due_args){.ctx = ctx, .id = ids[i], .client_id = clients[i], .now = now};
        if ((rc = store_write(ctx->env->store, rs_due_fn, a, err)) != 0) return rc;
        if (warned_r) *warned_r += a->warned;
        if (breached_r) *breached_r += a->breached;
        if (a->warned || a->breached)
            for (size_t k = 0; k < a->n_recipients; k++) notify_published(ctx, 0, a->recipients[k]);
    }
    *n_r = n;
    return 0;
}

int request_sla_due(struct kf_ctx *ctx, int64_t now, int *warned_r, int *breached_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_REQUEST_UPDATE, INT64_MAX, 0, err);
    if (rc) return rc;
    int64_t after = 0;
    for (;;) {
        /* a fresh arena per batch (keyset paging by id): memory stays one batch's whatever the table's size */
        struct kf_ctx batch = *ctx;
        batch.arena = arena_new(0);
        size_t n = 0;
        rc = rs_due_batch(&batch, now, &after, &n, warned_r, breached_r, err);
        arena_free(&batch.arena);
        if (rc) return rc;
        if (n < RS_BATCH) return 0;
    }
}

int request_sla_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err)
{
    (void)run;
    /* the scheduler's context has no actor: the job acts as kefu itself */
    static const struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx job = *ctx;
    if (!job.actor) job.actor = &system;
    return request_sla_due(&job, clock_now_ms(ctx->env->clock), NULL, NULL, err);
}

void request_sla_jobs_register(void)
{
    jobs_register(REQUEST_SLA_JOB_KIND, request_sla_job);
}

int request_sla_jobs_schedule(const struct kf_env *env, struct kf_err *err)
{
    return jobs_ensure_periodic(env, REQUEST_SLA_JOB_KIND, request_sla_job, REQUEST_SLA_JOB_PERIOD_MS, err);
}
