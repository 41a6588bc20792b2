/* Persisted business calendars on both engines (C3.1.1): the default calendar of migration 0009 and
 * a created one load into in-memory calendars whose arithmetic equals calendar.h's own over the 2026
 * Spring Festival; inverted or overlapping periods and bad holiday files are refused with a field and
 * change nothing; imports are all or nothing; every write leaves its audit record; policy decides. */
#include "identity_fixture.h"

#include <unicode/uclean.h>

#include "core/buf.h"
#include "domain/calendar.h"
#include "domain/calendar_store.h"

static int group_teardown(void **state)
{
    lookalike_shutdown();
    u_cleanup();
    return 0;
}

/* UTC ms of a local time in Asia/Shanghai (UTC+8 all year since 1991). */
static int64_t sh(int y, int m, int d, int hh, int mm)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    return ((days * 86400) + (hh - 8) * 3600 + mm * 60) * 1000;
}

/* The in-memory calendar calendar.h builds by itself: standard hours and the shipped 2026 dates. */
static struct calendar *reference(struct ifx *fx)
{
    struct calendar *cal = NULL;
    struct calendar_period p[2] = {{540, 720}, {780, 1080}};
    T_OK(calendar_new("Asia/Shanghai", &cal, &fx->err));
    for (int wd = 1; wd <= 5; wd++) T_OK(calendar_set_hours(cal, wd, p, 2, &fx->err));
    T_OK(calendar_load_builtin(cal, &fx->err));
    return cal;
}

static char *export(struct ifx *fx, const struct calendar *cal)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    T_OK(calendar_export_text(cal, &b, &fx->err));
    char *s = arena_strdup(fx->arena, b.data);
    buf_free(&b);
    return s;
}

/* Both calendars give the same deadline for every start of the Spring Festival weeks. */
static void assert_same_arithmetic(struct ifx *fx, const struct calendar *a, const struct calendar *b)
{
    static const int minutes[] = {0, 1, 60, 120, 480, 600, 2400};
    for (int day = 10; day <= 28; day++) {
        for (int hh = 0; hh < 24; hh += 5) {
            for (size_t k = 0; k < sizeof minutes / sizeof minutes[0]; k++) {
                int64_t ra = 0, rb = 0, t = sh(2026, 2, day, hh, 30);
                T_OK(calendar_add_business_minutes(a, t, minutes[k], &ra, &fx->err));
                T_OK(calendar_add_business_minutes(b, t, minutes[k], &rb, &fx->err));
                assert_int_equal(ra, rb);
            }
        }
    }
}

static void test_C3_1_1_default_calendar_loads_as_the_shipped_2026_arrangement(void **state)
{
    IFX(state);
    ifx_as(fx, 11, 0, ROLE_AGENT);
    struct calendar_info info;
    T_OK(calendar_store_get(&fx->ctx, CALENDAR_STORE_DEFAULT_ID, &info, &fx->err));
    assert_string_equal(info.name, "中国大陆标准工作时间");
    assert_string_equal(info.zone, "Asia/Shanghai");
    assert_int_equal(info.hours.n[1], 2);
    assert_int_equal(info.hours.n[6], 0);
    assert_int_equal(info.hours.n[0], 0);
    struct calendar *stored = NULL, *ref = reference(fx);
    T_OK(calendar_store_load(&fx->ctx, CALENDAR_STORE_DEFAULT_ID, &stored, &fx->err));
    assert_string_equal(export(fx, stored), export(fx, ref));
    assert_true(calendar_has_year(stored, 2026));
    assert_false(calendar_has_year(stored, 2027));
    /* the worked example: Sat 2026-02-14 (a make-up day) 17:00 + 120 min → Tue 02-24 10:00 */
    int64_t r = 0;
    T_OK(calendar_add_business_minutes(stored, sh(2026, 2, 14, 17, 0), 120, &r, &fx->err));
    assert_int_equal(r, sh(2026, 2, 24, 10, 0));
    assert_same_arithmetic(fx, stored, ref);
    calendar_free(&stored);
    calendar_free(&ref);
}

static void test_C3_1_1_created_calendar_round_trip_equals_in_memory_arithmetic(void **state)
{
    IFX(state);
    ifx_as(fx, 10, 0, ROLE_ADMIN);
    int64_t id = 0;
    T_OK(calendar_store_create(&fx->ctx, "上海客服中心", NULL, NULL, &id, &fx->err));
    assert_int_equal(ifx_audit_count(fx, "calendar.create"), 1);
    /* the shipped arrangement as an operator's file */
    static const char text[] =
        "year 2026\n2026-01-01..2026-01-03 off 元旦\n2026-01-04 work 元旦调休\n2026-02-15..2026-02-23 off 春节\n"
        "2026-02-14 work 春节调休\n2026-02-28 work 春节调休\n2026-04-04..2026-04-06 off 清明节\n"
        "2026-05-01..2026-05-05 off 劳动节\n2026-05-09 work\n2026-06-19..2026-06-21 off 端午节\n"
        "2026-09-25..2026-09-27 off 中秋节\n2026-09-20 work\n2026-10-01..2026-10-07 off 国庆节\n2026-10-10 work\n";
    int64_t added = 0;
    T_OK(calendar_store_import(&fx->ctx, id, "text", text, sizeof text - 1, &added, &fx->err));
    assert_int_equal(added, 39);
    assert_int_equal(ifx_audit_count(fx, "calendar.import"), 1);
    assert_int_equal(ifx_count_text(fx, "SELECT count(*) FROM calendar_dates WHERE label = $1", "春节"), 9 + 9);
    struct calendar *stored = NULL, *ref = reference(fx);
    T_OK(calendar_store_load(&fx->ctx, id, &stored, &fx->err));
    assert_string_equal(export(fx, stored), export(fx, ref));
    assert_same_arithmetic(fx, stored, ref);
    calendar_free(&stored);
    /* importing the same file again adds nothing */
    T_OK(calendar_store_import(&fx->ctx, id, "text", text, sizeof text - 1, &added, &fx->err));
    assert_int_equal(added, 0);
    /* a name is unique */
    assert_int_equal(calendar_store_create(&fx->ctx, "上海客服中心", NULL, NULL, NULL, &fx->err), KF_E_CONFLICT);
    assert_string_equal(fx->err.field, "name");
    assert_int_equal(calendar_store_create(&fx->ctx, "x", "Mars/Olympus", NULL, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "zone");
    struct calendar_info *items;
    size_t n;
    T_OK(calendar_store_list(&fx->ctx, &items, &n, &fx->err));
    assert_int_equal(n, 2);
    calendar_free(&ref);
    ifx_audit_verify_clean(fx);
}

static void test_C3_1_1_overlapping_or_inverted_periods_are_refused_and_change_nothing(void **state)
{
    IFX(state);
    ifx_as(fx, 10, 0, ROLE_ADMIN);
    int64_t id = 0;
    T_OK(calendar_store_create(&fx->ctx, "夜班", "Asia/Shanghai", NULL, &id, &fx->err));
    int64_t audits = ifx_audit_total(fx);
    struct calendar_hours h;
    calendar_hours_standard(&h);
    h.periods[1][1] = (struct calendar_period){11 * 60, 18 * 60}; /* overlaps 09:00–12:00 */
    assert_int_equal(calendar_store_update_hours(&fx->ctx, id, &h, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "mon");
    calendar_hours_standard(&h);
    h.periods[2][0] = (struct calendar_period){12 * 60, 9 * 60}; /* inverted */
    assert_int_equal(calendar_store_update_hours(&fx->ctx, id, &h, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "tue");
    calendar_hours_standard(&h);
    h.periods[0][0] = (struct calendar_period){600, 1500}; /* past midnight */
    h.n[0] = 1;
    assert_int_equal(calendar_store_update_hours(&fx->ctx, id, &h, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "makeup");
    assert_int_equal(ifx_audit_total(fx), audits);
    struct calendar_info info;
    T_OK(calendar_store_get(&fx->ctx, id, &info, &fx->err));
    struct calendar_hours std;
    calendar_hours_standard(&std);
    assert_memory_equal(&info.hours, &std, sizeof std);
    /* a good change: Saturday mornings, make-up days as Friday afternoons */
    h = std;
    h.periods[6][0] = (struct calendar_period){540, 720};
    h.n[6] = 1;
    h.periods[0][0] = (struct calendar_period){780, 1080};
    h.n[0] = 1;
    T_OK(calendar_store_update_hours(&fx->ctx, id, &h, &fx->err));
    T_OK(calendar_store_get(&fx->ctx, id, &info, &fx->err));
    assert_memory_equal(&info.hours, &h, sizeof h);
    assert_int_equal(ifx_audit_count(fx, "calendar.hours"), 1);
    assert_non_null(strstr(ifx_audit_changes(fx, "calendar.hours"), "09:00-12:00"));
    /* an absent calendar */
    assert_int_equal(calendar_store_update_hours(&fx->ctx, 424242, &h, &fx->err), KF_E_NOT_FOUND);
    ifx_audit_verify_clean(fx);
}

static void test_C3_1_1_import_is_all_or_nothing_and_names_the_bad_line(void **state)
{
    IFX(state);
    ifx_as(fx, 10, 0, ROLE_ADMIN);
    const int64_t id = CALENDAR_STORE_DEFAULT_ID;
    int64_t dates = ifx_count(fx, "SELECT count(*) FROM calendar_dates WHERE calendar_id = $1", id, 0);
    int64_t audits = ifx_audit_total(fx);
    static const char bad_format[] = "year 2027\n2027-01-01 off 元旦\n2027/02/06 off 春节\n";
    assert_int_equal(calendar_store_import(&fx->ctx, id, "text", bad_format, sizeof bad_format - 1, NULL, &fx->err),
                     KF_E_INVALID);
    assert_string_equal(fx->err.field, "file");
    assert_non_null(strstr(fx->err.detail, "line 3"));
    /* 2026-02-14 is a make-up day in the default calendar: the other way round is a conflict */
    static const char conflict[] = "2027-01-01 off\n2026-02-14 off\n";
    assert_int_equal(calendar_store_import(&fx->ctx, id, "text", conflict, sizeof conflict - 1, NULL, &fx->err),
                     KF_E_CONFLICT);
    static const char bad_ics[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\n"
                                  "DTSTART:20270101T090000Z\r\nSUMMARY:元旦\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_int_equal(calendar_store_import(&fx->ctx, id, "ics", bad_ics, sizeof bad_ics - 1, NULL, &fx->err),
                     KF_E_INVALID);
    assert_int_equal(calendar_store_import(&fx->ctx, id, "xls", "x", 1, NULL, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "format");
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM calendar_dates WHERE calendar_id = $1", id, 0), dates);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM calendar_years WHERE calendar_id = $1", id, 0), 1);
    assert_int_equal(ifx_audit_total(fx), audits);
    /* iCalendar: 2027 元旦 and a make-up day */
    static const char ics[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                              "BEGIN:VEVENT\r\nUID:y1\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270104\r\n"
                              "SUMMARY:元旦\r\nEND:VEVENT\r\n"
                              "BEGIN:VEVENT\r\nUID:y2\r\nDTSTART;VALUE=DATE:20270207\r\nSUMMARY:春节补班\r\nEND:VEVENT\r\n"
                              "END:VCALENDAR\r\n";
    int64_t added = 0;
    T_OK(calendar_store_import(&fx->ctx, id, "ics", ics, sizeof ics - 1, &added, &fx->err));
    assert_int_equal(added, 4);
    struct calendar *cal = NULL;
    T_OK(calendar_store_load(&fx->ctx, id, &cal, &fx->err));
    assert_true(calendar_has_year(cal, 2027));
    enum calendar_day_kind k;
    T_OK(calendar_day_kind(cal, 2027, 2, 7, &k, &fx->err));
    assert_int_equal(k, CALENDAR_DAY_WORK);
    calendar_free(&cal);
    assert_int_equal(ifx_audit_count(fx, "calendar.import"), 1);
    ifx_audit_verify_clean(fx);
}

static void test_C3_1_1_month_view_marks_holidays_and_make_up_days(void **state)
{
    IFX(state);
    ifx_as(fx, 12, 0, ROLE_SUPERVISOR);
    struct calendar_info info;
    struct calendar_month_day *days;
    size_t n;
    T_OK(calendar_store_month(&fx->ctx, CALENDAR_STORE_DEFAULT_ID, 2026, 2, &info, &days, &n, &fx->err));
    assert_int_equal(n, 28);
    assert_int_equal(days[13].kind, CALENDAR_STORE_MAKEUP); /* Sat 14th */
    assert_int_equal(days[13].weekday, 6);
    assert_int_equal(days[13].n_periods, 2);
    assert_int_equal(days[14].kind, CALENDAR_STORE_HOLIDAY);
    assert_string_equal(days[14].label, "春节");
    assert_int_equal(days[23].kind, CALENDAR_STORE_WORKING); /* Tue 24th */
    assert_int_equal(days[6].kind, CALENDAR_STORE_WEEKEND);  /* Sat 7th */
    assert_int_equal(calendar_store_month(&fx->ctx, 1, 2026, 13, &info, &days, &n, &fx->err), KF_E_INVALID);
    assert_string_equal(fx->err.field, "month");
    assert_int_equal(calendar_store_month(&fx->ctx, 777, 2026, 1, &info, &days, &n, &fx->err), KF_E_NOT_FOUND);
}

static void test_C3_1_1_missing_next_year_is_reported_from_november(void **state)
{
    IFX(state);
    ifx_as(fx, 10, 0, ROLE_ADMIN);
    int64_t missing = -1;
    T_OK(calendar_store_missing_next_year(&fx->ctx, sh(2026, 10, 31, 23, 0), &missing, &fx->err));
    assert_int_equal(missing, 0);
    T_OK(calendar_store_missing_next_year(&fx->ctx, sh(2026, 11, 1, 0, 30), &missing, &fx->err));
    assert_int_equal(missing, 1);
    static const char text[] = "year 2027\n2027-01-01 off 元旦\n";
    T_OK(calendar_store_import(&fx->ctx, CALENDAR_STORE_DEFAULT_ID, "text", text, sizeof text - 1, NULL, &fx->err));
    T_OK(calendar_store_missing_next_year(&fx->ctx, sh(2026, 11, 1, 0, 30), &missing, &fx->err));
    assert_int_equal(missing, 0);
}

static void test_C3_1_1_C5_2_policy_read_for_provider_staff_manage_for_admins(void **state)
{
    IFX(state);
    struct calendar_info info;
    struct calendar_hours h;
    calendar_hours_standard(&h);
    ifx_as(fx, 11, 0, ROLE_AGENT | ROLE_ACCOUNT_MANAGER);
    T_OK(calendar_store_get(&fx->ctx, 1, &info, &fx->err));
    assert_int_equal(calendar_store_update_hours(&fx->ctx, 1, &h, &fx->err), KF_E_FORBIDDEN);
    assert_int_equal(calendar_store_create(&fx->ctx, "x", NULL, NULL, NULL, &fx->err), KF_E_FORBIDDEN);
    assert_int_equal(calendar_store_import(&fx->ctx, 1, "text", "2027-01-01 off\n", 15, NULL, &fx->err), KF_E_FORBIDDEN);
    ifx_as(fx, 21, fx->client_a, ROLE_CLIENT_ADMIN);
    assert_int_equal(calendar_store_get(&fx->ctx, 1, &info, &fx->err), KF_E_NOT_FOUND);
    struct calendar *cal = NULL;
    assert_int_equal(calendar_store_load(&fx->ctx, 1, &cal, &fx->err), KF_E_NOT_FOUND);
    assert_null(cal);
    ifx_as_anonymous(fx);
    assert_int_equal(calendar_store_get(&fx->ctx, 1, &info, &fx->err), KF_E_UNAUTHENTICATED);
    assert_int_equal(ifx_count(fx, "SELECT count(*) FROM calendar_hours WHERE calendar_id = $1", 1, 0), 10);
}

#define BOTH(fn) HARNESS_BOTH_ENGINES(fn, ifx_setup_sqlite, ifx_setup_postgres, ifx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_C3_1_1_default_calendar_loads_as_the_shipped_2026_arrangement),
        BOTH(test_C3_1_1_created_calendar_round_trip_equals_in_memory_arithmetic),
        BOTH(test_C3_1_1_overlapping_or_inverted_periods_are_refused_and_change_nothing),
        BOTH(test_C3_1_1_import_is_all_or_nothing_and_names_the_bad_line),
        BOTH(test_C3_1_1_month_view_marks_holidays_and_make_up_days),
        BOTH(test_C3_1_1_missing_next_year_is_reported_from_november),
        BOTH(test_C3_1_1_C5_2_policy_read_for_provider_staff_manage_for_admins),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
