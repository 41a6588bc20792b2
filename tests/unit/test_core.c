/* Unit tests of src/core: errors, arena, buffers, text, ids, clock, config, zones. */
#include "harness.h"

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/text.h"
#include "core/zone.h"

/* Every error code has a name, a status, both messages, and a row in docs/errors.md. */
static void error_codes_are_documented(void **state)
{
    FILE *f = fopen("docs/errors.md", "r");
    assert_non_null(f);
    static char doc[65536];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = '\0';
    fclose(f);
    for (int code = KF_E_INTERNAL; code > KF_E__LAST; code--) {
        const struct kf_code_info *info = kf_code_info(code);
        assert_int_equal(info->code, code);
        assert_true(info->http_status >= 400 && info->http_status < 600);
        assert_true(strlen(info->message_en) > 0 && strlen(info->message_zh) > 0);
        char needle[64];
        snprintf(needle, sizeof needle, "| %d | `%s` | %d |", code, info->name, info->http_status);
        if (!strstr(doc, needle)) fail_msg("docs/errors.md lacks the row: %s", needle);
    }
}

static void error_names_are_unique(void **state)
{
    for (int a = 0; a > KF_E__LAST; a--) {
        for (int b = a - 1; b > KF_E__LAST; b--) {
            assert_string_not_equal(kf_code_info(a)->name, kf_code_info(b)->name);
        }
    }
}

static void kf_fail_fills_error(void **state)
{
    struct kf_err err;
    kf_err_clear(&err);
    assert_int_equal(kf_fail(&err, KF_E_INVALID, "tag", "too long by %d", 3), KF_E_INVALID);
    assert_int_equal(err.code, KF_E_INVALID);
    assert_string_equal(err.field, "tag");
    assert_string_equal(err.detail, "too long by 3");
    assert_int_equal(kf_fail(NULL, KF_E_CONFLICT, NULL, NULL), KF_E_CONFLICT);
}

static void arena_allocations_are_aligned_and_distinct(void **state)
{
    struct arena *a = arena_new(64);
    char *prev = NULL;
    for (int i = 0; i < 1000; i++) {
        char *p = arena_alloc(a, (size_t)(i % 37) + 1);
        assert_true(((uintptr_t)p % 16) == 0);
        memset(p, 0xAB, (size_t)(i % 37) + 1);
        assert_ptr_not_equal(p, prev);
        prev = p;
    }
    char *big = arena_alloc(a, 1 << 20);
    memset(big, 1, 1 << 20);
    assert_string_equal(arena_printf(a, "%s-%d", "客服", 42), "客服-42");
    assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
    assert_true(arena_used(a) > (1 << 20));
    arena_free(&a);
    assert_null(a);
}

static void buf_refuses_growth_past_its_maximum(void **state)
{
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "12345"), 0);
    assert_int_equal(buf_printf(&b, "%d", 6789), 0);
    assert_int_equal(buf_puts(&b, "01"), KF_E_TOO_LARGE);
    assert_string_equal(b.data, "123456789"); /* unchanged by the refused append */
    assert_int_equal(buf_puts(&b, "0"), 0);
    assert_int_equal(b.len, 10);
    size_t len;
    char *p = buf_take(&b, &len);
    assert_int_equal(len, 10);
    assert_null(b.data);
    free(p);
    buf_free(&b);
}

static void utf8_validation_accepts_text_and_refuses_bad_bytes(void **state)
{
    assert_true(text_is_utf8("hello", 5));
    assert_true(text_is_utf8("客服协议 U盘 HP-1020", strlen("客服协议 U盘 HP-1020")));
    assert_true(text_is_utf8("\xF0\x9F\x98\x80", 4));       /* emoji */
    assert_false(text_is_utf8("a\0b", 3));                  /* NUL */
    assert_false(text_is_utf8("\xC0\xAF", 2));              /* overlong '/' */
    assert_false(text_is_utf8("\xE0\x80\xAF", 3));          /* overlong */
    assert_false(text_is_utf8("\xED\xA0\x80", 3));          /* surrogate */
    assert_false(text_is_utf8("\xF4\x90\x80\x80", 4));      /* > U+10FFFF */
    assert_false(text_is_utf8("\xE5\xAE", 2));              /* truncated */
    assert_false(text_is_utf8("\xFF", 1));
}

static void percent_decoding_handles_escapes_and_refuses_malformed(void **state)
{
    char out[64];
    assert_int_equal(text_percent_decode("a%20b+c", 7, out, true), 5);
    assert_string_equal(out, "a b c");
    assert_int_equal(text_percent_decode("a+b", 3, out, false), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(text_percent_decode("%E5%AE%A2", 9, out, false), 3);
    assert_string_equal(out, "客");
    assert_int_equal(text_percent_decode("%00", 3, out, false), 1);
    assert_false(text_is_utf8(out, 1));
    assert_int_equal(text_percent_decode("%4", 2, out, false), -1);
    assert_int_equal(text_percent_decode("%zz", 3, out, false), -1);
    assert_int_equal(text_percent_decode("abc%", 4, out, false), -1);
}

static void int_parsing_is_strict(void **state)
{
    int64_t v;
    assert_int_equal(text_parse_int64("42", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(text_parse_int64("-7", &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(text_parse_int64("", &v), KF_E_INVALID);
    assert_int_equal(text_parse_int64("4x", &v), KF_E_INVALID);
    assert_int_equal(text_parse_int64(" 4", &v), KF_E_INVALID);
    assert_int_equal(text_parse_int64("99999999999999999999", &v), KF_E_INVALID);
}

static void tokens_are_ascii_words_of_bounded_length(void **state)
{
    (void)state;
    assert_true(text_is_token("draft-form_7f3A", 64));
    assert_true(text_is_token("a", 1));
    assert_false(text_is_token("ab", 1));
    assert_false(text_is_token("", 64));
    assert_false(text_is_token(NULL, 64));
    assert_false(text_is_token("a b", 64));
    assert_false(text_is_token("a/b", 64));
    assert_false(text_is_token("键", 64));
}

static void ids_are_increasing_and_carry_their_time(void **state)
{
    int64_t now = 1795000000000LL; /* 2026-11 */
    int64_t prev = 0;
    int64_t node = -1;
    for (int i = 0; i < 10000; i++) { /* a frozen clock: far more ids than one millisecond's room */
        int64_t id = id_new(now);
        assert_true(id > prev);
        /* the process's node bits (8 below the 12-bit sequence) never change, so another process
         * with another node can never make the same id */
        if (node < 0) node = (id >> 12) & 0xff;
        assert_int_equal((id >> 12) & 0xff, node);
        prev = id;
    }
    assert_true(id_time_ms(id_new(now + 5000)) >= now + 5000);
    assert_true(id_new(now) > 0);
    int64_t parsed;
    assert_int_equal(id_parse("123", &parsed), 0);
    assert_int_equal(parsed, 123);
    assert_int_equal(id_parse("0", &parsed), KF_E_INVALID);
    assert_int_equal(id_parse("-5", &parsed), KF_E_INVALID);
    assert_int_equal(id_parse("12a", &parsed), KF_E_INVALID);
    assert_int_equal(id_parse("' OR 1=1", &parsed), KF_E_INVALID);
    assert_int_equal(id_parse(NULL, &parsed), KF_E_INVALID);
}

static void fake_clock_moves_only_forward(void **state)
{
    struct kf_clock *c = clock_new_fake(1000);
    assert_true(clock_is_fake(c));
    assert_int_equal(clock_now_ms(c), 1000);
    assert_int_equal(clock_set(c, 5000), 0);
    assert_int_equal(clock_now_ms(c), 5000);
    assert_int_equal(clock_set(c, 4000), KF_E_INVALID);
    assert_int_equal(clock_now_ms(c), 5000);
    clock_free(&c);
    struct kf_clock *r = clock_new_real();
    assert_false(clock_is_fake(r));
    assert_int_equal(clock_set(r, 1), KF_E_FORBIDDEN);
    assert_true(clock_now_ms(r) > 1700000000000LL);
    clock_free(&r);
}

/* Flags beat the environment, which beats the config file, which beats defaults. */
static void config_precedence_is_flag_env_file_default(void **state)
{
    char path[256];
    snprintf(path, sizeof path, "%s/kefu-config-%d.conf", getenv("KEFU_TEST_TMP") ? getenv("KEFU_TEST_TMP") : "/tmp",
             (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# a comment\nlisten = 127.0.0.1:9001\ndb = sqlite:/tmp/from-file.db\nthreads = 3\nmax-body=2048\n", f);
    fclose(f);
    setenv("KEFU_DB", "sqlite:/tmp/from-env.db", 1);      /* check-style: allow */
    setenv("KEFU_THREADS", "5", 1);                       /* check-style: allow */
    unsetenv("KEFU_LISTEN");
    char *argv[] = {"kefu", "serve", "--config", path, "--threads", "7", "--trusted-proxy", "10.0.0.1",
                    "--trusted-proxy=10.0.0.2", "--test-mode"};
    struct kf_config cfg;
    struct kf_err err;
    assert_int_equal(config_load(&cfg, CONFIG_FOR_SERVE, 10, argv, 2, &err), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:9001");        /* file */
    assert_string_equal(cfg.db, "sqlite:/tmp/from-env.db");   /* env over file */
    assert_int_equal(cfg.threads, 7);                         /* flag over env */
    assert_int_equal(cfg.max_body, 2048);                     /* file */
    assert_int_equal(cfg.max_per_ip, 64);                     /* default */
    assert_int_equal(cfg.n_trusted_proxies, 2);
    assert_string_equal(cfg.trusted_proxies[1], "10.0.0.2");
    assert_true(cfg.test_mode);
    unsetenv("KEFU_DB");
    unsetenv("KEFU_THREADS");
    unlink(path);
}

static void config_refuses_unknown_and_malformed_options(void **state)
{
    struct kf_config cfg;
    struct kf_err err;
    char *a1[] = {"kefu", "serve", "--no-such-thing"};
    assert_int_equal(config_load(&cfg, CONFIG_FOR_SERVE, 3, a1, 2, &err), KF_E_CONFIG);
    assert_non_null(strstr(err.detail, "no-such-thing"));
    char *a2[] = {"kefu", "serve", "--threads", "many"};
    assert_int_equal(config_load(&cfg, CONFIG_FOR_SERVE, 4, a2, 2, &err), KF_E_CONFIG);
    char *a3[] = {"kefu", "serve", "--db"};
    assert_int_equal(config_load(&cfg, CONFIG_FOR_SERVE, 3, a3, 2, &err), KF_E_CONFIG);
    char *a4[] = {"kefu", "migrate", "--listen", "x:1"}; /* serve-only option */
    assert_int_equal(config_load(&cfg, CONFIG_FOR_MIGRATE, 4, a4, 2, &err), KF_E_CONFIG);
    char *a5[] = {"kefu", "serve", "--config", "/nonexistent/kefu.conf"};
    assert_int_equal(config_load(&cfg, CONFIG_FOR_SERVE, 4, a5, 2, &err), KF_E_CONFIG);
}

/* Wall times typed in a zone become UTC: midnight of a day (or of the day after, for an upper bound),
 * a datetime-local value, the DST gap refused, and anything else refused. */
static void local_wall_times_parse_in_their_zone(void **state)
{
    int64_t ms = 0;
    assert_int_equal(zone_parse_local("2026-02-14", "Asia/Shanghai", false, &ms), 0);
    assert_int_equal(ms, INT64_C(1770998400000)); /* 2026-02-13T16:00Z */
    assert_int_equal(zone_parse_local("2026-02-14", "Asia/Shanghai", true, &ms), 0);
    assert_int_equal(ms, INT64_C(1771084800000));
    assert_int_equal(zone_parse_local("2026-02-14T09:30", "Asia/Shanghai", false, &ms), 0);
    assert_int_equal(ms, INT64_C(1771032600000));
    assert_int_equal(zone_parse_local("2026-02-14 09:30", "Asia/Shanghai", false, &ms), 0); /* typed by hand */
    assert_int_equal(ms, INT64_C(1771032600000));
    assert_int_equal(zone_parse_local("2026-07-01T12:00", "Europe/Berlin", false, &ms), 0);
    assert_int_equal(ms, INT64_C(1782900000000)); /* summer time: 10:00Z */
    const char *bad[] = {"", "2026-2-14", "2026-02-30", "2026-13-01", "2026-02-14T24:00", "2026-02-14_09:30",
                         "2026-02-14T09:30:00", "1969-12-31", "２０２６-02-14", "2026-02-14T9:30", "x2026-02-14"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms = 42;
        assert_int_equal(zone_parse_local(bad[i], "Asia/Shanghai", false, &ms), -1);
        assert_int_equal(ms, 42);
    }
    assert_int_equal(zone_parse_local(NULL, "Asia/Shanghai", false, &ms), -1);
    assert_int_equal(zone_parse_local("2026-02-14", "Mars/Olympus", false, &ms), -1);
    assert_null(zone_calendar_open(NULL));
    UCalendar *uc = zone_calendar_open("Asia/Shanghai");
    assert_non_null(uc);
    ucal_close(uc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_codes_are_documented),
        cmocka_unit_test(error_names_are_unique),
        cmocka_unit_test(kf_fail_fills_error),
        cmocka_unit_test(arena_allocations_are_aligned_and_distinct),
        cmocka_unit_test(buf_refuses_growth_past_its_maximum),
        cmocka_unit_test(utf8_validation_accepts_text_and_refuses_bad_bytes),
        cmocka_unit_test(percent_decoding_handles_escapes_and_refuses_malformed),
        cmocka_unit_test(int_parsing_is_strict),
        cmocka_unit_test(tokens_are_ascii_words_of_bounded_length),
        cmocka_unit_test(ids_are_increasing_and_carry_their_time),
        cmocka_unit_test(fake_clock_moves_only_forward),
        cmocka_unit_test(config_precedence_is_flag_env_file_default),
        cmocka_unit_test(config_refuses_unknown_and_malformed_options),
        cmocka_unit_test(local_wall_times_parse_in_their_zone),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
