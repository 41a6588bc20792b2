/* The periodic job that signs audit checkpoints (C7.1.1): every minute it asks audit_checkpoint_due
 * to sign each chain that grew by AUDIT_EVERY_N records, or grew at all and was last signed
 * AUDIT_EVERY_MS ago, with the vault's signing key. */
#include <sodium.h>

#include "domain/audit.h"
#include "domain/vault.h"
#include "jobs/scheduler.h"
#include "store/store.h"

#define AUDIT_JOB_KIND "audit.checkpoint"
#define AUDIT_JOB_PERIOD_MS (60 * 1000)
#define AUDIT_EVERY_N 1000
#define AUDIT_EVERY_MS (10 * 60 * 1000)

static int checkpoint_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err)
{
    unsigned char pk[32], sk[64];
    int rc = vault_signing_key(ctx->env->vault, ctx->env->store, pk, sk, err);
    if (rc == 0) {
        int written = 0;
        rc = audit_checkpoint_due(ctx->env->store, ctx, sk, AUDIT_EVERY_N, AUDIT_EVERY_MS, &written, err);
    }
    sodium_memzero(sk, sizeof sk);
    return rc;
}

int audit_jobs_schedule(const struct kf_env *env, struct kf_err *err)
{
    return jobs_ensure_periodic(env, AUDIT_JOB_KIND, checkpoint_job, AUDIT_JOB_PERIOD_MS, err);
}
