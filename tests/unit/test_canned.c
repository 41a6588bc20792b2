/* Canned replies on both engines (issue 6 item 1): CRUD by the team's members, supervisors and
 * admins only; variables checked when stored and filled for a request, the customer's name read
 * through the vault as an audited disclosure; bad input refused by field, changing nothing. */
#include "identity_fixture.h"

#include <unicode/uclean.h>

#include "domain/agreement.h"
#include "domain/canned.h"
#include "domain/customer.h"
#include "domain/org.h"
#include "domain/request.h"
#include "domain/user.h"

#define AM_ID 501
#define CADM_A 601

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

static void expect_refused(struct ifx *fx, int rc, int code, const char *field)
{
    assert_int_equal(rc, code);
    if (field) assert_string_equal(fx->err.field ? fx->err.field : "(none)", field);
    kf_err_clear(&fx->err);
}

static int64_t make_user(struct ifx *fx, const char *name, const char *display, unsigned roles)
{
    struct user_input in = {.username = name, .display_name = display, .password = STRONG_PW, .roles = roles};
    ifx_as_system(fx);
    int64_t id = 0;
    T_OK(user_create(&fx->ctx, &in, &id, &fx->err));
    return id;
}

/* An active agreement of client A and a request of customer 张三 there. */
static int64_t make_request(struct ifx *fx, int64_t *customer_r)
{
    struct agreement_service_input svc[1] = {{.kind = "technical_support"}};
    struct agreement_input ag = {.term_years = 1, .acceptance_by = "client", .services = svc, .n_services = 1};
    int64_t aid = 0;
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(agreement_create(&fx->ctx, fx->client_a, &ag, &aid, &fx->err));
    T_OK(agreement_sign_provider(&fx->ctx, fx->client_a, aid, &fx->err));
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, fx->client_a, aid, &fx->err));
    struct customer_input cu = {.kind = "person", .name = "张三", .phone = "13800138000"};
    ifx_as_system(fx);
    T_OK(customer_create(&fx->ctx, fx->client_a, &cu, customer_r, &fx->err));
    struct request_input in = {.service_kind = "technical_support", .subject = "打印机无法连接网络",
                               .customer_id = *customer_r};
    int64_t id = 0;
    T_OK(request_create(&fx->ctx, fx->client_a, &in, &id, NULL, &fx->err));
    return id;
}

static void test_canned_replies_crud_by_members_supervisors_and_admins_only(void **state)
{
    IFX(state);
    int64_t member = make_user(fx, "agent.wang", "王工", ROLE_AGENT);
    int64_t outsider = make_user(fx, "agent.li", "李工", ROLE_AGENT);
    int64_t team = 0, id = 0;
    ifx_as_system(fx);
    T_OK(team_create(&fx->ctx, "一线支持", &team, &fx->err));
    T_OK(team_add_member(&fx->ctx, team, member, &fx->err));
    ifx_as(fx, member, 0, ROLE_AGENT);
    T_OK(canned_create(&fx->ctx, team, "已收到", "您好,工单 {{request_number}} 已收到。", &id, &fx->err));
    /* the same title again (full-width and case aside) is a conflict: one canned reply */
    expect_refused(fx, canned_create(&fx->ctx, team, "已收到", "重复", NULL, &fx->err), KF_E_CONFLICT, "title");
    /* bad input */
    static char big[CANNED_BODY_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    expect_refused(fx, canned_create(&fx->ctx, team, "", "x", NULL, &fx->err), KF_E_INVALID, "title");
    expect_refused(fx, canned_create(&fx->ctx, team, "两\n行", "x", NULL, &fx->err), KF_E_INVALID, "title");
    expect_refused(fx, canned_create(&fx->ctx, team, "大", big, NULL, &fx->err), KF_E_INVALID, "body");
    expect_refused(fx, canned_create(&fx->ctx, team, "未知", "{{password}}", NULL, &fx->err), KF_E_INVALID, "body");
    expect_refused(fx, canned_create(&fx->ctx, team, "到期", "{{due_on}}", NULL, &fx->err), KF_E_INVALID, "body");
    expect_refused(fx, canned_create(&fx->ctx, team, "未闭合", "{{subject", NULL, &fx->err), KF_E_INVALID, "body");
    expect_refused(fx, canned_create(&fx->ctx, 999, "无组", "x", NULL, &fx->err), KF_E_NOT_FOUND, "team_id");
    /* a provider agent outside the team, an account manager, a client user */
    ifx_as(fx, outsider, 0, ROLE_AGENT);
    struct canned_reply cr;
    expect_refused(fx, canned_get(&fx->ctx, id, &cr, &fx->err), KF_E_FORBIDDEN, NULL);
    expect_refused(fx, canned_update(&fx->ctx, id, "改", NULL, &fx->err), KF_E_FORBIDDEN, NULL);
    expect_refused(fx, canned_delete(&fx->ctx, id, &fx->err), KF_E_FORBIDDEN, NULL);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    expect_refused(fx, canned_get(&fx->ctx, id, &cr, &fx->err), KF_E_FORBIDDEN, NULL);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    expect_refused(fx, canned_get(&fx->ctx, id, &cr, &fx->err), KF_E_NOT_FOUND, NULL);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM canned_replies WHERE team_id = $1", team, 0), 1);
    /* a supervisor reaches every team */
    ifx_as(fx, 777, 0, ROLE_SUPERVISOR);
    T_OK(canned_update(&fx->ctx, id, NULL, "您好 {{agent_name}}", &fx->err));
    T_OK(canned_get(&fx->ctx, id, &cr, &fx->err));
    assert_string_equal(cr.title, "已收到");
    assert_string_equal(cr.body, "您好 {{agent_name}}");
    struct canned_reply *items;
    size_t n;
    ifx_as(fx, member, 0, ROLE_AGENT);
    T_OK(canned_list(&fx->ctx, team, &items, &n, &fx->err));
    assert_int_equal(n, 1);
    T_OK(canned_delete(&fx->ctx, id, &fx->err));
    expect_refused(fx, canned_get(&fx->ctx, id, &cr, &fx->err), KF_E_NOT_FOUND, NULL);
    assert_int_equal(ifx_audit_count(fx, "canned.create") + ifx_audit_count(fx, "canned.update") +
                         ifx_audit_count(fx, "canned.delete"),
                     3);
    ifx_audit_verify_clean(fx);
}

static void test_canned_reply_variables_filled_for_a_request(void **state)
{
    IFX(state);
    int64_t agent = make_user(fx, "agent.wang", "王工", ROLE_AGENT);
    int64_t team = 0, id = 0, customer = 0;
    ifx_as_system(fx);
    T_OK(team_create(&fx->ctx, "一线支持", &team, &fx->err));
    T_OK(team_add_member(&fx->ctx, team, agent, &fx->err));
    int64_t rid = make_request(fx, &customer);
    ifx_as(fx, agent, 0, ROLE_AGENT);
    T_OK(canned_create(&fx->ctx, team, "问候",
                       "{{customer_name}}您好,关于「{{subject}}」(工单 {{request_number}}),我是{{agent_name}}。", &id,
                       &fx->err));
    int64_t reads_before = ifx_audit_count(fx, "customer.read");
    const char *text = NULL;
    T_OK(canned_render(&fx->ctx, id, fx->client_a, rid, &text, &fx->err));
    assert_string_equal(text, "张三您好,关于「打印机无法连接网络」(工单 SR-000001),我是王工。");
    /* the name came out of the vault: logged as a read of the customer */
    assert_int_equal(ifx_audit_count(fx, "customer.read"), reads_before + 1);
    /* another client's request is not found */
    expect_refused(fx, canned_render(&fx->ctx, id, fx->client_b, rid, &text, &fx->err), KF_E_NOT_FOUND, NULL);
    /* a body without the customer's name reads nothing of the customer */
    int64_t plain = 0;
    T_OK(canned_create(&fx->ctx, team, "已收到", "工单 {{request_number}} 已收到", &plain, &fx->err));
    T_OK(canned_render(&fx->ctx, plain, fx->client_a, rid, &text, &fx->err));
    assert_string_equal(text, "工单 SR-000001 已收到");
    assert_int_equal(ifx_audit_count(fx, "customer.read"), reads_before + 1);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_canned_replies_crud_by_members_supervisors_and_admins_only),
        BOTH(test_canned_reply_variables_filled_for_a_request),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
