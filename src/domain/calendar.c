/* Business calendars: weekly hours, holidays and make-up days (调休) in an IANA zone, the shipped
 * PRC arrangements, imports from the text format and from iCalendar, and business-time arithmetic
 * on UTC milliseconds (see calendar.h for the model and the conventions).
 *
 * DESIGN — invariants this file keeps
 *   1. cal->dates is sorted by day number, one entry per day, kind OFF or WORK; at most
 *      CALENDAR_DATES_MAX entries. Imports stage everything in a scratch list, validate it (syntax,
 *      ranges, off/work clashes inside the import and against the calendar) and only then swap in
 *      a freshly merged array and OR in the years: an import either applies fully or not at all.
 *   2. Each weekday's periods (and the make-up pattern) are sorted, non-empty, within 0..1440 and
 *      do not overlap. So a day's periods map to UTC intervals that are ordered and disjoint.
 *   3. Local wall time → UTC goes through ICU with "repeated wall time = first occurrence" and
 *      "skipped wall time = the instant the clocks jump". That mapping is monotonic, so intervals of
 *      one day stay ordered, an interval may shrink to nothing (then it is dropped), and day d's
 *      intervals all end at or before day d+1's begin (24:00 of d is 00:00 of d+1). Walking days in
 *      order therefore walks business time in order: add, between and next share that one walk
 *      (day_intervals), which is why between(a, add(a, x)) = x holds exactly.
 *   4. Every walk starts one local day before the day of its instant (robust against DST at
 *      midnight) and is bounded: CALENDAR_SEARCH_DAYS without business time, or CALENDAR_SPAN_MAX_DAYS
 *      in all, ends it with an error. Nothing loops on data.
 *   5. Readers never mutate: the ICU state a walk needs (a UCalendar of the zone, and a memo of
 *      local wall time → UTC) lives in a small per-thread cache keyed by the zone id (zone_open),
 *      never in the calendar (ICU calendars are not thread-safe), so a calendar that is no longer
 *      modified can be shared between threads. The cached UCalendar is reset by every use (setMillis,
 *      or clear + setDateTime) and its two attributes never change, so reusing it computes exactly
 *      what a fresh one would; the memo holds (zone, day, minute) → UTC ms, a pure function of the
 *      zone and the process's tz data, each entry checked by its full key. A nested walk in the same
 *      thread (the slot busy) opens a fresh UCalendar as before.
 * Day numbers are days since 1970-01-01 in the proleptic Gregorian calendar; converting them to
 * and from y-m-d is plain arithmetic with no zone in it (days_from_civil below), done by hand
 * because a UCalendar round trip per date would dominate the walk. */
#include "domain/calendar.h"

#include <libical/ical.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "core/text.h"

#define DAY_MS 86400000LL
#define MINUTE_MS 60000LL
#define YEAR_BITS (CALENDAR_YEAR_MAX - CALENDAR_YEAR_MIN + 1)

struct cal_date {
    int32_t day;
    uint8_t kind;
};

struct calendar {
    char zone[CALENDAR_ZONE_MAX];
    UChar uzone[CALENDAR_ZONE_MAX];
    int32_t uzone_len;
    struct calendar_period week[7][CALENDAR_PERIODS_MAX];
    size_t week_n[7];
    struct calendar_period makeup[CALENDAR_PERIODS_MAX];
    size_t makeup_n;
    bool makeup_set;
    struct cal_date *dates;
    size_t n_dates;
    uint8_t years[(YEAR_BITS + 7) / 8];
};

/* The PRC State Council's arrangement (国务院办公厅关于2026年部分节假日安排的通知), in the text
 * format so the shipped data goes through the same parser as an operator's file. Add a year by
 * appending its block after the notice is published (usually in November). */
static const char builtin_text[] =
    "# 国务院办公厅关于2026年部分节假日安排的通知\n"
    "year 2026\n"
    "2026-01-01..2026-01-03 off 元旦\n"
    "2026-01-04 work 元旦调休(周日上班)\n"
    "2026-02-15..2026-02-23 off 春节\n"
    "2026-02-14 work 春节调休(周六上班)\n"
    "2026-02-28 work 春节调休(周六上班)\n"
    "2026-04-04..2026-04-06 off 清明节\n"
    "2026-05-01..2026-05-05 off 劳动节\n"
    "2026-05-09 work 劳动节调休(周六上班)\n"
    "2026-06-19..2026-06-21 off 端午节\n"
    "2026-09-25..2026-09-27 off 中秋节\n"
    "2026-09-20 work 国庆节调休(周日上班)\n"
    "2026-10-01..2026-10-07 off 国庆节\n"
    "2026-10-10 work 国庆节调休(周六上班)\n";

/* ---- civil dates ---- */

/* Howard Hinnant's days_from_civil: days since 1970-01-01 of proleptic Gregorian y-m-d. */
int32_t calendar_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void calendar_civil_from_days(int32_t z, int *y_r, int *m_r, int *d_r)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d_r = doy - (153 * mp + 2) / 5 + 1;
    *m_r = mp < 10 ? mp + 3 : mp - 9;
    *y_r = yoe + era * 400 + (*m_r <= 2);
}

static bool date_valid(int y, int m, int d)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < CALENDAR_YEAR_MIN || y > CALENDAR_YEAR_MAX || m < 1 || m > 12 || d < 1) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= dim[m - 1] + (m == 2 && leap);
}

/* ISO weekday (1 = Monday) of a day number; 1970-01-01 was a Thursday. */
static int weekday_of(int32_t day)
{
    return (int)(((day % 7) + 7 + 3) % 7) + 1;
}

static void year_set(uint8_t *years, int y)
{
    if (y < CALENDAR_YEAR_MIN || y > CALENDAR_YEAR_MAX) return;
    years[(y - CALENDAR_YEAR_MIN) / 8] |= (uint8_t)(1u << ((y - CALENDAR_YEAR_MIN) % 8));
}

static int year_of_day(int32_t day)
{
    int y, m, d;
    calendar_civil_from_days(day, &y, &m, &d);
    return y;
}

/* ---- construction ---- */

static bool zone_chars_ok(const char *zone, size_t len)
{
    if (len == 0 || len >= CALENDAR_ZONE_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = zone[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
                  c == '_' || c == '-' || c == '+';
        if (!ok) return false;
    }
    return true;
}

int calendar_new(const char *zone, struct calendar **cal_r, struct kf_err *err)
{
    *cal_r = NULL;
    if (!zone || !*zone) zone = CALENDAR_DEFAULT_ZONE;
    size_t len = strlen(zone);
    if (!zone_chars_ok(zone, len)) return kf_fail(err, KF_E_INVALID, "zone", "not an IANA zone id");
    struct calendar *cal = calloc(1, sizeof *cal);
    if (!cal) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    memcpy(cal->zone, zone, len + 1);
    u_charsToUChars(zone, cal->uzone, (int32_t)len + 1);
    cal->uzone_len = (int32_t)len;
    UChar canon[CALENDAR_ZONE_MAX * 2];
    UBool is_system = 0;
    UErrorCode st = U_ZERO_ERROR;
    ucal_getCanonicalTimeZoneID(cal->uzone, cal->uzone_len, canon, (int32_t)(sizeof canon / sizeof canon[0]),
                                &is_system, &st);
    if (U_FAILURE(st) || !is_system) {
        free(cal);
        return kf_fail(err, KF_E_INVALID, "zone", "unknown time zone");
    }
    *cal_r = cal;
    return 0;
}

void calendar_free(struct calendar **cal)
{
    if (!cal || !*cal) return;
    free((*cal)->dates);
    free(*cal);
    *cal = NULL;
}

const char *calendar_zone(const struct calendar *cal)
{
    return cal->zone;
}

static int check_periods(const struct calendar_period *p, size_t n, struct kf_err *err)
{
    if (n > CALENDAR_PERIODS_MAX) {
        return kf_fail(err, KF_E_INVALID, "hours", "more than %d periods", CALENDAR_PERIODS_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i].start_min < 0 || p[i].end_min > 1440 || p[i].start_min >= p[i].end_min) {
            return kf_fail(err, KF_E_INVALID, "hours", "period %zu is empty or outside 00:00-24:00", i + 1);
        }
        if (i > 0 && p[i].start_min < p[i - 1].end_min) {
            return kf_fail(err, KF_E_INVALID, "hours", "period %zu overlaps or precedes the one before", i + 1);
        }
    }
    return 0;
}

int calendar_set_hours(struct calendar *cal, int weekday, const struct calendar_period *periods, size_t n,
                       struct kf_err *err)
{
    if (weekday < 1 || weekday > 7) return kf_fail(err, KF_E_INVALID, "hours", "weekday must be 1 (Monday) to 7");
    int rc = check_periods(periods, n, err);
    if (rc) return rc;
    if (n) memcpy(cal->week[weekday - 1], periods, n * sizeof *periods);
    cal->week_n[weekday - 1] = n;
    return 0;
}

int calendar_set_makeup_hours(struct calendar *cal, const struct calendar_period *periods, size_t n,
                              struct kf_err *err)
{
    if (n == 0) return kf_fail(err, KF_E_INVALID, "hours", "a make-up day needs at least one period");
    int rc = check_periods(periods, n, err);
    if (rc) return rc;
    memcpy(cal->makeup, periods, n * sizeof *periods);
    cal->makeup_n = n;
    cal->makeup_set = true;
    return 0;
}

/* Parses exactly "HH:MM" at s; returns minutes or -1. */
static int parse_hhmm(const char *s)
{
    for (int i = 0; i < 5; i++) {
        if (i == 2 ? s[i] != ':' : (s[i] < '0' || s[i] > '9')) return -1;
    }
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
    return h * 60 + m;
}

int calendar_parse_periods(const char *spec, struct calendar_period *out, size_t cap, size_t *n_r,
                           struct kf_err *err)
{
    *n_r = 0;
    size_t n = 0;
    const char *p = spec;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) return 0;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (strlen(p) < 11 || p[5] != '-') return kf_fail(err, KF_E_INVALID, "hours", "expected HH:MM-HH:MM");
        int a = parse_hhmm(p), b = parse_hhmm(p + 6);
        if (a < 0 || b < 0 || a == 1440) return kf_fail(err, KF_E_INVALID, "hours", "expected HH:MM-HH:MM");
        if (n == cap || n == CALENDAR_PERIODS_MAX) {
            return kf_fail(err, KF_E_INVALID, "hours", "more than %zu periods", n);
        }
        out[n].start_min = a;
        out[n].end_min = b;
        n++;
        p += 11;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (*p != ',') return kf_fail(err, KF_E_INVALID, "hours", "expected ',' between periods");
        p++;
    }
    int rc = check_periods(out, n, err);
    if (rc) return rc;
    *n_r = n;
    return 0;
}

/* ---- date lookup ---- */

static enum calendar_day_kind kind_of_day(const struct calendar *cal, int32_t day)
{
    size_t lo = 0, hi = cal->n_dates;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cal->dates[mid].day < day) lo = mid + 1;
        else hi = mid;
    }
    if (lo < cal->n_dates && cal->dates[lo].day == day) return (enum calendar_day_kind)cal->dates[lo].kind;
    return CALENDAR_DAY_ORDINARY;
}

bool calendar_has_year(const struct calendar *cal, int year)
{
    if (year < CALENDAR_YEAR_MIN || year > CALENDAR_YEAR_MAX) return false;
    return cal->years[(year - CALENDAR_YEAR_MIN) / 8] & (1u << ((year - CALENDAR_YEAR_MIN) % 8));
}

int calendar_day_kind(const struct calendar *cal, int y, int m, int d, enum calendar_day_kind *kind_r,
                      struct kf_err *err)
{
    if (!date_valid(y, m, d)) return kf_fail(err, KF_E_INVALID, "date", "no such date");
    *kind_r = kind_of_day(cal, calendar_days_from_civil(y, m, d));
    return 0;
}

size_t calendar_date_count(const struct calendar *cal)
{
    return cal->n_dates;
}

/* ---- imports: stage, validate, merge ---- */

struct staged {
    int32_t day;
    uint8_t kind;
    int where; /* line number, or event number for iCalendar */
};

struct stage {
    struct staged *v;
    size_t n, cap;
    const char *noun; /* "line" or "event" */
    uint8_t years[(YEAR_BITS + 7) / 8];
    bool any_year;
};

static int stage_range(struct stage *s, int32_t first, int32_t last, uint8_t kind, int where, struct kf_err *err)
{
    size_t add = (size_t)(last - first) + 1;
    if (s->n + add > CALENDAR_DATES_MAX) {
        return kf_fail(err, KF_E_INVALID, "file", "%s %d: more than %d dates", s->noun, where, CALENDAR_DATES_MAX);
    }
    if (s->n + add > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->n + add) cap *= 2;
        struct staged *v = realloc(s->v, cap * sizeof *v);
        if (!v) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
        s->v = v;
        s->cap = cap;
    }
    for (int32_t d = first; d <= last; d++) s->v[s->n++] = (struct staged){d, kind, where};
    if (kind == CALENDAR_DAY_OFF) {
        year_set(s->years, year_of_day(last));
        s->any_year = true;
    }
    return 0;
}

static int staged_cmp(const void *a, const void *b)
{
    const struct staged *x = a, *y = b;
    if (x->day != y->day) return x->day < y->day ? -1 : 1;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    return (x->where > y->where) - (x->where < y->where);
}

static void format_day(int32_t day, char out[16])
{
    int y, m, d;
    calendar_civil_from_days(day, &y, &m, &d);
    snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

static const char *kind_name(uint8_t kind)
{
    return kind == CALENDAR_DAY_OFF ? "off" : "work";
}

/* Validates the stage and merges it into cal; the calendar changes only when this returns 0. */
static int stage_commit(struct calendar *cal, struct stage *s, struct kf_err *err)
{
    if (s->n == 0 && !s->any_year) return kf_fail(err, KF_E_INVALID, "file", "no dates");
    if (s->n) qsort(s->v, s->n, sizeof *s->v, staged_cmp);
    char ds[16];
    for (size_t i = 1; i < s->n; i++) {
        if (s->v[i].day == s->v[i - 1].day && s->v[i].kind != s->v[i - 1].kind) {
            format_day(s->v[i].day, ds);
            int w1 = s->v[i - 1].where, w2 = s->v[i].where;
            return kf_fail(err, KF_E_INVALID, "file", "%s %d: %s is both off and work (%s %d)", s->noun,
                           w1 > w2 ? w1 : w2, ds, s->noun, w1 > w2 ? w2 : w1);
        }
    }
    /* Merge two sorted lists; the stage may hold duplicates of one kind. */
    size_t cap = cal->n_dates + s->n;
    struct cal_date *out = malloc((cap ? cap : 1) * sizeof *out);
    if (!out) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    size_t i = 0, j = 0, n = 0;
    while (i < cal->n_dates || j < s->n) {
        struct cal_date next;
        if (j == s->n || (i < cal->n_dates && cal->dates[i].day < s->v[j].day)) {
            next = cal->dates[i++];
        } else if (i < cal->n_dates && cal->dates[i].day == s->v[j].day) {
            if (cal->dates[i].kind != s->v[j].kind) {
                format_day(s->v[j].day, ds);
                int rc = kf_fail(err, KF_E_CONFLICT, "file", "%s %d: %s is already a %s day in this calendar",
                                 s->noun, s->v[j].where, ds, kind_name(cal->dates[i].kind));
                free(out);
                return rc;
            }
            next = cal->dates[i++];
            j++;
        } else {
            next = (struct cal_date){s->v[j].day, s->v[j].kind};
            j++;
        }
        if (n > 0 && out[n - 1].day == next.day) continue;
        out[n++] = next;
    }
    if (n > CALENDAR_DATES_MAX) {
        free(out);
        return kf_fail(err, KF_E_INVALID, "file", "the calendar would hold more than %d dates", CALENDAR_DATES_MAX);
    }
    free(cal->dates);
    cal->dates = out;
    cal->n_dates = n;
    for (size_t k = 0; k < sizeof cal->years; k++) cal->years[k] |= s->years[k];
    return 0;
}

/* ---- the text format ---- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses exactly YYYY-MM-DD at p[0..10) into a day number. */
static bool parse_date(const char *p, size_t avail, int32_t *day_r)
{
    if (avail < 10) return false;
    for (int i = 0; i < 10; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? p[i] != '-' : (p[i] < '0' || p[i] > '9')) return false;
    }
    int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    int m = (p[5] - '0') * 10 + (p[6] - '0');
    int d = (p[8] - '0') * 10 + (p[9] - '0');
    if (!date_valid(y, m, d)) return false;
    *day_r = calendar_days_from_civil(y, m, d);
    return true;
}

/* One non-blank, non-comment line p[0..len) (already trimmed). */
static int parse_line(struct stage *s, const char *p, size_t len, int line, struct kf_err *err)
{
    if (len >= 5 && memcmp(p, "year", 4) == 0 && is_blank(p[4])) {
        size_t k = 4;
        while (k < len && is_blank(p[k])) k++;
        int y = 0;
        size_t digits = 0;
        for (; k < len && p[k] >= '0' && p[k] <= '9' && digits < 5; k++, digits++) y = y * 10 + (p[k] - '0');
        if (digits != 4 || k != len || y < CALENDAR_YEAR_MIN || y > CALENDAR_YEAR_MAX) {
            return kf_fail(err, KF_E_INVALID, "file", "line %d: expected 'year YYYY'", line);
        }
        year_set(s->years, y);
        s->any_year = true;
        return 0;
    }
    int32_t first, last;
    if (!parse_date(p, len, &first)) {
        return kf_fail(err, KF_E_INVALID, "file", "line %d: expected a date YYYY-MM-DD that exists", line);
    }
    size_t k = 10;
    last = first;
    if (len - k >= 2 && p[k] == '.' && p[k + 1] == '.') {
        k += 2;
        if (!parse_date(p + k, len - k, &last)) {
            return kf_fail(err, KF_E_INVALID, "file", "line %d: expected a date YYYY-MM-DD that exists after '..'",
                           line);
        }
        k += 10;
        if (last < first) return kf_fail(err, KF_E_INVALID, "file", "line %d: the range ends before it starts", line);
        if (last - first + 1 > CALENDAR_RANGE_MAX_DAYS) {
            return kf_fail(err, KF_E_INVALID, "file", "line %d: a range may span at most %d days", line,
                           CALENDAR_RANGE_MAX_DAYS);
        }
    }
    if (k == len || !is_blank(p[k])) {
        return kf_fail(err, KF_E_INVALID, "file", "line %d: expected 'off' or 'work' after the date", line);
    }
    while (k < len && is_blank(p[k])) k++;
    size_t w = k;
    while (k < len && !is_blank(p[k])) k++;
    uint8_t kind;
    if (k - w == 3 && memcmp(p + w, "off", 3) == 0) kind = CALENDAR_DAY_OFF;
    else if (k - w == 4 && memcmp(p + w, "work", 4) == 0) kind = CALENDAR_DAY_WORK;
    else return kf_fail(err, KF_E_INVALID, "file", "line %d: expected 'off' or 'work' after the date", line);
    /* The rest of the line is a free label (already checked as UTF-8). */
    return stage_range(s, first, last, kind, line, err);
}

static int check_size(const char *data, size_t len, struct kf_err *err)
{
    if (len > CALENDAR_IMPORT_MAX) {
        return kf_fail(err, KF_E_TOO_LARGE, "file", "larger than %d bytes", CALENDAR_IMPORT_MAX);
    }
    if (!data && len) return kf_fail(err, KF_E_INVALID, "file", "no data");
    return 0;
}

int calendar_import_text(struct calendar *cal, const char *data, size_t len, struct kf_err *err)
{
    int rc = check_size(data, len, err);
    if (rc) return rc;
    struct stage s = {.noun = "line"};
    const char *p = data, *end = data + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    for (int line = 1; p && p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (!text_is_utf8(p, (size_t)(e - p))) {
            rc = kf_fail(err, KF_E_INVALID, "file", "line %d: not valid UTF-8 (or holds a NUL byte)", line);
            break;
        }
        const char *b = p;
        if (e > b && e[-1] == '\r') e--;
        while (b < e && is_blank(*b)) b++;
        while (e > b && is_blank(e[-1])) e--;
        if (b < e && *b != '#') {
            rc = parse_line(&s, b, (size_t)(e - b), line, err);
            if (rc) break;
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == 0) rc = stage_commit(cal, &s, err);
    free(s.v);
    return rc;
}

int calendar_load_builtin(struct calendar *cal, struct kf_err *err)
{
    return calendar_import_text(cal, builtin_text, sizeof builtin_text - 1, err);
}

int calendar_export_text(const struct calendar *cal, struct buf *out, struct kf_err *err)
{
    buf_reset(out);
    int rc = buf_puts(out, "# kefu business calendar dates\n");
    for (int y = CALENDAR_YEAR_MIN; rc == 0 && y <= CALENDAR_YEAR_MAX; y++) {
        if (calendar_has_year(cal, y)) rc = buf_printf(out, "year %d\n", y);
    }
    for (size_t i = 0; rc == 0 && i < cal->n_dates;) {
        size_t j = i;
        while (j + 1 < cal->n_dates && cal->dates[j + 1].day == cal->dates[j].day + 1 &&
               cal->dates[j + 1].kind == cal->dates[i].kind && j + 1 - i < CALENDAR_RANGE_MAX_DAYS) {
            j++;
        }
        char a[16], b[16];
        format_day(cal->dates[i].day, a);
        format_day(cal->dates[j].day, b);
        rc = i == j ? buf_printf(out, "%s %s\n", a, kind_name(cal->dates[i].kind))
                    : buf_printf(out, "%s..%s %s\n", a, b, kind_name(cal->dates[i].kind));
        i = j + 1;
    }
    if (rc) return kf_fail(err, rc, NULL, "the export does not fit");
    return 0;
}

/* ---- iCalendar ---- */

/* What to call an event in an error: its UID, else SUMMARY, else its number. */
static void event_name(icalcomponent *ev, int index, char *out, size_t cap)
{
    const char *uid = icalcomponent_get_uid(ev);
    const char *sum = icalcomponent_get_summary(ev);
    if (uid && *uid) snprintf(out, cap, "%d (UID %.60s)", index, uid);
    else if (sum && *sum) snprintf(out, cap, "%d (%.60s)", index, sum);
    else snprintf(out, cap, "%d", index);
}

static bool ical_day(struct icaltimetype t, int32_t *day_r)
{
    if (!t.is_date || !date_valid(t.year, t.month, t.day)) return false;
    *day_r = calendar_days_from_civil(t.year, t.month, t.day);
    return true;
}

/* The rule of calendar.h: 1 (work), 0 (off) or -1 (a bad X-KEFU-DAY). */
static int ical_is_work(icalcomponent *ev)
{
    for (icalproperty *p = icalcomponent_get_first_property(ev, ICAL_X_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_X_PROPERTY)) {
        const char *name = icalproperty_get_x_name(p), *v = icalproperty_get_x(p);
        if (name && strcasecmp(name, "X-KEFU-DAY") == 0) {
            if (v && strcasecmp(v, "work") == 0) return 1;
            if (v && strcasecmp(v, "off") == 0) return 0;
            return -1;
        }
    }
    for (icalproperty *p = icalcomponent_get_first_property(ev, ICAL_X_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_X_PROPERTY)) {
        const char *name = icalproperty_get_x_name(p), *v = icalproperty_get_x(p);
        if (name && v && strcasecmp(name, "X-APPLE-SPECIAL-DAY") == 0) {
            if (strcasecmp(v, "ALTERNATE-WORKDAY") == 0) return 1;
            if (strcasecmp(v, "WORK-HOLIDAY") == 0) return 0;
        }
    }
    for (icalproperty *p = icalcomponent_get_first_property(ev, ICAL_CATEGORIES_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_CATEGORIES_PROPERTY)) {
        const char *v = icalproperty_get_categories(p);
        /* libical splits "A,B" into one property per value; split again in case it did not. */
        for (const char *c = v; c && *c;) {
            size_t n = strcspn(c, ",");
            const char *b = c, *e = c + n;
            while (b < e && is_blank(*b)) b++;
            while (e > b && is_blank(e[-1])) e--;
            size_t w = (size_t)(e - b);
            if ((w == 7 && strncasecmp(b, "WORKDAY", 7) == 0) || (w == strlen("补班") && memcmp(b, "补班", w) == 0) ||
                (w == strlen("上班") && memcmp(b, "上班", w) == 0)) {
                return 1;
            }
            c += n;
            if (*c == ',') c++;
        }
    }
    const char *sum = icalcomponent_get_summary(ev);
    return sum && strstr(sum, "班") ? 1 : 0;
}

static int ical_event(struct stage *s, icalcomponent *ev, int index, struct kf_err *err)
{
    char name[96];
    event_name(ev, index, name, sizeof name);
    if (icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY) ||
        icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY)) {
        return kf_fail(err, KF_E_INVALID, "file", "event %s: recurring events are not supported", name);
    }
    icalproperty *ps = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    int32_t first, end;
    if (!ps || !ical_day(icalproperty_get_dtstart(ps), &first)) {
        return kf_fail(err, KF_E_INVALID, "file", "event %s: DTSTART must be an all-day date (VALUE=DATE) that exists",
                       name);
    }
    icalproperty *pe = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY);
    icalproperty *pd = icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY);
    if (pe) {
        if (!ical_day(icalproperty_get_dtend(pe), &end)) {
            return kf_fail(err, KF_E_INVALID, "file",
                           "event %s: DTEND must be an all-day date (VALUE=DATE) that exists", name);
        }
    } else if (pd) {
        struct icaldurationtype du = icalproperty_get_duration(pd);
        if (du.is_neg || du.hours || du.minutes || du.seconds || du.weeks > 60 || du.days > 500) {
            return kf_fail(err, KF_E_INVALID, "file", "event %s: DURATION must be whole days", name);
        }
        end = first + (int32_t)(du.weeks * 7 + du.days);
    } else {
        end = first + 1;
    }
    if (end <= first) return kf_fail(err, KF_E_INVALID, "file", "event %s: DTEND is not after DTSTART", name);
    if (end - first > CALENDAR_RANGE_MAX_DAYS) {
        return kf_fail(err, KF_E_INVALID, "file", "event %s: spans more than %d days", name, CALENDAR_RANGE_MAX_DAYS);
    }
    int work = ical_is_work(ev);
    if (work < 0) return kf_fail(err, KF_E_INVALID, "file", "event %s: X-KEFU-DAY must be 'work' or 'off'", name);
    return stage_range(s, first, end - 1, work ? CALENDAR_DAY_WORK : CALENDAR_DAY_OFF, index, err);
}

/* The text of the first X-LIC-ERROR libical left in place of a property it could not parse. */
static const char *first_ical_error(icalcomponent *c)
{
    icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY);
    if (p) return icalproperty_get_xlicerror(p);
    for (icalcomponent *k = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); k;
         k = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT)) {
        const char *why = first_ical_error(k);
        if (why) return why;
    }
    return NULL;
}

int calendar_import_ics(struct calendar *cal, const char *data, size_t len, struct kf_err *err)
{
    int rc = check_size(data, len, err);
    if (rc) return rc;
    if (!text_is_utf8(data, len)) return kf_fail(err, KF_E_INVALID, "file", "not valid UTF-8 (or holds a NUL byte)");
    char *copy = malloc(len + 1);
    if (!copy) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    if (len) memcpy(copy, data, len);
    copy[len] = '\0';
    icalcomponent *root = icalparser_parse_string(copy);
    free(copy);
    if (!root || icalcomponent_isa(root) != ICAL_VCALENDAR_COMPONENT) {
        if (root) icalcomponent_free(root);
        return kf_fail(err, KF_E_INVALID, "file", "not an iCalendar object (BEGIN:VCALENDAR … END:VCALENDAR)");
    }
    struct stage s = {.noun = "event"};
    if (icalcomponent_count_errors(root) > 0) {
        const char *why = first_ical_error(root);
        if (!why) why = "a property libical refused";
        rc = kf_fail(err, KF_E_INVALID, "file", "malformed iCalendar: %.120s", why);
    }
    int index = 0;
    for (icalcomponent *ev = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ev && rc == 0;
         ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        rc = ical_event(&s, ev, ++index, err);
    }
    if (rc == 0 && index == 0) rc = kf_fail(err, KF_E_INVALID, "file", "no VEVENT");
    if (rc == 0) rc = stage_commit(cal, &s, err);
    free(s.v);
    icalcomponent_free(root);
    return rc;
}

/* ---- arithmetic ---- */

/* Invariant 5: per-thread ICU state, a few zones per thread (round-robin past ZC_SLOTS). */
#define ZC_SLOTS 4
#define ZC_MEMO 2048 /* a power of two: direct-mapped (day, minute) → UTC ms */

struct zc_memo {
    int32_t day;
    int16_t minute;
    int16_t used;
    int64_t ms;
};

struct zc_slot {
    UChar uzone[CALENDAR_ZONE_MAX];
    int32_t uzone_len;
    UCalendar *uc;
    bool busy;
    struct zc_memo memo[ZC_MEMO];
};

struct zc_tls {
    struct zc_slot *slots[ZC_SLOTS];
    size_t next;
};

/* An open zone for one walk: `slot` NULL when `uc` is a fresh UCalendar of its own. */
struct zone {
    UCalendar *uc;
    struct zc_slot *slot;
};

static _Thread_local struct zc_tls *zc_tls;
static pthread_key_t zc_key;
static pthread_once_t zc_once = PTHREAD_ONCE_INIT;

static void zc_free(void *p)
{
    struct zc_tls *t = p;
    if (!t) return;
    for (size_t i = 0; i < ZC_SLOTS; i++) {
        if (!t->slots[i]) continue;
        if (t->slots[i]->uc) ucal_close(t->slots[i]->uc);
        free(t->slots[i]);
    }
    free(t);
}

static void zc_key_make(void)
{
    (void)pthread_key_create(&zc_key, zc_free);
}

static int zone_ucal(const UChar *uzone, int32_t len, UCalendar **uc_r, struct kf_err *err)
{
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *uc = ucal_open(uzone, len, "root", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st) || !uc) {
        if (uc) ucal_close(uc);
        return kf_fail(err, KF_E_INTERNAL, NULL, "ucal_open: %s", u_errorName(st));
    }
    /* Invariant 3: a monotonic wall-time → UTC mapping. */
    ucal_setAttribute(uc, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
    ucal_setAttribute(uc, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
    *uc_r = uc;
    return 0;
}

/* Opens cal's zone for one walk: this thread's cached UCalendar and memo of the zone when free,
 * else a fresh UCalendar. Pair with zone_close. */
static int zone_open(const struct calendar *cal, struct zone *z, struct kf_err *err)
{
    *z = (struct zone){0};
    if (!zc_tls) {
        pthread_once(&zc_once, zc_key_make);
        zc_tls = calloc(1, sizeof *zc_tls);
        if (zc_tls) (void)pthread_setspecific(zc_key, zc_tls);
    }
    struct zc_tls *t = zc_tls;
    if (!t) return zone_ucal(cal->uzone, cal->uzone_len, &z->uc, err);
    struct zc_slot *slot = NULL;
    for (size_t i = 0; i < ZC_SLOTS && !slot; i++) {
        struct zc_slot *s = t->slots[i];
        if (s && s->uzone_len == cal->uzone_len && memcmp(s->uzone, cal->uzone, (size_t)cal->uzone_len * sizeof(UChar)) == 0)
            slot = s;
    }
    if (slot && slot->busy) return zone_ucal(cal->uzone, cal->uzone_len, &z->uc, err); /* nested: its own */
    if (!slot) {
        size_t i = t->next;
        for (size_t k = ZC_SLOTS; k-- > 0;)
            if (!t->slots[k]) i = k; /* the first empty slot, else the oldest */
        struct zc_slot *s = t->slots[i];
        if (s && s->busy) return zone_ucal(cal->uzone, cal->uzone_len, &z->uc, err);
        UCalendar *uc;
        int rc = zone_ucal(cal->uzone, cal->uzone_len, &uc, err);
        if (rc) return rc;
        if (!s && !(s = malloc(sizeof *s))) {
            z->uc = uc; /* no memory for the cache: a walk of its own */
            return 0;
        }
        if (t->slots[i] && s->uc) ucal_close(s->uc);
        memset(s, 0, sizeof *s);
        memcpy(s->uzone, cal->uzone, sizeof s->uzone);
        s->uzone_len = cal->uzone_len;
        s->uc = uc;
        t->slots[i] = s;
        t->next = (i + 1) % ZC_SLOTS;
        slot = s;
    }
    slot->busy = true;
    z->uc = slot->uc;
    z->slot = slot;
    return 0;
}

static void zone_close(struct zone *z)
{
    if (z->slot) z->slot->busy = false;
    else if (z->uc) ucal_close(z->uc);
    *z = (struct zone){0};
}

/* The local day number of instant t. */
static int day_of(UCalendar *uc, int64_t t, int32_t *day_r, struct kf_err *err)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(uc, (UDate)t, &st);
    int y = ucal_get(uc, UCAL_EXTENDED_YEAR, &st);
    int m = ucal_get(uc, UCAL_MONTH, &st) + 1;
    int d = ucal_get(uc, UCAL_DATE, &st);
    if (U_FAILURE(st)) return kf_fail(err, KF_E_INTERNAL, NULL, "ucal_get: %s", u_errorName(st));
    *day_r = calendar_days_from_civil(y, m, d);
    return 0;
}

/* UTC ms of local `minute` (0..1440) of day number `day`: from the zone's memo when it holds that
 * very (day, minute), else through ICU (and memoised). */
static int local_to_utc(struct zone *z, int32_t day, int minute, int64_t *ms_r, struct kf_err *err)
{
    if (minute == 1440) {
        day++;
        minute = 0;
    }
    struct zc_memo *m = NULL;
    if (z->slot) {
        uint32_t h = ((uint32_t)day * 2654435761u) ^ (uint32_t)minute * 40503u;
        m = &z->slot->memo[(h ^ (h >> 16)) & (ZC_MEMO - 1)];
        if (m->used && m->day == day && m->minute == minute) {
            *ms_r = m->ms;
            return 0;
        }
    }
    int y, mo, d;
    calendar_civil_from_days(day, &y, &mo, &d);
    UErrorCode st = U_ZERO_ERROR;
    ucal_clear(z->uc);
    ucal_setDateTime(z->uc, y, mo - 1, d, minute / 60, minute % 60, 0, &st);
    UDate u = ucal_getMillis(z->uc, &st);
    if (U_FAILURE(st)) return kf_fail(err, KF_E_INTERNAL, NULL, "ucal_getMillis: %s", u_errorName(st));
    *ms_r = (int64_t)u;
    if (m) *m = (struct zc_memo){.day = day, .minute = (int16_t)minute, .used = 1, .ms = (int64_t)u};
    return 0;
}

/* The business intervals [iv[i][0], iv[i][1]) of local day `day`, in order (invariant 3). */
static int day_intervals(const struct calendar *cal, struct zone *z, int32_t day,
                         int64_t iv[CALENDAR_PERIODS_MAX][2], size_t *n_r, struct kf_err *err)
{
    *n_r = 0;
    const struct calendar_period *p;
    size_t np;
    switch (kind_of_day(cal, day)) {
    case CALENDAR_DAY_OFF:
        return 0;
    case CALENDAR_DAY_WORK:
        p = cal->makeup_set ? cal->makeup : cal->week[0];
        np = cal->makeup_set ? cal->makeup_n : cal->week_n[0];
        break;
    default:
        p = cal->week[weekday_of(day) - 1];
        np = cal->week_n[weekday_of(day) - 1];
        break;
    }
    for (size_t i = 0; i < np; i++) {
        int64_t s, e;
        int rc = local_to_utc(z, day, p[i].start_min, &s, err);
        if (rc == 0) rc = local_to_utc(z, day, p[i].end_min, &e, err);
        if (rc) return rc;
        if (e > s) {
            iv[*n_r][0] = s;
            iv[*n_r][1] = e;
            (*n_r)++;
        }
    }
    return 0;
}

static int check_time(int64_t t, struct kf_err *err)
{
    if (t < CALENDAR_MS_MIN || t > CALENDAR_MS_MAX) {
        return kf_fail(err, KF_E_INVALID, "time", "outside 1970-01-01 .. 9999-12-31");
    }
    return 0;
}

static int no_business_time(struct kf_err *err)
{
    return kf_fail(err, KF_E_INVALID, "calendar", "no business time within %d days", CALENDAR_SEARCH_DAYS);
}

int calendar_next_business_instant(const struct calendar *cal, int64_t t_ms, int64_t *r_ms_r, struct kf_err *err)
{
    int rc = check_time(t_ms, err);
    if (rc) return rc;
    struct zone z;
    if ((rc = zone_open(cal, &z, err))) return rc;
    int32_t d0;
    rc = day_of(z.uc, t_ms, &d0, err);
    d0--;
    bool found = false;
    for (int32_t d = d0; rc == 0 && !found && d <= d0 + CALENDAR_SEARCH_DAYS + 2; d++) {
        int64_t iv[CALENDAR_PERIODS_MAX][2];
        size_t n;
        rc = day_intervals(cal, &z, d, iv, &n, err);
        for (size_t i = 0; rc == 0 && i < n && !found; i++) {
            if (iv[i][1] <= t_ms) continue;
            *r_ms_r = iv[i][0] <= t_ms ? t_ms : iv[i][0];
            found = true;
        }
    }
    zone_close(&z);
    if (rc) return rc;
    return found ? 0 : no_business_time(err);
}

int calendar_is_business_instant(const struct calendar *cal, int64_t t_ms, bool *is_r, struct kf_err *err)
{
    int64_t r;
    int rc = calendar_next_business_instant(cal, t_ms, &r, err);
    if (rc == KF_E_INVALID && err && err->field && strcmp(err->field, "calendar") == 0) {
        *is_r = false;
        kf_err_clear(err);
        return 0;
    }
    if (rc) return rc;
    *is_r = r == t_ms;
    return 0;
}

int calendar_add_business_ms(const struct calendar *cal, int64_t start_ms, int64_t amount_ms, int64_t *result_ms_r,
                             struct kf_err *err)
{
    int rc = check_time(start_ms, err);
    if (rc) return rc;
    if (amount_ms < 0 || amount_ms > (int64_t)CALENDAR_MINUTES_MAX * MINUTE_MS) {
        return kf_fail(err, KF_E_INVALID, "amount", "must be 0 to %d minutes", CALENDAR_MINUTES_MAX);
    }
    if (amount_ms == 0) {
        *result_ms_r = start_ms;
        return 0;
    }
    struct zone z;
    if ((rc = zone_open(cal, &z, err))) return rc;
    int32_t d0;
    rc = day_of(z.uc, start_ms, &d0, err);
    d0--;
    int64_t remaining = amount_ms, result = 0;
    int32_t idle = 0;
    bool done = false;
    for (int32_t d = d0; rc == 0 && !done; d++) {
        if (d - d0 > CALENDAR_SPAN_MAX_DAYS) {
            rc = kf_fail(err, KF_E_INVALID, "calendar", "the amount needs more than %d days", CALENDAR_SPAN_MAX_DAYS);
            break;
        }
        int64_t iv[CALENDAR_PERIODS_MAX][2];
        size_t n;
        rc = day_intervals(cal, &z, d, iv, &n, err);
        bool any = false;
        for (size_t i = 0; rc == 0 && i < n && !done; i++) {
            if (iv[i][1] <= start_ms) continue;
            int64_t s = iv[i][0] > start_ms ? iv[i][0] : start_ms;
            int64_t avail = iv[i][1] - s;
            any = true;
            if (remaining <= avail) {
                result = s + remaining; /* the earliest such instant: a period's end, never the next start */
                done = true;
            } else {
                remaining -= avail;
            }
        }
        idle = any ? 0 : idle + 1;
        if (rc == 0 && !done && idle > CALENDAR_SEARCH_DAYS) rc = no_business_time(err);
    }
    zone_close(&z);
    if (rc) return rc;
    if (result > CALENDAR_MS_MAX) return kf_fail(err, KF_E_INVALID, "time", "the result is after 9999-12-31");
    *result_ms_r = result;
    return 0;
}

int calendar_add_business_minutes(const struct calendar *cal, int64_t start_ms, int64_t minutes,
                                  int64_t *result_ms_r, struct kf_err *err)
{
    if (minutes < 0 || minutes > CALENDAR_MINUTES_MAX) {
        return kf_fail(err, KF_E_INVALID, "amount", "must be 0 to %d minutes", CALENDAR_MINUTES_MAX);
    }
    return calendar_add_business_ms(cal, start_ms, minutes * MINUTE_MS, result_ms_r, err);
}

int calendar_business_ms_between(const struct calendar *cal, int64_t a_ms, int64_t b_ms, int64_t *ms_r,
                                 struct kf_err *err)
{
    int rc = check_time(a_ms, err);
    if (rc == 0) rc = check_time(b_ms, err);
    if (rc) return rc;
    if (a_ms > b_ms) return kf_fail(err, KF_E_INVALID, "time", "the end is before the start");
    if (b_ms - a_ms > (int64_t)CALENDAR_SPAN_MAX_DAYS * DAY_MS) {
        return kf_fail(err, KF_E_INVALID, "time", "spans more than %d days", CALENDAR_SPAN_MAX_DAYS);
    }
    struct zone z;
    if ((rc = zone_open(cal, &z, err))) return rc;
    int32_t da, db;
    rc = day_of(z.uc, a_ms, &da, err);
    if (rc == 0) rc = day_of(z.uc, b_ms, &db, err);
    int64_t sum = 0;
    for (int32_t d = da - 1; rc == 0 && d <= db + 1; d++) {
        int64_t iv[CALENDAR_PERIODS_MAX][2];
        size_t n;
        rc = day_intervals(cal, &z, d, iv, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            int64_t s = iv[i][0] > a_ms ? iv[i][0] : a_ms;
            int64_t e = iv[i][1] < b_ms ? iv[i][1] : b_ms;
            if (e > s) sum += e - s;
        }
    }
    zone_close(&z);
    if (rc) return rc;
    *ms_r = sum;
    return 0;
}

int calendar_business_minutes_between(const struct calendar *cal, int64_t a_ms, int64_t b_ms, int64_t *minutes_r,
                                      struct kf_err *err)
{
    int64_t ms;
    int rc = calendar_business_ms_between(cal, a_ms, b_ms, &ms, err);
    if (rc) return rc;
    *minutes_r = ms / MINUTE_MS;
    return 0;
}
