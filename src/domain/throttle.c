/* Login throttling: failure counts per account and per source address in one-hour windows, growing
 * waits, a hard block, and the "login.failed" / "login.throttled" audit records.
 *
 * DESIGN — invariants
 *  1. One row per key in login_throttle: (window_start, failures, blocked_until). A window starts at
 *     the first failure after the previous window ended and lasts rule.window_ms; a failure after
 *     that starts a new window at 1. No sliding log of attempts: one row, one upsert per failure.
 *  2. blocked_until is the only thing throttle_check reads: an attempt is allowed iff now ≥ it.
 *     A failure only ever moves it later (max of old and new), so racing failures never shorten
 *     a wait.
 *  3. The wait after failure n is 0 below rule.free_failures, then base × 2^(n − free) capped at
 *     max_delay; at rule.max_failures the key is blocked until its window ends. With the account
 *     rule the waits alone allow only ~15 failures an hour; the 100 cap is the backstop that holds
 *     even when parallel attempts all pass the check before any failure is counted.
 *  4. Everything runs on the caller's connection: in a write, the count, the audit record and the
 *     login's own change commit or roll back together. On PostgreSQL the upsert locks the key's row
 *     until the transaction ends, so two failures of one key are counted one after the other.
 *  5. Keys hold an account's look-alike key or an address, never a password; the audit records hold
 *     which kind of key limited, the wait and the reason — never the name typed or the password. */
#include "domain/throttle.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "domain/audit.h"
#include "store/store.h"

const struct throttle_rule throttle_rule_account = {
    .free_failures = 5,
    .base_delay_ms = 1000,
    .max_delay_ms = 15LL * 60 * 1000,
    .max_failures = 100,
    .window_ms = THROTTLE_WINDOW_MS,
};

const struct throttle_rule throttle_rule_address = {
    .free_failures = 50,
    .base_delay_ms = 1000,
    .max_delay_ms = 60LL * 1000,
    .max_failures = 1000,
    .window_ms = THROTTLE_WINDOW_MS,
};

/* --- keys ------------------------------------------------------------------------------------------ */

static int key_build(const char *kind, const char *value, char out[THROTTLE_KEY_MAX], struct kf_err *err)
{
    if (!value || !*value) return kf_fail(err, KF_E_INVALID, "key", "throttle: empty key");
    int n = snprintf(out, THROTTLE_KEY_MAX, "%s:%s", kind, value);
    if (n < 0 || n >= THROTTLE_KEY_MAX) return kf_fail(err, KF_E_INVALID, "key", "throttle: key too long");
    return 0;
}

int throttle_key_account(const char *lookalike_key, char out[THROTTLE_KEY_MAX], struct kf_err *err)
{
    return key_build("acct", lookalike_key, out, err);
}

int throttle_key_address(const char *addr, char out[THROTTLE_KEY_MAX], struct kf_err *err)
{
    struct in6_addr a6;
    char text[INET6_ADDRSTRLEN + 8];
    if (addr && inet_pton(AF_INET6, addr, &a6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            inet_ntop(AF_INET, &a6.s6_addr[12], text, sizeof text);
        } else {
            memset(&a6.s6_addr[8], 0, 8);
            inet_ntop(AF_INET6, &a6, text, INET6_ADDRSTRLEN);
            strncat(text, "/64", sizeof text - strlen(text) - 1);
        }
        return key_build("addr", text, out, err);
    }
    return key_build("addr", addr, out, err);
}

/* --- counting -------------------------------------------------------------------------------------- */

int throttle_check(struct store_conn *c, int64_t now, const char *key, int64_t *retry_after_ms_r, struct kf_err *err)
{
    *retry_after_ms_r = 0;
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "SELECT blocked_until FROM login_throttle WHERE key = $1", &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, key, (size_t)-1);
    rc = store_step(st, err);
    int64_t until = rc == STORE_ROW ? store_col_int64(st, 0) : 0;
    store_finalize(&st);
    if (rc < 0) return rc;
    if (until > now) {
        *retry_after_ms_r = until - now;
        return throttle_refuse(err, until - now);
    }
    return 0;
}

/* The instant before which the next attempt must wait after failure number `n` (invariant 3). */
static int64_t fail_blocked_until(const struct throttle_rule *r, int64_t now, int64_t window_start, int64_t n)
{
    int64_t until = 0;
    if (n >= r->free_failures) {
        int64_t shift = n - r->free_failures;
        int64_t delay = r->max_delay_ms;
        if (shift < 40 && (r->base_delay_ms << shift) < r->max_delay_ms) delay = r->base_delay_ms << shift;
        until = now + delay;
    }
    if (n >= r->max_failures && window_start + r->window_ms > until) until = window_start + r->window_ms;
    return until;
}

/* Counts the failure (invariant 1); returns the window's start, its count and the old wait. */
static int fail_count(struct store_conn *c, int64_t now, const char *key, int64_t window_ms, int64_t row_r[3],
                      struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c,
                           "INSERT INTO login_throttle (key, window_start, failures, blocked_until) VALUES ($1, $2, 1, 0) "
                           "ON CONFLICT (key) DO UPDATE SET "
                           "window_start = CASE WHEN login_throttle.window_start + $3 <= $2 THEN $2 "
                           "ELSE login_throttle.window_start END, "
                           "failures = CASE WHEN login_throttle.window_start + $3 <= $2 THEN 1 "
                           "ELSE login_throttle.failures + 1 END "
                           "RETURNING window_start, failures, blocked_until",
                           &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, key, (size_t)-1);
    store_bind_int64(st, 2, now);
    store_bind_int64(st, 3, window_ms);
    rc = store_step(st, err);
    if (rc == STORE_ROW) {
        for (int i = 0; i < 3; i++) row_r[i] = store_col_int64(st, i);
        rc = store_step(st, err);
    } else if (rc == STORE_DONE) {
        rc = kf_fail(err, KF_E_INTERNAL, NULL, "throttle: upsert returned no row");
    }
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

static int fail_set_blocked(struct store_conn *c, const char *key, int64_t until, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "UPDATE login_throttle SET blocked_until = $2 WHERE key = $1", &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, key, (size_t)-1);
    store_bind_int64(st, 2, until);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int throttle_fail(struct store_conn *c, int64_t now, const char *key, const struct throttle_rule *rule,
                  int64_t *failures_r, int64_t *retry_after_ms_r, struct kf_err *err)
{
    int64_t row[3]; /* window_start, failures, blocked_until */
    int rc = fail_count(c, now, key, rule->window_ms, row, err);
    if (rc) return rc;
    int64_t until = fail_blocked_until(rule, now, row[0], row[1]);
    if (row[2] > until) until = row[2]; /* invariant 2: never shorten a wait */
    if (until != row[2] && (rc = fail_set_blocked(c, key, until, err)) != 0) return rc;
    if (failures_r) *failures_r = row[1];
    if (retry_after_ms_r) *retry_after_ms_r = until > now ? until - now : 0;
    return 0;
}

int throttle_success(struct store_conn *c, const char *key, struct kf_err *err)
{
    struct store_stmt *st = NULL;
    int rc = store_prepare(c, "DELETE FROM login_throttle WHERE key = $1", &st, err);
    if (rc) return rc;
    store_bind_text(st, 1, key, (size_t)-1);
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int throttle_purge(struct store_conn *c, int64_t now, int64_t *n_r, struct kf_err *err)
{
    if (n_r) *n_r = 0;
    struct store_stmt *st = NULL;
    /* every rule's window is THROTTLE_WINDOW_MS long, so one bound serves all keys */
    int rc = store_prepare(c, "DELETE FROM login_throttle WHERE window_start <= $1 AND blocked_until <= $2", &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, now - THROTTLE_WINDOW_MS);
    store_bind_int64(st, 2, now);
    rc = store_step(st, err);
    if (rc == STORE_DONE && n_r) *n_r = store_changes(st);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

int throttle_refuse(struct kf_err *err, int64_t retry_after_ms)
{
    int64_t s = (retry_after_ms + 999) / 1000;
    return kf_fail(err, KF_E_RATE_LIMITED, NULL, "retry after %lld s", (long long)(s > 0 ? s : 1));
}

/* --- the login flow --------------------------------------------------------------------------------- */

static int login_audit(struct store_conn *c, const struct kf_ctx *ctx, const struct throttle_login *l,
                       const char *action, json_t *changes, struct kf_err *err)
{
    if (!changes) return kf_fail(err, KF_E_NOMEM, NULL, "throttle: out of memory");
    if (l->user_id) json_object_set_new(changes, "user_id", json_integer(l->user_id));
    struct audit_entry e = {l->client_id, action, "user", l->user_id, changes};
    int rc = audit_append(c, ctx, &e, err);
    json_decref(changes);
    return rc;
}

/* The longer wait of the two keys, and which key imposes it. */
static int login_wait(struct store_conn *c, int64_t now, const struct throttle_login *l, int64_t *wait_r,
                      const char **which_r, struct kf_err *err)
{
    const char *keys[2] = {l->account_key, l->address_key};
    const char *names[2] = {"account", "address"};
    *wait_r = 0;
    *which_r = NULL;
    for (int i = 0; i < 2; i++) {
        if (!keys[i]) continue;
        int64_t w = 0;
        int rc = throttle_check(c, now, keys[i], &w, err);
        if (rc && rc != KF_E_RATE_LIMITED) return rc;
        if (w > *wait_r) {
            *wait_r = w;
            *which_r = names[i];
        }
    }
    kf_err_clear(err);
    return 0;
}

int throttle_login_check(struct store_conn *c, const struct kf_ctx *ctx, const struct throttle_login *l,
                         int64_t *retry_after_ms_r, struct kf_err *err)
{
    const char *which = NULL;
    int rc = login_wait(c, clock_now_ms(ctx->env->clock), l, retry_after_ms_r, &which, err);
    if (rc || *retry_after_ms_r == 0) return rc;
    json_t *ch = json_pack("{s:s, s:I}", "limited_by", which, "retry_after_ms", (json_int_t)*retry_after_ms_r);
    return login_audit(c, ctx, l, "login.throttled", ch, err);
}

int throttle_login_failed(struct store_conn *c, const struct kf_ctx *ctx, const struct throttle_login *l,
                          const char *reason, int64_t *retry_after_ms_r, struct kf_err *err)
{
    int64_t now = clock_now_ms(ctx->env->clock);
    int64_t acct_n = 0, acct_wait = 0, addr_n = 0, addr_wait = 0;
    int rc = 0;
    if (l->account_key) rc = throttle_fail(c, now, l->account_key, &throttle_rule_account, &acct_n, &acct_wait, err);
    if (rc == 0 && l->address_key)
        rc = throttle_fail(c, now, l->address_key, &throttle_rule_address, &addr_n, &addr_wait, err);
    if (rc) return rc;
    int64_t wait = acct_wait > addr_wait ? acct_wait : addr_wait;
    if (retry_after_ms_r) *retry_after_ms_r = wait;
    json_t *ch = json_pack("{s:s, s:I, s:I, s:I}", "reason", reason ? reason : "unknown", "account_failures",
                           (json_int_t)acct_n, "address_failures", (json_int_t)addr_n, "retry_after_ms",
                           (json_int_t)wait);
    return login_audit(c, ctx, l, "login.failed", ch, err);
}
