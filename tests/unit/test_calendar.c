/* Unit tests of src/domain/calendar (C3.1.1: service hours, time zone, holidays and 调休 make-up
 * days): worked examples on the 2026 PRC arrangement in Asia/Shanghai, DST zones, seeded property
 * tests against an independent minute-by-minute oracle, and both import formats with bad input. */
#include "harness.h"

#include <pthread.h>
#include <sodium.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "domain/calendar.h"

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL

/* UTC ms of a UTC civil time (timegm ignores TZ; no zone database involved). */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm) * 1000;
}

/* Asia/Shanghai is UTC+8 all year (no DST since 1991). */
static int64_t sh(int y, int mo, int d, int h, int mi)
{
    return utc(y, mo, d, h, mi) - 8 * HOUR_MS;
}

/* "2026-01-05 10:00" in Shanghai. */
static int64_t shs(const char *s)
{
    int y, mo, d, h, mi;
    assert_int_equal(sscanf(s, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi), 5);
    return sh(y, mo, d, h, mi);
}

static void set_weekdays(struct calendar *cal, int first, int last, const char *spec)
{
    struct calendar_period p[CALENDAR_PERIODS_MAX];
    size_t n;
    struct kf_err err;
    assert_int_equal(calendar_parse_periods(spec, p, CALENDAR_PERIODS_MAX, &n, &err), 0);
    for (int wd = first; wd <= last; wd++) assert_int_equal(calendar_set_hours(cal, wd, p, n, &err), 0);
}

/* The standard calendar of the worked examples: Shanghai, Mon–Fri 09:00–12:00 and 13:00–18:00,
 * the shipped 2026 arrangement. */
static struct calendar *std_calendar(void)
{
    struct calendar *cal = NULL;
    struct kf_err err;
    assert_int_equal(calendar_new(NULL, &cal, &err), 0);
    assert_string_equal(calendar_zone(cal), "Asia/Shanghai");
    set_weekdays(cal, 1, 5, "09:00-12:00, 13:00-18:00");
    assert_int_equal(calendar_load_builtin(cal, &err), 0);
    return cal;
}

/* Business minutes in [a, b); fails the test on an error. */
static int64_t mins(const struct calendar *cal, int64_t a, int64_t b)
{
    struct kf_err err;
    int64_t m = -1;
    assert_int_equal(calendar_business_minutes_between(cal, a, b, &m, &err), 0);
    return m;
}

static int group_setup(void **state)
{
    return sodium_init() < 0 ? -1 : 0;
}

/* ---- worked examples (C3.1.1) ---------------------------------------------------------------- */

static const struct example {
    const char *start;
    int64_t minutes;
    const char *expect;
    const char *why;
} examples[] = {
    {"2026-01-05 10:00", 60, "2026-01-05 11:00", "plain hour on a Monday"},
    {"2026-01-05 11:30", 60, "2026-01-05 13:30", "across the lunch break"},
    {"2026-01-05 11:00", 60, "2026-01-05 12:00", "lands exactly on 12:00: that end, not 13:00"},
    {"2026-01-05 17:00", 60, "2026-01-05 18:00", "lands exactly on 18:00: not next morning"},
    {"2026-01-05 12:00", 1, "2026-01-05 13:01", "from the end of a period"},
    {"2026-01-05 18:00", 1, "2026-01-06 09:01", "from closing time"},
    {"2026-01-05 07:00", 30, "2026-01-05 09:30", "start before opening"},
    {"2026-01-05 12:30", 30, "2026-01-05 13:30", "start in the lunch break"},
    {"2026-01-05 12:30", 0, "2026-01-05 12:30", "add 0 outside business time is the start"},
    {"2026-01-05 09:00", 480, "2026-01-05 18:00", "one full day"},
    {"2026-01-05 09:00", 481, "2026-01-06 09:01", "a full day and a minute"},
    {"2026-01-09 17:30", 60, "2026-01-12 09:30", "Friday evening to Monday"},
    {"2026-01-09 19:00", 30, "2026-01-12 09:30", "after Friday's close"},
    {"2026-01-10 10:00", 0, "2026-01-10 10:00", "add 0 on a Saturday"},
    {"2025-12-31 17:00", 120, "2026-01-04 10:00", "元旦 1/1–3 off, Sunday 1/4 works"},
    {"2026-01-02 10:00", 30, "2026-01-04 09:30", "start inside a holiday"},
    {"2026-01-04 17:00", 120, "2026-01-05 10:00", "from the make-up Sunday to Monday"},
    {"2026-01-04 09:00", 480, "2026-01-04 18:00", "the make-up Sunday has full hours"},
    {"2026-02-13 17:00", 120, "2026-02-14 10:00", "春节: Friday to the make-up Saturday 2/14"},
    {"2026-02-14 17:00", 120, "2026-02-24 10:00", "春节 2/15–23 off"},
    {"2026-02-18 10:00", 60, "2026-02-24 10:00", "start inside 春节"},
    {"2026-02-13 09:00", 1440, "2026-02-24 18:00", "three days: 2/13, 2/14 and 2/24"},
    {"2026-02-27 17:00", 120, "2026-02-28 10:00", "make-up Saturday 2/28"},
    {"2026-02-28 17:00", 120, "2026-03-02 10:00", "Sunday 3/1 is off again"},
    {"2026-04-03 17:00", 120, "2026-04-07 10:00", "清明 4/4–6"},
    {"2026-04-30 17:00", 120, "2026-05-06 10:00", "劳动节 5/1–5"},
    {"2026-05-08 17:00", 120, "2026-05-09 10:00", "make-up Saturday 5/9"},
    {"2026-06-18 17:00", 120, "2026-06-22 10:00", "端午 6/19–21"},
    {"2026-09-18 17:00", 120, "2026-09-20 10:00", "Saturday 9/19 off, make-up Sunday 9/20"},
    {"2026-09-24 17:00", 120, "2026-09-28 10:00", "中秋 9/25–27"},
    {"2026-09-30 17:00", 120, "2026-10-08 10:00", "国庆 10/1–7"},
    {"2026-10-09 17:00", 120, "2026-10-10 10:00", "make-up Saturday 10/10"},
    {"2026-10-10 17:00", 120, "2026-10-12 10:00", "Sunday 10/11 off"},
    {"2026-12-31 17:00", 120, "2027-01-01 10:00", "year end: without 2027's arrangement 1/1 is a Friday like any"},
    {"2026-12-31 17:00", 2400, "2027-01-07 17:00", "a working week across the year end"},
};

/* C3.1.1: deadlines on the agreed hours, holidays and make-up days of 2026. */
static void c3_1_1_worked_examples_shanghai_2026(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        const struct example *e = &examples[i];
        int64_t start = shs(e->start), expect = shs(e->expect), got = -1, back = -1;
        assert_int_equal(calendar_add_business_minutes(cal, start, e->minutes, &got, &err), 0);
        if (got != expect) fail_msg("example %zu (%s): %s + %lld min gave %lld, want %s", i, e->why, e->start,
                                    (long long)e->minutes, (long long)got, e->expect);
        assert_int_equal(calendar_business_minutes_between(cal, start, expect, &back, &err), 0);
        if (back != e->minutes) fail_msg("example %zu (%s): between gave %lld", i, e->why, (long long)back);
    }
    calendar_free(&cal);
    assert_null(cal);
}

/* C3.1.1: the year end once the 2027 arrangement has been imported. */
static void c3_1_1_year_end_with_next_years_arrangement(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    assert_true(calendar_has_year(cal, 2026));
    assert_false(calendar_has_year(cal, 2027));
    static const char y2027[] = "2027-01-01..2027-01-03 off 元旦\n";
    assert_int_equal(calendar_import_text(cal, y2027, sizeof y2027 - 1, &err), 0);
    assert_true(calendar_has_year(cal, 2027));
    int64_t r;
    assert_int_equal(calendar_add_business_minutes(cal, shs("2026-12-31 17:00"), 120, &r, &err), 0);
    assert_int_equal(r, shs("2027-01-04 10:00"));
    calendar_free(&cal);
}

/* C3.1.1: the shipped 2026 State Council arrangement, day by day. */
static void c3_1_1_builtin_2026_arrangement(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    static const struct {
        int m, d;
        enum calendar_day_kind kind;
    } days[] = {{1, 1, CALENDAR_DAY_OFF},  {1, 3, CALENDAR_DAY_OFF},   {1, 4, CALENDAR_DAY_WORK},
                {1, 5, CALENDAR_DAY_ORDINARY}, {2, 14, CALENDAR_DAY_WORK}, {2, 15, CALENDAR_DAY_OFF},
                {2, 23, CALENDAR_DAY_OFF}, {2, 24, CALENDAR_DAY_ORDINARY}, {2, 28, CALENDAR_DAY_WORK},
                {4, 4, CALENDAR_DAY_OFF},  {4, 6, CALENDAR_DAY_OFF},   {5, 1, CALENDAR_DAY_OFF},
                {5, 5, CALENDAR_DAY_OFF},  {5, 9, CALENDAR_DAY_WORK},  {6, 19, CALENDAR_DAY_OFF},
                {6, 21, CALENDAR_DAY_OFF}, {9, 20, CALENDAR_DAY_WORK}, {9, 25, CALENDAR_DAY_OFF},
                {9, 27, CALENDAR_DAY_OFF}, {10, 1, CALENDAR_DAY_OFF},  {10, 7, CALENDAR_DAY_OFF},
                {10, 8, CALENDAR_DAY_ORDINARY}, {10, 10, CALENDAR_DAY_WORK}};
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        enum calendar_day_kind k;
        assert_int_equal(calendar_day_kind(cal, 2026, days[i].m, days[i].d, &k, &err), 0);
        if (k != days[i].kind) fail_msg("2026-%02d-%02d: kind %d", days[i].m, days[i].d, (int)k);
    }
    /* 3 + 9 + 3 + 5 + 3 + 3 + 7 days off, 6 make-up days */
    assert_int_equal(calendar_date_count(cal), 33 + 6);
    enum calendar_day_kind k;
    assert_int_equal(calendar_day_kind(cal, 2026, 2, 29, &k, &err), KF_E_INVALID);
    /* Loading it twice changes nothing. */
    assert_int_equal(calendar_load_builtin(cal, &err), 0);
    assert_int_equal(calendar_date_count(cal), 39);
    assert_false(calendar_has_year(cal, 2025));
    calendar_free(&cal);
}

static void next_business_instant_examples(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    static const struct {
        const char *t, *expect;
    } v[] = {{"2026-01-05 10:00", "2026-01-05 10:00"}, {"2026-01-05 09:00", "2026-01-05 09:00"},
             {"2026-01-05 12:00", "2026-01-05 13:00"}, {"2026-01-05 18:00", "2026-01-06 09:00"},
             {"2026-01-05 03:00", "2026-01-05 09:00"}, {"2026-01-09 18:30", "2026-01-12 09:00"},
             {"2026-02-14 18:00", "2026-02-24 09:00"}, {"2026-09-19 08:00", "2026-09-20 09:00"},
             {"2026-12-31 18:00", "2027-01-01 09:00"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int64_t r;
        assert_int_equal(calendar_next_business_instant(cal, shs(v[i].t), &r, &err), 0);
        if (r != shs(v[i].expect)) fail_msg("next(%s) = %lld, want %s", v[i].t, (long long)r, v[i].expect);
        bool is;
        assert_int_equal(calendar_is_business_instant(cal, shs(v[i].t), &is, &err), 0);
        assert_int_equal(is, strcmp(v[i].t, v[i].expect) == 0);
    }
    /* One millisecond before the end is inside; the end itself is not. */
    int64_t r;
    assert_int_equal(calendar_next_business_instant(cal, shs("2026-01-05 12:00") - 1, &r, &err), 0);
    assert_int_equal(r, shs("2026-01-05 12:00") - 1);
    calendar_free(&cal);
}

static void between_counts_whole_minutes_and_exact_ms(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    int64_t a = shs("2026-01-05 09:00"), ms;
    assert_int_equal(calendar_business_ms_between(cal, a, a + MIN_MS - 1, &ms, &err), 0);
    assert_int_equal(ms, MIN_MS - 1);
    assert_int_equal(mins(cal, a, a + MIN_MS - 1), 0); /* a partial minute does not count */
    assert_int_equal(mins(cal, a, a), 0);
    assert_int_equal(mins(cal, shs("2026-01-09 17:00"), shs("2026-01-12 10:00")), 120);
    /* A whole working week: five days of 8 hours. */
    assert_int_equal(mins(cal, shs("2026-01-05 00:00"), shs("2026-01-12 00:00")), 5 * 480);
    /* 2026 holds 248 working days: 261 weekdays − 19 weekday holidays + 6 make-up days. */
    assert_int_equal(mins(cal, shs("2026-01-01 00:00"), shs("2027-01-01 00:00")), 248 * 480);
    /* Sub-millisecond precision of adds. */
    int64_t r;
    assert_int_equal(calendar_add_business_ms(cal, shs("2026-01-05 11:59"), 60001, &r, &err), 0);
    assert_int_equal(r, shs("2026-01-05 13:00") + 1);
    calendar_free(&cal);
}

/* ---- DST zones -------------------------------------------------------------------------------- */

/* C3.1.1: America/New_York keeps local hours across both 2026 clock changes (3/8 and 11/1). */
static void c3_1_1_new_york_dst(void **state)
{
    struct calendar *cal = NULL;
    struct kf_err err;
    assert_int_equal(calendar_new("America/New_York", &cal, &err), 0);
    set_weekdays(cal, 1, 5, "09:00-17:00");
    int64_t r;
    /* Fri 3/6 16:00 EST (21:00Z) + 2 h → Mon 3/9 10:00 EDT (14:00Z). */
    assert_int_equal(calendar_add_business_minutes(cal, utc(2026, 3, 6, 21, 0), 120, &r, &err), 0);
    assert_int_equal(r, utc(2026, 3, 9, 14, 0));
    /* Fri 10/30 16:00 EDT (20:00Z) + 2 h → Mon 11/2 10:00 EST (15:00Z). */
    assert_int_equal(calendar_add_business_minutes(cal, utc(2026, 10, 30, 20, 0), 120, &r, &err), 0);
    assert_int_equal(r, utc(2026, 11, 2, 15, 0));
    assert_int_equal(mins(cal, utc(2026, 3, 6, 14, 0), utc(2026, 3, 9, 21, 0)), 16 * 60);

    /* Round the clock on Sundays: the spring day has 23 hours, the autumn day 25. */
    set_weekdays(cal, 7, 7, "00:00-24:00");
    assert_int_equal(mins(cal, utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 4, 0)), 23 * 60);
    assert_int_equal(mins(cal, utc(2026, 11, 1, 4, 0), utc(2026, 11, 2, 5, 0)), 25 * 60);
    /* Sat 3/7 16:00 EST + 1 h of Sunday: Sunday starts at 00:00 EST (05:00Z). */
    assert_int_equal(calendar_add_business_minutes(cal, utc(2026, 3, 7, 21, 0), 60, &r, &err), 0);
    assert_int_equal(r, utc(2026, 3, 8, 6, 0));
    /* 3 h into that Sunday is 04:00 EDT = 08:00Z (02:00–03:00 does not exist). */
    assert_int_equal(calendar_add_business_minutes(cal, utc(2026, 3, 8, 5, 0), 180, &r, &err), 0);
    assert_int_equal(r, utc(2026, 3, 8, 8, 0));

    /* A period inside the skipped hour is empty; one across it is an hour shorter. */
    struct calendar_period gap[] = {{120, 150}, {60, 240}};
    assert_int_equal(calendar_set_hours(cal, 7, &gap[0], 1, &err), 0);
    assert_int_equal(calendar_next_business_instant(cal, utc(2026, 3, 8, 5, 0), &r, &err), 0);
    assert_int_equal(r, utc(2026, 3, 9, 13, 0)); /* Monday 09:00 EDT */
    assert_int_equal(calendar_set_hours(cal, 7, &gap[1], 1, &err), 0);
    /* 01:00 EST (06:00Z) to 04:00 EDT (08:00Z) */
    assert_int_equal(mins(cal, utc(2026, 3, 8, 0, 0), utc(2026, 3, 9, 0, 0)), 120);
    /* On 11/1 01:00–04:00 spans the repeated hour: four real hours, 05:00Z–09:00Z. */
    assert_int_equal(mins(cal, utc(2026, 11, 1, 0, 0), utc(2026, 11, 2, 0, 0)), 240);
    assert_int_equal(calendar_next_business_instant(cal, utc(2026, 11, 1, 0, 0), &r, &err), 0);
    assert_int_equal(r, utc(2026, 11, 1, 5, 0)); /* the first 01:00 (EDT) */
    calendar_free(&cal);
}

/* C3.1.1: Europe/Berlin, clocks forward on 2026-03-29 and back on 2026-10-25. */
static void c3_1_1_berlin_dst(void **state)
{
    struct calendar *cal = NULL;
    struct kf_err err;
    assert_int_equal(calendar_new("Europe/Berlin", &cal, &err), 0);
    set_weekdays(cal, 1, 5, "08:00-12:00,13:00-17:00");
    int64_t r;
    /* Fri 3/27 16:30 CET (15:30Z) + 60 min → Mon 3/30 08:30 CEST (06:30Z). */
    assert_int_equal(calendar_add_business_minutes(cal, utc(2026, 3, 27, 15, 30), 60, &r, &err), 0);
    assert_int_equal(r, utc(2026, 3, 30, 6, 30));
    /* Fri 10/23 16:30 CEST (14:30Z) + 60 min → Mon 10/26 08:30 CET (07:30Z). */
    assert_int_equal(calendar_add_business_minutes(cal, utc(2026, 10, 23, 14, 30), 60, &r, &err), 0);
    assert_int_equal(r, utc(2026, 10, 26, 7, 30));
    set_weekdays(cal, 7, 7, "00:00-24:00");
    assert_int_equal(mins(cal, utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0)), 23 * 60);
    assert_int_equal(mins(cal, utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0)), 25 * 60);
    calendar_free(&cal);
}

/* C3.1.1, the per-thread zone cache (calendar.c invariant 5): the DST examples stay exact when the
 * zone's cached UCalendar and wall-time memo were built by other calendars of the zone, evicted by
 * more zones than the cache holds, or used from another thread at the same time. */
static void *dst_examples_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        c3_1_1_new_york_dst(NULL);
        c3_1_1_berlin_dst(NULL);
    }
    return NULL;
}

static void c3_1_1_zone_cache_stays_exact(void **state)
{
    static const char *const zones[] = {"America/New_York", "Europe/Berlin", "Asia/Shanghai", "Europe/London",
                                        "Australia/Sydney", "Asia/Tokyo", "America/Sao_Paulo"};
    enum { NZ = sizeof zones / sizeof zones[0], NT = 6 };
    int64_t first[NZ][NT][2];
    struct kf_err err;
    for (int round = 0; round < 4; round++) {
        for (size_t k = 0; k < NZ; k++) {
            size_t z = round % 2 ? NZ - 1 - k : k; /* forwards, then backwards: hits and evictions */
            struct calendar *cal = NULL;
            assert_int_equal(calendar_new(zones[z], &cal, &err), 0);
            set_weekdays(cal, 1, 5, "09:00-12:00,13:00-18:00");
            set_weekdays(cal, 7, 7, "00:00-24:00");
            for (int t = 0; t < NT; t++) {
                int64_t at = utc(2026, 3 + t, 6 + t, 7 * t % 24, 13 * t % 60), r, ms;
                assert_int_equal(calendar_add_business_minutes(cal, at, 600 + 97 * t, &r, &err), 0);
                assert_int_equal(calendar_business_ms_between(cal, at, at + 9 * 86400000LL, &ms, &err), 0);
                if (round == 0) {
                    first[z][t][0] = r, first[z][t][1] = ms;
                } else {
                    assert_int_equal(r, first[z][t][0]);
                    assert_int_equal(ms, first[z][t][1]);
                }
            }
            calendar_free(&cal);
        }
        c3_1_1_new_york_dst(state); /* after the others evicted and refilled the cache */
    }
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, dst_examples_thread, NULL), 0);
    dst_examples_thread(NULL);
    assert_int_equal(pthread_join(th, NULL), 0);
}

/* ---- bounds and argument errors --------------------------------------------------------------- */

static void no_business_time_is_an_error_not_a_loop(void **state)
{
    struct calendar *cal = NULL;
    struct kf_err err;
    int64_t r, t = sh(2026, 1, 5, 10, 0);
    assert_int_equal(calendar_new("Asia/Shanghai", &cal, &err), 0);
    /* Empty weekly hours. */
    assert_int_equal(calendar_next_business_instant(cal, t, &r, &err), KF_E_INVALID);
    assert_string_equal(err.field, "calendar");
    assert_int_equal(calendar_add_business_minutes(cal, t, 60, &r, &err), KF_E_INVALID);
    assert_string_equal(err.field, "calendar");
    assert_int_equal(calendar_add_business_minutes(cal, t, 0, &r, &err), 0);
    assert_int_equal(r, t);
    bool is = true;
    assert_int_equal(calendar_is_business_instant(cal, t, &is, &err), 0);
    assert_false(is);
    assert_int_equal(mins(cal, t, t + 400 * 24 * HOUR_MS), 0);

    /* Hours, but every day of 2026–2029 a holiday: more than CALENDAR_SEARCH_DAYS without work. */
    set_weekdays(cal, 1, 7, "09:00-18:00");
    static const char all_off[] = "2026-01-01..2026-12-31 off\n2027-01-01..2027-12-31 off\n"
                                  "2028-01-01..2028-12-31 off\n2029-01-01..2029-12-31 off\n";
    assert_int_equal(calendar_import_text(cal, all_off, sizeof all_off - 1, &err), 0);
    assert_int_equal(calendar_next_business_instant(cal, t, &r, &err), KF_E_INVALID);
    assert_string_equal(err.field, "calendar");
    assert_int_equal(calendar_add_business_minutes(cal, t, 1, &r, &err), KF_E_INVALID);
    assert_string_equal(err.field, "calendar");
    calendar_free(&cal);

    /* Three years off and then work: found, just inside the search bound. */
    assert_int_equal(calendar_new("Asia/Shanghai", &cal, &err), 0);
    set_weekdays(cal, 1, 7, "09:00-18:00");
    static const char three[] = "2026-01-01..2026-12-31 off\n2027-01-01..2027-12-31 off\n2028-01-01..2028-12-31 off\n";
    assert_int_equal(calendar_import_text(cal, three, sizeof three - 1, &err), 0);
    assert_int_equal(calendar_next_business_instant(cal, sh(2026, 1, 1, 0, 0), &r, &err), 0);
    assert_int_equal(r, sh(2029, 1, 1, 9, 0));
    assert_int_equal(calendar_add_business_minutes(cal, sh(2026, 1, 1, 0, 0), 30, &r, &err), 0);
    assert_int_equal(r, sh(2029, 1, 1, 9, 30));
    calendar_free(&cal);
}

static void arguments_are_checked(void **state)
{
    struct calendar *cal = NULL;
    struct kf_err err;
    assert_int_equal(calendar_new("Mars/Olympus_Mons", &cal, &err), KF_E_INVALID);
    assert_string_equal(err.field, "zone");
    assert_null(cal);
    assert_int_equal(calendar_new("Asia/Shanghai; rm -rf", &cal, &err), KF_E_INVALID);
    assert_int_equal(calendar_new("../../etc/passwd", &cal, &err), KF_E_INVALID);
    cal = std_calendar();
    int64_t r, t = sh(2026, 1, 5, 10, 0);
    assert_int_equal(calendar_add_business_minutes(cal, t, -1, &r, &err), KF_E_INVALID);
    assert_string_equal(err.field, "amount");
    assert_int_equal(calendar_add_business_minutes(cal, t, CALENDAR_MINUTES_MAX + 1LL, &r, &err), KF_E_INVALID);
    assert_int_equal(calendar_add_business_ms(cal, -1, 0, &r, &err), KF_E_INVALID);
    assert_string_equal(err.field, "time");
    assert_int_equal(calendar_business_minutes_between(cal, t, t - 1, &r, &err), KF_E_INVALID);
    assert_string_equal(err.field, "time");
    assert_int_equal(calendar_next_business_instant(cal, CALENDAR_MS_MAX + 1, &r, &err), KF_E_INVALID);

    struct calendar_period p[CALENDAR_PERIODS_MAX + 1];
    size_t n;
    static const char *bad[] = {"9:00-12:00", "09:00-12:00;13:00-18:00", "12:00-09:00", "09:00-12:00,11:00-13:00",
                                "24:00-24:00", "09:60-10:00", "25:00-26:00", "09:00-12:00,", "0900-1200",
                                "09:00-10:00,10:00-11:00,11:00-12:00,12:00-13:00,13:00-14:00,14:00-15:00,"
                                "15:00-16:00,16:00-17:00,17:00-18:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (calendar_parse_periods(bad[i], p, CALENDAR_PERIODS_MAX + 1, &n, &err) != KF_E_INVALID) {
            fail_msg("accepted hours '%s'", bad[i]);
        }
    }
    assert_int_equal(calendar_parse_periods("", p, CALENDAR_PERIODS_MAX, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(calendar_parse_periods("00:00-24:00", p, CALENDAR_PERIODS_MAX, &n, &err), 0);
    assert_int_equal(p[0].end_min, 1440);
    struct calendar_period overlap[] = {{540, 720}, {700, 800}};
    assert_int_equal(calendar_set_hours(cal, 1, overlap, 2, &err), KF_E_INVALID);
    assert_int_equal(calendar_set_hours(cal, 8, overlap, 1, &err), KF_E_INVALID);
    assert_int_equal(calendar_set_makeup_hours(cal, overlap, 0, &err), KF_E_INVALID);
    /* Refused hours changed nothing: Monday still opens at 09:00. */
    assert_int_equal(calendar_next_business_instant(cal, sh(2026, 1, 5, 8, 0), &r, &err), 0);
    assert_int_equal(r, sh(2026, 1, 5, 9, 0));
    calendar_free(&cal);
    calendar_free(&cal);
}

/* C3.1.1: a make-up day's hours: Monday's until a make-up pattern is set, then that pattern. */
static void c3_1_1_makeup_day_pattern(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    int64_t r;
    struct calendar_period mon[] = {{8 * 60, 11 * 60}};
    assert_int_equal(calendar_set_hours(cal, 1, mon, 1, &err), 0);
    assert_int_equal(calendar_next_business_instant(cal, sh(2026, 1, 4, 0, 0), &r, &err), 0);
    assert_int_equal(r, sh(2026, 1, 4, 8, 0));
    struct calendar_period mk[] = {{10 * 60, 15 * 60}};
    assert_int_equal(calendar_set_makeup_hours(cal, mk, 1, &err), 0);
    assert_int_equal(calendar_next_business_instant(cal, sh(2026, 1, 4, 0, 0), &r, &err), 0);
    assert_int_equal(r, sh(2026, 1, 4, 10, 0));
    assert_int_equal(calendar_add_business_minutes(cal, sh(2026, 1, 4, 14, 0), 120, &r, &err), 0);
    assert_int_equal(r, sh(2026, 1, 5, 9, 0)); /* 1 h on Sunday, then Monday 08:00–09:00 */
    calendar_free(&cal);
}

/* ---- property tests --------------------------------------------------------------------------- */

/* A deterministic stream of random words (libsodium's seeded generator), so failures replay. */
struct prng {
    uint64_t w[4096];
    size_t i;
    unsigned char seed[randombytes_SEEDBYTES];
};

static void prng_init(struct prng *p, const char *label)
{
    memset(p, 0, sizeof *p);
    crypto_generichash(p->seed, sizeof p->seed, (const unsigned char *)label, strlen(label), NULL, 0);
    randombytes_buf_deterministic(p->w, sizeof p->w, p->seed);
}

static uint64_t prng_next(struct prng *p)
{
    if (p->i == sizeof p->w / sizeof p->w[0]) {
        p->seed[0]++;
        randombytes_buf_deterministic(p->w, sizeof p->w, p->seed);
        p->i = 0;
    }
    return p->w[p->i++];
}

static int64_t prng_range(struct prng *p, int64_t lo, int64_t hi) /* [lo, hi] */
{
    return lo + (int64_t)(prng_next(p) % (uint64_t)(hi - lo + 1));
}

/* An instant in [2025-12-15, 2027-01-15) Shanghai: a third on whole minutes, a third on period
 * boundaries (where the conventions matter), the rest anywhere to the millisecond. */
static int64_t random_instant(struct prng *p)
{
    int64_t lo = sh(2025, 12, 15, 0, 0), hi = sh(2027, 1, 15, 0, 0);
    switch (prng_next(p) % 3) {
    case 0:
        return lo + prng_range(p, 0, (hi - lo) / MIN_MS - 1) * MIN_MS;
    case 1: {
        static const int edges[] = {9 * 60, 12 * 60, 13 * 60, 18 * 60};
        int64_t day = prng_range(p, 0, (hi - lo) / (24 * HOUR_MS) - 1);
        return lo + day * 24 * HOUR_MS + edges[prng_next(p) % 4] * MIN_MS;
    }
    default:
        return prng_range(p, lo, hi - 1);
    }
}

static int64_t random_amount(struct prng *p)
{
    switch (prng_next(p) % 4) {
    case 0:
        return 0;
    case 1:
        return prng_range(p, 1, 60);
    default:
        return prng_range(p, 0, 3000);
    }
}

#define PROPERTY_RUNS 5000

/* C3.1.1: add(a, x+y) = add(add(a, x), y) for every a (inside business time or not, including a
 * period end) and x, y ≥ 0; between(a, add(a, x)) = x; add strictly increasing in x. */
static void c3_1_1_property_add_is_additive_and_inverts_between(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    struct prng p;
    prng_init(&p, "kefu calendar properties: add");
    int inside = 0, period_end_intermediate = 0;
    for (int i = 0; i < PROPERTY_RUNS; i++) {
        int64_t a = random_instant(&p), x = random_amount(&p), y = random_amount(&p);
        if (i % 4 == 0) {
            /* Aim the intermediate result at a period end: from 09:00 add 180 or 480, from 13:00 add 300. */
            int64_t day = prng_range(&p, 0, 390);
            bool morning = prng_next(&p) % 2;
            a = sh(2025, 12, 15, morning ? 9 : 13, 0) + day * 24 * HOUR_MS;
            x = morning ? (prng_next(&p) % 2 ? 180 : 480) : 300;
        }
        int64_t ax, axy, ax_y, back;
        bool is;
        assert_int_equal(calendar_is_business_instant(cal, a, &is, &err), 0);
        inside += is;
        assert_int_equal(calendar_add_business_minutes(cal, a, x, &ax, &err), 0);
        assert_int_equal(calendar_add_business_minutes(cal, a, x + y, &axy, &err), 0);
        assert_int_equal(calendar_add_business_minutes(cal, ax, y, &ax_y, &err), 0);
        if (axy != ax_y) fail_msg("run %d: a=%lld x=%lld y=%lld: %lld != %lld", i, (long long)a, (long long)x,
                                  (long long)y, (long long)axy, (long long)ax_y);
        assert_int_equal(calendar_business_ms_between(cal, a, ax, &back, &err), 0);
        assert_int_equal(back, x * MIN_MS);
        assert_int_equal(calendar_business_minutes_between(cal, a, axy, &back, &err), 0);
        assert_int_equal(back, x + y);
        assert_true(ax >= a);
        int64_t ax1;
        assert_int_equal(calendar_add_business_minutes(cal, a, x + 1, &ax1, &err), 0);
        if (!(ax1 > ax)) fail_msg("run %d: add not increasing at x=%lld", i, (long long)x);
        if (x > 0) {
            bool end;
            assert_int_equal(calendar_is_business_instant(cal, ax, &end, &err), 0);
            period_end_intermediate += !end; /* the intermediate result is a period end */
        }
    }
    /* The draw exercised both preconditions the property is claimed for. */
    assert_true(inside > PROPERTY_RUNS / 10);
    assert_true(period_end_intermediate > PROPERTY_RUNS / 20);
    calendar_free(&cal);
}

/* C3.1.1: next_business_instant is idempotent, never earlier, and skips no business time;
 * between is additive over any split point. */
static void c3_1_1_property_next_is_idempotent_and_between_additive(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    struct prng p;
    prng_init(&p, "kefu calendar properties: next");
    for (int i = 0; i < PROPERTY_RUNS; i++) {
        int64_t t = random_instant(&p), n, nn, z;
        assert_int_equal(calendar_next_business_instant(cal, t, &n, &err), 0);
        assert_int_equal(calendar_next_business_instant(cal, n, &nn, &err), 0);
        assert_int_equal(n, nn);
        assert_true(n >= t);
        assert_int_equal(calendar_business_ms_between(cal, t, n, &z, &err), 0);
        assert_int_equal(z, 0);
        /* between is additive over a split point */
        int64_t u = random_instant(&p);
        int64_t a = t < u ? t : u, c = t < u ? u : t;
        int64_t b = a + (int64_t)(prng_next(&p) % (uint64_t)(c - a + 1));
        int64_t ab, bc, ac;
        assert_int_equal(calendar_business_ms_between(cal, a, b, &ab, &err), 0);
        assert_int_equal(calendar_business_ms_between(cal, b, c, &bc, &err), 0);
        assert_int_equal(calendar_business_ms_between(cal, a, c, &ac, &err), 0);
        assert_int_equal(ab + bc, ac);
    }
    calendar_free(&cal);
}

/* An oracle written independently of calendar.c: minute by minute, Shanghai as fixed UTC+8, the
 * 2026 arrangement as a list of dates, Mon–Fri 09–12 and 13–18. */
static const char *const oracle_off[] = {
    "2026-01-01", "2026-01-02", "2026-01-03", "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19",
    "2026-02-20", "2026-02-21", "2026-02-22", "2026-02-23", "2026-04-04", "2026-04-05", "2026-04-06", "2026-05-01",
    "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05", "2026-06-19", "2026-06-20", "2026-06-21", "2026-09-25",
    "2026-09-26", "2026-09-27", "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06",
    "2026-10-07"};
static const char *const oracle_work[] = {"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20",
                                          "2026-10-10"};

static int64_t oracle_day(const char *s)
{
    int y, mo, d;
    assert_int_equal(sscanf(s, "%d-%d-%d", &y, &mo, &d), 3);
    return utc(y, mo, d, 0, 0) / (24 * HOUR_MS);
}

static bool oracle_in(const char *const *list, size_t n, int64_t day)
{
    for (size_t i = 0; i < n; i++) {
        if (oracle_day(list[i]) == day) return true;
    }
    return false;
}

/* Business minute starting at UTC minute-aligned t? Cached per local day. */
static bool oracle_business_minute(int64_t t)
{
    static int64_t cached_day = INT64_MIN;
    static bool cached_working;
    int64_t local = t + 8 * HOUR_MS;
    int64_t day = local / (24 * HOUR_MS), mod = (local % (24 * HOUR_MS)) / MIN_MS;
    if (day != cached_day) {
        int wd = (int)((day + 3) % 7) + 1; /* 1970-01-01 was a Thursday */
        bool working = wd <= 5;
        if (oracle_in(oracle_off, sizeof oracle_off / sizeof *oracle_off, day)) working = false;
        if (oracle_in(oracle_work, sizeof oracle_work / sizeof *oracle_work, day)) working = true;
        cached_day = day;
        cached_working = working;
    }
    return cached_working && ((mod >= 540 && mod < 720) || (mod >= 780 && mod < 1080));
}

static int64_t oracle_add(int64_t a, int64_t minutes)
{
    if (minutes == 0) return a;
    for (int64_t m = a, count = 0;; m += MIN_MS) {
        if (oracle_business_minute(m) && ++count == minutes) return m + MIN_MS;
    }
}

/* C3.1.1: the implementation agrees with the oracle on random whole-minute starts. */
static void c3_1_1_property_matches_minute_oracle(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    struct prng p;
    prng_init(&p, "kefu calendar properties: oracle");
    int64_t lo = sh(2025, 12, 15, 0, 0), hi = sh(2026, 12, 20, 0, 0);
    for (int i = 0; i < 500; i++) {
        int64_t a = lo + prng_range(&p, 0, (hi - lo) / MIN_MS - 1) * MIN_MS;
        int64_t x = prng_range(&p, 0, 2500), got;
        assert_int_equal(calendar_add_business_minutes(cal, a, x, &got, &err), 0);
        int64_t want = oracle_add(a, x);
        if (got != want) fail_msg("run %d: a=%lld x=%lld: got %lld, oracle %lld", i, (long long)a, (long long)x,
                                  (long long)got, (long long)want);
    }
    calendar_free(&cal);
}

/* C3.1.1: the algebraic properties in a DST zone whose hours straddle the clock changes. */
static void c3_1_1_property_in_a_dst_zone(void **state)
{
    struct calendar *cal = NULL;
    struct kf_err err;
    assert_int_equal(calendar_new("America/New_York", &cal, &err), 0);
    set_weekdays(cal, 1, 5, "00:00-02:30,08:00-17:00");
    set_weekdays(cal, 6, 7, "01:00-03:30");
    struct prng p;
    prng_init(&p, "kefu calendar properties: new york");
    int64_t lo = utc(2026, 3, 1, 0, 0), hi = utc(2026, 11, 10, 0, 0);
    for (int i = 0; i < 600; i++) {
        /* Half the starts fall on the two clock-change weekends. */
        int64_t a = prng_next(&p) % 2 ? prng_range(&p, lo, hi)
                                       : (prng_next(&p) % 2 ? utc(2026, 3, 7, 0, 0) : utc(2026, 10, 31, 0, 0)) +
                                             prng_range(&p, 0, 2 * 24 * HOUR_MS);
        int64_t x = random_amount(&p), y = random_amount(&p), ax, axy, ax_y, back, n, nn;
        assert_int_equal(calendar_add_business_minutes(cal, a, x, &ax, &err), 0);
        assert_int_equal(calendar_add_business_minutes(cal, a, x + y, &axy, &err), 0);
        assert_int_equal(calendar_add_business_minutes(cal, ax, y, &ax_y, &err), 0);
        assert_int_equal(axy, ax_y);
        assert_int_equal(calendar_business_ms_between(cal, a, axy, &back, &err), 0);
        assert_int_equal(back, (x + y) * MIN_MS);
        assert_int_equal(calendar_next_business_instant(cal, a, &n, &err), 0);
        assert_int_equal(calendar_next_business_instant(cal, n, &nn, &err), 0);
        assert_int_equal(n, nn);
    }
    calendar_free(&cal);
}

/* ---- text import ------------------------------------------------------------------------------ */

static const char good_2027[] = "\xEF\xBB\xBF# 2027 arrangement (an example, not the real notice)\r\n"
                                "\r\n"
                                "year 2027\r\n"
                                "2027-01-01..2027-01-03 off 元旦\r\n"
                                "  2027-02-06..2027-02-14\toff   春节 # the label is free text\n"
                                "2027-02-20 work 春节调休\n"
                                "2027-02-06 off 春节 (a repeat of the same kind is harmless)\n"
                                "2027-12-31..2028-01-02 off 2028 元旦";

/* C3.1.1: later years come from the operator's file. */
static void c3_1_1_text_import(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    size_t before = calendar_date_count(cal);
    assert_false(calendar_has_year(cal, 2027));
    assert_int_equal(calendar_import_text(cal, good_2027, sizeof good_2027 - 1, &err), 0);
    assert_true(calendar_has_year(cal, 2027));
    assert_true(calendar_has_year(cal, 2028)); /* a range counts for the year it ends in */
    assert_true(calendar_has_year(cal, 2026));
    assert_int_equal(calendar_date_count(cal), before + 3 + 9 + 1 + 3);
    enum calendar_day_kind k;
    assert_int_equal(calendar_day_kind(cal, 2027, 2, 20, &k, &err), 0);
    assert_int_equal(k, CALENDAR_DAY_WORK);
    assert_int_equal(calendar_day_kind(cal, 2027, 2, 14, &k, &err), 0);
    assert_int_equal(k, CALENDAR_DAY_OFF);
    /* Importing the same file again is harmless. */
    assert_int_equal(calendar_import_text(cal, good_2027, sizeof good_2027 - 1, &err), 0);
    assert_int_equal(calendar_date_count(cal), before + 16);
    int64_t r;
    assert_int_equal(calendar_add_business_minutes(cal, shs("2027-02-19 17:00"), 120, &r, &err), 0);
    assert_int_equal(r, shs("2027-02-20 10:00"));
    /* A file naming only `year` is enough to mark a year without holidays. */
    static const char only_year[] = "year 2030\n";
    assert_int_equal(calendar_import_text(cal, only_year, sizeof only_year - 1, &err), 0);
    assert_true(calendar_has_year(cal, 2030));
    calendar_free(&cal);
}

/* Imports `text` into a fresh standard calendar and checks it is refused with `code`, a detail
 * containing `needle`, and the calendar unchanged. */
static void refused_text(const char *text, size_t len, int code, const char *needle)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    size_t before = calendar_date_count(cal);
    int rc = calendar_import_text(cal, text, len, &err);
    if (rc != code) fail_msg("import of '%.60s' gave %d, want %d (%s)", text, rc, code, err.detail);
    if (needle && !strstr(err.detail, needle)) fail_msg("detail '%s' lacks '%s'", err.detail, needle);
    assert_string_equal(err.field, "file");
    assert_int_equal(calendar_date_count(cal), before);
    assert_false(calendar_has_year(cal, 2027));
    enum calendar_day_kind k;
    assert_int_equal(calendar_day_kind(cal, 2027, 1, 1, &k, &err), 0);
    assert_int_equal(k, CALENDAR_DAY_ORDINARY);
    assert_int_equal(calendar_day_kind(cal, 2026, 1, 4, &k, &err), 0);
    assert_int_equal(k, CALENDAR_DAY_WORK);
    calendar_free(&cal);
}

#define REFUSED(text, code, needle) refused_text(text, sizeof(text) - 1, code, needle)

/* C3.1.1: bad files are refused with their line number and change nothing. */
static void c3_1_1_text_import_refuses_bad_input(void **state)
{
    REFUSED("2027-01-01 off\n2027-02-30 off\n", KF_E_INVALID, "line 2:");
    REFUSED("2027-01-01 off\n# ok\n2027-1-01 off\n", KF_E_INVALID, "line 3:");
    REFUSED("2027/01/01 off\n", KF_E_INVALID, "line 1:");
    REFUSED("20270101 off\n", KF_E_INVALID, "line 1:");
    REFUSED("2027-13-01 off\n", KF_E_INVALID, "line 1:");
    REFUSED("1969-12-31 off\n", KF_E_INVALID, "line 1:");
    REFUSED("2027-01-01 off\n2027-01-05..2027-01-03 off\n", KF_E_INVALID, "line 2: the range ends before it starts");
    REFUSED("2027-01-01..2028-02-01 off\n", KF_E_INVALID, "at most 366 days");
    REFUSED("2027-01-01..2027-01-0 off\n", KF_E_INVALID, "line 1:");
    REFUSED("2027-01-01 holiday\n", KF_E_INVALID, "line 1: expected 'off' or 'work'");
    REFUSED("2027-01-01 OFF\n", KF_E_INVALID, "line 1:");
    REFUSED("2027-01-01\n", KF_E_INVALID, "line 1:");
    REFUSED("2027-01-01off\n", KF_E_INVALID, "line 1:");
    REFUSED("year 27\n", KF_E_INVALID, "line 1: expected 'year YYYY'");
    REFUSED("year 2027 2028\n", KF_E_INVALID, "line 1:");
    REFUSED("2027-01-01 off 元旦\n2027-01-02 off \xff\xfe\n", KF_E_INVALID, "line 2: not valid UTF-8");
    REFUSED("2027-01-01 off \xe5\x85\n", KF_E_INVALID, "line 1: not valid UTF-8"); /* truncated 元 */
    REFUSED("2027-01-01 off\n2027-01-02 off\0hidden\n", KF_E_INVALID, "line 2:");
    REFUSED("2027-01-01..2027-01-03 off 元旦\n2027-01-03 work\n", KF_E_INVALID, "2027-01-03 is both off and work");
    REFUSED("2027-01-01..2027-01-03 off 元旦\n2027-01-03 work\n", KF_E_INVALID, "line 2:");
    REFUSED("", KF_E_INVALID, "no dates");
    REFUSED("# only a comment\n\n", KF_E_INVALID, "no dates");
    /* A date the calendar already holds the other way: a conflict, and the valid lines before it
     * (2027-01-01) are not applied either. */
    REFUSED("2027-01-01 off\n2026-01-04 off\n", KF_E_CONFLICT, "line 2: 2026-01-04 is already a work day");

    size_t big = CALENDAR_IMPORT_MAX + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, '#', big);
    memcpy(huge, "2027-01-01 off\n", 15);
    refused_text(huge, big, KF_E_TOO_LARGE, NULL);
    /* Exactly the limit is fine. */
    struct calendar *cal = std_calendar();
    struct kf_err err;
    assert_int_equal(calendar_import_text(cal, huge, CALENDAR_IMPORT_MAX, &err), 0);
    assert_true(calendar_has_year(cal, 2027));
    calendar_free(&cal);
    free(huge);
}

/* ---- iCalendar import ------------------------------------------------------------------------- */

#define ICS_HEAD "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kefu//test//ZH\r\n"
#define ICS_TAIL "END:VCALENDAR\r\n"
#define EVENT(body) "BEGIN:VEVENT\r\n" body "END:VEVENT\r\n"

static const char good_ics[] =
    ICS_HEAD
    EVENT("UID:y2027-1\r\nSUMMARY:元旦\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270104\r\n")
    EVENT("UID:y2027-2\r\nSUMMARY:春节\r\nDTSTART;VALUE=DATE:20270206\r\nDURATION:P9D\r\n")
    EVENT("UID:y2027-3\r\nSUMMARY:春节补班\r\nDTSTART;VALUE=DATE:20270220\r\n")
    EVENT("UID:y2027-4\r\nSUMMARY:调休\r\nCATEGORIES:假日,WORKDAY\r\nDTSTART;VALUE=DATE:20270221\r\n"
          "DTEND;VALUE=DATE:20270222\r\n")
    EVENT("UID:y2027-5\r\nSUMMARY:劳动节\r\nX-KEFU-DAY:work\r\nDTSTART;VALUE=DATE:20270508\r\n")
    EVENT("UID:y2027-6\r\nSUMMARY:国庆\r\nX-APPLE-SPECIAL-DAY:ALTERNATE-WORKDAY\r\nDTSTART;VALUE=DATE:20270925\r\n")
    EVENT("UID:y2027-7\r\nSUMMARY:国庆节 上班\r\nX-KEFU-DAY:off\r\nDTSTART;VALUE=DATE:20271001\r\n"
          "DTEND;VALUE=DATE:20271008\r\n")
    ICS_TAIL;

/* C3.1.1: an iCalendar feed of the arrangement, with each working-day marker of the rule. */
static void c3_1_1_ics_import(void **state)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    size_t before = calendar_date_count(cal);
    int rc = calendar_import_ics(cal, good_ics, sizeof good_ics - 1, &err);
    if (rc) fail_msg("import: %s", err.detail);
    assert_true(calendar_has_year(cal, 2027));
    assert_int_equal(calendar_date_count(cal), before + 3 + 9 + 1 + 1 + 1 + 1 + 7);
    static const struct {
        int m, d;
        enum calendar_day_kind kind;
    } v[] = {{1, 1, CALENDAR_DAY_OFF},   {1, 3, CALENDAR_DAY_OFF},   {1, 4, CALENDAR_DAY_ORDINARY},
             {2, 6, CALENDAR_DAY_OFF},   {2, 14, CALENDAR_DAY_OFF},  {2, 15, CALENDAR_DAY_ORDINARY},
             {2, 20, CALENDAR_DAY_WORK}, {2, 21, CALENDAR_DAY_WORK}, {2, 22, CALENDAR_DAY_ORDINARY},
             {5, 8, CALENDAR_DAY_WORK},  {9, 25, CALENDAR_DAY_WORK}, {10, 1, CALENDAR_DAY_OFF},
             {10, 7, CALENDAR_DAY_OFF},  {10, 8, CALENDAR_DAY_ORDINARY}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        enum calendar_day_kind k;
        assert_int_equal(calendar_day_kind(cal, 2027, v[i].m, v[i].d, &k, &err), 0);
        if (k != v[i].kind) fail_msg("2027-%02d-%02d: kind %d", v[i].m, v[i].d, (int)k);
    }
    assert_int_equal(calendar_import_ics(cal, good_ics, sizeof good_ics - 1, &err), 0);
    assert_int_equal(calendar_date_count(cal), before + 23);
    calendar_free(&cal);
}

static void refused_ics(const char *text, size_t len, int code, const char *needle)
{
    struct calendar *cal = std_calendar();
    struct kf_err err;
    size_t before = calendar_date_count(cal);
    int rc = calendar_import_ics(cal, text, len, &err);
    if (rc != code) fail_msg("ics import gave %d, want %d (%s)\n%.200s", rc, code, err.detail, text);
    if (needle && !strstr(err.detail, needle)) fail_msg("detail '%s' lacks '%s'", err.detail, needle);
    assert_int_equal(calendar_date_count(cal), before);
    assert_false(calendar_has_year(cal, 2027));
    calendar_free(&cal);
}

#define REFUSED_ICS(text, code, needle) refused_ics(text, sizeof(text) - 1, code, needle)
#define OK_EVENT EVENT("UID:ok\r\nSUMMARY:元旦\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270104\r\n")

/* C3.1.1: bad iCalendar input is refused and changes nothing. */
static void c3_1_1_ics_import_refuses_bad_input(void **state)
{
    REFUSED_ICS(ICS_HEAD OK_EVENT EVENT("UID:t\r\nSUMMARY:x\r\nDTSTART:20270105T090000Z\r\n") ICS_TAIL, KF_E_INVALID,
                "event 2 (UID t): DTSTART must be an all-day date");
    REFUSED_ICS(ICS_HEAD EVENT("UID:e\r\nDTSTART;VALUE=DATE:20270105\r\nDTEND;VALUE=DATE:20270105\r\n") ICS_TAIL,
                KF_E_INVALID, "DTEND is not after DTSTART");
    REFUSED_ICS(ICS_HEAD EVENT("UID:r\r\nDTSTART;VALUE=DATE:20270105\r\nDTEND;VALUE=DATE:20270101\r\n") ICS_TAIL,
                KF_E_INVALID, "DTEND is not after DTSTART");
    REFUSED_ICS(ICS_HEAD EVENT("UID:f\r\nDTSTART;VALUE=DATE:20270230\r\n") ICS_TAIL, KF_E_INVALID, "UID f");
    REFUSED_ICS(ICS_HEAD EVENT("UID:g\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND:20270102T000000\r\n") ICS_TAIL,
                KF_E_INVALID, "DTEND must be an all-day date");
    REFUSED_ICS(ICS_HEAD EVENT("UID:h\r\nDTSTART:garbage\r\n") ICS_TAIL, KF_E_INVALID, "malformed iCalendar");
    REFUSED_ICS(ICS_HEAD EVENT("UID:d\r\nDTSTART;VALUE=DATE:20270101\r\nDURATION:PT8H\r\n") ICS_TAIL, KF_E_INVALID,
                "whole days");
    REFUSED_ICS(ICS_HEAD EVENT("UID:l\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20280301\r\n") ICS_TAIL,
                KF_E_INVALID, "spans more than");
    REFUSED_ICS(ICS_HEAD EVENT("UID:rr\r\nDTSTART;VALUE=DATE:20270101\r\nRRULE:FREQ=YEARLY\r\n") ICS_TAIL,
                KF_E_INVALID, "recurring");
    REFUSED_ICS(ICS_HEAD EVENT("UID:x\r\nX-KEFU-DAY:maybe\r\nDTSTART;VALUE=DATE:20270101\r\n") ICS_TAIL, KF_E_INVALID,
                "X-KEFU-DAY");
    REFUSED_ICS(ICS_HEAD EVENT("UID:n\r\nSUMMARY:no start\r\n") ICS_TAIL, KF_E_INVALID, "DTSTART");
    REFUSED_ICS(ICS_HEAD OK_EVENT EVENT("UID:w\r\nSUMMARY:补班\r\nDTSTART;VALUE=DATE:20270103\r\n") ICS_TAIL,
                KF_E_INVALID, "2027-01-03 is both off and work");
    REFUSED_ICS(ICS_HEAD OK_EVENT EVENT("UID:c\r\nSUMMARY:春节\r\nDTSTART;VALUE=DATE:20260214\r\n") ICS_TAIL,
                KF_E_CONFLICT, "2026-02-14 is already a work day");
    REFUSED_ICS(ICS_HEAD ICS_TAIL, KF_E_INVALID, "no VEVENT");
    REFUSED_ICS("hello, world\r\n", KF_E_INVALID, "not an iCalendar object");
    REFUSED_ICS("", KF_E_INVALID, "not an iCalendar object");
    REFUSED_ICS("BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nEND:VEVENT\r\n", KF_E_INVALID, "not an iCalendar");
    REFUSED_ICS(ICS_HEAD EVENT("UID:u\r\nSUMMARY:\xff\r\nDTSTART;VALUE=DATE:20270101\r\n") ICS_TAIL, KF_E_INVALID,
                "UTF-8");

    size_t big = CALENDAR_IMPORT_MAX + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'X', big);
    memcpy(huge, ICS_HEAD, strlen(ICS_HEAD));
    refused_ics(huge, big, KF_E_TOO_LARGE, NULL);
    free(huge);
}

/* C3.1.1: what several imports built survives an export and a re-import exactly. */
static void c3_1_1_export_round_trips(void **state)
{
    struct calendar *cal = std_calendar(), *copy = NULL;
    struct kf_err err;
    assert_int_equal(calendar_import_text(cal, good_2027, sizeof good_2027 - 1, &err), 0);
    assert_int_equal(calendar_import_ics(cal, good_ics, sizeof good_ics - 1, &err), 0);
    static const char long_run[] = "2031-01-01..2031-12-31 off\n2032-01-01..2032-12-31 off\n";
    assert_int_equal(calendar_import_text(cal, long_run, sizeof long_run - 1, &err), 0);
    struct buf out;
    buf_init(&out, CALENDAR_IMPORT_MAX);
    assert_int_equal(calendar_export_text(cal, &out, &err), 0);
    assert_non_null(strstr(out.data, "year 2026\n"));
    assert_non_null(strstr(out.data, "2026-02-15..2026-02-23 off\n"));
    assert_non_null(strstr(out.data, "2026-01-04 work\n"));
    assert_int_equal(calendar_new("Asia/Shanghai", &copy, &err), 0);
    assert_int_equal(calendar_import_text(copy, out.data, out.len, &err), 0);
    assert_int_equal(calendar_date_count(copy), calendar_date_count(cal));
    for (int y = 2020; y <= 2040; y++) assert_int_equal(calendar_has_year(copy, y), calendar_has_year(cal, y));
    for (int64_t t = utc(2025, 12, 1, 0, 0); t < utc(2033, 2, 1, 0, 0); t += 24 * HOUR_MS) {
        struct tm tm;
        time_t s = (time_t)(t / 1000);
        gmtime_r(&s, &tm);
        enum calendar_day_kind k1, k2;
        assert_int_equal(calendar_day_kind(cal, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, &k1, &err), 0);
        assert_int_equal(calendar_day_kind(copy, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, &k2, &err), 0);
        assert_int_equal(k1, k2);
    }
    struct buf tiny;
    buf_init(&tiny, 16);
    assert_int_equal(calendar_export_text(cal, &tiny, &err), KF_E_TOO_LARGE);
    buf_free(&tiny);
    buf_free(&out);
    calendar_free(&copy);
    calendar_free(&cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(c3_1_1_worked_examples_shanghai_2026),
        cmocka_unit_test(c3_1_1_year_end_with_next_years_arrangement),
        cmocka_unit_test(c3_1_1_builtin_2026_arrangement),
        cmocka_unit_test(next_business_instant_examples),
        cmocka_unit_test(between_counts_whole_minutes_and_exact_ms),
        cmocka_unit_test(c3_1_1_new_york_dst),
        cmocka_unit_test(c3_1_1_berlin_dst),
        cmocka_unit_test(c3_1_1_zone_cache_stays_exact),
        cmocka_unit_test(no_business_time_is_an_error_not_a_loop),
        cmocka_unit_test(arguments_are_checked),
        cmocka_unit_test(c3_1_1_makeup_day_pattern),
        cmocka_unit_test(c3_1_1_property_add_is_additive_and_inverts_between),
        cmocka_unit_test(c3_1_1_property_next_is_idempotent_and_between_additive),
        cmocka_unit_test(c3_1_1_property_matches_minute_oracle),
        cmocka_unit_test(c3_1_1_property_in_a_dst_zone),
        cmocka_unit_test(c3_1_1_text_import),
        cmocka_unit_test(c3_1_1_text_import_refuses_bad_input),
        cmocka_unit_test(c3_1_1_ics_import),
        cmocka_unit_test(c3_1_1_ics_import_refuses_bad_input),
        cmocka_unit_test(c3_1_1_export_round_trips),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
