/* Customers on both engines (C1.1.1, C7.1.1, C5.2): personal fields are ciphertext at rest, phone
 * and e-mail look-ups match across formats, name search finds parts of names (伟 → 张伟, 李伟), every
 * call is scoped by client — another client's customer is never found — and updates and deletions
 * rewrite tokens and erase data, each change leaving exactly its audit record. */
#include "identity_fixture.h"

#include <unicode/uclean.h>

#include "domain/customer.h"

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

static int64_t make_customer(struct ifx *fx, int64_t client_id, const char *name, const char *phone, const char *email)
{
    struct customer_input in = {.kind = "person", .name = name, .phone = phone, .email = email};
    int64_t id = 0;
    T_OK(customer_create(&fx->ctx, client_id, &in, &id, &fx->err));
    return id;
}

static bool has_id(const struct customer *items, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (items[i].id == id) return true;
    return false;
}

/* True when any personal column of customer `id` holds `needle` as raw bytes. */
static bool raw_row_contains(struct ifx *fx, int64_t id, const char *needle)
{
    struct store_conn *c;
    struct store_stmt *st;
    T_OK(store_acquire(fx->store, &c, &fx->err));
    T_OK(store_prepare(c, "SELECT name, phone, email, address, id_number, phone_hash, email_hash FROM customers WHERE id = $1",
                       &st, &fx->err));
    store_bind_int64(st, 1, id);
    assert_int_equal(store_step(st, &fx->err), STORE_ROW);
    bool found = false;
    for (int col = 0; col < 7; col++) {
        size_t len = 0;
        const void *p = store_col_blob(st, col, &len);
        if (p && memmem(p, len, needle, strlen(needle))) found = true;
    }
    store_finalize(&st);
    store_release(&c);
    return found;
}

static size_t search(struct ifx *fx, int64_t client_id, const char *q, struct customer **items)
{
    size_t n = 0;
    T_OK(customer_search_name(&fx->ctx, client_id, q, 50, items, &n, &fx->err));
    return n;
}

/* --- tests ------------------------------------------------------------------------------------ */

static void test_C7_1_1_personal_fields_are_encrypted_at_rest(void **state)
{
    IFX(state);
    struct customer_input in = {.kind = "person", .name = "张伟", .phone = "+86 138 0013 8000",
                                .email = "zhang.wei@example.cn", .address = "北京市朝阳区建国路88号",
                                .id_number = "110105199001011234"};
    int64_t id = 0;
    T_OK(customer_create(&fx->ctx, fx->client_a, &in, &id, &fx->err));
    static const char *const plain[] = {"张伟", "0013", "13800138000", "zhang.wei", "example.cn", "建国路",
                                        "110105199001011234"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (raw_row_contains(fx, id, plain[i])) fail_msg("plaintext %s at rest", plain[i]);
    struct customer cu;
    T_OK(customer_get(&fx->ctx, fx->client_a, id, &cu, &fx->err));
    assert_string_equal(cu.name, "张伟");
    assert_string_equal(cu.phone, "+86 138 0013 8000");
    assert_string_equal(cu.email, "zhang.wei@example.cn");
    assert_string_equal(cu.address, "北京市朝阳区建国路88号");
    assert_string_equal(cu.id_number, "110105199001011234");
    assert_string_equal(cu.kind, "person");
    /* the trail names the fields, never their values */
    char *changes = ifx_audit_changes(fx, "customer.create");
    assert_string_equal(changes, "{\"address\":\"***\",\"email\":\"***\",\"id_number\":\"***\",\"kind\":\"person\","
                                 "\"name\":\"***\",\"phone\":\"***\"}");
    assert_int_equal(ifx_audit_count(fx, "customer.create"), 1);
    ifx_audit_verify_clean(fx);
}

static void test_exact_phone_and_email_lookup_across_formats(void **state)
{
    IFX(state);
    int64_t id = make_customer(fx, fx->client_a, "李伟", "+86 138 0013 8000", "Li.Wei@Example.COM");
    make_customer(fx, fx->client_a, "王芳", "139-0000-1111", "wang@example.com");
    static const char *const phones[] = {"13800138000", "138-0013-8000", "0086 13800138000", "１３８００１３８０００"};
    struct customer *items;
    size_t n;
    for (size_t i = 0; i < sizeof phones / sizeof phones[0]; i++) {
        T_OK(customer_find_by_phone(&fx->ctx, fx->client_a, phones[i], &items, &n, &fx->err));
        if (n != 1 || items[0].id != id) fail_msg("%s: %zu found", phones[i], n);
    }
    T_OK(customer_find_by_email(&fx->ctx, fx->client_a, " li.wei@example.com ", &items, &n, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == id);
    T_OK(customer_find_by_phone(&fx->ctx, fx->client_a, "13800138001", &items, &n, &fx->err));
    assert_int_equal(n, 0);
    assert_int_equal(customer_find_by_phone(&fx->ctx, fx->client_a, "no digits", &items, &n, &fx->err), KF_E_INVALID);
}

static void test_name_search_finds_parts_of_names(void **state)
{
    IFX(state);
    int64_t zhangwei = make_customer(fx, fx->client_a, "张伟", NULL, NULL);
    int64_t liwei = make_customer(fx, fx->client_a, "李伟", NULL, NULL);
    int64_t wangfang = make_customer(fx, fx->client_a, "王芳", NULL, NULL);
    int64_t zhangweiming = make_customer(fx, fx->client_a, "张伟明", NULL, NULL);
    int64_t weizhang = make_customer(fx, fx->client_a, "伟张", NULL, NULL);
    struct customer *items;
    size_t n = search(fx, fx->client_a, "伟", &items);
    assert_int_equal(n, 4);
    assert_true(has_id(items, n, zhangwei) && has_id(items, n, liwei) && has_id(items, n, zhangweiming));
    assert_false(has_id(items, n, wangfang));
    assert_true(items[0].id == weizhang); /* newest first */
    n = search(fx, fx->client_a, "张伟", &items);
    assert_int_equal(n, 2);
    assert_true(has_id(items, n, zhangwei) && has_id(items, n, zhangweiming));
    assert_false(has_id(items, n, weizhang)); /* 张 and 伟, but not 张伟 */
    n = search(fx, fx->client_a, "　张伟明 ", &items); /* full-width space around */
    assert_int_equal(n, 1);
    assert_true(items[0].id == zhangweiming);
    assert_int_equal(search(fx, fx->client_a, "赵", &items), 0);
    assert_int_equal(customer_search_name(&fx->ctx, fx->client_a, "  ", 10, &items, &n, &fx->err), KF_E_INVALID);
}

static void test_latin_names_search_case_and_width_insensitively(void **state)
{
    IFX(state);
    int64_t id = make_customer(fx, fx->client_a, "John SMITH", NULL, NULL);
    struct customer *items;
    assert_int_equal(search(fx, fx->client_a, "smith", &items), 1);
    assert_true(items[0].id == id);
    assert_int_equal(search(fx, fx->client_a, "ｊｏｈｎ ｓｍ", &items), 1);
    assert_int_equal(search(fx, fx->client_a, "johnsmith", &items), 0);
}

static void test_C5_2_another_clients_customer_is_never_found(void **state)
{
    IFX(state);
    int64_t a_id = make_customer(fx, fx->client_a, "张伟", "13800138000", "zw@example.cn");
    ifx_as(fx, 501, fx->client_b, ROLE_CLIENT_ADMIN);
    struct customer cu;
    struct customer *items;
    size_t n;
    assert_int_equal(customer_get(&fx->ctx, fx->client_a, a_id, &cu, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(customer_get(&fx->ctx, fx->client_b, a_id, &cu, &fx->err), KF_E_NOT_FOUND);
    struct customer_input upd = {.name = "偷改"};
    assert_int_equal(customer_update(&fx->ctx, fx->client_b, a_id, &upd, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(customer_update(&fx->ctx, fx->client_a, a_id, &upd, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(customer_delete(&fx->ctx, fx->client_b, a_id, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(customer_search_name(&fx->ctx, fx->client_a, "张伟", 10, &items, &n, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(search(fx, fx->client_b, "张伟", &items), 0);
    T_OK(customer_find_by_phone(&fx->ctx, fx->client_b, "13800138000", &items, &n, &fx->err));
    assert_int_equal(n, 0);
    T_OK(customer_find_by_email(&fx->ctx, fx->client_b, "zw@example.cn", &items, &n, &fx->err));
    assert_int_equal(n, 0);
    T_OK(customer_list(&fx->ctx, fx->client_b, 0, 50, &items, &n, NULL, &fx->err));
    assert_int_equal(n, 0);
    /* provider staff reach it through the provider scope their role grants */
    ifx_as(fx, 601, 0, ROLE_AGENT);
    T_OK(customer_get(&fx->ctx, fx->client_a, a_id, &cu, &fx->err));
    assert_int_equal(customer_update(&fx->ctx, fx->client_a, a_id, &upd, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, 602, 0, ROLE_FINANCE);
    assert_int_equal(customer_get(&fx->ctx, fx->client_a, a_id, &cu, &fx->err), KF_E_FORBIDDEN);
    assert_int_equal(ifx_audit_count(fx, "customer.update"), 0);
    assert_int_equal(ifx_audit_count(fx, "customer.delete"), 0);
}

static void test_update_rewrites_tokens_and_hashes(void **state)
{
    IFX(state);
    int64_t id = make_customer(fx, fx->client_a, "张伟", "13800138000", NULL);
    int64_t before = ifx_count(fx, "SELECT count(*) FROM customer_name_tokens WHERE customer_id = $1", id, 0);
    assert_int_equal(before, 3); /* 张, 伟, 张伟 */
    ifx_as(fx, 701, fx->client_a, ROLE_CLIENT_ADMIN);
    struct customer_input upd = {.name = "赵敏芳", .phone = "13900001111"};
    T_OK(customer_update(&fx->ctx, fx->client_a, id, &upd, &fx->err));
    struct customer *items;
    size_t n;
    assert_int_equal(search(fx, fx->client_a, "伟", &items), 0);
    assert_int_equal(search(fx, fx->client_a, "敏芳", &items), 1);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM customer_name_tokens WHERE customer_id = $1", id, 0), 5);
    T_OK(customer_find_by_phone(&fx->ctx, fx->client_a, "13800138000", &items, &n, &fx->err));
    assert_int_equal(n, 0);
    T_OK(customer_find_by_phone(&fx->ctx, fx->client_a, "139 0000 1111", &items, &n, &fx->err));
    assert_int_equal(n, 1);
    /* fields not given stay; "" clears */
    struct customer_input clear = {.phone = ""};
    T_OK(customer_update(&fx->ctx, fx->client_a, id, &clear, &fx->err));
    struct customer cu;
    T_OK(customer_get(&fx->ctx, fx->client_a, id, &cu, &fx->err));
    assert_string_equal(cu.name, "赵敏芳");
    assert_null(cu.phone);
    struct customer_input bad = {.name = ""};
    assert_int_equal(customer_update(&fx->ctx, fx->client_a, id, &bad, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "name");
    assert_int_equal(ifx_audit_count(fx, "customer.update"), 2);
    assert_string_equal(ifx_audit_changes(fx, "customer.update"), "{\"phone\":\"***\"}");
    ifx_audit_verify_clean(fx);
}

static void test_delete_erases_personal_data(void **state)
{
    IFX(state);
    int64_t id = make_customer(fx, fx->client_a, "张伟", "13800138000", "zw@example.cn");
    ifx_as(fx, 801, fx->client_a, ROLE_CLIENT_STAFF);
    assert_int_equal(customer_delete(&fx->ctx, fx->client_a, id, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, 802, fx->client_a, ROLE_CLIENT_ADMIN);
    T_OK(customer_delete(&fx->ctx, fx->client_a, id, &fx->err));
    assert_int_equal(customer_delete(&fx->ctx, fx->client_a, id, &fx->err), KF_E_NOT_FOUND);
    struct customer cu;
    assert_int_equal(customer_get(&fx->ctx, fx->client_a, id, &cu, &fx->err), KF_E_NOT_FOUND);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM customers WHERE id = $1 AND name IS NULL AND phone IS NULL "
                                   "AND email_hash IS NULL AND deleted = 1 AND client_id = $2", id, fx->client_a), 1);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM customer_name_tokens WHERE customer_id = $1", id, 0), 0);
    struct customer *items;
    assert_int_equal(search(fx, fx->client_a, "张伟", &items), 0);
    assert_int_equal(ifx_audit_count(fx, "customer.delete"), 1);
    ifx_audit_verify_clean(fx);
}

static void test_customers_list_by_key_pages_and_validate_input(void **state)
{
    IFX(state);
    int64_t ids[3];
    ifx_as(fx, 901, fx->client_a, ROLE_CLIENT_STAFF);
    ids[0] = make_customer(fx, fx->client_a, "甲", NULL, NULL);
    ids[1] = make_customer(fx, fx->client_a, "乙", NULL, NULL);
    ids[2] = make_customer(fx, fx->client_a, "丙", NULL, NULL);
    struct customer *items;
    size_t n;
    int64_t next;
    T_OK(customer_list(&fx->ctx, fx->client_a, 0, 2, &items, &n, &next, &fx->err));
    assert_int_equal(n, 2);
    assert_true(items[0].id == ids[2] && items[1].id == ids[1]);
    T_OK(customer_list(&fx->ctx, fx->client_a, next, 2, &items, &n, &next, &fx->err));
    assert_int_equal(n, 1);
    assert_true(items[0].id == ids[0] && next == 0);
    struct customer_input bad_kind = {.kind = "robot", .name = "x"};
    assert_int_equal(customer_create(&fx->ctx, fx->client_a, &bad_kind, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "kind");
    struct customer_input bad_mail = {.kind = "enterprise", .name = "某公司", .email = "not-an-address"};
    assert_int_equal(customer_create(&fx->ctx, fx->client_a, &bad_mail, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "email");
    struct customer_input bad_phone = {.kind = "enterprise", .name = "某公司", .phone = "call me"};
    assert_int_equal(customer_create(&fx->ctx, fx->client_a, &bad_phone, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "phone");
    assert_int_equal(ifx_audit_count(fx, "customer.create"), 3);
    ifx_audit_verify_clean(fx);
}

/* C7.2.1: showing customers' personal data to a person leaves a record of which customers they saw
 * (ids, never values); kefu's own reads (system actor) leave none. */
static void test_C7_2_1_reads_of_personal_data_are_audited(void **state)
{
    IFX(state);
    int64_t id = make_customer(fx, fx->client_a, "王小明", "13800138000", NULL);
    struct customer cu, *items;
    size_t n;
    T_OK(customer_get(&fx->ctx, fx->client_a, id, &cu, &fx->err)); /* the fixture's system actor */
    assert_int_equal(ifx_audit_count(fx, "customer.read"), 0);
    ifx_as(fx, 1001, fx->client_a, ROLE_CLIENT_STAFF);
    T_OK(customer_get(&fx->ctx, fx->client_a, id, &cu, &fx->err));
    assert_int_equal(ifx_audit_count(fx, "customer.read"), 1);
    T_OK(customer_find_by_phone(&fx->ctx, fx->client_a, "138 0013 8000", &items, &n, &fx->err));
    assert_int_equal(n, 1);
    char *changes = ifx_audit_changes(fx, "customer.list");
    assert_non_null(strstr(changes, "\"phone\""));
    char idtext[32];
    snprintf(idtext, sizeof idtext, "\"%lld\"", (long long)id);
    assert_non_null(strstr(changes, idtext));
    assert_null(strstr(changes, "13800138000"));
    T_OK(customer_search_name(&fx->ctx, fx->client_a, "小明", 10, &items, &n, &fx->err));
    int64_t next;
    T_OK(customer_list(&fx->ctx, fx->client_a, 0, 10, &items, &n, &next, &fx->err));
    assert_int_equal(ifx_audit_count(fx, "customer.list"), 3);
    T_OK(customer_find_by_phone(&fx->ctx, fx->client_a, "139 0000 0000", &items, &n, &fx->err));
    assert_int_equal(n, 0); /* nothing shown, nothing recorded */
    assert_int_equal(ifx_audit_count(fx, "customer.list"), 3);
    ifx_audit_verify_clean(fx);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C7_1_1_personal_fields_are_encrypted_at_rest),
        BOTH(test_exact_phone_and_email_lookup_across_formats),
        BOTH(test_name_search_finds_parts_of_names),
        BOTH(test_latin_names_search_case_and_width_insensitively),
        BOTH(test_C5_2_another_clients_customer_is_never_found),
        BOTH(test_update_rewrites_tokens_and_hashes),
        BOTH(test_delete_erases_personal_data),
        BOTH(test_customers_list_by_key_pages_and_validate_input),
        BOTH(test_C7_2_1_reads_of_personal_data_are_audited),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
