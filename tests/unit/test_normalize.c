/* Normalised search and comparison keys (DESIGN.md "Text"): NFKC + case folding makes full-width
 * and half-width forms, ligatures and case compare equal; phone, e-mail and name keys; the
 * code-point iterator. No storage: these run once. */
#include "harness.h"

#include "core/err.h"
#include "core/normalize.h"

typedef int (*norm_fn)(const char *, size_t, struct buf *);

/* Normalises `in` with `fn` into a static copy (fails the test on error). */
static const char *norm(norm_fn fn, const char *in)
{
    static char copy[4096];
    struct buf b;
    buf_init(&b, sizeof copy - 1);
    int rc = fn(in, strlen(in), &b);
    if (rc != 0) fail_msg("normalising %s: rc %d", in, rc);
    snprintf(copy, sizeof copy, "%s", b.data ? b.data : "");
    buf_free(&b);
    return copy;
}

static void full_width_letters_and_digits_equal_ascii(void **state)
{
    (void)state;
    assert_string_equal(norm(normalize_text, "ＡＢＣ１２３"), "abc123");
    assert_string_equal(norm(normalize_text, "ABC123"), "abc123");
    assert_string_equal(norm(normalize_text, "ｈｅｌｌｏ　ＷＯＲＬＤ"), "hello world");
}

static void compatibility_forms_and_case_fold(void **state)
{
    (void)state;
    assert_string_equal(norm(normalize_text, "Straße"), "strasse");
    assert_string_equal(norm(normalize_text, "ΣΑΣ"), "σασ");
    assert_string_equal(norm(normalize_text, "ﬁle"), "file");
    assert_string_equal(norm(normalize_text, "①"), "1");
    assert_string_equal(norm(normalize_text, "㍿"), "株式会社");
    assert_string_equal(norm(normalize_text, "ｶﾞ"), "ガ");  /* half-width katakana + voiced mark compose */
    assert_string_equal(norm(normalize_text, "e\xcc\x81"), "\xc3\xa9"); /* e + U+0301 → é */
    assert_string_equal(norm(normalize_text, "HP-1020 U盘"), "hp-1020 u盘");
}

static void chinese_text_and_emoji_are_unchanged(void **state)
{
    (void)state;
    assert_string_equal(norm(normalize_text, "张伟明退款发票"), "张伟明退款发票");
    assert_string_equal(norm(normalize_text, "😀👍"), "😀👍");
}

static void invalid_utf8_and_nul_are_refused_and_leave_the_buffer_unchanged(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(normalize_text("ok", 2, &b), 0);
    assert_int_equal(normalize_text("\xff\xfe", 2, &b), KF_E_INVALID);
    assert_int_equal(normalize_text("a\0b", 3, &b), KF_E_INVALID);
    assert_int_equal(normalize_text("\xe5\xbc", 2, &b), KF_E_INVALID); /* truncated 张 */
    assert_int_equal(normalize_phone("\xed\xa0\x80", 3, &b), KF_E_INVALID); /* a surrogate */
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ok");
    buf_free(&b);
}

static void buffer_maximum_is_honoured(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(normalize_text("ＡＢＣＤＥＦＧＨＩ", strlen("ＡＢＣＤＥＦＧＨＩ"), &b), KF_E_TOO_LARGE);
    assert_int_equal(b.len, 0);
    assert_int_equal(normalize_text("abcdefghij", 10, &b), KF_E_TOO_LARGE);
    assert_int_equal(normalize_text("ＡＢ", strlen("ＡＢ"), &b), 0);
    assert_string_equal(b.data, "ab");
    buf_free(&b);
}

static void appends_after_existing_content(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(buf_puts(&b, "k:"), 0);
    assert_int_equal(normalize_name("  张　伟 ", strlen("  张　伟 "), &b), 0);
    assert_string_equal(b.data, "k:张 伟");
    assert_int_equal(normalize_phone(" +86 138", strlen(" +86 138"), &b), 0);
    assert_string_equal(b.data, "k:张 伟0138");
    buf_free(&b);
}

static void long_input_beyond_the_stack_buffer(void **state)
{
    (void)state;
    struct buf in, out;
    buf_init(&in, 1 << 20);
    buf_init(&out, 1 << 20);
    for (int i = 0; i < 5000; i++) assert_int_equal(buf_puts(&in, "Ａ张"), 0);
    assert_int_equal(normalize_text(in.data, in.len, &out), 0);
    assert_int_equal(out.len, 5000 * (1 + 3));
    assert_memory_equal(out.data, "a张a张", 8);
    buf_free(&in);
    buf_free(&out);
}

static void phone_spellings_have_one_key(void **state)
{
    (void)state;
    static const char *const same[] = {"138 0013 8000", "+86 13800138000", "13800138000", "0086-138-0013-8000",
                                       "＋８６ １３８ ００１３ ８０００", "(+86) 138-0013-8000", "+8613800138000"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        assert_string_equal(norm(normalize_phone, same[i]), "13800138000");
    }
}

static void phone_landline_with_country_code_matches_the_domestic_form(void **state)
{
    (void)state;
    assert_string_equal(norm(normalize_phone, "+86 10 1234 5678"), "01012345678");
    assert_string_equal(norm(normalize_phone, "010-12345678"), "01012345678");
    assert_string_equal(norm(normalize_phone, "+86 (0)10 1234 5678"), "01012345678");
    assert_string_equal(norm(normalize_phone, "+86 755 8888 9999"), "075588889999");
    /* without a '+', a leading 86 is not a country code; other country codes stay as digits */
    assert_string_equal(norm(normalize_phone, "86 1234"), "861234");
    assert_string_equal(norm(normalize_phone, "+1 (555) 010-9999"), "15550109999");
    assert_string_equal(norm(normalize_phone, "no digits"), "");
}

static void email_is_trimmed_and_case_folded(void **state)
{
    (void)state;
    assert_string_equal(norm(normalize_email, "  Zhang.Wei+kf@Example.COM \t"), "zhang.wei+kf@example.com");
    assert_string_equal(norm(normalize_email, "ｗｅｉ＠ｅｘａｍｐｌｅ．ｃｏｍ"), "wei@example.com");
    assert_string_equal(norm(normalize_email, "　"), "");
}

static void name_white_space_collapses_and_trims(void **state)
{
    (void)state;
    assert_string_equal(norm(normalize_name, "  张　伟 "), "张 伟");
    assert_string_equal(norm(normalize_name, "John\t\t SMITH\n"), "john smith");
    assert_string_equal(norm(normalize_name, "Ｌｉ\u2003Ｌｅｉ"), "li lei");
    assert_string_equal(norm(normalize_name, "张伟明"), "张伟明");
    assert_string_equal(norm(normalize_name, " \t "), "");
}

static void code_points_iterate_and_malformed_bytes_stop_safely(void **state)
{
    (void)state;
    const char *s = "a张😀";
    size_t pos = 0, len = strlen(s);
    assert_int_equal(normalize_next_cp(s, len, &pos), 0x61);
    assert_int_equal(normalize_next_cp(s, len, &pos), 0x5F20);
    assert_int_equal(normalize_next_cp(s, len, &pos), 0x1F600);
    assert_int_equal(pos, len);
    assert_int_equal(normalize_next_cp(s, len, &pos), -1);
    const char bad[] = "\xff" "a";
    pos = 0;
    assert_int_equal(normalize_next_cp(bad, 2, &pos), -1);
    assert_int_equal(pos, 1);
    assert_int_equal(normalize_next_cp(bad, 2, &pos), 'a');
    assert_true(normalize_is_space(0x3000));
    assert_true(normalize_is_space('\t'));
    assert_true(normalize_is_space(0x2028));
    assert_false(normalize_is_space(0x5F20));
    assert_false(normalize_is_space(0x200B)); /* zero-width space is a format character, not white space */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_width_letters_and_digits_equal_ascii),
        cmocka_unit_test(compatibility_forms_and_case_fold),
        cmocka_unit_test(chinese_text_and_emoji_are_unchanged),
        cmocka_unit_test(invalid_utf8_and_nul_are_refused_and_leave_the_buffer_unchanged),
        cmocka_unit_test(buffer_maximum_is_honoured),
        cmocka_unit_test(appends_after_existing_content),
        cmocka_unit_test(long_input_beyond_the_stack_buffer),
        cmocka_unit_test(phone_spellings_have_one_key),
        cmocka_unit_test(phone_landline_with_country_code_matches_the_domestic_form),
        cmocka_unit_test(email_is_trimmed_and_case_folded),
        cmocka_unit_test(name_white_space_collapses_and_trims),
        cmocka_unit_test(code_points_iterate_and_malformed_bytes_stop_safely),
    };
    return cmocka_run_group_tests_name("normalize", tests, NULL, NULL);
}
