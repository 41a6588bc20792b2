/* Unit tests of src/domain/totp: RFC 6238 vectors, the ±1 step window, replay refusal, the
 * otpauth URI, the enrolment QR code as SVG, and recovery codes. */
#include "harness.h"

#include <qrencode.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "domain/totp.h"

/* RFC 6238 appendix B: the SHA-1 seed. */
static const unsigned char rfc_secret[] = "12345678901234567890";
#define RFC_LEN 20

static int group_setup(void **state)
{
    return sodium_init() < 0 ? -1 : 0;
}

static int64_t ms(int64_t seconds)
{
    return seconds * 1000;
}

static void rfc6238_test_vectors(void **state)
{
    static const struct {
        int64_t t;
        const char *code;
    } v[] = {{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"},
             {2000000000, "279037"}, {20000000000, "353130"}};
    struct kf_err err;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char code[TOTP_DIGITS + 1];
        assert_int_equal(totp_code_at(rfc_secret, RFC_LEN, ms(v[i].t), code, &err), 0);
        assert_string_equal(code, v[i].code);
        int64_t step = -1;
        assert_int_equal(totp_verify(rfc_secret, RFC_LEN, v[i].code, ms(v[i].t), -1, &step, &err), 0);
        assert_int_equal(step, v[i].t / 30);
    }
}

/* The code of the step `delta` steps away from the one containing `now_ms`. */
static void code_for(int64_t now_ms, int delta, char code[TOTP_DIGITS + 1])
{
    struct kf_err err;
    assert_int_equal(totp_code_at(rfc_secret, RFC_LEN, now_ms + (int64_t)delta * 30000, code, &err), 0);
}

static void one_step_either_side_is_accepted(void **state)
{
    int64_t now = ms(1700000015);
    int64_t s = totp_step_at(now);
    struct kf_err err;
    for (int d = -1; d <= 1; d++) {
        char code[TOTP_DIGITS + 1];
        code_for(now, d, code);
        int64_t step = -1;
        assert_int_equal(totp_verify(rfc_secret, RFC_LEN, code, now, -1, &step, &err), 0);
        assert_int_equal(step, s + d);
    }
}

static void two_steps_away_are_refused(void **state)
{
    int64_t now = ms(1700000015);
    struct kf_err err;
    for (int d = -2; d <= 2; d += 4) {
        char code[TOTP_DIGITS + 1];
        code_for(now, d, code);
        int64_t step = -1;
        assert_int_equal(totp_verify(rfc_secret, RFC_LEN, code, now, -1, &step, &err), KF_E_UNAUTHENTICATED);
        assert_int_equal(strncmp(err.detail, "mismatch", 8), 0);
        assert_int_equal(step, -1);
    }
    int64_t step;
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "000000", now, -1, &step, &err), KF_E_UNAUTHENTICATED);
}

/* A code works once: the caller stores the matched step; that step and earlier ones are refused. */
static void a_used_code_is_refused(void **state)
{
    int64_t now = ms(1700000015), s = totp_step_at(now), step = -1;
    struct kf_err err;
    char code[TOTP_DIGITS + 1];
    code_for(now, 0, code);
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, code, now, -1, &step, &err), 0);
    assert_int_equal(step, s);
    int64_t last_used = step;
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, code, now, last_used, &step, &err), KF_E_UNAUTHENTICATED);
    assert_int_equal(strncmp(err.detail, "replay", 6), 0);
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, code, now + 29000, last_used, &step, &err), KF_E_UNAUTHENTICATED);
    char older[TOTP_DIGITS + 1], newer[TOTP_DIGITS + 1];
    code_for(now, -1, older);
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, older, now, last_used, &step, &err), KF_E_UNAUTHENTICATED);
    code_for(now, 1, newer); /* the next step is still fresh */
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, newer, now, last_used, &step, &err), 0);
    assert_int_equal(step, s + 1);
}

static void codes_are_read_leniently_but_must_be_six_digits(void **state)
{
    struct kf_err err;
    int64_t step;
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "287 082", ms(59), -1, &step, &err), 0);
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "２８７０８２", ms(59), -1, &step, &err), 0); /* full width */
    const char *bad[] = {"28708", "2870822", "28708a", "", "287-082", "\xff\xfe", "２８７０８２３"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(totp_verify(rfc_secret, RFC_LEN, bad[i], ms(59), -1, &step, &err), KF_E_INVALID);
        assert_string_equal(err.field, "code");
    }
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, NULL, ms(59), -1, &step, &err), KF_E_INVALID);
    assert_int_equal(totp_verify(rfc_secret, RFC_LEN, "287082", -1, -1, &step, &err), KF_E_INVALID);
}

static void secrets_are_random_and_base32_encoded(void **state)
{
    unsigned char a[TOTP_SECRET_BYTES], b[TOTP_SECRET_BYTES];
    totp_secret_new(a);
    totp_secret_new(b);
    assert_memory_not_equal(a, b, sizeof a);
    char b32[TOTP_BASE32_MAX];
    struct kf_err err;
    assert_int_equal(totp_secret_base32(rfc_secret, RFC_LEN, b32, sizeof b32, &err), 0);
    assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_int_equal(totp_secret_base32(a, 10, b32, sizeof b32, &err), 0);
    assert_int_equal(strlen(b32), 16);
    assert_int_equal(totp_secret_base32(a, 11, b32, sizeof b32, &err), 0);
    assert_null(strchr(b32, '=')); /* unpadded */
    assert_int_equal(totp_secret_base32(a, sizeof a, b32, 32, &err), KF_E_INVALID); /* no room for NUL */
}

static void the_otpauth_uri_escapes_the_account(void **state)
{
    struct buf b;
    buf_init(&b, 4096);
    struct kf_err err;
    assert_int_equal(totp_uri("Zhang Wei 张伟", rfc_secret, RFC_LEN, &b, &err), 0);
    assert_string_equal(b.data, "otpauth://totp/kefu:Zhang%20Wei%20%E5%BC%A0%E4%BC%9F"
                                "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=kefu&algorithm=SHA1&digits=6&period=30");
    /* an account cannot add or change parameters */
    assert_int_equal(totp_uri("a&secret=X?issuer=evil#:/", rfc_secret, RFC_LEN, &b, &err), 0);
    assert_string_equal(b.data, "otpauth://totp/kefu:a%26secret%3DX%3Fissuer%3Devil%23%3A%2F"
                                "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=kefu&algorithm=SHA1&digits=6&period=30");
    assert_int_equal(totp_uri("wang.wei_01-x~", rfc_secret, RFC_LEN, &b, &err), 0);
    assert_non_null(strstr(b.data, "kefu:wang.wei_01-x~?"));
    assert_int_equal(totp_uri("bad\xff", rfc_secret, RFC_LEN, &b, &err), KF_E_INVALID);
    assert_int_equal(totp_uri("", rfc_secret, RFC_LEN, &b, &err), KF_E_INVALID);
    buf_free(&b);
}

/* Only the characters of the fixed markup and of numbers may appear. */
static bool svg_chars_expected(const char *s)
{
    for (; *s; s++) {
        if (!strchr("<>/=\"#:. -0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", *s)) return false;
    }
    return true;
}

/* Redraws the path's runs ("M x y h n v1 h-n z") into a size × size bitmap; false if malformed. */
static bool svg_redraw(const char *svg, int size, unsigned char *bits)
{
    const char *p = strstr(svg, " d=\"");
    if (!p) return false;
    p += 4;
    while (*p == 'M') {
        int x, y, n, back, used = 0;
        if (sscanf(p, "M%d %dh%dv1h-%dz%n", &x, &y, &n, &back, &used) != 4 || used == 0 || n != back) return false;
        if (x < 0 || y < 0 || n < 1 || x + n > size || y >= size) return false;
        memset(bits + y * size + x, 1, (size_t)n);
        p += used;
    }
    return strcmp(p, "\"/></svg>") == 0;
}

static void the_qr_code_is_well_formed_svg(void **state)
{
    struct buf uri, svg;
    buf_init(&uri, 4096);
    buf_init(&svg, TOTP_QR_SVG_MAX);
    struct kf_err err;
    assert_int_equal(totp_uri("张伟", rfc_secret, RFC_LEN, &uri, &err), 0);
    assert_int_equal(totp_qr_svg(uri.data, &svg, &err), 0);
    assert_int_equal(strncmp(svg.data, "<svg", 4), 0);
    assert_true(svg.len > 6 && strcmp(svg.data + svg.len - 6, "</svg>") == 0);
    assert_true(svg_chars_expected(svg.data));
    /* the path draws exactly the symbol's dark modules, inside a 4-module quiet zone */
    QRcode *qr = QRcode_encodeString(uri.data, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    int size = qr->width + 8;
    char viewbox[64];
    snprintf(viewbox, sizeof viewbox, "viewBox=\"0 0 %d %d\"", size, size);
    assert_non_null(strstr(svg.data, viewbox));
    unsigned char *bits = calloc((size_t)(size * size), 1);
    assert_true(svg_redraw(svg.data, size, bits));
    for (int y = 0; y < size; y++) {
        for (int x = 0; x < size; x++) {
            bool inside = x >= 4 && y >= 4 && x < size - 4 && y < size - 4;
            int want = inside ? qr->data[(y - 4) * qr->width + (x - 4)] & 1 : 0;
            if (bits[y * size + x] != want) fail_msg("module (%d,%d) is %d, want %d", x, y, bits[y * size + x], want);
        }
    }
    free(bits);
    QRcode_free(qr);
    buf_free(&uri);
    buf_free(&svg);
}

static void text_never_reaches_the_svg(void **state)
{
    struct buf svg;
    buf_init(&svg, TOTP_QR_SVG_MAX);
    struct kf_err err;
    assert_int_equal(totp_qr_svg("\"/><script>alert(1)</script>", &svg, &err), 0);
    assert_null(strstr(svg.data, "script"));
    assert_true(svg_chars_expected(svg.data));
    char *huge = malloc(4001);
    memset(huge, 'x', 4000);
    huge[4000] = '\0';
    assert_int_equal(totp_qr_svg(huge, &svg, &err), KF_E_INVALID); /* beyond QR capacity */
    free(huge);
    assert_int_equal(totp_qr_svg("", &svg, &err), KF_E_INVALID);
    struct buf small;
    buf_init(&small, 200);
    assert_int_equal(totp_qr_svg("hello", &small, &err), KF_E_TOO_LARGE);
    buf_free(&small);
    buf_free(&svg);
}

static void recovery_codes_are_distinct_and_unambiguous(void **state)
{
    int seen[128] = {0};
    for (int round = 0; round < 100; round++) {
        char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_TEXT];
        recovery_codes_new(codes);
        for (int i = 0; i < RECOVERY_CODE_COUNT; i++) {
            assert_int_equal(strlen(codes[i]), 11);
            assert_int_equal(codes[i][5], '-');
            for (int k = 0; k < 11; k++) {
                if (k == 5) continue;
                char c = codes[i][k];
                assert_non_null(strchr(RECOVERY_ALPHABET, c));
                assert_null(strchr("0oO1lLiI", c));
                seen[(unsigned char)c]++;
            }
            for (int j = 0; j < i; j++) assert_string_not_equal(codes[i], codes[j]);
        }
    }
    for (const char *a = RECOVERY_ALPHABET; *a; a++) assert_true(seen[(unsigned char)*a] > 0); /* whole alphabet used */
}

static const unsigned char key[RECOVERY_KEY_BYTES] = "0123456789abcdef0123456789abcde";

static void recovery_code_forms_hash_alike(void **state)
{
    unsigned char h1[RECOVERY_HASH_BYTES], h2[RECOVERY_HASH_BYTES];
    struct kf_err err;
    assert_int_equal(recovery_code_hash(key, 42, "abcde-fghjk", h1, &err), 0);
    const char *same[] = {"ABCDE FGHJK", "abcdefghjk", " abcde - fghjk ", "ＡＢＣＤＥ－ＦＧＨＪＫ"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        assert_int_equal(recovery_code_hash(key, 42, same[i], h2, &err), 0);
        assert_memory_equal(h1, h2, sizeof h1);
    }
    assert_int_equal(recovery_code_hash(key, 43, "abcde-fghjk", h2, &err), 0);
    assert_memory_not_equal(h1, h2, sizeof h1); /* bound to the user */
    unsigned char other_key[RECOVERY_KEY_BYTES] = {1};
    assert_int_equal(recovery_code_hash(other_key, 42, "abcde-fghjk", h2, &err), 0);
    assert_memory_not_equal(h1, h2, sizeof h1); /* bound to the server key */
    const char *bad[] = {"abcde-fghj", "abcde-fghjkm", "abcde-fghj0", "abcde-fghjl", "abcde_fghjk", "", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(recovery_code_hash(key, 42, bad[i], h2, &err), KF_E_INVALID);
    }
}

static void a_recovery_code_verifies_once(void **state)
{
    char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_TEXT];
    unsigned char stored[RECOVERY_CODE_COUNT][RECOVERY_HASH_BYTES];
    struct kf_err err;
    recovery_codes_new(codes);
    for (int i = 0; i < RECOVERY_CODE_COUNT; i++) assert_int_equal(recovery_code_hash(key, 7, codes[i], stored[i], &err), 0);
    char typed[32];
    snprintf(typed, sizeof typed, "%.5s %.5s", codes[3], codes[3] + 6);
    for (char *p = typed; *p; p++) *p = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p); /* upper case */
    size_t index = 99;
    assert_int_equal(recovery_code_verify(key, 7, typed, (const unsigned char (*)[RECOVERY_HASH_BYTES])stored,
                                          RECOVERY_CODE_COUNT, &index, &err), 0);
    assert_int_equal(index, 3);
    /* the caller deletes the used hash; the same code then fails */
    memmove(stored[3], stored[9], RECOVERY_HASH_BYTES);
    assert_int_equal(recovery_code_verify(key, 7, typed, (const unsigned char (*)[RECOVERY_HASH_BYTES])stored,
                                          RECOVERY_CODE_COUNT - 1, &index, &err), KF_E_UNAUTHENTICATED);
    assert_int_equal(recovery_code_verify(key, 8, codes[4], (const unsigned char (*)[RECOVERY_HASH_BYTES])stored,
                                          RECOVERY_CODE_COUNT - 1, &index, &err), KF_E_UNAUTHENTICATED);
    assert_int_equal(recovery_code_verify(key, 7, "not a code", (const unsigned char (*)[RECOVERY_HASH_BYTES])stored,
                                          RECOVERY_CODE_COUNT - 1, &index, &err), KF_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc6238_test_vectors),
        cmocka_unit_test(one_step_either_side_is_accepted),
        cmocka_unit_test(two_steps_away_are_refused),
        cmocka_unit_test(a_used_code_is_refused),
        cmocka_unit_test(codes_are_read_leniently_but_must_be_six_digits),
        cmocka_unit_test(secrets_are_random_and_base32_encoded),
        cmocka_unit_test(the_otpauth_uri_escapes_the_account),
        cmocka_unit_test(the_qr_code_is_well_formed_svg),
        cmocka_unit_test(text_never_reaches_the_svg),
        cmocka_unit_test(recovery_codes_are_distinct_and_unambiguous),
        cmocka_unit_test(recovery_code_forms_hash_alike),
        cmocka_unit_test(a_recovery_code_verifies_once),
    };
    return cmocka_run_group_tests_name("totp", tests, group_setup, NULL);
}
