/* Unit tests of src/domain/password: argon2id hashing at the real INTERACTIVE limits (so only a
 * few hashes), rehash detection, and each strength rule of issue 3. */
#include "harness.h"

#include <pthread.h>
#include <utf8proc.h>

#include "core/embedded.h"
#include "core/err.h"
#include "domain/password.h"

#define GOOD "蓝色的海边-灯塔-2026"

static char good_hash[PASSWORD_HASH_BYTES]; /* made once, at the limits in force */

static int group_setup(void **state)
{
    if (sodium_init() < 0) return -1;
    struct kf_err err;
    if (password_init(&err) != 0) {
        fprintf(stderr, "password_init: %s\n", err.detail);
        return -1;
    }
    return password_hash(GOOD, good_hash, &err);
}

/* Asserts that the check refuses `pw` with a detail starting with `reason`. */
static void assert_refused(const char *pw, const char *user, const char *reason)
{
    struct kf_err err;
    kf_err_clear(&err);
    int rc = password_check_strength(pw, user, &err);
    if (rc != KF_E_INVALID) fail_msg("accepted \"%s\" (rc %d), expected %s", pw, rc, reason);
    assert_string_equal(err.field, "password");
    if (strncmp(err.detail, reason, strlen(reason)) != 0) {
        fail_msg("\"%s\" refused for \"%s\", expected %s", pw, err.detail, reason);
    }
}

static void assert_accepted(const char *pw, const char *user)
{
    struct kf_err err;
    kf_err_clear(&err);
    int rc = password_check_strength(pw, user, &err);
    if (rc != 0) fail_msg("refused \"%s\": %s", pw, err.detail);
}

static void hash_and_verify_round_trip(void **state)
{
    struct kf_err err;
    assert_int_equal(strncmp(good_hash, "$argon2id$", 10), 0);
    assert_int_equal(password_verify(good_hash, GOOD, &err), 0);
    assert_int_equal(password_verify(good_hash, "蓝色的海边-灯塔-2025", &err), KF_E_UNAUTHENTICATED);
    assert_int_equal(password_verify(good_hash, "", &err), KF_E_UNAUTHENTICATED);
    assert_false(password_needs_rehash(good_hash));
}

/* The same password typed with a full-width IME (－ and ２０２６) still logs in: NFKC first. */
static void verify_normalises_full_width_input(void **state)
{
    struct kf_err err;
    assert_int_equal(password_verify(good_hash, "蓝色的海边－灯塔－２０２６", &err), 0);
}

static void two_hashes_of_one_password_differ(void **state)
{
    char again[PASSWORD_HASH_BYTES];
    struct kf_err err;
    assert_int_equal(password_hash(GOOD, again, &err), 0);
    assert_string_not_equal(again, good_hash); /* each hash has its own salt */
}

static void malformed_hashes_and_input_fail_closed(void **state)
{
    struct kf_err err;
    assert_int_equal(password_verify("", GOOD, &err), KF_E_UNAUTHENTICATED);
    assert_int_equal(password_verify("$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA", GOOD, &err), KF_E_UNAUTHENTICATED);
    assert_int_equal(password_verify(NULL, GOOD, &err), KF_E_UNAUTHENTICATED);
    assert_int_equal(password_verify(good_hash, NULL, &err), KF_E_UNAUTHENTICATED);
    assert_int_equal(password_verify(good_hash, "\xff\xfe", &err), KF_E_UNAUTHENTICATED);
    char hash[PASSWORD_HASH_BYTES];
    assert_int_equal(password_hash("bad \xc3\x28 utf8", hash, &err), KF_E_INVALID);
    assert_true(password_needs_rehash("not a hash"));
    assert_true(password_needs_rehash(NULL));
}

/* A hash made with weaker limits (an old hash) still verifies, and asks to be replaced. */
static void weaker_hash_verifies_and_needs_rehash(void **state)
{
    char weak_hash[PASSWORD_HASH_BYTES];
    assert_int_equal(crypto_pwhash_str(weak_hash, GOOD, strlen(GOOD), crypto_pwhash_OPSLIMIT_MIN,
                                       crypto_pwhash_MEMLIMIT_MIN), 0);
    struct kf_err err;
    assert_int_equal(password_verify(weak_hash, GOOD, &err), 0);
    assert_true(password_needs_rehash(weak_hash));
    char argon2i[PASSWORD_HASH_BYTES];
    assert_int_equal(crypto_pwhash_argon2i_str(argon2i, GOOD, strlen(GOOD), crypto_pwhash_argon2i_OPSLIMIT_INTERACTIVE,
                                               crypto_pwhash_MEMLIMIT_MIN), 0);
    assert_true(password_needs_rehash(argon2i)); /* not argon2id */
}

/* Raising the limits makes every existing hash ask for a rehash on the next login. */
static void raised_limits_ask_for_rehash(void **state)
{
    struct password_params before = password_params_get(), higher = before;
    higher.opslimit++;
    struct kf_err err;
    assert_int_equal(password_configure(&higher, &err), 0);
    assert_true(password_needs_rehash(good_hash));
    assert_int_equal(password_configure(&before, &err), 0);
    assert_false(password_needs_rehash(good_hash));
}

static void limits_below_interactive_are_refused(void **state)
{
    struct password_params p = password_params_get();
    struct kf_err err;
    p.opslimit = crypto_pwhash_OPSLIMIT_MIN;
    assert_int_equal(password_configure(&p, &err), KF_E_CONFIG);
    p = password_params_get();
    p.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE / 2;
    assert_int_equal(password_configure(&p, &err), KF_E_CONFIG);
    p = password_params_get();
    p.max_parallel = 0;
    assert_int_equal(password_configure(&p, &err), KF_E_CONFIG);
    assert_true(password_params_get().opslimit >= crypto_pwhash_OPSLIMIT_INTERACTIVE);
    assert_true(password_params_get().memlimit >= crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

static void passwords_common_in_china_are_refused(void **state)
{
    const char *common[] = {"woaini1314", "a123456", "qq123456", "5201314", "1qaz2wsx", "zxcvbnm", "iloveyou",
                            "aa123456", "abc123456", "147258369", "woaini520", "zhangwei"};
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        assert_true(password_is_common(common[i]));
        if (strlen(common[i]) >= PASSWORD_MIN_CHARS) assert_refused(common[i], "someone", "common");
    }
}

/* Case, full-width forms and digits or punctuation around a base word do not get through. */
static void common_password_variants_are_refused(void **state)
{
    assert_refused("WoAiNi1314", NULL, "common");
    assert_refused("ｗｏａｉｎｉ１３１４", NULL, "common");
    assert_refused("woaini1314!", NULL, "common");
    assert_refused("woaini1314521", NULL, "common");
    assert_refused("1314woaini", NULL, "common");
    assert_refused("Zhang123", NULL, "common");
    assert_refused("wang1234", NULL, "common");
    assert_refused("Admin@2026", NULL, "common");
    assert_refused("password", NULL, "common");
    assert_refused("Password1!", NULL, "common");
}

/* cracklib's dictionary catches English words the Chinese list does not hold. */
static void dictionary_words_are_refused(void **state)
{
    assert_refused("elephant", NULL, "dictionary");
    assert_refused("Butterfly1", NULL, "dictionary");
}

static void the_user_name_is_refused(void **state)
{
    assert_refused("hailong-xu", "hailong-xu", "user_name");
    assert_refused("HAILONG-XU", "hailong-xu", "user_name");
    assert_refused("my-hailong-xu-2026", "Hailong-Xu", "user_name");
    assert_refused("张伟明的密码很长啊", "张伟明", "user_name");
    assert_accepted("蓝色的海边-灯塔-2026", "li"); /* a 2-letter name is only refused when equal */
}

static void a_good_passphrase_is_accepted(void **state)
{
    assert_accepted(GOOD, "zhangwei");
    assert_accepted(GOOD, NULL);
    assert_accepted("correct horse battery staple", "admin");
    assert_accepted("Xq7#mP2v-tR9", "kefu-admin");
}

static void length_is_counted_in_characters(void **state)
{
    assert_refused("Xq7#mP2", NULL, "too_short");       /* 7 characters */
    assert_refused("海边灯塔蓝夜星", NULL, "too_short"); /* 7 characters, 21 bytes */
    assert_accepted("海边灯塔蓝夜星辰", NULL);           /* 8 characters */
    char long_ascii[201];
    for (int i = 0; i < 200; i++) long_ascii[i] = (char)('a' + (i * 7) % 26);
    long_ascii[200] = '\0';
    assert_refused(long_ascii, NULL, "too_long");        /* 200 bytes */
    /* 64 Han characters (192 bytes) are within the maximum: it is counted in characters */
    const char *poem = "床前明月光疑是地上霜举头望山低思故乡春眠不觉晓处闻啼鸟夜来风雨声花落知多少"
                       "白日依尽黄河入海流欲穷千里目更上一层楼红豆生南国秋发几枝";
    assert_true(strlen(poem) >= 64 * 3);
    char han64[64 * 3 + 1];
    memcpy(han64, poem, 64 * 3);
    han64[64 * 3] = '\0';
    assert_accepted(han64, NULL);
    char *too_many = malloc(PASSWORD_MAX_BYTES + 2);
    memset(too_many, 'x', PASSWORD_MAX_BYTES + 1);
    too_many[PASSWORD_MAX_BYTES + 1] = '\0';
    assert_refused(too_many, NULL, "too_long");
    free(too_many);
}

static void invalid_text_is_refused(void **state)
{
    assert_refused("abc\xff\xfe" "-defgh", NULL, "not_utf8");
    assert_refused("abc\xc0\xaf" "defgh", NULL, "not_utf8"); /* overlong '/' */
    assert_refused("abc\xed\xa0\x80" "-defgh", NULL, "not_utf8"); /* surrogate */
    assert_refused("Xq7#m\tP2v-tR9", NULL, "control_char");
    struct kf_err err;
    assert_int_equal(password_check_strength(NULL, NULL, &err), KF_E_INVALID);
}

static void digits_only_and_repetition_are_refused(void **state)
{
    assert_refused("13812345678", NULL, "digits_only"); /* a phone number */
    assert_refused("19880615", NULL, "digits_only");    /* a birthday */
    assert_accepted("8302945716394820", NULL);          /* 16 digits */
    assert_refused("abababab", NULL, "few_distinct");
    assert_refused("我爱你我爱你我爱你", NULL, "few_distinct");
}

/* The embedded list is loaded, big enough, written already folded, and every entry is refused. */
static void the_embedded_list_is_well_formed(void **state)
{
    const struct embedded_file *f = embedded_find("src/domain/common_passwords.txt");
    assert_non_null(f);
    size_t entries = 0;
    const char *p = f->data;
    while (*p) {
        size_t len = strcspn(p, "\n");
        char line[128];
        assert_true(len < sizeof line);
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (p[len] == '\n');
        if (len == 0 || line[0] == '#') continue;
        entries++;
        char *folded = (char *)utf8proc_NFKC_Casefold((const utf8proc_uint8_t *)line);
        if (strcmp(folded, line) != 0) fail_msg("entry \"%s\" is not NFKC-casefolded", line);
        free(folded);
        if (!password_is_common(line)) fail_msg("entry \"%s\" is not refused", line);
    }
    assert_true(entries >= 200);
}

struct judge_run {
    int failures;
};

static void *judge_many(void *arg)
{
    struct judge_run *run = arg;
    for (int i = 0; i < 40; i++) {
        struct kf_err err;
        if (password_check_strength(GOOD, "zhangwei", &err) != 0) run->failures++;
        if (password_check_strength("elephant", NULL, &err) != KF_E_INVALID) run->failures++;
    }
    return NULL;
}

/* cracklib is not thread-safe; password_check_strength serialises it. */
static void strength_checks_run_from_many_threads(void **state)
{
    pthread_t t[6];
    struct judge_run runs[6] = {0};
    for (int i = 0; i < 6; i++) assert_int_equal(pthread_create(&t[i], NULL, judge_many, &runs[i]), 0);
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(runs[i].failures, 0);
    }
}

static void *hash_once(void *arg)
{
    struct kf_err err;
    char hash[PASSWORD_HASH_BYTES];
    *(int *)arg = password_hash("Xq7#mP2v-tR9", hash, &err);
    return NULL;
}

/* With one slot, concurrent hashes wait their turn instead of all taking memlimit at once. */
static void concurrent_hashes_share_the_slots(void **state)
{
    struct password_params before = password_params_get(), one = before;
    one.max_parallel = 1;
    struct kf_err err;
    assert_int_equal(password_configure(&one, &err), 0);
    pthread_t t[3];
    int rc[3] = {-99, -99, -99};
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&t[i], NULL, hash_once, &rc[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(rc[i], 0);
    }
    assert_int_equal(password_configure(&before, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_and_verify_round_trip),
        cmocka_unit_test(verify_normalises_full_width_input),
        cmocka_unit_test(two_hashes_of_one_password_differ),
        cmocka_unit_test(malformed_hashes_and_input_fail_closed),
        cmocka_unit_test(weaker_hash_verifies_and_needs_rehash),
        cmocka_unit_test(raised_limits_ask_for_rehash),
        cmocka_unit_test(limits_below_interactive_are_refused),
        cmocka_unit_test(passwords_common_in_china_are_refused),
        cmocka_unit_test(common_password_variants_are_refused),
        cmocka_unit_test(dictionary_words_are_refused),
        cmocka_unit_test(the_user_name_is_refused),
        cmocka_unit_test(a_good_passphrase_is_accepted),
        cmocka_unit_test(length_is_counted_in_characters),
        cmocka_unit_test(invalid_text_is_refused),
        cmocka_unit_test(digits_only_and_repetition_are_refused),
        cmocka_unit_test(the_embedded_list_is_well_formed),
        cmocka_unit_test(strength_checks_run_from_many_threads),
        cmocka_unit_test(concurrent_hashes_share_the_slots),
    };
    return cmocka_run_group_tests_name("password", tests, group_setup, NULL);
}
