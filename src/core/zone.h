/* IANA time zones through ICU (never the process-wide TZ: DESIGN.md): checking a zone id, opening a
 * calendar in it, and reading a wall time people typed in it. */
#ifndef KEFU_ZONE_H
#define KEFU_ZONE_H
#include <stdbool.h>
#include <stdint.h>
#include <unicode/ucal.h>

/* True when `zone` is a system IANA zone id ICU knows ("Asia/Shanghai", "UTC"), at most 64 bytes. */
bool zone_is_valid(const char *zone);

/* An ICU Gregorian calendar in IANA `zone` (UTF-8), not lenient, so a wall time that does not exist
 * fails instead of rolling over. NULL for a zone zone_is_valid refuses, or when ICU fails. The caller closes it (ucal_close). */
UCalendar *zone_calendar_open(const char *zone);

/* A wall time typed in `zone`, as UTC ms into *ms_r: "YYYY-MM-DD" (its midnight; with `next_day` the
 * midnight after, so an upper bound includes its day) or "YYYY-MM-DDTHH:MM" (what an <input
 * type="datetime-local"> sends; a space for the T, as people type it). 0, or -1 for any other text, a date that does not exist
 * (2026-02-30), a year before 1970 or after 9999, or a zone ICU cannot open. */
int zone_parse_local(const char *text, const char *zone, bool next_day, int64_t *ms_r);

/* The local date of instant `utc_ms` in `zone` as "YYYY-MM-DD" into out (what an <input type="date">
 * shows): 0, or -1 for a zone ICU cannot open. */
int zone_local_date(int64_t utc_ms, const char *zone, char out[11]);

#endif
