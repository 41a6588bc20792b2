/* IANA zones through ICU (zone.h). */
#include "core/zone.h"

#include <stdio.h>
#include <string.h>
#include <unicode/ustring.h>

bool zone_is_valid(const char *zone)
{
    if (!zone || !*zone || strlen(zone) > 64) return false;
    UChar uzone[80], canon[80];
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(uzone, 80, NULL, zone, -1, &st);
    if (U_FAILURE(st)) return false;
    UBool is_system = 0;
    ucal_getCanonicalTimeZoneID(uzone, -1, canon, 80, &is_system, &st);
    return U_SUCCESS(st) && is_system;
}

UCalendar *zone_calendar_open(const char *zone)
{
    UChar uzone[80];
    UErrorCode st = U_ZERO_ERROR;
    if (!zone_is_valid(zone)) return NULL; /* ICU would quietly open an unknown zone as GMT */
    u_strFromUTF8(uzone, 80, NULL, zone, -1, &st);
    if (U_FAILURE(st)) return NULL;
    UCalendar *uc = ucal_open(uzone, -1, "root", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) {
        if (uc) ucal_close(uc);
        return NULL;
    }
    ucal_setAttribute(uc, UCAL_LENIENT, 0);
    return uc;
}

/* n decimal digits at *p into *out, moving *p past them. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

int zone_parse_local(const char *text, const char *zone, bool next_day, int64_t *ms_r)
{
    int y, mo, d, h = 0, mi = 0;
    const char *p = text;
    if (!p || !digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d)) return -1;
    bool date_only = *p == '\0';
    if (!date_only) {
        if (*p != 'T' && *p != ' ') return -1;
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p != '\0') return -1;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return -1;
    UCalendar *uc = zone_calendar_open(zone);
    if (!uc) return -1;
    UErrorCode st = U_ZERO_ERROR;
    ucal_clear(uc);
    ucal_setDateTime(uc, y, mo - 1, d, h, mi, 0, &st);
    if (date_only && next_day) ucal_add(uc, UCAL_DATE, 1, &st);
    UDate ms = ucal_getMillis(uc, &st);
    ucal_close(uc);
    if (U_FAILURE(st)) return -1;
    *ms_r = (int64_t)ms;
    return 0;
}

int zone_local_date(int64_t utc_ms, const char *zone, char out[11])
{
    UCalendar *uc = zone_calendar_open(zone);
    if (!uc) return -1;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(uc, (UDate)utc_ms, &st);
    int y = ucal_get(uc, UCAL_YEAR, &st), m = ucal_get(uc, UCAL_MONTH, &st) + 1, d = ucal_get(uc, UCAL_DATE, &st);
    ucal_close(uc);
    if (U_FAILURE(st) || y < 0 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31) return -1;
    snprintf(out, 11, "%04d-%02d-%02d", y % 10000, m % 100, d % 100); /* in range: the modulo tells the compiler */
    return 0;
}
