/* Unit tests of src/core/lookalike: names that look alike share one skeleton, and the rules for a
 * new user name (length, characters, mixed scripts). */
#include "harness.h"

#include <pthread.h>
#include <unicode/uclean.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/lookalike.h"

/* Closes what the module opened, then ICU's own caches, so LeakSanitizer sees nothing left. */
static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

/* The skeleton of `name`, malloc'd. */
static char *skeleton(const char *name)
{
    struct buf b;
    buf_init(&b, 4096);
    struct kf_err err;
    int rc = lookalike_skeleton(name, &b, &err);
    if (rc != 0) fail_msg("no skeleton for \"%s\": %s", name, err.detail);
    char *s = buf_take(&b, NULL);
    buf_free(&b);
    return s;
}

static void assert_same_skeleton(const char *a, const char *b)
{
    char *x = skeleton(a), *y = skeleton(b);
    if (strcmp(x, y) != 0) fail_msg("\"%s\" → \"%s\" but \"%s\" → \"%s\"", a, x, b, y);
    free(x);
    free(y);
}

static void assert_other_skeleton(const char *a, const char *b)
{
    char *x = skeleton(a), *y = skeleton(b);
    if (strcmp(x, y) == 0) fail_msg("\"%s\" and \"%s\" share \"%s\"", a, b, x);
    free(x);
    free(y);
}

static void assert_name_refused(const char *name, const char *reason)
{
    struct kf_err err;
    kf_err_clear(&err);
    int rc = username_check(name, &err);
    if (rc != KF_E_INVALID) fail_msg("accepted the name \"%s\" (rc %d), expected %s", name, rc, reason);
    assert_string_equal(err.field, "user_name");
    if (strncmp(err.detail, reason, strlen(reason)) != 0) {
        fail_msg("\"%s\" refused for \"%s\", expected %s", name, err.detail, reason);
    }
}

static void assert_name_accepted(const char *name)
{
    struct kf_err err;
    kf_err_clear(&err);
    if (username_check(name, &err) != 0) fail_msg("refused the name \"%s\": %s", name, err.detail);
}

static void look_alikes_of_admin_share_a_skeleton(void **state)
{
    assert_same_skeleton("admin", "\xd0\xb0" "dmin"); /* Cyrillic а (U+0430) */
    assert_same_skeleton("admin", "ＡＤＭＩＮ");          /* full width */
    assert_same_skeleton("admin", "Admin");
    assert_same_skeleton("admin", "ADMIN");
    assert_same_skeleton("admin", "\xd0\xb0\xd4\x81m\xd1\x96n"); /* all Cyrillic а ԁ і */
    assert_same_skeleton("admin", "ad\xc2\xadmin");             /* a soft hyphen inside */
    assert_same_skeleton("admin", "adrnin");                    /* r n looks like m */
    assert_same_skeleton("dom", "d0m");                         /* zero and O, then case */
    assert_same_skeleton("张伟", "张伟");
}

static void different_names_keep_different_skeletons(void **state)
{
    assert_other_skeleton("admin", "adnim");
    assert_other_skeleton("admin", "admins");
    assert_other_skeleton("张伟", "张伟明");
    assert_other_skeleton("wang.wei", "wangwei");
}

static void the_skeleton_refuses_invalid_input(void **state)
{
    struct buf b;
    buf_init(&b, 4096);
    struct kf_err err;
    assert_int_equal(lookalike_skeleton("ad\xffmin", &b, &err), KF_E_INVALID);
    assert_int_equal(lookalike_skeleton(NULL, &b, &err), KF_E_INVALID);
    char *huge = malloc(LOOKALIKE_INPUT_MAX + 2);
    memset(huge, 'a', LOOKALIKE_INPUT_MAX + 1);
    huge[LOOKALIKE_INPUT_MAX + 1] = '\0';
    assert_int_equal(lookalike_skeleton(huge, &b, &err), KF_E_INVALID);
    free(huge);
    struct buf tiny;
    buf_init(&tiny, 3);
    assert_int_equal(lookalike_skeleton("admin", &tiny, &err), KF_E_TOO_LARGE);
    buf_free(&tiny);
    buf_free(&b);
}

static void ordinary_names_are_accepted(void **state)
{
    assert_name_accepted("张伟");
    assert_name_accepted("欧阳娜娜");
    assert_name_accepted("admin");
    assert_name_accepted("wang.wei_01");
    assert_name_accepted("li-na@kefu.cn");
    assert_name_accepted("zhang张伟");     /* Latin with Han is allowed */
    assert_name_accepted("ＡＤＭＩＮ");        /* full width: letters all the same */
    assert_name_accepted("li＠kefu");       /* full-width ＠ is @ after NFKC */
    assert_name_accepted("e\xcc\x81" "clair"); /* combining accent after a letter */
    assert_name_accepted("さくら");
    assert_name_accepted("김철수");
}

static void spaces_and_controls_are_refused(void **state)
{
    assert_name_refused("ad min", "bad_char");
    assert_name_refused("ad\x01min", "bad_char");
    assert_name_refused("ad\tmin", "bad_char");
    assert_name_refused("张\xe3\x80\x80伟", "bad_char"); /* ideographic space U+3000 */
    assert_name_refused("ad\xe2\x80\x8bmin", "bad_char"); /* zero-width space */
    assert_name_refused("ad\xe2\x80\xaemin", "bad_char"); /* right-to-left override */
    assert_name_refused("admin!", "bad_char");
    assert_name_refused("<script>", "bad_char");
    assert_name_refused("\xcc\x81" "abc", "bad_char"); /* a mark with no letter before it */
}

static void length_is_two_to_sixty_four_characters(void **state)
{
    assert_name_refused("a", "too_short");
    assert_name_refused("张", "too_short");
    assert_name_refused("", "too_short");
    char name[66];
    memset(name, 'a', 65);
    name[65] = '\0';
    assert_name_refused(name, "too_long");
    name[64] = '\0';
    assert_name_accepted(name);
    char han[64 * 3 + 1] = "";
    for (int i = 0; i < 64; i++) memcpy(han + 3 * i, "伟", 3);
    han[64 * 3] = '\0';
    assert_name_accepted(han); /* 64 characters, 192 bytes */
}

static void invalid_utf8_is_refused(void **state)
{
    assert_name_refused("ad\xffmin", "not_utf8");
    assert_name_refused("ad\xc0\xafmin", "not_utf8");
    struct kf_err err;
    assert_int_equal(username_check(NULL, &err), KF_E_INVALID);
}

static void mixed_scripts_are_refused(void **state)
{
    assert_name_refused("p\xd0\xb0ypal", "mixed_script");   /* Latin p, Cyrillic а */
    assert_name_refused("\xd0\xb0" "dmin", "mixed_script"); /* Cyrillic а + Latin */
    assert_name_refused("\xce\xa9mega", "mixed_script");    /* Greek Ω + Latin */
    assert_name_refused("a1\xd9\xa1", "mixed_script");      /* Arabic-Indic digit among Latin */
}

static void *skeletons_in_a_loop(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < 200; i++) {
        char *s = skeleton("ＡＤＭＩＮ");
        if (strcmp(s, "adrnin") != 0) (*bad)++;
        free(s);
        struct kf_err err;
        if (username_check("p\xd0\xb0ypal", &err) != KF_E_INVALID) (*bad)++;
    }
    return NULL;
}

/* One shared checker serves many threads. */
static void the_checker_is_shared_between_threads(void **state)
{
    pthread_t t[4];
    int bad[4] = {0};
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, skeletons_in_a_loop, &bad[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(bad[i], 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(look_alikes_of_admin_share_a_skeleton),
        cmocka_unit_test(different_names_keep_different_skeletons),
        cmocka_unit_test(the_skeleton_refuses_invalid_input),
        cmocka_unit_test(ordinary_names_are_accepted),
        cmocka_unit_test(spaces_and_controls_are_refused),
        cmocka_unit_test(length_is_two_to_sixty_four_characters),
        cmocka_unit_test(invalid_utf8_is_refused),
        cmocka_unit_test(mixed_scripts_are_refused),
        cmocka_unit_test(the_checker_is_shared_between_threads),
    };
    return cmocka_run_group_tests_name("lookalike", tests, NULL, group_teardown);
}
