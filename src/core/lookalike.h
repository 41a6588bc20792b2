/* User names that look alike are one name: `admin`, `Admin`, `ＡＤＭＩＮ` and `аdmin` (Cyrillic а)
 * share a skeleton (UTS #39 via ICU uspoof, after NFKC and case folding via utf8proc), and the users
 * table keeps it in a unique column. username_check holds the rules for a new name. */
#ifndef KEFU_LOOKALIKE_H
#define KEFU_LOOKALIKE_H
#include "core/buf.h"
#include "core/err.h"

#define USERNAME_MIN_CHARS 2
#define USERNAME_MAX_CHARS 64
#define LOOKALIKE_INPUT_MAX 1024 /* bytes; longer input is refused before any work */

/* Replaces the content of `out` with the skeleton key of `name` (valid UTF-8, NUL-terminated):
 * NFKC_Casefold(skeleton(NFKC_Casefold(name))). Case folding before the skeleton makes `Admin`
 * and `admin` one key; folding after it also makes `0` (skeleton O) and `o` one. The key is for
 * comparison only: never show it. KF_E_INVALID (field "user_name") on invalid or over-long input,
 * KF_E_TOO_LARGE when `out` cannot hold the key, KF_E_INTERNAL if ICU fails. Thread-safe. */
int lookalike_skeleton(const char *name, struct buf *out, struct kf_err *err);

/* Judges a new user name. Returns 0, or KF_E_INVALID with field "user_name" and a detail that
 * starts with a stable reason key:
 *   not_utf8, too_short, too_long (2..64 code points), bad_char (only letters — Han included —,
 *   digits, combining marks after a letter, and . _ - @; no spaces or controls),
 *   mixed_script (ICU restriction level "highly restrictive": Latin may join Han, kana or
 *   Hangul, but not Cyrillic or Greek, so `pаypal` is refused), invisible, mixed_numbers.
 * The character rules run on the NFKC form, so a full-width ＠ or ＡＤＭＩＮ typed with an IME is fine.
 * Thread-safe. */
int username_check(const char *name, struct kf_err *err);

/* Closes the shared ICU checker (the next call reopens it). Only when no other thread uses this
 * module: at exit, so leak checkers see everything freed (then u_cleanup() releases ICU's caches). */
void lookalike_shutdown(void);

#endif
