/* Normalised keys (see normalize.h): NFKC + case folding by utf8proc, then the white-space, e-mail
 * and phone rewrites in place on the appended bytes. utf8proc_map would malloc twice per call;
 * search normalises every message, so short inputs decompose into a stack buffer instead. */
#include "core/normalize.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/err.h"
#include "core/text.h"

/* Code points decomposed on the stack before falling back to the heap. */
#define NORM_STACK_CPS 256

/* What utf8proc_map(…, UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
 * UTF8PROC_CASEFOLD) does, without NULLTERM: our inputs are slices with a length, not C strings. */
static const utf8proc_option_t norm_options = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD;

/* True when s[0..len) is ASCII without NUL: NFKC is the identity there, and case folding is
 * lower-casing. */
static bool norm_is_plain_ascii(const char *s, size_t len)
{
    unsigned char any_high = 0, any_nul = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        any_high |= c & 0x80;
        any_nul |= (unsigned char)(c == 0);
    }
    return !any_high && !any_nul;
}

static int norm_ascii(const char *s, size_t len, struct buf *out)
{
    size_t start = out->len;
    int rc = buf_append(out, s, len);
    if (rc) return rc;
    for (size_t i = start; i < out->len; i++) {
        char c = out->data[i];
        if (c >= 'A' && c <= 'Z') out->data[i] = (char)(c - 'A' + 'a');
    }
    return 0;
}

/* Appends the UTF-8 encoding of cps[0..n), in chunks. */
static int norm_encode(const utf8proc_int32_t *cps, size_t n, struct buf *out)
{
    unsigned char chunk[256];
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (used + 4 > sizeof chunk) {
            int rc = buf_append(out, chunk, used);
            if (rc) return rc;
            used = 0;
        }
        used += (size_t)utf8proc_encode_char(cps[i], chunk + used);
    }
    return buf_append(out, chunk, used);
}

static int norm_unicode(const char *s, size_t len, struct buf *out)
{
    utf8proc_int32_t stack_cps[NORM_STACK_CPS];
    utf8proc_int32_t *cps = stack_cps;
    const utf8proc_uint8_t *in = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t n = utf8proc_decompose(in, (utf8proc_ssize_t)len, cps, NORM_STACK_CPS, norm_options);
    if (n > NORM_STACK_CPS) {
        if ((size_t)n > SIZE_MAX / sizeof *cps) return KF_E_TOO_LARGE;
        cps = malloc((size_t)n * sizeof *cps);
        if (!cps) return KF_E_NOMEM;
        n = utf8proc_decompose(in, (utf8proc_ssize_t)len, cps, n, norm_options);
    }
    if (n >= 0) n = utf8proc_normalize_utf32(cps, n, norm_options);
    int rc;
    if (n < 0) {
        rc = n == UTF8PROC_ERROR_NOMEM ? KF_E_NOMEM : n == UTF8PROC_ERROR_OVERFLOW ? KF_E_TOO_LARGE : KF_E_INVALID;
    } else {
        size_t start = out->len;
        rc = norm_encode(cps, (size_t)n, out);
        if (rc) {
            out->len = start;
            if (out->data) out->data[start] = '\0';
        }
    }
    if (cps != stack_cps) free(cps);
    return rc;
}

int normalize_text(const char *s, size_t len, struct buf *out)
{
    if (norm_is_plain_ascii(s, len)) return norm_ascii(s, len, out);
    if (!text_is_utf8(s, len)) return KF_E_INVALID;
    return norm_unicode(s, len, out);
}

bool normalize_is_space(int32_t cp)
{
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85) return true;
    if (cp < 0x80) return false;
    utf8proc_category_t cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

int32_t normalize_next_cp(const char *s, size_t len, size_t *pos)
{
    if (*pos >= len) return -1;
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + *pos, (utf8proc_ssize_t)(len - *pos), &cp);
    if (n <= 0) {
        (*pos)++;
        return -1;
    }
    *pos += (size_t)n;
    return cp;
}

/* Rewrites out->data[start..] in place: every white-space run becomes one space, ends trimmed. */
static void norm_collapse_space(struct buf *out, size_t start)
{
    char *d = out->data;
    size_t r = start, w = start, len = out->len;
    bool gap = false;
    while (r < len) {
        size_t at = r;
        int32_t cp = normalize_next_cp(d, len, &r);
        if (cp >= 0 && normalize_is_space(cp)) {
            gap = w > start;
            continue;
        }
        if (gap) d[w++] = ' ';
        gap = false;
        memmove(d + w, d + at, r - at);
        w += r - at;
    }
    out->len = w;
    d[w] = '\0';
}

/* Trims white space at both ends of out->data[start..], in place. */
static void norm_trim_space(struct buf *out, size_t start)
{
    char *d = out->data;
    size_t p = start, first = out->len, end = start;
    while (p < out->len) {
        size_t at = p;
        int32_t cp = normalize_next_cp(d, out->len, &p);
        if (cp >= 0 && normalize_is_space(cp)) continue;
        if (first == out->len) first = at;
        end = p;
    }
    size_t n = first < end ? end - first : 0;
    memmove(d + start, d + first, n);
    out->len = start + n;
    d[out->len] = '\0';
}

int normalize_name(const char *s, size_t len, struct buf *out)
{
    size_t start = out->len;
    int rc = normalize_text(s, len, out);
    if (rc == 0 && out->len > start) norm_collapse_space(out, start);
    return rc;
}

int normalize_email(const char *s, size_t len, struct buf *out)
{
    size_t start = out->len;
    int rc = normalize_text(s, len, out);
    if (rc == 0 && out->len > start) norm_trim_space(out, start);
    return rc;
}

/* True when the number after a dropped country code is a mainland mobile number. */
static bool norm_is_cn_mobile(const char *digits, size_t n)
{
    return n == 11 && digits[0] == '1';
}

int normalize_phone(const char *s, size_t len, struct buf *out)
{
    size_t start = out->len;
    int rc = normalize_text(s, len, out);
    if (rc) return rc;
    char *d = out->data + start;
    size_t n = out->len - start, i = 0, w = 0;
    while (i < n && (d[i] == ' ' || d[i] == '(' || d[i] == '\t')) i++;
    bool plus = i < n && d[i] == '+';
    for (; i < n; i++) {
        if (d[i] >= '0' && d[i] <= '9') d[w++] = d[i];
    }
    size_t drop = 0;
    if (plus && w >= 2 && memcmp(d, "86", 2) == 0) drop = 2;
    else if (w >= 4 && memcmp(d, "0086", 4) == 0) drop = 4;
    if (drop) {
        size_t rest = w - drop;
        bool trunk = rest > 0 && d[drop] != '0' && !norm_is_cn_mobile(d + drop, rest);
        memmove(d + (trunk ? 1 : 0), d + drop, rest);
        if (trunk) d[0] = '0';
        w = rest + (trunk ? 1 : 0);
    }
    out->len = start + w;
    out->data[out->len] = '\0';
    return 0;
}

char *normalize_nfkc_dup(const char *s, bool fold)
{
    utf8proc_uint8_t *out = NULL;
    int opts = UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    if (fold) opts |= UTF8PROC_CASEFOLD | UTF8PROC_IGNORE;
    if (utf8proc_map((const utf8proc_uint8_t *)s, 0, &out, (utf8proc_option_t)opts) < 0) return NULL;
    return (char *)out;
}
