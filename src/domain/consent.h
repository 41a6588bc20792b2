/* Consent records (CONTRACT.md C7.2.1): per customer and purpose — service delivery, satisfaction
 * surveys, sharing with a named third party, marketing — with the notice version shown, when and
 * through which channel consent was given, and its withdrawal. consent_check is the one question
 * every later capability asks before it uses or discloses a customer's data. */
#ifndef KEFU_CONSENT_H
#define KEFU_CONSENT_H
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct store_conn;

/* Purposes (stored as these names). */
#define CONSENT_SERVICE_DELIVERY "service_delivery"
#define CONSENT_SATISFACTION_SURVEY "satisfaction_survey"
#define CONSENT_THIRD_PARTY_SHARING "third_party_sharing" /* needs a named third party */
#define CONSENT_MARKETING "marketing"

struct consent {
    int64_t id;
    int64_t client_id;
    int64_t customer_id;
    const char *purpose;
    const char *third_party;        /* "" unless third_party_sharing */
    const char *notice_version;
    int64_t given_at;
    const char *given_channel;
    int64_t withdrawn_at;           /* 0 while in force */
    const char *withdrawn_channel;  /* "" while in force */
    int64_t recorded_by;            /* user id, 0 for the system or the customer's own link */
};

struct consent_input {
    const char *purpose;
    const char *third_party;        /* required for third_party_sharing, else NULL or "" */
    const char *notice_version;     /* the version of the privacy notice the customer saw */
    const char *channel;            /* phone, web, email, sms, on_site, paper, api */
};

/* Records consent given by customer `customer_id` of client `client_id`. Needs ACT_CONSENT_RECORD.
 * KF_E_INVALID with field purpose / third_party / notice_version / channel; KF_E_NOT_FOUND for a
 * customer that is absent, deleted or another client's. Audited "consent.give". */
int consent_give(struct kf_ctx *ctx, int64_t client_id, int64_t customer_id, const struct consent_input *in,
                 int64_t *id_r, struct kf_err *err);

/* Withdraws every consent in force for (customer, purpose, third_party) — as easy as giving it.
 * KF_E_NOT_FOUND when none is in force. Audited "consent.withdraw". */
int consent_withdraw(struct kf_ctx *ctx, int64_t client_id, int64_t customer_id, const char *purpose,
                     const char *third_party, const char *channel, struct kf_err *err);

/* The customer's consent records, newest first (at most 500), withdrawn ones included. */
int consent_list(struct kf_ctx *ctx, int64_t client_id, int64_t customer_id, struct consent **items_r, size_t *n_r,
                 struct kf_err *err);

/* The check before any use or disclosure (C7.2.1): 0 when customer `customer_id` of `client_id`
 * (live, not deleted) has a consent in force for `purpose` (and `third_party`; NULL means ""),
 * else KF_E_FORBIDDEN. Runs on the caller's connection — inside its write transaction when the use
 * is a write — and takes no actor: the caller has passed its own policy check. */
int consent_check(struct store_conn *c, int64_t client_id, int64_t customer_id, const char *purpose,
                  const char *third_party, struct kf_err *err);

#endif
