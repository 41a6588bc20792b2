/* Reading the audit trail on someone's behalf (audit.h audit_trail_list): the policy decides which
 * chains they may see before audit_list reads anything. The trail itself holds no personal values
 * (they are masked when written), so what a reader sees is who did what, when, from where. */
#include "domain/audit.h"
#include "domain/policy.h"

/* Any client id stands for "the clients" in the provider scope: the grant is the same for each. */
#define AUDIT_ANY_CLIENT 1

int audit_trail_list(const struct kf_ctx *ctx, const struct audit_filter *f, const struct audit_cursor *after,
                     int limit, audit_list_fn fn, void *arg, struct audit_cursor *next_r, struct kf_err *err)
{
    const struct actor *a = ctx->actor;
    int rc;
    if (f->all_chains) {
        /* every client's chain and the provider's: provider staff with the grant on both scopes */
        if (a && a->kind != ACTOR_SYSTEM && a->client_id != 0) return kf_fail(err, KF_E_NOT_FOUND, NULL, "not found");
        struct object_ref any_client = {.client_id = AUDIT_ANY_CLIENT}, provider = {0};
        rc = policy_check(a, ACT_AUDIT_READ, &any_client);
        if (rc == 0) rc = policy_check(a, ACT_AUDIT_READ, &provider);
    } else {
        struct object_ref chain = {.client_id = f->chain};
        rc = policy_check(a, ACT_AUDIT_READ, &chain);
    }
    if (rc) return kf_fail(err, rc, NULL, rc == KF_E_NOT_FOUND ? "not found" : "not allowed");
    return audit_list(ctx->env->store, f, after, limit, fn, arg, next_r, err);
}
