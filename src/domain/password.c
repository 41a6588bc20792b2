/* Password hashing (argon2id) and the strength rules. The list of passwords common in China is
 * compiled in (src/domain/common_passwords.txt via tools/embed); cracklib judges the rest. cracklib
 * keeps static state and is not thread-safe, so every call to it holds crack_lock. */
#include "domain/password.h"

#include <crack.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>

#include "core/normalize.h"
#include "core/embedded.h"
#include "core/text.h"

#define COMMON_LIST_PATH "src/domain/common_passwords.txt"
#define GATE_WAIT_S 10

/* ---- parameters and the gate that bounds memory (max_parallel × memlimit) ---- */

static struct password_params params = {
    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE, 4};

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond;
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;
static unsigned gate_busy;

static void gate_setup(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* a wall-clock step must not cut the wait */
    pthread_cond_init(&gate_cond, &attr);
    pthread_condattr_destroy(&attr);
}

static int gate_enter(struct kf_err *err)
{
    pthread_once(&gate_once, gate_setup);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += GATE_WAIT_S;
    pthread_mutex_lock(&gate_lock);
    int rc = 0;
    while (gate_busy >= params.max_parallel && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&gate_cond, &gate_lock, &until);
    }
    bool entered = gate_busy < params.max_parallel;
    if (entered) gate_busy++;
    pthread_mutex_unlock(&gate_lock);
    if (!entered) return kf_fail(err, KF_E_BUSY, NULL, "too many password hashes at once");
    return 0;
}

static void gate_leave(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_busy--;
    pthread_cond_signal(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

struct password_params password_params_get(void)
{
    return params;
}

int password_configure(const struct password_params *p, struct kf_err *err)
{
    if (p->opslimit < crypto_pwhash_OPSLIMIT_INTERACTIVE || p->opslimit > crypto_pwhash_OPSLIMIT_MAX) {
        return kf_fail(err, KF_E_CONFIG, "password_opslimit", "must be %llu..%llu",
                       (unsigned long long)crypto_pwhash_OPSLIMIT_INTERACTIVE,
                       (unsigned long long)crypto_pwhash_OPSLIMIT_MAX);
    }
    if (p->memlimit < crypto_pwhash_MEMLIMIT_INTERACTIVE || p->memlimit > crypto_pwhash_MEMLIMIT_MAX) {
        return kf_fail(err, KF_E_CONFIG, "password_memlimit", "must be at least %zu bytes",
                       (size_t)crypto_pwhash_MEMLIMIT_INTERACTIVE);
    }
    if (p->max_parallel < 1 || p->max_parallel > 1024) {
        return kf_fail(err, KF_E_CONFIG, "password_max_parallel", "must be 1..1024");
    }
    params = *p;
    return 0;
}

/* ---- Secrets in memory ---- */

/* Frees a string that held a password, wiping it first. */
static void secret_free(char *s)
{
    if (!s) return;
    sodium_memzero(s, strlen(s));
    free(s);
}

static size_t count_code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---- the list of common passwords ---- */

struct common_entry {
    const char *s;
    size_t len;
};

static struct common_entry *common;
static size_t common_n;
static pthread_once_t common_once = PTHREAD_ONCE_INIT;

static int common_cmp(const void *a, const void *b)
{
    const struct common_entry *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Entries point into the embedded file, which lives as long as the program. */
static void common_load(void)
{
    const struct embedded_file *f = embedded_find(COMMON_LIST_PATH);
    if (!f) return;
    size_t lines = 1;
    for (size_t i = 0; i < f->size; i++) lines += f->data[i] == '\n';
    common = calloc(lines, sizeof *common);
    if (!common) return;
    const char *p = f->data, *end = f->data + f->size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        while (len && (p[len - 1] == '\r' || p[len - 1] == ' ')) len--;
        if (len && p[0] != '#') common[common_n++] = (struct common_entry){p, len};
        p = nl ? nl + 1 : end;
    }
    qsort(common, common_n, sizeof *common, common_cmp);
}

static bool common_has(const char *s, size_t len)
{
    if (len == 0 || common_n == 0) return false; /* an empty list is reported by password_init */
    struct common_entry key = {s, len};
    return bsearch(&key, common, common_n, sizeof *common, common_cmp) != NULL;
}

static bool is_ascii_punct(unsigned char c)
{
    return c > ' ' && c < 0x7F && !('0' <= c && c <= '9') && !('a' <= (c | 0x20) && (c | 0x20) <= 'z');
}

static bool is_digit_or_punct(unsigned char c)
{
    return ('0' <= c && c <= '9') || is_ascii_punct(c);
}

/* `folded` is NFKC-casefolded: the whole, the whole without trailing punctuation, and the base
 * word without leading or trailing digits and punctuation (woaini1314! → woaini). */
static bool common_has_variant(const char *folded)
{
    size_t len = strlen(folded);
    if (common_has(folded, len)) return true;
    size_t end = len;
    while (end && is_ascii_punct((unsigned char)folded[end - 1])) end--;
    if (common_has(folded, end)) return true;
    while (end && is_digit_or_punct((unsigned char)folded[end - 1])) end--;
    size_t start = 0;
    while (start < end && is_digit_or_punct((unsigned char)folded[start])) start++;
    return common_has(folded + start, end - start);
}

bool password_is_common(const char *plain)
{
    pthread_once(&common_once, common_load);
    if (!plain || !text_is_utf8(plain, strlen(plain))) return false;
    char *folded = normalize_nfkc_dup(plain, true);
    if (!folded) return false;
    bool hit = common_has_variant(folded);
    secret_free(folded);
    return hit;
}

/* ---- cracklib ---- */

static pthread_mutex_t crack_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t dict_once = PTHREAD_ONCE_INIT;
static char dict_path[512];
static bool dict_ok;

/* On a missing dictionary cracklib prints to stderr and returns a complaint like a weak password's
 * (older versions exit: Debian #682735), so look for the files first and call it a config error. */
static void dict_find(void)
{
    const char *base = GetDefaultCracklibDict();
    if (!base || strlen(base) + 5 > sizeof dict_path) return;
    snprintf(dict_path, sizeof dict_path, "%s", base);
    char file[sizeof dict_path + 8];
    snprintf(file, sizeof file, "%s.pwd", base);
    bool pwd = access(file, R_OK) == 0;
    snprintf(file, sizeof file, "%s.pwi", base);
    dict_ok = pwd && access(file, R_OK) == 0;
}

int password_init(struct kf_err *err)
{
    pthread_once(&dict_once, dict_find);
    pthread_once(&common_once, common_load);
    if (!dict_ok) {
        return kf_fail(err, KF_E_CONFIG, NULL, "cracklib dictionary missing at %s (install cracklib-runtime)",
                       dict_path[0] ? dict_path : "(unknown)");
    }
    if (common_n == 0) return kf_fail(err, KF_E_CONFIG, NULL, "the list of common passwords is not embedded");
    return 0;
}

/* Returns cracklib's complaint (a static English or translated string), or NULL. */
static const char *crack_judge(const char *plain, const char *user_name)
{
    pthread_mutex_lock(&crack_lock);
    const char *why = FascistCheckUser(plain, dict_path, user_name ? user_name : "", "");
    pthread_mutex_unlock(&crack_lock);
    return why;
}

/* ---- hashing ---- */

/* NFKC of plain, malloc'd; fails on invalid or over-long input. */
static int password_prepare(const char *plain, char **norm_r, struct kf_err *err)
{
    if (!plain) return kf_fail(err, KF_E_INVALID, "password", "missing");
    size_t len = strnlen(plain, PASSWORD_MAX_BYTES + 1);
    if (len > PASSWORD_MAX_BYTES) return kf_fail(err, KF_E_INVALID, "password", "too_long: at most 512 bytes");
    if (!text_is_utf8(plain, len)) return kf_fail(err, KF_E_INVALID, "password", "not_utf8: not valid UTF-8");
    *norm_r = normalize_nfkc_dup(plain, false);
    if (!*norm_r) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    return 0;
}

int password_hash(const char *plain, char out[PASSWORD_HASH_BYTES], struct kf_err *err)
{
    char *norm = NULL;
    int rc = password_prepare(plain, &norm, err);
    if (rc) return rc;
    rc = gate_enter(err);
    if (rc == 0) {
        if (crypto_pwhash_str(out, norm, strlen(norm), params.opslimit, params.memlimit) != 0) {
            rc = kf_fail(err, KF_E_NOMEM, NULL, "argon2id could not allocate %zu bytes", params.memlimit);
        }
        gate_leave();
    }
    secret_free(norm);
    return rc;
}

int password_verify(const char *hash, const char *plain, struct kf_err *err)
{
    if (!hash || strnlen(hash, PASSWORD_HASH_BYTES) >= PASSWORD_HASH_BYTES) {
        return kf_fail(err, KF_E_UNAUTHENTICATED, NULL, "malformed password hash");
    }
    char *norm = NULL;
    if (password_prepare(plain, &norm, NULL) != 0) return kf_fail(err, KF_E_UNAUTHENTICATED, NULL, NULL);
    int rc = gate_enter(err);
    if (rc == 0) {
        if (crypto_pwhash_str_verify(hash, norm, strlen(norm)) != 0) {
            rc = kf_fail(err, KF_E_UNAUTHENTICATED, NULL, NULL);
        }
        gate_leave();
    }
    secret_free(norm);
    return rc;
}

bool password_needs_rehash(const char *hash)
{
    static const char prefix[] = crypto_pwhash_argon2id_STRPREFIX;
    if (!hash || strnlen(hash, PASSWORD_HASH_BYTES) >= PASSWORD_HASH_BYTES) return true;
    if (strncmp(hash, prefix, sizeof prefix - 1) != 0) return true;
    return crypto_pwhash_str_needs_rehash(hash, params.opslimit, params.memlimit) != 0;
}

/* ---- strength ---- */

static int weak(struct kf_err *err, const char *detail)
{
    return kf_fail(err, KF_E_INVALID, "password", "%s", detail);
}

/* Length in characters, and no control characters. */
static int check_length(const char *norm, struct kf_err *err)
{
    size_t chars = count_code_points(norm);
    if (chars < PASSWORD_MIN_CHARS) return weak(err, "too_short: at least 8 characters");
    if (chars > PASSWORD_MAX_CHARS) return weak(err, "too_long: at most 128 characters");
    for (const char *p = norm; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7F) return weak(err, "control_char: control characters");
        if (c == 0xC2 && (unsigned char)p[1] >= 0x80 && (unsigned char)p[1] < 0xA0) {
            return weak(err, "control_char: control characters"); /* C1 controls U+0080..U+009F */
        }
    }
    return 0;
}

/* Digits only (dates, phone and QQ numbers) and too few different characters. Called after
 * check_length, so norm holds at most PASSWORD_MAX_CHARS code points. */
static int check_variety(const char *norm, struct kf_err *err)
{
    utf8proc_int32_t seen[PASSWORD_MAX_CHARS];
    size_t distinct = 0, digits = 0, chars = 0, at = 0, len = strlen(norm);
    while (at < len && chars < PASSWORD_MAX_CHARS) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)norm + at, (utf8proc_ssize_t)(len - at), &cp);
        if (n <= 0) return weak(err, "not_utf8: not valid UTF-8");
        at += (size_t)n;
        chars++;
        digits += cp >= '0' && cp <= '9';
        size_t i = 0;
        while (i < distinct && seen[i] != cp) i++;
        if (i == distinct) seen[distinct++] = cp;
    }
    if (digits == chars && chars < PASSWORD_MIN_DIGITS_ONLY) {
        return weak(err, "digits_only: add letters, or use at least 16 digits");
    }
    if (distinct < PASSWORD_MIN_DISTINCT) return weak(err, "few_distinct: at least 5 different characters");
    return 0;
}

/* The folded password equals the folded name, or contains it when the name has 3+ characters
 * (a 2-letter name like "li" would otherwise refuse half the dictionary). */
static int check_user_name(const char *folded, const char *user_name, struct kf_err *err)
{
    if (!user_name || !*user_name || !text_is_utf8(user_name, strlen(user_name))) return 0;
    char *name = normalize_nfkc_dup(user_name, true);
    if (!name) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    bool bad = strcmp(folded, name) == 0 || (count_code_points(name) >= 3 && strstr(folded, name));
    free(name);
    return bad ? weak(err, "user_name: must not contain the user name") : 0;
}

static int check_common(const char *folded, struct kf_err *err)
{
    pthread_once(&common_once, common_load);
    return common_has_variant(folded) ? weak(err, "common: a commonly used password") : 0;
}

static int check_dictionary(const char *norm, const char *user_name, struct kf_err *err)
{
    const char *why = crack_judge(norm, user_name);
    if (why) return kf_fail(err, KF_E_INVALID, "password", "dictionary: %s", why);
    return 0;
}

int password_check_strength(const char *plain, const char *user_name, struct kf_err *err)
{
    int rc = password_init(err);
    if (rc) return rc;
    if (!plain) return weak(err, "too_short: at least 8 characters");
    size_t len = strnlen(plain, PASSWORD_MAX_BYTES + 1);
    if (len > PASSWORD_MAX_BYTES) return weak(err, "too_long: at most 128 characters");
    if (!text_is_utf8(plain, len)) return weak(err, "not_utf8: not valid UTF-8");
    char *norm = normalize_nfkc_dup(plain, false);
    char *folded = normalize_nfkc_dup(plain, true);
    if (!norm || !folded) {
        rc = kf_fail(err, KF_E_NOMEM, NULL, NULL);
    } else {
        /* most specific reason first: a listed password is "common", not "digits_only" */
        rc = check_length(norm, err);
        if (rc == 0) rc = check_user_name(folded, user_name, err);
        if (rc == 0) rc = check_common(folded, err);
        if (rc == 0) rc = check_variety(norm, err);
        if (rc == 0) rc = check_dictionary(norm, user_name, err);
    }
    secret_free(norm);
    secret_free(folded);
    return rc;
}
