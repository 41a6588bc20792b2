/* Service changes of an active agreement (issue 5 item 5; CONTRACT.md C8.1.1, C11.1.1): the provider
 * proposes a new full set of services (targets, fees) and/or a new business calendar (hours) with an
 * effective instant; kefu sends the formal notice, refuses an effective instant inside the notice
 * period, and the change takes effect by itself at that instant. The terms in force at any instant
 * are agreement_terms_at (agreement.h). Every function checks the policy first, scopes by client_id,
 * writes through store_write and audits in the same write. Results live in ctx->arena.
 * docs/agreements.md "Service changes" and "Term history". */
#ifndef KEFU_AGREEMENT_CHANGE_H
#define KEFU_AGREEMENT_CHANGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/agreement.h"
#include "domain/context.h"

struct store_conn;
struct job_run;

#define AGREEMENT_CHANGE_SUMMARY_MAX 4096   /* bytes of a change's summary */
#define AGREEMENT_CHANGE_LIST_MAX 200
#define AGREEMENT_CHANGE_JOB_KIND "agreement.change_apply"

struct agreement_change_input {
    const char *summary;                             /* required: 1..AGREEMENT_CHANGE_SUMMARY_MAX bytes of UTF-8 */
    int64_t effective_at;                            /* UTC ms: >= notice delivery + notice_days × 24 h, < expires_at */
    const struct agreement_service_input *services;  /* the new full set (as agreement_create), or NULL/0: unchanged */
    size_t n_services;
    int64_t calendar_id;                             /* a persisted calendar from effective_at; 0: unchanged */
};

struct agreement_change {
    int64_t id, agreement_id, client_id;
    const char *status;                 /* pending, applied, withdrawn */
    const char *summary;
    int64_t effective_at;
    bool services_changed, calendar_changed;
    int64_t calendar_before, calendar_after;   /* 0: the default calendar */
    const char *services_json;          /* the proposed services as JSON text ([] when unchanged) */
    int64_t notice_id, notice_delivered_at, withdraw_notice_id;
    int64_t proposed_by, applied_at, withdrawn_by, withdrawn_at;
    int64_t created, updated;
};

/* Proposes a change of active agreement `agreement_id` of client `client_id`. Needs
 * ACT_AGREEMENT_MANAGE (account_manager, admin). Inside one write: the agreement must be active and
 * not past its end (KF_E_CONFLICT field "status"), with no other pending change (KF_E_CONFLICT field
 * "change"); the formal notice (kind "change", method portal) is sent to the client and the
 * effective instant checked against its delivery: earlier than delivered_at + notice_days × 24 h is
 * KF_E_INVALID field "effective_at" and nothing is written (neither the notice nor the change);
 * effective_at >= expires_at is KF_E_INVALID field "effective_at" too. The new service versions are
 * written at once, valid from effective_at, and a one-shot job marks the change applied then.
 * Other refusals: KF_E_INVALID "summary", "services…" (as agreement_create), "calendar_id" (no such
 * calendar), "services" (neither services nor calendar given). Audited "agreement.change_propose". */
int agreement_change_propose(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                             const struct agreement_change_input *in, int64_t *id_r, struct kf_err *err);

/* Withdraws pending change `change_id` (ACT_AGREEMENT_MANAGE): its service versions are deleted and
 * the versions it closed reopened, so the terms show no trace of it; a correcting notice referring
 * to the first is sent. Not pending (applied, withdrawn already): KF_E_CONFLICT field "status".
 * Audited "agreement.change_withdraw". */
int agreement_change_withdraw(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, int64_t change_id,
                              struct kf_err *err);

/* One change (ACT_AGREEMENT_READ; another client's: KF_E_NOT_FOUND). */
int agreement_change_get(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, int64_t change_id,
                         struct agreement_change *out, struct kf_err *err);

/* The agreement's changes, newest first (at most AGREEMENT_CHANGE_LIST_MAX). ACT_AGREEMENT_READ;
 * KF_E_NOT_FOUND for another client's agreement. */
int agreement_change_list(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct agreement_change **items_r,
                          size_t *n_r, struct kf_err *err);

/* The job behind AGREEMENT_CHANGE_JOB_KIND (payload {"client_id", "change_id"} as strings): marks the
 * change applied (once; a withdrawn change stays withdrawn), moves agreements.calendar_id to its
 * calendar, audits "agreement.change_apply". Idempotent. */
int agreement_change_apply_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err);

/* Registers the job functions of agreements (the change job; and "agreement.expire") without
 * scheduling anything: what `kefu serve --test-mode` needs so jobs fire when the fake clock moves. */
void agreement_jobs_register(void);

#endif
