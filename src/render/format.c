/* Dates through ICU's udat with a fixed pattern per locale (the default skeletons change between
 * ICU releases, and receipts must not). Money is formatted by hand from int64 fen: ICU's number
 * formatters take doubles or decimal strings and their CNY symbol depends on the locale data
 * version, while kefu needs exact, stable output for every int64.
 * DESIGN — speed: opening a UDateFormat (and checking the zone id) costs far more than formatting,
 * and a page formats dozens of dates, so each thread keeps the few formatters it used, keyed by
 * (zone, locale, with_time). A UDateFormat is not thread-safe, so they are never shared; formatting
 * an instant leaves nothing behind in the formatter that the next call would see, so a cached one
 * writes exactly what a fresh one would. Only valid zones are ever cached. */
#include "render/format.h"

#include "core/zone.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/udat.h>
#include <unicode/ustring.h>

static bool is_en(const char *locale)
{
    return locale && (strncmp(locale, "en", 2) == 0) && (locale[2] == '\0' || locale[2] == '-');
}

bool format_zone_is_valid(const char *zone)
{
    return zone_is_valid(zone);
}

#define FMT_CACHE 8
#define FMT_ZONE_MAX 65

struct fmt_entry {
    char zone[FMT_ZONE_MAX];
    bool en, with_time;
    UDateFormat *df;
};

struct fmt_cache {
    struct fmt_entry e[FMT_CACHE];
    size_t n, next;
};

static _Thread_local struct fmt_cache *fmt_tls;
static pthread_key_t fmt_key;
static pthread_once_t fmt_once = PTHREAD_ONCE_INIT;

static void fmt_cache_free(void *p)
{
    struct fmt_cache *k = p;
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) udat_close(k->e[i].df);
    free(k);
}

static void fmt_key_make(void)
{
    (void)pthread_key_create(&fmt_key, fmt_cache_free);
}

/* A new formatter of (zone, locale, with_time) into *df_r; the zone already checked. */
static int fmt_open(const char *zone, bool en, bool with_time, UDateFormat **df_r, struct kf_err *err)
{
    const char *pattern = en ? (with_time ? "d MMM y HH:mm" : "d MMM y")
                             : (with_time ? "y年M月d日 HH:mm" : "y年M月d日");
    UChar upattern[64], uzone[80];
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(upattern, 64, NULL, pattern, -1, &st);
    u_strFromUTF8(uzone, 80, NULL, zone, -1, &st);
    if (U_FAILURE(st)) return kf_fail(err, KF_E_INTERNAL, NULL, "utf-16 conversion failed");
    UDateFormat *df = udat_open(UDAT_PATTERN, UDAT_PATTERN, en ? "en" : "zh_CN", uzone, -1,
        upattern, -1, &st);
    if (U_FAILURE(st)) {
        if (df) udat_close(df);
        return kf_fail(err, KF_E_INTERNAL, NULL, "udat_open: %s", u_errorName(st));
    }
    /* proleptic Gregorian throughout: no Julian switch in 1582 for odd test dates */
    UCalendar *cal = (UCalendar *)udat_getCalendar(df);
    ucal_setGregorianChange(cal, -8.64e15, &st);
    *df_r = df;
    return 0;
}

/* This thread's formatter of (zone, locale, with_time) into *df_r, opened (zone checked) on first
 * use. *owned_r is set when it could not be cached: the caller closes it. */
static int fmt_get(const char *zone, bool en, bool with_time, UDateFormat **df_r, bool *owned_r, struct kf_err *err)
{
    *owned_r = false;
    size_t zlen = strlen(zone);
    struct fmt_cache *k = fmt_tls;
    if (k && zlen < FMT_ZONE_MAX)
        for (size_t i = 0; i < k->n; i++)
            if (k->e[i].en == en && k->e[i].with_time == with_time && strcmp(k->e[i].zone, zone) == 0)
                return *df_r = k->e[i].df, 0;
    /* ICU silently falls back to GMT for an unknown zone: refuse it instead of showing a wrong hour */
    if (!format_zone_is_valid(zone)) return kf_fail(err, KF_E_INVALID, "zone", "unknown time zone");
    UDateFormat *df;
    int rc = fmt_open(zone, en, with_time, &df, err);
    if (rc) return rc;
    *df_r = df;
    if (!k && zlen < FMT_ZONE_MAX) {
        pthread_once(&fmt_once, fmt_key_make);
        if ((k = fmt_tls = calloc(1, sizeof *k)) != NULL) (void)pthread_setspecific(fmt_key, k);
    }
    if (!k || zlen >= FMT_ZONE_MAX) return *owned_r = true, 0;
    size_t i;
    if (k->n < FMT_CACHE) {
        i = k->n++;
    } else { /* full: replace the oldest */
        i = k->next;
        udat_close(k->e[i].df);
        k->next = (i + 1) % FMT_CACHE;
    }
    memcpy(k->e[i].zone, zone, zlen + 1);
    k->e[i].en = en;
    k->e[i].with_time = with_time;
    k->e[i].df = df;
    return 0;
}

int format_datetime(char *out, size_t cap, int64_t utc_ms, const char *zone, const char *locale,
    bool with_time, struct kf_err *err)
{
    if (!zone) zone = FORMAT_DEFAULT_ZONE;
    bool owned;
    UDateFormat *df;
    int rc = fmt_get(zone, is_en(locale), with_time, &df, &owned, err);
    if (rc) return rc;
    UChar result[128];
    UErrorCode st = U_ZERO_ERROR;
    int32_t n = udat_format(df, (UDate)utc_ms, result, 128, NULL, &st);
    if (owned) udat_close(df);
    if (U_FAILURE(st) || n >= 128) return kf_fail(err, KF_E_INTERNAL, NULL, "udat_format: %s", u_errorName(st));
    st = U_ZERO_ERROR;
    int32_t len = 0;
    u_strToUTF8(out, (int32_t)cap, &len, result, n, &st);
    if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING || (size_t)len >= cap)
        return kf_fail(err, KF_E_TOO_LARGE, NULL, "output buffer too small");
    return 0;
}

/* The magnitude of an int64 as uint64, without overflowing on INT64_MIN. */
static uint64_t magnitude(int64_t v)
{
    return v < 0 ? (uint64_t)(-(v + 1)) + 1u : (uint64_t)v;
}

int format_money(char *out, size_t cap, int64_t fen, const char *locale)
{
    uint64_t m = magnitude(fen);
    uint64_t yuan = m / 100;
    unsigned cents = (unsigned)(m % 100);
    char digits[32];
    int nd = snprintf(digits, sizeof digits, "%" PRIu64, yuan);
    char grouped[40];
    size_t g = 0;
    for (int i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0) grouped[g++] = ',';
        grouped[g++] = digits[i];
    }
    grouped[g] = '\0';
    int n = snprintf(out, cap, "%s%s%s.%02u", fen < 0 ? "-" : "", is_en(locale) ? "CN¥" : "¥", grouped, cents);
    if (n < 0 || (size_t)n >= cap) return KF_E_TOO_LARGE;
    return 0;
}

/* A bounded UTF-8 writer: `ok` turns false (and stays) when the buffer is too small. */
struct dx {
    char *p;
    size_t cap, len;
    bool ok;
};

static void dx_put(struct dx *d, const char *s)
{
    size_t n = strlen(s);
    if (!d->ok || d->len + n + 1 > d->cap) {
        d->ok = false;
        return;
    }
    memcpy(d->p + d->len, s, n + 1);
    d->len += n;
}

static const char *const dx_digit[] = {"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"};

/* 0 < n < 10000: digits with 仟佰拾; leading zeros dropped, an inner run of zeros read as one 零,
 * trailing zeros silent (1005 壹仟零伍, 1050 壹仟零伍拾, 1500 壹仟伍佰). */
static void dx_group(struct dx *d, unsigned n)
{
    static const char *const unit[] = {"仟", "佰", "拾", ""};
    unsigned div[] = {1000, 100, 10, 1};
    bool started = false, zero = false;
    for (int i = 0; i < 4; i++) {
        unsigned digit = (n / div[i]) % 10;
        if (digit == 0) {
            if (started) zero = true;
            continue;
        }
        if (zero) dx_put(d, "零");
        zero = false;
        dx_put(d, dx_digit[digit]);
        dx_put(d, unit[i]);
        started = true;
    }
}

/* 0 < n < 10^8: [group]万[零][group]; 零 when the lower group has a leading zero. */
static void dx_below_yi(struct dx *d, uint64_t n)
{
    unsigned hi = (unsigned)(n / 10000), lo = (unsigned)(n % 10000);
    if (hi) {
        dx_group(d, hi);
        dx_put(d, "万");
        if (lo && lo < 1000) dx_put(d, "零");
    }
    if (lo) dx_group(d, lo);
}

/* n > 0. Above 10^8 the number is read as (n / 10^8)亿 + rest, recursively, which gives the
 * usual 万亿 for 10^12 and 亿亿 for 10^16 (int64 fen stay below 10^17 yuan). */
static void dx_int(struct dx *d, uint64_t n)
{
    if (n < 100000000u) {
        dx_below_yi(d, n);
        return;
    }
    dx_int(d, n / 100000000u);
    dx_put(d, "亿");
    uint64_t rest = n % 100000000u;
    if (rest == 0) return;
    if (rest < 10000000u) dx_put(d, "零");
    dx_below_yi(d, rest);
}

int format_money_daxie(char *out, size_t cap, int64_t fen)
{
    struct dx d = {out, cap, 0, cap > 0};
    if (cap > 0) out[0] = '\0';
    uint64_t m = magnitude(fen);
    uint64_t yuan = m / 100;
    unsigned jiao = (unsigned)(m / 10 % 10), fen_digit = (unsigned)(m % 10);
    if (fen < 0) dx_put(&d, "负");
    if (m == 0) {
        dx_put(&d, "零元整");
    } else {
        if (yuan) {
            dx_int(&d, yuan);
            dx_put(&d, "元");
        }
        if (jiao) {
            dx_put(&d, dx_digit[jiao]);
            dx_put(&d, "角");
        } else if (fen_digit && yuan) {
            dx_put(&d, "零"); /* ¥325.04 is 叁佰贰拾伍元零肆分 (支付结算办法) */
        }
        if (fen_digit) {
            dx_put(&d, dx_digit[fen_digit]);
            dx_put(&d, "分");
        } else {
            dx_put(&d, "整"); /* after 元 or 角: nothing can be appended to the amount */
        }
    }
    return d.ok ? 0 : KF_E_TOO_LARGE;
}
