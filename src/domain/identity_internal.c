/* Shared helpers of the identity modules (identity_internal.h): the policy gate, masked audit
 * appends and statement plumbing, so each capability file holds only its own rules. */
#include "domain/identity_internal.h"

#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/text.h"
#include "domain/audit.h"
#include "store/store.h"

int ident_allow(const struct kf_ctx *ctx, enum action act, int64_t client_id, int64_t owner_id, struct kf_err *err)
{
    struct object_ref obj = {.client_id = client_id, .owner_id = owner_id};
    int rc = policy_check(ctx ? ctx->actor : NULL, act, &obj);
    if (rc == 0) return 0;
    if (rc == KF_E_NOT_FOUND) return kf_fail(err, rc, NULL, "not found");
    return kf_fail(err, rc, NULL, "%s not allowed", policy_action_name(act));
}

int64_t ident_now(const struct kf_ctx *ctx)
{
    return clock_now_ms(ctx->env->clock);
}

int ident_audit(struct store_conn *c, const struct kf_ctx *ctx, int64_t client_id, const char *action,
                const char *object_type, int64_t object_id, json_t *changes, const char *const *masked,
                struct kf_err *err)
{
    if (changes && masked) audit_mask(changes, masked);
    struct audit_entry e = {client_id, action, object_type, object_id, changes};
    int rc = audit_append(c, ctx, &e, err);
    json_decref(changes);
    return rc;
}

int ident_check_text(const char *s, const char *field, bool required, size_t max, struct kf_err *err)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0) return required ? kf_fail(err, KF_E_INVALID, field, "required") : 0;
    if (len > max) return kf_fail(err, KF_E_INVALID, field, "longer than %zu bytes", max);
    if (!text_is_utf8(s, len)) return kf_fail(err, KF_E_INVALID, field, "not UTF-8");
    return 0;
}

int ident_exec(struct store_conn *c, struct store_stmt **st, int64_t *changes_r, struct kf_err *err)
{
    int rc = store_step(*st, err);
    if (rc == STORE_DONE && changes_r) *changes_r = store_changes(*st);
    store_finalize(st);
    if (rc == STORE_ROW) return kf_fail(err, KF_E_INTERNAL, NULL, "statement returned rows");
    return rc < 0 ? rc : 0;
}

int ident_lock_row(struct store_conn *c, const char *lock_sql, int64_t id, int64_t client_id, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, lock_sql, &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, client_id);
    int64_t n = 0;
    if ((rc = ident_exec(c, &st, &n, err)) != 0) return rc;
    return n == 1 ? 0 : kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
}

int ident_page_limit(int limit)
{
    return limit >= 1 && limit <= IDENT_LIST_MAX ? limit : 50;
}

char *ident_col_strdup(const struct kf_ctx *ctx, struct store_stmt *st, int col)
{
    size_t len = 0;
    const char *s = store_col_text(st, col, &len);
    return arena_strndup(ctx->arena, s ? s : "", s ? len : 0);
}
