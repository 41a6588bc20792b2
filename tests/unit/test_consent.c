/* Consent records on both engines (C7.2.1): consent is given per customer and purpose (and named
 * third party) with notice version and channel; consent_check allows a use only while a consent is
 * in force; withdrawal — as easy as giving — makes the check fail; records stay scoped by client and
 * every change leaves exactly its audit record. */
#include "identity_fixture.h"

#include <unicode/uclean.h>

#include "domain/consent.h"
#include "domain/customer.h"

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

static int64_t make_customer(struct ifx *fx, int64_t client_id, const char *name)
{
    struct customer_input in = {.kind = "person", .name = name};
    int64_t id = 0;
    T_OK(customer_create(&fx->ctx, client_id, &in, &id, &fx->err));
    return id;
}

/* consent_check on a pooled connection, as a later capability would call it. */
static int check(struct ifx *fx, int64_t client_id, int64_t customer_id, const char *purpose, const char *third_party)
{
    struct store_conn *c;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    int rc = consent_check(c, client_id, customer_id, purpose, third_party, &fx->err);
    store_release(&c);
    return rc;
}

static void give(struct ifx *fx, int64_t client_id, int64_t customer_id, const char *purpose, const char *third_party)
{
    struct consent_input in = {purpose, third_party, "v2027.1", "phone"};
    T_OK(consent_give(&fx->ctx, client_id, customer_id, &in, NULL, &fx->err));
}

static void test_C7_2_1_no_use_without_consent_and_check_passes_once_given(void **state)
{
    IFX(state);
    int64_t cu = make_customer(fx, fx->client_a, "张伟");
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_SATISFACTION_SURVEY, NULL), KF_E_FORBIDDEN);
    ifx_as(fx, 11, fx->client_a, ROLE_CLIENT_STAFF);
    give(fx, fx->client_a, cu, CONSENT_SATISFACTION_SURVEY, NULL);
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_SATISFACTION_SURVEY, NULL), 0);
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_SATISFACTION_SURVEY, ""), 0);
    /* consent is per purpose */
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_MARKETING, NULL), KF_E_FORBIDDEN);
    struct consent *items;
    size_t n;
    T_OK(consent_list(&fx->ctx, fx->client_a, cu, &items, &n, &fx->err));
    assert_int_equal(n, 1);
    assert_string_equal(items[0].purpose, CONSENT_SATISFACTION_SURVEY);
    assert_string_equal(items[0].notice_version, "v2027.1");
    assert_string_equal(items[0].given_channel, "phone");
    assert_true(items[0].given_at == T0);
    assert_true(items[0].withdrawn_at == 0);
    assert_true(items[0].recorded_by == 11);
    assert_int_equal(ifx_audit_count(fx, "consent.give"), 1);
    ifx_audit_verify_clean(fx);
}

static void test_C7_2_1_withdrawal_makes_the_check_fail(void **state)
{
    IFX(state);
    int64_t cu = make_customer(fx, fx->client_a, "李伟");
    give(fx, fx->client_a, cu, CONSENT_SERVICE_DELIVERY, NULL);
    give(fx, fx->client_a, cu, CONSENT_SERVICE_DELIVERY, NULL); /* renewed: two records in force */
    clock_set(fx->clock, T0 + 86400000);
    T_OK(consent_withdraw(&fx->ctx, fx->client_a, cu, CONSENT_SERVICE_DELIVERY, NULL, "web", &fx->err));
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_SERVICE_DELIVERY, NULL), KF_E_FORBIDDEN);
    assert_int_equal(consent_withdraw(&fx->ctx, fx->client_a, cu, CONSENT_SERVICE_DELIVERY, NULL, "web", &fx->err),
                     KF_E_NOT_FOUND);
    struct consent *items;
    size_t n;
    T_OK(consent_list(&fx->ctx, fx->client_a, cu, &items, &n, &fx->err));
    assert_int_equal(n, 2); /* the history stays */
    for (size_t i = 0; i < n; i++) {
        assert_true(items[i].withdrawn_at == T0 + 86400000);
        assert_string_equal(items[i].withdrawn_channel, "web");
    }
    /* given again after withdrawal: in force again */
    give(fx, fx->client_a, cu, CONSENT_SERVICE_DELIVERY, NULL);
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_SERVICE_DELIVERY, NULL), 0);
    assert_int_equal(ifx_audit_count(fx, "consent.give"), 3);
    assert_int_equal(ifx_audit_count(fx, "consent.withdraw"), 1);
    ifx_audit_verify_clean(fx);
}

static void test_C7_2_1_sharing_is_per_named_third_party(void **state)
{
    IFX(state);
    int64_t cu = make_customer(fx, fx->client_a, "王芳");
    struct consent_input unnamed = {CONSENT_THIRD_PARTY_SHARING, NULL, "v1", "paper"};
    assert_int_equal(consent_give(&fx->ctx, fx->client_a, cu, &unnamed, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "third_party");
    struct consent_input named_survey = {CONSENT_SATISFACTION_SURVEY, "某物流公司", "v1", "paper"};
    assert_int_equal(consent_give(&fx->ctx, fx->client_a, cu, &named_survey, NULL, &fx->err), KF_E_INVALID);
    give(fx, fx->client_a, cu, CONSENT_THIRD_PARTY_SHARING, "某物流公司");
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_THIRD_PARTY_SHARING, "某物流公司"), 0);
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_THIRD_PARTY_SHARING, "另一家公司"), KF_E_FORBIDDEN);
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_THIRD_PARTY_SHARING, NULL), KF_E_FORBIDDEN);
    T_OK(consent_withdraw(&fx->ctx, fx->client_a, cu, CONSENT_THIRD_PARTY_SHARING, "某物流公司", "email", &fx->err));
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_THIRD_PARTY_SHARING, "某物流公司"), KF_E_FORBIDDEN);
}

static void test_C7_2_1_bad_input_is_refused_without_a_record(void **state)
{
    IFX(state);
    int64_t cu = make_customer(fx, fx->client_a, "赵敏");
    struct consent_input cases[] = {
        {"selling", NULL, "v1", "phone"},
        {CONSENT_MARKETING, NULL, "", "phone"},
        {CONSENT_MARKETING, NULL, "v1", "carrier pigeon"},
        {NULL, NULL, "v1", "phone"},
    };
    static const char *const fields[] = {"purpose", "notice_version", "channel", "purpose"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(consent_give(&fx->ctx, fx->client_a, cu, &cases[i], NULL, &fx->err), KF_E_INVALID);
        assert_string_equal(fx->err.field, fields[i]);
    }
    struct consent_input ok = {CONSENT_MARKETING, NULL, "v1", "phone"};
    assert_int_equal(consent_give(&fx->ctx, fx->client_a, cu + 1, &ok, NULL, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(ifx_audit_count(fx, "consent.give"), 0);
}

static void test_C7_2_1_C5_2_consents_are_scoped_by_client(void **state)
{
    IFX(state);
    int64_t cu = make_customer(fx, fx->client_a, "孙丽");
    give(fx, fx->client_a, cu, CONSENT_MARKETING, NULL);
    /* the check asked under another client's scope finds nothing */
    assert_int_equal(check(fx, fx->client_b, cu, CONSENT_MARKETING, NULL), KF_E_FORBIDDEN);
    ifx_as(fx, 21, fx->client_b, ROLE_CLIENT_ADMIN);
    struct consent *items;
    size_t n;
    assert_int_equal(consent_list(&fx->ctx, fx->client_a, cu, &items, &n, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(consent_list(&fx->ctx, fx->client_b, cu, &items, &n, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(consent_withdraw(&fx->ctx, fx->client_a, cu, CONSENT_MARKETING, NULL, "web", &fx->err),
                     KF_E_NOT_FOUND);
    struct consent_input in = {CONSENT_MARKETING, NULL, "v1", "web"};
    assert_int_equal(consent_give(&fx->ctx, fx->client_b, cu, &in, NULL, &fx->err), KF_E_NOT_FOUND);
    /* a supervisor of the client reads, does not record */
    ifx_as(fx, 22, fx->client_a, ROLE_CLIENT_SUPERVISOR);
    T_OK(consent_list(&fx->ctx, fx->client_a, cu, &items, &n, &fx->err));
    assert_int_equal(n, 1);
    assert_int_equal(consent_withdraw(&fx->ctx, fx->client_a, cu, CONSENT_MARKETING, NULL, "web", &fx->err),
                     KF_E_FORBIDDEN);
    /* a provider agent records a withdrawal taken on the phone */
    ifx_as(fx, 23, 0, ROLE_AGENT);
    T_OK(consent_withdraw(&fx->ctx, fx->client_a, cu, CONSENT_MARKETING, NULL, "phone", &fx->err));
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_MARKETING, NULL), KF_E_FORBIDDEN);
    assert_int_equal(ifx_audit_count(fx, "consent.withdraw"), 1);
    ifx_audit_verify_clean(fx);
}

static void test_C7_2_1_a_deleted_customer_has_no_consent_in_force(void **state)
{
    IFX(state);
    int64_t cu = make_customer(fx, fx->client_a, "周杰");
    give(fx, fx->client_a, cu, CONSENT_SERVICE_DELIVERY, NULL);
    T_OK(customer_delete(&fx->ctx, fx->client_a, cu, &fx->err));
    assert_int_equal(check(fx, fx->client_a, cu, CONSENT_SERVICE_DELIVERY, NULL), KF_E_FORBIDDEN);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C7_2_1_no_use_without_consent_and_check_passes_once_given),
        BOTH(test_C7_2_1_withdrawal_makes_the_check_fail),
        BOTH(test_C7_2_1_sharing_is_per_named_third_party),
        BOTH(test_C7_2_1_bad_input_is_refused_without_a_record),
        BOTH(test_C7_2_1_C5_2_consents_are_scoped_by_client),
        BOTH(test_C7_2_1_a_deleted_customer_has_no_consent_in_force),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
