/* Look-alike keys and user-name rules: utf8proc for NFKC and case folding, ICU uspoof for the
 * UTS #39 skeleton and the restriction-level check. One USpoofChecker is opened on first use and
 * shared: ICU documents its check and skeleton functions as safe to call concurrently once set up. */
#include "core/normalize.h"
#include "core/lookalike.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uspoof.h>
#include <utf8proc.h>

#include "core/text.h"

#define FIELD "user_name"

static pthread_mutex_t checker_lock = PTHREAD_MUTEX_INITIALIZER;
static USpoofChecker *checker;

/* Returns the shared checker, opening it on first use; NULL (and err filled) if ICU fails. */
static const USpoofChecker *checker_get(struct kf_err *err)
{
    pthread_mutex_lock(&checker_lock);
    if (!checker) {
        UErrorCode st = U_ZERO_ERROR;
        USpoofChecker *sc = uspoof_open(&st);
        /* MIXED_SCRIPT_CONFUSABLE only applies to two-string comparisons since ICU 58; for one
         * name the restriction level refuses mixed scripts, and the skeleton catches whole-script
         * look-alikes (an all-Cyrillic аdmіn) when it is compared with existing names. */
        uspoof_setChecks(sc, USPOOF_RESTRICTION_LEVEL | USPOOF_INVISIBLE | USPOOF_MIXED_NUMBERS, &st);
        uspoof_setRestrictionLevel(sc, USPOOF_HIGHLY_RESTRICTIVE);
        if (U_SUCCESS(st)) {
            checker = sc;
        } else {
            uspoof_close(sc);
        }
    }
    const USpoofChecker *sc = checker;
    pthread_mutex_unlock(&checker_lock);
    if (!sc) kf_fail(err, KF_E_INTERNAL, NULL, "ICU spoof checker unavailable");
    return sc;
}

void lookalike_shutdown(void)
{
    pthread_mutex_lock(&checker_lock);
    if (checker) uspoof_close(checker);
    checker = NULL;
    pthread_mutex_unlock(&checker_lock);
}

static int input_check(const char *name, struct kf_err *err)
{
    if (!name) return kf_fail(err, KF_E_INVALID, FIELD, "too_short: 2..64 characters");
    size_t len = strnlen(name, LOOKALIKE_INPUT_MAX + 1);
    if (len > LOOKALIKE_INPUT_MAX) return kf_fail(err, KF_E_INVALID, FIELD, "too_long: 2..64 characters");
    if (!text_is_utf8(name, len)) return kf_fail(err, KF_E_INVALID, FIELD, "not_utf8: not valid UTF-8");
    return 0;
}

/* ICU's skeleton of `s` (malloc'd, NFD as ICU returns it), or NULL. */
static char *icu_skeleton(const USpoofChecker *sc, const char *s)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t n = uspoof_getSkeletonUTF8(sc, 0, s, -1, NULL, 0, &st);
    if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st)) return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out) return NULL;
    st = U_ZERO_ERROR;
    uspoof_getSkeletonUTF8(sc, 0, s, -1, out, n + 1, &st);
    if (U_FAILURE(st)) {
        free(out);
        return NULL;
    }
    return out;
}

int lookalike_skeleton(const char *name, struct buf *out, struct kf_err *err)
{
    int rc = input_check(name, err);
    if (rc) return rc;
    const USpoofChecker *sc = checker_get(err);
    if (!sc) return KF_E_INTERNAL;
    char *folded = normalize_nfkc_dup(name, true);
    char *skel = folded ? icu_skeleton(sc, folded) : NULL;
    char *key = skel ? normalize_nfkc_dup(skel, true) : NULL;
    if (!key) {
        rc = kf_fail(err, KF_E_INTERNAL, NULL, "could not compute a skeleton");
    } else {
        buf_reset(out);
        rc = buf_append(out, key, strlen(key));
        if (rc) kf_fail(err, rc, NULL, "skeleton longer than the buffer allows");
    }
    free(folded);
    free(skel);
    free(key);
    return rc;
}

static size_t count_code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool is_letter(utf8proc_category_t c)
{
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT ||
           c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_LO;
}

/* Letters (Han is Lo), decimal digits, . _ - @, and combining marks right after a letter or mark. */
static int check_chars(const char *norm, struct kf_err *err)
{
    size_t len = strlen(norm), at = 0;
    bool after_letter = false;
    while (at < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)norm + at, (utf8proc_ssize_t)(len - at), &cp);
        if (n <= 0) return kf_fail(err, KF_E_INVALID, FIELD, "not_utf8: not valid UTF-8");
        at += (size_t)n;
        utf8proc_category_t c = utf8proc_category(cp);
        bool mark = c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC;
        bool ok = is_letter(c) || c == UTF8PROC_CATEGORY_ND || (mark && after_letter) ||
                  cp == '.' || cp == '_' || cp == '-' || cp == '@';
        if (!ok) {
            return kf_fail(err, KF_E_INVALID, FIELD,
                           "bad_char: only letters, digits and . _ - @ (no spaces or control characters)");
        }
        after_letter = is_letter(c) || mark;
    }
    return 0;
}

static int check_spoof(const char *norm, struct kf_err *err)
{
    const USpoofChecker *sc = checker_get(err);
    if (!sc) return KF_E_INTERNAL;
    UErrorCode st = U_ZERO_ERROR;
    int32_t bits = uspoof_check2UTF8(sc, norm, -1, NULL, &st);
    if (U_FAILURE(st)) return kf_fail(err, KF_E_INTERNAL, NULL, "ICU spoof check failed: %s", u_errorName(st));
    if (bits & USPOOF_RESTRICTION_LEVEL) {
        return kf_fail(err, KF_E_INVALID, FIELD, "mixed_script: letters of scripts that can be mistaken for each other");
    }
    if (bits & USPOOF_INVISIBLE) return kf_fail(err, KF_E_INVALID, FIELD, "invisible: invisible characters");
    if (bits & USPOOF_MIXED_NUMBERS) return kf_fail(err, KF_E_INVALID, FIELD, "mixed_numbers: digits of two systems");
    if (bits & USPOOF_ALL_CHECKS) return kf_fail(err, KF_E_INVALID, FIELD, "mixed_script: refused by the spoof check");
    return 0;
}

int username_check(const char *name, struct kf_err *err)
{
    int rc = input_check(name, err);
    if (rc) return rc;
    size_t chars = count_code_points(name);
    if (chars < USERNAME_MIN_CHARS) return kf_fail(err, KF_E_INVALID, FIELD, "too_short: 2..64 characters");
    if (chars > USERNAME_MAX_CHARS) return kf_fail(err, KF_E_INVALID, FIELD, "too_long: 2..64 characters");
    char *norm = normalize_nfkc_dup(name, false);
    if (!norm) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    rc = check_chars(norm, err);
    if (rc == 0) rc = check_spoof(norm, err);
    free(norm);
    return rc;
}
