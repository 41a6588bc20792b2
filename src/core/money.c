/* money_parse_yuan (money.h): a small state machine over the bytes, integers only, so "0.10" is
 * exactly 10 fen and no amount is ever rounded. */
#include "core/money.h"

#include <string.h>

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

int money_parse_yuan(const char *s, const char *field, int64_t *fen_r, struct kf_err *err)
{
    if (!s) return kf_fail(err, KF_E_INVALID, field, "an amount in yuan is required");
    const char *p = skip_spaces(s);
    /* the yuan sign, half-width (U+00A5) or full-width (U+FFE5) */
    if (strncmp(p, "\xc2\xa5", 2) == 0) p = skip_spaces(p + 2);
    else if (strncmp(p, "\xef\xbf\xa5", 3) == 0) p = skip_spaces(p + 3);
    int64_t yuan = 0;
    int digits = 0, decimals = 0, fen = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > MONEY_YUAN_DIGITS_MAX) break;
        yuan = yuan * 10 + (*p - '0');
        /* a group separator only between digits */
        if (p[1] == ',' && p[2] >= '0' && p[2] <= '9') p++;
    }
    if (digits == 0 || digits > MONEY_YUAN_DIGITS_MAX)
        return kf_fail(err, KF_E_INVALID, field, "an amount in yuan such as 8000.00 (at most %d digits)",
                       MONEY_YUAN_DIGITS_MAX);
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++decimals > 2) break;
            fen = fen * 10 + (*p - '0');
        }
        if (decimals == 0 || decimals > 2)
            return kf_fail(err, KF_E_INVALID, field, "at most two decimals (fen)");
        if (decimals == 1) fen *= 10;
    }
    p = skip_spaces(p);
    if (*p) return kf_fail(err, KF_E_INVALID, field, "an amount in yuan such as 8000.00, without a sign");
    *fen_r = yuan * 100 + fen;
    return 0;
}
