/* IANA time zones, checked with ICU (never the process-wide TZ: DESIGN.md). */
#ifndef KEFU_ZONE_H
#define KEFU_ZONE_H
#include <stdbool.h>

/* True when `zone` is a system IANA zone id ICU knows ("Asia/Shanghai", "UTC"), at most 64 bytes. */
bool zone_is_valid(const char *zone);

#endif
