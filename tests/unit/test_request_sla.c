/* SLA clocks of service requests on both engines (request_sla.h; C2.2.1, C3.1.2, C5.3): due times from
 * the terms at creation on business time over a lunch break, a wait on the customer that pauses the
 * resolution clock, a priority change recomputed from the history, the request.sla job's warnings and
 * breach records once per clock however often it runs, and tenant isolation. All instants are
 * Asia/Shanghai wall times in January 2027 (a week without holidays on the default calendar). */
#include "identity_fixture.h"

#include <unicode/uclean.h>

#include "domain/agreement.h"
#include "domain/agreement_change.h"
#include "domain/request.h"
#include "domain/request_sla.h"
#include "domain/user.h"

#define AM_ID 501
#define CADM_A 601
#define MIN_MS 60000LL
/* 2027-01-05 (Tuesday) 00:00 Asia/Shanghai */
#define TUE 1799078400000LL
#define AT(day, h, m) (TUE + (int64_t)(day) * 86400000LL + (int64_t)(h) * 3600000LL + (int64_t)(m) * MIN_MS)

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

static int64_t make_user(struct ifx *fx, int64_t client_id, const char *name, unsigned roles)
{
    struct user_input in = {.client_id = client_id, .username = name, .password = STRONG_PW, .roles = roles};
    ifx_as_system(fx);
    int64_t id = 0;
    T_OK(user_create(&fx->ctx, &in, &id, &fx->err));
    return id;
}

/* An active agreement of client A with technical support at the catalogue's targets (P1 30 / 240,
 * P2 60 / 480), then a P2 request raised on Tuesday at 11:30 by agent `agent`. */
static int64_t make_request(struct ifx *fx, int64_t agent)
{
    struct agreement_service_input svc[1] = {{.kind = "technical_support"}};
    struct agreement_input in = {.term_years = 1, .acceptance_by = "client", .services = svc, .n_services = 1};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t ag = 0;
    T_OK(agreement_create(&fx->ctx, fx->client_a, &in, &ag, &fx->err));
    T_OK(agreement_sign_provider(&fx->ctx, fx->client_a, ag, &fx->err));
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, fx->client_a, ag, &fx->err));
    clock_set(fx->clock, AT(0, 11, 30));
    struct request_input r = {.service_kind = "technical_support", .channel = "phone", .priority = 2,
                              .subject = "打印机无法连接网络"};
    ifx_as(fx, agent, 0, ROLE_AGENT);
    int64_t id = 0;
    T_OK(request_create(&fx->ctx, fx->client_a, &r, &id, NULL, &fx->err));
    return id;
}

static struct request_sla sla_now(struct ifx *fx, int64_t id)
{
    struct request_sla s;
    struct request r;
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    T_OK(request_sla_get(&fx->ctx, &r, &s, &fx->err));
    return s;
}

static void test_C3_1_2_C2_2_1_due_times_lunch_break_pause_and_priority_change_from_history(void **state)
{
    IFX(state);
    int64_t agent = make_user(fx, 0, "agent.wang", ROLE_AGENT);
    int64_t id = make_request(fx, agent);
    struct request_sla s = sla_now(fx, id);
    assert_int_equal(s.first_response.target_minutes, 60);
    assert_int_equal(s.first_response.clock.due_ms, AT(0, 13, 30));   /* 11:30–12:00, lunch, 13:00–13:30 */
    assert_int_equal(s.first_response.clock.warn_ms, AT(0, 13, 15));
    assert_int_equal(s.resolution.clock.due_ms, AT(1, 11, 30));       /* 30 + 300 Tuesday, 150 Wednesday */
    assert_string_equal(s.resolution.state, "running");
    /* the lunch break counts nothing */
    clock_set(fx->clock, AT(0, 13, 0));
    s = sla_now(fx, id);
    assert_int_equal(s.first_response.clock.counted_ms, 30 * MIN_MS);
    /* the agent answers at 14:00 (after the due time: missed) and waits on the customer */
    clock_set(fx->clock, AT(0, 14, 0));
    ifx_as(fx, agent, 0, ROLE_AGENT);
    int64_t mid = 0;
    T_OK(request_reply(&fx->ctx, fx->client_a, id, "请提供型号。", &mid, &fx->err));
    T_OK(request_set_status(&fx->ctx, fx->client_a, id, "waiting_customer", NULL, &fx->err));
    s = sla_now(fx, id);
    assert_string_equal(s.first_response.state, "missed");
    assert_int_equal(s.first_response.clock.overdue_ms, 30 * MIN_MS);
    assert_string_equal(s.resolution.state, "paused");
    assert_int_equal(s.resolution.clock.due_ms, 0);
    /* the client's reply on Wednesday at 10:00 ends the wait: 300 business minutes on the customer */
    clock_set(fx->clock, AT(1, 10, 0));
    T_OK(request_reply(&fx->ctx, fx->client_a, id, "型号 HP-1020。", &mid, &fx->err));
    s = sla_now(fx, id);
    assert_int_equal(s.resolution.clock.paused_ms[SLA_PAUSE_CUSTOMER], 300 * MIN_MS);
    assert_int_equal(s.resolution.clock.paused_ms[SLA_PAUSE_CLIENT], 0);
    assert_int_equal(s.resolution.clock.due_ms, AT(1, 17, 30));       /* 390 left: 10–12, 13:00 + 270 */
    /* P1 (240): from the creation over the same history — 90 + 120 + 30 → 13:30, not 10:00 + 4 h */
    ifx_as(fx, agent, 0, ROLE_AGENT);
    struct request_change bad = {.priority = 9};
    assert_int_equal(request_update(&fx->ctx, fx->client_a, id, &bad, &fx->err), KF_E_INVALID);
    kf_err_clear(&fx->err);
    assert_int_equal(sla_now(fx, id).resolution.clock.due_ms, AT(1, 17, 30));
    ifx_as(fx, agent, 0, ROLE_AGENT);
    struct request_change ch = {.priority = 1, .reason = "影响生产"};
    T_OK(request_update(&fx->ctx, fx->client_a, id, &ch, &fx->err));
    s = sla_now(fx, id);
    assert_int_equal(s.priority, 1);
    assert_int_equal(s.resolution.target_minutes, 240);
    assert_int_equal(s.resolution.clock.due_ms, AT(1, 13, 30));
    assert_int_equal(s.first_response.clock.due_ms, AT(0, 12, 0));
    /* resolved, then reopened: a fresh clock from the reopening (cycle 1) */
    ifx_as(fx, agent, 0, ROLE_AGENT);
    clock_set(fx->clock, AT(1, 11, 0));
    T_OK(request_set_status(&fx->ctx, fx->client_a, id, "resolved", NULL, &fx->err));
    assert_string_equal(sla_now(fx, id).resolution.state, "met");
    clock_set(fx->clock, AT(2, 9, 0));
    ifx_as(fx, agent, 0, ROLE_AGENT);
    T_OK(request_set_status(&fx->ctx, fx->client_a, id, "reopened", NULL, &fx->err));
    s = sla_now(fx, id);
    assert_int_equal(s.resolution.cycle, 1);
    assert_int_equal(s.resolution.start_ms, AT(2, 9, 0));
    assert_int_equal(s.resolution.clock.due_ms, AT(2, 14, 0));        /* 09–12, 13–14 */
}

static void test_C3_1_2_C5_3_the_job_warns_and_records_breaches_once(void **state)
{
    IFX(state);
    int64_t agent = make_user(fx, 0, "agent.li", ROLE_AGENT);
    int64_t sup = make_user(fx, 0, "sup.zhao", ROLE_SUPERVISOR);
    int64_t id = make_request(fx, agent);
    T_OK(request_assign(&fx->ctx, fx->client_a, id, agent, 0, &fx->err));
    int warned = 0, breached = 0;
    ifx_as_system(fx);
    T_OK(request_sla_due(&fx->ctx, AT(0, 13, 14), &warned, &breached, &fx->err));
    assert_true(warned == 0 && breached == 0);
    clock_set(fx->clock, AT(0, 13, 15));
    for (int i = 0; i < 3; i++) { /* at-least-once: runs again change nothing */
        T_OK(request_sla_due(&fx->ctx, AT(0, 13, 15), &warned, &breached, &fx->err));
    }
    assert_true(warned == 1 && breached == 0);
    clock_set(fx->clock, AT(0, 13, 45));
    for (int i = 0; i < 3; i++) T_OK(request_sla_due(&fx->ctx, AT(0, 13, 45), &warned, &breached, &fx->err));
    assert_true(warned == 1 && breached == 1);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM notifications WHERE user_id = $1", agent, 0), 2);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM notifications WHERE user_id = $1", sup, 0), 2);
    assert_int_equal(ifx_audit_count(fx, "request.sla_warning"), 1);
    assert_int_equal(ifx_audit_count(fx, "request.sla_breach"), 1);
    struct request_sla_alert *items;
    size_t n;
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(request_sla_alerts(&fx->ctx, fx->client_a, id, "breach", &items, &n, &fx->err));
    assert_int_equal(n, 1);
    assert_string_equal(items[0].clock, "first_response");
    assert_int_equal(items[0].due_at, AT(0, 13, 30));
    assert_int_equal(items[0].detected_at, AT(0, 13, 45));
    assert_int_equal(items[0].late_ms, 15 * MIN_MS);
    assert_int_equal(items[0].overdue_ms, 15 * MIN_MS);
    assert_int_equal(items[0].target_minutes, 60);
    /* another client sees none of it — not the request, not its records, not its clocks or records
     * through a copy of client A's row; a bad kind is refused */
    struct request ra, rb;
    T_OK(request_get(&fx->ctx, fx->client_a, id, &ra, &fx->err));
    struct request_sla_alert *same; /* the records of a request just read: the same ones */
    size_t n_same;
    T_OK(request_sla_alerts_of(&fx->ctx, &ra, "breach", &same, &n_same, &fx->err));
    assert_int_equal(n_same, 1);
    assert_int_equal(same[0].id, items[0].id);
    ifx_as(fx, 0, fx->client_b, ROLE_CLIENT_ADMIN);
    struct request_sla s;
    assert_int_equal(request_get(&fx->ctx, fx->client_b, id, &rb, &fx->err), KF_E_NOT_FOUND);
    kf_err_clear(&fx->err);
    assert_int_equal(request_sla_alerts(&fx->ctx, fx->client_b, id, NULL, &items, &n, &fx->err), KF_E_NOT_FOUND);
    kf_err_clear(&fx->err);
    int rc = request_sla_get(&fx->ctx, &ra, &s, &fx->err);
    assert_true(rc == KF_E_FORBIDDEN || rc == KF_E_NOT_FOUND);
    kf_err_clear(&fx->err);
    rc = request_sla_alerts_of(&fx->ctx, &ra, NULL, &items, &n, &fx->err);
    assert_true(rc == KF_E_FORBIDDEN || rc == KF_E_NOT_FOUND);
    kf_err_clear(&fx->err);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(request_sla_alerts(&fx->ctx, fx->client_a, id, "late", &items, &n, &fx->err), KF_E_INVALID);
    kf_err_clear(&fx->err);
}

/* C3.1.2: twenty waits on the customer (more than the pause list starts with, so it grows) count
 * every one of their minutes as paused, and the list's computation (request_sla_many, the queue
 * page's, in one read transaction) gives what the request's own (request_sla_get) gives. */
static void test_C3_1_2_many_pauses_and_the_list_agree_with_the_request(void **state)
{
    IFX(state);
    int64_t agent = make_user(fx, 0, "agent.li", ROLE_AGENT);
    int64_t id = make_request(fx, agent);
    int64_t other = make_request(fx, agent);
    for (int k = 0; k < 20; k++) {
        ifx_as(fx, agent, 0, ROLE_AGENT);
        clock_set(fx->clock, AT(0, 13, 0) + k * 15 * MIN_MS);
        T_OK(request_set_status(&fx->ctx, fx->client_a, id, "waiting_customer", NULL, &fx->err));
        clock_set(fx->clock, AT(0, 13, 10) + k * 15 * MIN_MS);
        T_OK(request_set_status(&fx->ctx, fx->client_a, id, "open", NULL, &fx->err));
    }
    clock_set(fx->clock, AT(0, 17, 56));
    struct request_sla one = sla_now(fx, id), two = sla_now(fx, other);
    assert_int_equal(one.resolution.clock.paused_ms[SLA_PAUSE_CUSTOMER], 200 * MIN_MS);
    assert_int_equal(two.resolution.clock.paused_ms[SLA_PAUSE_CUSTOMER], 0);
    assert_int_equal(two.resolution.clock.due_ms, AT(1, 11, 30));
    assert_int_equal(one.resolution.clock.due_ms, AT(1, 15, 50)); /* 200 later: 30 before lunch, 170 after */
    struct request items[2];
    T_OK(request_get(&fx->ctx, fx->client_a, id, &items[0], &fx->err));
    T_OK(request_get(&fx->ctx, fx->client_a, other, &items[1], &fx->err));
    struct request_sla many[2];
    bool ok[2];
    T_OK(request_sla_many(&fx->ctx, items, 2, many, ok, &fx->err));
    assert_true(ok[0] && ok[1]);
    const struct request_sla *want[2] = {&one, &two};
    for (int i = 0; i < 2; i++) {
        const struct request_sla_clock *a[2] = {&many[i].first_response, &many[i].resolution};
        const struct request_sla_clock *b[2] = {&want[i]->first_response, &want[i]->resolution};
        for (int k = 0; k < 2; k++) {
            assert_string_equal(a[k]->state, b[k]->state);
            assert_int_equal(a[k]->clock.due_ms, b[k]->clock.due_ms);
            assert_int_equal(a[k]->clock.warn_ms, b[k]->clock.warn_ms);
            assert_int_equal(a[k]->clock.counted_ms, b[k]->clock.counted_ms);
            assert_int_equal(a[k]->clock.paused_ms[SLA_PAUSE_CUSTOMER], b[k]->clock.paused_ms[SLA_PAUSE_CUSTOMER]);
        }
    }
}

/* C3.1.2, C8.1.1: a list's clocks take each request's terms at its creation, also when the list
 * holds requests raised before, at and after a service change (the terms memo of one read must
 * not carry one request's terms to another across the change), and agree with each request's own. */
static void test_C3_1_2_C8_1_1_a_list_across_a_service_change_takes_each_requests_terms(void **state)
{
    IFX(state);
    int64_t agent = make_user(fx, 0, "agent.zhao", ROLE_AGENT);
    struct agreement_service_input svc[1] = {{.kind = "technical_support"}};
    struct agreement_input in = {.term_years = 1, .acceptance_by = "client", .services = svc, .n_services = 1};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t ag = 0;
    T_OK(agreement_create(&fx->ctx, fx->client_a, &in, &ag, &fx->err));
    T_OK(agreement_sign_provider(&fx->ctx, fx->client_a, ag, &fx->err));
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, fx->client_a, ag, &fx->err));
    /* from TUE + 42 days (a Tuesday) technical support P2 answers in 20 minutes, resolves in 200 */
    int64_t eff = AT(42, 0, 0);
    struct agreement_service_input nsvc[1] = {{.kind = "technical_support"}};
    nsvc[0].targets.response[1] = 20;
    nsvc[0].targets.resolution[1] = 200;
    struct agreement_change_input ch = {.summary = "技术支持P2响应时间缩短为20分钟。", .effective_at = eff,
                                        .services = nsvc, .n_services = 1};
    clock_set(fx->clock, AT(0, 9, 0));
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(agreement_change_propose(&fx->ctx, fx->client_a, ag, &ch, NULL, &fx->err));
    int64_t lo, hi;
    struct store_conn *c;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(agreement_terms_window(c, fx->client_a, ag, AT(0, 10, 0), &lo, &hi, &fx->err));
    assert_true(lo < AT(0, 10, 0) && hi == eff);
    T_OK(agreement_terms_window(c, fx->client_a, ag, eff, &lo, &hi, &fx->err));
    assert_true(lo == eff && hi == INT64_MAX);
    store_release(&c);
    const int64_t when[4] = {AT(0, 10, 0), eff - MIN_MS, eff, AT(43, 10, 0)};
    const int64_t want[4] = {60, 60, 20, 20};
    struct request items[8];
    for (int i = 0; i < 4; i++) {
        clock_set(fx->clock, when[i]);
        struct request_input r = {.service_kind = "technical_support", .channel = "phone", .priority = 2,
                                  .subject = "打印机无法连接网络"};
        ifx_as(fx, agent, 0, ROLE_AGENT);
        int64_t id = 0;
        T_OK(request_create(&fx->ctx, fx->client_a, &r, &id, NULL, &fx->err));
        ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
        T_OK(request_get(&fx->ctx, fx->client_a, id, &items[i], &fx->err));
        items[7 - i] = items[i]; /* there and back */
    }
    clock_set(fx->clock, AT(43, 11, 0));
    struct request_sla many[8];
    bool ok[8];
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(request_sla_many(&fx->ctx, items, 8, many, ok, &fx->err));
    for (int i = 0; i < 8; i++) {
        int k = i < 4 ? i : 7 - i;
        assert_true(ok[i]);
        assert_int_equal(many[i].first_response.target_minutes, want[k]);
        struct request_sla one = sla_now(fx, items[i].id);
        assert_int_equal(one.first_response.target_minutes, want[k]);
        assert_int_equal(many[i].first_response.clock.due_ms, one.first_response.clock.due_ms);
        assert_int_equal(many[i].resolution.clock.due_ms, one.resolution.clock.due_ms);
        assert_string_equal(many[i].resolution.state, one.resolution.state);
    }
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C3_1_2_C2_2_1_due_times_lunch_break_pause_and_priority_change_from_history),
        BOTH(test_C3_1_2_C5_3_the_job_warns_and_records_breaches_once),
        BOTH(test_C3_1_2_many_pauses_and_the_list_agree_with_the_request),
        BOTH(test_C3_1_2_C8_1_1_a_list_across_a_service_change_takes_each_requests_terms),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
