/* Random tokens for sessions, CSRF and the API (libsodium randomness, base64url, BLAKE2b). The
 * plain token exists only in the response that hands it out and in the client's hands. */
#include "domain/secret_token.h"

#include <sodium.h>
#include <string.h>

static bool prefix_is_valid(const char *prefix, size_t len)
{
    if (len == 0 || len > TOKEN_PREFIX_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = prefix[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

int token_new(const char *prefix, char *out, size_t out_size, struct kf_err *err)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    if (plen && !prefix_is_valid(prefix, plen)) return kf_fail(err, KF_E_INVALID, "prefix", "1..16 of [a-z0-9_]");
    if (out_size < plen + TOKEN_BODY_CHARS + 1) return kf_fail(err, KF_E_INVALID, NULL, "token buffer too small");
    unsigned char raw[TOKEN_RANDOM_BYTES];
    randombytes_buf(raw, sizeof raw);
    if (plen) memcpy(out, prefix, plen);
    sodium_bin2base64(out + plen, out_size - plen, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    return 0;
}

bool token_is_well_formed(const char *token, const char *prefix)
{
    if (!token) return false;
    size_t plen = prefix ? strlen(prefix) : 0;
    if (strncmp(token, prefix ? prefix : "", plen) != 0) return false;
    const char *body = token + plen;
    if (strnlen(body, TOKEN_BODY_CHARS + 1) != TOKEN_BODY_CHARS) return false;
    unsigned char raw[TOKEN_RANDOM_BYTES];
    size_t n = 0;
    int rc = sodium_base642bin(raw, sizeof raw, body, TOKEN_BODY_CHARS, NULL, &n, NULL,
                               sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    return rc == 0 && n == TOKEN_RANDOM_BYTES;
}

void token_hash(const char *token, unsigned char out[TOKEN_HASH_BYTES])
{
    crypto_generichash(out, TOKEN_HASH_BYTES, (const unsigned char *)token, strlen(token), NULL, 0);
}

bool token_hash_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

bool token_text_equal(const char *a, const char *b)
{
    if (!a || !b) return false;
    size_t len = strlen(a);
    if (strlen(b) != len) return false;
    return sodium_memcmp(a, b, len) == 0;
}
