/* Service requests on both engines (issue 6): creation under an active agreement only, with the
 * channel and a service kind the agreement includes (C3.2.1, C2.1.1); SR-numbers unique and gap-free
 * under racing creations; idempotent resubmission; the status table; assignment; public replies and
 * internal notes that no client read ever selects (C5.2); the history the SLA computes from; calls,
 * remote sessions and time entries (C9.2.1). Bad input is refused with a field-level error and
 * changes nothing. */
#include "identity_fixture.h"
#include "file_samples.h"

#include <pthread.h>
#include <unicode/uclean.h>

#include "domain/agreement.h"
#include "domain/customer.h"
#include "domain/file.h"
#include "domain/request.h"
#include "domain/search.h"
#include "domain/user.h"
#include "store/store.h"

#define AM_ID 501
#define AGENT_ID 502
#define CADM_A 601
#define CSTAFF_A 603
#define CSTAFF_B 604

static int group_teardown(void **state)
{
    file_sniff_shutdown();
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

/* --- set-up helpers ------------------------------------------------------------------------------ */

/* A draft of `client_id` with technical support and consulting (the catalogue's targets). */
/* A draft agreement of `client_id` with the `n` services `svc`. */
static int64_t make_draft_of(struct ifx *fx, int64_t client_id, struct agreement_service_input *svc, size_t n)
{
    struct agreement_input in = {.term_years = 1, .acceptance_by = "client", .services = svc, .n_services = n};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    T_OK(agreement_create(&fx->ctx, client_id, &in, &id, &fx->err));
    return id;
}

static int64_t make_draft(struct ifx *fx, int64_t client_id)
{
    struct agreement_service_input svc[2] = {{.kind = "technical_support"}, {.kind = "consulting"}};
    return make_draft_of(fx, client_id, svc, 2);
}

/* Draft `id` signed by both parties: active. */
static int64_t sign_both(struct ifx *fx, int64_t client_id, int64_t id)
{
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(agreement_sign_provider(&fx->ctx, client_id, id, &fx->err));
    ifx_as(fx, CADM_A, client_id, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, client_id, id, &fx->err));
    return id;
}

static int64_t make_active(struct ifx *fx, int64_t client_id)
{
    return sign_both(fx, client_id, make_draft(fx, client_id));
}

static int64_t make_customer(struct ifx *fx, int64_t client_id, const char *name)
{
    struct customer_input in = {.kind = "person", .name = name, .phone = "13800138000"};
    ifx_as_system(fx);
    int64_t id = 0;
    T_OK(customer_create(&fx->ctx, client_id, &in, &id, &fx->err));
    return id;
}

static int64_t make_user(struct ifx *fx, int64_t client_id, const char *name, unsigned roles)
{
    struct user_input in = {.client_id = client_id, .username = name, .password = STRONG_PW, .roles = roles};
    ifx_as_system(fx);
    int64_t id = 0;
    T_OK(user_create(&fx->ctx, &in, &id, &fx->err));
    return id;
}

static struct request_input basic(void)
{
    return (struct request_input){.service_kind = "technical_support", .channel = "phone", .priority = 2,
                                  .subject = "打印机无法连接网络", .body = "## 现象\n\n办公室的 HP-1020 无法打印。"};
}

static int create_as_agent(struct ifx *fx, int64_t client_id, struct request_input *in, int64_t *id_r)
{
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    kf_err_clear(&fx->err);
    return request_create(&fx->ctx, client_id, in, id_r, NULL, &fx->err);
}

static int64_t requests_of(struct ifx *fx, int64_t client_id)
{
    return ifx_count(fx, "SELECT count(*) FROM requests WHERE client_id = $1", client_id, 0);
}

static void expect_refused(struct ifx *fx, int rc, int code, const char *field)
{
    assert_int_equal(rc, code);
    if (field) assert_string_equal(fx->err.field ? fx->err.field : "(none)", field);
    kf_err_clear(&fx->err);
}

/* --- creation ------------------------------------------------------------------------------------ */

static void test_C3_2_1_C2_1_1_a_request_under_an_active_agreement_with_number_channel_and_kind(void **state)
{
    IFX(state);
    int64_t ag = make_active(fx, fx->client_a);
    int64_t cust = make_customer(fx, fx->client_a, "张三");
    struct request_input in = basic();
    in.customer_id = cust;
    int64_t id = 0;
    T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    struct request r;
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_string_equal(r.number, "SR-000001");
    assert_true(r.agreement_id == ag && r.customer_id == cust && r.client_id == fx->client_a);
    assert_string_equal(r.service_kind, "technical_support");
    assert_string_equal(r.channel, "phone");
    assert_string_equal(r.status, "new");
    assert_int_equal(r.priority, 2);
    assert_true(r.first_response_at == 0 && r.resolved_at == 0 && r.assignee_id == 0);
    assert_int_equal(ifx_audit_count(fx, "request.create"), 1);
    /* every channel of C3.2.1; a client user raises one too, on the web by default */
    static const char *const chans[] = {"web", "email", "api", "onsite", "remote"};
    for (int i = 0; i < 5; i++) {
        in = basic();
        in.channel = chans[i];
        T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    }
    in = basic();
    in.channel = NULL;
    in.priority = 0;
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(request_create(&fx->ctx, fx->client_a, &in, &id, NULL, &fx->err));
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_string_equal(r.channel, "web");
    assert_int_equal(r.priority, 3);
    assert_string_equal(r.number, "SR-000007");
    /* the history starts with the creation: status "" → new and the first priority */
    struct request_event *ev;
    size_t n;
    T_OK(request_history(&fx->ctx, fx->client_a, id, &ev, &n, &fx->err));
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].kind, "status");
    assert_string_equal(ev[0].to_value, "new");
    assert_string_equal(ev[1].kind, "priority");
    assert_string_equal(ev[1].to_value, "P3");
    ifx_audit_verify_clean(fx);
}

static void test_C3_2_1_refused_without_an_agreement_in_force_and_nothing_changes(void **state)
{
    IFX(state);
    struct request_input in = basic();
    int64_t id;
    /* none at all */
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_CONFLICT, "agreement");
    /* a draft, and one signed only by the provider */
    int64_t draft = make_draft(fx, fx->client_a);
    in.agreement_id = draft;
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_CONFLICT, "agreement");
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(agreement_sign_provider(&fx->ctx, fx->client_a, draft, &fx->err));
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_CONFLICT, "agreement");
    /* dissolved */
    int64_t ag = make_active(fx, fx->client_a);
    struct agreement_dissolution d = {.ground = AGREEMENT_MATERIAL_BREACH};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    T_OK(agreement_dissolve(&fx->ctx, fx->client_a, ag, &d, NULL, &fx->err));
    in.agreement_id = ag;
    assert_int_equal(create_as_agent(fx, fx->client_a, &in, &id), KF_E_CONFLICT);
    assert_non_null(strstr(fx->err.detail, "dissolved"));
    in.agreement_id = 0;
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_CONFLICT, "agreement");
    /* expired: the term has run out, even before the expiry job ran */
    int64_t ag2 = make_active(fx, fx->client_a);
    clock_set(fx->clock, clock_now_ms(fx->clock) + 400LL * 24 * 60 * 60 * 1000);
    in.agreement_id = ag2;
    assert_int_equal(create_as_agent(fx, fx->client_a, &in, &id), KF_E_CONFLICT);
    assert_non_null(strstr(fx->err.detail, "expired"));
    /* another client's agreement is no agreement of this client */
    clock_set(fx->clock, T0);
    int64_t ag_b = make_active(fx, fx->client_b);
    in.agreement_id = ag_b;
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "agreement_id");
    assert_int_equal(requests_of(fx, fx->client_a), 0);
    assert_int_equal(ifx_count(fx, "SELECT last_seq FROM request_numbers WHERE $1 = $1", 0, 0), 0);
    assert_int_equal(ifx_audit_count(fx, "request.create"), 0);
}

/* An active agreement of `client_id` with the one service kind `kind`. */
static int64_t make_active_with(struct ifx *fx, int64_t client_id, const char *kind)
{
    struct agreement_service_input svc[1] = {{.kind = kind}};
    return sign_both(fx, client_id, make_draft_of(fx, client_id, svc, 1));
}

/* Without an agreement named, the client's newest active one governs, and the service kind must be
 * one it includes; a named agreement governs instead; unknown agreements and kinds are refused by
 * field, and refusals write nothing. */
static void test_C3_2_1_the_newest_active_agreement_governs_and_its_kinds_decide(void **state)
{
    IFX(state);
    int64_t older = make_active(fx, fx->client_a); /* technical_support, consulting */
    int64_t newer = make_active_with(fx, fx->client_a, "training");
    struct request_input in = basic();
    int64_t id;
    struct request r;
    in.service_kind = "training";
    T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_true(r.agreement_id == newer);
    in.service_kind = "technical_support"; /* not in the newest */
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "service_kind");
    in.agreement_id = older;
    T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_true(r.agreement_id == older);
    in.agreement_id = older + 1000000;
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "agreement_id");
    in.agreement_id = 0, in.service_kind = "no_such_kind";
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "service_kind");
    assert_int_equal(requests_of(fx, fx->client_a), 2);
    assert_int_equal(ifx_audit_count(fx, "request.create"), 2);
}

static void test_C3_2_1_C5_2_bad_input_is_refused_by_field_and_changes_nothing(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    make_active(fx, fx->client_b);
    int64_t cust_b = make_customer(fx, fx->client_b, "李四");
    struct request_input in;
    int64_t id;
    in = basic(), in.priority = 9;
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "priority");
    in = basic(), in.channel = "fax";
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "channel");
    in = basic(), in.subject = "";
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "subject");
    char subject[201 * 3 + 1];
    for (int i = 0; i < 201; i++) memcpy(subject + 3 * i, "修", 3);
    subject[201 * 3] = '\0';
    in = basic(), in.subject = subject;
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "subject");
    subject[200 * 3] = '\0'; /* 200 characters, 600 bytes: fine */
    in = basic(), in.subject = subject;
    T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    char *big = malloc(REQUEST_BODY_MAX + 2);
    memset(big, 'x', REQUEST_BODY_MAX + 1);
    big[REQUEST_BODY_MAX + 1] = '\0';
    in = basic(), in.body = big;
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "body");
    free(big);
    in = basic(), in.body = "\xff\xfe";
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "body");
    in = basic(), in.service_kind = "training"; /* not in the agreement */
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "service_kind");
    in = basic(), in.idempotency_key = "with space";
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "idempotency_key");
    /* another client's customer is no customer of this client (C5.2) */
    in = basic(), in.customer_id = cust_b;
    expect_refused(fx, create_as_agent(fx, fx->client_a, &in, &id), KF_E_INVALID, "customer_id");
    /* a client user cannot raise one for another client: not found, as if it did not exist */
    in = basic();
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_create(&fx->ctx, fx->client_b, &in, &id, NULL, &fx->err), KF_E_NOT_FOUND, NULL);
    ifx_as(fx, 800, 0, ROLE_FINANCE);
    expect_refused(fx, request_create(&fx->ctx, fx->client_a, &in, &id, NULL, &fx->err), KF_E_FORBIDDEN, NULL);
    assert_int_equal(requests_of(fx, fx->client_a), 1);
    assert_int_equal(requests_of(fx, fx->client_b), 0);
    assert_int_equal(ifx_count(fx, "SELECT last_seq FROM request_numbers WHERE $1 = $1", 0, 0), 1);
}

static void test_C3_2_1_the_same_submission_twice_makes_one_request(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    make_active(fx, fx->client_b);
    struct request_input in = basic();
    in.idempotency_key = "form-7f3a9c";
    int64_t first = 0, again = 0;
    bool existing = true;
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(request_create(&fx->ctx, fx->client_a, &in, &first, &existing, &fx->err));
    assert_false(existing);
    T_OK(request_create(&fx->ctx, fx->client_a, &in, &again, &existing, &fx->err));
    assert_true(existing);
    assert_true(again == first);
    assert_int_equal(requests_of(fx, fx->client_a), 1);
    assert_int_equal(ifx_audit_count(fx, "request.create"), 1);
    /* the key is the client's own: another client may use the same one */
    ifx_as(fx, CSTAFF_B, fx->client_b, ROLE_CLIENT_STAFF);
    T_OK(request_create(&fx->ctx, fx->client_b, &in, &again, &existing, &fx->err));
    assert_false(existing);
    assert_true(again != first);
    assert_int_equal(ifx_count(fx, "SELECT last_seq FROM request_numbers WHERE $1 = $1", 0, 0), 2);
}

/* --- racing creations -------------------------------------------------------------------------- */

struct creator {
    struct ifx *fx;
    struct actor actor;
    const char *key;
    int64_t id;
    bool existing;
    int rc;
    struct kf_err err;
};

static void *create_thread(void *arg)
{
    struct creator *s = arg;
    struct arena *arena = arena_new(0);
    struct kf_ctx ctx = s->fx->ctx;
    ctx.arena = arena;
    ctx.actor = &s->actor;
    struct request_input in = basic();
    in.idempotency_key = s->key;
    s->rc = request_create(&ctx, s->fx->client_a, &in, &s->id, &s->existing, &s->err);
    arena_free(&arena);
    return NULL;
}

static void race(struct ifx *fx, struct creator *s, size_t n)
{
    pthread_t t[16];
    for (size_t i = 0; i < n; i++) {
        s[i].fx = fx;
        s[i].actor = (struct actor){.kind = ACTOR_USER, .user_id = AGENT_ID, .org_id = fx->provider_id,
                                    .roles = ROLE_AGENT, .session_id = 1};
    }
    for (size_t i = 0; i < n; i++) assert_int_equal(pthread_create(&t[i], NULL, create_thread, &s[i]), 0);
    for (size_t i = 0; i < n; i++) pthread_join(t[i], NULL);
}

static void test_C3_2_1_twelve_racing_creations_number_1_to_12_without_gaps_and_a_racing_duplicate_once(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    struct creator s[12];
    memset(s, 0, sizeof s);
    s[10].key = s[11].key = "same-form"; /* the same form submitted twice at once */
    race(fx, s, 12);
    for (int i = 0; i < 12; i++) T_OK(s[i].rc);
    assert_true(s[10].id == s[11].id);
    assert_true(s[10].existing != s[11].existing);
    assert_int_equal(requests_of(fx, fx->client_a), 11);
    assert_int_equal(ifx_count(fx, "SELECT count(DISTINCT number) FROM requests WHERE client_id = $1", fx->client_a, 0),
                     11);
    assert_int_equal(ifx_count(fx, "SELECT min(seq) FROM requests WHERE client_id = $1", fx->client_a, 0), 1);
    assert_int_equal(ifx_count(fx, "SELECT max(seq) FROM requests WHERE client_id = $1", fx->client_a, 0), 11);
    assert_int_equal(ifx_count(fx, "SELECT last_seq FROM request_numbers WHERE $1 = $1", 0, 0), 11);
}

/* --- creation in steps: prepare outside the write, the write queued to the writer ----------------- */

struct queued {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int pending, failed;
};

static void queued_done(void *arg, int rc, const struct kf_err *err)
{
    (void)err;
    struct queued *q = arg;
    pthread_mutex_lock(&q->lock);
    if (rc) q->failed++;
    q->pending--;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* The search documents of request `id`: how many, and the first one's body and shadow flag. */
struct search_doc_row {
    int64_t n, shadowed;
    char body[1024];
};

static void read_search_docs(struct ifx *fx, int64_t id, struct search_doc_row *d)
{
    memset(d, 0, sizeof *d);
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c,
                       "SELECT count(*), max(shadowed), max(body) FROM search_docs WHERE kind = 'request' AND "
                       "object_id = $1",
                       &st, &fx->err));
    store_bind_int64(st, 1, id);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    d->n = store_col_int64(st, 0);
    d->shadowed = store_col_int64(st, 1);
    const char *b = store_col_text(st, 2, NULL);
    snprintf(d->body, sizeof d->body, "%s", b ? b : "");
    store_finalize(&st);
    store_release(&c);
}

struct reindex_args {
    int64_t client_id, id;
};

static int reindex_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct reindex_args *a = arg;
    return search_reindex_request(c, a->client_id, a->id, err);
}

static void test_a_creation_writes_the_search_document_its_rows_give(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    struct request_input ins[2] = {basic(), basic()};
    ins[1].body = NULL; /* a subject alone */
    ins[1].subject = "Ｕ盘 无法识别 HP-1020";
    for (int i = 0; i < 2; i++) {
        int64_t id = 0;
        T_OK(create_as_agent(fx, fx->client_a, &ins[i], &id));
        struct search_doc_row created, rebuilt;
        read_search_docs(fx, id, &created);
        assert_int_equal(created.n, 1);
        assert_int_equal(created.shadowed, 0);
        assert_non_null(strstr(created.body, "hp-1020")); /* normalised: folded case and width */
        struct reindex_args a = {fx->client_a, id};
        T_OK(store_write(fx->store, reindex_fn, &a, &fx->err));
        read_search_docs(fx, id, &rebuilt);
        assert_int_equal(rebuilt.n, 1);
        assert_int_equal(rebuilt.shadowed, 0);
        assert_string_equal(rebuilt.body, created.body);
    }
}

static void test_C3_2_1_creations_prepared_then_queued_at_once_are_numbered_gap_free_audited_and_indexed(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    struct request_create_op *op[16];
    struct request_input in = basic();
    /* prepare refuses what needs no data, before any write: nothing is queued, nothing changes */
    in.subject = "";
    expect_refused(fx, request_create_prepare(&fx->ctx, fx->client_a, &in, &op[0], &fx->err), KF_E_INVALID, "subject");
    in = basic(), in.channel = "fax";
    expect_refused(fx, request_create_prepare(&fx->ctx, fx->client_a, &in, &op[0], &fx->err), KF_E_INVALID, "channel");
    ifx_as(fx, 800, 0, ROLE_FINANCE);
    in = basic();
    expect_refused(fx, request_create_prepare(&fx->ctx, fx->client_a, &in, &op[0], &fx->err), KF_E_FORBIDDEN, NULL);
    assert_int_equal(requests_of(fx, fx->client_a), 0);
    /* 16 creations queued together (the last two the same submission): SQLite's writer runs them in
     * shared batches, the other engine one write each */
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    struct request_input ins[16];
    for (int i = 0; i < 16; i++) {
        ins[i] = basic();
        ins[i].subject = "排队创建的请求";
        if (i >= 14) ins[i].idempotency_key = "queued-form";
        T_OK(request_create_prepare(&fx->ctx, fx->client_a, &ins[i], &op[i], &fx->err));
    }
    struct queued q = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .pending = 16};
    for (int i = 0; i < 16; i++) {
        if (store_write_async(fx->store, request_create_write, op[i], queued_done, &q) == KF_E_INVALID) {
            int rc = store_write(fx->store, request_create_write, op[i], &fx->err); /* no group commit */
            queued_done(&q, rc, &fx->err);
        }
    }
    pthread_mutex_lock(&q.lock);
    while (q.pending > 0) pthread_cond_wait(&q.cond, &q.lock);
    pthread_mutex_unlock(&q.lock);
    assert_int_equal(q.failed, 0);
    int64_t id[16];
    bool existing[16];
    for (int i = 0; i < 16; i++) request_create_result(op[i], &id[i], &existing[i]);
    for (int i = 0; i < 15; i++) assert_false(existing[i]);
    assert_true(existing[15]);
    assert_true(id[15] == id[14]);
    assert_int_equal(requests_of(fx, fx->client_a), 15);
    assert_int_equal(ifx_count(fx, "SELECT count(DISTINCT number) FROM requests WHERE client_id = $1", fx->client_a, 0),
                     15);
    assert_int_equal(ifx_count(fx, "SELECT max(seq) FROM requests WHERE client_id = $1", fx->client_a, 0), 15);
    assert_int_equal(ifx_count(fx, "SELECT last_seq FROM request_numbers WHERE $1 = $1", 0, 0), 15);
    assert_int_equal(ifx_audit_count(fx, "request.create"), 15);
    /* each in the search index and with its SLA columns, written in its own creation's write */
    assert_int_equal(ifx_count(fx,
                               "SELECT count(*) FROM search_docs d JOIN requests r ON r.id = d.object_id "
                               "WHERE d.kind = 'request' AND d.scope = 'public' AND r.client_id = $1",
                               fx->client_a, 0),
                     15);
    assert_int_equal(ifx_count(fx,
                               "SELECT count(*) FROM requests WHERE client_id = $1 AND sla_state IS NOT NULL AND "
                               "sla_due_at IS NOT NULL",
                               fx->client_a, 0),
                     15);
    struct request r;
    T_OK(request_get(&fx->ctx, fx->client_a, id[3], &r, &fx->err));
    assert_string_equal(r.subject, "排队创建的请求");
    assert_string_equal(r.status, "new");
}

/* --- status, assignment, edits ----------------------------------------------------------------- */

static void test_C3_2_1_the_status_table_and_its_timestamps(void **state)
{
    IFX(state);
    assert_true(request_transition_allowed("new", "open"));
    assert_true(request_transition_allowed("open", "waiting_customer"));
    assert_true(request_transition_allowed("waiting_client", "open"));
    assert_true(request_transition_allowed("resolved", "reopened"));
    assert_true(request_transition_allowed("closed", "reopened"));
    assert_false(request_transition_allowed("closed", "open"));
    assert_false(request_transition_allowed("resolved", "open"));
    assert_false(request_transition_allowed("open", "new"));
    assert_false(request_transition_allowed("open", "open"));
    assert_false(request_transition_allowed("nonsense", "open"));
    make_active(fx, fx->client_a);
    struct request_input in = basic();
    int64_t id;
    T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    static const char *const walk[] = {"open", "waiting_customer", "open", "resolved", "reopened", "resolved",
                                       "closed"};
    for (int i = 0; i < 7; i++) {
        clock_set(fx->clock, clock_now_ms(fx->clock) + 60000);
        T_OK(request_set_status(&fx->ctx, fx->client_a, id, walk[i], "步骤", &fx->err));
    }
    struct request r;
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_string_equal(r.status, "closed");
    assert_true(r.resolved_at == T0 + 6 * 60000 && r.closed_at == T0 + 7 * 60000);
    expect_refused(fx, request_set_status(&fx->ctx, fx->client_a, id, "open", NULL, &fx->err), KF_E_CONFLICT, "status");
    expect_refused(fx, request_set_status(&fx->ctx, fx->client_a, id, "nonsense", NULL, &fx->err), KF_E_INVALID,
                   "status");
    expect_refused(fx, request_set_status(&fx->ctx, fx->client_a, id, "new", NULL, &fx->err), KF_E_INVALID, "status");
    struct request_change ch = {.subject = "改"};
    expect_refused(fx, request_update(&fx->ctx, fx->client_a, id, &ch, &fx->err), KF_E_CONFLICT, "status");
    T_OK(request_set_status(&fx->ctx, fx->client_a, id, "reopened", NULL, &fx->err));
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_true(r.resolved_at == 0 && r.closed_at == 0);
    struct request_event *ev;
    size_t n;
    T_OK(request_history(&fx->ctx, fx->client_a, id, &ev, &n, &fx->err));
    assert_int_equal(n, 2 + 8); /* creation (status, priority) and every move */
    assert_string_equal(ev[3].from_value, "open");
    assert_string_equal(ev[3].to_value, "waiting_customer");
    assert_string_equal(ev[3].reason, "步骤");
    assert_int_equal(ifx_audit_count(fx, "request.status"), 8);
    /* client users change no status */
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    expect_refused(fx, request_set_status(&fx->ctx, fx->client_a, id, "closed", NULL, &fx->err), KF_E_FORBIDDEN, NULL);
}

static void test_C3_2_1_assignment_priority_change_and_history(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    int64_t agent = make_user(fx, 0, "agent.wang", ROLE_AGENT);
    int64_t client_user = make_user(fx, fx->client_a, "client.li", ROLE_CLIENT_STAFF);
    int64_t team = 0;
    ifx_as_system(fx);
    T_OK(team_create(&fx->ctx, "一线支持", &team, &fx->err));
    struct request_input in = basic();
    int64_t id;
    T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    T_OK(request_assign(&fx->ctx, fx->client_a, id, agent, team, &fx->err));
    expect_refused(fx, request_assign(&fx->ctx, fx->client_a, id, client_user, 0, &fx->err), KF_E_INVALID,
                   "assignee_id");
    expect_refused(fx, request_assign(&fx->ctx, fx->client_a, id, agent, 999, &fx->err), KF_E_INVALID, "team_id");
    struct request r;
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_true(r.assignee_id == agent && r.team_id == team);
    struct request_filter f = {.client_id = fx->client_a, .assignee_id = agent, .limit = 10};
    struct request *items;
    size_t n;
    int64_t next;
    T_OK(request_list(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_int_equal(n, 1);
    struct request_change ch = {.priority = 1, .service_kind = "consulting", .reason = "客户升级"};
    T_OK(request_update(&fx->ctx, fx->client_a, id, &ch, &fx->err));
    ch = (struct request_change){.priority = 7};
    expect_refused(fx, request_update(&fx->ctx, fx->client_a, id, &ch, &fx->err), KF_E_INVALID, "priority");
    ch = (struct request_change){.service_kind = "training"};
    expect_refused(fx, request_update(&fx->ctx, fx->client_a, id, &ch, &fx->err), KF_E_INVALID, "service_kind");
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_int_equal(r.priority, 1);
    assert_string_equal(r.service_kind, "consulting");
    struct request_event *ev;
    T_OK(request_history(&fx->ctx, fx->client_a, id, &ev, &n, &fx->err));
    /* creation (2), assignee, team, priority, service kind */
    assert_int_equal(n, 6);
    assert_string_equal(ev[4].kind, "priority");
    assert_string_equal(ev[4].from_value, "P2");
    assert_string_equal(ev[4].to_value, "P1");
    assert_string_equal(ev[4].reason, "客户升级");
    assert_string_equal(ev[5].kind, "service_kind");
    f = (struct request_filter){.priority = 1, .limit = 10};
    T_OK(request_list(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_int_equal(n, 1);
    f.priority = 9;
    expect_refused(fx, request_list(&fx->ctx, &f, &items, &n, &next, &fx->err), KF_E_INVALID, "priority");
    ifx_audit_verify_clean(fx);
}

/* --- the conversation (C5.2) --------------------------------------------------------------------- */

static void test_C5_2_internal_notes_are_never_selected_for_client_users(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    struct request_input in = basic();
    int64_t id, m1, m2, m3;
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(request_create(&fx->ctx, fx->client_a, &in, &id, NULL, &fx->err));
    /* a client user writes no note */
    expect_refused(fx, request_note(&fx->ctx, fx->client_a, id, "偷看", &m1, &fx->err), KF_E_FORBIDDEN, NULL);
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    clock_set(fx->clock, T0 + 60000);
    T_OK(request_note(&fx->ctx, fx->client_a, id, "内部备注 NOTE-SECRET-1：客户欠费，先别上门", &m1, &fx->err));
    struct request r;
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_true(r.first_response_at == 0); /* a note is no response */
    assert_string_equal(r.status, "new");
    clock_set(fx->clock, T0 + 120000);
    T_OK(request_reply(&fx->ctx, fx->client_a, id, "您好，我们已收到。", &m2, &fx->err));
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_true(r.first_response_at == T0 + 120000);
    assert_string_equal(r.status, "open");
    clock_set(fx->clock, T0 + 180000);
    T_OK(request_reply(&fx->ctx, fx->client_a, id, "补充说明。", &m3, &fx->err));
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_true(r.first_response_at == T0 + 120000); /* only the first */
    struct request_message *items;
    size_t n;
    int64_t next;
    T_OK(request_messages(&fx->ctx, fx->client_a, id, 0, 50, &items, &n, &next, &fx->err));
    assert_int_equal(n, 3);
    assert_string_equal(items[0].kind, "internal");
    /* every client role: the public replies only */
    static const unsigned roles[] = {ROLE_CLIENT_ADMIN, ROLE_CLIENT_STAFF, ROLE_CLIENT_SUPERVISOR};
    for (int i = 0; i < 3; i++) {
        ifx_as(fx, 700 + i, fx->client_a, roles[i]);
        T_OK(request_messages(&fx->ctx, fx->client_a, id, 0, 50, &items, &n, &next, &fx->err));
        assert_int_equal(n, 2);
        for (size_t k = 0; k < n; k++) {
            assert_string_equal(items[k].kind, "public");
            assert_null(strstr(items[k].body, "内部备注"));
        }
    }
    /* the note's text is in no audit record, and the note's record is on the provider's chain */
    assert_int_equal(ifx_count_text(fx, "SELECT count(*) FROM audit_log WHERE changes LIKE $1", "%NOTE-SECRET%"), 0);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM audit_log WHERE action = 'request.note' AND chain = $1", 0, 0),
                     1);
    /* another client's users do not reach it at all */
    ifx_as(fx, CSTAFF_B, fx->client_b, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_messages(&fx->ctx, fx->client_a, id, 0, 50, &items, &n, &next, &fx->err),
                   KF_E_NOT_FOUND, NULL);
    /* closed: no more replies, notes still */
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    T_OK(request_set_status(&fx->ctx, fx->client_a, id, "closed", NULL, &fx->err));
    expect_refused(fx, request_reply(&fx->ctx, fx->client_a, id, "还在吗？", &m3, &fx->err), KF_E_CONFLICT, "status");
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_reply(&fx->ctx, fx->client_a, id, "还在吗？", &m3, &fx->err), KF_E_CONFLICT, "status");
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    T_OK(request_note(&fx->ctx, fx->client_a, id, "结案后备注", &m3, &fx->err));
    expect_refused(fx, request_reply(&fx->ctx, fx->client_a, id, "", &m3, &fx->err), KF_E_INVALID, "body");
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM request_messages WHERE request_id = $1", id, 0), 4);
    ifx_audit_verify_clean(fx);
}

static void test_C3_2_1_a_reply_of_the_client_side_ends_a_wait(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    struct request_input in = basic();
    int64_t id, m;
    T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    T_OK(request_set_status(&fx->ctx, fx->client_a, id, "waiting_customer", "等客户提供序列号", &fx->err));
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(request_reply(&fx->ctx, fx->client_a, id, "序列号是 CN-123", &m, &fx->err));
    struct request r;
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_string_equal(r.status, "open");
    assert_true(r.first_response_at == 0); /* the client's reply is no first response */
    struct request_event *ev;
    size_t n;
    T_OK(request_history(&fx->ctx, fx->client_a, id, &ev, &n, &fx->err));
    assert_string_equal(ev[n - 1].from_value, "waiting_customer");
    assert_string_equal(ev[n - 1].to_value, "open");
    assert_string_equal(ev[n - 1].reason, "reply");
}

static void test_C5_2_client_users_list_and_read_only_their_own_client(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    make_active(fx, fx->client_b);
    struct request_input in = basic();
    int64_t a1, a2, b1;
    T_OK(create_as_agent(fx, fx->client_a, &in, &a1));
    T_OK(create_as_agent(fx, fx->client_a, &in, &a2));
    T_OK(create_as_agent(fx, fx->client_b, &in, &b1));
    struct request_filter f = {.limit = 1};
    struct request *items;
    size_t n;
    int64_t next;
    T_OK(request_list(&fx->ctx, &f, &items, &n, &next, &fx->err)); /* provider: every client */
    assert_int_equal(n, 1);
    assert_true(items[0].id == b1 && next == b1);
    f.after_id = next, f.limit = 5;
    T_OK(request_list(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_int_equal(n, 2);
    assert_true(next == 0);
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    f = (struct request_filter){.limit = 50};
    T_OK(request_list(&fx->ctx, &f, &items, &n, &next, &fx->err));
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) assert_true(items[i].client_id == fx->client_a);
    f.client_id = fx->client_b;
    expect_refused(fx, request_list(&fx->ctx, &f, &items, &n, &next, &fx->err), KF_E_NOT_FOUND, NULL);
    struct request r;
    expect_refused(fx, request_get(&fx->ctx, fx->client_b, b1, &r, &fx->err), KF_E_NOT_FOUND, NULL);
    expect_refused(fx, request_get(&fx->ctx, fx->client_a, b1, &r, &fx->err), KF_E_NOT_FOUND, NULL);
    f = (struct request_filter){.status = "bogus", .limit = 5};
    expect_refused(fx, request_list(&fx->ctx, &f, &items, &n, &next, &fx->err), KF_E_INVALID, "status");
}

/* --- calls, remote sessions (C9.2.1) and time entries ------------------------------------------ */

static void test_C9_2_1_calls_remote_sessions_and_time_entries_are_logged_against_a_request(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    int64_t tech = make_user(fx, 0, "tech.zhao", ROLE_TECHNICIAN);
    int64_t client_user = make_user(fx, fx->client_a, "client.zhou", ROLE_CLIENT_STAFF);
    struct request_input in = basic();
    int64_t id, call, entry;
    T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    int64_t agent = make_user(fx, 0, "agent.sun", ROLE_AGENT);
    ifx_as(fx, agent, 0, ROLE_AGENT);
    clock_set(fx->clock, T0 + 3600000);
    struct request_call_input c = {.kind = "phone", .started_at = T0 + 60000, .duration_s = 420,
                                   .summary = "客户来电，指导重启路由器"};
    T_OK(request_log_call(&fx->ctx, fx->client_a, id, &c, &call, &fx->err));
    c = (struct request_call_input){.kind = "remote", .user_id = tech, .started_at = T0 + 600000, .duration_s = 1800};
    T_OK(request_log_call(&fx->ctx, fx->client_a, id, &c, &call, &fx->err));
    struct request_call_input bad = c;
    bad.kind = "fax";
    expect_refused(fx, request_log_call(&fx->ctx, fx->client_a, id, &bad, &call, &fx->err), KF_E_INVALID, "kind");
    bad = c, bad.started_at = T0 + 2 * 3600000;
    expect_refused(fx, request_log_call(&fx->ctx, fx->client_a, id, &bad, &call, &fx->err), KF_E_INVALID, "started_at");
    bad = c, bad.duration_s = 86401;
    expect_refused(fx, request_log_call(&fx->ctx, fx->client_a, id, &bad, &call, &fx->err), KF_E_INVALID, "duration_s");
    bad = c, bad.user_id = client_user;
    expect_refused(fx, request_log_call(&fx->ctx, fx->client_a, id, &bad, &call, &fx->err), KF_E_INVALID, "user_id");
    struct request_time_input t = {.minutes = 30, .billable = true};
    T_OK(request_log_time(&fx->ctx, fx->client_a, id, &t, &entry, &fx->err));
    t = (struct request_time_input){.minutes = 45, .billable = false, .service_kind = "consulting", .user_id = tech,
                                    .note = "现场勘察", .worked_at = T0 + 1800000};
    T_OK(request_log_time(&fx->ctx, fx->client_a, id, &t, &entry, &fx->err));
    struct request_time_input tb = t;
    tb.minutes = 0;
    expect_refused(fx, request_log_time(&fx->ctx, fx->client_a, id, &tb, &entry, &fx->err), KF_E_INVALID, "minutes");
    tb = t, tb.minutes = 1441;
    expect_refused(fx, request_log_time(&fx->ctx, fx->client_a, id, &tb, &entry, &fx->err), KF_E_INVALID, "minutes");
    tb = t, tb.service_kind = "training";
    expect_refused(fx, request_log_time(&fx->ctx, fx->client_a, id, &tb, &entry, &fx->err), KF_E_INVALID,
                   "service_kind");
    tb = t, tb.worked_at = T0 + 5 * 3600000;
    expect_refused(fx, request_log_time(&fx->ctx, fx->client_a, id, &tb, &entry, &fx->err), KF_E_INVALID, "worked_at");
    /* the client's people read them; they log none; another client's reach nothing */
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    struct request_call *calls;
    struct request_time_entry *entries;
    size_t n;
    int64_t total, billable;
    T_OK(request_calls(&fx->ctx, fx->client_a, id, &calls, &n, &fx->err));
    assert_int_equal(n, 2);
    assert_string_equal(calls[0].kind, "phone");
    assert_true(calls[0].user_id == agent && calls[0].duration_s == 420);
    assert_true(calls[1].user_id == tech);
    T_OK(request_time_entries(&fx->ctx, fx->client_a, id, &entries, &n, &total, &billable, &fx->err));
    assert_int_equal(n, 2);
    assert_true(total == 75 && billable == 30);
    assert_string_equal(entries[0].service_kind, "technical_support");
    assert_string_equal(entries[1].service_kind, "consulting");
    assert_true(entries[0].worked_at == T0 + 3600000);
    expect_refused(fx, request_log_time(&fx->ctx, fx->client_a, id, &t, &entry, &fx->err), KF_E_FORBIDDEN, NULL);
    ifx_as(fx, CSTAFF_B, fx->client_b, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_calls(&fx->ctx, fx->client_a, id, &calls, &n, &fx->err), KF_E_NOT_FOUND, NULL);
    assert_int_equal(ifx_audit_count(fx, "request.call"), 2);
    assert_int_equal(ifx_audit_count(fx, "request.time"), 2);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM request_calls WHERE client_id = $1", fx->client_a, 0), 2);
    ifx_audit_verify_clean(fx);
}

/* --- attachments --------------------------------------------------------------------------------- */

static void test_C5_2_attachments_go_through_the_file_facility_scoped_to_the_request(void **state)
{
    IFX(state);
    make_active(fx, fx->client_a);
    struct request_input in = basic();
    int64_t id, fid;
    T_OK(create_as_agent(fx, fx->client_a, &in, &id));
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(request_attach(&fx->ctx, fx->client_a, id, "../../屏幕截图.png", sample_a_png, sample_a_png_len, 0, &fid,
                        &fx->err));
    struct file_meta *items;
    size_t n;
    T_OK(request_attachments(&fx->ctx, fx->client_a, id, &items, &n, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == fid);
    assert_string_equal(items[0].name, "屏幕截图.png");
    assert_string_equal(items[0].owner_kind, "request");
    /* a supervisor of the client replies but uploads nothing; another client reaches nothing */
    ifx_as(fx, 705, fx->client_a, ROLE_CLIENT_SUPERVISOR);
    expect_refused(fx, request_attach(&fx->ctx, fx->client_a, id, "a.png", sample_a_png, sample_a_png_len, 0, &fid,
                                      &fx->err), KF_E_FORBIDDEN, NULL);
    ifx_as(fx, CSTAFF_B, fx->client_b, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_attachments(&fx->ctx, fx->client_a, id, &items, &n, &fx->err), KF_E_NOT_FOUND, NULL);
    expect_refused(fx, request_attach(&fx->ctx, fx->client_b, id, "a.png", sample_a_png, sample_a_png_len, 0, &fid,
                                      &fx->err), KF_E_NOT_FOUND, NULL);
    /* a disguised executable is refused by the facility; a closed request takes none */
    static const unsigned char elf[32] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    ifx_as(fx, CSTAFF_A, fx->client_a, ROLE_CLIENT_STAFF);
    expect_refused(fx, request_attach(&fx->ctx, fx->client_a, id, "photo.png", elf, sizeof elf, 0, &fid, &fx->err),
                   KF_E_FILE_TYPE, "file");
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    T_OK(request_set_status(&fx->ctx, fx->client_a, id, "closed", NULL, &fx->err));
    expect_refused(fx, request_attach(&fx->ctx, fx->client_a, id, "b.png", sample_a_png, sample_a_png_len, 0, &fid,
                                      &fx->err), KF_E_CONFLICT, "status");
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM files WHERE client_id = $1", fx->client_a, 0), 1);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C3_2_1_C2_1_1_a_request_under_an_active_agreement_with_number_channel_and_kind),
        BOTH(test_C3_2_1_refused_without_an_agreement_in_force_and_nothing_changes),
        BOTH(test_C3_2_1_the_newest_active_agreement_governs_and_its_kinds_decide),
        BOTH(test_C3_2_1_C5_2_bad_input_is_refused_by_field_and_changes_nothing),
        BOTH(test_C3_2_1_the_same_submission_twice_makes_one_request),
        BOTH(test_C3_2_1_twelve_racing_creations_number_1_to_12_without_gaps_and_a_racing_duplicate_once),
        BOTH(test_C3_2_1_creations_prepared_then_queued_at_once_are_numbered_gap_free_audited_and_indexed),
        BOTH(test_a_creation_writes_the_search_document_its_rows_give),
        BOTH(test_C3_2_1_the_status_table_and_its_timestamps),
        BOTH(test_C3_2_1_assignment_priority_change_and_history),
        BOTH(test_C5_2_internal_notes_are_never_selected_for_client_users),
        BOTH(test_C3_2_1_a_reply_of_the_client_side_ends_a_wait),
        BOTH(test_C5_2_client_users_list_and_read_only_their_own_client),
        BOTH(test_C9_2_1_calls_remote_sessions_and_time_entries_are_logged_against_a_request),
        BOTH(test_C5_2_attachments_go_through_the_file_facility_scoped_to_the_request),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
