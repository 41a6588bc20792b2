/* Small text helpers shared by the HTTP layer and the domain: UTF-8 validation, percent-decoding,
 * strict number parsing, tokens. */
#ifndef KEFU_TEXT_H
#define KEFU_TEXT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF) and has no NUL. */
bool text_is_utf8(const char *s, size_t len);

/* Decodes %XX escapes (and '+' as space when `plus_is_space`) from s[0..len) into out, which must
 * hold len+1 bytes. Returns the decoded length, or -1 on a malformed escape. The result may hold
 * NUL bytes: check with text_is_utf8. */
long text_percent_decode(const char *s, size_t len, char *out, bool plus_is_space);

/* True when s is 1..max bytes of A-Z a-z 0-9 '-' '_' (an idempotency key, a token in a URL). */
bool text_is_token(const char *s, size_t max);

/* Parses a whole decimal int64 (optional leading '-'); returns 0 or KF_E_INVALID. */
int text_parse_int64(const char *s, int64_t *v_r);

#endif
