/* Login throttling (issue: "at most 100 failures per hour per account; growing delays"): failed
 * logins are counted per key — an account or a source address — in a one-hour window, inside the
 * caller's write transaction, so a login attempt, its count and its audit record commit together. */
#ifndef KEFU_THROTTLE_H
#define KEFU_THROTTLE_H
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct store_conn;

#define THROTTLE_KEY_MAX 300          /* bytes of a key, with its NUL */
#define THROTTLE_WINDOW_MS (60LL * 60 * 1000)

/* The rule for one kind of key. After `free_failures` failures in the window every further failure
 * makes the key wait base_delay_ms × 2^(failures − free_failures), at most max_delay_ms; at
 * `max_failures` the key is blocked until its window ends. */
struct throttle_rule {
    int64_t free_failures;
    int64_t base_delay_ms;
    int64_t max_delay_ms;
    int64_t max_failures;
    int64_t window_ms;
};

/* Accounts: delays after 5 failures (1 s, 2 s, 4 s … at most 15 min), blocked at 100 an hour. */
extern const struct throttle_rule throttle_rule_account;
/* Source addresses: many people may share one (an office NAT), so delays start after 50 failures,
 * grow to at most 1 min, and the block comes at 1000 an hour. */
extern const struct throttle_rule throttle_rule_address;

/* The key of an account: "acct:" + its look-alike key (lookalike_skeleton), so `admin` and `ＡＤＭＩＮ`
 * share one count. KF_E_INVALID when empty or too long for out[THROTTLE_KEY_MAX]. */
int throttle_key_account(const char *lookalike_key, char out[THROTTLE_KEY_MAX], struct kf_err *err);

/* The key of a source address: "addr:" + the address; an IPv6 address is cut to its /64, which one
 * subscriber usually holds whole (else every guess could come from a new address). Text that is
 * not an IP address is used as it is. */
int throttle_key_address(const char *addr, char out[THROTTLE_KEY_MAX], struct kf_err *err);

/* May `key` try now? 0 when yes; KF_E_RATE_LIMITED with *retry_after_ms_r (> 0) when it must wait.
 * Reads only: runs on a read connection or inside a write. */
int throttle_check(struct store_conn *c, int64_t now, const char *key, int64_t *retry_after_ms_r, struct kf_err *err);

/* Counts one failure of `key` under `rule` (inside the caller's write): starts a new window when
 * the last one has ended, and sets the wait the next attempt must honour. *failures_r (may be NULL)
 * is the count in the window, *retry_after_ms_r (may be NULL) the wait it imposes (0: none). */
int throttle_fail(struct store_conn *c, int64_t now, const char *key, const struct throttle_rule *rule,
                  int64_t *failures_r, int64_t *retry_after_ms_r, struct kf_err *err);

/* Forgets the failures of `key` (inside the caller's write). Call it for the account key after a
 * successful login — never for the address key, or one valid account would clear an address that
 * is guessing at others. */
int throttle_success(struct store_conn *c, const char *key, struct kf_err *err);

/* Deletes the rows whose window has ended and whose wait is over (inside the caller's write): they
 * would count nothing any more. *n_r (may be NULL): rows deleted. */
int throttle_purge(struct store_conn *c, int64_t now, int64_t *n_r, struct kf_err *err);

/* --- the login flow: counts with their audit records ---------------------------------------------- */

/* One login attempt: the keys it counts against (throttle_key_account / _address) and, when the
 * account is known, its user and client (for the audit chain; 0 when unknown). */
struct throttle_login {
    const char *account_key;
    const char *address_key;
    int64_t user_id;
    int64_t client_id;
};

/* Before checking a password, inside a write: when either key must wait, appends "login.throttled"
 * (which key, the wait) and sets *retry_after_ms_r > 0; else sets it to 0. Returns 0 in both cases,
 * so the write function can return 0 and keep the audit record; the caller then answers
 * KF_E_RATE_LIMITED (throttle_refuse). */
int throttle_login_check(struct store_conn *c, const struct kf_ctx *ctx, const struct throttle_login *l,
                         int64_t *retry_after_ms_r, struct kf_err *err);

/* After a failed login, inside a write: counts the failure on both keys and appends "login.failed"
 * with `reason` ("bad_password", "unknown_user", "disabled", "bad_totp" …; never the password).
 * *retry_after_ms_r (may be NULL) is the wait the failure imposes. */
int throttle_login_failed(struct store_conn *c, const struct kf_ctx *ctx, const struct throttle_login *l,
                          const char *reason, int64_t *retry_after_ms_r, struct kf_err *err);

/* Fills err with KF_E_RATE_LIMITED and the wait in whole seconds (rounded up, for Retry-After) and
 * returns KF_E_RATE_LIMITED. */
int throttle_refuse(struct kf_err *err, int64_t retry_after_ms);

#endif
