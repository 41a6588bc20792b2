/* Agreements on both engines (issue 5): the catalogue (C2.1.1, C2.2.1), drafts with personalised
 * plans (C2.2.2) and supplementary terms (C1.3.2), the two signatures and activation (C1.3.1), contract
 * numbers unique and gap-free under racing activations (C1.1), dissolution (C10.2.1), expiry with a
 * renewal reminder sent once (C10.1.1), and read-only access afterwards (C10.3.2). Bad input is
 * refused with a field-level error and changes nothing. */
#include "identity_fixture.h"

#include <pthread.h>
#include <unicode/uclean.h>

#include "domain/agreement.h"
#include "domain/file.h"
#include "domain/user.h"
#include "jobs/scheduler.h"

#define DAY_MS (24LL * 60 * 60 * 1000)
#define YEAR_2027_MS (365LL * DAY_MS) /* 2027 is a common year */
#define AM_ID 501
#define CADM_A 601
#define CADM_B 602

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

static const struct agreement_fee support_fees[] = {{"fixed_month", 1000000}, {"per_visit", 60000}};

/* Technical support with personalised P1 targets and fees; consulting at the catalogue's defaults. */
static struct agreement_input std_input(struct agreement_service_input *svc)
{
    memset(svc, 0, sizeof *svc * 2);
    svc[0].kind = "technical_support";
    svc[0].targets.response[0] = 15;
    svc[0].targets.resolution[0] = 120;
    svc[0].fees = support_fees;
    svc[0].n_fees = 2;
    svc[1].kind = "consulting";
    return (struct agreement_input){.client_contact_name = "王经理",
                                    .client_contact_phone = "13800138000",
                                    .provider_contact_name = "李专员",
                                    .provider_contact_phone = "13900139000",
                                    .term_years = 1,
                                    .notice_days = 30,
                                    .acceptance_by = "client",
                                    .acceptance_days = 5,
                                    .supplementary_terms = "## 补充条款\n\n未尽事宜按法律法规和行业惯例执行。",
                                    .services = svc,
                                    .n_services = 2};
}

static int64_t make_draft(struct ifx *fx, int64_t client_id, int term)
{
    struct agreement_service_input svc[2];
    struct agreement_input in = std_input(svc);
    in.term_years = term;
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    T_OK(agreement_create(&fx->ctx, client_id, &in, &id, &fx->err));
    return id;
}

/* A draft of client_a signed by the provider, waiting for the client. */
static int64_t make_provider_signed(struct ifx *fx, int term)
{
    int64_t id = make_draft(fx, fx->client_a, term);
    T_OK(agreement_sign_provider(&fx->ctx, fx->client_a, id, &fx->err));
    return id;
}

static int64_t make_active(struct ifx *fx, int term)
{
    int64_t id = make_provider_signed(fx, term);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, fx->client_a, id, &fx->err));
    return id;
}

static int check_active(struct ifx *fx, int64_t client_id, int64_t id, int64_t at)
{
    struct store_conn *c;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    int rc = agreement_check_active(c, client_id, id, at, &fx->err);
    store_release(&c);
    return rc;
}

static const char *status_of(struct ifx *fx, int64_t client_id, int64_t id)
{
    ifx_as_system(fx);
    struct agreement g;
    T_OK(agreement_get(&fx->ctx, client_id, id, &g, &fx->err));
    return g.status;
}

static int64_t rows(struct ifx *fx, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE $1 = $1", table);
    return ifx_count(fx, sql, 0, 0);
}

/* --- the catalogue -------------------------------------------------------------------------- */

static void test_C2_1_1_C2_2_1_catalogue_has_the_four_kinds_with_targets_and_fees(void **state)
{
    IFX(state);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    struct service_kind *k;
    size_t n;
    T_OK(agreement_service_kinds(&fx->ctx, &k, &n, &fx->err));
    assert_int_equal(n, 4);
    static const char *const codes[] = {"consulting", "technical_support", "maintenance", "training"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(k[i].code, codes[i]);
        assert_true(k[i].builtin);
        assert_true(k[i].n_fees >= 1);
        for (int p = 0; p < AGREEMENT_PRIORITIES; p++) {
            assert_true(k[i].targets.response[p] > 0);
            assert_true(k[i].targets.response[p] <= k[i].targets.resolution[p]);
        }
    }
    assert_string_equal(k[1].name_zh, "技术支持");
    assert_true(k[1].targets.response[0] == 30 && k[1].targets.resolution[0] == 240);
    assert_true(k[1].targets.response[3] == 480 && k[1].targets.resolution[3] == 2880);
    /* admins extend the catalogue; an account manager may not */
    struct service_kind_input in = {.code = "installation", .name_zh = "安装服务", .name_en = "Installation"};
    for (int p = 0; p < AGREEMENT_PRIORITIES; p++) in.targets.response[p] = 60 * (p + 1), in.targets.resolution[p] = 600 * (p + 1);
    struct agreement_fee fee = {"per_visit", 120000};
    in.fees = &fee;
    in.n_fees = 1;
    assert_int_equal(agreement_service_kind_create(&fx->ctx, &in, NULL, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, 1, 0, ROLE_ADMIN);
    int64_t id = 0;
    T_OK(agreement_service_kind_create(&fx->ctx, &in, &id, &fx->err));
    assert_int_equal(agreement_service_kind_create(&fx->ctx, &in, NULL, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "code");
    struct service_kind_input bad = in;
    bad.code = "bad";
    bad.targets.response[2] = 0;
    assert_int_equal(agreement_service_kind_create(&fx->ctx, &bad, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "targets");
    bad = in;
    bad.code = "bad";
    struct agreement_fee neg = {"per_hour", -1};
    bad.fees = &neg;
    assert_int_equal(agreement_service_kind_create(&fx->ctx, &bad, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "fees.amount_fen");
    T_OK(agreement_service_kinds(&fx->ctx, &k, &n, &fx->err));
    assert_int_equal(n, 5);
    assert_int_equal(ifx_audit_count(fx, "service_kind.create"), 1);
}

/* --- the lifecycle -------------------------------------------------------------------------- */

static void test_C1_1_C1_1_1_C1_3_1_C1_3_2_C2_2_2_draft_services_fees_signatures_activation(void **state)
{
    IFX(state);
    int64_t id = make_draft(fx, fx->client_a, 1);
    struct agreement g;
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_string_equal(g.status, "draft");
    char ref[40];
    snprintf(ref, sizeof ref, "DRAFT-%lld", (long long)id);
    assert_string_equal(g.draft_ref, ref);
    assert_string_equal(g.contract_number, "");
    assert_string_equal(g.client_legal_name, "甲客户");          /* from the organisation */
    assert_string_equal(g.provider_legal_name, "Kefu Operations Ltd");
    assert_string_equal(g.client_contact_phone, "13800138000");
    assert_string_equal(g.calendar_zone, "Asia/Shanghai");
    assert_string_equal(g.number_pattern, AGREEMENT_DEFAULT_PATTERN);
    assert_int_equal(g.reminder_days, 30);
    assert_true(strstr(g.supplementary_terms, "未尽事宜") != NULL);
    assert_int_equal(g.n_services, 2);
    /* C2.2.2: technical support's P1 is personalised, P2 the catalogue's; its fees are its own */
    const struct agreement_service *ts = strcmp(g.services[0].kind, "technical_support") == 0 ? &g.services[0] : &g.services[1];
    const struct agreement_service *co = ts == &g.services[0] ? &g.services[1] : &g.services[0];
    assert_true(ts->targets.response[0] == 15 && ts->targets.resolution[0] == 120);
    assert_true(ts->targets.response[1] == 60 && ts->targets.resolution[1] == 480);
    assert_true(ts->personal.response[1] == 0);
    assert_int_equal(ts->n_fees, 2);
    assert_int_equal(co->n_fees, 1);                              /* the catalogue's, copied */
    assert_string_equal(co->fees[0].kind, "per_hour");
    assert_true(co->fees[0].amount_fen == 50000);

    /* a draft is edited */
    struct agreement_service_input svc[2];
    struct agreement_input in = std_input(svc);
    in.term_years = 2;
    in.n_services = 1;
    T_OK(agreement_update_draft(&fx->ctx, fx->client_a, id, &in, &fx->err));
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_int_equal(g.term_years, 2);
    assert_int_equal(g.n_services, 1);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM agreement_fees WHERE agreement_id = $1", id, 0), 2);

    /* C1.3.1: party A, then party B; active from the second signature */
    clock_set(fx->clock, T0 + 3600000);
    T_OK(agreement_sign_provider(&fx->ctx, fx->client_a, id, &fx->err));
    assert_string_equal(status_of(fx, fx->client_a, id), "provider_signed");
    assert_int_equal(check_active(fx, fx->client_a, id, T0 + 3600000), KF_E_CONFLICT);
    clock_set(fx->clock, T0 + 7200000);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, fx->client_a, id, &fx->err));
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_string_equal(g.status, "active");
    assert_string_equal(g.contract_number, "KF-2027-0001");
    assert_true(g.provider_signed_by == AM_ID && g.provider_signed_at == T0 + 3600000);
    assert_true(g.client_signed_by == CADM_A && g.client_signed_at == T0 + 7200000);
    assert_true(g.start_at == T0 + 7200000);
    assert_true(g.expires_at == T0 + 7200000 + 365 * DAY_MS + 366 * DAY_MS); /* two years, 2028 is leap */
    T_OK(check_active(fx, fx->client_a, id, T0 + 7200000));

    assert_int_equal(ifx_audit_count(fx, "agreement.create"), 1);
    assert_int_equal(ifx_audit_count(fx, "agreement.update_draft"), 1);
    assert_int_equal(ifx_audit_count(fx, "agreement.sign_provider"), 1);
    assert_int_equal(ifx_audit_count(fx, "agreement.sign_client"), 1);
    assert_int_equal(ifx_audit_count(fx, "agreement.activate"), 1);
    /* employees' contacts never reach the trail */
    char *changes = ifx_audit_changes(fx, "agreement.create");
    assert_null(strstr(changes, "13800138000"));
    assert_null(strstr(changes, "王经理"));
    assert_non_null(strstr(changes, "***"));
    ifx_audit_verify_clean(fx);
}

static void test_C1_3_1_C5_2_client_users_see_only_their_own_agreements(void **state)
{
    IFX(state);
    int64_t a = make_draft(fx, fx->client_a, 1);
    int64_t b = make_draft(fx, fx->client_b, 1);
    struct agreement g, *items;
    size_t n;
    int64_t next;
    ifx_as(fx, 700, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(agreement_get(&fx->ctx, fx->client_a, a, &g, &fx->err));
    assert_int_equal(agreement_get(&fx->ctx, fx->client_b, b, &g, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(agreement_get(&fx->ctx, fx->client_a, b, &g, &fx->err), KF_E_NOT_FOUND);
    T_OK(agreement_list(&fx->ctx, 0, NULL, 0, 50, &items, &n, &next, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == a);
    assert_int_equal(agreement_list(&fx->ctx, fx->client_b, NULL, 0, 50, &items, &n, &next, &fx->err), KF_E_NOT_FOUND);
    /* provider staff list every client's, by key */
    ifx_as(fx, 701, 0, ROLE_AGENT);
    T_OK(agreement_list(&fx->ctx, 0, NULL, 0, 1, &items, &n, &next, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == b && next == b);
    T_OK(agreement_list(&fx->ctx, 0, NULL, next, 1, &items, &n, &next, &fx->err));
    assert_true(n == 1 && items[0].id == a);
    T_OK(agreement_list(&fx->ctx, 0, "active", 0, 50, &items, &n, &next, &fx->err));
    assert_int_equal(n, 0);
    /* an agent reads, does not draft */
    struct agreement_service_input svc[2];
    struct agreement_input in = std_input(svc);
    assert_int_equal(agreement_create(&fx->ctx, fx->client_a, &in, NULL, &fx->err), KF_E_FORBIDDEN);
}

/* --- bad input ------------------------------------------------------------------------------ */

struct counts {
    int64_t agreements, services, fees, audit;
};

static struct counts counts_now(struct ifx *fx)
{
    return (struct counts){rows(fx, "agreements"), rows(fx, "agreement_services"), rows(fx, "agreement_fees"),
                           ifx_audit_total(fx)};
}

static void assert_unchanged(struct ifx *fx, struct counts before)
{
    struct counts now = counts_now(fx);
    assert_true(now.agreements == before.agreements);
    assert_true(now.services == before.services);
    assert_true(now.fees == before.fees);
    assert_true(now.audit == before.audit);
}

static void test_C1_3_1_C2_2_2_bad_drafts_are_refused_by_field_and_change_nothing(void **state)
{
    IFX(state);
    make_draft(fx, fx->client_a, 1);
    struct counts before = counts_now(fx);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    struct agreement_fee negative = {"per_hour", -100};
    struct agreement_fee unknown_fee = {"per_smile", 100};
    char *huge = arena_zalloc(fx->arena, AGREEMENT_TERMS_MAX + 2);
    memset(huge, 'x', AGREEMENT_TERMS_MAX + 1);
    for (int i = 0; i < 13; i++) {
        struct agreement_service_input svc[2];
        struct agreement_input in = std_input(svc);
        const char *field = NULL;
        switch (i) {
        case 0: in.term_years = 0, field = "term_years"; break;
        case 1: in.term_years = 100, field = "term_years"; break;
        case 2: svc[1].kind = "astrology", field = "services.kind"; break;
        case 3: svc[0].fees = &negative, svc[0].n_fees = 1, field = "services.fees.amount_fen"; break;
        case 4: in.notice_days = -1, field = "notice_days"; break;
        case 5: in.notice_days = 366, field = "notice_days"; break;
        case 6: in.acceptance_by = "boss", field = "acceptance_by"; break;
        case 7: in.n_services = 0, field = "services"; break;
        case 8: svc[1].kind = "technical_support", field = "services.kind"; break;
        case 9: svc[0].fees = &unknown_fee, svc[0].n_fees = 1, field = "services.fees.kind"; break;
        case 10: in.number_pattern = "KF-{seq:4}", field = "number_pattern"; break;
        case 11: in.supplementary_terms = huge, field = "supplementary_terms"; break;
        case 12: svc[0].targets.response[2] = 900, svc[0].targets.resolution[2] = 60, field = "services.targets"; break;
        }
        int rc = agreement_create(&fx->ctx, fx->client_a, &in, NULL, &fx->err);
        if (rc != KF_E_INVALID) fail_msg("case %d: rc %d", i, rc);
        assert_non_null(fx->err.field);
        if (strcmp(fx->err.field, field) != 0) fail_msg("case %d: field %s, expected %s", i, fx->err.field, field);
    }
    struct agreement_service_input svc[2];
    struct agreement_input in = std_input(svc);
    assert_int_equal(agreement_create(&fx->ctx, fx->client_a + fx->client_b, &in, NULL, &fx->err), KF_E_NOT_FOUND);
    assert_unchanged(fx, before);
}

static void test_C1_3_1_C10_2_1_bad_transitions_are_refused_and_change_nothing(void **state)
{
    IFX(state);
    int64_t draft = make_draft(fx, fx->client_a, 1);
    int64_t waiting = make_provider_signed(fx, 1);
    int64_t active = make_active(fx, 1);
    struct counts before = counts_now(fx);
    struct agreement_service_input svc[2];
    struct agreement_input in = std_input(svc);

    /* a client admin of another client: not found, whichever client id it names */
    ifx_as(fx, CADM_B, fx->client_b, ROLE_CLIENT_ADMIN);
    assert_int_equal(agreement_sign_client(&fx->ctx, fx->client_a, waiting, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(agreement_sign_client(&fx->ctx, fx->client_b, waiting, &fx->err), KF_E_NOT_FOUND);
    /* client staff may not sign for the client */
    ifx_as(fx, 603, fx->client_a, ROLE_CLIENT_STAFF);
    assert_int_equal(agreement_sign_client(&fx->ctx, fx->client_a, waiting, &fx->err), KF_E_FORBIDDEN);
    /* the client signs only what the provider has signed; nobody signs twice */
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(agreement_sign_client(&fx->ctx, fx->client_a, draft, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "status");
    assert_int_equal(agreement_sign_client(&fx->ctx, fx->client_a, active, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "status");
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(agreement_sign_provider(&fx->ctx, fx->client_a, waiting, &fx->err), KF_E_CONFLICT);
    assert_int_equal(agreement_sign_provider(&fx->ctx, fx->client_a, active, &fx->err), KF_E_CONFLICT);
    /* an active (or signed) agreement is not edited directly */
    assert_int_equal(agreement_update_draft(&fx->ctx, fx->client_a, active, &in, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "status");
    assert_int_equal(agreement_update_draft(&fx->ctx, fx->client_a, waiting, &in, &fx->err), KF_E_CONFLICT);
    /* dissolution needs a known ground, an active agreement and real evidence */
    struct agreement_dissolution none = {0};
    assert_int_equal(agreement_dissolve(&fx->ctx, fx->client_a, active, &none, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "ground");
    struct agreement_dissolution whim = {.ground = "boredom"};
    assert_int_equal(agreement_dissolve(&fx->ctx, fx->client_a, active, &whim, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "ground");
    struct agreement_dissolution breach = {.ground = AGREEMENT_MATERIAL_BREACH};
    assert_int_equal(agreement_dissolve(&fx->ctx, fx->client_a, draft, &breach, NULL, &fx->err), KF_E_CONFLICT);
    int64_t ghost = 12345;
    struct agreement_dissolution fake_evidence = {.ground = AGREEMENT_MATERIAL_BREACH, .evidence = &ghost, .n_evidence = 1};
    assert_int_equal(agreement_dissolve(&fx->ctx, fx->client_a, active, &fake_evidence, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "evidence");
    struct agreement_dissolution past = {.ground = AGREEMENT_FORCE_MAJEURE, .effective_at = T0 - DAY_MS};
    assert_int_equal(agreement_dissolve(&fx->ctx, fx->client_a, active, &past, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "effective_at");
    /* the client's staff cannot dissolve */
    ifx_as(fx, 603, fx->client_a, ROLE_CLIENT_STAFF);
    assert_int_equal(agreement_dissolve(&fx->ctx, fx->client_a, active, &breach, NULL, &fx->err), KF_E_FORBIDDEN);

    assert_unchanged(fx, before);
    assert_string_equal(status_of(fx, fx->client_a, draft), "draft");
    assert_string_equal(status_of(fx, fx->client_a, waiting), "provider_signed");
    assert_string_equal(status_of(fx, fx->client_a, active), "active");
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM agreements WHERE contract_number IS NOT NULL AND $1 = $1", 0, 0), 1);
}

/* --- dissolution ---------------------------------------------------------------------------- */

static void test_C10_2_1_C10_3_2_dissolution_grounds_parties_and_evidence(void **state)
{
    IFX(state);
    /* material breach, invoked by the provider with evidence: effective at once */
    int64_t a = make_active(fx, 3);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t scan = 0;
    const char *note = "breach report: no payment for three quarters\n";
    T_OK(file_store(&fx->ctx, fx->client_a, "agreement", a, "breach.txt", note, strlen(note), NULL, &scan, &fx->err));
    struct agreement_dissolution breach = {.ground = AGREEMENT_MATERIAL_BREACH, .evidence = &scan, .n_evidence = 1};
    bool effective = false;
    T_OK(agreement_dissolve(&fx->ctx, fx->client_a, a, &breach, &effective, &fx->err));
    assert_true(effective);
    struct agreement g;
    T_OK(agreement_get(&fx->ctx, fx->client_a, a, &g, &fx->err));
    assert_string_equal(g.status, "dissolved");
    assert_string_equal(g.dissolution_ground, AGREEMENT_MATERIAL_BREACH);
    assert_true(g.dissolution_invoked_by == AM_ID && g.dissolution_effective_at == T0 && g.ended_at == T0);
    assert_non_null(strstr(g.dissolution_evidence, "\""));
    int rc = check_active(fx, fx->client_a, a, T0);
    assert_int_equal(rc, KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "agreement");
    assert_non_null(strstr(fx->err.detail, "dissolved"));
    /* C10.3.2: the client still reads it */
    ifx_as(fx, 700, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(agreement_get(&fx->ctx, fx->client_a, a, &g, &fx->err));
    assert_int_equal(g.n_services, 2);

    /* mutual consent: one party alone leaves it active; the other's confirmation makes it effective */
    int64_t b = make_active(fx, 3);
    struct agreement_dissolution mutual = {.ground = AGREEMENT_MUTUAL_CONSENT};
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(agreement_dissolve(&fx->ctx, fx->client_a, b, &mutual, &effective, &fx->err));
    assert_false(effective);
    assert_string_equal(status_of(fx, fx->client_a, b), "active");
    T_OK(check_active(fx, fx->client_a, b, T0));
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(agreement_dissolve(&fx->ctx, fx->client_a, b, &mutual, &effective, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "ground");
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    struct agreement_dissolution bare_breach = {.ground = AGREEMENT_MATERIAL_BREACH};
    assert_int_equal(agreement_dissolve(&fx->ctx, fx->client_a, b, &bare_breach, &effective, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "ground");
    /* the job does not apply a half-confirmed mutual dissolution */
    int dissolved = 0;
    ifx_as_system(fx);
    T_OK(agreement_expire_due(&fx->ctx, T0 + DAY_MS, NULL, NULL, &dissolved, &fx->err));
    assert_int_equal(dissolved, 0);
    assert_string_equal(status_of(fx, fx->client_a, b), "active");
    clock_set(fx->clock, T0 + 2 * DAY_MS);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(agreement_dissolve(&fx->ctx, fx->client_a, b, &mutual, &effective, &fx->err));
    assert_true(effective);
    T_OK(agreement_get(&fx->ctx, fx->client_a, b, &g, &fx->err));
    assert_string_equal(g.status, "dissolved");
    assert_true(g.dissolution_client_by == CADM_A && g.dissolution_provider_by == AM_ID);
    assert_true(g.ended_at == T0 + 2 * DAY_MS);

    /* force majeure with a later effective date: in force until then, dissolved by the job */
    int64_t c = make_active(fx, 3);
    int64_t when = T0 + 10 * DAY_MS;
    struct agreement_dissolution fm = {.ground = AGREEMENT_FORCE_MAJEURE, .effective_at = when};
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(agreement_dissolve(&fx->ctx, fx->client_a, c, &fm, &effective, &fx->err));
    assert_false(effective);
    T_OK(check_active(fx, fx->client_a, c, when - 1));
    assert_int_equal(check_active(fx, fx->client_a, c, when), KF_E_CONFLICT);
    ifx_as_system(fx);
    T_OK(agreement_expire_due(&fx->ctx, when, NULL, NULL, &dissolved, &fx->err));
    assert_int_equal(dissolved, 1);
    assert_string_equal(status_of(fx, fx->client_a, c), "dissolved");
    assert_int_equal(ifx_audit_count(fx, "agreement.dissolve"), 4);
    assert_int_equal(ifx_audit_count(fx, "agreement.dissolved"), 3);
    ifx_audit_verify_clean(fx);
}

/* --- contract numbers ------------------------------------------------------------------------ */

struct signer {
    struct ifx *fx;
    int64_t id;
    struct actor actor;
    int rc;
    struct kf_err err;
};

static void *sign_thread(void *arg)
{
    struct signer *s = arg;
    struct arena *arena = arena_new(0);
    struct kf_ctx ctx = s->fx->ctx;
    ctx.arena = arena;
    ctx.actor = &s->actor;
    s->rc = agreement_sign_client(&ctx, s->fx->client_a, s->id, &s->err);
    arena_free(&arena);
    return NULL;
}

static void race(struct ifx *fx, struct signer *s, size_t n)
{
    pthread_t t[16];
    for (size_t i = 0; i < n; i++) {
        s[i].fx = fx;
        s[i].actor = (struct actor){.kind = ACTOR_USER, .user_id = CADM_A, .org_id = fx->client_a,
                                    .client_id = fx->client_a, .roles = ROLE_CLIENT_ADMIN, .session_id = 1};
    }
    for (size_t i = 0; i < n; i++) assert_int_equal(pthread_create(&t[i], NULL, sign_thread, &s[i]), 0);
    for (size_t i = 0; i < n; i++) pthread_join(t[i], NULL);
}

static void test_C1_1_C1_3_1_two_racing_client_signatures_activate_once(void **state)
{
    IFX(state);
    int64_t id = make_provider_signed(fx, 1);
    struct signer s[2] = {{.id = id}, {.id = id}};
    race(fx, s, 2);
    int ok = (s[0].rc == 0) + (s[1].rc == 0);
    assert_int_equal(ok, 1);
    assert_int_equal(s[0].rc + s[1].rc, KF_E_CONFLICT);
    assert_string_equal(s[0].rc ? s[0].err.field : s[1].err.field, "status");
    struct agreement g;
    ifx_as_system(fx);
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_string_equal(g.contract_number, "KF-2027-0001");
    assert_int_equal(ifx_audit_count(fx, "agreement.activate"), 1);
    assert_int_equal(ifx_count(fx, "SELECT last_seq FROM agreement_numbers WHERE year = $1", 2027, 0), 1);
}

static void test_C1_1_eight_racing_activations_number_0001_to_0008_without_gaps(void **state)
{
    IFX(state);
    struct signer s[8];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 8; i++) s[i].id = make_provider_signed(fx, 1);
    /* one that fails in between takes no number: the client cannot sign a draft */
    int64_t draft = make_draft(fx, fx->client_a, 1);
    race(fx, s, 8);
    for (int i = 0; i < 8; i++) T_OK(s[i].rc);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(agreement_sign_client(&fx->ctx, fx->client_a, draft, &fx->err), KF_E_CONFLICT);
    bool seen[9] = {false};
    for (int i = 0; i < 8; i++) {
        struct agreement g;
        T_OK(agreement_get(&fx->ctx, fx->client_a, s[i].id, &g, &fx->err));
        assert_int_equal(strncmp(g.contract_number, "KF-2027-000", 11), 0);
        int seq = g.contract_number[11] - '0';
        assert_true(seq >= 1 && seq <= 8 && g.contract_number[12] == '\0');
        assert_false(seen[seq]);
        seen[seq] = true;
    }
    assert_int_equal(ifx_count(fx, "SELECT count(DISTINCT contract_number) FROM agreements WHERE $1 = $1", 0, 0), 8);
    assert_int_equal(ifx_count(fx, "SELECT last_seq FROM agreement_numbers WHERE year = $1", 2027, 0), 8);
    /* another pattern keeps its own sequence */
    struct agreement_service_input svc[2];
    struct agreement_input in = std_input(svc);
    in.number_pattern = "SVC/{yy}/{seq}";
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t other = 0;
    T_OK(agreement_create(&fx->ctx, fx->client_b, &in, &other, &fx->err));
    T_OK(agreement_sign_provider(&fx->ctx, fx->client_b, other, &fx->err));
    ifx_as(fx, CADM_B, fx->client_b, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, fx->client_b, other, &fx->err));
    struct agreement g;
    T_OK(agreement_get(&fx->ctx, fx->client_b, other, &g, &fx->err));
    assert_string_equal(g.contract_number, "SVC/27/1");
    ifx_audit_verify_clean(fx);
}

static void test_C1_1_number_patterns_and_C1_3_1_years_in_the_zone(void **state)
{
    char buf[80];
    struct kf_err err;
    assert_int_equal(agreement_format_number("KF-{yyyy}-{seq:4}", 2026, 7, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "KF-2026-0007");
    assert_int_equal(agreement_format_number("KF-{yyyy}-{seq:4}", 2026, 12345, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "KF-2026-12345");
    assert_int_equal(agreement_format_number("HT{yy}{seq:3}", 2031, 5, buf, sizeof buf, &err), 0);
    assert_string_equal(buf, "HT31005");
    static const char *const bad[] = {"", "KF-{seq}", "KF-{yyyy}", "KF-{yyyy}-{seq}-{seq}", "KF {yyyy}{seq}",
                                      "KF-{yyyy}-{nope}", "KF-{yyyy}-{seq:0}", "合同{yyyy}{seq}", "KF-{yyyy-{seq}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(agreement_format_number(bad[i], 2026, 1, buf, sizeof buf, &err), KF_E_INVALID);
        assert_string_equal(err.field, "number_pattern");
    }
    /* a year on in Asia/Shanghai, same wall-clock time; 29 February becomes 28 February */
    int64_t r;
    const int64_t feb28_2026 = 1772244000000LL; /* 2026-02-28T10:00+08:00 */
    assert_int_equal(agreement_add_years("Asia/Shanghai", feb28_2026, 1, &r, &err), 0);
    assert_true(r == feb28_2026 + 365 * DAY_MS);    /* 2027-02-28T10:00+08:00 */
    const int64_t feb29_2028 = 1835402400000LL; /* 2028-02-29T10:00+08:00 */
    assert_int_equal(agreement_add_years("Asia/Shanghai", feb29_2028, 1, &r, &err), 0);
    assert_true(r == feb29_2028 + 365 * DAY_MS);    /* 2029-02-28T10:00+08:00 */
    assert_int_equal(agreement_add_years("Asia/Shanghai", feb29_2028, 4, &r, &err), 0);
    assert_true(r == feb29_2028 + (365 * 3 + 366) * DAY_MS); /* 2032-02-29 */
    /* a zone with daylight saving keeps the wall-clock time across it */
    const int64_t jan_ny = 1767283200000LL;     /* 2026-01-01T11:00-05:00 */
    assert_int_equal(agreement_add_years("America/New_York", jan_ny, 1, &r, &err), 0);
    assert_true(r == jan_ny + 365 * DAY_MS);
    (void)state;
}

/* --- a whole term on the fake clock ---------------------------------------------------------- */

static int64_t provider_user(struct ifx *fx, const char *name, unsigned roles)
{
    ifx_as_system(fx);
    struct user_input in = {.client_id = 0, .username = name, .password = STRONG_PW, .roles = roles};
    int64_t id = 0;
    T_OK(user_create(&fx->ctx, &in, &id, &fx->err));
    return id;
}

static int64_t reminders_to(struct ifx *fx, int64_t user_id)
{
    return ifx_count(fx, "SELECT count(*) FROM notifications WHERE user_id = $1 AND message_key = "
                         "'notify.agreement_renewal_due'", user_id, 0);
}

static void test_C10_1_1_C10_3_2_a_term_on_the_clock_reminder_once_expiry_read_only(void **state)
{
    IFX(state);
    int64_t am = provider_user(fx, "am.zhang", ROLE_ACCOUNT_MANAGER);
    int64_t admin = provider_user(fx, "admin.li", ROLE_ADMIN);
    int64_t agent = provider_user(fx, "agent.wu", ROLE_AGENT);
    struct scheduler *sched = NULL;
    T_OK(scheduler_start(&fx->env, false, 0, &sched, &fx->err));
    fx->env.sched = sched;
    /* the production job is hourly; daily here keeps a year's walk short */
    T_OK(jobs_ensure_periodic(&fx->env, "agreement.expire", agreement_expire_job, DAY_MS, &fx->err));

    int64_t id = make_active(fx, 1); /* signed at T0 = 2027-01-01T00:00Z */
    struct agreement g;
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    int64_t expires = g.expires_at;
    assert_true(expires == T0 + YEAR_2027_MS);

    T_OK(scheduler_advance_to(sched, expires - 31 * DAY_MS, NULL, NULL, &fx->err));
    assert_int_equal(reminders_to(fx, am), 0);
    T_OK(scheduler_advance_to(sched, expires - 29 * DAY_MS, NULL, NULL, &fx->err));
    assert_int_equal(reminders_to(fx, am), 1);
    assert_int_equal(reminders_to(fx, admin), 1);
    assert_int_equal(reminders_to(fx, agent), 0);
    T_OK(check_active(fx, fx->client_a, id, expires - 1));
    T_OK(scheduler_advance_to(sched, expires - 1, NULL, NULL, &fx->err));
    assert_int_equal(reminders_to(fx, am), 1); /* exactly once */
    assert_string_equal(status_of(fx, fx->client_a, id), "active");
    /* the check refuses at the end instant, even before the job has run */
    assert_int_equal(check_active(fx, fx->client_a, id, expires), KF_E_CONFLICT);
    T_OK(scheduler_advance_to(sched, expires + DAY_MS, NULL, NULL, &fx->err));
    T_OK(agreement_get(&fx->ctx, fx->client_a, id, &g, &fx->err));
    assert_string_equal(g.status, "expired");
    assert_true(g.ended_at == expires);
    assert_true(g.reminder_sent_at > 0);
    assert_int_equal(reminders_to(fx, am), 1);
    assert_int_equal(ifx_audit_count(fx, "agreement.renewal_reminder"), 1);
    assert_int_equal(ifx_audit_count(fx, "agreement.expire"), 1);
    /* C10.3.2: read-only — reads work for the client, new work is refused with a clear error */
    int rc = check_active(fx, fx->client_a, id, expires + DAY_MS);
    assert_int_equal(rc, KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "agreement");
    assert_non_null(strstr(fx->err.detail, "expired"));
    ifx_as(fx, 700, fx->client_a, ROLE_CLIENT_STAFF);
    struct agreement *items;
    size_t n;
    int64_t next;
    T_OK(agreement_list(&fx->ctx, 0, "expired", 0, 50, &items, &n, &next, &fx->err));
    assert_int_equal(n, 1);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    struct agreement_dissolution mutual = {.ground = AGREEMENT_MUTUAL_CONSENT};
    assert_int_equal(agreement_dissolve(&fx->ctx, fx->client_a, id, &mutual, NULL, &fx->err), KF_E_CONFLICT);
    ifx_audit_verify_clean(fx);
    scheduler_stop(&sched);
    fx->env.sched = NULL;
}

/* The pages' expiry filter ("expiring within 30/60/90 days", C10.1.1) and the export's disclosure record
 * (C10.3.2, C5.2): only active agreements ending in (now, now + N days] are listed; the export of an
 * ended agreement is recorded, for the client's own users, and another client's is not found. */
static void test_C10_1_1_C10_3_2_expiring_filter_and_export_disclosure(void **state)
{
    IFX(state);
    int64_t active = make_active(fx, 1); /* expires at T0 + one year */
    int64_t draft = make_draft(fx, fx->client_a, 1);
    (void)draft;
    struct agreement *items;
    size_t n;
    int64_t next;
    ifx_as(fx, 701, 0, ROLE_AGENT);
    struct agreement_list_filter f = {.expiring_days = 90, .limit = 50};
    T_OK(agreement_list_where(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_int_equal(n, 0);
    clock_set(fx->clock, T0 + YEAR_2027_MS - 29 * DAY_MS);
    f.expiring_days = 30;
    T_OK(agreement_list_where(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_true(n == 1 && items[0].id == active);
    f.expiring_days = 28;
    T_OK(agreement_list_where(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_int_equal(n, 0);
    f.expiring_days = 30;
    f.status = "draft";
    T_OK(agreement_list_where(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_int_equal(n, 0);
    f.status = NULL;
    f.client_id = fx->client_b;
    T_OK(agreement_list_where(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_int_equal(n, 0);
    f.client_id = 0;
    f.expiring_days = AGREEMENT_EXPIRING_MAX + 1;
    assert_int_equal(agreement_list_where(&fx->ctx, &f, &items, &n, &next, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "expiring_days");
    f.expiring_days = -1;
    assert_int_equal(agreement_list_where(&fx->ctx, &f, &items, &n, &next, &fx->err), KF_E_INVALID);
    /* past the end it no longer counts as expiring */
    clock_set(fx->clock, T0 + YEAR_2027_MS + 1);
    f.expiring_days = 30;
    T_OK(agreement_list_where(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_int_equal(n, 0);
    /* the export's disclosure: recorded for the client's own user, in any status; 404 across tenants */
    ifx_as(fx, 700, fx->client_a, ROLE_CLIENT_STAFF);
    int64_t file_ids[] = {42, 43};
    int64_t before = ifx_audit_count(fx, "agreement.export");
    T_OK(agreement_export_disclosed(&fx->ctx, fx->client_a, active, file_ids, 2, &fx->err));
    assert_int_equal(ifx_audit_count(fx, "agreement.export"), before + 1);
    assert_int_equal(agreement_export_disclosed(&fx->ctx, fx->client_b, active, NULL, 0, &fx->err), KF_E_NOT_FOUND);
    ifx_as(fx, CADM_B, fx->client_b, ROLE_CLIENT_ADMIN);
    assert_int_equal(agreement_export_disclosed(&fx->ctx, fx->client_b, active, NULL, 0, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(ifx_audit_count(fx, "agreement.export"), before + 1);
    ifx_audit_verify_clean(fx);
}

/* --- duplicate submission: idempotency keys ---------------------------------------------------- */

struct keyed_creator {
    struct ifx *fx;
    int64_t client_id, id;
    bool existing;
    int rc;
    struct kf_err err;
};

static void *keyed_create_thread(void *arg)
{
    struct keyed_creator *k = arg;
    struct arena *arena = arena_new(0);
    struct kf_ctx ctx = k->fx->ctx;
    struct actor am = {.kind = ACTOR_USER, .user_id = AM_ID, .roles = ROLE_ACCOUNT_MANAGER, .session_id = 1};
    ctx.arena = arena;
    ctx.actor = &am;
    struct agreement_service_input svc[2];
    struct agreement_input in = std_input(svc);
    in.idempotency_key = "draft-form-7f3a";
    k->rc = agreement_create_once(&ctx, k->client_id, &in, &k->id, &k->existing, &k->err);
    arena_free(&arena);
    return NULL;
}

static void test_C1_1_six_racing_submissions_with_one_key_make_one_draft_and_another_client_is_independent(void **state)
{
    IFX(state);
    int64_t before = rows(fx, "agreements");
    struct keyed_creator k[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        k[i] = (struct keyed_creator){.fx = fx, .client_id = fx->client_a};
        assert_int_equal(pthread_create(&t[i], NULL, keyed_create_thread, &k[i]), 0);
    }
    for (int i = 0; i < 6; i++) pthread_join(t[i], NULL);
    int fresh = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(k[i].rc, 0);
        assert_true(k[i].id == k[0].id);
        fresh += !k[i].existing;
    }
    assert_int_equal(fresh, 1);
    assert_int_equal(rows(fx, "agreements"), before + 1);
    assert_int_equal(ifx_audit_count(fx, "agreement.create"), 1);
    /* the same key with another client: a draft of its own */
    struct keyed_creator b = {.fx = fx, .client_id = fx->client_b};
    keyed_create_thread(&b);
    assert_int_equal(b.rc, 0);
    assert_false(b.existing);
    assert_true(b.id != k[0].id);
    assert_int_equal(rows(fx, "agreements"), before + 2);
    /* a malformed key changes nothing */
    const char *bad[] = {"含空格 key", "a/b", "x\"y", NULL};
    char longkey[AGREEMENT_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    struct agreement_service_input svc[2];
    struct agreement_input in = std_input(svc);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    for (int i = 0; bad[i]; i++) {
        in.idempotency_key = bad[i];
        assert_int_equal(agreement_create_once(&fx->ctx, fx->client_a, &in, &id, NULL, &fx->err), KF_E_INVALID);
        assert_string_equal(fx->err.field, "idempotency_key");
    }
    in.idempotency_key = longkey;
    assert_int_equal(agreement_create_once(&fx->ctx, fx->client_a, &in, &id, NULL, &fx->err), KF_E_INVALID);
    assert_int_equal(rows(fx, "agreements"), before + 2);
    /* the policy first: a client user may not create, whatever the key */
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    in.idempotency_key = "draft-form-7f3a";
    assert_int_equal(agreement_create_once(&fx->ctx, fx->client_a, &in, &id, NULL, &fx->err), KF_E_FORBIDDEN);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C2_1_1_C2_2_1_catalogue_has_the_four_kinds_with_targets_and_fees),
        BOTH(test_C1_1_C1_1_1_C1_3_1_C1_3_2_C2_2_2_draft_services_fees_signatures_activation),
        BOTH(test_C1_3_1_C5_2_client_users_see_only_their_own_agreements),
        BOTH(test_C1_3_1_C2_2_2_bad_drafts_are_refused_by_field_and_change_nothing),
        BOTH(test_C1_3_1_C10_2_1_bad_transitions_are_refused_and_change_nothing),
        BOTH(test_C10_2_1_C10_3_2_dissolution_grounds_parties_and_evidence),
        BOTH(test_C1_1_C1_3_1_two_racing_client_signatures_activate_once),
        BOTH(test_C1_1_six_racing_submissions_with_one_key_make_one_draft_and_another_client_is_independent),
        BOTH(test_C1_1_eight_racing_activations_number_0001_to_0008_without_gaps),
        cmocka_unit_test(test_C1_1_number_patterns_and_C1_3_1_years_in_the_zone),
        BOTH(test_C10_1_1_C10_3_2_a_term_on_the_clock_reminder_once_expiry_read_only),
        BOTH(test_C10_1_1_C10_3_2_expiring_filter_and_export_disclosure),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
