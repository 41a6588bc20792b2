/* Service changes and term history (agreement_change.h; C8.1.1): propose with a formal notice,
 * withdraw with a correcting one, apply by a one-shot job at the effective instant.
 *
 * DESIGN — invariants:
 *  - Term history is versioned rows. A row of agreement_services (with its agreement_fees, by
 *    service_id) is valid in [valid_from, valid_to), NULL meaning from the start / open-ended; the
 *    terms in force at T are the rows with (valid_from IS NULL OR valid_from <= T) AND
 *    (valid_to IS NULL OR valid_to > T). The partial unique index agreement_services_open keeps one
 *    open-ended row per kind, on both engines.
 *  - Versions are written up front, in the proposing write: the open rows get valid_to =
 *    effective_at (closed_by = the change) and the new set is inserted valid_from = effective_at
 *    (change_id = the change). So the terms at every instant are right at once, whether the job
 *    has run yet or runs late; the job only marks the change applied and moves
 *    agreements.calendar_id. A withdrawal (only before effective_at) deletes the change's rows and
 *    reopens the rows it closed: no trace in the terms.
 *  - The calendar's history is in the change records: the calendar at T is calendar_after of the
 *    last change (not withdrawn, calendar_changed) effective at or before T, else calendar_before of
 *    the first one after T, else agreements.calendar_id. Changes form a chain because at most one is
 *    pending per agreement (checked in the write under the agreement's row lock, backed by the
 *    partial unique index agreement_changes_one_pending).
 *  - The notice period is notice_days × 24 h from the notice's delivered_at (whole days of 24 h in
 *    UTC, not calendar days in the zone: a DST zone cannot shorten it). The notice (notice_send_in,
 *    kind "change", by portal: delivered when sent) is sent in the same write as the change; an
 *    effective instant inside the period fails that write, so neither the notice nor the change
 *    remains. A withdrawal sends a correcting notice (corrects_id = the first). */
#include "domain/agreement_change.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/text.h"
#include "domain/agreement_internal.h"
#include "domain/identity_internal.h"
#include "domain/notice.h"
#include "jobs/scheduler.h"
#include "render/format.h"
#include "store/store.h"

#define DAY_MS (24LL * 60 * 60 * 1000)

#define CH_COLS                                                                                                \
    "id, agreement_id, client_id, status, summary, effective_at, services_changed, calendar_changed, "         \
    "calendar_before, calendar_after, services_json, notice_id, notice_delivered_at, withdraw_notice_id, "     \
    "proposed_by, applied_at, withdrawn_by, withdrawn_at, created, updated"

static void ch_from_row(const struct kf_ctx *ctx, struct store_stmt *st, struct agreement_change *ch)
{
    memset(ch, 0, sizeof *ch);
    ch->id = store_col_int64(st, 0);
    ch->agreement_id = store_col_int64(st, 1);
    ch->client_id = store_col_int64(st, 2);
    ch->status = ident_col_strdup(ctx, st, 3);
    ch->summary = ident_col_strdup(ctx, st, 4);
    ch->effective_at = store_col_int64(st, 5);
    ch->services_changed = store_col_int64(st, 6) != 0;
    ch->calendar_changed = store_col_int64(st, 7) != 0;
    ch->calendar_before = store_col_int64(st, 8);
    ch->calendar_after = store_col_int64(st, 9);
    ch->services_json = ident_col_strdup(ctx, st, 10);
    int64_t *ints[] = {&ch->notice_id, &ch->notice_delivered_at, &ch->withdraw_notice_id, &ch->proposed_by,
                       &ch->applied_at, &ch->withdrawn_by, &ch->withdrawn_at, &ch->created, &ch->updated};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) *ints[k] = store_col_int64(st, 11 + (int)k);
}

static void ch_bind_opt(struct store_stmt *st, int idx, int64_t v)
{
    if (v) store_bind_int64(st, idx, v);
    else store_bind_null(st, idx);
}

/* --- the calendar and the change in force at an instant ---------------------------------------- */

/* One int64 from a query with ($1 agreement, $2 client, $3 at); 1 row, 0 none, or an error. */
static int ch_query3(struct store_conn *c, const char *sql, int64_t agreement_id, int64_t client_id, int64_t at,
                     int64_t *v_r, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, agreement_id);
    store_bind_int64(st, 2, client_id);
    if (strstr(sql, "$3")) store_bind_int64(st, 3, at);
    rc = store_step(st, err);
    if (rc == STORE_ROW) *v_r = store_col_int64(st, 0);
    store_finalize(&st);
    return rc == STORE_ROW ? 1 : rc == STORE_DONE ? 0 : rc;
}

int agreement_calendar_at(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t at,
                          int64_t *calendar_r, struct kf_err *err)
{
    int64_t v = 0;
    int rc = ch_query3(c,
                       "SELECT calendar_after FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND "
                       "status <> 'withdrawn' AND calendar_changed = 1 AND effective_at <= $3 "
                       "ORDER BY effective_at DESC, id DESC LIMIT 1",
                       agreement_id, client_id, at, &v, err);
    if (rc == 0)
        rc = ch_query3(c,
                       "SELECT calendar_before FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND "
                       "status <> 'withdrawn' AND calendar_changed = 1 AND effective_at > $3 "
                       "ORDER BY effective_at, id LIMIT 1",
                       agreement_id, client_id, at, &v, err);
    if (rc == 0)
        rc = ch_query3(c, "SELECT calendar_id FROM agreements WHERE id = $1 AND client_id = $2", agreement_id,
                       client_id, 0, &v, err);
    if (rc < 0) return rc;
    *calendar_r = v;
    return 0;
}

int agreement_change_in_force(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t at,
                              int64_t *change_r, struct kf_err *err)
{
    int64_t v = 0;
    int rc = ch_query3(c,
                       "SELECT id FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND "
                       "status <> 'withdrawn' AND effective_at <= $3 ORDER BY effective_at DESC, id DESC LIMIT 1",
                       agreement_id, client_id, at, &v, err);
    if (rc < 0) return rc;
    *change_r = v;
    return 0;
}

/* --- the formal notice (C11.1.1) ---------------------------------------------------------------- */

/* The one door to the notices capability (notice.h): sends the formal notice of kind "change" from
 * the provider by portal for the agreement inside the caller's write on `c` (corrects_id: the notice
 * a withdrawal corrects) and returns its id and delivery instant (portal: now). */
static int agreement_change_send_notice(struct kf_ctx *ctx, struct store_conn *c, int64_t client_id,
                                        int64_t agreement_id, const char *subject, const char *body,
                                        int64_t corrects_id, int64_t *id_r, int64_t *delivered_at_r,
                                        struct kf_err *err)
{
    struct notice_input n = {.client_id = client_id, .agreement_id = agreement_id, .kind = "change",
                             .sender_party = "provider", .subject = subject, .body = body, .method = "portal",
                             .corrects_id = corrects_id};
    int rc = notice_send_in(ctx, c, &n, id_r, delivered_at_r, err);
    if (rc == 0 && *delivered_at_r == 0) /* a portal notice is delivered when sent */
        return kf_fail(err, KF_E_INTERNAL, NULL, "the change notice was not delivered");
    return rc;
}

/* --- propose ------------------------------------------------------------------------------------ */

struct propose_args {
    struct kf_ctx *ctx;
    int64_t client_id, agreement_id;
    const struct agreement_change_input *in;
    int64_t id;
};

/* The agreement's state a change needs, read under its row lock. */
struct ch_agreement {
    char status[32];
    char number[128];
    char zone[80];
    int64_t expires_at;
    int notice_days;
    bool dissolution_due;
};

static int ch_read_agreement(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t now,
                             struct ch_agreement *g, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "SELECT status, COALESCE(contract_number, draft_ref), calendar_zone, expires_at, notice_days, "
                           "dissolution_ground, dissolution_effective_at, dissolution_provider_at, dissolution_client_at "
                           "FROM agreements WHERE id = $1 AND client_id = $2",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, agreement_id);
    store_bind_int64(st, 2, client_id);
    rc = store_step(st, err);
    if (rc != STORE_ROW) {
        store_finalize(&st);
        return rc < 0 ? rc : kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    }
    snprintf(g->status, sizeof g->status, "%s", store_col_text(st, 0, NULL));
    snprintf(g->number, sizeof g->number, "%s", store_col_text(st, 1, NULL));
    snprintf(g->zone, sizeof g->zone, "%s", store_col_text(st, 2, NULL));
    g->expires_at = store_col_int64(st, 3);
    g->notice_days = (int)store_col_int64(st, 4);
    const char *ground = store_col_is_null(st, 5) ? "" : store_col_text(st, 5, NULL);
    bool confirmed = strcmp(ground, AGREEMENT_MUTUAL_CONSENT) != 0 ||
                     (!store_col_is_null(st, 7) && !store_col_is_null(st, 8));
    g->dissolution_due = *ground && confirmed && store_col_int64(st, 6) <= now;
    store_finalize(&st);
    return 0;
}

/* The services of the input as JSON text, for the change record and its audit. */
static char *ch_services_json(struct kf_ctx *ctx, const struct agreement_change_input *in)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < in->n_services; i++) {
        const struct agreement_service_input *s = &in->services[i];
        json_t *t = json_object();
        for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
            char key[16];
            snprintf(key, sizeof key, "P%d", p + 1);
            json_object_set_new(t, key, json_pack("{s:I, s:I}", "first_response", (json_int_t)s->targets.response[p],
                                                  "resolution", (json_int_t)s->targets.resolution[p]));
        }
        json_t *fees = json_array();
        for (size_t k = 0; k < s->n_fees; k++)
            json_array_append_new(fees, json_pack("{s:s, s:I}", "kind", s->fees[k].kind, "amount_fen",
                                                  (json_int_t)s->fees[k].amount_fen));
        json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "kind", s->kind, "targets", t, "fees", fees));
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    char *r = arena_strdup(ctx->arena, text ? text : "[]");
    free(text);
    return r;
}

static int ch_calendar_exists(struct store_conn *c, int64_t id, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, "SELECT 1 FROM calendars WHERE id = $1", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    rc = store_step(st, err);
    store_finalize(&st);
    if (rc < 0) return rc;
    return rc == STORE_ROW ? 0 : kf_fail(err, KF_E_INVALID, "calendar_id", "no such calendar");
}

static int propose_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct propose_args *a = arg;
    const struct agreement_change_input *in = a->in;
    struct kf_ctx *ctx = a->ctx;
    int64_t now = ident_now(ctx);
    int rc = agreement_lock(c, a->client_id, a->agreement_id, err);
    if (rc) return rc;
    struct ch_agreement g;
    if ((rc = ch_read_agreement(c, a->client_id, a->agreement_id, now, &g, err)) != 0) return rc;
    if (strcmp(g.status, "active") != 0 || (g.expires_at && g.expires_at <= now) || g.dissolution_due)
        return kf_fail(err, KF_E_CONFLICT, "status", "only an active agreement's services change (it is %s)",
                       strcmp(g.status, "active") != 0 ? g.status : g.dissolution_due ? "dissolved" : "expired");
    int64_t pending = 0;
    if ((rc = ch_query3(c,
                        "SELECT id FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 AND "
                        "status = 'pending'",
                        a->agreement_id, a->client_id, 0, &pending, err)) < 0)
        return rc;
    if (rc == 1)
        return kf_fail(err, KF_E_CONFLICT, "change", "another change is pending: withdraw it or wait until it applies");
    if (in->calendar_id && (rc = ch_calendar_exists(c, in->calendar_id, err)) != 0) return rc;
    if (in->effective_at >= g.expires_at)
        return kf_fail(err, KF_E_INVALID, "effective_at", "the change must take effect before the agreement expires");
    int64_t calendar_before = 0;
    if ((rc = agreement_calendar_at(c, a->client_id, a->agreement_id, INT64_MAX, &calendar_before, err)) != 0)
        return rc;

    /* the formal notice first: its delivery decides the earliest effective instant */
    char when[FORMAT_MAX];
    if (format_datetime(when, sizeof when, in->effective_at, g.zone, "zh-CN", true, err) != 0)
        snprintf(when, sizeof when, "%" PRId64, in->effective_at);
    const char *subject = arena_printf(ctx->arena, "服务变更通知:%s", g.number);
    const char *body = arena_printf(ctx->arena, "%s\n\n生效时间:%s(%s)", in->summary, when, g.zone);
    int64_t notice_id = 0, delivered = 0;
    if ((rc = agreement_change_send_notice(ctx, c, a->client_id, a->agreement_id, subject, body, 0, &notice_id,
                                           &delivered, err)) != 0)
        return rc;
    int64_t earliest = delivered + (int64_t)g.notice_days * DAY_MS;
    if (in->effective_at < earliest)
        return kf_fail(err, KF_E_INVALID, "effective_at",
                       "inside the notice period: at the earliest %" PRId64 " (the notice's delivery + %d days of 24 h)",
                       earliest, g.notice_days);

    const char *services_json = ch_services_json(ctx, in);
    struct store_stmt *st;
    rc = store_prepare(c,
                       "INSERT INTO agreement_changes (id, agreement_id, client_id, status, summary, effective_at, "
                       "services_changed, calendar_changed, calendar_before, calendar_after, services_json, notice_id, "
                       "notice_delivered_at, proposed_by, created, updated) VALUES ($1, $2, $3, 'pending', $4, $5, $6, "
                       "$7, $8, $9, $10, $11, $12, $13, $14, $14)",
                       &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->id);
    store_bind_int64(st, 2, a->agreement_id);
    store_bind_int64(st, 3, a->client_id);
    store_bind_text(st, 4, in->summary, (size_t)-1);
    store_bind_int64(st, 5, in->effective_at);
    store_bind_int64(st, 6, in->n_services ? 1 : 0);
    store_bind_int64(st, 7, in->calendar_id ? 1 : 0);
    ch_bind_opt(st, 8, in->calendar_id ? calendar_before : 0);
    ch_bind_opt(st, 9, in->calendar_id);
    store_bind_text(st, 10, services_json, (size_t)-1);
    ch_bind_opt(st, 11, notice_id);
    store_bind_int64(st, 12, delivered);
    store_bind_int64(st, 13, ctx->actor->user_id);
    store_bind_int64(st, 14, now);
    if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;

    json_t *summary = json_array();
    if (in->n_services) {
        /* close the open versions at effective_at, then the new full set from effective_at */
        rc = store_prepare(c,
                           "UPDATE agreement_services SET valid_to = $3, closed_by = $4 WHERE agreement_id = $1 AND "
                           "client_id = $2 AND valid_to IS NULL",
                           &st, err);
        if (rc == 0) {
            store_bind_int64(st, 1, a->agreement_id);
            store_bind_int64(st, 2, a->client_id);
            store_bind_int64(st, 3, in->effective_at);
            store_bind_int64(st, 4, a->id);
            rc = ident_exec(c, &st, NULL, err);
        }
        if (rc == 0)
            rc = agreement_insert_services(c, ctx, a->client_id, a->agreement_id, in->services, in->n_services,
                                           in->effective_at, a->id, summary, err);
        if (rc) {
            json_decref(summary);
            return rc;
        }
    }

    char key[64];
    snprintf(key, sizeof key, "%s:%" PRId64, AGREEMENT_CHANGE_JOB_KIND, a->id);
    const char *payload = arena_printf(ctx->arena, "{\"client_id\":\"%" PRId64 "\",\"change_id\":\"%" PRId64 "\"}",
                                       a->client_id, a->id);
    struct job_spec job = {.kind = AGREEMENT_CHANGE_JOB_KIND, .unique_key = key, .run_at = in->effective_at,
                           .payload = payload};
    if ((rc = jobs_insert(c, now, &job, NULL, err)) != 0) {
        json_decref(summary);
        return rc;
    }
    return ident_audit(c, ctx, a->client_id, "agreement.change_propose", "agreement", a->agreement_id,
                       json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "change_id",
                                 arena_printf(ctx->arena, "%" PRId64, a->id), "summary", in->summary, "effective_at",
                                 (json_int_t)in->effective_at, "notice_delivered_at", (json_int_t)delivered,
                                 "notice_id", notice_id ? json_integer(notice_id) : json_null(), "services", summary,
                                 "calendar_before",
                                 in->calendar_id && calendar_before ? json_integer(calendar_before) : json_null(),
                                 "calendar_after", in->calendar_id ? json_integer(in->calendar_id) : json_null()),
                       NULL, err);
}

int agreement_change_propose(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                             const struct agreement_change_input *in, int64_t *id_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_MANAGE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    if ((rc = ident_check_text(in->summary, "summary", true, AGREEMENT_CHANGE_SUMMARY_MAX, err)) != 0) return rc;
    if (in->effective_at <= 0) return kf_fail(err, KF_E_INVALID, "effective_at", "the effective instant is required");
    if (in->calendar_id < 0) return kf_fail(err, KF_E_INVALID, "calendar_id", "no such calendar");
    if (in->n_services == 0 && !in->calendar_id)
        return kf_fail(err, KF_E_INVALID, "services", "a change gives a new set of services, a calendar, or both");
    if (in->n_services && (rc = agreement_check_services(in->services, in->n_services, err)) != 0) return rc;
    struct propose_args a = {ctx, client_id, agreement_id, in, id_new(ident_now(ctx))};
    rc = store_write(ctx->env->store, propose_fn, &a, err);
    if (rc) return rc;
    notice_published(ctx, client_id, "client");
    if (id_r) *id_r = a.id;
    return 0;
}

/* --- withdraw ----------------------------------------------------------------------------------- */

struct withdraw_args {
    struct kf_ctx *ctx;
    int64_t client_id, agreement_id, change_id;
};

/* Runs `sql` ($1 change, $2 client) as a statement. */
static int ch_exec2(struct store_conn *c, const char *sql, int64_t change_id, int64_t client_id, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, change_id);
    store_bind_int64(st, 2, client_id);
    return ident_exec(c, &st, NULL, err);
}

static int withdraw_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct withdraw_args *a = arg;
    struct kf_ctx *ctx = a->ctx;
    int64_t now = ident_now(ctx);
    int rc = agreement_lock(c, a->client_id, a->agreement_id, err);
    if (rc) return rc;
    struct store_stmt *st;
    if ((rc = store_prepare(c, "SELECT " CH_COLS " FROM agreement_changes WHERE id = $1 AND agreement_id = $2 AND "
                               "client_id = $3", &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->change_id);
    store_bind_int64(st, 2, a->agreement_id);
    store_bind_int64(st, 3, a->client_id);
    struct agreement_change ch;
    rc = store_step(st, err);
    if (rc == STORE_ROW) ch_from_row(ctx, st, &ch);
    store_finalize(&st);
    if (rc < 0) return rc;
    if (rc != STORE_ROW) return kf_fail(err, KF_E_NOT_FOUND, "change", "no such change");
    if (strcmp(ch.status, "pending") != 0)
        return kf_fail(err, KF_E_CONFLICT, "status", "the change is %s: only a pending change is withdrawn", ch.status);
    if (ch.effective_at <= now)
        return kf_fail(err, KF_E_CONFLICT, "status", "the change is in force already: propose another change");
    struct ch_agreement g;
    if ((rc = ch_read_agreement(c, a->client_id, a->agreement_id, now, &g, err)) != 0) return rc;
    /* no trace in the terms: the change's versions go, the versions it closed are open again */
    if ((rc = ch_exec2(c,
                       "DELETE FROM agreement_fees WHERE client_id = $2 AND service_id IN (SELECT id FROM "
                       "agreement_services WHERE change_id = $1 AND client_id = $2)",
                       a->change_id, a->client_id, err)) != 0 ||
        (rc = ch_exec2(c, "DELETE FROM agreement_services WHERE change_id = $1 AND client_id = $2", a->change_id,
                       a->client_id, err)) != 0 ||
        (rc = ch_exec2(c,
                       "UPDATE agreement_services SET valid_to = NULL, closed_by = NULL WHERE closed_by = $1 AND "
                       "client_id = $2",
                       a->change_id, a->client_id, err)) != 0)
        return rc;
    const char *subject = arena_printf(ctx->arena, "撤回服务变更通知:%s", g.number);
    const char *body = arena_printf(ctx->arena, "此前通知的服务变更已撤回,不再生效。原通知内容:\n\n%s", ch.summary);
    int64_t notice_id = 0, delivered = 0;
    if ((rc = agreement_change_send_notice(ctx, c, a->client_id, a->agreement_id, subject, body, ch.notice_id,
                                           &notice_id, &delivered, err)) != 0)
        return rc;
    if ((rc = store_prepare(c,
                            "UPDATE agreement_changes SET status = 'withdrawn', withdrawn_by = $3, withdrawn_at = $4, "
                            "withdraw_notice_id = $5, updated = $4 WHERE id = $1 AND client_id = $2 AND "
                            "status = 'pending'",
                            &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->change_id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, ctx->actor->user_id);
    store_bind_int64(st, 4, now);
    ch_bind_opt(st, 5, notice_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    if (n != 1) return kf_fail(err, KF_E_CONFLICT, "status", "the change is no longer pending");
    return ident_audit(c, ctx, a->client_id, "agreement.change_withdraw", "agreement", a->agreement_id,
                       json_pack("{s:s, s:I, s:o}", "change_id", arena_printf(ctx->arena, "%" PRId64, a->change_id),
                                 "effective_at", (json_int_t)ch.effective_at, "notice_id",
                                 notice_id ? json_integer(notice_id) : json_null()),
                       NULL, err);
}

int agreement_change_withdraw(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, int64_t change_id,
                              struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_MANAGE, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct withdraw_args a = {ctx, client_id, agreement_id, change_id};
    rc = store_write(ctx->env->store, withdraw_fn, &a, err);
    if (rc == 0) notice_published(ctx, client_id, "client");
    return rc;
}

/* --- reads -------------------------------------------------------------------------------------- */

int agreement_change_get(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, int64_t change_id,
                         struct agreement_change *out, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_READ, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    struct store_stmt *st;
    rc = store_prepare(c, "SELECT " CH_COLS " FROM agreement_changes WHERE id = $1 AND agreement_id = $2 AND "
                          "client_id = $3", &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, change_id);
        store_bind_int64(st, 2, agreement_id);
        store_bind_int64(st, 3, client_id);
        rc = store_step(st, err);
        if (rc == STORE_ROW) ch_from_row(ctx, st, out), rc = 0;
        else if (rc == STORE_DONE) rc = kf_fail(err, KF_E_NOT_FOUND, "change", "no such change");
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

int agreement_change_list(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct agreement_change **items_r,
                          size_t *n_r, struct kf_err *err)
{
    int rc = ident_allow(ctx, ACT_AGREEMENT_READ, client_id, 0, err);
    if (rc) return rc;
    if (client_id <= 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_conn *c;
    if ((rc = store_acquire(ctx->env->store, &c, err)) != 0) return rc;
    int64_t one = 0;
    rc = ch_query3(c, "SELECT 1 FROM agreements WHERE id = $1 AND client_id = $2", agreement_id, client_id, 0, &one,
                   err);
    if (rc == 0) rc = kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
    struct store_stmt *st;
    if (rc == 1)
        rc = store_prepare(c, "SELECT " CH_COLS " FROM agreement_changes WHERE agreement_id = $1 AND client_id = $2 "
                              "ORDER BY id DESC LIMIT $3", &st, err);
    if (rc == 0) {
        store_bind_int64(st, 1, agreement_id);
        store_bind_int64(st, 2, client_id);
        store_bind_int64(st, 3, AGREEMENT_CHANGE_LIST_MAX);
        struct agreement_change *items = arena_zalloc(ctx->arena, sizeof *items * AGREEMENT_CHANGE_LIST_MAX);
        size_t n = 0;
        while ((rc = store_step(st, err)) == STORE_ROW && n < AGREEMENT_CHANGE_LIST_MAX)
            ch_from_row(ctx, st, &items[n++]);
        store_finalize(&st);
        if (rc >= 0) {
            rc = 0;
            *items_r = items;
            *n_r = n;
        }
    }
    store_release(&c);
    return rc;
}

/* --- the job: apply at the effective instant ----------------------------------------------------- */

struct apply_args {
    struct kf_ctx *ctx;
    int64_t client_id, change_id, now;
};

static int apply_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct apply_args *a = arg;
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "UPDATE agreement_changes SET status = 'applied', applied_at = $3, updated = $3 WHERE id = $1 "
                           "AND client_id = $2 AND status = 'pending' AND effective_at <= $3",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, a->change_id);
    store_bind_int64(st, 2, a->client_id);
    store_bind_int64(st, 3, a->now);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0 || n == 0) return rc; /* applied or withdrawn already */
    if ((rc = store_prepare(c, "SELECT " CH_COLS " FROM agreement_changes WHERE id = $1 AND client_id = $2", &st,
                            err)) != 0)
        return rc;
    store_bind_int64(st, 1, a->change_id);
    store_bind_int64(st, 2, a->client_id);
    struct agreement_change ch;
    rc = store_step(st, err);
    if (rc == STORE_ROW) ch_from_row(a->ctx, st, &ch);
    store_finalize(&st);
    if (rc != STORE_ROW) return rc < 0 ? rc : kf_fail(err, KF_E_NOT_FOUND, NULL, "no such change");
    if (ch.calendar_changed) {
        if ((rc = store_prepare(c, "UPDATE agreements SET calendar_id = $3, updated = $4 WHERE id = $1 AND client_id = $2",
                                &st, err)) != 0)
            return rc;
        store_bind_int64(st, 1, ch.agreement_id);
        store_bind_int64(st, 2, a->client_id);
        ch_bind_opt(st, 3, ch.calendar_after);
        store_bind_int64(st, 4, a->now);
        if ((rc = ident_exec(c, &st, NULL, err)) != 0) return rc;
    }
    return ident_audit(c, a->ctx, a->client_id, "agreement.change_apply", "agreement", ch.agreement_id,
                       json_pack("{s:s, s:s, s:I, s:I}", "change_id",
                                 arena_printf(a->ctx->arena, "%" PRId64, ch.id), "status", "applied", "effective_at",
                                 (json_int_t)ch.effective_at, "applied_at", (json_int_t)a->now),
                       NULL, err);
}

int agreement_change_apply_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err)
{
    /* the scheduler's context has no actor: the job acts as kefu itself */
    static const struct actor system = {.kind = ACTOR_SYSTEM};
    struct kf_ctx job = *ctx;
    if (!job.actor) job.actor = &system;
    int rc = ident_allow(&job, ACT_AGREEMENT_MANAGE, INT64_MAX, 0, err);
    if (rc) return rc;
    json_t *p = run->payload ? json_loads(run->payload, 0, NULL) : NULL;
    const char *cs = json_string_value(json_object_get(p, "client_id"));
    const char *hs = json_string_value(json_object_get(p, "change_id"));
    struct apply_args a = {.ctx = &job, .now = clock_now_ms(ctx->env->clock)};
    bool ok = cs && hs && id_parse(cs, &a.client_id) == 0 && id_parse(hs, &a.change_id) == 0;
    json_decref(p);
    /* a payload kefu did not write cannot be retried into shape: report it, do nothing */
    if (!ok) return kf_fail(err, KF_E_INVALID, "payload", "an agreement.change_apply payload needs client_id and change_id");
    return store_write(ctx->env->store, apply_fn, &a, err);
}

void agreement_jobs_register(void)
{
    jobs_register(AGREEMENT_CHANGE_JOB_KIND, agreement_change_apply_job);
    jobs_register("agreement.expire", agreement_expire_job);
}
