/* Organisations, users and teams on both engines (issue 3): one provider, clients with their own
 * scope (C5.2), look-alike and weak-password refusals, roles that fit the organisation's kind, no
 * self-escalation, disabling, login verification, teams of provider users — and for every change
 * exactly the expected audit records, with passwords masked and the chains verifying clean. */
#include "identity_fixture.h"

#include "domain/api_token.h"
#include "domain/session.h"

#include <pthread.h>
#include <unicode/uclean.h>

#include "domain/user.h"

#define CYRILLIC_A_DMIN "\xd0\xb0" "dmin"                 /* Cyrillic а, then Latin: mixed scripts */
#define CYRILLIC_COPE "\xd1\x81\xd0\xbe\xd1\x80\xd0\xb5" /* с о р е, all Cyrillic: looks like cope */

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

static int64_t make_user(struct ifx *fx, int64_t client_id, const char *name, unsigned roles)
{
    struct user_input in = {.client_id = client_id, .username = name, .password = STRONG_PW, .roles = roles};
    int64_t id = 0;
    T_OK(user_create(&fx->ctx, &in, &id, &fx->err));
    return id;
}

/* --- organisations ---------------------------------------------------------------------------- */

static void test_provider_organisation_exists_at_most_once(void **state)
{
    IFX(state);
    int64_t before = ifx_audit_total(fx);
    struct org_input p = {.name = "第二个运营方"};
    int64_t id = 0;
    assert_int_equal(org_create_provider(&fx->ctx, &p, &id, &fx->err), KF_E_CONFLICT);
    assert_int_equal(ifx_audit_total(fx), before);
    int64_t pid = 0;
    T_OK(org_provider_id(&fx->ctx, &pid, &fx->err));
    assert_true(pid == fx->provider_id);
    assert_int_equal(ifx_audit_count(fx, "org.create_provider"), 1);
    assert_int_equal(ifx_audit_count(fx, "org.create"), 2);
    /* contacts name a person: the trail says that they were set, never what they are */
    char *changes = ifx_audit_changes(fx, "org.create");
    assert_null(strstr(changes, "13800138000"));
    ifx_audit_verify_clean(fx);
}

/* Whoever may read a client's requests reads its name (the queue's client column), nothing more:
 * an agent without org.read gets both names; a client user gets only their own; an unknown id or
 * the provider's own organisation gets none. Each distinct id is looked up once. */
static void test_client_names_for_request_readers(void **state)
{
    IFX(state);
    ifx_as(fx, 1, 0, ROLE_AGENT);
    struct org *items = NULL;
    size_t n = 0;
    assert_int_equal(org_list_clients(&fx->ctx, 0, 10, &items, &n, NULL, &fx->err), KF_E_FORBIDDEN);
    int64_t ids[] = {fx->client_a, fx->client_b, fx->client_a, 424242, fx->provider_id};
    const char *names[5];
    T_OK(org_client_names(&fx->ctx, ids, 5, names, &fx->err));
    assert_string_equal(names[0], "甲客户");
    assert_string_equal(names[1], "乙客户");
    assert_string_equal(names[2], "甲客户");
    assert_null(names[3]);
    assert_null(names[4]);
    ifx_as(fx, 2, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(org_client_names(&fx->ctx, ids, 3, names, &fx->err));
    assert_string_equal(names[0], "甲客户");
    assert_null(names[1]); /* another client's name is not the client user's to read */
    assert_string_equal(names[2], "甲客户");
}

static void test_client_organisations_list_get_and_disable(void **state)
{
    IFX(state);
    ifx_as(fx, 1, 0, ROLE_ACCOUNT_MANAGER);
    struct org *items = NULL;
    size_t n = 0;
    int64_t next = -1;
    T_OK(org_list_clients(&fx->ctx, 0, 1, &items, &n, &next, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == fx->client_b); /* newest first */
    T_OK(org_list_clients(&fx->ctx, next, 10, &items, &n, &next, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == fx->client_a);
    assert_true(next == 0);
    struct org o;
    T_OK(org_get(&fx->ctx, fx->client_a, &o, &fx->err));
    assert_string_equal(o.name, "甲客户");
    assert_false(o.provider);
    T_OK(org_get(&fx->ctx, fx->provider_id, &o, &fx->err));
    assert_true(o.provider);
    T_OK(org_set_disabled(&fx->ctx, fx->client_b, true, &fx->err));
    T_OK(org_set_disabled(&fx->ctx, fx->client_b, true, &fx->err)); /* already: no second record */
    T_OK(org_get(&fx->ctx, fx->client_b, &o, &fx->err));
    assert_true(o.disabled);
    assert_int_equal(ifx_audit_count(fx, "org.disable"), 1);
    /* finance reads organisations, changes none */
    ifx_as(fx, 2, 0, ROLE_FINANCE);
    T_OK(org_get(&fx->ctx, fx->client_a, &o, &fx->err));
    assert_int_equal(org_set_disabled(&fx->ctx, fx->client_a, true, &fx->err), KF_E_FORBIDDEN);
    ifx_audit_verify_clean(fx);
}

/* Editing an organisation: NULL keeps a field, "" clears it, the name cannot be cleared, the
 * provider's own organisation and unknown ids are not found, and the contacts are masked. */
static void test_organisation_update(void **state)
{
    IFX(state);
    ifx_as(fx, 1, 0, ROLE_ACCOUNT_MANAGER);
    struct org_input in = {.legal_name = "甲客户有限公司", .contact_phone = "021-6666-0000"};
    T_OK(org_update(&fx->ctx, fx->client_a, &in, &fx->err));
    struct org o;
    T_OK(org_get(&fx->ctx, fx->client_a, &o, &fx->err));
    assert_string_equal(o.name, "甲客户");
    assert_string_equal(o.legal_name, "甲客户有限公司");
    assert_string_equal(o.contact_phone, "021-6666-0000");
    T_OK(org_update(&fx->ctx, fx->client_a, &(struct org_input){.contact_phone = ""}, &fx->err));
    T_OK(org_get(&fx->ctx, fx->client_a, &o, &fx->err));
    assert_string_equal(o.contact_phone, "");
    assert_string_equal(o.legal_name, "甲客户有限公司");
    assert_int_equal(org_update(&fx->ctx, fx->client_a, &(struct org_input){.name = ""}, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "name");
    assert_int_equal(org_update(&fx->ctx, fx->client_a, &(struct org_input){.address = "\xff"}, &fx->err),
                     KF_E_INVALID);
    assert_int_equal(org_update(&fx->ctx, fx->provider_id, &in, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(org_update(&fx->ctx, fx->client_b + 1000, &in, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(ifx_audit_count(fx, "org.update"), 2);
    assert_null(strstr(ifx_audit_changes(fx, "org.update"), "021-6666")); /* masked in the trail */
    ifx_as(fx, 2, 0, ROLE_FINANCE);
    assert_int_equal(org_update(&fx->ctx, fx->client_a, &in, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, 3, fx->client_b, ROLE_CLIENT_ADMIN);
    assert_int_equal(org_update(&fx->ctx, fx->client_a, &in, &fx->err), KF_E_NOT_FOUND);
    ifx_audit_verify_clean(fx);
}

static void test_C5_2_client_user_sees_only_its_own_organisation(void **state)
{
    IFX(state);
    ifx_as(fx, 3, fx->client_a, ROLE_CLIENT_ADMIN);
    struct org o;
    T_OK(org_get(&fx->ctx, fx->client_a, &o, &fx->err));
    assert_int_equal(org_get(&fx->ctx, fx->client_b, &o, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(org_get(&fx->ctx, fx->provider_id, &o, &fx->err), KF_E_NOT_FOUND);
    struct org *items;
    size_t n;
    T_OK(org_list_clients(&fx->ctx, 0, 50, &items, &n, NULL, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == fx->client_a);
    assert_int_equal(org_set_disabled(&fx->ctx, fx->client_b, true, &fx->err), KF_E_NOT_FOUND);
    ifx_as_anonymous(fx);
    assert_int_equal(org_get(&fx->ctx, fx->client_a, &o, &fx->err), KF_E_UNAUTHENTICATED);
}

/* --- users ------------------------------------------------------------------------------------ */

static void test_user_names_that_look_alike_are_refused(void **state)
{
    IFX(state);
    make_user(fx, 0, "admin", ROLE_ADMIN);
    make_user(fx, fx->client_b, "cope", ROLE_CLIENT_STAFF);
    int64_t before = ifx_audit_total(fx);
    static const char *const lookalikes[] = {"Admin", "ＡＤＭＩＮ", "adrnin", CYRILLIC_COPE, "COPE"};
    for (size_t i = 0; i < sizeof lookalikes / sizeof lookalikes[0]; i++) {
        struct user_input in = {.client_id = fx->client_a, .username = lookalikes[i], .password = STRONG_PW,
                                .roles = ROLE_CLIENT_STAFF};
        int rc = user_create(&fx->ctx, &in, NULL, &fx->err);
        if (rc != KF_E_CONFLICT) fail_msg("%s: rc %d (%s)", lookalikes[i], rc, fx->err.detail);
        assert_string_equal(fx->err.field, "username");
    }
    /* а (Cyrillic) inside Latin letters: refused as mixed scripts before any look-up */
    struct user_input mixed = {.client_id = 0, .username = CYRILLIC_A_DMIN, .password = STRONG_PW, .roles = ROLE_AGENT};
    assert_int_equal(user_create(&fx->ctx, &mixed, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "username");
    assert_int_equal(ifx_audit_total(fx), before);
    assert_int_equal(ifx_count_text(fx, "SELECT count(*) FROM users WHERE username <> $1", ""), 2);
}

struct race_arg {
    struct ifx *fx;
    const char *name;
    int rc;
};

static void *race_create(void *p)
{
    struct race_arg *r = p;
    struct arena *a = arena_new(0);
    struct actor sys = {.kind = ACTOR_SYSTEM};
    struct kf_ctx ctx = {.env = &r->fx->env, .arena = a, .request_id = "race", .actor = &sys, .source_addr = ""};
    struct user_input in = {.client_id = r->fx->client_a, .username = r->name, .password = STRONG_PW,
                            .roles = ROLE_CLIENT_STAFF};
    struct kf_err err;
    r->rc = user_create(&ctx, &in, NULL, &err);
    arena_free(&a);
    return NULL;
}

/* Two look-alike names created at once: the unique skeleton lets exactly one in, on either engine. */
static void test_look_alike_names_created_at_once_let_one_in(void **state)
{
    IFX(state);
    struct race_arg r[2] = {{fx, "racer", -100}, {fx, "RACER", -100}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, race_create, &r[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    assert_true((r[0].rc == 0 && r[1].rc == KF_E_CONFLICT) || (r[1].rc == 0 && r[0].rc == KF_E_CONFLICT));
    assert_int_equal(ifx_audit_count(fx, "user.create"), 1);
    ifx_audit_verify_clean(fx);
}

static void test_weak_passwords_are_refused(void **state)
{
    IFX(state);
    static const char *const weak[] = {"woaini1314", "a123456", "qq123456", "short", "zhangwei2027", "elephant"};
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
        struct user_input in = {.client_id = 0, .username = "zhangwei2027", .password = weak[i], .roles = ROLE_AGENT};
        int rc = user_create(&fx->ctx, &in, NULL, &fx->err);
        if (rc != KF_E_INVALID) fail_msg("%s: rc %d", weak[i], rc);
        assert_string_equal(fx->err.field, "password");
    }
    assert_int_equal(ifx_audit_count(fx, "user.create"), 0);
}

static void test_roles_must_fit_the_organisation_kind(void **state)
{
    IFX(state);
    struct user_input in = {.client_id = fx->client_a, .username = "li.na", .password = STRONG_PW,
                            .roles = ROLE_CLIENT_STAFF | ROLE_AGENT};
    assert_int_equal(user_create(&fx->ctx, &in, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "roles");
    in = (struct user_input){.client_id = 0, .username = "li.na", .password = STRONG_PW, .roles = ROLE_CLIENT_ADMIN};
    assert_int_equal(user_create(&fx->ctx, &in, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "roles");
    in.roles = 0;
    assert_int_equal(user_create(&fx->ctx, &in, NULL, &fx->err), KF_E_INVALID);
    int64_t id = make_user(fx, fx->client_a, "li.na", ROLE_CLIENT_STAFF);
    assert_int_equal(user_set_roles(&fx->ctx, fx->client_a, id, ROLE_ADMIN, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "roles");
    struct user u;
    T_OK(user_get(&fx->ctx, fx->client_a, id, &u, &fx->err));
    assert_int_equal(u.roles, ROLE_CLIENT_STAFF);
    assert_true(u.org_id == fx->client_a);
    /* a disabled client takes no new users */
    T_OK(org_set_disabled(&fx->ctx, fx->client_b, true, &fx->err));
    in = (struct user_input){.client_id = fx->client_b, .username = "zhao", .password = STRONG_PW,
                             .roles = ROLE_CLIENT_STAFF};
    assert_int_equal(user_create(&fx->ctx, &in, NULL, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(ifx_audit_count(fx, "user.create"), 1);
    ifx_audit_verify_clean(fx);
}

static void test_nobody_raises_their_own_roles(void **state)
{
    IFX(state);
    int64_t cadm = make_user(fx, fx->client_a, "chen", ROLE_CLIENT_ADMIN);
    int64_t am = make_user(fx, 0, "manager", ROLE_ACCOUNT_MANAGER);
    ifx_as(fx, cadm, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(user_set_roles(&fx->ctx, fx->client_a, cadm, ROLE_CLIENT_ADMIN | ROLE_CLIENT_SUPERVISOR, &fx->err),
                     KF_E_FORBIDDEN);
    assert_string_equal(fx->err.field, "roles");
    /* dropping one's own role is fine */
    ifx_as(fx, am, 0, ROLE_ACCOUNT_MANAGER | ROLE_ADMIN);
    int64_t admin = make_user(fx, 0, "root.admin", ROLE_ADMIN);
    ifx_as(fx, admin, 0, ROLE_ADMIN);
    assert_int_equal(user_set_roles(&fx->ctx, 0, admin, ROLE_ADMIN | ROLE_FINANCE, &fx->err), KF_E_FORBIDDEN);
    T_OK(user_set_roles(&fx->ctx, 0, am, ROLE_ACCOUNT_MANAGER | ROLE_SUPERVISOR, &fx->err));
    /* an account manager manages client users, not provider users (nor themselves) */
    ifx_as(fx, am, 0, ROLE_ACCOUNT_MANAGER);
    assert_int_equal(user_set_roles(&fx->ctx, 0, am, ROLE_ADMIN, &fx->err), KF_E_FORBIDDEN);
    T_OK(user_set_roles(&fx->ctx, fx->client_a, cadm, ROLE_CLIENT_ADMIN | ROLE_CLIENT_SUPERVISOR, &fx->err));
    struct user u;
    T_OK(user_get(&fx->ctx, fx->client_a, cadm, &u, &fx->err));
    assert_int_equal(u.roles, ROLE_CLIENT_ADMIN | ROLE_CLIENT_SUPERVISOR);
    assert_int_equal(ifx_audit_count(fx, "user.set_roles"), 2);
    ifx_audit_verify_clean(fx);
}

static void test_C5_2_users_of_another_client_are_not_found(void **state)
{
    IFX(state);
    int64_t b_user = make_user(fx, fx->client_b, "zhao.b", ROLE_CLIENT_STAFF);
    int64_t a_admin = make_user(fx, fx->client_a, "qian.a", ROLE_CLIENT_ADMIN);
    ifx_as(fx, a_admin, fx->client_a, ROLE_CLIENT_ADMIN);
    struct user u;
    assert_int_equal(user_get(&fx->ctx, fx->client_b, b_user, &u, &fx->err), KF_E_NOT_FOUND);
    /* the id of B's user under A's scope: the query finds nothing either */
    assert_int_equal(user_get(&fx->ctx, fx->client_a, b_user, &u, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(user_disable(&fx->ctx, fx->client_a, b_user, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(user_reset_password(&fx->ctx, fx->client_b, b_user, STRONG_PW2, &fx->err), KF_E_NOT_FOUND);
    struct user *items;
    size_t n;
    T_OK(user_list(&fx->ctx, fx->client_a, 0, 50, &items, &n, NULL, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == a_admin);
    assert_int_equal(user_list(&fx->ctx, 0, 0, 50, &items, &n, NULL, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(ifx_audit_count(fx, "user.disable"), 0);
}

static void test_users_list_by_key_pages(void **state)
{
    IFX(state);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "staff%d", i);
        ids[i] = make_user(fx, fx->client_a, name, ROLE_CLIENT_STAFF);
    }
    struct user *items;
    size_t n;
    int64_t next;
    T_OK(user_list(&fx->ctx, fx->client_a, 0, 2, &items, &n, &next, &fx->err));
    assert_int_equal(n, 2);
    assert_true(items[0].id == ids[2] && items[1].id == ids[1]);
    T_OK(user_list(&fx->ctx, fx->client_a, next, 2, &items, &n, &next, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == ids[0]);
    assert_true(next == 0);
}

static void test_login_verifies_name_password_and_state(void **state)
{
    IFX(state);
    int64_t id = make_user(fx, fx->client_a, "wang.fang", ROLE_CLIENT_STAFF);
    ifx_as_anonymous(fx);
    struct user u;
    T_OK(user_verify_login(&fx->ctx, "wang.fang", STRONG_PW, &u, &fx->err));
    assert_true(u.id == id);
    assert_true(u.client_id == fx->client_a);
    T_OK(user_verify_login(&fx->ctx, "WANG.FANG", STRONG_PW, &u, &fx->err)); /* one name up to look-alikes */
    assert_int_equal(user_verify_login(&fx->ctx, "wang.fang", STRONG_PW2, &u, &fx->err), KF_E_UNAUTHENTICATED);
    assert_true(u.id == 0);
    assert_int_equal(user_verify_login(&fx->ctx, "nobody", STRONG_PW, &u, &fx->err), KF_E_UNAUTHENTICATED);
    assert_int_equal(user_verify_login(&fx->ctx, "bad name!", STRONG_PW, &u, &fx->err), KF_E_UNAUTHENTICATED);
    /* a disabled user, then a user of a disabled client, cannot log in */
    ifx_as_system(fx);
    T_OK(user_disable(&fx->ctx, fx->client_a, id, &fx->err));
    ifx_as_anonymous(fx);
    assert_int_equal(user_verify_login(&fx->ctx, "wang.fang", STRONG_PW, &u, &fx->err), KF_E_UNAUTHENTICATED);
    ifx_as_system(fx);
    make_user(fx, fx->client_b, "li.b", ROLE_CLIENT_STAFF);
    T_OK(org_set_disabled(&fx->ctx, fx->client_b, true, &fx->err));
    ifx_as_anonymous(fx);
    assert_int_equal(user_verify_login(&fx->ctx, "li.b", STRONG_PW, &u, &fx->err), KF_E_UNAUTHENTICATED);
    assert_int_equal(ifx_audit_count(fx, "user.disable"), 1);
    ifx_audit_verify_clean(fx);
}

static void test_passwords_change_and_reset_with_masked_audit(void **state)
{
    IFX(state);
    int64_t id = make_user(fx, fx->client_a, "sun.li", ROLE_CLIENT_STAFF);
    ifx_as(fx, id, fx->client_a, ROLE_CLIENT_STAFF);
    assert_int_equal(user_change_password(&fx->ctx, STRONG_PW2, STRONG_PW2, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "current_password");
    assert_int_equal(user_change_password(&fx->ctx, STRONG_PW, "a123456", &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "password");
    T_OK(user_change_password(&fx->ctx, STRONG_PW, STRONG_PW2, &fx->err));
    /* staff cannot reset others' passwords; the client admin can */
    assert_int_equal(user_reset_password(&fx->ctx, fx->client_a, id, STRONG_PW, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, 77, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(user_reset_password(&fx->ctx, fx->client_a, id, STRONG_PW, &fx->err));
    ifx_as_anonymous(fx);
    struct user u;
    T_OK(user_verify_login(&fx->ctx, "sun.li", STRONG_PW, &u, &fx->err));
    assert_int_equal(ifx_audit_count(fx, "user.change_password"), 1);
    assert_int_equal(ifx_audit_count(fx, "user.reset_password"), 1);
    assert_string_equal(ifx_audit_changes(fx, "user.reset_password"), "{\"password\":\"***\"}");
    char *created = ifx_audit_changes(fx, "user.create");
    assert_non_null(strstr(created, "\"password\":\"***\""));
    assert_null(strstr(created, "argon2"));
    assert_null(strstr(created, STRONG_PW));
    ifx_audit_verify_clean(fx);
}

static void test_login_rehashes_when_limits_rise(void **state)
{
    IFX(state);
    int64_t id = make_user(fx, 0, "rehash.me", ROLE_AGENT);
    struct password_params was = password_params_get(), raised = was;
    raised.opslimit = was.opslimit + 1;
    T_OK(password_configure(&raised, &fx->err));
    ifx_as_anonymous(fx);
    struct user u;
    int rc = user_verify_login(&fx->ctx, "rehash.me", STRONG_PW, &u, &fx->err);
    T_OK(password_configure(&was, &fx->err));
    T_OK(rc);
    assert_int_equal(ifx_audit_count(fx, "user.rehash_password"), 1);
    assert_string_equal(ifx_audit_changes(fx, "user.rehash_password"), "{\"password_hash\":\"***\"}");
    T_OK(password_configure(&raised, &fx->err));
    rc = user_verify_login(&fx->ctx, "rehash.me", STRONG_PW, &u, &fx->err); /* now current: no second rehash */
    T_OK(password_configure(&was, &fx->err));
    T_OK(rc);
    assert_true(u.id == id);
    assert_int_equal(ifx_audit_count(fx, "user.rehash_password"), 1);
    ifx_audit_verify_clean(fx);
}

/* --- teams ------------------------------------------------------------------------------------ */

/* --- a disabled user or a changed password leaves no way in -------------------------------------- */

struct login_args {
    struct ifx *fx;
    int64_t user_id, client_id;
    unsigned roles;
    char session[TOKEN_TEXT_MAX];
    char api[TOKEN_TEXT_MAX];
};

static int open_session_and_token(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct login_args *a = arg;
    int64_t id;
    int rc = session_create(c, &a->fx->ctx, NULL, a->user_id, a->client_id, "203.0.113.5", "unit", a->session, &id,
                            err);
    struct api_token_new n = {.user_id = a->user_id, .client_id = a->client_id, .owner_roles = a->roles,
                              .name = "integration", .roles = a->roles,
                              .expires = clock_now_ms(a->fx->clock) + 24LL * 3600 * 1000};
    if (rc == 0) rc = api_token_create(c, &a->fx->ctx, &n, a->api, &id, err);
    return rc;
}

static void login_both(struct ifx *fx, struct login_args *a)
{
    T_OK(store_write(fx->store, open_session_and_token, a, &fx->err));
    struct session_info si;
    T_OK(session_resolve(fx->store, fx->clock, NULL, a->session, &si, &fx->err));
    struct api_token_info ti;
    T_OK(api_token_resolve(fx->store, fx->clock, a->api, &ti, &fx->err));
}

static void test_disabling_a_user_ends_sessions_and_revokes_tokens(void **state)
{
    IFX(state);
    int64_t uid = make_user(fx, fx->client_a, "lisi", ROLE_CLIENT_STAFF);
    struct login_args a = {.fx = fx, .user_id = uid, .client_id = fx->client_a, .roles = ROLE_CLIENT_STAFF};
    login_both(fx, &a);
    T_OK(user_disable(&fx->ctx, fx->client_a, uid, &fx->err));
    struct session_info si;
    struct api_token_info ti;
    assert_int_equal(session_resolve(fx->store, fx->clock, NULL, a.session, &si, &fx->err), KF_E_UNAUTHENTICATED);
    assert_int_not_equal(api_token_resolve(fx->store, fx->clock, a.api, &ti, &fx->err), 0);
    assert_int_equal(ifx_audit_count(fx, "session.end_all"), 1);
}

static void test_a_password_reset_ends_every_session_of_that_user_only(void **state)
{
    IFX(state);
    int64_t u1 = make_user(fx, fx->client_a, "wangwu", ROLE_CLIENT_STAFF);
    int64_t u2 = make_user(fx, fx->client_a, "zhaoliu", ROLE_CLIENT_STAFF);
    struct login_args a1 = {.fx = fx, .user_id = u1, .client_id = fx->client_a, .roles = ROLE_CLIENT_STAFF};
    struct login_args a2 = {.fx = fx, .user_id = u2, .client_id = fx->client_a, .roles = ROLE_CLIENT_STAFF};
    login_both(fx, &a1);
    login_both(fx, &a2);
    T_OK(user_reset_password(&fx->ctx, fx->client_a, u1, "另一个-很长的-口令-2027", &fx->err));
    struct session_info si;
    assert_int_equal(session_resolve(fx->store, fx->clock, NULL, a1.session, &si, &fx->err), KF_E_UNAUTHENTICATED);
    T_OK(session_resolve(fx->store, fx->clock, NULL, a2.session, &si, &fx->err));
}

static void test_teams_hold_provider_users_only(void **state)
{
    IFX(state);
    int64_t agent = make_user(fx, 0, "agent.one", ROLE_AGENT);
    int64_t client_user = make_user(fx, fx->client_a, "client.one", ROLE_CLIENT_STAFF);
    ifx_as(fx, 9, 0, ROLE_ADMIN);
    int64_t team = 0;
    T_OK(team_create(&fx->ctx, "一线支持", &team, &fx->err));
    T_OK(team_add_member(&fx->ctx, team, agent, &fx->err));
    T_OK(team_add_member(&fx->ctx, team, agent, &fx->err)); /* already a member: no change, no record */
    assert_int_equal(team_add_member(&fx->ctx, team, client_user, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "user_id");
    assert_int_equal(team_add_member(&fx->ctx, team + 1, agent, &fx->err), KF_E_NOT_FOUND);
    int64_t *ids;
    size_t n;
    T_OK(team_members(&fx->ctx, team, &ids, &n, &fx->err));
    assert_int_equal(n, 1);
    assert_true(ids[0] == agent);
    ifx_as(fx, agent, 0, ROLE_AGENT);
    T_OK(team_members(&fx->ctx, team, &ids, &n, &fx->err));
    assert_int_equal(team_remove_member(&fx->ctx, team, agent, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, client_user, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(team_members(&fx->ctx, team, &ids, &n, &fx->err), KF_E_NOT_FOUND);
    ifx_as(fx, 9, 0, ROLE_ADMIN);
    T_OK(team_remove_member(&fx->ctx, team, agent, &fx->err));
    assert_int_equal(team_remove_member(&fx->ctx, team, agent, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(team_members(&fx->ctx, team + 1, &ids, &n, &fx->err), KF_E_NOT_FOUND);
    int64_t team2 = 0;
    T_OK(team_create(&fx->ctx, "二线支持", &team2, &fx->err));
    T_OK(team_add_member(&fx->ctx, team2, agent, &fx->err));
    struct team *teams;
    T_OK(team_list(&fx->ctx, &teams, &n, &fx->err));
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(teams[i].member_count, teams[i].id == team2 ? 1 : 0);
        assert_string_equal(teams[i].name, teams[i].id == team2 ? "二线支持" : "一线支持");
    }
    ifx_as(fx, client_user, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(team_list(&fx->ctx, &teams, &n, &fx->err), KF_E_NOT_FOUND);
    ifx_as(fx, 9, 0, ROLE_ADMIN);
    assert_int_equal(ifx_audit_count(fx, "team.create"), 2);
    assert_int_equal(ifx_audit_count(fx, "team.add_member"), 2);
    assert_int_equal(ifx_audit_count(fx, "team.remove_member"), 1);
    ifx_audit_verify_clean(fx);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_provider_organisation_exists_at_most_once),
        BOTH(test_client_organisations_list_get_and_disable),
        BOTH(test_client_names_for_request_readers),
        BOTH(test_organisation_update),
        BOTH(test_C5_2_client_user_sees_only_its_own_organisation),
        BOTH(test_user_names_that_look_alike_are_refused),
        BOTH(test_look_alike_names_created_at_once_let_one_in),
        BOTH(test_weak_passwords_are_refused),
        BOTH(test_roles_must_fit_the_organisation_kind),
        BOTH(test_nobody_raises_their_own_roles),
        BOTH(test_C5_2_users_of_another_client_are_not_found),
        BOTH(test_users_list_by_key_pages),
        BOTH(test_login_verifies_name_password_and_state),
        BOTH(test_passwords_change_and_reset_with_masked_audit),
        BOTH(test_login_rehashes_when_limits_rise),
        BOTH(test_teams_hold_provider_users_only),
        BOTH(test_disabling_a_user_ends_sessions_and_revokes_tokens),
        BOTH(test_a_password_reset_ends_every_session_of_that_user_only),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
