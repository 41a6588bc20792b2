/* The second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30 s, as authenticator apps expect) via
 * liboath, the otpauth:// enrolment URI and its QR code as SVG (libqrencode), and one-time
 * recovery codes. Pure functions: the caller stores the secret (encrypted), the last used step
 * and the recovery-code hashes, and takes time from the injected clock. */
#ifndef KEFU_TOTP_H
#define KEFU_TOTP_H
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define TOTP_SECRET_BYTES 20  /* 160 bits, RFC 4226's recommendation for HMAC-SHA-1 */
#define TOTP_DIGITS 6
#define TOTP_PERIOD_S 30
#define TOTP_WINDOW 1         /* steps accepted either side of now (clock drift, slow typing) */
#define TOTP_ISSUER "kefu"
#define TOTP_BASE32_MAX 64    /* buffer for the base32 of a secret, NUL included */
#define TOTP_QR_SVG_MAX (512 * 1024) /* a sufficient maximum for the buf given to totp_qr_svg */

/* Fills `secret` with fresh random bytes (libsodium). */
void totp_secret_new(unsigned char secret[TOTP_SECRET_BYTES]);

/* RFC 4648 base32 of the secret without '=' padding (what authenticator apps take), NUL-terminated.
 * KF_E_INVALID when out_size is too small or len is 0 or over 64. */
int totp_secret_base32(const unsigned char *secret, size_t len, char *out, size_t out_size, struct kf_err *err);

/* Replaces the content of `out` with
 *   otpauth://totp/kefu:ACCOUNT?secret=BASE32&issuer=kefu&algorithm=SHA1&digits=6&period=30
 * where ACCOUNT is `account` (valid UTF-8) percent-encoded byte by byte except RFC 3986's
 * unreserved characters (so spaces are %20 and 张 is %E5%BC%A0). */
int totp_uri(const char *account, const unsigned char *secret, size_t len, struct buf *out, struct kf_err *err);

/* The time step (RFC 6238 T) that contains now_ms: floor(now_ms / 1000 / 30). now_ms ≥ 0. */
int64_t totp_step_at(int64_t now_ms);

/* The 6-digit code for the step containing now_ms, NUL-terminated (for tests and tools). */
int totp_code_at(const unsigned char *secret, size_t len, int64_t now_ms, char out[TOTP_DIGITS + 1],
                 struct kf_err *err);

/* Checks `code` (6 ASCII digits; spaces are ignored, so "287 082" as apps show it works) against
 * the steps now-1, now, now+1. A match on a step ≤ last_used_step is refused: each code works
 * once. On success returns 0 and the matched step in *step_r — store it as the new last used step
 * in the same transaction that accepts the login, conditionally (… WHERE last_step < $step), so
 * two requests racing with one code cannot both win. Pass -1 when no code was ever used.
 * Errors: KF_E_INVALID (field "code") for a malformed code; KF_E_UNAUTHENTICATED with detail
 * "mismatch: …" or "replay: …" (for the audit trail; tell the user the same either way). */
int totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now_ms, int64_t last_used_step,
                int64_t *step_r, struct kf_err *err);

/* Replaces the content of `out` with an SVG image of the QR code of `text` (error correction M,
 * 4-module quiet zone): one white <rect> and one black <path> built only from the symbol's bits,
 * so no part of `text` appears in the markup. Size it in CSS; it declares width and height of
 * 4 px per module. KF_E_INVALID when text is empty or too long for a QR code. */
int totp_qr_svg(const char *text, struct buf *out, struct kf_err *err);

/* ---- recovery codes ---- */

#define RECOVERY_CODE_COUNT 10
#define RECOVERY_CODE_CHARS 10                 /* characters of entropy per code */
#define RECOVERY_CODE_TEXT 12                  /* "abcde-fghjk" and the NUL */
#define RECOVERY_ALPHABET "abcdefghjkmnpqrstuvwxyz23456789" /* no 0 o O 1 l i I */
#define RECOVERY_KEY_BYTES 32
#define RECOVERY_HASH_BYTES 32

/* Fills `codes` with RECOVERY_CODE_COUNT distinct fresh codes like "abcde-fghjk", 10 characters
 * of RECOVERY_ALPHABET (31 letters: log2(31^10) ≈ 49.5 bits each). Show them once; store hashes. */
void recovery_codes_new(char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_TEXT]);

/* The stored form of a code: keyed BLAKE2b-256 (key: a server secret, e.g. a vault sub-key, never
 * stored beside the hashes) over a version tag, user_id and the normalised code. Why not argon2:
 * verifying tries every stored code, ten argon2 runs per attempt would let anyone tie up memory
 * and CPU; why keyed: 49.5 bits could be brute-forced offline from a stolen table with a plain
 * fast hash, but not without the key. The user id makes equal codes of two users hash apart.
 * Normalises as recovery_code_verify; KF_E_INVALID (field "code") if the code is malformed. */
int recovery_code_hash(const unsigned char key[RECOVERY_KEY_BYTES], int64_t user_id, const char *code,
                       unsigned char out[RECOVERY_HASH_BYTES], struct kf_err *err);

/* Checks `input` against the user's `n` unused stored hashes, comparing each in constant time.
 * Input is normalised first: NFKC (full-width forms), lower case, and spaces and dashes dropped,
 * so "ABCDE FGHJK" matches "abcde-fghjk". On success returns 0 and the index of the matched hash in
 * *index_r: the caller deletes that one (one-time use) in the same transaction. KF_E_INVALID
 * (field "code") when malformed; KF_E_UNAUTHENTICATED when no stored code matches. */
int recovery_code_verify(const unsigned char key[RECOVERY_KEY_BYTES], int64_t user_id, const char *input,
                         const unsigned char (*stored)[RECOVERY_HASH_BYTES], size_t n, size_t *index_r,
                         struct kf_err *err);

#endif
