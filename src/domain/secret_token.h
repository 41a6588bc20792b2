/* Random secrets handed to clients: session ids, CSRF tokens, API tokens. 32 random bytes as
 * URL-safe base64 without padding, optionally after a readable prefix ("kf_" for API tokens, so
 * secret scanners and people recognise them). The database keeps only token_hash() of each. */
#ifndef KEFU_SECRET_TOKEN_H
#define KEFU_SECRET_TOKEN_H
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define TOKEN_RANDOM_BYTES 32
#define TOKEN_BODY_CHARS 43                                   /* base64url of 32 bytes, unpadded */
#define TOKEN_PREFIX_MAX 16
#define TOKEN_TEXT_MAX (TOKEN_PREFIX_MAX + TOKEN_BODY_CHARS + 1) /* with the NUL */
#define TOKEN_HASH_BYTES 32
#define TOKEN_PREFIX_API "kf_"

/* Writes prefix (NULL or "": none) followed by 43 characters of fresh randomness, NUL-terminated,
 * into out[out_size]. The prefix is 1..16 of [a-z0-9_]. KF_E_INVALID on a bad prefix or a
 * too-small buffer (out_size ≥ TOKEN_TEXT_MAX always suffices). */
int token_new(const char *prefix, char *out, size_t out_size, struct kf_err *err);

/* True when `token` is `prefix` (NULL: none) followed by exactly 43 base64url characters that
 * decode to 32 bytes. Check this before hashing input, to answer garbage without a look-up. */
bool token_is_well_formed(const char *token, const char *prefix);

/* The storage and look-up key of a token: BLAKE2b-256 of the whole text, prefix included.
 * A fast unsalted hash is right here, unlike for passwords: 256 random bits cannot be guessed
 * offline however fast the hash, and being deterministic it can be an indexed column, so each
 * request finds its session with one look-up. A stolen table gives no usable token. */
void token_hash(const char *token, unsigned char out[TOKEN_HASH_BYTES]);

/* Constant-time comparison of two hashes (or any two n-byte secrets). */
bool token_hash_equal(const unsigned char *a, const unsigned char *b, size_t n);

/* Constant-time comparison of two token texts, e.g. a CSRF form field against the cookie. Only
 * the lengths (not secret: every token of a kind has the same length) may leak through timing.
 * NULL equals nothing. */
bool token_text_equal(const char *a, const char *b);

#endif
