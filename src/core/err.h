/* One error enum for all of kefu (the curl model): every code has a stable name, an HTTP status,
 * a message in both languages and an entry in docs/errors.md. Codes are append-only: never
 * renumber or reuse one. Functions return 0 or a negative KF_E_* code and fill a struct kf_err. */
#ifndef KEFU_ERR_H
#define KEFU_ERR_H

enum kf_code {
    KF_OK = 0,
    KF_E_INTERNAL = -1,
    KF_E_NOMEM = -2,
    KF_E_STORAGE = -3,
    KF_E_INVALID = -4,
    KF_E_NOT_FOUND = -5,
    KF_E_FORBIDDEN = -6,
    KF_E_CONFLICT = -7,
    KF_E_BAD_REQUEST = -8,
    KF_E_BAD_JSON = -9,
    KF_E_MEDIA_TYPE = -10,
    KF_E_TOO_LARGE = -11,
    KF_E_URI_TOO_LONG = -12,
    KF_E_METHOD = -13,
    KF_E_UNAUTHENTICATED = -14,
    KF_E_UNAVAILABLE = -15,
    KF_E_RATE_LIMITED = -16,
    KF_E_CONFIG = -17,
    KF_E_UNSAFE_STORAGE = -18,
    KF_E_IO = -19,
    KF_E_MIGRATION = -20,
    KF_E_BUSY = -21,
    KF_E_FILE_TYPE = -22,
    KF_E_LIMIT = -23,
    KF_E_TEMPLATE = -24,
    KF_E__LAST = -25 /* keep last; not a code */
};

/* What went wrong, for the caller to show: `field` names the input at fault (may be NULL),
 * `detail` is an optional English detail for logs and API users (never personal data). */
struct kf_err {
    int code;
    const char *field;
    char detail[160];
};

struct kf_code_info {
    int code;
    const char *name;        /* stable machine name, e.g. "not_found" */
    int http_status;
    const char *message_en;
    const char *message_zh;
};

/* Returns the table entry of `code`; unknown codes map to KF_E_INTERNAL's entry. */
const struct kf_code_info *kf_code_info(int code);

/* Sets `err` (if not NULL) and returns `code`, so callers can write `return kf_fail(err, …)`.
 * `detail_fmt` may be NULL. */
int kf_fail(struct kf_err *err, int code, const char *field, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Clears `err` to "no error". */
void kf_err_clear(struct kf_err *err);

#endif
