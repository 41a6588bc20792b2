/* money_parse_yuan (core/money.h): amounts typed in yuan become exact int64 fen, without floating
 * point; anything else is refused with the field named (the agreement form's fee items, C4.1.2). */
#include "harness.h"

#include "core/money.h"

static int64_t ok(const char *s)
{
    int64_t fen = -1;
    struct kf_err err = {0};
    assert_int_equal(money_parse_yuan(s, "amount", &fen, &err), 0);
    return fen;
}

static void refused(const char *s)
{
    int64_t fen = 42;
    struct kf_err err = {0};
    assert_int_equal(money_parse_yuan(s, "amount", &fen, &err), KF_E_INVALID);
    assert_string_equal(err.field, "amount");
    assert_true(fen == 42); /* unchanged */
}

static void test_yuan_to_fen_exactly(void **state)
{
    (void)state;
    assert_true(ok("8000.00") == 800000);
    assert_true(ok("8000") == 800000);
    assert_true(ok("8,000.00") == 800000);
    assert_true(ok(" 0.1 ") == 10);
    assert_true(ok("0.10") == 10);
    assert_true(ok("0.01") == 1);
    assert_true(ok("0") == 0);
    assert_true(ok("\xc2\xa5" "12,345.67") == 1234567);        /* ¥ */
    assert_true(ok("\xef\xbf\xa5 3000") == 300000);            /* ￥ */
    assert_true(ok("999999999999999.99") == 99999999999999999LL);
}

static void test_garbage_signs_and_too_many_digits_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"", " ", "-1", "+1", "-0.01", "1.234", "1.", ".5", "abc", "12a", "1e5", "1,,000", ",100",
                         "100,", "1 000", "0x10", "1000000000000000", "１２３", "NaN", "¥", "8000.00元", NULL};
    for (const char **b = bad; *b; b++) refused(*b);
    int64_t fen = 1;
    struct kf_err err = {0};
    assert_int_equal(money_parse_yuan(NULL, "amount", &fen, &err), KF_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yuan_to_fen_exactly),
        cmocka_unit_test(test_garbage_signs_and_too_many_digits_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
