/* Formal notices (C11.1.1) and service update announcements with read receipts (C8.2.1) on both
 * engines: sending in the portal and by registered mail, delivery recorded by the sender side,
 * acknowledgement by the recipient side once, corrections as new notices, the register's filters and
 * pages, read receipts, tenant isolation (C5.2), notice_send_in inside a caller's write, and bad input
 * refused by field without changing anything. */
#include "identity_fixture.h"

#include <pthread.h>
#include <unicode/uclean.h>

#include "domain/agreement.h"
#include "domain/notice.h"
#include "domain/user.h"
#include "store/store.h"

#define AM_ID 501
#define AGENT_ID 502
#define CADM_A 601
#define CSTF_A 602
#define CADM_B 603

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

static int64_t rows(struct ifx *fx, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE $1 = $1", table);
    return ifx_count(fx, sql, 0, 0);
}

static int64_t real_user(struct ifx *fx, int64_t client_id, const char *name, unsigned roles)
{
    ifx_as_system(fx);
    struct user_input in = {.client_id = client_id, .username = name, .password = STRONG_PW, .roles = roles};
    int64_t id = 0;
    T_OK(user_create(&fx->ctx, &in, &id, &fx->err));
    return id;
}

static int64_t notifications_of(struct ifx *fx, int64_t user_id, const char *key)
{
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, "SELECT count(*) FROM notifications WHERE user_id = $1 AND message_key = $2", &st, &fx->err));
    store_bind_int64(st, 1, user_id);
    store_bind_text(st, 2, key, (size_t)-1);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    int64_t v = store_col_int64(st, 0);
    store_finalize(&st);
    store_release(&c);
    return v;
}

static int64_t make_agreement(struct ifx *fx, int64_t client_id)
{
    struct agreement_service_input svc = {.kind = "technical_support"};
    struct agreement_input in = {.term_years = 1, .notice_days = 30, .acceptance_by = "client", .services = &svc,
                                 .n_services = 1};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    T_OK(agreement_create(&fx->ctx, client_id, &in, &id, &fx->err));
    return id;
}

static struct notice_input std_notice(int64_t client_id, const char *kind)
{
    return (struct notice_input){.client_id = client_id,
                                 .kind = kind,
                                 .subject = "关于服务时间调整的通知",
                                 .body = "## 通知\n\n自下月起,周六服务时间调整为 **9:00–12:00**。"};
}

static int64_t send_as_provider(struct ifx *fx, int64_t client_id, const char *kind)
{
    struct notice_input in = std_notice(client_id, kind);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    T_OK(notice_send(&fx->ctx, &in, &id, &fx->err));
    return id;
}

static struct notice get_as_system(struct ifx *fx, int64_t client_id, int64_t id)
{
    ifx_as_system(fx);
    struct notice n;
    T_OK(notice_get(&fx->ctx, client_id, id, &n, &fx->err));
    return n;
}

/* --- in the portal: delivered, notified, read, acknowledged once ------------------------------- */

static void test_C11_1_1_portal_notice_delivered_notified_read_and_acknowledged_once(void **state)
{
    IFX(state);
    int64_t cadm = real_user(fx, fx->client_a, "a-admin", ROLE_CLIENT_ADMIN);
    int64_t cstf = real_user(fx, fx->client_a, "a-staff", ROLE_CLIENT_STAFF);
    int64_t bstf = real_user(fx, fx->client_b, "b-staff", ROLE_CLIENT_STAFF);
    int64_t ag = make_agreement(fx, fx->client_a);
    struct notice_input in = std_notice(fx->client_a, "breach");
    in.agreement_id = ag;
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    int64_t sent = clock_now_ms(fx->clock);
    T_OK(notice_send(&fx->ctx, &in, &id, &fx->err));
    assert_true(id > 0);
    struct notice n = get_as_system(fx, fx->client_a, id);
    assert_string_equal(n.kind, "breach");
    assert_string_equal(n.sender_party, "provider");
    assert_string_equal(n.recipient_party, "client");
    assert_string_equal(n.method, "portal");
    assert_string_equal(n.subject, in.subject);
    assert_string_equal(n.body, in.body);
    assert_true(n.agreement_id == ag && n.sent_by == AM_ID && n.sent_at == sent);
    assert_true(n.delivered_at == sent && n.acknowledged_at == 0);
    assert_string_equal(n.tracking_number, "");
    assert_int_equal(ifx_audit_count(fx, "notice.send"), 1);
    /* every person of the client hears of it, nobody of another client */
    assert_int_equal(notifications_of(fx, cadm, "notify.notice_received"), 1);
    assert_int_equal(notifications_of(fx, cstf, "notify.notice_received"), 1);
    assert_int_equal(notifications_of(fx, bstf, "notify.notice_received"), 0);

    /* the sender reading leaves no receipt; the client staff's first read does, once */
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(notice_get(&fx->ctx, fx->client_a, id, &n, &fx->err));
    assert_true(n.n_reads == 0 && n.first_read_at == 0);
    clock_set(fx->clock, sent + 60000);
    ifx_as(fx, cstf, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(notice_get(&fx->ctx, fx->client_a, id, &n, &fx->err));
    assert_true(n.n_reads == 1 && n.first_read_at == sent + 60000);
    assert_int_equal(n.n_read_rows, 1);
    assert_true(n.reads[0].user_id == cstf);
    assert_string_equal(n.reads[0].display_name, "a-staff");
    clock_set(fx->clock, sent + 120000);
    T_OK(notice_get(&fx->ctx, fx->client_a, id, &n, &fx->err));
    assert_true(n.n_reads == 1 && n.reads[0].read_at == sent + 60000);
    assert_int_equal(ifx_audit_count(fx, "notice.read"), 1);

    /* the unacknowledged count of each side */
    int64_t count = -1;
    T_OK(notice_count_unacknowledged(&fx->ctx, 0, &count, &fx->err));
    assert_int_equal(count, 1);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(notice_count_unacknowledged(&fx->ctx, 0, &count, &fx->err));
    assert_int_equal(count, 0);

    /* acknowledgement: client staff lack the role, the sender side is not the recipient, twice is a conflict */
    ifx_as(fx, cstf, fx->client_a, ROLE_CLIENT_STAFF);
    assert_int_equal(notice_acknowledge(&fx->ctx, fx->client_a, id, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(notice_acknowledge(&fx->ctx, fx->client_a, id, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, CADM_B, fx->client_b, ROLE_CLIENT_ADMIN);
    assert_int_equal(notice_acknowledge(&fx->ctx, fx->client_a, id, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(notice_acknowledge(&fx->ctx, fx->client_b, id, &fx->err), KF_E_NOT_FOUND);
    ifx_as(fx, cadm, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(notice_acknowledge(&fx->ctx, fx->client_a, id, &fx->err));
    assert_int_equal(notice_acknowledge(&fx->ctx, fx->client_a, id, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "acknowledged_at");
    n = get_as_system(fx, fx->client_a, id);
    assert_true(n.acknowledged_at == sent + 120000 && n.acknowledged_by == cadm);
    assert_string_equal(n.acknowledged_by_name, "a-admin");
    assert_int_equal(ifx_audit_count(fx, "notice.acknowledge"), 1);
    ifx_as(fx, cadm, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(notice_count_unacknowledged(&fx->ctx, 0, &count, &fx->err));
    assert_int_equal(count, 0);
    /* a portal notice is delivered when sent: no delivery to record */
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_a, id, sent, NULL, &fx->err), KF_E_CONFLICT);
    ifx_audit_verify_clean(fx);
}

/* --- registered mail from the client: the sender records delivery, the provider acknowledges ---- */

static void test_C11_1_1_registered_mail_delivery_recorded_by_the_sender_side(void **state)
{
    IFX(state);
    int64_t am = real_user(fx, 0, "am-one", ROLE_ACCOUNT_MANAGER);
    int64_t agent = real_user(fx, 0, "agent-one", ROLE_AGENT);
    struct notice_input in = std_notice(fx->client_a, "termination");
    in.method = "registered_mail";
    in.tracking_number = "EMS1234567890CN";
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    int64_t id = 0, sent = clock_now_ms(fx->clock);
    T_OK(notice_send(&fx->ctx, &in, &id, &fx->err));
    struct notice n = get_as_system(fx, fx->client_a, id);
    assert_string_equal(n.sender_party, "client");
    assert_string_equal(n.recipient_party, "provider");
    assert_string_equal(n.tracking_number, "EMS1234567890CN");
    assert_true(n.delivered_at == 0);
    /* the provider's account managers hear of it; agents do not acknowledge, so are not told */
    assert_int_equal(notifications_of(fx, am, "notify.notice_received"), 1);
    assert_int_equal(notifications_of(fx, agent, "notify.notice_received"), 0);

    clock_set(fx->clock, sent + 3 * 86400000LL);
    int64_t now = clock_now_ms(fx->clock);
    int64_t before = ifx_audit_total(fx);
    /* the recipient side does not record the sender's delivery */
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_a, id, now, NULL, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, CSTF_A, fx->client_a, ROLE_CLIENT_STAFF);
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_a, id, now, NULL, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_a, id, sent - 1, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "delivered_at");
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_a, id, now + 1, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "delivered_at");
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_a, id, now, "SF999", &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "tracking_number");
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_b, id, now, NULL, &fx->err), KF_E_NOT_FOUND);
    assert_true(ifx_audit_total(fx) == before);
    int64_t delivered = sent + 86400000LL;
    T_OK(notice_record_delivery(&fx->ctx, fx->client_a, id, delivered, "EMS1234567890CN", &fx->err));
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_a, id, delivered, NULL, &fx->err), KF_E_CONFLICT);
    n = get_as_system(fx, fx->client_a, id);
    assert_true(n.delivered_at == delivered && n.delivery_recorded_by == CADM_A);
    assert_int_equal(ifx_audit_count(fx, "notice.deliver"), 1);

    /* the provider acknowledges; the client (the sender) may not */
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(notice_acknowledge(&fx->ctx, fx->client_a, id, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    assert_int_equal(notice_acknowledge(&fx->ctx, fx->client_a, id, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, am, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(notice_acknowledge(&fx->ctx, fx->client_a, id, &fx->err));

    /* registered mail without its number: the delivery needs it; by hand: no number at all */
    in.tracking_number = NULL;
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(notice_send(&fx->ctx, &in, &id, &fx->err));
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_a, id, now, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "tracking_number");
    T_OK(notice_record_delivery(&fx->ctx, fx->client_a, id, now, "SF1400000001", &fx->err));
    assert_string_equal(get_as_system(fx, fx->client_a, id).tracking_number, "SF1400000001");
    in.method = "hand";
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(notice_send(&fx->ctx, &in, &id, &fx->err));
    assert_int_equal(notice_record_delivery(&fx->ctx, fx->client_a, id, now, "X1", &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "tracking_number");
    /* acknowledging an undelivered notice records its delivery at the same instant */
    ifx_as(fx, am, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(notice_acknowledge(&fx->ctx, fx->client_a, id, &fx->err));
    n = get_as_system(fx, fx->client_a, id);
    assert_true(n.delivered_at == now && n.acknowledged_at == now && n.delivery_recorded_by == am);
    /* e-mail is recorded as the chosen method, not delivered until recorded */
    in.method = "email";
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(notice_send(&fx->ctx, &in, &id, &fx->err));
    n = get_as_system(fx, fx->client_a, id);
    assert_string_equal(n.method, "email");
    assert_true(n.delivered_at == 0);
    ifx_audit_verify_clean(fx);
}

/* --- bad input -------------------------------------------------------------------------------- */

struct counts {
    int64_t notices, reads, notifications, audit;
};

static struct counts counts_now(struct ifx *fx)
{
    return (struct counts){rows(fx, "notices"), rows(fx, "notice_reads"), rows(fx, "notifications"),
                           ifx_audit_total(fx)};
}

static void assert_unchanged(struct ifx *fx, struct counts before)
{
    struct counts now = counts_now(fx);
    assert_true(now.notices == before.notices);
    assert_true(now.reads == before.reads);
    assert_true(now.notifications == before.notifications);
    assert_true(now.audit == before.audit);
}

static void test_C11_1_1_bad_notices_are_refused_by_field_and_change_nothing(void **state)
{
    IFX(state);
    real_user(fx, fx->client_a, "a-staff", ROLE_CLIENT_STAFF);
    int64_t ag_b = make_agreement(fx, fx->client_b);
    int64_t of_b = send_as_provider(fx, fx->client_b, "other");
    struct counts before = counts_now(fx);
    char *huge = arena_zalloc(fx->arena, NOTICE_BODY_MAX + 2);
    memset(huge, 'x', NOTICE_BODY_MAX + 1);
    char *max_body = arena_zalloc(fx->arena, NOTICE_BODY_MAX + 1);
    memset(max_body, 'y', NOTICE_BODY_MAX);
    /* 201 CJK characters (603 bytes) are too many; 200 are fine (below) */
    char *long_subject = arena_zalloc(fx->arena, 3 * 201 + 1), *subject_200 = arena_zalloc(fx->arena, 3 * 200 + 1);
    for (int i = 0; i < 201; i++) memcpy(long_subject + 3 * i, "通", 3);
    memcpy(subject_200, long_subject, 3 * 200);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    for (int i = 0; i < 17; i++) {
        struct notice_input in = std_notice(fx->client_a, "change");
        const char *field = NULL;
        int want = KF_E_INVALID;
        switch (i) {
        case 0: in.kind = "gossip", field = "kind"; break;
        case 1: in.kind = NULL, field = "kind"; break;
        case 2: in.method = "pigeon", field = "method"; break;
        case 3: in.subject = "", field = "subject"; break;
        case 4: in.subject = long_subject, field = "subject"; break;
        case 5: in.subject = "bad \xff\xfe utf-8", field = "subject"; break;
        case 6: in.subject = "two\nlines", field = "subject"; break;
        case 7: in.body = "", field = "body"; break;
        case 8: in.body = huge, field = "body"; break;
        case 9: in.body = "\xc3\x28", field = "body"; break;
        case 10: in.tracking_number = "EMS1", field = "tracking_number"; break;
        case 11: in.corrects_id = of_b, field = "corrects_id"; break;
        case 12: in.agreement_id = ag_b, field = "agreement_id"; break;
        case 13: in.sender_party = "client", field = "sender_party"; break;
        case 14: in.sender_party = "nobody", field = "sender_party"; break;
        case 15: in.client_id = fx->client_a + fx->client_b, want = KF_E_NOT_FOUND, field = "client_id"; break;
        case 16: in.method = "registered_mail", in.tracking_number = huge, field = "tracking_number"; break;
        }
        int rc = notice_send(&fx->ctx, &in, NULL, &fx->err);
        if (rc != want) fail_msg("case %d: rc %d", i, rc);
        assert_non_null(fx->err.field);
        if (strcmp(fx->err.field, field) != 0) fail_msg("case %d: field %s, expected %s", i, fx->err.field, field);
    }
    /* a client user cannot send for another client, nor for the provider, nor without the role */
    struct notice_input in = std_notice(fx->client_b, "other");
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(notice_send(&fx->ctx, &in, NULL, &fx->err), KF_E_NOT_FOUND);
    in.client_id = fx->client_a;
    in.sender_party = "provider";
    assert_int_equal(notice_send(&fx->ctx, &in, NULL, &fx->err), KF_E_INVALID);
    in.sender_party = NULL;
    ifx_as(fx, CSTF_A, fx->client_a, ROLE_CLIENT_STAFF);
    assert_int_equal(notice_send(&fx->ctx, &in, NULL, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    assert_int_equal(notice_send(&fx->ctx, &in, NULL, &fx->err), KF_E_FORBIDDEN);
    ifx_as_anonymous(fx);
    assert_int_equal(notice_send(&fx->ctx, &in, NULL, &fx->err), KF_E_UNAUTHENTICATED);
    /* the register's filters are checked too */
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    struct notice *items;
    size_t n;
    struct notice_filter f = {.kind = "gossip"};
    assert_int_equal(notice_list(&fx->ctx, &f, 0, 10, &items, &n, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "kind");
    f = (struct notice_filter){.direction = "sideways"};
    assert_int_equal(notice_list(&fx->ctx, &f, 0, 10, &items, &n, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "direction");
    assert_unchanged(fx, before);
    /* the limits themselves pass */
    in = std_notice(fx->client_a, "other");
    in.subject = subject_200;
    in.body = max_body;
    T_OK(notice_send(&fx->ctx, &in, NULL, &fx->err));
}

/* --- corrections, the register, tenants ------------------------------------------------------- */

static void test_C11_1_1_C5_2_corrections_register_filters_and_tenant_isolation(void **state)
{
    IFX(state);
    int64_t ag = make_agreement(fx, fx->client_a);
    int64_t first = send_as_provider(fx, fx->client_a, "change");
    struct notice_input in = std_notice(fx->client_a, "change");
    in.subject = "更正:关于服务时间调整的通知";
    in.corrects_id = first;
    in.agreement_id = ag;
    int64_t fix = 0;
    T_OK(notice_send(&fx->ctx, &in, &fix, &fx->err));
    int64_t of_b = send_as_provider(fx, fx->client_b, "renewal");
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    struct notice_input up = std_notice(fx->client_a, "other");
    int64_t from_a = 0;
    T_OK(notice_send(&fx->ctx, &up, &from_a, &fx->err));

    /* the original stays as it was and lists its correction */
    struct notice n = get_as_system(fx, fx->client_a, first);
    assert_string_equal(n.subject, "关于服务时间调整的通知");
    assert_int_equal(n.n_corrections, 1);
    assert_true(n.corrections[0].id == fix);
    assert_string_equal(n.corrections[0].subject, in.subject);
    assert_true(get_as_system(fx, fx->client_a, fix).corrects_id == first);

    /* a client user: only their own client's notices, another's id is not found */
    ifx_as(fx, CSTF_A, fx->client_a, ROLE_CLIENT_STAFF);
    assert_int_equal(notice_get(&fx->ctx, fx->client_a, of_b, &n, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(notice_get(&fx->ctx, fx->client_b, of_b, &n, &fx->err), KF_E_NOT_FOUND);
    struct notice *items;
    size_t count;
    int64_t next;
    struct notice_filter f = {0};
    T_OK(notice_list(&fx->ctx, &f, 0, 50, &items, &count, &next, &fx->err));
    assert_int_equal(count, 3);
    for (size_t i = 0; i < count; i++) assert_true(items[i].client_id == fx->client_a);
    assert_true(items[0].id == from_a && items[1].id == fix && items[2].id == first);
    assert_string_equal(items[0].body, ""); /* the register leaves bodies out */
    f.client_id = fx->client_b;
    assert_int_equal(notice_list(&fx->ctx, &f, 0, 50, &items, &count, &next, &fx->err), KF_E_NOT_FOUND);
    /* direction from the reader's side, unacknowledged only, kind, agreement */
    f = (struct notice_filter){.direction = "received"};
    T_OK(notice_list(&fx->ctx, &f, 0, 50, &items, &count, &next, &fx->err));
    assert_int_equal(count, 2);
    f.direction = "sent";
    T_OK(notice_list(&fx->ctx, &f, 0, 50, &items, &count, &next, &fx->err));
    assert_true(count == 1 && items[0].id == from_a);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(notice_acknowledge(&fx->ctx, fx->client_a, first, &fx->err));
    f = (struct notice_filter){.direction = "received", .unacknowledged = true};
    T_OK(notice_list(&fx->ctx, &f, 0, 50, &items, &count, &next, &fx->err));
    assert_true(count == 1 && items[0].id == fix);
    f = (struct notice_filter){.agreement_id = ag};
    T_OK(notice_list(&fx->ctx, &f, 0, 50, &items, &count, &next, &fx->err));
    assert_true(count == 1 && items[0].id == fix);
    f = (struct notice_filter){.kind = "other"};
    T_OK(notice_list(&fx->ctx, &f, 0, 50, &items, &count, &next, &fx->err));
    assert_true(count == 1 && items[0].id == from_a);

    /* provider staff: every client, by key, newest first; finance reads, agents do not */
    ifx_as(fx, 900, 0, ROLE_FINANCE);
    f = (struct notice_filter){0};
    T_OK(notice_list(&fx->ctx, &f, 0, 2, &items, &count, &next, &fx->err));
    assert_true(count == 2 && items[0].id == from_a && items[1].id == of_b && next == of_b);
    T_OK(notice_list(&fx->ctx, &f, next, 2, &items, &count, &next, &fx->err));
    assert_true(count == 2 && items[0].id == fix && items[1].id == first && next == first);
    T_OK(notice_list(&fx->ctx, &f, next, 2, &items, &count, &next, &fx->err));
    assert_true(count == 0 && next == 0);
    f.direction = "received";
    T_OK(notice_list(&fx->ctx, &f, 0, 50, &items, &count, &next, &fx->err));
    assert_true(count == 1 && items[0].id == from_a);
    assert_string_equal(items[0].client_name, "甲客户");
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    assert_int_equal(notice_get(&fx->ctx, fx->client_a, first, &n, &fx->err), KF_E_FORBIDDEN);
    f = (struct notice_filter){0};
    assert_int_equal(notice_list(&fx->ctx, &f, 0, 50, &items, &count, &next, &fx->err), KF_E_FORBIDDEN);
    /* a provider asking under the wrong client finds nothing */
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(notice_get(&fx->ctx, fx->client_b, first, &n, &fx->err), KF_E_NOT_FOUND);
    ifx_audit_verify_clean(fx);
}

/* --- announcements ---------------------------------------------------------------------------- */

static void test_C8_2_1_announcements_to_several_or_all_clients_with_read_receipts(void **state)
{
    IFX(state);
    int64_t astf = real_user(fx, fx->client_a, "a-staff", ROLE_CLIENT_STAFF);
    int64_t bstf = real_user(fx, fx->client_b, "b-staff", ROLE_CLIENT_STAFF);
    struct announcement_input in = {.subject = "系统升级公告", .body = "本周六 22:00 起升级,约两小时。"};
    int64_t only_a[] = {fx->client_a};
    in.client_ids = only_a;
    in.n_clients = 1;
    int64_t id = 0;
    size_t n = 0;
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    assert_int_equal(notice_announce(&fx->ctx, &in, &id, &n, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(notice_announce(&fx->ctx, &in, &id, &n, &fx->err), KF_E_NOT_FOUND);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(notice_announce(&fx->ctx, &in, &id, &n, &fx->err));
    assert_int_equal(n, 1);
    assert_int_equal(notifications_of(fx, astf, "notify.announcement_received"), 1);
    assert_int_equal(notifications_of(fx, bstf, "notify.announcement_received"), 0);

    in.all = true;
    int64_t all = 0;
    T_OK(notice_announce(&fx->ctx, &in, &all, &n, &fx->err));
    assert_int_equal(n, 2);
    assert_int_equal(notifications_of(fx, bstf, "notify.announcement_received"), 1);
    assert_int_equal(ifx_audit_count(fx, "announcement.send"), 2);
    assert_int_equal(ifx_audit_count(fx, "notice.send"), 3);

    struct announcement an;
    T_OK(notice_announcement_get(&fx->ctx, all, &an, &fx->err));
    assert_string_equal(an.subject, "系统升级公告");
    assert_true(an.recipients == 2 && an.n_receipts == 2 && an.n_read == 0);
    for (size_t i = 0; i < 2; i++) assert_true(an.receipts[i].delivered_at > 0 && an.receipts[i].first_read_at == 0);

    /* client A's reader: their notice is an ordinary update from the provider, and nothing of B */
    ifx_as(fx, astf, fx->client_a, ROLE_CLIENT_STAFF);
    struct notice_filter f = {.announcement_id = all};
    struct notice *items;
    size_t count;
    T_OK(notice_list(&fx->ctx, &f, 0, 50, &items, &count, NULL, &fx->err));
    assert_int_equal(count, 1);
    assert_true(items[0].client_id == fx->client_a);
    assert_string_equal(items[0].kind, "update");
    assert_string_equal(items[0].sender_party, "provider");
    struct notice one;
    clock_set(fx->clock, clock_now_ms(fx->clock) + 5000);
    T_OK(notice_get(&fx->ctx, fx->client_a, items[0].id, &one, &fx->err));
    assert_true(one.announcement_id == all);
    assert_int_equal(notice_announcement_get(&fx->ctx, all, &an, &fx->err), KF_E_NOT_FOUND);
    struct announcement *list;
    assert_int_equal(notice_announcement_list(&fx->ctx, 0, 10, &list, &count, NULL, &fx->err), KF_E_NOT_FOUND);

    ifx_as(fx, 900, 0, ROLE_SUPERVISOR);
    T_OK(notice_announcement_get(&fx->ctx, all, &an, &fx->err));
    assert_true(an.n_read == 1);
    for (size_t i = 0; i < 2; i++) {
        const struct announcement_receipt *r = &an.receipts[i];
        if (r->client_id == fx->client_a) assert_true(r->n_reads == 1 && r->first_read_at == clock_now_ms(fx->clock));
        else assert_true(r->client_id == fx->client_b && r->n_reads == 0);
    }
    int64_t next = 0;
    T_OK(notice_announcement_list(&fx->ctx, 0, 1, &list, &count, &next, &fx->err));
    assert_true(count == 1 && list[0].id == all && next == all);
    T_OK(notice_announcement_list(&fx->ctx, next, 1, &list, &count, &next, &fx->err));
    assert_true(count == 1 && list[0].id == id);

    /* bad audiences and texts change nothing */
    struct counts before = counts_now(fx);
    int64_t twice[] = {fx->client_a, fx->client_a}, unknown[] = {fx->client_a + fx->client_b},
            provider[] = {fx->provider_id};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    struct announcement_input bad = {.subject = "x", .body = "y"};
    const int64_t *lists[] = {NULL, twice, unknown, provider};
    size_t lens[] = {0, 2, 1, 1};
    for (size_t i = 0; i < 4; i++) {
        bad.client_ids = lists[i];
        bad.n_clients = lens[i];
        assert_int_equal(notice_announce(&fx->ctx, &bad, NULL, NULL, &fx->err), KF_E_INVALID);
        assert_string_equal(fx->err.field, "client_ids");
    }
    bad.all = true;
    bad.subject = "";
    assert_int_equal(notice_announce(&fx->ctx, &bad, NULL, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "subject");
    bad.subject = "x";
    bad.body = "\xff";
    assert_int_equal(notice_announce(&fx->ctx, &bad, NULL, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "body");
    assert_unchanged(fx, before);
    ifx_audit_verify_clean(fx);
}

/* --- notice_send_in inside another capability's write ------------------------------------------ */

struct caller_args {
    struct kf_ctx *ctx;
    struct notice_input in;
    bool fail_after;
    int64_t id, delivered_at;
};

static int caller_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct caller_args *a = arg;
    int rc = notice_send_in(a->ctx, c, &a->in, &a->id, &a->delivered_at, err);
    if (rc == 0 && a->fail_after) rc = kf_fail(err, KF_E_CONFLICT, "status", "the caller changed its mind");
    return rc;
}

static void test_C11_1_1_C8_1_1_notice_send_in_commits_and_rolls_back_with_the_callers_write(void **state)
{
    IFX(state);
    ifx_as_system(fx);
    struct caller_args a = {.ctx = &fx->ctx, .in = std_notice(fx->client_a, "change")};
    a.in.sender_party = "provider";
    T_OK(store_write(fx->store, caller_fn, &a, &fx->err));
    assert_true(a.id > 0 && a.delivered_at == clock_now_ms(fx->clock));
    int64_t before = rows(fx, "notices"), audit = ifx_audit_total(fx);
    struct caller_args b = {.ctx = &fx->ctx, .in = std_notice(fx->client_a, "change"), .fail_after = true};
    assert_int_equal(store_write(fx->store, caller_fn, &b, &fx->err), KF_E_CONFLICT);
    assert_true(rows(fx, "notices") == before && ifx_audit_total(fx) == audit);
    /* validation inside: the caller learns the field */
    struct caller_args c = {.ctx = &fx->ctx, .in = std_notice(fx->client_a, "gossip")};
    assert_int_equal(store_write(fx->store, caller_fn, &c, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "kind");
    c.in = std_notice(fx->client_a, "change");
    c.in.method = "email";
    T_OK(store_write(fx->store, caller_fn, &c, &fx->err));
    assert_true(c.delivered_at == 0);
}

/* --- racing acknowledgements -------------------------------------------------------------------- */

struct acker {
    struct ifx *fx;
    int64_t id;
    int rc;
};

static void *ack_thread(void *arg)
{
    struct acker *k = arg;
    struct ifx *fx = k->fx;
    struct actor actor = {.kind = ACTOR_USER, .user_id = CADM_A, .org_id = fx->client_a, .client_id = fx->client_a,
                          .roles = ROLE_CLIENT_ADMIN, .session_id = 1};
    struct arena *arena = arena_new(0);
    struct kf_ctx ctx = {.env = &fx->env, .arena = arena, .request_id = "req-race", .actor = &actor};
    struct kf_err err;
    k->rc = notice_acknowledge(&ctx, fx->client_a, k->id, &err);
    arena_free(&arena);
    return NULL;
}

static void test_C11_1_1_racing_acknowledgements_acknowledge_once(void **state)
{
    IFX(state);
    int64_t id = send_as_provider(fx, fx->client_a, "breach");
    struct acker k[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        k[i] = (struct acker){fx, id, 99};
        pthread_create(&t[i], NULL, ack_thread, &k[i]);
    }
    int ok = 0, conflict = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += k[i].rc == 0;
        conflict += k[i].rc == KF_E_CONFLICT;
    }
    assert_int_equal(ok, 1);
    assert_int_equal(conflict, 3);
    assert_int_equal(ifx_audit_count(fx, "notice.acknowledge"), 1);
}

/* --- duplicate submission: idempotency keys ---------------------------------------------------- */

struct keyed_sender {
    struct ifx *fx;
    int64_t client_id, id;
    bool existing;
    int rc;
    struct kf_err err;
};

static void *keyed_send_thread(void *arg)
{
    struct keyed_sender *k = arg;
    struct arena *arena = arena_new(0);
    struct kf_ctx ctx = k->fx->ctx;
    struct actor am = {.kind = ACTOR_USER, .user_id = AM_ID, .roles = ROLE_ACCOUNT_MANAGER, .session_id = 1};
    ctx.arena = arena;
    ctx.actor = &am;
    struct notice_input in = std_notice(k->client_id, "other");
    in.idempotency_key = "notice-form-91c2";
    k->rc = notice_send_once(&ctx, &in, &k->id, &k->existing, &k->err);
    arena_free(&arena);
    return NULL;
}

static void test_C11_1_1_six_racing_submissions_with_one_key_send_one_notice_and_another_client_is_independent(void **state)
{
    IFX(state);
    int64_t before = rows(fx, "notices");
    struct keyed_sender k[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        k[i] = (struct keyed_sender){.fx = fx, .client_id = fx->client_a};
        assert_int_equal(pthread_create(&t[i], NULL, keyed_send_thread, &k[i]), 0);
    }
    for (int i = 0; i < 6; i++) pthread_join(t[i], NULL);
    int fresh = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(k[i].rc, 0);
        assert_true(k[i].id == k[0].id);
        fresh += !k[i].existing;
    }
    assert_int_equal(fresh, 1);
    assert_int_equal(rows(fx, "notices"), before + 1);
    assert_int_equal(ifx_audit_count(fx, "notice.send"), 1);
    /* the same key with another client: a notice of its own */
    struct keyed_sender b = {.fx = fx, .client_id = fx->client_b};
    keyed_send_thread(&b);
    assert_int_equal(b.rc, 0);
    assert_false(b.existing);
    assert_true(b.id != k[0].id);
    /* a malformed key sends nothing */
    struct notice_input in = std_notice(fx->client_a, "other");
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    const char *bad[] = {"含空格 key", "a;b", NULL};
    for (int i = 0; bad[i]; i++) {
        in.idempotency_key = bad[i];
        assert_int_equal(notice_send_once(&fx->ctx, &in, &id, NULL, &fx->err), KF_E_INVALID);
        assert_string_equal(fx->err.field, "idempotency_key");
    }
    assert_int_equal(rows(fx, "notices"), before + 2);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C11_1_1_portal_notice_delivered_notified_read_and_acknowledged_once),
        BOTH(test_C11_1_1_registered_mail_delivery_recorded_by_the_sender_side),
        BOTH(test_C11_1_1_bad_notices_are_refused_by_field_and_change_nothing),
        BOTH(test_C11_1_1_C5_2_corrections_register_filters_and_tenant_isolation),
        BOTH(test_C8_2_1_announcements_to_several_or_all_clients_with_read_receipts),
        BOTH(test_C11_1_1_C8_1_1_notice_send_in_commits_and_rolls_back_with_the_callers_write),
        BOTH(test_C11_1_1_racing_acknowledgements_acknowledge_once),
        BOTH(test_C11_1_1_six_racing_submissions_with_one_key_send_one_notice_and_another_client_is_independent),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
