/* Acceptance and remediation on both engines (issue 6 item 4; C5.1.2, C5.1.1): a resolution is
 * accepted (closed) or rejected with a reason (reopened as counted remediation, the reason in the
 * history and the conversation, the assignee notified) by whoever the agreement names — the client's
 * admin or staff, or the request's customer through the tracking link's path; silence past the
 * window accepts; nobody else may decide, and nothing decides twice. The quality summary counts
 * first-time and after-remediation acceptances. */
#include "identity_fixture.h"

#include <unicode/uclean.h>

#include "domain/agreement.h"
#include "domain/customer.h"
#include "domain/org.h"
#include "domain/request.h"
#include "domain/request_accept.h"
#include "domain/user.h"

#define AM_ID 501
#define AGENT_ID 502
#define CADM_A 601
#define CSTAFF_A 603
#define CSUP_A 605
#define CSTAFF_B 604
#define DAY INT64_C(86400000)

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

/* An active agreement of `client_id` naming `by` to accept, with a window of `days`. */
static int64_t make_active(struct ifx *fx, int64_t client_id, const char *by, int days)
{
    struct agreement_service_input svc[1] = {{.kind = "technical_support"}};
    struct agreement_input in = {.term_years = 1, .acceptance_by = by, .acceptance_days = days, .services = svc,
                                 .n_services = 1};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    T_OK(agreement_create(&fx->ctx, client_id, &in, &id, &fx->err));
    T_OK(agreement_sign_provider(&fx->ctx, client_id, id, &fx->err));
    ifx_as(fx, CADM_A, client_id, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, client_id, id, &fx->err));
    return id;
}

static int64_t make_customer(struct ifx *fx, int64_t client_id, const char *name)
{
    struct customer_input in = {.kind = "person", .name = name, .phone = "13800138000"};
    ifx_as_system(fx);
    int64_t id = 0;
    T_OK(customer_create(&fx->ctx, client_id, &in, &id, &fx->err));
    return id;
}

/* A request of the client (of `customer`, 0: none), assigned to `assignee` (0: nobody), resolved. */
static int64_t make_resolved(struct ifx *fx, int64_t client_id, int64_t customer, int64_t assignee)
{
    struct request_input in = {.service_kind = "technical_support", .channel = "phone", .priority = 2,
                               .subject = "打印机无法连接网络", .body = "HP-1020", .customer_id = customer};
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    int64_t id = 0;
    T_OK(request_create(&fx->ctx, client_id, &in, &id, NULL, &fx->err));
    if (assignee) T_OK(request_assign(&fx->ctx, client_id, id, assignee, 0, &fx->err));
    T_OK(request_set_status(&fx->ctx, client_id, id, "resolved", "换了网线", &fx->err));
    return id;
}

static void expect_refused(struct ifx *fx, int rc, int code, const char *field)
{
    assert_int_equal(rc, code);
    if (field) assert_string_equal(fx->err.field ? fx->err.field : "(none)", field);
    kf_err_clear(&fx->err);
}

static const char *status_of(struct ifx *fx, int64_t client_id, int64_t id, struct request *r)
{
    ifx_as_system(fx);
    T_OK(request_get(&fx->ctx, client_id, id, r, &fx->err));
    return r->status;
}

static void test_C5_1_2_reject_reopens_as_counted_remediation_until_accepted(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a, "client", 5);
    ifx_as_system(fx);
    struct user_input ui = {.username = "agent.wang", .password = STRONG_PW, .roles = ROLE_AGENT};
    int64_t agent = 0;
    T_OK(user_create(&fx->ctx, &ui, &agent, &fx->err));
    int64_t id = make_resolved(fx, fx->client_a, 0, agent);
    struct request r;
    /* the client's staff rejects with a reason: reopened, counted, reason in history and conversation */
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(request_reject(&fx->ctx, fx->client_a, id, "打印机还是连不上", &fx->err));
    assert_string_equal(status_of(fx, fx->client_a, id, &r), "reopened");
    assert_int_equal(r.remediation_count, 1);
    assert_true(r.resolved_at == 0 && r.closed_at == 0);
    assert_int_equal(ifx_count_text(fx, "SELECT count(*) FROM request_events WHERE reason = $1", "打印机还是连不上"), 1);
    assert_int_equal(ifx_count_text(fx, "SELECT count(*) FROM request_messages WHERE kind = 'public' AND body = $1",
                                    "打印机还是连不上"),
                     1);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM notifications WHERE user_id = $1", agent, 0), 1);
    assert_int_equal(ifx_audit_count(fx, "request.reject"), 1);
    /* the reason's text stays out of the trail */
    assert_int_equal(ifx_count_text(fx, "SELECT count(*) FROM audit_log WHERE changes LIKE $1", "%还是连不上%"), 0);
    /* it stays open: a reopened request awaits no decision */
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_accept(&fx->ctx, fx->client_a, id, &fx->err), KF_E_CONFLICT, "status");
    /* resolved again, then accepted: closed, with the whole history kept */
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    T_OK(request_set_status(&fx->ctx, fx->client_a, id, "resolved", NULL, &fx->err));
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(request_accept(&fx->ctx, fx->client_a, id, &fx->err));
    assert_string_equal(status_of(fx, fx->client_a, id, &r), "closed");
    assert_true(r.closed_at > 0);
    assert_int_equal(r.remediation_count, 1);
    /* twice: conflict, nothing changes */
    expect_refused(fx, request_accept(&fx->ctx, fx->client_a, id, &fx->err), KF_E_CONFLICT, "status");
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    expect_refused(fx, request_reject(&fx->ctx, fx->client_a, id, "again", &fx->err), KF_E_CONFLICT, "status");
    struct request_event *ev;
    size_t n;
    ifx_as_system(fx);
    T_OK(request_history(&fx->ctx, fx->client_a, id, &ev, &n, &fx->err));
    /* created, P2, assignee, resolved, reopened, resolved, closed */
    assert_int_equal(n, 7);
    assert_string_equal(ev[4].to_value, "reopened");
    assert_string_equal(ev[6].to_value, "closed");
    assert_string_equal(ev[6].reason, "accepted");
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM request_acceptances WHERE request_id = $1", id, 0), 2);
    struct request_quality q;
    T_OK(request_quality_summary(&fx->ctx, fx->client_a, 0, 0, &q, &fx->err));
    assert_true(q.accepted == 1 && q.accepted_after_remediation == 1 && q.accepted_first_time == 0);
    assert_int_equal(q.rejections, 1);
    ifx_audit_verify_clean(fx);
}

static void test_C5_1_2_who_may_decide_when_the_agreement_names_the_client(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a, "client", 5);
    make_active(fx, fx->client_b, "client", 5);
    int64_t cust = make_customer(fx, fx->client_a, "张三");
    int64_t id = make_resolved(fx, fx->client_a, cust, 0);
    struct request r;
    /* provider staff: forbidden; a client supervisor: forbidden; another client's user: not found */
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT | ROLE_ADMIN | ROLE_SUPERVISOR);
    expect_refused(fx, request_accept(&fx->ctx, fx->client_a, id, &fx->err), KF_E_FORBIDDEN, NULL);
    ifx_as(fx, CSUP_A, fx->client_a, ROLE_CLIENT_SUPERVISOR);
    expect_refused(fx, request_accept(&fx->ctx, fx->client_a, id, &fx->err), KF_E_FORBIDDEN, NULL);
    ifx_as(fx, CSTAFF_B, fx->client_b, ROLE_CLIENT_STAFF | ROLE_CLIENT_ADMIN);
    expect_refused(fx, request_accept(&fx->ctx, fx->client_a, id, &fx->err), KF_E_NOT_FOUND, NULL);
    expect_refused(fx, request_accept(&fx->ctx, fx->client_b, id, &fx->err), KF_E_NOT_FOUND, NULL);
    /* the customer may not when the agreement names the client */
    ifx_as_system(fx);
    expect_refused(fx, request_accept_as_customer(&fx->ctx, fx->client_a, id, cust, &fx->err), KF_E_FORBIDDEN, NULL);
    /* a logged-in user never takes the customer's path */
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_accept_as_customer(&fx->ctx, fx->client_a, id, cust, &fx->err), KF_E_FORBIDDEN, NULL);
    /* bad reasons: missing, empty, oversized, not UTF-8 */
    static char big[REQUEST_REJECT_REASON_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    expect_refused(fx, request_reject(&fx->ctx, fx->client_a, id, NULL, &fx->err), KF_E_INVALID, "reason");
    expect_refused(fx, request_reject(&fx->ctx, fx->client_a, id, "", &fx->err), KF_E_INVALID, "reason");
    expect_refused(fx, request_reject(&fx->ctx, fx->client_a, id, big, &fx->err), KF_E_INVALID, "reason");
    expect_refused(fx, request_reject(&fx->ctx, fx->client_a, id, "\xff\xfe", &fx->err), KF_E_INVALID, "reason");
    assert_string_equal(status_of(fx, fx->client_a, id, &r), "resolved");
    assert_int_equal(r.remediation_count, 0);
    assert_int_equal(ifx_audit_count(fx, "request.accept") + ifx_audit_count(fx, "request.reject"), 0);
    /* a request that is not resolved: conflict */
    struct request_input in = {.service_kind = "technical_support", .subject = "新的"};
    int64_t fresh = 0;
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    T_OK(request_create(&fx->ctx, fx->client_a, &in, &fresh, NULL, &fx->err));
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_accept(&fx->ctx, fx->client_a, fresh, &fx->err), KF_E_CONFLICT, "status");
    /* the client's staff accepts first time */
    T_OK(request_accept(&fx->ctx, fx->client_a, id, &fx->err));
    assert_string_equal(status_of(fx, fx->client_a, id, &r), "closed");
    struct request_quality q;
    T_OK(request_quality_summary(&fx->ctx, fx->client_a, 0, 0, &q, &fx->err));
    assert_true(q.accepted == 1 && q.accepted_first_time == 1 && q.rejections == 0);
}

static void test_C5_1_2_the_customer_decides_when_the_agreement_names_the_customer(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a, "customer", 5);
    int64_t cust = make_customer(fx, fx->client_a, "张三");
    int64_t other = make_customer(fx, fx->client_a, "王五");
    int64_t id = make_resolved(fx, fx->client_a, cust, 0);
    struct request r;
    /* the client's own people may not; nor the wrong customer */
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    expect_refused(fx, request_accept(&fx->ctx, fx->client_a, id, &fx->err), KF_E_FORBIDDEN, NULL);
    expect_refused(fx, request_reject(&fx->ctx, fx->client_a, id, "不行", &fx->err), KF_E_FORBIDDEN, NULL);
    ifx_as_system(fx);
    expect_refused(fx, request_accept_as_customer(&fx->ctx, fx->client_a, id, other, &fx->err), KF_E_NOT_FOUND, NULL);
    expect_refused(fx, request_accept_as_customer(&fx->ctx, fx->client_b, id, cust, &fx->err), KF_E_NOT_FOUND, NULL);
    assert_string_equal(status_of(fx, fx->client_a, id, &r), "resolved");
    /* the customer rejects, then accepts the second resolution */
    T_OK(request_reject_as_customer(&fx->ctx, fx->client_a, id, cust, "还是不能打印", &fx->err));
    assert_string_equal(status_of(fx, fx->client_a, id, &r), "reopened");
    assert_int_equal(r.remediation_count, 1);
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    T_OK(request_set_status(&fx->ctx, fx->client_a, id, "resolved", NULL, &fx->err));
    ifx_as_system(fx);
    T_OK(request_accept_as_customer(&fx->ctx, fx->client_a, id, cust, &fx->err));
    assert_string_equal(status_of(fx, fx->client_a, id, &r), "closed");
    expect_refused(fx, request_accept_as_customer(&fx->ctx, fx->client_a, id, cust, &fx->err), KF_E_CONFLICT,
                   "status");
    assert_int_equal(
        ifx_count(fx, "SELECT count(*) FROM request_acceptances WHERE customer_id = $1 AND decided_by = 'customer'",
                  cust, 0),
        2);
    ifx_audit_verify_clean(fx);
}

static void test_C5_1_2_silence_past_the_window_accepts(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a, "client", 3);
    int64_t id = make_resolved(fx, fx->client_a, 0, 0);
    int64_t resolved_at = clock_now_ms(fx->clock);
    struct request r;
    ifx_as_system(fx);
    int n = -1;
    /* a day before the window ends: nothing */
    T_OK(request_acceptance_due(&fx->ctx, resolved_at + 2 * DAY, &n, &fx->err));
    assert_int_equal(n, 0);
    assert_string_equal(status_of(fx, fx->client_a, id, &r), "resolved");
    /* only kefu itself runs it */
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    expect_refused(fx, request_acceptance_due(&fx->ctx, resolved_at + 3 * DAY, &n, &fx->err), KF_E_NOT_FOUND, NULL);
    ifx_as(fx, AGENT_ID, 0, ROLE_ADMIN | ROLE_SUPERVISOR);
    expect_refused(fx, request_acceptance_due(&fx->ctx, resolved_at + 3 * DAY, &n, &fx->err), KF_E_FORBIDDEN, NULL);
    /* past the window, before the job: a rejection is refused (silence has accepted) */
    clock_set(fx->clock, resolved_at + 3 * DAY);
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_reject(&fx->ctx, fx->client_a, id, "太晚了", &fx->err), KF_E_CONFLICT, "status");
    ifx_as_system(fx);
    T_OK(request_acceptance_due(&fx->ctx, resolved_at + 3 * DAY, &n, &fx->err));
    assert_int_equal(n, 1);
    assert_string_equal(status_of(fx, fx->client_a, id, &r), "closed");
    /* idempotent */
    T_OK(request_acceptance_due(&fx->ctx, resolved_at + 4 * DAY, &n, &fx->err));
    assert_int_equal(n, 0);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM request_acceptances WHERE decided_by = 'silence' AND "
                                   "request_id = $1",
                               id, 0),
                     1);
    struct request_quality q;
    T_OK(request_quality_summary(&fx->ctx, fx->client_a, 0, 0, &q, &fx->err));
    assert_true(q.accepted == 1 && q.accepted_by_silence == 1 && q.accepted_first_time == 1);
    ifx_audit_verify_clean(fx);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C5_1_2_reject_reopens_as_counted_remediation_until_accepted),
        BOTH(test_C5_1_2_who_may_decide_when_the_agreement_names_the_client),
        BOTH(test_C5_1_2_the_customer_decides_when_the_agreement_names_the_customer),
        BOTH(test_C5_1_2_silence_past_the_window_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
