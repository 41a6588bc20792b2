/* The hourly housekeeping job of the authentication state: deletes sessions ended or expired for
 * 30 days and throttle rows whose window is over (session_purge). Idempotent, so a retried or
 * repeated run does no harm (the scheduler is at-least-once). */
#include "domain/session.h"
#include "jobs/scheduler.h"
#include "store/store.h"

#define SESSION_JOB_KIND "session.purge"
#define SESSION_JOB_PERIOD_MS (60LL * 60 * 1000)

static int purge_write(struct store_conn *c, void *arg, struct kf_err *err)
{
    return session_purge(c, arg, NULL, err);
}

static int purge_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err)
{
    return store_write(ctx->env->store, purge_write, ctx, err);
}

int session_jobs_schedule(const struct kf_env *env, struct kf_err *err)
{
    return jobs_ensure_periodic(env, SESSION_JOB_KIND, purge_job, SESSION_JOB_PERIOD_MS, err);
}
