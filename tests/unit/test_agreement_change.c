/* Service changes and term history on both engines (C8.1.1; agreement_change.h): the terms at
 * instants before, at and after a change; the change applied by its job on the clock; a withdrawn
 * change leaving no trace; an effective date inside the notice period refused with nothing changed;
 * two pending changes refused; changes refused on an expired or draft agreement and past the end;
 * agreements on persisted calendars (C3.1.1) and the calendar's history. */
#include "identity_fixture.h"

#include <pthread.h>
#include <unicode/uclean.h>

#include "domain/agreement.h"
#include "domain/agreement_change.h"
#include "domain/calendar_store.h"
#include "jobs/scheduler.h"

#define DAY_MS (24LL * 60 * 60 * 1000)
#define AM_ID 501
#define CADM_A 601

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

static const struct agreement_fee support_fees[] = {{"fixed_month", 1000000}};
static const struct agreement_fee new_support_fees[] = {{"fixed_month", 1200000}, {"per_visit", 50000}};

/* An active agreement of client_a, signed at the clock's now: technical support P1 15/120 at
 * 10 000 yuan a month, and consulting at the catalogue's defaults; 30 days' notice. */
static int64_t make_active(struct ifx *fx, int term, int64_t calendar_id)
{
    struct agreement_service_input svc[2];
    memset(svc, 0, sizeof svc);
    svc[0].kind = "technical_support";
    svc[0].targets.response[0] = 15;
    svc[0].targets.resolution[0] = 120;
    svc[0].fees = support_fees;
    svc[0].n_fees = 1;
    svc[1].kind = "consulting";
    struct agreement_input in = {.term_years = term, .notice_days = 30, .acceptance_by = "client",
                                 .calendar_id = calendar_id, .services = svc, .n_services = 2};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    T_OK(agreement_create(&fx->ctx, fx->client_a, &in, &id, &fx->err));
    T_OK(agreement_sign_provider(&fx->ctx, fx->client_a, id, &fx->err));
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, fx->client_a, id, &fx->err));
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    return id;
}

/* The new full set: technical support P1 10/100 at 12 000 yuan a month plus visits, maintenance
 * added, consulting dropped. */
static struct agreement_change_input new_services(struct agreement_service_input *svc, int64_t effective_at)
{
    memset(svc, 0, sizeof *svc * 2);
    svc[0].kind = "technical_support";
    svc[0].targets.response[0] = 10;
    svc[0].targets.resolution[0] = 100;
    svc[0].fees = new_support_fees;
    svc[0].n_fees = 2;
    svc[1].kind = "maintenance";
    return (struct agreement_change_input){.summary = "技术支持响应时间缩短为10分钟,增加维护服务,取消咨询服务。",
                                           .effective_at = effective_at, .services = svc, .n_services = 2};
}

static const struct agreement_service *service_of(const struct agreement_terms *t, const char *kind)
{
    for (size_t i = 0; i < t->n_services; i++)
        if (strcmp(t->services[i].kind, kind) == 0) return &t->services[i];
    return NULL;
}

static struct agreement_terms terms_at(struct ifx *fx, int64_t id, int64_t at)
{
    struct agreement_terms t;
    T_OK(agreement_terms_at(NULL, &fx->ctx, fx->client_a, id, at, &t, &fx->err));
    return t;
}

static void assert_old_terms(struct ifx *fx, int64_t id, int64_t at)
{
    struct agreement_terms t = terms_at(fx, id, at);
    assert_int_equal(t.n_services, 2);
    const struct agreement_service *s = service_of(&t, "technical_support");
    assert_non_null(s);
    assert_true(s->targets.response[0] == 15 && s->targets.resolution[0] == 120);
    assert_int_equal(s->n_fees, 1);
    assert_true(s->fees[0].amount_fen == 1000000);
    assert_non_null(service_of(&t, "consulting"));
    assert_null(service_of(&t, "maintenance"));
}

static void assert_new_terms(struct ifx *fx, int64_t id, int64_t at)
{
    struct agreement_terms t = terms_at(fx, id, at);
    assert_int_equal(t.n_services, 2);
    const struct agreement_service *s = service_of(&t, "technical_support");
    assert_non_null(s);
    assert_true(s->targets.response[0] == 10 && s->targets.resolution[0] == 100);
    assert_true(s->targets.response[1] == 60); /* P2 stays the catalogue's */
    assert_int_equal(s->n_fees, 2);
    assert_non_null(service_of(&t, "maintenance"));
    assert_null(service_of(&t, "consulting"));
    assert_true(t.change_id != 0);
}

static int64_t changes_of(struct ifx *fx, int64_t id)
{
    return ifx_count(fx, "SELECT count(*) FROM agreement_changes WHERE agreement_id = $1", id, 0);
}

static int64_t service_rows(struct ifx *fx, int64_t id)
{
    return ifx_count(fx, "SELECT count(*) FROM agreement_services WHERE agreement_id = $1", id, 0) * 1000 +
           ifx_count(fx, "SELECT count(*) FROM agreement_fees WHERE agreement_id = $1", id, 0);
}

static int64_t notices_of(struct ifx *fx, int64_t id)
{
    return ifx_count(fx, "SELECT count(*) FROM notices WHERE agreement_id = $1 AND kind = 'change'", id, 0);
}

static int64_t change_jobs(struct ifx *fx)
{
    return ifx_count_text(fx, "SELECT count(*) FROM jobs WHERE kind = $1", AGREEMENT_CHANGE_JOB_KIND);
}

static struct scheduler *start_scheduler(struct ifx *fx)
{
    struct scheduler *sched = NULL;
    agreement_jobs_register();
    T_OK(scheduler_start(&fx->env, false, 0, &sched, &fx->err));
    fx->env.sched = sched;
    return sched;
}

static void stop_scheduler(struct ifx *fx, struct scheduler **sched)
{
    scheduler_stop(sched);
    fx->env.sched = NULL;
}

static int64_t new_calendar(struct ifx *fx, const char *name, const char *zone)
{
    ifx_as(fx, 1, 0, ROLE_ADMIN);
    int64_t id = 0;
    T_OK(calendar_store_create(&fx->ctx, name, zone, NULL, &id, &fx->err));
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    return id;
}

/* --- history ---------------------------------------------------------------------------------- */

static void test_C8_1_1_terms_before_at_and_after_a_change_and_the_job_applies_it(void **state)
{
    IFX(state);
    struct scheduler *sched = start_scheduler(fx);
    int64_t id = make_active(fx, 1, 0);
    int64_t signed_at = T0;
    int64_t cal = new_calendar(fx, "7×24 客服", "Asia/Shanghai");
    int64_t eff = T0 + 40 * DAY_MS;
    struct agreement_service_input svc[2];
    struct agreement_change_input in = new_services(svc, eff);
    in.calendar_id = cal;
    int64_t change = 0;
    T_OK(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, &change, &fx->err));
    assert_true(change != 0);
    struct agreement_change ch;
    T_OK(agreement_change_get(&fx->ctx, fx->client_a, id, change, &ch, &fx->err));
    assert_string_equal(ch.status, "pending");
    assert_true(ch.effective_at == eff && ch.notice_delivered_at == T0);
    assert_true(ch.calendar_changed && ch.calendar_after == cal && ch.calendar_before == 0);
    /* the formal notice (C11.1.1): kind change, from the provider, delivered by portal when sent */
    assert_true(ch.notice_id != 0);
    assert_int_equal(notices_of(fx, id), 1);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM notices WHERE id = $1 AND sender_party = 'provider' AND "
                                   "method = 'portal' AND delivered_at = $2", ch.notice_id, T0), 1);
    assert_int_equal(change_jobs(fx), 1);
    assert_int_equal(ifx_audit_count(fx, "agreement.change_propose"), 1);

    /* before the instant: the signed terms, also for agreement_get now */
    assert_old_terms(fx, id, signed_at);
    assert_old_terms(fx, id, eff - 1);
    assert_true(terms_at(fx, id, eff - 1).calendar_id == CALENDAR_STORE_DEFAULT_ID);
    assert_true(terms_at(fx, id, eff - 1).change_id == 0);
    struct agreement g;
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_int_equal(g.n_services, 2);
    assert_true(g.calendar_id == 0);
    /* at and after the instant: the new terms, even before the job has run */
    assert_new_terms(fx, id, eff);
    assert_new_terms(fx, id, eff + 100 * DAY_MS);
    assert_true(terms_at(fx, id, eff).calendar_id == cal);
    assert_true(terms_at(fx, id, eff).change_id == change);

    /* the clock to the instant: the job marks it applied, once */
    T_OK(scheduler_advance_to(sched, eff - 1, NULL, NULL, &fx->err));
    T_OK(agreement_change_get(&fx->ctx, fx->client_a, id, change, &ch, &fx->err));
    assert_string_equal(ch.status, "pending");
    int ran = 0;
    T_OK(scheduler_advance_to(sched, eff + DAY_MS, &ran, NULL, &fx->err));
    assert_int_equal(ran, 1);
    T_OK(agreement_change_get(&fx->ctx, fx->client_a, id, change, &ch, &fx->err));
    assert_string_equal(ch.status, "applied");
    assert_true(ch.applied_at == eff);
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_true(g.calendar_id == cal);
    assert_int_equal(g.n_services, 2);
    assert_non_null(strstr(g.services[0].kind, "technical_support"));
    assert_true(g.services[0].targets.response[0] == 10);
    /* history is unchanged by the application */
    assert_old_terms(fx, id, eff - 1);
    assert_true(terms_at(fx, id, eff - 1).calendar_id == CALENDAR_STORE_DEFAULT_ID);
    assert_new_terms(fx, id, eff);
    assert_int_equal(ifx_audit_count(fx, "agreement.change_apply"), 1);
    /* the job again (at-least-once) changes nothing */
    struct job_run run = {.kind = AGREEMENT_CHANGE_JOB_KIND, .attempt = 2,
                          .payload = arena_printf(fx->arena, "{\"client_id\":\"%lld\",\"change_id\":\"%lld\"}",
                                                  (long long)fx->client_a, (long long)change)};
    T_OK(agreement_change_apply_job(&fx->ctx, &run, &fx->err));
    assert_int_equal(ifx_audit_count(fx, "agreement.change_apply"), 1);

    /* a second change after the first applied: it chains on the terms now in force */
    struct agreement_service_input one = {.kind = "consulting"};
    struct agreement_change_input in2 = {.summary = "只保留咨询服务", .effective_at = eff + 60 * DAY_MS,
                                         .services = &one, .n_services = 1};
    int64_t change2 = 0;
    T_OK(agreement_change_propose(&fx->ctx, fx->client_a, id, &in2, &change2, &fx->err));
    assert_new_terms(fx, id, eff + 60 * DAY_MS - 1);
    struct agreement_terms t = terms_at(fx, id, eff + 60 * DAY_MS);
    assert_int_equal(t.n_services, 1);
    assert_string_equal(t.services[0].kind, "consulting");
    assert_true(t.calendar_id == cal); /* the calendar stays the first change's */
    assert_old_terms(fx, id, signed_at);
    struct agreement_change *items;
    size_t n;
    T_OK(agreement_change_list(&fx->ctx, fx->client_a, id, &items, &n, &fx->err));
    assert_int_equal(n, 2);
    assert_true(items[0].id == change2 && items[1].id == change);
    /* the client's users read the changes and the terms; another client's do not */
    ifx_as(fx, 700, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(agreement_change_list(&fx->ctx, fx->client_a, id, &items, &n, &fx->err));
    assert_int_equal(n, 2);
    assert_old_terms(fx, id, signed_at);
    ifx_as(fx, 800, fx->client_b, ROLE_CLIENT_ADMIN);
    struct agreement_terms tb;
    assert_int_equal(agreement_terms_at(NULL, &fx->ctx, fx->client_b, id, eff, &tb, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(agreement_change_list(&fx->ctx, fx->client_b, id, &items, &n, &fx->err), KF_E_NOT_FOUND);
    assert_int_not_equal(agreement_change_list(&fx->ctx, fx->client_a, id, &items, &n, &fx->err), 0);
    ifx_audit_verify_clean(fx);
    stop_scheduler(fx, &sched);
}

static void test_C8_1_1_a_withdrawn_change_leaves_no_trace_in_the_terms(void **state)
{
    IFX(state);
    struct scheduler *sched = start_scheduler(fx);
    int64_t id = make_active(fx, 1, 0);
    int64_t rows_before = service_rows(fx, id);
    int64_t eff = T0 + 31 * DAY_MS;
    struct agreement_service_input svc[2];
    struct agreement_change_input in = new_services(svc, eff);
    in.calendar_id = CALENDAR_STORE_DEFAULT_ID;
    int64_t change = 0;
    T_OK(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, &change, &fx->err));
    assert_new_terms(fx, id, eff);
    /* the client may not withdraw; the provider may, before the instant */
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(agreement_change_withdraw(&fx->ctx, fx->client_a, id, change, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(agreement_change_withdraw(&fx->ctx, fx->client_a, id, change + 1, &fx->err), KF_E_NOT_FOUND);
    T_OK(clock_set(fx->clock, T0 + 10 * DAY_MS));
    T_OK(agreement_change_withdraw(&fx->ctx, fx->client_a, id, change, &fx->err));
    assert_int_equal(service_rows(fx, id), rows_before);
    assert_old_terms(fx, id, eff);
    assert_old_terms(fx, id, eff + 200 * DAY_MS);
    assert_true(terms_at(fx, id, eff).change_id == 0);
    assert_true(terms_at(fx, id, eff).calendar_id == CALENDAR_STORE_DEFAULT_ID);
    struct agreement_change ch;
    T_OK(agreement_change_get(&fx->ctx, fx->client_a, id, change, &ch, &fx->err));
    assert_string_equal(ch.status, "withdrawn");
    assert_true(ch.withdrawn_at == T0 + 10 * DAY_MS && ch.withdrawn_by == AM_ID);
    /* the correcting notice names the first */
    assert_true(ch.withdraw_notice_id != 0 && ch.withdraw_notice_id != ch.notice_id);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM notices WHERE id = $1 AND corrects_id = $2",
                               ch.withdraw_notice_id, ch.notice_id), 1);
    assert_int_equal(agreement_change_withdraw(&fx->ctx, fx->client_a, id, change, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "status");
    /* its job fires at the instant and leaves it withdrawn */
    T_OK(scheduler_advance_to(sched, eff + DAY_MS, NULL, NULL, &fx->err));
    T_OK(agreement_change_get(&fx->ctx, fx->client_a, id, change, &ch, &fx->err));
    assert_string_equal(ch.status, "withdrawn");
    assert_old_terms(fx, id, eff + DAY_MS);
    assert_int_equal(ifx_audit_count(fx, "agreement.change_withdraw"), 1);
    assert_int_equal(ifx_audit_count(fx, "agreement.change_apply"), 0);
    /* after a withdrawal a new change may be proposed; an applied one cannot be withdrawn */
    int64_t eff2 = eff + 40 * DAY_MS;
    struct agreement_change_input in2 = new_services(svc, eff2);
    int64_t change2 = 0;
    T_OK(agreement_change_propose(&fx->ctx, fx->client_a, id, &in2, &change2, &fx->err));
    T_OK(scheduler_advance_to(sched, eff2, NULL, NULL, &fx->err));
    assert_int_equal(agreement_change_withdraw(&fx->ctx, fx->client_a, id, change2, &fx->err), KF_E_CONFLICT);
    assert_new_terms(fx, id, eff2);
    ifx_audit_verify_clean(fx);
    stop_scheduler(fx, &sched);
}

/* --- bad input ---------------------------------------------------------------------------------- */

static void test_C8_1_1_inside_the_notice_period_refused_and_nothing_changes(void **state)
{
    IFX(state);
    int64_t id = make_active(fx, 1, 0);
    T_OK(clock_set(fx->clock, T0 + 5 * DAY_MS)); /* the notice is delivered now */
    int64_t rows = service_rows(fx, id), audits = ifx_audit_total(fx);
    struct agreement_service_input svc[2];
    /* one millisecond short of 30 days of 24 h after the delivery */
    struct agreement_change_input in = new_services(svc, T0 + 35 * DAY_MS - 1);
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "effective_at");
    in.effective_at = T0 + 6 * DAY_MS;
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, NULL, &fx->err), KF_E_INVALID);
    in.effective_at = T0; /* in the past */
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "effective_at");
    assert_int_equal(changes_of(fx, id), 0);
    assert_int_equal(notices_of(fx, id), 0); /* the notice went with the refused write */
    assert_int_equal(service_rows(fx, id), rows);
    assert_int_equal(change_jobs(fx), 0);
    assert_int_equal(ifx_audit_total(fx), audits);
    assert_old_terms(fx, id, T0 + 100 * DAY_MS);
    /* other bad input: nothing written either */
    struct agreement_change_input bad = in;
    bad.effective_at = T0 + 40 * DAY_MS;
    bad.summary = "";
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &bad, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "summary");
    char *big = arena_zalloc(fx->arena, AGREEMENT_CHANGE_SUMMARY_MAX + 2);
    memset(big, 'x', AGREEMENT_CHANGE_SUMMARY_MAX + 1);
    bad.summary = big;
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &bad, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "summary");
    bad = in;
    bad.effective_at = T0 + 40 * DAY_MS;
    bad.n_services = 0;
    bad.services = NULL;
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &bad, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "services");
    bad = in;
    bad.effective_at = T0 + 40 * DAY_MS;
    svc[1].kind = "no_such_kind";
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &bad, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "services.kind");
    svc[1].kind = "technical_support"; /* listed twice */
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &bad, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "services.kind");
    svc[1].kind = "maintenance";
    bad.calendar_id = 123456789;
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &bad, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "calendar_id");
    /* another tenant's id, the client's own users, an agent */
    bad.calendar_id = 0;
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_b, id, &bad, NULL, &fx->err), KF_E_NOT_FOUND);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &bad, NULL, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, 900, 0, ROLE_AGENT);
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &bad, NULL, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(changes_of(fx, id), 0);
    assert_int_equal(service_rows(fx, id), rows);
    assert_int_equal(ifx_audit_total(fx), audits);
    /* exactly the delivery + 30 × 24 h is accepted */
    in.effective_at = T0 + 35 * DAY_MS;
    T_OK(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, NULL, &fx->err));
    assert_int_equal(changes_of(fx, id), 1);
}

static void test_C8_1_1_two_pending_changes_refused(void **state)
{
    IFX(state);
    int64_t id = make_active(fx, 1, 0);
    struct agreement_service_input svc[2];
    struct agreement_change_input in = new_services(svc, T0 + 40 * DAY_MS);
    T_OK(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, NULL, &fx->err));
    int64_t rows = service_rows(fx, id);
    in.effective_at = T0 + 80 * DAY_MS; /* a duplicate submission, or a second change */
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, NULL, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "change");
    assert_int_equal(changes_of(fx, id), 1);
    assert_int_equal(service_rows(fx, id), rows);
    assert_int_equal(change_jobs(fx), 1);
}

struct proposer {
    struct ifx *fx;
    int64_t id, effective_at;
    struct actor actor;
    int rc;
    struct kf_err err;
};

static void *propose_thread(void *arg)
{
    struct proposer *p = arg;
    struct arena *arena = arena_new(0);
    struct kf_ctx ctx = p->fx->ctx;
    ctx.arena = arena;
    ctx.actor = &p->actor;
    struct agreement_service_input svc[2];
    struct agreement_change_input in = new_services(svc, p->effective_at);
    p->rc = agreement_change_propose(&ctx, p->fx->client_a, p->id, &in, NULL, &p->err);
    arena_free(&arena);
    return NULL;
}

static void test_C8_1_1_racing_proposals_one_pending_change_wins(void **state)
{
    IFX(state);
    int64_t id = make_active(fx, 1, 0);
    struct proposer p[6];
    pthread_t t[6];
    for (size_t i = 0; i < 6; i++) {
        p[i] = (struct proposer){.fx = fx, .id = id, .effective_at = T0 + (31 + (int64_t)i) * DAY_MS};
        p[i].actor = (struct actor){.kind = ACTOR_USER, .user_id = AM_ID, .roles = ROLE_ACCOUNT_MANAGER,
                                    .session_id = 1};
    }
    for (size_t i = 0; i < 6; i++) assert_int_equal(pthread_create(&t[i], NULL, propose_thread, &p[i]), 0);
    for (size_t i = 0; i < 6; i++) pthread_join(t[i], NULL);
    int won = 0;
    for (size_t i = 0; i < 6; i++) {
        if (p[i].rc == 0) won++;
        else assert_int_equal(p[i].rc, KF_E_CONFLICT);
    }
    assert_int_equal(won, 1);
    assert_int_equal(changes_of(fx, id), 1);
    assert_int_equal(notices_of(fx, id), 1);
    assert_int_equal(change_jobs(fx), 1);
    /* one open version per kind: the signed two closed, the change's two open */
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM agreement_services WHERE agreement_id = $1 AND "
                                   "valid_to IS NULL", id, 0), 2);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM agreement_services WHERE agreement_id = $1", id, 0), 4);
    ifx_audit_verify_clean(fx);
}

static void test_C8_1_1_C10_3_2_changes_refused_on_draft_expired_and_past_the_end(void **state)
{
    IFX(state);
    int64_t id = make_active(fx, 1, 0);
    struct agreement g;
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    struct agreement_service_input svc[2];
    /* at or after the expiry instant */
    struct agreement_change_input in = new_services(svc, g.expires_at);
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "effective_at");
    in.effective_at = g.expires_at - 1;
    T_OK(agreement_change_propose(&fx->ctx, fx->client_a, id, &in, NULL, &fx->err));
    /* after the end (before the expiry job too) a change is a conflict */
    int64_t id2 = make_active(fx, 1, 0);
    T_OK(clock_set(fx->clock, g.expires_at));
    in.effective_at = g.expires_at + 40 * DAY_MS;
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id2, &in, NULL, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "status");
    ifx_as_system(fx);
    T_OK(agreement_expire_due(&fx->ctx, g.expires_at, NULL, NULL, NULL, &fx->err));
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, id2, &in, NULL, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "status");
    assert_int_equal(changes_of(fx, id2), 0);
    /* the expired agreement's terms stay readable by the client (C10.3.2) */
    ifx_as(fx, 700, fx->client_a, ROLE_CLIENT_STAFF);
    assert_old_terms(fx, id2, g.expires_at - 1);
    /* a draft changes only by editing it */
    struct agreement_service_input dsvc = {.kind = "consulting"};
    struct agreement_input din = {.term_years = 1, .acceptance_by = "client", .services = &dsvc, .n_services = 1};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t draft = 0;
    T_OK(agreement_create(&fx->ctx, fx->client_a, &din, &draft, &fx->err));
    assert_int_equal(agreement_change_propose(&fx->ctx, fx->client_a, draft, &in, NULL, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "status");
    assert_int_equal(changes_of(fx, draft), 0);
}

/* --- persisted calendars (C3.1.1) ------------------------------------------------------------------ */

static void test_C3_1_1_agreements_on_persisted_calendars(void **state)
{
    IFX(state);
    int64_t urumqi = new_calendar(fx, "新疆工作时间", "Asia/Urumqi");
    struct agreement_service_input svc = {.kind = "consulting"};
    struct agreement_input in = {.term_years = 1, .acceptance_by = "client", .services = &svc, .n_services = 1,
                                 .calendar_id = urumqi};
    int64_t id = 0;
    T_OK(agreement_create(&fx->ctx, fx->client_a, &in, &id, &fx->err));
    struct agreement g;
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_true(g.calendar_id == urumqi);
    assert_string_equal(g.calendar_zone, "Asia/Urumqi"); /* the calendar's zone when none is given */
    in.calendar_zone = "Asia/Shanghai";
    T_OK(agreement_update_draft(&fx->ctx, fx->client_a, id, &in, &fx->err));
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_string_equal(g.calendar_zone, "Asia/Shanghai");
    assert_true(g.calendar_id == urumqi);
    struct agreement_terms t = terms_at(fx, id, T0);
    assert_true(t.calendar_id == urumqi);
    /* no calendar: the default one */
    in.calendar_id = 0;
    T_OK(agreement_update_draft(&fx->ctx, fx->client_a, id, &in, &fx->err));
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_true(g.calendar_id == 0);
    assert_true(terms_at(fx, id, T0).calendar_id == CALENDAR_STORE_DEFAULT_ID);
    /* an unknown calendar: refused by field, nothing written */
    int64_t audits = ifx_audit_total(fx);
    in.calendar_id = 987654321;
    assert_int_equal(agreement_update_draft(&fx->ctx, fx->client_a, id, &in, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "calendar_id");
    int64_t other = 0;
    assert_int_equal(agreement_create(&fx->ctx, fx->client_a, &in, &other, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "calendar_id");
    in.calendar_id = -4;
    assert_int_equal(agreement_create(&fx->ctx, fx->client_a, &in, &other, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "calendar_id");
    assert_int_equal(ifx_audit_total(fx), audits);
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_true(g.calendar_id == 0);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C8_1_1_terms_before_at_and_after_a_change_and_the_job_applies_it),
        BOTH(test_C8_1_1_a_withdrawn_change_leaves_no_trace_in_the_terms),
        BOTH(test_C8_1_1_inside_the_notice_period_refused_and_nothing_changes),
        BOTH(test_C8_1_1_two_pending_changes_refused),
        BOTH(test_C8_1_1_racing_proposals_one_pending_change_wins),
        BOTH(test_C8_1_1_C10_3_2_changes_refused_on_draft_expired_and_past_the_end),
        BOTH(test_C3_1_1_agreements_on_persisted_calendars),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
