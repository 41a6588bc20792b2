/* Formatting of times and money for people: UTC milliseconds shown in the viewer's IANA zone
 * through ICU (never the process-wide TZ), and int64 fen as yuan with grouping or in 大写 capitals.
 * Every function writes a NUL-terminated string into a caller's buffer and is thread-safe. */
#ifndef KEFU_RENDER_FORMAT_H
#define KEFU_RENDER_FORMAT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* The zone used when the viewer and the agreement name none (DESIGN.md). */
#define FORMAT_DEFAULT_ZONE "Asia/Shanghai"

/* Room for any string these functions produce. */
#define FORMAT_MAX 256

/* Formats `utc_ms` in `zone` (IANA id; NULL: FORMAT_DEFAULT_ZONE) for `locale` ("zh-CN" or "en";
 * anything else: zh-CN). With `with_time`: zh-CN "2026年11月24日 14:05", en "24 Nov 2026 14:05";
 * without: "2026年11月24日", "24 Nov 2026". 24-hour clock, Gregorian calendar, no seconds.
 * Returns 0, KF_E_INVALID (unknown zone; field "zone") or KF_E_INTERNAL (ICU failed). */
int format_datetime(char *out, size_t cap, int64_t utc_ms, const char *zone, const char *locale,
    bool with_time, struct kf_err *err);

/* True when `zone` is an IANA zone id ICU knows (e.g. "Asia/Shanghai", "UTC"). */
bool format_zone_is_valid(const char *zone);

/* Formats `fen` as yuan with thousands separators and two decimals: zh-CN "¥12,345.67",
 * en "CN¥12,345.67"; negative amounts as "-¥12.30". Exact for every int64, INT64_MIN included.
 * Returns 0 or KF_E_TOO_LARGE when `cap` is too small. */
int format_money(char *out, size_t cap, int64_t fen, const char *locale);

/* Writes `fen` in Chinese financial capitals (大写) as on receipts and cheques, without the
 * "人民币" prefix: 12345.67 → 壹万贰仟叁佰肆拾伍元陆角柒分, 100 → 壹佰元整, 1005 → 壹仟零伍元整,
 * 0.05 → 伍分, 0.50 → 伍角整, 0 → 零元整, 10 → 壹拾元整; negative amounts start with 负.
 * Returns 0 or KF_E_TOO_LARGE when `cap` is too small. */
int format_money_daxie(char *out, size_t cap, int64_t fen);

#endif
