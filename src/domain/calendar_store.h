/* Persisted business calendars (C3.1.1): named, provider-wide calendars kept as rows (migration
 * 0009_calendars) — zone, weekly hours, the make-up day (调休) pattern, holidays, make-up days and the
 * years whose arrangement is present — and the in-memory calendar (calendar.h) built from them for
 * business-time arithmetic. Every call is policy-checked (calendar.read: provider staff;
 * calendar.manage: admin); every write is audited on the provider chain in its own transaction.
 *
 * kefu's default calendar is created by the migration itself, with the fixed id
 * CALENDAR_STORE_DEFAULT_ID: "中国大陆标准工作时间", Asia/Shanghai, Mon–Fri 09:00–12:00 and
 * 13:00–18:00, the State Council's 2026 arrangement (the same dates as calendar_load_builtin).
 *
 * Ownership: structs filled here point into ctx->arena; calendar_store_load returns a malloc'd
 * calendar the caller frees with calendar_free. */
#ifndef KEFU_CALENDAR_STORE_H
#define KEFU_CALENDAR_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/calendar.h"
#include "domain/context.h"

struct store_conn;

#define CALENDAR_STORE_DEFAULT_ID 1
#define CALENDAR_NAME_MAX 200        /* bytes of a calendar's name */
#define CALENDAR_STORE_LIST_MAX 500  /* calendars in one list */

/* Weekly hours: periods[1..7] are ISO weekdays (1 = Monday); periods[0] is the make-up day
 * pattern, where n[0] = 0 means "Monday's hours" (calendar.h). */
struct calendar_hours {
    struct calendar_period periods[8][CALENDAR_PERIODS_MAX];
    size_t n[8];
};

struct calendar_info {
    int64_t id;
    const char *name;
    const char *zone;
    struct calendar_hours hours;
    int64_t date_count;
    int64_t created;
    int64_t updated;
};

/* One local day of a month view. */
enum calendar_store_day {
    CALENDAR_STORE_WORKING = 0, /* an ordinary day with business hours */
    CALENDAR_STORE_WEEKEND,     /* an ordinary day without hours */
    CALENDAR_STORE_HOLIDAY,     /* a holiday (off) */
    CALENDAR_STORE_MAKEUP,      /* a make-up working day (调休) */
};

struct calendar_month_day {
    int day;                    /* 1..31 */
    int weekday;                /* 1 = Monday … 7 = Sunday */
    enum calendar_store_day kind;
    const char *label;          /* the imported label, or "" */
    const struct calendar_period *periods; /* the day's business periods (into the info's hours) */
    size_t n_periods;
};

/* "09:00-12:00,13:00-18:00" for periods[0..n) into out (cap ≥ CALENDAR_PERIODS_TEXT); "" for none. */
#define CALENDAR_PERIODS_TEXT (CALENDAR_PERIODS_MAX * 12 + 1)
void calendar_periods_text(const struct calendar_period *periods, size_t n, char *out, size_t cap);

/* The field names of the hours: "makeup" (index 0), "mon" (1) … "sun" (7). */
const char *calendar_hours_field(int index);

/* The local year and month of the context's clock in Asia/Shanghai (a month view's default). */
int calendar_store_this_month(struct kf_ctx *ctx, int *year_r, int *month_r, struct kf_err *err);

/* The standard hours: Mon–Fri 09:00–12:00 and 13:00–18:00, no make-up pattern. */
void calendar_hours_standard(struct calendar_hours *h);

/* Creates a calendar named `name` (1..CALENDAR_NAME_MAX bytes of UTF-8, unique: KF_E_CONFLICT,
 * field "name") in `zone` (NULL or "": Asia/Shanghai; unknown: KF_E_INVALID field "zone") with
 * `hours` (NULL: the standard hours) and no dates. Checks `hours` as calendar_store_update_hours. */
int calendar_store_create(struct kf_ctx *ctx, const char *name, const char *zone, const struct calendar_hours *hours,
                          int64_t *id_r, struct kf_err *err);

/* One calendar (KF_E_NOT_FOUND when absent). */
int calendar_store_get(struct kf_ctx *ctx, int64_t id, struct calendar_info *out, struct kf_err *err);

/* Every calendar by name (at most CALENDAR_STORE_LIST_MAX); hours are not filled. */
int calendar_store_list(struct kf_ctx *ctx, struct calendar_info **items_r, size_t *n_r, struct kf_err *err);

/* Replaces the weekly hours and the make-up pattern. An inverted, empty, out-of-range or
 * overlapping period, or more than CALENDAR_PERIODS_MAX on one day, is KF_E_INVALID with field
 * "mon" … "sun" or "makeup", and nothing changes. */
int calendar_store_update_hours(struct kf_ctx *ctx, int64_t id, const struct calendar_hours *hours,
                                struct kf_err *err);

/* Imports holidays and make-up days: `format` "text" (calendar_import_text) or "ics"
 * (calendar_import_ics; KF_E_INVALID field "format" otherwise), all or nothing, with the errors of
 * those functions (an unknown date format: KF_E_INVALID, field "file", detail "line N: …"; a date
 * held the other way: KF_E_CONFLICT). Labels of the text format are kept; *added_r (may be NULL)
 * gets the number of new dates. */
int calendar_store_import(struct kf_ctx *ctx, int64_t id, const char *format, const char *content, size_t len,
                          int64_t *added_r, struct kf_err *err);

/* Builds the in-memory calendar of `id` from a connection (inside a write, say) — no policy check:
 * callers have made theirs — or, through calendar_store_load, after calendar.read. */
int calendar_store_load_conn(struct store_conn *c, int64_t id, struct calendar **cal_r, struct kf_err *err);
int calendar_store_load(struct kf_ctx *ctx, int64_t id, struct calendar **cal_r, struct kf_err *err);

/* The calendar of `id` as calendar_store_load_conn builds it, from this thread's cache when its
 * `updated` is unchanged (one lookup) — no policy check. *cal_r belongs to the cache: use it only
 * until this thread's next call, never free it. KF_E_NOT_FOUND when there is no such calendar. Also
 * inside a write: `updated` is read in the transaction, and an entry filled from its uncommitted
 * view never outlives it (calendar_store.c, "the per-thread cache"). */
struct calendar;
int calendar_store_cached_conn(struct store_conn *c, int64_t id, const struct calendar **cal_r, struct kf_err *err);

/* The days of month `year`-`month` (1970..9999, 1..12; KF_E_INVALID fields "year", "month"), with
 * `info` filled as by calendar_store_get; days_r has *n_r entries in ctx->arena. */
int calendar_store_month(struct kf_ctx *ctx, int64_t id, int year, int month, struct calendar_info *info,
                         struct calendar_month_day **days_r, size_t *n_r, struct kf_err *err);

/* From November on (local time in Asia/Shanghai) the number of calendars that lack next year's
 * arrangement, for the warning to admins; 0 before November. */
int calendar_store_missing_next_year(struct kf_ctx *ctx, int64_t now_ms, int64_t *missing_r, struct kf_err *err);

#endif
