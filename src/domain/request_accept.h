/* Acceptance and remediation of service requests (issue 6 item 4; CONTRACT.md C5.1.2, C5.1.1): a
 * resolved request waits for whoever its agreement names (acceptance_by of the terms in force at the
 * resolution) to accept it — it closes — or to reject it with a reason — it reopens as remediation,
 * counted, and stays open until accepted. Silence past acceptance_days accepts it (the job
 * "request.acceptance"). Every decision is a request_acceptances row, a history row and an audit
 * record in one write. docs/requests.md "Acceptance and remediation". */
#ifndef KEFU_REQUEST_ACCEPT_H
#define KEFU_REQUEST_ACCEPT_H
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct job_run;

#define REQUEST_REJECT_REASON_MAX 4000     /* bytes of a rejection's reason */
#define REQUEST_ACCEPTANCE_JOB_KIND "request.acceptance"
#define REQUEST_ACCEPTANCE_JOB_PERIOD_MS (15 * 60 * 1000)

/* Accepts the resolution of request `id` of client `client_id` for the client (ACT_REQUEST_ACCEPT:
 * its client_admin or client_staff; provider staff KF_E_FORBIDDEN, another client's user
 * KF_E_NOT_FOUND). The terms in force at the resolution must name the client (else KF_E_FORBIDDEN:
 * the customer decides). A request that is not resolved — accepted or rejected already — is
 * KF_E_CONFLICT (field "status"). The request closes (closed_at); audited "request.accept". */
int request_accept(struct kf_ctx *ctx, int64_t client_id, int64_t id, struct kf_err *err);

/* Rejects the resolution for the client, with `reason` (1..REQUEST_REJECT_REASON_MAX bytes of UTF-8;
 * KF_E_INVALID field "reason", checked before anything else is read). The request reopens as
 * remediation: status "reopened", remediation_count + 1, the reason in its history and as a public
 * message of the client's side; its assignee is notified. Rules and errors as request_accept; a
 * rejection after the acceptance window has passed is KF_E_CONFLICT (field "status": silence has
 * accepted it, whether the job has run yet or not). Audited "request.reject" (the reason's size,
 * not its text). */
int request_reject(struct kf_ctx *ctx, int64_t client_id, int64_t id, const char *reason, struct kf_err *err);

/* The same for the customer who asked, through the tracking link: the link's handler proves the
 * link belongs to request `id` and customer `customer_id` and calls these with a system actor
 * (ACT_REQUEST_ACCEPT_CUSTOMER, which no role holds: a logged-in user gets KF_E_FORBIDDEN). A
 * customer other than the request's is KF_E_NOT_FOUND; terms naming the client KF_E_FORBIDDEN. */
int request_accept_as_customer(struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t customer_id,
                               struct kf_err *err);
int request_reject_as_customer(struct kf_ctx *ctx, int64_t client_id, int64_t id, int64_t customer_id,
                               const char *reason, struct kf_err *err);

/* Accepts by silence every resolved request whose acceptance window (acceptance_days × 24 h of the
 * terms in force at its resolution) has passed by `now`: each in its own write, idempotent, across
 * clients (a system actor: ACT_REQUEST_ACCEPT_CUSTOMER, which no role holds). *accepted_r (may be NULL) counts them. */
int request_acceptance_due(struct kf_ctx *ctx, int64_t now, int *accepted_r, struct kf_err *err);

/* The job function behind "request.acceptance" (request_acceptance_due at the clock's now). */
int request_acceptance_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err);

/* Registers the job function (both modes; test mode creates the job through POST /api/v1/test/jobs). */
void request_acceptance_jobs_register(void);

/* Schedules "request.acceptance" as a periodic job (serve mode). */
int request_acceptance_jobs_schedule(const struct kf_env *env, struct kf_err *err);

/* Quality figures of a client (C5.1.1), over acceptances decided in [from, to) (to 0: no end). */
struct request_quality {
    int64_t accepted;                  /* requests accepted (closed by acceptance) */
    int64_t accepted_first_time;       /* … without any remediation */
    int64_t accepted_after_remediation;
    int64_t accepted_by_silence;       /* … of which the window's silence accepted */
    int64_t rejections;                /* rejected resolutions (each one a remediation) */
};

/* The quality summary of client `client_id` (ACT_REQUEST_READ). */
int request_quality_summary(struct kf_ctx *ctx, int64_t client_id, int64_t from, int64_t to,
                            struct request_quality *out, struct kf_err *err);

#endif
