/* The business calendar of an agreement (CONTRACT.md C3.1.1): a time zone, weekly working hours,
 * public holidays and make-up working days (调休), and business-time arithmetic on UTC
 * milliseconds for SLA clocks. Pure domain logic: no database, no HTTP; callers persist the parts.
 *
 * Model
 *   - Zone: an IANA id (default Asia/Shanghai). Hours and dates are local to it; instants in and
 *     out are UTC milliseconds. Conversions go through ICU, never the process TZ.
 *   - Weekly hours: per ISO weekday (1 = Monday … 7 = Sunday) up to CALENDAR_PERIODS_MAX periods
 *     [start, end) in local minutes since midnight, 0 ≤ start < end ≤ 1440, sorted, not overlapping.
 *   - Dates: a local civil date is either a holiday ("off": no business time at all) or a make-up
 *     working day ("work"). A make-up day has the calendar's make-up pattern; until
 *     calendar_set_makeup_hours is called that pattern is whatever Monday's hours are at the time
 *     of the query (调休 days replace an ordinary weekday, and Monday is one in every kefu calendar
 *     seen so far). Any other date has the hours of its weekday.
 *   - Years: calendar_has_year(cal, Y) is true once a holiday range ending in Y was loaded, or a
 *     text file declared `year Y` (a year's 元旦 may begin on 30 or 31 December of the year before,
 *     so a range counts for the year it ends in).
 *
 * Arithmetic (all in milliseconds; minute APIs multiply or floor)
 *   - Business time is the union of the periods, each half-open [start, end) in UTC. On a day the
 *     clocks change, a period spans the real elapsed time between its local start and end: a
 *     repeated wall time means its first occurrence, a skipped one the moment the clocks jump.
 *   - add(start, x) is the EARLIEST instant r ≥ start with between(start, r) = x. Hence a deadline
 *     that lands on the end of a period is that end (12:00, not 13:00); add(start, 0) = start even
 *     outside business time (use next_business_instant to move to an opening); and for every start
 *     (inside business time or not) and x, y ≥ 0, whenever none of the calls fails:
 *     add(start, x + y) = add(add(start, x), y) — also when add(start, x) is a period end, because
 *     the next add then starts counting at the next opening —, between(start, add(start, x)) = x,
 *     and add is strictly increasing in x.
 *   - between(a, b) counts the business milliseconds inside [a, b); the minutes form is floor(ms /
 *     60000), so a partial minute does not count.
 *   - Loops are bounded: when no business time exists within CALENDAR_SEARCH_DAYS days the
 *     functions fail with KF_E_INVALID, field "calendar", instead of spinning.
 *
 * Ownership: calendar_new allocates (malloc) a long-lived object; calendar_free releases it and
 * clears the pointer. Functions taking `const struct calendar *` only read it and open their own
 * ICU calendar, so a calendar that is no longer modified may be shared by threads; mutators must
 * not run concurrently with anything else on the same calendar. */
#ifndef KEFU_CALENDAR_H
#define KEFU_CALENDAR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define CALENDAR_DEFAULT_ZONE "Asia/Shanghai"
#define CALENDAR_ZONE_MAX 64                 /* bytes of a zone id, NUL included */
#define CALENDAR_PERIODS_MAX 8               /* periods per weekday */
#define CALENDAR_IMPORT_MAX (1024 * 1024)    /* bytes of one import (text or iCalendar) */
#define CALENDAR_RANGE_MAX_DAYS 366          /* days in one range of an import */
#define CALENDAR_DATES_MAX 100000            /* holiday + make-up dates held by one calendar */
#define CALENDAR_SEARCH_DAYS (3 * 366)       /* longest stretch without business time searched */
#define CALENDAR_SPAN_MAX_DAYS (100 * 366)   /* longest stretch any one call walks through */
#define CALENDAR_MINUTES_MAX 10000000        /* largest amount added (about 19 years of minutes) */
#define CALENDAR_YEAR_MIN 1970
#define CALENDAR_YEAR_MAX 9999
#define CALENDAR_MS_MIN 0                    /* 1970-01-01T00:00Z */
#define CALENDAR_MS_MAX 253402300799999      /* 9999-12-31T23:59:59.999Z */

/* One period of a working day, local minutes since midnight: [start_min, end_min). */
struct calendar_period {
    int start_min;
    int end_min;
};

enum calendar_day_kind {
    CALENDAR_DAY_ORDINARY = 0, /* hours of its weekday */
    CALENDAR_DAY_OFF = 1,      /* holiday: no business time */
    CALENDAR_DAY_WORK = 2,     /* make-up working day (调休): the make-up pattern */
};

struct calendar;

/* Creates a calendar in IANA zone `zone` (NULL or "": CALENDAR_DEFAULT_ZONE) with no weekly hours
 * and no dates. KF_E_INVALID (field "zone") when ICU does not know the zone. */
int calendar_new(const char *zone, struct calendar **cal_r, struct kf_err *err);

/* Frees the calendar and clears the caller's pointer; NULL and *cal == NULL are fine. */
void calendar_free(struct calendar **cal);

/* The zone id given to calendar_new (or the default), e.g. "Asia/Shanghai". */
const char *calendar_zone(const struct calendar *cal);

/* Replaces the hours of ISO weekday `weekday` (1 = Monday … 7 = Sunday) with periods[0..n);
 * n = 0 makes it a day off. KF_E_INVALID (field "hours") on a bad weekday, more than
 * CALENDAR_PERIODS_MAX periods, a period outside 0..1440 or empty, or periods unsorted or
 * overlapping (touching is fine). Nothing changes on error. */
int calendar_set_hours(struct calendar *cal, int weekday, const struct calendar_period *periods, size_t n,
                       struct kf_err *err);

/* Sets the make-up day pattern (same rules as calendar_set_hours, n ≥ 1). Until called, make-up
 * days have Monday's hours. */
int calendar_set_makeup_hours(struct calendar *cal, const struct calendar_period *periods, size_t n,
                              struct kf_err *err);

/* Parses "09:00-12:00,13:00-18:00" (24:00 allowed as an end; blanks around items ignored; "" is no
 * periods) into out[0..cap), count in *n_r. KF_E_INVALID (field "hours") on anything else or when
 * the periods would be refused by calendar_set_hours. */
int calendar_parse_periods(const char *spec, struct calendar_period *out, size_t cap, size_t *n_r,
                           struct kf_err *err);

/* Loads the arrangements kefu ships (the PRC State Council's 2026 arrangement: 元旦, 春节, 清明,
 * 劳动节, 端午, 中秋, 国庆 and their make-up days) exactly as calendar_import_text would, so it is
 * refused with KF_E_CONFLICT if the calendar already marks one of those dates the other way. */
int calendar_load_builtin(struct calendar *cal, struct kf_err *err);

/* Imports the text format (docs/calendar.md): one line per date or range,
 *     2027-01-01..2027-01-03 off 元旦
 *     2027-01-04 work 元旦调休
 *     year 2027
 * blank lines and lines starting with '#' ignored, CRLF and a leading BOM accepted; text after
 * the kind is a free label. All or nothing: on any error the calendar is unchanged.
 * Errors: KF_E_TOO_LARGE (over CALENDAR_IMPORT_MAX bytes); KF_E_INVALID (field "file", detail
 * "line N: …") for invalid UTF-8 or NUL, a malformed or impossible date, a reversed range or one
 * longer than CALENDAR_RANGE_MAX_DAYS, an unknown kind, a date both off and work in the file, no
 * dates at all, or too many dates; KF_E_CONFLICT (field "file") when a date is already in the
 * calendar with the other kind (the same kind again is fine, so re-importing a file is harmless). */
int calendar_import_text(struct calendar *cal, const char *data, size_t len, struct kf_err *err);

/* Imports an iCalendar (RFC 5545) object with libical. Every VEVENT must be all-day: DTSTART a
 * DATE, DTEND a DATE after it and exclusive (or DURATION of whole days, or neither: one day); no
 * RRULE. An event marks make-up working days when, first rule that applies:
 *   1. X-KEFU-DAY is "work" or "off" (anything else is an error);
 *   2. X-APPLE-SPECIAL-DAY is ALTERNATE-WORKDAY (work) or WORK-HOLIDAY (off);
 *   3. a CATEGORIES value is WORKDAY, 补班 or 上班 (case-insensitive ASCII);
 *   4. the SUMMARY contains "班" (covers 补班, 上班, 调休上班, "(班)");
 * otherwise its days are holidays. So import a feed of the arrangement only: an observance such as
 * 母亲节 in a general feed would become a day off. Errors, all or nothing, as calendar_import_text
 * (detail names the event's UID or SUMMARY instead of a line): KF_E_TOO_LARGE, KF_E_INVALID for
 * invalid UTF-8, a parse error libical reports, no VCALENDAR, no VEVENT, a timed or malformed
 * date, a reversed or empty range, a date both off and work; KF_E_CONFLICT as above. */
int calendar_import_ics(struct calendar *cal, const char *data, size_t len, struct kf_err *err);

/* Replaces the content of `out` with the calendar's dates and years in the text format: `year`
 * lines, then one line per run of consecutive dates of one kind (labels are not kept). Importing
 * it into a calendar without dates gives the same dates and years, so it is how a caller persists
 * what several imports built. KF_E_TOO_LARGE when `out`'s maximum is too small. */
int calendar_export_text(const struct calendar *cal, struct buf *out, struct kf_err *err);

/* True when the arrangement of `year` is present (see "Years" above). A job warns admins from
 * November on when next year's is missing. */
bool calendar_has_year(const struct calendar *cal, int year);

/* The kind of local date y-m-d. KF_E_INVALID (field "date") for an impossible date. */
int calendar_day_kind(const struct calendar *cal, int y, int m, int d, enum calendar_day_kind *kind_r,
                      struct kf_err *err);

/* Number of holiday and make-up dates held. */
size_t calendar_date_count(const struct calendar *cal);

/* Instants: all take and return UTC ms in [CALENDAR_MS_MIN, CALENDAR_MS_MAX] (KF_E_INVALID, field
 * "time", otherwise); KF_E_INVALID field "calendar" when no business time exists within
 * CALENDAR_SEARCH_DAYS days of where a search needs it; KF_E_INTERNAL if ICU fails. */

/* t itself when t is inside a period (start ≤ t < end), else the start of the next period. */
int calendar_next_business_instant(const struct calendar *cal, int64_t t_ms, int64_t *r_ms_r, struct kf_err *err);

/* *is_r = (calendar_next_business_instant(t) == t). */
int calendar_is_business_instant(const struct calendar *cal, int64_t t_ms, bool *is_r, struct kf_err *err);

/* The earliest instant r ≥ start_ms with business_ms_between(start_ms, r) = amount_ms (see the
 * arithmetic notes above). 0 ≤ amount_ms ≤ CALENDAR_MINUTES_MAX minutes, else KF_E_INVALID
 * (field "amount"); KF_E_INVALID field "calendar" when the search walks more than
 * CALENDAR_SPAN_MAX_DAYS days or CALENDAR_SEARCH_DAYS without business time. */
int calendar_add_business_ms(const struct calendar *cal, int64_t start_ms, int64_t amount_ms, int64_t *result_ms_r,
                             struct kf_err *err);

/* calendar_add_business_ms with minutes × 60000. */
int calendar_add_business_minutes(const struct calendar *cal, int64_t start_ms, int64_t minutes,
                                  int64_t *result_ms_r, struct kf_err *err);

/* Business milliseconds inside [a_ms, b_ms). a ≤ b and b − a ≤ CALENDAR_SPAN_MAX_DAYS days, else
 * KF_E_INVALID (field "time"). Never fails for lack of business time: the answer is then 0. */
int calendar_business_ms_between(const struct calendar *cal, int64_t a_ms, int64_t b_ms, int64_t *ms_r,
                                 struct kf_err *err);

/* floor(calendar_business_ms_between / 60000): partial minutes do not count. */
int calendar_business_minutes_between(const struct calendar *cal, int64_t a_ms, int64_t b_ms, int64_t *minutes_r,
                                      struct kf_err *err);

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d, and back (plain arithmetic, no zone). */
int32_t calendar_days_from_civil(int y, int m, int d);
void calendar_civil_from_days(int32_t days, int *y_r, int *m_r, int *d_r);

#endif
