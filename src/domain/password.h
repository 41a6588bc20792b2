/* Passwords: argon2id hashing (libsodium), verification, rehash-on-login, and the strength rules
 * of issue 3 (length, not the user name, not a password common in China, cracklib). Pure
 * functions: no database; the users module stores the hash string these return. */
#ifndef KEFU_PASSWORD_H
#define KEFU_PASSWORD_H
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define PASSWORD_MIN_CHARS 8       /* code points, after NFKC */
#define PASSWORD_MAX_CHARS 128     /* code points, after NFKC: 128 Han characters fit too */
#define PASSWORD_MAX_BYTES 512     /* raw input; bounds the work done on any input */
#define PASSWORD_MIN_DIGITS_ONLY 16 /* a password of digits only (dates, phone and QQ numbers) */
#define PASSWORD_MIN_DISTINCT 5    /* different code points (refuses 12121212, 我爱你我爱你我爱你) */
#define PASSWORD_HASH_BYTES crypto_pwhash_STRBYTES

struct password_params {
    unsigned long long opslimit; /* ≥ crypto_pwhash_OPSLIMIT_INTERACTIVE */
    size_t memlimit;             /* bytes, ≥ crypto_pwhash_MEMLIMIT_INTERACTIVE */
    unsigned max_parallel;       /* hashes running at once (each takes memlimit bytes); ≥ 1 */
};

/* Checks that the cracklib dictionary and the embedded list of common passwords are usable, so
 * `kefu serve` can refuse to start without them (KF_E_CONFIG). Thread-safe; cheap after the first call. */
int password_init(struct kf_err *err);

/* The parameters in force: by default OPSLIMIT_INTERACTIVE, MEMLIMIT_INTERACTIVE, 4 in parallel. */
struct password_params password_params_get(void);

/* Sets the parameters for password_hash and password_needs_rehash. Refuses limits below the
 * INTERACTIVE ones (KF_E_CONFIG). Call at start-up, before any thread hashes. */
int password_configure(const struct password_params *p, struct kf_err *err);

/* Hashes `plain` (NFKC-normalised first, so full-width and composed forms typed on another
 * device still match) into `out`, a NUL-terminated "$argon2id$…" string with its own random
 * salt. Takes memlimit bytes and ~0.1 s: call outside the writer. Waits for a free slot among
 * max_parallel; KF_E_BUSY after 10 s, KF_E_NOMEM if libsodium cannot allocate, KF_E_INVALID
 * when `plain` is not UTF-8 or longer than PASSWORD_MAX_BYTES. Does not judge strength. */
int password_hash(const char *plain, char out[PASSWORD_HASH_BYTES], struct kf_err *err);

/* Returns 0 when `plain` matches `hash` (any argon2 parameters), KF_E_UNAUTHENTICATED when it
 * does not or `hash` is malformed, KF_E_BUSY as password_hash. Constant time in the comparison. */
int password_verify(const char *hash, const char *plain, struct kf_err *err);

/* True when `hash` was made with other parameters than those in force (or is not argon2id):
 * after a successful login, hash the password again and store the new hash. */
bool password_needs_rehash(const char *hash);

/* Judges a new password for `user_name` (may be NULL). Returns 0, or KF_E_INVALID with field
 * "password" and a detail that starts with a stable reason key, then an English explanation:
 *   not_utf8, control_char, too_short, too_long, user_name, common, digits_only, few_distinct,
 *   dictionary (cracklib's own words follow)
 * e.g. "common: a commonly used password". KF_E_CONFIG when the dictionary is missing. */
int password_check_strength(const char *plain, const char *user_name, struct kf_err *err);

/* True when `plain` (case-insensitively, and with digits and punctuation around a base word
 * stripped) is on the embedded list of passwords common in China. */
bool password_is_common(const char *plain);

#endif
