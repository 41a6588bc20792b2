/* Normalised keys for search and comparison (DESIGN.md "Text"): NFKC with case folding, so
 * full-width and half-width forms, ligatures and letter case compare equal — while stored text
 * stays exactly as entered. Also phone, e-mail and name keys, and a code-point iterator.
 *
 * Every function appends to a caller's bounded `struct buf` (so a caller can reuse one buffer for
 * many values) and returns 0, KF_E_INVALID (not well-formed UTF-8, or a NUL), KF_E_TOO_LARGE (the
 * buffer's maximum) or KF_E_NOMEM; on error the buffer holds what it held before the call. */
#ifndef KEFU_NORMALIZE_H
#define KEFU_NORMALIZE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* NFKC + case folding (utf8proc: COMPAT | COMPOSE | CASEFOLD | STABLE) of s[0..len).
 * `ＡＢＣ１２３` → `abc123`, `Straße` → `strasse`, `㍿` → `株式会社`. ASCII takes a fast path. */
int normalize_text(const char *s, size_t len, struct buf *out);

/* normalize_text, then every run of white space becomes one U+0020 and both ends are trimmed:
 * `  张　伟 ` → `张 伟`, `John\t SMITH` → `john smith`. */
int normalize_name(const char *s, size_t len, struct buf *out);

/* normalize_text with white space trimmed at both ends: ` Wei@Example.COM ` → `wei@example.com`.
 * No further rewriting (dots and `+tags` stay: they are significant to some providers). */
int normalize_email(const char *s, size_t len, struct buf *out);

/* The digits of a phone number after NFKC (so full-width digits count), without a leading
 * country code +86 / 0086 (`+86 138 0013 8000`, `138-0013-8000` → `13800138000`). After a
 * dropped country code a landline number gets its domestic trunk prefix back
 * (`+86 10 1234 5678` → `01012345678`, as dialled inside China); mobile numbers (11 digits
 * starting with 1) do not. Other country codes are kept as digits. May append nothing. */
int normalize_phone(const char *s, size_t len, struct buf *out);

/* Decodes the code point at s[*pos] and moves *pos past it. Returns the code point, or -1 at the
 * end of s[0..len) or on a malformed sequence (then *pos moves one byte, so loops terminate). */
/* NFKC of a valid NUL-terminated UTF-8 string; with `fold` also case folding and removal of
 * default-ignorable code points (soft hyphen, zero-width joiner …). Returns a malloc'd string
 * (free() it), or NULL on invalid input or no memory. For keys that are compared, not shown. */
char *normalize_nfkc_dup(const char *s, bool fold);

int32_t normalize_next_cp(const char *s, size_t len, size_t *pos);

/* True for Unicode white space (Zs, Zl, Zp, and TAB, LF, VT, FF, CR, NEL). */
bool normalize_is_space(int32_t cp);

#endif
