/* Requests without an account on both engines (issue 6 item 5; C3.2.2): the public form token (made and
 * rotated by those who may change the client, stored hashed, any other text not found), the intake
 * (the customer matched or created, consent to service_delivery, the request on channel web, a
 * tracking token), the tracking link's reads (public replies only, never an internal note: C5.2),
 * replies and consent through it, and the rate limit per address. */
#include "identity_fixture.h"

#include <string.h>
#include <unicode/uclean.h>

#include "domain/agreement.h"
#include "domain/consent.h"
#include "domain/customer.h"
#include "domain/file.h"
#include "domain/request.h"
#include "domain/request_public.h"

#define AM_ID 501
#define AGENT_ID 502
#define CADM_A 601

static int group_teardown(void **state)
{
    file_sniff_shutdown();
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

static void make_active(struct ifx *fx, int64_t client_id)
{
    struct agreement_service_input svc[1] = {{.kind = "technical_support"}};
    struct agreement_input in = {.term_years = 1, .acceptance_by = "client", .services = svc, .n_services = 1};
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    int64_t id = 0;
    T_OK(agreement_create(&fx->ctx, client_id, &in, &id, &fx->err));
    T_OK(agreement_sign_provider(&fx->ctx, client_id, id, &fx->err));
    ifx_as(fx, CADM_A, client_id, ROLE_CLIENT_ADMIN);
    T_OK(agreement_sign_client(&fx->ctx, client_id, id, &fx->err));
}

static void form_token(struct ifx *fx, int64_t client_id, char token[TOKEN_TEXT_MAX])
{
    ifx_as(fx, 1, 0, ROLE_ADMIN);
    T_OK(request_intake_rotate(&fx->ctx, client_id, token, &fx->err));
    ifx_as_anonymous(fx);
}

static struct intake_input intake(const char *subject, const char *key)
{
    return (struct intake_input){.name = "张三", .phone = "138 0013 8000", .service_kind = "technical_support",
                                 .subject = subject, .body = "从昨晚开始无法上网。", .idempotency_key = key};
}

static void test_C3_2_2_the_form_token_is_made_by_the_client_side_managers_hashed_and_rotatable(void **state)
{
    struct ifx *fx = *state;
    char tok[TOKEN_TEXT_MAX], tok2[TOKEN_TEXT_MAX];
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    assert_int_equal(request_intake_rotate(&fx->ctx, fx->client_a, tok, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, AM_ID, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(request_intake_rotate(&fx->ctx, fx->client_a, tok, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, CADM_A, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(request_intake_rotate(&fx->ctx, fx->client_a, tok, &fx->err));
    ifx_as(fx, CADM_A, fx->client_b, ROLE_CLIENT_ADMIN);
    assert_int_not_equal(request_intake_rotate(&fx->ctx, fx->client_a, tok, &fx->err), 0);
    form_token(fx, fx->client_a, tok);
    assert_true(strncmp(tok, INTAKE_TOKEN_PREFIX, strlen(INTAKE_TOKEN_PREFIX)) == 0);
    assert_int_equal(ifx_count_text(fx, "SELECT count(*) FROM request_intake_forms WHERE CAST(token_hash AS TEXT) = $1",
                                    tok), 0);
    int64_t cid = 0;
    T_OK(request_intake_client(&fx->ctx, tok, &cid, &fx->err));
    assert_true(cid == fx->client_a);
    char cut[TOKEN_TEXT_MAX];
    snprintf(cut, sizeof cut, "%.*s", (int)strlen(tok) - 1, tok);
    const char *wrong[] = {"", "kfc_", cut, "kfc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "../../etc", NULL};
    for (const char **w = wrong; *w; w++)
        assert_int_equal(request_intake_client(&fx->ctx, *w, &cid, &fx->err), KF_E_NOT_FOUND);
    form_token(fx, fx->client_a, tok2);
    assert_int_equal(request_intake_client(&fx->ctx, tok, &cid, &fx->err), KF_E_NOT_FOUND);
    T_OK(request_intake_client(&fx->ctx, tok2, &cid, &fx->err));
    assert_int_equal(ifx_audit_count(fx, "request.intake_rotate"), 3);
}

static void test_C3_2_2_C5_2_intake_and_tracking_show_public_replies_only(void **state)
{
    struct ifx *fx = *state;
    make_active(fx, fx->client_a);
    char tok[TOKEN_TEXT_MAX], track[TOKEN_TEXT_MAX], track2[TOKEN_TEXT_MAX];
    form_token(fx, fx->client_a, tok);
    fx->ctx.source_addr = "192.0.2.7";
    struct intake_input in = intake("家里宽带断了", "k1");
    int64_t client = 0, id = 0, id2 = 0;
    bool existing = true;
    T_OK(request_intake_create(&fx->ctx, tok, &in, &client, &id, track, &existing, &fx->err));
    assert_true(client == fx->client_a && !existing);
    assert_true(strncmp(track, TRACKING_TOKEN_PREFIX, strlen(TRACKING_TOKEN_PREFIX)) == 0);
    assert_true(fx->ctx.actor == &fx->actor);   /* the visitor again after the intake */
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    struct request r;
    T_OK(request_get(&fx->ctx, fx->client_a, id, &r, &fx->err));
    assert_string_equal(r.channel, "web");
    assert_true(r.customer_id != 0 && r.priority == 3);
    struct consent *ks;
    size_t nk;
    ifx_as_system(fx);
    T_OK(consent_list(&fx->ctx, fx->client_a, r.customer_id, &ks, &nk, &fx->err));
    assert_int_equal(nk, 1);
    assert_string_equal(ks[0].purpose, CONSENT_SERVICE_DELIVERY);
    assert_string_equal(ks[0].given_channel, "web");
    /* the same person again, the phone in another format: the same customer */
    ifx_as_anonymous(fx);
    in = intake("第二次", "k2");
    in.phone = "13800138000";
    T_OK(request_intake_create(&fx->ctx, tok, &in, &client, &id2, track2, &existing, &fx->err));
    ifx_as(fx, AGENT_ID, 0, ROLE_AGENT);
    struct request r2;
    T_OK(request_get(&fx->ctx, fx->client_a, id2, &r2, &fx->err));
    assert_true(r2.customer_id == r.customer_id);
    /* staff answer and note; the link shows the reply only */
    int64_t mid;
    T_OK(request_reply(&fx->ctx, fx->client_a, id, "师傅下午上门。", &mid, &fx->err));
    T_OK(request_note(&fx->ctx, fx->client_a, id, "内部：先查欠费", &mid, &fx->err));
    ifx_as_anonymous(fx);
    struct request_track t;
    T_OK(request_track_open(&fx->ctx, track, &t, &fx->err));
    assert_true(t.request.id == id && t.consent_in_force);
    assert_int_equal(t.n_messages, 1);
    assert_string_equal(t.messages[0].body, "师傅下午上门。");
    assert_string_equal(t.customer_name, "张三");
    /* the customer's reply is the client's side; consent withdrawn and given through the link */
    T_OK(request_track_reply(&fx->ctx, track, "好的，我在家。", &fx->err));
    T_OK(request_track_open(&fx->ctx, track, &t, &fx->err));
    assert_int_equal(t.n_messages, 2);
    assert_string_equal(t.messages[1].author_side, "client");
    assert_int_equal(request_track_reply(&fx->ctx, track, "", &fx->err), KF_E_INVALID);
    T_OK(request_track_consent(&fx->ctx, track, false, &fx->err));
    T_OK(request_track_open(&fx->ctx, track, &t, &fx->err));
    assert_false(t.consent_in_force);
    T_OK(request_track_consent(&fx->ctx, track, true, &fx->err));
    /* another request's link shows that one; wrong links nothing */
    T_OK(request_track_open(&fx->ctx, track2, &t, &fx->err));
    assert_true(t.request.id == id2 && t.n_messages == 0);
    char cut[TOKEN_TEXT_MAX];
    snprintf(cut, sizeof cut, "%.*s", (int)strlen(track) - 1, track);
    assert_int_equal(request_track_open(&fx->ctx, cut, &t, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(request_track_open(&fx->ctx, tok, &t, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(request_track_reply(&fx->ctx, cut, "猜", &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM request_tracking WHERE client_id = $1", fx->client_a, 0), 2);
}

static void test_C3_2_2_bad_input_no_agreement_and_the_rate_limit_per_address(void **state)
{
    struct ifx *fx = *state;
    char tok[TOKEN_TEXT_MAX], track[TOKEN_TEXT_MAX];
    form_token(fx, fx->client_b, tok);
    fx->ctx.source_addr = "198.51.100.9";
    int64_t client, id;
    bool existing;
    struct intake_input in = intake("没有协议", "n1");
    assert_int_equal(request_intake_create(&fx->ctx, tok, &in, &client, &id, track, &existing, &fx->err), KF_E_CONFLICT);
    assert_string_equal(track, "");
    make_active(fx, fx->client_b);
    ifx_as_anonymous(fx);
    in = intake("缺联系方式", "n2");
    in.phone = NULL;
    assert_int_equal(request_intake_create(&fx->ctx, tok, &in, &client, &id, track, &existing, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "contact");
    in = intake("缺姓名", "n3");
    in.name = "";
    assert_int_equal(request_intake_create(&fx->ctx, tok, &in, &client, &id, track, &existing, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "name");
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM requests WHERE client_id = $1", fx->client_b, 0), 0);
    /* the address: free submissions, then refused, and a refused one writes nothing */
    int ok = 0, refused = 0;
    for (int i = 0; i < INTAKE_PER_ADDRESS_FREE + 5; i++) {
        char key[32];
        snprintf(key, sizeof key, "rl-%d", i);
        in = intake("限流", key);
        int rc = request_intake_create(&fx->ctx, tok, &in, &client, &id, track, &existing, &fx->err);
        if (rc == 0) ok++;
        else if (rc == KF_E_RATE_LIMITED) refused++;
        else fail_msg("unexpected %d", rc);
    }
    assert_true(ok >= INTAKE_PER_ADDRESS_FREE - 3 && refused > 0);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM requests WHERE client_id = $1", fx->client_b, 0), ok);
    /* another address is not affected */
    fx->ctx.source_addr = "203.0.113.5";
    in = intake("别的地址", "other-addr");
    T_OK(request_intake_create(&fx->ctx, tok, &in, &client, &id, track, &existing, &fx->err));
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C3_2_2_the_form_token_is_made_by_the_client_side_managers_hashed_and_rotatable),
        BOTH(test_C3_2_2_C5_2_intake_and_tracking_show_public_replies_only),
        BOTH(test_C3_2_2_bad_input_no_agreement_and_the_rate_limit_per_address),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
