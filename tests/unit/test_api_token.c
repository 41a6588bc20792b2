/* API tokens on both engines: shown once and stored only as a hash, scope a subset of the owner's
 * roles, expiry required and at most a year, revoke idempotent and owner-scoped, last_used written
 * at most once a minute, listing without values, and the audit records (trail verifies clean). */
#include "harness.h"

#include "domain_fixture.h"
#include "domain/api_token.h"

#define OWNER 6001
#define CLIENT 99
#define DAY (24 * DF_HOUR)

struct create_args {
    const struct kf_ctx *ctx;
    struct api_token_new n;
    char token[TOKEN_TEXT_MAX];
    int64_t id;
};

static int create_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct create_args *a = arg;
    return api_token_create(c, a->ctx, &a->n, a->token, &a->id, err);
}

static struct api_token_new new_token(struct fixture *fx, unsigned roles, int64_t lifetime)
{
    return (struct api_token_new){OWNER, CLIENT, ROLE_CLIENT_ADMIN | ROLE_CLIENT_STAFF, "ERP 集成", roles,
                                  df_now(fx) + lifetime};
}

static int try_create(struct fixture *fx, const struct api_token_new *n, char token[TOKEN_TEXT_MAX], int64_t *id)
{
    struct create_args a = {&fx->ctx, *n, {0}, 0};
    int rc = store_write(fx->store, create_fn, &a, &fx->err);
    if (token) memcpy(token, a.token, TOKEN_TEXT_MAX);
    if (id) *id = a.id;
    return rc;
}

static int64_t create(struct fixture *fx, char token[TOKEN_TEXT_MAX])
{
    struct api_token_new n = new_token(fx, ROLE_CLIENT_STAFF, 30 * DAY);
    int64_t id = 0;
    T_OK(try_create(fx, &n, token, &id));
    return id;
}

static int resolve(struct fixture *fx, const char *token, struct api_token_info *t)
{
    return api_token_resolve(fx->store, fx->clock, token, t, &fx->err);
}

struct revoke_args {
    const struct kf_ctx *ctx;
    int64_t user_id, id;
    bool revoked;
    int64_t n;
};

static int revoke_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct revoke_args *a = arg;
    return api_token_revoke(c, a->ctx, a->user_id, a->id, &a->revoked, err);
}

static int revoke_all_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct revoke_args *a = arg;
    return api_token_revoke_all_for_user(c, a->ctx, a->user_id, CLIENT, &a->n, err);
}

static void c7_1_1_a_token_is_shown_once_resolves_and_only_its_hash_is_stored(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX];
    int64_t id = create(fx, token);
    assert_true(token_is_well_formed(token, TOKEN_PREFIX_API));
    assert_memory_equal(token, "kf_", 3);
    struct api_token_info t;
    T_OK(resolve(fx, token, &t));
    assert_int_equal(t.id, id);
    assert_int_equal(t.user_id, OWNER);
    assert_int_equal(t.client_id, CLIENT);
    assert_int_equal(t.roles, ROLE_CLIENT_STAFF);
    assert_string_equal(t.name, "ERP 集成");
    const char *all = "SELECT id, token_hash, user_id, client_id, name, roles, created, expires, revoked, last_used "
                      "FROM api_tokens";
    assert_false(df_rows_contain(fx, all, token, strlen(token)));
    assert_false(df_rows_contain(fx, all, token + 3, strlen(token) - 3));
    assert_false(df_rows_contain(fx, "SELECT changes FROM audit_log", token + 3, strlen(token) - 3));
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(token, h);
    assert_true(df_rows_contain(fx, "SELECT token_hash FROM api_tokens", h, sizeof h));
    char second[TOKEN_TEXT_MAX];
    create(fx, second);
    assert_string_not_equal(token, second);
    assert_int_equal(df_audit_count(fx, "api_token.create"), 2);
    df_audit_intact(fx);
}

static void scope_must_be_a_subset_of_the_owners_roles(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct api_token_new n = new_token(fx, ROLE_CLIENT_ADMIN | ROLE_CLIENT_STAFF, 30 * DAY);
    T_OK(try_create(fx, &n, NULL, NULL)); /* all of the owner's roles: fine */
    n.roles = ROLE_CLIENT_STAFF | ROLE_CLIENT_SUPERVISOR; /* a superset of what the owner holds */
    assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_FORBIDDEN);
    assert_string_equal(fx->err.field, "roles");
    n.roles = ROLE_ADMIN;
    assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_FORBIDDEN);
    n.roles = 0;
    assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_INVALID);
    n.roles = 1u << 20; /* no such role */
    assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_INVALID);
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM api_tokens", 0, 0), 1);
    assert_int_equal(df_audit_count(fx, "api_token.create"), 1);
}

static void expiry_is_required_and_at_most_a_year(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct api_token_new n = new_token(fx, ROLE_CLIENT_STAFF, 0);
    n.expires = 0;
    assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_INVALID);
    assert_string_equal(fx->err.field, "expires");
    n.expires = df_now(fx);
    assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_INVALID);
    n.expires = df_now(fx) + API_TOKEN_LIFETIME_MAX_MS + 1;
    assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_INVALID);
    n.expires = df_now(fx) + API_TOKEN_LIFETIME_MAX_MS;
    char token[TOKEN_TEXT_MAX];
    T_OK(try_create(fx, &n, token, NULL));
    /* and it stops working at its expiry */
    struct api_token_info t;
    df_tick(fx, API_TOKEN_LIFETIME_MAX_MS - 1);
    T_OK(resolve(fx, token, &t));
    df_tick(fx, 1);
    assert_int_equal(resolve(fx, token, &t), KF_E_UNAUTHENTICATED);
    assert_non_null(strstr(fx->err.detail, "expired"));
}

static void names_are_checked(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    struct api_token_new n = new_token(fx, ROLE_CLIENT_STAFF, DAY);
    const char *bad[] = {"", "tab\there", "bad \xff utf8", "c1 \xc2\x85 control", NULL};
    for (int i = 0; bad[i]; i++) {
        n.name = bad[i];
        assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_INVALID);
        assert_string_equal(fx->err.field, "name");
    }
    n.name = NULL;
    assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_INVALID);
    char han[API_TOKEN_NAME_MAX * 3 + 4] = "";
    for (int i = 0; i < API_TOKEN_NAME_MAX; i++) memcpy(han + i * 3, "集", 4);
    n.name = han; /* 100 Han characters, 300 bytes */
    T_OK(try_create(fx, &n, NULL, NULL));
    memcpy(han + API_TOKEN_NAME_MAX * 3, "集", 4);
    assert_int_equal(try_create(fx, &n, NULL, NULL), KF_E_INVALID);
}

static void revoke_refuses_the_token_and_is_idempotent(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX], other[TOKEN_TEXT_MAX];
    int64_t id = create(fx, token);
    create(fx, other);
    struct revoke_args a = {&fx->ctx, OWNER + 1, id, false, 0};
    assert_int_equal(store_write(fx->store, revoke_fn, &a, &fx->err), KF_E_NOT_FOUND); /* not the owner */
    a.user_id = OWNER;
    T_OK(store_write(fx->store, revoke_fn, &a, &fx->err));
    assert_true(a.revoked);
    struct api_token_info t;
    assert_int_equal(resolve(fx, token, &t), KF_E_UNAUTHENTICATED);
    assert_non_null(strstr(fx->err.detail, "revoked"));
    T_OK(resolve(fx, other, &t));
    T_OK(store_write(fx->store, revoke_fn, &a, &fx->err)); /* again: fine, nothing recorded */
    assert_false(a.revoked);
    a.id = 12345;
    assert_int_equal(store_write(fx->store, revoke_fn, &a, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(df_audit_count(fx, "api_token.revoke"), 1);
    /* disabling the owner revokes the rest */
    a.user_id = OWNER;
    T_OK(store_write(fx->store, revoke_all_fn, &a, &fx->err));
    assert_int_equal(a.n, 1);
    assert_int_equal(resolve(fx, other, &t), KF_E_UNAUTHENTICATED);
    assert_int_equal(df_audit_count(fx, "api_token.revoke_all"), 1);
    df_audit_intact(fx);
}

static void malformed_and_unknown_tokens_are_unauthenticated(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX], fresh[TOKEN_TEXT_MAX];
    create(fx, token);
    struct api_token_info t;
    assert_int_equal(resolve(fx, token + 3, &t), KF_E_UNAUTHENTICATED); /* without its prefix */
    assert_int_equal(resolve(fx, NULL, &t), KF_E_UNAUTHENTICATED);
    assert_int_equal(resolve(fx, "kf_' OR ''='", &t), KF_E_UNAUTHENTICATED);
    T_OK(token_new(TOKEN_PREFIX_API, fresh, sizeof fresh, &fx->err));
    assert_int_equal(resolve(fx, fresh, &t), KF_E_UNAUTHENTICATED);
    token[10] = token[10] == 'A' ? 'B' : 'A';
    assert_int_equal(resolve(fx, token, &t), KF_E_UNAUTHENTICATED);
}

static void last_used_is_written_at_most_once_a_minute(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char token[TOKEN_TEXT_MAX];
    int64_t id = create(fx, token);
    assert_int_equal(df_query_int(fx, "SELECT count(*) FROM api_tokens WHERE id = $1 AND last_used IS NULL", 1, id), 1);
    struct api_token_info t;
    T_OK(resolve(fx, token, &t)); /* first use: written */
    assert_int_equal(t.last_used, DF_T0);
    struct store_stats before, after;
    store_get_stats(fx->store, &before);
    for (int i = 0; i < 59; i++) {
        df_tick(fx, 1000);
        T_OK(resolve(fx, token, &t));
    }
    store_get_stats(fx->store, &after);
    assert_int_equal(after.writes, before.writes);
    assert_int_equal(df_query_int(fx, "SELECT last_used FROM api_tokens WHERE id = $1", 1, id), DF_T0);
    df_tick(fx, 1000);
    T_OK(resolve(fx, token, &t));
    assert_int_equal(df_query_int(fx, "SELECT last_used FROM api_tokens WHERE id = $1", 1, id), DF_T0 + DF_MIN);
}

struct list_acc {
    int n;
    int64_t ids[8];
    struct fixture *fx;
    const char *token;
};

static int list_fn(void *arg, const struct api_token_info *t)
{
    struct list_acc *a = arg;
    if (a->n < 8) a->ids[a->n] = t->id;
    a->n++;
    assert_null(memmem(t, sizeof *t, a->token + 3, strlen(a->token) - 3));
    return 0;
}

static void list_shows_a_users_tokens_newest_first_without_values(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_ENGINE(fx);
    char t1[TOKEN_TEXT_MAX], t2[TOKEN_TEXT_MAX];
    int64_t id1 = create(fx, t1);
    df_tick(fx, 1000);
    int64_t id2 = create(fx, t2);
    struct api_token_new n = new_token(fx, ROLE_CLIENT_STAFF, DAY);
    n.user_id = OWNER + 1;
    T_OK(try_create(fx, &n, NULL, NULL));
    struct list_acc a = {0, {0}, fx, t1};
    T_OK(api_token_list(fx->store, OWNER, list_fn, &a, &fx->err));
    assert_int_equal(a.n, 2);
    assert_int_equal(a.ids[0], id2);
    assert_int_equal(a.ids[1], id1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        DF_BOTH(c7_1_1_a_token_is_shown_once_resolves_and_only_its_hash_is_stored),
        DF_BOTH(scope_must_be_a_subset_of_the_owners_roles),
        DF_BOTH(expiry_is_required_and_at_most_a_year),
        DF_BOTH(names_are_checked),
        DF_BOTH(revoke_refuses_the_token_and_is_idempotent),
        DF_BOTH(malformed_and_unknown_tokens_are_unauthenticated),
        DF_BOTH(last_used_is_written_at_most_once_a_minute),
        DF_BOTH(list_shows_a_users_tokens_newest_first_without_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
