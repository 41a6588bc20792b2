/* Money as people type it: yuan with up to two decimals ("8000", "8,000.00", "0.5") parsed to int64
 * fen without floating point (DESIGN.md "Money"). Formatting for people is render/format.h's. */
#ifndef KEFU_MONEY_H
#define KEFU_MONEY_H
#include <stdint.h>

#include "core/err.h"

#define MONEY_YUAN_DIGITS_MAX 15   /* digits before the point: up to 999,999,999,999,999 yuan */

/* Parses `s` — optional spaces around, an optional leading "¥" or "￥", digits (',' allowed between
 * them as a group separator), optionally '.' and one or two digits — into *fen_r. A sign, any other
 * character, nothing to parse, three decimals or more than MONEY_YUAN_DIGITS_MAX digits is
 * KF_E_INVALID (err->field `field`, may be NULL); *fen_r is then unchanged. */
int money_parse_yuan(const char *s, const char *field, int64_t *fen_r, struct kf_err *err);

#endif
