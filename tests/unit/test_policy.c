/* The access-control matrix (issue 3, C5.2): every action × every role (plus anonymous and system)
 * × the provider's own object, an object of the actor's own client and one of another client, each
 * cell with its expected outcome written below and checked against policy_check. */
#include "harness.h"

#include "core/err.h"
#include "domain/policy.h"

#define CLIENT_OWN 5001
#define CLIENT_OTHER 5002

enum { A_ANON, A_ADM, A_AM, A_AGT, A_TEC, A_TRN, A_FIN, A_SUP, A_CADM, A_CSTF, A_CSUP, A_SYS, A__COUNT };

static const char *const actor_names[A__COUNT] = {
    "anonymous", "admin", "account_manager", "agent", "technician", "trainer", "finance", "supervisor",
    "client_admin", "client_staff", "client_supervisor", "system"};

static struct actor matrix_actor(int who)
{
    static const unsigned roles[A__COUNT] = {
        0, ROLE_ADMIN, ROLE_ACCOUNT_MANAGER, ROLE_AGENT, ROLE_TECHNICIAN, ROLE_TRAINER, ROLE_FINANCE,
        ROLE_SUPERVISOR, ROLE_CLIENT_ADMIN, ROLE_CLIENT_STAFF, ROLE_CLIENT_SUPERVISOR, 0};
    struct actor a = {.kind = ACTOR_USER, .user_id = 100 + who, .roles = roles[who], .session_id = 1};
    if (who == A_ANON) a = (struct actor){.kind = ACTOR_ANONYMOUS};
    if (who == A_SYS) a = (struct actor){.kind = ACTOR_SYSTEM};
    if (who >= A_CADM && who <= A_CSUP) a.client_id = CLIENT_OWN, a.org_id = CLIENT_OWN;
    return a;
}

/* Each cell: three letters for an object of (the provider, the actor's own client, another client);
 * for provider staff "own client" is simply a client they reach through the provider scope.
 * Y allowed · F KF_E_FORBIDDEN · N KF_E_NOT_FOUND (404, existence hidden) · U KF_E_UNAUTHENTICATED.
 * ACT_USER_PASSWORD is asked about someone else's password here (one's own: a test below). */
static const char *const matrix[ACTION__COUNT][A__COUNT] = {
    /*                      anon   admin  acct_m agent  techn  train  financ superv c_adm  c_stf  c_sup  system */
    [ACT_LOGIN] =          {"YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY"},
    [ACT_ORG_READ] =       {"UUU", "YYY", "YYY", "YFF", "YFF", "YFF", "YYY", "YFF", "NYN", "NYN", "NYN", "YYY"},
    [ACT_ORG_CREATE] =     {"UUU", "YYY", "YYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_ORG_UPDATE] =     {"UUU", "YYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_USER_READ] =      {"UUU", "YYY", "FYY", "FFF", "FFF", "FFF", "FFF", "YFF", "NYN", "NFN", "NYN", "YYY"},
    [ACT_USER_CREATE] =    {"UUU", "YYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NFN", "NFN", "YYY"},
    [ACT_USER_UPDATE] =    {"UUU", "YYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NFN", "NFN", "YYY"},
    [ACT_USER_PASSWORD] =  {"UUU", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_TEAM_READ] =      {"UUU", "YFF", "YFF", "YFF", "YFF", "YFF", "YFF", "YFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_TEAM_MANAGE] =    {"UUU", "YFF", "FFF", "FFF", "FFF", "FFF", "FFF", "YFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_CUSTOMER_READ] =  {"UUU", "FYY", "FYY", "FYY", "FYY", "FYY", "FFF", "FYY", "NYN", "NYN", "NYN", "YYY"},
    [ACT_CUSTOMER_CREATE] = {"UUU", "FYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NYN", "NFN", "YYY"},
    [ACT_CUSTOMER_UPDATE] = {"UUU", "FYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NFN", "NFN", "YYY"},
    [ACT_CUSTOMER_DELETE] = {"UUU", "FYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NFN", "NFN", "YYY"},
    [ACT_CONSENT_READ] =   {"UUU", "FYY", "FYY", "FYY", "FYY", "FYY", "FFF", "FYY", "NYN", "NYN", "NYN", "YYY"},
    [ACT_CONSENT_RECORD] = {"UUU", "FYY", "FYY", "FYY", "FFF", "FFF", "FFF", "FFF", "NYN", "NYN", "NFN", "YYY"},
    [ACT_AUDIT_READ] =     {"UUU", "YYY", "FFF", "FFF", "FFF", "FFF", "FFF", "YYY", "NYN", "NFN", "NYN", "YYY"},
    [ACT_TOKEN_MANAGE] =   {"UUU", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_NOTIFICATION_READ] = {"UUU", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_FILE_READ] =      {"UUU", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "NYN", "NYN", "NYN", "YYY"},
    [ACT_USER_PREFERENCES] = {"UUU", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_FILE_UPLOAD] =    {"UUU", "YYY", "YYY", "FYY", "FYY", "FYY", "FYY", "FYY", "NYN", "NYN", "NFN", "YYY"},
    [ACT_AGREEMENT_READ] = {"UUU", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "YYY", "NYN", "NYN", "NYN", "YYY"},
    [ACT_AGREEMENT_MANAGE] = {"UUU", "FYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_AGREEMENT_SIGN_CLIENT] = {"UUU", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NFN", "NFN", "YYY"},
    [ACT_AGREEMENT_DISSOLVE] = {"UUU", "FYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NFN", "NFN", "YYY"},
    [ACT_SERVICE_KIND_MANAGE] = {"UUU", "YFF", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_CALENDAR_READ] =  {"UUU", "YFF", "YFF", "YFF", "YFF", "YFF", "YFF", "YFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_CALENDAR_MANAGE] = {"UUU", "YFF", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_NOTICE_READ] =    {"UUU", "FYY", "FYY", "FFF", "FFF", "FFF", "FYY", "FYY", "NYN", "NYN", "NYN", "YYY"},
    [ACT_NOTICE_SEND] =    {"UUU", "FYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NFN", "NFN", "YYY"},
    [ACT_NOTICE_ACKNOWLEDGE] = {"UUU", "FYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NFN", "NFN", "YYY"},
    [ACT_ANNOUNCEMENT_SEND] = {"UUU", "FYY", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    /* requests (issue 6, C5.2): internal notes never reach a client user, not even their own client's */
    [ACT_REQUEST_READ] =   {"UUU", "FYY", "FYY", "FYY", "FYY", "FYY", "FFF", "FYY", "NYN", "NYN", "NYN", "YYY"},
    [ACT_REQUEST_CREATE] = {"UUU", "FYY", "FFF", "FYY", "FYY", "FFF", "FFF", "FYY", "NYN", "NYN", "NYN", "YYY"},
    [ACT_REQUEST_UPDATE] = {"UUU", "FYY", "FFF", "FYY", "FYY", "FFF", "FFF", "FYY", "NFN", "NFN", "NFN", "YYY"},
    [ACT_REQUEST_ASSIGN] = {"UUU", "FYY", "FFF", "FYY", "FFF", "FFF", "FFF", "FYY", "NFN", "NFN", "NFN", "YYY"},
    [ACT_REQUEST_REPLY] =  {"UUU", "FYY", "FFF", "FYY", "FYY", "FFF", "FFF", "FYY", "NYN", "NYN", "NYN", "YYY"},
    [ACT_REQUEST_NOTE] =   {"UUU", "FYY", "FFF", "FYY", "FYY", "FFF", "FFF", "FYY", "NFN", "NFN", "NFN", "YYY"},
    [ACT_REQUEST_LOG] =    {"UUU", "FYY", "FFF", "FYY", "FYY", "FFF", "FFF", "FYY", "NFN", "NFN", "NFN", "YYY"},
    [ACT_REQUEST_ACCEPT] = {"UUU", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NYN", "NFN", "YYY"},
    [ACT_REQUEST_ACCEPT_CUSTOMER] = {"UUU", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_CANNED_READ] =    {"UUU", "YFF", "FFF", "YFF", "YFF", "FFF", "FFF", "YFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_CANNED_MANAGE] =  {"UUU", "YFF", "FFF", "YFF", "YFF", "FFF", "FFF", "YFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_REQUEST_INTAKE] = {"UUU", "FYY", "FFF", "FFF", "FFF", "FFF", "FFF", "FFF", "NYN", "NFN", "NFN", "YYY"},
    [ACT_REQUEST_VIEW_READ] = {"UUU", "YFF", "YFF", "YFF", "YFF", "YFF", "FFF", "YFF", "NFN", "NFN", "NFN", "YYY"},
    [ACT_REQUEST_VIEW_MANAGE] = {"UUU", "YFF", "YFF", "YFF", "YFF", "YFF", "FFF", "YFF", "NFN", "NFN", "NFN", "YYY"},
};

static int expected_code(char cell)
{
    switch (cell) {
    case 'Y': return 0;
    case 'F': return KF_E_FORBIDDEN;
    case 'N': return KF_E_NOT_FOUND;
    case 'U': return KF_E_UNAUTHENTICATED;
    default: fail_msg("bad cell %c", cell); return 1;
    }
}

/* C5.2: the whole matrix, cell by cell; every mismatch is named before the test fails. */
static void test_C5_2_policy_matrix_every_action_role_and_tenant(void **state)
{
    static const int64_t objects[3] = {0, CLIENT_OWN, CLIENT_OTHER};
    static const char *const object_names[3] = {"provider", "own client", "other client"};
    int bad = 0, cells = 0;
    for (int act = 0; act < ACTION__COUNT; act++) {
        for (int who = 0; who < A__COUNT; who++) {
            const char *row = matrix[act][who];
            assert_non_null(row);
            assert_int_equal(strlen(row), 3);
            struct actor a = matrix_actor(who);
            for (int o = 0; o < 3; o++) {
                struct object_ref obj = {.client_id = objects[o], .owner_id = 999999};
                int got = policy_check(&a, (enum action)act, &obj);
                cells++;
                if (got != expected_code(row[o])) {
                    fprintf(stderr, "matrix: %s by %s on %s object: got %d, want %c\n",
                            policy_action_name((enum action)act), actor_names[who], object_names[o], got, row[o]);
                    bad++;
                }
            }
        }
    }
    assert_int_equal(cells, ACTION__COUNT * A__COUNT * 3);
    assert_int_equal(bad, 0);
}

/* C5.2: every user may change their own password, no one else's (but the system's). */
static void test_C5_2_own_password_only(void **state)
{
    for (int who = A_ADM; who <= A_CSUP; who++) {
        struct actor a = matrix_actor(who);
        struct object_ref own = {.client_id = a.client_id, .owner_id = a.user_id};
        assert_int_equal(policy_check(&a, ACT_USER_PASSWORD, &own), 0);
        assert_int_equal(policy_check(&a, ACT_TOKEN_MANAGE, &own), 0); /* one's own API tokens too */
        assert_int_equal(policy_check(&a, ACT_NOTIFICATION_READ, &own), 0); /* and notifications */
        assert_int_equal(policy_check(&a, ACT_USER_PREFERENCES, &own), 0); /* and preferences */
        struct object_ref other_tenant = {.client_id = CLIENT_OTHER, .owner_id = a.user_id};
        if (a.client_id != 0) assert_int_equal(policy_check(&a, ACT_USER_PASSWORD, &other_tenant), KF_E_NOT_FOUND);
    }
}

/* C5.2: role bits of the other kind of organisation grant nothing. */
static void test_C5_2_roles_count_only_in_their_own_kind_of_organisation(void **state)
{
    struct actor prov = {.kind = ACTOR_USER, .user_id = 1, .roles = ROLES_CLIENT};
    struct object_ref obj = {.client_id = CLIENT_OWN};
    assert_int_equal(policy_check(&prov, ACT_CUSTOMER_READ, &obj), KF_E_FORBIDDEN);
    struct actor cli = {.kind = ACTOR_USER, .user_id = 2, .client_id = CLIENT_OWN, .roles = ROLES_PROVIDER};
    assert_int_equal(policy_check(&cli, ACT_CUSTOMER_READ, &obj), KF_E_FORBIDDEN);
    struct object_ref prov_obj = {0};
    assert_int_equal(policy_check(&cli, ACT_TEAM_READ, &prov_obj), KF_E_NOT_FOUND);
}

/* API tokens follow the same rules as users with the token's roles; NULL actors are anonymous. */
static void test_tokens_and_missing_actor(void **state)
{
    struct actor tok = {.kind = ACTOR_TOKEN, .token_id = 5, .client_id = CLIENT_OWN, .roles = ROLE_CLIENT_STAFF};
    struct object_ref own = {.client_id = CLIENT_OWN}, other = {.client_id = CLIENT_OTHER};
    assert_int_equal(policy_check(&tok, ACT_CUSTOMER_CREATE, &own), 0);
    assert_int_equal(policy_check(&tok, ACT_CUSTOMER_DELETE, &own), KF_E_FORBIDDEN);
    assert_int_equal(policy_check(&tok, ACT_CUSTOMER_READ, &other), KF_E_NOT_FOUND);
    assert_int_equal(policy_check(NULL, ACT_CUSTOMER_READ, &own), KF_E_UNAUTHENTICATED);
    assert_int_equal(policy_check(&tok, ACTION__COUNT, &own), KF_E_FORBIDDEN);
}

/* Routes name actions: every action has one distinct name. */
static void test_every_action_has_a_distinct_name(void **state)
{
    for (int i = 0; i < ACTION__COUNT; i++) {
        const char *n = policy_action_name((enum action)i);
        assert_non_null(n);
        assert_string_not_equal(n, "unknown");
        for (int j = 0; j < i; j++) assert_string_not_equal(n, policy_action_name((enum action)j));
    }
    assert_string_equal(policy_action_name(ACTION__COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C5_2_policy_matrix_every_action_role_and_tenant),
        cmocka_unit_test(test_C5_2_own_password_only),
        cmocka_unit_test(test_C5_2_roles_count_only_in_their_own_kind_of_organisation),
        cmocka_unit_test(test_tokens_and_missing_actor),
        cmocka_unit_test(test_every_action_has_a_distinct_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
