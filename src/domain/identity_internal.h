/* Helpers shared by the identity modules (org, user, customer, consent): the policy gate that fills
 * a kf_err, the audit append with masking, clock access and small statement helpers. Internal to
 * src/domain; not an interface for routes. */
#ifndef KEFU_IDENTITY_INTERNAL_H
#define KEFU_IDENTITY_INTERNAL_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"
#include "domain/policy.h"

struct store_conn;
struct store_stmt;
struct user;

#define IDENT_LIST_MAX 500   /* rows in one page of any identity list */
#define IDENT_TEXT_MAX 400   /* bytes of a free-text field (names, addresses, contacts) */

/* policy_check for (ctx->actor, act, {client_id, owner_id}); fills err on refusal. */
int ident_allow(const struct kf_ctx *ctx, enum action act, int64_t client_id, int64_t owner_id, struct kf_err *err);

/* Now, from the context's clock. */
int64_t ident_now(const struct kf_ctx *ctx);

/* Appends an audit record; `changes` (may be NULL) is masked with `masked` (NULL-terminated, may be
 * NULL) and then released, whatever happens. */
int ident_audit(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, const char *action,
                const char *object_type, int64_t object_id, json_t *changes, const char *const *masked,
                struct kf_err *err);

/* Checks an optional text field: NULL or "" pass unless `required`; else valid UTF-8 of 1..max
 * bytes. KF_E_INVALID with `field`. */
int ident_check_text(const char *s, const char *field, bool required, size_t max, struct kf_err *err);

/* Runs a prepared statement that returns no rows; *changes_r (may be NULL) gets the rows changed. */
int ident_exec(struct store_conn *c, struct store_stmt **st, int64_t *changes_r, struct kf_err *err);

/* Takes the row lock of one tenant row inside a write (PostgreSQL: until the commit; SQLite has one
 * writer) so what the write reads next stays true: `lock_sql` is a fixed no-op UPDATE of that row with
 * $1 = id and $2 = client_id ("UPDATE requests SET updated = updated WHERE id = $1 AND client_id = $2").
 * KF_E_NOT_FOUND when the client has no such row. */
int ident_lock_row(struct store_conn *c, const char *lock_sql, int64_t id, int64_t client_id, struct kf_err *err);

/* The limit of a page: 1..IDENT_LIST_MAX (anything else becomes 50). */
int ident_page_limit(int limit);

/* The columns of a user row (`users u`) as ident_user_from_row reads them, IDENT_USER_NCOLS of them:
 * for user.c and for the credentials (api_token.c, session.c), which read their row and its user
 * in one statement. */
#define IDENT_USER_COLS                                                                                   \
    "u.id, u.org_id, u.client_id, u.username, u.display_name, u.roles, u.password_changed, u.totp_enabled, " \
    "u.language, u.time_zone, u.disabled, u.created, u.updated, "                                       \
    "(SELECT o.disabled FROM organizations o WHERE o.id = u.org_id)"
#define IDENT_USER_NCOLS 14

/* Reads the IDENT_USER_COLS starting at column `first` of the current row into *u (strings in the
 * context's arena). */
void ident_user_from_row(const struct kf_ctx *ctx, struct store_stmt *st, int first, struct user *u);

/* A copy of column `col` (text) in the context's arena ("" for NULL). */
char *ident_col_strdup(const struct kf_ctx *ctx, struct store_stmt *st, int col);

#endif
