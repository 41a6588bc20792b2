/* IANA zone ids through ICU's canonical-id look-up (zone.h). */
#include "core/zone.h"

#include <string.h>
#include <unicode/ucal.h>
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
