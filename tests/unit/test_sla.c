/* Unit tests of src/domain/sla (C2.2.1 targets, C3.1.2 completion within the agreed time on business
 * time, C5.3 the client side's share of the time): worked examples across the 2026 Spring Festival
 * with its make-up working Saturdays, a lunch break, waiting-on-customer pauses and a priority
 * change, each due time written out; seeded properties; bad input. */
#include "harness.h"

#include <sodium.h>
#include <time.h>

#include "core/err.h"
#include "domain/calendar.h"
#include "domain/sla.h"

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL

/* "2026-02-13 16:00" in Asia/Shanghai (UTC+8 all year) as UTC ms. */
static int64_t sh(const char *s)
{
    int y, mo, d, h, mi;
    assert_int_equal(sscanf(s, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi), 5);
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm) * 1000 - 8 * HOUR_MS;
}

/* Shanghai, Mon–Fri 09:00–12:00 and 13:00–18:00, the shipped 2026 arrangement (春节 2/15–23 off,
 * 2/14 and 2/28 make-up working Saturdays). */
static struct calendar *std_calendar(void)
{
    struct calendar *cal = NULL;
    struct kf_err err;
    struct calendar_period p[CALENDAR_PERIODS_MAX];
    size_t n;
    assert_int_equal(calendar_new(NULL, &cal, &err), 0);
    assert_int_equal(calendar_parse_periods("09:00-12:00,13:00-18:00", p, CALENDAR_PERIODS_MAX, &n, &err), 0);
    for (int wd = 1; wd <= 5; wd++) assert_int_equal(calendar_set_hours(cal, wd, p, n, &err), 0);
    assert_int_equal(calendar_load_builtin(cal, &err), 0);
    return cal;
}

static int setup(void **state)
{
    if (sodium_init() < 0) return -1;
    *state = std_calendar();
    return 0;
}

static int teardown(void **state)
{
    struct calendar *cal = *state;
    calendar_free(&cal);
    return 0;
}

static struct sla_clock eval(const struct calendar *cal, const char *start, int64_t minutes, const struct sla_pause *p,
                             size_t n, int64_t stop, int64_t now)
{
    struct sla_clock_input in = {.cal = cal, .start_ms = sh(start), .target_minutes = minutes, .pauses = p,
                                 .n_pauses = n, .stop_ms = stop};
    struct sla_clock c;
    struct kf_err err;
    int rc = sla_clock_eval(&in, now, &c, &err);
    if (rc) fail_msg("sla_clock_eval: %d %s %s", rc, err.field ? err.field : "", err.detail);
    return c;
}

/* Friday 2/13 16:00 with 8 business hours: 2 on Friday, then the make-up Saturday 2/14 09–12 and
 * 13–16. The warning (6 h) falls at 14:00 on Saturday. */
static void test_C3_1_2_spring_festival_make_up_saturday(void **state)
{
    const struct calendar *cal = *state;
    struct sla_clock c = eval(cal, "2026-02-13 16:00", 480, NULL, 0, 0, sh("2026-02-13 17:00"));
    assert_int_equal(c.due_ms, sh("2026-02-14 16:00"));
    assert_int_equal(c.warn_ms, sh("2026-02-14 14:00"));
    assert_int_equal(c.counted_ms, 60 * MIN_MS);
    assert_int_equal(c.percent, 12);
    assert_false(c.warned || c.breached || c.paused || c.stopped);
    /* resolved at 15:59 on the make-up Saturday: met */
    c = eval(cal, "2026-02-13 16:00", 480, NULL, 0, sh("2026-02-14 15:59"), sh("2026-03-01 10:00"));
    assert_true(c.stopped && c.met && c.warned);
    assert_false(c.breached);
    assert_int_equal(c.counted_ms, 479 * MIN_MS);
    /* still open on Tuesday 2/24 10:00 after the holiday: breached by 3 business hours, 9 days 18 h late */
    c = eval(cal, "2026-02-13 16:00", 480, NULL, 0, 0, sh("2026-02-24 10:00"));
    assert_true(c.breached && c.warned);
    assert_false(c.met);
    assert_int_equal(c.counted_ms, 660 * MIN_MS);
    assert_int_equal(c.overdue_ms, 180 * MIN_MS);
    assert_int_equal(c.late_ms, (9 * 24 + 18) * HOUR_MS);
    assert_int_equal(c.percent, 137);
}

/* Friday 2/27 17:00, 8 business hours: the make-up Saturday 2/28 works, so due 2/28 17:00, not Monday. */
static void test_C3_1_2_second_make_up_saturday(void **state)
{
    struct sla_clock c = eval(*state, "2026-02-27 17:00", 480, NULL, 0, 0, sh("2026-02-27 17:00"));
    assert_int_equal(c.due_ms, sh("2026-02-28 17:00"));
    c = eval(*state, "2026-03-06 17:00", 480, NULL, 0, 0, sh("2026-03-06 17:00")); /* an ordinary Friday */
    assert_int_equal(c.due_ms, sh("2026-03-09 17:00"));
}

/* Monday 3/2 11:00, one business hour: due at the period end 12:00, not 13:00. At 12:30 (lunch) the
 * promise has passed: breached although no business time was counted past the target. */
static void test_C3_1_2_lunch_break_and_period_end(void **state)
{
    const struct calendar *cal = *state;
    struct sla_clock c = eval(cal, "2026-03-02 11:00", 60, NULL, 0, 0, sh("2026-03-02 12:30"));
    assert_int_equal(c.due_ms, sh("2026-03-02 12:00"));
    assert_true(c.breached);
    assert_int_equal(c.overdue_ms, 0);
    assert_int_equal(c.late_ms, 30 * MIN_MS);
    c = eval(cal, "2026-03-02 11:00", 60, NULL, 0, sh("2026-03-02 12:00"), sh("2026-03-02 12:30"));
    assert_true(c.met);
    assert_false(c.breached);
    c = eval(cal, "2026-03-02 11:00", 120, NULL, 0, 0, sh("2026-03-02 11:00"));
    assert_int_equal(c.due_ms, sh("2026-03-02 14:00"));
    assert_int_equal(c.warn_ms, sh("2026-03-02 13:30"));
}

/* Waiting on the customer from Saturday 2/14 10:00 until Tuesday 2/24 09:30: 3 h were counted before,
 * so 5 h remain from 09:30 — due 2/24 15:30. While the pause is open the due time is unknown. The
 * pause took 7.5 business hours (2/14 10–12 and 13–18, 2/24 09:00–09:30): the customer's side (C5.3). */
static void test_C3_1_2_C5_3_waiting_on_customer_pause(void **state)
{
    const struct calendar *cal = *state;
    struct sla_pause open = {sh("2026-02-14 10:00"), 0, SLA_PAUSE_CUSTOMER};
    struct sla_clock c = eval(cal, "2026-02-13 16:00", 480, &open, 1, 0, sh("2026-02-20 10:00"));
    assert_true(c.paused);
    assert_int_equal(c.due_ms, 0);
    assert_int_equal(c.warn_ms, 0);
    assert_false(c.breached || c.warned);
    assert_int_equal(c.counted_ms, 180 * MIN_MS);
    assert_int_equal(c.paused_ms[SLA_PAUSE_CUSTOMER], 420 * MIN_MS);

    struct sla_pause closed = {sh("2026-02-14 10:00"), sh("2026-02-24 09:30"), SLA_PAUSE_CUSTOMER};
    c = eval(cal, "2026-02-13 16:00", 480, &closed, 1, 0, sh("2026-02-24 12:00"));
    assert_false(c.paused);
    assert_int_equal(c.due_ms, sh("2026-02-24 15:30"));
    assert_int_equal(c.warn_ms, sh("2026-02-24 13:30"));
    assert_int_equal(c.counted_ms, 330 * MIN_MS);
    assert_int_equal(c.paused_ms[SLA_PAUSE_CUSTOMER], 450 * MIN_MS);
    assert_int_equal(c.paused_ms[SLA_PAUSE_CLIENT], 0);
    assert_int_equal(c.percent, 68);

    /* then waiting on the client 2/24 14:00–2/25 10:00 (5 h of business time): due moves to 2/25 11:30 */
    struct sla_pause two[] = {closed, {sh("2026-02-24 14:00"), sh("2026-02-25 10:00"), SLA_PAUSE_CLIENT}};
    c = eval(cal, "2026-02-13 16:00", 480, two, 2, sh("2026-02-25 11:00"), sh("2026-02-26 09:00"));
    assert_int_equal(c.due_ms, sh("2026-02-25 11:30"));
    assert_true(c.met);
    assert_int_equal(c.paused_ms[SLA_PAUSE_CLIENT], 300 * MIN_MS);
    assert_int_equal(c.counted_ms, 450 * MIN_MS);

    /* a pause outside business hours (Friday night) moves nothing and counts nothing */
    struct sla_pause night = {sh("2026-02-13 20:00"), sh("2026-02-14 08:00"), SLA_PAUSE_CUSTOMER};
    c = eval(cal, "2026-02-13 16:00", 480, &night, 1, 0, sh("2026-02-14 09:00"));
    assert_int_equal(c.due_ms, sh("2026-02-14 16:00"));
    assert_int_equal(c.paused_ms[SLA_PAUSE_CUSTOMER], 0);

    /* a pause after the target was used up changes neither due nor breach */
    struct sla_pause late = {sh("2026-02-24 09:00"), 0, SLA_PAUSE_CLIENT};
    c = eval(cal, "2026-02-13 16:00", 480, &late, 1, 0, sh("2026-02-25 09:00"));
    assert_int_equal(c.due_ms, sh("2026-02-14 16:00"));
    assert_true(c.breached && c.paused);
}

/* P3 (resolution 1440 min) raised on Friday 2/13 16:00 falls due on Wednesday 2/25 16:00; changed to
 * P1 (240 min) on Saturday 2/14 10:00 the clock is recomputed from the creation, not from the
 * change: due 2/14 11:00, and the warning (3 h) is already due at the moment of the change (C2.2.1). */
static void test_C2_2_1_priority_change_recomputes_from_history(void **state)
{
    const struct calendar *cal = *state;
    struct sla_clock c = eval(cal, "2026-02-13 16:00", 1440, NULL, 0, 0, sh("2026-02-14 10:00"));
    assert_int_equal(c.due_ms, sh("2026-02-25 16:00"));
    assert_false(c.warned);
    c = eval(cal, "2026-02-13 16:00", 240, NULL, 0, 0, sh("2026-02-14 10:00"));
    assert_int_equal(c.due_ms, sh("2026-02-14 11:00"));
    assert_int_equal(c.warn_ms, sh("2026-02-14 10:00"));
    assert_true(c.warned);
    assert_false(c.breached);
}

/* The clock across the year end into 2027, whose arrangement is not loaded: ordinary weekdays. */
static void test_C3_1_2_year_end(void **state)
{
    struct sla_clock c = eval(*state, "2026-12-31 17:00", 120, NULL, 0, 0, sh("2026-12-31 17:00"));
    assert_int_equal(c.due_ms, sh("2027-01-01 10:00"));
}

struct prng {
    unsigned char key[crypto_stream_chacha20_KEYBYTES];
    uint64_t n;
};

static uint64_t prng_next(struct prng *p)
{
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {0}, out[8];
    memcpy(nonce, &p->n, sizeof p->n);
    p->n++;
    crypto_stream_chacha20(out, sizeof out, nonce, p->key);
    uint64_t v;
    memcpy(&v, out, sizeof v);
    return v;
}

static int64_t prng_range(struct prng *p, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(prng_next(p) % (uint64_t)(hi - lo + 1));
}

/* For random starts in 2026, random pauses and targets: the counted and paused times add up to the
 * business time since the start; at the due instant exactly the target is counted and a moment
 * before it less; a clock without pauses falls due where calendar_add_business_minutes says. */
static void test_C3_1_2_property_clock_adds_up(void **state)
{
    const struct calendar *cal = *state;
    struct prng p = {.n = 0};
    memcpy(p.key, "kefu sla property test key......", sizeof p.key);
    struct kf_err err;
    for (int i = 0; i < 1500; i++) {
        int64_t start = sh("2026-01-01 00:00") + prng_range(&p, 0, 330LL * 24 * 60) * MIN_MS;
        int64_t target = prng_range(&p, 1, 3000);
        struct sla_pause pauses[4];
        size_t n = (size_t)prng_range(&p, 0, 4);
        int64_t t = start;
        for (size_t k = 0; k < n; k++) {
            t += prng_range(&p, 0, 3 * 24 * 60) * MIN_MS;
            pauses[k].from_ms = t;
            t += prng_range(&p, 1, 4 * 24 * 60) * MIN_MS;
            pauses[k].to_ms = t;
            pauses[k].cause = (enum sla_pause_cause)prng_range(&p, 0, 1);
        }
        struct sla_clock_input in = {.cal = cal, .start_ms = start, .target_minutes = target, .pauses = pauses,
                                     .n_pauses = n};
        int64_t now = start + prng_range(&p, 0, 30LL * 24 * 60) * MIN_MS;
        struct sla_clock c, at_due, before_due;
        assert_int_equal(sla_clock_eval(&in, now, &c, &err), 0);
        int64_t total;
        assert_int_equal(calendar_business_ms_between(cal, start, now, &total, &err), 0);
        assert_int_equal(c.counted_ms + c.paused_ms[0] + c.paused_ms[1], total);
        assert_true(c.due_ms > 0);
        assert_true(c.warn_ms <= c.due_ms);
        assert_int_equal(sla_clock_eval(&in, c.due_ms, &at_due, &err), 0);
        assert_int_equal(at_due.counted_ms, target * MIN_MS);
        assert_false(at_due.breached);
        if (c.due_ms > start) {
            assert_int_equal(sla_clock_eval(&in, c.due_ms - 1, &before_due, &err), 0);
            assert_true(before_due.counted_ms < target * MIN_MS);
        }
        assert_int_equal(c.breached, now > c.due_ms);
        if (n == 0) {
            int64_t due;
            assert_int_equal(calendar_add_business_minutes(cal, start, target, &due, &err), 0);
            assert_int_equal(c.due_ms, due);
        }
    }
}

static void expect_invalid(const struct sla_clock_input *in, const char *field)
{
    struct sla_clock c = {.due_ms = 12345};
    struct kf_err err;
    assert_int_equal(sla_clock_eval(in, in->start_ms + HOUR_MS, &c, &err), KF_E_INVALID);
    assert_non_null(err.field);
    assert_string_equal(err.field, field);
    assert_int_equal(c.due_ms, 12345); /* nothing filled */
}

static void test_bad_input_is_refused(void **state)
{
    const struct calendar *cal = *state;
    int64_t s = sh("2026-03-02 09:00");
    struct sla_clock_input in = {.cal = cal, .start_ms = s, .target_minutes = 0};
    expect_invalid(&in, "target");
    in.target_minutes = CALENDAR_MINUTES_MAX + 1LL;
    expect_invalid(&in, "target");
    in.target_minutes = 60;
    in.stop_ms = s - 1;
    expect_invalid(&in, "stop");
    in.stop_ms = 0;
    struct sla_pause bad[][2] = {
        {{s - MIN_MS, s + MIN_MS, SLA_PAUSE_CUSTOMER}, {0}},                         /* before start */
        {{s + 2 * MIN_MS, s + MIN_MS, SLA_PAUSE_CUSTOMER}, {0}},                     /* ends before it begins */
        {{s + MIN_MS, 0, SLA_PAUSE_CUSTOMER}, {s + 2 * MIN_MS, s + 3 * MIN_MS, SLA_PAUSE_CLIENT}}, /* open not last */
        {{s + MIN_MS, s + 5 * MIN_MS, SLA_PAUSE_CUSTOMER}, {s + 3 * MIN_MS, s + 9 * MIN_MS, SLA_PAUSE_CLIENT}}, /* overlap */
        {{s + 5 * MIN_MS, s + 6 * MIN_MS, SLA_PAUSE_CUSTOMER}, {s + MIN_MS, s + 2 * MIN_MS, SLA_PAUSE_CLIENT}}, /* unsorted */
        {{s + MIN_MS, s + 2 * MIN_MS, (enum sla_pause_cause)7}, {0}},                /* unknown cause */
    };
    size_t counts[] = {1, 1, 2, 2, 2, 1};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        in.pauses = bad[i];
        in.n_pauses = counts[i];
        expect_invalid(&in, "pauses");
    }
    in.pauses = NULL;
    in.n_pauses = SLA_PAUSES_MAX + 1;
    expect_invalid(&in, "pauses");
    in.n_pauses = 0;
    in.cal = NULL;
    expect_invalid(&in, "calendar");
    assert_string_equal(sla_pause_cause_name(SLA_PAUSE_CLIENT), "client");
    assert_null(sla_pause_cause_name(SLA_PAUSE__COUNT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C3_1_2_spring_festival_make_up_saturday),
        cmocka_unit_test(test_C3_1_2_second_make_up_saturday),
        cmocka_unit_test(test_C3_1_2_lunch_break_and_period_end),
        cmocka_unit_test(test_C3_1_2_C5_3_waiting_on_customer_pause),
        cmocka_unit_test(test_C2_2_1_priority_change_recomputes_from_history),
        cmocka_unit_test(test_C3_1_2_year_end),
        cmocka_unit_test(test_C3_1_2_property_clock_adds_up),
        cmocka_unit_test(test_bad_input_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
