/* Unit tests of src/domain/secret_token: length, alphabet, uniqueness, prefixes, the stored hash,
 * and the constant-time comparisons. */
#include "harness.h"

#include <sodium.h>

#include "core/err.h"
#include "domain/secret_token.h"

static int group_setup(void **state)
{
    return sodium_init() < 0 ? -1 : 0;
}

static bool is_base64url(const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

static void tokens_are_long_and_url_safe(void **state)
{
    char t[TOKEN_TEXT_MAX];
    struct kf_err err;
    assert_int_equal(token_new(NULL, t, sizeof t, &err), 0);
    assert_true(strlen(t) >= 43); /* 256 bits */
    assert_int_equal(strlen(t), TOKEN_BODY_CHARS);
    assert_true(is_base64url(t));
    assert_true(token_is_well_formed(t, NULL));
}

static int cmp_token(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void ten_thousand_tokens_are_distinct(void **state)
{
    enum { N = 10000 };
    char (*all)[TOKEN_TEXT_MAX] = calloc(N, sizeof *all);
    assert_non_null(all);
    struct kf_err err;
    for (int i = 0; i < N; i++) assert_int_equal(token_new(NULL, all[i], sizeof all[i], &err), 0);
    qsort(all, N, sizeof *all, cmp_token);
    for (int i = 1; i < N; i++) assert_string_not_equal(all[i - 1], all[i]);
    free(all);
}

static void api_tokens_carry_their_prefix(void **state)
{
    char t[TOKEN_TEXT_MAX];
    struct kf_err err;
    assert_int_equal(token_new(TOKEN_PREFIX_API, t, sizeof t, &err), 0);
    assert_int_equal(strncmp(t, "kf_", 3), 0);
    assert_int_equal(strlen(t), 3 + TOKEN_BODY_CHARS);
    assert_true(is_base64url(t + 3));
    assert_true(token_is_well_formed(t, TOKEN_PREFIX_API));
    assert_false(token_is_well_formed(t, NULL));
    assert_false(token_is_well_formed(t + 3, TOKEN_PREFIX_API));
}

static void bad_prefixes_and_small_buffers_are_refused(void **state)
{
    char t[TOKEN_TEXT_MAX];
    struct kf_err err;
    assert_int_equal(token_new("KF_", t, sizeof t, &err), KF_E_INVALID);
    assert_int_equal(token_new("kf-", t, sizeof t, &err), KF_E_INVALID);
    assert_int_equal(token_new("a_prefix_that_is_too_long", t, sizeof t, &err), KF_E_INVALID);
    assert_int_equal(token_new("kf_", t, 3 + TOKEN_BODY_CHARS, &err), KF_E_INVALID); /* no room for NUL */
    assert_int_equal(token_new("kf_", t, 3 + TOKEN_BODY_CHARS + 1, &err), 0);
    assert_int_equal(token_new("", t, sizeof t, &err), 0); /* "" means none */
    assert_int_equal(strlen(t), TOKEN_BODY_CHARS);
}

static void malformed_tokens_are_recognised(void **state)
{
    char t[TOKEN_TEXT_MAX];
    struct kf_err err;
    assert_int_equal(token_new(NULL, t, sizeof t, &err), 0);
    char bad[TOKEN_TEXT_MAX + 2];
    snprintf(bad, sizeof bad, "%sA", t);
    assert_false(token_is_well_formed(bad, NULL)); /* too long */
    snprintf(bad, sizeof bad, "%.42s", t);
    assert_false(token_is_well_formed(bad, NULL)); /* too short */
    snprintf(bad, sizeof bad, "%.42s=", t);
    assert_false(token_is_well_formed(bad, NULL)); /* padding, and not the alphabet */
    snprintf(bad, sizeof bad, "%.42s+", t);
    assert_false(token_is_well_formed(bad, NULL)); /* standard base64, not URL-safe */
    memset(bad, 'A', 42);
    bad[42] = 'E';
    bad[43] = '\0';
    assert_true(token_is_well_formed(bad, NULL)); /* 'E' = 000100: the two spare bits are zero */
    bad[42] = 'B';
    assert_false(token_is_well_formed(bad, NULL)); /* non-canonical: spare bits set */
    assert_false(token_is_well_formed("", NULL));
    assert_false(token_is_well_formed(NULL, NULL));
}

static void the_hash_is_stable_and_tells_tokens_apart(void **state)
{
    unsigned char h1[TOKEN_HASH_BYTES], h2[TOKEN_HASH_BYTES], h3[TOKEN_HASH_BYTES];
    token_hash("kf_abc", h1);
    token_hash("kf_abc", h2);
    token_hash("kf_abd", h3);
    assert_true(token_hash_equal(h1, h2, sizeof h1));
    assert_false(token_hash_equal(h1, h3, sizeof h1));
    /* BLAKE2b-256 of "abc" (RFC 7693 test input), so a stored hash stays valid across builds */
    unsigned char h[TOKEN_HASH_BYTES];
    char hex[2 * TOKEN_HASH_BYTES + 1];
    token_hash("abc", h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    assert_string_equal(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

static void text_comparison_is_exact(void **state)
{
    assert_true(token_text_equal("abc", "abc"));
    assert_false(token_text_equal("abc", "abd"));
    assert_false(token_text_equal("abc", "abcd"));
    assert_false(token_text_equal("abc", NULL));
    assert_false(token_text_equal(NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tokens_are_long_and_url_safe),
        cmocka_unit_test(ten_thousand_tokens_are_distinct),
        cmocka_unit_test(api_tokens_carry_their_prefix),
        cmocka_unit_test(bad_prefixes_and_small_buffers_are_refused),
        cmocka_unit_test(malformed_tokens_are_recognised),
        cmocka_unit_test(the_hash_is_stable_and_tells_tokens_apart),
        cmocka_unit_test(text_comparison_is_exact),
    };
    return cmocka_run_group_tests_name("tokens", tests, group_setup, NULL);
}
